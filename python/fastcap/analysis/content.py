"""Content accounting over the events table: one row of figures per exchange, in Polars.

The events table is `_native.sse_column`'s output (one row per SSE event of many bodies, with the
fields extracted in Rust). This module turns it into what docs/metrics.md defines for a call's
content: text and reasoning characters, tool calls merged by their key, model, stop reason, the
first error, the last value of each usage field, kiro's metered credits, whether the response
finished, and the arrival time of the first content event (for TTFT). No Python object is made
per event.
"""

from __future__ import annotations

import polars as pl

from fastcap import _native

# Provider events that end a response normally (besides a stop / finish reason and `[DONE]`).
# (Bedrock Converse's `messageStop` carries its stop reason and ends the message; only the
# `metadata` event with usage follows it.)
TERMINAL_EVENT_TYPES = (
    "message_stop",
    "response.completed",
    "response.done",
    "response.incomplete",
    "messageStop",
)

USAGE_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    # Anthropic's `usage.cache_creation.ephemeral_1h_input_tokens`: the 1-hour part of the writes.
    "cache_write_1h_tokens",
)

CONTENT_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "exchange_index": pl.UInt32,
    "events": pl.UInt32,
    "text_chars": pl.Int64,
    "reasoning_chars": pl.Int64,
    "tool_calls": pl.List(pl.Utf8),
    "sse_model": pl.Utf8,
    "stop_reason": pl.Utf8,
    "error_type": pl.Utf8,
    "error_code": pl.Utf8,
    "error_message": pl.Utf8,
    "stop_seen": pl.Boolean,
    "terminal_seen": pl.Boolean,
    "first_content_t": pl.Float64,
    # AWS EventStream bodies: every frame whole and checked (no cut tail, no damage). kiro has no
    # terminal event: an intact stream that no exception stopped is finished (docs/metrics.md).
    "stream_intact": pl.Boolean,
    # What the frame decoder found wrong with an EventStream body (a cut tail, a bad frame).
    "stream_problem": pl.Utf8,
    **{c: pl.Int64 for c in USAGE_COLUMNS},
    # kiro `meteringEvent`s: credits, not tokens (docs/metrics.md, Credits).
    "credits": pl.Float64,
    # The last `codex.rate_limits` event as the `x-codex-*` headers it repeats (`quota`).
    "ratelimit_event": pl.Utf8,
}

# The column of `_native.eventstream_events` that holds each frame's metered credits.
CREDITS = "credits"


def credits_by_exchange(events: pl.DataFrame) -> pl.DataFrame:
    """(exchange_index, credits): the sum of each body's metered credits, for the bodies that
    metered any (`_native.eventstream_events`' `credits` column)."""
    return (
        events.filter(pl.col(CREDITS).is_not_null())
        .group_by("exchange_index", maintain_order=True)
        .agg(pl.col(CREDITS).sum().cast(pl.Float64))
    )


def codex_limits_by_exchange(events: pl.DataFrame) -> pl.DataFrame:
    """(exchange_index, ratelimit_event): each body's last `codex.rate_limits` event, as headers."""
    from fastcap.analysis.quota import CODEX_EVENT, codex_event_headers

    last = (
        events.filter(pl.col("json_type") == CODEX_EVENT)
        .group_by("exchange_index", maintain_order=True)
        .agg(pl.col("data").last().cast(pl.Utf8))
    )
    return last.select(
        pl.col("exchange_index").cast(pl.UInt32),
        ratelimit_event=pl.Series([codex_event_headers(d) for d in last["data"].to_list()], dtype=pl.Utf8),
    )


def _non_empty(name: str) -> pl.Expr:
    return pl.col(name).is_not_null() & (pl.col(name).str.len_bytes() > 0)


def tool_calls_by_exchange(events: pl.DataFrame) -> pl.DataFrame:
    """(exchange_index, tool_calls): the names of each exchange's tool calls in start order.

    A call announced over several events (a gateway repeating the name in every delta) is one
    call: events are merged by their `tool_id` key where the extractor gives one (the content block
    index, the item id, the choice's tool index), else every named start counts once."""
    named = events.filter(pl.col("tool_name").is_not_null())
    slot = pl.int_range(pl.len()).over("exchange_index", "event_index").alias("slot")
    # Several calls started in one event are listed comma-joined, names and keys alike.
    flat = (
        named.select("exchange_index", "event_index", name=pl.col("tool_name").str.split(","))
        .explode("name")
        .with_columns(slot)
    )
    if "tool_id" in events.columns:
        keys = (
            named.filter(pl.col("tool_id").is_not_null())
            .select("exchange_index", "event_index", key=pl.col("tool_id").str.split(","))
            .explode("key")
            .with_columns(slot)
        )
        flat = flat.join(
            keys, on=["exchange_index", "event_index", "slot"], how="left", maintain_order="left"
        )
    else:
        flat = flat.with_columns(key=pl.lit(None, pl.Utf8))
    flat = flat.with_columns(
        key=pl.coalesce(pl.col("key"), pl.format("@{}:{}", pl.col("event_index"), pl.col("slot")))
    )
    return (
        flat.unique(subset=["exchange_index", "key"], keep="first", maintain_order=True)
        .group_by("exchange_index", maintain_order=True)
        .agg(tool_calls=pl.col("name"))
    )


