"""Formatting shared by every inspect mode: banners, numbers, sizes, time zones."""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import polars as pl

from fastcap.errors import UsageError

RULE = "=" * 70
DIR_SYMBOLS = ("C->P", "P->C", "P->B", "B->P")
DIR_NAMES = ("CLIENT_TO_PROXY", "PROXY_TO_CLIENT", "PROXY_TO_BACKEND", "BACKEND_TO_PROXY")
CP, PC, PB, BP = 0, 1, 2, 3


def sym(direction: int | None) -> str:
    if direction is not None and 0 <= direction < 4:
        return DIR_SYMBOLS[direction]
    return f"?{direction}"


def dir_name(direction: int | None) -> str:
    if direction is not None and 0 <= direction < 4:
        return DIR_NAMES[direction]
    return f"Unknown({direction})"


def banner(title: str, backend: str | None = None) -> str:
    """Blank line, rule, title, rule; with a backend filter one more line and rule (§10.2)."""
    lines = ["", RULE, title, RULE]
    if backend:
        lines += [f"(Filtered to backend: {backend})", RULE]
    return "\n".join(lines)


def commas(n: int | float) -> str:
    return f"{int(n):,}"


@dataclass(frozen=True)
class Zone:
    """A display/parsing time zone: an IANA zone or a fixed UTC offset."""

    name: str
    tzinfo: dt.tzinfo
    iana: str | None  # for Polars conversions; None for fixed offsets
    offset: dt.timedelta | None

    def label(self) -> str:
        return self.name


_OFFSET_RE = re.compile(r"^(?:UTC)?([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)


def parse_zone(spec: str | None) -> Zone:
    """`UTC` (default), `local`, an IANA name (`Europe/Berlin`) or a fixed offset (`+02:00`)."""
    if spec is None or spec.strip().upper() in ("", "UTC", "Z", "GMT"):
        return Zone("UTC", dt.UTC, "UTC", None)
    s = spec.strip()
    if s.lower() == "local":
        name = os.environ.get("TZ") or _local_iana()
        if name:
            try:
                return Zone(f"local ({name})", ZoneInfo(name), name, None)
            except (ZoneInfoNotFoundError, ValueError):
                pass
        tz = dt.datetime.now().astimezone().tzinfo
        off = tz.utcoffset(None) if tz is not None else dt.timedelta(0)
        return Zone("local", dt.timezone(off or dt.timedelta(0)), None, off or dt.timedelta(0))
    m = _OFFSET_RE.match(s)
    if m:
        sign = -1 if m.group(1) == "-" else 1
        hours, minutes = int(m.group(2)), int(m.group(3) or 0)
        if hours > 23 or minutes > 59:
            raise UsageError(f"--tz: bad UTC offset {spec!r}")
        off = sign * dt.timedelta(hours=hours, minutes=minutes)
        return Zone(s, dt.timezone(off), None, off)
    try:
        return Zone(s, ZoneInfo(s), s, None)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UsageError(
            f"--tz: unknown time zone {spec!r} (use UTC, local, an IANA name or +HH:MM)"
        ) from exc


def _local_iana() -> str | None:
    try:
        target = os.readlink("/etc/localtime")
    except OSError:
        return None
    marker = "zoneinfo/"
    return target.split(marker, 1)[1] if marker in target else None


def fmt_dt(ts: float | None, zone: Zone, fmt: str = "%Y-%m-%d %H:%M:%S.%f") -> str:
    if ts is None:
        return "?"
    return dt.datetime.fromtimestamp(ts, zone.tzinfo).strftime(fmt)


def ts_strings(ts: pl.Expr, zone: Zone, fmt: str) -> pl.Expr:
    """Vectorised `strftime` of epoch-second floats in `zone`."""
    d = pl.from_epoch((ts * 1_000_000).round(0).cast(pl.Int64), time_unit="us")
    if zone.iana is not None:
        d = d.dt.replace_time_zone("UTC").dt.convert_time_zone(zone.iana)
    elif zone.offset is not None:
        d = d + pl.duration(microseconds=int(zone.offset.total_seconds() * 1_000_000))
    return d.dt.strftime(fmt)


def pct(n: int, total: int) -> str:
    return f"{(100.0 * n / total) if total else 0.0:.1f}%"
