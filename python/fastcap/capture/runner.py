"""Starting and stopping mitmdump with the capture addon, and running an agent through it.

Used by `fastcap capture`; see `fastcap.cli.capture` for the command line.

mitmdump's own output goes to `<session>/mitmdump.log`. It is started with `flow_detail=0`, so the
log holds no request lines (URLs with query-string secrets) unless `--set flow_detail=N` asks for
them; either way, when the session stops the log is redacted in place like every other output
(`redact_log`) and the leak scan reads it (docs/specs/reports.md §4.4). A capture that stopped on a
write error (docs/specs/mitmproxy.md §7.7) is reported from its `summary.json`, and the session
ends with an error.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from fastcap.capture import registry
from fastcap.capture import session as sess
from fastcap.capture.targets import FORWARD_ENV, Target
from fastcap.errors import UsageError

ADDON_PATH = Path(__file__).with_name("addon.py").resolve()
DEFAULT_CONFDIR = Path("~/.mitmproxy").expanduser()
CA_NAME = "mitmproxy-ca-cert.pem"
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
VIEW_READY_TIMEOUT = 30.0
VIEW_URL_RE = re.compile(r"fastcap view: (http://127\.0\.0\.1:\d+/\?token=\S+)")
UNTRUSTED_RE = re.compile(r"The client does not trust the proxy's certificate for (\S+)")


class CaptureError(UsageError):
    """A setup problem with an actionable message (exit 2)."""


@dataclass
class CaptureConfig:
    target: Target
    session_dir: Path
    mode: str = "forward"  # forward | reverse
    port: int = 0  # 0: first free from 8080 up
    web: bool = False
    web_port: int = 0
    confdir: Path = DEFAULT_CONFDIR
    filter: str = ""
    sets: list[str] = field(default_factory=list)
    scripts: list[str] = field(default_factory=list)
    upstream_proxy: str = ""
    upstream: str = ""  # reverse-mode upstream for targets without one (generic)
    save: bool = True
    fmt: str = "cbor"
    redact: bool = True
    hosts: list[str] = field(default_factory=list)
    session_id: str = ""
    view: bool = False  # also serve `fastcap view` on the capture being written
    ingest_to: str = ""  # when the capture stops, ingest it into this dataset

    @property
    def listen_ports(self) -> list[int]:
        if self.mode == "reverse" and self.target.reverse and not self.upstream:
            return [self.port + r.port_offset for r in self.target.reverse]
        return [self.port]


# ---------------------------------------------------------------------------------- prerequisites
def find_tool(name: str = "mitmdump") -> str:
    """Path of mitmdump/mitmweb: PATH first, then next to this interpreter."""
    found = shutil.which(name)
    if found:
        return found
    local = Path(sys.executable).with_name(name)
    if local.exists():
        return str(local)
    raise CaptureError(
        f"{name} not found. Install mitmproxy: `uv tool install mitmproxy`, `pipx install mitmproxy`, "
        "`brew install mitmproxy`, or `pip install 'fastcap[capture]'`."
    )


def mitmproxy_version(tool: str) -> str | None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=30).stdout
        m = re.search(r"Mitmproxy:\s*(\S+)", out)
        if m:
            return m.group(1)
    return None


def version_tuple(version: str | None) -> tuple[int, ...]:
    """`12.1.2` → (12, 1); unknown → (0,)."""
    return tuple(int(x) for x in re.findall(r"\d+", version or "0")[:2]) or (0,)


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def first_free_port(start: int = 8080, count: int = 1, avoid: Sequence[int] = (), limit: int = 200) -> int:
    """First port p >= start with p..p+count-1 all free (and not in `avoid`)."""
    for p in range(start, start + limit):
        span = range(p, p + count)
        if all(q not in avoid and port_free(q) for q in span):
            return p
    raise CaptureError(f"no free port between {start} and {start + limit}; pass --port")


def ensure_ca(confdir: Path) -> Path:
    """The mitmproxy CA certificate in `confdir`, generated if missing."""
    ca = confdir / CA_NAME
    if ca.exists():
        return ca
    confdir.mkdir(parents=True, exist_ok=True)
    try:
        from mitmproxy.certs import CertStore

        CertStore.from_store(confdir, "mitmproxy", 2048)
    except ImportError:
        tool = find_tool("mitmdump")
        port = first_free_port(18080)
        proc = subprocess.Popen(
            [tool, "-q", "--listen-host", "127.0.0.1", "-p", str(port), "--set", f"confdir={confdir}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while not ca.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
    if not ca.exists():
        raise CaptureError(f"could not create the mitmproxy CA in {confdir}; run `mitmdump` once and retry")
    return ca


def system_ca_file() -> Path | None:
    paths = ssl.get_default_verify_paths()
    for candidate in (os.environ.get("SSL_CERT_FILE"), paths.cafile, paths.openssl_cafile):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    for candidate in (
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
    ):
        if Path(candidate).is_file():
            return Path(candidate)
    with contextlib.suppress(ImportError):
        import certifi

        return Path(certifi.where())
    return None


def make_ca_bundle(ca: Path, dest: Path) -> Path:
    """System CAs followed by the mitmproxy CA, for SSL_CERT_FILE / REQUESTS_CA_BUNDLE."""
    parts: list[bytes] = []
    system = system_ca_file()
    if system is not None and system.resolve() != dest.resolve():
        parts.append(system.read_bytes().rstrip() + b"\n")
    parts.append(ca.read_bytes())
    dest.write_bytes(b"".join(parts))
    return dest


def check_writable(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / f".fastcap-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise CaptureError(f"output directory {directory} is not writable: {exc.strerror or exc}") from None


# ---------------------------------------------------------------------------------- command and env
def build_command(
    cfg: CaptureConfig, tool: str, *, web_password: str | None = None, store_streamed: bool = False
) -> list[str]:
    cmd = [tool, "--listen-host", "127.0.0.1"]
    if cfg.mode == "reverse":
        if cfg.upstream:
            cmd += ["--mode", f"reverse:{cfg.upstream}@{cfg.port}"]
        elif cfg.target.reverse:
            for r in cfg.target.reverse:
                cmd += ["--mode", f"reverse:{r.upstream}@{cfg.port + r.port_offset}"]
        else:
            raise CaptureError(
                f"target {cfg.target.name} has no reverse proxy: pass --upstream URL or use --mode forward"
            )
    elif cfg.upstream_proxy:
        cmd += ["--mode", f"upstream:{cfg.upstream_proxy}@{cfg.port}"]
    else:
        cmd += ["--mode", f"regular@{cfg.port}"]
    cmd += ["--set", f"confdir={cfg.confdir}"]
    # No flow lines in mitmdump.log (the capture has them, redacted) unless --set asks for them
    # (mitmdump refuses a second value for the option).
    if not any(item.partition("=")[0].strip() == "flow_detail" for item in cfg.sets):
        cmd += ["--set", "flow_detail=0"]
    if cfg.web:
        cmd += [
            "--web-port",
            str(cfg.web_port),
            "--set",
            "web_open_browser=false",
            "--set",
            "web_host=127.0.0.1",
        ]
        if web_password:
            cmd += ["--set", f"web_password={web_password}"]
        if store_streamed:
            # mitmweb then shows streamed bodies instead of "content missing" (mitmproxy >= 12;
            # the bodies are held in memory for the UI, as mitmproxy holds them: unredacted).
            cmd += ["--set", "store_streamed_bodies=true"]
    if cfg.save:
        cmd += [
            "-s",
            str(ADDON_PATH),
            "--set",
            f"fastcap_out={cfg.session_dir}",
            "--set",
            f"fastcap_format={cfg.fmt}",
            "--set",
            f"fastcap_target={cfg.target.name}",
            "--set",
            f"fastcap_redact={'true' if cfg.redact else 'false'}",
        ]
        if cfg.session_id:
            cmd += ["--set", f"fastcap_session={cfg.session_id}"]
        if cfg.filter:
            cmd += ["--set", f"fastcap_filter={cfg.filter}"]
        for host in cfg.hosts:
            cmd += ["--set", f"fastcap_hosts={host}"]
    for script in cfg.scripts:
        cmd += ["-s", script]
    for item in cfg.sets:
        cmd += ["--set", item]
    return cmd


def agent_env(cfg: CaptureConfig, ca: Path, bundle: Path) -> dict[str, str]:
    """Variables the agent needs (never NODE_TLS_REJECT_UNAUTHORIZED)."""
    env: dict[str, str] = {}
    if cfg.mode == "forward":
        proxy = f"http://127.0.0.1:{cfg.port}"
        for k, v in FORWARD_ENV.items():
            env[k] = v.format(proxy=proxy, ca=ca, bundle=bundle)
    else:
        if cfg.upstream:
            # One listener fronts --upstream (a gateway, a regional endpoint, a local server): the
            # target's model-API variables (its first listener's, path suffix kept: `/v1` for
            # OpenAI) point at it, so an agent that reads only its own variables is captured.
            base = f"http://127.0.0.1:{cfg.port}"
            primary = next((r for r in cfg.target.reverse if r.env), None)
            for k, v in (primary.env if primary else {}).items():
                env[k] = v.format(base=base)
            env["FASTCAP_PROXY_URL"] = base
        else:
            for r in cfg.target.reverse:
                base = f"http://127.0.0.1:{cfg.port + r.port_offset}"
                for k, v in r.env.items():
                    env[k] = v.format(base=base)
            env["FASTCAP_PROXY_URL"] = f"http://127.0.0.1:{cfg.port}"
    return env


def manual_steps(cfg: CaptureConfig) -> list[str]:
    ports = {f"port{i}": p for i, p in enumerate(cfg.listen_ports)}
    steps = []
    if cfg.mode == "reverse":
        for step in cfg.target.manual_steps:
            with contextlib.suppress(KeyError, IndexError):
                steps.append(step.format(**ports))
    return steps


def launch_lines(env: dict[str, str], command: str, shell: str) -> str:
    """A copy-paste launch command for `bash` (and zsh), `fish` or `powershell`; `export`: only the
    variables, as `export` lines to `eval` in the current shell."""
    if shell == "powershell":
        lines = [f"$env:{k} = '{v}'" for k, v in env.items() if not k.islower()]
        return "\n".join([*lines, command])
    if shell == "fish":
        lines = [f"set -gx {k} {shlex.quote(v)}" for k, v in env.items() if not k.islower()]
        return "\n".join([*lines, command])
    if shell == "export":  # for eval "$(fastcap capture env)" in bash or zsh
        return "\n".join(f"export {k}={shlex.quote(v)}" for k, v in env.items() if not k.islower())
    lines = [f"{k}={shlex.quote(v)} \\" for k, v in env.items() if not k.islower()]
    return "\n".join([*lines, command])


# ---------------------------------------------------------------------------------- process control
def start_proxy(cfg: CaptureConfig, log_path: Path) -> tuple[subprocess.Popen[bytes], list[str], str | None]:
    """Start mitmdump (or mitmweb) and wait until every listen port accepts connections."""
    tool = find_tool("mitmweb" if cfg.web else "mitmdump")
    password = None
    store_streamed = False
    if cfg.web:
        version = version_tuple(mitmproxy_version(tool))
        if version >= (11, 1):
            password = secrets.token_urlsafe(12)
        store_streamed = version >= (12, 0)
    cmd = build_command(cfg, tool, web_password=password, store_streamed=store_streamed)
    logf = log_path.open("ab")
    kwargs: dict[str, Any] = {}
    if sys.platform != "win32":
        kwargs["start_new_session"] = True  # Ctrl-C in the agent's terminal does not kill the proxy
    proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **kwargs)
    logf.close()
    ports = list(cfg.listen_ports) + ([cfg.web_port] if cfg.web else [])
    deadline = time.monotonic() + READY_TIMEOUT
    pending = list(ports)
    while pending:
        if proc.poll() is not None:
            raise CaptureError(
                f"{Path(tool).name} exited with code {proc.returncode} at start-up:\n{log_tail(log_path)}"
            )
        if time.monotonic() > deadline:
            stop_proxy(proc.pid)
            raise CaptureError(
                f"{Path(tool).name} did not listen on {pending} within {READY_TIMEOUT:.0f}s:\n{log_tail(log_path)}"
            )
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", pending[0]), timeout=0.2):
            pending.pop(0)
            continue
        time.sleep(0.05)
    return proc, cmd, password


def stop_proxy(pid: int, timeout: float = STOP_TIMEOUT, proc: subprocess.Popen[bytes] | None = None) -> str:
    """SIGTERM, wait, SIGKILL after `timeout` (`terminate`). Returns how it ended."""
    if not sess.pid_alive(pid):
        if proc is not None:
            proc.wait(1)
        return "already stopped"
    return "stopped" if terminate(pid, timeout, proc) else "killed (capture may be incomplete)"


def terminate(pid: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> bool:
    """SIGTERM `pid`, wait up to `timeout` for it to end (polling every 0.1 s; through `proc`, which
    reaps it, when it is our child), SIGKILL it if it has not. True when SIGTERM ended it."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ended = proc.poll() is not None if proc is not None else not sess.pid_alive(pid)
        if ended:
            return True
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if proc is not None:
        proc.wait(5)
    return False


