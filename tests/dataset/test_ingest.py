"""`ingest`: idempotence, a capture that grows, atomic replacement, and what is stored (redacted)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import fastcap
import polars as pl
import pytest
from fastcap.dataset import ingest, open_dataset
from fastcap.dataset import ingestion as ingest_module
from fastcap.dataset.layout import MANIFEST_DIR, VERSION_FILE
from fastcap.model import Exchange

MakeCapture = Callable[..., Path]  # the `make_capture` fixture (conftest.py)


def _part_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*.parquet") if MANIFEST_DIR not in p.parts}


def test_ingest_then_again_skips_everything(captures: list[Path], tmp_path: Path) -> None:
    root = tmp_path / "ds"
    first = ingest(captures, root, jobs=1)
    assert (first.ingested, first.skipped, first.updated, first.failed) == (3, 0, 0, 0)
    assert first.calls == 21 and first.exchanges == 21
    assert (root / VERSION_FILE).is_file()
    files = _part_files(root)
    commits = sorted((root / MANIFEST_DIR).iterdir())

    again = ingest([*captures, captures[0]], root, jobs=1)
    assert (again.ingested, again.skipped, again.updated) == (0, 3, 0)
    assert again.calls == 0
    assert _part_files(root) == files
    assert sorted((root / MANIFEST_DIR).iterdir()) == commits  # nothing to commit, nothing written

    # A copy under another name is the same capture.
    copy = tmp_path / "copy.cbor"
    copy.write_bytes(captures[0].read_bytes())
    assert ingest([copy], root, jobs=1).skipped == 1


def test_partitions_by_day_and_agent(captures: list[Path], tmp_path: Path) -> None:
    root = tmp_path / "ds"
    ingest(captures, root, jobs=1)
    days = sorted(p.name for p in (root / "calls").iterdir())
    assert days == ["date=2025-11-21", "date=2025-12-01", "date=2025-12-11"]
    assert {p.name for p in (root / "calls").glob("*/*")} == {"agent=claude-code"}
    ds = open_dataset(root)
    assert ds.captures.height == 3
    assert set(ds.captures["format"]) == {"cbor", "jsonl"}


def test_growing_capture_is_picked_up_where_it_stopped(
    tmp_path: Path, demo: list[Exchange], make_capture: MakeCapture
) -> None:
    data = make_capture("full.cbor", session_id="live").read_bytes()
    live = tmp_path / "live.cbor"
    # The capture as it stood mid-session: three exchanges and half of the next entry.
    prefix = make_capture("prefix.cbor", demo[:3], session_id="live").read_bytes()
    assert data.startswith(prefix)
    live.write_bytes(data[: len(prefix) + 40])
    root = tmp_path / "ds"

    first = ingest([live], root, jobs=1)
    assert (first.ingested, first.calls) == (1, 3)
    assert any("truncated" in w or "ends" in w for w in first.warnings), first.warnings
    capture_id = first.captures[0]
    old_files = _part_files(root)

    live.write_bytes(data)  # the session went on
    second = ingest([live], root, jobs=1)
    assert (second.ingested, second.updated, second.skipped) == (0, 1, 0)
    assert second.captures == [capture_id]
    ds = open_dataset(root)
    assert ds.captures.height == 1
    assert ds.captures["size"].item() == len(data)
    calls = ds.calls.collect()
    assert calls.height == 7 and set(calls["capture_id"]) == {capture_id}
    new_files = _part_files(root)
    assert not (old_files & new_files)  # written beside, then the old generation removed
    assert ingest([live], root, jobs=1).skipped == 1


def test_a_failed_commit_leaves_the_previous_state(
    tmp_path: Path, demo: list[Exchange], make_capture: MakeCapture, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = make_capture("full.cbor", session_id="live").read_bytes()
    prefix = make_capture("prefix.cbor", demo[:3], session_id="live").read_bytes()
    live = tmp_path / "live.cbor"
    live.write_bytes(prefix)
    root = tmp_path / "ds"
    ingest([live], root, jobs=1)
    before = open_dataset(root).calls.collect()

    live.write_bytes(data)

    def crash(*_args: object, **_kwargs: object) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(ingest_module, "commit", crash)
    with pytest.raises(OSError, match="disk full"):
        ingest([live], root, jobs=1)
    # The new part files were written, but no commit lists them: readers see the old capture.
    after = open_dataset(root).calls.collect()
    assert after.equals(before)
    monkeypatch.undo()
    again = ingest([live], root, jobs=1)
    assert again.updated == 1
    assert open_dataset(root).calls.collect().height == 7


def test_bodies_are_stored_redacted_with_chunk_timing(
    tmp_path: Path, demo: list[Exchange], make_capture: MakeCapture
) -> None:
    secret = "sk-ant-api03-" + "FAKEFAKE" * 10
    exchanges = demo
    ex = exchanges[0]
    ex.request_headers = [*ex.request_headers, ("x-api-key", secret)]
    assert ex.request_body is not None
    ex.request_body = ex.request_body.replace(
        b'"messages"', f'"note": "my key is {secret}", "messages"'.encode(), 1
    )
    capture = make_capture("secret.cbor", exchanges)
    assert secret in str(fastcap.read_exchanges(capture)[0].request_headers)  # the capture keeps it
    root = tmp_path / "ds"
    ingest([capture], root, jobs=1)
    for part in root.rglob("*.parquet"):
        assert secret.encode() not in part.read_bytes(), part
    ds = fastcap.open_dataset(root)
    rows = ds.exchanges.sort("index").collect()
    first = rows.row(0, named=True)
    assert secret not in str(first["request_headers"])
    assert b"[REDACTED]" in first["request_body"]
    # Per-chunk timing survives: the chunk arrival times are the capture's.
    assert first["chunk_times"] == [c.t for c in exchanges[0].chunks]
    assert first["chunk_sizes"] == [len(c.data) for c in exchanges[0].chunks]
    # and so TTFT, in the calls table and from the events derived on read.
    calls = ds.calls.sort("index").collect()
    assert calls["ttft_s"][0] == pytest.approx(1.29)
    events = ds.events()
    assert events.filter(pl.col("index") == 0)["arrival_t"].null_count() == 0


def test_unreadable_input_fails_alone(captures: list[Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.cbor"
    bad.write_bytes(b"\xa1" + b"not a capture" * 10)
    result = ingest([bad, captures[0]], tmp_path / "ds", jobs=1)
    assert (result.ingested, result.failed) == (1, 1)
    assert "bad.cbor" in result.errors[0]
    assert open_dataset(tmp_path / "ds").captures.height == 1


def test_directories_and_globs(captures: list[Path], tmp_path: Path) -> None:
    folder = captures[0].parent
    (folder / "notes.txt").write_text("not a capture\n")
    root = folder / "ds"  # a dataset inside the folder it ingests is never read as captures
    assert ingest([folder], root, jobs=1).ingested == 3
    assert ingest([folder / "*.cbor"], root, jobs=1).skipped == 2


def test_process_pool_writes_what_one_process_writes(captures: list[Path], tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    ingest(captures, one, jobs=1)
    ingest(captures, two, jobs=2)
    files = _part_files(one)
    assert files == _part_files(two)
    for rel in files:
        assert (one / rel).read_bytes() == (two / rel).read_bytes(), rel


def test_calls_only_then_exchanges(captures: list[Path], tmp_path: Path) -> None:
    root = tmp_path / "ds"
    first = ingest(captures, root, jobs=1, exchanges=False)
    assert (first.ingested, first.exchanges) == (3, 0)
    ds = open_dataset(root)
    assert ds.calls.collect().height == 21 and ds.exchanges.collect().height == 0
    assert ingest(captures, root, jobs=1, exchanges=False).skipped == 3
    # Asking for the exchanges later ingests the captures again, under the same ids.
    full = ingest(captures, root, jobs=1)
    assert (full.updated, full.skipped, full.exchanges) == (3, 0, 21)
    ds = open_dataset(root)
    assert ds.captures.height == 3 and ds.exchanges.collect().height == 21
    assert ds.calls.collect().height == 21
    assert ingest(captures, root, jobs=1, exchanges=False).skipped == 3
