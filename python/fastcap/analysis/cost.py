"""What each call cost, in US dollars, from genai-prices' bundled price data (docs/metrics.md, Cost).

Prices are looked up once per distinct (provider, model, day, long-context tier) of the calls
table, never once per row, and applied to whole columns in Polars. genai-prices is used offline:
only the snapshot shipped in the package is read (its auto-update, which fetches prices over the
network, is never started). A call whose model genai-prices does not know, or whose usage is
unknown, costs null ("unpriced"), never $0; kiro's metered credits are not priced (they stay
credits).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:  # genai-prices takes a quarter of a second to import: only when pricing
    from genai_prices.types import ModelPrice, TieredPrices

# The genai-prices provider of each dialect, for hosts its URL patterns do not recognise
# (a company gateway speaking Anthropic's API is priced as Anthropic). kiro meters credits.
PROVIDER_BY_DIALECT = {
    "anthropic": "anthropic",
    "bedrock": "aws",
    "openai_responses": "openai",
    "openai_chat": "openai",
    "gemini": "google",
}
UNPRICED_DIALECTS = ("kiro",)

# Per-token price keys of genai-prices (USD per million tokens), and the price a kind falls back
# to when the model has none of its own (genai-prices' decomposition: an unpriced part of the
# input stays in its parent and is priced as it).
PRICE_KEYS = {
    "input": "input_mtok",
    "cache_read": "cache_read_mtok",
    "cache_write": "cache_write_mtok",
    "cache_write_1h": "cache_write_1h_mtok",
    "output": "output_mtok",
}
FALLBACK = {"cache_read": "input", "cache_write": "input", "cache_write_1h": "cache_write"}
COST_COLUMNS: dict[str, pl.DataType | type[pl.DataType]] = {
    "cost_usd": pl.Float64,
    # The genai-prices model the call was priced as; null when unpriced.
    "price_model": pl.Utf8,
}


def prices_available() -> bool:
    """genai-prices can be imported (a dependency; without it every call is unpriced, never $0)."""
    try:
        import genai_prices.data_snapshot  # noqa: F401
    except ImportError:
        return False
    return True


def prices_version() -> str:
    """The price source as the overview names it: the genai-prices release whose bundled data
    prices the calls."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        if prices_available():
            return f"genai-prices {version('genai-prices')}"
    except PackageNotFoundError:
        pass
    return "genai-prices not installed: every call unpriced"


@dataclass(frozen=True)
class UnitPrices:
    """USD per token of each kind for one model in one long-context tier, plus per request."""

    model_id: str
    per_token: dict[str, float]
    per_request: float


def _price_at(value: Decimal | TieredPrices | None, input_total: int) -> Decimal | None:
    """A genai-prices price for a request of `input_total` prompt tokens: a tiered price's highest
    tier whose start the request exceeds, else its base (genai-prices' rule)."""
    if value is None or isinstance(value, Decimal):
        return value
    price = value.base
    for tier in value.tiers:  # ascending by start
        if input_total > tier.start:
            price = tier.price
    return price


def _thresholds(model_price: ModelPrice) -> list[int]:
    """The input sizes where a tier of any of the model's prices starts: requests between two of
    them pay the same prices."""
    from genai_prices.types import TieredPrices

    starts: set[int] = set()
    for key in PRICE_KEYS.values():
        value = getattr(model_price, key, None)
        if isinstance(value, TieredPrices):
            starts.update(t.start for t in value.tiers)
    return sorted(starts)


def _model_price(
    provider: str | None, url: str | None, model: str, day: datetime
) -> tuple[str, ModelPrice] | None:
    """(genai-prices model id, ModelPrice) of a model on a day: the provider its URL patterns
    recognise in `url`, else `provider`; None when genai-prices does not know the model."""
    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()  # the bundled data: no network
    for pid, api_url in ((None, url), (provider, None)):
        if pid is None and api_url is None:
            continue
        try:
            _, info = snapshot.find_provider_model(model, None, pid, api_url)
        except LookupError:
            continue
        return info.id, info.get_prices(day)
    return None


def unit_prices(model_price: ModelPrice, model_id: str, tier: int) -> UnitPrices:
    """The prices of the `tier`-th range between `_thresholds` (0: up to the first start)."""
    starts = _thresholds(model_price)
    size = 0 if tier == 0 else starts[tier - 1] + 1  # any request size inside that range
    per_mtok: dict[str, Decimal | None] = {
        k: _price_at(getattr(model_price, key, None), size) for k, key in PRICE_KEYS.items()
    }
    for kind in ("cache_read", "cache_write", "cache_write_1h"):  # parents first
        if per_mtok[kind] is None:
            per_mtok[kind] = per_mtok[FALLBACK[kind]]
    requests = getattr(model_price, "requests_kcount", None)
    return UnitPrices(
        model_id=model_id,
        per_token={k: float(v) / 1e6 if v is not None else 0.0 for k, v in per_mtok.items()},
        per_request=float(requests) / 1000 if requests is not None else 0.0,
    )


