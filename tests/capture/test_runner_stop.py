"""`runner.terminate` (the one SIGTERM-wait-SIGKILL loop of `stop_proxy` and `stop_view`) on real
processes, and `capture status` counting a live capture from its progress.json."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from fastcap.capture import runner
from fastcap.capture import session as sess
from fastcap.cli.capture import _print_status
from rich.console import Console

STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(60)"


def test_terminate_ends_a_process_on_sigterm() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    start = time.monotonic()
    assert runner.terminate(proc.pid, 10, proc) is True
    assert proc.returncode is not None and time.monotonic() - start < 5


def test_terminate_kills_a_process_that_ignores_sigterm() -> None:
    proc = subprocess.Popen([sys.executable, "-c", STUBBORN], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
    assert runner.terminate(proc.pid, 0.5, proc) is False
    assert proc.returncode is not None and proc.returncode < 0
    proc.stdout.close()


def test_stop_proxy_says_how_the_proxy_ended() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert runner.stop_proxy(proc.pid, proc=proc) == "stopped"
    assert runner.stop_proxy(proc.pid, proc=proc) == "already stopped"


@pytest.mark.parametrize("status", ["capturing", "completed"])
def test_status_counts_a_live_capture_from_progress_json(tmp_path: Path, status: str) -> None:
    """While capturing, `Requests captured` is progress.json's count (the capture file is not
    scanned: here it holds two requests, progress says five); once finished, the file's."""
    cbor = tmp_path / "s.cbor"
    cbor.write_bytes(b"\x65event\x67request" * 2)
    sess.write_state(tmp_path, {"status": status, "capture_file": str(cbor), "session_id": "s"})
    (tmp_path / "progress.json").write_bytes(
        orjson.dumps({"calls": 5, "errors": 1, "rate_limited": 0, "updated_at": time.time() - 10})
    )
    console = Console(record=True, width=200)
    assert _print_status(console, tmp_path) == 0
    text = console.export_text()
    if status == "capturing":
        assert "Requests captured: 5" in text and "Live count: 5 calls, 1 error" in text
    else:
        assert "Requests captured: 2" in text and "Live count" not in text
