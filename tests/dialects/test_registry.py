"""The dialect registry is the one answer to "what API is this?", and the one list of dialects."""

from __future__ import annotations

import pytest
from fastcap import targets
from mitmproxy.http import Headers


@pytest.mark.parametrize(
    ("host", "path", "headers", "backend"),
    [
        # A host a target lists: the target's label, whatever the path.
        ("api.anthropic.com", "/api/oauth/profile", None, "anthropic"),
        ("chatgpt.com", "/backend-api/me", None, "openai"),
        ("q.us-east-1.amazonaws.com", "/", None, "kiro"),
        # Any other host: the label of the dialect the registry finds, else the host.
        ("127.0.0.1", "/v1/messages?beta=true", None, "anthropic"),
        ("llm-gateway.corp.internal", "/v1/chat/completions", None, "openai"),
        ("localhost", "/v1/responses", None, "openai"),
        ("127.0.0.1", "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", None, "gemini"),
        ("127.0.0.1", "/generateAssistantResponse", None, "kiro"),
        ("10.0.0.7", "/", {"x-amz-target": "AmazonCodeWhispererService.ListAvailableModels"}, "kiro"),
        ("bedrock-runtime.us-east-1.amazonaws.com", "/model/m/converse-stream", None, "bedrock"),
        ("::1", "/v1/messages", None, "anthropic"),
        ("127.0.0.1", "/json/200", None, "127.0.0.1"),
        ("", "", None, "unknown"),
    ],
)
def test_backend_for_asks_the_registry_for_unlisted_hosts(
    host: str, path: str, headers: dict[str, str] | None, backend: str
) -> None:
    assert targets.backend_for(host, path, headers) == backend


def test_backend_for_takes_mitmproxy_headers() -> None:
    headers = Headers(x_amz_target="AmazonCodeWhispererStreamingService.GenerateAssistantResponse")
    assert targets.backend_for("127.0.0.1", "/", headers) == "kiro"


def test_backend_for_survives_a_host_urllib_cannot_split() -> None:
    assert targets.backend_for("[::1", "/v1/messages") == "[::1"
