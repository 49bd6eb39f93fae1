"""The registry of live captures: one small JSON file per running proxy, in a per-user state
directory, so that `fastcap capture status` / `stop` / `env` find a live capture wherever its
session directory is (issue 13: a capture started with `--sessions-dir` or `--out` was invisible
to a later `status` without the same option).

The directory is `$FASTCAP_STATE_DIR/live`, else `$XDG_STATE_HOME/fastcap/live`, else
`~/.local/state/fastcap/live`. Each entry is `<id>.json` (the session id) holding the pid, ports,
mode, target, session directory, capture file and start time. An entry whose proxy is gone (the
pid is dead, or no longer the mitmdump it recorded) is stale: `live()` deletes it and leaves it out.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import orjson

from fastcap.capture import session as sess

STATE_DIR_ENV = "FASTCAP_STATE_DIR"
# What an entry keeps of a session's state.json: what `status`, `stop` and `env` need to find and
# name a live capture. The rest (the view's token among it) stays in the session directory only.
ENTRY_KEYS = ("session_id", "pid", "port", "ports", "session_dir", "started_at")


def state_dir() -> Path:
    """fastcap's per-user state directory (`$FASTCAP_STATE_DIR`, `$XDG_STATE_HOME/fastcap`,
    `~/.local/state/fastcap`)."""
    explicit = os.environ.get(STATE_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg).expanduser() if xdg else Path("~/.local/state").expanduser()
    return base / "fastcap"


def live_dir() -> Path:
    return state_dir() / "live"


def _entry_path(session_id: str) -> Path:
    return live_dir() / f"{session_id}.json"


def register(state: dict[str, Any]) -> Path | None:
    """Record a live capture (atomic write). None if the state directory cannot be written: the
    capture still runs, and `status --out DIR` still finds it."""
    entry = {k: state.get(k) for k in ENTRY_KEYS if state.get(k) is not None}
    path = _entry_path(str(state["session_id"]))
    try:
        # Private to the user: an entry holds the view's URL, whose token is the key to the traffic.
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.chmod(0o700)  # also when it existed before
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(orjson.dumps(entry, option=orjson.OPT_INDENT_2) + b"\n")
        os.replace(tmp, path)
    except OSError:
        return None
    return path


def unregister(session_id: str | None) -> None:
    if session_id:
        with contextlib.suppress(OSError):
            _entry_path(session_id).unlink()


def live() -> list[dict[str, Any]]:
    """The live captures, oldest first; stale entries are deleted on the way."""
    found: list[dict[str, Any]] = []
    directory = live_dir()
    if not directory.is_dir():
        return found
    for path in sorted(directory.glob("*.json")):
        try:
            entry = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            entry = None
        if not isinstance(entry, dict) or not sess.is_recorded_proxy(entry):
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        found.append(entry)
    return sorted(found, key=lambda e: str(e.get("started_at", "")))


def select(entries: list[dict[str, Any]], *, port: int = 0, ident: str = "") -> list[dict[str, Any]]:
    """The entries matching `--port` (any of the capture's listen ports) and `--id` (the session
    id or the session directory's name)."""
    chosen = entries
    if port:
        chosen = [e for e in chosen if port == e.get("port") or port in (e.get("ports") or [])]
    if ident:
        chosen = [
            e for e in chosen if ident in (e.get("session_id"), Path(str(e.get("session_dir", ""))).name)
        ]
    return chosen
