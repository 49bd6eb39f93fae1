"""Dialect detection, API names, model calls, error bodies of every provider, issue classes, summaries."""

from __future__ import annotations

import json

import pytest
from fastcap.dialects import analyze_exchange, api_name, detect_dialect, is_model_call
from fastcap.dialects.openai_responses import parse_response as responses_parse
from fastcap.model import Exchange, WsMessage


def ex(
    url: str,
    *,
    method: str = "POST",
    target: str | None = None,
    status: int = 200,
    ctype: str = "application/json",
    body: bytes | None = b"{}",
    rheaders: list[tuple[str, str]] | None = None,
    reason: str = "",
) -> Exchange:
    hdrs = [("x-amz-target", target)] if target else []
    return Exchange(
        0,
        "cbor",
        method,
        url,
        request_headers=hdrs,
        status=status,
        reason=reason,
        response_headers=[("content-type", ctype), *(rheaders or [])],
        response_body=body,
    )


@pytest.mark.parametrize(
    ("url", "target", "dialect", "name", "model_call"),
    [
        ("https://api.anthropic.com/v1/messages?beta=true", None, "anthropic", "Anthropic.Messages", True),
        (
            "https://api.anthropic.com/v1/messages/count_tokens",
            None,
            "anthropic",
            "Anthropic.CountTokens",
            False,
        ),
        ("https://api.openai.com/v1/responses", None, "openai_responses", "OpenAI.Responses", True),
        (
            "https://chatgpt.com/backend-api/codex/responses",
            None,
            "openai_responses",
            "ChatGPT.CodexResponses",
            True,
        ),
        ("https://api.openai.com/v1/chat/completions", None, "openai_chat", "OpenAI.ChatCompletions", True),
        (
            "https://openrouter.ai/api/v1/chat/completions",
            None,
            "openai_chat",
            "Openrouter.Completions",
            True,
        ),
        (
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
            None,
            "gemini",
            "Gemini.StreamGenerateContent",
            True,
        ),
        (
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:countTokens",
            None,
            "gemini",
            "Gemini.CountTokens",
            False,
        ),
        (
            "https://cloudcode-pa.googleapis.com/v1internal:streamGenerateContent?alt=sse",
            None,
            "gemini",
            "CodeAssist.StreamGenerateContent",
            True,
        ),
        (
            "https://cloudcode-pa.googleapis.com/v1internal:loadCodeAssist",
            None,
            "gemini",
            "CodeAssist.LoadCodeAssist",
            False,
        ),
        (
            "https://q.us-east-1.amazonaws.com/",
            "AmazonCodeWhispererStreamingService.GenerateAssistantResponse",
            "kiro",
            "AmazonCodeWhispererStreamingService.GenerateAssistantResponse",
            True,
        ),
        (
            "https://q.us-east-1.amazonaws.com/",
            "AmazonCodeWhispererService.GetProfile",
            "kiro",
            "AmazonCodeWhispererService.GetProfile",
            False,
        ),
        (
            "https://q.eu-central-1.amazonaws.com/generateAssistantResponse",
            None,
            "kiro",
            "AmazonCodeWhispererStreamingService.GenerateAssistantResponse",
            True,
        ),
        (
            "https://client-telemetry.us-east-1.amazonaws.com/metrics",
            None,
            "kiro",
            "ToolkitTelemetry.ClientTelemetryMetrics",
            False,
        ),
        ("https://oidc.us-east-1.amazonaws.com/token", None, "kiro", "SSOOIDC.CreateToken", False),
        (
            "https://cognito-identity.us-east-1.amazonaws.com/",
            "AWSCognitoIdentityService.GetCredentialsForIdentity",
            "kiro",
            "AWSCognitoIdentityService.GetCredentialsForIdentity",
            False,
        ),
        (
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3/converse-stream",
            None,
            "bedrock",
            "Bedrock.ConverseStream",
            True,
        ),
        (
            "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3/invoke",
            None,
            "bedrock",
            "Bedrock.InvokeModel",
            True,
        ),
        ("https://oauth2.googleapis.com/token", None, "generic", "GoogleOAuth.Token", False),
        ("https://statsig.anthropic.com/v1/rgstr", None, "generic", "Statsig.Rgstr", False),
        # Claude Code 2.1's companion APIs (docs/specs/reports.md §2.3).
        ("https://api.anthropic.com/api/oauth/usage", None, "generic", "AnthropicOAuth.Usage", False),
        ("https://console.anthropic.com/v1/oauth/token", None, "generic", "AnthropicOAuth.Token", False),
        (
            "https://api.anthropic.com/api/event_logging/batch",
            None,
            "generic",
            "ClaudeCodeTelemetry.EventLogging",
            False,
        ),
        ("https://api.anthropic.com/api/claude_code/settings", None, "generic", "ClaudeCode.Settings", False),
        (
            "https://api.anthropic.com/api/eval/sdk-zRO1tlG5kUXbnrNC",
            None,
            "generic",
            "ClaudeCode.Eval",
            False,
        ),
        ("https://http-intake.logs.us5.datadoghq.com/api/v2/logs", None, "generic", "Datadog.Logs", False),
        (
            "http://127.0.0.1:8080/api/event_logging/batch",
            None,
            "generic",
            "ClaudeCodeTelemetry.EventLogging",
            False,
        ),
        (
            "https://runtime.us-east-1.kiro.dev/generateAssistantResponse",
            None,
            "kiro",
            "KiroRuntimeService.GenerateAssistantResponse",
            True,
        ),
        (
            "https://example.com/api/v2/users/123456/count_tokens",
            None,
            "generic",
            "Example.CountTokens",
            False,
        ),
        (
            "https://example.co.uk/v1/items/0f8fad5b-d9cb-469f-a165-70867728950e",
            None,
            "generic",
            "Example.Items",
            False,
        ),
        ("https://api.example.com/v1/models/claude-sonnet-4-5", None, "generic", "Example.Models", False),
    ],
)
def test_detection_and_names(url: str, target: str | None, dialect: str, name: str, model_call: bool) -> None:
    e = ex(url, target=target)
    assert detect_dialect(e) == dialect
    assert api_name(e) == name
    assert is_model_call(e) is model_call
    a = analyze_exchange(e)
    assert (a.dialect, a.api_name, a.is_model_call) == (dialect, name, model_call)
    assert a.service == name.rsplit(".", 1)[0]


