"""`fastcap view` in a real headless Chromium against a real `fastcap view` process on 127.0.0.1."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastcap.formats.writers import write_cbor
from helpers.reports_fixtures import ANTHROPIC_KEY, THINKING
from helpers.view import (
    ADDED_TO_SYSTEM,
    SESSION,
    SUBAGENT,
    Page,
    Served,
    screenshot,
    session_exchanges,
    start_view,
    stop_view,
)

pytestmark = pytest.mark.slow

ROWS = "#calls .rows .row[data-row]"


def painted(page: Page) -> list[int]:
    """Non-transparent pixels of every canvas on the page."""
    return list(
        page.page.evaluate(
            """() => [...document.querySelectorAll('canvas')].map((c) => {
                const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                let n = 0;
                for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
                return n;
            })"""
        )
    )


def wait_rows(page: Page, n: int) -> None:
    page.page.wait_for_function(f"() => document.querySelectorAll('{ROWS}').length === {n}", timeout=15000)


def test_overview_loads_and_draws_its_charts(served: Served, page: Page) -> None:
    p = page.page
    requested: list[str] = []
    p.on("request", lambda r: requested.append(r.url))
    p.goto(served.url + "#/overview")
    p.wait_for_function("() => window.Chart && Object.keys(Chart.instances).length === 5", timeout=15000)
    assert all(n > 1000 for n in painted(page)), painted(page)
    cards = p.inner_text(".cards")
    assert "CALLS\n3" in cards.upper()
    # Cost (docs/metrics.md): the priced total in dollars, and its chart drawn.
    assert "$" in p.inner_text("#cost-card") and "genai-prices" in p.inner_text("#cost-card")
    assert "Cost per call and cumulative" in p.inner_text("main")
    assert "slow_gap" in p.inner_text("main")
    screenshot(page, "overview")
    assert page.errors == []
    # Offline: everything the page loads comes from the server (no CDN), token included.
    assert requested and all(u.startswith(served.base + "/") and served.token in u for u in requested)


def test_filters_and_search_narrow_the_table(served: Served, page: Page) -> None:
    p = page.page
    p.goto(served.url + "#/calls")
    wait_rows(page, 3)
    # A word of the second call's reply only (the search index reads prompts and replies).
    p.fill("#f-q", "found it")
    wait_rows(page, 1)
    assert p.inner_text(ROWS).startswith("#2")
    # A word of the first call's prompt.
    p.goto(served.url + "#/calls?q=test_parse%20fail")
    wait_rows(page, 2)  # the first call and the sub-agent's, which repeats its prompt
    p.goto(served.url + "#/calls")
    wait_rows(page, 3)
    p.select_option("#f-issue", "slow_gap")
    wait_rows(page, 2)
    assert "2 of 3 calls" in p.inner_text("#matched")
    screenshot(page, "calls_filtered")
    # The cost column: every model call of the session is priced.
    costs = p.evaluate(
        """(rows) => {
            const head = [...document.querySelectorAll('#calls .row.head span')].map((e) => e.dataset.col);
            const at = head.indexOf('cost_usd');
            return [...document.querySelectorAll(rows)].map((r) => r.children[at].innerText);
        }""",
        ROWS,
    )
    assert len(costs) == 2 and all(c.startswith("$") for c in costs), costs
    # Sorting by output tokens, largest first: the first call (412 output tokens) leads.
    p.goto(served.url + "#/calls?sort=output_total&desc=1")
    wait_rows(page, 3)
    assert p.locator(ROWS).first.get_attribute("data-row") in ("0", "2")
    assert page.errors == []


def test_call_detail_shows_text_thinking_tool_calls_and_timing(served: Served, page: Page) -> None:
    p = page.page
    p.goto(served.url + "#/call/0")
    p.wait_for_selector("#reply", timeout=15000)
    assert "Here is the test:" in p.inner_text("#reply")
    assert THINKING in p.inner_text("#reasoning")
    tools = p.inner_text("#toolcalls")
    assert "Read" in tools and "/repo/test_parse.py" in tools
    p.wait_for_function("() => Object.keys(Chart.instances).length === 1")
    assert painted(page)[0] > 1000  # the timing strip
    assert "TTFB" in p.inner_text("main") and "TTFT" in p.inner_text("main")
    screenshot(page, "call_detail")
    assert page.errors == []


def test_call_detail_is_redacted(served: Served, page: Page) -> None:
    p = page.page
    p.goto(served.url + "#/call/1")
    p.wait_for_selector("#reply", timeout=15000)
    p.evaluate("() => document.querySelectorAll('details').forEach((d) => (d.open = true))")
    text = p.inner_text("main")
    assert ANTHROPIC_KEY not in text
    assert ANTHROPIC_KEY not in p.content()
    assert "[REDACTED" in text  # the x-api-key header and the key quoted in the tool result
    assert page.errors == []


def test_diff_shows_the_changed_system_prompt(served: Served, page: Page) -> None:
    p = page.page
    p.goto(served.url + "#/diff/1")
    p.wait_for_selector("#d-system .add", timeout=15000)
    added = p.locator("#d-system .add").all_inner_texts()
    assert any(ADDED_TO_SYSTEM in line for line in added)
    assert "added 2" in p.inner_text("#d-messages")  # the assistant turn and the tool result
    screenshot(page, "diff")
    assert page.errors == []


def test_conversation_groups_the_sub_agent(served: Served, page: Page) -> None:
    p = page.page
    p.goto(served.url + "#/conversations")
    p.wait_for_selector("#convs", timeout=15000)
    assert SESSION in p.inner_text("#convs")
    p.goto(served.url + f"#/conv/{SESSION}")
    p.wait_for_selector(".agent.sub", timeout=15000)
    assert f"sub-agent {SUBAGENT}" in p.inner_text(".agent.sub")
    screenshot(page, "conversation")
    assert page.errors == []


def test_live_view_picks_up_a_call_written_after_the_page_loaded(tmp_path: Path, page: Page) -> None:
    calls = session_exchanges()
    whole, first = tmp_path / "whole.cbor", tmp_path / "live.cbor"
    write_cbor(calls, whole, session_id="live", redact=None)
    write_cbor(calls[:2], first, session_id="live", redact=None)
    data = whole.read_bytes()
    prefix = first.stat().st_size
    assert data[:prefix] == first.read_bytes()
    served = start_view(first)
    try:
        served.wait_ready()
        p = page.page
        p.goto(served.url + "#/calls")
        wait_rows(page, 2)
        time.sleep(0.5)
        with first.open("ab") as f:  # the capture grows: the third call's entries
            f.write(data[prefix:])
        wait_rows(page, 3)
        assert "3 of 3 calls" in p.inner_text("#matched")
        assert page.errors == []
    finally:
        stop_view(served)


def test_requests_without_the_token_get_403(served: Served) -> None:
    def get(path: str, **kw: Any) -> int:
        return httpx.get(f"{served.base}{path}", timeout=10, **kw).status_code

    assert get("/") == 403
    assert get("/api/calls") == 403
    assert get("/static/app.js") == 403
    assert get("/api/call/0", params={"token": "wrong"}) == 403
    assert get("/api/state", params={"token": served.token}) == 200
    assert get("/api/state", headers={"X-Fastcap-Token": served.token}) == 200
    # Another host name (DNS rebinding) is refused even with the token.
    assert get("/api/state", params={"token": served.token}, headers={"Host": "example.com"}) == 403


def test_the_page_ships_every_file_it_loads() -> None:
    """The page loads only files of `static/` (shipped in the wheel: maturin packs every file of
    the python-source package), and `static/SOURCES.md` accounts for each of them."""
    import re

    from fastcap.view.server import STATIC

    html = (STATIC / "index.html").read_text(encoding="utf-8")
    loaded = set(re.findall(r'(?:src|href)="static/([^"?]+)', html))
    assert loaded == {"app.css", "app.js", "chart.min.js"}
    sources = (STATIC / "SOURCES.md").read_text(encoding="utf-8")
    for f in STATIC.iterdir():
        assert f.name in sources or f.name == "SOURCES.md", f.name
        assert f.stat().st_size > 0
