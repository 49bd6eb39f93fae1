"""One answer per question across commands (docs/metrics.md): `fastcap analyze` (calls.parquet),
`fastcap report` (report.json), `fastcap inspect` (its calls table) and the Python API give the
same per-call figures for the same capture: the bundled demo and a generated real-shaped one
(streams recorded twice, abandoned after the finish reason, swapped write batches)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from analysis.test_consistency import assert_same_calls
from fastcap.analysis.exchanges import calls_from_exchanges
from fastcap.analysis.issues import issue_list
from fastcap.cli import main
from fastcap.formats import read_exchanges
from fastcap.inspect.load import load
from fastcap.inspect.prepare import prepare, requests_of
from fastcap.inspect.run import with_content
from helpers import DEMO

# The figures every command shows for a call (docs/metrics.md).
FIGURES = [
    "status",
    "model",
    "ttfb_s",
    "ttft_s",
    "duration_s",
    "text_chars",
    "reasoning_chars",
    "tool_calls",
    "input_total",
    "cache_read",
    "cache_write",
    "output_total",
    "reasoning_tokens",
    "stop_reason",
    "issue_class",
]


@pytest.fixture(scope="module", params=["demo", "real"])
def capture(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if request.param == "demo":
        return DEMO
    from benches.gen_capture import generate

    path = tmp_path_factory.mktemp("real") / "real.cbor"
    generate(path, 2, shape="real")
    return path


@pytest.fixture(scope="module")
def api_calls(capture: Path) -> pl.DataFrame:
    """The Python API: the capture's exchanges through the engine."""
    return calls_from_exchanges(read_exchanges(capture))


def test_analyze_parquet_is_the_python_api(capture: Path, api_calls: pl.DataFrame, tmp_path: Path) -> None:
    assert main(["analyze", str(capture), "--out", str(tmp_path), "--parquet", "--json"]) == 0
    assert_same_calls(pl.read_parquet(tmp_path / "calls.parquet"), api_calls)
    summary = json.loads((tmp_path / "analysis.json").read_text())
    assert summary["calls"] == api_calls.height
    kinds = [issue.kind for issue in issue_list(api_calls)]
    assert summary["issue_counts"] == {k: kinds.count(k) for k in set(kinds)}


def test_inspect_calls_are_the_python_api(capture: Path, api_calls: pl.DataFrame) -> None:
    loaded = load(capture, content_dirs=(3, 1))
    df = prepare(loaded.entries)
    _, calls = with_content(loaded, df, requests_of(df, loaded.fields))
    skip = {c for c in api_calls.columns if c not in FIGURES}
    assert_same_calls(calls.select(api_calls.columns), api_calls, skip=skip)


def test_report_json_is_the_python_api(capture: Path, api_calls: pl.DataFrame, tmp_path: Path) -> None:
    assert main(["report", str(capture), "--out", str(tmp_path), "--json"]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert [c["status"] for c in report["calls"]] == api_calls["status"].to_list()
    timing = {int(t["call"]): t for t in report["timing"]}
    for i, row in enumerate(api_calls.iter_rows(named=True), start=1):
        t = timing.get(i)
        if t is None:
            assert row["ttft_s"] is None and row["duration_s"] is None
            continue
        for key, col in (("ttft", "ttft_s"), ("duration", "duration_s")):
            assert (t[key] is None) == (row[col] is None), (i, key)
            if t[key] is not None:
                assert abs(t[key] - row[col]) < 1e-6, (i, key)
    # `connection_error` is report.md's own, beside the call's class (docs/metrics.md).
    kinds = {(int(x["call"]), x["kind"]) for x in report["issues"] if x["kind"] != "connection_error"}
    assert kinds == {((issue.call_index or 0) + 1, issue.kind) for issue in issue_list(api_calls)}
