"""Schema versions of a dataset and the migrations between them (docs/datasets.md).

| version | layout |
|---|---|
| 0 | development builds: no `_fastcap_dataset.json`; the manifest is one file, `_captures.parquet`, rewritten by each ingest, without `head_len` / `head_hash` (a capture that grew is not recognised); calls part files without `abandoned_after_finish`, `request_body_fidelity`, `response_body_fidelity` |
| 1 | `_fastcap_dataset.json`; the manifest is a log of commit files under `_captures/`; every column of `layout.py` |

Part files are never rewritten by a migration: a reader inserts a column a file lacks as null
(`read.Dataset.scan`), so only the manifest and the version file change. Each step is safe to run
again after a crash (its commit name is fixed, the old manifest is removed last). `ingest`
migrates a dataset before writing to it; `open_dataset` reads every version up to the current one
without writing.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import polars as pl

from fastcap.dataset.layout import MANIFEST_DIR, MANIFEST_SCHEMA, SCHEMA_VERSION, conform
from fastcap.dataset.manifest import (
    V0_MANIFEST,
    DatasetError,
    check_readable,
    parquet_bytes,
    write_version_file,
)
from fastcap.dataset.storage import Storage

# The commit the v0 manifest becomes: named so that it sorts before every later commit.
V0_COMMIT = "00000000000000000000-v0"


def _v0_to_v1(storage: Storage) -> None:
    old = pl.read_parquet(storage.read_bytes(V0_MANIFEST))
    rows = conform(old, MANIFEST_SCHEMA).with_columns(
        schema_version=pl.lit(0, pl.Int32), commit=pl.lit(V0_COMMIT, pl.String)
    )
    storage.write_atomic(f"{MANIFEST_DIR}/{V0_COMMIT}.parquet", parquet_bytes(rows))
    write_version_file(storage)  # from here on the dataset reads as version 1
    storage.remove(V0_MANIFEST)


# version -> the step that brings a dataset of that version to the next one.
MIGRATIONS: dict[int, Callable[[Storage], None]] = {0: _v0_to_v1}


def migrate(dataset: str | os.PathLike[str] | Storage) -> tuple[int, int]:
    """Bring the dataset to the current schema version; returns (version found, version now)."""
    storage = dataset if isinstance(dataset, Storage) else Storage(dataset)
    found = check_readable(storage)
    version = found
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:  # pragma: no cover - every version below the current has a step
            raise DatasetError(f"{storage.root}: no migration from schema version {version}")
        step(storage)
        version += 1
    return found, version
