"""Builders shared by the report tests: a kiro-cli session and an Anthropic (Claude Code) session."""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

from fastcap.dialects.base import (
    CallAnalysis,
    MessageInfo,
    RequestInfo,
    ResponseInfo,
    StreamEvent,
    ToolCall,
    Usage,
)
from fastcap.model import Exchange

KIRO_TOKEN = "aoa" + "Zx9" * 20  # fake AWS SSO OIDC access token (matches the leak-scan pattern)
KIRO_UA = "aws-sdk-rust/1.3.9 ua/2.1 api/codewhispererstreaming/0.1.0 os/macos lang/rust/1.87.0 md/appVersion-1.20.0"
SIGV4 = (
    "AWS4-HMAC-SHA256 Credential=ASIAABCDEFGHIJKLMNOP/20251121/us-east-1/execute-api/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0f" * 32
)
CONV = "c0ffee00-1111-2222-3333-444455556666"
T0 = 1_763_704_052.0  # 2025-11-21 05:47:32 UTC


# --- a small EventStream encoder (CRC-32 via zlib.crc32) --------------------------------------------


def es_frame(event_type: str, payload: dict[str, Any]) -> bytes:
    headers = b""
    for name, value in (
        (":event-type", event_type),
        (":content-type", "application/json"),
        (":message-type", "event"),
    ):
        nb, vb = name.encode(), value.encode()
        headers += struct.pack(">B", len(nb)) + nb + b"\x07" + struct.pack(">H", len(vb)) + vb
    body = json.dumps(payload).encode()
    total = 12 + len(headers) + len(body) + 4
    prelude = struct.pack(">II", total, len(headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    msg = prelude + headers + body
    return msg + struct.pack(">I", zlib.crc32(msg))


def es_body(frames: list[tuple[str, dict[str, Any]]]) -> bytes:
    return b"".join(es_frame(t, p) for t, p in frames)


# --- kiro session -------------------------------------------------------------------------------------


def _kiro_headers(
    target: str | None, auth: str, extra: list[tuple[str, str]] | None = None
) -> list[tuple[str, str]]:
    h = [("content-type", "application/x-amz-json-1.0"), ("user-agent", KIRO_UA), ("authorization", auth)]
    if target:
        h.append(("x-amz-target", target))
    return h + (extra or [])


def _ex(
    i: int,
    url: str,
    headers: list[tuple[str, str]],
    body: Any,
    status: int,
    reason: str,
    resp_ct: str,
    resp_body: bytes,
    dur: float = 0.2,
) -> Exchange:
    return Exchange(
        index=i,
        source="cbor",
        method="POST",
        url=url,
        request_headers=headers,
        request_body=json.dumps(body).encode() if body is not None else b"",
        status=status,
        reason=reason,
        response_headers=[("content-type", resp_ct), ("x-amzn-requestid", f"req-{i}")],
        response_body=resp_body,
        started_at=T0 + i,
        request_ended_at=T0 + i + 0.01,
        response_started_at=T0 + i + 0.05,
        ended_at=T0 + i + dur,
    )


def _plain(ex: Exchange, api: str, body: Any = None, resp_json: Any = None) -> CallAnalysis:
    return CallAnalysis(
        exchange=ex,
        dialect="kiro",
        api_name=api,
        is_model_call=False,
        request=RequestInfo(json=body),
        response=ResponseInfo(kind="json", json=resp_json),
        issue_class=None,
    )


FS_READ_INPUT = {"operations": [{"mode": "Line", "path": "/repo/README.md"}]}
GAR_TEXT_1 = "I'll read the README first."
GAR_TEXT_2 = "The README describes fastcap | a capture tool."


def kiro_session() -> list[CallAnalysis]:
    """ClientTelemetryMetrics, GetProfile, ListAvailableModels, GetUsageLimits 403,
    GenerateAssistantResponse (text + fs_read + contextUsageEvent), SendTelemetryEvent,
    GenerateAssistantResponse (tool-result turn)."""
    q = "https://q.us-east-1.amazonaws.com/"
    bearer = f"Bearer {KIRO_TOKEN}"
    out: list[CallAnalysis] = []

    metrics = {
        "AWSProduct": "KiroCLI",
        "MetricData": [{"MetricName": "a"}, {"MetricName": "b"}, {"MetricName": "c"}],
    }
    ex = _ex(
        0,
        "https://client-telemetry.us-east-1.amazonaws.com/metrics",
        [
            ("content-type", "application/json"),
            ("user-agent", KIRO_UA),
            ("authorization", SIGV4),
            ("x-amz-security-token", "IQoJ" + "b" * 60),
        ],
        metrics,
        200,
        "OK",
        "application/json",
        b"{}",
    )
    out.append(_plain(ex, "ToolkitTelemetry.ClientTelemetryMetrics", metrics, {}))

    profile = {
        "profile": {
            "arn": "arn:aws:codewhisperer:us-east-1:123456789012:profile/ABC",
            "profileName": "default",
        }
    }
    ex = _ex(
        1,
        q,
        _kiro_headers("AmazonCodeWhispererService.GetProfile", bearer),
        {"profileArn": "x"},
        200,
        "OK",
        "application/x-amz-json-1.0",
        json.dumps(profile).encode(),
    )
    out.append(_plain(ex, "AmazonCodeWhispererService.GetProfile", {"profileArn": "x"}, profile))

    models = {
        "models": [
            {
                "modelId": "claude-sonnet-4",
                "rateMultiplier": 1.3,
                "tokenLimits": {"maxInputTokens": 200000, "maxOutputTokens": 64000},
            }
        ]
    }
    ex = _ex(
        2,
        q,
        _kiro_headers("AmazonCodeWhispererService.ListAvailableModels", bearer),
        {"origin": "KIRO_CLI"},
        200,
        "OK",
        "application/x-amz-json-1.0",
        json.dumps(models).encode(),
    )
    out.append(_plain(ex, "AmazonCodeWhispererService.ListAvailableModels", {"origin": "KIRO_CLI"}, models))

    denied = {"__type": "AccessDeniedException", "message": "not allowed"}
    ex = _ex(
        3,
        q,
        _kiro_headers("AmazonCodeWhispererService.GetUsageLimits", bearer),
        {},
        403,
        "Forbidden",
        "application/x-amz-json-1.0",
        json.dumps(denied).encode(),
    )
    ca = _plain(ex, "AmazonCodeWhispererService.GetUsageLimits", {}, denied)
    out.append(ca)

    tools = [{"toolSpecification": {"name": n}} for n in ("fs_read", "fs_write", "execute_bash")]
    req1 = {
        "conversationState": {
            "conversationId": CONV,
            "chatTriggerType": "MANUAL",
            "history": [],
            "currentMessage": {
                "userInputMessage": {
                    "content": "Summarise the README",
                    "modelId": "claude-sonnet-4",
                    "userInputMessageContext": {"tools": tools},
                }
            },
        }
    }
    args = json.dumps(FS_READ_INPUT)
    frames1 = [
        ("assistantResponseEvent", {"content": GAR_TEXT_1}),
        ("toolUseEvent", {"toolUseId": "tooluse_1", "name": "fs_read", "input": args[:20]}),
        ("toolUseEvent", {"toolUseId": "tooluse_1", "name": "fs_read", "input": args[20:]}),
        ("toolUseEvent", {"toolUseId": "tooluse_1", "name": "fs_read", "stop": True}),
        ("contextUsageEvent", {"contextUsagePercentage": 12.5}),
    ]
    ex = _ex(
        4,
        q + "generateAssistantResponse",
        _kiro_headers("AmazonCodeWhispererStreamingService.GenerateAssistantResponse", bearer),
        req1,
        200,
        "OK",
        "application/vnd.amazon.eventstream",
        es_body(frames1),
        dur=2.0,
    )
    events1 = [
        StreamEvent(1, "assistantResponseEvent", GAR_TEXT_1),
        StreamEvent(2, "toolUseEvent", "fs_read: " + args[:20]),
        StreamEvent(3, "toolUseEvent", "fs_read: " + args[20:]),
        StreamEvent(4, "toolUseEvent", "fs_read: [stop]"),
        StreamEvent(5, "contextUsageEvent", "12.5%"),
    ]
    out.append(
        CallAnalysis(
            exchange=ex,
            dialect="kiro",
            api_name="AmazonCodeWhispererStreamingService.GenerateAssistantResponse",
            is_model_call=True,
            request=RequestInfo(
                model="claude-sonnet-4",
                stream=True,
                tools=["fs_read", "fs_write", "execute_bash"],
                conversation_id=CONV,
                turn_kind="user_message",
                user_text="Summarise the README",
                history_length=0,
                json=req1,
            ),
            response=ResponseInfo(
                kind="eventstream",
                text=GAR_TEXT_1,
                events=events1,
                tool_calls=[ToolCall("tooluse_1", "fs_read", args, FS_READ_INPUT, True, 0)],
                context_usage_pct=[12.5],
                complete=True,
                ttft=0.42,
                event_counts={"assistantResponseEvent": 1, "toolUseEvent": 3, "contextUsageEvent": 1},
            ),
        )
    )

    tel = {"telemetryEvent": {"chatAddMessageEvent": {"conversationId": CONV}}}
    ex = _ex(
        5,
        q,
        _kiro_headers("AmazonCodeWhispererService.SendTelemetryEvent", bearer),
        tel,
        200,
        "OK",
        "application/x-amz-json-1.0",
        b"{}",
    )
    out.append(_plain(ex, "AmazonCodeWhispererService.SendTelemetryEvent", tel, {}))

    req2 = {
        "conversationState": {
            "conversationId": CONV,
            "history": [{"userInputMessage": {}}, {"assistantResponseMessage": {}}],
            "currentMessage": {
                "userInputMessage": {
                    "content": "",
                    "modelId": "claude-sonnet-4",
                    "userInputMessageContext": {"tools": tools, "toolResults": [{"toolUseId": "tooluse_1"}]},
                }
            },
        }
    }
    frames2 = [
        ("assistantResponseEvent", {"content": GAR_TEXT_2}),
        ("contextUsageEvent", {"contextUsagePercentage": 23.75}),
    ]
    ex = _ex(
        6,
        q + "generateAssistantResponse",
        _kiro_headers("AmazonCodeWhispererStreamingService.GenerateAssistantResponse", bearer),
        req2,
        200,
        "OK",
        "application/vnd.amazon.eventstream",
        es_body(frames2),
        dur=1.5,
    )
    out.append(
        CallAnalysis(
            exchange=ex,
            dialect="kiro",
            api_name="AmazonCodeWhispererStreamingService.GenerateAssistantResponse",
            is_model_call=True,
            request=RequestInfo(
                model="claude-sonnet-4",
                tools=["fs_read", "fs_write", "execute_bash"],
                conversation_id=CONV,
                turn_kind="tool_result",
                history_length=2,
                json=req2,
            ),
            response=ResponseInfo(
                kind="eventstream",
                text=GAR_TEXT_2,
                complete=True,
                context_usage_pct=[23.75],
                ttft=0.3,
                events=[
                    StreamEvent(1, "assistantResponseEvent", GAR_TEXT_2),
                    StreamEvent(2, "contextUsageEvent", "23.75%"),
                ],
            ),
        )
    )
    return out


# --- Anthropic session (SSE through the real dialect) -------------------------------------------------


def sse(events: list[tuple[str, dict[str, Any]]]) -> bytes:
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events).encode()


ANTHROPIC_KEY = "sk-ant-api03-" + "Q" * 40
SYSTEM = "You are Claude Code, Anthropic's official CLI for Claude."
USER_1 = "Why does test_parse fail?"
THINKING = "The user wants me to look at the failing test. I should read it."
TEXT_WITH_FENCE = "Here is the test:\n```python\nassert parse('a') == 1\n```\nLet me read the source."


def anthropic_turn(
    i: int,
    messages: list[dict[str, Any]],
    *,
    text: str,
    tool: tuple[str, str, dict[str, Any]] | None,
    usage_start: dict[str, int],
    usage_end: dict[str, int],
    thinking: str | None = None,
) -> Exchange:
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 32000,
        "stream": True,
        "system": [{"type": "text", "text": SYSTEM}],
        "thinking": {"type": "enabled", "budget_tokens": 16000},
        "messages": messages,
        "tools": [{"name": "Read", "input_schema": {}}, {"name": "Bash", "input_schema": {}}],
    }
    ev: list[tuple[str, dict[str, Any]]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": f"msg_0{i}",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-sonnet-4-5",
                    "content": [],
                    "stop_reason": None,
                    "usage": usage_start,
                },
            },
        ),
    ]
    idx = 0
    if thinking:
        ev += [
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": idx,
                    "content_block": {"type": "thinking", "thinking": ""},
                },
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": idx,
                    "delta": {"type": "thinking_delta", "thinking": thinking},
                },
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": idx,
                    "delta": {"type": "signature_delta", "signature": "EqQBCgIYAhIM" + "s" * 40},
                },
            ),
            ("content_block_stop", {"type": "content_block_stop", "index": idx}),
        ]
        idx += 1
    ev += [
        (
            "content_block_start",
            {"type": "content_block_start", "index": idx, "content_block": {"type": "text", "text": ""}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": idx, "delta": {"type": "text_delta", "text": text}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": idx}),
    ]
    idx += 1
    if tool:
        tid, name, args = tool
        ev += [
            (
                "content_block_start",
                {
                    "type": "content_block_start",
                    "index": idx,
                    "content_block": {"type": "tool_use", "id": tid, "name": name, "input": {}},
                },
            ),
            (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": idx,
                    "delta": {"type": "input_json_delta", "partial_json": json.dumps(args)},
                },
            ),
            ("content_block_stop", {"type": "content_block_stop", "index": idx}),
        ]
    ev += [
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use" if tool else "end_turn"},
                "usage": usage_end,
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return Exchange(
        index=i,
        source="cbor",
        method="POST",
        url="https://api.anthropic.com/v1/messages?beta=true",
        request_headers=[
            ("content-type", "application/json"),
            ("x-api-key", ANTHROPIC_KEY),
            ("user-agent", "claude-cli/2.0.14 (external, cli)"),
            ("anthropic-version", "2023-06-01"),
            ("x-stainless-lang", "js"),
            ("x-stainless-package-version", "0.60.0"),
            ("x-stainless-os", "Linux"),
        ],
        request_body=json.dumps(body).encode(),
        status=200,
        reason="OK",
        response_headers=[("content-type", "text/event-stream; charset=utf-8"), ("request-id", f"req_0{i}")],
        response_body=sse(ev),
        started_at=T0 + 20 * i,
        request_ended_at=T0 + 20 * i + 0.01,
        response_started_at=T0 + 20 * i + 0.5,
        ended_at=T0 + 20 * i + 3.0,
    )


def anthropic_session() -> list[Exchange]:
    m1 = [{"role": "user", "content": [{"type": "text", "text": USER_1}]}]
    ex1 = anthropic_turn(
        0,
        m1,
        text=TEXT_WITH_FENCE,
        tool=("toolu_01ABC", "Read", {"file_path": "/repo/test_parse.py"}),
        usage_start={
            "input_tokens": 1203,
            "cache_read_input_tokens": 48112,
            "cache_creation_input_tokens": 0,
            "output_tokens": 1,
        },
        usage_end={"output_tokens": 412},
        thinking=THINKING,
    )
    m2 = [
        *m1,
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": TEXT_WITH_FENCE},
                {
                    "type": "tool_use",
                    "id": "toolu_01ABC",
                    "name": "Read",
                    "input": {"file_path": "/repo/test_parse.py"},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01ABC", "content": "def parse(s): ..."}
            ],
        },
    ]
    ex2 = anthropic_turn(
        1,
        m2,
        text="Found it: parse returns 0 | 1.",
        tool=None,
        usage_start={
            "input_tokens": 300,
            "cache_read_input_tokens": 49000,
            "cache_creation_input_tokens": 200,
            "output_tokens": 1,
        },
        usage_end={"output_tokens": 90},
    )
    return [ex1, ex2]


def message_info(role: str, text: str) -> MessageInfo:
    return MessageInfo(role=role, type="text", preview=text, chars=len(text))


def usage(i: int, o: int) -> Usage:
    return Usage(input_total=i, output_total=o, total=i + o)
