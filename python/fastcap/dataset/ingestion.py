"""`ingest`: captures of any format into a dataset, idempotent and incremental.

1. Every input is hashed (`fingerprint.py`, on threads) and matched against the manifest: the
   same content is **skipped**, a capture that grew since (same head, its old bytes unchanged) is
   **updated** under its id, anything else is **ingested** as a new capture.
2. Each capture to (re)write is decoded on its own (`decode.decode_capture`, the engine of
   `fastcap analyze`), in this process, in a pool of processes (`jobs`) or on Dask workers
   (`workers` for a local cluster, `scheduler` for a running one). The task writes the capture's
   part files itself, under names no live file has (`layout.part_path`: capture id + generation).
3. This process commits the manifest rows (`manifest.commit`), every `COMMIT_EVERY` captures and
   at the end; only then are the part files a grown capture no longer lists removed.

A dataset is therefore never half-written: readers list part files from the manifest, and a part
file appears whole or not at all. A task's result depends only on the capture's bytes, so every
executor writes the same files (the Dask test compares them).
"""

from __future__ import annotations

import glob
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from fastcap.dataset.fingerprint import Fingerprint, Known, fingerprint
from fastcap.dataset.layout import SCHEMA_VERSION, VERSION_FILE, part_path
from fastcap.dataset.manifest import (
    COMPACT_AFTER,
    V0_MANIFEST,
    commit,
    compact,
    create_or_open,
    parquet_bytes,
    read_manifest,
)
from fastcap.dataset.storage import Storage

COMMIT_EVERY = 32
# Rows per row group in exchanges part files: bodies are large, and a streaming reader holds a
# row group at a time.
EXCHANGE_ROW_GROUP = 256
GLOB_CHARS = frozenset("*?[")

# (what happened: ingested / updated / skipped / failed, the input, done so far, total, detail)
Progress = Callable[[str, str, int, int, str], None]


@dataclass(frozen=True)
class Task:
    """One capture to decode and write; picklable, for worker processes and Dask."""

    path: str
    root: str
    capture_id: str
    gen: str
    fingerprint: Fingerprint
    agent: str | None = None
    recover: bool = False
    storage_options: dict[str, Any] | None = None
    exchanges: bool = True  # False: the calls table only (`ingest --calls-only`)


@dataclass
class IngestResult:
    """What one `ingest` did, for the summary line."""

    ingested: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    calls: int = 0
    exchanges: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    captures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        mb = self.bytes_read / 1e6
        rate = f" ({mb / self.seconds:.1f} MB/s)" if self.seconds > 0 and self.bytes_read else ""
        return (
            f"captures: {self.ingested} ingested, {self.skipped} skipped, {self.updated} updated"
            f"{f', {self.failed} failed' if self.failed else ''}; {self.calls:,} calls, "
            f"{self.exchanges:,} exchanges; {mb:.1f} MB read, {self.bytes_written / 1e6:.1f} MB written "
            f"in {self.seconds:.2f}s{rate}"
        )


