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

import polars as pl

from fastcap import _native
from fastcap.analysis.bodies import BODIES_SCHEMA, FIGURES, figures, merge_bodies
from fastcap.inspect.common import BP, PC

SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {"key": pl.String, "dir": pl.Int64, **FIGURES}

FLUSH_BYTES = 4 << 20  # split finished bodies in batches of about this size (a batch's events
# and their aggregation take about five times its size)


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
