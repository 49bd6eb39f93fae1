"""Quota (docs/metrics.md): rate-limit headers of each provider parsed into the calls table, the
same through the streaming CBOR pass, the exchanges and the dialect objects, and the lowest
headroom in the overview. The header sets are written by hand after the providers' documentation,
with made-up values."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import polars as pl
import pytest
from fastcap.analysis.calls import calls_table
from fastcap.analysis.exchanges import calls_from_exchanges
from fastcap.analysis.overview import build_overview
from fastcap.analysis.quota import QUOTA_SCHEMA, header_json, quota_columns, quota_fields
from fastcap.analysis.stream_cbor import calls_from_scan, scan
from fastcap.dialects import analyze_exchange
from fastcap.formats import read_exchanges
from fastcap.formats.writers import write_cbor
from fastcap.model import Chunk
from fastcap.reports.overview import render_markdown, render_text
from helpers.quota_fixtures import (
    ANTHROPIC_API,
    ANTHROPIC_UNIFIED,
    CODEX,
    OPENAI,
    RESPONSES_STREAM,
    T0,
    quota_exchanges,
)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (ANTHROPIC_API, {"ratelimit_requests_limit": 4000, "ratelimit_requests_remaining": 3999,
                         "ratelimit_tokens_limit": 2_000_000, "ratelimit_tokens_remaining": 1_500_000,
                         "ratelimit_used_pct": 25.0, "ratelimit_window": "tokens", "ratelimit_status": None}),
        (ANTHROPIC_UNIFIED, {"ratelimit_requests_remaining": None, "ratelimit_used_pct": pytest.approx(82.0),
                             "ratelimit_window": "unified 7d", "ratelimit_status": "allowed_warning"}),
        (OPENAI, {"ratelimit_requests_limit": 10_000, "ratelimit_requests_remaining": 9990,
                  "ratelimit_tokens_limit": 2_000_000, "ratelimit_tokens_remaining": 1_200_000,
                  "ratelimit_used_pct": 40.0, "ratelimit_window": "tokens"}),
        (CODEX, {"ratelimit_used_pct": 91.0, "ratelimit_window": "codex secondary 10080m",
                 "ratelimit_tokens_remaining": None}),
    ],
)  # fmt: skip
def test_rate_limit_headers_of_each_provider(
    headers: list[tuple[str, str]], expected: dict[str, object]
) -> None:
    row = quota_fields(header_json(headers))
    assert set(row) == set(QUOTA_SCHEMA)
    for name, value in expected.items():
        assert row[name] == value, name
    # Only rate-limit headers are kept, names lower-cased.
    assert "request-id" not in str(row["ratelimit_headers"]) and "openai-processing-ms" not in str(
        row["ratelimit_headers"]
    )
    names = json.loads(str(row["ratelimit_headers"]))
    assert all(n == n.lower() for n in names) and len(names) == len(headers) - (
        headers is ANTHROPIC_API or headers is OPENAI
    )


def test_bad_values_are_unknown_never_an_error() -> None:
    bad = [("anthropic-ratelimit-requests-limit", "many"), ("anthropic-ratelimit-requests-remaining", "3"),
           ("x-codex-primary-used-percent", "n/a"), ("anthropic-ratelimit-unified-5h-utilization", "")]  # fmt: skip
    row = quota_fields(header_json(bad))
    assert row["ratelimit_requests_limit"] is None and row["ratelimit_requests_remaining"] == 3
    assert row["ratelimit_used_pct"] is None and row["ratelimit_window"] is None
    assert quota_fields(None) == dict.fromkeys(QUOTA_SCHEMA)
    assert quota_fields("not json")["ratelimit_used_pct"] is None
    assert header_json([("content-type", "text/event-stream")]) is None


def test_quota_columns_row_for_row_nulls_without_headers() -> None:
    text = header_json([("x-ratelimit-limit-requests", "100"), ("x-ratelimit-remaining-requests", "25")])
    cols = quota_columns(pl.Series([None, text, "", "[1]"], dtype=pl.Utf8))
    assert cols.schema == pl.Schema(QUOTA_SCHEMA)
    assert cols["ratelimit_used_pct"].to_list() == [None, 75.0, None, None]
    assert cols["ratelimit_headers"].to_list() == [None, text, None, None]


def test_quota_columns_agree_through_every_path(tmp_path: Path) -> None:
    """A CBOR capture (stream headers in the start marker's `hdrs`, non-stream ones in the
    response's head): the streaming pass, the exchanges read back and the dialects agree."""
    path = tmp_path / "quota.cbor"
    write_cbor(quota_exchanges(), path)
    meta, content, _ = scan(path)
    streamed = calls_from_scan(meta, content)
    exchanges = read_exchanges(path)
    tables = [
        streamed,
        calls_from_exchanges(exchanges),
        calls_table([analyze_exchange(e) for e in exchanges]),
    ]
    for table in tables:
        assert table["ratelimit_used_pct"].to_list() == pytest.approx([25.0, 82.0, 40.0, 91.0, None])
        assert table["ratelimit_window"].to_list() == [
            "tokens",
            "unified 7d",
            "tokens",
            "codex secondary 10080m",
            None,
        ]
        for name in QUOTA_SCHEMA:
            assert table[name].to_list() == tables[0][name].to_list(), name


def test_lowest_headroom_in_the_overview() -> None:
    calls = calls_from_exchanges(quota_exchanges())
    ov = build_overview(calls, source="quota.cbor", fmt="cbor")
    assert ov.quota is not None
    assert ov.quota.to_json() == {
        "calls_with_headers": 4,
        "lowest_headroom_pct": pytest.approx(9.0),
        "window": "codex secondary 10080m",
        "call": 3,
        "statuses": {"allowed_warning": 1},
    }
    line = (
        "Quota:    lowest headroom 9.0% (codex secondary 10080m 91.0% used, call #04); "
        "4 responses with rate-limit headers; status allowed_warning ×1"
    )
    assert line in render_text(ov)
    assert "## Quota" in render_markdown(ov, calls)
    assert build_overview(calls.filter(pl.col("index") == 4), source="x", fmt="cbor").quota is None


CODEX_EVENT = (
    '{"type":"codex.rate_limits","plan_type":"pro","rate_limits":{"allowed":true,"limit_reached":false,'
    '"primary":{"used_percent":7,"window_minutes":300,"reset_after_seconds":13168,"reset_at":1763650800},'
    '"secondary":{"used_percent":29.5,"window_minutes":10080,"reset_at":1764000000}},"code_review_rate_limits":null}'
)


def test_codex_rate_limits_event_stands_in_for_missing_headers(tmp_path: Path) -> None:
    """A Codex stream whose response has no `x-codex-*` headers: its `codex.rate_limits` event
    gives the same columns, through every path; headers win where both are present."""
    body = f"event: codex.rate_limits\ndata: {CODEX_EVENT}\n\n".encode() + RESPONSES_STREAM
    base = quota_exchanges()[3]
    no_headers = copy.deepcopy(base)
    no_headers.response_headers = [("content-type", "text/event-stream")]
    no_headers.response_body = body
    no_headers.chunks = [Chunk(T0 + 3.2, body[:40]), Chunk(T0 + 3.5, body[40:])]  # the event straddles them
    both = copy.deepcopy(base)
    both.index, both.response_body = 1, body
    both.chunks = [Chunk(T0 + 3.5, body)]
    path = tmp_path / "codex.cbor"
    write_cbor([no_headers, both], path)
    exchanges = read_exchanges(path)
    tables = [
        calls_from_scan(*scan(path)[:2]),
        calls_from_exchanges(exchanges),
        calls_table([analyze_exchange(e) for e in exchanges]),
    ]
    for table in tables:
        assert table["ratelimit_used_pct"].to_list() == [29.5, 91.0]
        assert table["ratelimit_window"].to_list() == ["codex secondary 10080m", "codex secondary 10080m"]
        assert json.loads(table["ratelimit_headers"][0])["x-codex-plan-type"] == "pro"


def test_codex_websocket_requests_take_their_limits_from_the_event() -> None:
    """A Codex WebSocket has no response headers per request: each request's `codex.rate_limits`
    message gives its quota columns, the same through the exchanges and the dialects."""
    from fastcap.dialects.openai_ws import split_connection
    from helpers import responses_ws

    connection = responses_ws.exchange("codex_cli_session.json")
    engine = calls_from_exchanges([connection])
    dialects = calls_table([analyze_exchange(r.exchange) for r in split_connection(connection)])
    for table in (engine, dialects):
        with_event = table.filter(pl.col("ratelimit_used_pct").is_not_null())
        assert with_event.height >= 1
        assert set(with_event["ratelimit_window"]) == {"codex primary 300m"}
        assert set(with_event["ratelimit_used_pct"]) == {12.5}
    for name in QUOTA_SCHEMA:
        assert engine[name].to_list() == dialects[name].to_list(), name
