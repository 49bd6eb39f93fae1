"""Every SSE fixture reconstructed by its dialect and compared with expected.json."""

from __future__ import annotations

from typing import Any

import pytest
from fastcap.analysis.calls import call_row
from fastcap.dialects import analyze_exchange
from fastcap.dialects.base import CallAnalysis
from fastcap.model import Chunk, Exchange
from helpers import DATA as TESTDATA
from helpers.dialect_fixtures import expected

URLS = {
    "anthropic": "https://api.anthropic.com/v1/messages",
    "openai-chat": "https://api.openai.com/v1/chat/completions",
    "openai-responses": "https://api.openai.com/v1/responses",
    "gemini": "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
}
DIALECT = {
    "anthropic": "anthropic",
    "openai-chat": "openai_chat",
    "openai-responses": "openai_responses",
    "gemini": "gemini",
}


def _cases(folder: str) -> list[tuple[str, dict[str, Any]]]:
    return sorted(expected(f"sse/{folder}")["files"].items())


def _analyze(folder: str, name: str, **kw: Any) -> CallAnalysis:
    body = (TESTDATA / "sse" / folder / name).read_bytes()
    ex = Exchange(
        index=0,
        source="cbor",
        method="POST",
        url=URLS[folder],
        status=200,
        response_headers=[("content-type", "text/event-stream; charset=utf-8")],
        response_body=body,
        **kw,
    )
    a = analyze_exchange(ex)
    assert a.dialect == DIALECT[folder]
    assert a.is_model_call
    assert a.response.kind == "sse"
    return a


def _check_event_count(a: CallAnalysis, exp: dict[str, Any], *, done_rows: int = 0) -> None:
    w = exp["whatwg"]
    n = w.get("dispatched_if_flushed_at_eof", w["dispatched_events"])
    assert len(a.response.events) == n
    assert [e.index for e in a.response.events] == list(range(1, n + 1))
    if not exp["ends_with_blank_line"] and "not_dispatched_at_eof" in w:
        assert "unterminated_final_event" in a.response.flags
        assert a.response.events[-1].type == w["not_dispatched_at_eof"]["type"]
    else:
        assert "unterminated_final_event" not in a.response.flags


@pytest.mark.parametrize(("name", "exp"), _cases("anthropic"), ids=lambda v: v if isinstance(v, str) else "")
def test_anthropic_fixture(name: str, exp: dict[str, Any]) -> None:
    a = _analyze("anthropic", name)
    r = a.response
    rec = exp["reconstruction"]
    _check_event_count(a, exp)
    assert r.message_id == rec["message_id"]
    assert r.model == rec["model"]
    assert r.text == rec["text"]
    assert r.reasoning_text == rec["thinking"]
    assert r.stop_reason == rec["stop_reason"]
    assert [
        (c.id, c.name, c.arguments_raw, c.arguments_json_valid, c.arguments, c.type) for c in r.tool_calls
    ] == [
        (t["id"], t["name"], t["arguments_raw"], t["arguments_json_valid"], t["arguments"], t["type"])
        for t in rec["tool_calls"]
    ]
    assert r.usage is not None and r.usage.raw == rec["usage"]
    tot = rec["usage_totals"]
    cw = tot["cache_creation_input_tokens"] or 0
    cr = tot["cache_read_input_tokens"] or 0
    assert r.usage.input_total == tot["input_tokens"] + cw + cr
    assert r.usage.input_uncached == tot["input_tokens"]
    assert r.usage.cache_read == tot["cache_read_input_tokens"]
    assert r.usage.cache_write == tot["cache_creation_input_tokens"]
    assert r.usage.output_total == tot["output_tokens"]
    sigs = [b["signature_len"] for b in rec["content_blocks"] if b.get("type") == "thinking"]
    assert r.reasoning_signature_len == (sum(sigs) if sigs else None)
    # lenient mode includes the unterminated message_stop: the stream is complete, flagged
    assert r.complete is True
    assert a.issue_class is None
    if rec["tool_calls"] and not rec["tool_calls"][0]["arguments_json_valid"]:
        assert r.tool_calls[0].incomplete


