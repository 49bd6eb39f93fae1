"""One answer per question (docs/metrics.md): the same traffic gives the same per-call figures
through every path of the engine and every file format it can be stored in."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from fastcap.analysis.calls import CALLS_SCHEMA, calls_table
from fastcap.analysis.exchanges import calls_from_exchanges
from fastcap.analysis.stream_cbor import calls_from_scan, scan
from fastcap.cli import main
from fastcap.dialects import analyze_exchange
from fastcap.formats import read_exchanges
from fastcap.model import Exchange
from helpers import DATA, DEMO

# What a format cannot carry, by design: JSONL stores a JSON request body as a parsed value
# (`json_value`, docs/specs/reports.md §3.1), so its bytes are not the wire's.
FORMAT_LIMITS = {"jsonl": {"request_body_fidelity"}}


def assert_same_calls(
    a: pl.DataFrame, b: pl.DataFrame, *, skip: frozenset[str] | set[str] = frozenset()
) -> None:
    assert a.height == b.height
    for name, dtype in CALLS_SCHEMA.items():
        if name in skip:
            continue
        x, y = a[name], b[name]
        if dtype == pl.Float64:
            same = (x.is_null() & y.is_null()) | ((x - y).abs() < 1e-6).fill_null(False)
            assert same.all(), (name, x.to_list(), y.to_list())
        else:
            assert x.to_list() == y.to_list(), name


@pytest.fixture(scope="module")
def demo_calls() -> pl.DataFrame:
    return calls_from_exchanges(read_exchanges(DEMO))


def test_streaming_pass_and_exchanges_agree_on_the_demo(demo_calls: pl.DataFrame) -> None:
    meta, content, diagnostics = scan(DEMO)
    assert diagnostics == []
    assert_same_calls(calls_from_scan(meta, content), demo_calls)


@pytest.mark.parametrize("fmt", ["jsonl", "cbor"])
def test_converted_capture_gives_the_same_calls(tmp_path: Path, fmt: str, demo_calls: pl.DataFrame) -> None:
    """CBOR → JSONL, and CBOR → JSONL → CBOR: every per-call figure survives."""
    jsonl = tmp_path / "demo.jsonl"
    assert main(["convert", str(DEMO), str(jsonl)]) == 0
    out = jsonl
    if fmt == "cbor":
        out = tmp_path / "again.cbor"
        assert main(["convert", str(jsonl), str(out)]) == 0
    converted = calls_from_exchanges(read_exchanges(out))
    assert_same_calls(converted, demo_calls, skip=FORMAT_LIMITS["jsonl"])
    assert converted["error"].to_list()[3] == "server disconnected mid-stream"


def _eventstream_exchanges() -> list[Exchange]:
    es = [("content-type", "application/vnd.amazon.eventstream")]
    kiro = [("x-amz-target", "AmazonCodeWhispererStreamingService.GenerateAssistantResponse")]
    bodies = sorted((DATA / "eventstream" / "codewhisperer-shaped").glob("*.bin"))
    out = [
        Exchange(i, "cbor", "POST", "https://q.us-east-1.amazonaws.com/", request_headers=kiro, status=200,
                 response_headers=es, response_body=path.read_bytes())
        for i, path in enumerate(bodies)
    ]  # fmt: skip
    converse = "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse-stream"
    for path in sorted((DATA / "eventstream" / "bedrock-real").glob("*.bin")):
        out.append(
            Exchange(
                len(out),
                "cbor",
                "POST",
                converse,
                status=200,
                response_headers=es,
                response_body=path.read_bytes(),
            )
        )
    return out


def test_eventstream_calls_agree_with_the_kiro_and_bedrock_dialects() -> None:
    """kiro and Bedrock streams through the native events table give the dialects' figures."""
    exchanges = _eventstream_exchanges()
    engine = calls_from_exchanges(exchanges)
    assert_same_calls(engine, calls_table([analyze_exchange(ex) for ex in exchanges]))
    assert engine["text_chars"].min() is not None and engine["response_kind"].unique().to_list() == [
        "eventstream"
    ]
    cut = engine.filter(pl.col("error").str.starts_with("Truncated"))
    assert cut["issue_class"].to_list() == ["cut_stream"]


def test_eventstream_calls_through_a_cbor_capture(tmp_path: Path) -> None:
    """The same kiro and Bedrock calls stored in a CBOR capture: `fastcap analyze`'s streaming pass
    names them from the request's `x-amz-target` (kiro posts to `/`) and gives the exchanges'
    figures."""
    from fastcap.formats.writers import write_cbor

    exchanges = _eventstream_exchanges()
    for ex in exchanges:
        ex.started_at = 1_763_700_000.0 + ex.index
        ex.request_body = b'{"conversationState": {}}'
    path = tmp_path / "es.cbor"
    write_cbor(exchanges, path)
    streamed = calls_from_scan(*scan(path)[:2])
    assert_same_calls(streamed, calls_from_exchanges(read_exchanges(path)))
    assert "AmazonCodeWhispererStreamingService.GenerateAssistantResponse" in streamed["api_name"].to_list()
