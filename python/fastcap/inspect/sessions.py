"""`--group-by-session` and `--b2bua` (§10.14), each one `group_by`."""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl

from fastcap.inspect.common import PB, banner


def sessions_lines(df: pl.DataFrame) -> Iterator[str]:
    yield banner("ENTRIES GROUPED BY SESSION")
    have = df.select(pl.exclude("data")).filter(pl.col("asid").is_not_null())
    if have.height == 0:
        yield "No session information available"
        return
    groups = (
        have.sort(["ts", "seq"], nulls_last=True)
        .group_by("asid", maintain_order=True)
        .agg(
            pl.len().alias("n"),
            (pl.col("ts").max() - pl.col("ts").min()).alias("dur"),
            pl.col("seq").min().alias("first"),
            pl.col("seq").max().alias("last"),
            pl.col("req_backend").drop_nulls().unique(maintain_order=True).alias("backends"),
            pl.col("key").filter(pl.col("dir") != 1).drop_nulls().n_unique().alias("requests"),
        )
    )
    yield ""
    yield f"Found {groups.height} unique session(s):"
    yield ""
    for sid, n, dur, first, last, backends, nreq in groups.select(
        "asid", "n", "dur", "first", "last", "backends", "requests"
    ).iter_rows():
        yield f"Session: {sid[:16]}... (backend: {', '.join(backends) if backends else 'unknown'})"
        yield f"  Entries: {n}, Duration: {dur or 0.0:.2f}s"
        yield f"  Requests: {nreq}"
        yield f"  Entry range: [{first}] to [{last}]"
        yield ""
    missing = df.height - have.height
    if missing:
        yield f"({missing} entries carry no session id)"


def b2bua_lines(df: pl.DataFrame) -> Iterator[str]:
    yield banner("B2BUA LEG CORRELATION (from P->B metadata)")
    pairs = (
        df.select("dir", "asid", "b_session_id", "ts", "seq")
        .filter((pl.col("dir") == PB) & pl.col("b_session_id").is_not_null())
        .sort(["ts", "seq"], nulls_last=True)
        .group_by(["asid", "b_session_id"], maintain_order=True)
        .len()
        .with_row_index("_order")
        .sort(["len", "_order"], descending=[True, False])
    )
    if pairs.height == 0:
        yield "No A/B session pairs found on P->B entries (non-B2BUA or missing metadata)."
        return
    yield ""
    yield f"Found {pairs.height} distinct (a_session, b_session) pair(s):"
    yield ""
    for a, b, n in pairs.select("asid", "b_session_id", "len").iter_rows():
        yield f"  A-leg: {a or '(none)'}"
        yield f"  B-leg: {b}"
        yield f"  P->B entries: {n}"
        yield ""
