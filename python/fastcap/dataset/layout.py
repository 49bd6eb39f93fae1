"""What a dataset looks like on disk: the tables, their columns, the partition paths and the
version file (docs/datasets.md).

```
DATASET/
  _fastcap_dataset.json                       schema version, partitioning, table columns
  _captures/<commit>.parquet                  the manifest: one file per commit, latest row per capture wins
  calls/date=YYYY-MM-DD/agent=NAME/<capture_id>-<gen>.parquet
  exchanges/date=YYYY-MM-DD/agent=NAME/<capture_id>-<gen>.parquet
```

`date` is the UTC day a call (exchange) started, `agent` the agent the capture came from
(`agents.py`); both are hive partition columns, so they are not stored inside the part files.
A part file is named after its capture and the generation of that capture (`gen`, the start of
the content hash of the bytes ingested), so a capture that grew is written beside its old files
and never over them; readers only see the files the manifest lists.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import polars as pl

from fastcap.analysis.calls import CALLS_SCHEMA
from fastcap.dataset.env import DEFAULT_DATASET_ENV

DATASET_FORMAT = "fastcap-dataset"
# 1: the first released layout (manifest as commit files under `_captures/`). 0 is the layout of
# the development builds before it (`migrate.py`).
SCHEMA_VERSION = 1
VERSION_FILE = "_fastcap_dataset.json"
MANIFEST_DIR = "_captures"
TABLES = ("calls", "exchanges")
PARTITIONING = ("date", "agent")

Schema = dict[str, pl.DataType | type[pl.DataType]]

HIVE_SCHEMA: Schema = {"date": pl.Date, "agent": pl.String}
# Columns every stored table has beside its own: which capture a row came from.
CAPTURE_COLUMNS: Schema = {"capture_id": pl.String, "source_path": pl.String}

_HEADER_LIST = pl.List(pl.Struct({"name": pl.String, "value": pl.String}))

# `formats.writers.exchanges_frame` (redacted like every file fastcap writes), typed once here so
# that part files of different captures share one schema.
EXCHANGE_COLUMNS: Schema = {
    "index": pl.UInt32,
    "source": pl.String,
    "method": pl.String,
    "url": pl.String,
    "http_version": pl.String,
    "status": pl.Int64,
    "reason": pl.String,
    "request_headers": _HEADER_LIST,
    "request_body": pl.Binary,
    "response_headers": _HEADER_LIST,
    "response_body": pl.Binary,
    "response_body_text": pl.String,
    "request_trailers": _HEADER_LIST,
    "response_trailers": _HEADER_LIST,
    # Per-chunk arrival times and sizes as the capture recorded them (before redaction), so TTFT
    # and inter-chunk gaps can be recomputed from the table.
    "chunk_times": pl.List(pl.Float64),
    "chunk_sizes": pl.List(pl.Int64),
    "started_at": pl.Float64,
    "request_ended_at": pl.Float64,
    "response_started_at": pl.Float64,
    "ended_at": pl.Float64,
    "fidelity": pl.String,
    "request_body_fidelity": pl.String,
    "response_body_fidelity": pl.String,
    "flags": pl.List(pl.String),
    "error": pl.String,
    "request_id": pl.String,
    "session_id": pl.String,
    "backend": pl.String,
    "model": pl.String,
}


def file_schema(table: str) -> Schema:
    """The columns inside a part file of `table` (without the partition columns)."""
    own = dict(CALLS_SCHEMA) if table == "calls" else dict(EXCHANGE_COLUMNS)
    return {**own, **CAPTURE_COLUMNS}


def table_schema(table: str) -> Schema:
    """The columns a reader sees: the file's, then the partition columns."""
    return {**file_schema(table), **HIVE_SCHEMA}


MANIFEST_SCHEMA: Schema = {
    "capture_id": pl.String,  # the capture's id: its content hash when first ingested (16 hex)
    "source_path": pl.String,  # absolute path on the machine that ingested it
    "format": pl.String,
    "size": pl.Int64,  # bytes hashed (the file's size when ingested)
    "content_hash": pl.String,  # blake2b-256 of those bytes
    "head_len": pl.Int64,  # how many bytes head_hash covers: min(size, HEAD_BYTES)
    "head_hash": pl.String,  # blake2b-256 of the first head_len bytes (finds a capture that grew)
    "mtime": pl.Float64,
    "agent": pl.String,
    "calls": pl.Int64,
    "exchanges": pl.Int64,
    "first_started_at": pl.Float64,
    "last_ended_at": pl.Float64,
    "files": pl.List(pl.String),  # the live part files of the capture, relative to the dataset root
    "tables": pl.List(pl.String),  # the tables stored for it: calls, and exchanges unless --calls-only
    "bytes_written": pl.Int64,
    "faults": pl.List(pl.String),  # reader warnings (one line each)
    "schema_version": pl.Int32,
    "fastcap_version": pl.String,
    "ingested_at": pl.Float64,
    "commit": pl.String,
}


def dtype_name(dtype: Any) -> str:
    return str(dtype)


def version_document(fastcap_version: str) -> dict[str, Any]:
    """The content of `_fastcap_dataset.json`."""
    return {
        "format": DATASET_FORMAT,
        "schema_version": SCHEMA_VERSION,
        "written_by": f"fastcap {fastcap_version}",
        "partitioning": list(PARTITIONING),
        "events": "derived on read from exchanges.response_body (not stored)",
        "tables": {name: {c: dtype_name(t) for c, t in table_schema(name).items()} for name in TABLES}
        | {MANIFEST_DIR: {c: dtype_name(t) for c, t in MANIFEST_SCHEMA.items()}},
    }


_AGENT_UNSAFE = re.compile(r"[^a-z0-9._-]+")


def agent_slug(name: str) -> str:
    """A partition-safe agent name: lower case, `[a-z0-9._-]`, never empty."""
    slug = _AGENT_UNSAFE.sub("-", name.strip().lower()).strip("-.")
    return slug or "unknown"


def part_path(table: str, day: dt.date, agent: str, capture_id: str, gen: str) -> str:
    return f"{table}/date={day.isoformat()}/agent={agent}/{capture_id}-{gen}.parquet"


def conform(frame: pl.DataFrame, schema: Schema) -> pl.DataFrame:
    """`frame` with exactly `schema`'s columns, in order and typed: a column `frame` lacks is null
    (a reader of an older version), one it has beyond them is dropped."""
    height = frame.height
    cols = []
    for name, dtype in schema.items():
        if name in frame.columns:
            cols.append(frame[name].cast(dtype))
        else:
            cols.append(pl.Series(name, [None] * height, dtype=dtype))
    return pl.DataFrame(cols) if cols else pl.DataFrame(schema=schema)


def default_dataset_path() -> str:
    """Where a personal dataset lives unless told: `$FASTCAP_DATASET`, else
    `$XDG_DATA_HOME/fastcap/dataset` (`~/.local/share/fastcap/dataset`)."""
    import os

    env = os.environ.get(DEFAULT_DATASET_ENV)
    if env:
        return env
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "fastcap", "dataset")
