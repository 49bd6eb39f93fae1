"""Cost per call (docs/metrics.md, Cost): golden values for each provider's rule, checked against
genai-prices' own per-call calculation, and the same cost through every path of the engine."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from fastcap.analysis.calls import CALLS_SCHEMA, calls_table
from fastcap.analysis.cost import with_cost
from fastcap.analysis.exchanges import calls_from_exchanges
from fastcap.analysis.stream_cbor import calls_from_scan, scan
from fastcap.dialects import analyze_exchange
from fastcap.formats.writers import write_cbor
from fastcap.model import Exchange
from genai_prices import Usage, calc_price

# 2026-11-20, a day the bundled prices cover.
T0 = 1_763_640_000.0

HOSTS = {
    "anthropic": ("api.anthropic.com", "/v1/messages"),
    "openai_responses": ("api.openai.com", "/v1/responses"),
    "openai_chat": ("api.openai.com", "/v1/chat/completions"),
    "kiro": ("q.us-east-1.amazonaws.com", "/"),
    "gemini": ("generativelanguage.googleapis.com", "/v1beta/models/gemini-2.5-pro:streamGenerateContent"),
}


def _calls(rows: list[dict[str, object]]) -> pl.DataFrame:
    """A calls table of model calls with the given usage (the rest unknown)."""
    full = []
    for r in rows:
        host, path = HOSTS[str(r["dialect"])]
        full.append({"is_model_call": True, "started_at": T0, "host": host, "path": path, **r})
    cols = [c for c in CALLS_SCHEMA if c not in ("cost_usd", "price_model")]
    return pl.DataFrame(full, schema={c: CALLS_SCHEMA[c] for c in cols})


def _oracle(row: dict[str, object], provider: str) -> float:
    """genai-prices' own calculation of one call."""
    usage = Usage(
        input_tokens=row["input_total"],
        cache_read_tokens=row.get("cache_read"),
        cache_write_tokens=row.get("cache_write"),
        cache_write_1h_tokens=row.get("cache_write_1h"),
        output_tokens=row["output_total"],
    )
    price = calc_price(
        usage,
        str(row["model"]),
        provider_id=provider,
        genai_request_timestamp=datetime.fromtimestamp(T0, tz=UTC),
    )
    return float(price.total_price)


GOLDEN = [
    # Anthropic: 900 uncached at $3/MTok + 100 written to the 5-minute cache at $3.75/MTok.
    ({"dialect": "anthropic", "model": "claude-sonnet-4-5", "input_total": 1000, "cache_write": 100,
      "output_total": 0}, "anthropic", 0.003075),
    # … the same 100 written to the 1-hour cache: $6/MTok.
    ({"dialect": "anthropic", "model": "claude-sonnet-4-5", "input_total": 1000, "cache_write": 100,
      "cache_write_1h": 100, "output_total": 0}, "anthropic", 0.0033),
    # Split: 40 at 5 minutes, 60 at 1 hour, plus 50 output at $15/MTok.
    ({"dialect": "anthropic", "model": "claude-sonnet-4-5-20250929", "input_total": 1000, "cache_write": 100,
      "cache_write_1h": 60, "output_total": 50}, "anthropic", (900 * 3 + 40 * 3.75 + 60 * 6 + 50 * 15) / 1e6),
    # OpenAI: the cached part is inside the input count: 2,000 at $1.25, 8,000 at $0.125, 100 out at $10.
    ({"dialect": "openai_responses", "model": "gpt-5", "input_total": 10_000, "cache_read": 8000,
      "output_total": 100}, "openai", 0.0045),
    # Long context: a request above 200k input tokens pays the higher tier for every token.
    ({"dialect": "anthropic", "model": "claude-sonnet-4-5", "input_total": 250_000, "output_total": 1000},
     "anthropic", (250_000 * 6 + 1000 * 22.5) / 1e6),
    # Gemini 2.5 Pro above 200k: 250k input of which 100k cached, all at the higher tier.
    ({"dialect": "gemini", "model": "gemini-2.5-pro", "input_total": 250_000, "cache_read": 100_000,
      "output_total": 2000}, "google", (150_000 * 2.5 + 100_000 * 0.25 + 2000 * 15) / 1e6),
    # … and exactly 200k stays in the base tier.
    ({"dialect": "anthropic", "model": "claude-sonnet-4-5", "input_total": 200_000, "output_total": 1000},
     "anthropic", (200_000 * 3 + 1000 * 15) / 1e6),
]  # fmt: skip


@pytest.mark.parametrize(("row", "provider", "usd"), GOLDEN)
def test_golden_cost_per_provider_rule(row: dict[str, object], provider: str, usd: float) -> None:
    priced = with_cost(_calls([row]))
    assert priced["cost_usd"][0] == pytest.approx(usd, rel=1e-9)
    assert priced["cost_usd"][0] == pytest.approx(_oracle(row, provider), rel=1e-9)
    assert priced["price_model"][0] is not None


def test_tiers_are_decided_per_request_in_one_table() -> None:
    """Two requests of one model on either side of the 200k threshold, priced in one pass."""
    rows = [GOLDEN[4][0], GOLDEN[6][0]]
    assert with_cost(_calls(rows))["cost_usd"].to_list() == pytest.approx([GOLDEN[4][2], GOLDEN[6][2]])


