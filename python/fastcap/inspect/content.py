"""Content accounting per request and leg (docs/specs/cbor-v2.md §11.7, docs/metrics.md "Content"):
text, reasoning, tool calls, model, stop reason, errors and usage, for Anthropic, OpenAI Responses,
OpenAI Chat, Gemini and kiro.

Bodies are reassembled while the capture is read (`inspect.load`) and reduced to one row of
figures each as they complete, so no response payload outlives the round it was read in:

- the backend leg (B->P) by the native `BodyAssembler`, as `fastcap analyze` does
  (`analysis.stream_cbor.scan`): pieces in stream order (`ci`, then `seq`), complete at the
  stream-end marker, the completion entry, or as a single non-stream entry;
- the client leg (P->C) by `ClientBodies` below: a gateway's client leg often has no end marker
  of its own, so a client body is also complete once its request's backend leg has ended.

The figures come from the one accounting `fastcap analyze` uses: SSE bodies, and JSON bodies as one
event each, through the native field extractor (`_native.sse_column`), AWS EventStream bodies
(kiro, Bedrock) through `fastcap.analysis.content.eventstream_events`, then
`fastcap.analysis.content.aggregate_events` over all of them (with the chunk arrival times, for
TTFT).
"""

from __future__ import annotations

import itertools
from concurrent.futures import Executor, Future
from typing import Any

import orjson
import polars as pl

from fastcap import _native
from fastcap.analysis.content import CONTENT_SCHEMA, aggregate_events, eventstream_events
from fastcap.inspect.common import BP, PC
from fastcap.inspect.redaction import header_value, split_http

# One row per (request key, leg): the figures of `analysis.content.CONTENT_SCHEMA` (without the
# exchange index), every model the leg named (`models`, for the analysis' lists), the body kind
# and its size without HTTP framing.
FIGURES: dict[str, pl.DataType | type[pl.DataType]] = {
    "kind": pl.String,
    "body_bytes": pl.Int64,
    **{c: t for c, t in CONTENT_SCHEMA.items() if c != "exchange_index"},
    "models": pl.List(pl.String),
}
SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {"key": pl.String, "dir": pl.Int64, **FIGURES}

# The assembler's hand-over (`_native.BodyAssembler.feed`), with `request_id` as the key.
BODIES_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "request_id": pl.String,
    "body": pl.Binary,
    "chunk_ends": pl.List(pl.UInt64),
    "chunk_times": pl.List(pl.Float64),
}

FLUSH_BYTES = 4 << 20  # split finished bodies in batches of about this size (a batch's events
# and their aggregation take about five times its size)
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
        parts = split_http(data)
        if parts is not None:
            return parts[1], (header_value(parts[0], "content-type") or "").lower()
    return data, ""


def _as_one_event(body: bytes) -> bytes:
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
            one_events.append(data if k == "sse" else _as_one_event(data))
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


