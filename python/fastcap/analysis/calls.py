"""The calls table: one row per exchange with what every overview needs.

Built from `CallAnalysis` results (any input format). Timing columns are null when the source
has no timestamps (mitmdump logs, HAR without timings): never estimated (docs/specs/sse.md §10).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

import polars as pl

from fastcap.analysis.quota import QUOTA_SCHEMA, codex_event_in_body, header_json, quota_fields
from fastcap.dialects import api_kind
from fastcap.dialects.base import CallAnalysis, Usage
from fastcap.model import Exchange

CALLS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "index": pl.UInt32,
    "started_at": pl.Float64,
    "ended_at": pl.Float64,
    "api_name": pl.Utf8,
    "dialect": pl.Utf8,
    "is_model_call": pl.Boolean,
    # What the call is for: model, count_tokens, usage_limits, telemetry, auth, other
    # (docs/specs/reports.md §2.3.1).
    "api_kind": pl.Utf8,
    "method": pl.Utf8,
    "host": pl.Utf8,
    "path": pl.Utf8,
    "model": pl.Utf8,
    "status": pl.Int64,
    "response_kind": pl.Utf8,
    "ttfb_s": pl.Float64,
    "ttft_s": pl.Float64,
    "duration_s": pl.Float64,
    "chunks": pl.UInt32,
    "response_bytes": pl.Int64,
    "text_chars": pl.Int64,
    "reasoning_chars": pl.Int64,
    "tool_calls": pl.List(pl.Utf8),
    "input_total": pl.Int64,
    "input_uncached": pl.Int64,
    "cache_read": pl.Int64,
    "cache_write": pl.Int64,
    # The part of `cache_write` written with Anthropic's 1-hour TTL (priced above the 5-minute one).
    "cache_write_1h": pl.Int64,
    "output_total": pl.Int64,
    "reasoning_tokens": pl.Int64,
    # kiro's metered credits (`meteringEvent`): not tokens, docs/metrics.md, Credits.
    "credits": pl.Float64,
    # docs/metrics.md, Cost: USD at list prices (genai-prices), null when unpriced; the model priced as.
    "cost_usd": pl.Float64,
    "price_model": pl.Utf8,
    "stop_reason": pl.Utf8,
    "complete": pl.Boolean,
    # Finished at its stop reason, but the provider's terminal event never came (docs/metrics.md).
    "abandoned_after_finish": pl.Boolean,
    "issue_class": pl.Utf8,
    "error": pl.Utf8,
    "conversation_id": pl.Utf8,
    "session_id": pl.Utf8,
    # Claude Code 2.1's sub-agents: the agent that sent the request and the agent that started it
    # (request headers `x-claude-code-agent-id`, `x-claude-code-parent-agent-id`).
    "agent_id": pl.Utf8,
    "parent_agent_id": pl.Utf8,
    "retry_after_s": pl.Float64,
    # docs/metrics.md, Quota: the response's rate-limit headers and the headroom they show.
    **QUOTA_SCHEMA,
    # How each body is known (model.py's BodyFidelity), as the reader set it.
    "request_body_fidelity": pl.Utf8,
    "response_body_fidelity": pl.Utf8,
}


AGENT_ID_HEADER = "x-claude-code-agent-id"
PARENT_AGENT_ID_HEADER = "x-claude-code-parent-agent-id"


def _header(ex: Exchange, name: str) -> str | None:
    """A request header's value, trimmed; empty is absent (as `_native.request_fields` reads it)."""
    value = (ex.header(name) or "").strip()
    return value or None


