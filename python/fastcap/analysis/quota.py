"""Rate-limit headroom of each call, from the rate-limit headers of its response (docs/metrics.md,
Quota).

Every source hands over the same thing: the response's rate-limit headers as one JSON object
(`header_json`, the requests table's `ratelimit_headers`); `with_quota` turns that column into the
calls table's quota columns. Providers send:

- Anthropic API keys: `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}`;
- Anthropic subscriptions (Claude Code on a Pro / Max plan): `anthropic-ratelimit-unified-*`, a
  status and a utilisation fraction per window (5h, 7d, …), read by the anthropic dialect's
  `unified_rate_limits_of`;
- OpenAI: `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`;
- Codex on a ChatGPT plan: `x-codex-{primary,secondary}-used-percent` with `-window-minutes` and
  `-reset-at` / `-reset-after-seconds`; the same figures also come as a `codex.rate_limits` event
  in the stream or on the WebSocket (`codex_event_headers`), the only source on a WebSocket, whose
  requests have no response headers of their own. Headers win where a response has both.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
import polars as pl

from fastcap.dialects.anthropic import unified_rate_limits_of

# Response headers kept in `ratelimit_headers` (lower-cased names, first value of each).
RATE_LIMIT_PREFIXES = ("anthropic-ratelimit-", "x-ratelimit-", "x-codex-")

QUOTA_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "ratelimit_requests_limit": pl.Int64,
    "ratelimit_requests_remaining": pl.Int64,
    "ratelimit_tokens_limit": pl.Int64,
    "ratelimit_tokens_remaining": pl.Int64,
    # The highest share used among the windows the response reports, in percent (100 = exhausted).
    "ratelimit_used_pct": pl.Float64,
    # The window that share belongs to: `requests`, `tokens`, `input-tokens`, `output-tokens`,
    # `unified 5h`, `unified 7d`, `codex primary 300m`, ….
    "ratelimit_window": pl.Utf8,
    # Anthropic subscriptions: the overall `anthropic-ratelimit-unified-status` (allowed,
    # allowed_warning, rejected).
    "ratelimit_status": pl.Utf8,
    # Every rate-limit header of the response, as a JSON object (names lower-cased).
    "ratelimit_headers": pl.Utf8,
}

ANTHROPIC = "anthropic-ratelimit-"
ANTHROPIC_WINDOWS = ("requests", "tokens", "input-tokens", "output-tokens")
OPENAI = "x-ratelimit-"
OPENAI_WINDOWS = ("requests", "tokens")
CODEX = "x-codex-"
CODEX_WINDOWS = ("primary", "secondary")


def rate_limit_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The rate-limit headers of a response, names lower-cased, the first value of each."""
    out: dict[str, str] = {}
    for name, value in headers:
        low = name.lower()
        if low.startswith(RATE_LIMIT_PREFIXES):
            out.setdefault(low, value.strip())
    return out


def header_json(headers: Iterable[tuple[str, str]]) -> str | None:
    """`rate_limit_headers` as the JSON text of the requests table's `ratelimit_headers`; None
    when the response has none."""
    found = rate_limit_headers(headers)
    return orjson.dumps(found).decode() if found else None


CODEX_EVENT = "codex.rate_limits"
# `rate_limits.<window>` fields of a `codex.rate_limits` event, as the header they repeat.
CODEX_EVENT_FIELDS = {
    "used_percent": "used-percent",
    "window_minutes": "window-minutes",
    "reset_at": "reset-at",
    "reset_after_seconds": "reset-after-seconds",
}


def codex_event_headers(event: str | bytes) -> str | None:
    """A `codex.rate_limits` event (`{"type": "codex.rate_limits", "plan_type": …, "rate_limits":
    {"primary": {"used_percent", "window_minutes", "reset_at", …}, "secondary": …}}`) as the
    `x-codex-*` headers it repeats, in `header_json`'s form; None for anything else."""
    try:
        obj = orjson.loads(event)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict) or obj.get("type") != CODEX_EVENT:
        return None
    limits = obj.get("rate_limits")
    headers: list[tuple[str, str]] = []
    if isinstance(obj.get("plan_type"), str):
        headers.append((f"{CODEX}plan-type", obj["plan_type"]))
    for w in CODEX_WINDOWS:
        fields = limits.get(w) if isinstance(limits, dict) else None
        if not isinstance(fields, dict):
            continue
        for key, suffix in CODEX_EVENT_FIELDS.items():
            value = fields.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                headers.append((f"{CODEX}{w}-{suffix}", str(value)))
    return header_json(headers)


