"""Finished response bodies → one row of content figures each, for every reader of bodies.

A body is told apart by its content type (from the HTTP head of a non-stream entry) or its first
bytes: SSE bodies go through `_native.sse_column`, AWS EventStream bodies through
`content.eventstream_events`, a JSON body as one SSE event (so the same native extractor reads
its error, usage and stop reason); then `content.aggregate_events` over all their events, with
the chunk arrival times for TTFT. Used by the streaming CBOR pass (`stream_cbor`), `inspect`
and the exchanges of other formats (`exchanges`).
"""

from __future__ import annotations

import orjson
import polars as pl

from fastcap import _native
from fastcap.analysis.content import CONTENT_SCHEMA, aggregate_events, eventstream_events
from fastcap.formats.cbor import parse_http_head

# One row per (request key, leg): the figures of `analysis.content.CONTENT_SCHEMA` (without the
# exchange index), every model the leg named (`models`, for the analysis' lists), the body kind
# and its size without HTTP framing.
FIGURES: dict[str, pl.DataType | type[pl.DataType]] = {
    "kind": pl.String,
    "body_bytes": pl.Int64,
    **{c: t for c, t in CONTENT_SCHEMA.items() if c != "exchange_index"},
    "models": pl.List(pl.String),
}

# The assembler's hand-over (`_native.BodyAssembler.feed`), with `request_id` as the key.
BODIES_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "request_id": pl.String,
    "body": pl.Binary,
    "chunk_ends": pl.List(pl.UInt64),
    "chunk_times": pl.List(pl.Float64),
}


_SSE_STARTS = (b"data:", b"event:", b":", b"id:", b"retry:")


def body_kind(content_type: str, data: bytes) -> str:
    """`sse`, `json`, `eventstream`, `text` or `empty`: the content type, else the first bytes."""
    ct = content_type
    if "event-stream" in ct:
        return "sse"
    if "amazon.eventstream" in ct:
        return "eventstream"
    head = data[:64].lstrip()
    if head.startswith(_SSE_STARTS):
        return "sse"
    if head[:1] in (b"{", b"["):
        return "json"
    if len(data) >= 16 and data[0] == 0 and b":event-type" in data[:512]:
        return "eventstream"
    return "text" if data else "empty"


def unframe(data: bytes) -> tuple[bytes, str]:
    """(body, content type) of a payload: a non-stream B->P entry holds its HTTP status line and
    headers before the body."""
    if data.startswith(b"HTTP/"):
        _, headers, body = parse_http_head(data)
        ctype = next((v for k, v in headers if k.lower() == "content-type"), "")
        return body, ctype.lower()
    return data, ""


def json_as_one_event(body: bytes) -> bytes:
    """A JSON body as one SSE event, re-serialised on one line (a pretty-printed body would end
    the event at its first line break), so that the native extractor reads its error, usage and
    stop reason as `fastcap analyze` does."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return b""
    return b"data: " + orjson.dumps(value) + b"\n\n" if isinstance(value, dict) else b""


def _models(events: pl.DataFrame) -> pl.DataFrame:
    """(exchange_index, models): every model an exchange's events named, in order."""
    return events.group_by("exchange_index").agg(
        models=pl.col("model").drop_nulls().unique(maintain_order=True)
    )


def _remapped(events: pl.DataFrame, rows: list[int]) -> pl.DataFrame:
    """Events of a list of bodies, their exchange index turned into the rows they came from."""
    index = pl.DataFrame({"exchange_index": range(len(rows)), "_to": rows}).cast(pl.UInt32)
    moved = events.join(index, on="exchange_index").drop("exchange_index").rename({"_to": "exchange_index"})
    return moved.select(events.columns)


