"""`fastcap capture` end to end: the run form and start/status/stop with state.json."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastcap.capture import runner
from fastcap.capture import session as sess
from helpers.fakeupstream import FakeUpstream
from helpers.fakeupstream import server as fs
from helpers.fakeupstream.mitm import read_entries

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeUpstream]:
    with FakeUpstream(tmp_path_factory.mktemp("upstream")) as up:
        yield up


def _fastcap(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fastcap", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    e["FASTCAP_SESSIONS_DIR"] = str(tmp_path / "sessions")
    e["FASTCAP_STATE_DIR"] = str(tmp_path / "state")  # the registry of live captures
    return e


CLIENT = textwrap.dedent(
    """
    import os, sys, httpx
    assert "NODE_TLS_REJECT_UNAUTHORIZED" not in os.environ
    with httpx.Client(verify=os.environ["SSL_CERT_FILE"], timeout=30) as c:  # proxy from HTTPS_PROXY
        r = c.post(sys.argv[1] + "/v1/messages", json={"model": "claude-x", "stream": True},
                   headers={"x-api-key": sys.argv[2]})
        print("status", r.status_code, len(r.content))
        sys.exit(0 if r.content.startswith(b"event: message_start") else 3)
    """
)


def test_run_form_generic(tmp_path: Path, upstream: FakeUpstream, env: dict[str, str]) -> None:
    client = tmp_path / "client.py"
    client.write_text(CLIENT)
    out = tmp_path / "session"
    r = _fastcap(
        [
            "capture",
            "--target",
            "generic",
            "--out",
            str(out),
            "--confdir",
            str(tmp_path / "conf"),
            "--set",
            "ssl_insecure=true",
            "--format",
            "both",
            "--",
            sys.executable,
            str(client),
            upstream.url,
            fs.ANTHROPIC_KEY,
        ],
        env,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "status 200" in r.stdout and "Requests: 1" in r.stdout
    # The stop summary names the report directory and counts the per-call files, then the overview
    # (issue 16: a 110-call session listed 112 file names on one line).
    assert f"Reports in {out}: report.md, analysis_report.md and 1 per-call file" in r.stdout
    assert "_Messages.md" not in r.stdout and "APIs:" in r.stdout and "Anthropic.Messages" in r.stdout
    state = sess.read_state(out)
    assert state is not None and state["status"] == "completed" and state["completed_at"]
    assert state["env"]["SSL_CERT_FILE"].endswith("ca-bundle.pem")
    bundle = Path(state["ca_bundle"]).read_text()
    assert bundle.count("BEGIN CERTIFICATE") > 1  # system CAs + the mitmproxy CA
    _, entries = read_entries(Path(state["capture_file"]))
    assert entries[0]["meta"]["event"] == "request" and b"x-api-key: [REDACTED]" in entries[0]["data"]
    assert b"".join(e["data"] for e in entries if e["dir"] == 3) == b"".join(fs.anthropic_events())
    assert runner.scan_outputs(out, state) == []
    assert fs.ANTHROPIC_KEY not in (out / "traffic.jsonl").read_text()
    # The report step ran on stop: per-call file, session report and the dissect-style report.
    reports = {p.name for p in out.rglob("*.md")}
    assert {"report.md", "analysis_report.md"} <= reports and any(
        n.endswith("_Messages.md") for n in reports
    ), reports
    for md in out.rglob("*.md"):
        assert fs.ANTHROPIC_KEY not in md.read_text()


@pytest.fixture
def request_cleanup() -> Iterator[Any]:
    """Stop every proxy a test's sessions recorded, whatever happened in the test."""
    bases: list[Path] = []
    yield bases.append
    for base in bases:
        for state_file in base.glob("*/state.json"):
            state = sess.read_state(state_file.parent) or {}
            if sess.is_recorded_proxy(state):
                runner.stop_proxy(state["pid"])


def test_start_status_stop(
    tmp_path: Path, upstream: FakeUpstream, env: dict[str, str], request_cleanup: Any
) -> None:
    conf = ["--confdir", str(tmp_path / "conf"), "--set", "ssl_insecure=true", "--no-report"]
    r = _fastcap(["capture", "start", "--target", "claude-code", *conf], env)
    base = Path(env["FASTCAP_SESSIONS_DIR"])
    request_cleanup(base)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "NODE_EXTRA_CA_CERTS=" in r.stdout and "$env:HTTPS_PROXY" in r.stdout
    assert "NODE_TLS_REJECT_UNAUTHORIZED=0 \\" not in r.stdout and "$env:NODE_TLS" not in r.stdout
    session_dir = sess.latest_session(base)
    assert session_dir is not None
    state = sess.read_state(session_dir)
    assert state is not None and state["status"] == "capturing" and sess.is_recorded_proxy(state)
    try:
        import ssl

        import httpx

        ctx = ssl.create_default_context(cafile=state["ca_cert"])
        with httpx.Client(proxy=f"http://127.0.0.1:{state['port']}", verify=ctx, timeout=30) as c:
            for code in (403, 429):
                assert c.get(f"{upstream.url}/json/{code}").status_code == code
        st = _fastcap(["capture", "status"], env)
        assert "Status: capturing" in st.stdout and "Requests captured: 2" in st.stdout, st.stdout
        # the two-terminal workflow: the live session's variables for eval in bash/zsh; fish lines too
        ev = _fastcap(["capture", "env"], env)
        assert ev.returncode == 0 and f"export HTTPS_PROXY=http://127.0.0.1:{state['port']}" in ev.stdout, (
            ev.stderr
        )
        assert "set -gx HTTPS_PROXY" in r.stdout and 'eval "$(fastcap capture env)"' in r.stdout
        # running `fastcap capture` again finds the live session; --no leaves it running
        again = _fastcap(["capture", "start", "--no", *conf], env)
        assert again.returncode == 0, again.stderr
        newest = sess.latest_session(base)
        assert newest is not None and newest != session_dir
        stop_new = _fastcap(["capture", "stop", "--out", str(newest), "--no-report"], env)
        assert stop_new.returncode == 0, stop_new.stdout + stop_new.stderr
        # non-interactive without --yes/--no is an actionable error
        noflag = _fastcap(["capture", "--out", str(session_dir)], env)
        assert noflag.returncode == 2 and "Pass --yes or --no" in noflag.stderr
        keep = _fastcap(["capture", "--out", str(session_dir), "--no"], env)
        assert keep.returncode == 0 and "Leaving it running" in keep.stdout
        assert sess.is_recorded_proxy(sess.read_state(session_dir) or {})
    finally:
        stop = _fastcap(["capture", "stop", "--out", str(session_dir), "--no-report"], env)
    assert stop.returncode == 0, stop.stdout + stop.stderr
    final = sess.read_state(session_dir)
    assert final is not None and final["status"] == "completed" and not sess.pid_alive(final["pid"])
    assert "Status codes: 403×1, 429×1" in stop.stdout
    assert orjson.loads((session_dir / "summary.json").read_bytes())["counts"]["requests"] == 2


