"""The cost totals are the same whatever the row order (docs/metrics.md, Cost: one answer): a
dataset and its source captures, or two runs on the same data, give identical figures."""

from __future__ import annotations

import random

import polars as pl
from fastcap.analysis.overview import cost_summary


def _calls(order: list[int], costs: list[float]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "model": [f"m{i % 3}" for i in order],
            "conversation_id": [f"c{i % 7}" for i in order],
            "cost_usd": [costs[i] for i in order],
            "input_total": [10] * len(order),
            "output_total": [5] * len(order),
        }
    )


def test_sums_do_not_depend_on_row_order() -> None:
    rng = random.Random(7)
    costs = [rng.uniform(0, 0.1) * 10 ** rng.randint(-6, 0) for _ in range(5000)]
    order = list(range(len(costs)))
    first = cost_summary(_calls(order, costs))
    for _ in range(5):
        rng.shuffle(order)
        again = cost_summary(_calls(order, costs))
        assert first is not None and again is not None
        assert again.to_json() == first.to_json()
    assert first is not None and first.total_usd is not None and first.total_usd > 0
