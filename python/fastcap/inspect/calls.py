"""inspect's requests through the one calls builder (`fastcap.analysis.engine.calls_from_requests`):
usage, completion and the issue class of every request mean what they mean in `fastcap analyze`,
`report` and docs/metrics.md, because they are computed by the same expressions.

Content, usage and stop reason come from the model API's leg (B->P, `bp_c_*`), never from the
client leg, which a gateway may have translated to another API (docs/metrics.md, Content).
"""

from __future__ import annotations

import polars as pl

from fastcap.analysis.content import CONTENT_SCHEMA
from fastcap.analysis.engine import REQUEST_SCHEMA, calls_from_requests

USAGE_COLUMNS = (
    "input_total",
    "input_uncached",
    "cache_read",
    "cache_write",
    "output_total",
    "reasoning_tokens",
)
# The calls-table columns added to inspect's requests (`with_calls`).
CALL_COLUMNS = (
    "api_name",
    "dialect",
    "is_model_call",
    "started_at",
    "ended_at",
    "ttft_s",
    *USAGE_COLUMNS,
    "complete",
    "abandoned_after_finish",
    "issue_class",
    "error",
)


def engine_requests(requests: pl.DataFrame) -> pl.DataFrame:
    """inspect's requests (`prepare.requests_of` with the B->P content joined, `bp_c_*`) as the
    engine's requests table (`engine.REQUEST_SCHEMA` + `content.CONTENT_SCHEMA`), in the same
    order. Times and fidelities as `analysis.stream_cbor.calls_from_scan` derives them from the
    same metadata; columns inspect does not know stay null."""
    is_stream = pl.col("stream").fill_null(False)
    given: dict[str, pl.Expr] = {
        "request_id": pl.col("key"),
        "http_method": pl.col("method"),
        "url": pl.col("url"),
        "status": pl.col("status"),
        "is_stream": is_stream,
        "response_kind": pl.coalesce(
            pl.col("bp_c_kind"), pl.when(is_stream).then(pl.lit("sse")).otherwise(pl.lit("json"))
        ),
        "model": pl.col("model"),
        "request_ts": pl.coalesce("pb_ts", "cp_ts"),
        "request_sent_ts": pl.col("rts"),
        "first_payload_ts": pl.col("bp_first_ts"),
        "stream_end_ts": pl.col("se_ts"),
        "last_payload_ts": pl.col("bp_last_ts"),
        "chunks": pl.col("bp_chunks"),
        "body_bytes": pl.coalesce(pl.col("bp_c_body_bytes"), pl.col("bp_bytes")),
        "a_session_id": pl.col("asid"),
        "retry_after_s": pl.col("retry_after"),
        "transport_error": pl.when(pl.col("eos_term") == "error").then(
            pl.coalesce("eos_reason", "eos_err_cls", pl.lit("stream ended with an error"))
        ),
        "request_body_fidelity": pl.when(pl.coalesce("pb_ts", "cp_ts").is_not_null())
        .then(pl.lit("complete"))
        .otherwise(pl.lit("missing")),
        "response_body_fidelity": pl.when(is_stream & pl.col("se_ts").is_null())
        .then(pl.lit("truncated"))
        .when(is_stream | pl.col("status").is_not_null())
        .then(pl.lit("complete"))
        .otherwise(pl.lit("missing")),
    }
    given.update({c[4:]: pl.col(c) for c in requests.columns if c.startswith("req_")})
    given.update({c[5:]: pl.col(c) for c in requests.columns if c.startswith("bp_c_")})
    schema = {**REQUEST_SCHEMA, **{c: t for c, t in CONTENT_SCHEMA.items() if c != "exchange_index"}}
    return requests.select(
        [(given[c] if c in given else pl.lit(None)).cast(t).alias(c) for c, t in schema.items()]
    )


def calls_of(requests: pl.DataFrame) -> pl.DataFrame:
    """The calls table (`analysis.calls.CALLS_SCHEMA`) of inspect's requests, row for row: call
    `index` i is request number i + 1."""
    return calls_from_requests(engine_requests(requests))


def with_calls(requests: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(requests with `CALL_COLUMNS` added, the calls table)."""
    calls = calls_of(requests)
    return requests.hstack(calls.select(CALL_COLUMNS).get_columns()), calls


def _n(v: int | None) -> str:
    return "—" if v is None else f"{v:,}"


def usage_text(r: dict[str, object]) -> str | None:
    """`input=51,363 (1,203 uncached, 48,112 cache read, 2,048 cache write), output=96`; None
    when the response reported no usage at all."""
    vals = {c: r.get(c) for c in USAGE_COLUMNS}
    ints = {c: v if isinstance(v, int) else None for c, v in vals.items()}
    if all(v is None for v in ints.values()):
        return None
    text = f"input={_n(ints['input_total'])}"
    parts = []
    if ints["cache_read"] is not None or ints["cache_write"] is not None:
        parts.append(f"{_n(ints['input_uncached'])} uncached")
        if ints["cache_read"] is not None:
            parts.append(f"{_n(ints['cache_read'])} cache read")
        if ints["cache_write"] is not None:
            parts.append(f"{_n(ints['cache_write'])} cache write")
    if parts:
        text += f" ({', '.join(parts)})"
    text += f", output={_n(ints['output_total'])}"
    if ints["reasoning_tokens"]:
        text += f" ({_n(ints['reasoning_tokens'])} reasoning)"
    return text


__all__ = ["CALL_COLUMNS", "USAGE_COLUMNS", "calls_of", "engine_requests", "usage_text", "with_calls"]
