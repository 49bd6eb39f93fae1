"""`_native.eventstream_events`: EventStream bodies (kiro, Bedrock) as the SSE events table.

The check that matters is agreement with the dialects: for every fixture body, aggregating the
events table with `content.aggregate_events` (the path SSE bodies take) gives the text and
reasoning lengths, tool call names, stop reason, first error and usage that
`fastcap.dialects.analyze_exchange` reports for the same body.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from fastcap import _native as nat
from fastcap.analysis import content
from fastcap.dialects import analyze_exchange
from fastcap.model import Exchange
from helpers import DATA
from helpers.dialect_fixtures import encode_frame, event_frame

ES = [("content-type", "application/vnd.amazon.eventstream")]
KIRO_URL = "https://q.us-east-1.amazonaws.com/"
KIRO_TARGET = ("x-amz-target", "AmazonCodeWhispererStreamingService.GenerateAssistantResponse")
BEDROCK = "https://bedrock-runtime.us-east-1.amazonaws.com/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0"


def kiro_exchange(body: bytes) -> Exchange:
    return Exchange(
        0,
        "cbor",
        "POST",
        KIRO_URL,
        request_headers=[KIRO_TARGET],
        status=200,
        response_headers=ES,
        response_body=body,
    )


def bedrock_exchange(body: bytes, op: str) -> Exchange:
    return Exchange(0, "cbor", "POST", f"{BEDROCK}/{op}", status=200, response_headers=ES, response_body=body)


def events_of(body: bytes) -> pl.DataFrame:
    return pl.DataFrame(nat.eventstream_events([body]))


def check_agrees(ex: Exchange) -> dict[str, Any]:
    """Assert that the events-table path and the dialect path agree on `ex`; return the row."""
    assert ex.response_body is not None
    agg = content.aggregate_events(events_of(ex.response_body))
    a = analyze_exchange(ex)
    r = a.response
    assert agg.height == 1
    row = agg.row(0, named=True)
    assert row["text_chars"] == len(r.text or "")
    assert row["reasoning_chars"] == len(r.reasoning_text or "")
    assert row["tool_calls"] == [c.name for c in r.tool_calls]
    assert row["stop_reason"] == r.stop_reason
    in_stream = [e for e in r.errors if e.source == "in_stream"]
    assert row["error_type"] == (in_stream[0].type if in_stream else None)
    assert row["error_message"] == (in_stream[0].message if in_stream else None)
    u = r.usage
    # docs/metrics.md, Usage: the engine reads `input_tokens` as the uncached part for the
    # Anthropic-style dialects (bedrock) and as the total for the others (kiro).
    uncached_style = a.dialect == "bedrock"
    want_input = None if u is None else (u.input_uncached if uncached_style else u.input_total)
    assert row["input_tokens"] == want_input
    assert row["output_tokens"] == (u.output_total if u else None)
    assert row["cache_read_tokens"] == (u.cache_read if u else None)
    assert row["cache_write_tokens"] == (u.cache_write if u else None)
    return row


KIRO_FIXTURES = sorted(p.name for p in (DATA / "eventstream/codewhisperer-shaped").glob("*.bin"))
BEDROCK_FIXTURES = sorted(p.name for p in (DATA / "eventstream/bedrock-real").glob("*.bin"))


@pytest.mark.parametrize("name", KIRO_FIXTURES)
def test_kiro_fixture_agrees_with_dialect(name: str) -> None:
    check_agrees(kiro_exchange((DATA / "eventstream/codewhisperer-shaped" / name).read_bytes()))


@pytest.mark.parametrize("name", BEDROCK_FIXTURES)
def test_bedrock_converse_fixture_agrees_with_dialect(name: str) -> None:
    body = (DATA / "eventstream/bedrock-real" / name).read_bytes()
    row = check_agrees(bedrock_exchange(body, "converse-stream"))
    assert row["stop_reason"] is not None and row["input_tokens"] is not None


def test_kiro_usage_and_tools() -> None:
    row = check_agrees(
        kiro_exchange((DATA / "eventstream/codewhisperer-shaped/reasoning_and_metadata.bin").read_bytes())
    )
    assert (row["input_tokens"], row["cache_read_tokens"], row["output_tokens"]) == (15200, 14000, 35)
    ev = events_of((DATA / "eventstream/codewhisperer-shaped/tool_calls.bin").read_bytes())
    tools = ev.filter(pl.col("event_type") == "toolUseEvent")
    # The name once per toolUseId, although every frame repeats it.
    assert tools["tool_name"].to_list() == ["fs_read", None, None, None, "execute_bash", None]
    # Every frame carries its call's key, and the argument fragments join to the whole input.
    assert tools["tool_id"].to_list() == ["tooluse_AbC123xyz_-9"] * 4 + ["tooluse_second"] * 2
    args = tools.group_by("tool_id", maintain_order=True).agg(pl.col("tool_args").str.join(""))
    assert args["tool_args"].to_list() == [
        '{"operations": [{"mode": "Line", "path": "src/app.py", "start_line": 1}]}',
        '{"command": "ls -la"}',
    ]


def test_bedrock_converse_tool_key() -> None:
    ev = events_of((DATA / "eventstream/bedrock-real/test_bedrock_model_iter_stream_1.bin").read_bytes())
    tool = ev.filter(pl.col("tool_id").is_not_null())
    # The block index keys the start (which names the call) and its argument deltas alike.
    assert tool.select("event_type", "tool_id", "tool_name", "tool_args").rows() == [
        ("contentBlockStart", "#1", "get_temperature", None),
        ("contentBlockDelta", "#1", None, '{"city":"Paris"}'),
    ]


def _chunk(event: dict[str, Any]) -> bytes:
    payload = json.dumps(
        {"bytes": base64.b64encode(json.dumps(event).encode()).decode(), "p": "abc"}
    ).encode()
    return encode_frame(
        {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}, payload
    )


INVOKE_EVENTS: list[dict[str, Any]] = [
    {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "model": "claude-sonnet-4",
            "usage": {"input_tokens": 10, "cache_read_input_tokens": 90, "output_tokens": 1},
        },
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "hmm"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hi ✓"}},
    {"type": "content_block_stop", "index": 1},
    {
        "type": "content_block_start",
        "index": 2,
        "content_block": {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {}},
    },
    {
        "type": "content_block_delta",
        "index": 2,
        "delta": {"type": "input_json_delta", "partial_json": '{"file_path": "/a.py"}'},
    },
    {"type": "content_block_stop", "index": 2},
    {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 20}},
    {
        "type": "message_stop",
        "amazon-bedrock-invocationMetrics": {"inputTokenCount": 10, "outputTokenCount": 20},
    },
]


def test_bedrock_invoke_stream_agrees_with_dialect() -> None:
    body = b"".join(_chunk(e) for e in INVOKE_EVENTS)
    row = check_agrees(bedrock_exchange(body, "invoke-with-response-stream"))
    assert row["tool_calls"] == ["Read"] and row["sse_model"] == "claude-sonnet-4"
    # The decoded event's type is the json_type, so Anthropic's terminal event is recognised.
    assert row["terminal_seen"] is True
    ev = events_of(body)
    assert ev["event_type"].unique().to_list() == ["chunk"]
    assert ev["json_type"].to_list() == [e["type"] for e in INVOKE_EVENTS]


def test_exceptions_agree_with_dialect() -> None:
    exc = encode_frame(
        {
            ":exception-type": "throttlingException",
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        b'{"message":"Too many tokens, please wait before trying again."}',
    )
    row = check_agrees(
        bedrock_exchange(event_frame("contentBlockDelta", {"delta": {"text": "a"}}) + exc, "converse-stream")
    )
    assert row["error_type"] == "throttlingException"
    row = check_agrees(kiro_exchange(event_frame("assistantResponseEvent", {"content": "x"}) + exc))
    assert row["error_message"] == "Too many tokens, please wait before trying again."


def test_kiro_interleaved_tools_agree_with_dialect() -> None:
    body = (
        event_frame("initial-response", {"conversationId": ""})
        + event_frame("toolUseEvent", {"toolUseId": "a", "name": "x", "input": '{"k":'})
        + event_frame("toolUseEvent", {"toolUseId": "b", "name": "y", "input": "{}"})
        + event_frame("toolUseEvent", {"toolUseId": "a", "name": "x", "input": "1}", "stop": True})
        + event_frame("toolUseEvent", {"toolUseId": "b", "name": "y", "stop": True})
        + event_frame("metadataEvent", {"stopReason": "TOOL_USE"})
        + event_frame("unknownNewEvent", {"z": 1})
    )
    row = check_agrees(kiro_exchange(body))
    assert row["tool_calls"] == ["x", "y"] and row["stop_reason"] == "TOOL_USE"


def test_schema_columns_and_offsets() -> None:
    sse = pl.DataFrame(nat.sse_column([b"data: {}\n\n"]))
    a = (DATA / "eventstream/codewhisperer-shaped/text_only.bin").read_bytes()
    b = (DATA / "eventstream/codewhisperer-shaped/truncated_last_frame.bin").read_bytes()
    ev = pl.DataFrame(nat.eventstream_events([a, None, b]))
    # The SSE events table, plus kiro's metered credits (not tokens) in a column of their own.
    assert ev.schema == pl.Schema({**sse.schema, "credits": pl.Float64})
    assert ev.group_by("exchange_index").len().sort("exchange_index").rows() == [(0, 6), (2, 3)]
    assert ev["terminated"].all() and not ev["is_done"].any()
    assert (ev["last_event_id"] == "").all()
    # Each row's byte range is one whole frame, in order, starting at 0.
    first = ev.filter(pl.col("exchange_index") == 0)
    assert first["byte_start"][0] == 0 and first["byte_end"][-1] == len(a)
    assert first["byte_start"][1:].to_list() == first["byte_end"][:-1].to_list()
    assert first["data"][0] == '{"content":"Hello"}'
    assert first["json_type"].to_list() == first["event_type"].to_list()
    # Arrow inputs: a pyarrow array, and a Polars DataFrame's named column.
    via_arrow = pl.DataFrame(nat.eventstream_events(pa.array([a, None, b], pa.binary())))
    assert via_arrow.equals(ev)
    df = pl.DataFrame({"id": [1, 2], "body": [a, b]})
    assert pl.DataFrame(nat.eventstream_events(df, column="body")).height == 9
    assert pl.DataFrame(nat.eventstream_events([])).schema == ev.schema


def test_rejects_a_single_bytes_object() -> None:
    with pytest.raises(TypeError):
        nat.eventstream_events(b"abc")
