"""Reading a capture for `fastcap inspect`: one pass, round by round, keeping only what the chosen
modes read.

The native reader decodes about 8 MB of the file per round (`CaptureReader.next_round`) with every
payload inflated, because every mode needs decompressed sizes (docs/specs/cbor-v2.md §3.2). Each
round is then reduced before the next is read:

- response content: the payloads of the legs whose content is shown are reassembled into bodies
  (`_native.BodyAssembler`, `inspect.content.ClientBodies`) and reduced to one row of figures per
  body as they complete (`inspect.content.BodyContent`, on a second thread);
- requests: the identifying fields of each C->P / P->B payload (model, session and conversation
  keys) are read natively as the round passes (`request_fields`), so no request payload is kept;
- entries, as much as the modes need (`Level`):
  - `requests` (summary, --status-summary, --detect-issues, --analyze, --analyze-streaming without
    filters): the stream chunks of one request and leg in one round are collapsed into one
    weighted row (`n_rows`, `last_ts`, `last_index`, as `analysis.requests.WEIGHT_COLUMNS`) that
    keeps each chunk's arrival time, seq and size in list columns (`LIST_COLUMNS`); every other
    entry stays as it is;
  - `entries` (timeline, sessions, filters): every entry's metadata, no payload;
  - `payloads` (listing, --search, --json, --track-request): every entry with its payload.

Kept columns are copied out of the round's buffers (strings as categoricals, as
`analysis.stream_cbor` does), so that no round's decoded arena or inflated payloads stay alive.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
import polars as pl

from fastcap import _native
from fastcap.analysis.engine import REQUEST_FIELD_COLUMNS
from fastcap.formats.cbor_requests import ENTRY_META_COLUMNS
from fastcap.inspect.common import BP, CP, PB, PC
from fastcap.inspect.content import SCHEMA, BodyContent, ClientBodies, loose_bodies
from fastcap.inspect.redaction import split_http

Level = Literal["requests", "entries", "payloads"]

ROUND_BYTES = 8 << 20
# Rounds kept whole (every payload) are read as `CaptureReader.read_all` reads them: each round's
# tables keep their column arena, which small rounds would leave mostly empty.
PAYLOAD_ROUND_BYTES = 64 << 20

# The metadata every mode but the listing and the export reads.
META_COLUMNS = ENTRY_META_COLUMNS
# The per-chunk values a collapsed row keeps, and the column each comes from.
LIST_COLUMNS = {"ts_list": "ts", "seq_list": "seq", "len_list": "data_len"}
_LOOSE = ["file_index", "dir", "chunk_index", "seq", "ts", "data"]


@dataclass
class Loaded:
    header: dict[str, Any]
    entries: pl.DataFrame
    diagnostics: list[dict[str, Any]]
    level: Level
    # The request fields of the C->P and P->B payload entries (`request_fields`), by file_index.
    fields: pl.DataFrame
    # Entries whose `ts` is earlier than that of an entry before them in the file.
    out_of_order: int = 0
    # The reduced bodies of the content legs, by direction.
    content: dict[int, BodyContent] = field(default_factory=dict)
    # Payload entries of the content legs without a request id: file_index, dir, chunk_index,
    # seq, ts, data. Their bodies are assembled once `prepare` has given them request keys.
    loose: pl.DataFrame | None = None

    @property
    def fatal(self) -> dict[str, Any] | None:
        return next((d for d in self.diagnostics if d["fatal"]), None)

    def content_table(self, keys: pl.DataFrame) -> pl.DataFrame:
        """One row (`content.SCHEMA`) per (key, dir) of the content legs; `keys` (file_index,
        key) gives the entries without a request id their keys."""
        parts: dict[int, pl.DataFrame] = {}
        for d in sorted(self.content, key=lambda d: d != BP):  # the backend leg first
            body_content = self.content[d]
            if self.loose is not None and self.loose.height:
                rows = self.loose.filter(pl.col("dir") == d).join(keys, on="file_index", how="inner")
                body_content.add(loose_bodies(rows.filter(pl.col("key").is_not_null())))
            parts[d] = body_content.close(parts.get(BP))
        return pl.concat(parts.values(), how="vertical_relaxed") if parts else pl.DataFrame(schema=SCHEMA)


# Identifying fields of each request payload, read natively (`_native.request_fields`, as
# `fastcap analyze` reads them): the engine's `REQUEST_FIELD_COLUMNS`, plus `amz_target`.
FIELD_COLUMNS = (*REQUEST_FIELD_COLUMNS, "amz_target")
FIELDS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "file_index": pl.UInt64,
    **dict.fromkeys(FIELD_COLUMNS, pl.String),
    "body_json": pl.Boolean,
}


def is_json(direction: int, data: bytes | None) -> bool:
    """Whether a request payload's body (HTTP framing of a P->B payload removed) is JSON."""
    if not data:
        return False
    parts = split_http(data) if direction == PB else None
    try:
        orjson.loads(parts[1] if parts is not None else data)
    except orjson.JSONDecodeError:
        return False
    return True


