"""Request-side parsing on realistic bodies for every dialect."""

from __future__ import annotations

import json
from typing import Any

from fastcap.dialects import analyze_exchange
from fastcap.dialects.base import RequestInfo
from fastcap.model import Exchange


def req(url: str, body: Any, headers: list[tuple[str, str]] | None = None) -> RequestInfo:
    e = Exchange(
        0,
        "cbor",
        "POST",
        url,
        request_headers=headers or [],
        request_body=json.dumps(body).encode(),
        status=200,
        response_headers=[("content-type", "application/json")],
        response_body=b"{}",
    )
    return analyze_exchange(e).request


ANTHROPIC = {
    "model": "claude-sonnet-4-5-20250929",
    "max_tokens": 32000,
    "stream": True,
    "system": [
        {"type": "text", "text": "You are Claude Code."},
        {"type": "text", "text": "Be terse.", "cache_control": {"type": "ephemeral"}},
    ],
    "thinking": {"type": "enabled", "budget_tokens": 16000},
    "tool_choice": {"type": "auto"},
    "metadata": {
        "user_id": "user_abc123_account_11111111-2222-3333-4444-555555555555_session_9f0e8d7c-6b5a-4321-9876-0123456789ab"
    },
    "tools": [
        {"name": "Read", "input_schema": {}},
        {"name": "Bash", "input_schema": {}},
        {"type": "web_search_20250305", "name": "web_search"},
    ],
    "messages": [
        {"role": "user", "content": "Fix the failing test"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "look", "signature": "s"},
                {"type": "text", "text": "Reading."},
                {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"file_path": "a.py"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "toolu_1",
                    "content": "print(1)",
                    "cache_control": {"type": "ephemeral"},
                }
            ],
        },
    ],
}


def test_anthropic_request() -> None:
    r = req("https://api.anthropic.com/v1/messages?beta=true", ANTHROPIC)
    assert r.model == "claude-sonnet-4-5-20250929" and r.stream is True and r.max_tokens == 32000
    assert r.system_text == "You are Claude Code.\n\nBe terse."
    assert r.tools == ["Read", "Bash", "web_search"]
    assert r.tool_types == ["custom", "custom", "web_search_20250305"]
    assert r.thinking == "enabled (budget 16000)" and r.thinking_enabled
    assert r.config["tool_choice"] == "auto"
    assert r.conversation_id == "9f0e8d7c-6b5a-4321-9876-0123456789ab"
    assert [(m.role, m.type) for m in r.messages] == [
        ("user", "text"),
        ("assistant", "thinking+text+tool_use"),
        ("user", "tool_result"),
    ]
    assert r.messages[1].preview == "Reading.\ntool_use Read"
    assert r.messages[2].preview == "tool_result toolu_1"
    assert r.turn_kind == "tool_result" and r.history_length == 3
    assert r.tool_results == [{"id": "toolu_1", "status": "success", "chars": 8}]
    assert len(r.message_hashes) == 3


def test_anthropic_prefix_hashes_ignore_cache_control_and_json_user_id() -> None:
    a = req("https://api.anthropic.com/v1/messages", ANTHROPIC)
    moved = json.loads(json.dumps(ANTHROPIC))
    del moved["messages"][2]["content"][0]["cache_control"]
    moved["messages"].append({"role": "assistant", "content": "Done."})
    moved["messages"].append({"role": "user", "content": "thanks"})
    moved["metadata"]["user_id"] = json.dumps(
        {"device_id": "d", "account_uuid": "a", "session_id": "sess-42"}
    )
    b = req("https://api.anthropic.com/v1/messages", moved)
    assert b.message_hashes[:3] == a.message_hashes
    assert b.turn_kind == "user_message" and b.user_text == "thanks"
    assert b.conversation_id == "sess-42"


