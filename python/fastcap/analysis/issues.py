"""The one issue vocabulary (docs/metrics.md, Completion and issues) and the issue list of a calls
table, for every command that reports issues. The class of each call is computed with the calls
table (`engine.calls_from_requests`, and `dialects.classify_issue` for one call in detail); this
module names the classes, finds slow gaps and lists the issues."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

SLOW_GAP_S = 10.0

# The issue classes of docs/metrics.md, in the order they are shown, with their one-line meaning.
ISSUE_LABELS = {
    "rate_limit": "rate limited: HTTP 429, or an error about rate, quota, throttling or overload",
    "server_error": "server error: HTTP 5xx (529 included)",
    "client_error": "client error: HTTP 4xx other than 429",
    "stream_error": "an error event inside a 2xx stream",
    "cut_stream": "a stream that never finished: no stop reason and no terminal event",
    "slow_gap": f"more than {SLOW_GAP_S:g}s idle between two calls of one conversation",
}
# How many calls of each class the terminal names; the Markdown and JSON list them all.
EXAMPLES_PER_CLASS = 3


@dataclass
class Issue:
    kind: str
    call_index: int | None
    text: str


def slow_gaps(calls: pl.DataFrame) -> pl.DataFrame:
    """(index, api_name, gap_s, prev_index) of every call that started more than SLOW_GAP_S after
    every earlier call of its conversation (else capture session) had ended, in time order; never
    across unrelated conversations. `prev_index` is the call that ended last. Calls that overlap
    (a sub-agent working while its parent waits, parallel requests) leave no gap. `calls` needs
    index, api_name, started_at, ended_at, conversation_id and session_id."""
    timed = calls.filter(pl.col("started_at").is_not_null()).sort("started_at")
    sess = pl.coalesce("conversation_id", "session_id").fill_null("")
    end = pl.coalesce("ended_at", "started_at")
    timed = timed.with_columns(_sess=sess, _end=end).with_columns(
        # The latest end among the calls that started before this one, and which call it was.
        _busy_until=pl.col("_end").cum_max().shift(1).over("_sess"),
        _last=pl.when(pl.col("_end") == pl.col("_end").cum_max().over("_sess")).then(pl.col("index")),
    )
    timed = timed.with_columns(
        gap_s=pl.col("started_at") - pl.col("_busy_until"),
        prev_index=pl.col("_last").forward_fill().shift(1).over("_sess"),
    )
    return timed.filter(pl.col("gap_s") > SLOW_GAP_S).select("index", "api_name", "gap_s", "prev_index")


def issue_list(calls: pl.DataFrame) -> list[Issue]:
    """Every issue of a calls table (`calls.CALLS_SCHEMA`), sorted by class, then call."""
    out: list[Issue] = []
    for row in calls.filter(pl.col("issue_class").is_not_null()).iter_rows(named=True):
        kind = row["issue_class"]
        what = f"#{row['index'] + 1:02d} {row['api_name']}"
        if row["status"] is not None and row["status"] >= 400:
            what += f" HTTP {row['status']}"
        if kind == "rate_limit" and row["retry_after_s"] is not None:
            what += f", retry after {row['retry_after_s']:g}s"
        if row["error"]:
            what += f": {row['error'][:160]}"
        out.append(Issue(kind, row["index"], what))
    for row in slow_gaps(calls).iter_rows(named=True):
        out.append(
            Issue(
                "slow_gap",
                row["index"],
                f"#{row['index'] + 1:02d} {row['api_name']} started {row['gap_s']:.1f}s after call #{row['prev_index'] + 1:02d} ended",
            )
        )
    order = list(ISSUE_LABELS)
    return sorted(out, key=lambda i: (order.index(i.kind) if i.kind in order else 99, i.call_index or 0))
