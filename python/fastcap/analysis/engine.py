"""The one calls builder: a requests table plus per-exchange content figures → the calls table.

Every source reaches the calls table (`calls.CALLS_SCHEMA`) through `calls_from_requests`: the
streaming CBOR pass (`stream_cbor.calls_from_scan`) and the exchanges of any other format
(`exchanges.calls_from_exchanges`). What each column means is defined once, in docs/metrics.md,
and computed here once, as Polars expressions over whole columns.

A requests table has one row per HTTP exchange with `REQUEST_SCHEMA`'s columns and the content
figures of `content.CONTENT_SCHEMA` (null where the exchange had no events).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import polars as pl

from fastcap.analysis.calls import CALLS_SCHEMA
from fastcap.analysis.content import CONTENT_SCHEMA
from fastcap.analysis.cost import with_cost
from fastcap.analysis.quota import quota_columns
from fastcap.model import Exchange

REQUEST_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "request_id": pl.Utf8,
    "http_method": pl.Utf8,
    "url": pl.Utf8,
    # `x-amz-target`: names the operation of AWS JSON APIs (kiro), whatever the URL.
    "amz_target": pl.Utf8,
    "response_content_type": pl.Utf8,
    "status": pl.Int64,
    "is_stream": pl.Boolean,
    # sse, eventstream, json, text, binary, websocket, empty, missing.
    "response_kind": pl.Utf8,
    "model": pl.Utf8,
    # docs/metrics.md, Times.
    "request_ts": pl.Float64,
    "request_sent_ts": pl.Float64,
    "first_payload_ts": pl.Float64,
    "stream_end_ts": pl.Float64,
    "last_payload_ts": pl.Float64,
    "chunks": pl.Int64,
    "body_bytes": pl.Int64,
    "a_session_id": pl.Utf8,
    # From the request (`_native.request_fields`, on the forwarded request or the body alone).
    "request_model": pl.Utf8,
    "user_id": pl.Utf8,
    "conversation_id_body": pl.Utf8,
    "prompt_cache_key": pl.Utf8,
    "session_header": pl.Utf8,
    # Claude Code's sub-agent headers (`x-claude-code-agent-id`, `x-claude-code-parent-agent-id`).
    "agent_id": pl.Utf8,
    "parent_agent_id": pl.Utf8,
    "retry_after_s": pl.Float64,
    # The response's rate-limit headers as a JSON object (`quota.header_json`).
    "ratelimit_headers": pl.Utf8,
    # An error the transport or the capture recorded (a reset, a gateway's end-of-stream error).
    "transport_error": pl.Utf8,
    "request_body_fidelity": pl.Utf8,
    "response_body_fidelity": pl.Utf8,
}


# The request columns `_native.request_fields` gives (its `model` named `request_model` here).
REQUEST_FIELD_COLUMNS = (
    "request_model",
    "user_id",
    "conversation_id_body",
    "prompt_cache_key",
    "session_header",
    "agent_id",
    "parent_agent_id",
)


def _naming(
    method: str | None, url: str | None, target: str | None, ctype: str | None
) -> tuple[str, str, bool, str | None, str]:
    """(API name, dialect, is model call, model named by the URL, API kind) of one distinct
    request shape, by the dialect registry."""
    from fastcap.dialects import api_kind, api_name, dialect_for, is_model_call

    headers = [("x-amz-target", target)] if target else []
    ex = Exchange(
        index=0,
        source="table",
        method=method or "POST",
        url=url or "",
        request_headers=headers,
        response_headers=[("content-type", ctype)] if ctype else [],
    )
    dialect = dialect_for(ex)
    name, model_call = api_name(ex), is_model_call(ex)
    # Gemini and Bedrock name the model in the URL; the dialect reads it from a bodiless request.
    return name, dialect.name, model_call, dialect.parse_request(ex).model, api_kind(name, model_call)


def with_api_names(req: pl.DataFrame) -> pl.DataFrame:
    """Add `api_name`, `dialect`, `is_model_call` and `api_kind`, asking the registry once per
    distinct shape."""
    # Names depend on the host and the path, never on the query: a log of 200,000 requests whose
    # queries all differ has a handful of shapes, not 200,000 (the registry is Python per shape).
    req = req.with_columns(_shape_url=pl.col("url").str.replace(r"[?#].*$", ""))
    keys = ["http_method", "_shape_url", "amz_target", "response_content_type"]
    shapes = req.select(keys).unique()
    names = [_naming(*row) for row in shapes.iter_rows()]
    shapes = shapes.with_columns(
        api_name=pl.Series([n[0] for n in names], dtype=pl.Utf8),
        dialect=pl.Series([n[1] for n in names], dtype=pl.Utf8),
        is_model_call=pl.Series([n[2] for n in names], dtype=pl.Boolean),
        url_model=pl.Series([n[3] for n in names], dtype=pl.Utf8),
        api_kind=pl.Series([n[4] for n in names], dtype=pl.Utf8),
    )
    return req.join(shapes, on=keys, how="left", nulls_equal=True, maintain_order="left").drop(
        "_shape_url"
    )  # call order


def _url_part(part: str) -> pl.Expr:
    def pick(u: str) -> str:
        parts = urlsplit(u)
        return (parts.hostname or "") if part == "host" else (parts.path or "/")

    return pl.col("url").map_elements(pick, return_dtype=pl.Utf8, skip_nulls=True)


def calls_from_requests(req: pl.DataFrame) -> pl.DataFrame:
    """The calls table (`CALLS_SCHEMA`) of a requests table; see the module docstring. A column a
    source cannot fill may be left out: it is unknown (null) for every row."""
    known = {**REQUEST_SCHEMA, **{c: t for c, t in CONTENT_SCHEMA.items() if c != "exchange_index"}}
    req = req.with_columns(pl.lit(None, t).alias(c) for c, t in known.items() if c not in req.columns)
    req = with_api_names(req)
    dialect = pl.col("dialect")
    anthropic = dialect.is_in(["anthropic", "bedrock"])
    inp, cr, cw = (
        pl.col(c).cast(pl.Int64) for c in ("input_tokens", "cache_read_tokens", "cache_write_tokens")
    )
    # docs/metrics.md, Usage: `input_total` counts every prompt token; Anthropic reports the
    # uncached part only, OpenAI and Gemini the total with the cached part inside it.
    input_total = pl.when(anthropic).then(inp + cr.fill_null(0) + cw.fill_null(0)).otherwise(inp)
    input_uncached = pl.when(anthropic).then(inp).otherwise(inp - cr.fill_null(0) - cw.fill_null(0))
    output_total = (
        pl.when(dialect == "gemini")
        .then(pl.col("output_tokens").cast(pl.Int64) + pl.col("reasoning_tokens").cast(pl.Int64).fill_null(0))
        .otherwise(pl.col("output_tokens").cast(pl.Int64))
    )
    # The provider's error as dialects.error_from_json names it: type and a textual code, joined.
    etype, ecode = pl.col("error_type"), pl.col("error_code")
    error_kind = (
        pl.when(etype.is_null())
        .then(ecode)
        .when(ecode.is_not_null() & (ecode != etype) & ~ecode.str.contains(r"^\d+$"))
        .then(pl.format("{}/{}", etype, ecode))
        .otherwise(etype)
    )
    provider_error = pl.format("{}: {}", error_kind.fill_null("error"), pl.col("error_message").fill_null(""))
    has_provider_error = pl.col("error_type").is_not_null() | pl.col("error_message").is_not_null()
    rate_words = provider_error.str.contains(r"(?i)rate|quota|throttl|resource_exhausted|overloaded")
    status = pl.col("status")
    is_stream = pl.col("is_stream").fill_null(False)
    # Finished (docs/metrics.md) is three-valued: an SSE stream without events did not finish,
    # but a body no extractor reads yet (an unknown API's EventStream) finished or not: unknown.
    kind = pl.col("response_kind")
    read = (kind == "sse") | ((kind == "eventstream") & dialect.is_in(["kiro", "bedrock"]))
    stop = pl.when(read).then(pl.col("stop_seen").fill_null(False)).otherwise(pl.col("stop_seen"))
    # Gemini has no terminal event: its finish reason ends the stream.
    terminal = (
        pl.when(read).then(pl.col("terminal_seen").fill_null(False)).otherwise(pl.col("terminal_seen"))
    ) | ((dialect == "gemini") & stop)
    # kiro has no terminal event: a stream whose frames are all whole and that no exception
    # stopped has finished (the kiro dialect's rule).
    terminal = terminal | (
        (dialect == "kiro") & pl.col("stream_intact").fill_null(False) & pl.col("error_type").is_null()
    )
    finished = terminal | stop  # Kleene logic: true if either is, unknown if neither is known false
    stream_error = has_provider_error & (status.is_null() | (status < 400))
    issue = (
        pl.when(status == 429)
        .then(pl.lit("rate_limit"))
        .when((status >= 500) & (status <= 599))
        .then(pl.lit("server_error"))
        .when((status == 403) & pl.col("api_name").str.ends_with(".GetUsageLimits"))
        .then(None)  # expected and normal for kiro
        .when((status >= 400) & (status <= 499))
        .then(pl.lit("client_error"))
        .when(stream_error & rate_words)
        .then(pl.lit("rate_limit"))
        .when(stream_error)
        .then(pl.lit("stream_error"))
        .when(is_stream & finished.not_())  # an unknown ending (null) is no issue
        .then(pl.lit("cut_stream"))
        .otherwise(None)
    )
    # The conversation a request belongs to, by each API's own key (the dialects' RequestInfo rule).
    uid = pl.col("user_id")
    claude_session = (
        pl.when(uid.str.starts_with("{"))
        .then(pl.coalesce(uid.str.json_path_match("$.session_id"), uid.str.json_path_match("$.sessionId")))
        .otherwise(uid.str.extract(r"session_([0-9a-fA-F-]{8,})"))
    )
    conversation_id = (
        pl.when(dialect == "anthropic")
        .then(pl.coalesce(claude_session, pl.col("session_header")))
        .when(dialect == "openai_responses")
        .then(pl.coalesce("session_header", "conversation_id_body", "prompt_cache_key"))
        .when(dialect.is_in(["gemini", "kiro"]))
        .then(pl.col("conversation_id_body"))
    )
    # docs/metrics.md, Times: t0 is when the request had been passed on, else its start.
    t0 = pl.coalesce("request_sent_ts", "request_ts")
    ended = pl.coalesce("stream_end_ts", "last_payload_ts")
    calls = req.with_row_index("index").select(
        pl.col("index").cast(pl.UInt32),
        started_at=pl.col("request_ts"),
        ended_at=ended,
        api_name=pl.col("api_name"),
        dialect=dialect,
        is_model_call=pl.col("is_model_call"),
        api_kind=pl.col("api_kind"),
        method=pl.col("http_method"),
        host=_url_part("host"),
        path=_url_part("path"),
        # As the dialects name it: the request's model, then the response's, then the capture's.
        model=pl.coalesce("request_model", "url_model", "sse_model", "model"),
        status=status,
        response_kind=kind,
        ttfb_s=pl.col("first_payload_ts") - t0,
        ttft_s=pl.when(is_stream).then(pl.col("first_content_t") - t0),
        duration_s=ended - pl.col("request_ts"),
        chunks=pl.when(is_stream).then(pl.col("chunks")).otherwise(0).cast(pl.UInt32),
        response_bytes=pl.col("body_bytes"),
        text_chars=pl.col("text_chars").fill_null(0),
        reasoning_chars=pl.col("reasoning_chars").fill_null(0),
        tool_calls=pl.col("tool_calls").fill_null(pl.lit([], pl.List(pl.Utf8))),
        input_total=input_total,
        input_uncached=input_uncached,
        cache_read=cr,
        cache_write=cw,
        cache_write_1h=pl.col("cache_write_1h_tokens").cast(pl.Int64),
        output_total=output_total,
        reasoning_tokens=pl.col("reasoning_tokens").cast(pl.Int64),
        credits=pl.col("credits"),
        stop_reason=pl.col("stop_reason"),
        complete=pl.when(is_stream).then(finished).when(status.is_not_null()).then(True),
        abandoned_after_finish=(is_stream & finished & ~terminal).fill_null(False),
        issue_class=issue,
        error=pl.coalesce(
            pl.col("transport_error"),
            pl.when(has_provider_error).then(provider_error.str.strip_chars()),
            pl.col("stream_problem"),
        ),
        conversation_id=conversation_id,
        session_id=pl.col("a_session_id"),
        agent_id=pl.col("agent_id"),
        parent_agent_id=pl.col("parent_agent_id"),
        retry_after_s=pl.col("retry_after_s"),
        request_body_fidelity=pl.col("request_body_fidelity"),
        response_body_fidelity=pl.col("response_body_fidelity"),
    )
    # docs/metrics.md, Quota: the response's headers, else the `codex.rate_limits` event it carried.
    limits = req.select(pl.coalesce("ratelimit_headers", "ratelimit_event"))
    calls = with_cost(calls).with_columns(quota_columns(limits.to_series()))
    return calls.select([pl.col(name).cast(dtype) for name, dtype in CALLS_SCHEMA.items()])
