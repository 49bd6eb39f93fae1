"""Manifest compaction: an ingest adds commit files; past a threshold they are folded into one,
and the dataset reads the same before and after (also against a commit added meanwhile)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
from fastcap.dataset import ingest, open_dataset
from fastcap.dataset.layout import MANIFEST_DIR
from fastcap.dataset.manifest import commit, commit_files, compact, read_manifest
from fastcap.dataset.storage import Storage
from fastcap.model import Exchange

MakeCapture = Callable[..., Path]  # the `make_capture` fixture (conftest.py)


def _state(root: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    ds = open_dataset(root)
    calls = ds.calls.collect().sort("capture_id", "index")
    return ds.captures.drop("ingested_at").sort("capture_id"), calls


def test_ingests_past_the_threshold_are_compacted(
    tmp_path: Path, demo: list[Exchange], make_capture: MakeCapture
) -> None:
    root = tmp_path / "ds"
    # A capture that grows over five ingests (a row per ingest for the same capture) and others.
    full = make_capture("full.cbor", session_id="live").read_bytes()
    live = tmp_path / "live.cbor"
    paths = [make_capture(f"c{i}.cbor", days=i, session_id=f"s{i}") for i in range(3)]
    for n in range(1, 5):
        live.write_bytes(make_capture(f"prefix{n}.cbor", demo[:n], session_id="live").read_bytes())
        ingest([live, paths[n - 1] if n <= 3 else live], root, jobs=1, compact_after=100)
    live.write_bytes(full)
    ingest([live], root, jobs=1, compact_after=100)
    assert commit_files(Storage(root)) >= 5
    before = _state(root)
    assert before[0].height == 4  # the grown capture is one capture

    storage = Storage(root)
    assert compact(storage) >= 5
    assert commit_files(storage) == 1
    after = _state(root)
    assert after[0].equals(before[0]) and after[1].equals(before[1])
    assert compact(storage) == 0  # one file: nothing to do

    # Ingest compacts by itself once the manifest holds more files than `compact_after`.
    more = make_capture("more.cbor", days=5, session_id="more")
    result = ingest([more], root, jobs=1, compact_after=1)
    assert result.ingested == 1
    assert commit_files(storage) == 1
    assert _state(root)[0].height == 5


def test_a_commit_newer_than_the_compacted_rows_still_wins(tmp_path: Path, make_capture: MakeCapture) -> None:
    root = tmp_path / "ds"
    for i in range(3):
        ingest([make_capture(f"c{i}.cbor", days=i, session_id=f"s{i}")], root, jobs=1, compact_after=100)
    storage = Storage(root)
    live = read_manifest(storage)
    row = live.row(0, named=True)
    # Another writer's commit of a newer state of the first capture, made before the compaction
    # writes its file: the compacted file (written later) must not override it.
    commit(storage, [{**row, "calls": 999}])
    compact(storage)
    assert commit_files(storage) == 1
    state = read_manifest(storage)
    assert state.filter(pl.col("capture_id") == row["capture_id"])["calls"].item() == 999
    assert sorted(p.name for p in (root / MANIFEST_DIR).iterdir())[0].endswith("-compact.parquet")


class CountingStorage(Storage):
    """The real local storage, counting its directory listings."""

    listings = 0

    def listdir(self, rel: str, suffix: str = "") -> list[str]:
        self.listings += 1
        return super().listdir(rel, suffix)


def test_compaction_past_a_threshold_lists_the_manifest_once(
    tmp_path: Path, make_capture: MakeCapture
) -> None:
    root = tmp_path / "ds"
    for i in range(3):
        ingest([make_capture(f"c{i}.cbor", days=i, session_id=f"s{i}")], root, jobs=1, compact_after=100)
    storage = CountingStorage(root)
    assert compact(storage, after=3) == 0 and storage.listings == 1  # three files: not more than 3
    storage.listings = 0
    assert compact(storage, after=2) == 3 and storage.listings == 1
    assert commit_files(storage) == 1
