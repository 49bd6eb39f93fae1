"""The overview of a calls table as `fastcap analyze` prints it (terminal) and writes it
(`analysis.md`), by the report conventions of docs/specs/reports.md §1."""

from __future__ import annotations

from typing import Any

import polars as pl

from fastcap.analysis.issues import EXAMPLES_PER_CLASS, ISSUE_LABELS
from fastcap.analysis.overview import Overview
from fastcap.reports.markdown import cell


def _fmt_s(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}s"


def fmt_usd(value: float | None, *, unpriced: bool = False) -> str:
    """Dollars to a precision a small call still shows; unknown is "unpriced" (a model without a
    price) or —, never $0 (docs/metrics.md, Cost)."""
    if value is None:
        return "unpriced" if unpriced else "—"
    if value >= 1:
        return f"${value:,.2f}"
    return f"${value:.4f}" if value >= 0.01 else f"${value:.6f}"


def _cost_line(ov: Overview) -> str | None:
    return cost_line(ov.cost.to_json()) if ov.cost is not None else None


def cost_line(c: dict[str, Any]) -> str:
    """One line of a `CostSummary.to_json()`: the total, what is unpriced and what has no usage."""
    parts = [
        f"{fmt_usd(c['total_usd'])} at list prices ({c['prices']}) over {c['priced_calls']:,} priced calls"
    ]
    if c["unpriced_calls"]:
        models = ", ".join(f"{m} ×{n}" for m, n in c["unpriced_models"].items())
        parts.append(f"{c['unpriced_calls']:,} unpriced ({models})")
    if c["unknown_usage_calls"]:
        parts.append(f"{c['unknown_usage_calls']:,} without usage")
    return "; ".join(parts)


def quota_line(ov: Overview) -> str | None:
    """`lowest headroom 9.0% (7d window 91.0% used, call #04); 12 responses with rate-limit
    headers; status allowed ×11, allowed_warning ×1`."""
    q = ov.quota
    if q is None:
        return None
    parts = []
    if q.lowest_headroom_pct is not None:
        where = f"{q.window} {100 - q.lowest_headroom_pct:.1f}% used"
        if q.call_index is not None:
            where += f", call #{q.call_index + 1:02d}"
        parts.append(f"lowest headroom {q.lowest_headroom_pct:.1f}% ({where})")
    parts.append(f"{q.calls_with_headers:,} responses with rate-limit headers")
    if q.statuses:
        parts.append("status " + ", ".join(f"{s} ×{n}" for s, n in q.statuses))
    return "; ".join(parts)


def render_text(ov: Overview) -> str:
    lines = [
        f"{ov.source} ({ov.fmt}): {ov.calls} calls, {ov.model_calls} model calls"
        + (f" over {ov.duration_s:.1f}s" if ov.duration_s is not None else "")
    ]
    if ov.apis:
        lines.append("APIs:     " + ", ".join(f"{name} ×{n}" for name, n in ov.apis))
    if ov.models:
        lines.append("Models:   " + ", ".join(f"{name} ×{n}" for name, n in ov.models))
    lines.append("Status:   " + ", ".join(f"{code} ×{n}" for code, n in ov.statuses))
    for key, label in (("ttfb_s", "TTFB"), ("ttft_s", "TTFT"), ("duration_s", "Duration")):
        t = ov.timing[key]
        if t["n"]:
            lines.append(
                f"{label + ':':9} p50 {_fmt_s(t['p50'])}  p90 {_fmt_s(t['p90'])}  p99 {_fmt_s(t['p99'])}  max {_fmt_s(t['max'])}  (n={t['n']})"
            )
    tk = {k: _n(v) for k, v in ov.tokens.items()}
    if ov.usage_calls:
        lines.append(
            f"Tokens:   {tk['input_total']} input ({tk['cache_read']} cache read, {tk['cache_write']} cache write)"
            f" | {tk['output_total']} output ({tk['reasoning_tokens']} reasoning){_reported(ov)}"
        )
    elif ov.model_calls:
        lines.append("Tokens:   — (no model call reported usage)")
    if ov.credits is not None:
        lines.append(f"Credits:  {ov.credits:,.4g} (kiro metering, not tokens)")
    if (cost := _cost_line(ov)) is not None:
        lines.append(f"Cost:     {cost}")
        if ov.cost is not None and len(ov.cost.by_model) > 1:
            lines.append("  by model: " + ", ".join(f"{m} {fmt_usd(v)}" for m, v in ov.cost.by_model))
    if (quota := quota_line(ov)) is not None:
        lines.append(f"Quota:    {quota}")
    if ov.issues:
        groups = ov.issue_groups()
        lines.append(f"Issues:   {len(ov.issues):,} in {len(groups)} class{'es' if len(groups) > 1 else ''}")
        for kind, members in groups.items():
            lines.append(f"  [{kind}] ×{len(members):,}  {ISSUE_LABELS.get(kind, kind)}")
            lines.extend(f"    {issue.text}" for issue in members[:EXAMPLES_PER_CLASS])
            if len(members) > EXAMPLES_PER_CLASS:
                lines.append(
                    f"    … and {len(members) - EXAMPLES_PER_CLASS:,} more (analysis.md lists them all)"
                )
    else:
        lines.append("Issues:   none found")
    lines.extend(f"Note: {n}" for n in ov.notes)
    return "\n".join(lines)


# Conversations listed by cost in analysis.md (analysis.json lists them all).
TOP_CONVERSATIONS = 10


