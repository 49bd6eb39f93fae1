"""One row per backend request, correlated in linear time.

The reference inspector rescans the file for every request (O(requests x entries), docs/specs/cbor-v2.md
§11.1). Here every entry gets a request key once — its `request_id`, or for captures without
one, a per-session window number — and everything else is a `group_by` on that key.

Timing columns follow docs/specs/cbor-v2.md §6: each derived value has a `*_source` column saying which
definition produced it, and values of different definitions never share a column.
"""

from __future__ import annotations

import polars as pl

CLIENT_TO_PROXY, PROXY_TO_CLIENT, PROXY_TO_BACKEND, BACKEND_TO_PROXY = range(4)

# The entry metadata the correlation reads (`request_table`), and with it every pass that keeps
# entries without their payloads (`analysis.stream_cbor`, `inspect.load`).
ENTRY_META_COLUMNS = [
    "file_index",
    "ts",
    "dir",
    "seq",
    "data_len",
    "session_id",
    "a_session_id",
    "b_session_id",
    "backend",
    "model",
    "request_id",
    "chunk_index",
    "is_stream_start",
    "is_stream_end",
    "total_chunks",
    "total_bytes",
    "canonical_usage",
    "status_code",
    "retry_after_seconds",
    "latency_ms",
    "ttfb_ms",
    "stream_duration_ms",
    "eos",
    "eos_signal",
    "eos_reason",
    "eos_termination_category",
    "eos_error_classification",
    "eos_error_status_code",
    "transport",
    "http_method",
    "url",
    "http_status_code",
    "request_timestamp",
]


def with_request_keys(entries: pl.DataFrame) -> pl.DataFrame:
    """Add `a_sid` (A-session id), `req_key` (correlation key) and fill `backend`/`model` on
    stream chunks from their stream-start marker (chunks never carry them, §5)."""
    has_cp = entries.height > 0 and bool((entries["dir"] == CLIENT_TO_PROXY).any())
    anchor_dir = CLIENT_TO_PROXY if has_cp else PROXY_TO_BACKEND
    df = entries.with_columns(
        a_sid=pl.coalesce("a_session_id", "session_id"),
    ).with_columns(
        # Session window number: how many request anchors of this session came before.
        _window=(pl.col("dir") == anchor_dir).cast(pl.UInt32).cum_sum().over(pl.col("a_sid").fill_null("")),
    )
    df = df.with_columns(
        req_key=pl.when(pl.col("request_id").is_not_null())
        .then(pl.col("request_id"))
        .otherwise(pl.format("~{}#{}", pl.col("a_sid").fill_null(""), pl.col("_window"))),
    ).drop("_window")
    fill_from = ["req_key", "dir"]
    return df.with_columns(
        backend=pl.col("backend").fill_null(pl.col("backend").drop_nulls().first().over(fill_from)),
        model=pl.col("model").fill_null(pl.col("model").drop_nulls().first().over(fill_from)),
    )


# Columns of pre-aggregated rows (see `stream_cbor`): a row may stand for `n_rows` stream chunks
# of one request and direction, from `file_index` (its first) to `last_index`, arriving from
# `ts` (the earliest) to `last_ts` (the latest), with `data_len` their summed payload bytes.
WEIGHT_COLUMNS = ("n_rows", "last_ts", "last_index")


def with_weights(entries: pl.DataFrame) -> pl.DataFrame:
    """Entries as rows of weight 1, unless they already carry `WEIGHT_COLUMNS`."""
    if "n_rows" in entries.columns:
        return entries
    return entries.with_columns(
        n_rows=pl.lit(1, pl.UInt32), last_ts=pl.col("ts"), last_index=pl.col("file_index")
    )


def _first(expr: pl.Expr, cond: pl.Expr) -> pl.Expr:
    return expr.filter(cond & expr.is_not_null()).first()


