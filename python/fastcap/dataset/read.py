"""Reading a dataset back: Polars LazyFrames over the live part files, filters pushed into the scan.

`open_dataset(path)` lists the live part files from the manifest and scans them with
`pl.scan_parquet(..., hive_partitioning=True)` and the dataset's schema, so `date` and `agent`
come from the paths. A filter on them prunes whole files before any is opened (`--since` never
reads an old partition); filters on `model` and `session` are predicates on the scan, which
Parquet row-group statistics can skip. Collect with `engine="streaming"` to keep memory flat on a
dataset larger than memory.

`calls_for_inputs` is the one entry point of the commands that analyse calls: any mix of datasets,
capture files, directories of captures and glob patterns gives one calls table.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import polars as pl

from fastcap.dataset.layout import HIVE_SCHEMA, TABLES, file_schema, table_schema
from fastcap.dataset.manifest import V0_MANIFEST, check_readable, read_manifest
from fastcap.dataset.storage import Storage
from fastcap.model import Chunk, Exchange

DateLike = dt.date | dt.datetime | str


def _parse_when(value: DateLike) -> tuple[dt.date, float | None]:
    """(the UTC day, an exact epoch bound or None): a bare date bounds by day (`until` inclusive),
    a datetime (or ISO string with a time) by the instant; naive datetimes are UTC."""
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 10:
            value = dt.date.fromisoformat(text)
        else:
            value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        instant = aware.astimezone(dt.UTC)
        return instant.date(), instant.timestamp()
    return value, None


def _as_list(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


@dataclass(frozen=True)
class Filters:
    """Which rows to read: `since` / `until` (a date bounds whole UTC days, `until` included; a
    datetime bounds the instant, `until` excluded), `agent`, `model`, `session` (one value or
    several; `session` matches a call's `session_id` or `conversation_id`)."""

    since: DateLike | None = None
    until: DateLike | None = None
    agent: str | Sequence[str] | None = None
    model: str | Sequence[str] | None = None
    session: str | Sequence[str] | None = None

    def is_empty(self) -> bool:
        return all(v is None for v in (self.since, self.until, self.agent, self.model, self.session))

    def predicate(self, columns: Iterable[str]) -> pl.Expr | None:
        """One predicate over the columns a table has; None when nothing is filtered."""
        have = set(columns)
        parts: list[pl.Expr] = []
        started = pl.col("started_at")
        if self.since is not None:
            day, instant = _parse_when(self.since)
            parts.append(pl.col("date") >= day)
            if instant is not None:
                parts.append(started.is_null() | (started >= instant))
        if self.until is not None:
            day, instant = _parse_when(self.until)
            parts.append(pl.col("date") <= day)
            if instant is not None:
                parts.append(started.is_null() | (started < instant))
        if (agents := _as_list(self.agent)) is not None:
            parts.append(pl.col("agent").is_in(agents))
        if (models := _as_list(self.model)) is not None and "model" in have:
            parts.append(pl.col("model").is_in(models))
        if (sessions := _as_list(self.session)) is not None:
            keys = [c for c in ("session_id", "conversation_id") if c in have]
            if keys:
                parts.append(pl.any_horizontal(*[pl.col(c).is_in(sessions) for c in keys]).fill_null(False))
        if not parts:
            return None
        out = parts[0]
        for p in parts[1:]:
            out = out & p
        return out

    def apply(self, frame: pl.LazyFrame) -> pl.LazyFrame:
        pred = self.predicate(frame.collect_schema().names())
        return frame if pred is None else frame.filter(pred)


@dataclass
class Dataset:
    """A dataset opened for reading: `.calls` and `.exchanges` are LazyFrames with `filters`
    applied in the scan; `.captures` is the manifest (one row per capture)."""

    root: str
    version: int
    captures: pl.DataFrame
    filters: Filters = field(default_factory=Filters)
    storage: Storage | None = None

    def filter(self, **kwargs: Any) -> Dataset:
        """The same dataset with more filters (`since`, `until`, `agent`, `model`, `session`)."""
        return replace(self, filters=replace(self.filters, **kwargs))

    def files(self, table: str) -> list[str]:
        """The live part files of `table`, as Polars is given them (paths or URLs)."""
        assert self.storage is not None
        prefix = f"{table}/"
        rels = [
            f for files in self.captures["files"].to_list() for f in (files or []) if f.startswith(prefix)
        ]
        return [self.storage.url(r) for r in sorted(rels)]

    def scan(self, table: str) -> pl.LazyFrame:
        """`table` (`calls` or `exchanges`) as a LazyFrame, filtered; partition pruning comes
        from the hive columns of the paths."""
        if table not in TABLES:
            raise ValueError(f"unknown table {table!r}; expected one of {', '.join(TABLES)}")
        files = self.files(table)
        if not files:
            frame = pl.LazyFrame(schema=table_schema(table))
        else:
            frame = pl.scan_parquet(
                files,
                hive_partitioning=True,
                hive_schema=HIVE_SCHEMA,
                schema=file_schema(table),
                # A file written before a column existed reads it as null (`migrate.py`).
                missing_columns="insert",
                extra_columns="ignore",
                storage_options=self.storage.storage_options if self.storage else None,
            )
        return self.filters.apply(frame)

    @property
    def calls(self) -> pl.LazyFrame:
        return self.scan("calls")

    @property
    def exchanges(self) -> pl.LazyFrame:
        return self.scan("exchanges")

    def calls_frame(self) -> pl.DataFrame:
        """The calls table, collected on the streaming engine, in capture order: by the capture's
        path, then the call's index within it."""
        return (
            self.calls.collect(engine="streaming")
            .with_row_index("_row")
            .sort("source_path", "capture_id", "index", "_row")
            .drop("_row")
        )

    def exchange_objects(self) -> list[Exchange]:
        """The exchanges the filters select as `Exchange`s (redacted as stored), in capture order:
        what `fastcap report` renders. They are all in memory: filter first on a large dataset."""
        frame = (
            self.exchanges.collect(engine="streaming")
            .with_row_index("_row")
            .sort("source_path", "capture_id", "index", "_row")
        )
        return exchanges_from_table(frame)

    def events(self, *, batch_rows: int = 512) -> pl.DataFrame:
        """The events of the stored response bodies (not stored: decoded on read with the native
        decoders, `events.py`), for the exchanges the filters select."""
        from fastcap.dataset.events import events_of

        return events_of(self.exchanges, batch_rows=batch_rows)


def _pairs(values: list[dict[str, str]] | None) -> list[tuple[str, str]]:
    return [(v["name"], v["value"]) for v in values or []]


def _chunks(body: bytes | None, sizes: list[int] | None, times: list[float | None] | None) -> list[Chunk]:
    """The response's chunks back from the stored sizes and arrival times: the body cut at the
    recorded sizes when they add up to it, else (redaction changed its length) one chunk at the
    first arrival, as `formats.writers.write_cbor` writes a redacted stream."""
    if not times or body is None:
        return []
    sizes = sizes or []
    if len(sizes) == len(times) and sum(sizes) == len(body):
        out, pos = [], 0
        for size, t in zip(sizes, times, strict=True):
            out.append(Chunk(t, body[pos : pos + size]))
            pos += size
        return out
    return [Chunk(times[0], body)]


def exchanges_from_table(frame: pl.DataFrame) -> list[Exchange]:
    """Rows of the exchanges table (`layout.EXCHANGE_COLUMNS`) as `Exchange`s, each numbered by
    its row (`index`), as one source."""
    out: list[Exchange] = []
    for i, row in enumerate(frame.iter_rows(named=True)):
        out.append(
            Exchange(
                index=i,
                source=row["source"] or "dataset",
                method=row["method"] or "",
                url=row["url"] or "",
                request_headers=_pairs(row["request_headers"]),
                request_body=row["request_body"],
                http_version=row["http_version"] or "HTTP/1.1",
                status=row["status"],
                reason=row["reason"] or "",
                response_headers=_pairs(row["response_headers"]),
                response_body=row["response_body"],
                response_body_text=row["response_body_text"],
                request_trailers=_pairs(row["request_trailers"]),
                response_trailers=_pairs(row["response_trailers"]),
                chunks=_chunks(row["response_body"], row["chunk_sizes"], row["chunk_times"]),
                started_at=row["started_at"],
                request_ended_at=row["request_ended_at"],
                response_started_at=row["response_started_at"],
                ended_at=row["ended_at"],
                fidelity=row["fidelity"] or "exact",
                request_body_fidelity=row["request_body_fidelity"] or "complete",
                response_body_fidelity=row["response_body_fidelity"] or "complete",
                flags=set(row["flags"] or []),
                error=row["error"],
                request_id=row["request_id"],
                session_id=row["session_id"],
                backend=row["backend"],
                model=row["model"],
            )
        )
    return out


def is_dataset(path: str | os.PathLike[str]) -> bool:
    storage = Storage(path)
    from fastcap.dataset.layout import VERSION_FILE

    return storage.exists(VERSION_FILE) or storage.exists(V0_MANIFEST)


def open_dataset(
    path: str | os.PathLike[str],
    *,
    since: DateLike | None = None,
    until: DateLike | None = None,
    agent: str | Sequence[str] | None = None,
    model: str | Sequence[str] | None = None,
    session: str | Sequence[str] | None = None,
    storage_options: dict[str, Any] | None = None,
) -> Dataset:
    """Open the dataset at `path` (a directory or a URL) for reading, with optional filters."""
    storage = Storage(path, storage_options)
    version = check_readable(storage)
    return Dataset(
        root=storage.root,
        version=version,
        captures=read_manifest(storage, version),
        filters=Filters(since, until, agent, model, session),
        storage=storage,
    )


def calls_for_inputs(
    inputs: Iterable[str | os.PathLike[str]],
    filters: Filters | None = None,
    *,
    recover: bool = False,
    redact: bool = True,
    fmt: str | None = None,
    faults: list[Any] | None = None,
) -> pl.DataFrame:
    """One calls table (`layout.table_schema("calls")`: `CALLS_SCHEMA` + capture_id, source_path,
    date, agent) for any mix of datasets, capture files, directories of captures and glob
    patterns, filtered by `filters`, in input order (a dataset's calls in capture order).

    Capture files go through the engine of `fastcap analyze` (`decode.decode_capture` without its
    exchanges table); their reader faults are appended to `faults` when given. Dataset rows are
    stored redacted; `redact=False` keeps raw values of capture files only."""
    from fastcap.dataset.decode import decode_capture
    from fastcap.dataset.fingerprint import hash_file
    from fastcap.dataset.ingestion import expand_inputs

    filters = filters or Filters()
    parts: list[pl.DataFrame] = []
    files: list[str] = []

    def flush_files() -> None:
        for path in expand_inputs(files):
            _, content_hash, _ = hash_file(path)
            decoded = decode_capture(
                path, capture_id=content_hash[:16], fmt=fmt, recover=recover, exchanges=False, redact=redact
            )
            if faults is not None:
                faults.extend(decoded.faults)
            parts.append(filters.apply(decoded.calls.lazy()).collect())
        files.clear()

    for item in inputs:
        name = os.fspath(item)
        if is_dataset(name):
            flush_files()
            ds = open_dataset(name)
            parts.append(replace(ds, filters=filters).calls_frame())
        else:
            files.append(name)
    flush_files()
    if not parts:
        return pl.DataFrame(schema=table_schema("calls"))
    # One chunk whatever the inputs: Polars sums a column chunk by chunk, so a float total (cost)
    # would otherwise differ in its last digit between the same calls read from 50 captures and
    # from one dataset.
    return pl.concat(parts, how="vertical").rechunk()  # (concat leaves a single frame as it is)