def request_fields(entries: pl.DataFrame) -> pl.DataFrame:
    """(file_index, `FIELD_COLUMNS`, body_json) of the C->P and P->B payload entries; `body_json`
    is only worked out where no model was found (the request's `Model: (could not parse)`)."""
    req = entries.filter(pl.col("dir").is_in([CP, PB]) & (pl.col("data_len") > 0)).select(
        "file_index", "dir", "data"
    )
    fields = pl.DataFrame(_native.request_fields(req.select("data"))).rename({"model": "request_model"})
    out = pl.concat([req.select("file_index"), fields.select(*FIELD_COLUMNS)], how="horizontal")
    unnamed = req.filter(fields["request_model"].is_null())
    checked = [is_json(d, data) for d, data in unnamed.select("dir", "data").iter_rows()]
    json_of = pl.DataFrame(
        {"file_index": unnamed["file_index"], "_json": checked},
        schema={"file_index": pl.UInt64, "_json": pl.Boolean},
    )
    out = out.join(json_of, on="file_index", how="left", maintain_order="left").with_columns(
        body_json=pl.when(pl.col("request_model").is_not_null()).then(True).otherwise(pl.col("_json"))
    )
    return out.select([pl.col(c).cast(t) for c, t in FIELDS_SCHEMA.items()])


def out_of_order_count(ts: pl.Series, before: float | None) -> tuple[int, float | None]:
    """Entries earlier than an entry before them (in this order), given the latest `ts` read
    before them; returns the count and the latest `ts` after them."""
    if ts.len() == 0:
        return 0, before
    prev = ts.cum_max().shift(1)
    if before is not None:
        prev = prev.fill_null(before).clip(lower_bound=before)
    n = int((ts < prev).fill_null(False).sum())
    top = ts.max()
    if isinstance(top, float):
        before = top if before is None else max(before, top)
    return n, before


def collapse(meta: pl.DataFrame) -> pl.DataFrame:
    """Collapse each request's payload chunks per direction (B->P, P->C) into one weighted row
    holding each column's first value among them (chunks repeat their request's metadata,
    docs/specs/cbor-v2.md §5), their summed size, count, first/last arrival and last file index,
    and every chunk's `ts`, `seq` and size in order (`LIST_COLUMNS`)."""
    d = pl.col("dir")
    chunk = (
        ((d == BP) | (d == PC)) & pl.col("request_id").is_not_null() & (pl.col("data_len").fill_null(0) > 0)
    )
    meta = meta.with_columns(_chunk=chunk)
    kept = meta.filter(~pl.col("_chunk")).drop("_chunk")
    rows = meta.filter(pl.col("_chunk")).drop("_chunk")
    same = ("request_id", "dir", "file_index", "ts", "data_len", "seq")
    # Most metadata keys are never set on a chunk: only the columns some chunk sets are aggregated.
    counts = rows.null_count().row(0, named=True)
    firsts = [
        pl.col(c).drop_nulls().first() for c in rows.columns if c not in same and counts[c] < rows.height
    ]
    chunks = rows.group_by("request_id", "dir", maintain_order=True).agg(
        pl.col("file_index").first(),
        pl.col("ts").min(),
        pl.col("seq").min(),
        *firsts,
        data_len=pl.col("data_len").sum(),
        n_rows=pl.len().cast(pl.UInt32),
        last_ts=pl.col("ts").max(),
        last_index=pl.col("file_index").last(),
        ts_list=pl.col("ts"),
        seq_list=pl.col("seq"),
        len_list=pl.col("data_len"),
    )
    kept = kept.with_columns(
        n_rows=pl.lit(1, pl.UInt32), last_ts=pl.col("ts"), last_index=pl.col("file_index")
    )
    return pl.concat([kept, chunks], how="diagonal_relaxed").sort("file_index")


def _compact(df: pl.DataFrame) -> pl.DataFrame:
    """Fresh memory for the kept columns: strings as categoricals (repeated ids, URLs and
    backends), everything else gathered anew, so no column points into the round's buffers."""
    return df.with_columns(pl.col(pl.String).cast(pl.Categorical)).sort("file_index")