def test_gateway_anthropic_path_is_model_call() -> None:
    e = ex("https://llm-gateway.corp.internal/v1/messages")
    assert detect_dialect(e) == "anthropic"
    assert is_model_call(e)
    assert not is_model_call("Internal.Messages")


def test_mixed_capture_splits_by_dialect() -> None:
    calls = [
        ex("https://api.anthropic.com/v1/messages", ctype="text/event-stream", body=b""),
        ex("https://q.us-east-1.amazonaws.com/", target="AmazonCodeWhispererService.ListAvailableModels"),
        ex("https://api.openai.com/v1/responses"),
        ex("https://example.org/"),
    ]
    assert [analyze_exchange(c).dialect for c in calls] == [
        "anthropic",
        "kiro",
        "openai_responses",
        "generic",
    ]


# --------------------------------------------------------------------------------------------------
# error bodies and issue classes

ERROR_CASES = [
    (
        "https://api.anthropic.com/v1/messages",
        529,
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        [],
        "overloaded_error",
        "server_error",
    ),
    (
        "https://api.anthropic.com/v1/messages",
        429,
        {"type": "error", "error": {"type": "rate_limit_error", "message": "Number of requests exceeded"}},
        [],
        "rate_limit_error",
        "rate_limit",
    ),
    (
        "https://api.anthropic.com/v1/messages",
        400,
        {"type": "error", "error": {"type": "invalid_request_error", "message": "prompt is too long"}},
        [],
        "invalid_request_error",
        "client_error",
    ),
    (
        "https://api.openai.com/v1/responses",
        429,
        {
            "error": {
                "message": "You exceeded your current quota",
                "type": "insufficient_quota",
                "param": None,
                "code": "insufficient_quota",
            }
        },
        [],
        "insufficient_quota",
        "rate_limit",
    ),
    (
        "https://api.openai.com/v1/chat/completions",
        500,
        {"error": {"message": "server had an error", "type": "server_error", "param": None, "code": None}},
        [],
        "server_error",
        "server_error",
    ),
    (
        "https://generativelanguage.googleapis.com/v1beta/models/g:generateContent",
        429,
        {"error": {"code": 429, "message": "Resource has been exhausted", "status": "RESOURCE_EXHAUSTED"}},
        [],
        "RESOURCE_EXHAUSTED",
        "rate_limit",
    ),
    (
        "https://q.us-east-1.amazonaws.com/",
        403,
        {"__type": "com.amazon.coral.service#AccessDeniedException", "message": "User is not authorized"},
        [],
        "AccessDeniedException",
        "client_error",
    ),
    (
        "https://q.us-east-1.amazonaws.com/",
        400,
        {"message": "Improperly formed request."},
        [("x-amzn-ErrorType", "ValidationException:http://internal.amazon.com/coral/")],
        "ValidationException",
        "client_error",
    ),
    (
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse",
        429,
        {"message": "Too many requests"},
        [("x-amzn-ErrorType", "ThrottlingException")],
        "ThrottlingException",
        "rate_limit",
    ),
]


