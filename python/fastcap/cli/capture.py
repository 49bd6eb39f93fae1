"""`fastcap capture`: record an agent's traffic through mitmdump with fastcap's addon.

fastcap capture --target T [--out DIR] -- <agent command>   run the agent through the proxy
fastcap capture start [--target T] [options]                start a background capture
fastcap capture status                                      show the live captures
fastcap capture env                                         its variables: eval "$(fastcap capture env)"
fastcap capture stop [--port P | --id ID]                   stop it and analyse
fastcap capture                                             start, or offer to stop a live one

status, stop and env find a live capture wherever it writes (fastcap keeps a list of running
captures in $FASTCAP_STATE_DIR, else $XDG_STATE_HOME/fastcap, else ~/.local/state/fastcap); when
several run, pick one with --port or --id. Example:

  fastcap capture start --target claude-code --sessions-dir ~/captures
  fastcap capture status          # in any terminal: port, calls so far, session directory
  fastcap capture stop            # stops it and writes the reports into ~/captures/<timestamp>

While it runs: `--progress` keeps a live count of calls on stderr (run form, on a terminal);
`--view` serves fastcap's browser view of the capture as it grows (URL printed, with its token);
`--ingest [DATASET]` adds the capture to a Parquet dataset when it stops. Example:

  fastcap capture --target claude-code --view --ingest -- claude

See docs/capture.md.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from rich.console import Console

from fastcap.capture import registry, runner, targets
from fastcap.capture import session as sess
from fastcap.errors import UsageError

ACTIONS = ("start", "stop", "status", "env")
INGEST_DEFAULT = "-"  # `--ingest` without a dataset: the personal dataset's default location


def register(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "capture",
        help="capture an agent's API traffic through mitmproxy",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "words",
        nargs="*",
        metavar="[start|stop|status|env] | -- COMMAND",
        help="an action, or the agent command after `--`",
    )
    p.add_argument(
        "--target", "-t", default="generic", choices=targets.names(), help="agent profile (default: generic)"
    )
    p.add_argument(
        "--mode", choices=("forward", "reverse"), help="proxy mode (default: the target's first mode)"
    )
    p.add_argument("--upstream", default="", metavar="URL", help="reverse mode: the API base URL to front")
    p.add_argument("--out", "-o", type=Path, help="session directory (default: <sessions dir>/<timestamp>)")
    p.add_argument(
        "--sessions-dir",
        type=Path,
        help="base directory of sessions (default: $FASTCAP_SESSIONS_DIR or ~/.fastcap/sessions)",
    )
    p.add_argument(
        "--port",
        "-p",
        type=int,
        default=0,
        help="listen port (default: first free from 8080); with status/stop/env: the live capture on that port",
    )
    p.add_argument(
        "--id",
        dest="ident",
        default="",
        metavar="ID",
        help="status/stop/env: the live capture with this session id or session directory name",
    )
    p.add_argument(
        "--view",
        action="store_true",
        help="also serve fastcap's browser view of the capture as it is written (calls, models, tokens, "
        "TTFT, errors; redacted) on 127.0.0.1; its URL, with its token, is printed and it stops with the "
        "capture. Example: fastcap capture --target claude-code --view -- claude",
    )
    p.add_argument(
        "--ingest",
        nargs="?",
        const=INGEST_DEFAULT,
        default=None,
        metavar="DATASET",
        help="when the capture stops, add it to a Parquet dataset (default: $FASTCAP_DATASET, else "
        "~/.local/share/fastcap/dataset; see docs/datasets.md). Example: fastcap capture --ingest -- claude",
    )
    p.add_argument(
        "--web",
        action="store_true",
        help="run mitmweb, mitmproxy's own web UI, instead of mitmdump. It shows flows as mitmproxy holds "
        "them in memory, before fastcap's redaction (API keys in clear); on mitmproxy 11 streamed "
        "responses show as 'content missing' (and 11.0 has no password); on 12 fastcap sets a random "
        "password and store_streamed_bodies. Prefer --view",
    )
    p.add_argument("--web-port", type=int, default=0, help="mitmweb UI port (default: first free from 8081)")
    p.add_argument("--filter", default="", help="mitmproxy filter expression: record only matching flows")
    p.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="pass an option to mitmdump (repeatable)",
    )
    p.add_argument(
        "--script",
        dest="scripts",
        action="append",
        default=[],
        metavar="PATH",
        help="extra mitmproxy addon script (repeatable)",
    )
    p.add_argument(
        "--upstream-proxy",
        default="",
        metavar="URL",
        help="chain through an upstream proxy (--mode upstream:URL)",
    )
    p.add_argument(
        "--progress",
        action="store_true",
        help="with -- COMMAND: keep a live count of calls on stderr while the agent runs (a line "
        "rewritten in place; only when stderr is a terminal). Without it, the count is printed once "
        "when the agent exits, and `fastcap capture status` shows it from another terminal",
    )
    p.add_argument("--no-save", action="store_true", help="do not record (proxy only, e.g. with --web)")
    p.add_argument(
        "--format",
        dest="fmt",
        choices=("cbor", "jsonl", "both"),
        default="cbor",
        help="capture format (default: cbor)",
    )
    p.add_argument(
        "--no-redact", action="store_true", help="record secrets verbatim (redaction is on by default)"
    )
    p.add_argument(
        "--no-report", action="store_true", help="after stopping, skip the report step (summary only)"
    )
    p.add_argument(
        "--confdir",
        type=Path,
        default=runner.DEFAULT_CONFDIR,
        help="mitmproxy confdir holding the CA (default: ~/.mitmproxy)",
    )
    yn = p.add_mutually_exclusive_group()
    yn.add_argument("--yes", "-y", action="store_true", help="answer yes: stop and analyse a live capture")
    yn.add_argument("--no", "-n", action="store_true", help="answer no: leave a live capture running")
    p.set_defaults(func=run)


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def run(args: argparse.Namespace) -> int:
    words: list[str] = list(args.words)
    if args.ingest in ACTIONS and not words:  # `--ingest start`: the action, not a dataset named "start"
        words, args.ingest = [args.ingest], INGEST_DEFAULT
    command: list[str] | None = getattr(args, "command_after_dashes", None)
    base = sess.sessions_base(args.sessions_dir)
    if words and words[0] not in ACTIONS:
        raise UsageError(
            f"unknown action {words[0]!r}: choose {', '.join(ACTIONS)}, or put the agent command after -- "
            f"(fastcap capture --target {args.target} -- {' '.join(words)})"
        )
    if command is not None:
        if words:
            raise UsageError(f"'{words[0]}' takes no command; run an agent with: fastcap capture -- COMMAND")
        if not command:
            raise UsageError("nothing after --: give the agent command to run")
        return cmd_run(args, base, command)
    if words:
        action, rest = words[0], words[1:]
        if rest:
            raise UsageError(
                f"unexpected arguments after '{action}': {' '.join(rest)} (put an agent command after --)"
            )
        if action == "status":
            return cmd_status(args, base)
        if action == "env":
            return cmd_env(args, base)
        if action == "stop":
            return cmd_stop(args, base)
        return cmd_start(args, base)
    return cmd_start(args, base)


def _config(args: argparse.Namespace, session_dir: Path) -> runner.CaptureConfig:
    target = targets.get(args.target)
    mode = args.mode or ("reverse" if args.upstream else target.default_mode)
    if args.upstream_proxy and mode == "reverse":
        raise UsageError("--upstream-proxy works with --mode forward only")
    if args.no_save and (args.view or args.ingest is not None):
        raise UsageError("--view and --ingest need a capture: drop --no-save")
    for item in args.sets:
        if "=" not in item:
            raise UsageError(f"--set expects NAME=VALUE, got {item!r}")
    for script in args.scripts:
        if not Path(script).is_file():
            raise UsageError(f"--script {script}: no such file")
    return runner.CaptureConfig(
        target=target,
        session_dir=session_dir,
        mode=mode,
        port=args.port,
        web=args.web,
        web_port=args.web_port,
        confdir=args.confdir.expanduser(),
        filter=args.filter,
        sets=list(args.sets),
        scripts=[str(Path(s).resolve()) for s in args.scripts],
        upstream_proxy=args.upstream_proxy,
        upstream=args.upstream,
        save=not args.no_save,
        fmt=args.fmt,
        redact=not args.no_redact,
        view=args.view,
        ingest_to=_ingest_target(args.ingest),
    )


def _ingest_target(value: str | None) -> str:
    if value is None:
        return ""
    if value == INGEST_DEFAULT:
        from fastcap.dataset.layout import default_dataset_path

        return str(default_dataset_path())
    return value if "://" in value else str(Path(value).expanduser().resolve())


def _session_dir(args: argparse.Namespace, base: Path) -> Path:
    if args.out:
        out = args.out.expanduser()
        runner.check_writable(out)
        return out.resolve()
    try:
        return sess.new_session_dir(base)
    except OSError as exc:
        raise runner.CaptureError(f"cannot create a session under {base}: {exc}; pass --out DIR") from None


def _find_session(args: argparse.Namespace, base: Path) -> Path | None:
    """The session a status/stop/env acts on: `--out`, else the one live capture (the registry,
    narrowed by `--port` / `--id`), else the latest session under the sessions directory."""
    if args.out:
        return args.out.expanduser().resolve()
    live = _live(args)
    if len(live) > 1:
        raise UsageError(
            f"{len(live)} captures are running; choose one with --port or --id: "
            + "; ".join(_live_line(e) for e in live)
        )
    if live:
        return Path(str(live[0]["session_dir"]))
    return sess.latest_session(base)


def _live(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Live captures, narrowed by `--port` / `--id`; an error if those match none."""
    entries = registry.live()
    chosen = registry.select(entries, port=args.port, ident=args.ident)
    if (args.port or args.ident) and not chosen:
        which = f"on port {args.port}" if args.port else f"with id {args.ident}"
        running = "; running: " + "; ".join(_live_line(e) for e in entries) if entries else ""
        raise UsageError(f"no live capture {which}{running}")
    return chosen


