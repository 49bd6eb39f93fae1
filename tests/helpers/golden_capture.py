"""Test captures for the inspector (and anyone else): the docs/specs/cbor-v2.md §10.16 golden file and a
fastcap-style capture (P->B / B->P legs only, Anthropic SSE).

Built with the native writer so the bytes follow §1.1. Payload sizes match the spec table exactly
(total 1,344 decompressed bytes); the P->B request carries a fake Anthropic-style key in its
`authorization` header so redaction can be tested.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastcap._native import encode_capture_entry, encode_capture_header

T0 = 1700000000.0
FAKE_KEY = "sk-ant-api03-FAKEFAKEFAKEFAKEFAKE"


def _pad_json(obj_text: str, size: int) -> bytes:
    """`obj_text` with a trailing JSON string field padded so the result is exactly `size` bytes."""
    base = obj_text[:-1] + ',"pad":""}'
    missing = size - len(base.encode())
    assert missing >= 0, (obj_text, size)
    return (obj_text[:-1] + ',"pad":"' + "x" * missing + '"}').encode()


def golden_payloads() -> dict[str, bytes]:
    request = b'{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"hi"}]}'
    assert len(request) == 81, len(request)
    head = (
        "POST /v1/chat/completions HTTP/1.1\r\n"
        f"authorization: Bearer {FAKE_KEY}\r\n"
        "content-type: application/json\r\n"
    )
    pb = (head + "\r\n").encode() + request
    assert len(pb) == 208, len(pb)
    chunk1 = (
        b'data: {"id":"chatcmpl-1","model":"gpt-4o-mini","choices":[{"index":0,'
        b'"delta":{"role":"assistant","content":"Hel"}}]}\n\n'
    )
    chunk1 = chunk1.replace(b'"chatcmpl-1"', b'"chatcmpl-1"' + b" " * (118 - len(chunk1)), 1)
    assert len(chunk1) == 118, len(chunk1)
    chunk2 = (
        b'data: {"id":"chatcmpl-1","model":"gpt-4o-mini","choices":[{"index":0,'
        b'"delta":{"content":"lo"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
    )
    chunk2 = chunk2.replace(b'"chatcmpl-1"', b'"chatcmpl-1"' + b" " * (135 - len(chunk2)), 1)
    assert len(chunk2) == 135, len(chunk2)
    err_body = _pad_json('{"error":{"message":"Rate limit reached","type":"rate_limit_exceeded"}}', 89)
    assert len(err_body) == 89
    resp_head = b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nretry-after: 2\r\n"
    resp = resp_head + b"\r\n" + err_body
    assert len(resp) == 171, len(resp)
    return {
        "request": request,
        "pb": pb,
        "chunk1": chunk1,
        "chunk2": chunk2,
        "resp429": resp,
        "err": err_body,
    }


def golden_entries() -> list[tuple[float, int, int, bytes, dict[str, Any]]]:
    """(ts, dir, seq, data, meta) of the 15 §10.16 entries."""
    p = golden_payloads()
    url = "https://api.openai.com/v1/chat/completions"
    s = {"sid": "sess-1"}
    cp = {
        "be": "client",
        "mod": "gpt-4o-mini",
        "wire_schema": "v2",
        "transport": "http",
        "event": "request",
        "http_method": "POST",
        "url": "http://127.0.0.1:8000/v1/chat/completions",
    }
    pb = {
        "be": "openai",
        "mod": "gpt-4o-mini",
        "key": "openai-main",
        "wire_schema": "v2",
        "transport": "http",
        "event": "request",
        "http_method": "POST",
        "url": url,
    }
    r1 = {**s, "rid": "req-1"}
    r2 = {**s, "rid": "req-2"}
    rts1, rts2 = T0 + 0.010, T0 + 15.710
    return [
        (T0 + 0.000, 0, 0, p["request"], {**s, **cp, "rid": "req-1"}),
        (T0 + 0.010, 2, 1, p["pb"], {**s, **pb, "rid": "req-1"}),
        (
            T0 + 0.400,
            3,
            2,
            b"",
            {
                **r1,
                "be": "openai",
                "mod": "gpt-4o-mini",
                "ss": True,
                "sc": 200,
                "rts": rts1,
                "http_status": 200,
                "http_reason": "OK",
                "http_version": "HTTP/1.1",
            },
        ),
        (T0 + 0.401, 1, 3, b"", {**r1, "be": "openai", "mod": "gpt-4o-mini", "ss": True, "sc": 200}),
        (T0 + 0.450, 3, 4, p["chunk1"], {**r1, "ci": 1, "sc": 200, "ttfb": 440.0}),
        (T0 + 0.451, 1, 5, p["chunk1"], {**r1, "ci": 1, "sc": 200}),
        (T0 + 0.600, 3, 6, p["chunk2"], {**r1, "ci": 2, "sc": 200}),
        (T0 + 0.601, 1, 7, p["chunk2"], {**r1, "ci": 2, "sc": 200}),
        (
            T0 + 0.610,
            3,
            8,
            b"",
            {
                **r1,
                "be": "openai",
                "mod": "gpt-4o-mini",
                "se": True,
                "tc": 2,
                "tb": 253,
                "sc": 200,
                "rts": rts1,
                "pts": T0 + 0.610,
                "lat": 600.0,
                "sdur": 210.0,
            },
        ),
        (T0 + 0.611, 1, 9, b"", {**r1, "se": True, "tc": 2, "tb": 253, "sc": 200}),
        (
            T0 + 0.612,
            3,
            10,
            b"",
            {
                **r1,
                "be": "openai",
                "mod": "gpt-4o-mini",
                "eos": True,
                "eos_sig": "done_sentinel",
                "eos_reason": "stream completed",
                "eos_term": "normal",
                "wire_schema": "v2",
            },
        ),
        (T0 + 15.700, 0, 11, p["request"], {**s, **cp, "rid": "req-2"}),
        (T0 + 15.710, 2, 12, p["pb"], {**s, **pb, "rid": "req-2"}),
        (
            T0 + 15.900,
            3,
            13,
            p["resp429"],
            {
                **r2,
                "be": "openai",
                "mod": "gpt-4o-mini",
                "sc": 429,
                "ra": 2.0,
                "rts": rts2,
                "pts": T0 + 15.900,
                "lat": 190.0,
                "wire_schema": "v2",
                "transport": "http",
                "event": "response",
                "http_status": 429,
                "http_reason": "Too Many Requests",
                "http_version": "HTTP/1.1",
            },
        ),
        (
            T0 + 15.905,
            1,
            14,
            p["err"],
            {
                **r2,
                "be": "openai",
                "mod": "gpt-4o-mini",
                "sc": 429,
                "http_status": 429,
                "transport": "http",
                "event": "response",
                "wire_schema": "v2",
            },
        ),
    ]


def encode(
    session_id: str,
    created_at: float,
    entries: list[tuple[float, int, int, bytes, dict[str, Any]]],
    metadata: Any = None,
) -> bytes:
    out = bytearray(encode_capture_header(session_id, created_at, {} if metadata is None else metadata))
    for ts, d, seq, data, meta in entries:
        out += encode_capture_entry(ts, d, seq, data, meta)
    return bytes(out)


def write_golden(path: str | Path) -> Path:
    """Write the §10.16 golden capture (session `demo-session`, created_at 1700000000.0)."""
    path = Path(path)
    path.write_bytes(encode("demo-session", T0, golden_entries()))
    return path


ANTHROPIC_SSE = [
    b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","model":"claude-sonnet-4-5",'
    b'"usage":{"input_tokens":12,"output_tokens":1}}}\n\n',
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":'
    b'{"type":"text","text":""}}\n\nevent: content_block_delta\ndata: {"type":"content_block_delta",'
    b'"index":0,"delta":{"type":"text_delta","text":"Hello"}}\n\n',
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":'
    b'{"type":"text_delta","text":", world"}}\n\nevent: content_block_stop\ndata: {"type":"content_block_stop",'
    b'"index":0}\n\n',
    b'event: content_block_start\ndata: {"type":"content_block_start","index":1,"content_block":'
    b'{"type":"tool_use","id":"toolu_1","name":"Bash","input":{}}}\n\n'
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"tool_use"},'
    b'"usage":{"output_tokens":9}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n',
]


def fastcap_entries() -> list[tuple[float, int, int, bytes, dict[str, Any]]]:
    """A fastcap capture: one streamed Anthropic call (ss, 4 chunks, se, EoS) and one non-stream
    529 overloaded response, both with P->B requests; no C->P / P->C legs."""
    t = 1700001000.0
    url = "https://api.anthropic.com/v1/messages"
    req = b'{"model":"claude-sonnet-4-5","max_tokens":1024,"stream":true,"messages":[{"role":"user","content":"hi"}]}'
    pb = (
        b"POST /v1/messages HTTP/1.1\r\nhost: api.anthropic.com\r\nx-api-key: "
        + FAKE_KEY.encode()
        + b"\r\ncontent-type: application/json\r\n\r\n"
        + req
    )
    sid = {"sid": "fc-1"}
    base = {**sid, "be": "anthropic", "mod": "claude-sonnet-4-5"}
    http = {"transport": "http", "event": "response", "http_method": "POST", "url": url}
    out: list[tuple[float, int, int, bytes, dict[str, Any]]] = [
        (
            t,
            2,
            0,
            pb,
            {
                **base,
                "rid": "f1",
                "wire_schema": "v2",
                "transport": "http",
                "event": "request",
                "http_method": "POST",
                "url": url,
            },
        ),
        (
            t + 0.5,
            3,
            1,
            b"",
            {
                **base,
                "rid": "f1",
                "ss": True,
                "sc": 200,
                "rts": t,
                **http,
                "http_status": 200,
                "http_reason": "OK",
                "http_version": "HTTP/1.1",
                "hdrs": "content-type: text/event-stream\r\n",
            },
        ),
    ]
    seq = 2
    for i, chunk in enumerate(ANTHROPIC_SSE, start=1):
        meta: dict[str, Any] = {**sid, "rid": "f1", "ci": i, "sc": 200, **http}
        if i == 1:
            meta["ttfb"] = 800.0
        out.append((t + 0.7 + 0.1 * i, 3, seq, chunk, meta))
        seq += 1
    total = sum(len(c) for c in ANTHROPIC_SSE)
    out.append(
        (
            t + 1.3,
            3,
            seq,
            b"",
            {
                **base,
                "rid": "f1",
                "se": True,
                "tc": 4,
                "tb": total,
                "sc": 200,
                "rts": t,
                "pts": t + 1.3,
                "lat": 1300.0,
                "sdur": 800.0,
            },
        )
    )
    out.append(
        (
            t + 1.3,
            3,
            seq + 1,
            b"",
            {
                **base,
                "rid": "f1",
                "eos": True,
                "eos_sig": "response_completed",
                "eos_reason": "stream completed",
                "eos_term": "normal",
                "wire_schema": "v2",
            },
        )
    )
    err = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    resp = b"HTTP/1.1 529 Overloaded\r\ncontent-type: application/json\r\n\r\n" + err
    out.append(
        (
            t + 5.0,
            2,
            seq + 2,
            pb,
            {
                **base,
                "rid": "f2",
                "wire_schema": "v2",
                "transport": "http",
                "event": "request",
                "http_method": "POST",
                "url": url,
            },
        )
    )
    out.append(
        (
            t + 5.4,
            3,
            seq + 3,
            resp,
            {
                **base,
                "rid": "f2",
                "sc": 529,
                "rts": t + 5.0,
                "pts": t + 5.4,
                "lat": 400.0,
                "wire_schema": "v2",
                **http,
                "http_status": 529,
                "http_reason": "Overloaded",
                "http_version": "HTTP/1.1",
            },
        )
    )
    return out


def write_fastcap(path: str | Path) -> Path:
    path = Path(path)
    path.write_bytes(
        encode("fastcap-demo", 1700001000.0, fastcap_entries(), {"fastcap_target": "claude_code"})
    )
    return path
