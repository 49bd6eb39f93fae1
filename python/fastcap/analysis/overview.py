"""The compact overview `fastcap analyze` prints and writes: requests, models, status mix,
timing percentiles, tokens and issues, computed from the calls table (rendered by
`fastcap.reports.overview`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from fastcap.analysis.issues import Issue, issue_list


@dataclass
class CostSummary:
    """What the model calls cost (docs/metrics.md, Cost): the sum over the priced calls, by model
    and by conversation, and what could not be priced (never counted as $0)."""

    total_usd: float | None
    priced_calls: int
    unpriced_calls: int  # model calls with usage whose model has no price
    unknown_usage_calls: int  # model calls that reported no usage
    unpriced_models: list[tuple[str, int]]
    by_model: list[tuple[str, float]]
    by_conversation: list[tuple[str, float]]
    prices: str  # the price source and its version

    def to_json(self) -> dict[str, Any]:
        return {
            "total_usd": self.total_usd,
            "priced_calls": self.priced_calls,
            "unpriced_calls": self.unpriced_calls,
            "unknown_usage_calls": self.unknown_usage_calls,
            "unpriced_models": dict(self.unpriced_models),
            "by_model": dict(self.by_model),
            "by_conversation": dict(self.by_conversation),
            "prices": self.prices,
        }


def _sums(calls: pl.DataFrame, key: str) -> list[tuple[str, float]]:
    """Cost per value of `key` over the priced calls, most expensive first."""
    groups = (
        calls.filter(pl.col("cost_usd").is_not_null() & pl.col(key).is_not_null())
        .group_by(key)
        .agg(pl.col("cost_usd"))
    )
    # math.fsum is exact, so the sum is the same whatever order Polars' threads gathered the values
    # in (its own sum could differ in the last digit between two runs on the same data).
    sums = [(str(k), math.fsum(v)) for k, v in groups.iter_rows()]
    return sorted(sums, key=lambda kv: (-kv[1], kv[0]))


def cost_summary(model_calls: pl.DataFrame) -> CostSummary | None:
    """The cost of the model calls of a calls table; None when there are none."""
    from fastcap.analysis.cost import prices_version

    if model_calls.height == 0:
        return None
    priced = model_calls.filter(pl.col("cost_usd").is_not_null())
    usage = model_calls["input_total"].is_not_null() & model_calls["output_total"].is_not_null()
    unpriced = model_calls.filter(usage & pl.col("cost_usd").is_null())
    return CostSummary(
        total_usd=math.fsum(priced["cost_usd"]) if priced.height else None,
        priced_calls=priced.height,
        unpriced_calls=unpriced.height,
        unknown_usage_calls=int((~usage).sum()),
        unpriced_models=_counts(unpriced["model"].fill_null("(no model)")),
        by_model=_sums(model_calls, "model"),
        by_conversation=_sums(model_calls, "conversation_id"),
        prices=prices_version(),
    )


@dataclass
class QuotaSummary:
    """The lowest rate-limit headroom the responses showed (docs/metrics.md, Quota)."""

    calls_with_headers: int
    lowest_headroom_pct: float | None  # 100 − the highest `ratelimit_used_pct`
    window: str | None
    call_index: int | None
    statuses: list[tuple[str, int]]  # Anthropic subscriptions' unified status

    def to_json(self) -> dict[str, Any]:
        return {
            "calls_with_headers": self.calls_with_headers,
            "lowest_headroom_pct": self.lowest_headroom_pct,
            "window": self.window,
            "call": self.call_index,
            "statuses": dict(self.statuses),
        }


def quota_summary(calls: pl.DataFrame) -> QuotaSummary | None:
    with_headers = calls.filter(pl.col("ratelimit_headers").is_not_null())
    if with_headers.height == 0:
        return None
    used = with_headers.filter(pl.col("ratelimit_used_pct").is_not_null())
    worst = used.sort("ratelimit_used_pct", descending=True, maintain_order=True).head(1)
    return QuotaSummary(
        calls_with_headers=with_headers.height,
        lowest_headroom_pct=max(0.0, 100.0 - worst["ratelimit_used_pct"][0]) if worst.height else None,
        window=worst["ratelimit_window"][0] if worst.height else None,
        call_index=int(worst["index"][0]) if worst.height else None,
        statuses=_counts(with_headers["ratelimit_status"]),
    )


@dataclass
class Overview:
    source: str
    fmt: str
    calls: int
    model_calls: int
    apis: list[tuple[str, int]]
    models: list[tuple[str, int]]
    statuses: list[tuple[str, int]]
    timing: dict[str, dict[str, float | None]]
    # Sums over the model calls that report each figure; None when none does (never 0 for unknown).
    tokens: dict[str, int | None]
    duration_s: float | None
    usage_calls: int = 0  # model calls that report any usage
    credits: float | None = None  # kiro's metering, in its own unit (docs/metrics.md): never tokens
    cost: CostSummary | None = None  # docs/metrics.md, Cost; None when no model call was priced or unpriced
    quota: QuotaSummary | None = (
        None  # docs/metrics.md, Quota; None when no response carried rate-limit headers
    )
    issues: list[Issue] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def issue_groups(self) -> dict[str, list[Issue]]:
        """The issues by class, classes in `ISSUE_LABELS` order (the issues are sorted so)."""
        groups: dict[str, list[Issue]] = {}
        for issue in self.issues:
            groups.setdefault(issue.kind, []).append(issue)
        return groups

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.fmt,
            "calls": self.calls,
            "model_calls": self.model_calls,
            "apis": dict(self.apis),
            "models": dict(self.models),
            "statuses": dict(self.statuses),
            "timing": self.timing,
            "tokens": self.tokens,
            "usage_calls": self.usage_calls,
            "credits": self.credits,
            "cost": self.cost.to_json() if self.cost is not None else None,
            "quota": self.quota.to_json() if self.quota is not None else None,
            "capture_duration_s": self.duration_s,
            "issue_counts": {kind: len(members) for kind, members in self.issue_groups().items()},
            "issues": [{"kind": i.kind, "call": i.call_index, "text": i.text} for i in self.issues],
            "notes": self.notes,
        }


def _counts(series: pl.Series) -> list[tuple[str, int]]:
    vc = series.drop_nulls().cast(pl.Utf8).value_counts(sort=True)
    rows = [(str(v), int(c)) for v, c in vc.iter_rows()]
    # value_counts ties are unordered: sort by count desc, then value, for deterministic output.
    return sorted(rows, key=lambda r: (-r[1], r[0]))


def _float_agg(value: object) -> float:
    """An aggregate (max/min) of a non-empty Float64 column of the calls table (`CALLS_SCHEMA`),
    which polars types as any Python literal."""
    if not isinstance(value, float):
        raise TypeError(f"expected a float aggregate of a Float64 column, got {type(value).__name__}")
    return value


def _percentiles(series: pl.Series) -> dict[str, float | None]:
    s = series.drop_nulls()
    if s.len() == 0:
        return {"n": 0, "p50": None, "p90": None, "p99": None, "max": None}
    return {
        "n": s.len(),
        "p50": s.quantile(0.5, "nearest"),
        "p90": s.quantile(0.9, "nearest"),
        "p99": s.quantile(0.99, "nearest"),
        "max": _float_agg(s.max()),
    }


def build_overview(calls: pl.DataFrame, *, source: str, fmt: str) -> Overview:
    model = calls.filter(pl.col("is_model_call"))
    statuses = calls["status"].fill_null(-1).cast(pl.Utf8).replace({"-1": "none"})
    times = calls["started_at"].drop_nulls()
    duration = _float_agg(times.max()) - _float_agg(times.min()) if times.len() > 1 else None
    usage = ("input_total", "input_uncached", "cache_read", "cache_write", "output_total", "reasoning_tokens")
    tokens = {
        name: int(model[name].sum()) if model[name].null_count() < model.height else None for name in usage
    }
    usage_calls = model.height - int(
        model.select(pl.all_horizontal(pl.col(usage).is_null()).sum()).item() or 0
    )
    notes = []
    if calls.height and calls["started_at"].null_count() == calls.height:
        notes.append("The source has no timestamps: timing is not available (never estimated).")
    elif model.height and model["ttft_s"].null_count() == model.height:
        notes.append("No per-chunk arrival times in this source: TTFT is not available.")
    abandoned = int(calls["abandoned_after_finish"].fill_null(False).sum())
    if abandoned:
        notes.append(
            f"{abandoned:,} stream{'s' if abandoned > 1 else ''} finished (stop reason seen) but "
            "ended before the provider's terminal event: the reader stopped after the finish reason. "
            "Not an issue (docs/metrics.md)."
        )
    return Overview(
        source=source,
        fmt=fmt,
        calls=calls.height,
        model_calls=model.height,
        apis=_counts(calls["api_name"]),
        models=_counts(model["model"]) if model.height else [],
        statuses=_counts(statuses),
        timing={
            "ttfb_s": _percentiles(model["ttfb_s"]),
            "ttft_s": _percentiles(model["ttft_s"]),
            "duration_s": _percentiles(model["duration_s"]),
        },
        tokens=tokens,
        usage_calls=usage_calls,
        credits=float(calls["credits"].sum()) if calls["credits"].null_count() < calls.height else None,
        cost=cost_summary(model),
        quota=quota_summary(calls),
        duration_s=duration,
        issues=issue_list(calls),
        notes=notes,
    )
