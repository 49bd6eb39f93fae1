"""Conversation Flow (docs/specs/reports.md §2.8): grouping model calls into turns and the ASCII tree."""

from __future__ import annotations

from typing import Any

from fastcap.context_windows import context_window
from fastcap.dialects.agents import Recognition, recognise
from fastcap.reports.context import Call
from fastcap.reports.markdown import fmt_number


def agent_of(calls: list[Call]) -> Recognition:
    """Who sent the calls (`dialects.agents`): kiro traffic is kiro-cli whatever its headers say."""
    found = recognise((c.ex.request_headers, c.req.system_text) for c in calls)
    if found.agent is None and any(
        c.ca.dialect == "kiro" or c.api.startswith(("AmazonCodeWhisperer", "ToolkitTelemetry")) for c in calls
    ):
        return Recognition("kiro-cli", None, "the kiro API", found.clients)
    return found


def agent_name(calls: list[Call]) -> str:
    """The agent whose startup node opens the tree (`kiro-cli` for kiro traffic), else "agent"."""
    return agent_of(calls).agent or "agent"


def is_kiro_call(call: Call) -> bool:
    return call.ca.dialect == "kiro" or call.operation in ("GenerateAssistantResponse", "SendMessage")


def call_window(call: Call, windows: dict[str, int]) -> int | None:
    """The call's context window: as the capture declares it (kiro `ListAvailableModels`), else the
    built-in table (`fastcap.context_windows`, 1M for Claude with the `context-1m` beta), else None."""
    model = call.req.model or call.resp.model
    if not model:
        return None
    return windows.get(model) or context_window(model, betas=call.req.betas)


def context_pct(call: Call, windows: dict[str, int]) -> float | None:
    """Final kiro contextUsagePercentage, else prompt tokens ÷ the model's context window."""
    if call.resp.context_usage_pct:
        return call.resp.context_usage_pct[-1]
    usage = call.resp.usage
    window = call_window(call, windows)
    # `input_total` is the whole prompt: uncached input + cache reads + cache writes (docs/specs/sse.md §9).
    if usage and usage.input_total is not None and window:
        return round(100.0 * usage.input_total / window, 2)
    return None


def conversation_keys(model_calls: list[Call]) -> list[tuple[str | None, str | None]]:
    """(conversation name, continuation id) per model call: conversation ids, else prefix chaining."""
    convs: list[tuple[str, list[str]]] = []  # (name, latest message hashes)
    # The conversations by their first message hash, in the order they began: a call continues
    # one only if it starts with its latest messages, so only those sharing its first message are
    # candidates (a conversation keeps its first message: its history grows, never changes). The
    # scan of every conversation per call grew as calls x conversations.
    by_first: dict[str, list[int]] = {}
    out: list[tuple[str | None, str | None]] = []
    for call in model_calls:
        req = call.req
        cont = req.continuation_id if is_kiro_call(call) else None
        if req.conversation_id:
            out.append((req.conversation_id, cont))
            continue
        hashes = req.message_hashes
        if not hashes:
            out.append((None, cont))
            continue
        best: int | None = None
        for i in by_first.get(hashes[0], ()):
            latest = convs[i][1]
            if hashes[: len(latest)] == latest and (best is None or len(latest) >= len(convs[best][1])):
                best = i
        if best is None:
            by_first.setdefault(hashes[0], []).append(len(convs))
            convs.append((f"#{len(convs) + 1}", list(hashes)))
            out.append((convs[-1][0], cont))
        else:
            convs[best] = (convs[best][0], list(hashes))
            out.append((convs[best][0], cont))
    return out


def _model_details(call: Call, windows: dict[str, int]) -> list[str]:
    parts: list[str] = []
    if call.req.history_length is not None:
        parts.append(f"history {call.req.history_length}")
    if call.resp.tool_calls:
        parts.append("tools: " + ", ".join(tc.name for tc in call.resp.tool_calls))
    elif call.resp.text:
        parts.append(f"text {len(call.resp.text)} chars")
    pct = context_pct(call, windows)
    if pct is not None:
        parts.append(f"context {fmt_number(pct)}%")
    if call.status is not None and not 200 <= call.status < 300:
        parts.append(f"HTTP {call.status}")
    return parts


def _metrics_count(call: Call) -> int | None:
    body = call.req.json
    if isinstance(body, dict):
        for key, value in body.items():
            if key.lower() == "metricdata" and isinstance(value, list):
                return len(value)
    return None


def _other_details(call: Call) -> list[str]:
    parts: list[str] = []
    if call.status is not None and not 200 <= call.status < 300:
        parts.append(str(call.status))
    elif call.status is None:
        parts.append("no response")
    if call.operation == "ClientTelemetryMetrics":
        n = _metrics_count(call)
        if n is not None:
            parts.append(f"{n} metrics")
    return parts


def _label(name: str, details: list[str]) -> str:
    return f"{name} ({', '.join(details)})" if details else name


def build_flow(calls: list[Call], windows: dict[str, int], agent: str | None = None) -> list[dict[str, Any]]:
    """The tree's nodes; `agent`: `agent_name(calls)` when the caller has it (recognition reads every
    call's headers and system prompt)."""
    model_calls = [c for c in calls if c.ca.is_model_call]
    keys = dict(zip((c.seq for c in model_calls), conversation_keys(model_calls), strict=True))
    distinct = {k[0] for k in keys.values() if k[0] is not None}
    nodes: list[dict[str, Any]] = []
    k = 0
    prev: tuple[str | None, str | None] | None = None
    for call in calls:
        if call.ca.is_model_call:
            k += 1
            label = "Tool result sent" if call.req.turn_kind == "tool_result" else "User message sent"
            conv, cont = keys[call.seq]
            if len(distinct) > 1 and conv is not None and (prev is None or conv != prev[0]):
                label += f" — conversation {conv[:8]}"
            elif prev is not None and cont and prev[1] and cont != prev[1] and conv == prev[0]:
                label += f" — continuation {cont[:8]}"
            prev = (conv, cont)
            agent = call.req.extra.get("agent_id")
            if agent:  # Claude Code's sub-agent headers (docs/metrics.md: agent_id, parent_agent_id)
                parent = call.req.extra.get("parent_agent_id")
                label += f" — sub-agent {str(agent)[:8]}" + (
                    f", started by {str(parent)[:8]}" if parent else ""
                )
            child = _label(f"{call.operation} #{k}", _model_details(call, windows))
            nodes.append(
                {"label": label, "conversation": conv, "children": [{"call": call.nn, "text": child}]}
            )
        else:
            if not nodes:
                nodes.append(
                    {"label": f"{agent or agent_name(calls)} startup", "conversation": None, "children": []}
                )
            nodes[-1]["children"].append(
                {"call": call.nn, "text": _label(call.operation, _other_details(call))}
            )
    return nodes


def render_tree(nodes: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    for i, node in enumerate(nodes, 1):
        if i > 1:
            lines.append("")
        lines.append(f"{i}. {node['label']}")
        children = node["children"]
        for j, child in enumerate(children):
            branch = "└── " if j == len(children) - 1 else "├── "
            lines.append(f"   {branch}{child['text']}")
    return "\n".join(lines) if lines else "(no calls)"