def cache_write_1h(usage: Usage | None) -> int | None:
    """The 1-hour-TTL part of the cache writes, from Anthropic's `usage.cache_creation`."""
    raw = usage.raw if usage is not None else None
    tiers = raw.get("cache_creation") if isinstance(raw, dict) else None
    value = tiers.get("ephemeral_1h_input_tokens") if isinstance(tiers, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _pieces(a: CallAnalysis) -> list[bytes]:
    """The response's messages (a WebSocket request's, one JSON text each), else its body whole
    (an SSE stream's events can straddle its chunks)."""
    ex = a.exchange
    if a.response.kind == "websocket":
        return [c.data for c in ex.chunks]
    return [ex.response_body] if ex.response_body is not None else []


def _retry_after(analysis: CallAnalysis) -> float | None:
    value = analysis.exchange.header("retry-after", response=True)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


STREAM_KINDS = ("sse", "eventstream")
# The unit of kiro's `meteringEvent` the `credits` column sums (a missing unit counts as it).
CREDIT_UNIT = "credit"


def _complete(a: CallAnalysis) -> bool | None:
    """docs/metrics.md: a stream is complete when it finished (a stop reason or the provider's
    terminal event); any other response when it was received; unknown without a response."""
    resp = a.response
    if resp.kind in STREAM_KINDS:
        return bool(resp.complete) or resp.stop_reason is not None
    if resp.kind == "websocket":
        return resp.complete
    return True if a.exchange.status is not None else None


def call_row(a: CallAnalysis) -> dict[str, object]:
    ex, resp = a.exchange, a.response
    parts = urlsplit(ex.url)
    first_t = next((c.t for c in ex.chunks if c.t is not None), None)
    req_end = ex.request_ended_at or ex.started_at
    ttfb = (first_t - req_end) if first_t is not None and req_end is not None else None
    if ttfb is None and ex.response_started_at is not None and req_end is not None and not ex.chunks:
        ttfb = ex.response_started_at - req_end
    duration = (
        (ex.ended_at - ex.started_at) if ex.ended_at is not None and ex.started_at is not None else None
    )
    usage = resp.usage
    # The provider's own error (body or stream) says more than the bare HTTP status line.
    errors = sorted(resp.errors, key=lambda e: e.source == "http_status")
    error = ex.error or next((f"{e.type or 'error'}: {e.message or ''}".strip() for e in errors), None)
    return {
        "index": ex.index,
        "started_at": ex.started_at,
        "ended_at": ex.ended_at,
        "api_name": a.api_name,
        "dialect": a.dialect,
        "is_model_call": a.is_model_call,
        "api_kind": api_kind(a.api_name, a.is_model_call),
        "method": ex.method,
        "host": parts.hostname or "",
        "path": parts.path or "/",
        "model": a.request.model or resp.model or ex.model,
        "status": ex.status,
        "response_kind": resp.kind,
        "ttfb_s": ttfb,
        "ttft_s": resp.ttft,
        "duration_s": duration,
        "chunks": len(ex.chunks),
        "response_bytes": len(ex.response_body) if ex.response_body is not None else None,
        "text_chars": len(resp.text),
        "reasoning_chars": len(resp.reasoning_text),
        "tool_calls": [t.name for t in resp.tool_calls],
        "input_total": usage.input_total if usage else None,
        "input_uncached": usage.input_uncached if usage else None,
        "cache_read": usage.cache_read if usage else None,
        "cache_write": usage.cache_write if usage else None,
        "cache_write_1h": cache_write_1h(usage),
        "output_total": usage.output_total if usage else None,
        "reasoning_tokens": usage.reasoning if usage else None,
        "credits": resp.credits.get(CREDIT_UNIT),
        "stop_reason": resp.stop_reason,
        "complete": _complete(a),
        "abandoned_after_finish": resp.kind in STREAM_KINDS
        and resp.complete is False
        and resp.stop_reason is not None,
        "issue_class": a.issue_class,
        "error": error,
        "conversation_id": a.request.conversation_id,
        "session_id": ex.session_id,
        "agent_id": _header(ex, AGENT_ID_HEADER),
        "parent_agent_id": _header(ex, PARENT_AGENT_ID_HEADER),
        "retry_after_s": _retry_after(a),
        **quota_fields(header_json(ex.response_headers) or codex_event_in_body(_pieces(a))),
        "request_body_fidelity": ex.request_body_fidelity,
        "response_body_fidelity": ex.response_body_fidelity,
    }


def calls_table(analyses: Iterable[CallAnalysis]) -> pl.DataFrame:
    from fastcap.analysis.cost import with_cost

    # An exchange built outside a reader has index -1: null in the table.
    rows = pl.DataFrame([call_row(a) for a in analyses], schema={**CALLS_SCHEMA, "index": pl.Int64})
    rows = rows.with_columns(pl.col("index").cast(pl.UInt32, strict=False))
    return with_cost(rows).select(list(CALLS_SCHEMA))


# Columns that carry text from the traffic itself (provider error messages can quote what was sent).
TEXT_COLUMNS = (
    "api_name",
    "path",
    "model",
    "price_model",
    "stop_reason",
    "error",
    "conversation_id",
    "agent_id",
    "parent_agent_id",
    "ratelimit_window",
    "ratelimit_status",
    "ratelimit_headers",
)


def redact_calls(calls: pl.DataFrame) -> pl.DataFrame:
    """The table with secrets in its text columns replaced (`fastcap.secrets.redact.redact_text`), for the
    files `fastcap analyze` writes (analysis.md, analysis.json, calls.parquet)."""
    from fastcap.secrets.redact import OUTPUT, redact_text

    def scrub(value: str) -> str:
        return redact_text(value, OUTPUT)

    return calls.with_columns(
        pl.col(c).map_elements(scrub, return_dtype=pl.Utf8, skip_nulls=True) for c in TEXT_COLUMNS
    )