@pytest.mark.parametrize(("url", "status", "body", "rh", "etype", "issue"), ERROR_CASES)
def test_error_bodies(
    url: str, status: int, body: object, rh: list[tuple[str, str]], etype: str, issue: str
) -> None:
    target = "AmazonCodeWhispererService.GetProfile" if "q.us-east-1" in url else None
    a = analyze_exchange(
        ex(
            url,
            status=status,
            body=json.dumps(body).encode(),
            rheaders=rh,
            target=target,
            ctype="application/x-amz-json-1.0" if target else "application/json",
        )
    )
    body_errors = [e for e in a.response.errors if e.source == "body"]
    assert body_errors, a.response.errors
    assert body_errors[0].type == etype
    assert a.response.errors[0].source == "http_status"
    assert a.issue_class == issue


def test_get_usage_limits_403_is_expected() -> None:
    body = b'{"__type":"AccessDeniedException","message":"not allowed"}'
    a = analyze_exchange(
        ex(
            "https://q.us-east-1.amazonaws.com/",
            target="AmazonCodeWhispererService.GetUsageLimits",
            status=403,
            body=body,
        )
    )
    assert a.issue_class is None
    other = analyze_exchange(
        ex(
            "https://q.us-east-1.amazonaws.com/",
            target="AmazonCodeWhispererService.GetProfile",
            status=403,
            body=body,
        )
    )
    assert other.issue_class == "client_error"


def test_in_stream_errors_classified() -> None:
    sse = (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":1}}}\n\n'
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )
    a = analyze_exchange(ex("https://api.anthropic.com/v1/messages", ctype="text/event-stream", body=sse))
    assert a.response.errors[0].type == "overloaded_error"
    assert a.response.events[1].summary == "overloaded_error: Overloaded"
    assert a.issue_class == "rate_limit"
    sse2 = b'data: {"error":{"message":"boom","type":"invalid_request_error","code":null}}\n\n'
    b = analyze_exchange(
        ex("https://api.openai.com/v1/chat/completions", ctype="text/event-stream", body=sse2)
    )
    assert b.response.errors[0].type == "invalid_request_error"
    assert b.issue_class == "stream_error"
    sse3 = (
        b'event: response.failed\ndata: {"type":"response.failed","response":{"id":"r","status":"failed",'
        b'"error":{"code":"rate_limit_exceeded","message":"slow down"}}}\n\n'
    )
    c = analyze_exchange(ex("https://api.openai.com/v1/responses", ctype="text/event-stream", body=sse3))
    assert c.response.complete is True
    assert c.issue_class == "rate_limit"


def test_gemini_raw_json_error_inside_sse_body() -> None:
    body = (
        b'data: {"candidates":[{"content":{"parts":[{"text":"Hel"}],"role":"model"}}]}\r\n\r\n'
        b'{"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}\n'
    )
    a = analyze_exchange(
        ex(
            "https://generativelanguage.googleapis.com/v1beta/models/g:streamGenerateContent?alt=sse",
            ctype="text/event-stream",
            body=body,
        )
    )
    assert a.response.text == "Hel"
    assert a.response.errors[0].type == "UNAVAILABLE"
    assert a.response.complete is False
    assert a.issue_class == "stream_error"


