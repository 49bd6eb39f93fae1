"""A dataset written by the previous version (schema 0, written here by hand) read and migrated."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest
from fastcap.analysis.calls import redact_calls
from fastcap.dataset import SCHEMA_VERSION, DatasetError, ingest, migrate, open_dataset
from fastcap.dataset.decode import engine_calls
from fastcap.dataset.layout import MANIFEST_DIR, VERSION_FILE
from fastcap.dataset.migration import V0_COMMIT

# The columns the calls table gained after schema 0.
ADDED = ("abandoned_after_finish", "request_body_fidelity", "response_body_fidelity")


def write_v0(root: Path, capture: Path) -> pl.DataFrame:
    """A schema-0 dataset of one capture, as the development builds wrote it: no version file,
    one manifest file `_captures.parquet`, calls part files without the columns added since."""
    data = capture.read_bytes()
    content_hash = hashlib.blake2b(data, digest_size=32).hexdigest()
    capture_id = content_hash[:16]
    calls = redact_calls(engine_calls(str(capture))[1]).drop(*ADDED)
    calls = calls.with_columns(capture_id=pl.lit(capture_id), source_path=pl.lit(str(capture.resolve())))
    rel = f"calls/date=2025-11-21/agent=claude-code/{capture_id}.parquet"
    (root / rel).parent.mkdir(parents=True)
    calls.write_parquet(root / rel)
    pl.DataFrame(
        {
            "capture_id": [capture_id],
            "source_path": [str(capture.resolve())],
            "format": ["cbor"],
            "size": [len(data)],
            "content_hash": [content_hash],
            "mtime": [capture.stat().st_mtime],
            "agent": ["claude-code"],
            "calls": [calls.height],
            "files": [[rel]],
            "ingested_at": [1.7e9],
        }
    ).write_parquet(root / "_captures.parquet")
    return calls


def test_read_a_v0_dataset_without_writing(captures: list[Path], tmp_path: Path) -> None:
    root = tmp_path / "v0"
    written = write_v0(root, captures[0])
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    ds = open_dataset(root)
    assert ds.version == 0
    calls = ds.calls.collect()
    assert calls.height == 7
    for column in ADDED:  # a column the file lacks reads as null
        assert calls[column].null_count() == 7
    assert calls.select(written.columns).equals(written)
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before  # reading wrote nothing


def test_ingest_migrates_then_skips_what_v0_holds(captures: list[Path], tmp_path: Path) -> None:
    root = tmp_path / "v0"
    write_v0(root, captures[0])
    # Schema 0 stored the calls table only: asked for no more, the v0 capture is skipped.
    result = ingest(captures[:2], root, jobs=1, exchanges=False)
    assert (result.skipped, result.ingested) == (1, 1)
    assert not (root / "_captures.parquet").exists()
    assert (root / MANIFEST_DIR / f"{V0_COMMIT}.parquet").is_file()
    doc = json.loads((root / VERSION_FILE).read_text())
    assert doc["schema_version"] == SCHEMA_VERSION == 1
    ds = open_dataset(root)
    assert ds.version == 1 and ds.captures.height == 2
    assert ds.captures.sort("commit")["schema_version"].to_list() == [0, 1]
    calls = ds.calls.collect()
    assert calls.height == 14
    assert calls["request_body_fidelity"].null_count() == 7  # the v0 files are read as they are
    assert migrate(root) == (1, 1)
    # Asked for its exchanges, it is ingested again under its id, now with every column.
    again = ingest(captures[:1], root, jobs=1)
    assert (again.updated, again.exchanges) == (1, 7)
    ds = open_dataset(root)
    assert ds.captures.height == 2 and ds.calls.collect()["request_body_fidelity"].null_count() == 0
    # The v0 part file (named without a generation) was replaced, then removed.
    assert [p for p in root.rglob("*.parquet") if len(p.stem) == 16] == []


def test_migration_can_run_again_after_a_crash(captures: list[Path], tmp_path: Path) -> None:
    root = tmp_path / "v0"
    write_v0(root, captures[0])
    v0_manifest = (root / "_captures.parquet").read_bytes()
    assert migrate(root) == (0, 1)
    # A crash before the old manifest was removed: the step runs again and ends the same.
    (root / VERSION_FILE).unlink()
    (root / "_captures.parquet").write_bytes(v0_manifest)
    assert migrate(root) == (0, 1)
    assert len(list((root / MANIFEST_DIR).iterdir())) == 1
    assert open_dataset(root).captures.height == 1


def test_a_newer_dataset_is_refused(captures: list[Path], tmp_path: Path) -> None:
    root = tmp_path / "ds"
    ingest(captures[:1], root, jobs=1)
    doc = json.loads((root / VERSION_FILE).read_text())
    doc["schema_version"] = SCHEMA_VERSION + 1
    (root / VERSION_FILE).write_text(json.dumps(doc))
    with pytest.raises(DatasetError, match="newer fastcap"):
        open_dataset(root)
    with pytest.raises(DatasetError, match="newer fastcap"):
        ingest(captures[1:2], root, jobs=1)
