"""Content accounting over the native events table (analysis/content.py, docs/metrics.md)."""

from __future__ import annotations

import json

import polars as pl
from fastcap import _native
from fastcap.analysis.content import aggregate_events


def _sse(events: list[dict[str, object]]) -> bytes:
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + b"data: [DONE]\n\n"


def _chat_delta(index: int, call_id: str, name: str, args: str) -> dict[str, object]:
    call = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": args}}
    return {"choices": [{"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": None}]}


def test_a_tool_call_repeated_in_every_delta_is_one_call() -> None:
    """A gateway's translated Chat stream repeats the call's id and name in each delta: one call."""
    body = _sse(
        [
            _chat_delta(0, "call_1", "run_tests", '{"pa'),
            _chat_delta(0, "call_1", "run_tests", 'th": "a"}'),
            _chat_delta(1, "call_2", "run_tests", "{}"),  # a second call of the same tool
            _chat_delta(1, "call_2", "run_tests", ""),
            {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        ]
    )
    content = aggregate_events(pl.DataFrame(_native.sse_column([body])))
    row = content.row(0, named=True)
    assert row["tool_calls"] == ["run_tests", "run_tests"]
    assert row["stop_reason"] == "tool_calls" and row["stop_seen"] and row["terminal_seen"]


def test_first_content_time_is_the_arrival_of_the_chunk_completing_the_first_content_event() -> None:
    head = b'data: {"type":"message_start","message":{"model":"m","usage":{"input_tokens":3}}}\n\n'
    text = b'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}\n\n'
    body = head + text
    split = len(head) + 10  # the text event ends in the second chunk
    chunks = pl.DataFrame(
        {"exchange_index": [0], "chunk_ends": [[split, len(body)]], "chunk_times": [[1.0, 2.5]]},
        schema={
            "exchange_index": pl.UInt32,
            "chunk_ends": pl.List(pl.UInt64),
            "chunk_times": pl.List(pl.Float64),
        },
    )
    row = aggregate_events(pl.DataFrame(_native.sse_column([body])), chunks).row(0, named=True)
    assert row["first_content_t"] == 2.5 and row["text_chars"] == 2 and row["input_tokens"] == 3
    assert row["stop_seen"] is False and row["terminal_seen"] is False
