"""Captures → one redacted calls table for the page, reloaded while a capture grows.

The calls table is the engine's (`analysis.stream_cbor.calls_from_scan` for CBOR V2, flat memory at
any size; `analysis.exchanges.calls_from_exchanges` for every other format), redacted with
`analysis.calls.redact_calls`, and the overview is `analysis.overview.build_overview` of it: the
page shows the numbers `fastcap analyze` prints. This module only adds what a browser needs on top:

- `row`: the call's number in the view (0-based, over every capture given), which replaces the
  engine's `index` (so the overview's issue list names view rows); `file` and `call` say where the
  call is (capture number, the engine's index in that capture);
- `t`: seconds since the first call started (the charts' x axis);
- `window`: the model's context window (`context_windows.context_window`; the table has no betas,
  so a 1M-context Claude request shows the 200k window here and its own in the call detail);
- `conv`: the conversation key (`conversation_id`, else the capture session);
- `issues`: the call's issue classes (`issue_class`, plus `slow_gap` from `analysis.issues`).

Nothing here holds a body: call detail reads the one call it shows (`view.detail`).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from fastcap.analysis.issues import ISSUE_LABELS, slow_gaps
from fastcap.analysis.overview import Overview, build_overview
from fastcap.context_windows import context_window

NO_CONVERSATION = "(none)"
# Example calls the overview lists per issue class (the calls table lists them all).
ISSUE_EXAMPLES = 20
# A conversation's history "shrinks" (compaction, context editing, a /clear) when a call's prompt
# is below this share of the previous call's in the same conversation and agent.
SHRINK_RATIO = 0.7


@dataclass(frozen=True)
class Source:
    """One capture file and its format (detected once, from its content)."""

    path: Path
    fmt: str


def stamp(path: Path) -> tuple[int, int]:
    """(size, mtime in ns): what changes while a capture is being written."""
    st = path.stat()
    return st.st_size, st.st_mtime_ns


@dataclass
class FileCalls:
    """The engine's calls table of one capture, with what the detail loader needs to find a call."""

    calls: pl.DataFrame
    # CBOR: the request key (`formats.cbor_requests.with_request_keys`) of each call, in call order.
    keys: list[str] | None
    warnings: list[str]
    stamp: tuple[int, int]


def read_calls(
    src: Source, *, recover: bool = False, on_progress: Callable[[int, int], None] | None = None
) -> FileCalls:
    """One capture's calls table, as `fastcap analyze` computes it; `on_progress(done, total)` gets
    byte positions as a CBOR capture is read."""
    before = stamp(src.path)
    warnings: list[str] = []
    keys: list[str] | None = None
    if src.fmt == "cbor":
        from fastcap.analysis.stream_cbor import calls_from_scan, scan
        from fastcap.formats.cbor_requests import request_table

        meta, content, diagnostics = scan(src.path, recover=recover, on_progress=on_progress)
        calls = calls_from_scan(meta, content)
        # calls_from_scan numbers the calls in request_table order (its rows, left-joined in order).
        keys = request_table(meta)["req_key"].cast(pl.Utf8).to_list()
        if len(keys) != calls.height:
            keys = None
        warnings += [f"{src.path.name}: byte {d['offset']}: {d['message']}" for d in diagnostics]
    else:
        from fastcap.analysis.exchanges import calls_from_exchanges

        exchanges = read_exchanges_tolerant(src, warnings, recover=recover)
        calls = calls_from_exchanges(exchanges)
        del exchanges
    return FileCalls(calls, keys, warnings, before)


def read_exchanges_tolerant(src: Source, warnings: list[str], *, recover: bool = False) -> list[Any]:
    """Every exchange of a non-CBOR capture and a line per fault met (`formats.read_file`): a capture
    still being written ends mid-record, and the complete records before it are what the view has."""
    from fastcap.formats import read_file

    result = read_file(src.path, fmt=src.fmt, recover=recover)
    warnings += [str(f) for f in result.faults]
    return result.exchanges


def _windows(models: pl.Series) -> pl.Series:
    known = {m: context_window(m) for m in models.drop_nulls().unique().to_list()}
    return models.replace_strict(known, default=None, return_dtype=pl.Int64)


