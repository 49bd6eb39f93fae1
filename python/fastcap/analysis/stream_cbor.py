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
from typing import Any, NamedTuple

import orjson
import polars as pl

from fastcap import _native
from fastcap.analysis.bodies import BODIES_SCHEMA, figures, merge_bodies
from fastcap.analysis.content import CONTENT_SCHEMA
from fastcap.analysis.engine import REQUEST_FIELD_COLUMNS, calls_from_requests
from fastcap.analysis.exchanges import apply_model_call_override, requests_from_exchanges
from fastcap.analysis.quota import header_json
from fastcap.formats.cbor import exchanges_from_entries, parse_header_block, parse_http_head
from fastcap.formats.cbor_requests import (
    BACKEND_TO_PROXY,
    ENTRY_META_COLUMNS,
    PROXY_TO_BACKEND,
    PROXY_TO_CLIENT,
    WEIGHT_COLUMNS,
    request_table,
    with_weights,
)
from fastcap.formats.content import decode_content
from fastcap.formats.limits import InflateBudget
from fastcap.model import BODY_FIDELITIES

# The metadata request_table() and inspect read; the payload column is dropped batch by batch,
# and repeated strings are stored as categoricals (4 bytes a row instead of a 16-byte view), which
# is what keeps memory flat on multi-GB captures.
META_COLUMNS = ENTRY_META_COLUMNS

FLUSH_BYTES = 16 << 20  # split finished bodies in batches of about this size
ROUND_BYTES = 32 << 20  # read the file in rounds of about this size


class _Bodies:
    """Finished response bodies with their chunk arrival times, reduced to one row of content
    figures each (`bodies.figures`) in batches of about FLUSH_BYTES, and to one row per request
    at the end (`bodies.merge_bodies`: a request handed over as several bodies counts once)."""

    def __init__(self) -> None:
        self.pending: list[pl.DataFrame] = []
        self.pending_size = 0
        self.parts: list[pl.DataFrame] = []

    def add(self, done: pl.DataFrame) -> None:
        """Take bodies as the assembler hands them over: request_id, body, chunk_ends, chunk_times."""
        if done.height == 0:
            return
        self.pending.append(done.select(list(BODIES_SCHEMA)))
        self.pending_size += int(done["body"].bin.size().sum() or 0)
        if self.pending_size >= FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        part = figures(pl.concat(self.pending, how="vertical_relaxed"))
        self.pending, self.pending_size = [], 0
        # Rebuild the few hundred rows from Python values: string results of an aggregation are
        # views into the event table's buffers, and keeping any of them would keep every flush's
        # events (all the streamed text) alive until the end of the capture.
        self.parts.append(pl.from_dicts(part.to_dicts(), schema=part.schema))

    def close(self) -> pl.DataFrame:
        """(request_id, body_kind, body_bytes, content figures) per request."""
        self.flush()
        rows = (
            pl.concat(self.parts, how="vertical_relaxed")
            if self.parts
            else figures(pl.DataFrame(schema=BODIES_SCHEMA))
        )
        return merge_bodies(rows).rename({"key": "request_id", "kind": "body_kind"}).drop("models")


