"""Generators of very long stream bodies (a million events and more) in each API's real shape, for
the bounded-time, bounded-memory tests of `fastcap decode` (issue 11).

Each body is a complete, well-formed response: a start, `events` content deltas (text, with a
tool call's argument deltas in the last tenth), the stop reason and usage, and the terminal
event. The bodies are built from a few pre-encoded pieces, so making one of a million events takes
well under a second.

`python tests/helpers/big_streams.py SHAPE EVENTS OUT` writes one to a file (for measurements).
"""

from __future__ import annotations

import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

import orjson

SHAPES = ("anthropic", "openai_chat", "openai_responses", "bedrock")


def _sse(event: str | None, obj: object) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + orjson.dumps(obj) + b"\n\n"


def anthropic(events: int) -> bytes:
    """Anthropic Messages: `events` content events in a text block and a tool_use block."""
    tool = events // 10
    text = events - tool
    parts = [
        _sse(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_big",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-big",
                    "content": [],
                    "usage": {"input_tokens": 12, "cache_read_input_tokens": 3400, "output_tokens": 1},
                },
            },
        ),
        _sse(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        _sse(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "word "}},
        )
        * text,
        _sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
        _sse(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "tool_use", "id": "toolu_big", "name": "Write", "input": {}},
            },
        ),
        _sse(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '{"a": "'},
            },
        ),
        _sse(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": "xy"},
            },
        )
        * max(tool - 2, 0),
        _sse(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": '"}'},
            },
        ),
        _sse("content_block_stop", {"type": "content_block_stop", "index": 1}),
        _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use", "stop_sequence": None},
                "usage": {"output_tokens": events},
            },
        ),
        _sse("message_stop", {"type": "message_stop"}),
    ]
    return b"".join(parts)


def openai_chat(events: int) -> bytes:
    """OpenAI Chat Completions chunks: content deltas, then one tool call's argument deltas, the
    finish reason, a usage chunk and `[DONE]`."""
    tool = events // 10
    text = events - tool

    def chunk(delta: dict[str, object], finish: str | None = None) -> bytes:
        return _sse(
            None,
            {
                "id": "chatcmpl-big",
                "object": "chat.completion.chunk",
                "model": "gpt-big",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            },
        )

    def call(args: str, first: bool = False) -> dict[str, object]:
        fn: dict[str, object] = {"arguments": args}
        head: dict[str, object] = {"index": 0}
        if first:
            fn["name"] = "write"
            head |= {"id": "call_big", "type": "function"}
        return {"tool_calls": [head | {"function": fn}]}

    parts = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "word "}) * text,
        chunk(call('{"a": "', first=True)),
        chunk(call("xy")) * max(tool - 2, 0),
        chunk(call('"}')),
        chunk({}, "tool_calls"),
        _sse(
            None,
            {
                "id": "chatcmpl-big",
                "object": "chat.completion.chunk",
                "model": "gpt-big",
                "choices": [],
                "usage": {"prompt_tokens": 40, "completion_tokens": events, "total_tokens": events + 40},
            },
        ),
        b"data: [DONE]\n\n",
    ]
    return b"".join(parts)


def openai_responses(events: int) -> bytes:
    """OpenAI Responses: output_text deltas, one function call's argument deltas, completed."""
    tool = events // 10
    text = events - tool
    response = {
        "id": "resp_big",
        "object": "response",
        "model": "gpt-big",
        "status": "in_progress",
        "output": [],
    }
    parts = [
        _sse("response.created", {"type": "response.created", "response": response}),
        _sse(
            "response.output_item.added",
            {
                "type": "response.output_item.added",
                "output_index": 0,
                "item": {"id": "msg_big", "type": "message", "role": "assistant", "content": []},
            },
        ),
        _sse(
            "response.output_text.delta",
            {"type": "response.output_text.delta", "item_id": "msg_big", "output_index": 0, "delta": "word "},
        )
        * text,
        _sse(
            "response.output_item.added",
            {
                "type": "response.output_item.added",
                "output_index": 1,
                "item": {
                    "id": "fc_big",
                    "type": "function_call",
                    "call_id": "call_big",
                    "name": "write",
                    "arguments": "",
                },
            },
        ),
        *(
            _sse(
                "response.function_call_arguments.delta",
                {
                    "type": "response.function_call_arguments.delta",
                    "item_id": "fc_big",
                    "output_index": 1,
                    "delta": delta,
                },
            )
            * times
            for delta, times in (('{"a": "', 1), ("xy", max(tool - 2, 0)), ('"}', 1))
        ),
        _sse(
            "response.completed",
            {
                "type": "response.completed",
                "response": response
                | {
                    "status": "completed",
                    "usage": {"input_tokens": 40, "output_tokens": events, "total_tokens": events + 40},
                },
            },
        ),
    ]
    return b"".join(parts)


def _frame(event_type: str, payload: bytes) -> bytes:
    """One AWS EventStream event frame (prelude, headers, payload, CRCs)."""
    headers = b""
    for name, value in (
        (":message-type", "event"),
        (":event-type", event_type),
        (":content-type", "application/json"),
    ):
        headers += (
            bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(value)) + value.encode()
        )
    total = 12 + len(headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(headers))
    head = prelude + struct.pack(">I", zlib.crc32(prelude))
    message = head + headers + payload
    return message + struct.pack(">I", zlib.crc32(message))


def bedrock(events: int) -> bytes:
    """Bedrock ConverseStream frames: text deltas, then messageStop and metadata with usage."""
    parts = [
        _frame("messageStart", orjson.dumps({"role": "assistant"})),
        _frame("contentBlockDelta", orjson.dumps({"contentBlockIndex": 0, "delta": {"text": "word "}}))
        * events,
        _frame("contentBlockStop", orjson.dumps({"contentBlockIndex": 0})),
        _frame("messageStop", orjson.dumps({"stopReason": "end_turn"})),
        _frame(
            "metadata",
            orjson.dumps(
                {
                    "usage": {"inputTokens": 40, "outputTokens": events, "totalTokens": events + 40},
                    "metrics": {"latencyMs": 1},
                }
            ),
        ),
    ]
    return b"".join(parts)


GENERATORS: dict[str, Callable[[int], bytes]] = {
    "anthropic": anthropic,
    "openai_chat": openai_chat,
    "openai_responses": openai_responses,
    "bedrock": bedrock,
}


if __name__ == "__main__":
    shape, count, out = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    out.write_bytes(GENERATORS[shape](count))