def _day(ts: float | None) -> datetime:
    if ts is None:
        return datetime.now(tz=UTC)
    return datetime.fromtimestamp(ts, tz=UTC).replace(hour=12, minute=0, second=0, microsecond=0)


def with_cost(calls: pl.DataFrame) -> pl.DataFrame:
    """`calls` with `COST_COLUMNS` filled (docs/metrics.md, Cost), replacing any there. Needs the
    calls table's `dialect`, `host`, `path`, `model`, `started_at`, `is_model_call` and usage columns."""
    calls = calls.drop(*COST_COLUMNS, strict=False)
    usage_known = pl.col("input_total").is_not_null() & pl.col("output_total").is_not_null()
    priceable = (
        pl.col("is_model_call").fill_null(False)
        & usage_known
        & pl.col("model").is_not_null()
        & ~pl.col("dialect").is_in(UNPRICED_DIALECTS)
    )
    work = calls.with_row_index("_row").with_columns(
        _day=(pl.col("started_at") // 86400).cast(pl.Int64),
        _priceable=priceable,
    )
    keys = ["dialect", "host", "path", "model", "_day"]
    groups = work.filter("_priceable").select(keys).unique(maintain_order=True)
    if groups.height == 0 or not prices_available():
        return calls.with_columns(pl.lit(None, t).alias(c) for c, t in COST_COLUMNS.items())
    found: list[tuple[str, ModelPrice] | None] = []
    for dialect, host, path, model, day in groups.iter_rows():
        url = f"https://{host}{path}" if host else None
        found.append(
            _model_price(
                PROVIDER_BY_DIALECT.get(dialect), url, model, _day(day * 86400.0 if day is not None else None)
            )
        )
    groups = groups.with_columns(
        _group=pl.int_range(pl.len(), dtype=pl.UInt32),
        _thresholds=pl.Series([_thresholds(f[1]) if f else [] for f in found], dtype=pl.List(pl.Int64)),
    )
    work = work.join(groups, on=keys, how="left", nulls_equal=True, maintain_order="left")
    tiers = _tiers(work)
    work = work.join(tiers, on="_row", how="left", maintain_order="left").with_columns(
        _tier=pl.when(pl.col("_group").is_not_null()).then(pl.col("_tier").fill_null(0))
    )
    distinct = (
        work.filter(pl.col("_group").is_not_null()).select("_group", "_tier").unique(maintain_order=True)
    )
    rows = []
    for group, tier in distinct.iter_rows():
        hit = found[group]
        if hit is None:
            continue
        up = unit_prices(hit[1], hit[0], tier)
        rows.append(
            {
                "_group": group,
                "_tier": tier,
                "price_model": up.model_id,
                "_per_request": up.per_request,
                **{f"_p_{k}": v for k, v in up.per_token.items()},
            }
        )
    price_schema = {
        "_group": pl.UInt32,
        "_tier": pl.Int64,
        "price_model": pl.Utf8,
        "_per_request": pl.Float64,
        **{f"_p_{k}": pl.Float64 for k in PRICE_KEYS},
    }
    prices = pl.DataFrame(rows, schema=price_schema)
    work = work.join(prices, on=["_group", "_tier"], how="left", nulls_equal=False, maintain_order="left")
    cr = pl.col("cache_read").fill_null(0)
    cw = pl.col("cache_write").fill_null(0)
    cw1h = pl.min_horizontal(pl.col("cache_write_1h").fill_null(0), cw)
    uncached = pl.col("input_total") - cr - cw
    cost = (
        uncached * pl.col("_p_input")
        + cr * pl.col("_p_cache_read")
        + (cw - cw1h) * pl.col("_p_cache_write")
        + cw1h * pl.col("_p_cache_write_1h")
        + pl.col("output_total") * pl.col("_p_output")
        + pl.col("_per_request")
    )
    work = work.with_columns(
        cost_usd=pl.when(pl.col("_priceable") & pl.col("price_model").is_not_null()).then(cost),
        price_model=pl.when(pl.col("_priceable")).then(pl.col("price_model")),
    )
    return work.sort("_row").select(*calls.columns, *[pl.col(c).cast(t) for c, t in COST_COLUMNS.items()])


def _tiers(work: pl.DataFrame) -> pl.DataFrame:
    """(_row, _tier): the long-context tier of each priced request, the number of its model's tier
    starts that its whole input (`input_total`) exceeds (genai-prices' rule)."""
    flat = work.filter(pl.col("_group").is_not_null()).select("_row", "input_total", "_thresholds")
    exploded = flat.explode("_thresholds")  # a model without tiers has no row here: tier 0
    return exploded.group_by("_row").agg(
        _tier=(pl.col("_thresholds") < pl.col("input_total")).fill_null(False).sum().cast(pl.Int64)
    )