def log_tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def untrusted_hosts(log_path: Path) -> list[str]:
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return []
    return sorted(set(UNTRUSTED_RE.findall(text)))


# ---------------------------------------------------------------------------------- sessions
def capture_files(cfg: CaptureConfig, session_id: str) -> dict[str, str | None]:
    return {
        "capture_file": str(cfg.session_dir / f"{session_id}.cbor")
        if cfg.save and cfg.fmt in ("cbor", "both")
        else None,
        "jsonl_file": str(cfg.session_dir / "traffic.jsonl")
        if cfg.save and cfg.fmt in ("jsonl", "both")
        else None,
    }


def prepare(cfg: CaptureConfig) -> tuple[Path, Path]:
    """Up-front checks; returns (CA path, CA bundle path)."""
    find_tool("mitmweb" if cfg.web else "mitmdump")
    check_writable(cfg.session_dir)
    if cfg.port:
        busy = [p for p in cfg.listen_ports if not port_free(p)]
        if busy:
            raise CaptureError(
                f"port {busy[0]} is already in use; pass another --port or stop what is listening"
            )
    else:
        cfg.port = first_free_port(8080, count=len(cfg.listen_ports))
    if cfg.web:
        if cfg.web_port and not port_free(cfg.web_port):
            raise CaptureError(f"web port {cfg.web_port} is already in use; pass another --web-port")
        if not cfg.web_port:
            cfg.web_port = first_free_port(8081, avoid=cfg.listen_ports)
    if cfg.mode not in cfg.target.modes and not (cfg.mode == "reverse" and cfg.upstream):
        raise CaptureError(f"target {cfg.target.name} supports --mode {' or '.join(cfg.target.modes)}")
    ca = ensure_ca(cfg.confdir)
    bundle = make_ca_bundle(ca, cfg.session_dir / "ca-bundle.pem")
    return ca, bundle


