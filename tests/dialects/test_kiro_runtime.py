"""kiro-cli 2: `KiroRuntimeService.GenerateAssistantResponse` on `runtime.{region}.kiro.dev`, with the
older CodeWhisperer names still read; `meteringEvent` credits in their own column, never tokens."""

from __future__ import annotations

import pytest
from fastcap.capture import targets
from fastcap.dialects import analyze_exchange, api_name, dialect_for, is_model_call
from fastcap.model import Exchange
from helpers import DATA
from helpers.agreement import EVENTSTREAM, agreed_calls, exchange

BODY = (DATA / "eventstream" / "kiro-runtime" / "generate_assistant_response.bin").read_bytes()
REQUEST = (
    b'{"conversationState":{"conversationId":"7b0c5c1e-3f2a-4d7e-9a51-2f4c8e6d1a90","chatTriggerType":"MANUAL",'
    b'"currentMessage":{"userInputMessage":{"content":"read the config","modelId":"claude-sonnet-4.5",'
    b'"origin":"KIRO_CLI","userInputMessageContext":{}}},"history":[]},'
    b'"profileArn":"arn:aws:codewhisperer:us-east-1:000000000000:profile/FAKEPROFILE"}'
)
RUNTIME = ("https://runtime.us-east-1.kiro.dev/generateAssistantResponse", "KiroRuntimeService")
CODEWHISPERER = ("https://q.us-east-1.amazonaws.com/", "AmazonCodeWhispererStreamingService")


def kiro(url: str, service: str | None, *, index: int = 0) -> Exchange:
    headers = [("content-type", "application/x-amz-json-1.0")]
    if service:
        headers.append(("x-amz-target", f"{service}.GenerateAssistantResponse"))
    return exchange(
        url, BODY, request_headers=headers, request_body=REQUEST, response_headers=EVENTSTREAM, index=index
    )


@pytest.mark.parametrize(("url", "service"), [RUNTIME, CODEWHISPERER])
def test_both_service_names_are_kiro_model_calls(url: str, service: str) -> None:
    a = analyze_exchange(kiro(url, service))
    assert (a.dialect, a.api_name, a.is_model_call) == ("kiro", f"{service}.GenerateAssistantResponse", True)
    r = a.response
    assert a.request.model == "claude-sonnet-4.5"
    assert a.request.conversation_id == "7b0c5c1e-3f2a-4d7e-9a51-2f4c8e6d1a90"
    assert r.text == "I'll read the config file first." and [t.name for t in r.tool_calls] == ["fs_read"]
    assert r.stop_reason == "TOOL_USE" and r.complete is True
    assert r.credits == {"credit": 0.34180376}
    # Tokens come from metadataEvent only; the credits are not token usage.
    assert r.usage is not None
    assert (r.usage.input_total, r.usage.input_uncached, r.usage.cache_read, r.usage.output_total) == (
        18672,
        412,
        18260,
        58,
    )


def test_engine_and_dialect_agree_on_credits_and_tokens() -> None:
    calls = agreed_calls([kiro(*RUNTIME), kiro(*CODEWHISPERER, index=1)])
    assert calls["credits"].to_list() == [0.34180376, 0.34180376]
    assert calls["input_total"].to_list() == [18672, 18672]
    assert calls["output_total"].to_list() == [58, 58]
    assert calls["api_name"].to_list() == [
        "KiroRuntimeService.GenerateAssistantResponse",
        "AmazonCodeWhispererStreamingService.GenerateAssistantResponse",
    ]


def test_the_runtime_url_alone_names_the_call() -> None:
    """A capture that kept no request headers still names and counts the call by its URL."""
    ex = kiro(RUNTIME[0], None)
    assert dialect_for(ex).name == "kiro"
    assert api_name(ex) == "KiroRuntimeService.GenerateAssistantResponse" and is_model_call(ex)


def test_other_runtime_operations_are_kiro_but_not_model_calls() -> None:
    ex = Exchange(
        0,
        "cbor",
        "POST",
        "https://runtime.us-east-1.kiro.dev/",
        request_headers=[("x-amz-target", "KiroRuntimeService.InvokeMCP")],
    )
    assert dialect_for(ex).name == "kiro"
    assert api_name(ex) == "KiroRuntimeService.InvokeMCP" and not is_model_call(ex)


def test_calls_without_metering_have_unknown_credits() -> None:
    body = (DATA / "sse" / "claude-code" / "subagent_stream.sse").read_bytes()
    calls = agreed_calls([exchange("https://api.anthropic.com/v1/messages", body)])
    assert calls["credits"].to_list() == [None]


def test_capture_target_lists_the_runtime_host() -> None:
    assert targets.backend_for("runtime.us-east-1.kiro.dev") == "kiro"
    assert targets.backend_for("q.us-east-1.amazonaws.com") == "kiro"