def test_unpriced_model_unknown_usage_and_credits_are_null_never_zero() -> None:
    rows = [
        {"dialect": "openai_chat", "model": "my-local-llama-7b", "input_total": 10, "output_total": 5},
        {"dialect": "anthropic", "model": "claude-sonnet-4-5", "input_total": None, "output_total": None},
        {
            "dialect": "kiro",
            "model": "claude-sonnet-4.5",
            "input_total": 10,
            "output_total": 5,
            "credits": 0.4,
        },
        {"dialect": "anthropic", "model": None, "input_total": 10, "output_total": 5},
    ]
    priced = with_cost(_calls(rows))
    assert priced["cost_usd"].to_list() == [None] * 4
    assert priced["price_model"].to_list() == [None] * 4
    assert priced["credits"].to_list()[2] == 0.4


def test_twenty_thousand_calls_are_priced_in_one_pass() -> None:
    models = ["claude-sonnet-4-5", "claude-opus-4-5", "claude-haiku-4-5", "not-a-model"]
    rows = [
        {"dialect": "anthropic", "model": models[i % 4], "input_total": 1000 + i * 13, "cache_read": 500,
         "cache_write": 100, "cache_write_1h": i % 2 * 100, "output_total": 40}
        for i in range(20_000)
    ]  # fmt: skip
    calls = _calls(rows)
    start = time.perf_counter()
    priced = with_cost(calls)
    elapsed = time.perf_counter() - start
    assert priced["cost_usd"].null_count() == 5000
    assert priced.drop("cost_usd", "price_model").equals(calls)
    assert elapsed < 2.0, elapsed


def _anthropic_stream(one_hour: int) -> bytes:
    start = (
        '{"type":"message_start","message":{"id":"msg_1","model":"claude-sonnet-4-5","usage":'
        '{"input_tokens":900,"cache_read_input_tokens":0,"cache_creation_input_tokens":100,'
        f'"cache_creation":{{"ephemeral_5m_input_tokens":{100 - one_hour},"ephemeral_1h_input_tokens":{one_hour}}},'
        '"output_tokens":1}}}'
    )
    events = [
        ("message_start", start),
        (
            "content_block_start",
            '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}',
        ),
        (
            "content_block_delta",
            '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}',
        ),
        ("content_block_stop", '{"type":"content_block_stop","index":0}'),
        (
            "message_delta",
            '{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":50}}',
        ),
        ("message_stop", '{"type":"message_stop"}'),
    ]
    return "".join(f"event: {e}\ndata: {d}\n\n" for e, d in events).encode()


def _anthropic_exchange(index: int, body: bytes, ctype: str) -> Exchange:
    return Exchange(
        index,
        "cbor",
        "POST",
        "https://api.anthropic.com/v1/messages",
        request_headers=[("content-type", "application/json")],
        request_body=b'{"model":"claude-sonnet-4-5","stream":true,"messages":[]}',
        status=200,
        response_headers=[("content-type", ctype)],
        response_body=body,
        started_at=T0 + index,
    )


def test_cache_write_tiers_through_the_engine_and_the_dialects(tmp_path: Path) -> None:
    """The 1-hour writes of a stream and of a JSON body reach `cache_write_1h` and the cost, the
    same through the native events table, the streaming CBOR pass and the dialect objects."""
    json_body = (
        b'{"type":"message","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Hi"}],'
        b'"stop_reason":"end_turn","usage":{"input_tokens":900,"cache_creation_input_tokens":100,'
        b'"cache_creation":{"ephemeral_5m_input_tokens":40,"ephemeral_1h_input_tokens":60},"output_tokens":50}}'
    )
    exchanges = [
        _anthropic_exchange(0, _anthropic_stream(0), "text/event-stream"),
        _anthropic_exchange(1, _anthropic_stream(100), "text/event-stream"),
        _anthropic_exchange(2, json_body, "application/json"),
    ]
    engine = calls_from_exchanges(exchanges)
    dialects = calls_table([analyze_exchange(ex) for ex in exchanges])
    path = tmp_path / "tiers.cbor"
    write_cbor(exchanges, path)
    streamed = calls_from_scan(*scan(path)[:2])
    for table in (engine, dialects, streamed):
        assert table["cache_write_1h"].to_list() == [0, 100, 60]
        assert table["cost_usd"].to_list() == pytest.approx(
            [(2700 + 375 + 750) / 1e6, (2700 + 600 + 750) / 1e6, (2700 + 150 + 360 + 750) / 1e6]
        )


def test_each_price_takes_its_own_tier() -> None:
    """Prices whose tiers start at different sizes: a request between the starts pays each
    price's own tier (a made-up model, built with genai-prices' types)."""
    from decimal import Decimal

    from fastcap.analysis.cost import unit_prices
    from genai_prices.types import ModelPrice, Tier, TieredPrices

    price = ModelPrice(
        input_mtok=TieredPrices(base=Decimal(1), tiers=[Tier(start=128_000, price=Decimal(2)), Tier(start=200_000, price=Decimal(4))]),
        output_mtok=TieredPrices(base=Decimal(10), tiers=[Tier(start=200_000, price=Decimal(20))]),
    )  # fmt: skip
    per_tier = [unit_prices(price, "m", tier).per_token for tier in range(3)]
    assert [p["input"] * 1e6 for p in per_tier] == pytest.approx([1, 2, 4])
    assert [p["output"] * 1e6 for p in per_tier] == pytest.approx([10, 10, 20])
    # No cache prices: cached tokens are priced as input.
    assert [p["cache_read"] for p in per_tier] == [p["input"] for p in per_tier]
