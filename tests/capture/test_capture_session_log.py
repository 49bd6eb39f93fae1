"""`fastcap capture`'s session directory end to end: mitmdump.log keeps no query-string secret
(none written by default; redacted at stop when `--set flow_detail=N` asked for request lines) and
the session's leak scan reads it; a capture that stopped on a write error fails the session."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastcap.capture import runner
from fastcap.capture import session as sess
from fastcap.secrets.redact import OUTPUT, redact_log_line
from helpers.fakeupstream import FakeUpstream

pytestmark = pytest.mark.e2e

# Obviously fake credentials, in query strings.
GOOGLE_KEY = "AIza" + "FAKEfake0123" * 2 + "FAKEfake012"
WS_TOKEN = "ya29." + "FAKEfake4567" * 2
PLAIN_TOKEN = "plainFAKEvalue0123456789"


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeUpstream]:
    with FakeUpstream(tmp_path_factory.mktemp("upstream")) as up:
        yield up


CLIENT = textwrap.dedent(
    """
    import os, ssl, sys, httpx
    from websockets.sync.client import connect
    base, key, ws_token, plain = sys.argv[1:5]
    ctx = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
    with httpx.Client(verify=ctx, timeout=30) as c:  # proxy from HTTPS_PROXY
        assert c.get(f"{base}/json/200?key={key}&token={plain}&alt=json").status_code == 200
    ws = base.replace("https://", "wss://") + f"/ws?token={ws_token}"
    with connect(ws, ssl=ctx, proxy=os.environ["HTTPS_PROXY"], open_timeout=15) as w:
        w.send('{"type":"response.create"}')
        w.recv(timeout=10)
    print("client done")
    """
)


def _run(tmp_path: Path, upstream: FakeUpstream, name: str, *extra: str) -> tuple[Path, str]:
    client = tmp_path / "client.py"
    client.write_text(CLIENT)
    out = tmp_path / name
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["FASTCAP_SESSIONS_DIR"] = str(tmp_path / "sessions")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "fastcap",
            "capture",
            "--target",
            "generic",
            "--out",
            str(out),
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
            GOOGLE_KEY,
            WS_TOKEN,
            PLAIN_TOKEN,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and "client done" in r.stdout, r.stdout + r.stderr
    return out, r.stdout


@pytest.mark.parametrize("flow_detail", [None, "1", "3"])
def test_mitmdump_log_keeps_no_query_secret(
    tmp_path: Path, upstream: FakeUpstream, flow_detail: str | None
) -> None:
    extra = ("--set", f"flow_detail={flow_detail}") if flow_detail else ()
    out, _ = _run(tmp_path, upstream, "s", *extra)
    log = (out / "mitmdump.log").read_text(errors="replace")
    for secret in (GOOGLE_KEY, WS_TOKEN, PLAIN_TOKEN):
        assert secret not in log
        assert secret[:12] not in log  # nor a cut part of it
    if flow_detail:
        # The lines are still there, with their secrets replaced.
        assert "/json/200?key=[REDACTED]&token=[REDACTED]&alt=json" in log or "?key=[REDACTED]" in log, log
        assert "/ws?token=[REDACTED]" in log, log
    else:
        assert "/json/200" not in log  # no flow lines by default
    state = sess.read_state(out)
    assert state is not None and state["status"] == "completed"
    assert runner.scan_outputs(out, state) == []


def test_leak_scan_reads_the_log(tmp_path: Path) -> None:
    session = tmp_path / "s"
    session.mkdir()
    log = session / "mitmdump.log"
    log.write_text(f"127.0.0.1:5 -> WebSocket text message -> 127.0.0.1:443/ws?token={WS_TOKEN}\n")
    state = {"log_file": str(log), "redacted": True}
    found = runner.scan_outputs(session, state, generated=[])
    assert [Path(f.path).name for f in found] == ["mitmdump.log"]
    assert runner.scan_outputs(session, state, generated=[str(session / "none.md")]) != []
    assert runner.redact_log(log) and runner.scan_outputs(session, state) == []
    assert runner.scan_outputs(session, {**state, "redacted": False}) == []  # --no-redact: raw, not scanned


def test_redact_log_line() -> None:
    cases = {
        f"127.0.0.1:50000: GET https://x.test/v1beta/models?key={GOOGLE_KEY[:20]}…": "?key=[REDACTED]",
        f"client -> WebSocket text message -> api.x.test:443/ws?token={PLAIN_TOKEN}": "/ws?token=[REDACTED]",
        f"    authorization: Bearer {WS_TOKEN}": "authorization: [REDACTED]",
        f"    token: {PLAIN_TOKEN}": "    token: [REDACTED]",  # mitmdump's query block
    }
    for line, expected in cases.items():
        out = redact_log_line(line + "\n", OUTPUT)
        assert expected in out and out.endswith("\n"), out
    plain = "[12:00:00.000] HTTP(S) proxy listening at *:8080.\n"
    assert redact_log_line(plain, OUTPUT) is plain


def test_failed_capture_fails_the_session(tmp_path: Path) -> None:
    session = tmp_path / "s"
    session.mkdir()
    sess.write_state(session, {"status": "capturing", "pid": 0, "redacted": True})
    (session / "summary.json").write_bytes(
        orjson.dumps({"failed": "cannot write x.cbor: [Errno 28] No space left on device", "cut_flows": []})
    )
    lines: list[str] = []
    assert runner.finish_session(session, report=False, echo=lines.append) == 1
    assert any("No space left on device" in line for line in lines)
    state = sess.read_state(session)
    assert state is not None and "No space left" in state["error"] and state["status"] == "completed"