def _live_line(entry: dict[str, Any]) -> str:
    return f"--port {entry.get('port')} (--id {entry.get('session_id')}, in {entry.get('session_dir')})"


def _ask(args: argparse.Namespace, question: str) -> bool:
    if args.yes:
        return True
    if args.no:
        return False
    if not sys.stdin.isatty():
        raise UsageError(f"{question} Pass --yes or --no (stdin is not a terminal).")
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")


def _print_summary(console: Console, session_dir: Path) -> None:
    for line in runner.summary_lines(session_dir):
        console.print(line, markup=False)


def _analyse(
    console: Console,
    session_dir: Path,
    args: argparse.Namespace,
    *,
    proc: subprocess.Popen[bytes] | None = None,
) -> int:
    code = runner.finish_session(
        session_dir, proc=proc, report=not args.no_report, echo=lambda s: console.print(s, markup=False)
    )
    _print_summary(console, session_dir)
    return code


# ---------------------------------------------------------------------------------- actions
def cmd_start(args: argparse.Namespace, base: Path) -> int:
    console = _console()
    live = [] if args.out else registry.live()
    if len(live) > 1:
        console.print(
            f"{len(live)} captures are running (`fastcap capture status` lists them). Starting another.",
            markup=False,
        )
        latest = None
    elif live:
        latest = Path(str(live[0]["session_dir"]))
    else:  # --port here is the new capture's listen port, not a choice among live ones
        latest = args.out.expanduser().resolve() if args.out else sess.latest_session(base)
    state = sess.read_state(latest) if latest else None
    if latest is not None and state and state.get("status") == "capturing":
        if sess.is_recorded_proxy(state):
            n = sess.count_requests(latest, state)
            if _ask(
                args,
                f"Capture in progress (pid {state.get('pid')}, port {state.get('port')}, "
                f"{n if n is not None else '?'} requests) in {latest}. Stop and analyse?",
            ):
                return _analyse(console, latest, args)
            if args.out:
                console.print("Leaving it running.", markup=False)
                return 0
            console.print("Leaving it running. Starting another capture.", markup=False)
        else:
            console.print(f"mitmdump already stopped. Analysing {latest}.", markup=False)
            code = _analyse(console, latest, args)
            if args.out or code != 0:
                return code
    elif args.out and state is not None:
        raise UsageError(
            f"{latest} already holds a capture session ({state.get('status')}); choose another --out"
        )
    cfg = _config(args, _session_dir(args, base))
    state, _proc, env = runner.start_session(cfg, base)
    _print_launch(console, cfg, state, env, command=cfg.target.example_command)
    return 0


