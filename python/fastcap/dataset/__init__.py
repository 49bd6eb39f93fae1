"""Many captures as one Parquet dataset: ingest them once, query them with Polars (docs/datasets.md).

```python
import fastcap
from fastcap.dataset import ingest

ingest(["~/captures"], "~/.local/share/fastcap/dataset")        # idempotent, incremental
ds = fastcap.open_dataset("~/.local/share/fastcap/dataset", since="2026-01-01", agent="claude-code")
ds.calls.group_by("model").agg(pl.col("ttft_s").quantile(0.9)).collect(engine="streaming")
```

Modules: `layout` (tables, columns, paths), `storage` (a directory or an fsspec URL),
`fingerprint` (content hashes), `agents` (the `agent` partition), `decode` (one capture through the
engine), `manifest` (the `_captures` log and the version file), `ingestion` (`ingest`), `read` (`open_dataset`,
`calls_for_inputs`), `options` (what the commands call), `events` (derived on read) and `migration` (schema versions).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Names resolve on first use, so that `fastcap --help` and the CLI's parser (which reads
# `DEFAULT_DATASET_ENV`) do not import Polars and the engine.
_LAZY = {
    "IngestResult": "ingestion",
    "expand_inputs": "ingestion",
    "ingest": "ingestion",
    "SCHEMA_VERSION": "layout",
    "DEFAULT_DATASET_ENV": "env",
    "DatasetError": "manifest",
    "migrate": "migration",
    "add_filter_options": "env",
    "FILTER_OPTIONS": "env",
    "filters_from_args": "options",
    "is_many": "options",
    "overview_of_inputs": "options",
    "Dataset": "read",
    "Filters": "read",
    "calls_for_inputs": "read",
    "is_dataset": "read",
    "open_dataset": "read",
}

if TYPE_CHECKING:
    from fastcap.dataset.env import DEFAULT_DATASET_ENV, FILTER_OPTIONS, add_filter_options
    from fastcap.dataset.ingestion import IngestResult, expand_inputs, ingest
    from fastcap.dataset.layout import SCHEMA_VERSION
    from fastcap.dataset.manifest import DatasetError
    from fastcap.dataset.migration import migrate
    from fastcap.dataset.options import filters_from_args, is_many, overview_of_inputs
    from fastcap.dataset.read import Dataset, Filters, calls_for_inputs, is_dataset, open_dataset


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fastcap.dataset' has no attribute {name!r}")
    return getattr(importlib.import_module(f"fastcap.dataset.{module}"), name)


__all__ = [
    "DEFAULT_DATASET_ENV",
    "FILTER_OPTIONS",
    "SCHEMA_VERSION",
    "Dataset",
    "DatasetError",
    "Filters",
    "IngestResult",
    "add_filter_options",
    "calls_for_inputs",
    "expand_inputs",
    "filters_from_args",
    "ingest",
    "is_dataset",
    "is_many",
    "migrate",
    "open_dataset",
    "overview_of_inputs",
]
