"""Content accounting per request and leg (docs/specs/cbor-v2.md §11.7, docs/metrics.md "Content"):
text, reasoning, tool calls, model, stop reason, errors and usage, for Anthropic, OpenAI Responses,
OpenAI Chat, Gemini and kiro.

The body of a leg is its payload entries joined in chunk order (`ci`, then `seq`), HTTP framing
removed. The figures come from the one accounting `fastcap analyze` uses: SSE bodies, and JSON
bodies as one event each, go through the native field extractor (`_native.sse_column`) and
`fastcap.analysis.content.aggregate_events`; AWS EventStream bodies (kiro, Bedrock), which the
native extractor does not read, through the dialect analysers, handed back in the raw fields'
meaning so that one usage rule (`fastcap.inspect.calls`) applies to both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import polars as pl

from fastcap import _native
from fastcap.analysis.content import CONTENT_SCHEMA, aggregate_events
from fastcap.inspect.common import BP, PC
from fastcap.inspect.redaction import header_value, split_http

# One row per (request key, leg): the figures of `analysis.content.CONTENT_SCHEMA` (without the
# exchange index), every model the leg named (`models`, for the analysis' lists) and the body kind.
SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "key": pl.String,
    "dir": pl.Int64,
    "kind": pl.String,
    "body_bytes": pl.Int64,
    **{c: t for c, t in CONTENT_SCHEMA.items() if c != "exchange_index"},
    "models": pl.List(pl.String),
}


@dataclass
class Body:
    key: str
    dir: int
    data: bytes
    content_type: str
    url: str
    status: int | None


def body_kind(content_type: str, data: bytes) -> str:
    """`sse`, `json`, `eventstream`, `text` or `empty`: the content type, else the first bytes."""
    ct = content_type
    if "event-stream" in ct:
        return "sse"
    if "amazon.eventstream" in ct:
        return "eventstream"
    head = data[:64].lstrip()
    if head.startswith((b"data:", b"event:", b":", b"id:", b"retry:")):
        return "sse"
    if head[:1] in (b"{", b"["):
        return "json"
    if len(data) >= 16 and data[0] == 0 and b":event-type" in data[:512]:
        return "eventstream"
    return "text" if data else "empty"


def unframe(direction: int, data: bytes) -> tuple[bytes, str]:
    """(body, content type) of a payload: a non-stream B->P entry holds its HTTP status line and
    headers before the body."""
    if direction == BP and data.startswith(b"HTTP/"):
        parts = split_http(data)
        if parts is not None:
            return parts[1], (header_value(parts[0], "content-type") or "").lower()
    return data, ""


def bodies_of(df: pl.DataFrame, requests: pl.DataFrame) -> list[Body]:
    """One body per (request key, response leg) with payload."""
    rows = (
        df.filter(pl.col("payload") & pl.col("dir").is_in([BP, PC]) & pl.col("key").is_not_null())
        .sort(["key", "dir", "chunk_index", "seq"], nulls_last=False)
        .group_by(["key", "dir"], maintain_order=True)
        .agg(pl.col("data"), pl.col("status").drop_nulls().first())
        .join(requests.select("key", "url"), on="key", how="left")
    )
    out: list[Body] = []
    for key, d, datas, status, url in rows.select("key", "dir", "data", "status", "url").iter_rows():
        data, ctype = unframe(d, b"".join(datas))
        out.append(Body(key, d, data, ctype, url or "", status))
    return out


def _as_one_event(body: bytes) -> bytes:
    """A JSON body as one SSE event, re-serialised on one line (a pretty-printed body would end
    the event at its first line break), so that the native extractor reads its error, usage and
    stop reason as `fastcap analyze` does."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return b""
    return b"data: " + orjson.dumps(value) + b"\n\n" if isinstance(value, dict) else b""


def _native_stats(bodies: list[Body], kinds: list[str]) -> pl.DataFrame:
    """SSE and JSON bodies: one native split over all of them, aggregated in Polars."""
    ids = pl.DataFrame(
        {
            "exchange_index": list(range(len(bodies))),
            "key": [b.key for b in bodies],
            "dir": [b.dir for b in bodies],
            "kind": kinds,
            "body_bytes": [len(b.data) for b in bodies],
        },
        schema={
            "exchange_index": pl.UInt32,
            "key": pl.String,
            "dir": pl.Int64,
            "kind": pl.String,
            "body_bytes": pl.Int64,
        },
    )
    datas = [b.data if k == "sse" else _as_one_event(b.data) for b, k in zip(bodies, kinds, strict=True)]
    events = pl.DataFrame(_native.sse_column(datas))
    if events.height:
        content = aggregate_events(events)
        models = events.group_by("exchange_index").agg(
            models=pl.col("model").drop_nulls().unique(maintain_order=True)
        )
        content = content.join(models, on="exchange_index", how="left")
    else:
        content = pl.DataFrame(schema={**CONTENT_SCHEMA, "models": pl.List(pl.String)})
    out = ids.join(content, on="exchange_index", how="left").with_columns(
        pl.col("events").fill_null(0),
        pl.col("text_chars").fill_null(0),
        pl.col("reasoning_chars").fill_null(0),
        pl.col("tool_calls").fill_null(pl.lit([], pl.List(pl.String))),
        pl.col("models").fill_null(pl.lit([], pl.List(pl.String))),
    )
    return out.select([pl.col(c).cast(t) for c, t in SCHEMA.items()])


