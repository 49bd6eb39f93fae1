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
`calls_for_inputs`), `options` (what the commands call), `events` (derived on read) and `migrate` (schema versions).
"""

from __future__ import annotations

from fastcap.dataset.ingestion import IngestResult, expand_inputs, ingest
from fastcap.dataset.layout import SCHEMA_VERSION
from fastcap.dataset.manifest import DatasetError
from fastcap.dataset.migrate import migrate
from fastcap.dataset.options import add_filter_options, filters_from_args, is_many, overview_of_inputs
from fastcap.dataset.read import Dataset, Filters, calls_for_inputs, is_dataset, open_dataset

__all__ = [
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
