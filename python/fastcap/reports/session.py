"""The session report `report.md` (docs/specs/reports.md §2.8) and its machine-readable twin (`report.json`).

`build_session` computes every section once as plain data; `render_session` turns that data into
Markdown; `jsonout` writes the same data as JSON.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from fastcap.analysis.calls import calls_table
from fastcap.analysis.overview import cost_summary
from fastcap.dialects.agents import Recognition
from fastcap.reports.auth import build_auth, category, render_auth
from fastcap.reports.calls import size_text
from fastcap.reports.context import Call, ReportContext
from fastcap.reports.findings import build_findings, build_issues, build_timing, build_tokens, model_catalogue
from fastcap.reports.flow import (
    agent_of,
    build_flow,
    call_window,
    context_pct,
    is_kiro_call,
    render_tree,
)
from fastcap.reports.markdown import (
    DASH,
    fence,
    finish,
    fmt_clock,
    fmt_int,
    fmt_iso,
    fmt_number,
    fmt_seconds,
    simple_table,
    table,
)
from fastcap.reports.overview import cost_markdown

UNKNOWN = "(unknown)"
KNOWN_CATEGORIES = (
    "CodeWhispererStreamingService",
    "CodeWhispererService",
    "ToolkitTelemetry",
    "AWSCognitoIdentityService",
    "SSOOIDC",
)
_SESSION_DIR = re.compile(r"^\d{8}_\d{6}$")
_REGION = re.compile(r"\.([a-z]{2}(?:-[a-z]+)+-\d+)\.amazonaws\.com$")


# --- Capture Environment -----------------------------------------------------------------------------


def _user_agents(calls: list[Call]) -> list[str]:
    out = []
    for call in calls:
        for name in ("user-agent", "x-amz-user-agent"):
            value = call.ex.header(name)
            if value:
                out.append(value)
    return out


def _first_match(texts: list[str], pattern: str, group: int = 0) -> str | None:
    for text in texts:
        m = re.search(pattern, text)
        if m:
            return m.group(group)
    return None


def _models(calls: list[Call]) -> list[str]:
    return list(
        dict.fromkeys(m for c in calls if c.ca.is_model_call for m in [c.req.model or c.resp.model] if m)
    )


def _host(url: str) -> str:
    m = re.match(r"^[a-z]+://([^/:?#]+)", url, re.I)
    return m.group(1).lower() if m else ""


def _capture_tool(ctx: ReportContext) -> str:
    sources = [c.ex.source for c in ctx.calls]
    src = sources[0] if sources else None
    if src == "cbor":
        version = ctx.state.get("mitmproxy_version")
        return f"fastcap (mitmproxy {version})" if version else "fastcap (mitmproxy)"
    return {
        "mitmlog": "mitmdump (mitmproxy)",
        "mitm": "mitmproxy flow file",
        "har": "HAR export",
        "jsonl": "traffic.jsonl (agent-system-dissect)",
    }.get(src or "", UNKNOWN)


def _raw_log(ctx: ReportContext) -> str:
    if not ctx.source:
        return UNKNOWN
    path = Path(ctx.source)
    try:
        rel = os.path.relpath(path.resolve(), ctx.out_dir.resolve())
    except ValueError:
        rel = str(path)
    return f"[{path.name}]({Path(rel).as_posix()})"


def build_environment(
    ctx: ReportContext, kiro: bool, agent: Recognition | None = None
) -> list[dict[str, str]]:
    """`agent`: `agent_of(ctx.calls)` when the caller has it."""
    calls = ctx.calls
    uas = _user_agents(calls)
    starts = [c.ex.started_at for c in calls if c.ex.started_at is not None]
    date = str(ctx.state.get("started_at") or fmt_iso(min(starts) if starts else None) or UNKNOWN)
    models = ", ".join(_models(calls)) or UNKNOWN
    rows: list[tuple[str, str]] = [("Date", date)]
    if kiro:
        region = None
        for call in [c for c in calls if c.ca.is_model_call] + calls:
            m = _REGION.search(_host(call.ex.url))
            if m:
                region = m.group(1)
                break
        os_tokens = None
        for ua in uas:
            if "md/appVersion-" in ua:
                found = re.findall(r"\bos/\S+", ua)
                os_tokens = " ".join(found) or None
                break
        if os_tokens is None:
            os_tokens = _first_match(uas, r"\bos/\S+")
        rows += [
            ("kiro-cli version", _first_match(uas, r"md/appVersion-(\d+(?:\.\d+)*)", 1) or UNKNOWN),
            (
                "AWS SDK",
                _first_match(uas, r"aws-sdk-rust/\S+") or _first_match(uas, r"aws-sdk-[\w-]+/\S+") or UNKNOWN,
            ),
            ("OS", os_tokens or UNKNOWN),
            ("Model", models),
            ("Region", region or UNKNOWN),
        ]
    else:
        agent_ua = next(
            (u for c in calls if c.ca.is_model_call for u in [c.ex.header("user-agent")] if u), None
        )
        agent_ua = agent_ua or (uas[0] if uas else None)
        sdk = None
        os_name = None
        for c in calls:
            lang, ver = c.ex.header("x-stainless-lang"), c.ex.header("x-stainless-package-version")
            if lang and ver:
                sdk = f"{lang} SDK {ver}"
            os_name = os_name or c.ex.header("x-stainless-os")
        hosts = list(dict.fromkeys(_host(c.ex.url) for c in calls if c.ca.is_model_call)) or list(
            dict.fromkeys(_host(c.ex.url) for c in calls)
        )
        rows += [
            ("Agent", (agent or agent_of(calls)).label()),
            ("User-Agent", agent_ua or UNKNOWN),
            ("SDK", sdk or UNKNOWN),
            ("OS", os_name or UNKNOWN),
            ("Model", models),
            ("API host", ", ".join(h for h in hosts if h) or UNKNOWN),
        ]
    rows += [("Capture tool", _capture_tool(ctx)), ("Raw log", _raw_log(ctx))]
    return [{"item": k, "value": v} for k, v in rows]


# --- other sections --------------------------------------------------------------------------------


def build_categories(calls: list[Call]) -> list[dict[str, Any]]:
    cats: dict[str, dict[str, Any]] = {}
    for call in calls:
        cat = category(call.service)
        entry = cats.setdefault(cat, {"category": cat, "count": 0, "apis": []})
        entry["count"] += 1
        if call.operation not in entry["apis"]:
            entry["apis"].append(call.operation)
    known = [cats[k] for k in KNOWN_CATEGORIES if k in cats]
    return known + [v for k, v in cats.items() if k not in KNOWN_CATEGORIES]


def build_context_usage(calls: list[Call], windows: dict[str, int]) -> dict[str, Any]:
    model_calls = [c for c in calls if c.ca.is_model_call]
    kiro = bool(model_calls) and all(is_kiro_call(c) for c in model_calls)
    rows = []
    for k, call in enumerate(model_calls, 1):
        usage = call.resp.usage
        rows.append(
            {
                "n": k,
                "call": call.nn,
                "history_length": call.req.history_length,
                "input_tokens": usage.input_total if usage else None,
                "context_window": call_window(call, windows),
                "context_pct": context_pct(call, windows),
            }
        )
    return {"style": "kiro" if kiro else "generic", "rows": rows}


def build_model_info(calls: list[Call]) -> dict[str, Any]:
    model_calls = [c for c in calls if c.ca.is_model_call]
    evidence = None
    for c in model_calls:
        if c.resp.event_counts.get("reasoningContentEvent") or any(
            ev.type == "reasoningContentEvent" for ev in c.resp.events
        ):
            evidence = "reasoningContentEvent stream"
            break
    if evidence is None and any("thinking" in c.req.tools for c in model_calls):
        evidence = "thinking tool in the tools array"
    if evidence is None:
        req = next((c.req for c in model_calls if c.req.thinking_enabled), None)
        if req is not None:
            evidence = f"request: {req.thinking}" if req.thinking else "request thinking field"
    if evidence is None and any(c.resp.reasoning_text for c in model_calls):
        evidence = "reasoning/thinking content in responses"
    counts = [len(c.req.tools) for c in model_calls]
    return {
        "model_ids": _models(calls),
        "thinking": evidence is not None,
        "thinking_evidence": evidence,
        "tool_count": counts[-1] if counts else None,
        "tool_count_min": min(counts) if counts else None,
        "tool_count_max": max(counts) if counts else None,
    }


def build_tool_usage(calls: list[Call]) -> list[dict[str, Any]]:
    counts: Counter[str] = Counter(tc.name for c in calls if c.ca.is_model_call for tc in c.resp.tool_calls)
    return [{"name": n, "count": k} for n, k in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def session_timestamp(ctx: ReportContext) -> str:
    if _SESSION_DIR.match(ctx.out_dir.name):
        return ctx.out_dir.name
    starts = [c.ex.started_at for c in ctx.calls if c.ex.started_at is not None]
    if starts:
        return datetime.fromtimestamp(min(starts)).strftime("%Y%m%d_%H%M%S")
    return ctx.out_dir.name


def build_session(ctx: ReportContext, agent: Recognition | None = None) -> dict[str, Any]:
    """Every section of report.md as plain data, redacted; `agent`: `agent_of(ctx.calls)` when the
    caller has it."""
    calls = ctx.calls
    agent = agent or agent_of(calls)  # once: every section below names the same agent
    name = agent.agent or "agent"  # = agent_name(calls)
    kiro = name == "kiro-cli"
    catalogue, windows = model_catalogue(calls)
    timing = build_timing(calls)
    tokens = build_tokens(calls)
    issues = build_issues(calls, ctx.redactor)
    auth = build_auth(calls)
    write_calls = "calls" in ctx.styles
    summary = [
        {
            "call": c.nn,
            "api": c.api,
            "status": c.status,
            "size": size_text(c),
            "file": c.file_name if write_calls else None,
            "model_call": c.ca.is_model_call,
        }
        for c in calls
    ]
    data = {
        "title": f"Capture Analysis Report — {ctx.title or session_timestamp(ctx)}",
        "agent": name,
        "environment": build_environment(ctx, kiro, agent),
        "calls": summary,
        "categories": build_categories(calls),
        "authentication": auth,
        "conversation_flow": build_flow(calls, windows, name),
        "context_usage": build_context_usage(calls, windows),
        "model_info": build_model_info(calls),
        "tool_usage": build_tool_usage(calls),
        "timing": timing,
        "tokens": tokens,
        "issues": issues,
        "notable_findings": build_findings(
            calls, kiro=kiro, rotation=auth["rotation"], catalogue=catalogue, tokens=tokens, issues=issues
        ),
        "model_catalogue": catalogue,
        "cost": ctx.cost if ctx.cost is not None else _cost(calls),
    }
    # Every string of the report (user agents, model ids, tree labels, findings) goes through the
    # free-text redaction once more: report.md and report.json are rendered from this data only.
    # Section by section, each under its own key: redaction treats each key and value on its own
    # (a literal only narrows which patterns it tries, and every sensitive name holds one), so the
    # result is the same, but a section with no literal and no sensitive name (the thousands of
    # rows of the call, timing and token tables) is returned after one check of its dump, where
    # one literal anywhere in the report (an `authorization` header name) had every row walked.
    return {key: ctx.redactor.json({key: value})[key] for key, value in data.items()}


def _cost(calls: list[Call]) -> dict[str, Any] | None:
    """What the model calls cost (docs/metrics.md, Cost), computed as `fastcap analyze` computes it:
    the calls table of the same analyses, priced once."""
    model_calls = calls_table([c.ca for c in calls]).filter(pl.col("is_model_call"))
    summary = cost_summary(model_calls)
    return summary.to_json() if summary is not None else None


# --- rendering ---------------------------------------------------------------------------------------


def _pct(v: float | None) -> str:
    return "" if v is None else f"{fmt_number(v)}%"


def render_session(data: dict[str, Any]) -> str:
    L: list[str] = [f"# {data['title']}", "", "## Capture Environment", ""]
    L += table(
        "| Item             | Value                                                 |",
        "| ---------------- | ----------------------------------------------------- |",
        [(r["item"], r["value"]) for r in data["environment"]],
    )
    L += ["", "## API Call Summary", ""]
    L += table(
        "| #   | API                     | Status   | Size   | File                           |",
        "| --- | ----------------------- | -------- | ------ | ------------------------------ |",
        [
            (
                r["call"],
                r["api"],
                DASH if r["status"] is None else r["status"],
                r["size"],
                f"[{r['file']}]({r['file']})" if r["file"] else DASH,
            )
            for r in data["calls"]
        ],
    )
    L += ["", "## API Category Breakdown", ""]
    L += table(
        "| Category                      | Count | APIs                                                                |",
        "| ----------------------------- | ----- | ------------------------------------------------------------------- |",
        [(r["category"], r["count"], ", ".join(r["apis"])) for r in data["categories"]],
    )
    L += ["", "## Authentication", "", *render_auth(data["authentication"])]
    L += ["", "## Conversation Flow", "", fence(render_tree(data["conversation_flow"]))]
    L += ["", "## Context Usage", ""]
    cu = data["context_usage"]
    if cu["style"] == "kiro":
        L += table(
            "| #   | GenerateAssistantResponse | History length    | contextUsagePercentage |",
            "| --- | ------------------------- | ----------------- | ---------------------- |",
            [
                (r["n"], f"#{r['call']}", fmt_int(r["history_length"]), _pct(r["context_pct"]))
                for r in cu["rows"]
            ],
        )
    else:
        L += table(
            "| #   | Call | History length | Input tokens | Context % |",
            "| --- | ---- | -------------- | ------------ | --------- |",
            [
                (
                    r["n"],
                    f"#{r['call']}",
                    fmt_int(r["history_length"]),
                    fmt_int(r["input_tokens"]),
                    _pct(r["context_pct"]),
                )
                for r in cu["rows"]
            ],
        )
    mi = data["model_info"]
    thinking = "enabled" if mi["thinking"] else "disabled"
    if mi["thinking_evidence"]:
        thinking += f" ({mi['thinking_evidence']})"
    tool_count = DASH if mi["tool_count"] is None else str(mi["tool_count"])
    if mi["tool_count_min"] != mi["tool_count_max"]:
        tool_count += f" (varies: {mi['tool_count_min']}–{mi['tool_count_max']})"
    L += ["", "## Model Info", ""]
    L += [
        f"- Model ID: {', '.join(mi['model_ids']) or UNKNOWN}",
        f"- Thinking: {thinking}",
        f"- Tool count: {tool_count}",
    ]
    L += ["", "## Tool Usage Patterns", ""]
    rows = [(r["name"], r["count"]) for r in data["tool_usage"]] or [("(none)", 0)]
    L += table(
        "| Tool name                     | Invocation count |",
        "| ----------------------------- | ---------------- |",
        rows,
    )
    if not data["tool_usage"]:
        L += ["", "No tool use occurred; all turns were plain text."]
    L += ["", "## Timing", ""]
    L += simple_table(
        ["#", "API", "Start (UTC)", "TTFT", "Duration", "Gap before"],
        [
            (
                t["call"],
                t["api"],
                fmt_clock(t["started_at"]),
                fmt_seconds(t["ttft"]),
                fmt_seconds(t["duration"]),
                fmt_seconds(t["gap_before"]),
            )
            for t in data["timing"]
        ],
    )
    L += ["", "## Token Usage", ""]
    tk = data["tokens"]
    cols = ("input", "cache_read", "cache_write", "output", "reasoning", "total")
    L += simple_table(
        ["Call", "Model", "Input", "Cache read", "Cache write", "Output", "Reasoning", "Total"],
        [(f"#{r['call']}", r["model"] or DASH, *(fmt_int(r[k]) for k in cols)) for r in tk["rows"]]
        + [("Total", "", *(fmt_int(tk["totals"][k]) for k in cols))],
    )
    hit = tk["totals"]["cache_hit_pct"]
    L += [""]
    if hit is not None:
        L.append(
            f"Cache hits: {fmt_int(tk['totals']['cache_read'])} of {fmt_int(tk['totals']['input'])} input tokens "
            f"read from cache ({fmt_number(hit)}%)."
        )
    else:
        L.append(f"Cache hits: {DASH} (no cache figures reported).")
    if tk["totals"]["credits"]:
        L += [
            "",
            "Credits: " + ", ".join(f"{fmt_number(v)} {u}" for u, v in tk["totals"]["credits"].items()) + ".",
        ]
    if data.get("cost") is not None:
        L += cost_markdown(data["cost"], "## Cost")
    L += ["", "## Issues", ""]
    L += [f"- {i['message']}" for i in data["issues"]] or ["No issues detected."]
    L += ["", "## Notable Findings", ""]
    L += [f"- {f}" for f in data["notable_findings"]] or ["- Nothing unusual was observed."]
    return finish(L)


def completion_message(data: dict[str, Any], out_dir: Path, *, raw_log: str | None, call_files: int) -> str:
    """§2.9, with the model-call API named for non-kiro agents."""
    d = str(out_dir)
    lines = [
        "Capture analysis complete.",
        "",
        f"- Session directory: {d}",
        f"- Raw log: {raw_log or UNKNOWN}",
        f"- Analysis report: {d}/report.md",
        f"- Individual API calls: {d}/NN_*.md ({call_files} files)",
        "",
        f"Total API calls: {len(data['calls'])}",
        "",
    ]
    model_apis: Counter[str] = Counter(r["api"] for r in data["calls"] if r["model_call"])
    for api, n in model_apis.items():
        name = api.rsplit(".", 1)[-1] if api.endswith("GenerateAssistantResponse") else api
        lines.append(f"- {name}: {n}")
    if not model_apis and data["agent"] == "kiro-cli":
        lines.append("- GenerateAssistantResponse: 0")
    lines.append(f"- Others: {len(data['calls']) - sum(model_apis.values())}")
    pcts = [r["context_pct"] for r in data["context_usage"]["rows"] if r["context_pct"] is not None]
    if pcts:
        lines += ["", f"Context usage (final): {fmt_number(pcts[-1])}%"]
    return "\n".join(lines)