def request_table(entries: pl.DataFrame) -> pl.DataFrame:
    """Aggregate entries into one row per request key (see module docstring for the columns)."""
    df = with_request_keys(with_weights(entries))
    d = pl.col("dir")
    cp, pc, pb, bp = d == CLIENT_TO_PROXY, d == PROXY_TO_CLIENT, d == PROXY_TO_BACKEND, d == BACKEND_TO_PROXY
    payload = pl.col("data_len").fill_null(0) > 0
    status = pl.coalesce("http_status_code", "status_code")
    not_client = pl.col("backend") != "client"
    grouped = df.group_by("req_key", maintain_order=True).agg(
        first_index=pl.col("file_index").min(),
        request_id=pl.col("request_id").drop_nulls().first(),
        a_session_id=pl.col("a_sid").drop_nulls().first(),
        b_session_id=pl.col("b_session_id").drop_nulls().first(),
        client_ts=_first(pl.col("ts"), cp),
        client_seq=_first(pl.col("seq"), cp),
        client_request_bytes=_first(pl.col("data_len"), cp),
        backend_ts=_first(pl.col("ts"), pb),
        backend_seq=_first(pl.col("seq"), pb),
        backend_request_bytes=_first(pl.col("data_len"), pb),
        backend=pl.coalesce(
            _first(pl.col("backend"), (pb | bp) & not_client), _first(pl.col("backend"), pc & not_client)
        ),
        model=pl.coalesce(
            _first(pl.col("model"), pb), _first(pl.col("model"), cp), _first(pl.col("model"), bp)
        ),
        url=pl.coalesce(_first(pl.col("url"), pb), _first(pl.col("url"), cp), _first(pl.col("url"), bp)),
        http_method=pl.coalesce(_first(pl.col("http_method"), pb), _first(pl.col("http_method"), cp)),
        transport=pl.coalesce(_first(pl.col("transport"), pb), _first(pl.col("transport"), cp)),
        status=_first(status, bp),
        client_status=_first(status, pc),
        is_stream=(bp & pl.col("is_stream_start").fill_null(False)).any(),
        stream_start_ts=_first(pl.col("ts"), bp & pl.col("is_stream_start").fill_null(False)),
        stream_end_ts=_first(pl.col("ts"), bp & pl.col("is_stream_end").fill_null(False)),
        # `rts` on the stream-start marker: when the proxy had passed the request on (docs/metrics.md t0).
        request_sent_ts=_first(pl.col("request_timestamp"), bp & pl.col("is_stream_start").fill_null(False))
        if "request_timestamp" in df.columns
        else pl.lit(None, pl.Float64),
        # By arrival time, not file position: a capture's write batches can land out of order.
        first_payload_ts=pl.col("ts").filter(bp & payload).min(),
        last_payload_ts=pl.col("last_ts").filter(bp & payload).max(),
        last_backend_ts=pl.col("last_ts").filter(bp).max(),
        chunks=pl.col("n_rows").filter(bp & payload).sum(),
        response_bytes=pl.col("data_len").filter(bp & payload).sum(),
        marker_total_chunks=_first(pl.col("total_chunks"), bp),
        marker_total_bytes=_first(pl.col("total_bytes"), bp),
        ttfb_ms=_first(pl.col("ttfb_ms"), bp),
        latency_ms=_first(pl.col("latency_ms"), bp),
        stream_duration_ms=_first(pl.col("stream_duration_ms"), bp),
        retry_after_s=_first(pl.col("retry_after_seconds"), bp | pc),
        eos_signal=_first(pl.col("eos_signal"), bp),
        eos_reason=_first(pl.col("eos_reason"), bp),
        eos_termination=_first(pl.col("eos_termination_category"), bp),
        eos_error_class=_first(pl.col("eos_error_classification"), bp),
        eos_error_status=_first(pl.col("eos_error_status_code"), bp),
        canonical_usage=_first(pl.col("canonical_usage"), bp),
        client_chunks=pl.col("n_rows").filter(pc & payload).sum(),
        client_bytes=pl.col("data_len").filter(pc & payload).sum(),
        last_client_ts=pl.col("last_ts").filter(pc).max(),
        entries=pl.col("n_rows").sum(),
    )
    req_ts = pl.coalesce("backend_ts", "client_ts")
    grouped = grouped.with_columns(request_ts=req_ts).with_columns(
        ttfb_s=pl.when(pl.col("ttfb_ms").is_not_null())
        .then(pl.col("ttfb_ms") / 1000)
        .otherwise(pl.col("first_payload_ts") - pl.col("request_ts")),
        ttfb_source=pl.when(pl.col("ttfb_ms").is_not_null())
        .then(pl.lit("ttfb"))
        .when(pl.col("first_payload_ts").is_not_null() & pl.col("request_ts").is_not_null())
        .then(pl.lit("ts"))
        .otherwise(None),
        latency_s=pl.when(pl.col("latency_ms").is_not_null())
        .then(pl.col("latency_ms") / 1000)
        .otherwise(pl.col("last_backend_ts") - pl.col("request_ts")),
        latency_source=pl.when(pl.col("latency_ms").is_not_null())
        .then(pl.lit("lat"))
        .when(pl.col("last_backend_ts").is_not_null() & pl.col("request_ts").is_not_null())
        .then(pl.lit("ts"))
        .otherwise(None),
        stream_duration_s=pl.when(pl.col("stream_duration_ms").is_not_null())
        .then(pl.col("stream_duration_ms") / 1000)
        .otherwise(pl.col("stream_end_ts") - pl.col("stream_start_ts")),
        stream_duration_source=pl.when(pl.col("stream_duration_ms").is_not_null())
        .then(pl.lit("sdur"))
        .when(pl.col("stream_end_ts").is_not_null() & pl.col("stream_start_ts").is_not_null())
        .then(pl.lit("ts"))
        .otherwise(None),
        client_time_s=pl.col("last_client_ts") - pl.col("client_ts"),
        totals_mismatch=(
            (
                pl.col("marker_total_chunks").is_not_null()
                & (pl.col("marker_total_chunks") != pl.col("chunks"))
            )
            | (
                pl.col("marker_total_bytes").is_not_null()
                & (pl.col("marker_total_bytes") != pl.col("response_bytes"))
            )
        ),
        complete=pl.when(pl.col("is_stream"))
        .then(pl.col("stream_end_ts").is_not_null())
        .otherwise(pl.col("status").is_not_null()),
    )
    # Only keys that carry a request (C->P or P->B); orphans (responses without a request) are
    # kept too, flagged, so nothing is dropped silently.
    return grouped.with_columns(orphan=pl.col("request_ts").is_null()).sort("first_index")


def response_bodies(
    entries: pl.DataFrame, direction: int = BACKEND_TO_PROXY
) -> dict[str, list[tuple[float | None, bytes]]]:
    """Payload entries of one leg per request key, in stream order (`ci`, then `seq`), as
    (arrival ts, bytes) pairs. Markers and completion entries are excluded."""
    df = with_request_keys(entries).filter(
        (pl.col("dir") == direction) & (pl.col("data_len").fill_null(0) > 0)
    )
    df = df.sort(["req_key", pl.col("chunk_index").fill_null(0), pl.col("seq").fill_null(0), "file_index"])
    grouped = df.group_by("req_key", maintain_order=True).agg(pl.col("ts"), pl.col("data"))
    out: dict[str, list[tuple[float | None, bytes]]] = {}
    for key, times, datas in grouped.iter_rows():
        out[key] = list(zip(times, datas, strict=True))
    return out
