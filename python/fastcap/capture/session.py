"""Capture session directories and their `state.json` (docs/specs/reports.md §4).

A session directory holds `state.json` (written atomically), the capture (`<session>.cbor` and/or
`traffic.jsonl`), `mitmdump.log`, `ca-bundle.pem` and, after the report step, the reports.
Status moves `capturing` → `analyzing` → `completed`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

STATE_FILE = "state.json"
POINTER_FILE = "last-session"
# The addon rewrites `progress.json` at most this often (seconds) while its counts change, and a
# change is on disk at most this long after the previous write (`core.Capture._store_progress`).
PROGRESS_INTERVAL = 0.5
# Bytes of the CBOR meta pair "event": "request" (metadata is never compressed): one per request.
_REQUEST_MARK = b"\x65event\x67request"


def sessions_base(base: str | os.PathLike[str] | None = None) -> Path:
    if base:
        return Path(base).expanduser()
    return Path(os.environ.get("FASTCAP_SESSIONS_DIR", "~/.fastcap/sessions")).expanduser()


def now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


def new_session_dir(base: Path) -> Path:
    """`<base>/<YYYYmmdd_HHMMSS>` (local time), suffixed `-2`, `-3`… if taken; created."""
    stamp = _dt.datetime.now().strftime("%Y%m%d_%H%M%S")
    base.mkdir(parents=True, exist_ok=True)
    candidate = base / stamp
    n = 2
    while True:
        try:
            candidate.mkdir()
            return candidate.resolve()
        except FileExistsError:
            candidate = base / f"{stamp}-{n}"
            n += 1


def write_state(session_dir: Path, state: dict[str, Any]) -> None:
    """Atomic write: temporary file in the same directory, then rename. Readable by the user only:
    it holds the web password and the view's URL with its token."""
    tmp = session_dir / f".{STATE_FILE}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(orjson.dumps(state, option=orjson.OPT_INDENT_2) + b"\n")
    os.replace(tmp, session_dir / STATE_FILE)


def read_state(session_dir: Path) -> dict[str, Any] | None:
    try:
        data = orjson.loads((session_dir / STATE_FILE).read_bytes())
    except (FileNotFoundError, NotADirectoryError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def remember(base: Path, session_dir: Path) -> None:
    base.mkdir(parents=True, exist_ok=True)
    tmp = base / f".{POINTER_FILE}.{os.getpid()}.tmp"
    tmp.write_text(str(session_dir) + "\n")
    os.replace(tmp, base / POINTER_FILE)


def latest_session(base: Path) -> Path | None:
    """The session named by `<base>/last-session`, else the most recently modified directory."""
    candidates: list[Path] = []
    pointer = base / POINTER_FILE
    with contextlib.suppress(OSError):
        p = Path(pointer.read_text().strip())
        if (p / STATE_FILE).is_file():
            candidates.append(p)
    if base.is_dir():
        candidates.extend(d for d in base.iterdir() if d.is_dir())
    if not candidates:
        return None
    return max(
        candidates,
        key=lambda d: (d / STATE_FILE).stat().st_mtime if (d / STATE_FILE).exists() else d.stat().st_mtime,
    )


def pid_alive(pid: int | None) -> bool:
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    # A zombie (exited, not yet reaped) counts as dead.
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        fields = stat.read_text().rsplit(")", 1)[1].split()
        if fields and fields[0] == "Z":
            return False
    return True


def process_cmdline(pid: int) -> str | None:
    proc = Path(f"/proc/{pid}/cmdline")
    if proc.exists():
        with contextlib.suppress(OSError):
            return proc.read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    if sys.platform != "win32":
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                ["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, timeout=5
            )
            return out.stdout.strip() or None
    return None


def is_recorded_proxy(state: dict[str, Any]) -> bool:
    """True if the state's pid is alive and really is the mitmdump/mitmweb it recorded."""
    pid = state.get("pid")
    if not isinstance(pid, int) or not pid_alive(pid):
        return False
    cmd = process_cmdline(pid)
    if cmd is None:
        return True  # cannot tell: trust the pid
    return ("mitmdump" in cmd or "mitmweb" in cmd) and str(state.get("port", "")) in cmd


def count_requests(session_dir: Path, state: dict[str, Any] | None = None) -> int | None:
    """Requests recorded so far (CBOR request entries, else JSONL lines); None if no capture file."""
    state = state or read_state(session_dir) or {}
    cbor = state.get("capture_file")
    if cbor and Path(cbor).is_file():
        count = 0
        tail = b""
        with Path(cbor).open("rb") as fh:
            while block := fh.read(1 << 20):
                data = tail + block
                count += data.count(_REQUEST_MARK)
                tail = data[-(len(_REQUEST_MARK) - 1) :]  # too short to hold a whole mark
        return count
    jsonl = state.get("jsonl_file")
    if jsonl and Path(jsonl).is_file():
        with Path(jsonl).open("rb") as fh:
            return sum(1 for line in fh if line.strip())
    return None