@pytest.mark.parametrize(
    ("name", "exp"), _cases("openai-chat"), ids=lambda v: v if isinstance(v, str) else ""
)
def test_openai_chat_fixture(name: str, exp: dict[str, Any]) -> None:
    a = _analyze("openai-chat", name)
    r = a.response
    rec = exp["reconstruction"]
    _check_event_count(a, exp)
    assert r.event_counts.get("[DONE]", 0) == rec["done_sentinels"]
    assert r.message_id == rec["id"]
    assert r.model == rec["model"]
    assert r.text == rec["text"]
    c0 = rec["choices"][0]
    assert r.refusal == (c0["refusal"] or "")
    assert r.stop_reason == c0["finish_reason"]
    assert [(c.index, c.id, c.name, c.arguments_raw, c.arguments_json_valid) for c in r.tool_calls] == [
        (t["index"], t["id"], t["name"], t["arguments"], t["arguments_json_valid"]) for t in c0["tool_calls"]
    ]
    assert r.usage is not None and r.usage.raw == rec["usage"]
    assert (r.usage.input_total, r.usage.output_total) == (
        rec["usage"]["prompt_tokens"],
        rec["usage"]["completion_tokens"],
    )
    assert r.usage.total == rec["usage"]["total_tokens"]
    assert r.complete is True
    if len(rec["choices"]) > 1:
        got = [(c["index"], c["content"], c["finish_reason"]) for c in r.extra["choices"]]
        assert got == [(c["index"], c["content"], c["finish_reason"]) for c in rec["choices"]]


@pytest.mark.parametrize(
    ("name", "exp"), _cases("openai-responses"), ids=lambda v: v if isinstance(v, str) else ""
)
def test_openai_responses_fixture(name: str, exp: dict[str, Any]) -> None:
    a = _analyze("openai-responses", name)
    r = a.response
    rec = exp["reconstruction"]
    _check_event_count(a, exp)
    assert r.message_id == rec["response_id"]
    assert r.model == rec["model"]
    assert r.text == rec["text"]
    assert r.reasoning_text == "\n\n".join(rec["reasoning_summary"])
    assert [(c.id, c.name, c.arguments_raw) for c in r.tool_calls] == [
        (t["call_id"], t["name"], t["arguments"]) for t in rec["tool_calls"]
    ]
    assert all(c.arguments_json_valid for c in r.tool_calls)
    assert r.stop_reason == rec["status"]
    u = rec["usage"]
    assert r.usage is not None and r.usage.raw == u
    assert r.usage.input_total == u["input_tokens"]
    assert r.usage.cache_read == u["input_tokens_details"]["cached_tokens"]
    assert r.usage.input_uncached == u["input_tokens"] - u["input_tokens_details"]["cached_tokens"]
    assert r.usage.reasoning == u["output_tokens_details"]["reasoning_tokens"]
    assert r.usage.total == u["total_tokens"]
    assert r.complete is True
    assert "sequence_gaps" not in r.extra


@pytest.mark.parametrize(("name", "exp"), _cases("gemini"), ids=lambda v: v if isinstance(v, str) else "")
def test_gemini_fixture(name: str, exp: dict[str, Any]) -> None:
    a = _analyze("gemini", name)
    r = a.response
    rec = exp["reconstruction"]
    _check_event_count(a, exp)
    assert r.message_id == rec["response_id"]
    assert r.model == rec["model_version"]
    assert r.text == rec["text"]
    assert r.reasoning_text == rec["thought_text"]
    assert [(c.name, c.arguments, c.id) for c in r.tool_calls] == [
        (t["name"], t["args"], None) for t in rec["tool_calls"]
    ]
    assert r.extra.get("parts_with_thought_signature", 0) == rec["parts_with_thought_signature"]
    assert r.stop_reason == rec["finish_reason"]
    u = rec["usage"]
    assert r.usage is not None and r.usage.raw == u  # the last chunk wins
    thoughts = u.get("thoughtsTokenCount") or 0
    assert r.usage.input_total == u["promptTokenCount"]
    assert r.usage.output_total == u["candidatesTokenCount"] + thoughts
    assert r.usage.reasoning == u.get("thoughtsTokenCount")
    assert r.complete is True


