"""`--analyze-streaming` (§10.9): per backend request, collected by request id (§11.20), stream vs
non-stream told apart by the markers, with separately defined timings (§6, §11.10)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import polars as pl

from fastcap.inspect.common import BP, banner, commas
from fastcap.inspect.prepare import entry_rows

SLOW_CHUNK_S = 5.0
_SRC = {"meta": "from ttfb_ms", "ts": "from timestamps"}


def slow_chunks(df: pl.DataFrame) -> dict[int, list[tuple[int, float]]]:
    """Gaps > 5 s between consecutive B->P payload entries of one request, in time order, by the
    request's `kid`."""
    gaps = (
        entry_rows(df, (pl.col("dir") == BP) & pl.col("payload") & pl.col("key").is_not_null())
        .sort(["kid", "ts", "seq"])
        .with_columns(pl.col("ts").diff().over("kid").alias("_gap"))
        .filter(pl.col("_gap") > SLOW_CHUNK_S)
    )
    out: dict[int, list[tuple[int, float]]] = {}
    for kid, seq, gap in gaps.select("kid", "seq", "_gap").iter_rows():
        out.setdefault(kid, []).append((seq, gap))
    return out


def _block(r: dict[str, Any], slow: list[tuple[int, float]]) -> list[str]:
    anchor = r["pb_seq"] if r["pb_seq"] is not None else r["anchor_seq"]
    if not r["n_bp"]:
        return ["", f"--- Request #{r['n']} (Entry [{anchor}]) ---", "  No backend response chunks"]
    lines = [""]
    if r["stream"]:
        lines.append(f"--- Stream #{r['n']} (Entry [{anchor}]) ---")
        label = "Time to First Token"
    else:
        status = r.get("bp_status")
        lines.append(f"--- Response #{r['n']} (Entry [{anchor}]) ---")
        lines.append(f"  Non-stream response{f': HTTP {status}' if status is not None else ''}")
        label = "Time to First Byte"
    if r["ttfb_s"] is not None:
        lines.append(f"  {label}: {r['ttfb_s']:.3f}s ({_SRC.get(r['ttfb_src'] or '', '')})")
    if r["latency_s"] is not None:
        src = "from latency_ms" if r["latency_src"] == "meta" else "from timestamps"
        lines.append(f"  Total Duration: {r['latency_s']:.3f}s (request to last byte, {src})")
    if r["stream"]:
        if r["stream_s"] is not None:
            lines.append(f"  Stream Duration: {r['stream_s']:.3f}s (from the stream-start marker)")
        lines.append(f"  Chunks: {r['bp_chunks']}")
    lines.append(f"  Total Data: {commas(r['bp_bytes'] or 0)} bytes")
    if r["stream"] and r["tc"] is not None and r["tc"] != r["bp_chunks"]:
        lines.append(f"  Note: the stream-end marker says {r['tc']} chunks")
    if r["stream"] and r["tb"] is not None and r["tb"] != r["bp_bytes"]:
        lines.append(f"  Note: the stream-end marker says {commas(r['tb'])} bytes (stream_totals_mismatch)")
    if r["stream"] and (r["bp_chunks"] or 0) > 1 and r["bp_first_ts"] is not None:
        avg = (r["bp_last_ts"] - r["bp_first_ts"]) / (r["bp_chunks"] - 1)
        lines.append(f"  Avg Time Between Chunks: {avg:.3f}s")
    if slow:
        lines.append("  Slow Chunks Detected:")
        lines += [f"    Entry [{seq}]: {gap:.1f}s gap" for seq, gap in slow]
    return lines


# What a block shows (iterating over these alone, not the request table's hundred columns).
_COLUMNS = (
    "n",
    "kid",
    "pb_seq",
    "anchor_seq",
    "n_bp",
    "stream",
    "bp_status",
    "ttfb_s",
    "ttfb_src",
    "latency_s",
    "latency_src",
    "stream_s",
    "bp_chunks",
    "bp_bytes",
    "tc",
    "tb",
    "bp_first_ts",
    "bp_last_ts",
)


def streaming_lines(df: pl.DataFrame, requests: pl.DataFrame, backend: str | None) -> Iterator[str]:
    yield banner("STREAMING PERFORMANCE ANALYSIS", backend)
    slow = slow_chunks(df)
    shown = requests.filter((pl.col("n_pb") > 0) | (pl.col("n_bp") > 0))
    if shown.height == 0:
        yield "No backend requests in the selected entries"
        return
    for r in shown.select(_COLUMNS).iter_rows(named=True):
        yield from _block(r, slow.get(r["kid"], []))
