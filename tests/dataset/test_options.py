"""What `fastcap analyze` / `report` call to accept datasets and several captures (dataset/options.py)."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from fastcap.dataset import (
    Filters,
    add_filter_options,
    filters_from_args,
    ingest,
    is_many,
    open_dataset,
    overview_of_inputs,
)


def test_filter_options_parse_into_filters() -> None:
    parser = argparse.ArgumentParser()
    add_filter_options(parser)
    args = parser.parse_args(
        ["--since", "2026-01-01", "--agent", "codex", "--agent", "kiro-cli", "--model", "m"]
    )
    assert filters_from_args(args) == Filters(since="2026-01-01", agent=["codex", "kiro-cli"], model=["m"])
    assert filters_from_args(parser.parse_args([])).is_empty()


def test_is_many(captures: list[Path], tmp_path: Path) -> None:
    root = tmp_path / "ds"
    ingest(captures[:1], root, jobs=1)
    assert not is_many([str(captures[0])])
    assert is_many([str(captures[0]), str(captures[1])])
    assert is_many([str(root)]) and is_many([str(captures[0].parent)])
    assert is_many([str(captures[0].parent / "*.cbor")])


def test_overview_of_a_dataset_and_of_its_captures(captures: list[Path], tmp_path: Path) -> None:
    root = tmp_path / "ds"
    ingest(captures, root, jobs=1)
    calls, overview, faults = overview_of_inputs([str(root)], Filters(model="gpt-4o-mini"))
    assert calls.height == 3 and overview.calls == 3 and faults == []
    assert overview.notes[0].startswith("3 captures")
    _, direct, _ = overview_of_inputs([str(p) for p in captures], Filters(model="gpt-4o-mini"))
    strip = {"source", "notes"}
    assert {k: v for k, v in overview.to_json().items() if k not in strip} == {
        k: v for k, v in direct.to_json().items() if k not in strip
    }
    # A report of the dataset: its exchanges, filtered as the calls are.
    ds = open_dataset(root, **dataclasses.asdict(Filters(since="2025-12-05")))
    assert len(ds.exchange_objects()) == 7