def scan(
    path: str | os.PathLike[str],
    *,
    recover: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame | ScanContent, list[dict[str, Any]]]:
    """Read a capture batch by batch; returns (metadata entries, per-request content, diagnostics);
    the content is a `ScanContent` when the capture holds WebSocket connections."""
    # Only the forwarded requests and the backend responses are inflated: the client leg of a
    # gateway capture repeats both, so its payloads stay compressed.
    reader = _native.CaptureReader(
        os.fspath(path), recover=recover, decompress_dirs=[PROXY_TO_BACKEND, BACKEND_TO_PROXY]
    )
    metas: list[pl.DataFrame] = []
    requests: list[pl.DataFrame] = []
    declared: list[pl.DataFrame] = []
    limits: list[pl.DataFrame] = []
    websocket_ids: set[str] = set()
    bodies = _Bodies()
    assembler = _native.BodyAssembler(BACKEND_TO_PROXY)
    # Rounds decode on two threads; each is reduced before the next is read, and bodies are
    # reassembled natively (no Python object per chunk).
    while (batch := reader.next_round(ROUND_BYTES)) is not None:
        metas.append(_reduce_meta(pl.DataFrame(batch.select(META_COLUMNS))))
        requests.append(_request_fields(pl.DataFrame(batch.select(["dir", "request_id", "data"]))))
        declared.append(_declared(pl.DataFrame(batch.select(["dir", "request_id", "meta_extra"]))))
        limits.append(_rate_limits(pl.DataFrame(batch.select(["dir", "request_id", "meta_extra", "data"]))))
        websocket_ids.update(_websocket_ids(pl.DataFrame(batch.select(["request_id", "transport"]))))
        bodies.add(pl.DataFrame(assembler.feed(batch)))
        del batch
        if on_progress is not None:
            on_progress(reader.position, reader.size)
    bodies.add(pl.DataFrame(assembler.close()))
    content = bodies.close()
    fields = (
        pl.concat(requests).unique("request_id", keep="first", maintain_order=True)
        if requests
        else pl.DataFrame(
            schema={"request_id": pl.Utf8, **dict.fromkeys([*REQUEST_FIELD_COLUMNS, "amz_target"], pl.Utf8)}
        )
    )
    content = fields.join(content, on="request_id", how="full", coalesce=True).join(
        declared_fidelities(pl.concat(declared) if declared else _declared(_NO_EXTRA)),
        on="request_id",
        how="left",
    )
    content = content.join(
        pl.concat(limits).unique("request_id", keep="first", maintain_order=True) if limits else _NO_LIMITS,
        on="request_id",
        how="left",
    )
    meta = pl.concat(metas) if metas else with_weights(pl.DataFrame(reader.read_all()).select(META_COLUMNS))
    del metas

    if websocket_ids:
        return (
            meta,
            ScanContent(content, _websocket_requests(path, websocket_ids, recover=recover)),
            reader.diagnostics,
        )
    return meta, content, reader.diagnostics


def _request_fields(entries: pl.DataFrame) -> pl.DataFrame:
    """The identifying fields of each forwarded request (P->B payload: its HTTP head and body)."""
    forwarded = entries.filter(
        (pl.col("dir") == PROXY_TO_BACKEND)
        & pl.col("request_id").is_not_null()
        & pl.col("data").is_not_null()
    )
    data = forwarded["data"]
    # Request bodies sent compressed (Codex compresses with zstd over HTTP): few, decoded one by
    # one as formats.cbor does, so that the native field reader sees JSON.
    coded = (data.bin.contains(b"content-encoding:") | data.bin.contains(b"Content-Encoding:")).arg_true()
    if coded.len():
        data = data.scatter(coded, [_decoded_request(data[int(i)]) for i in coded])
    fields = pl.DataFrame(_native.request_fields(data.to_frame()))
    return pl.concat(
        [forwarded.select(pl.col("request_id").cast(pl.Utf8)), fields.rename({"model": "request_model"})],
        how="horizontal",
    ).select("request_id", *REQUEST_FIELD_COLUMNS, "amz_target")


def _decoded_request(data: bytes) -> bytes:
    """An HTTP request (head and body) with its body's content-encoding undone within the body
    limit (`formats.limits`); as it was when it has none or does not decode."""
    _, headers, body = parse_http_head(data)
    enc = next((v for k, v in headers if k.lower() == "content-encoding"), None)
    if not enc or not body:
        return data
    decoded = decode_content(body, enc, InflateBudget.for_file(len(data)))
    if decoded.problem or decoded.over_limit:
        return data
    return data[: len(data) - len(body)] + decoded.body


_NO_LIMITS = pl.DataFrame(schema={"request_id": pl.Utf8, "ratelimit_headers": pl.Utf8})


