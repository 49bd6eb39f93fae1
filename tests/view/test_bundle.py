"""`view.bundle`: the conversations embedded in `fastcap report --html` are what `fastcap view`'s
API answers for each conversation (the table is split once by conversation, not filtered once per
conversation)."""

from __future__ import annotations

from typing import Any

import polars as pl
from fastcap.view import bundle, data
from helpers import DEMO


def conversations_one_by_one(calls: pl.DataFrame) -> dict[str, Any]:
    """What the page embedded before: `data.conversation` of the whole table, per conversation."""
    out = {}
    for conv in calls["conv"].unique(maintain_order=True).to_list():
        full = data.conversation(calls, conv)
        for agent in full["agents"]:
            agent["calls"] = [[c["row"], c["prev_row"], int(c["shrink"])] for c in agent["calls"]]
        out[conv] = full
    return out


def test_conversations_equal_the_apis_one_by_one() -> None:
    calls = data.load_snapshot([data.source_for(DEMO)], version=1, recover=False, redact=True).calls
    # the demo twice over, the second copy in conversations of its own, rows in another order
    copy = calls.with_columns(pl.col("conv") + "-copy", pl.col("row") + calls.height)
    many = pl.concat([calls, copy]).sample(fraction=1.0, shuffle=True, seed=7)
    assert many["conv"].n_unique() >= 4
    got, previous = bundle._conversations(many)
    expected = conversations_one_by_one(many)
    assert list(got) == list(expected) and got == expected
    rows = [row for conv in got.values() for agent in conv["agents"] for row, _, _ in agent["calls"]]
    assert sorted(rows) == sorted(many["row"].to_list()) == sorted(previous)