def start_session(
    cfg: CaptureConfig, base: Path, command: Sequence[str] = ()
) -> tuple[dict[str, Any], subprocess.Popen[bytes], dict[str, str]]:
    ca, bundle = prepare(cfg)
    session_id = cfg.session_id or f"fastcap-{cfg.session_dir.name}"
    cfg.session_id = session_id
    log_path = cfg.session_dir / "mitmdump.log"
    proc, cmd, password = start_proxy(cfg, log_path)
    env = agent_env(cfg, ca, bundle)
    state: dict[str, Any] = {
        "status": "capturing",
        "pid": proc.pid,
        "port": cfg.port,
        "session_dir": str(cfg.session_dir),
        "started_at": sess.now_iso(),
        "agent": cfg.target.name,
        "mode": cfg.mode,
        "ports": cfg.listen_ports,
        "session_id": session_id,
        "redacted": cfg.redact,
        **capture_files(cfg, session_id),
        "log_file": str(log_path),
        "ca_cert": str(ca),
        "ca_bundle": str(bundle),
        "proxy_command": cmd,
        "env": env,
        "mitmproxy_version": mitmproxy_version(cmd[0]),
    }
    if cfg.web:
        state["web_url"] = f"http://127.0.0.1:{cfg.web_port}"
        state["web_password"] = password
    if cfg.ingest_to:
        state["ingest_to"] = cfg.ingest_to
    if command:
        state["command"] = list(command)
    sess.write_state(cfg.session_dir, state)
    if cfg.view:
        capture = state.get("capture_file") or state.get("jsonl_file")
        try:
            if not capture:
                raise CaptureError("--view needs a capture to show (not with --no-save)")
            view_pid, view_url = start_view(Path(capture), cfg.session_dir / VIEW_LOG)
        except CaptureError:
            stop_proxy(proc.pid, proc=proc)
            raise
        state.update(view_pid=view_pid, view_url=view_url)
        sess.write_state(cfg.session_dir, state)
    sess.remember(base, cfg.session_dir)
    registry.register(state)
    return state, proc, env


