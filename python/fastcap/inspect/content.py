"""Content accounting per request and leg (docs/specs/cbor-v2.md §11.7): text, reasoning, tool calls, models,
stop reason, errors and usage, for Anthropic, OpenAI Responses, OpenAI Chat, Gemini and kiro.

The body of a leg is its payload entries joined in chunk order (`ci`, then `seq`), HTTP framing
removed. SSE bodies (the bulk) go through one call of the native vectorised splitter
(`sse_column`), whose extracted fields are aggregated with one Polars `group_by`; JSON bodies and
AWS EventStream bodies (kiro, Bedrock) go through the dialect analysers, once per response.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from fastcap import _native
from fastcap.inspect.common import BP, PC
from fastcap.inspect.redaction import header_value, split_http

SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "key": pl.String,
    "dir": pl.Int64,
    "kind": pl.String,
    "events": pl.Int64,
    "chars": pl.Int64,
    "reasoning_chars": pl.Int64,
    "tools": pl.List(pl.String),
    "models": pl.List(pl.String),
    "stop_reason": pl.String,
    "error_type": pl.String,
    "error_message": pl.String,
    "input_tokens": pl.Int64,
    "output_tokens": pl.Int64,
    "done": pl.Boolean,
}


@dataclass
class Body:
    key: str
    dir: int
    data: bytes
    content_type: str
    url: str
    status: int | None


def _kind(body: Body) -> str:
    ct = body.content_type
    data = body.data
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
        data = b"".join(datas)
        ctype = ""
        parts = split_http(data) if d == BP else None
        if parts is not None and parts[0].startswith(b"HTTP/"):
            ctype = (header_value(parts[0], "content-type") or "").lower()
            data = parts[1]
        out.append(Body(key, d, data, ctype, url or "", status))
    return out


def _sse_stats(bodies: list[Body]) -> pl.DataFrame:
    if not bodies:
        return pl.DataFrame(schema=SCHEMA)
    ev = pl.DataFrame(_native.sse_column([b.data for b in bodies]))
    ids = pl.DataFrame(
        {
            "exchange_index": list(range(len(bodies))),
            "key": [b.key for b in bodies],
            "dir": [b.dir for b in bodies],
        },
        schema={"exchange_index": pl.UInt32, "key": pl.String, "dir": pl.Int64},
    )
    if ev.height == 0:
        agg = ids.with_columns(pl.lit("sse").alias("kind"), pl.lit(0, pl.Int64).alias("events"))
        return pl.DataFrame(schema=SCHEMA).vstack(
            agg.select(list(SCHEMA)[:4]).with_columns(
                *[pl.lit(None, t).alias(c) for c, t in list(SCHEMA.items())[4:]]
            )
        )
    stats = ev.group_by("exchange_index").agg(
        pl.len().cast(pl.Int64).alias("events"),
        pl.col("text").str.len_chars().sum().cast(pl.Int64).alias("chars"),
        pl.col("reasoning").str.len_chars().sum().cast(pl.Int64).alias("reasoning_chars"),
        pl.col("tool_name")
        .drop_nulls()
        .str.split(",")
        .list.explode(keep_nulls=False, empty_as_null=False)
        .alias("tools"),
        pl.col("model").drop_nulls().unique(maintain_order=True).alias("models"),
        pl.col("stop_reason").drop_nulls().last().alias("stop_reason"),
        pl.col("error_type").drop_nulls().first().alias("error_type"),
        pl.coalesce(
            pl.col("error_message").drop_nulls().first(),
            pl.col("error_type").drop_nulls().first(),
        ).alias("error_message"),
        pl.col("input_tokens").drop_nulls().last().alias("input_tokens"),
        pl.col("output_tokens").drop_nulls().last().alias("output_tokens"),
        pl.col("is_done").any().alias("done"),
    )
    out = ids.join(stats, on="exchange_index", how="left").with_columns(
        pl.lit("sse").alias("kind"),
        pl.col("events").fill_null(0),
        pl.col("chars").fill_null(0),
        pl.col("reasoning_chars").fill_null(0),
    )
    return out.select([pl.col(c).cast(t) for c, t in SCHEMA.items()])


def _dialect_stats(bodies: list[Body], kinds: list[str]) -> pl.DataFrame:
    from fastcap.dialects import analyze_exchange
    from fastcap.model import Exchange

    recs = []
    for b, kind in zip(bodies, kinds, strict=True):
        ctype = b.content_type or {
            "json": "application/json",
            "eventstream": "application/vnd.amazon.eventstream",
        }.get(kind, "")
        ex = Exchange(
            index=0,
            source="cbor",
            method="POST",
            url=b.url,
            status=b.status,
            response_headers=[("content-type", ctype)] if ctype else [],
            response_body=b.data,
        )
        rec: dict[str, object] = {"key": b.key, "dir": b.dir, "kind": kind}
        try:
            r = analyze_exchange(ex).response
        except Exception as exc:  # a dialect bug must not take the inspector down
            rec.update(events=0, chars=0, reasoning_chars=0, error_message=f"(could not analyse: {exc})")
            recs.append(rec)
            continue
        body_errors = [e for e in r.errors if e.source != "http_status"]
        err = body_errors[0] if body_errors else None
        rec.update(
            events=len(r.events),
            chars=len(r.text),
            reasoning_chars=len(r.reasoning_text),
            tools=[t.name for t in r.tool_calls],
            models=[r.model] if r.model else [],
            stop_reason=r.stop_reason,
            error_type=err.type if err else None,
            error_message=(err.message or err.type) if err else None,
            input_tokens=r.usage.input_total if r.usage else None,
            output_tokens=r.usage.output_total if r.usage else None,
            done=r.complete,
        )
        recs.append(rec)
    return pl.DataFrame(recs, schema=SCHEMA) if recs else pl.DataFrame(schema=SCHEMA)


def content_table(df: pl.DataFrame, requests: pl.DataFrame) -> pl.DataFrame:
    """One row per (key, dir) for the B->P and P->C legs that carry payload."""
    bodies = bodies_of(df, requests)
    kinds = [_kind(b) for b in bodies]
    sse = [b for b, k in zip(bodies, kinds, strict=True) if k == "sse"]
    other = [(b, k) for b, k in zip(bodies, kinds, strict=True) if k in ("json", "eventstream")]
    plain = [(b, k) for b, k in zip(bodies, kinds, strict=True) if k not in ("sse", "json", "eventstream")]
    parts = [_sse_stats(sse), _dialect_stats([b for b, _ in other], [k for _, k in other])]
    if plain:
        parts.append(
            pl.DataFrame(
                [
                    {"key": b.key, "dir": b.dir, "kind": k, "events": 0, "chars": 0, "reasoning_chars": 0}
                    for b, k in plain
                ],
                schema=SCHEMA,
            )
        )
    return pl.concat(parts, how="vertical")


def leg(content: pl.DataFrame, direction: int) -> pl.DataFrame:
    """The content rows of one leg, columns prefixed `bp_`/`pc_` for joining onto requests."""
    prefix = "bp_" if direction == BP else "pc_"
    sub = content.filter(pl.col("dir") == direction).drop("dir")
    return sub.rename({c: prefix + "c_" + c for c in sub.columns if c != "key"})