def _call_cost(row: dict[str, object]) -> str:
    cost = row["cost_usd"]
    usage = row["input_total"] is not None and row["output_total"] is not None
    return fmt_usd(cost if isinstance(cost, float) else None, unpriced=bool(row["is_model_call"]) and usage)


def _cost_markdown(ov: Overview) -> list[str]:
    return cost_markdown(ov.cost.to_json()) if ov.cost is not None else []


def cost_markdown(c: dict[str, Any], heading: str = "## Cost (model calls)") -> list[str]:
    """The cost section of a Markdown report from a `CostSummary.to_json()` (analysis.md and
    report.md print the same figures the same way)."""
    out = ["", heading, "", f"{cost_line(c)}.", ""]
    out += ["| Model | Cost |", "| --- | --- |"]
    out += [f"| {cell(m)} | {fmt_usd(v)} |" for m, v in c["by_model"].items()] or ["| (none priced) | — |"]
    out += [f"| {cell(m)} | unpriced |" for m in c["unpriced_models"]]
    if c["by_conversation"]:
        top = list(c["by_conversation"].items())[:TOP_CONVERSATIONS]
        out += ["", f"| Conversation (top {len(top)} by cost) | Cost |", "| --- | --- |"]
        out += [f"| {cell(k)} | {fmt_usd(v)} |" for k, v in top]
    return out


def _n(value: int | None) -> str:
    """A count, or — when it is not known (never 0 for unknown, docs/metrics.md)."""
    return "—" if value is None else f"{value:,}"


def _reported(ov: Overview) -> str:
    if ov.usage_calls == ov.model_calls:
        return ""
    return f"; usage reported by {ov.usage_calls:,} of {ov.model_calls:,} model calls"


def render_markdown(ov: Overview, calls: pl.DataFrame) -> str:
    out = [f"# fastcap analysis — {cell(ov.source)}", ""]
    out += [f"- Format: {ov.fmt}", f"- Calls: {ov.calls} ({ov.model_calls} model calls)"]
    if ov.duration_s is not None:
        out.append(f"- Capture duration: {ov.duration_s:.1f}s")
    out += ["", "## Status mix", "", "| Status | Calls |", "| --- | --- |"]
    out += [f"| {cell(code)} | {n} |" for code, n in ov.statuses]
    out += ["", "## Models", "", "| Model | Calls |", "| --- | --- |"]
    out += [f"| {cell(m)} | {n} |" for m, n in ov.models] or ["| (none) | 0 |"]
    out += [
        "",
        "## Timing (model calls)",
        "",
        "| Metric | p50 | p90 | p99 | max | n |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for key, label in (("ttfb_s", "TTFB"), ("ttft_s", "TTFT"), ("duration_s", "Duration")):
        t = ov.timing[key]
        out.append(
            f"| {label} | {_fmt_s(t['p50'])} | {_fmt_s(t['p90'])} | {_fmt_s(t['p99'])} | {_fmt_s(t['max'])} | {t['n']} |"
        )
    tk = {k: _n(v) for k, v in ov.tokens.items()}
    out += [
        "",
        "## Tokens (model calls)",
        "",
        "| Input | Cache read | Cache write | Output | Reasoning |",
        "| --- | --- | --- | --- | --- |",
        f"| {tk['input_total']} | {tk['cache_read']} | {tk['cache_write']} | {tk['output_total']} | {tk['reasoning_tokens']} |",
    ]
    if ov.model_calls:
        out += [
            "",
            f"Usage reported by {ov.usage_calls:,} of {ov.model_calls:,} model calls; — is a figure none reported.",
        ]
    if ov.credits is not None:
        out += ["", f"Credits (kiro metering, not tokens): {ov.credits:,.4g}"]
    out += _cost_markdown(ov)
    if (quota := quota_line(ov)) is not None:
        out += ["", "## Quota", "", f"Rate limits: {quota}."]
    out += ["", "## Issues", ""]
    if ov.issues:
        out += ["| Class | Calls | Meaning |", "| --- | --- | --- |"]
        out += [
            f"| `{kind}` | {len(members):,} | {cell(ISSUE_LABELS.get(kind, kind))} |"
            for kind, members in ov.issue_groups().items()
        ]
        out += ["", "| Class | Call | Detail |", "| --- | --- | --- |"]
        out += [
            f"| `{i.kind}` | {'—' if i.call_index is None else f'#{i.call_index + 1:02d}'} | {cell(i.text)} |"
            for i in ov.issues
        ]
    else:
        out.append("No issues found.")
    out += [
        "",
        "## Calls",
        "",
        "| # | API | Model | Status | TTFT | Duration | Output | Cost | Tools | Bodies (req / resp) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in calls.iter_rows(named=True):
        tools = ", ".join(row["tool_calls"] or [])
        out.append(
            f"| {row['index'] + 1:02d} | {cell(row['api_name'])} | {cell(row['model'] or '')} | {row['status'] if row['status'] is not None else '—'} "
            f"| {_fmt_s(row['ttft_s'])} | {_fmt_s(row['duration_s'])} | {row['output_total'] if row['output_total'] is not None else '—'} | {_call_cost(row)} | {cell(tools)} "
            f"| {row['request_body_fidelity'] or '—'} / {row['response_body_fidelity'] or '—'} |"
        )
    if ov.notes:
        out += ["", *[f"> {n}" for n in ov.notes]]
    return "\n".join(out) + "\n"
