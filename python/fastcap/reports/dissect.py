"""agent-system-dissect style `analysis_report.md` (docs/specs/reports.md §3.2–3.4).

Same layout and strings as the original, with the §3.4 defects fixed: full `[REDACTED]` markers,
content-type SSE detection, `call_id` from the dialect, safe fences, escaped cells, wire sizes.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from fastcap.reports.bodies import Body
from fastcap.reports.calls import SSE_CT, call_bodies, response_kind, usage_text
from fastcap.reports.context import Call, ReportContext
from fastcap.reports.flow import agent_name
from fastcap.reports.markdown import cell, fence, fence_marker, finish, json_text, normalise_newlines, preview
from fastcap.reports.safety import Redactor

TOP_KEYS = 30


def _details(summary: str, content: str, lang: str = "") -> str:
    return f"<details>\n<summary>{summary}</summary>\n\n{fence(content, lang)}\n</details>"


def _body_details(text: str, size: int, lang: str = "") -> str:
    return _details(f"<b>Body</b> ({size:,} bytes)", text, lang)


def _py(value: Any) -> str:
    """Values as the original prints them (Python `str`: `True`/`False`)."""
    return str(value)


def _type_name(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__


# `_type_name` of the types a JSON parser returns, looked up at once (a request body has thousands
# of keys, each typed).
_JSON_TYPE_NAMES: dict[type, str] = {
    type(None): "null",
    bool: "bool",
    int: "int",
    float: "float",
    str: "string",
    list: "array",
    dict: "object",
}


def extract_keys(obj: Any, prefix: str = "") -> list[tuple[str, str]]:
    """(key path, type name) of every key of `obj`, depth first; a list contributes its first item."""
    keys: list[tuple[str, str]] = []
    _add_keys(obj, prefix, keys)
    return keys


def _add_keys(obj: Any, prefix: str, keys: list[tuple[str, str]]) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            full = f"{prefix}.{k}" if prefix else str(k)
            keys.append((full, _JSON_TYPE_NAMES.get(type(v)) or _type_name(v)))
            if isinstance(v, (dict, list)):
                _add_keys(v, full, keys)
    elif isinstance(obj, list) and obj:
        _add_keys(obj[0], f"{prefix}[]", keys)


# --- request bodies ------------------------------------------------------------------------------------


def _preview_cell(text: str | None) -> str:
    if text is None:
        return "*(none)*"
    p = preview(text, 80, suffix="...")
    return cell(p) if p else "*(empty)*"


def _block_texts(content: Any) -> list[str]:
    if isinstance(content, list):
        return [str(it.get("text", "")) for it in content if isinstance(it, dict)]
    return []


MessageRow = tuple[str, str, str | None, str]  # (role, type, preview text or None, full text)


def _messages_section(rows: list[MessageRow]) -> list[str]:
    """rows: (role, type, preview text or None, full text)."""
    lines = [
        f"**Input Messages** ({len(rows)} items):",
        "",
        "| # | Role | Type | Content Preview |",
        "|---|------|------|-----------------|",
    ]
    for idx, (role, mtype, pv, _full) in enumerate(rows):
        lines.append(f"| {idx} | {cell(role)} | {cell(mtype)} | {_preview_cell(pv)} |")
    lines.append("")
    for idx, (role, _t, _p, full) in enumerate(rows):
        if full and len(full) > 120:
            lines += [_details(f"Message {idx} ({role}) full content ({len(full):,} chars)", full), ""]
    return lines


def _system_section(text: str) -> list[str]:
    if not text:
        return []
    shown = text[:500] + ("..." if len(text) > 500 else "")
    return [_details(f"<b>System Instructions</b> ({len(text):,} chars)", shown), ""]


def _tools_section(tools: list[tuple[str, str]]) -> list[str]:
    if not tools:
        return []
    items = "\n".join(f"- `{name or '(unnamed)'}` ({ttype})" for name, ttype in tools)
    return [f"<details>\n<summary><b>Tools</b> ({len(tools)} defined)</summary>\n\n{items}\n</details>", ""]


def _config_line(model: Any, parts: list[tuple[str, Any]]) -> list[str]:
    line = " | ".join(
        [
            f"**Model:** `{model if model is not None else 'unknown'}`",
            *(f"**{k}:** `{_py(v)}`" for k, v in parts),
        ]
    )
    return [line, ""]


def _d(v: Any) -> dict[str, Any]:
    return v if isinstance(v, dict) else {}


def _l(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def request_responses(body: dict[str, Any]) -> list[str]:
    parts: list[tuple[str, Any]] = [
        (k, body[k]) for k in ("stream", "tool_choice", "parallel_tool_calls", "store") if k in body
    ]
    if isinstance(body.get("reasoning"), dict):
        r = body["reasoning"]
        parts.append(("reasoning", r.get("summary", r.get("effort", ""))))
    lines = _config_line(body.get("model", "unknown"), parts)
    instructions = body.get("instructions")
    lines += _system_section(instructions if isinstance(instructions, str) else "")
    rows: list[MessageRow] = []
    for msg in _l(body.get("input")):
        m = _d(msg)
        content = m.get("content")
        if content is None and m.get("type") == "function_call_output":
            content = m.get("output")
        if content is None:
            pv: str | None = None
            full = ""
        elif isinstance(content, str):
            pv = full = content
        else:
            texts = _block_texts(content) if isinstance(content, list) else [str(content)]
            pv, full = " ".join(texts), "\n".join(texts)
        rows.append((str(m.get("role", "-")), str(m.get("type", "-")), pv, full))
    if rows:
        lines += _messages_section(rows)
    lines += _tools_section(
        [(str(_d(t).get("name") or ""), str(_d(t).get("type", "function"))) for t in _l(body.get("tools"))]
    )
    return lines


def request_anthropic(body: dict[str, Any]) -> list[str]:
    parts: list[tuple[str, Any]] = [(k, body[k]) for k in ("stream", "max_tokens") if k in body]
    if "thinking" in body:
        th = _d(body["thinking"])
        value = str(th.get("type", body["thinking"]))
        if th.get("budget_tokens") is not None:
            value += f" (budget {th['budget_tokens']})"
        parts.append(("thinking", value))
    if "tool_choice" in body:
        parts.append(("tool_choice", _d(body["tool_choice"]).get("type", body["tool_choice"])))
    lines = _config_line(body.get("model", "unknown"), parts)
    system = body.get("system")
    if isinstance(system, list):
        system = "\n\n".join(
            str(_d(b).get("text", "")) for b in system if _d(b).get("type", "text") == "text"
        )
    lines += _system_section(system if isinstance(system, str) else "")
    rows: list[MessageRow] = []
    for msg in _l(body.get("messages")):
        m = _d(msg)
        content = m.get("content")
        if isinstance(content, str):
            rows.append((str(m.get("role", "-")), "text", content, content))
            continue
        if content is None:
            rows.append((str(m.get("role", "-")), "-", None, ""))
            continue
        types, pieces, texts = [], [], []
        for b in _l(content):
            b = _d(b)
            t = str(b.get("type", "-"))
            types.append(t)
            if t == "text":
                pieces.append(str(b.get("text", "")))
                texts.append(str(b.get("text", "")))
            elif t == "tool_use":
                pieces.append(f"tool_use {b.get('name', '')}")
            elif t == "tool_result":
                pieces.append(f"tool_result {b.get('tool_use_id', '')}")
        rows.append((str(m.get("role", "-")), "+".join(types) or "-", " ".join(pieces), "\n".join(texts)))
    if rows:
        lines += _messages_section(rows)
    lines += _tools_section(
        [(str(_d(t).get("name") or ""), str(_d(t).get("type", "custom"))) for t in _l(body.get("tools"))]
    )
    return lines


def request_chat(body: dict[str, Any]) -> list[str]:
    keys = (
        "stream",
        "tool_choice",
        "parallel_tool_calls",
        "max_completion_tokens",
        "max_tokens",
        "reasoning_effort",
    )
    lines = _config_line(body.get("model", "unknown"), [(k, body[k]) for k in keys if k in body])
    msgs = [_d(m) for m in _l(body.get("messages"))]
    system = "\n\n".join(
        m["content"] if isinstance(m.get("content"), str) else "\n".join(_block_texts(m.get("content")))
        for m in msgs
        if m.get("role") in ("system", "developer")
    )
    lines += _system_section(system)
    rows: list[MessageRow] = []
    for m in msgs:
        content = m.get("content")
        mtype = "tool" if m.get("role") == "tool" else "tool_calls" if m.get("tool_calls") else "message"
        if content is None:
            names = [str(_d(_d(tc).get("function")).get("name", "")) for tc in _l(m.get("tool_calls"))]
            rows.append((str(m.get("role", "-")), mtype, " ".join(names) if names else None, ""))
        elif isinstance(content, str):
            rows.append((str(m.get("role", "-")), mtype, content, content))
        else:
            texts = _block_texts(content)
            rows.append((str(m.get("role", "-")), mtype, " ".join(texts), "\n".join(texts)))
    if rows:
        lines += _messages_section(rows)
    lines += _tools_section(
        [(str(_d(_d(t).get("function")).get("name") or ""), "function") for t in _l(body.get("tools"))]
    )
    return lines


def request_gemini(body: dict[str, Any], model: str | None) -> list[str]:
    inner = _d(body.get("request")) if isinstance(body.get("request"), dict) else body
    gen = _d(inner.get("generationConfig"))
    parts: list[tuple[str, Any]] = []
    if "maxOutputTokens" in gen:
        parts.append(("maxOutputTokens", gen["maxOutputTokens"]))
    if "thinkingConfig" in gen:
        parts.append(("thinkingConfig", json_text(gen["thinkingConfig"]).replace("\n", " ")))
    lines = _config_line(body.get("model") or model or "unknown", parts)
    system = "\n".join(
        str(_d(p).get("text", "")) for p in _l(_d(inner.get("systemInstruction")).get("parts"))
    )
    lines += _system_section(system)
    rows: list[MessageRow] = []
    for c in _l(inner.get("contents")):
        c = _d(c)
        kinds, pieces, texts = [], [], []
        for p in _l(c.get("parts")):
            p = _d(p)
            if "text" in p:
                kind = "thought" if p.get("thought") else "text"
                pieces.append(str(p["text"]))
                texts.append(str(p["text"]))
            elif "functionCall" in p:
                kind = "functionCall"
                pieces.append(f"functionCall {_d(p['functionCall']).get('name', '')}")
            elif "functionResponse" in p:
                kind = "functionResponse"
                pieces.append(f"functionResponse {_d(p['functionResponse']).get('name', '')}")
            else:
                kind = next(iter(p), "-")
            kinds.append(kind)
        rows.append((str(c.get("role", "-")), "+".join(kinds) or "-", " ".join(pieces), "\n".join(texts)))
    if rows:
        lines += _messages_section(rows)
    tools = [
        (str(_d(fd).get("name") or ""), "function")
        for t in _l(inner.get("tools"))
        for fd in _l(_d(t).get("functionDeclarations"))
    ]
    lines += _tools_section(tools)
    return lines


# The dialects whose requests have their own layout below, by the registry's names, in the order
# that decides when a call's dialect and its API name point at different layouts.
_LAYOUTS = ("openai_responses", "anthropic", "openai_chat", "gemini")


def _api_layout(api: str) -> str | None:
    """The layout an API name implies. Only a second key: it keeps the layout of calls the registry
    files as generic (Anthropic's and Gemini's other endpoints) or whose analysis failed."""
    if api in ("OpenAI.Responses", "ChatGPT.CodexResponses"):
        return "openai_responses"
    if api.startswith("Anthropic."):
        return "anthropic"
    if api == "OpenAI.ChatCompletions":
        return "openai_chat"
    if api.startswith(("Gemini.", "CodeAssist.")):
        return "gemini"
    return None


def _family(call: Call) -> str:
    """The request layout of a call: its dialect (`CallAnalysis.dialect`, the registry's name), or
    the one its API name implies when that comes first in `_LAYOUTS`; "other" for neither."""
    keys = (call.ca.dialect, _api_layout(call.api))
    return next((layout for layout in _LAYOUTS if layout in keys), "other")


def render_request_body(call: Call, body: Body) -> str:
    if body.kind in ("empty", "missing"):
        return "*(no body)*"
    if body.kind != "json":
        text = body.text if body.kind != "binary" else f"({body.size} bytes, binary)"
        return _body_details(text, body.size)
    value = body.value
    if not isinstance(value, dict):
        return _body_details(json_text(value), body.size, "json")
    family = _family(call)
    if family == "openai_responses":
        lines = request_responses(value)
    elif family == "anthropic":
        lines = request_anthropic(value)
    elif family == "openai_chat":
        lines = request_chat(value)
    elif family == "gemini":
        lines = request_gemini(value, call.req.model)
    else:
        lines = []
        if call.req.model:
            lines = _config_line(call.req.model, [])
        lines += [_body_details(json_text(value), body.size, "json"), ""]
    return "\n".join(lines).rstrip("\n")


# --- response bodies --------------------------------------------------------------------------------


_REASONING_TITLE = {
    "openai_responses": "Reasoning Summary",
    "anthropic": "Thinking",
    "openai_chat": "Reasoning",
    "gemini": "Thoughts",
}


def _tool_calls_section(call: Call, redactor: Redactor) -> list[str]:
    tcs = call.resp.tool_calls
    if not tcs:
        return []
    lines = [f"**Tool Calls** ({len(tcs)}):", ""]
    for tc in tcs:
        lines.append(f"- `{tc.name}` (call_id: `{tc.id or '-'}`)")
        args = tc.arguments_raw
        if tc.arguments_json_valid and tc.arguments is not None:
            args = json.dumps(redactor.json(tc.arguments, url=call.ex.url), ensure_ascii=False)
        else:
            args = redactor.text(args)
        if args:
            shown = normalise_newlines(args[:300] + ("..." if len(args) > 300 else ""))
            marker = fence_marker(shown)
            lines.append(f"  {marker}\n  " + shown.replace("\n", "\n  ") + f"\n  {marker}")
    lines.append("")
    return lines


def render_response_body(call: Call, body: Body, redactor: Redactor) -> str:
    kind = response_kind(call)
    resp = call.resp
    if kind in ("sse", "eventstream", "websocket"):
        counts: Counter[str] = Counter(ev.type for ev in resp.events)
        n = len(resp.events)
        label = "SSE Stream" if kind == "sse" else "EventStream" if kind == "eventstream" else "WebSocket"
        size = body.size if kind != "websocket" else sum(len(m.data) for m in call.ex.websocket or [])
        lines = [
            f"**{label}** ({size:,} bytes, {n} events)",
            "",
            "| Event Type | Count |",
            "|------------|-------|",
        ]
        lines += [f"| `{cell(t)}` | {c} |" for t, c in counts.most_common()]
        lines.append("")
        if resp.text:
            text = redactor.text(resp.text)
            lines += [_details(f"<b>Output Text</b> ({len(text):,} chars)", text), ""]
        if resp.reasoning_text:
            title = _REASONING_TITLE.get(_family(call), "Reasoning")
            text = redactor.text(resp.reasoning_text)
            lines += [_details(f"<b>{title}</b> ({len(text):,} chars)", text), ""]
        lines += _tool_calls_section(call, redactor)
        usage = usage_text(resp.usage)
        if usage:
            lines += [f"**Usage:** {usage}", ""]
        return "\n".join(lines).rstrip("\n")
    if body.kind in ("empty", "missing"):
        return "*(no body)*"
    if body.kind == "json":
        return _body_details(json_text(body.value), body.size, "json")
    if body.kind == "binary":
        return _body_details(redactor.text(body.data.decode("utf-8", "replace")), body.size)
    return _body_details(body.text, body.size)


# --- the report ------------------------------------------------------------------------------------


def _timestamp(call: Call) -> float | None:
    ex = call.ex
    for t in (ex.ended_at, ex.response_started_at, ex.started_at):
        if t is not None:
            return t
    return None


def _most_common(counter: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda kv: -kv[1])  # stable: ties stay first-seen


def default_title(calls: list[Call], agent: str | None = None) -> str:
    agent = agent or agent_name(calls)
    return "Traffic Analysis Report" if agent == "agent" else f"{agent} Traffic Analysis Report"


@dataclass(slots=True)
class DissectEntry:
    """What one call contributes to `analysis_report.md`: its section of the conversation log and
    the figures the summary tables add up. Rendered while the call's bodies are at hand (once for
    every report), so the bodies need not be kept or decoded again."""

    request_size: int
    response_size: int
    path: str
    method: str
    status: int | None
    timestamp: float | None
    request_keys: list[tuple[str, str]]
    response_keys: list[tuple[str, str]]
    section: list[str]


def _keys(body: Body) -> list[tuple[str, str]]:
    return extract_keys(body.value) if body.kind == "json" and isinstance(body.value, dict) else []


def dissect_entry(n: int, call: Call, bodies: tuple[Body, Body], redactor: Redactor) -> DissectEntry:
    """Call number `n`'s `DissectEntry`; `bodies`: its request and response (`calls.call_bodies`)."""
    rb, sb = bodies
    ex = call.ex
    ts = _timestamp(call)
    ts_str = datetime.fromtimestamp(ts, tz=UTC).strftime("%H:%M:%S.%f")[:-3] if ts is not None else "?"
    status = "?" if ex.status is None else str(ex.status)
    section = [
        f"### Request {n}: `{ex.method} {redactor.url(ex.url)}` → {status}",
        f"**Time:** {ts_str} UTC",
        "",
    ]
    section += _header_details("Request Headers", redactor.headers(ex.request_headers))
    section += ["#### Request Body", "", render_request_body(call, rb), ""]
    section += _header_details("Response Headers", redactor.headers(ex.response_headers))
    section += ["#### Response Body", "", render_response_body(call, sb, redactor), "", "---", ""]
    return DissectEntry(
        request_size=rb.size,
        response_size=sb.size,
        path=urlsplit(ex.url).path or "/",
        method=ex.method,
        status=call.status,
        timestamp=ts,
        request_keys=_keys(rb),
        response_keys=_keys(sb) if response_kind(call) == "plain" else [],
        section=section,
    )


