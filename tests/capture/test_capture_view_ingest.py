"""`fastcap capture --view` (issue 14: the browser view follows the capture being written) and
`--ingest` (issue 15: the stopped capture lands in a dataset), end to end through real mitmdump,
`fastcap view` and dataset processes."""

from __future__ import annotations

import os
import re
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest
from fastcap.capture import registry, runner
from fastcap.capture import session as sess
from helpers.fakeupstream import FakeUpstream
from helpers.fakeupstream import server as fs

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeUpstream]:
    with FakeUpstream(tmp_path_factory.mktemp("upstream")) as up:
        yield up


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    e = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    e["FASTCAP_SESSIONS_DIR"] = str(tmp_path / "sessions")
    e[registry.STATE_DIR_ENV] = str(tmp_path / "state")
    e["FASTCAP_DATASET"] = str(tmp_path / "default-dataset")
    monkeypatch.setenv(registry.STATE_DIR_ENV, e[registry.STATE_DIR_ENV])
    yield e
    for entry in registry.live():  # whatever happened in the test
        if isinstance(entry.get("view_pid"), int):
            runner.stop_view(entry["view_pid"])
        runner.stop_proxy(int(entry["pid"]))


def _fastcap(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fastcap", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def _call(state: dict[str, Any], upstream: FakeUpstream) -> None:
    ctx = ssl.create_default_context(cafile=state["ca_cert"])
    with httpx.Client(proxy=f"http://127.0.0.1:{state['port']}", verify=ctx, timeout=30) as c:
        r = c.post(
            f"{upstream.url}/v1/messages",
            json={"model": "claude-x", "stream": True, "messages": [{"role": "user", "content": "hi"}]},
            headers={"x-api-key": fs.ANTHROPIC_KEY},
        )
        assert r.status_code == 200 and r.content.startswith(b"event: message_start")


def _calls_in_view(url: str, want: int, timeout: float = 60) -> dict[str, Any]:
    """The view's calls page once it lists `want` calls (it re-reads the growing capture)."""
    base, token = url.split("/?token=")
    deadline = time.monotonic() + timeout
    page: dict[str, Any] = {}
    with httpx.Client(timeout=10, trust_env=False) as c:
        while time.monotonic() < deadline:
            r = c.get(f"{base}/api/calls", params={"token": token})
            if r.status_code == 200:
                page = r.json()
                if page["total"] >= want:
                    return page
            time.sleep(0.3)
    raise AssertionError(f"the view did not list {want} call(s) within {timeout}s: {page}")


def test_view_follows_the_capture_and_stops_with_it(
    tmp_path: Path, upstream: FakeUpstream, env: dict[str, str]
) -> None:
    out = tmp_path / "s"
    conf = ["--confdir", str(tmp_path / "conf"), "--set", "ssl_insecure=true", "--no-report"]
    r = _fastcap(["capture", "start", "--view", "--out", str(out), *conf], env)
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"View \(live, redacted\): (http://127\.0\.0\.1:\d+/\?token=\S+)", r.stdout)
    assert m, r.stdout
    url = m.group(1)
    state = sess.read_state(out)
    assert state is not None and state["view_url"] == url and sess.pid_alive(state["view_pid"])
    # without the token the view refuses
    assert httpx.get(url.split("?")[0] + "api/calls", trust_env=False).status_code == 403
    assert _calls_in_view(url, 0)["total"] == 0

    _call(state, upstream)
    page = _calls_in_view(url, 1)
    row = page["rows"][0]
    assert row["model"] == "claude-x" and row["status"] == 200, row
    # `status` from anywhere shows the view's URL with the capture
    st = _fastcap(["capture", "status"], env)
    assert "Live count: 1 call, 0 errors" in st.stdout and f"View (live, redacted): {url}" in st.stdout

    stop = _fastcap(["capture", "stop"], env)
    assert stop.returncode == 0, stop.stdout + stop.stderr
    assert not sess.pid_alive(state["view_pid"]) and not sess.pid_alive(state["pid"])
    assert fs.ANTHROPIC_KEY not in (out / runner.VIEW_LOG).read_text()


def test_web_warns_and_points_to_the_view(tmp_path: Path, env: dict[str, str]) -> None:
    """`--web` runs mitmweb and says what it shows unredacted; on mitmproxy 12 the UI gets a
    password and keeps streamed bodies."""
    out = tmp_path / "w"
    r = _fastcap(
        ["capture", "start", "--web", "--out", str(out), "--confdir", str(tmp_path / "conf"), "--no-report"],
        env,
    )
    try:
        assert r.returncode == 0, r.stdout + r.stderr
        assert "before fastcap's redaction" in r.stdout and "(--view)" in r.stdout
        state = sess.read_state(out) or {}
        version = runner.version_tuple(state.get("mitmproxy_version"))
        if version >= (12, 0):
            assert "mitmweb password: " in r.stdout and state["web_password"]
            assert "store_streamed_bodies=true" in state["proxy_command"]
        elif version < (11, 1):
            assert "has no password" in r.stdout
    finally:
        stop = _fastcap(["capture", "stop", "--out", str(out)], env)
    assert stop.returncode == 0, stop.stdout + stop.stderr


