"""Running a real mitmdump (from the venv) with the fastcap addon, and reading what it wrote."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import zlib
from pathlib import Path
from typing import Any

import cbor2
import fastcap.capture.addon as addon_module

ADDON = Path(addon_module.__file__).resolve()
MITMDUMP = Path(sys.executable).with_name("mitmdump")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


class Mitmdump:
    def __init__(
        self,
        confdir: Path,
        out: Path | None,
        *,
        mode: str | None = None,
        sets: dict[str, str] | None = None,
        addon: bool = True,
        session: str = "test",
    ) -> None:
        self.confdir = confdir
        self.out = out
        self.port = free_port()
        self.log = (out or confdir) / f"mitmdump-{self.port}.log"
        cmd = [str(MITMDUMP), "--listen-host", "127.0.0.1", "-p", str(self.port), "-q"]
        if mode:
            cmd += ["--mode", mode]
        cmd += ["--set", f"confdir={confdir}", "--set", "ssl_insecure=true", "--set", "flow_detail=0"]
        if addon:
            assert out is not None
            cmd += ["-s", str(ADDON), "--set", f"fastcap_out={out}", "--set", f"fastcap_session={session}"]
        for k, v in (sets or {}).items():
            cmd += ["--set", f"{k}={v}"]
        self.cmd = cmd
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def proxy(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ca(self) -> Path:
        return self.confdir / "mitmproxy-ca-cert.pem"

    def start(self) -> Mitmdump:
        # The child keeps its own copy of the descriptor; ours is closed at once.
        with self.log.open("wb") as logf:
            self.proc = subprocess.Popen(self.cmd, stdout=logf, stderr=subprocess.STDOUT)
        try:
            wait_port(self.port, proc=self.proc)
        except Exception as exc:
            raise RuntimeError(f"{exc}\n{self.log.read_text(errors='replace')}") from None
        return self

    def stop(self, timeout: float = 10.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.proc.returncode

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, 9)
        self.proc.wait(5)

    def __enter__(self) -> Mitmdump:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def read_entries(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Header and entries of a CBOR V2 capture (payloads decompressed); a partial tail is dropped."""
    entries: list[dict[str, Any]] = []
    with path.open("rb") as fh:
        header = cbor2.load(fh)
        while True:
            try:
                item = cbor2.load(fh)
            except (EOFError, cbor2.CBORDecodeError):
                break
            if item.get("enc") == "zlib":
                item["data"] = zlib.decompress(item["data"])
            item.setdefault("meta", {})
            entries.append(item)
    return header, entries


def entries_for(entries: list[dict[str, Any]], marker: bytes) -> list[dict[str, Any]]:
    """All entries of the request whose P->B text contains `marker` (e.g. a unique header)."""
    rid = None
    for e in entries:
        if e["dir"] == 2 and e["meta"].get("event") == "request" and marker in e["data"]:
            rid = e["meta"]["rid"]
            break
    assert rid is not None, f"no request containing {marker!r}"
    return [e for e in entries if e["meta"].get("rid") == rid]
