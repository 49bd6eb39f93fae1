"""The engine against the dialects, on hand-built exchanges: both paths of docs/metrics.md's calls
table must give the same value in every column (`fastcap.analysis.exchanges.calls_from_exchanges`
is the engine; `calls_table` over `analyze_exchange` is the per-call dialect path)."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
from fastcap.analysis.calls import CALLS_SCHEMA, calls_table
from fastcap.analysis.exchanges import calls_from_exchanges
from fastcap.dialects import analyze_exchange
from fastcap.model import Chunk, Exchange

SSE = [("content-type", "text/event-stream; charset=utf-8")]
EVENTSTREAM = [("content-type", "application/vnd.amazon.eventstream")]


def exchange(
    url: str,
    body: bytes,
    *,
    response_headers: list[tuple[str, str]] | None = None,
    request_headers: list[tuple[str, str]] | None = None,
    request_body: bytes | None = None,
    status: int = 200,
    index: int = 0,
    t0: float | None = 1_767_225_600.0,
) -> Exchange:
    """One exchange answered 0.5 s after it was sent: a stream as one timed chunk (so TTFB and
    TTFT are known) that ends 0.5 s later, any other response as one record (as readers keep
    them)."""
    headers = SSE if response_headers is None else response_headers
    stream = any(k.lower() == "content-type" and "stream" in v for k, v in headers)
    chunks = [Chunk(t=t0 + 0.5, data=body)] if t0 is not None and body and stream else []
    return Exchange(
        index=index,
        source="cbor",
        method="POST",
        url=url,
        request_headers=request_headers or [],
        request_body=request_body,
        status=status,
        response_headers=headers,
        response_body=body,
        chunks=chunks,
        started_at=t0,
        request_ended_at=t0,
        response_started_at=None if t0 is None else t0 + 0.5,
        ended_at=None if t0 is None else t0 + (1.0 if stream else 0.5),
    )


def both_paths(exchanges: Sequence[Exchange]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(engine, dialects): the calls table through each path."""
    return calls_from_exchanges(exchanges), calls_table([analyze_exchange(ex) for ex in exchanges])


def assert_same_calls(a: pl.DataFrame, b: pl.DataFrame) -> None:
    assert a.height == b.height
    for name, dtype in CALLS_SCHEMA.items():
        x, y = a[name], b[name]
        if dtype == pl.Float64:
            same = (x.is_null() & y.is_null()) | ((x - y).abs() < 1e-9).fill_null(False)
            assert same.all(), (name, x.to_list(), y.to_list())
        else:
            assert x.to_list() == y.to_list(), (name, x.to_list(), y.to_list())


def agreed_calls(exchanges: Sequence[Exchange]) -> pl.DataFrame:
    """The calls table, after checking that both paths give it."""
    engine, dialects = both_paths(exchanges)
    assert_same_calls(engine, dialects)
    return engine
