"""The view's tables and answers without a browser: the same numbers as `fastcap analyze`, filters,
search, call detail and diff read on demand from CBOR and from other formats, redaction."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import orjson
import polars as pl
import pytest
from fastcap.analysis.exchanges import calls_from_exchanges
from fastcap.analysis.stream_cbor import calls_from_scan, scan
from fastcap.formats.writers import write_jsonl
from fastcap.view.data import Filters, State, conversation, conversations, facets, page, source_for
from fastcap.view.detail import Loader, call_detail, request_diff
from fastcap.view.search import SearchIndex
from fastcap.view.server import View, build_app
from helpers.reports_fixtures import ANTHROPIC_KEY, THINKING
from helpers.view import ADDED_TO_SYSTEM, SESSION, SUBAGENT, session_exchanges, write_session


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    return write_session(tmp_path / "session.cbor")


def loaded(*paths: Path) -> State:
    state = State([source_for(p) for p in paths])
    assert state.reload() is not None, state.error
    return state


def test_the_table_is_the_engines(capture: Path) -> None:
    snap = loaded(capture).snapshot
    assert snap is not None
    engine = calls_from_scan(*scan(capture)[:2])
    cols = [
        "model",
        "status",
        "ttft_s",
        "input_total",
        "cache_read",
        "output_total",
        "tool_calls",
        "conversation_id",
    ]
    assert snap.calls.select(cols).equals(engine.select(cols))
    assert snap.calls["row"].to_list() == [0, 1, 2]
    assert snap.calls["conv"].to_list() == [SESSION] * 3
    assert snap.calls["agent_id"].to_list() == [None, None, SUBAGENT]
    assert snap.calls["window"].to_list() == [200_000] * 3
    assert snap.overview.calls == 3


def test_several_captures_are_one_view(tmp_path: Path) -> None:
    a = write_session(tmp_path / "a.cbor")
    write_jsonl(session_exchanges(), tmp_path / "b.jsonl", redact=None)
    state = loaded(a, tmp_path / "b.jsonl")
    snap = state.snapshot
    assert snap is not None
    assert snap.calls["row"].to_list() == list(range(6))
    assert snap.calls["file"].to_list() == [0, 0, 0, 1, 1, 1]
    assert snap.calls["call"].to_list() == [0, 1, 2, 0, 1, 2]
    jsonl_calls = calls_from_exchanges(session_exchanges())
    assert snap.calls["output_total"].to_list()[3:] == jsonl_calls["output_total"].to_list()
    # Call detail from the JSONL file (read again on demand) and from the CBOR one agree.
    loader = Loader(state.sources)
    for row in (0, 3):
        ex = loader.exchange(snap, row)
        assert ex is not None
        d = call_detail(snap.calls.row(row, named=True), ex)
        assert d["response"]["reasoning"] == THINKING
        assert [t["name"] for t in d["response"]["tool_calls"]] == ["Read"]


def test_filters_sort_and_pages(capture: Path) -> None:
    calls = loaded(capture).snapshot.calls  # type: ignore[union-attr]
    assert page(calls, Filters(issue="slow_gap"), sort=None, desc=False, offset=0, limit=10)["matched"] == 2
    assert page(calls, Filters(agent=SUBAGENT), sort=None, desc=False, offset=0, limit=10)["matched"] == 1
    assert page(calls, Filters(status="error"), sort=None, desc=False, offset=0, limit=10)["matched"] == 0
    out = page(calls, Filters(), sort="output_total", desc=False, offset=1, limit=1)
    assert (out["matched"], len(out["rows"]), out["rows"][0]["output_total"]) == (3, 1, 412)
    assert page(calls, Filters(q="SONNET"), sort=None, desc=False, offset=0, limit=10)["matched"] == 3
    assert facets(calls)["issue"] == [["slow_gap", 2]]


def test_search_reads_prompts_and_replies_redacted(capture: Path) -> None:
    state = loaded(capture)
    snap = state.snapshot
    assert snap is not None
    index = SearchIndex()
    index.build(snap, state.sources, redacting=True, recover=False)
    assert index.rows(snap, "Found it").to_list() == [1]  # the second reply
    assert index.rows(snap, "why does TEST_PARSE").to_list() == [0, 2]  # the first prompt
    assert index.rows(snap, ANTHROPIC_KEY[:24]).len() == 0  # stored redacted
    assert all(ANTHROPIC_KEY.lower() not in t for t in index.texts.values())


def test_detail_and_diff_are_redacted(capture: Path) -> None:
    state = loaded(capture)
    snap = state.snapshot
    assert snap is not None
    loader = Loader(state.sources)
    prev, this = loader.exchange(snap, 0), loader.exchange(snap, 1)
    assert prev is not None and this is not None
    detail = call_detail(snap.calls.row(1, named=True), this)
    text = orjson.dumps(detail).decode()
    assert ANTHROPIC_KEY not in text and "[REDACTED" in text
    assert dict(detail["request_headers"])["x-api-key"].startswith("[REDACTED")
    assert detail["timing"]["ttfb"] == pytest.approx(0.59, abs=0.01)
    assert len(detail["timing"]["chunks"]) > 5 and detail["timing"]["longest_gap"] >= 1.0
    diff = request_diff(prev, this)
    assert diff["system"]["changed"] and f"+{ADDED_TO_SYSTEM}" in diff["system"]["diff"]
    assert [o["op"] for o in diff["messages"]["ops"]] == ["insert"]
    assert ANTHROPIC_KEY not in orjson.dumps(diff).decode()


def test_conversations_group_agents(capture: Path) -> None:
    calls = loaded(capture).snapshot.calls  # type: ignore[union-attr]
    assert [c["conv"] for c in conversations(calls)] == [SESSION]
    conv = conversation(calls, SESSION)
    assert [a["agent_id"] for a in conv["agents"]] == [None, SUBAGENT]
    main = conv["agents"][0]["calls"]
    assert [c["prev_row"] for c in main] == [None, 0]


def test_the_history_shrinking_is_marked() -> None:
    calls = pl.DataFrame(
        {
            "row": [0, 1, 2],
            "conv": ["c"] * 3,
            "agent_id": [None] * 3,
            "started_at": [1.0, 2.0, 3.0],
            "input_total": [100_000, 120_000, 30_000],
        }
    )
    from fastcap.view import data

    full = calls.with_columns(
        *[pl.lit(None).alias(c) for c in data.TABLE_COLUMNS if c not in calls.columns]
    ).with_columns(tool_calls=pl.lit([], pl.List(pl.Utf8)), issues=pl.lit([], pl.List(pl.Utf8)))
    rows = data.conversation(full, "c")["agents"][0]["calls"]
    assert [r["shrink"] for r in rows] == [False, False, True]


def asgi_get(app: Any, base: str, path: str, **params: str) -> httpx.Response:
    """One GET through the ASGI app in this process (no server, no socket)."""

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base) as client:
            return await client.get(path, params=params)

    # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, go()).result()


def test_the_api_needs_the_token(capture: Path) -> None:
    view = View([source_for(capture)], live=False)
    view.state.reload()
    app = build_app(view, "secret-token", 8123)
    base = "http://127.0.0.1:8123"
    assert asgi_get(app, base, "/api/state").status_code == 403
    assert asgi_get(app, base, "/api/state", token="nope").status_code == 403
    ok = asgi_get(app, base, "/api/calls", token="secret-token", sort="row", desc="1")
    assert ok.status_code == 200 and [r["row"] for r in ok.json()["rows"]] == [2, 1, 0]
    assert ok.headers["referrer-policy"] == "no-referrer"
    assert asgi_get(app, base, "/api/call/7", token="secret-token").status_code == 404
    diff = asgi_get(app, base, "/api/diff/1", token="secret-token").json()
    assert diff["prev"] == 0 and diff["diff"]["system"]["changed"]
    page_html = asgi_get(app, base, "/", token="secret-token").text
    assert "static/app.js?token=secret-token" in page_html
    assert asgi_get(app, "http://example.com:8123", "/api/state", token="secret-token").status_code == 403


def test_a_sub_agent_is_linked_to_the_task_call_that_started_it() -> None:
    from fastcap.view import data

    calls = pl.DataFrame(
        {
            "row": [0, 1, 2, 3],
            "conv": ["c"] * 4,
            "agent_id": [None, None, "sub-1", "sub-1"],
            "parent_agent_id": [None, None, None, None],
            "started_at": [1.0, 2.0, 3.0, 4.0],
            "t": [0.0, 1.0, 2.0, 3.0],
            "input_total": [10, 20, 5, 8],
            "tool_calls": [["Read"], ["Task"], [], []],
        }
    )
    full = calls.with_columns(
        *[pl.lit(None).alias(c) for c in data.TABLE_COLUMNS if c not in calls.columns]
    ).with_columns(issues=pl.lit([], pl.List(pl.Utf8)))
    agents = data.conversation(full, "c")["agents"]
    assert [(a["agent_id"], a.get("started_by")) for a in agents] == [(None, None), ("sub-1", 1)]
    assert [c["prev_row"] for c in agents[1]["calls"]] == [None, 2]  # diffs stay within the agent


def test_state_notices_a_growing_capture(tmp_path: Path) -> None:
    calls = session_exchanges()
    path = write_session(tmp_path / "grow.cbor", calls[:2])
    state = loaded(path)
    assert not state.changed()
    write_session(path, calls)
    assert state.changed()
    snap = state.reload()
    assert snap is not None and snap.version == 2 and snap.calls.height == 3


def test_a_growing_jsonl_capture_is_read_again_up_to_its_last_complete_record(tmp_path: Path) -> None:
    calls = session_exchanges()
    path = tmp_path / "grow.jsonl"
    write_jsonl(calls[:2], path, redact=None)
    state = loaded(path)
    whole = tmp_path / "whole.jsonl"
    write_jsonl(calls, whole, redact=None)
    data = whole.read_bytes()
    cut = len(path.read_bytes()) + 40  # the writer is inside the third record
    path.write_bytes(data[:cut])
    snap = state.reload()
    assert snap is not None and snap.calls.height == 2
    path.write_bytes(data)
    snap = state.reload()
    assert snap is not None and snap.calls.height == 3
    ex = Loader(state.sources).exchange(snap, 2)
    assert ex is not None and call_detail(snap.calls.row(2, named=True), ex)["request_headers"]