def _rate_limits(entries: pl.DataFrame) -> pl.DataFrame:
    """(request_id, ratelimit_headers) of the responses in a batch: the rate-limit headers
    (`quota.header_json`) of a stream's header block (the stream-start marker's `hdrs`,
    docs/specs/cbor-v2.md §4.4) or of a non-stream response's HTTP head. One row per response,
    so a few per batch; stream chunks are never parsed."""
    backend = (pl.col("dir") == BACKEND_TO_PROXY) & pl.col("request_id").is_not_null()
    extra = pl.col("meta_extra")
    marked = entries.filter(backend & extra.is_not_null() & extra.str.contains('"hdrs"', literal=True))
    heads = entries.filter(backend & pl.col("data").is_not_null() & pl.col("data").bin.starts_with(b"HTTP/"))
    rows: list[tuple[str, str | None]] = []
    for rid, text in marked.select(pl.col("request_id").cast(pl.Utf8), extra).iter_rows():
        block = orjson.loads(text).get("hdrs")
        rows.append((rid, header_json(parse_header_block(block)) if isinstance(block, str) else None))
    for rid, data in heads.select(pl.col("request_id").cast(pl.Utf8), "data").iter_rows():
        head = data[: data.find(b"\r\n\r\n")] if b"\r\n\r\n" in data else data
        rows.append((rid, header_json(parse_http_head(head)[1])))
    return pl.DataFrame(rows, schema=_NO_LIMITS.schema, orient="row").drop_nulls()


_NO_EXTRA = pl.DataFrame(schema={"dir": pl.UInt8, "request_id": pl.Utf8, "meta_extra": pl.Utf8})


def _websocket_ids(entries: pl.DataFrame) -> list[str]:
    return (
        entries.filter(pl.col("transport") == "websocket")["request_id"]
        .drop_nulls()
        .unique()
        .cast(pl.String)
        .to_list()
    )


def _websocket_requests(path: str | os.PathLike[str], ids: set[str], *, recover: bool) -> pl.DataFrame:
    """The requests table of the WebSocket connections `ids`: each request on a connection its own
    row (`analysis.exchanges`). A second pass that keeps only those connections' entries, so memory
    stays bounded by them; captures without WebSocket traffic never make it."""
    reader = _native.CaptureReader(os.fspath(path), recover=recover)
    keep = pl.col("request_id").cast(pl.String).is_in(list(ids))
    parts = []
    while (batch := reader.next_round(ROUND_BYTES)) is not None:
        parts.append(pl.DataFrame(batch).filter(keep))
        del batch
    entries = pl.concat(parts, how="vertical_relaxed")
    return requests_from_exchanges(exchanges_from_entries(entries, source_path=os.fspath(path)))


class ScanContent(NamedTuple):
    """What `scan` hands to `calls_from_scan` for a capture with WebSocket connections: the
    per-request content, and the requests of each connection, one row each."""

    per_request: pl.DataFrame
    websocket: pl.DataFrame


def _declared(entries: pl.DataFrame) -> pl.DataFrame:
    """The fidelity an entry declares in fastcap's extension keys (`meta_extra`): `fid` (written
    by `fastcap convert` for a body that came from a weaker source) or `trunc` (the capture addon
    cut the body at `fastcap_max_body`); only the few entries that carry one."""
    extra = pl.col("meta_extra")
    return (
        entries.filter(extra.is_not_null() & (extra.str.contains('"fid"') | extra.str.contains('"trunc"')))
        .select(
            "request_id",
            response=pl.col("dir").is_in([PROXY_TO_CLIENT, BACKEND_TO_PROXY]),
            fid=extra.str.json_path_match("$.fid"),
            trunc=extra.str.json_path_match("$.trunc").is_not_null(),
        )
        .filter(pl.col("request_id").is_not_null())
    )


def declared_fidelities(declared: pl.DataFrame) -> pl.DataFrame:
    """(request_id, request_fidelity_declared, response_fidelity_declared): per request and side,
    the first declared `fid` that names a fidelity, else `truncated` when an entry says `trunc`
    (as `formats.cbor` decides it for each exchange)."""
    known = pl.col("fid").is_in(list(BODY_FIDELITIES))
    value = pl.when(known).then(pl.col("fid")).when(pl.col("trunc")).then(pl.lit("truncated"))
    per_side = (
        declared.with_columns(value=value, rank=pl.when(known).then(0).otherwise(1))
        .filter(pl.col("value").is_not_null())
        .sort("rank", maintain_order=True)
        .group_by("request_id", "response", maintain_order=True)
        .agg(pl.col("value").first())
    )
    side = pl.col("response")
    return per_side.group_by("request_id").agg(
        request_fidelity_declared=pl.col("value").filter(~side).first(),
        response_fidelity_declared=pl.col("value").filter(side).first(),
    )


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