def test_responses_request() -> None:
    body = {
        "model": "gpt-5-codex",
        "instructions": "You are Codex.",
        "stream": True,
        "store": False,
        "reasoning": {"effort": "high", "summary": "auto"},
        "prompt_cache_key": "pck-1",
        "previous_response_id": "resp_prev",
        "tools": [{"type": "function", "name": "shell", "parameters": {}}, {"type": "web_search"}],
        "input": [
            {
                "type": "message",
                "role": "developer",
                "content": [{"type": "input_text", "text": "sandbox: read-only"}],
            },
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list files"}]},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "plan"}]},
            {
                "type": "function_call",
                "id": "fc_1",
                "call_id": "call_1",
                "name": "shell",
                "arguments": '{"cmd":["ls"]}',
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "a.py\nb.py"},
        ],
    }
    r = req("https://chatgpt.com/backend-api/codex/responses", body, [("session_id", "0199-sess")])
    assert r.model == "gpt-5-codex" and r.system_text == "You are Codex."
    assert r.thinking == "reasoning effort high, summary auto" and r.thinking_enabled
    assert r.tools == ["shell", "web_search"] and r.tool_types == ["function", "web_search"]
    assert r.conversation_id == "0199-sess" and r.continuation_id == "resp_prev"
    assert r.config["prompt_cache_key"] == "pck-1"
    assert [m.type for m in r.messages] == [
        "message",
        "message",
        "reasoning",
        "function_call",
        "function_call_output",
    ]
    assert r.turn_kind == "tool_result" and r.user_text == "list files" and r.history_length == 5
    assert r.tool_results == [{"id": "call_1", "status": "success", "chars": 9}]
    r2 = req(
        "https://api.openai.com/v1/responses", {"model": "gpt-5", "input": "hello", "prompt_cache_key": "k"}
    )
    assert r2.turn_kind == "user_message" and r2.user_text == "hello" and r2.conversation_id == "k"


