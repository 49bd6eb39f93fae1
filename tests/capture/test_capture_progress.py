"""The live call count of `fastcap capture -- CMD` (issue 13): one line when the agent exits, a
line rewritten in place on a terminal with `--progress`, and the count in `capture status`."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastcap.capture import runner
from helpers.fakeupstream import FakeUpstream
from helpers.fakeupstream import server as fs

pytestmark = pytest.mark.e2e

# Three calls through HTTPS_PROXY with the session's CA bundle: two streams and a 429, a pause
# between them so a live count sees them one by one.
CLIENT = textwrap.dedent(
    """
    import os, sys, time, httpx
    with httpx.Client(verify=os.environ["SSL_CERT_FILE"], timeout=30) as c:
        for path in ("/v1/messages", "/json/429", "/v1/messages"):
            if path == "/v1/messages":
                r = c.post(sys.argv[1] + path, json={"model": "claude-x", "stream": True},
                           headers={"x-api-key": sys.argv[2]})
            else:
                r = c.get(sys.argv[1] + path)
            print("status", r.status_code, flush=True)
            time.sleep(float(sys.argv[3]))
    """
)


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeUpstream]:
    with FakeUpstream(tmp_path_factory.mktemp("upstream")) as up:
        yield up


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    e["FASTCAP_SESSIONS_DIR"] = str(tmp_path / "sessions")
    e["FASTCAP_STATE_DIR"] = str(tmp_path / "state")
    return e


def _args(tmp_path: Path, upstream: FakeUpstream, pause: float, *extra: str) -> list[str]:
    client = tmp_path / "client.py"
    client.write_text(CLIENT)
    return [
        sys.executable,
        "-m",
        "fastcap",
        "capture",
        "--out",
        str(tmp_path / "s"),
        "--confdir",
        str(tmp_path / "conf"),
        "--set",
        "ssl_insecure=true",
        "--no-report",
        *extra,
        "--",
        sys.executable,
        str(client),
        upstream.url,
        fs.ANTHROPIC_KEY,
        str(pause),
    ]


def test_the_count_is_printed_when_the_agent_exits(
    tmp_path: Path, upstream: FakeUpstream, env: dict[str, str]
) -> None:
    r = subprocess.run(_args(tmp_path, upstream, 0), env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("status 200") == 2 and "status 429" in r.stdout
    # stderr is a pipe here: no live line, only the summary line at the end
    assert "\r" not in r.stderr
    assert "fastcap: 3 calls, 1 error (1 rate-limited) captured while the agent ran" in r.stderr
    assert runner.read_progress(tmp_path / "s") == {
        **(runner.read_progress(tmp_path / "s") or {}),
        "calls": 3,
        "errors": 1,
        "rate_limited": 1,
    }


def test_progress_rewrites_one_line_on_a_terminal(
    tmp_path: Path, upstream: FakeUpstream, env: dict[str, str]
) -> None:
    """`--progress` with stderr on a pseudo-terminal: the count climbs 1, 2, 3 on one line."""
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        _args(tmp_path, upstream, 1.2, "--progress"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=secondary,
        stdin=subprocess.DEVNULL,
    )
    os.close(secondary)
    seen = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # the pty closed: every writer exited
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    out, _ = proc.communicate(timeout=60)
    os.close(primary)
    assert proc.returncode == 0, out.decode() + seen.decode()
    text = seen.decode()
    assert "\rfastcap: 1 call, 0 errors " in text
    assert "\rfastcap: 3 calls, 1 error (1 rate-limited) " in text
    assert text.index("\rfastcap: 1 call,") < text.index("\rfastcap: 3 calls,")
    assert "fastcap: 3 calls, 1 error (1 rate-limited) captured while the agent ran" in text
