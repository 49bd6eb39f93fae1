"""Cost and quota in `fastcap view` (docs/view.md), in a real headless Chromium: the cost card and
chart, the cost column with an unpriced model shown as "unpriced", the rate-limit headroom card and
chart, and a call's rate-limit card."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastcap.formats.writers import write_cbor
from helpers.quota_fixtures import quota_exchanges
from helpers.view import Page, Served, screenshot, start_view, stop_view

pytestmark = pytest.mark.slow

ROWS = "#calls .rows .row[data-row]"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    exchanges = quota_exchanges()
    local = copy.deepcopy(exchanges[2])  # the same Chat call, to a model no price list knows
    local.index = len(exchanges)
    for attr in ("started_at", "request_ended_at", "ended_at"):
        setattr(local, attr, getattr(local, attr) + 10)
    local.request_body = json.dumps({"model": "my-local-model"}).encode()
    local.response_body = (local.response_body or b"").replace(b"gpt-4o-mini", b"my-local-model")
    path = tmp_path / "quota.cbor"
    write_cbor([*exchanges, local], path)
    s = start_view(path)
    try:
        s.wait_ready()
        yield s
    finally:
        stop_view(s)


def _column(page: Page, name: str) -> list[str]:
    return list(
        page.page.evaluate(
            """([rows, name]) => {
                const head = [...document.querySelectorAll('#calls .row.head span')].map((e) => e.dataset.col);
                const at = head.indexOf(name);
                return [...document.querySelectorAll(rows)].map((r) => r.children[at].innerText);
            }""",
            [ROWS, name],
        )
    )


def test_cost_and_quota_in_the_overview(served: Served, page: Page) -> None:
    p = page.page
    p.goto(served.url + "#/overview")
    p.wait_for_function("() => window.Chart && Object.keys(Chart.instances).length === 6", timeout=15000)
    cost = p.inner_text("#cost-card")
    assert "$" in cost and "1 unpriced (my-local-model)" in cost
    quota = p.inner_text("#quota-card")
    assert "9.0%" in quota and "codex secondary 10080m" in quota and "#4" in quota
    # Every chart drew something, the rate-limit chart included.
    drawn = p.evaluate(
        """() => Object.values(Chart.instances).map((c) => [c.canvas.id,
              c.data.datasets.reduce((n, d) => n + d.data.length, 0)])"""
    )
    assert dict(drawn)["c-quota"] >= 4 and dict(drawn)["c-cost"] > 0, drawn
    screenshot(page, "overview_cost_quota")
    assert page.errors == []


def test_cost_and_quota_columns_and_call_detail(served: Served, page: Page) -> None:
    p = page.page
    p.goto(served.url + "#/calls")
    p.wait_for_function(f"() => document.querySelectorAll('{ROWS}').length === 6", timeout=15000)
    costs = _column(page, "cost_usd")
    assert costs[-1] == "unpriced" and all(c.startswith("$") for c in costs[:-1]), costs
    assert _column(page, "ratelimit_used_pct") == ["25%", "82%", "40%", "91%", "—", "40%"]
    screenshot(page, "calls_cost_quota")
    p.goto(served.url + "#/call/1")
    p.wait_for_function(
        "() => document.querySelector('main').innerText.includes('RATE LIMIT') || document.querySelector('main').innerText.includes('rate limit')",
        timeout=15000,
    )
    main = p.inner_text("main")
    assert "82.0% used" in main and "unified 7d" in main and "allowed_warning" in main
    assert page.errors == []