def calls_from_scan(meta: pl.DataFrame, content: pl.DataFrame | ScanContent) -> pl.DataFrame:
    """The calls table (`CALLS_SCHEMA`) from streamed metadata and content aggregates; each
    request on a WebSocket connection is a call of its own, in the connection's place."""
    websocket = None
    if isinstance(content, ScanContent):
        content, websocket = content
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
        amz_target=pl.col("amz_target"),
        response_content_type=pl.lit(None, pl.Utf8),
        status=pl.col("status"),
        # A stream by its framing too (an EventStream or SSE body recorded in one piece), as
        # `analysis.exchanges` decides it.
        is_stream=is_stream | pl.col("body_kind").is_in(["sse", "eventstream"]).fill_null(False),
        response_kind=pl.coalesce(
            pl.col("body_kind"), pl.when(is_stream).then(pl.lit("sse")).otherwise(pl.lit("json"))
        ),
        model=pl.col("model"),
        request_ts=pl.col("request_ts"),
        request_sent_ts=pl.col("request_sent_ts"),
        first_payload_ts=pl.col("first_payload_ts"),
        stream_end_ts=pl.col("stream_end_ts"),
        last_payload_ts=pl.col("last_payload_ts"),
        # Chunks are the pieces a stream was recorded in; a body recorded in one entry has none.
        chunks=pl.when(is_stream).then(pl.col("chunks")).otherwise(0),
        # Non-stream responses are one entry holding HTTP framing: the body bytes without it.
        body_bytes=pl.coalesce(pl.col("body_bytes"), pl.col("response_bytes").cast(pl.Int64)),
        a_session_id=pl.col("a_session_id"),
        retry_after_s=pl.col("retry_after_s"),
        ratelimit_headers=pl.col("ratelimit_headers"),
        transport_error=pl.when(pl.col("eos_termination") == "error").then(
            pl.coalesce("eos_reason", "eos_error_class", pl.lit("stream ended with an error"))
        ),
        # As formats.cbor decides it: a fidelity the entries declare, else from the framing entries.
        request_body_fidelity=pl.when(pl.col("request_fidelity_declared").is_not_null())
        .then(pl.col("request_fidelity_declared"))
        .when(pl.col("request_ts").is_not_null())
        .then(pl.lit("complete"))
        .otherwise(pl.lit("missing")),
        response_body_fidelity=pl.when(pl.col("response_fidelity_declared").is_not_null())
        .then(pl.col("response_fidelity_declared"))
        .when(is_stream & pl.col("stream_end_ts").is_null())
        .then(pl.lit("truncated"))
        .when(is_stream | pl.col("status").is_not_null())
        .then(pl.lit("complete"))
        .otherwise(pl.lit("missing")),
    )
    if websocket is None:
        return calls_from_requests(requests)
    # Each connection's row gives way to its requests' rows, in the connection's place.
    # A request split off a connection is `<connection id>/<n>` (`dialects.openai_ws`).
    place = requests.select(_connection=pl.col("request_id")).with_row_index("_place")
    rid = pl.col("request_id")
    connection = (
        pl.when(rid.is_in(place["_connection"].to_list())).then(rid).otherwise(rid.str.replace(r"/\d+$", ""))
    )
    split = (
        websocket.with_columns(_connection=connection)
        .join(place, on="_connection", how="left")
        .with_columns(pl.col("_place").fill_null(requests.height))
    )
    whole = (
        requests.with_row_index("_place")
        .filter(~rid.is_in(split["_connection"].unique().to_list()))
        .with_columns(model_call_override=pl.lit(None, pl.Boolean))
    )
    combined = pl.concat([whole, split.select(whole.columns)], how="vertical_relaxed").sort(
        "_place", maintain_order=True
    )
    return apply_model_call_override(
        calls_from_requests(combined.drop("_place", "model_call_override")), combined
    )
