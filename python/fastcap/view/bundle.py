"""The view's data for one self-contained page (`fastcap report --html`, docs/export.md): what the
JSON API would answer, computed once and embedded, so that the page's own code (`static/app.js`,
reading it through `static/embedded.js`) runs from a file without a server.

Summary data for every call (the overview with its charts, the facets, the calls table in columns,
the conversations with each call's place in them); bodies, as the call detail and the diff against
the previous request, only for the calls asked for: a 20,000-call capture stays a few MB.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from fastcap.view import data
from fastcap.view.data import Snapshot, Source
from fastcap.view.detail import Loader, call_detail, request_diff

STATIC = Path(__file__).with_name("static")
ASSETS = ("index.html", "app.css", "chart.min.js", "embedded.js", "app.js")
FLOAT_DIGITS = 3  # the table shows at most 2 decimals; 3 keeps sorting faithful at a third of the bytes


def assets() -> dict[str, str]:
    """The page's files, as shipped in the wheel."""
    return {name: (STATIC / name).read_text(encoding="utf-8") for name in ASSETS}


# Columns the page never reads: `started_at` (the page shows `t`), where a call is in its capture.
UNUSED_COLUMNS = ("started_at", "file", "call")


def encode_column(values: list[Any]) -> Any:
    """A column in fewer bytes (embedded.js `decode` reverses it): text as a dictionary and codes
    (0 = null), booleans as 1/0, the row number 0..n-1 as its length; anything else as it is."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return {"k": "bool", "c": [None if v is None else int(v) for v in values]}
    if present and all(isinstance(v, str) for v in present):
        words: dict[str | None, int] = {None: 0}
        codes = [words.setdefault(v, len(words)) for v in values]
        return {"k": "dict", "v": list(words), "c": codes}
    if values and values == list(range(len(values))):
        return {"k": "index", "n": len(values)}
    return values


def _columns(calls: pl.DataFrame) -> dict[str, Any]:
    """The calls table for the page, column by column: `data.TABLE_COLUMNS` (so columns the view
    adds come along), floats to FLOAT_DIGITS decimals."""
    table = calls.select(c for c in data.TABLE_COLUMNS if c not in UNUSED_COLUMNS)
    table = table.with_columns(pl.col(c).round(FLOAT_DIGITS) for c, t in table.schema.items() if t.is_float())
    return {c: encode_column(table[c].to_list()) for c in table.columns}


def _charts(overview: dict[str, Any]) -> dict[str, Any]:
    charts = overview.get("charts")
    if charts:
        overview["charts"] = {k: encode_column(v) if isinstance(v, list) else v for k, v in charts.items()}
    return overview


def _conversations(calls: pl.DataFrame) -> tuple[dict[str, Any], dict[int, int | None]]:
    """Each conversation's agents with their calls as [row, previous row, history shrank 1/0] (the
    page fills in the rest from the table), and each call's previous request of its conversation
    and agent (what a diff compares)."""
    out: dict[str, Any] = {}
    previous: dict[int, int | None] = {}
    for conv in calls["conv"].unique(maintain_order=True).to_list():
        full = data.conversation(calls, conv)
        for agent in full["agents"]:
            agent["calls"] = [[c["row"], c["prev_row"], int(c["shrink"])] for c in agent["calls"]]
            for row, prev, _ in agent["calls"]:
                previous[row] = prev
        out[conv] = full
    return out, previous


def build(
    sources: Sequence[Source],
    rows: Callable[[int], Iterable[int]] = lambda _calls: (),
    *,
    redact: bool = True,
    recover: bool = False,
) -> dict[str, Any]:
    """Everything the page shows, with the bodies of the call rows (0-based view rows) that
    `rows(number of calls)` names."""
    snap: Snapshot = data.load_snapshot(sources, version=1, recover=recover, redact=redact)
    calls = snap.calls
    wanted = sorted({r for r in rows(calls.height) if 0 <= r < calls.height})
    conversations, previous = _conversations(calls) if calls.height else ({}, {})
    loader = Loader(sources, recover=recover)
    details: dict[int, Any] = {}
    diffs: dict[int, Any] = {}
    for row in wanted:
        ex = loader.exchange(snap, row)
        if ex is None:
            continue
        details[row] = call_detail(calls.row(row, named=True), ex, redacting=redact)
        prev = previous.get(row)
        before = loader.exchange(snap, prev) if prev is not None else None
        diffs[row] = {
            "row": row,
            "prev": prev if before is not None else None,
            "diff": request_diff(before, ex, redacting=redact) if before is not None else None,
        }
    return {
        "state": {
            "ready": True,
            "version": 1,
            "loading": False,
            "progress": 1,
            "error": None,
            "calls": calls.height,
            "live": False,
            "sources": [s.path.name for s in sources],
            "formats": [s.fmt for s in sources],
            "redacted": redact,
            "search": {"building": False},
            "embedded": True,
        },
        "overview": _charts(data.overview_json(snap)),
        "facets": data.facets(calls),
        "table": _columns(calls),
        "search_columns": list(data.SEARCH_COLUMNS),
        "conversations": data.conversations(calls),
        "conversation": conversations,
        "details": details,
        "diffs": diffs,
        "included": wanted,
    }