class BodyContent:
    """Finished bodies of one leg (`BODIES_SCHEMA` tables, as the assembler hands them over),
    reduced to figures (`figures`) in batches of about FLUSH_BYTES; with an `executor`, each batch
    is reduced on it while the caller goes on reading (one batch in flight at a time).

    A leg that repeats another (`same_as`: the client leg of a gateway that did not translate the
    API gets the backend's bytes) takes the other leg's figures for every body whose bytes are
    the same (same length and hash), instead of splitting it again."""

    def __init__(
        self,
        direction: int,
        *,
        with_times: bool = True,
        executor: Executor | None = None,
        same_as: BodyContent | None = None,
    ) -> None:
        self.dir = direction
        self.with_times = with_times  # first content arrival (TTFT), for the backend leg
        self.executor = executor
        self.same_as = same_as
        self.pending: list[pl.DataFrame] = []
        self.pending_size = 0
        self.parts: list[pl.DataFrame] = []
        self.running: Future[pl.DataFrame] | None = None
        # key -> (length, hash) of its one body so far; None once a key had several.
        self.fingerprints: dict[str, tuple[int, int] | None] = {}
        self.copied: list[tuple[str, float | None]] = []  # (key, first arrival) taken from `same_as`

    def add(self, done: pl.DataFrame) -> None:
        if done.height == 0:
            return
        done = done.select([pl.col(c).cast(t) for c, t in BODIES_SCHEMA.items()])
        prints = done.select(
            "request_id",
            size=pl.col("body").bin.size(),
            digest=pl.col("body").hash(),
            t0=pl.col("chunk_times").list.min(),
        )
        same = [False] * done.height
        source = self.same_as.fingerprints if self.same_as is not None else None
        for i, (key, size, digest, t0) in enumerate(prints.iter_rows()):
            seen = key in self.fingerprints
            self.fingerprints[key] = None if seen else (size, digest)
            if source is not None and not seen and source.get(key) == (size, digest):
                same[i] = True
                self.copied.append((key, t0))
        if any(same):
            done = done.filter(~pl.Series(same, dtype=pl.Boolean))
            if done.height == 0:
                return
        self.pending.append(done)
        self.pending_size += int(prints["size"].sum() or 0)
        if self.pending_size >= FLUSH_BYTES:
            self.flush()

    def _reduce(self, done: pl.DataFrame) -> pl.DataFrame:
        if not self.with_times:
            done = done.with_columns(chunk_times=pl.lit(None, pl.List(pl.Float64)))
        part = figures(done)
        # Fresh memory: strings of an aggregation are views into the events table's buffers (all
        # the streamed text), which a kept row would keep alive (as analysis.stream_cbor notes).
        return pl.from_dicts(part.to_dicts(), schema=part.schema)

    def _collect(self) -> None:
        if self.running is not None:
            self.parts.append(self.running.result())
            self.running = None

    def flush(self) -> None:
        if not self.pending:
            return
        done = pl.concat(self.pending, how="vertical_relaxed")
        self.pending, self.pending_size = [], 0
        self._collect()
        if self.executor is None:
            self.parts.append(self._reduce(done))
        else:
            self.running = self.executor.submit(self._reduce, done)

    def close(self, same_as_rows: pl.DataFrame | None = None) -> pl.DataFrame:
        """One row (`SCHEMA`) per key; `same_as_rows` are the `same_as` leg's (its `close()`)."""
        self._collect()
        self.flush()
        self._collect()
        rows = (
            pl.concat(self.parts, how="vertical_relaxed")
            if self.parts
            else figures(pl.DataFrame(schema=BODIES_SCHEMA))
        )
        if self.copied and same_as_rows is not None:
            copied = pl.DataFrame(self.copied, schema={"key": pl.String, "_t0": pl.Float64}, orient="row")
            copies = copied.join(same_as_rows.drop("dir"), on="key", how="inner").select(rows.columns)
            rows = pl.concat([rows, copies], how="vertical_relaxed")
        return merge_bodies(rows).with_columns(dir=pl.lit(self.dir, pl.Int64)).select(list(SCHEMA))


