"""Model-API dialects: turn one `Exchange` into a `CallAnalysis`.

Public entry points:

- `analyze_exchange(ex)`: pick the dialect (URL, `x-amz-target`, content type) and analyse.
- `detect_dialect(ex)`: the dialect name that `analyze_exchange` would use.
- `api_name(ex)`: docs/specs/reports.md §2.3 API name.
- `is_model_call(ex_or_api_name)`.
- `classify_issue(ex, response)`: rate_limit / server_error / client_error / stream_error / cut_stream
  (the classes of docs/metrics.md).
- `analyze_websocket_message(data)`: one Codex WebSocket text message (Responses events).
"""

from __future__ import annotations

from collections.abc import Callable

from fastcap.dialects._naming import api_name, is_model_call, url_api_name
from fastcap.dialects.base import (
    CallAnalysis,
    ErrorInfo,
    MessageInfo,
    RequestInfo,
    ResponseInfo,
    StreamEvent,
    ToolCall,
    Usage,
)
from fastcap.model import Exchange

__all__ = [
    "CallAnalysis",
    "ErrorInfo",
    "MessageInfo",
    "RequestInfo",
    "ResponseInfo",
    "StreamEvent",
    "ToolCall",
    "Usage",
    "analyze_exchange",
    "analyze_with",
    "api_name",
    "classify_issue",
    "detect_dialect",
    "is_model_call",
    "url_api_name",
]

_RATE_WORDS = ("rate", "quota", "throttl", "resource_exhausted", "overloaded")


def classify_issue(ex: Exchange, response: ResponseInfo, api: str | None = None) -> str | None:
    """HTTP status first, then in-stream errors, then a stream cut before its terminal event."""
    name = api if api is not None else api_name(ex)
    status = ex.status
    if status is not None:
        if status == 429:
            return "rate_limit"
        if status == 529 or 500 <= status <= 599:
            return "server_error"
        if 400 <= status <= 499:
            if status == 403 and name.endswith(".GetUsageLimits"):
                return None  # expected and normal for kiro
            return "client_error"
    stream_errors = [e for e in response.errors if e.source == "in_stream"]
    for e in stream_errors:
        # type/code/status are joined into ErrorInfo.type; the message is only a fallback.
        hay = (e.type or e.message or "").lower()
        if any(w in hay for w in _RATE_WORDS):
            return "rate_limit"
    if stream_errors:
        return "stream_error"
    # A stream that reached its stop reason finished, even when the terminal event never came
    # (the gateway stopped reading after the finish reason): docs/metrics.md, not an issue.
    if response.complete is False and response.stop_reason is None:
        return "cut_stream"
    return None


def _modules() -> list[tuple[str, object]]:
    from fastcap.dialects import anthropic, bedrock, gemini, kiro, openai_chat, openai_responses

    return [
        ("kiro", kiro),
        ("bedrock", bedrock),
        ("anthropic", anthropic),
        ("openai_responses", openai_responses),
        ("openai_chat", openai_chat),
        ("gemini", gemini),
    ]


def detect_dialect(ex: Exchange) -> str:
    for name, mod in _modules():
        matches: Callable[[Exchange], bool] = getattr(mod, "matches")  # noqa: B009
        if matches(ex):
            return name
    return "generic"


def analyze_with(
    ex: Exchange,
    dialect: str,
    parse_request: Callable[[Exchange], RequestInfo],
    parse_response: Callable[[Exchange], ResponseInfo],
) -> CallAnalysis:
    name = api_name(ex)
    req = parse_request(ex)
    resp = parse_response(ex)
    return CallAnalysis(
        exchange=ex,
        dialect=dialect,
        api_name=name,
        is_model_call=is_model_call(ex),
        request=req,
        response=resp,
        issue_class=classify_issue(ex, resp, name),
    )


def analyze_exchange(ex: Exchange) -> CallAnalysis:
    from fastcap.dialects import generic

    name = detect_dialect(ex)
    if name == "generic":
        return generic.analyze(ex)
    for mod_name, mod in _modules():
        if mod_name == name:
            analyze: Callable[[Exchange], CallAnalysis] = getattr(mod, "analyze")  # noqa: B009
            return analyze(ex)
    return generic.analyze(ex)