VIEW_LOG = ".view.log"  # dot-named: holds the view's URL with its token, left out of the leak scan
_VIEWS: dict[int, subprocess.Popen[bytes]] = {}  # views this process started, reaped when stopped


def start_view(capture: Path, log_path: Path) -> tuple[int, str]:
    """`fastcap view CAPTURE` in the background, on a free port of 127.0.0.1; returns its pid and
    URL (with the token). It follows the capture as it grows; `stop_view` ends it."""
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # the token is a key
    kwargs: dict[str, Any] = {"start_new_session": True} if sys.platform != "win32" else {}
    with os.fdopen(fd, "wb") as logf:
        proc = subprocess.Popen(
            [sys.executable, "-m", "fastcap", "view", str(capture)],
            stdout=logf,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            **kwargs,
        )
    _VIEWS[proc.pid] = proc
    deadline = time.monotonic() + VIEW_READY_TIMEOUT
    while time.monotonic() < deadline:
        m = VIEW_URL_RE.search(log_path.read_text(errors="replace"))
        if m:
            return proc.pid, m.group(1)
        if proc.poll() is not None:
            raise CaptureError(f"fastcap view exited with code {proc.returncode}:\n{log_tail(log_path)}")
        time.sleep(0.05)
    stop_view(proc.pid)
    raise CaptureError(f"fastcap view did not start within {VIEW_READY_TIMEOUT:.0f}s:\n{log_tail(log_path)}")


