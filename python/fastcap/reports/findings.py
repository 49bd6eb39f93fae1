"""Timing, token totals, issues and Notable Findings for `report.md` (computed, never estimated)."""

from __future__ import annotations

from typing import Any

import polars as pl

from fastcap.analysis.issues import slow_gaps
from fastcap.reports.context import Call
from fastcap.reports.markdown import fmt_number
from fastcap.reports.safety import Redactor

KNOWN_KIRO_APIS = {
    "AmazonCodeWhispererStreamingService.GenerateAssistantResponse",
    "AmazonCodeWhispererStreamingService.SendMessage",
    "AmazonCodeWhispererService.ListAvailableModels",
    "ToolkitTelemetry.ClientTelemetryMetrics",
    "AmazonCodeWhispererService.GetProfile",
    "AmazonCodeWhispererService.GetUsageLimits",
    "AmazonCodeWhispererService.SendTelemetryEvent",
    "AWSCognitoIdentityService.GetCredentialsForIdentity",
    "SSOOIDC.CreateToken",
}
KNOWN_KIRO_EVENTS = {
    "initial-response",
    "messageMetadataEvent",
    "reasoningContentEvent",
    "assistantResponseEvent",
    "toolUseEvent",
    "metadataEvent",
    "contextUsageEvent",
    "meteringEvent",
}
EXPECTED_403 = "AmazonCodeWhispererService.GetUsageLimits"


def _end(call: Call) -> float | None:
    ex = call.ex
    return ex.ended_at if ex.ended_at is not None else ex.response_started_at


def build_timing(calls: list[Call]) -> list[dict[str, Any]]:
    rows = []
    latest_end: float | None = None
    all_known = True
    for call in calls:
        ex = call.ex
        start = ex.started_at
        duration = ex.ended_at - start if ex.ended_at is not None and start is not None else None
        gap = None
        if start is not None and latest_end is not None and all_known:
            gap = max(0.0, start - latest_end)
        end = _end(call)
        if end is None:
            all_known = False
        else:
            latest_end = end if latest_end is None else max(latest_end, end)
        rows.append(
            {
                "call": call.nn,
                "api": call.api,
                "started_at": start,
                "ttft": call.resp.ttft,
                "duration": duration,
                "gap_before": gap,
            }
        )
    return rows


def _sum(values: list[int | None]) -> int | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def build_tokens(calls: list[Call]) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for call in calls:
        if not call.ca.is_model_call:
            continue
        u = call.resp.usage
        total = None
        if u is not None:
            total = u.total
            if total is None and u.input_total is not None and u.output_total is not None:
                total = u.input_total + u.output_total
        rows.append(
            {
                "call": call.nn,
                "model": call.req.model or call.resp.model,
                "input": u.input_total if u else None,
                "cache_read": u.cache_read if u else None,
                "cache_write": u.cache_write if u else None,
                "output": u.output_total if u else None,
                "reasoning": u.reasoning if u else None,
                "total": total,
                "credits": dict(call.resp.credits),
            }
        )
    totals: dict[str, Any] = {
        key: _sum([r[key] for r in rows])
        for key in ("input", "cache_read", "cache_write", "output", "reasoning", "total")
    }
    hit = None
    if totals["input"] and totals["cache_read"] is not None:
        hit = round(100.0 * totals["cache_read"] / totals["input"], 1)
    totals["cache_hit_pct"] = hit
    credits: dict[str, float] = {}
    for r in rows:
        for unit, v in r["credits"].items():
            credits[unit] = credits.get(unit, 0.0) + v
    totals["credits"] = {u: round(v, 6) for u, v in credits.items()}
    return {"rows": rows, "totals": totals}


def build_issues(calls: list[Call], redactor: Redactor) -> list[dict[str, Any]]:
    issues: list[dict[str, Any]] = []

    def add(kind: str, call: Call, message: str) -> None:
        issues.append({"kind": kind, "call": call.nn, "api": call.api, "message": redactor.text(message)})

    # The slow-gap rule and the issue class are those of every other output (analysis/issues.py,
    # docs/metrics.md): one gap per conversation, one class per call.
    gaps = {
        row["index"]: row["gap_s"]
        for row in slow_gaps(
            pl.DataFrame(
                {
                    "index": list(range(len(calls))),
                    "api_name": [c.api for c in calls],
                    "started_at": [c.ex.started_at for c in calls],
                    "ended_at": [c.ex.ended_at for c in calls],
                    "conversation_id": [c.ca.request.conversation_id for c in calls],
                    "session_id": [c.ex.session_id for c in calls],
                },
                schema={
                    "index": pl.Int64,
                    "api_name": pl.Utf8,
                    "started_at": pl.Float64,
                    "ended_at": pl.Float64,
                    "conversation_id": pl.Utf8,
                    "session_id": pl.Utf8,
                },
            )
        ).iter_rows(named=True)
    }
    for i, call in enumerate(calls):
        ex, resp = call.ex, call.resp
        where = f"call #{call.nn} {call.api}"
        if i in gaps:
            add("slow_gap", call, f"{gaps[i]:.1f} s gap before {where}")
        if ex.error:
            add("connection_error", call, f"{where}: {ex.error}")
        status = ex.status
        body_err = next((e for e in resp.errors if e.source in ("body", "http_status")), None)
        detail = ""
        if body_err is not None:
            detail = ": " + ": ".join(p for p in (body_err.type, body_err.message) if p)
        kind = call.ca.issue_class
        if kind == "rate_limit":
            add("rate_limit", call, f"rate limited — {where} returned HTTP {status}{detail}")
        elif kind in ("server_error", "client_error"):
            add(kind, call, f"{where} returned HTTP {status} {ex.reason}".rstrip() + detail)
        elif kind == "stream_error":
            for err in resp.errors:
                if err.source in ("in_stream", "decoder"):
                    text = ": ".join(p for p in (err.type, err.message) if p) or "unknown error"
                    add("stream_error", call, f"{where}: stream error {text}")
        elif kind == "cut_stream":
            add("cut_stream", call, f"{where}: stream ended before its stop reason or terminal event")
    return issues


