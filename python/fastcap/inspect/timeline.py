"""`--timeline` (§10.11): one line per entry in time order (§11.12), gap to the previous line,
built as one vectorised Polars expression."""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl

from fastcap.inspect.common import DIR_SYMBOLS, Zone, banner, ts_strings
from fastcap.inspect.summary import out_of_order

SLOW_GAP_S = 10.0


def _fmt1(e: pl.Expr) -> pl.Expr:
    """`%.1f` of a float expression."""
    return pl.format("{}", e.round(1).cast(pl.String)).str.replace(r"^(-?\d+)$", "${1}.0")


def timeline_frame(df: pl.DataFrame, zone: Zone) -> pl.DataFrame:
    d = df.select(pl.exclude("data")).sort(["ts", "seq"], nulls_last=True)
    gap = pl.col("ts").diff()
    gap_txt = (
        pl.when(gap.is_null())
        .then(pl.lit(None, pl.String))
        .when(gap > SLOW_GAP_S)
        .then(pl.format(" !!! +{}s SLOW !!!", _fmt1(gap)))
        .when(gap > 1.0)
        .then(pl.format(" (+{}s)", _fmt1(gap)))
        .otherwise(pl.format(" (+{}ms)", (gap * 1000).round(0).cast(pl.Int64)))
    )
    n = pl.col("data_len").cast(pl.Int64)
    size = pl.when(n > 1024).then(pl.format("{}KB", _fmt1(n / 1024))).otherwise(pl.format("{}B", n))
    symbol = pl.col("dir").replace_strict(
        list(range(4)), list(DIR_SYMBOLS), default=None, return_dtype=pl.String
    )
    symbol = pl.coalesce(symbol, pl.format("?{}", pl.col("dir")))
    line = pl.concat_str(
        [
            pl.format("[{}]", pl.col("seq")),
            symbol,
            ts_strings(pl.col("ts"), zone, "%H:%M:%S%.3f"),
            gap_txt,
            size,
            pl.when(pl.col("backend").is_not_null()).then(pl.format("be={}", pl.col("backend"))),
            pl.when(pl.col("asid").is_not_null()).then(pl.format("a={}", pl.col("asid").str.slice(0, 8))),
            pl.when(pl.col("b_session_id").is_not_null()).then(
                pl.format("b={}", pl.col("b_session_id").str.slice(0, 8))
            ),
        ],
        separator="  ",
        ignore_nulls=True,
    )
    return d.select(line.alias("line"), gap.alias("gap"), "seq")


def timeline_lines(df: pl.DataFrame, zone: Zone, backend: str | None) -> Iterator[str]:
    yield banner("TIMELINE VIEW", backend)
    if df.height == 0:
        yield "No entries to display"
        return
    ooo = out_of_order(df)
    if ooo:
        yield f"({ooo} entries are out of file order; shown in time order)"
    yield from timeline_frame(df, zone)["line"].to_list()
