"""`fastcap analyze` and `fastcap report` read a dataset (`fastcap ingest`), several captures or a
directory, with the filters pushed into the dataset's scan (docs/datasets.md)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastcap.cli import main
from helpers import DEMO


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    to = tmp_path_factory.mktemp("ds") / "dataset"
    assert main(["ingest", str(DEMO), "--to", str(to)]) == 0
    return to


def _summary(out: Path) -> dict[str, object]:
    data: dict[str, object] = json.loads((out / "analysis.json").read_text())
    data.pop("source")
    data.pop("format")
    return data


def test_analyze_a_dataset_is_analyze_of_its_captures(dataset: Path, tmp_path: Path) -> None:
    assert main(["analyze", str(DEMO), "--out", str(tmp_path / "direct"), "--json", "--no-reports"]) == 0
    assert main(["analyze", str(dataset), "--out", str(tmp_path / "ds"), "--json"]) == 0
    direct, stored = _summary(tmp_path / "direct"), _summary(tmp_path / "ds")
    assert stored["calls"] == direct["calls"] == 7
    for key in ("model_calls", "apis", "models", "statuses", "timing", "tokens", "issue_counts"):
        assert stored[key] == direct[key], key


def test_filters_and_several_inputs(dataset: Path, tmp_path: Path) -> None:
    assert (
        main(["analyze", str(dataset), "--out", str(tmp_path / "none"), "--json", "--since", "2100-01-01"])
        == 0
    )
    assert _summary(tmp_path / "none")["calls"] == 0
    shutil.copy(DEMO, tmp_path / "a.cbor")
    shutil.copy(DEMO, tmp_path / "b.cbor")
    assert (
        main(
            [
                "analyze",
                str(tmp_path / "a.cbor"),
                str(tmp_path / "b.cbor"),
                "--out",
                str(tmp_path / "two"),
                "--json",
            ]
        )
        == 0
    )
    assert _summary(tmp_path / "two")["calls"] == 14


def test_report_a_dataset(dataset: Path, tmp_path: Path) -> None:
    assert main(["report", str(dataset), "--out", str(tmp_path / "r")]) == 0
    assert len(list((tmp_path / "r").glob("0*_*.md"))) == 7
    assert (tmp_path / "r" / "report.md").exists()