def model_catalogue(calls: list[Call]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Models listed by ListAvailableModels, and the context windows they declare."""
    models: list[dict[str, Any]] = []
    windows: dict[str, int] = {}
    for call in calls:
        if call.operation != "ListAvailableModels":
            continue
        body = call.resp.json
        if not isinstance(body, dict):
            continue
        for m in body.get("models") or []:
            if not isinstance(m, dict) or not isinstance(m.get("modelId"), str):
                continue
            limits = m.get("tokenLimits")
            if not isinstance(limits, dict):
                limits = {}
            entry = {
                "modelId": m["modelId"],
                "rateMultiplier": m.get("rateMultiplier"),
                "maxInputTokens": limits.get("maxInputTokens"),
                "maxOutputTokens": limits.get("maxOutputTokens"),
            }
            models.append(entry)
            if isinstance(entry["maxInputTokens"], int):
                windows[m["modelId"]] = entry["maxInputTokens"]
    return models, windows


def build_findings(
    calls: list[Call],
    *,
    kiro: bool,
    rotation: dict[str, Any] | None,
    catalogue: list[dict[str, Any]],
    tokens: dict[str, Any],
    issues: list[dict[str, Any]],
) -> list[str]:
    out: list[str] = []
    if kiro:
        unknown_apis = list(dict.fromkeys(c.api for c in calls if c.api not in KNOWN_KIRO_APIS))
        if unknown_apis:
            out.append("APIs not in the known kiro-cli list: " + ", ".join(f"`{a}`" for a in unknown_apis))
        unknown_events = list(
            dict.fromkeys(
                ev.type
                for c in calls
                for ev in c.resp.events
                if c.resp.kind == "eventstream" and ev.type not in KNOWN_KIRO_EVENTS
            )
        )
        if unknown_events:
            out.append(
                "EventStream event types not in the known list: "
                + ", ".join(f"`{e}`" for e in unknown_events)
            )
        usage_limits = [c for c in calls if c.api == EXPECTED_403]
        if not usage_limits:
            out.append("`GetUsageLimits` was not called in this session (it may be absent).")
        for c in usage_limits:
            if c.status == 403:
                out.append(
                    f"`GetUsageLimits` (call #{c.nn}) returned 403, which is expected/normal for kiro-cli."
                )
    if rotation:
        out.append(f"Bearer token rotation: {rotation['text']}")
    if catalogue:
        parts = []
        for m in catalogue:
            details = []
            for key, label in (
                ("rateMultiplier", "rate ×"),
                ("maxOutputTokens", "max output "),
                ("maxInputTokens", "context window "),
            ):
                value = m.get(key)
                if isinstance(value, int | float) and not isinstance(value, bool):
                    details.append(f"{label}{fmt_number(value)}")
            parts.append(f"`{m['modelId']}`" + (f" ({', '.join(details)})" if details else ""))
        out.append(f"Model catalogue (ListAvailableModels): {len(catalogue)} models: " + "; ".join(parts))
    credit_rows = [r for r in tokens["rows"] if r["credits"]]
    if credit_rows:
        per_turn = ", ".join(
            f"#{r['call']}: " + ", ".join(f"{fmt_number(v)} {u}" for u, v in r["credits"].items())
            for r in credit_rows
        )
        total = ", ".join(f"{fmt_number(v)} {u}" for u, v in tokens["totals"]["credits"].items())
        out.append(f"Credits per turn: {per_turn}; total {total}")
    for issue in issues:
        if issue["kind"] in ("client_error", "server_error", "rate_limit"):
            out.append(f"Call #{issue['call']}: {issue['message']}")
        elif issue["kind"] in ("stream_error", "cut_stream"):
            out.append(f"Stream problem in call #{issue['call']}: {issue['message']}")
    for c in calls:
        problems = [
            f"{side} body {_FIDELITY_WORDS[fid]}"
            for side, fid in (
                ("request", c.ex.request_body_fidelity),
                ("response", c.ex.response_body_fidelity),
            )
            if fid in _FIDELITY_WORDS and not (fid == "missing" and "bodies_not_logged" in c.ex.flags)
        ]
        if problems:
            out.append(f"Call #{c.nn} {c.api}: {', '.join(problems)}")
    return out


# Body fidelities worth a finding (docs/specs/reports.md §2.8: truncated or lossy bodies). A log written at
# flow_detail < 3 has no bodies at all; that is its configuration, not a finding per call.
_FIDELITY_WORDS = {
    "truncated": "truncated",
    "recovered_from_text": "recovered from lossy text",
    "missing": "missing",
}
