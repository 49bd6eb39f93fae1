"""slow_gap (docs/metrics.md): idle time in a conversation before a call, not the distance to
whichever call happened to start before it."""

from __future__ import annotations

import polars as pl
from fastcap.analysis.issues import slow_gaps


def _calls(starts: list[float], ends: list[float], conversations: list[str]) -> pl.DataFrame:
    n = len(starts)
    return pl.DataFrame(
        {
            "index": list(range(n)),
            "api_name": ["Anthropic.Messages"] * n,
            "started_at": starts,
            "ended_at": ends,
            "conversation_id": conversations,
            "session_id": [None] * n,
        },
        schema_overrides={"session_id": pl.Utf8},
    )


def test_a_call_running_in_parallel_leaves_no_gap() -> None:
    # Call 0 (a parent waiting on a sub-agent) runs 0-30 s; the sub-agent's short calls 1 and 2
    # end at 3 s; call 3 starts at 20 s while call 0 is still running: no idle time before it.
    calls = _calls([0.0, 1.0, 2.0, 20.0, 100.0], [30.0, 3.0, 3.0, 21.0, 101.0], ["c"] * 5)
    gaps = slow_gaps(calls)
    assert gaps["index"].to_list() == [4]
    assert gaps["gap_s"].to_list() == [70.0] and gaps["prev_index"].to_list() == [0]


def test_gaps_stay_within_a_conversation() -> None:
    calls = _calls([0.0, 5.0, 50.0], [1.0, 6.0, 51.0], ["a", "b", "a"])
    gaps = slow_gaps(calls)
    assert gaps.select("index", "gap_s", "prev_index").rows() == [(2, 49.0, 0)]
