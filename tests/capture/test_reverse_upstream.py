"""Reverse mode with `--upstream` (issue 16): the target's own base-URL variables point at the
listener, path suffix kept, so a client that reads only them is captured; the launch lines show
them. End to end: `fastcap capture --target T --mode reverse --upstream URL -- CLIENT` through a
real mitmdump to the local HTTPS fake upstream, for every target that has base-URL variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastcap.capture import runner, targets
from fastcap.capture import session as sess
from helpers.fakeupstream import FakeUpstream
from helpers.fakeupstream.mitm import read_entries

pytestmark = pytest.mark.e2e

# Each target's model-API variables (its first reverse listener with variables).
WITH_VARIABLES = [t.name for t in targets.all_targets() if any(r.env for r in t.reverse)]

# A client that knows nothing of fastcap: it reads only the variable it is given.
CLIENT = textwrap.dedent(
    """
    import json, os, sys, httpx
    name = sys.argv[1]
    value = os.environ[name]
    base = json.loads(value)["provider"]["anthropic"]["options"]["baseURL"] if value.startswith("{") else value
    assert base.startswith("http://127.0.0.1:"), base
    with httpx.Client(timeout=30, trust_env=False) as c:
        r = c.post(base.rstrip("/") + "/messages", json={"model": "m", "stream": False})
        print("status", r.status_code, "path", httpx.URL(base).path)
    """
)


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeUpstream]:
    with FakeUpstream(tmp_path_factory.mktemp("upstream")) as up:
        yield up


@pytest.mark.parametrize("name", WITH_VARIABLES)
def test_the_targets_own_variables_reach_the_proxy(tmp_path: Path, upstream: FakeUpstream, name: str) -> None:
    target = targets.get(name)
    primary = next(r for r in target.reverse if r.env)
    variable = next(k for k, v in primary.env.items() if "{base}" in v)
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy") and k not in primary.env}
    env["FASTCAP_SESSIONS_DIR"] = str(tmp_path / "sessions")
    client = tmp_path / "client.py"
    client.write_text(CLIENT)
    out = tmp_path / "session"
    r = subprocess.run(
        [
            sys.executable, "-m", "fastcap", "capture", "--target", name, "--mode", "reverse",
            "--upstream", upstream.url, "--out", str(out), "--confdir", str(tmp_path / "conf"),
            "--set", "ssl_insecure=true", "--", sys.executable, str(client), variable,
        ],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "status " in r.stdout
    state = sess.read_state(out)
    assert state is not None
    assert state["env"][variable].startswith("http://127.0.0.1:") or "127.0.0.1" in state["env"][variable]
    # The request went through the proxy: the capture holds it, at the variable's path suffix.
    _, entries = read_entries(Path(state["capture_file"]))
    requests = [e for e in entries if e["meta"].get("event") == "request"]
    assert len(requests) == 1, [e["meta"] for e in entries]
    value = state["env"][variable]
    suffix = urlsplit(
        json.loads(value)["provider"]["anthropic"]["options"]["baseURL"] if value.startswith("{") else value
    ).path
    assert urlsplit(requests[0]["meta"]["url"]).path == suffix.rstrip("/") + "/messages"


def test_launch_lines_show_the_targets_variables() -> None:
    cfg = runner.CaptureConfig(
        target=targets.get("claude-code"),
        session_dir=Path("s"),
        mode="reverse",
        upstream="https://gw.example/",
        port=9100,
    )
    env = runner.agent_env(cfg, Path("ca.pem"), Path("bundle.pem"))
    assert env["ANTHROPIC_BASE_URL"] == "http://127.0.0.1:9100"
    lines = runner.launch_lines(env, "claude", "bash")
    assert "ANTHROPIC_BASE_URL=http://127.0.0.1:9100" in lines
    codex = runner.CaptureConfig(
        target=targets.get("codex"),
        session_dir=Path("s"),
        mode="reverse",
        upstream="https://gw.example/",
        port=9100,
    )
    assert (
        runner.agent_env(codex, Path("ca.pem"), Path("b.pem"))["OPENAI_BASE_URL"]
        == "http://127.0.0.1:9100/v1"
    )
