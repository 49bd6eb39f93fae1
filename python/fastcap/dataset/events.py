"""The events table of a dataset, derived on read (never stored).

A stream's events are its response body split and field-extracted (`_native.sse_column` for SSE,
`analysis.content.eventstream_events` for AWS EventStream): storing them would repeat the body,
ten to a hundred rows per exchange, in the decoders' schema of the day. The dataset keeps the
(redacted) bodies with their chunk sizes and arrival times instead, and this module decodes them
batch by batch with the same native decoders, placing each event at the arrival time of the chunk
that completed it (`arrival_t`). Redaction can change a body's length; a chunk's size is the one
recorded, so an event after a redacted value may be placed one chunk early or late.
"""

from __future__ import annotations

from collections.abc import Iterator

import polars as pl

from fastcap import _native
from fastcap.analysis.bodies import body_kind
from fastcap.analysis.content import eventstream_events

_COLUMNS = ("capture_id", "index", "response_body", "chunk_sizes", "chunk_times")


def _arrivals(events: pl.DataFrame, batch: pl.DataFrame) -> pl.DataFrame:
    """`events` with `arrival_t`: the arrival of the first chunk whose end reaches the event's end."""
    chunks = (
        batch.with_row_index("exchange_index")
        .select(
            "exchange_index",
            chunk_end=pl.col("chunk_sizes").list.eval(pl.element().cum_sum()),
            arrival_t=pl.col("chunk_times"),
        )
        .explode("chunk_end", "arrival_t")
        .drop_nulls("chunk_end")
        .with_columns(pl.col("chunk_end").cast(pl.UInt64), pl.col("exchange_index").cast(pl.UInt32))
        .sort("exchange_index", "chunk_end")
    )
    ordered = events.with_row_index("_row").sort("exchange_index", "byte_end")
    placed = ordered.join_asof(
        chunks,
        left_on="byte_end",
        right_on="chunk_end",
        by="exchange_index",
        strategy="forward",
        check_sortedness=False,
    )
    return placed.sort("_row").drop("_row", "chunk_end")


def events_of_batch(batch: pl.DataFrame) -> pl.DataFrame:
    """The events of one batch of exchange rows (`_COLUMNS`), keyed by capture_id and index."""
    bodies = batch["response_body"].to_list()
    kinds = [body_kind("", b) if b else "empty" for b in bodies]
    parts: list[pl.DataFrame] = []
    if "sse" in kinds:
        sse = [b if k == "sse" else None for b, k in zip(bodies, kinds, strict=True)]
        parts.append(pl.DataFrame(_native.sse_column(sse)))
    if "eventstream" in kinds:
        es = [b if k == "eventstream" else None for b, k in zip(bodies, kinds, strict=True)]
        events, _ = eventstream_events(pl.Series(es, dtype=pl.Binary))
        parts.append(events)
    if not parts:
        return pl.DataFrame()
    events = pl.concat(parts, how="vertical_relaxed")
    keys = batch.select("capture_id", "index").with_row_index("exchange_index")
    events = _arrivals(events, batch)
    return keys.join(events, on="exchange_index", how="inner").drop("exchange_index")


def iter_events(exchanges: pl.LazyFrame, *, batch_rows: int = 512) -> Iterator[pl.DataFrame]:
    """The events of `exchanges`, a batch of exchange rows at a time (streaming engine)."""
    frame = exchanges.select(*_COLUMNS)
    for batch in frame.collect_batches(chunk_size=batch_rows, engine="streaming"):
        events = events_of_batch(batch)
        if events.height:
            yield events


def events_of(exchanges: pl.LazyFrame, *, batch_rows: int = 512) -> pl.DataFrame:
    parts = list(iter_events(exchanges, batch_rows=batch_rows))
    return pl.concat(parts, how="vertical_relaxed") if parts else pl.DataFrame()
