"""`--track-request N` (§10.13): every entry of request N (by correlation key, not a file window),
in time order, with times relative to the backend request (the client request when there is no
P->B), and a description per hop."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import polars as pl

from fastcap import _native
from fastcap.inspect.analyze import request_body_size, request_model
from fastcap.inspect.common import BP, CP, PB, PC, banner, commas, sym
from fastcap.inspect.redaction import split_http

SLOW_S = 10.0


def _chunk_events(rows: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Per B->P payload row: event count and the first error / tool / text seen (one native call)."""
    idx = [i for i, r in enumerate(rows) if r["dir"] == BP and r["payload"]]
    if not idx:
        return {}
    ev = pl.DataFrame(_native.sse_column([rows[i]["data"] for i in idx]))
    if ev.height == 0:
        return {}
    agg = (
        ev.filter(~pl.col("is_done"))
        .group_by("exchange_index")
        .agg(
            pl.len().alias("n"),
            pl.coalesce(pl.col("error_message"), pl.col("error_type")).drop_nulls().first().alias("err"),
            pl.col("tool_name").drop_nulls().first().alias("tool"),
            pl.col("text").drop_nulls().first().alias("text"),
        )
    )
    return {
        idx[e]: {"n": n, "err": err, "tool": tool, "text": text}
        for e, n, err, tool, text in agg.select("exchange_index", "n", "err", "tool", "text").iter_rows()
    }


def _describe(r: dict[str, Any], ev: dict[str, Any] | None) -> str:
    d = r["dir"]
    if d == PB:
        return "Forwarded to backend"
    if d == PC:
        return "Forwarded to client"
    if d == CP:
        return f"{commas(r['data_len'] or 0)} bytes"
    if d != BP:
        return f"{commas(r['data_len'] or 0)} bytes"
    if r.get("is_stream_start"):
        st = r.get("status")
        return f"Stream start{f' (HTTP {st})' if st is not None else ''}"
    if r.get("is_stream_end"):
        return f"Stream end ({r.get('total_chunks')} chunks, {commas(r.get('total_bytes') or 0)} bytes)"
    if r.get("eos"):
        term = r.get("eos_termination_category")
        return f"End of stream: {r.get('eos_signal') or 'unknown'}{f' ({term})' if term else ''}"
    if not r["payload"]:
        return "0 bytes (Raw)"
    if ev:
        more = f" (+{ev['n'] - 1} other events)" if ev["n"] > 1 else ""
        if ev["err"]:
            return f"ERROR: {str(ev['err'])[:50]}"
        if ev["tool"]:
            return f"Tool call response{more}"
        if ev["text"]:
            return f"Content chunk{more}"
        return "Metadata chunk"
    data: bytes = r["data"]
    parts = split_http(data)
    if parts is not None and parts[0].startswith(b"HTTP/"):
        return f"HTTP {r.get('status')} response ({commas(len(data))} bytes)"
    return f"{commas(len(data))} bytes (Raw)"


def track_lines(df: pl.DataFrame, requests: pl.DataFrame, n: int, backend: str | None) -> Iterator[str]:
    yield banner(f"REQUEST FLOW TRACKING - Request #{n}", backend)
    cands = requests
    if backend is not None and backend.lower() == "client":
        cands = requests.filter(pl.col("cp_seq").is_not_null())
    if n < 1 or n > cands.height:
        yield f"Request #{n} not found"
        return
    req = cands.row(n - 1, named=True)
    rows = df.filter(pl.col("key") == req["key"]).sort(["ts", "seq"], nulls_last=True).to_dicts()
    anchor_row = req["pb_row"] if req["pb_row"] is not None else req["cp_row"]
    anchor = next((r for r in rows if r["row"] == anchor_row), rows[0] if rows else None)
    if anchor is None:
        yield f"Request #{n} not found"
        return
    t0 = anchor["ts"] or 0.0
    yield ""
    yield f"Request initiated at entry [{anchor['seq']}]"
    body_row = next(
        (r for r in rows if r["row"] == (req["cp_row"] if req["cp_row"] is not None else req["pb_row"])),
        anchor,
    )
    yield f"Model: {request_model(body_row['data'], req.get('model'))}"
    yield f"Request size: {commas(request_body_size(body_row['data']))} bytes"
    if req.get("rid"):
        yield f"Request id: {req['rid']}"
    yield ""
    yield "Flow timeline:"
    events = _chunk_events(rows)
    for i, r in enumerate(rows):
        t = (r["ts"] - t0) if r["ts"] is not None else 0.0
        desc = _describe(r, events.get(i))
        if t > SLOW_S:
            desc += " !!! SLOW !!!"
        if r is anchor:
            yield f"  [START] [{r['seq']}] {sym(r['dir'])}  {desc} (t={t:.3f}s)"
        else:
            yield f"  [{sym(r['dir'])}] [{r['seq']}] {desc} (t={t:.3f}s)"
