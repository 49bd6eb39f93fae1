"""The calls-table columns inspect shows, as docs/metrics.md defines them and as `fastcap analyze`
computes them (`fastcap.analysis.stream_cbor.calls_from_scan`): the API and dialect of each
request, and usage normalised across providers.

Usage comes from the model API's leg (B->P), never from the client leg, which a gateway may have
translated to another API. The raw fields are the last value of each field the provider reported
(`analysis.content.aggregate_events`); `input_total` counts every prompt token, cached or not:
Anthropic (and Bedrock) report the uncached part only, OpenAI and Gemini the total with the
cached part inside it.
"""

from __future__ import annotations

import polars as pl

from fastcap.model import Exchange

USAGE_COLUMNS = (
    "input_total",
    "input_uncached",
    "cache_read",
    "cache_write",
    "output_total",
    "reasoning_tokens",
)


def _naming(method: str | None, url: str | None) -> tuple[str, str, bool]:
    """(API name, dialect, is model call) of one request shape, by the dialect registry."""
    from fastcap.dialects import api_name, detect_dialect, is_model_call

    ex = Exchange(index=0, source="cbor", method=method or "POST", url=url or "")
    return api_name(ex), detect_dialect(ex), is_model_call(ex)


def with_api_names(requests: pl.DataFrame) -> pl.DataFrame:
    """Add `api_name`, `dialect` and `is_model_call`, asking the registry once per distinct
    (method, url)."""
    shapes = requests.select("method", "url").unique()
    names = [_naming(m, u) for m, u in shapes.iter_rows()]
    shapes = shapes.with_columns(
        api_name=pl.Series([n[0] for n in names], dtype=pl.String),
        dialect=pl.Series([n[1] for n in names], dtype=pl.String),
        is_model_call=pl.Series([n[2] for n in names], dtype=pl.Boolean),
    )
    return requests.join(shapes, on=["method", "url"], how="left", nulls_equal=True, maintain_order="left")


def usage_columns(prefix: str = "bp_c_") -> list[pl.Expr]:
    """docs/metrics.md "Usage" from a leg's raw usage fields and the request's `dialect`."""
    dialect = pl.col("dialect")
    anthropic = dialect.is_in(["anthropic", "bedrock"])
    inp, out, cr, cw, rt = (
        pl.col(prefix + c).cast(pl.Int64)
        for c in (
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "reasoning_tokens",
        )
    )
    return [
        pl.when(anthropic).then(inp + cr.fill_null(0) + cw.fill_null(0)).otherwise(inp).alias("input_total"),
        pl.when(anthropic)
        .then(inp)
        .otherwise(inp - cr.fill_null(0) - cw.fill_null(0))
        .alias("input_uncached"),
        cr.alias("cache_read"),
        cw.alias("cache_write"),
        pl.when(dialect == "gemini").then(out + rt.fill_null(0)).otherwise(out).alias("output_total"),
        rt.alias("reasoning_tokens"),
    ]


def with_usage(requests: pl.DataFrame) -> pl.DataFrame:
    """`requests` with B->P content joined (`bp_c_*`): add the API naming and the usage columns."""
    return with_api_names(requests).with_columns(usage_columns())


def _n(v: int | None) -> str:
    return "—" if v is None else f"{v:,}"


def usage_text(r: dict[str, object]) -> str | None:
    """`input=51,363 (1,203 uncached, 48,112 cache read, 2,048 cache write), output=96`; None
    when the response reported no usage at all."""
    vals = {c: r.get(c) for c in USAGE_COLUMNS}
    if all(v is None for v in vals.values()):
        return None
    ints = {c: v if isinstance(v, int) else None for c, v in vals.items()}
    text = f"input={_n(ints['input_total'])}"
    parts = []
    if ints["cache_read"] is not None or ints["cache_write"] is not None:
        parts.append(f"{_n(ints['input_uncached'])} uncached")
        if ints["cache_read"] is not None:
            parts.append(f"{_n(ints['cache_read'])} cache read")
        if ints["cache_write"] is not None:
            parts.append(f"{_n(ints['cache_write'])} cache write")
    if parts:
        text += f" ({', '.join(parts)})"
    text += f", output={_n(ints['output_total'])}"
    if ints["reasoning_tokens"]:
        text += f" ({_n(ints['reasoning_tokens'])} reasoning)"
    return text


__all__ = ["USAGE_COLUMNS", "usage_columns", "usage_text", "with_api_names", "with_usage"]
