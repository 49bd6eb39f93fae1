"""Benchmark of the Rust mitmdump-log parser against the pure-Python line parser.

A deterministic `flow_detail=3` log (mitmproxy 12 layout: termlog lines, pretty-printed JSON
request bodies of Claude-Code-like size, SSE responses with 4-space blank lines, EventStream
bodies rendered as text, x-amz-json one-liners, a `(cut off)` body, streamed `Content is
missing.` flows, an error flow) is generated to the requested size, then parsed in the same run by:

* ``rust``:    ``fastcap._native.parse_mitmlog(path)`` → Arrow table (the log memory-mapped;
  string columns are views into the map, transformed bodies and headers into an arena);
* ``rust→pl``: the same plus ``polars.DataFrame(table)`` (reported: what a Polars user gets);
* ``reader``:  ``fastcap.formats.mitmlog.read_mitmlog(path)`` → `Exchange` objects (Rust + Python);
* ``python``:  ``benches.baselines.mitmlog_py.parse_file(path)`` → one dict per flow, the same
  fields (tests/test_readers_mitmlog.py checks that both give equal values).

The Rust paths are timed best of ``--repeat`` (each call ~1/30 of the baseline's single run, so
one preemption on a shared machine would otherwise decide the ratio); the previous call's result
is released before the clock starts. Prints MB/s and the rust/python ratio.
``--check-min-ratio N`` exits 1 if rust/python < N. Build first: ``maturin develop --release``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fastcap import _native  # noqa: E402
from fastcap.formats.mitmlog import read_mitmlog  # noqa: E402

from benches.baselines.mitmlog_py import parse_file  # noqa: E402
from benches.timing import best_of  # noqa: E402

WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "with",
    "was",
    "on",
    "be",
    "by",
    "read",
    "file",
    "tool",
    "call",
    "path",
    "test",
    "run",
]


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _indent(text: str) -> str:
    return "\n".join("    " + ln if ln else "    " for ln in text.split("\n"))


def _flow(rng: random.Random, i: int, clock: list[float]) -> str:
    port = 40000 + i % 20000
    client = f"127.0.0.1:{port}"

    def ts() -> str:
        clock[0] += rng.random() * 0.05
        t = clock[0]
        return (
            f"{int(t // 3600) % 24:02d}:{int(t // 60) % 60:02d}:{int(t) % 60:02d}.{int(t * 1000) % 1000:03d}"
        )

    out = [f"[{ts()}][{client}] client connect", f"[{ts()}][{client}] server connect api.anthropic.com:443"]
    kind = rng.random()
    if kind < 0.55:  # Anthropic Messages: big pretty JSON request, SSE response
        msgs = [
            {"role": rng.choice(["user", "assistant"]), "content": _sentence(rng, rng.randint(5, 60))}
            for _ in range(rng.randint(3, 40))
        ]
        tools = [
            {
                "name": f"tool_{k}",
                "description": _sentence(rng, 20),
                "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
            }
            for k in range(rng.randint(0, 12))
        ]
        req = json.dumps(
            {
                "model": "claude-sonnet-4",
                "max_tokens": 8192,
                "stream": True,
                "messages": msgs,
                "tools": tools,
            },
            indent=4,
        )
        events = []
        for k in range(rng.randint(5, 80)):
            delta = {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": _sentence(rng, 6)},
            }
            events.append(f"event: content_block_delta\ndata: {json.dumps(delta, separators=(',', ':'))}")
            if k % 10 == 0:
                events.append('event: ping\ndata: {"type": "ping"}')
        resp = "\n\n".join(events)
        out += [
            f"{client}: POST https://api.anthropic.com/v1/messages HTTP/2.0",
            "    content-type: application/json",
            "    anthropic-version: 2023-06-01",
            "    x-api-key: sk-ant-[REDACTED]",
            f"    content-length: {len(req)}",
            "",
            _indent(req),
            "",
            f" << HTTP/2.0 200 OK {len(resp) / 1024:.1f}k",
            "    content-type: text/event-stream; charset=utf-8",
            "    request-id: req_" + f"{rng.getrandbits(64):016x}",
            "",
            _indent(resp),
            "",
        ]
    elif kind < 0.75:  # kiro: x-amz-json one-liner, EventStream as text
        req = json.dumps(
            {
                "conversationState": {
                    "conversationId": f"{rng.getrandbits(128):032x}",
                    "currentMessage": {"userInputMessage": {"content": _sentence(rng, 40)}},
                }
            }
        )
        frames = []
        for _ in range(rng.randint(3, 30)):
            frames.append(
                ".......\\xb5\\xa8.:event-type...assistantResponseEvent\n:content-type...application/json\n"
                f':message-type...event{{"content":"{_sentence(rng, 4)}"}}\\x9b].5'
            )
        out += [
            f"{client}: POST https://q.us-east-1.amazonaws.com/",
            "    content-type: application/x-amz-json-1.0",
            "    x-amz-target: AmazonCodeWhispererStreamingService.GenerateAssistantResponse",
            "    authorization: Bearer [REDACTED]",
            "",
            "    " + req,
            "",
            f" << 200 OK {rng.randint(100, 1023)}b",
            "    content-type: application/vnd.amazon.eventstream",
            "",
            _indent("".join(frames)),
            "",
        ]
    elif kind < 0.85:  # long text body with the 12.x cut-off marker
        body = "\n".join(f"line {k} of text {_sentence(rng, 3)}" for k in range(600))
        out += [
            f"{client}: GET https://example.com/big",
            "    accept: */*",
            "",
            f" << 200 OK {len(body) / 1024:.1f}k",
            "    content-type: text/plain",
            "",
            _indent(body),
            "    (cut off)",
            "",
        ]
    elif kind < 0.95:  # streamed, content missing
        out += [
            f"{client}: POST https://api.openai.com/v1/responses",
            "    content-type: application/json",
            "",
            "    Content is missing.",
            "",
            " << 200 OK (content missing)",
            "    content-type: text/event-stream",
            "",
            "    Content is missing.",
            "",
        ]
    else:  # error flow
        out += [
            f"{client}: GET https://api.github.com/user",
            "    accept: */*",
            "",
            " << Client disconnected.",
        ]
    out += [f"[{ts()}][{client}] client disconnect"]
    return "\n".join(out) + "\n"


def generate(path: Path, size_mb: float, seed: int = 1) -> int:
    """Write a deterministic log of about `size_mb` MB: a ~4 MB block of distinct flows repeated."""
    rng = random.Random(seed)
    clock = [8 * 3600.0]
    parts: list[str] = ["[08:00:00.000] HTTP(S) proxy listening at *:8080.\n"]
    block_len = 0
    i = 0
    while block_len < min(4.0, size_mb) * 1e6:
        f = _flow(rng, i, clock)
        parts.append(f)
        block_len += len(f)
        i += 1
    block = "".join(parts).encode("utf-8")
    target = int(size_mb * 1e6)
    with open(path, "wb") as fh:
        written = 0
        while written < target:
            fh.write(block)
            written += len(block)
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size-mb", type=float, default=200.0, help="log size in MB (default 200)")
    ap.add_argument("--repeat", type=int, default=5, help="best of N for the Rust paths (default 5)")
    ap.add_argument("--check-min-ratio", type=float, default=None, help="exit 1 if rust/python is below this")
    ap.add_argument("--keep", type=Path, default=None, help="write the log here and keep it")
    ap.add_argument("--skip-reader", action="store_true", help="do not time the full Exchange reader")
    args = ap.parse_args(argv)

    tmpdir = None
    if args.keep:
        path = args.keep
    else:
        tmpdir = tempfile.TemporaryDirectory()
        path = Path(tmpdir.name) / "raw.log"
    try:
        t0 = time.perf_counter()
        size = generate(path, args.size_mb)
        gen_s = time.perf_counter() - t0
        mb = size / 1e6
        print(f"log: {mb:.1f} MB generated in {gen_s:.1f}s ({path})")
        print(f"build: {_native.build_profile}")

        rust_s, (table, _info) = best_of(args.repeat, lambda: _native.parse_mitmlog(str(path)))
        flows = table.num_rows
        print(f"rust    {rust_s:8.3f}s  {mb / rust_s:9.1f} MB/s  flows={flows}")
        del table
        import polars as pl

        pl_s, df = best_of(args.repeat, lambda: pl.DataFrame(_native.parse_mitmlog(str(path))[0]))
        assert df.height == flows
        del df
        print(f"rust→pl {pl_s:8.3f}s  {mb / pl_s:9.1f} MB/s  (+ polars.DataFrame)")
        if not args.skip_reader:
            reader_s, exs = best_of(1, lambda: read_mitmlog(path))
            assert len(exs) == flows
            print(f"reader  {reader_s:8.3f}s  {mb / reader_s:9.1f} MB/s  (Rust + Exchange objects)")
            del exs
        py_s, py_flows = best_of(1, lambda: parse_file(str(path)))
        print(f"python  {py_s:8.3f}s  {mb / py_s:9.1f} MB/s  flows={len(py_flows)}")
        if len(py_flows) != flows:
            print(f"MISMATCH: python found {len(py_flows)} flows, rust {flows}")
            return 1
        ratio = py_s / rust_s
        print(f"ratio   rust/python = {ratio:.1f}x")
        if args.check_min_ratio is not None and ratio < args.check_min_ratio:
            print(f"FAIL: ratio {ratio:.1f} < {args.check_min_ratio}")
            return 1
        return 0
    finally:
        if tmpdir is not None:
            tmpdir.cleanup()
        elif args.keep is None:
            os.unlink(path)


if __name__ == "__main__":
    raise SystemExit(main())
