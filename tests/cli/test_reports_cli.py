"""`fastcap report` and `write_session_reports` on the real test data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastcap.cli import main
from fastcap.reports import write_reports
from helpers import DATA
from helpers.reports_fixtures import anthropic_session

TESTDATA = DATA / "mitmproxy" / "mitmdump_live_flow_detail3.txt"


def test_parser_registers_report() -> None:
    from fastcap.cli import build_parser

    args = build_parser().parse_args(
        ["report", "x.cbor", "--out", "d", "--style", "calls", "--json", "--title", "T", "--no-redact"]
    )
    assert callable(args.func) and args.out == "d" and args.json and args.no_redact and args.title == "T"


def test_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path / "missing.cbor")]) == 2
    assert "fastcap: error:" in capsys.readouterr().err
    (tmp_path / "c.txt").write_text("")
    assert main(["report", str(tmp_path / "c.txt"), "--style", "calls,bogus"]) == 2
    assert "bogus" in capsys.readouterr().err


def test_styles_select_outputs(tmp_path: Path) -> None:
    result = write_reports(anthropic_session(), tmp_path / "s", styles=("dissect",))
    assert [p.name for p in result.files] == ["analysis_report.md"]


def test_fastcap_report_on_mitmdump_log(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tmp"
    assert main(["report", str(TESTDATA), "--out", str(out), "--json"]) == 0
    summary = capsys.readouterr().out
    assert "6 calls" in summary and "leak scan passed" in summary
    calls = sorted(p.name for p in out.glob("0[1-6]_*.md"))
    assert len(calls) == 6 and calls[0].startswith("01_") and calls[-1].startswith("06_")
    report = (out / "report.md").read_text()
    assert "| Capture tool | mitmdump (mitmproxy) |" in report
    assert "| 04 | " in report and "| 9.9k |" in report and "| 204 | 0b |" in report
    assert (out / "analysis_report.md").exists() and json.loads((out / "report.json").read_text())["calls"]


def test_write_session_reports_uses_state(tmp_path: Path) -> None:
    from fastcap.reports import write_session_reports

    session = tmp_path / "20251121_054732"
    session.mkdir()
    shutil.copy(TESTDATA, session / "raw.log")
    (session / "state.json").write_text(
        json.dumps({"status": "analyzing", "started_at": "2025-11-21T05:47:32+00:00"})
    )
    result = write_session_reports(session / "raw.log", session)
    assert result.leak_scan == "passed" and result.calls == 6 and len(result.call_files) == 6
    report = (session / "report.md").read_text()
    assert report.startswith("# Capture Analysis Report — 20251121_054732\n")
    assert "| Date | 2025-11-21T05:47:32+00:00 |" in report and "| Raw log | [raw.log](raw.log) |" in report
    assert "Individual API calls: " in result.completion_message and "(6 files)" in result.completion_message
