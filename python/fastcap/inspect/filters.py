"""Time parsing, `--range`, and the entry filters.

Global filters (`--session-id`, `--start-time`/`--end-time`, `--backend`) define the view every
section works on, the summary included (§11.13). Listing filters (`--direction`,
`--session-substring`, `--search`) and the selection (`--entry`, `--around`, `--range`, `--last`,
`--entries`) narrow the listing and the JSON export.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field

import polars as pl

from fastcap.errors import UsageError
from fastcap.inspect.common import Zone, fmt_dt
from fastcap.inspect.prepare import backend_mask

DIRECTIONS = {"client_to_proxy": 0, "proxy_to_client": 1, "proxy_to_backend": 2, "backend_to_proxy": 3}

_DATETIME_FORMATS = (
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
)
_TIME_FORMATS = ("%H:%M:%S.%f", "%H:%M:%S", "%H:%M")
TIME_HELP = (
    "Supported formats: Unix timestamp, ISO datetime (2024-01-15T10:00:00, optionally with Z or "
    "+02:00), date (2024-01-15), or time of day (10:30:00, on the capture's first day)"
)


def parse_time(text: str, zone: Zone, day_of: float | None = None) -> float:
    """Epoch seconds for a `--start-time`/`--end-time` value. Naive forms are in `zone`; a time of
    day uses the date (in `zone`) of `day_of` (the capture's first entry), else today."""
    s = text.strip()
    try:
        value = float(s)
    except ValueError:
        pass
    else:
        if math.isfinite(value):
            return value  # 0 and negative values are timestamps too (§11.22)
        raise UsageError(f"could not parse time: {text!r}. {TIME_HELP}")
    for fmt in _DATETIME_FORMATS:
        try:
            return dt.datetime.strptime(s, fmt).replace(tzinfo=zone.tzinfo).timestamp()
        except ValueError:
            continue
    try:
        aware = dt.datetime.fromisoformat(s.replace("Z", "+00:00") if s.endswith("Z") else s)
    except ValueError:
        pass
    else:
        if aware.tzinfo is None:
            aware = aware.replace(tzinfo=zone.tzinfo)
        return aware.timestamp()
    for fmt in _TIME_FORMATS:
        try:
            t = dt.datetime.strptime(s, fmt).time()
        except ValueError:
            continue
        base = (
            dt.datetime.fromtimestamp(day_of, zone.tzinfo)
            if day_of is not None
            else dt.datetime.now(zone.tzinfo)
        )
        return dt.datetime.combine(base.date(), t, tzinfo=zone.tzinfo).timestamp()
    raise UsageError(f"could not parse time: {text!r}. {TIME_HELP}")


_RANGE_RE = re.compile(r"^\s*(\d+)\s*(?:-|:|\.\.)\s*(\d+)\s*$")


def parse_range(text: str) -> tuple[int, int]:
    m = _RANGE_RE.match(text)
    if not m:
        raise UsageError(
            f"--range: invalid range format: {text}. Use 'START-END', 'START:END' or 'START..END'"
        )
    a, b = int(m.group(1)), int(m.group(2))
    if a > b:
        raise UsageError(f"--range: start {a} is after end {b}")
    return a, b


@dataclass
class View:
    """The entries every section works on, and what was applied to get them."""

    df: pl.DataFrame
    total: int
    applied: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def apply_global(
    df: pl.DataFrame,
    *,
    session_id: str | None,
    start: str | None,
    end: str | None,
    backend: str | None,
    zone: Zone,
) -> View:
    view = View(df=df, total=df.height)
    if session_id is not None:
        out = view.df.filter(pl.col("asid") == session_id)
        if out.height == 0:
            raise UsageError(f"--session-id: no entries found for session ID: {session_id}")
        view.df = out
        view.applied.append(f"session-id={session_id}")
        view.notices.append(f"Filtered to session: {session_id}")
    if start is not None or end is not None:
        first = df["ts"].min() if df.height else None
        day_of = float(first) if isinstance(first, (int, float)) else None
        lo = parse_time(start, zone, day_of) if start is not None else None
        hi = parse_time(end, zone, day_of) if end is not None else None
        cond = pl.lit(True)
        if lo is not None:
            cond = cond & (pl.col("ts") >= lo)
        if hi is not None:
            cond = cond & (pl.col("ts") <= hi)
        before = view.df.height
        out = view.df.filter(cond.fill_null(False))
        if out.height == 0:
            raise UsageError("no entries found in the specified time range")
        view.df = out
        parts = []
        if lo is not None:
            parts.append(f"after {fmt_dt(lo, zone)}")
        if hi is not None:
            parts.append(f"before {fmt_dt(hi, zone)}")
        desc = " and ".join(parts)
        view.applied.append(f"time {desc} ({zone.label()})")
        view.notices.append(f"Filtered to entries {desc} ({zone.label()})")
        view.notices.append(f"Matched {out.height} of {before} entries")
    if backend is not None:
        view.df = view.df.filter(backend_mask(view.df, backend))
        view.applied.append(f"backend={backend} (stream chunks inherit it from their stream-start marker)")
    return view


def search_mask(df: pl.DataFrame, term: str) -> pl.Series:
    """Case-insensitive match of `term` in the raw payload bytes (UTF-8) or in the metadata text."""
    needle = term.encode("utf-8")
    low = needle.lower()
    ascii_term = needle.isascii()
    folded = term.casefold()
    hits: list[bool] = []
    for data in df["data"].to_list():
        if not data:
            hits.append(False)
        elif low in data.lower():
            hits.append(True)
        elif not ascii_term:
            hits.append(folded in data.decode("utf-8", "replace").casefold())
        else:
            hits.append(False)
    text_cols = [c for c, t in df.schema.items() if t == pl.String and c not in ("key", "enc", "problems")]
    meta_text = df.select(
        pl.concat_str([pl.col(c) for c in text_cols], separator="\x00", ignore_nulls=True)
        .str.contains("(?i)" + re.escape(term))
        .fill_null(False)
        .alias("m")
    )["m"]
    return pl.Series("m", hits, dtype=pl.Boolean) | meta_text


def listing_filters(
    df: pl.DataFrame, *, direction: str | None, session_substring: str | None, search: str | None
) -> pl.DataFrame:
    if direction is not None:
        df = df.filter(pl.col("dir") == DIRECTIONS[direction])
    if session_substring is not None:
        pat = "(?i)" + re.escape(session_substring)
        df = df.filter(
            (pl.col("asid").str.contains(pat).fill_null(False))
            | (pl.col("b_session_id").str.contains(pat).fill_null(False))
        )
    if search is not None and df.height:
        df = df.filter(search_mask(df, search))
    return df


@dataclass
class Selection:
    df: pl.DataFrame
    header: str | None = None  # "Showing …" line
    warning: str | None = None
    more: int = 0  # entries cut by the plain limit


def select(
    df: pl.DataFrame,
    *,
    entry: int | None,
    around: int | None,
    context: int,
    seq_range: tuple[int, int] | None,
    last: int | None,
    limit: int | None,
) -> Selection:
    """§10.6 selection precedence: --entry, --around, --range, --last, then the first `limit`."""
    if entry is not None:
        out = df.filter(pl.col("seq") == entry)
        if out.height == 0:
            return Selection(out, warning=f"Warning: Entry [{entry}] not found in filtered results")
        return Selection(out, header=f"Showing entry [{entry}]")
    if around is not None:
        pos = df.with_row_index("_pos").filter(pl.col("seq") == around)["_pos"]
        if pos.len() == 0:
            return Selection(df.clear(), warning=f"Warning: Entry [{around}] not found in filtered results")
        p = int(pos[0])
        lo = max(0, p - context)
        return Selection(
            df.slice(lo, p + context + 1 - lo),
            header=f"Showing context around entry [{around}] ({context} before/after)",
        )
    if seq_range is not None:
        a, b = seq_range
        out = df.filter((pl.col("seq") >= a) & (pl.col("seq") <= b))
        return Selection(out, header=f"Showing entries [{a}] to [{b}]")
    if last is not None:
        out = df.tail(last) if last > 0 else df.clear()
        return Selection(out, header=f"Showing last {out.height} entries")
    if limit is not None and df.height > limit:
        return Selection(df.head(limit), more=df.height - limit)
    return Selection(df)
