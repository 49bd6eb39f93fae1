"""kiro (CodeWhisperer-shaped) and Bedrock EventStream fixtures, plus hand-made frames."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from fastcap.dialects import analyze_exchange, streams
from fastcap.dialects.base import CallAnalysis
from fastcap.model import Exchange
from helpers import DATA as TESTDATA
from helpers.dialect_fixtures import encode_frame, event_frame, expected

KIRO_URL = "https://q.us-east-1.amazonaws.com/"
KIRO_TARGET = ("x-amz-target", "AmazonCodeWhispererStreamingService.GenerateAssistantResponse")
ES = [("content-type", "application/vnd.amazon.eventstream")]


def kiro_exchange(body: bytes, **kw: Any) -> Exchange:
    return Exchange(
        0,
        "cbor",
        "POST",
        KIRO_URL,
        request_headers=[KIRO_TARGET],
        status=200,
        response_headers=ES,
        response_body=body,
        **kw,
    )


def analyze_kiro(name: str) -> CallAnalysis:
    a = analyze_exchange(kiro_exchange((TESTDATA / "eventstream/codewhisperer-shaped" / name).read_bytes()))
    assert a.dialect == "kiro"
    assert a.api_name == "AmazonCodeWhispererStreamingService.GenerateAssistantResponse"
    assert a.is_model_call
    assert a.response.kind == "eventstream"
    return a


@pytest.mark.parametrize(
    ("name", "exp"),
    sorted(expected("eventstream/codewhisperer-shaped")["files"].items()),
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_codewhisperer_fixture(name: str, exp: dict[str, Any]) -> None:
    a = analyze_kiro(name)
    r = a.response
    assert [e.type for e in r.events] == exp["types"]
    assert r.text == exp["text"]
    assert [(c.id, c.name, c.arguments_raw, c.arguments) for c in r.tool_calls] == [
        (t["toolUseId"], t["name"], t["input"], t["input_json"]) for t in exp["tool_calls"]
    ]
    assert all(not c.incomplete for c in r.tool_calls)
    assert r.context_usage_pct == exp["context_usage_pct"]
    if exp["trailing_bytes"]:
        assert "truncated" in r.flags
        assert r.complete is False
        assert a.issue_class == "cut_stream"
        assert any(e.source == "decoder" and e.type == "Truncated" for e in r.errors)


def test_kiro_tool_calls_summaries_and_credits() -> None:
    r = analyze_kiro("tool_calls.bin").response
    assert [e.summary for e in r.events] == [
        "Reading the file now.",
        "fs_read:",
        'fs_read: {"operations": [{"mode": "Line", ',
        'fs_read: "path": "src/app.py", "start_line": 1}]}',
        "fs_read: [stop]",
        'execute_bash: {"command": "ls -la"}',
        "execute_bash: [stop]",
        "0.3312 credits",
        "21.75%",
        "conversationId 6f1c2f8e-1111-4222-8333-944455556666",
    ]
    assert r.credits == {"credit": 0.3312}
    assert r.complete is True


def test_kiro_reasoning_and_metadata() -> None:
    a = analyze_kiro("reasoning_and_metadata.bin")
    r = a.response
    assert r.reasoning_text == "Let me think about the request."
    assert r.reasoning_signature_len == len("sig-abc")
    assert [e.summary for e in r.events][:3] == ["Let me think about ", "the request.", "signature [present]"]
    assert r.events[4].summary == "15200/35 tokens"
    u = r.usage
    assert u is not None
    assert (u.input_total, u.input_uncached, u.cache_read, u.cache_write, u.output_total) == (
        15200,
        1200,
        14000,
        0,
        35,
    )
    assert u.total == 15235
    assert r.credits == {"credit": 0.05}
    assert r.usage_source == "metadataEvent"


def test_kiro_exception_mid_stream() -> None:
    a = analyze_kiro("exception_mid_stream.bin")
    r = a.response
    assert r.text == "Partial "
    assert r.errors[0].type == "ThrottlingException"
    assert r.errors[0].source == "in_stream"
    assert r.events[1].summary == "ThrottlingException: Too many requests, please wait before trying again."
    assert r.complete is False
    assert a.issue_class == "rate_limit"


def test_kiro_tool_without_stop_is_incomplete() -> None:
    body = (
        event_frame("toolUseEvent", {"toolUseId": "t1", "name": "fs_write"})
        + event_frame("toolUseEvent", {"toolUseId": "t1", "name": "fs_write", "input": '{"path": "a'})
        + event_frame(
            "toolUseEvent",
            {"toolUseId": "t2", "name": "execute_bash", "input": '{"command": "ls"}', "stop": True},
        )
    )
    a = analyze_exchange(kiro_exchange(body))
    r = a.response
    assert [(c.id, c.incomplete, c.arguments) for c in r.tool_calls] == [
        ("t1", True, None),
        ("t2", False, {"command": "ls"}),
    ]
    assert r.events[2].summary == 'execute_bash: {"command": "ls"}'
    assert r.complete is False
    assert a.issue_class == "cut_stream"


def test_kiro_interleaved_tools_and_initial_response() -> None:
    body = (
        event_frame("initial-response", {"conversationId": ""})
        + event_frame("toolUseEvent", {"toolUseId": "a", "name": "x", "input": '{"k":'})
        + event_frame("toolUseEvent", {"toolUseId": "b", "name": "y", "input": "{}"})
        + event_frame("toolUseEvent", {"toolUseId": "a", "name": "x", "input": "1}", "stop": True})
        + event_frame("toolUseEvent", {"toolUseId": "b", "name": "y", "stop": True})
        + event_frame("metadataEvent", {"stopReason": "TOOL_USE"})
        + event_frame("unknownNewEvent", {"z": 1})
    )
    r = analyze_exchange(kiro_exchange(body)).response
    assert r.events[0].summary == 'conversationId ""'
    assert [(c.id, c.arguments) for c in r.tool_calls] == [("a", {"k": 1}), ("b", {})]
    assert r.stop_reason == "TOOL_USE"
    assert r.events[5].summary == "stopReason TOOL_USE"
    assert r.events[6].type == "unknownNewEvent" and r.events[6].summary == '{"z": 1}'


def test_kiro_text_log_uses_recovery_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def recover(text: str) -> list[dict[str, Any]]:
        seen.append(text)
        return [
            {
                "headers": {":event-type": "assistantResponseEvent", ":message-type": "event"},
                "payload": b'{"content":"Hello"}',
            }
        ]

    monkeypatch.setattr(streams, "recover_eventstream_frames", recover)
    ex = Exchange(
        0,
        "mitmlog",
        "POST",
        KIRO_URL,
        request_headers=[KIRO_TARGET],
        status=200,
        response_headers=ES,
        response_body=None,
        response_body_text="....:event-type...assistantResponseEvent",
        fidelity="text_log",
    )
    r = analyze_exchange(ex).response
    assert seen
    assert r.text == "Hello"
    assert "recovered_from_text" in r.flags
    assert any("could not be verified" in n for n in r.notes)


@pytest.mark.parametrize(
    ("name", "exp"),
    sorted(expected("eventstream/bedrock-real")["files"].items()),
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_bedrock_converse_fixture(name: str, exp: dict[str, Any]) -> None:
    body = (TESTDATA / "eventstream/bedrock-real" / name).read_bytes()
    ex = Exchange(
        0,
        "cbor",
        "POST",
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/converse-stream",
        status=200,
        response_headers=ES,
        response_body=body,
    )
    a = analyze_exchange(ex)
    r = a.response
    assert a.dialect == "bedrock"
    assert a.api_name == "Bedrock.ConverseStream"
    assert a.is_model_call
    assert [e.type for e in r.events] == exp["event_types"]
    assert r.text == exp["text"]
    reasoning = "".join(b.get("reasoning_text", "") for b in exp["content_blocks"])
    assert r.reasoning_text == reasoning
    sig = sum(b.get("signature_len", 0) for b in exp["content_blocks"])
    assert r.reasoning_signature_len == (sig or None)
    tools = [b for b in exp["content_blocks"] if b["type"] == "toolUse"]
    assert [(c.id, c.name, c.arguments_raw) for c in r.tool_calls] == [
        (b["toolUseId"], b["name"], b["input"]) for b in tools
    ]
    assert r.stop_reason == exp["stop_reason"]
    u = exp["usage"]
    assert r.usage is not None and r.usage.raw == u
    assert (r.usage.input_total, r.usage.output_total, r.usage.total) == (
        u["inputTokens"],
        u["outputTokens"],
        u["totalTokens"],
    )
    assert r.extra["latency_ms"] == exp["metrics"]["latencyMs"]
    assert r.complete is True
    assert a.request.model == "us.anthropic.claude-sonnet-4-20250514-v1:0"


def _chunk(event: dict[str, Any]) -> bytes:
    payload = json.dumps(
        {"bytes": base64.b64encode(json.dumps(event).encode()).decode(), "p": "abc"}
    ).encode()
    return encode_frame(
        {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}, payload
    )


def test_bedrock_invoke_with_response_stream_decodes_anthropic_events() -> None:
    events = [
        {
            "type": "message_start",
            "message": {
                "id": "msg_bdrk_1",
                "model": "claude-sonnet-4",
                "usage": {"input_tokens": 10, "cache_read_input_tokens": 90, "output_tokens": 1},
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"file_path": '},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '"/a.py"}'},
        },
        {"type": "content_block_stop", "index": 1},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 20}},
        {
            "type": "message_stop",
            "amazon-bedrock-invocationMetrics": {
                "inputTokenCount": 10,
                "outputTokenCount": 20,
                "invocationLatency": 900,
                "firstByteLatency": 300,
            },
        },
    ]
    body = b"".join(_chunk(e) for e in events)
    ex = Exchange(
        0,
        "cbor",
        "POST",
        "https://bedrock-runtime.us-west-2.amazonaws.com/model/anthropic.claude-sonnet-4/invoke-with-response-stream",
        status=200,
        response_headers=ES,
        response_body=body,
    )
    a = analyze_exchange(ex)
    r = a.response
    assert a.api_name == "Bedrock.InvokeModelWithResponseStream"
    assert r.text == "Hi"
    assert [(c.id, c.name, c.arguments) for c in r.tool_calls] == [
        ("toolu_1", "Read", {"file_path": "/a.py"})
    ]
    assert r.stop_reason == "tool_use"
    assert r.usage is not None and (r.usage.input_total, r.usage.cache_read, r.usage.output_total) == (
        100,
        90,
        20,
    )
    assert r.extra["invocation_metrics"]["firstByteLatency"] == 300
    assert r.complete is True
    assert r.events[0].summary == "model claude-sonnet-4, input 10 (+90 cache read)"


def test_bedrock_exception_frame() -> None:
    body = encode_frame(
        {
            ":exception-type": "throttlingException",
            ":content-type": "application/json",
            ":message-type": "exception",
        },
        b'{"message":"Too many tokens, please wait before trying again."}',
    )
    ex = Exchange(
        0,
        "cbor",
        "POST",
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse-stream",
        status=200,
        response_headers=ES,
        response_body=body,
    )
    a = analyze_exchange(ex)
    assert a.response.errors[0].type == "throttlingException"
    assert a.response.complete is False
    assert a.issue_class == "rate_limit"


def test_kiro_text_log_with_readers_recoverer() -> None:
    """A mitmproxy-12-style rendering of tool_calls.bin, recovered by fastcap.formats (docs/specs/eventstream.md §9.1)."""
    import re

    pytest.importorskip("fastcap.formats.eventstream_text")
    raw = (
        (TESTDATA / "eventstream/codewhisperer-shaped/tool_calls.bin")
        .read_bytes()
        .decode("utf-8", "backslashreplace")
    )
    text = "".join("." if (ord(c) < 0x20 and c not in "\t\n\r") or ord(c) == 0x7F else c for c in raw).strip()
    text = "\n".join(re.split(r"\r\n|\r|\n|\u0085|\u2028|\u2029", text))
    ex = Exchange(
        0,
        "mitmlog",
        "POST",
        KIRO_URL,
        request_headers=[KIRO_TARGET],
        status=200,
        response_headers=ES,
        response_body_text=text,
        fidelity="text_log",
    )
    r = analyze_exchange(ex).response
    assert r.text == "Reading the file now."
    assert [c.name for c in r.tool_calls] == ["fs_read", "execute_bash"]
    assert r.tool_calls[1].arguments == {"command": "ls -la"}
    assert r.context_usage_pct == [21.75] and r.credits == {"credit": 0.3312}
    assert "recovered_from_text" in r.flags


# --------------------------------------------------------------------------------------------------
# kiro: reasoning inline in the assistant text as <thinking>…</thinking>


def _kiro_text_events(pieces: list[str]) -> CallAnalysis:
    body = b"".join(event_frame("assistantResponseEvent", {"content": p}) for p in pieces)
    return analyze_exchange(kiro_exchange(body))


def test_kiro_thinking_in_text_split_at_every_position() -> None:
    full = (
        "<thinking>The user wants a list.\nUse ls.</thinking>\n\nHere is the listing:\n<thinking> is a tag."
    )
    for cut in range(1, len(full)):
        for cut2 in (cut + 1, cut + 7):
            pieces = [full[:cut], full[cut:cut2], full[cut2:]]
            r = _kiro_text_events([p for p in pieces if p]).response
            assert r.reasoning_text == "The user wants a list.\nUse ls.", (cut, cut2)
            # The rest stays text, including a later "<thinking>" that does not open the text.
            assert r.text == "Here is the listing:\n<thinking> is a tag.", (cut, cut2)
            assert "thinking_in_text" in r.flags
    # The events table still shows the wire content.
    r = _kiro_text_events(["<think", "ing>x</thinking>y"]).response
    assert [e.summary for e in r.events] == ["<think", "ing>x</thinking>y"]
    assert r.extra["thinking_in_text_chars"] == 1


def test_kiro_thinking_in_text_forms() -> None:
    from fastcap.dialects.kiro import split_thinking_in_text

    assert split_thinking_in_text("Hello <thinking>no</thinking>") is None
    assert split_thinking_in_text("") is None
    assert split_thinking_in_text("  \n<thinking>a</thinking><thinking>b</thinking> ok") == (
        "a\nb",
        "ok",
        True,
    )
    assert split_thinking_in_text("<thinking>cut off") == ("cut off", "", False)
    assert split_thinking_in_text("<thinking></thinking>") == ("", "", True)
    # Unclosed (stream cut, or output limit while thinking): all of it is reasoning, flagged.
    r = _kiro_text_events(["<thinking>step 1", ", step 2"]).response
    assert (r.reasoning_text, r.text) == ("step 1, step 2", "")
    assert r.extra["thinking_in_text_unclosed"] is True
    # Plain text is untouched and unflagged.
    r = _kiro_text_events(["Just an answer."]).response
    assert (r.text, r.reasoning_text) == ("Just an answer.", "")
    assert "thinking_in_text" not in r.flags
    # Native reasoning events come first, then the in-text thinking.
    body = event_frame("reasoningContentEvent", {"text": "native"}) + event_frame(
        "assistantResponseEvent", {"content": "<thinking>inline</thinking>answer"}
    )
    r = analyze_exchange(kiro_exchange(body)).response
    assert (r.reasoning_text, r.text) == ("native\ninline", "answer")


def test_kiro_thinking_in_text_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    from fastcap.dialects import kiro

    monkeypatch.setattr(kiro, "SPLIT_THINKING_IN_TEXT", False)
    r = _kiro_text_events(["<thinking>a</thinking>b"]).response
    assert (r.text, r.reasoning_text) == ("<thinking>a</thinking>b", "")
