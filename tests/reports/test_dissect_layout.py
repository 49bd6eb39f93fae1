"""analysis_report.md lays out a request body by its dialect: the registry's names are the keys."""

from __future__ import annotations

import pytest
from fastcap.dialects import analyze_exchange
from fastcap.dialects.registry import BY_NAME
from fastcap.model import Exchange
from fastcap.reports.context import AuthEvidence, Call, fallback_analysis
from fastcap.reports.dissect import _LAYOUTS, _REASONING_TITLE, _family


def _call(url: str, *, failed: bool = False) -> Call:
    ex = Exchange(0, "cbor", "POST", url, request_body=b"{}", status=200)
    ca = fallback_analysis(ex, "Analysis failed") if failed else analyze_exchange(ex)
    return Call(1, "01", ca, AuthEvidence(None))


def test_layouts_are_registry_dialects() -> None:
    assert set(_LAYOUTS) <= set(BY_NAME)
    assert set(_REASONING_TITLE) == set(_LAYOUTS)


@pytest.mark.parametrize(
    ("url", "layout"),
    [
        ("https://api.anthropic.com/v1/messages", "anthropic"),
        ("https://llm-gateway.corp.internal/v1/messages", "anthropic"),
        ("https://api.openai.com/v1/responses", "openai_responses"),
        ("https://chatgpt.com/backend-api/codex/responses", "openai_responses"),
        ("https://openrouter.ai/api/v1/chat/completions", "openai_chat"),
        ("https://generativelanguage.googleapis.com/v1beta/models/g:generateContent", "gemini"),
        ("https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse", "other"),
        ("https://q.us-east-1.amazonaws.com/generateAssistantResponse", "other"),
        ("https://example.com/v1/items", "other"),
        # A generic call to another Anthropic endpoint keeps the Anthropic layout (its API name).
        ("https://api.anthropic.com/v1/files", "anthropic"),
        # Claude Code's telemetry is not an Anthropic API (ClaudeCodeTelemetry.EventLogging).
        ("https://api.anthropic.com/api/event_logging/batch", "other"),
        # Anthropic's OpenAI-compatible endpoint: the API name's layout comes first in _LAYOUTS.
        ("https://api.anthropic.com/v1/chat/completions", "anthropic"),
    ],
)
def test_family_follows_the_dialect(url: str, layout: str) -> None:
    assert _family(_call(url)) == layout


def test_failed_analysis_keeps_the_layout_of_its_api_name() -> None:
    call = _call("https://api.openai.com/v1/responses", failed=True)
    assert call.ca.dialect == "unknown" and _family(call) == "openai_responses"
