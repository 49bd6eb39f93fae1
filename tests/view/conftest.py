"""Fixtures of the `fastcap view` tests: the test capture, a real `fastcap view` subprocess on
127.0.0.1, and a headless Chromium (Debian's `chromium`, installed by `.ci/run`) driven by
Playwright. The builders are in `helpers.view`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.view import Page, Served, headless_chromium, start_view, stop_view, write_session


@pytest.fixture(scope="session")
def view_capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_session(tmp_path_factory.mktemp("view") / "session.cbor")


@pytest.fixture
def served(view_capture: Path) -> Iterator[Served]:
    s = start_view(view_capture)
    try:
        s.wait_ready()
        yield s
    finally:
        stop_view(s)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, through Playwright (no browser download)."""
    with headless_chromium() as b:
        yield b


@pytest.fixture
def page(browser: Any) -> Iterator[Page]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    p = ctx.new_page()
    errors: list[str] = []
    p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    p.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield Page(p, errors)
    finally:
        ctx.close()
