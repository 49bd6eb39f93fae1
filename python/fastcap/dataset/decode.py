"""One capture → the dataset's tables, through the engine `fastcap analyze` uses.

The calls table is computed exactly as `fastcap analyze` computes it (the streaming pass
`analysis.stream_cbor` for CBOR captures, `analysis.exchanges.calls_from_exchanges` for every
other format) and redacted as `analyze` writes it (`analysis.calls.redact_calls`); the exchanges
table is `formats.writers.exchanges_frame`, redacted as `fastcap convert` writes Parquet. Both gain
the capture's id and path, and the partition columns: `date`, the UTC day each row started (rows
without a time take the capture's first day, else the file's modification day), and `agent`.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field

import polars as pl

from fastcap.dataset.agents import agent_of, cbor_headers, exchange_headers
from fastcap.dataset.layout import EXCHANGE_COLUMNS, agent_slug, conform, table_schema
from fastcap.formats import Fault, detect_format, read_file
from fastcap.model import Exchange


@dataclass
class Decoded:
    """A capture's tables (`layout.table_schema`), its format, agent and reader faults."""

    fmt: str
    agent: str
    calls: pl.DataFrame
    exchanges: pl.DataFrame | None
    faults: list[Fault] = field(default_factory=list)


def engine_calls(
    path: str, *, fmt: str | None = None, recover: bool = False, name: str | None = None
) -> tuple[str, pl.DataFrame, list[Exchange] | None, list[Fault]]:
    """(format, calls table, exchanges when the format's reader made them, faults): the calls
    table of `fastcap analyze`, unredacted."""
    fmt = fmt or detect_format(path)
    label = name or path
    if fmt == "cbor":
        from fastcap.analysis.stream_cbor import calls_from_scan, scan
        from fastcap.formats.cbor import cbor_fault

        meta, content, diagnostics = scan(path, recover=recover)
        faults = [f for f in (cbor_fault(label, d) for d in diagnostics) if f is not None]
        calls = calls_from_scan(meta, content)
        if calls.height == 0:
            stop = next((f for f in faults if f.severity != "note"), None)
            if stop is not None:  # a fault and no complete entry: nothing usable
                raise stop.error()
        return fmt, calls, None, faults
    from fastcap.analysis.exchanges import calls_from_exchanges

    result = read_file(path, fmt=fmt, recover=recover, name=label)
    return fmt, calls_from_exchanges(result.exchanges), result.exchanges, result.faults


def decode_capture(
    path: str,
    *,
    capture_id: str,
    source_path: str | None = None,
    fmt: str | None = None,
    agent: str | None = None,
    recover: bool = False,
    exchanges: bool = True,
    redact: bool = True,
) -> Decoded:
    """The dataset rows of one capture. `exchanges=False` leaves the exchanges table out (what
    `calls_for_inputs` needs); `redact=False` keeps raw values (`fastcap analyze --no-redact`)."""
    from fastcap.analysis.calls import redact_calls

    source = source_path or os.path.abspath(path)
    fmt, calls, exs, faults = engine_calls(path, fmt=fmt, recover=recover)
    if fmt == "cbor":
        headers = cbor_headers(path)
        if exchanges:
            exs = read_file(path, fmt="cbor", recover=recover).exchanges
    else:
        headers = exchange_headers(exs or [])
    name = agent_slug(agent) if agent else agent_of(headers)
    if redact:
        calls = redact_calls(calls)
    frame: pl.DataFrame | None = None
    if exchanges:
        frame = exchanges_table(exs or [], redact=redact)
    del exs
    fallback = _first_day(calls, frame, path)
    columns = {"capture_id": capture_id, "source_path": source, "agent": name}
    calls = _finish(calls, "calls", columns, fallback)
    if frame is not None:
        frame = _finish(frame, "exchanges", columns, fallback)
    return Decoded(fmt, name, calls, frame, faults)


def exchanges_table(exchanges: list[Exchange], *, redact: bool = True) -> pl.DataFrame:
    """`formats.writers.exchanges_frame`, typed as `layout.EXCHANGE_COLUMNS`."""
    from fastcap.formats.writers import exchanges_frame
    from fastcap.secrets.redact import OUTPUT

    if not exchanges:
        return pl.DataFrame(schema=EXCHANGE_COLUMNS)
    return conform(exchanges_frame(exchanges, redact=OUTPUT if redact else None), EXCHANGE_COLUMNS)


def _day(started: pl.Expr) -> pl.Expr:
    return pl.from_epoch((started * 1_000_000).round().cast(pl.Int64), time_unit="us").dt.date()


def _first_day(calls: pl.DataFrame, exchanges: pl.DataFrame | None, path: str) -> dt.date:
    """The capture's first day (UTC): its first started call or exchange, else the file's mtime."""
    starts = [calls["started_at"].min()]
    if exchanges is not None and exchanges.height:
        starts.append(exchanges["started_at"].min())
    known = [s for s in starts if isinstance(s, float)]
    if known:
        return dt.datetime.fromtimestamp(min(known), dt.UTC).date()
    return dt.datetime.fromtimestamp(os.path.getmtime(path), dt.UTC).date()


def _finish(frame: pl.DataFrame, table: str, columns: dict[str, str], fallback: dt.date) -> pl.DataFrame:
    out = frame.with_columns(
        capture_id=pl.lit(columns["capture_id"], pl.String),
        source_path=pl.lit(columns["source_path"], pl.String),
        date=_day(pl.col("started_at")).fill_null(fallback),
        agent=pl.lit(columns["agent"], pl.String),
    )
    return conform(out, table_schema(table))
