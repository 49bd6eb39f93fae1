"""`CAPTURE FILE SUMMARY` (§10.3), the per-request status summary (§10.12) and `--list-backends`
(§10.4). The summary describes the entries shown (after the global filters, §11.13); durations
use time order, not file order (§11.12); statuses count requests per leg, not chunks (§11.3)."""

from __future__ import annotations

from typing import Any

import polars as pl

from fastcap.inspect.common import BP, DIR_NAMES, PC, Zone, banner, commas, fmt_dt, pct, sym
from fastcap.inspect.prepare import entry_count, with_weights


def out_of_order(df: pl.DataFrame) -> int:
    """Entries whose `ts` is earlier than that of an entry before them in the file."""
    if df.height < 2:
        return 0
    return int(df.select((pl.col("ts") < pl.col("ts").cum_max().shift(1)).fill_null(False).sum()).item())


def summary_lines(
    header: dict[str, Any],
    df: pl.DataFrame,
    *,
    total: int,
    applied: list[str],
    requests: pl.DataFrame,
    zone: Zone,
    out_of_order_entries: int | None = None,
) -> list[str]:
    """`df` is the prepared view (rows may stand for several entries, `prepare.entry_count`);
    `out_of_order_entries` is given when `df` cannot tell (collapsed rows)."""
    lines = [banner("CAPTURE FILE SUMMARY")]
    entries = entry_count(df)
    lines.append(f"Session ID: {header.get('session_id') or 'N/A'}")
    lines.append(f"Created At: {header.get('created_at')}")
    if applied:
        lines.append(f"Total Entries: {entries} (of {total} in the file)")
        lines.append(f"Filters: {'; '.join(applied)}")
    else:
        lines.append(f"Total Entries: {entries}")
    lines.append(f"Requests: {requests.height}")
    lines.append("")
    lines.append("Direction Counts:")
    counts = with_weights(df).group_by("dir").agg(pl.col("n_rows").sum()).sort("dir")
    for d, n in counts.iter_rows():
        name = DIR_NAMES[d] if d is not None and 0 <= d < 4 else f"Unknown({d})"
        lines.append(f"  {name}: {n}")
    lines.append("")
    total_bytes = int(df["data_len"].sum() or 0) if df.height else 0
    lines.append(f"Total Bytes: {commas(total_bytes)}")
    if entries >= 2:
        lo, hi = df["ts"].min(), with_weights(df)["last_ts"].max()
        if isinstance(lo, float) and isinstance(hi, float):
            lines.append(f"Duration: {hi - lo:.2f}s")
            lines.append(
                f"Time Range: {fmt_dt(lo, zone, '%Y-%m-%d %H:%M:%S.%f')[:-3]} .. "
                f"{fmt_dt(hi, zone, '%Y-%m-%d %H:%M:%S.%f')[:-3]} ({zone.label()})"
            )
        ooo = out_of_order(df) if out_of_order_entries is None else out_of_order_entries
        if ooo:
            lines.append(
                f"Out of order: {ooo} entries are earlier than an entry before them in the file "
                "(time-based sections sort by ts)"
            )
    return lines


def status_lines(requests: pl.DataFrame) -> list[str]:
    """One status per (leg, request): B->P from `http_status` else `sc`, P->C likewise."""
    lines: list[str] = []
    legs = [(BP, "bp_status", "backend responses"), (PC, "pc_status", "client responses")]
    blocks: list[str] = []
    for d, col, what in legs:
        st = requests.filter(pl.col(col).is_not_null())
        if st.height == 0:
            continue
        blocks.append(f"  {sym(d)} ({what}, {st.height} request{'s' if st.height != 1 else ''}):")
        for code, n in st.group_by(col).len().sort(col).iter_rows():
            blocks.append(f"    {code}: {n} ({pct(n, st.height)})")
    if not blocks:
        return ["", "HTTP Status Summary: no request carries a status"]
    lines += ["", "HTTP Status Summary (one status per request and leg, from metadata):", *blocks]
    per_be = requests.filter(pl.col("bp_status").is_not_null() & pl.col("backend").is_not_null())
    if per_be.height:
        lines += ["", "HTTP Status by Backend (B->P requests):"]
        agg = (
            per_be.group_by("backend")
            .agg(
                pl.len().alias("n"),
                (pl.col("bp_status") == 429).sum().alias("n429"),
                ((pl.col("bp_status") >= 500) | (pl.col("bp_status") == 529)).sum().alias("n5xx"),
            )
            .sort("backend")
        )
        for be, n, n429, n5xx in agg.select("backend", "n", "n429", "n5xx").iter_rows():
            lines.append(f"  {be}: 429 {n429}/{n} ({pct(n429, n)}), 5xx {n5xx}/{n} ({pct(n5xx, n)})")
    return lines


def list_backends_lines(df: pl.DataFrame) -> list[str]:
    lines = [banner("AVAILABLE BACKENDS")]
    have = df.filter(pl.col("be_eff").is_not_null())
    if have.height == 0:
        return [*lines, "No backend information available in this capture file"]
    agg = (
        have.group_by("be_eff")
        .agg(pl.len().alias("n"), pl.col("key").filter(pl.col("dir") != 0).n_unique().alias("req"))
        .sort(["n", "be_eff"], descending=[True, False])
    )
    for be, n, req in agg.select("be_eff", "n", "req").iter_rows():
        lines.append(f"  {be}: {n} entries" + (f", {req} requests" if be != "client" else ""))
    return lines


def backend_names(df: pl.DataFrame) -> list[str]:
    return sorted({b for b in df["be_eff"].drop_nulls().to_list()})