def test_ingest_when_the_capture_stops(tmp_path: Path, upstream: FakeUpstream, env: dict[str, str]) -> None:
    from fastcap.dataset import open_dataset

    out = tmp_path / "s"
    dataset = tmp_path / "team-dataset"
    conf = ["--confdir", str(tmp_path / "conf"), "--set", "ssl_insecure=true", "--no-report"]
    r = _fastcap(["capture", "start", "--ingest", str(dataset), "--out", str(out), *conf], env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"added to the dataset {dataset}" in r.stdout
    state = sess.read_state(out)
    assert state is not None
    for _ in range(2):
        _call(state, upstream)
    stop = _fastcap(["capture", "stop"], env)
    assert stop.returncode == 0, stop.stdout + stop.stderr
    assert f"Dataset {dataset}: captures: 1 ingested" in stop.stdout
    calls = open_dataset(dataset).calls.collect()
    assert calls.height == 2 and calls["model"].to_list() == ["claude-x", "claude-x"]
    assert (sess.read_state(out) or {})["ingest"]["dataset"] == str(dataset)
    # the dataset is redacted like every output
    for f in dataset.rglob("*.parquet"):
        assert fs.ANTHROPIC_KEY.encode() not in f.read_bytes()
    assert isinstance(calls, pl.DataFrame)


def test_ingest_default_dataset_in_the_run_form(
    tmp_path: Path, upstream: FakeUpstream, env: dict[str, str]
) -> None:
    """`--ingest` without a value: $FASTCAP_DATASET (the documented default location)."""
    from fastcap.dataset import open_dataset

    client = tmp_path / "client.py"
    client.write_text(
        "import os, sys, httpx\n"
        "with httpx.Client(verify=os.environ['SSL_CERT_FILE'], timeout=30) as c:\n"
        "    r = c.post(sys.argv[1] + '/v1/messages', json={'model': 'claude-x', 'stream': True},\n"
        "               headers={'x-api-key': sys.argv[2]})\n"
        "    sys.exit(0 if r.status_code == 200 else 3)\n"
    )
    r = _fastcap(
        [
            "capture",
            "--ingest",
            "--out",
            str(tmp_path / "s"),
            "--confdir",
            str(tmp_path / "conf"),
            "--set",
            "ssl_insecure=true",
            "--no-report",
            "--",
            sys.executable,
            str(client),
            upstream.url,
            fs.ANTHROPIC_KEY,
        ],
        env,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert open_dataset(env["FASTCAP_DATASET"]).calls.collect().height == 1


def test_a_failed_ingest_leaves_the_session_complete(
    tmp_path: Path, upstream: FakeUpstream, env: dict[str, str]
) -> None:
    """A dataset that cannot be written: a one-line error and exit 1, the session and its reports
    complete (so `fastcap ingest` can retry), the reason in state.json."""
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the dataset should go\n")
    out = tmp_path / "s"
    conf = ["--confdir", str(tmp_path / "conf"), "--set", "ssl_insecure=true"]
    r = _fastcap(["capture", "start", "--ingest", str(blocker / "dataset"), "--out", str(out), *conf], env)
    assert r.returncode == 0, r.stdout + r.stderr
    state = sess.read_state(out)
    assert state is not None
    _call(state, upstream)
    stop = _fastcap(["capture", "stop"], env)
    assert stop.returncode == 1, stop.stdout + stop.stderr
    assert "Traceback" not in stop.stdout + stop.stderr
    assert f"could not add the capture to the dataset {blocker / 'dataset'}" in stop.stdout
    final = sess.read_state(out) or {}
    assert final["status"] == "completed" and final["ingest"]["error"]
    assert (out / "report.md").is_file()


def test_view_and_ingest_need_a_capture(tmp_path: Path, env: dict[str, str]) -> None:
    for flag in ("--view", "--ingest"):
        r = _fastcap(["capture", "start", flag, "--no-save", "--out", str(tmp_path / "x")], env)
        assert r.returncode == 2 and "need a capture: drop --no-save" in r.stderr, r.stderr
    # `--ingest` before an action word takes the default dataset, not a dataset named "status"
    r = _fastcap(["capture", "--ingest", "status"], env)
    assert r.returncode in (0, 1) and "No live capture." in r.stdout, r.stdout + r.stderr
    assert not Path("status").exists()