def _print_launch(
    console: Console, cfg: runner.CaptureConfig, state: dict[str, Any], env: dict[str, str], command: str
) -> None:
    ports = ", ".join(str(p) for p in cfg.listen_ports)
    tool = "mitmweb" if cfg.web else "mitmdump"
    console.print(f"{tool} is running on port {ports} (pid {state['pid']}).", markup=False)
    if cfg.mode == "reverse":
        ups = [cfg.upstream] if cfg.upstream else [f"{r.upstream} ({r.purpose})" for r in cfg.target.reverse]
        for port, up in zip(cfg.listen_ports, ups, strict=False):
            console.print(f"  :{port} -> {up}", markup=False)
    _print_web_and_view(console, cfg, state)
    console.print(
        f"\nRun {cfg.target.description} through the proxy in another terminal.\n\nbash:", markup=False
    )
    console.print(runner.launch_lines(env, command, "bash"), markup=False)
    console.print("\nPowerShell:", markup=False)
    console.print(runner.launch_lines(env, command, "powershell"), markup=False)
    console.print("\nfish:", markup=False)
    console.print(runner.launch_lines(env, command, "fish"), markup=False)
    console.print('\nOr in this shell (bash, zsh): eval "$(fastcap capture env)"', markup=False)
    steps = runner.manual_steps(cfg)
    if steps:
        console.print("\nManual setup required:", markup=False)
        for step in steps:
            console.print(f"  - {step}", markup=False)
    for note in cfg.target.notes:
        console.print(f"Note: {note}", markup=False)
    console.print(
        "\nWhen you are done, run `fastcap capture stop` (or `fastcap capture` again) to stop the capture "
        f"and analyse it.\n\nSession directory: {cfg.session_dir}",
        markup=False,
    )


