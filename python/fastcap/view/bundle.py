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
# Times (the `*_s` columns and `t`) to the millisecond: the table shows at most 2 decimals, and 3
# keep sorting faithful at a third of the bytes. Other floats (costs) are kept as they are.
TIME_DIGITS = 3


def assets() -> dict[str, str]:
    """The page's files, as shipped in the wheel."""
    return {name: (STATIC / name).read_text(encoding="utf-8") for name in ASSETS}


# Columns the page never reads: `started_at` (the page shows `t`), where a call is in its capture.
UNUSED_COLUMNS = ("started_at", "file", "call")


def short(value: Any) -> Any:
    """`value` with its floats to 10 significant digits (sums of costs carry float noise such as
    0.024222599999999997: 19 bytes where 9 say the same), through lists and dicts."""
    if isinstance(value, float):
        return float(f"{value:.10g}")
    if isinstance(value, list):
        return [short(v) for v in value]
    if isinstance(value, dict):
        return {k: short(v) for k, v in value.items()}
    return value


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
    return short(values) if any(isinstance(v, float) for v in present) else values


def _table(calls: pl.DataFrame) -> dict[str, list[Any]]:
    """The calls table for the page, column by column: `data.TABLE_COLUMNS` (so columns the view
    adds come along), times to TIME_DIGITS decimals."""
    table = calls.select(c for c in data.TABLE_COLUMNS if c not in UNUSED_COLUMNS)
    table = table.with_columns(
        pl.col(c).round(TIME_DIGITS)
        for c, t in table.schema.items()
        if t.is_float() and (c == "t" or c.endswith("_s"))
    )
    return {c: table[c].to_list() for c in table.columns}


def _charts(charts: dict[str, Any], table: dict[str, list[Any]]) -> dict[str, Any]:
    """The overview's chart series, each either a reference to the table column it repeats (the
    series are the model calls' values of table columns: `{"k": "col", "c": column}`) or encoded."""
    mask = [bool(v) for v in table.get("is_model_call", [])]
    model_rows = {c: [v for v, m in zip(values, mask, strict=True) if m] for c, values in table.items()}
    out: dict[str, Any] = {}
    for key, series in charts.items():
        if isinstance(series, list):
            same = next((c for c, values in model_rows.items() if values == series), None)
            out[key] = {"k": "col", "c": same} if same is not None else encode_column(series)
        else:
            out[key] = short(series)
    return out


def _conversations(calls: pl.DataFrame) -> tuple[dict[str, Any], dict[int, int | None]]:
    """Each conversation's agents with their calls as [row, previous row, history shrank 1/0] (the
    page fills in the rest from the table), and each call's previous request of its conversation
    and agent (what a diff compares)."""
    out: dict[str, Any] = {}
    previous: dict[int, int | None] = {}
    # One pass splits the table by conversation; `data.conversation` then filters one part only
    # (it filtered the whole table once per conversation: quadratic in a capture's conversations).
    for (conv,), part in calls.partition_by("conv", as_dict=True, maintain_order=True).items():
        full = data.conversation(part, conv)
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
    table = _table(calls)
    overview = data.overview_json(snap)
    if overview.get("charts"):
        overview["charts"] = _charts(overview["charts"], table)
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
        "overview": overview,
        "facets": data.facets(calls),
        "table": {c: encode_column(v) for c, v in table.items()},
        "search_columns": list(data.SEARCH_COLUMNS),
        "conversations": short(data.conversations(calls)),
        "conversation": conversations,
        "details": details,
        "diffs": diffs,
        "included": wanted,
    }
