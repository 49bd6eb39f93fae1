"""Reading a dataset back: partition pruning, filters, and the same answer as the captures."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import fastcap
import polars as pl
import pytest
from fastcap.analysis.calls import CALLS_SCHEMA, redact_calls
from fastcap.analysis.overview import build_overview
from fastcap.dataset import Filters, calls_for_inputs, ingest, open_dataset
from fastcap.dataset.decode import engine_calls


@pytest.fixture
def dataset(captures: list[Path], tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    ingest(captures, root, jobs=1)
    return root


def test_open_dataset_is_exported_lazily() -> None:
    assert fastcap.open_dataset is open_dataset


def test_since_does_not_open_old_partitions(dataset: Path) -> None:
    # Corrupt every file of the two older days: a query that needs them fails...
    for day in ("2025-11-21", "2025-12-01"):
        for table in ("calls", "exchanges"):
            for part in (dataset / table / f"date={day}").rglob("*.parquet"):
                part.write_bytes(b"not parquet at all")
    with pytest.raises(pl.exceptions.ComputeError):
        open_dataset(dataset).calls.collect()
    # ...but one from a later day never opens them.
    recent = open_dataset(dataset, since="2025-12-05")
    plan = recent.calls.explain()
    assert "date=2025-12-11" in plan and "date=2025-11-21" not in plan and "date=2025-12-01" not in plan
    calls = recent.calls.collect(engine="streaming")
    assert calls.height == 7 and set(calls["date"]) == {dt.date(2025, 12, 11)}
    assert recent.exchanges.select("index", "response_body").collect(engine="streaming").height == 7
    assert open_dataset(dataset, until="2025-11-20").calls.collect().height == 0


def test_filters(dataset: Path) -> None:
    ds = open_dataset(dataset)
    assert ds.calls.collect().height == 21
    assert ds.filter(agent="claude-code").calls.collect().height == 21
    assert ds.filter(agent="codex").calls.collect().height == 0
    sonnet = ds.filter(model="claude-sonnet-4-5").calls.collect()
    assert sonnet.height == 12 and set(sonnet["model"]) == {"claude-sonnet-4-5"}
    assert ds.filter(model=["gpt-4o-mini", "gemini-2.5-flash"]).calls.collect().height == 6
    session = ds.calls.select("session_id").collect()["session_id"].drop_nulls()[0]
    assert ds.filter(session=session).calls.collect().height > 0
    # An instant bounds by the call's start; a date by whole days.
    first = ds.calls.collect()["started_at"].min()
    assert isinstance(first, float)
    later = dt.datetime.fromtimestamp(first + 1, dt.UTC)
    assert ds.filter(since=later, until="2025-11-21").calls.collect().height == 6
    assert ds.filter(since="2025-12-01", until="2025-12-01").exchanges.collect().height == 7


def test_dataset_answers_as_the_captures_do(captures: list[Path], dataset: Path) -> None:
    ds = open_dataset(dataset)
    stored = ds.calls_frame()
    for path in captures:
        direct = redact_calls(engine_calls(str(path))[1])
        mine = stored.filter(pl.col("source_path") == str(path.resolve())).select(list(CALLS_SCHEMA))
        assert mine.equals(direct), path
    # calls_for_inputs over the files and over the dataset: the same table.
    from_files = calls_for_inputs(captures)
    from_dataset = calls_for_inputs([dataset])
    assert from_files.drop("capture_id").equals(from_dataset.drop("capture_id"))
    one = build_overview(from_dataset.select(list(CALLS_SCHEMA)), source="ds", fmt="dataset")
    assert one.calls == 21 and one.model_calls == 21
    # One chunk either way: Polars sums chunk by chunk, and a float total (cost) summed over one
    # chunk per capture differed in its last digit from the dataset's (seen with 50 captures).
    assert from_files.n_chunks() == 1 and from_dataset.n_chunks() == 1
    assert build_overview(from_files.select(list(CALLS_SCHEMA)), source="ds", fmt="dataset") == one


def test_calls_for_inputs_mixes_datasets_files_and_globs(captures: list[Path], dataset: Path) -> None:
    folder = captures[0].parent
    mixed = calls_for_inputs([dataset, captures[0], str(folder / "*.jsonl")], Filters(model="gpt-4o-mini"))
    assert mixed.height == 5 and set(mixed["model"]) == {"gpt-4o-mini"}
    assert calls_for_inputs([folder], Filters(since="2025-12-10")).height == 7
    faults: list[object] = []
    assert calls_for_inputs([], faults=faults).height == 0


def test_empty_and_foreign_paths(tmp_path: Path) -> None:
    empty = tmp_path / "new"
    ingest([], empty)
    ds = open_dataset(empty)
    assert ds.calls.collect().height == 0 and ds.exchanges.collect().height == 0
    with pytest.raises(fastcap.dataset.DatasetError, match="not a fastcap dataset"):
        open_dataset(tmp_path)
    (tmp_path / "other.txt").write_text("x")
    with pytest.raises(fastcap.dataset.DatasetError, match="not empty"):
        ingest([], tmp_path)


def test_p90_ttft_per_model_per_week(dataset: Path) -> None:
    """The docs/datasets.md example runs."""
    weekly = (
        open_dataset(dataset)
        .calls.filter(pl.col("is_model_call"))
        .group_by("model", week=pl.col("date").dt.truncate("1w"))
        .agg(p90_ttft_s=pl.col("ttft_s").quantile(0.9), calls=pl.len())
        .sort("week", "model")
        .collect(engine="streaming")
    )
    assert weekly.height == 12
    assert weekly.filter(pl.col("model") == "gpt-4o-mini")["p90_ttft_s"].to_list() == pytest.approx(
        [0.35] * 3
    )


def test_a_dataset_at_an_fsspec_url(captures: list[Path], tmp_path: Path) -> None:
    pytest.importorskip("fsspec")
    url = (tmp_path / "remote").as_uri()  # file:///…, through fsspec as an object store would be
    assert ingest(captures, url, jobs=1).ingested == 3
    assert ingest(captures, url, jobs=1).skipped == 3
    ds = open_dataset(url, since="2025-12-05")
    assert all(f.startswith("file://") for f in ds.files("calls"))
    assert ds.calls.collect().height == 7 and ds.exchanges.collect().height == 7
    assert not list((tmp_path / "remote").rglob("*.tmp"))
    local = open_dataset(tmp_path / "remote").calls_frame()
    assert local.equals(open_dataset(url).calls_frame())


def test_exchange_objects_feed_the_reports(dataset: Path, tmp_path: Path) -> None:
    from fastcap.dialects import analyze_exchange
    from fastcap.reports import write_reports

    ds = open_dataset(dataset, since="2025-12-05")
    exchanges = ds.exchange_objects()
    assert len(exchanges) == 7 and [e.index for e in exchanges] == list(range(7))
    first = exchanges[0]
    assert first.chunks and b"".join(c.data for c in first.chunks) == first.response_body
    # The dialect analysis of a stored exchange finds the TTFT the calls table holds.
    calls = ds.calls_frame()
    assert analyze_exchange(first).response.ttft == pytest.approx(calls["ttft_s"][0])
    result = write_reports(exchanges, tmp_path / "out", source=Path("dataset"))
    assert len(result.files) > 7 and not result.leak_findings