def _print_web_and_view(console: Console, cfg: runner.CaptureConfig, state: dict[str, Any]) -> None:
    if state.get("view_url"):
        console.print(f"View (live, redacted): {state['view_url']}", markup=False)
    if cfg.ingest_to:
        console.print(f"When the capture stops it is added to the dataset {cfg.ingest_to}", markup=False)
    if not cfg.web:
        return
    console.print(f"mitmweb UI: {state['web_url']}", markup=False)
    if state.get("web_password"):
        console.print(f"mitmweb password: {state['web_password']}", markup=False)
    else:
        console.print(
            "Warning: this mitmproxy version's web UI has no password: any local user who reaches "
            "127.0.0.1 can read the traffic.",
            markup=False,
        )
    console.print(
        "Warning: mitmweb shows the flows as mitmproxy holds them, before fastcap's redaction (API keys "
        "and tokens in clear); with mitmproxy 11 streamed responses show as 'content missing'. "
        "fastcap's own view (--view) shows the calls redacted, with models, tokens and TTFT.",
        markup=False,
    )


def cmd_env(args: argparse.Namespace, base: Path) -> int:
    """The live session's variables as `export` lines, for `eval "$(fastcap capture env)"`."""
    latest = _find_session(args, base)
    state = sess.read_state(latest) if latest else None
    if state is None or state.get("status") != "capturing" or not sess.is_recorded_proxy(state):
        print(
            f"fastcap: error: no live capture under {base} (start one with `fastcap capture start`)",
            file=sys.stderr,
        )
        return 1
    print(runner.launch_lines(state.get("env") or {}, "", "export"))
    return 0


def cmd_status(args: argparse.Namespace, base: Path) -> int:
    """Every live capture (wherever it writes); with none, the latest session under the sessions
    directory."""
    console = _console()
    if args.out:
        sessions = [args.out.expanduser().resolve()]
    else:
        sessions = [Path(str(e["session_dir"])) for e in _live(args)]
        if len(sessions) > 1:
            console.print(f"{len(sessions)} live captures.", markup=False)
        if not sessions:
            console.print("No live capture.", markup=False)
            latest = sess.latest_session(base)
            if latest is None:
                console.print(f"No capture session under {base}.", markup=False)
                return 1
            console.print("Latest session:", markup=False)
            sessions = [latest]
    code = 0
    for i, session_dir in enumerate(sessions):
        if i:
            console.print("", markup=False)
        code = max(code, _print_status(console, session_dir))
    return code


def _print_status(console: Console, session_dir: Path) -> int:
    state = sess.read_state(session_dir)
    if state is None:
        console.print(f"No capture session in {session_dir}.", markup=False)
        return 1
    alive = sess.is_recorded_proxy(state)
    status = state.get("status")
    # A live capture's count is the addon's progress.json (a full scan of a capture file that may
    # be gigabytes said the same); a finished one's, or one before its first call, is the file's.
    progress = runner.read_settled_progress(session_dir) if status == "capturing" else None
    n = int(progress.get("calls", 0)) if progress else sess.count_requests(session_dir, state)
    if status == "capturing" and not alive:
        status = "capturing (proxy not running)"
    console.print(f"Session: {session_dir}", markup=False)
    console.print(f"Status: {status}", markup=False)
    console.print(
        f"Target: {state.get('agent')}  mode: {state.get('mode')}  port: {state.get('port')}  "
        f"pid: {state.get('pid')}  id: {state.get('session_id')}",
        markup=False,
    )
    console.print(f"Started: {state.get('started_at')}", markup=False)
    if state.get("completed_at"):
        console.print(f"Completed: {state['completed_at']}", markup=False)
    console.print(f"Requests captured: {n if n is not None else 'no capture file yet'}", markup=False)
    if state.get("status") == "capturing":
        console.print(f"Live count: {runner.progress_text(progress)}", markup=False)
        if state.get("view_url"):
            console.print(f"View (live, redacted): {state['view_url']}", markup=False)
        if state.get("ingest_to"):
            console.print(f"On stop, added to the dataset: {state['ingest_to']}", markup=False)
    if state.get("error"):
        console.print(f"Error: {state['error']}", markup=False)
    failure = runner.capture_failure(session_dir)
    if failure and failure not in str(state.get("error", "")):
        console.print(f"Error: the capture stopped: {failure}", markup=False)
    return 0