def view_table(parts: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """The engine's calls tables of every capture (already redacted) → the view's table (module
    docstring)."""
    tagged = [
        p.with_columns(file=pl.lit(n, pl.UInt16), call=pl.col("index").cast(pl.UInt32))
        for n, p in enumerate(parts)
    ]
    calls = pl.concat(tagged, how="vertical_relaxed") if tagged else pl.DataFrame()
    if calls.height == 0 and not calls.columns:
        from fastcap.analysis.calls import CALLS_SCHEMA

        calls = pl.DataFrame(schema={**CALLS_SCHEMA, "file": pl.UInt16, "call": pl.UInt32})
    calls = calls.with_columns(index=pl.int_range(pl.len(), dtype=pl.UInt32))
    start = calls["started_at"].min()
    gap_rows = set(slow_gaps(calls)["index"].to_list()) if calls.height else set()
    return calls.with_columns(
        row=pl.col("index"),
        t=pl.col("started_at") - (start if isinstance(start, float) else None),
        window=_windows(calls["model"]),
        conv=pl.coalesce("conversation_id", "session_id").fill_null(NO_CONVERSATION),
        issues=pl.concat_list(
            pl.col("issue_class"),
            pl.when(pl.col("index").is_in(list(gap_rows))).then(pl.lit("slow_gap")),
        ).list.drop_nulls(),
    )


@dataclass
class Snapshot:
    """One consistent state of the view: what every API answer of one version is computed from."""

    version: int
    calls: pl.DataFrame
    overview: Overview
    keys: list[list[str] | None]
    stamps: list[tuple[int, int]]
    warnings: list[str]
    load_s: float
    loaded_at: float


def load_snapshot(
    sources: Sequence[Source],
    *,
    version: int,
    recover: bool,
    redact: bool,
    on_progress: Callable[[float], None] | None = None,
) -> Snapshot:
    """Every capture read (`on_progress` gets the share of their bytes read so far), redacted and
    laid out as the view's table, with its overview."""
    from fastcap.analysis.calls import redact_calls

    started = time.perf_counter()
    sizes = [max(stamp(s.path)[0], 1) for s in sources]
    files = []
    for n, s in enumerate(sources):
        before = sum(sizes[:n])

        def progress(done: int, total: int, before: int = before) -> None:
            if on_progress is not None:
                on_progress(min(1.0, (before + done) / sum(sizes)))

        files.append(read_calls(s, recover=recover, on_progress=progress))
    parts = [redact_calls(f.calls) if redact else f.calls for f in files]
    calls = view_table(parts)
    names = ", ".join(s.path.name for s in sources)
    fmts = ", ".join(dict.fromkeys(s.fmt for s in sources))
    overview = build_overview(calls.select(_engine_columns(calls)), source=names, fmt=fmts)
    return Snapshot(
        version=version,
        calls=calls,
        overview=overview,
        keys=[f.keys for f in files],
        stamps=[f.stamp for f in files],
        warnings=[w for f in files for w in f.warnings],
        load_s=time.perf_counter() - started,
        loaded_at=time.time(),
    )


def _engine_columns(calls: pl.DataFrame) -> list[str]:
    from fastcap.analysis.calls import CALLS_SCHEMA

    return [c for c in CALLS_SCHEMA if c in calls.columns]


# --- the calls table: filters, sort, pages ---------------------------------------------------------

# The columns a page of the table carries (and may be sorted by).
TABLE_COLUMNS = (
    "row",
    "t",
    "started_at",
    "api_name",
    "model",
    "status",
    "ttfb_s",
    "ttft_s",
    "duration_s",
    "input_total",
    "cache_read",
    "cache_write",
    "output_total",
    "reasoning_tokens",
    "cost_usd",
    "price_model",
    "ratelimit_used_pct",
    "ratelimit_window",
    "window",
    "tool_calls",
    "stop_reason",
    "issues",
    "error",
    "conv",
    "agent_id",
    "parent_agent_id",
    "is_model_call",
    "file",
    "call",
)
SORTABLE = frozenset(c for c in TABLE_COLUMNS if c not in ("tool_calls", "issues"))
# Free-text search reads these columns of the table, and the prompts and replies of the search index.
SEARCH_COLUMNS = ("api_name", "model", "stop_reason", "error", "conv", "agent_id")


@dataclass
class Filters:
    model: str | None = None
    api: str | None = None
    status: str | None = None  # a code, "none" (no response), "error" (>= 400) or "ok" (< 400)
    issue: str | None = None  # an issue class, or "any"
    conv: str | None = None
    agent: str | None = None
    model_calls: bool = False
    q: str | None = None

    @classmethod
    def from_params(cls, p: Any) -> Filters:
        def get(name: str) -> str | None:
            v = p.get(name)
            return v if v not in (None, "") else None

        return cls(
            model=get("model"),
            api=get("api"),
            status=get("status"),
            issue=get("issue"),
            conv=get("conv"),
            agent=get("agent"),
            model_calls=get("model_calls") in ("1", "true"),
            q=get("q"),
        )


def filter_expr(f: Filters, search_rows: pl.Series | None) -> pl.Expr:
    expr = pl.lit(True)
    if f.model is not None:
        expr &= pl.col("model") == f.model
    if f.api is not None:
        expr &= pl.col("api_name") == f.api
    if f.status is not None:
        s = pl.col("status")
        if f.status == "none":
            expr &= s.is_null()
        elif f.status == "error":
            expr &= s >= 400
        elif f.status == "ok":
            expr &= s < 400
        elif f.status.isdigit():
            expr &= s == int(f.status)
    if f.issue is not None:
        expr &= (
            pl.col("issues").list.len() > 0 if f.issue == "any" else pl.col("issues").list.contains(f.issue)
        )
    if f.conv is not None:
        expr &= pl.col("conv") == f.conv
    if f.agent is not None:
        expr &= pl.col("agent_id").fill_null("") == ("" if f.agent == NO_CONVERSATION else f.agent)
    if f.model_calls:
        expr &= pl.col("is_model_call").fill_null(False)
    if f.q:
        needle = f.q.lower()
        hit = pl.lit(False)
        for c in SEARCH_COLUMNS:
            hit |= pl.col(c).str.to_lowercase().str.contains(needle, literal=True).fill_null(False)
        hit |= pl.col("tool_calls").list.join(" ").str.to_lowercase().str.contains(needle, literal=True)
        if search_rows is not None:
            hit |= pl.col("row").is_in(search_rows.implode())
        expr &= hit
    return expr


def page(
    calls: pl.DataFrame,
    f: Filters,
    *,
    sort: str | None,
    desc: bool,
    offset: int,
    limit: int,
    search_rows: pl.Series | None = None,
) -> dict[str, Any]:
    """One page of the filtered, sorted table: {total, matched, offset, rows}."""
    view = calls.filter(filter_expr(f, search_rows))
    if sort in SORTABLE and sort != "row":
        view = view.sort(sort, descending=desc, nulls_last=True, maintain_order=True)
    elif desc:
        view = view.reverse()
    rows = view.slice(max(offset, 0), max(min(limit, 1000), 0)).select(TABLE_COLUMNS)
    return {"total": calls.height, "matched": view.height, "offset": offset, "rows": rows.to_dicts()}


def facets(calls: pl.DataFrame) -> dict[str, Any]:
    """The values each filter offers, most frequent first, with counts."""

    def counts(col: str) -> list[list[Any]]:
        vc = calls[col].drop_nulls().value_counts(sort=True)
        return [[str(v), int(n)] for v, n in vc.iter_rows()][:200]

    statuses = calls["status"].fill_null(-1).value_counts(sort=True)
    issues = calls["issues"].explode().drop_nulls().value_counts(sort=True)
    return {
        "model": counts("model"),
        "api": counts("api_name"),
        "status": [["none" if s == -1 else str(s), int(n)] for s, n in statuses.iter_rows()],
        "issue": [[str(k), int(n)] for k, n in issues.iter_rows()],
        "issue_labels": ISSUE_LABELS,
        "conv": counts("conv"),
        "agent": counts("agent_id"),
    }


# --- overview and charts -----------------------------------------------------------------------


def _col(df: pl.DataFrame, name: str, digits: int | None = None) -> list[Any]:
    s = df[name]
    if digits is not None and s.dtype.is_float():
        s = s.round(digits)
    return s.to_list()


def charts(calls: pl.DataFrame) -> dict[str, Any]:
    """Per-call series of the model calls (x = `t`, else the call number when the source has no
    times) and the error counts over time, as columns."""
    model = calls.filter(pl.col("is_model_call").fill_null(False))
    timed = model["t"].null_count() < model.height
    x = model["t"].round(3) if timed else model["row"].cast(pl.Float64)
    tokens = model.select(
        pl.col("input_total").fill_null(0).cum_sum().alias("cum_input"),
        pl.col("output_total").fill_null(0).cum_sum().alias("cum_output"),
        # Cumulative over the priced calls; an unpriced call adds nothing and is counted apart.
        pl.col("cost_usd").fill_null(0).cum_sum().alias("cum_cost"),
    )
    out: dict[str, Any] = {
        "x_label": "seconds since the first call" if timed else "call number",
        "x": x.to_list(),
        "row": _col(model, "row"),
        "model": _col(model, "model"),
        "ttft": _col(model, "ttft_s", 3),
        "duration": _col(model, "duration_s", 3),
        "input": _col(model, "input_total"),
        "cache_read": _col(model, "cache_read"),
        "cache_write": _col(model, "cache_write"),
        "output": _col(model, "output_total"),
        "reasoning": _col(model, "reasoning_tokens"),
        "cum_input": tokens["cum_input"].to_list(),
        "cum_output": tokens["cum_output"].to_list(),
        # Not rounded: a cheap call costs millionths of a dollar.
        "cost": _col(model, "cost_usd"),
        "cum_cost": tokens["cum_cost"].to_list(),
        "unpriced": (
            model["cost_usd"].is_null()
            & model["input_total"].is_not_null()
            & model["output_total"].is_not_null()
        ).to_list(),
        "window": _col(model, "window"),
        # Rate-limit use per call (docs/metrics.md, Quota): the highest share used and its window.
        "quota_used": _col(model, "ratelimit_used_pct", 2),
        "quota_window": _col(model, "ratelimit_window"),
    }
    out["errors"] = error_bins(calls, timed)
    return out


def error_bins(calls: pl.DataFrame, timed: bool, bins: int = 60) -> dict[str, Any]:
    """Calls, HTTP 429s and other errors (>= 400, or an issue class) per time bin."""
    x = pl.col("t") if timed else pl.col("row").cast(pl.Float64)
    span = calls.select(x.min().alias("lo"), x.max().alias("hi"))
    lo, hi = span["lo"][0], span["hi"][0]
    if lo is None or hi is None:
        return {"edges": [], "calls": [], "rate_limited": [], "errors": []}
    width = max((hi - lo) / bins, 1e-9)
    binned = calls.with_columns(
        _bin=((x - lo) / width).floor().clip(0, bins - 1).cast(pl.Int32),
        _429=(pl.col("status") == 429) | (pl.col("issue_class") == "rate_limit"),
        _err=((pl.col("status") >= 400) & (pl.col("status") != 429))
        | pl.col("issue_class").is_in(["server_error", "client_error", "stream_error", "cut_stream"]),
    )
    agg = (
        binned.filter(pl.col("_bin").is_not_null())
        .group_by("_bin")
        .agg(
            n=pl.len(),
            rl=pl.col("_429").fill_null(False).sum(),
            err=(pl.col("_err").fill_null(False) & ~pl.col("_429").fill_null(False)).sum(),
        )
    )
    full = pl.DataFrame({"_bin": range(bins)}, schema={"_bin": pl.Int32}).join(agg, on="_bin", how="left")
    full = full.sort("_bin").fill_null(0)
    return {
        "edges": [round(lo + i * width, 3) for i in range(bins)],
        "width": width,
        "calls": full["n"].to_list(),
        "rate_limited": full["rl"].to_list(),
        "errors": full["err"].to_list(),
    }


def overview_json(snap: Snapshot) -> dict[str, Any]:
    ov = snap.overview.to_json()
    ov["issue_labels"] = ISSUE_LABELS
    # Every class keeps its count (`issue_counts`); the page lists a few examples of each.
    shown: dict[str, int] = {}
    examples = []
    for issue in ov["issues"]:
        if shown.get(issue["kind"], 0) < ISSUE_EXAMPLES:
            shown[issue["kind"]] = shown.get(issue["kind"], 0) + 1
            examples.append(issue)
    ov["issues"] = examples
    ov["issue_total"] = len(snap.overview.issues)
    ov["warnings"] = snap.warnings[:20]
    calls = snap.calls
    ov["conversations"] = int(calls["conv"].n_unique()) if calls.height else 0
    ov["agents"] = int(calls["agent_id"].drop_nulls().n_unique()) if calls.height else 0
    ov["charts"] = charts(calls) if calls.height else None
    return ov


# --- conversations ------------------------------------------------------------------------------

SUBAGENT_TOOLS = ("Task", "Agent")


def conversations(calls: pl.DataFrame) -> list[dict[str, Any]]:
    """One row per conversation, in order of its first call."""
    if calls.height == 0:
        return []
    agg = (
        calls.group_by("conv", maintain_order=True)
        .agg(
            calls=pl.len(),
            first_row=pl.col("row").min(),
            start=pl.col("t").min(),
            end=pl.coalesce(pl.col("t") + pl.col("duration_s"), pl.col("t")).max(),
            models=pl.col("model").drop_nulls().unique(maintain_order=True),
            agents=pl.col("agent_id").drop_nulls().n_unique(),
            input_max=pl.col("input_total").max(),
            output=pl.col("output_total").sum(),
            # Null when none of its calls was priced (never $0 for unknown).
            cost_usd=pl.when(pl.col("cost_usd").is_not_null().any()).then(pl.col("cost_usd").sum()),
            issues=pl.col("issues").list.len().sum(),
        )
        .sort("first_row")
    )
    return agg.to_dicts()


def conversation(calls: pl.DataFrame, conv: str) -> dict[str, Any]:
    """The calls of one conversation in time order, grouped by agent (the main agent first, then each
    sub-agent after the call that started it), with the history's shrinks marked and each call's
    previous request of the same agent (what the diff compares it with)."""
    part = calls.filter(pl.col("conv") == conv).sort(
        pl.col("started_at").fill_null(float("inf")), "row", maintain_order=True
    )
    agent = pl.col("agent_id").fill_null("")
    part = part.with_columns(
        prev_row=pl.col("row").shift(1).over(agent),
        prev_input=pl.col("input_total").shift(1).over(agent),
    ).with_columns(
        shrink=(pl.col("input_total") < pl.col("prev_input") * SHRINK_RATIO).fill_null(False),
    )
    rows = part.select(*TABLE_COLUMNS, "prev_row", "prev_input", "shrink").to_dicts()
    agents: dict[str, dict[str, Any]] = {}
    for r in rows:
        key = r["agent_id"] or ""
        a = agents.setdefault(
            key, {"agent_id": r["agent_id"], "parent_agent_id": r["parent_agent_id"], "calls": []}
        )
        a["calls"].append(r)
    # Link each sub-agent to the last call of its parent (or the main agent) that asked for a
    # sub-agent tool (`Task`/`Agent`) before the sub-agent's first call.
    for key, a in agents.items():
        if not key:
            continue
        first = a["calls"][0]
        parent = agents.get(a["parent_agent_id"] or "")
        starter = None
        for c in parent["calls"] if parent else []:
            if (c["t"] or 0) <= (first["t"] or 0) and any(n in SUBAGENT_TOOLS for n in c["tool_calls"]):
                starter = c["row"]
        a["started_by"] = starter
    return {"conv": conv, "agents": list(agents.values())}


# --- the live state ------------------------------------------------------------------------------


@dataclass
class State:
    """The view's current snapshot, reloaded from the captures when they grow (`Live`)."""

    sources: list[Source]
    recover: bool = False
    redact: bool = True
    snapshot: Snapshot | None = None
    loading: bool = False
    progress: float = 0.0  # share of the captures' bytes read by the load in progress
    error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    listeners: list[Callable[[Snapshot], None]] = field(default_factory=list)

    def reload(self) -> Snapshot | None:
        """Read every capture again and swap the snapshot in (a reader never sees half a state)."""
        self.loading = True
        try:
            version = (self.snapshot.version + 1) if self.snapshot else 1
            self.progress = 0.0
            snap = load_snapshot(
                self.sources,
                version=version,
                recover=self.recover,
                redact=self.redact,
                on_progress=lambda share: setattr(self, "progress", share),
            )
        except Exception as exc:  # a capture mid-write can fail to read; the last good state stays
            self.error = f"{type(exc).__name__}: {exc}"
            return None
        finally:
            self.loading = False
        with self.lock:
            self.snapshot = snap
            self.error = None
        for listener in self.listeners:
            listener(snap)
        return snap

    def changed(self) -> bool:
        snap = self.snapshot
        if snap is None:
            return True
        try:
            return [stamp(s.path) for s in self.sources] != snap.stamps
        except OSError:
            return False


class Live(threading.Thread):
    """Polls the captures' size and modification time; when one changed, reads everything again,
    at most once per `min_interval` seconds and never more often than every 2x the last load's
    time (a large capture is not re-read back to back)."""

    def __init__(self, state: State, *, poll_s: float = 0.5, min_interval: float = 1.0) -> None:
        super().__init__(name="fastcap-view-live", daemon=True)
        self.state = state
        self.poll_s = poll_s
        self.min_interval = min_interval
        self.stop = threading.Event()

    def run(self) -> None:
        last = 0.0
        while not self.stop.wait(self.poll_s):
            snap = self.state.snapshot
            wait = max(self.min_interval, 2 * snap.load_s if snap else 0.0)
            if time.monotonic() - last < wait or not self.state.changed():
                continue
            last = time.monotonic()
            self.state.reload()


def source_for(path: str | os.PathLike[str], fmt: str = "auto") -> Source:
    from fastcap.formats import detect_format

    p = Path(path)
    return Source(p, detect_format(p) if fmt == "auto" else fmt)