def first_content_times(events: pl.DataFrame, chunks: pl.DataFrame) -> pl.DataFrame:
    """(exchange_index, first_content_t): the arrival time of the chunk that completes each
    exchange's first content event (text, reasoning or a tool call).

    `chunks` has one row per exchange with `chunk_ends` (cumulative end offset of each piece of
    the body) and `chunk_times` (its arrival time), as the body assembler hands them over."""
    content = _non_empty("text") | _non_empty("reasoning") | pl.col("tool_name").is_not_null()
    first = (
        events.filter(content)
        .group_by("exchange_index")
        .agg(byte_end=pl.col("byte_end").min())
        .sort("byte_end")
    )
    pieces = (
        chunks.select("exchange_index", "chunk_ends", "chunk_times")
        .explode("chunk_ends", "chunk_times")
        .drop_nulls("chunk_ends")
        .rename({"chunk_ends": "chunk_end", "chunk_times": "first_content_t"})
        .with_columns(pl.col("chunk_end").cast(pl.UInt64))
        .sort("chunk_end")
    )
    # The event's last byte sits in the first piece whose end is at or after the event's end.
    joined = first.join_asof(
        pieces,
        left_on="byte_end",
        right_on="chunk_end",
        by="exchange_index",
        strategy="forward",
        check_sortedness=False,  # both sides are sorted globally, hence within every group
    )
    return joined.select("exchange_index", pl.col("first_content_t").cast(pl.Float64))


def eventstream_events(bodies: pl.Series) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(events, intact) of AWS EventStream bodies: the events table in `sse_column`'s schema
    (`_native.eventstream_events` without its `credits` column) and one row per body from the
    frame decoder (exchange_index, stream_intact, stream_problem) with the body's credits."""
    events = pl.DataFrame(_native.eventstream_events(bodies))
    credits = credits_by_exchange(events)
    events = events.drop(CREDITS)
    _, report = _native.eventstream_column(bodies, mode="resync")
    truncated = pl.format(
        "Truncated: last frame at offset {} has {} of {} bytes",
        "truncated_offset",
        "truncated_have",
        "truncated_need",
    )
    intact = pl.DataFrame(report).select(
        "exchange_index",
        stream_intact=pl.col("truncated_offset").is_null()
        & ~pl.col("corrupt")
        & (pl.col("error_count") == 0),
        stream_problem=pl.coalesce(pl.col("error_message"), truncated),
    )
    intact = intact.join(credits, on="exchange_index", how="left", maintain_order="left")
    return events, intact


def aggregate_events(
    events: pl.DataFrame, chunks: pl.DataFrame | None = None, intact: pl.DataFrame | None = None
) -> pl.DataFrame:
    """One row per exchange that has events (`CONTENT_SCHEMA`); `intact` (exchange_index,
    stream_intact, stream_problem, credits) for EventStream bodies, from `eventstream_events`.
    Events straight from `_native.eventstream_events` (with their `credits` column) need no
    `intact` for the credits."""
    if events.height == 0:
        return pl.DataFrame(schema=CONTENT_SCHEMA)
    # An events table from an older extractor lacks the newest usage columns: unknown.
    events = events.with_columns(
        pl.lit(None, pl.Int64).alias(c) for c in USAGE_COLUMNS if c not in events.columns
    )
    terminal = pl.col("is_done") | pl.col("json_type").is_in(TERMINAL_EVENT_TYPES)
    agg = events.group_by("exchange_index", maintain_order=True).agg(
        events=pl.len().cast(pl.UInt32),
        text_chars=pl.col("text").str.len_chars().sum().cast(pl.Int64),
        reasoning_chars=pl.col("reasoning").str.len_chars().sum().cast(pl.Int64),
        sse_model=pl.col("model").drop_nulls().first(),
        stop_reason=pl.col("stop_reason").drop_nulls().last(),
        error_type=pl.col("error_type").drop_nulls().first(),
        error_code=pl.col("error_code").drop_nulls().first(),
        error_message=pl.col("error_message").drop_nulls().first(),
        # Finished (docs/metrics.md) is a stop reason or a terminal event; which of the two was
        # seen tells a stream abandoned after its finish reason from one that ended normally.
        stop_seen=pl.col("stop_reason").is_not_null().any(),
        terminal_seen=terminal.any(),
        # Each usage field: the last value the provider reported (key by key).
        **{c: pl.col(c).drop_nulls().last().cast(pl.Int64) for c in USAGE_COLUMNS},
    )
    agg = agg.join(
        tool_calls_by_exchange(events), on="exchange_index", how="left", maintain_order="left"
    ).with_columns(tool_calls=pl.col("tool_calls").fill_null(pl.lit([], pl.List(pl.Utf8))))
    if chunks is not None and chunks.height:
        agg = agg.join(
            first_content_times(events, chunks), on="exchange_index", how="left", maintain_order="left"
        )
    else:
        agg = agg.with_columns(first_content_t=pl.lit(None, pl.Float64))
    if intact is not None:
        agg = agg.join(intact, on="exchange_index", how="left", maintain_order="left")
    else:
        agg = agg.with_columns(stream_intact=pl.lit(None, pl.Boolean), stream_problem=pl.lit(None, pl.Utf8))
    agg = agg.join(codex_limits_by_exchange(events), on="exchange_index", how="left", maintain_order="left")
    if CREDITS not in agg.columns:
        if CREDITS in events.columns:
            agg = agg.join(
                credits_by_exchange(events), on="exchange_index", how="left", maintain_order="left"
            )
        else:
            agg = agg.with_columns(pl.lit(None, pl.Float64).alias(CREDITS))
    return agg.select([pl.col(n).cast(t) for n, t in CONTENT_SCHEMA.items()])
