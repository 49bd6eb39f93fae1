"""The CLI's one rule for damaged input, for every format and every command that reads a capture
(docs/specs/errors.md, issue 11 "Lost records"):

- a file cut inside its last record (a truncated tail) keeps every complete record, prints one
  warning line naming the file and the byte offset, and exits 0 (`--strict`: 2);
- a complete record that cannot be read (damage) still leaves the records read in the output, ends
  with one error line naming the file and the byte offset, and exits 2 (`--recover`: warning, 0);
- nothing usable (no complete record) is one error line and exit 2.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fastcap.cli import main
from fastcap.formats.writers import write_jsonl
from helpers import DATA, DEMO

MITM = DATA / "mitmproxy"


def _jsonl(tmp: Path) -> bytes:
    from fastcap.formats import read_exchanges

    path = tmp / "src.jsonl"
    write_jsonl(read_exchanges(DEMO), path, redact=None)
    return path.read_bytes()


def _nth_line_start(data: bytes, n: int) -> int:
    pos = 0
    for _ in range(n):
        pos = data.index(b"\n", pos) + 1
    return pos


# Each builder gives a whole file and where to cut it, inside a record near its end.
def _cbor_tail(_: Path) -> tuple[bytes, int]:
    data = DEMO.read_bytes()
    return data, len(data) - 40


def _jsonl_tail(tmp: Path) -> tuple[bytes, int]:
    data = _jsonl(tmp)
    return data, len(data) - 100


def _mitm_tail(_: Path) -> tuple[bytes, int]:
    data = (MITM / "flows_v21.mitm").read_bytes()
    return data, len(data) - 500


def _har_tail(_: Path) -> tuple[bytes, int]:
    data = (MITM / "hardump.har").read_bytes()
    return data, len(data) // 2


def _mitmlog_tail(_: Path) -> tuple[bytes, int]:
    data = (MITM / "mitmdump_live_flow_detail3.txt").read_bytes()
    return data, data.index(b"line 470 of text") + 7  # inside a line of the /big response body


TAILS: dict[str, tuple[Callable[[Path], tuple[bytes, int]], str, int, int]] = {
    # name: (builder, suffix, calls kept, byte offset the warning names)
    "cbor": (_cbor_tail, ".cbor", 7, 18251),
    "jsonl": (_jsonl_tail, ".jsonl", 6, -1),
    "mitm": (_mitm_tail, ".mitm", 5, 21526),
    "har": (_har_tail, ".har", 3, 10530),
    "mitmlog": (_mitmlog_tail, ".log", 4, -1),
}


def _cut(tmp: Path, name: str) -> tuple[Path, int]:
    build, suffix, _, offset = TAILS[name]
    data, at = build(tmp)
    path = tmp / f"cut{suffix}"
    path.write_bytes(data[:at])
    if offset == -1:  # line-based formats: the start of the line the cut falls in
        offset = data.rindex(b"\n", 0, at) + 1
    return path, offset


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, list[str]]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err.strip().splitlines()


@pytest.mark.parametrize("name", list(TAILS))
def test_truncated_tail_keeps_records_warns_with_offset_exit_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    path, offset = _cut(tmp_path, name)
    calls = TAILS[name][2]
    code, out, err = _run(capsys, "analyze", str(path), "--out", str(tmp_path / "a"), "-q", "--no-reports")
    assert code == 0, err
    assert f"{calls} calls" in out
    assert len(err) == 1 and err[0].startswith(f"fastcap: warning: {path}: byte {offset}: "), err
    # --strict: the same output, and the tail is an error.
    code, out, err = _run(
        capsys, "analyze", str(path), "--out", str(tmp_path / "s"), "-q", "--no-reports", "--strict"
    )
    assert code == 2 and f"{calls} calls" in out
    assert err[-1].startswith(f"fastcap: error: {path}: byte {offset}: ")
    # report and convert follow the same rule and name the file and offset too.
    code, out, err = _run(capsys, "report", str(path), "--out", str(tmp_path / "r"), "--style", "session")
    assert code == 0 and f"{calls} calls" in out
    assert len(err) == 1 and err[0].startswith(f"fastcap: warning: {path}: byte {offset}: "), err
    code, out, err = _run(capsys, "convert", str(path), str(tmp_path / "c.jsonl"))
    assert code == 0 and f"Converted {calls} calls" in out
    assert len(err) == 1 and err[0].startswith(f"fastcap: warning: {path}: byte {offset}: "), err
    assert len((tmp_path / "c.jsonl").read_bytes().splitlines()) == calls


def _corrupt_jsonl(tmp: Path) -> tuple[bytes, int, int]:
    data = bytearray(_jsonl(tmp))
    at = _nth_line_start(bytes(data), 2)
    data[at + 1] = ord("#")  # line 3 is no longer JSON; the lines after it are fine
    return bytes(data), at, 6


def _corrupt_mitm(_: Path) -> tuple[bytes, int, int]:
    data = bytearray((MITM / "flows_v21.mitm").read_bytes())
    data[data.index(b"request", 5000)] = ord("X")
    return bytes(data), 6530, 3


def _corrupt_har(_: Path) -> tuple[bytes, int, int]:
    data = bytearray((MITM / "hardump.har").read_bytes())
    at = data.index(b'"startedDateTime"', 3000)
    data[at] = ord("@")
    return bytes(data), at, 1


DAMAGE: dict[str, tuple[Callable[[Path], tuple[bytes, int, int]], str, int | None]] = {
    # name: (builder -> (bytes, offset, calls read), suffix, calls with --recover (None: as without))
    "jsonl": (_corrupt_jsonl, ".jsonl", None),
    "mitm": (_corrupt_mitm, ".mitm", 5),
    "har": (_corrupt_har, ".har", None),
}


@pytest.mark.parametrize("name", list(DAMAGE))
def test_damage_keeps_what_was_read_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    build, suffix, recovered = DAMAGE[name]
    data, offset, calls = build(tmp_path)
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(data)
    out_dir = tmp_path / "a"
    code, out, err = _run(capsys, "analyze", str(path), "--out", str(out_dir), "-q")
    assert code == 2
    assert f"{calls} calls" in out and (out_dir / "analysis.md").exists() and (out_dir / "report.md").exists()
    assert err[-1].startswith(f"fastcap: error: {path}: byte {offset}: "), err
    assert "--recover" in err[-1]
    code, out, err = _run(capsys, "analyze", str(path), "--out", str(tmp_path / "r"), "-q", "--recover")
    assert code == 0 and f"{recovered or calls} calls" in out
    assert err and all(line.startswith("fastcap: warning: ") for line in err)
    code, out, err = _run(capsys, "convert", str(path), str(tmp_path / "c.cbor"))
    assert code == 2 and err[-1].startswith(f"fastcap: error: {path}: byte {offset}: ")
    assert (tmp_path / "c.cbor").exists()


@pytest.mark.parametrize("name", ["cbor", "jsonl", "mitm", "har"])
def test_nothing_usable_is_one_line_exit_2(tmp_path: Path, name: str) -> None:
    build, suffix, _, _ = TAILS[name]
    data, _ = build(tmp_path)
    head = {"cbor": 200, "jsonl": 50, "mitm": 60, "har": 1200}[name]  # inside the first record
    path = tmp_path / f"first{suffix}"
    path.write_bytes(data[:head])
    proc = subprocess.run(
        [sys.executable, "-m", "fastcap", "analyze", str(path), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith(f"fastcap: error: {path}: byte "), proc.stderr
    assert "Traceback" not in proc.stderr


def test_many_bad_lines_are_counted_not_listed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _jsonl(tmp_path).splitlines(keepends=True)
    path = tmp_path / "noisy.jsonl"
    path.write_bytes(b"".join(good) + b"{oops\n" * 500)
    code, _, err = _run(capsys, "analyze", str(path), "--out", str(tmp_path / "o"), "-q", "--no-reports")
    assert code == 2
    assert len(err) == 11 and "490 more faults of kind bad_line" in err[-1]