def stop_view(pid: int) -> None:
    """End the view started by `start_view`, if that pid still is it."""
    mine = _VIEWS.pop(pid, None)
    cmd = sess.process_cmdline(pid) if sess.pid_alive(pid) else None
    if cmd is None or "fastcap" not in cmd or " view " not in f" {cmd} ":
        if mine is not None:
            mine.wait(1)
        return
    terminate(pid, STOP_TIMEOUT, mine)


def finish_session(
    session_dir: Path,
    *,
    stop: bool = True,
    report: bool = True,
    proc: subprocess.Popen[bytes] | None = None,
    echo: Callable[[str], None] = print,
) -> int:
    """Stop the proxy, run the report hook and the leak scan, mark the session completed."""
    state = sess.read_state(session_dir) or {}
    pid = state.get("pid")
    if stop and isinstance(pid, int):
        if proc is not None or sess.is_recorded_proxy(state):
            how = stop_proxy(pid, proc=proc)
            state["stopped"] = how
        else:
            state["stopped"] = "already stopped"
    if stop:
        registry.unregister(state.get("session_id"))
        if isinstance(state.get("view_pid"), int):
            stop_view(state["view_pid"])
    state = {**state, "status": "analyzing"}
    sess.write_state(session_dir, state)
    exit_code = 0
    failure = capture_failure(session_dir)
    if failure:
        state["error"] = f"capture failed: {failure}"
        sess.write_state(session_dir, state)
        echo(f"fastcap: error: the capture stopped: {failure} (the proxy exited; see summary.json)")
        exit_code = 1
    log = state.get("log_file")
    if state.get("redacted", True) and log and Path(log).is_file():
        try:
            redact_log(Path(log))
        except OSError as exc:
            echo(f"fastcap: could not redact {log}: {exc}")
            exit_code = 1
    capture = state.get("capture_file") or state.get("jsonl_file")
    generated: list[str] = []
    if report and capture and Path(capture).exists():
        from fastcap.reports import write_session_reports

        try:
            result = write_session_reports(Path(capture), session_dir)
            generated = [str(p) for p in result.files]
        except Exception as exc:
            state["error"] = f"report step failed: {exc}"
            sess.write_state(session_dir, state)
            echo(f"fastcap: report step failed: {exc}")
            return 1
    findings = scan_outputs(session_dir, state, generated)
    if findings:
        state["error"] = f"leak scan: {len(findings)} finding(s)"
        sess.write_state(session_dir, state)
        for f in findings[:20]:
            echo(f"leak: {f}")
        echo(f"fastcap: leak scan failed with {len(findings)} finding(s); session left in 'analyzing'")
        return 1
    state["status"] = "completed"
    state["completed_at"] = sess.now_iso()
    sess.write_state(session_dir, state)
    if state.get("ingest_to") and capture and Path(capture).exists():
        exit_code = max(exit_code, ingest_session(session_dir, state, Path(capture), echo))
    return exit_code


