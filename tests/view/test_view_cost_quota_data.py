"""Cost and quota in the view's answers, without a browser: the chart series, the conversations'
cost and the overview are the engine's (docs/metrics.md, Cost and Quota)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastcap.formats.writers import write_cbor
from fastcap.view.data import State, charts, conversations, overview_json, source_for
from helpers.quota_fixtures import quota_exchanges


def test_cost_and_quota_series(tmp_path: Path) -> None:
    path = tmp_path / "quota.cbor"
    write_cbor(quota_exchanges(), path)
    state = State([source_for(path)])
    snap = state.reload()
    assert snap is not None, state.error
    calls = snap.calls
    c = charts(calls)
    costs = calls["cost_usd"].to_list()
    assert c["cost"] == pytest.approx(costs) and None not in costs
    assert c["cum_cost"][-1] == pytest.approx(sum(costs), abs=1e-6)
    assert c["unpriced"] == [False] * calls.height
    assert c["quota_used"] == [25.0, 82.0, 40.0, 91.0, None]
    assert c["quota_window"][3] == "codex secondary 10080m"
    (conv,) = conversations(calls)
    assert conv["cost_usd"] == pytest.approx(sum(costs))
    ov = overview_json(snap)
    assert ov["cost"]["total_usd"] == pytest.approx(sum(costs))
    assert ov["quota"]["lowest_headroom_pct"] == pytest.approx(9.0)
