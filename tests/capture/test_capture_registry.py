"""The registry of live captures, end to end through real mitmdump processes: `status`, `env` and
`stop` find a capture started with another `--sessions-dir`; several live captures need `--port` or
`--id`; a stale entry (its proxy gone) is ignored and pruned (issue 13)."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from fastcap.capture import registry, runner
from fastcap.capture import session as sess
from helpers.fakeupstream import FakeUpstream

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeUpstream]:
    with FakeUpstream(tmp_path_factory.mktemp("upstream")) as up:
        yield up


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The sessions directory and the registry in tmp; every proxy still registered at the end
    is stopped, whatever happened in the test."""
    e = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    e["FASTCAP_SESSIONS_DIR"] = str(tmp_path / "default-sessions")
    e[registry.STATE_DIR_ENV] = str(tmp_path / "state")
    monkeypatch.setenv(registry.STATE_DIR_ENV, e[registry.STATE_DIR_ENV])
    yield e
    for entry in registry.live():
        runner.stop_proxy(int(entry["pid"]))


def _fastcap(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fastcap", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def _stale_entry(tmp_path: Path) -> Path:
    """A registry entry whose proxy has exited (a reaped child's pid)."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = registry.live_dir() / "fastcap-stale.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        orjson.dumps(
            {"session_id": "fastcap-stale", "pid": dead.pid, "port": 1, "session_dir": str(tmp_path / "gone")}
        )
    )
    return path


def test_status_and_stop_find_a_capture_started_elsewhere(
    tmp_path: Path, upstream: FakeUpstream, env: dict[str, str]
) -> None:
    stale = _stale_entry(tmp_path)
    conf = ["--confdir", str(tmp_path / "conf"), "--set", "ssl_insecure=true", "--no-report"]
    custom = tmp_path / "custom-sessions"
    first = _fastcap(["capture", "start", "--sessions-dir", str(custom), *conf], env)
    assert first.returncode == 0, first.stdout + first.stderr
    entries = registry.live()
    assert not stale.exists(), "the stale entry is pruned"
    assert len(entries) == 1 and Path(entries[0]["session_dir"]).parent == custom.resolve()
    port, session_dir = entries[0]["port"], Path(entries[0]["session_dir"])
    # private to the user: entries and state.json may hold the view's token or the web password
    assert registry.live_dir().stat().st_mode & 0o777 == 0o700
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in registry.live_dir().glob("*.json"))
    assert (session_dir / sess.STATE_FILE).stat().st_mode & 0o777 == 0o600
    state = sess.read_state(session_dir)
    assert state is not None
    ctx = ssl.create_default_context(cafile=state["ca_cert"])
    with httpx.Client(proxy=f"http://127.0.0.1:{port}", verify=ctx, timeout=30) as c:
        assert c.get(f"{upstream.url}/json/429").status_code == 429

    # No --sessions-dir: the registry finds it (before, `status` reported the default directory).
    st = _fastcap(["capture", "status"], env)
    assert st.returncode == 0, st.stderr
    assert f"Session: {session_dir}" in st.stdout and "Status: capturing" in st.stdout
    assert "Requests captured: 1" in st.stdout and "fastcap-stale" not in st.stdout
    ev = _fastcap(["capture", "env"], env)
    assert ev.returncode == 0 and f"export HTTPS_PROXY=http://127.0.0.1:{port}" in ev.stdout, ev.stderr

    # A second live capture: `stop` alone must not guess.
    second_dir = tmp_path / "second"
    second = _fastcap(["capture", "start", "--out", str(second_dir), *conf], env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert len(registry.live()) == 2
    both = _fastcap(["capture", "status"], env)
    assert "2 live captures." in both.stdout and str(second_dir.resolve()) in both.stdout
    ambiguous = _fastcap(["capture", "stop"], env)
    assert ambiguous.returncode == 2 and "2 captures are running" in ambiguous.stderr
    assert f"--port {port}" in ambiguous.stderr
    nothing = _fastcap(["capture", "stop", "--port", "1"], env)
    assert nothing.returncode == 2 and "no live capture on port 1" in nothing.stderr
    second_id = (sess.read_state(second_dir) or {})["session_id"]
    by_id = _fastcap(["capture", "stop", "--id", second_id], env)
    assert by_id.returncode == 0, by_id.stdout + by_id.stderr
    assert (sess.read_state(second_dir) or {})["status"] == "completed"

    stop = _fastcap(["capture", "stop"], env)
    assert stop.returncode == 0, stop.stdout + stop.stderr
    assert "Status codes: 429×1" in stop.stdout
    final = sess.read_state(session_dir)
    assert final is not None and final["status"] == "completed" and not sess.pid_alive(final["pid"])
    assert registry.live() == [] and list(registry.live_dir().glob("*.json")) == []
    after = _fastcap(["capture", "status"], env)
    assert "No live capture." in after.stdout
