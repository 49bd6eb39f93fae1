"""Issues are shown grouped: one line per class with its count and meaning and a few examples on
the terminal, every issue in analysis.md and analysis.json (docs/metrics.md, Completion and issues)."""

from __future__ import annotations

from typing import Any

import polars as pl
from fastcap.analysis.calls import CALLS_SCHEMA
from fastcap.analysis.overview import build_overview
from fastcap.reports.overview import render_markdown, render_text

CUT = 5_000


def _call(i: int, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(CALLS_SCHEMA)
    row.update(
        index=i,
        started_at=1_700_000_000.0 + i,
        ended_at=1_700_000_000.5 + i,
        api_name="Anthropic.Messages",
        dialect="anthropic",
        is_model_call=True,
        method="POST",
        host="api.anthropic.com",
        path="/v1/messages",
        model="claude-sonnet-4-5",
        status=200,
        response_kind="sse",
        duration_s=0.5,
        ttft_s=0.3,
        tool_calls=[],
        complete=True,
        abandoned_after_finish=False,
        session_id="s1",
    )
    row.update(values)
    return row


def capture_with_many_issues() -> pl.DataFrame:
    rows = [
        _call(i, complete=False, issue_class="cut_stream", error="server disconnected") for i in range(CUT)
    ]
    rows.append(
        _call(
            CUT, status=429, issue_class="rate_limit", retry_after_s=2.0, error="rate_limit_error: slow down"
        )
    )
    rows += [_call(CUT + 1 + i, abandoned_after_finish=True) for i in range(3)]
    return pl.DataFrame(rows, schema=CALLS_SCHEMA)


GOLDEN_TERMINAL_ISSUES = """\
Issues:   5,001 in 2 classes
  [rate_limit] ×1  rate limited: HTTP 429, or an error about rate, quota, throttling or overload
    #5001 Anthropic.Messages HTTP 429, retry after 2s: rate_limit_error: slow down
  [cut_stream] ×5,000  a stream that never finished: no stop reason and no terminal event
    #01 Anthropic.Messages: server disconnected
    #02 Anthropic.Messages: server disconnected
    #03 Anthropic.Messages: server disconnected
    … and 4,997 more (analysis.md lists them all)
Note: 3 streams finished (stop reason seen) but ended before the provider's terminal event: \
the reader stopped after the finish reason. Not an issue (docs/metrics.md)."""


def test_terminal_shows_each_class_once_with_count_meaning_and_examples() -> None:
    calls = capture_with_many_issues()
    text = render_text(build_overview(calls, source="many.cbor", fmt="cbor"))
    assert text[text.index("Issues:") :] == GOLDEN_TERMINAL_ISSUES
    assert len(text.splitlines()) < 25  # not one line per issue


def test_markdown_and_json_carry_the_full_list() -> None:
    calls = capture_with_many_issues()
    overview = build_overview(calls, source="many.cbor", fmt="cbor")
    md = render_markdown(overview, calls)
    issues = md[md.index("## Issues") : md.index("## Calls")]
    assert "| `cut_stream` | 5,000 | a stream that never finished" in issues
    assert "| `rate_limit` | 1 |" in issues
    assert issues.count("| `cut_stream` | #") == CUT
    data = overview.to_json()
    assert data["issue_counts"] == {"rate_limit": 1, "cut_stream": CUT}
    assert len(data["issues"]) == CUT + 1