def test_preflight_errors(tmp_path: Path, env: dict[str, str]) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        r = _fastcap(
            [
                "capture",
                "start",
                "--port",
                str(busy),
                "--out",
                str(tmp_path / "s"),
                "--confdir",
                str(tmp_path / "conf"),
            ],
            env,
        )
    assert r.returncode == 2 and f"port {busy} is already in use" in r.stderr
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    if not os.access(ro, os.W_OK):  # root can write anyway
        r = _fastcap(["capture", "start", "--out", str(ro / "x")], env)
        assert r.returncode == 2 and "not writable" in r.stderr
    r = _fastcap(
        ["capture", "start", "--target", "kiro", "--mode", "reverse", "--out", str(tmp_path / "k")], env
    )
    assert r.returncode == 2 and "supports --mode forward" in r.stderr


def test_targets_and_launch_lines(tmp_path: Path) -> None:
    from fastcap.capture import targets

    assert {"claude-code", "codex", "kiro", "gemini", "generic"} <= set(targets.names())  # see test_targets
    assert targets.backend_for("q.us-east-1.amazonaws.com") == "kiro"
    assert targets.backend_for("api.anthropic.com") == "anthropic"
    assert targets.backend_for("127.0.0.1", "/v1/chat/completions") == "openai"
    cfg = runner.CaptureConfig(target=targets.get("codex"), session_dir=tmp_path, mode="reverse", port=9000)
    assert cfg.listen_ports == [9000, 9001]
    cmd = runner.build_command(cfg, "mitmdump")
    assert "reverse:https://api.openai.com/@9000" in cmd and "reverse:https://chatgpt.com/@9001" in cmd
    env = runner.agent_env(cfg, tmp_path / "ca.pem", tmp_path / "bundle.pem")
    assert env["OPENAI_BASE_URL"] == "http://127.0.0.1:9000/v1"
    assert runner.manual_steps(cfg) == [
        'Add to ~/.codex/config.toml: chatgpt_base_url = "http://127.0.0.1:9001/backend-api/"'
    ]
    up = runner.CaptureConfig(
        target=targets.get("generic"), session_dir=tmp_path, port=9100, upstream_proxy="http://corp:3128"
    )
    assert "upstream:http://corp:3128@9100" in runner.build_command(up, "mitmdump")
    fwd = runner.agent_env(
        runner.CaptureConfig(target=targets.get("kiro"), session_dir=tmp_path, port=9200),
        Path("/ca"),
        Path("/b"),
    )
    assert (
        fwd["SSL_CERT_FILE"] == "/b"
        and fwd["NODE_EXTRA_CA_CERTS"] == "/ca"
        and fwd["HTTPS_PROXY"] == "http://127.0.0.1:9200"
    )
    assert "NODE_TLS_REJECT_UNAUTHORIZED" not in fwd


def test_unknown_action_words_are_refused(tmp_path: Path, env: dict[str, str]) -> None:
    """`fastcap capture stat` (a typo of status) is an error, never a command run as the agent;
    only what follows `--` is a command (issue 13)."""
    r = _fastcap(["capture", "stat"], env)
    assert r.returncode == 2 and "unknown action 'stat'" in r.stderr and "status" in r.stderr
    r = _fastcap(["capture", "status", "--", "echo", "hi"], env)
    assert r.returncode == 2 and "takes no command" in r.stderr
    r = _fastcap(["capture", "--"], env)
    assert r.returncode == 2 and "nothing after --" in r.stderr


def test_a_session_without_calls_says_why(tmp_path: Path, env: dict[str, str]) -> None:
    """An agent that sent nothing through the proxy: the session says what usually causes it."""
    r = _fastcap(
        [
            "capture",
            "--out",
            str(tmp_path / "s"),
            "--confdir",
            str(tmp_path / "conf"),
            "--",
            sys.executable,
            "-c",
            "pass",
        ],
        env,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no call was captured" in r.stdout and "HTTPS_PROXY" in r.stdout and "--mode reverse" in r.stdout
