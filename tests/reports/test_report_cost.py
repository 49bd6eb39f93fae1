"""report.md and report.json carry the cost of the model calls, and the same figures as `fastcap
analyze` (docs/metrics.md, Cost: one answer per question)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastcap.analysis.cost import prices_available
from helpers import DEMO


@pytest.mark.skipif(not prices_available(), reason="genai-prices not installed")
def test_report_cost_matches_analyze(tmp_path: Path) -> None:
    run = [sys.executable, "-m", "fastcap"]
    subprocess.run([*run, "report", str(DEMO), "--out", str(tmp_path / "rep"), "--json"], check=True)
    subprocess.run([*run, "analyze", str(DEMO), "--out", str(tmp_path / "an"), "--json"], check=True)
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    analysis = json.loads((tmp_path / "an" / "analysis.json").read_text())
    cost = report["cost"]
    assert cost == analysis["cost"]
    assert cost["total_usd"] > 0 and cost["priced_calls"] > 0
    md = (tmp_path / "rep" / "report.md").read_text()
    section = md[md.index("## Cost") :]
    assert section.splitlines()[2].startswith("$") and f"over {cost['priced_calls']} priced calls" in section
    for model in cost["by_model"]:
        assert f"| {model} |" in section
