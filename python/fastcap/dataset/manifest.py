"""The `_captures` manifest and the version file: what a dataset holds, and which version wrote it.

The manifest is a log of commit files, `_captures/<commit>.parquet`, one per batch of captures an
ingest finished; a commit name starts with its time in nanoseconds, so names sort in commit
order. The row of a capture in the latest commit that has one is the capture's state: its hashes,
counts and the part files that are live. Writers only ever add commit files (atomically), so a
reader always sees a complete state, several writers never overwrite each other's commits, and a
crash between writing part files and committing leaves only files no row lists (ignored, and
written again by the next ingest of that capture). Each ingest adds at least one commit file, so
`compact` folds them into one once there are more than `COMPACT_AFTER` (`ingest` does it at its
end).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import polars as pl

from fastcap.dataset.layout import (
    DATASET_FORMAT,
    MANIFEST_DIR,
    MANIFEST_SCHEMA,
    SCHEMA_VERSION,
    VERSION_FILE,
    conform,
    version_document,
)
from fastcap.dataset.storage import Storage

# The manifest of a version-0 dataset (`migrate.py`): one file at the root, rewritten by each ingest.
V0_MANIFEST = "_captures.parquet"


class DatasetError(Exception):
    """A path that is not a dataset fastcap can use: not one at all, or written by a newer version."""


def dataset_version(storage: Storage) -> int | None:
    """The schema version of the dataset at `storage`, None when there is none there."""
    if storage.exists(VERSION_FILE):
        try:
            doc = json.loads(storage.read_bytes(VERSION_FILE))
        except ValueError as exc:
            raise DatasetError(f"{storage.url(VERSION_FILE)}: not valid JSON ({exc})") from exc
        if not isinstance(doc, dict) or doc.get("format") != DATASET_FORMAT:
            raise DatasetError(f"{storage.url(VERSION_FILE)}: not a {DATASET_FORMAT} version file")
        version = doc.get("schema_version")
        if not isinstance(version, int):
            raise DatasetError(f"{storage.url(VERSION_FILE)}: no schema_version")
        return version
    if storage.exists(V0_MANIFEST):
        return 0
    return None


def check_readable(storage: Storage) -> int:
    """The dataset's version, after checking this fastcap can read it."""
    version = dataset_version(storage)
    if version is None:
        raise DatasetError(f"{storage.root}: not a fastcap dataset (no {VERSION_FILE})")
    if version > SCHEMA_VERSION:
        raise DatasetError(
            f"{storage.root}: dataset schema version {version} was written by a newer fastcap "
            f"(this one reads up to {SCHEMA_VERSION}); upgrade fastcap"
        )
    return version


def write_version_file(storage: Storage) -> None:
    from fastcap import __version__

    doc = version_document(__version__)
    storage.write_atomic(VERSION_FILE, json.dumps(doc, indent=2).encode() + b"\n")


def create_or_open(storage: Storage) -> int:
    """Make `storage` a dataset if it is not one yet (an absent or empty directory); returns the
    version found (0 for a new one is never returned: a new dataset is written at the current)."""
    version = dataset_version(storage)
    if version is not None:
        return check_readable(storage)
    if storage.is_local and storage.exists() and storage.listdir("", ""):
        raise DatasetError(
            f"{storage.root}: not empty and not a fastcap dataset (no {VERSION_FILE}); "
            "give a new or empty directory"
        )
    write_version_file(storage)
    return SCHEMA_VERSION


def new_commit_name() -> str:
    return f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"


def commit(storage: Storage, rows: list[dict[str, Any]], name: str | None = None) -> str:
    """Add one commit file holding `rows` (manifest rows); returns its name."""
    name = name or new_commit_name()
    frame = conform(
        pl.DataFrame([{**r, "commit": name} for r in rows], infer_schema_length=None), MANIFEST_SCHEMA
    )
    storage.write_atomic(f"{MANIFEST_DIR}/{name}.parquet", parquet_bytes(frame))
    return name


def parquet_bytes(frame: pl.DataFrame, *, row_group_size: int | None = None) -> bytes:
    import io

    buf = io.BytesIO()
    frame.write_parquet(buf, compression="zstd", statistics=True, row_group_size=row_group_size)
    return buf.getvalue()


def read_manifest(storage: Storage, version: int | None = None) -> pl.DataFrame:
    """The live state of every capture: its row in the latest commit that has one."""
    return _read_commits(storage, version)[0]


def _read_commits(
    storage: Storage, version: int | None = None, listed: list[str] | None = None
) -> tuple[pl.DataFrame, list[str]]:
    """(the live state, the commit files it was read from); `listed`: the commit files, when the
    caller has just listed them."""
    version = dataset_version(storage) if version is None else version
    if version == 0:
        parts = [pl.read_parquet(storage.read_bytes(V0_MANIFEST))]
        names: list[str] = []
    else:
        for attempt in range(_READ_ATTEMPTS):
            names = (
                listed if listed is not None and attempt == 0 else storage.listdir(MANIFEST_DIR, ".parquet")
            )
            try:
                parts = [pl.read_parquet(storage.read_bytes(f"{MANIFEST_DIR}/{n}")) for n in names]
                break
            except FileNotFoundError:
                # A compaction removed commit files between the listing and the read; the file
                # that replaces them was written first, so listing again finds it.
                if attempt == _READ_ATTEMPTS - 1:
                    raise
    if not parts:
        return pl.DataFrame(schema=MANIFEST_SCHEMA), names
    rows = pl.concat([conform(p, MANIFEST_SCHEMA) for p in parts], how="vertical")
    live = (
        rows.with_row_index("_order")
        .sort("commit", "_order", nulls_last=False)
        .unique("capture_id", keep="last", maintain_order=True)
        .drop("_order")
    )
    return live, names


_READ_ATTEMPTS = 5
# `ingest` compacts the manifest once it holds more commit files than this.
COMPACT_AFTER = 16


def compact(storage: Storage, *, after: int = 1) -> int:
    """Replace the manifest's commit files by one holding the live state (a row per capture) when
    there are more than `after` of them (`ingest` passes `COMPACT_AFTER`); returns how many files
    it replaced (0: nothing done). The directory is listed once.

    Every row keeps the `commit` it was written in, and readers order rows by that column, not by
    file name, so the compacted file orders exactly as the files it replaces did, also against a
    commit another writer adds meanwhile (never removed: only the files read are). The new file is
    written before the old ones are removed, so a reader sees the state whole at every moment
    (`_read_commits` lists again when a file it listed is gone)."""
    listed = storage.listdir(MANIFEST_DIR, ".parquet")
    if len(listed) <= after:
        return 0
    live, names = _read_commits(storage, listed=listed)
    storage.write_atomic(
        f"{MANIFEST_DIR}/{new_commit_name()}-compact.parquet", parquet_bytes(conform(live, MANIFEST_SCHEMA))
    )
    for name in names:
        storage.remove(f"{MANIFEST_DIR}/{name}")
    return len(names)


def commit_files(storage: Storage) -> int:
    """How many commit files the manifest has."""
    return len(storage.listdir(MANIFEST_DIR, ".parquet"))
