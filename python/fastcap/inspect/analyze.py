"""`--analyze` (§10.8): one block per request, correlated by request id with session fallback in
linear time (§11.1), content from every provider shape (§11.7), plain lists (§11.19)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
import polars as pl

from fastcap.inspect.calls import USAGE_COLUMNS, usage_text
from fastcap.inspect.common import banner
from fastcap.inspect.issues import Issue
from fastcap.inspect.redaction import split_http


def request_model(data: bytes | None, meta_model: str | None) -> str:
    """`model` of the JSON request body (HTTP framing removed), else the metadata model."""
    if data:
        parts = split_http(data)
        body = parts[1] if parts is not None else data
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError:
            obj = None
        if isinstance(obj, dict) and isinstance(obj.get("model"), str):
            return str(obj["model"])
        if obj is None and meta_model is None:
            return "(could not parse)"
    return meta_model or "N/A"


def model_of(r: dict[str, Any]) -> str:
    """`request_model` from the request's row (`body_model`, `body_json`, `body_len` as
    `inspect.load` read them)."""
    if r.get("body_model"):
        return str(r["body_model"])
    if r.get("body_len") and not r.get("body_json") and r.get("model") is None:
        return "(could not parse)"
    return r.get("model") or "N/A"


def request_body_size(data: bytes | None) -> int:
    if not data:
        return 0
    parts = split_http(data)
    return len(parts[1]) if parts is not None else len(data)


def _content(r: dict[str, Any], p: str) -> str:
    chars = r.get(f"{p}c_text_chars") or 0
    text = f"{chars} chars"
    if r.get(f"{p}c_reasoning_chars"):
        text += f", reasoning {r[f'{p}c_reasoning_chars']} chars"
    tools = r.get(f"{p}c_tool_calls") or []
    if tools:
        text += f", {len(tools)} tool_calls ({', '.join(sorted(tools))})"
    return text


def _extra_issues(r: dict[str, Any]) -> list[str]:
    out = []
    if (
        r.get("bp_c_stop_reason")
        and not r.get("bp_c_text_chars")
        and not r.get("bp_c_tool_calls")
        and not r.get("bp_c_reasoning_chars")
        and not r.get("bp_c_error_message")
    ):
        out.append(f"Immediate stop without content (stop reason {r['bp_c_stop_reason']})")
    out += [
        f"Internal model name leak to client: {m}"
        for m in (r.get("pc_c_models") or [])
        if "code-assist" in m.lower()
    ]
    return out


def _block(r: dict[str, Any], model: str, has_pc_leg: bool, issues: list[Issue]) -> list[str]:
    lines = ["", f"--- REQUEST #{r['n']} ---", f"Model: {model}"]
    where = " ".join(x for x in (r.get("method"), r.get("url")) if x)
    if r.get("backend") or where:
        lines.append(f"Backend: {r.get('backend') or 'unknown'}{f' ({where})' if where else ''}")
    if r.get("status") is not None or r["n_bp"]:
        kind = "stream" if r["stream"] else "non-stream"
        lines.append(f"Status: {r['status'] if r.get('status') is not None else 'none'}, {kind}")
    if r["n_bp"]:
        timing = []
        if r["ttfb_s"] is not None:
            timing.append(f"TTFT={r['ttfb_s']:.3f}s")
        if r["latency_s"] is not None:
            timing.append(f"Duration={r['latency_s']:.3f}s")
        if r["stream_s"] is not None:
            timing.append(f"Stream={r['stream_s']:.3f}s")
        if timing:
            lines.append("Timing: " + ", ".join(timing))
    models = r.get("bp_c_models") or []
    lines.append(f"Backend models: {', '.join(models) if models else 'N/A'}")
    lines.append(f"Backend content: {_content(r, 'bp_')}")
    usage = usage_text(r)
    if usage is not None:
        lines.append(f"Usage: {usage}")
    if r.get("bp_c_stop_reason"):
        lines.append(f"Stop reason: {r['bp_c_stop_reason']}")
    if has_pc_leg:
        if not r.get("pc_chunks"):
            lines.append("Client received: (no data)")
        else:
            text = _content(r, "pc_")
            if r.get("pc_c_stop_reason"):
                text += ", finish_reason"
            sizes = ",".join(str(s) for s in (r.get("pc_sizes") or []))
            lines.append(f"Client received: {text} [{sizes}]")
    texts = [f"[{i.type}] {i.detail()}" for i in issues] + _extra_issues(r)
    if texts:
        lines.append("ISSUES:")
        seen: set[str] = set()
        for t in texts:
            if t not in seen:
                seen.add(t)
                lines.append(f"  [!] {t}")
    return lines


# What a block shows (iterating over these alone, not the request table's hundred columns).
_COLUMNS = (
    "n",
    "key",
    "model",
    "backend",
    "method",
    "url",
    "status",
    "n_bp",
    "stream",
    "ttfb_s",
    "latency_s",
    "stream_s",
    "pc_chunks",
    "pc_sizes",
    "body_model",
    "body_json",
    "body_len",
    *USAGE_COLUMNS,
    *[
        f"{leg}c_{c}"
        for leg in ("bp_", "pc_")
        for c in ("models", "text_chars", "reasoning_chars", "tool_calls", "stop_reason", "error_message")
    ],
)


def analyze_lines(
    df: pl.DataFrame, requests: pl.DataFrame, issues: list[Issue], backend: str | None
) -> Iterator[str]:
    yield banner("REQUEST/RESPONSE ANALYSIS", backend)
    if requests.height == 0:
        yield "No requests in the selected entries"
        return
    has_pc_leg = bool((df["dir"] == 1).any())
    by_key: dict[str, list[Issue]] = {}
    for i in issues:
        if i.key is not None:
            by_key.setdefault(i.key, []).append(i)
    for r in requests.select(c for c in _COLUMNS if c in requests.columns).iter_rows(named=True):
        yield from _block(r, model_of(r), has_pc_leg, by_key.get(r["key"], []))


__all__ = ["analyze_lines", "model_of", "request_body_size", "request_model"]
