"""The dialect registry: the one list of model APIs, and the one answer to "what API is this?".

`DIALECTS` is the only place a dialect is registered. Everything that needs to know which API an
exchange speaks asks here: the calls table (`analysis.engine`), reports, inspect, `fastcap decode`
(its `--api` choices and example URLs) and the capture's `be` label (`targets.backend_for`).

Order matters: the first dialect whose `matches` is true owns the exchange, so a more specific API
comes before a more general one (kiro and bedrock before anthropic, Responses before Chat).
Anything no dialect matches is `GENERIC`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from fastcap.dialects._naming import api_name, is_model_call
from fastcap.dialects.anthropic import Anthropic
from fastcap.dialects.base import CallAnalysis, Dialect, ResponseInfo
from fastcap.dialects.bedrock import Bedrock
from fastcap.dialects.gemini import Gemini
from fastcap.dialects.generic import Generic
from fastcap.dialects.kiro import Kiro
from fastcap.dialects.openai_chat import OpenAIChat
from fastcap.dialects.openai_responses import OpenAIResponses
from fastcap.model import Exchange

DIALECTS: tuple[Dialect, ...] = (
    Kiro(),
    Bedrock(),
    Anthropic(),
    OpenAIResponses(),
    OpenAIChat(),
    Gemini(),
)
GENERIC: Dialect = Generic()


def _by_name(dialects: tuple[Dialect, ...]) -> Mapping[str, Dialect]:
    table: dict[str, Dialect] = {}
    for d in dialects:
        if d.name in table:
            raise ValueError(f"two dialects are named {d.name!r}: {table[d.name]!r} and {d!r}")
        table[d.name] = d
    return MappingProxyType(table)


BY_NAME: Mapping[str, Dialect] = _by_name((*DIALECTS, GENERIC))


def names() -> tuple[str, ...]:
    """The registered dialects' names, in registry order (the `fastcap decode --api` choices)."""
    return tuple(d.name for d in DIALECTS)


def get(name: str) -> Dialect:
    """The dialect named `name` (`GENERIC` included); KeyError listing the valid names otherwise."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown dialect {name!r} (choose from {', '.join(BY_NAME)})") from None


def dialect_for(ex: Exchange) -> Dialect:
    """The dialect that owns this exchange: the first registered one that matches, else `GENERIC`."""
    return next((d for d in DIALECTS if d.matches(ex)), GENERIC)


def detect_dialect(ex: Exchange) -> str:
    """The name of `dialect_for(ex)`."""
    return dialect_for(ex).name


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


def analyze_exchange(ex: Exchange) -> CallAnalysis:
    """Analyse one exchange with its dialect: API name, model-call flag, request, response and
    issue class."""
    dialect = dialect_for(ex)
    name = api_name(ex)
    req = dialect.parse_request(ex)
    resp = dialect.parse_response(ex)
    return CallAnalysis(
        exchange=ex,
        dialect=dialect.name,
        api_name=name,
        is_model_call=is_model_call(ex),
        request=req,
        response=resp,
        issue_class=classify_issue(ex, resp, name),
    )