def render_dissect(
    ctx: ReportContext,
    *,
    now: datetime | None = None,
    entries: list[DissectEntry] | None = None,
    agent: str | None = None,
) -> str:
    """`analysis_report.md`; `entries`: each call's `DissectEntry` when the caller has rendered them;
    `agent`: `agent_name(ctx.calls)` when the caller has it."""
    calls, redactor = ctx.calls, ctx.redactor
    now = now or datetime.now(UTC)
    if entries is None:
        entries = [dissect_entry(n, c, call_bodies(c, redactor), redactor) for n, c in enumerate(calls, 1)]
    stamps = [e.timestamp for e in entries if e.timestamp is not None]
    duration: float | int = round(max(stamps) - min(stamps), 1) if len(stamps) >= 2 else 0
    L = [
        f"# {ctx.title or default_title(calls, agent)}",
        "",
        f"**Source:** `{ctx.source or '(exchanges)'}`",
        f"**Generated:** {now.strftime('%Y-%m-%d %H:%M:%S')} UTC",
        f"**Total requests:** {len(calls)}",
        f"**Capture duration:** {duration}s",
        f"**Total request payload:** {sum(e.request_size for e in entries):,} bytes",
        f"**Total response payload:** {sum(e.response_size for e in entries):,} bytes",
        "",
    ]
    endpoints: dict[str, int] = {}
    endpoint_methods: dict[str, set[str]] = defaultdict(set)
    methods: dict[str, int] = {}
    statuses: dict[str, int] = {}
    req_keys: dict[str, int] = {}
    resp_keys: dict[str, int] = {}
    req_types: dict[str, set[str]] = defaultdict(set)
    resp_types: dict[str, set[str]] = defaultdict(set)
    for e in entries:
        endpoints[e.path] = endpoints.get(e.path, 0) + 1
        endpoint_methods[e.path].add(e.method)
        methods[e.method] = methods.get(e.method, 0) + 1
        if e.status is not None:
            statuses[str(e.status)] = statuses.get(str(e.status), 0) + 1
        for found, keys, types in (
            (e.request_keys, req_keys, req_types),
            (e.response_keys, resp_keys, resp_types),
        ):
            for key, type_name in found:
                keys[key] = keys.get(key, 0) + 1
                types[key].add(type_name)
    L += ["## Endpoints", "", "| Endpoint | Methods | Count |", "|----------|---------|-------|"]
    L += [
        f"| `{cell(p)}` | {', '.join(sorted(endpoint_methods[p]))} | {n} |"
        for p, n in _most_common(endpoints)
    ]
    L += ["", "## HTTP Methods", "", "| Method | Count |", "|--------|-------|"]
    L += [f"| {cell(m)} | {n} |" for m, n in _most_common(methods)]
    L += ["", "## Response Status Codes", "", "| Status | Count |", "|--------|-------|"]
    L += [f"| {s} | {n} |" for s, n in _most_common(statuses)]
    L.append("")
    for title, keys, types in (
        ("Request Payload Structure (Top Keys)", req_keys, req_types),
        ("Response Payload Structure (Top Keys)", resp_keys, resp_types),
    ):
        if not keys:
            continue
        L += [f"## {title}", "", "| Key Path | Type | Occurrences |", "|----------|------|-------------|"]
        L += [
            f"| `{cell(k)}` | {', '.join(sorted(types[k]))} | {n} |" for k, n in _most_common(keys)[:TOP_KEYS]
        ]
        L.append("")
    L += ["## Full Conversation Log", ""]
    for e in entries:
        L += e.section
    return finish(L)


def _header_details(title: str, headers: list[tuple[str, str]]) -> list[str]:
    content = "\n".join(f"{k}: {v}" for k, v in headers)
    marker = fence_marker(content)
    return [
        "<details>",
        f"<summary><b>{title}</b></summary>",
        "",
        marker,
        *([content] if content else []),
        marker,
        "</details>",
        "",
    ]


__all__ = ["SSE_CT", "DissectEntry", "default_title", "dissect_entry", "extract_keys", "render_dissect"]