def test_chat_request() -> None:
    body = {
        "model": "gpt-4o",
        "stream": True,
        "max_completion_tokens": 500,
        "reasoning_effort": "low",
        "stream_options": {"include_usage": True},
        "parallel_tool_calls": True,
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}],
        "messages": [
            {"role": "system", "content": "sys"},
            {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": "{}"},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        ],
    }
    r = req("https://api.openai.com/v1/chat/completions", body)
    assert r.system_text == "sys" and r.max_tokens == 500 and r.thinking == "reasoning effort low"
    assert r.tools == ["get_weather"] and r.tool_types == ["function"]
    assert [(m.role, m.type) for m in r.messages] == [
        ("system", "message"),
        ("user", "message"),
        ("assistant", "tool_calls"),
        ("tool", "tool"),
    ]
    assert r.turn_kind == "tool_result" and r.user_text == "weather?"
    assert r.tool_results == [{"id": "call_1", "status": "success", "chars": 5}]


def test_gemini_and_code_assist_requests() -> None:
    inner = {
        "contents": [
            {"role": "user", "parts": [{"text": "read a.py"}]},
            {
                "role": "model",
                "parts": [
                    {
                        "functionCall": {"name": "read_file", "args": {"path": "a.py"}},
                        "thoughtSignature": "xx",
                    }
                ],
            },
            {
                "role": "user",
                "parts": [{"functionResponse": {"name": "read_file", "response": {"output": "1"}}}],
            },
        ],
        "systemInstruction": {"role": "user", "parts": [{"text": "You are Gemini CLI."}]},
        "tools": [
            {"functionDeclarations": [{"name": "read_file"}, {"name": "write_file"}]},
            {"googleSearch": {}},
        ],
        "generationConfig": {
            "maxOutputTokens": 8192,
            "thinkingConfig": {"thinkingBudget": -1, "includeThoughts": True},
        },
    }
    g = req(
        "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
        inner,
    )
    assert g.model == "gemini-2.5-pro" and g.stream is True and g.max_tokens == 8192
    assert g.system_text == "You are Gemini CLI."
    assert g.tools == ["read_file", "write_file", "googleSearch"]
    assert g.thinking == "thinkingConfig (budget -1, include thoughts)" and g.thinking_enabled
    assert [m.type for m in g.messages] == ["text", "functionCall", "functionResponse"]
    assert g.turn_kind == "tool_result" and g.user_text == "read a.py"
    wrapped = {
        "model": "gemini-2.5-flash",
        "project": "proj-1",
        "user_prompt_id": "p#1",
        "request": {**inner, "session_id": "sess-g"},
    }
    c = req("https://cloudcode-pa.googleapis.com/v1internal:streamGenerateContent?alt=sse", wrapped)
    assert c.model == "gemini-2.5-flash" and c.conversation_id == "sess-g" and c.extra["project"] == "proj-1"
    # thought signatures do not break prefix chaining
    inner2 = json.loads(json.dumps(inner))
    del inner2["contents"][1]["parts"][0]["thoughtSignature"]
    assert (
        req(
            "https://generativelanguage.googleapis.com/v1beta/models/m:generateContent", inner2
        ).message_hashes
        == g.message_hashes
    )


KIRO = {
    "conversationState": {
        "conversationId": "6f1c2f8e-1111-4222-8333-944455556666",
        "agentContinuationId": "a1b2c3d4-0000-4000-8000-000000000001",
        "agentTaskType": "vibe",
        "chatTriggerType": "MANUAL",
        "currentMessage": {
            "userInputMessage": {
                "content": "",
                "modelId": "claude-sonnet-4.5",
                "origin": "CLI",
                "userInputMessageContext": {
                    "envState": {"operatingSystem": "linux", "currentWorkingDirectory": "/w"},
                    "tools": [
                        {
                            "toolSpecification": {
                                "name": "fs_read",
                                "description": "",
                                "inputSchema": {"json": {}},
                            }
                        },
                        {
                            "toolSpecification": {
                                "name": "execute_bash",
                                "description": "",
                                "inputSchema": {"json": {}},
                            }
                        },
                        {
                            "toolSpecification": {
                                "name": "thinking",
                                "description": "",
                                "inputSchema": {"json": {}},
                            }
                        },
                    ],
                    "toolResults": [
                        {"toolUseId": "tooluse_1", "content": [{"text": "file body"}], "status": "success"},
                        {
                            "toolUseId": "tooluse_2",
                            "content": [{"json": {"exit_status": "1"}}],
                            "status": "error",
                        },
                    ],
                },
            }
        },
        "history": [
            {"userInputMessage": {"content": "read app.py", "modelId": "claude-sonnet-4.5", "origin": "CLI"}},
            {
                "assistantResponseMessage": {
                    "messageId": "m1",
                    "content": "Reading.",
                    "toolUses": [{"toolUseId": "tooluse_1", "name": "fs_read", "input": {"path": "app.py"}}],
                }
            },
        ],
    },
    "profileArn": "arn:aws:codewhisperer:us-east-1:123456789012:profile/ABC",
}


def test_kiro_conversation_state() -> None:
    r = req(
        "https://q.us-east-1.amazonaws.com/",
        KIRO,
        [("x-amz-target", "AmazonCodeWhispererStreamingService.GenerateAssistantResponse")],
    )
    assert r.model == "claude-sonnet-4.5"
    assert r.conversation_id == "6f1c2f8e-1111-4222-8333-944455556666"
    assert r.continuation_id == "a1b2c3d4-0000-4000-8000-000000000001"
    assert r.history_length == 2
    assert r.tools == ["fs_read", "execute_bash", "thinking"] and r.thinking_tool and r.thinking_enabled
    assert r.turn_kind == "tool_result" and r.user_text == ""
    assert r.tool_results == [
        {"id": "tooluse_1", "status": "success", "chars": 9},
        {"id": "tooluse_2", "status": "error", "chars": len('{"exit_status":"1"}')},
    ]
    assert [(m.role, m.type) for m in r.messages] == [
        ("user", "text"),
        ("assistant", "text+tool_uses"),
        ("user", "tool_results"),
    ]
    assert (
        r.extra["origin"] == "CLI"
        and r.extra["trigger"] == "MANUAL"
        and r.extra["profile_arn"].startswith("arn:")
    )
    assert len(r.message_hashes) == 3
    companion = req(
        "https://q.us-east-1.amazonaws.com/",
        {"origin": "CLI"},
        [("x-amz-target", "AmazonCodeWhispererService.ListAvailableModels")],
    )
    assert companion.json == {"origin": "CLI"} and companion.turn_kind is None


def test_bedrock_converse_request() -> None:
    body = {
        "messages": [
            {"role": "user", "content": [{"text": "hi"}]},
            {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "calc", "input": {}}}]},
            {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "4"}]}}]},
        ],
        "system": [{"text": "be nice"}],
        "inferenceConfig": {"maxTokens": 100},
        "toolConfig": {"tools": [{"toolSpec": {"name": "calc"}}]},
        "additionalModelRequestFields": {"thinking": {"type": "enabled", "budget_tokens": 2048}},
    }
    r = req(
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/us.anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse-stream",
        body,
    )
    assert r.model == "us.anthropic.claude-3-7-sonnet-20250219-v1:0" and r.stream is True
    assert (r.system_text, r.max_tokens, r.tools, r.thinking) == (
        "be nice",
        100,
        ["calc"],
        "enabled (budget 2048)",
    )
    assert r.turn_kind == "tool_result" and r.history_length == 3