class ClientBodies:
    """The client leg's (P->C) bodies, reassembled in stream order.

    A gateway often writes no end marker on the client leg, so the native assembler (which hands a
    body over at its end) cannot tell when such a body is complete. Each round is reassembled
    natively on its own (a fresh `BodyAssembler`, closed at the end of the round), giving one
    segment per request and round, kept as a row of a table (no Python object per chunk); the
    segments of a request are joined once its body is complete: at its own stream-end marker or
    completion entry, once its request's backend leg has ended, or as a single non-stream entry.
    A body is handed over one round after that, so pieces of a batch the writer put after the end
    still join it (docs/specs/cbor-v2.md §7)."""

    def __init__(self) -> None:
        self.segments = pl.DataFrame(schema={**BODIES_SCHEMA, "_t0": pl.Float64, "_round": pl.Int64})
        self.ended: dict[str, int | None] = {}  # open keys -> round their body ended in
        self.ended_early: dict[str, int] = {}  # backend leg ended before any client piece came
        self.round = 0

    @staticmethod
    def assemble(batch: _native.ArrowTable) -> tuple[pl.DataFrame, pl.DataFrame]:
        """One round's client-leg segments, reassembled natively: (those that reached their end
        marker or are a whole non-stream entry, the rest). Their bytes are the assembler's own,
        not the reader's."""
        assembler = _native.BodyAssembler(PC)
        return pl.DataFrame(assembler.feed(batch)), pl.DataFrame(assembler.close())

    @staticmethod
    def backend_ends(entries: pl.DataFrame) -> list[str]:
        """The request ids whose backend leg ends in `entries` (stream-end marker, completion)."""
        flag = pl.col("is_stream_end").fill_null(False) | pl.col("eos").fill_null(False)
        ends = entries.filter(pl.col("request_id").is_not_null() & (pl.col("dir") == BP) & flag)
        return [str(k) for k in ends["request_id"].unique().to_list()]

    def feed(self, segments: tuple[pl.DataFrame, pl.DataFrame], ends: list[str]) -> pl.DataFrame:
        """Take one round: its segments (`assemble`) and the requests whose backend leg ended
        (`backend_ends`); returns the bodies completed (`BODIES_SCHEMA`)."""
        r = self.round
        self.round += 1
        done, rest = segments
        new = pl.concat([done, rest], how="vertical_relaxed")
        if new.height:
            self.segments = pl.concat(
                [
                    self.segments,
                    new.select(
                        *[pl.col(c).cast(t) for c, t in BODIES_SCHEMA.items()],
                        _t0=pl.col("chunk_times").list.min(),
                        _round=pl.lit(r, pl.Int64),
                    ),
                ],
                how="vertical_relaxed",
            )
            for key in new["request_id"].to_list():
                if key not in self.ended:
                    self.ended[key] = self.ended_early.pop(key, None)
            # Its own end marker, or a single non-stream entry.
            for key in done["request_id"].to_list():
                if self.ended[key] is None:
                    self.ended[key] = r
        for key in ends:
            if key not in self.ended:
                self.ended_early[key] = r
            elif self.ended[key] is None:
                self.ended[key] = r
        # Backend ends seen two rounds ago whose client leg never came: forget them.
        self.ended_early = {k: v for k, v in self.ended_early.items() if v >= r - 1}
        out = self._hand_over([k for k, e in self.ended.items() if e is not None and e < r])
        # This round's segments still open, in fresh memory: the assembler hands small bodies
        # over in shared blocks, which a kept row would keep whole.
        kept = pl.col("_round") == r
        fresh = self.segments.filter(kept)
        if fresh.height:
            copied = pl.Series("body", [bytes(b) for b in fresh["body"].to_list()], dtype=pl.Binary)
            self.segments = pl.concat(
                [self.segments.filter(~kept), fresh.with_columns(body=copied)], how="vertical_relaxed"
            )
        return out

    def close(self) -> pl.DataFrame:
        return self._hand_over(list(self.ended))

    def _hand_over(self, keys: list[str]) -> pl.DataFrame:
        if not keys:
            return pl.DataFrame(schema=BODIES_SCHEMA)
        for key in keys:
            del self.ended[key]
        wanted = pl.col("request_id").is_in(keys)
        out = self.segments.filter(wanted)
        self.segments = self.segments.filter(~wanted)
        many = out.filter(pl.col("request_id").is_duplicated())
        single = out.filter(~pl.col("request_id").is_duplicated()).select(list(BODIES_SCHEMA))
        if many.height == 0:
            return single
        # A body spread over rounds: its segments in arrival order, each chunk end moved by the
        # length of the segments before it.
        many = many.sort("request_id", "_t0", nulls_last=True, maintain_order=True).with_columns(
            _offset=pl.col("body").bin.size().cum_sum().shift(1, fill_value=0).over("request_id")
        )
        ends = (
            many.select("request_id", "_offset", "chunk_ends")
            .with_row_index("_seg")
            .explode("chunk_ends")
            .group_by("request_id", maintain_order=True)
            .agg(chunk_ends=(pl.col("chunk_ends") + pl.col("_offset")).drop_nulls())
        )
        joined = many.group_by("request_id", maintain_order=True).agg(
            pl.col("body"), pl.col("chunk_times").explode().alias("chunk_times")
        )
        bodies = pl.Series("body", [b"".join(parts) for parts in joined["body"].to_list()], dtype=pl.Binary)
        merged = joined.with_columns(body=bodies).join(
            ends, on="request_id", how="left", maintain_order="left"
        )
        return pl.concat([single, merged.select(list(BODIES_SCHEMA))], how="vertical_relaxed")


def join_pieces(
    pieces: list[tuple[int, int, float | None, bytes]],
) -> tuple[bytes, list[int], list[float | None]]:
    """(body, chunk end offsets, chunk arrival times) of pieces (chunk index, seq, arrival,
    bytes) put in stream order; pieces with equal keys keep their order."""
    if any((a[0], a[1]) > (b[0], b[1]) for a, b in itertools.pairwise(pieces)):
        pieces = sorted(pieces, key=lambda p: (p[0], p[1]))
    ends, end = [], 0
    for p in pieces:
        end += len(p[3])
        ends.append(end)
    return b"".join(p[3] for p in pieces), ends, [p[2] for p in pieces]


def loose_bodies(rows: pl.DataFrame) -> pl.DataFrame:
    """Bodies (`BODIES_SCHEMA`, keyed by `key`) of payload entries without a request id, once
    their request key is known: rows of key, chunk_index, seq, ts, data."""
    out: dict[str, list[Any]] = {c: [] for c in BODIES_SCHEMA}
    grouped = (
        rows.select("key", "chunk_index", "seq", "ts", "data")
        .group_by("key", maintain_order=True)
        .agg(pl.all())
    )
    for key, cis, seqs, times, datas in grouped.iter_rows():
        body, ends, arrivals = join_pieces(
            [(c or 0, s or 0, t, d) for c, s, t, d in zip(cis, seqs, times, datas, strict=True)]
        )
        out["request_id"].append(key)
        out["body"].append(body)
        out["chunk_ends"].append(ends)
        out["chunk_times"].append(arrivals)
    return pl.DataFrame(out, schema=BODIES_SCHEMA)


def leg(content: pl.DataFrame, direction: int) -> pl.DataFrame:
    """The content rows of one leg, columns prefixed `bp_`/`pc_` for joining onto requests."""
    prefix = "bp_" if direction == BP else "pc_"
    sub = content.filter(pl.col("dir") == direction).drop("dir")
    return sub.rename({c: prefix + "c_" + c for c in sub.columns if c != "key"})
