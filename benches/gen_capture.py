"""Deterministic synthetic CBOR V2 captures of any size, with a realistic mix.

Each request is a four-leg gateway exchange (the reference inspector's workload, docs/specs/cbor-v2.md
§11.1): a C->P JSON request of a few KB to ~20 KB (zlib-compressed when it shrinks), the P->B
HTTP request text, B->P stream-start marker, 20–120 SSE chunks of 50–400 bytes (Anthropic, OpenAI
Chat or OpenAI Responses shaped), stream-end marker and completion entry, and the same chunks on
P->C. Every 40th request is an HTTP 429 instead of a stream.

    python benches/gen_capture.py OUT.cbor --size-mb 40
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from fastcap import _native

WORDS = (
    "the",
    "parser",
    "fails",
    "because",
    "newline",
    "test",
    "fix",
    "function",
    "returns",
    "value",
    "käse",
    "naïve",
    "→",
)


def _delta_chunks(rng: random.Random, kind: int, n: int) -> list[bytes]:
    out = []
    if kind == 0:
        out.append(
            b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",'
            b'"content":[],"model":"claude-sonnet-4-5","usage":{"input_tokens":900,"cache_read_input_tokens":4096,"output_tokens":1}}}\n\n'
            b'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
        )
    elif kind == 2:
        out.append(
            b'event: response.created\ndata: {"type":"response.created","response":{"id":"resp_1","status":"in_progress","model":"gpt-5-codex"}}\n\n'
            b'event: response.output_item.added\ndata: {"type":"response.output_item.added","output_index":0,'
            b'"item":{"type":"message","id":"msg_1","role":"assistant","content":[]}}\n\n'
        )
    for i in range(n):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 40)))
        if kind == 0:
            ev = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}
            out.append(f"event: content_block_delta\ndata: {json.dumps(ev, ensure_ascii=False)}\n\n".encode())
        elif kind == 1:
            ev = {
                "id": "chatcmpl-x",
                "object": "chat.completion.chunk",
                "model": "gpt-4o-mini",
                "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
            }
            out.append(f"data: {json.dumps(ev, ensure_ascii=False)}\n\n".encode())
        else:
            ev = {
                "type": "response.output_text.delta",
                "sequence_number": i,
                "item_id": "msg_1",
                "output_index": 0,
                "content_index": 0,
                "delta": text,
            }
            out.append(
                f"event: response.output_text.delta\ndata: {json.dumps(ev, ensure_ascii=False)}\n\n".encode()
            )
    if kind == 0:
        out.append(
            b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":321}}\n\n'
            b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
        )
    elif kind == 1:
        out.append(
            b'data: {"id":"chatcmpl-x","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
        )
    else:
        out.append(
            b'event: response.completed\ndata: {"type":"response.completed","response":{"status":"completed","usage":{"input_tokens":900,"output_tokens":321,"total_tokens":1221}}}\n\n'
        )
    return out


def generate(path: Path, size_mb: float, seed: int = 7) -> dict[str, int]:
    rng = random.Random(seed)
    target = int(size_mb * (1 << 20))
    backends = ("anthropic", "openai", "openai-responses")
    models = ("claude-sonnet-4-5", "gpt-4o-mini", "gpt-5-codex")
    urls = (
        "https://api.anthropic.com/v1/messages",
        "https://api.openai.com/v1/chat/completions",
        "https://api.openai.com/v1/responses",
    )
    ts = 1_763_700_000.0
    seq = 0
    requests = entries = 0
    with open(path, "wb") as f:
        written = f.write(_native.encode_capture_header("bench-session", ts))

        def put(direction: int, data: bytes, meta: dict[str, object]) -> None:
            nonlocal seq, written, entries
            written += f.write(_native.encode_capture_entry(ts, direction, seq, data, meta))
            seq += 1
            entries += 1

        while written < target:
            kind = requests % 3
            rid = f"req-{requests:07d}"
            sid = f"sess-{requests // 25:05d}"
            be, model, url = backends[kind], models[kind], urls[kind]
            history = [
                {
                    "role": "user" if i % 2 == 0 else "assistant",
                    "content": " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 200))),
                }
                for i in range(rng.randint(2, 30))
            ]
            body = json.dumps(
                {"model": model, "stream": True, "max_tokens": 8192, "messages": history}, ensure_ascii=False
            ).encode()
            put(
                0,
                body,
                {
                    "sid": sid,
                    "be": "client",
                    "mod": model,
                    "rid": rid,
                    "wire_schema": "v2",
                    "transport": "http",
                    "event": "request",
                    "http_method": "POST",
                    "url": url,
                },
            )
            ts += 0.005
            head = f"POST {url.split('/', 3)[3]} HTTP/1.1\r\nhost: {url.split('/')[2]}\r\nauthorization: [REDACTED]\r\ncontent-type: application/json\r\n\r\n"
            put(
                2,
                head.encode() + body,
                {
                    "sid": sid,
                    "be": be,
                    "mod": model,
                    "rid": rid,
                    "wire_schema": "v2",
                    "transport": "http",
                    "event": "request",
                    "http_method": "POST",
                    "url": url,
                },
            )
            rts = ts
            if requests % 40 == 39:
                ts += 0.2
                err = b'HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nretry-after: 2\r\n\r\n{"error":{"type":"rate_limit_error","message":"slow down"}}'
                put(
                    3,
                    err,
                    {
                        "sid": sid,
                        "rid": rid,
                        "sc": 429,
                        "ra": 2.0,
                        "rts": rts,
                        "pts": ts,
                        "lat": 200.0,
                        "wire_schema": "v2",
                        "transport": "http",
                        "event": "response",
                        "http_status": 429,
                    },
                )
                put(
                    1,
                    err.split(b"\r\n\r\n", 1)[1],
                    {"sid": sid, "be": be, "rid": rid, "sc": 429, "http_status": 429, "wire_schema": "v2"},
                )
                requests += 1
                continue
            ts += rng.uniform(0.2, 1.5)
            put(
                3,
                b"",
                {
                    "sid": sid,
                    "be": be,
                    "mod": model,
                    "rid": rid,
                    "ss": True,
                    "sc": 200,
                    "rts": rts,
                    "http_status": 200,
                },
            )
            put(1, b"", {"sid": sid, "be": be, "mod": model, "rid": rid, "ss": True, "sc": 200})
            ss = ts
            chunks = _delta_chunks(rng, kind, rng.randint(20, 120))
            for i, chunk in enumerate(chunks, 1):
                ts += rng.uniform(0.005, 0.08)
                meta: dict[str, object] = {"sid": sid, "rid": rid, "ci": i, "sc": 200}
                if i == 1:
                    meta["ttfb"] = (ts - rts) * 1000
                put(3, chunk, meta)
                put(1, chunk, {"sid": sid, "rid": rid, "ci": i, "sc": 200})
            ts += 0.01
            put(
                3,
                b"",
                {
                    "sid": sid,
                    "be": be,
                    "mod": model,
                    "rid": rid,
                    "se": True,
                    "tc": len(chunks),
                    "tb": sum(map(len, chunks)),
                    "sc": 200,
                    "rts": rts,
                    "pts": ts,
                    "lat": (ts - rts) * 1000,
                    "sdur": (ts - ss) * 1000,
                },
            )
            put(
                1,
                b"",
                {
                    "sid": sid,
                    "be": be,
                    "mod": model,
                    "rid": rid,
                    "se": True,
                    "tc": len(chunks),
                    "tb": sum(map(len, chunks)),
                },
            )
            put(
                3,
                b"",
                {
                    "sid": sid,
                    "be": be,
                    "mod": model,
                    "rid": rid,
                    "eos": True,
                    "eos_sig": "done_sentinel",
                    "eos_reason": "stream completed",
                    "eos_term": "normal",
                    "wire_schema": "v2",
                },
            )
            requests += 1
            ts += rng.uniform(0.5, 3.0)
    return {"bytes": written, "entries": entries, "requests": requests}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--size-mb", type=float, default=40)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    stats = generate(args.out, args.size_mb, args.seed)
    print(
        f"wrote {args.out}: {stats['bytes']:,} bytes, {stats['entries']:,} entries, {stats['requests']:,} requests"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