def _trimmer() -> Callable[[], object] | None:
    """glibc's `malloc_trim(0)`, where there is one."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], object] = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    return lambda: trim(0)


# The native reader and extractors allocate and free tens of MB a round through the C heap,
# which glibc keeps for reuse rather than giving back: over a large capture that is hundreds of MB
# of peak memory holding nothing. It is given back after every round (about 3 ms each).
_TRIM = _trimmer() if sys.platform.startswith("linux") else None


def load(
    path: str | os.PathLike[str],
    *,
    recover: bool = False,
    level: Level = "requests",
    content_dirs: tuple[int, ...] = (),
) -> Loaded:
    """Read `path` once (see the module docstring); `content_dirs` are the legs (B->P, P->C)
    whose response content is accounted."""
    reader = _native.CaptureReader(os.fspath(path), recover=recover)
    # Three threads share the work (native code and Polars release the GIL; the machines this
    # runs on have two cores): one reads the next round while this one reduces the last, and one
    # reduces finished bodies.
    with ThreadPoolExecutor(max_workers=1) as ahead, ThreadPoolExecutor(max_workers=1) as bodies:
        loaded = _read(reader, ahead, bodies, level, content_dirs)
    for body_content in loaded.content.values():
        body_content.executor = None
    return loaded


def _read(
    reader: _native.CaptureReader,
    ahead: ThreadPoolExecutor,
    bodies: ThreadPoolExecutor,
    level: Level,
    content_dirs: tuple[int, ...],
) -> Loaded:
    backend = _native.BodyAssembler(BP) if BP in content_dirs else None
    client = ClientBodies() if PC in content_dirs else None
    content = {d: BodyContent(d, with_times=d == BP, executor=bodies) for d in content_dirs}
    if BP in content and PC in content:
        content[PC].same_as = content[BP]
    parts: list[pl.DataFrame] = []
    fields: list[pl.DataFrame] = []
    loose: list[pl.DataFrame] = []
    ooo, latest = 0, None
    span = PAYLOAD_ROUND_BYTES if level == "payloads" else ROUND_BYTES
    batch = reader.next_round(span)
    while batch is not None:
        # First, everything that reads the round's bytes: the reader drops the pages of a round
        # from memory when the next one is read, and reading them after that would bring them
        # back for good.
        backend_done = pl.DataFrame(backend.feed(batch)) if backend is not None else None
        client_segments = ClientBodies.assemble(batch) if client is not None else None
        full = pl.DataFrame(batch if level == "payloads" else batch.select([*META_COLUMNS, "data"]))
        del batch
        fields.append(request_fields(full))
        ends = ClientBodies.backend_ends(full) if client is not None else []
        if content_dirs:
            no_rid = full.filter(
                pl.col("dir").is_in(list(content_dirs))
                & pl.col("request_id").is_null()
                & (pl.col("data_len").fill_null(0) > 0)
            )
            if no_rid.height:
                copied = [bytes(d) for d in no_rid["data"].to_list()]
                loose.append(no_rid.select(_LOOSE[:-1]).with_columns(data=pl.Series(copied, dtype=pl.Binary)))
        meta = full if level == "payloads" else _compact(full.select(META_COLUMNS))
        del full
        # Then the next round is read while this one is reduced from copies.
        upcoming = ahead.submit(reader.next_round, span)
        n, latest = out_of_order_count(meta["ts"], latest)
        ooo += n
        if backend_done is not None:
            content[BP].add(backend_done)
        if client is not None and client_segments is not None:
            content[PC].add(client.feed(client_segments, ends))
        parts.append(_compact(collapse(meta)) if level == "requests" else meta)
        del meta, backend_done, client_segments
        if _TRIM is not None:
            _TRIM()
        batch = upcoming.result()
    if backend is not None:
        content[BP].add(pl.DataFrame(backend.close()))
    if client is not None:
        content[PC].add(client.close())
    for body_content in content.values():
        body_content.flush()  # the last batches are reduced while the entries are put together
    if parts:
        # Whole rounds share one schema: stacked as they are (a relaxed concat would copy them).
        entries = pl.concat(
            parts, how="vertical" if level == "payloads" else "diagonal_relaxed", rechunk=False
        )
        del parts
    else:
        empty = pl.DataFrame(reader.read_all())
        entries = empty if level == "payloads" else empty.select(META_COLUMNS)
    # Back to plain strings; only the categorical columns are touched (a `with_columns` over the
    # whole table would copy whole rounds into one chunk).
    categorical = [c for c, t in entries.schema.items() if t == pl.Categorical]
    if categorical:
        entries = entries.with_columns(pl.col(categorical).cast(pl.String))
    return Loaded(
        header=reader.header,
        entries=entries,
        diagnostics=reader.diagnostics,
        level=level,
        fields=pl.concat(fields) if fields else pl.DataFrame(schema=FIELDS_SCHEMA),
        out_of_order=ooo,
        content=content,
        loose=pl.concat(loose) if loose else None,
    )


__all__ = [
    "FIELDS_SCHEMA",
    "FIELD_COLUMNS",
    "LIST_COLUMNS",
    "Level",
    "Loaded",
    "collapse",
    "load",
    "out_of_order_count",
    "request_fields",
]