def test_gemini_json_array_stream_and_code_assist_wrapper() -> None:
    arr = [
        {
            "response": {
                "candidates": [
                    {"content": {"parts": [{"text": "thinking…", "thought": True}], "role": "model"}}
                ]
            },
            "traceId": "t1",
        },
        {
            "response": {
                "candidates": [
                    {
                        "content": {
                            "parts": [{"functionCall": {"name": "read_file", "args": {"path": "a"}}}]
                        },
                        "finishReason": "STOP",
                    }
                ],
                "usageMetadata": {
                    "promptTokenCount": 100,
                    "cachedContentTokenCount": 40,
                    "candidatesTokenCount": 5,
                    "thoughtsTokenCount": 7,
                    "totalTokenCount": 112,
                },
                "modelVersion": "gemini-2.5-pro",
                "responseId": "rid",
            }
        },
    ]
    a = analyze_exchange(
        ex(
            "https://cloudcode-pa.googleapis.com/v1internal:streamGenerateContent",
            body=json.dumps(arr).encode(),
        )
    )
    r = a.response
    assert r.reasoning_text == "thinking…"
    assert [(c.name, c.arguments, c.id) for c in r.tool_calls] == [("read_file", {"path": "a"}, None)]
    assert r.usage is not None
    assert (
        r.usage.input_total,
        r.usage.cache_read,
        r.usage.input_uncached,
        r.usage.output_total,
        r.usage.reasoning,
    ) == (100, 40, 60, 12, 7)
    assert [e.summary for e in r.events] == [
        "thought: thinking…",
        "functionCall read_file; finishReason STOP",
    ]
    assert r.extra["traceId"] == "t1"
    assert r.complete is True


# --------------------------------------------------------------------------------------------------
# summaries (docs/specs/reports.md §2.6) and WebSocket


def test_responses_summaries_and_websocket() -> None:
    events = [
        {
            "type": "response.created",
            "response": {"id": "resp_1", "model": "gpt-5-codex", "status": "in_progress"},
        },
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "call_9",
                "name": "shell",
                "arguments": "",
            },
        },
        {
            "type": "response.function_call_arguments.delta",
            "output_index": 0,
            "item_id": "fc_1",
            "delta": '{"cmd":["ls"]}',
        },
        {
            "type": "response.function_call_arguments.done",
            "output_index": 0,
            "item_id": "fc_1",
            "arguments": '{"cmd":["ls"]}',
        },
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "call_9",
                "name": "shell",
                "arguments": '{"cmd":["ls"]}',
            },
        },
        {
            "type": "response.completed",
            "response": {
                "id": "resp_1",
                "status": "completed",
                "usage": {
                    "input_tokens": 1000,
                    "input_tokens_details": {"cached_tokens": 800},
                    "output_tokens": 50,
                    "output_tokens_details": {"reasoning_tokens": 30},
                    "total_tokens": 1050,
                },
            },
        },
    ]
    msgs = [
        WsMessage(
            True,
            True,
            json.dumps({"type": "response.create", "model": "gpt-5-codex", "input": "hi"}).encode(),
            1.0,
        )
    ]
    msgs += [WsMessage(False, True, json.dumps(e).encode(), 2.0 + n) for n, e in enumerate(events)]
    e = Exchange(
        0,
        "cbor",
        "GET",
        "wss://chatgpt.com/backend-api/codex/responses",
        status=101,
        websocket=msgs,
        request_ended_at=1.5,
    )
    a = analyze_exchange(e)
    r = a.response
    assert a.dialect == "openai_responses" and r.kind == "websocket"
    assert a.request.model == "gpt-5-codex" and a.request.user_text == "hi"
    assert [x.summary for x in r.events] == [
        "status in_progress",
        "function_call shell",
        'shell: {"cmd":["ls"]}',
        "shell",
        "function_call shell",
        "status completed, 1000/50 tokens",
    ]
    assert [(c.id, c.name, c.arguments) for c in r.tool_calls] == [("call_9", "shell", {"cmd": ["ls"]})]
    assert r.usage is not None and (r.usage.input_uncached, r.usage.cache_read, r.usage.reasoning) == (
        200,
        800,
        30,
    )
    assert r.ttft == pytest.approx(1.5)  # the tool call starts at 3.0 (docs/metrics.md: a start counts)
    assert r.complete is True
    assert responses_parse(e).message_id == "resp_1"


def test_chat_summaries() -> None:
    chunks = [
        {"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]},
        {
            "id": "c1",
            "model": "m",
            "choices": [
                {
                    "index": 0,
                    "delta": {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": "get", "arguments": ""},
                            }
                        ]
                    },
                }
            ],
        },
        {
            "id": "c1",
            "model": "m",
            "choices": [
                {"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}}
            ],
        },
        {"id": "c1", "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        {
            "id": "c1",
            "model": "m",
            "choices": [],
            "usage": {
                "prompt_tokens": 9,
                "completion_tokens": 3,
                "total_tokens": 12,
                "prompt_tokens_details": {"cached_tokens": 4},
            },
        },
    ]
    body = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks) + b"data: [DONE]\n\n"
    a = analyze_exchange(
        ex("https://api.openai.com/v1/chat/completions", ctype="text/event-stream", body=body)
    )
    assert [(x.type, x.summary) for x in a.response.events] == [
        ("message", ""),
        ("message", "get: "),
        ("message", "get: {}"),
        ("message", "finish_reason tool_calls"),
        ("message", "usage 9/3"),
        ("[DONE]", ""),
    ]
    u = a.response.usage
    assert u is not None and (u.input_total, u.cache_read, u.input_uncached, u.total) == (9, 4, 5, 12)