def test_cut_anthropic_stream_is_incomplete() -> None:
    body = (TESTDATA / "sse/anthropic/tool_use_response.txt").read_bytes()
    cut = body[: body.index(b"event: message_delta")]
    ex = Exchange(
        0,
        "cbor",
        "POST",
        URLS["anthropic"],
        status=200,
        response_headers=[("content-type", "text/event-stream")],
        response_body=cut,
    )
    a = analyze_exchange(ex)
    assert a.response.complete is False
    assert a.issue_class == "cut_stream"
    assert a.response.tool_calls[0].arguments == {"location": "Paris"}


def _chat_stream(body: bytes) -> Exchange:
    return Exchange(
        0,
        "cbor",
        "POST",
        URLS["openai-chat"],
        status=200,
        response_headers=[("content-type", "text/event-stream")],
        response_body=body,
    )


def test_chat_abandoned_after_finish_reason_is_not_an_issue() -> None:
    """docs/metrics.md: a stream that reached its finish reason finished, even when `[DONE]` never
    came (the gateway stopped reading); only a stream cut before its finish reason is cut_stream."""
    body = (TESTDATA / "sse/openai-chat/83b060bae42e.sse").read_bytes()
    a = analyze_exchange(_chat_stream(body[: body.index(b"data: [DONE]")]))
    assert a.response.text == "Foo!"
    assert a.response.complete is False  # no terminal event
    assert a.response.stop_reason == "stop"
    assert a.issue_class is None
    row = call_row(a)
    assert row["complete"] is True and row["abandoned_after_finish"] is True


def test_chat_cut_before_finish_reason_is_cut_stream() -> None:
    body = (TESTDATA / "sse/openai-chat/83b060bae42e.sse").read_bytes()
    a = analyze_exchange(
        _chat_stream(body[: body.index(b'"finish_reason":"stop"')].rsplit(b"\n\n", 1)[0] + b"\n\n")
    )
    assert a.response.stop_reason is None
    assert a.issue_class == "cut_stream"
    row = call_row(a)
    assert row["complete"] is False and row["abandoned_after_finish"] is False


def test_responses_without_completed_is_incomplete() -> None:
    body = (TESTDATA / "sse/openai-responses/test_openai_responses_stream_1.sse").read_bytes()
    cut = body[: body.index(b"event: response.completed")]
    ex = Exchange(
        0,
        "cbor",
        "POST",
        URLS["openai-responses"],
        status=200,
        response_headers=[("content-type", "text/event-stream")],
        response_body=cut,
    )
    a = analyze_exchange(ex)
    assert a.response.complete is False
    assert a.response.usage is None
    assert a.response.tool_calls[0].id == "call_kL0PCQV7M2WMoVX8V8OtYSAL"


def test_text_log_body_flags_terminator_unknown() -> None:
    body = (TESTDATA / "sse/openai-chat/83b060bae42e.sse").read_bytes().decode().rstrip()
    ex = Exchange(
        0,
        "mitmlog",
        "POST",
        URLS["openai-chat"],
        status=200,
        fidelity="text_log",
        response_headers=[("content-type", "text/event-stream")],
        response_body_text=body,
    )
    a = analyze_exchange(ex)
    assert "terminator_unknown" in a.response.flags
    assert "unterminated_final_event" not in a.response.flags
    assert a.response.text == "Foo!"
    assert a.response.complete is True


def test_ttft_from_chunk_times() -> None:
    body = (TESTDATA / "sse/anthropic/test_anthropic_model_thinking_part_stream.sse").read_bytes()
    first_delta = body.index(b"event: content_block_delta")
    # chunk 1: everything before the first delta; chunk 2: the rest
    chunks = [Chunk(t=100.5, data=body[:first_delta]), Chunk(t=101.25, data=body[first_delta:])]
    a = _analyze(
        "anthropic", "test_anthropic_model_thinking_part_stream.sse", chunks=chunks, request_ended_at=100.0
    )
    assert a.response.first_content_t == 101.25
    assert a.response.ttft == pytest.approx(1.25)
    assert a.response.events[0].t == 100.5