def figures(bodies: pl.DataFrame) -> pl.DataFrame:
    """One row (`key` + `FIGURES` + `_t0`, its first piece's arrival) per body of `bodies`
    (`BODIES_SCHEMA`): SSE bodies through `_native.sse_column`, AWS EventStream bodies through
    `analysis.content.eventstream_events`, JSON bodies as one SSE event; then
    `analysis.content.aggregate_events` over all their events, as `fastcap analyze` does."""
    if bodies.height == 0:
        return pl.DataFrame(schema={"key": pl.String, **FIGURES, "_t0": pl.Float64})
    b = pl.col("body")
    framed = b.bin.starts_with(b"HTTP/")
    sse_start = pl.any_horizontal(*[b.bin.starts_with(s) for s in _SSE_STARTS])
    done = bodies.with_row_index("exchange_index").with_columns(
        # The common cases, told apart by the first bytes in Polars; the rest (HTTP framing,
        # leading white space) one by one in Python below.
        kind=pl.when(framed)
        .then(None)
        .when(b.bin.size() == 0)
        .then(pl.lit("empty"))
        .when(sse_start)
        .then(pl.lit("sse"))
        .when(b.bin.starts_with(b"{") | b.bin.starts_with(b"["))
        .then(pl.lit("json"))
        .when(b.bin.starts_with(b"\x00"))
        .then(pl.lit("eventstream")),
        body_bytes=b.bin.size().cast(pl.Int64),
        _t0=pl.col("chunk_times").list.min(),
    )
    kind = pl.col("kind")
    events: list[pl.DataFrame] = []
    intact: list[pl.DataFrame] = []
    # Streams, null for every other body so that the events' exchange index is the row's.
    if done.select((kind == "sse").any()).item():
        events.append(pl.DataFrame(_native.sse_column(done.select(pl.when(kind == "sse").then(b)))))
    if done.select((kind == "eventstream").any()).item():
        es, ok = eventstream_events(done.select(pl.when(kind == "eventstream").then(b)).to_series())
        events.append(es)
        intact.append(ok)
    chunks = done.filter(kind.is_in(["sse", "eventstream"])).select(
        "exchange_index", "chunk_ends", "chunk_times"
    )
    # Everything else is one body per non-stream call: few, done in Python.
    other = done.filter(kind.is_null() | ~kind.is_in(["sse", "eventstream"]))
    one_events: list[bytes] = []
    one_rows: list[int] = []
    es_bodies: list[bytes] = []
    es_rows: list[int] = []
    kinds: dict[int, str] = {}
    sizes: dict[int, int] = {}
    for i, data, k in other.select("exchange_index", "body", "kind").iter_rows():
        if k is None:
            data, ctype = unframe(data)
            k = body_kind(ctype, data)
            sizes[i] = len(data)
        kinds[i] = k
        if k in ("sse", "json"):
            one_events.append(data if k == "sse" else json_as_one_event(data))
            one_rows.append(i)
        elif k == "eventstream":
            es_bodies.append(data)
            es_rows.append(i)
    if one_events:
        events.append(_remapped(pl.DataFrame(_native.sse_column(one_events)), one_rows))
    if es_bodies:
        es, ok = eventstream_events(pl.Series(es_bodies, dtype=pl.Binary))
        events.append(_remapped(es, es_rows))
        intact.append(_remapped(ok, es_rows))
    if events:
        table = pl.concat(events, how="vertical_relaxed")
        timed = chunks.filter(pl.col("chunk_times").list.drop_nulls().list.len() > 0)
        content = aggregate_events(
            table,
            timed if timed.height else None,
            pl.concat(intact, how="vertical_relaxed") if intact else None,
        ).join(_models(table), on="exchange_index", how="left")
    else:
        content = pl.DataFrame(schema={**CONTENT_SCHEMA, "models": pl.List(pl.String)})
    fixes = pl.DataFrame(
        {
            "exchange_index": list(kinds),
            "_kind": list(kinds.values()),
            "_size": [sizes.get(i) for i in kinds],
        },
        schema={"exchange_index": pl.UInt32, "_kind": pl.String, "_size": pl.Int64},
    )
    out = (
        done.select("exchange_index", "request_id", "kind", "body_bytes", "_t0")
        .join(fixes, on="exchange_index", how="left")
        .join(content, on="exchange_index", how="left")
        .with_columns(
            key=pl.col("request_id"),
            kind=pl.coalesce("_kind", "kind"),
            body_bytes=pl.coalesce("_size", "body_bytes"),
            events=pl.col("events").fill_null(0),
            text_chars=pl.col("text_chars").fill_null(0),
            reasoning_chars=pl.col("reasoning_chars").fill_null(0),
            tool_calls=pl.col("tool_calls").fill_null(pl.lit([], pl.List(pl.String))),
            models=pl.col("models").fill_null(pl.lit([], pl.List(pl.String))),
        )
    )
    return out.select(*[pl.col(c).cast(t) for c, t in {"key": pl.String, **FIGURES}.items()], "_t0")


def merge_bodies(rows: pl.DataFrame) -> pl.DataFrame:
    """One row per key of `rows` (`key` + `FIGURES` + `_t0`, the body's first arrival): a request
    whose leg was handed over as several bodies (a retry under the same request id, or the pieces
    of a batch the writer flushed after the stream's end marker, docs/specs/cbor-v2.md §7) counts
    as one body, its parts in arrival order: counts add up, the last stop reason and usage count,
    and of everything else the first value."""
    if rows.height == 0 or rows["key"].n_unique() == rows.height:
        return rows.drop("_t0")
    rows = rows.sort("key", "_t0", nulls_last=True, maintain_order=True)
    sums = ("body_bytes", "events", "text_chars", "reasoning_chars")
    lasts = (
        "stop_reason",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "cache_write_1h_tokens",
    )
    special = {
        "tool_calls": pl.col("tool_calls").explode().drop_nulls(),
        "models": pl.col("models").explode().drop_nulls().unique(maintain_order=True),
        "stop_seen": pl.col("stop_seen").any(ignore_nulls=True),
        "terminal_seen": pl.col("terminal_seen").any(ignore_nulls=True),
        "first_content_t": pl.col("first_content_t").min(),
    }
    aggs = [
        pl.col(c).sum()
        if c in sums
        else pl.col(c).drop_nulls().last()
        if c in lasts
        else pl.col(c).drop_nulls().first()
        for c in FIGURES
        if c not in special
    ]
    merged = rows.group_by("key", maintain_order=True).agg(*aggs, *special.values())
    return merged.select([pl.col(c).cast(t) for c, t in {"key": pl.String, **FIGURES}.items()])