def expand_inputs(paths: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Capture files named by `paths`: files as given, glob patterns expanded, directories walked
    (hidden entries and datasets inside them left out; files whose content is no capture format
    skipped). Sorted within each directory or pattern, duplicates removed."""
    from fastcap.formats import detect_format

    out: list[str] = []
    for raw in paths:
        item = os.fspath(raw)
        if os.path.isdir(item):
            for found in _walk(item):
                try:
                    detect_format(found)
                except Exception:
                    continue
                out.append(found)
        elif not os.path.exists(item) and GLOB_CHARS & set(item):
            out.extend(sorted(p for p in glob.glob(item, recursive=True) if os.path.isfile(p)))
        else:
            out.append(item)
    seen: set[str] = set()
    unique = []
    for p in out:
        key = os.path.realpath(p)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def _walk(top: str) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(top):
        if VERSION_FILE in filenames or V0_MANIFEST in filenames:
            dirnames[:] = []  # a dataset, not captures
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith("."):
                yield os.path.join(dirpath, name)


def run_task(task: Task) -> dict[str, Any]:
    """Decode one capture and write its part files; returns its manifest row (without the commit).
    Runs wherever the executor puts it: nothing here depends on the process."""
    from fastcap import __version__
    from fastcap.dataset.decode import decode_capture

    decoded = decode_capture(
        task.path,
        capture_id=task.capture_id,
        agent=task.agent,
        recover=task.recover,
        exchanges=task.exchanges,
    )
    storage = Storage(task.root, task.storage_options)
    files: list[str] = []
    written = 0
    tables = [("calls", decoded.calls, None), ("exchanges", decoded.exchanges, EXCHANGE_ROW_GROUP)]
    for table, frame, group in tables:
        if frame is None or frame.height == 0:
            continue
        for day in frame["date"].unique().sort().to_list():
            part = frame.filter(pl.col("date") == day).drop("date", "agent")
            rel = part_path(table, day, decoded.agent, task.capture_id, task.gen)
            data = parquet_bytes(part, row_group_size=group)
            storage.write_atomic(rel, data)
            files.append(rel)
            written += len(data)
    fp = task.fingerprint
    calls = decoded.calls
    return {
        "capture_id": task.capture_id,
        "source_path": os.path.abspath(task.path),
        "format": decoded.fmt,
        "size": fp.size,
        "content_hash": fp.content_hash,
        "head_len": fp.head_len,
        "head_hash": fp.head_hash,
        "mtime": fp.mtime,
        "agent": decoded.agent,
        "calls": calls.height,
        "exchanges": decoded.exchanges.height if decoded.exchanges is not None else 0,
        "first_started_at": calls["started_at"].min(),
        "last_ended_at": calls["ended_at"].max(),
        "files": files,
        "tables": ["calls", "exchanges"] if task.exchanges else ["calls"],
        "bytes_written": written,
        "faults": [str(f) for f in decoded.faults],
        "schema_version": SCHEMA_VERSION,
        "fastcap_version": __version__,
    }


def _safe_task(task: Task) -> tuple[str, Any]:
    """`run_task`, with a failure returned as its one-line message (exceptions of the native
    module need not survive pickling between processes)."""
    try:
        return "ok", run_task(task)
    except Exception as exc:
        return "error", f"{task.path}: {exc}" if task.path not in str(exc) else str(exc)


def _known(manifest: pl.DataFrame) -> list[Known]:
    return [
        Known(r["capture_id"], r["size"], r["content_hash"], r["head_len"], r["head_hash"])
        for r in manifest.select("capture_id", "size", "content_hash", "head_len", "head_hash").iter_rows(
            named=True
        )
    ]


def _fingerprints(files: Sequence[str], known: list[Known]) -> list[Fingerprint | Exception]:
    """Hash the inputs on a few threads (hashlib and file reads release the GIL)."""
    out: list[Fingerprint | Exception] = []
    with ThreadPoolExecutor(max_workers=max(1, min(4, len(files)))) as pool:
        futures = [pool.submit(fingerprint, f, known) for f in files]
        for fut in futures:
            try:
                out.append(fut.result())
            except OSError as exc:
                out.append(exc)
    return out


def ingest(
    paths: Iterable[str | os.PathLike[str]],
    to: str | os.PathLike[str],
    *,
    agent: str | None = None,
    recover: bool = False,
    jobs: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    storage_options: dict[str, Any] | None = None,
    progress: Progress | None = None,
    commit_every: int = COMMIT_EVERY,
    exchanges: bool = True,
    compact_after: int = COMPACT_AFTER,
) -> IngestResult:
    """Decode the captures named by `paths` (files, directories, glob patterns) into the dataset
    `to` (created if absent; a directory or an fsspec URL).

    `jobs`: decoding processes on this machine (default: one per CPU, at most one per capture;
    1 decodes in this process). `workers` (a Dask `LocalCluster` of that many processes),
    `scheduler` (`tcp://HOST:PORT` of a running Dask scheduler) or `client` (a `distributed.Client`)
    fan the decoding out over Dask instead. `agent` names the agent of every capture (default:
    told from each capture). `recover` reads past damaged records. `exchanges=False` stores the
    calls table only (a capture stored so is ingested again when its exchanges are asked for).
    When the manifest holds more than `compact_after` commit files at the end, they are compacted
    into one (`manifest.compact`)."""
    started = time.perf_counter()
    storage = Storage(to, storage_options)
    version = create_or_open(storage)
    if version < SCHEMA_VERSION:
        from fastcap.dataset.migration import migrate

        migrate(storage)
    result = IngestResult()
    files = expand_inputs(paths)
    manifest = read_manifest(storage)
    old_files = {
        r["capture_id"]: r["files"] or []
        for r in manifest.select("capture_id", "files").iter_rows(named=True)
    }
    # Schema 0 stored no `tables`: the calls table only.
    stored = {
        r["capture_id"]: set(r["tables"] or ["calls"])
        for r in manifest.select("capture_id", "tables").iter_rows(named=True)
    }
    wanted = {"calls", "exchanges"} if exchanges else {"calls"}
    total = len(files)
    done = 0
    tasks: list[Task] = []
    planned: set[str] = set()
    for path, fp in zip(files, _fingerprints(files, _known(manifest)), strict=True):
        if isinstance(fp, Exception):
            result.failed += 1
            result.errors.append(
                f"{path}: {fp.strerror or fp}" if isinstance(fp, OSError) else f"{path}: {fp}"
            )
            done += 1
            if progress:
                progress("failed", path, done, total, result.errors[-1])
            continue
        complete = fp.match == "same" and wanted <= stored.get(fp.capture_id or "", set())
        if complete or fp.content_hash in planned:
            result.skipped += 1
            done += 1
            if progress:
                progress("skipped", path, done, total, "already in the dataset")
            continue
        planned.add(fp.content_hash)
        capture_id = fp.capture_id or fp.content_hash[:16]
        tasks.append(
            Task(
                path=path,
                root=storage.root,
                capture_id=capture_id,
                gen=fp.content_hash[:12],
                fingerprint=fp,
                agent=agent,
                recover=recover,
                storage_options=storage_options,
                exchanges=exchanges,
            )
        )
    pending: list[dict[str, Any]] = []

    def flush() -> None:
        if not pending:
            return
        commit(storage, pending)
        for row in pending:  # files of the capture's previous generation, now unlisted
            for rel in set(old_files.get(row["capture_id"], [])) - set(row["files"]):
                storage.remove(rel)
        pending.clear()

    for task, (status, value) in _execute(
        tasks, jobs=jobs, workers=workers, scheduler=scheduler, client=client
    ):
        done += 1
        if status != "ok":
            result.failed += 1
            result.errors.append(str(value))
            if progress:
                progress("failed", task.path, done, total, str(value))
            continue
        row = {**value, "ingested_at": time.time()}
        pending.append(row)
        what = "updated" if task.fingerprint.match is not None else "ingested"
        if what == "updated":
            result.updated += 1
        else:
            result.ingested += 1
        result.calls += row["calls"]
        result.exchanges += row["exchanges"]
        result.bytes_read += row["size"]
        result.bytes_written += row["bytes_written"]
        result.captures.append(row["capture_id"])
        result.warnings.extend(row["faults"])
        if progress:
            progress(what, task.path, done, total, f"{row['calls']} calls, {row['size'] / 1e6:.1f} MB")
        if len(pending) >= commit_every:
            flush()
    flush()
    if result.ingested + result.updated:
        compact(storage, after=compact_after)
    result.seconds = time.perf_counter() - started
    return result


def _execute(
    tasks: list[Task],
    *,
    jobs: int | None,
    workers: int | None,
    scheduler: str | None,
    client: Any,
) -> Iterator[tuple[Task, tuple[str, Any]]]:
    """(task, (status, row or message)) for every task, in completion order."""
    if not tasks:
        return
    if client is not None or workers is not None or scheduler is not None:
        yield from _execute_dask(tasks, workers=workers, scheduler=scheduler, client=client)
        return
    n = min(jobs or os.cpu_count() or 1, len(tasks))
    if n <= 1:
        for task in tasks:
            yield task, _safe_task(task)
        return
    import multiprocessing

    # Spawned, not forked: a fork of a process whose Polars and native thread pools are running
    # can deadlock.
    with ProcessPoolExecutor(max_workers=n, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures: dict[Future[tuple[str, Any]], Task] = {pool.submit(_safe_task, t): t for t in tasks}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()


def _execute_dask(
    tasks: list[Task], *, workers: int | None, scheduler: str | None, client: Any
) -> Iterator[tuple[Task, tuple[str, Any]]]:
    try:
        from distributed import Client, LocalCluster
        from distributed import as_completed as dask_completed
    except ImportError as exc:
        raise RuntimeError("Dask is not installed: pip install 'fastcap[dask]'") from exc
    own_cluster = None
    own_client = None
    if client is None:
        if scheduler is not None:
            own_client = Client(scheduler)
        else:
            own_cluster = LocalCluster(
                n_workers=workers or 2, threads_per_worker=1, processes=True, dashboard_address=None
            )
            own_client = Client(own_cluster)
        client = own_client
    try:
        futures = client.map(_safe_task, tasks, pure=False)
        by_key = {f.key: t for f, t in zip(futures, tasks, strict=True)}
        for fut in dask_completed(futures):
            try:
                value = fut.result()
            except Exception as exc:  # a worker lost, a task that could not be sent
                value = ("error", f"{by_key[fut.key].path}: {exc}")
            yield by_key[fut.key], value
    finally:
        if own_client is not None:
            own_client.close()
        if own_cluster is not None:
            own_cluster.close()


def print_progress(what: str, path: str, done: int, total: int, detail: str) -> None:
    """A `Progress` that writes one line per capture to standard error."""
    print(f"[{done}/{total}] {what} {path}: {detail}", file=sys.stderr, flush=True)
