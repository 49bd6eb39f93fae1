"""The compact overview `fastcap analyze` prints and writes: requests, models, status mix,
timing percentiles, tokens and issues, computed from the calls table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from fastcap.analysis.issues import EXAMPLES_PER_CLASS, ISSUE_LABELS, Issue, issue_list


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
    tokens: dict[str, int]
    duration_s: float | None
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
    tokens = {
        name: int(model[name].fill_null(0).sum())
        for name in (
            "input_total",
            "input_uncached",
            "cache_read",
            "cache_write",
            "output_total",
            "reasoning_tokens",
        )
    }
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
        duration_s=duration,
        issues=issue_list(calls),
        notes=notes,
    )


def _fmt_s(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}s"


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
    tk = ov.tokens
    if any(tk.values()):
        lines.append(
            f"Tokens:   {tk['input_total']:,} input ({tk['cache_read']:,} cache read, {tk['cache_write']:,} cache write)"
            f" | {tk['output_total']:,} output ({tk['reasoning_tokens']:,} reasoning)"
        )
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


def render_markdown(ov: Overview, calls: pl.DataFrame) -> str:
    from fastcap.reports.markdown import cell, fence  # the report conventions (docs/specs/reports.md §1)

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
    tk = ov.tokens
    out += [
        "",
        "## Tokens (model calls)",
        "",
        "| Input | Cache read | Cache write | Output | Reasoning |",
        "| --- | --- | --- | --- | --- |",
        f"| {tk['input_total']:,} | {tk['cache_read']:,} | {tk['cache_write']:,} | {tk['output_total']:,} | {tk['reasoning_tokens']:,} |",
    ]
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
        "| # | API | Model | Status | TTFT | Duration | Output | Tools | Bodies (req / resp) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in calls.iter_rows(named=True):
        tools = ", ".join(row["tool_calls"] or [])
        out.append(
            f"| {row['index'] + 1:02d} | {cell(row['api_name'])} | {cell(row['model'] or '')} | {row['status'] if row['status'] is not None else '—'} "
            f"| {_fmt_s(row['ttft_s'])} | {_fmt_s(row['duration_s'])} | {row['output_total'] if row['output_total'] is not None else '—'} | {cell(tools)} "
            f"| {row['request_body_fidelity'] or '—'} / {row['response_body_fidelity'] or '—'} |"
        )
    if ov.notes:
        out += ["", *[f"> {n}" for n in ov.notes]]
    del fence
    return "\n".join(out) + "\n"