def ingest_session(
    session_dir: Path, state: dict[str, Any], capture: Path, echo: Callable[[str], None]
) -> int:
    """`--ingest`: add the stopped session's capture to its dataset (issue 15), through the same
    `fastcap.dataset.ingest` as `fastcap ingest`; the result goes into state.json."""
    from fastcap.dataset import DatasetError, ingest

    to = str(state["ingest_to"])
    try:
        # The target names the agent, except `generic`: then the dataset tells it from the headers.
        agent = state.get("agent") if state.get("agent") not in (None, "", "generic") else None
        result = ingest([capture], to, agent=agent, jobs=1)
    except (DatasetError, OSError) as exc:
        message = str(exc) if isinstance(exc, DatasetError) else f"{exc.strerror or exc}"
        state["ingest"] = {"dataset": to, "error": message}
        sess.write_state(session_dir, state)
        echo(f"fastcap: error: could not add the capture to the dataset {to}: {message}")
        return 1
    state["ingest"] = {"dataset": to, "summary": result.summary(), "errors": result.errors}
    sess.write_state(session_dir, state)
    for line in result.errors:
        echo(f"fastcap: error: {line}")
    echo(f"Dataset {to}: {result.summary()}")
    return 1 if result.failed else 0


def read_progress(session_dir: Path) -> dict[str, Any] | None:
    """The addon's live counts (`progress.json`: calls, errors, rate_limited), or None before the
    first call."""
    try:
        progress = orjson.loads((session_dir / "progress.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return progress if isinstance(progress, dict) else None


def read_settled_progress(session_dir: Path) -> dict[str, Any] | None:
    """`read_progress` once a write the addon may still owe has landed: counts that changed within
    `PROGRESS_INTERVAL` of its last write are on disk by that write's time plus the interval (for
    the count printed when the agent exits: its last calls are then at most that old)."""
    progress = read_progress(session_dir)
    updated = progress.get("updated_at") if progress else None
    if isinstance(updated, int | float):
        wait = updated + sess.PROGRESS_INTERVAL + 0.1 - time.time()
        if 0 < wait <= sess.PROGRESS_INTERVAL + 0.1:
            time.sleep(wait)
            progress = read_progress(session_dir)
    return progress


def progress_text(progress: dict[str, Any] | None) -> str:
    """`3 calls, 1 error` (and the 429s among them when there are any)."""
    p = progress or {}
    calls, errors, limited = int(p.get("calls", 0)), int(p.get("errors", 0)), int(p.get("rate_limited", 0))
    text = f"{calls} call{'s' if calls != 1 else ''}, {errors} error{'s' if errors != 1 else ''}"
    return text + (f" ({limited} rate-limited)" if limited else "")


def capture_failure(session_dir: Path) -> str | None:
    """Why the capture addon stopped the proxy (its `summary.json` `failed`), or None."""
    try:
        summary = orjson.loads((session_dir / "summary.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    failed = summary.get("failed") if isinstance(summary, dict) else None
    return str(failed) if failed else None


def redact_log(path: Path) -> bool:
    """Redact mitmdump's log in place (temporary file, then rename): query-string secrets of every
    URL on a line (request lines, WebSocket lines, error messages; cut URLs too) and every secret
    the free-text rules find. True if anything changed."""
    from fastcap.secrets.redact import OUTPUT, redact_log_line

    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    changed = False
    try:
        with path.open("rb") as src, tmp.open("wb") as dst:
            for raw in src:
                line = raw.decode("utf-8", "surrogateescape")
                out = redact_log_line(line, OUTPUT)
                if out is not line:
                    changed = True
                    raw = out.encode("utf-8", "surrogateescape")
                dst.write(raw)
        if changed:
            os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    return changed


def scan_outputs(session_dir: Path, state: dict[str, Any], generated: Sequence[str] = ()) -> list[Any]:
    """Leak-scan every generated file and, when the session is redacted, mitmdump's log (not the
    raw capture, CA files or state)."""
    from fastcap.secrets.leakscan import scan_paths

    raw = {state.get("capture_file")}
    if not state.get("redacted", True):
        raw.update((state.get("jsonl_file"), state.get("log_file")))
    skip_names = {"ca-bundle.pem", sess.STATE_FILE}
    log = state.get("log_file")
    extra = [Path(log)] if log and log not in raw and Path(log).is_file() else []
    paths = (
        [Path(p) for p in generated] + extra
        if generated
        else [
            p
            for p in session_dir.rglob("*")
            if p.is_file()
            and str(p) not in raw
            and p.name not in skip_names
            and not p.name.startswith(".")
            and p.suffix != ".cbor"
        ]
    )
    return scan_paths(paths)


def summary_lines(session_dir: Path) -> list[str]:
    state = sess.read_state(session_dir) or {}
    lines = [f"Session directory: {session_dir}"]
    for key, label in (("capture_file", "Capture (CBOR)"), ("jsonl_file", "Traffic (JSONL)")):
        if state.get(key):
            lines.append(f"{label}: {state[key]}  (raw capture: may contain sensitive data)")
    summary_path = session_dir / "summary.json"
    if summary_path.exists():
        with contextlib.suppress(orjson.JSONDecodeError, OSError):
            s = orjson.loads(summary_path.read_bytes())
            counts = s.get("counts", {})
            lines.append(
                f"Requests: {counts.get('requests', 0)}  streams: {counts.get('streams', 0)}  "
                f"errors: {counts.get('errors', 0)}  WebSocket messages: {counts.get('ws_messages', 0)}"
            )
            if s.get("status"):
                lines.append("Status codes: " + ", ".join(f"{k}×{v}" for k, v in sorted(s["status"].items())))
            if s.get("hosts"):
                lines.append(
                    "Hosts: "
                    + ", ".join(f"{k} ({v})" for k, v in sorted(s["hosts"].items(), key=lambda kv: -kv[1]))
                )
    else:
        n = sess.count_requests(session_dir, state)
        if n is not None:
            lines.append(f"Requests: {n}")
    log = state.get("log_file")
    if log:
        hosts = untrusted_hosts(Path(log))
        if hosts:
            lines.append(
                "Setup error: the client does not trust the proxy's certificate for "
                + ", ".join(hosts)
                + " (the agent ignored the CA variables; see the launch instructions)."
            )
    if state.get("status") == "completed":
        lines += report_lines(session_dir, state)
    return lines


def report_lines(session_dir: Path, state: dict[str, Any]) -> list[str]:
    """The reports as a directory and a count (a session of 110 calls writes 112 files), then the
    overview `fastcap analyze` prints for the capture."""
    reports = sorted(p.name for p in session_dir.glob("*.md"))
    if not reports:
        return []
    session = [n for n in ("report.md", "analysis_report.md") if n in reports]
    calls = len(reports) - len(session)
    lines = [
        f"Reports in {session_dir}: {', '.join(session) or 'no session report'}"
        + (f" and {calls:,} per-call file{'s' if calls != 1 else ''}" if calls else "")
    ]
    capture = state.get("capture_file") or state.get("jsonl_file")
    if capture and Path(capture).exists():
        from fastcap.analysis.calls import redact_calls
        from fastcap.analysis.overview import build_overview
        from fastcap.dataset import calls_for_inputs
        from fastcap.reports.overview import render_text

        with contextlib.suppress(Exception):  # the summary above stands on its own
            table = redact_calls(calls_for_inputs([capture]))
            overview = build_overview(table, source=Path(capture).name, fmt=Path(capture).suffix.lstrip("."))
            lines += ["", render_text(overview)]
    return lines
