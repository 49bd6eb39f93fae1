"""Vectorised content accounting: what each request's response stream said, for every API,
without parsing JSON in Python per event.

Response bodies are reassembled per request key (chunks in `ci` order), split and field-extracted
in one native call (`_native.sse_column`), then aggregated per request in Polars.
"""

from __future__ import annotations

import polars as pl

from fastcap import _native
from fastcap.analysis.requests import BACKEND_TO_PROXY, response_bodies


def _body(chunks: list[tuple[float | None, bytes]]) -> bytes:
    data = b"".join(d for _, d in chunks)
    # Non-stream V2 B->P entries carry HTTP framing; the body starts after the blank line.
    if data.startswith(b"HTTP/"):
        _, sep, body = data.partition(b"\r\n\r\n")
        return body if sep else data
    return data


def content_table(entries: pl.DataFrame, direction: int = BACKEND_TO_PROXY) -> pl.DataFrame:
    """One row per request key with: events, text_chars, reasoning_chars, tool_calls (names),
    models, stop_reason, errors, done (saw `[DONE]`), input/output/cache tokens (last value
    reported in the stream, which is the final one for every provider's cumulative usage)."""
    bodies = response_bodies(entries, direction)
    keys = list(bodies)
    table = pl.DataFrame(_native.sse_column([_body(bodies[k]) for k in keys]))
    key_frame = pl.DataFrame({"exchange_index": pl.Series(range(len(keys)), dtype=pl.UInt32), "req_key": keys})
    if table.height == 0:
        return key_frame.with_columns(events=pl.lit(0, pl.UInt32)).drop("exchange_index")
    agg = table.group_by("exchange_index").agg(
        events=pl.len(),
        text_chars=pl.col("text").str.len_chars().sum(),
        reasoning_chars=pl.col("reasoning").str.len_chars().sum(),
        tool_calls=pl.col("tool_name").drop_nulls(),
        models=pl.col("model").drop_nulls().unique(maintain_order=True),
        stop_reason=pl.col("stop_reason").drop_nulls().last(),
        error_types=pl.col("error_type").drop_nulls().unique(maintain_order=True),
        error_messages=pl.col("error_message").drop_nulls().unique(maintain_order=True),
        done=pl.col("is_done").any(),
        input_tokens=pl.col("input_tokens").drop_nulls().last(),
        output_tokens=pl.col("output_tokens").drop_nulls().last(),
        cache_read_tokens=pl.col("cache_read_tokens").drop_nulls().last(),
        cache_write_tokens=pl.col("cache_write_tokens").drop_nulls().last(),
        unterminated=(~pl.col("terminated")).any(),
    )
    return key_frame.join(agg, on="exchange_index", how="left").drop("exchange_index")