def _dialect_row(b: Body, kind: str) -> dict[str, Any]:
    """An EventStream body through its dialect, in the raw fields' meaning (Anthropic-like
    dialects: uncached input; Gemini: output without thoughts)."""
    from fastcap.dialects import analyze_exchange
    from fastcap.model import Exchange

    ctype = b.content_type or "application/vnd.amazon.eventstream"
    ex = Exchange(
        index=0,
        source="cbor",
        method="POST",
        url=b.url,
        status=b.status,
        response_headers=[("content-type", ctype)],
        response_body=b.data,
    )
    row: dict[str, Any] = {"key": b.key, "dir": b.dir, "kind": kind, "body_bytes": len(b.data)}
    try:
        analysis = analyze_exchange(ex)
    except Exception as exc:  # a dialect bug must not take the inspector down
        return {**row, "events": 0, "error_message": f"(could not analyse: {exc})"}
    r, usage = analysis.response, analysis.response.usage
    err = next((e for e in r.errors if e.source != "http_status"), None)
    raw_input = raw_output = None
    if usage is not None:
        raw_input = (
            usage.input_uncached if analysis.dialect in ("anthropic", "bedrock") else usage.input_total
        )
        raw_output = usage.output_total
        if analysis.dialect == "gemini" and raw_output is not None:
            raw_output -= usage.reasoning or 0
    return {
        **row,
        "events": len(r.events),
        "text_chars": len(r.text),
        "reasoning_chars": len(r.reasoning_text),
        "tool_calls": [t.name for t in r.tool_calls],
        "sse_model": r.model,
        "models": [r.model] if r.model else [],
        "stop_reason": r.stop_reason,
        "error_type": err.type if err else None,
        "error_message": err.message if err else None,
        "stop_seen": r.stop_reason is not None,
        "terminal_seen": r.complete,
        "input_tokens": raw_input,
        "output_tokens": raw_output,
        "cache_read_tokens": usage.cache_read if usage else None,
        "cache_write_tokens": usage.cache_write if usage else None,
        "reasoning_tokens": usage.reasoning if usage else None,
    }


def content_of_bodies(bodies: list[Body]) -> pl.DataFrame:
    """One row (`SCHEMA`) per body."""
    kinds = [body_kind(b.content_type, b.data) for b in bodies]
    native = [i for i, k in enumerate(kinds) if k in ("sse", "json")]
    parts = [pl.DataFrame(schema=SCHEMA)]
    if native:
        parts.append(_native_stats([bodies[i] for i in native], [kinds[i] for i in native]))
    other = [
        _dialect_row(b, k)
        if k == "eventstream"
        else {"key": b.key, "dir": b.dir, "kind": k, "body_bytes": len(b.data), "events": 0}
        for b, k in zip(bodies, kinds, strict=True)
        if k not in ("sse", "json")
    ]
    if other:
        parts.append(pl.DataFrame(other, schema=SCHEMA))
    return pl.concat(parts, how="vertical").with_columns(
        pl.col("text_chars").fill_null(0),
        pl.col("reasoning_chars").fill_null(0),
        pl.col("tool_calls").fill_null(pl.lit([], pl.List(pl.String))),
        pl.col("models").fill_null(pl.lit([], pl.List(pl.String))),
    )


def content_table(df: pl.DataFrame, requests: pl.DataFrame) -> pl.DataFrame:
    """One row per (key, dir) for the B->P and P->C legs that carry payload."""
    return content_of_bodies(bodies_of(df, requests))


def leg(content: pl.DataFrame, direction: int) -> pl.DataFrame:
    """The content rows of one leg, columns prefixed `bp_`/`pc_` for joining onto requests."""
    prefix = "bp_" if direction == BP else "pc_"
    sub = content.filter(pl.col("dir") == direction).drop("dir")
    return sub.rename({c: prefix + "c_" + c for c in sub.columns if c != "key"})