def codex_event_in_body(pieces: Iterable[bytes]) -> str | None:
    """`codex_event_headers` of the last `codex.rate_limits` event among a response's pieces (an
    SSE body's `data:` lines, or a WebSocket request's server messages)."""
    found = None
    for piece in pieces:
        if CODEX_EVENT.encode() not in piece:
            continue
        for line in piece.splitlines():
            line = line.strip()
            if line.startswith(b"data:"):
                line = line[5:].strip()
            if CODEX_EVENT.encode() in line and (headers := codex_event_headers(line)) is not None:
                found = headers
    return found


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _used(limit: int | None, remaining: int | None) -> float | None:
    if limit is None or remaining is None or limit <= 0:
        return None
    return 100.0 * (limit - remaining) / limit


def windows(h: dict[str, str]) -> dict[str, float]:
    """Percent used of every window the headers report, by window name."""
    out: dict[str, float] = {}
    for w in ANTHROPIC_WINDOWS:
        used = _used(_int(h.get(f"{ANTHROPIC}{w}-limit")), _int(h.get(f"{ANTHROPIC}{w}-remaining")))
        if used is not None:
            out[w] = used
    for w in OPENAI_WINDOWS:
        used = _used(_int(h.get(f"{OPENAI}limit-{w}")), _int(h.get(f"{OPENAI}remaining-{w}")))
        if used is not None:
            out[w] = max(used, out.get(w, used))
    for w, fields in unified_rate_limits_of(h.items()).items():
        fraction = _float(fields.get("utilization"))
        if w and fraction is not None:
            out[f"unified {w}"] = 100.0 * fraction
    for w in CODEX_WINDOWS:
        pct = _float(h.get(f"{CODEX}{w}-used-percent"))
        if pct is not None:
            minutes = _int(h.get(f"{CODEX}{w}-window-minutes"))
            out[f"codex {w}" + (f" {minutes}m" if minutes else "")] = pct
    return out


def quota_fields(text: str | None) -> dict[str, Any]:
    """The quota columns (`QUOTA_SCHEMA`) of one response's `ratelimit_headers`."""
    row: dict[str, Any] = dict.fromkeys(QUOTA_SCHEMA)
    if not text:
        return row
    try:
        h = orjson.loads(text)
    except orjson.JSONDecodeError:
        return row
    if not isinstance(h, dict):
        return row
    h = {str(k): str(v) for k, v in h.items()}

    def first(*names: str) -> int | None:
        return next((v for n in names if (v := _int(h.get(n))) is not None), None)

    used = windows(h)
    top = max(used.items(), key=lambda kv: kv[1]) if used else None
    row.update(
        ratelimit_requests_limit=first(f"{ANTHROPIC}requests-limit", f"{OPENAI}limit-requests"),
        ratelimit_requests_remaining=first(f"{ANTHROPIC}requests-remaining", f"{OPENAI}remaining-requests"),
        ratelimit_tokens_limit=first(f"{ANTHROPIC}tokens-limit", f"{OPENAI}limit-tokens"),
        ratelimit_tokens_remaining=first(f"{ANTHROPIC}tokens-remaining", f"{OPENAI}remaining-tokens"),
        ratelimit_used_pct=top[1] if top else None,
        ratelimit_window=top[0] if top else None,
        ratelimit_status=h.get(f"{ANTHROPIC}unified-status"),
        ratelimit_headers=text,
    )
    return row


def quota_columns(ratelimit_headers: pl.Series) -> pl.DataFrame:
    """The quota columns of a `ratelimit_headers` column, row for row (a row without headers is
    all nulls: `quota_fields(None)`)."""
    return pl.DataFrame([quota_fields(t) for t in ratelimit_headers.to_list()], schema=QUOTA_SCHEMA)
