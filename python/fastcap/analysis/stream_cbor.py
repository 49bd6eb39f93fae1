"""Streaming analysis of large CBOR V2 captures with flat memory.

Batches are reduced to their metadata columns as they are read; response payloads are held only
until their stream ends (stream-end marker, completion entry, or a non-stream response), then
split and field-extracted in one native call per flush (`_native.sse_column`). The result is the
same calls table `fastcap.analysis.calls` builds from full dialect analyses, computed without a
Python object per event or per entry.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import orjson
import polars as pl

from fastcap import _native
from fastcap.analysis.content import CONTENT_SCHEMA, aggregate_events, eventstream_events
from fastcap.analysis.engine import REQUEST_FIELD_COLUMNS, calls_from_requests
from fastcap.readers.cbor_requests import (
    BACKEND_TO_PROXY,
    PROXY_TO_BACKEND,
    PROXY_TO_CLIENT,
    WEIGHT_COLUMNS,
    request_table,
    with_weights,
)

# Metadata request_table() needs; the payload column is dropped batch by batch, and repeated
# strings are stored as categoricals (4 bytes a row instead of a 16-byte view), which is what
# keeps memory flat on multi-GB captures.
META_COLUMNS = [
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

FLUSH_BYTES = 16 << 20  # split finished bodies in batches of about this size
ROUND_BYTES = 32 << 20  # read the file in rounds of about this size


def _body(data: bytes) -> bytes:
    """Strip the HTTP framing of a non-stream V2 B->P entry."""
    if data.startswith(b"HTTP/"):
        _, sep, body = data.partition(b"\r\n\r\n")
        return body if sep else data
    return data


def _as_one_event(data: bytes) -> bytes:
    """A non-stream response body as one SSE event, so that the same native extractor reads its
    error, usage and stop reason: the JSON re-serialised on one line (a pretty-printed body would
    otherwise end the event at its first line break)."""
    body = _body(data)
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    return b"data: " + orjson.dumps(value) + b"\n\n" if isinstance(value, dict) else body


class _Bodies:
    """Finished response bodies with their chunk arrival times, split and field-extracted through
    the native splitter in batches of about FLUSH_BYTES, and reduced to one row of content figures
    per request (`content.aggregate_events`)."""

    def __init__(self) -> None:
        self.pending: list[pl.DataFrame] = []
        self.pending_size = 0
        self.parts: list[pl.DataFrame] = []

    def add(self, done: pl.DataFrame) -> None:
        """Take bodies as the assembler hands them over: request_id, body, chunk_ends, chunk_times."""
        if done.height == 0:
            return
        self.pending.append(done)
        self.pending_size += int(done["body"].bin.size().sum() or 0)
        if self.pending_size >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        done = pl.concat(self.pending, how="vertical_relaxed")
        self.pending, self.pending_size = [], 0
        # A non-stream response is one entry holding its HTTP framing; there are few of them (one
        # per call, never per chunk), so their heads are cut off one by one.
        framed = pl.col("body").bin.starts_with(b"HTTP/")
        bodies = done.with_row_index("exchange_index").with_columns(
            body=pl.when(framed)
            .then(pl.col("body").map_elements(_as_one_event, return_dtype=pl.Binary, skip_nulls=True))
            .otherwise(pl.col("body")),
            framed=framed,
            # An AWS EventStream body starts with its first frame's big-endian length (< 16 MiB, so
            # a zero byte); SSE starts with a field name or a comment. Its frames are not read here.
            body_kind=pl.when(framed)
            .then(pl.lit("json"))
            .when(pl.col("body").bin.starts_with(b"\x00"))
            .then(pl.lit("eventstream"))
            .otherwise(pl.lit("sse")),
        )
        # Each body kind through its native decoder; both give events in one schema, indexed by row.
        is_es = pl.col("body_kind") == "eventstream"
        sse_events = pl.DataFrame(_native.sse_column(bodies.select(pl.when(~is_es).then("body"))))
        es_events, intact = eventstream_events(bodies.select(pl.when(is_es).then("body")).to_series())
        events = pl.concat([sse_events, es_events], how="vertical_relaxed")
        content = aggregate_events(events, bodies.filter(pl.col("body_kind") != "json"), intact)
        part = (
            done.with_row_index("exchange_index")
            .with_columns(body_kind=bodies["body_kind"])
            .select(
                "exchange_index",
                "request_id",
                "body_kind",
                body_bytes=pl.col("body")
                .map_elements(lambda b: len(_body(b)), return_dtype=pl.Int64, skip_nulls=True)
                .cast(pl.Int64),
            )
            .join(content, on="exchange_index", how="left", maintain_order="left")
            .drop("exchange_index")
        )
        # Rebuild the few hundred rows from Python values: string results of an aggregation are
        # views into the event table's buffers, and keeping any of them would keep every flush's
        # events (all the streamed text) alive until the end of the capture.
        self.parts.append(pl.from_dicts(part.to_dicts(), schema=part.schema))

    def close(self) -> pl.DataFrame:
        self.flush()
        if not self.parts:
            return pl.DataFrame(
                schema={"request_id": pl.Utf8, "body_kind": pl.Utf8, "body_bytes": pl.Int64, **CONTENT_SCHEMA}
            ).drop("exchange_index")
        return pl.concat(self.parts, how="vertical_relaxed")


def scan(
    path: str | os.PathLike[str],
    *,
    recover: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, list[dict[str, Any]]]:
    """Read a capture batch by batch; returns (metadata entries, per-request content, diagnostics)."""
    # Only the forwarded requests and the backend responses are inflated: the client leg of a
    # gateway capture repeats both, so its payloads stay compressed.
    reader = _native.CaptureReader(
        os.fspath(path), recover=recover, decompress_dirs=[PROXY_TO_BACKEND, BACKEND_TO_PROXY]
    )
    metas: list[pl.DataFrame] = []
    requests: list[pl.DataFrame] = []
    bodies = _Bodies()
    assembler = _native.BodyAssembler(BACKEND_TO_PROXY)
    # Rounds decode on two threads; each is reduced before the next is read, and bodies are
    # reassembled natively (no Python object per chunk).
    while (batch := reader.next_round(ROUND_BYTES)) is not None:
        metas.append(_reduce_meta(pl.DataFrame(batch.select(META_COLUMNS))))
        requests.append(_request_fields(pl.DataFrame(batch.select(["dir", "request_id", "data"]))))
        bodies.add(pl.DataFrame(assembler.feed(batch)))
        del batch
        if on_progress is not None:
            on_progress(reader.position, reader.size)
    bodies.add(pl.DataFrame(assembler.close()))
    content = bodies.close()
    fields = (
        pl.concat(requests).unique("request_id", keep="first", maintain_order=True)
        if requests
        else pl.DataFrame(schema={"request_id": pl.Utf8, **dict.fromkeys(REQUEST_FIELD_COLUMNS, pl.Utf8)})
    )
    content = fields.join(content, on="request_id", how="full", coalesce=True)
    meta = pl.concat(metas) if metas else with_weights(pl.DataFrame(reader.read_all()).select(META_COLUMNS))
    del metas

    return meta, content, reader.diagnostics


def _request_fields(entries: pl.DataFrame) -> pl.DataFrame:
    """The identifying fields of each forwarded request (P->B payload: its HTTP head and body)."""
    forwarded = entries.filter(
        (pl.col("dir") == PROXY_TO_BACKEND)
        & pl.col("request_id").is_not_null()
        & pl.col("data").is_not_null()
    )
    fields = pl.DataFrame(_native.request_fields(forwarded.select("data")))
    return pl.concat(
        [forwarded.select(pl.col("request_id").cast(pl.Utf8)), fields.rename({"model": "request_model"})],
        how="horizontal",
    ).select("request_id", *REQUEST_FIELD_COLUMNS)


def _reduce_meta(meta: pl.DataFrame) -> pl.DataFrame:
    """Collapse each request's payload entries per direction in this round (its stream chunks,
    nearly every entry of a capture) into one weighted row (`requests.WEIGHT_COLUMNS`), keep
    every other entry (requests, markers) as it is, and store repeated strings as categoricals.

    What is kept of a multi-GB file is then about one row per request and round instead of one
    per entry, in fresh memory, so none of the round's decoded columns stay referenced. The
    collapsed row sits at its first chunk and holds each column's first value among its chunks:
    chunks repeat their request's metadata (docs/specs/cbor-v2.md §5), and everything `request_table`
    takes from them is a first value, except the counts, sums and last times the weights carry.
    """
    d = pl.col("dir")
    chunk = (
        ((d == BACKEND_TO_PROXY) | (d == PROXY_TO_CLIENT))
        & pl.col("request_id").is_not_null()
        & (pl.col("data_len").fill_null(0) > 0)
    )
    meta = meta.with_columns(_chunk=chunk)
    kept = with_weights(meta.filter(~pl.col("_chunk")).drop("_chunk"))
    firsts = [
        pl.col(c).drop_nulls().first()
        for c in META_COLUMNS
        if c not in ("request_id", "dir", "file_index", "ts", "data_len")
    ]
    chunks = (
        meta.filter(pl.col("_chunk"))
        .drop("_chunk")
        .group_by("request_id", "dir", maintain_order=True)
        .agg(
            pl.col("file_index").first(),
            pl.col("ts").min(),  # arrival order, not file order (batches can land out of order)
            *firsts,
            data_len=pl.col("data_len").sum(),
            n_rows=pl.len().cast(pl.UInt32),
            last_ts=pl.col("ts").max(),
            last_index=pl.col("file_index").last(),
        )
    )
    out = pl.concat([kept, chunks], how="diagonal_relaxed").sort("file_index")
    return out.select([*META_COLUMNS, *WEIGHT_COLUMNS]).with_columns(pl.col(pl.String).cast(pl.Categorical))


def calls_from_scan(meta: pl.DataFrame, content: pl.DataFrame) -> pl.DataFrame:
    """The calls table (`CALLS_SCHEMA`) from streamed metadata and content aggregates."""
    # One row per request: back to plain strings now that the per-entry volume is gone.
    req = request_table(meta).with_columns(pl.col(pl.Categorical).cast(pl.String))
    req = req.join(content, on="request_id", how="left", suffix="_content", maintain_order="left")
    is_stream = pl.col("is_stream")
    requests = req.select(
        *[c for c in CONTENT_SCHEMA if c != "exchange_index"],
        *REQUEST_FIELD_COLUMNS,
        request_id=pl.col("request_id"),
        http_method=pl.col("http_method"),
        url=pl.col("url"),
        amz_target=pl.lit(None, pl.Utf8),
        response_content_type=pl.lit(None, pl.Utf8),
        status=pl.col("status"),
        is_stream=is_stream,
        response_kind=pl.coalesce(
            pl.col("body_kind"), pl.when(is_stream).then(pl.lit("sse")).otherwise(pl.lit("json"))
        ),
        model=pl.col("model"),
        request_ts=pl.col("request_ts"),
        request_sent_ts=pl.col("request_sent_ts"),
        first_payload_ts=pl.col("first_payload_ts"),
        stream_end_ts=pl.col("stream_end_ts"),
        last_payload_ts=pl.col("last_payload_ts"),
        chunks=pl.col("chunks"),
        # Non-stream responses are one entry holding HTTP framing: the body bytes without it.
        body_bytes=pl.coalesce(pl.col("body_bytes"), pl.col("response_bytes").cast(pl.Int64)),
        a_session_id=pl.col("a_session_id"),
        retry_after_s=pl.col("retry_after_s"),
        transport_error=pl.when(pl.col("eos_termination") == "error").then(
            pl.coalesce("eos_reason", "eos_error_class", pl.lit("stream ended with an error"))
        ),
        # As readers.cbor decides it, from the framing entries; the extension keys (`fid`, `trunc`)
        # live in metadata this pass does not project, so converted or max_body-cut bodies show
        # `complete` here (the full path reads them).
        request_body_fidelity=pl.when(pl.col("request_ts").is_not_null())
        .then(pl.lit("complete"))
        .otherwise(pl.lit("missing")),
        response_body_fidelity=pl.when(is_stream & pl.col("stream_end_ts").is_null())
        .then(pl.lit("truncated"))
        .when(is_stream | pl.col("status").is_not_null())
        .then(pl.lit("complete"))
        .otherwise(pl.lit("missing")),
    )
    return calls_from_requests(requests)
