"""Big single items stay linear in the readers (issue 11 "Slow on big single items"): one huge body
in HAR or traffic.jsonl, a mitmdump log of many request lines. Each test reads a small and a 4x
larger input and bounds the ratio of the CPU times (linear: 4; quadratic: 16), with a generous
margin for a shared machine; absolute times are never asserted."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastcap.cli import main
from fastcap.formats import read_file

LINEAR_RATIO_MAX = 8.0  # 4x the input; a quadratic cost gives 16


def _best_cpu(fn: Callable[[], object], repeat: int = 2) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return max(best, 1e-3)


def _text(n_bytes: int) -> str:
    line = "abcdefghij" * 10 + "\n"
    return line * (n_bytes // len(line))


def _har(path: Path, n_bytes: int) -> Path:
    text = _text(n_bytes)
    entry = {
        "startedDateTime": "2025-01-01T00:00:00Z",
        "request": {
            "method": "POST",
            "url": "https://api.anthropic.com/v1/messages",
            "headers": [{"name": "content-type", "value": "application/json"}],
            "postData": {
                "mimeType": "application/json",
                "text": json.dumps({"messages": [{"content": text}]}),
            },
        },
        "response": {
            "status": 200,
            "headers": [{"name": "content-type", "value": "text/plain"}],
            "content": {"mimeType": "text/plain", "size": len(text), "text": text},
        },
        "timings": {"send": 1, "wait": 2, "receive": 3},
    }
    path.write_text(json.dumps({"log": {"entries": [entry]}}))
    return path


def _jsonl(path: Path, n_bytes: int) -> Path:
    text = _text(n_bytes)
    rec = {
        "timestamp": 1.0,
        "request": {
            "method": "POST",
            "url": "https://api.anthropic.com/v1/messages",
            "headers": {"content-type": "application/json"},
            "body": {"messages": [{"role": "user", "content": text}]},
        },
        "response": {"status_code": 200, "headers": {"content-type": "text/plain"}, "body": text},
    }
    path.write_text(json.dumps(rec) + "\n")
    return path


def _mitmlog(path: Path, lines: int) -> Path:
    with path.open("w") as f:
        for i in range(lines):
            f.write(f"127.0.0.1:{50000 + i % 10000}: POST https://api.anthropic.com/v1/messages?i={i}\n")
    return path


# 16 MB against 64 MB: at 4 MB a read takes ~10 ms, mostly in memory the allocator already holds,
# while 16 MB faults fresh pages in, so 4 -> 16 MB measured up to 8x on a linear reader.
@pytest.mark.parametrize(("name", "build", "small"), [("har", _har, 16 << 20), ("jsonl", _jsonl, 16 << 20)])
def test_one_huge_body_reads_in_linear_time(
    tmp_path: Path, name: str, build: Callable[[Path, int], Path], small: int
) -> None:
    a = build(tmp_path / f"small.{name}", small)
    b = build(tmp_path / f"large.{name}", 4 * small)
    t_small = _best_cpu(lambda: read_file(a))
    t_large = _best_cpu(lambda: read_file(b))
    (ex,) = read_file(b).exchanges
    assert len(ex.response_body or b"") > 4 * small - 200
    assert t_large / t_small < LINEAR_RATIO_MAX, (t_small, t_large)


def test_many_request_lines_read_in_linear_time(tmp_path: Path) -> None:
    a = _mitmlog(tmp_path / "small.log", 10_000)
    b = _mitmlog(tmp_path / "large.log", 40_000)
    t_small = _best_cpu(lambda: read_file(a))
    t_large = _best_cpu(lambda: read_file(b))
    assert len(read_file(b).exchanges) == 40_000
    assert t_large / t_small < LINEAR_RATIO_MAX, (t_small, t_large)


def test_analyze_writes_no_per_call_files_past_the_call_cap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 1 MB log of 12,000 request lines used to get 12,000 per-call files (minutes at 200,000)."""
    log = _mitmlog(tmp_path / "many.log", 12_000)
    out = tmp_path / "out"
    assert main(["analyze", str(log), "--out", str(out), "-q"]) == 0
    assert "no per-call files above 10,000 calls" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["analysis.md"]
