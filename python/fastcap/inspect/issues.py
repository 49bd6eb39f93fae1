"""`--detect-issues` (§10.10, fixed per §11.2, §11.14, §11.19).

- slow_response: gaps > 10 s between consecutive entries of one A-session (entries without one:
  of one request), in time order;
- rate_limit / backend_error / client_error: from the status of each backend request (`http_status`,
  else `sc`; B->P, else P->C): 429 → rate limit (with `Retry-After`), 5xx/529 → backend error,
  other 4xx → client error; else from error bodies and in-stream error events of every provider
  shape; else from an EoS error termination;
- missing_response: a request never forwarded, a forwarded request without a backend response, a
  stream without its end marker or EoS entry.

Issues are ordered by time (then `seq`); types print in first-seen order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import polars as pl

from fastcap.inspect.common import PB, banner

SLOW_GAP_S = 10.0
ERROR_GAP_S = 30.0
_RATE_WORDS = ("rate", "quota", "throttl", "resource_exhausted", "too_many")


@dataclass(frozen=True)
class Issue:
    type: str
    severity: str  # "warning" | "error"
    seq: int | None
    ts: float | None
    text: str
    key: str | None = None


def slow_gaps(df: pl.DataFrame) -> list[Issue]:
    grp = pl.coalesce(pl.col("asid"), pl.lit("req:") + pl.col("key"))
    gaps = (
        df.select("ts", "seq", "asid", "key")
        .filter(pl.col("ts").is_not_null())
        .with_columns(grp.alias("_grp"))
        .filter(pl.col("_grp").is_not_null())
        .sort(["_grp", "ts", "seq"])
        .with_columns(
            pl.col("ts").diff().over("_grp").alias("_gap"),
            pl.col("seq").shift(1).over("_grp").alias("_prev"),
        )
        .filter(pl.col("_gap") > SLOW_GAP_S)
    )
    return [
        Issue(
            "slow_response",
            "error" if gap >= ERROR_GAP_S else "warning",
            seq,
            ts,
            f"Long gap: {gap:.1f}s between entries [{prev}] and [{seq}]",
            key,
        )
        for seq, ts, gap, prev, key in gaps.select("seq", "ts", "_gap", "_prev", "key").iter_rows()
    ]


def _where(r: dict[str, Any]) -> str:
    parts = []
    if r.get("backend"):
        parts.append(f"from {r['backend']}")
    if r.get("rid"):
        parts.append(f"(request {r['rid']})")
    return " ".join(parts)


def _status_issue(r: dict[str, Any]) -> Issue | None:
    status = r.get("bp_status") if r.get("bp_status") is not None else r.get("pc_status")
    seq = r.get("bp_status_seq") if r.get("bp_status") is not None else r.get("pc_status_seq")
    ts = r.get("bp_status_ts") or r.get("anchor_ts")
    msg = r.get("bp_c_error_message") or r.get("pc_c_error_message")
    etype = r.get("bp_c_error_type") or r.get("pc_c_error_type")
    tail = f": {msg}" if msg else ""
    where = _where(r)
    if status is not None and status >= 400:
        if status == 429:
            ra = r.get("retry_after")
            extra = f", retry after {ra:g}s" if ra is not None else ""
            return Issue(
                "rate_limit",
                "warning",
                seq,
                ts,
                f"HTTP 429 {where}{extra}{tail}".replace("  ", " "),
                r["key"],
            )
        if status >= 500 or status == 529:
            return Issue("backend_error", "error", seq, ts, f"HTTP {status} {where}{tail}", r["key"])
        return Issue("client_error", "warning", seq, ts, f"HTTP {status} {where}{tail}", r["key"])
    if etype or msg:
        hay = f"{etype or ''} {msg or ''}".lower()
        kind = "rate_limit" if any(w in hay for w in _RATE_WORDS) else "backend_error"
        label = "Rate limiting" if kind == "rate_limit" else "Backend error"
        detail = f"{etype}: {msg}" if etype and msg and etype != msg else (msg or etype)
        return Issue(
            kind,
            "warning" if kind == "rate_limit" else "error",
            r.get("bp_first_seq") or seq,
            ts,
            f"{label} {where}: {detail}",
            r["key"],
        )
    if r.get("eos_term") == "error":
        cls = r.get("eos_err_cls") or "unknown_error"
        reason = r.get("eos_reason") or r.get("eos_signal") or "error termination"
        return Issue(
            "backend_error",
            "error",
            r.get("eos_seq"),
            r.get("eos_ts"),
            f"Stream terminated with an error ({cls}) {where}: {reason}",
            r["key"],
        )
    return None


def request_issues(requests: pl.DataFrame, *, has_pb_leg: bool) -> list[Issue]:
    out: list[Issue] = []
    for r in requests.iter_rows(named=True):
        st = _status_issue(r)
        if st is not None:
            out.append(st)
        anchor_seq = r.get("cp_seq") if r.get("cp_seq") is not None else r.get("pb_seq")
        anchor_ts = r.get("anchor_ts")
        if r.get("cp_seq") is not None and not r["n_pb"] and not r["n_bp"]:
            text = (
                f"Request at [{r['cp_seq']}] has no backend request (not forwarded)"
                if has_pb_leg
                else f"Request at [{r['cp_seq']}] has no backend response"
            )
            out.append(Issue("missing_response", "warning", r["cp_seq"], anchor_ts, text, r["key"]))
        elif r["n_pb"] and not r["n_bp"]:
            out.append(
                Issue(
                    "missing_response",
                    "error",
                    anchor_seq,
                    anchor_ts,
                    f"Request at [{anchor_seq}] has no backend response",
                    r["key"],
                )
            )
        elif r["stream"] and r.get("ss_ts") is not None and not r["has_se"] and not r["has_eos"]:
            out.append(
                Issue(
                    "missing_response",
                    "error",
                    anchor_seq,
                    anchor_ts,
                    f"Stream of request at [{anchor_seq}] is incomplete (no stream-end marker)",
                    r["key"],
                )
            )
    return out


def detect(df: pl.DataFrame, requests: pl.DataFrame) -> list[Issue]:
    has_pb = bool((df["dir"] == PB).any()) if df.height else False
    issues = slow_gaps(df) + request_issues(requests, has_pb_leg=has_pb)
    return sorted(
        issues, key=lambda i: (i.ts if i.ts is not None else float("inf"), i.seq if i.seq is not None else -1)
    )


def issues_lines(issues: list[Issue], backend: str | None) -> Iterator[str]:
    if not issues:
        yield ""
        yield "No issues detected!"
        return
    yield banner("ISSUES DETECTED", backend)
    by_type: dict[str, list[Issue]] = {}
    for i in issues:
        by_type.setdefault(i.type, []).append(i)
    for t, items in by_type.items():
        yield ""
        yield f"{t.upper().replace('_', ' ')} ({len(items)} occurrences):"
        for i in items:
            mark = "[!!!]" if i.severity == "error" else "[ ! ]"
            where = f"Entry [{i.seq}]" if i.seq is not None else "Entry [?]"
            yield f"  {mark} {where}: {i.text}"


__all__ = ["Issue", "detect", "issues_lines"]