def test_non_stream_json_responses() -> None:
    anth = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "stop_reason": "tool_use",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "abcd"},
            {"type": "text", "text": "ok"},
            {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}},
        ],
        "usage": {
            "input_tokens": 5,
            "cache_creation_input_tokens": 100,
            "cache_read_input_tokens": 1000,
            "output_tokens": 7,
        },
    }
    a = analyze_exchange(ex("https://api.anthropic.com/v1/messages", body=json.dumps(anth).encode()))
    r = a.response
    assert (r.kind, r.text, r.reasoning_text, r.reasoning_signature_len, r.stop_reason) == (
        "json",
        "ok",
        "hmm",
        4,
        "tool_use",
    )
    assert [(c.id, c.arguments) for c in r.tool_calls] == [("toolu_1", {"command": "ls"})]
    assert r.usage is not None and (
        r.usage.input_total,
        r.usage.input_uncached,
        r.usage.cache_write,
        r.usage.cache_read,
    ) == (1105, 5, 100, 1000)
    assert r.complete is None and a.issue_class is None
    chat = {
        "id": "x",
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "hey",
                    "tool_calls": [
                        {
                            "id": "call_2",
                            "type": "function",
                            "function": {"name": "f", "arguments": '{"a":1}'},
                        }
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
    }
    b = analyze_exchange(
        ex("https://api.openai.com/v1/chat/completions", body=json.dumps(chat).encode())
    ).response
    assert (b.text, b.stop_reason, b.tool_calls[0].arguments) == ("hey", "tool_calls", {"a": 1})
    resp = {
        "id": "resp_2",
        "object": "response",
        "model": "gpt-5",
        "status": "completed",
        "output": [
            {"type": "reasoning", "id": "rs", "summary": [{"type": "summary_text", "text": "plan"}]},
            {
                "type": "message",
                "id": "m",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "done"}],
            },
            {"type": "function_call", "id": "fc", "call_id": "call_3", "name": "g", "arguments": "{}"},
        ],
        "usage": {"input_tokens": 10, "output_tokens": 2, "total_tokens": 12},
    }
    c = analyze_exchange(ex("https://api.openai.com/v1/responses", body=json.dumps(resp).encode())).response
    assert (c.text, c.reasoning_text, c.tool_calls[0].id, c.stop_reason) == (
        "done",
        "plan",
        "call_3",
        "completed",
    )
    conv = {
        "output": {
            "message": {
                "role": "assistant",
                "content": [{"text": "yo"}, {"toolUse": {"toolUseId": "t", "name": "n", "input": {"q": 1}}}],
            }
        },
        "stopReason": "tool_use",
        "usage": {"inputTokens": 5, "outputTokens": 6, "totalTokens": 11, "cacheReadInputTokens": 2},
    }
    d = analyze_exchange(
        ex("https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse", body=json.dumps(conv).encode())
    ).response
    assert (d.text, d.tool_calls[0].arguments, d.usage.input_total if d.usage else None) == (
        "yo",
        {"q": 1},
        7,
    )


def test_unparseable_and_odd_json_never_raises() -> None:
    for url in (
        "https://api.anthropic.com/v1/messages",
        "https://api.openai.com/v1/responses",
        "https://api.openai.com/v1/chat/completions",
        "https://generativelanguage.googleapis.com/v1beta/models/g:generateContent",
        "https://q.us-east-1.amazonaws.com/generateAssistantResponse",
        "https://bedrock-runtime.x.amazonaws.com/model/m/converse",
    ):
        for body in (
            b"null",
            b"[]",
            b'"str"',
            b"{not json",
            b'{"content": "x", "choices": "no", "output": 3, "candidates": {}}',
            b"\x00\xff",
        ):
            for ctype in ("application/json", "text/event-stream"):
                e = ex(url, body=body, ctype=ctype)
                e.request_body = body
                analyze_exchange(e)
    sse = b'event: message_start\ndata: {"type":"message_start","message":"oops"}\n\ndata: not json\n\n'
    a = analyze_exchange(ex("https://api.anthropic.com/v1/messages", ctype="text/event-stream", body=sse))
    assert a.response.events[1].summary == "not json"