def cmd_stop(args: argparse.Namespace, base: Path) -> int:
    console = _console()
    latest = _find_session(args, base)
    state = sess.read_state(latest) if latest else None
    if latest is None or state is None:
        console.print(f"No capture session under {base}.", markup=False)
        return 1
    if state.get("status") == "completed":
        console.print(f"Session {latest} is already completed.", markup=False)
        _print_summary(console, latest)
        return 0
    if state.get("status") == "capturing" and not sess.is_recorded_proxy(state):
        console.print("mitmdump already stopped. Analysing capture.", markup=False)
    return _analyse(console, latest, args)


def cmd_run(args: argparse.Namespace, base: Path, command: list[str]) -> int:
    console = _console()
    cfg = _config(args, _session_dir(args, base))
    state, proc, env = runner.start_session(cfg, base, command)
    console.print(
        f"fastcap: {Path(state['proxy_command'][0]).name} on port "
        f"{', '.join(map(str, cfg.listen_ports))}; running: {' '.join(command)}",
        markup=False,
    )
    for step in runner.manual_steps(cfg):
        console.print(f"fastcap: manual step: {step}", markup=False)
    _print_web_and_view(console, cfg, state)
    child_env = {**os.environ, **env}
    child_env.pop("NODE_TLS_REJECT_UNAUTHORIZED", None)
    agent_code = 1
    ticker = LiveCount(cfg.session_dir) if args.progress and sys.stderr.isatty() else None
    try:
        child = subprocess.Popen(command, env=child_env)
        try:
            agent_code = child.wait()
        except KeyboardInterrupt:
            child.send_signal(signal.SIGINT)
            try:
                agent_code = child.wait(10)
            except subprocess.TimeoutExpired:
                child.kill()
                agent_code = child.wait()
    except FileNotFoundError:
        console.print(f"fastcap: error: command not found: {command[0]}", markup=False)
        agent_code = 127
    finally:
        if ticker is not None:
            ticker.stop()
        print(
            f"fastcap: {runner.progress_text(runner.read_settled_progress(cfg.session_dir))} captured while the agent ran",
            file=sys.stderr,
            flush=True,
        )
        code = _analyse(console, cfg.session_dir, args, proc=proc)
    console.print(f"Agent exited with code {agent_code}.", markup=False)
    if agent_code != 127 and sess.count_requests(cfg.session_dir) == 0:
        for line in no_calls_hint(cfg):
            console.print(line, markup=False)
    return agent_code if agent_code != 0 else code


class LiveCount:
    """`--progress`: the call count on stderr, one line rewritten in place (`\r`) twice a second
    when it changed. Only for a terminal: a pipe or a file gets the single line printed at the end."""

    INTERVAL = 0.5

    def __init__(self, session_dir: Path) -> None:
        self.session_dir = session_dir
        self._done = threading.Event()
        self._shown = ""
        self._thread = threading.Thread(target=self._run, name="fastcap-live-count", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(self.INTERVAL):
            text = runner.progress_text(runner.read_progress(self.session_dir))
            if text != self._shown:
                self._shown = text
                sys.stderr.write(f"\rfastcap: {text} ")
                sys.stderr.flush()

    def stop(self) -> None:
        self._done.set()
        self._thread.join()
        if self._shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


def no_calls_hint(cfg: runner.CaptureConfig) -> list[str]:
    """Why a session usually captures nothing, and what to try (issue 13)."""
    if cfg.mode == "reverse":
        return [
            "fastcap: no call was captured. In reverse mode the agent must send to the listener: check that it "
            "reads the base-URL variable printed above (some agents take it only from their config file; "
            "see `fastcap capture --target " + cfg.target.name + " start` for the manual steps).",
        ]
    return [
        "fastcap: no call was captured. Usually the agent ignored the proxy variables (HTTPS_PROXY): some "
        "tools need their own setting, and Node.js fetch needs NODE_USE_ENV_PROXY=1; or it pinned its "
        "certificate. Try --mode reverse (the agent's base-URL variable points at the proxy), and see the "
        "target's notes in `fastcap capture --target " + cfg.target.name + " start`.",
    ]
