"""Builders of the `fastcap view` tests (`tests/view/`): a small capture with what each view must
show, a real `fastcap view` subprocess on 127.0.0.1, and the page wrapper that records console errors."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastcap.formats.writers import write_cbor
from fastcap.model import Chunk, Exchange

from helpers.reports_fixtures import ANTHROPIC_KEY, SYSTEM, anthropic_session

ARTIFACTS = Path(__file__).resolve().parents[1] / "view" / "artifacts"
SESSION = "3f0c9a52-7d1e-4c2b-9a55-0e8f2b7c1d44"
ADDED_TO_SYSTEM = "Today's date is 2026-12-03. The user is on the main branch."
SUBAGENT = "agent-7f3a"


def _with(
    ex: Exchange, i: int, *, system: str | None = None, headers: list[tuple[str, str]] | None = None
) -> Exchange:
    """One call of the test session: a conversation key, its response in timed chunks, and
    optionally another system prompt or extra request headers."""
    out = copy.deepcopy(ex)
    out.index = i
    out.request_id = f"req-{i}"
    body = json.loads(out.request_body or b"{}")
    body["metadata"] = {"user_id": f"user_abc_account__session_{SESSION}"}
    if system is not None:
        body["system"] = [{"type": "text", "text": system}]
    out.request_body = json.dumps(body).encode()
    out.request_headers = [*out.request_headers, *(headers or [])]
    base = 1_763_700_000.0 + 20 * i
    out.started_at, out.request_ended_at = base, base + 0.01
    out.response_started_at, out.ended_at = base + 0.5, base + 3.0
    events = (out.response_body or b"").split(b"\n\n")
    pieces = [e + b"\n\n" for e in events if e]
    # Chunk arrivals 0.6 s after the request, 50 ms apart, with one 1 s stall in the middle.
    times = [base + 0.6 + 0.05 * n + (1.0 if n > len(pieces) // 2 else 0.0) for n in range(len(pieces))]
    out.chunks = [Chunk(t, p) for t, p in zip(times, pieces, strict=True)]
    out.ended_at = times[-1] + 0.01
    return out


def session_exchanges() -> list[Exchange]:
    """Three calls of one Claude Code conversation: a turn with thinking and a `Read` tool call, the
    next turn whose system prompt gained a line (and whose tool result quotes an API key), and a
    sub-agent's call."""
    ex1, ex2 = anthropic_session()
    body2 = json.loads(ex2.request_body or b"{}")
    body2["messages"][-1]["content"][0]["content"] = f"def parse(s): ...  # key {ANTHROPIC_KEY}"
    ex2.request_body = json.dumps(body2).encode()
    return [
        _with(ex1, 0),
        _with(ex2, 1, system=f"{SYSTEM}\n{ADDED_TO_SYSTEM}"),
        _with(ex1, 2, headers=[("x-claude-code-agent-id", SUBAGENT)]),
    ]


def write_session(path: Path, exchanges: list[Exchange] | None = None) -> Path:
    # Unredacted on disk, as a raw capture is: the view must redact what it shows.
    write_cbor(exchanges if exchanges is not None else session_exchanges(), path, redact=None)
    return path


@dataclass
class Served:
    proc: subprocess.Popen[str]
    url: str  # the printed URL, token included
    base: str
    token: str

    def api(self, path: str, **params: Any) -> Any:
        return httpx.get(f"{self.base}{path}", params={"token": self.token, **params}, timeout=30).json()

    def wait_ready(self, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            state = self.api("/api/state")
            if state["ready"] and not state["search"]["building"]:
                return dict(state)
            if time.monotonic() > deadline:
                raise TimeoutError(f"fastcap view not ready: {state}")
            time.sleep(0.1)


def start_view(*args: str | Path) -> Served:
    """`fastcap view ARGS` in its own process; returns once it has printed its URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "fastcap", "view", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    m = re.search(r"(http://127\.0\.0\.1:\d+)/\?token=(\S+)", line)
    if m is None:
        proc.kill()
        raise AssertionError(f"no URL printed: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    return Served(proc, m.group(0), m.group(1), m.group(2))


def stop_view(served: Served) -> None:
    served.proc.terminate()
    try:
        served.proc.wait(10)
    except subprocess.TimeoutExpired:
        served.proc.kill()
        served.proc.wait()
    for stream in (served.proc.stdout, served.proc.stderr):
        if stream is not None:
            stream.close()


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def headless_chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright (no browser download); skips the test when
    it is not installed (.ci/run installs it)."""
    path = chromium_path()
    if path is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=path, args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
        )
        try:
            yield b
        finally:
            b.close()


@dataclass
class Page:
    """A browser page that records console errors and uncaught exceptions."""

    page: Any
    errors: list[str]


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
