"""Regenerate `examples/demo_session.cbor`: a small, realistic fastcap capture.

It is written with fastcap's own CBOR V2 writer, in the shape the capture addon records
(P->B request with redacted headers, B->P stream-start marker, timed chunks, stream-end marker,
completion entries). The session: Claude Code turns with thinking, a tool call and cache reads,
a Codex (OpenAI Responses) turn with a function call, an OpenAI Chat stream, a Gemini CRLF
stream, an HTTP 429 with Retry-After, a 15 s pause, and an Anthropic stream cut mid-way.

    python examples/make_demo.py [OUT]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from fastcap import _native

SESSION = "fastcap-demo-20261121"
T0 = 1_763_700_000.0
P2B, B2P = 2, 3


class Writer:
    def __init__(self) -> None:
        self.out = bytearray(_native.encode_capture_header(SESSION, T0))
        self.seq = 0

    def entry(self, ts: float, direction: int, data: bytes, meta: dict[str, Any]) -> None:
        self.out += _native.encode_capture_entry(ts, direction, self.seq, data, {"sid": SESSION, **meta})
        self.seq += 1


def sse(events: list[tuple[str | None, dict[str, Any] | str]], *, crlf: bool = False) -> list[bytes]:
    nl = "\r\n" if crlf else "\n"
    out = []
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
        out.append(((f"event: {name}{nl}" if name else "") + f"data: {text}{nl}{nl}").encode())
    return out


def call(
    w: Writer,
    t: float,
    rid: str,
    *,
    backend: str,
    model: str,
    url: str,
    body: dict[str, Any],
    headers: list[tuple[str, str]],
    status: int = 200,
    reason: str = "OK",
    content_type: str = "text/event-stream",
    chunks: list[bytes] | None = None,
    gaps: list[float] | None = None,
    ttfb: float = 0.6,
    json_body: dict[str, Any] | None = None,
    extra_headers: list[tuple[str, str]] | None = None,
    cut: bool = False,
) -> float:
    path = url.split("/", 3)[3]
    host = url.split("/")[2]
    raw_body = json.dumps(body).encode()
    head = f"POST /{path} HTTP/1.1\r\nhost: {host}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    head += f"content-type: application/json\r\ncontent-length: {len(raw_body)}\r\n\r\n"
    common = {"be": backend, "mod": model, "rid": rid}
    http = {"transport": "http", "http_method": "POST", "url": url}
    w.entry(t, P2B, head.encode() + raw_body, {**common, "wire_schema": "v2", **http, "event": "request"})
    resp_headers = [("content-type", content_type), *(extra_headers or [])]
    if chunks is None:
        data = json.dumps(json_body).encode()
        resp = f"HTTP/1.1 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in resp_headers)
        resp += f"content-length: {len(data)}\r\n\r\n"
        end = t + ttfb
        w.entry(
            end,
            B2P,
            resp.encode() + data,
            {
                **common,
                "sc": status,
                "rts": t,
                "pts": end,
                "lat": ttfb * 1000,
                "wire_schema": "v2",
                "transport": "http",
                "event": "response",
                "http_status": status,
                "http_reason": reason,
                "http_version": "HTTP/1.1",
                "ra": float(dict(resp_headers).get("retry-after", 0)) or None,
            },
        )
        return end
    ss = t + ttfb - 0.05
    hdrs = "".join(f"{k}: {v}\r\n" for k, v in [*resp_headers, ("transfer-encoding", "chunked")])
    w.entry(
        ss,
        B2P,
        b"",
        {
            **common,
            "ss": True,
            "sc": status,
            "rts": t,
            **http,
            "event": "response",
            "http_status": status,
            "http_reason": reason,
            "http_version": "HTTP/1.1",
            "hdrs": hdrs,
        },
    )
    now = t + ttfb
    gaps = gaps or [0.04] * len(chunks)
    for i, chunk in enumerate(chunks, 1):
        meta: dict[str, Any] = {"rid": rid, "ci": i, "sc": status}
        if i == 1:
            meta["ttfb"] = round((now - t) * 1000, 3)
        w.entry(now, B2P, chunk, meta)
        if i < len(chunks):
            now += gaps[i - 1]
    end = now + 0.01
    if cut:
        w.entry(
            end,
            B2P,
            b"",
            {
                **common,
                "eos": True,
                "eos_sig": "error_termination",
                "eos_reason": "server disconnected mid-stream",
                "eos_term": "error",
                "eos_err_cls": "transport_error",
                "wire_schema": "v2",
            },
        )
        return end
    w.entry(
        end,
        B2P,
        b"",
        {
            **common,
            "se": True,
            "tc": len(chunks),
            "tb": sum(map(len, chunks)),
            "sc": status,
            "rts": t,
            "pts": end,
            "lat": round((end - t) * 1000, 3),
            "sdur": round((end - ss) * 1000, 3),
        },
    )
    w.entry(
        end + 0.001,
        B2P,
        b"",
        {
            **common,
            "eos": True,
            "eos_sig": "response_completed",
            "eos_reason": "stream completed",
            "eos_term": "normal",
            "wire_schema": "v2",
        },
    )
    return end


CLAUDE_HEADERS = [
    ("x-api-key", "[REDACTED]"),
    ("anthropic-version", "2023-06-01"),
    ("user-agent", "claude-cli/2.0.14 (external, cli)"),
    ("x-app", "cli"),
]
SYSTEM = [{"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."}]
TOOLS = [
    {"name": "Read", "description": "Read a file", "input_schema": {"type": "object"}},
    {"name": "Bash", "description": "Run a command", "input_schema": {"type": "object"}},
]


def anthropic_stream(
    msg_id: str,
    *,
    thinking: str,
    text: str,
    tool: tuple[str, str, str] | None,
    usage_in: dict[str, int],
    out_tokens: int,
    stop: bool = True,
) -> list[bytes]:
    ev: list[tuple[str | None, dict[str, Any] | str]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": msg_id,
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                    "model": "claude-sonnet-4-5",
                    "stop_reason": None,
                    "usage": {**usage_in, "output_tokens": 1},
                },
            },
        ),
    ]
    idx = 0
    if thinking:
        ev.append(
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": idx,
                    "content_block": {"type": "thinking", "thinking": "", "signature": ""},
                },
            )
        )
        for part in thinking.split("|"):
            ev.append(
                (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": idx,
                        "delta": {"type": "thinking_delta", "thinking": part},
                    },
                )
            )
        ev.append(
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": idx,
                    "delta": {"type": "signature_delta", "signature": "EqQBCgIYAhIM" + "x" * 40},
                },
            )
        )
        ev.append(("content_block_stop", {"type": "content_block_stop", "index": idx}))
        idx += 1
    ev.append(
        (
            "content_block_start",
            {"type": "content_block_start", "index": idx, "content_block": {"type": "text", "text": ""}},
        )
    )
    for part in text.split("|"):
        ev.append(
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": idx, "delta": {"type": "text_delta", "text": part}},
            )
        )
    ev.append(("content_block_stop", {"type": "content_block_stop", "index": idx}))
    if not stop:
        return sse(ev)
    if tool:
        idx += 1
        tid, name, args = tool
        ev.append(
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": idx,
                    "content_block": {"type": "tool_use", "id": tid, "name": name, "input": {}},
                },
            )
        )
        for part in (args[: len(args) // 2], args[len(args) // 2 :]):
            ev.append(
                (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": idx,
                        "delta": {"type": "input_json_delta", "partial_json": part},
                    },
                )
            )
        ev.append(("content_block_stop", {"type": "content_block_stop", "index": idx}))
    ev.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use" if tool else "end_turn"},
                "usage": {"output_tokens": out_tokens},
            },
        )
    )
    ev.append(("message_stop", {"type": "message_stop"}))
    return sse(ev)


def build() -> bytes:
    w = Writer()
    t = T0 + 1.0
    user = {"role": "user", "content": [{"type": "text", "text": "Why does test_parse fail?"}]}
    t = call(
        w,
        t,
        "req-claude-1",
        backend="anthropic",
        model="claude-sonnet-4-5",
        url="https://api.anthropic.com/v1/messages",
        headers=CLAUDE_HEADERS,
        ttfb=1.21,
        body={
            "model": "claude-sonnet-4-5",
            "max_tokens": 32000,
            "stream": True,
            "system": SYSTEM,
            "thinking": {"type": "enabled", "budget_tokens": 16000},
            "tools": TOOLS,
            "messages": [user],
            "metadata": {"user_id": "user_demo_account__session_5f1c2a9e"},
        },
        chunks=anthropic_stream(
            "msg_01Demo1",
            thinking="The failure is in parsing.| Read the test first.",
            text="I'll look at the failing test first.",
            tool=("toolu_01A", "Read", '{"file_path": "tests/test_parse.py"}'),
            usage_in={
                "input_tokens": 1203,
                "cache_creation_input_tokens": 2048,
                "cache_read_input_tokens": 48112,
            },
            out_tokens=96,
        ),
    )
    history = [
        user,
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_01A", "name": "Read", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01A", "content": "def test_parse(): ..."}
            ],
        },
    ]
    t = call(
        w,
        t + 2.4,
        "req-claude-2",
        backend="anthropic",
        model="claude-sonnet-4-5",
        url="https://api.anthropic.com/v1/messages",
        headers=CLAUDE_HEADERS,
        ttfb=0.84,
        body={
            "model": "claude-sonnet-4-5",
            "max_tokens": 32000,
            "stream": True,
            "system": SYSTEM,
            "tools": TOOLS,
            "messages": history,
            "metadata": {"user_id": "user_demo_account__session_5f1c2a9e"},
        },
        chunks=anthropic_stream(
            "msg_01Demo2",
            thinking="",
            text="The test expects a trailing newline;| `parse()` strips it.",
            tool=None,
            usage_in={"input_tokens": 310, "cache_read_input_tokens": 50160},
            out_tokens=41,
        ),
        gaps=[0.03, 0.05, 0.02, 0.04, 0.03, 0.06, 0.02],
    )
    t = call(
        w,
        t + 0.5,
        "req-claude-3",
        backend="anthropic",
        model="claude-sonnet-4-5",
        url="https://api.anthropic.com/v1/messages",
        headers=CLAUDE_HEADERS,
        status=429,
        reason="Too Many Requests",
        content_type="application/json",
        extra_headers=[("retry-after", "2"), ("request-id", "req_demo_429")],
        ttfb=0.19,
        body={"model": "claude-sonnet-4-5", "max_tokens": 32000, "stream": True, "messages": history},
        json_body={
            "type": "error",
            "error": {
                "type": "rate_limit_error",
                "message": "Number of request tokens has exceeded your per-minute rate limit",
            },
        },
    )
    # The agent waits, then retries: a 15 s gap.
    t = call(
        w,
        t + 15.2,
        "req-claude-4",
        backend="anthropic",
        model="claude-sonnet-4-5",
        url="https://api.anthropic.com/v1/messages",
        headers=CLAUDE_HEADERS,
        ttfb=0.95,
        body={
            "model": "claude-sonnet-4-5",
            "max_tokens": 32000,
            "stream": True,
            "system": SYSTEM,
            "tools": TOOLS,
            "messages": history,
            "metadata": {"user_id": "user_demo_account__session_5f1c2a9e"},
        },
        chunks=anthropic_stream(
            "msg_01Demo3",
            thinking="",
            text="Fixing `parse()` now:| keep the final newline",
            tool=None,
            usage_in={"input_tokens": 330, "cache_read_input_tokens": 50160},
            out_tokens=0,
            stop=False,
        ),
        cut=True,
    )
    codex_headers = [
        ("authorization", "[REDACTED]"),
        ("user-agent", "codex_cli_rs/0.46.0"),
        ("session_id", "c0dex-5e55-10n"),
    ]
    responses = [
        (
            "response.created",
            {
                "type": "response.created",
                "sequence_number": 0,
                "response": {"id": "resp_demo", "status": "in_progress", "model": "gpt-5-codex"},
            },
        ),
        (
            "response.output_item.added",
            {
                "type": "response.output_item.added",
                "sequence_number": 1,
                "output_index": 0,
                "item": {"type": "reasoning", "id": "rs_1", "summary": []},
            },
        ),
        (
            "response.reasoning_summary_text.delta",
            {
                "type": "response.reasoning_summary_text.delta",
                "sequence_number": 2,
                "item_id": "rs_1",
                "output_index": 0,
                "summary_index": 0,
                "delta": "Need to run the tests.",
            },
        ),
        (
            "response.output_item.done",
            {
                "type": "response.output_item.done",
                "sequence_number": 3,
                "output_index": 0,
                "item": {"type": "reasoning", "id": "rs_1"},
            },
        ),
        (
            "response.output_item.added",
            {
                "type": "response.output_item.added",
                "sequence_number": 4,
                "output_index": 1,
                "item": {
                    "type": "function_call",
                    "id": "fc_1",
                    "call_id": "call_shell_1",
                    "name": "shell",
                    "arguments": "",
                },
            },
        ),
        (
            "response.function_call_arguments.delta",
            {
                "type": "response.function_call_arguments.delta",
                "sequence_number": 5,
                "item_id": "fc_1",
                "output_index": 1,
                "delta": '{"command":["pytest","-q"]}',
            },
        ),
        (
            "response.function_call_arguments.done",
            {
                "type": "response.function_call_arguments.done",
                "sequence_number": 6,
                "item_id": "fc_1",
                "output_index": 1,
                "arguments": '{"command":["pytest","-q"]}',
            },
        ),
        (
            "response.completed",
            {
                "type": "response.completed",
                "sequence_number": 7,
                "response": {
                    "id": "resp_demo",
                    "status": "completed",
                    "model": "gpt-5-codex",
                    "usage": {
                        "input_tokens": 5120,
                        "input_tokens_details": {"cached_tokens": 4096},
                        "output_tokens": 212,
                        "output_tokens_details": {"reasoning_tokens": 128},
                        "total_tokens": 5332,
                    },
                },
            },
        ),
    ]
    t = call(
        w,
        t + 3.0,
        "req-codex-1",
        backend="openai",
        model="gpt-5-codex",
        url="https://api.openai.com/v1/responses",
        headers=codex_headers,
        ttfb=0.72,
        body={
            "model": "gpt-5-codex",
            "stream": True,
            "instructions": "You are Codex.",
            "prompt_cache_key": "c0dex-5e55-10n",
            "reasoning": {"effort": "medium", "summary": "auto"},
            "input": [
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "run the tests"}],
                }
            ],
            "tools": [{"type": "function", "name": "shell"}],
        },
        chunks=sse(responses),
    )
    chat = [
        (
            None,
            {
                "id": "chatcmpl-demo",
                "object": "chat.completion.chunk",
                "model": "gpt-4o-mini",
                "choices": [
                    {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
                ],
            },
        )
    ]
    for word in ["All ", "12 tests ", "pass."]:
        chat.append(
            (
                None,
                {
                    "id": "chatcmpl-demo",
                    "object": "chat.completion.chunk",
                    "model": "gpt-4o-mini",
                    "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}],
                },
            )
        )
    chat.append(
        (
            None,
            {
                "id": "chatcmpl-demo",
                "object": "chat.completion.chunk",
                "model": "gpt-4o-mini",
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            },
        )
    )
    chat.append(
        (
            None,
            {
                "id": "chatcmpl-demo",
                "object": "chat.completion.chunk",
                "model": "gpt-4o-mini",
                "choices": [],
                "usage": {"prompt_tokens": 88, "completion_tokens": 6, "total_tokens": 94},
            },
        )
    )
    chat.append((None, "[DONE]"))
    t = call(
        w,
        t + 1.0,
        "req-chat-1",
        backend="openai",
        model="gpt-4o-mini",
        url="https://api.openai.com/v1/chat/completions",
        headers=[("authorization", "[REDACTED]"), ("user-agent", "OpenAI/Python 1.51.0")],
        ttfb=0.31,
        body={
            "model": "gpt-4o-mini",
            "stream": True,
            "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": "Summarise the test run."}],
        },
        chunks=sse(chat),
    )
    gemini = [
        (
            None,
            {
                "candidates": [{"content": {"parts": [{"text": "The fix "}], "role": "model"}, "index": 0}],
                "usageMetadata": {"promptTokenCount": 42, "candidatesTokenCount": 2, "totalTokenCount": 44},
                "modelVersion": "gemini-2.5-flash",
            },
        ),
        (
            None,
            {
                "candidates": [
                    {
                        "content": {"parts": [{"text": "looks correct."}], "role": "model"},
                        "finishReason": "STOP",
                        "index": 0,
                    }
                ],
                "usageMetadata": {"promptTokenCount": 40, "candidatesTokenCount": 5, "totalTokenCount": 45},
                "modelVersion": "gemini-2.5-flash",
            },
        ),
    ]
    call(
        w,
        t + 1.5,
        "req-gemini-1",
        backend="gemini",
        model="gemini-2.5-flash",
        url="https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
        headers=[("x-goog-api-key", "[REDACTED]"), ("user-agent", "GeminiCLI/0.9.0")],
        ttfb=0.55,
        body={"contents": [{"role": "user", "parts": [{"text": "Review the fix."}]}]},
        chunks=sse(gemini, crlf=True),
    )
    return bytes(w.out)


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("demo_session.cbor")
    out.write_bytes(build())
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
