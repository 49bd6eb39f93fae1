#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, built from the repository's test data (`tests/data/`).

    python3 fuzz/seed.py             # fuzz/corpus/<target>/ (gitignored): every seed we can derive
    python3 fuzz/seed.py --curated   # fuzz/seeds/<target>/ (committed): a small curated subset

The full corpora take each fixture whole (SSE and mitmdump logs cut to 16 KiB, so that the
fuzzer's input length stays small), every CBOR test vector, every SSE event's data, and the
synthetic inputs below (captures with streams, zlib payloads, tags, indefinite lengths and
damage; EventStream bodies with garbage between frames). The curated set is the synthetic inputs
plus the smallest fixtures, under 1 MB in all; `fuzz/run.sh` gives the fuzzer both directories.

Targets that feed a decoder in chunks (`eventstream`, `sse_split`) read a 3-byte control header
first (flags, 16-bit chunking seed; `fuzz/src/lib.rs`), so their seeds get one prepended, once per
mode. Files are named by the SHA-1 of their content, as libFuzzer names its own.

Python targets (atheris, `fuzz/python/`): `py_har`, `py_jsonl`, `py_mitm`. JSONL seeds also come
from converting the HAR fixture with fastcap when it is importable (run with `.venv/bin/python`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
FUZZ = ROOT / "fuzz"
MAX_TEXT = 16 << 10

# --------------------------------------------------------------------------------------------
# A minimal CBOR encoder (RFC 8949), enough for capture files.


class Tag:
    def __init__(self, tag: int, value: object) -> None:
        self.tag, self.value = tag, value


class Raw:
    """Bytes spliced into the encoding as they are (indefinite lengths, odd encodings)."""

    def __init__(self, data: bytes) -> None:
        self.data = data


def _head(major: int, arg: int) -> bytes:
    m = major << 5
    if arg < 24:
        return bytes([m | arg])
    if arg < 1 << 8:
        return bytes([m | 24, arg])
    if arg < 1 << 16:
        return bytes([m | 25]) + struct.pack(">H", arg)
    if arg < 1 << 32:
        return bytes([m | 26]) + struct.pack(">I", arg)
    return bytes([m | 27]) + struct.pack(">Q", arg)


def cbor(v: object) -> bytes:
    if isinstance(v, Raw):
        return v.data
    if isinstance(v, Tag):
        return _head(6, v.tag) + cbor(v.value)
    if v is None:
        return b"\xf6"
    if v is True:
        return b"\xf5"
    if v is False:
        return b"\xf4"
    if isinstance(v, int):
        return _head(0, v) if v >= 0 else _head(1, -1 - v)
    if isinstance(v, float):
        return b"\xfb" + struct.pack(">d", v)
    if isinstance(v, bytes):
        return _head(2, len(v)) + v
    if isinstance(v, str):
        b = v.encode()
        return _head(3, len(b)) + b
    if isinstance(v, list):
        return _head(4, len(v)) + b"".join(cbor(x) for x in v)
    if isinstance(v, dict):
        return _head(5, len(v)) + b"".join(cbor(k) + cbor(x) for k, x in v.items())
    raise TypeError(type(v))


def header(session: str = "fuzz") -> bytes:
    return cbor(
        {
            "magic": "LLMPROXY-CAPTURE-V2",
            "version": 2,
            "created_at": 1700000000.5,
            "session_id": session,
            "metadata": {"config_file": None},
        }
    )


def entry(
    ts: object, dir: int, seq: int, data: bytes, meta: dict | None = None, compress: bool = False
) -> bytes:
    e: dict[str, object] = {"ts": ts, "dir": dir, "seq": seq}
    if compress:
        e["data"] = zlib.compress(data, 6)
        e["enc"] = "zlib"
    else:
        e["data"] = data
    if meta:
        e["meta"] = meta
    return cbor(e)


SSE_CHUNKS = [
    b'event: message_start\ndata: {"type":"message_start","message":{"model":"claude","usage":{"input_tokens":5}}}\n\n',
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}\n\n',
    b'data: {"choices":[{"index":0,"delta":{"content":"yo","tool_calls":[{"index":0,"function":{"name":"f"}}]}}]}\n\n',
    b"data: [DONE]\n\n",
]


def captures() -> Iterator[tuple[str, bytes]]:
    """Synthetic captures: streams, zlib, every metadata kind, tags, indefinite lengths, damage."""
    h = header()
    stream = [
        entry(
            1.0,
            2,
            0,
            b"POST /v1/messages HTTP/1.1\r\n\r\n{}",
            {"rid": "A", "url": "https://x.test/v1/messages"},
        ),
        entry(1.5, 3, 1, b"", {"rid": "A", "ss": True, "sc": 200}),
    ]
    for i, chunk in enumerate(SSE_CHUNKS, 1):
        stream.append(entry(1.5 + i, 3, 1 + i, chunk, {"rid": "A", "ci": i}, compress=i == 2))
    stream.append(entry(9.0, 3, 9, b"", {"rid": "A", "se": True, "tc": len(SSE_CHUNKS), "lat": 12.5}))
    yield "stream", h + b"".join(stream)
    meta_all = {
        "sid": "s",
        "bseq": 3,
        "be": "anthropic",
        "mod": "m",
        "rid": "B",
        "cu": {"input_tokens": 3, "nested": [1, {"x": None}]},
        "ra": 1.5,
        "rtry": True,
        "eos": True,
        "eos_sig": "done_sentinel",
        "http_status": 429,
        "cdb": {"k": b"\x00\x01"},
        "unknown_key": [1, 2.5, "three"],
    }
    yield (
        "meta",
        h + entry(2.0, 3, 1, b'{"ok":true}', meta_all) + entry(3, 1, 2, b"x" * 200, {"rid": "C"}, True),
    )
    # ts as a tagged epoch and a half float, indefinite-length data and map, a non-map item.
    odd = cbor(
        {
            "ts": Tag(1, 1700000001.25),
            "dir": 3,
            "seq": 5,
            "data": Raw(b"\x5f\x43abc\x42de\xff"),
            "meta": Raw(b"\xbf\x63rid\x61D\x62ci\x01\xff"),
        }
    )
    half = b"\xa3\x62ts\xf9\x3c\x00\x63dir\x01\x63seq\x00"
    yield "odd_encodings", h + odd + half + cbor([1, 2, 3]) + entry(4.0, 0, 6, b"client")
    # zlib that inflates 1 KiB to 64 KiB; zlib that does not inflate; an unknown encoding.
    zeros = cbor({"ts": 5.0, "dir": 3, "seq": 7, "data": zlib.compress(bytes(65536), 9), "enc": "zlib"})
    bad = cbor({"ts": 6.0, "dir": 3, "seq": 8, "data": b"\x78\x9c\xff\xff", "enc": "zlib"})
    unknown = cbor({"ts": 7.0, "dir": 3, "seq": 9, "data": b"abc", "enc": "br"})
    yield "encodings", h + zeros + bad + unknown
    # The same, with a trailing item whose byte sets bit 2: the cbor_reader target then reads with
    # small inflate limits (4 KiB per entry, 2x the file), which the 64 KiB payload exceeds.
    yield "encodings_small_limits", h + zeros + bad + unknown + b"\x04"
    full = h + b"".join(stream)
    yield "truncated", full[: len(full) - 7]
    cut = len(h) + len(stream[0]) + len(stream[1]) // 2
    yield "damaged_middle", full[:cut] + b"\xff\x00garbage\x1f" + full[cut:]
    yield (
        "impossible_length",
        h
        + stream[0]
        + b"\xa4\x62ts\xfb"
        + b"\x41" * 8
        + b"\x64data\x5b\x7f"
        + b"\xff" * 7
        + b"".join(stream[1:]),
    )
    yield "deep_meta", h + entry(8.0, 3, 1, b"d", {"cu": json.loads("[" * 40 + "]" * 40)})
    yield "header_only", h
    yield "v1_header", cbor({"magic": "LLMPROXY-CAPTURE-V1", "version": 1})


# --------------------------------------------------------------------------------------------
# EventStream frames.


def frame(headers: list[tuple[str, int, bytes]], payload: bytes) -> bytes:
    hb = b"".join(bytes([len(n)]) + n.encode() + bytes([t]) + v for n, t, v in headers)
    total = 16 + len(hb) + len(payload)
    prelude = struct.pack(">II", total, len(hb))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    msg = prelude + hb + payload
    return msg + struct.pack(">I", zlib.crc32(msg))


def sval(s: str) -> bytes:
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def eventstreams() -> Iterator[tuple[str, bytes]]:
    ev = [
        (":message-type", 7, sval("event")),
        (":event-type", 7, sval("assistantResponseEvent")),
        (":content-type", 7, sval("application/json")),
    ]
    f1 = frame(ev, b'{"content":"Hello"}')
    f2 = frame(
        [(":message-type", 7, sval("event")), (":event-type", 7, sval("toolUseEvent"))],
        b'{"name":"f","toolUseId":"t","input":"{"}',
    )
    every = [
        ("bool_t", 0, b""),
        ("bool_f", 1, b""),
        ("byte", 2, b"\x80"),
        ("short", 3, b"\x01\x02"),
        ("int", 4, b"\x01\x02\x03\x04"),
        ("long", 5, b"\x01" * 8),
        ("bytes", 6, struct.pack(">H", 3) + b"\x00\xff\x10"),
        ("str", 7, sval("é")),
        ("ts", 8, b"\x00\x00\x01\x8b\xcf\xe5\x68\x00"),
        ("uuid", 9, bytes(range(16))),
    ]
    f3 = frame(every, b"")
    exc = frame(
        [(":message-type", 7, sval("exception")), (":exception-type", 7, sval("ThrottlingException"))],
        b'{"message":"slow"}',
    )
    chunk = frame(
        [(":message-type", 7, sval("event")), (":event-type", 7, sval("chunk"))],
        b'{"bytes":"eyJ0eXBlIjoibWVzc2FnZV9zdG9wIn0="}',
    )
    yield "frames", f1 + f2 + f3 + exc + chunk
    yield "garbage_between", f1 + b"\x00\x00\x00\x20garbage" + f2 + b"\xff" * 5 + f3
    yield "bad_message_crc", f1[:-1] + bytes([f1[-1] ^ 1]) + f2
    yield "truncated", f1 + f2[: len(f2) // 2]
    yield "dup_header", frame([("a", 7, sval("x")), ("a", 7, sval("y"))], b"p")


# --------------------------------------------------------------------------------------------
# SSE bodies and event data.

SSE_EDGE = [
    b"\xef\xbb\xbfdata: bom\r\n\r\ndata:a\rdata:b\r\rid: 7\nretry: 1500\nevent: e\ndata\n\n: comment\n\n",
    b'data: {"type":"x"}\n\ndata: \xff\xfe invalid\n\nevent: only-event\n\nid: a\x00b\ndata: nul id\n\ndata: pending',
    b"data: line1\ndata: line2\ndata:\n\nfoo: bar\nretry: x1\n\n\n\ndata: [DONE]\n\n",
]


def sse_files() -> list[Path]:
    return sorted(p for p in (DATA / "sse").rglob("*") if p.is_file() and p.suffix != ".json")


def cut_at_event(body: bytes, limit: int = MAX_TEXT) -> bytes:
    if len(body) <= limit:
        return body
    end = body.rfind(b"\n\n", 0, limit)
    return body[: end + 2] if end > 0 else body[:limit]


def event_data(body: bytes) -> Iterator[str]:
    for block in body.replace(b"\r\n", b"\n").split(b"\n\n"):
        lines = [ln[5:].lstrip(b" ") for ln in block.split(b"\n") if ln.startswith(b"data:")]
        if lines:
            yield b"\n".join(lines).decode("utf-8", "replace")


EXTRACT_EDGE = [
    '{"usage":{"input_tokens":-0,"output_tokens":3.0,"prompt_tokens":1e3,"completion_tokens":18446744073709551615}}',
    '{"type":"a\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00"}',
    '{"type":"\\ud83d","ignored":"\\udc00"}',
    '{"type":"a","type":"b"}',
    '{"x":1,"x":2,"type":"dup unknown"}',
    '{"type":5,"delta":"str","content_block":[1],"message":true,"usage":"x","error":null,"choices":{"a":1}}',
    '{"choices":[1,"a",null,{"index":"0","delta":{"content":7,"tool_calls":[{"function":{"name":3}},5]}}]}',
    '{"candidates":[{"content":{"parts":[{"text":"a","thought":true},{"functionCall":{"name":"g"}}]},"finishReason":"STOP"}]}',
    '{"type":"response.completed","response":{"model":"m","status":"completed","usage":{"input_tokens":5}}}',
    '{"type":"error","code":"rate_limit","message":"m"}',
    '{"response":{"candidates":[],"usageMetadata":{"promptTokenCount":4},"error":"e"}}',
    '{"a":' + "[" * 130 + "]" * 130 + ',"type":"deep ignored"}',
    '{"response":' * 126 + "{}" + "}" * 126,
    '{"x":1e400}',
    '{"type":"x"} trailing',
    "[DONE]",
]


# --------------------------------------------------------------------------------------------
# Python reader seeds.

JSONL_RECORD = {
    "timestamp": 1707123456.1,
    "request": {
        "method": "POST",
        "url": "https://api.openai.com/v1/responses",
        "headers": {"content-type": "application/json"},
        "body": {"model": "o4-mini", "stream": True},
    },
    "response": {
        "status_code": 200,
        "headers": {"content-type": "text/event-stream"},
        "body": 'event: response.output_text.delta\ndata: {"delta": "Hi"}\n\n',
    },
    "fastcap": {
        "started_at": 1707123455.0,
        "response_body_b64": "ZGF0YTogb25lCgpkYXRhOiB0d28KCg==",
        "chunks": [{"t": 1707123455.6, "len": 11}, [1707123456.0, "ZGF0YTogdHdvCgo="]],
        "request_trailers": [["x-t", "1"]],
        "response_body_fidelity": "truncated",
    },
}


def jsonl_seeds() -> Iterator[tuple[str, bytes]]:
    plain = {k: v for k, v in JSONL_RECORD.items() if k != "fastcap"}
    yield "records", (json.dumps(plain) + "\n" + json.dumps(JSONL_RECORD) + "\n{not json\n").encode()
    yield (
        "kiro",
        (
            json.dumps(
                {
                    "timestamp": 1.0,
                    "request": {
                        "method": "POST",
                        "url": "https://q.us-east-1.amazonaws.com/generateAssistantResponse",
                        "headers": {},
                        "body": None,
                    },
                    "response": {
                        "status_code": 200,
                        "headers": [["content-type", "application/vnd.amazon.eventstream"]],
                        "body": "bad \ufffd",
                    },
                }
            )
            + "\n"
        ).encode(),
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "traffic.jsonl"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "fastcap",
                    "convert",
                    str(DATA / "mitmproxy" / "hardump.har"),
                    str(out),
                    "--no-redact",
                ],
                check=True,
                capture_output=True,
                cwd=ROOT,
            )
            text = out.read_bytes()
            yield "from_har", text[:MAX_TEXT]
    except (OSError, subprocess.CalledProcessError):
        print(
            "seed.py: fastcap not importable here; no JSONL converted from the HAR fixture", file=sys.stderr
        )


# --------------------------------------------------------------------------------------------
# The targets.


def control(flags: int, seed: int, body: bytes) -> bytes:
    return bytes([flags]) + struct.pack("<H", seed) + body


def rust_targets(curated: bool) -> dict[str, list[tuple[str, bytes]]]:
    out: dict[str, list[tuple[str, bytes]]] = {}

    sample = (DATA / "cbor" / "sample_v2_generated.cbor").read_bytes()
    out["cbor_reader"] = [("sample", sample), *captures()]
    if not curated:
        demo = ROOT / "examples" / "demo_session.cbor"
        if demo.exists():
            out["cbor_reader"].append(("demo", demo.read_bytes()))

    vectors = json.loads((DATA / "cbor" / "test-vectors" / "appendix_a.json").read_text())
    hexes = [bytes.fromhex(v["hex"]) for v in vectors if "hex" in v]
    out["cbor_value"] = [("sample", sample), ("appendix_a_sequence", b"".join(hexes))]
    if not curated:
        out["cbor_value"] += [(f"vector_{i}", h) for i, h in enumerate(hexes)]
        out["cbor_value"] += [(n, b) for n, b in captures()]

    es_files = sorted(p for p in (DATA / "eventstream").rglob("*") if p.is_file() and p.suffix != ".json")
    bodies = list(eventstreams())
    bodies += [(p.name, p.read_bytes()) for p in es_files if not curated or p.stat().st_size <= 1024]
    out["eventstream"] = [
        (f"{name}_{flags}", control(flags, 0x1234 + flags, body))
        for name, body in bodies
        for flags in (0, 5, 7)
    ]

    sse = [(p.name, cut_at_event(p.read_bytes())) for p in sse_files()]
    if curated:
        sse = [(n, b) for n, b in sse if len(b) <= 2048]
    sse += [(f"edge_{i}", b) for i, b in enumerate(SSE_EDGE)]
    out["sse_split"] = [
        (f"{n}_{flags}", control(flags, 0xBEEF ^ flags, b)) for n, b in sse for flags in (0, 6)
    ]

    datas: list[str] = []
    seen: set[str] = set()
    for p in sse_files():
        for d in event_data(p.read_bytes()):
            key = d if not curated else json_shape(d)
            if key not in seen and d.lstrip().startswith("{"):
                seen.add(key)
                datas.append(d)
    out["sse_extract"] = [(f"event_{i}", d.encode()) for i, d in enumerate(datas)]
    out["sse_extract"] += [(f"edge_{i}", d.encode()) for i, d in enumerate(EXTRACT_EDGE)]

    logs = sorted((DATA / "mitmproxy").glob("*.txt"))
    out["mitmlog"] = [
        (p.name, p.read_bytes()[:MAX_TEXT]) for p in logs if not curated or p.stat().st_size <= 4096
    ]
    if curated:
        out["mitmlog"] += [(p.name + "_head", p.read_bytes()[:4096]) for p in logs if p.stat().st_size > 4096]
    return out


def json_shape(d: str) -> str:
    """The keys and the `type` of an event: one curated seed per kind of event."""
    try:
        v = json.loads(d)
    except ValueError:
        return "invalid"
    if not isinstance(v, dict):
        return type(v).__name__
    return json.dumps([sorted(v), v.get("type")], default=str)


def python_targets(curated: bool) -> dict[str, list[tuple[str, bytes]]]:
    har = (DATA / "mitmproxy" / "hardump.har").read_bytes()
    mitm = (DATA / "mitmproxy" / "flows_v21.mitm").read_bytes()
    return {
        "py_har": [("hardump", har)],
        "py_jsonl": list(jsonl_seeds()),
        "py_mitm": [("flows_v21", mitm)],
    }


def write(base: Path, seeds: dict[str, list[tuple[str, bytes]]], clean: bool) -> None:
    for target, items in seeds.items():
        d = base / target
        if clean and d.exists():
            for f in d.iterdir():
                f.unlink()
        d.mkdir(parents=True, exist_ok=True)
        names = set()
        for _, data in items:
            name = hashlib.sha1(data).hexdigest()
            if name not in names:
                names.add(name)
                (d / name).write_bytes(data)
        size = sum(len(b) for _, b in items)
        shown = d.resolve().relative_to(ROOT) if d.resolve().is_relative_to(ROOT) else d
        print(f"{target}: {len(names)} inputs, {size} bytes -> {shown}")


def main(argv: Iterable[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--curated", action="store_true", help="write the committed seed set to fuzz/seeds/")
    ap.add_argument(
        "--out", type=Path, help="output directory (default fuzz/corpus, or fuzz/seeds with --curated)"
    )
    args = ap.parse_args(list(argv) if argv is not None else None)
    base = args.out or (FUZZ / ("seeds" if args.curated else "corpus"))
    seeds = rust_targets(args.curated)
    seeds.update(python_targets(args.curated))
    # The curated set is rewritten from scratch; corpora keep what the fuzzer added to them.
    write(base, seeds, clean=args.curated)
    return 0


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
