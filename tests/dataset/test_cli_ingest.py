"""`fastcap ingest` from the command line: progress on stderr, one summary line, exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastcap.cli import main
from fastcap.dataset import open_dataset


def test_ingest_command(captures: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "ds"
    folder = str(captures[0].parent)
    assert main(["ingest", folder, "--to", str(root), "--jobs", "1"]) == 0
    out, err = capsys.readouterr()
    assert out.count("\n") == 1
    assert "3 ingested, 0 skipped, 0 updated; 21 calls, 21 exchanges" in out
    assert "[1/3] ingested" in err and "[3/3]" in err
    assert main(["ingest", folder, "--to", str(root), "-q"]) == 0
    out, err = capsys.readouterr()
    assert "0 ingested, 3 skipped" in out and err == ""
    assert open_dataset(root).captures.height == 3


def test_ingest_agent_override_and_default_location(
    captures: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("FASTCAP_DATASET", raising=False)
    assert main(["ingest", str(captures[0]), "--agent", "My Agent", "-q", "-j", "1"]) == 0
    root = tmp_path / "xdg" / "fastcap" / "dataset"
    assert str(root) in capsys.readouterr().out
    assert set(open_dataset(root).calls.collect()["agent"]) == {"my-agent"}


def test_ingest_errors(captures: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    assert main(["ingest", str(bad), str(captures[0]), "--to", str(tmp_path / "ds"), "-q", "-j", "1"]) == 2
    out, err = capsys.readouterr()
    assert "1 ingested" in out and "1 failed" in out
    assert "fastcap: error:" in err and "bad.jsonl" in err and "Traceback" not in err
    assert main(["ingest", str(captures[0]), "--to", str(tmp_path / "ds"), "--jobs", "0"]) == 2
    assert "--jobs must be at least 1" in capsys.readouterr().err
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "x.txt").write_text("x")
    assert main(["ingest", str(captures[0]), "--to", str(tmp_path / "plain")]) == 2
    assert "not a fastcap dataset" in capsys.readouterr().err
