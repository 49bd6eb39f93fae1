"""Anthropic Messages (`POST /v1/messages`): request body, SSE stream (docs/specs/sse.md §4), JSON and errors.

`MessagesAccumulator` is also used by Bedrock `InvokeModelWithResponseStream`, whose chunk payloads
decode to these same events.

What Claude Code 2.1 adds to the wire is read too (docs/specs/sse.md §12): the request's
`context_management` edits and what the response says they removed (`applied_edits`), server-side
compaction blocks, tool search (`defer_loading` tools, `tool_reference` blocks), the sub-agent
headers (`x-claude-code-agent-id`, `x-claude-code-parent-agent-id`; the sub-agent tool is `Agent`,
formerly `Task`), `count_tokens` results and the subscription's `anthropic-ratelimit-unified-*`
response headers. They land in `RequestInfo.extra` / `ResponseInfo.extra` under the keys below.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from fastcap.dialects import streams
from fastcap.dialects._util import (
    INVALID,
    add_event,
    d,
    error_summary,
    finish_timing,
    fmt_num,
    hash_message,
    http_error,
    i,
    is_sse,
    loads,
    lst,
    make_tool_call,
    non_stream_response,
    preview,
    request_json,
    s,
    sse_response,
    text_of,
    usage_anthropic,
)
from fastcap.dialects.base import Dialect, ErrorInfo, MessageInfo, RequestInfo, ResponseInfo
from fastcap.model import Exchange

TOOL_BLOCKS = ("tool_use", "server_tool_use", "mcp_tool_use")
# Claude Code's sub-agent tool: `Agent` since 2.1, `Task` before.
SUBAGENT_TOOLS = ("Agent", "Task")
AGENT_ID_HEADER = "x-claude-code-agent-id"
PARENT_AGENT_ID_HEADER = "x-claude-code-parent-agent-id"
RATELIMIT_UNIFIED = "anthropic-ratelimit-unified-"
_SESSION_RE = re.compile(r"session_([0-9a-fA-F-]{8,})")


# --------------------------------------------------------------------------------------------------
# Request


def _strip_cache_control(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _strip_cache_control(x) for k, x in v.items() if k != "cache_control"}
    if isinstance(v, list):
        return [_strip_cache_control(x) for x in v]
    return v


def _normalise_message(m: dict[str, Any]) -> Any:
    content = m.get("content")
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    return {"role": m.get("role"), "content": _strip_cache_control(content)}


def message_info(m: Any) -> MessageInfo:
    mm = d(m)
    role = s(mm.get("role")) or "?"
    content = mm.get("content")
    if isinstance(content, str):
        return MessageInfo(role=role, type="text", preview=content, chars=len(content))
    types: list[str] = []
    pieces: list[str] = []
    chars = 0
    for b in lst(content):
        bd = d(b)
        bt = s(bd.get("type")) or "?"
        if bt not in types:
            types.append(bt)
        if bt == "text":
            t = s(bd.get("text")) or ""
            pieces.append(t)
            chars += len(t)
        elif bt == "thinking":
            chars += len(s(bd.get("thinking")) or "")
        elif bt in TOOL_BLOCKS:
            pieces.append(f"tool_use {s(bd.get('name')) or '?'}")
        elif bt == "tool_result":
            pieces.append(f"tool_result {s(bd.get('tool_use_id')) or '?'}")
            chars += len(text_of(bd.get("content")))
    return MessageInfo(role=role, type="+".join(types) or "empty", preview="\n".join(pieces), chars=chars)


def session_from_user_id(user_id: str) -> str | None:
    """Claude Code's `metadata.user_id`: `user_<h>_account_<u>_session_<uuid>` or a JSON object string."""
    if user_id.startswith("{"):
        v = loads(user_id)
        if isinstance(v, dict):
            return s(v.get("session_id")) or s(v.get("sessionId"))
    m = _SESSION_RE.search(user_id)
    return m.group(1) if m else None


def request_betas(ex: Exchange, body: dict[str, Any]) -> list[str]:
    """Beta names from the `anthropic-beta` header (comma-separated, possibly repeated) and the
    `anthropic_beta` body list (Bedrock InvokeModel; Converse has it in additionalModelRequestFields)."""
    out = [
        b.strip()
        for k, v in ex.request_headers
        if k.lower() == "anthropic-beta"
        for b in v.split(",")
        if b.strip()
    ]
    for source in (body, d(body.get("additionalModelRequestFields"))):
        out += [b for b in lst(source.get("anthropic_beta")) if isinstance(b, str)]
    return list(dict.fromkeys(out))


def parse_request(ex: Exchange) -> RequestInfo:
    r = RequestInfo()
    body = request_json(ex)
    if not isinstance(body, dict):
        return r
    r.json = body
    r.model = s(body.get("model"))
    stream = body.get("stream")
    r.stream = stream if isinstance(stream, bool) else None
    r.max_tokens = i(body.get("max_tokens"))
    system = body.get("system")
    if isinstance(system, str):
        r.system_text = system
    elif isinstance(system, list):
        r.system_text = "\n\n".join(s(d(b).get("text")) or "" for b in system if isinstance(b, dict | str))
    messages = lst(body.get("messages"))
    r.messages = [message_info(m) for m in messages]
    r.history_length = len(messages)
    r.message_hashes = [hash_message(_normalise_message(d(m))) for m in messages]
    for t in lst(body.get("tools")):
        td = d(t)
        r.tools.append(s(td.get("name")) or "(unnamed)")
        r.tool_types.append(s(td.get("type")) or "custom")
    thinking = d(body.get("thinking"))
    ttype = s(thinking.get("type"))
    if ttype and ttype != "disabled":
        budget = i(thinking.get("budget_tokens"))
        r.thinking = f"{ttype} (budget {budget})" if budget is not None else ttype
        r.thinking_enabled = True
    effort = s(d(body.get("output_config")).get("effort"))
    if effort:
        r.config["effort"] = effort
    tc = body.get("tool_choice")
    if isinstance(tc, dict):
        r.config["tool_choice"] = s(tc.get("type"))
    for key in ("temperature", "top_p", "top_k", "stop_sequences", "service_tier"):
        if key in body:
            r.config[key] = body[key]
    r.betas = request_betas(ex, body)
    _claude_code_request(ex, body, r)
    meta = d(body.get("metadata"))
    uid = s(meta.get("user_id"))
    if uid:
        r.conversation_id = session_from_user_id(uid)
        r.config["user_id"] = uid
    for h in ("x-claude-code-session-id", "session_id", "x-session-id"):
        hv = ex.header(h)
        if hv and not r.conversation_id:
            r.conversation_id = hv
    last = d(messages[-1]) if messages else {}
    content = last.get("content")
    results = [d(b) for b in lst(content) if d(b).get("type") == "tool_result"]
    if last.get("role") == "user":
        r.turn_kind = "tool_result" if results else "user_message"
        r.user_text = text_of(content) if not results else (text_of(content) or None)
    for b in results:
        r.tool_results.append(
            {
                "id": s(b.get("tool_use_id")),
                "status": "error" if b.get("is_error") is True else "success",
                "chars": len(text_of(b.get("content"))),
            }
        )
    return r


def _blocks(messages: list[Any]) -> list[dict[str, Any]]:
    """Every content block of the messages, with the blocks nested in a `tool_result`'s content
    and the `tool_references` of a server tool search's result."""
    out: list[dict[str, Any]] = []
    for m in messages:
        for b in lst(d(m).get("content")):
            bd = d(b)
            out.append(bd)
            if bd.get("type") == "tool_result":
                out += [d(x) for x in lst(bd.get("content"))]
            elif bd.get("type") == "tool_search_tool_result":
                out += [d(x) for x in lst(d(bd.get("content")).get("tool_references"))]
    return out


def _claude_code_request(ex: Exchange, body: dict[str, Any], r: RequestInfo) -> None:
    """`RequestInfo.extra` keys for Claude Code 2.1's request features (each only when present):
    `agent_id` / `parent_agent_id` (headers), `subagent_tool` (the `Agent` or `Task` tool offered),
    `context_management` (the edit types asked for), `deferred_tools` (names of tools sent with
    `defer_loading`, found through tool search), `tool_references` (tool names in `tool_reference`
    blocks: tools loaded by a search), `compaction_blocks` (server compaction summaries sent back
    in the history)."""
    for key, header in (("agent_id", AGENT_ID_HEADER), ("parent_agent_id", PARENT_AGENT_ID_HEADER)):
        value = (ex.header(header) or "").strip()
        if value:
            r.extra[key] = value
    tools = [d(t) for t in lst(body.get("tools"))]
    offered = [n for n in SUBAGENT_TOOLS if any(t.get("name") == n for t in tools)]
    if offered:
        r.extra["subagent_tool"] = offered[0]
    deferred = [s(t.get("name")) or "(unnamed)" for t in tools if t.get("defer_loading") is True]
    if deferred:
        r.extra["deferred_tools"] = deferred
    edits = [s(d(e).get("type")) or "?" for e in lst(d(body.get("context_management")).get("edits"))]
    if edits:
        r.extra["context_management"] = edits
        r.config["context_management"] = ", ".join(edits)
    blocks = _blocks(lst(body.get("messages")))
    refs = [s(b.get("tool_name")) or "?" for b in blocks if b.get("type") == "tool_reference"]
    if refs:
        r.extra["tool_references"] = refs
    compactions = sum(1 for b in blocks if b.get("type") == "compaction")
    if compactions:
        r.extra["compaction_blocks"] = compactions


def unified_rate_limits(ex: Exchange) -> dict[str, dict[str, str]]:
    """The subscription's unified rate limits of a response (`unified_rate_limits_of`)."""
    return unified_rate_limits_of(ex.response_headers)


def unified_rate_limits_of(headers: Iterable[tuple[str, str]]) -> dict[str, dict[str, str]]:
    """The subscription's `anthropic-ratelimit-unified-*` response headers by window: `""` holds
    the overall `status`, `reset`, `representative-claim`, `fallback-percentage`; `5h`, `7d`,
    `7d_oi`, `overage`, … hold each window's `status`, `utilization` (a fraction) and `reset`
    (Unix seconds). Empty when the response has none (API-key traffic). `analysis.quota` reads
    the same headers through this function."""
    out: dict[str, dict[str, str]] = {}
    for name, value in headers:
        low = name.lower()
        if not low.startswith(RATELIMIT_UNIFIED):
            continue
        key = low[len(RATELIMIT_UNIFIED) :]
        window, field = "", key
        for suffix in ("status", "utilization", "reset", "in-use", "disabled-reason"):
            if key.endswith("-" + suffix):
                window, field = key[: -len(suffix) - 1], suffix
                break
        out.setdefault(window, {}).setdefault(field, value.strip())
    return out


# --------------------------------------------------------------------------------------------------
# Response


@dataclass
class _Block:
    index: int
    type: str
    start: dict[str, Any]
    text: list[str] = field(default_factory=list)
    partial_json: list[str] = field(default_factory=list)
    got_json_delta: bool = False
    signature_len: int = 0
    stopped: bool = False


class MessagesAccumulator:
    """Accumulates Anthropic Messages stream events into a ResponseInfo (docs/specs/sse.md §4)."""

    def __init__(self, r: ResponseInfo) -> None:
        self.r = r
        self.blocks: dict[int, _Block] = {}
        self.usage_raw: dict[str, Any] | None = None
        self.content_times: list[float | None] = []
        self.saw_stop = False

    def feed(self, etype: str | None, obj: Any, t: float | None) -> str:
        """Apply one event; returns the Summary text for the events table."""
        if not isinstance(obj, dict):
            return preview(str(obj))
        jtype = s(obj.get("type")) or etype or "message"
        if jtype == "message_start":
            msg = d(obj.get("message"))
            self.r.message_id = s(msg.get("id")) or self.r.message_id
            self.r.model = s(msg.get("model")) or self.r.model
            u = msg.get("usage")
            if isinstance(u, dict):
                self.usage_raw = dict(u)
                self.r.usage_source = "message_start"
            uu = d(u)
            summ = f"model {self.r.model or '?'}, input {fmt_num(i(uu.get('input_tokens')))}"
            cr = i(uu.get("cache_read_input_tokens"))
            cw = i(uu.get("cache_creation_input_tokens"))
            if cr:
                summ += f" (+{fmt_num(cr)} cache read)"
            if cw:
                summ += f" (+{fmt_num(cw)} cache write)"
            return summ
        if jtype == "content_block_start":
            idx = i(obj.get("index"))
            idx = idx if idx is not None else len(self.blocks)
            cb = d(obj.get("content_block"))
            btype = s(cb.get("type")) or "?"
            blk = _Block(index=idx, type=btype, start=cb)
            if btype == "text" and s(cb.get("text")):
                blk.text.append(cb["text"])
            self.blocks[idx] = blk
            name = s(cb.get("name"))
            if btype in TOOL_BLOCKS:
                self.content_times.append(t)  # a tool call's start is model output (docs/metrics.md, TTFT)
            return f"{idx}: {btype}" + (f" {name}" if name and btype in TOOL_BLOCKS else "")
        if jtype == "content_block_delta":
            idx = i(obj.get("index"))
            delta = d(obj.get("delta"))
            dtype = s(delta.get("type")) or "?"
            found = self.blocks.get(idx if idx is not None else -1)
            if found is None:
                found = _Block(index=idx if idx is not None else len(self.blocks), type="?", start={})
                self.blocks[found.index] = found
            blk = found
            if dtype == "text_delta":
                txt = s(delta.get("text")) or ""
                blk.text.append(txt)
                self.content_times.append(t)
                return preview(txt)
            if dtype == "thinking_delta":
                txt = s(delta.get("thinking")) or ""
                blk.text.append(txt)
                self.content_times.append(t)
                return preview(txt)
            if dtype == "input_json_delta":
                frag = s(delta.get("partial_json")) or ""
                blk.partial_json.append(frag)
                blk.got_json_delta = True
                self.content_times.append(t)
                return f"{s(blk.start.get('name')) or '?'}: {preview(frag)}"
            if dtype == "signature_delta":
                blk.signature_len += len(s(delta.get("signature")) or "")
                return "signature [present]"
            if dtype == "citations_delta":
                return "citation"
            if dtype == "compaction_delta":
                # Server-side compaction: the summary that replaces the earlier history.
                txt = s(delta.get("content")) or ""
                blk.text.append(txt)
                if s(delta.get("encrypted_content")):
                    blk.signature_len += len(delta["encrypted_content"])
                return f"compaction: {preview(txt)}" if txt else "compaction"
            return dtype
        if jtype == "content_block_stop":
            idx = i(obj.get("index"))
            if idx is not None and idx in self.blocks:
                self.blocks[idx].stopped = True
            return str(idx) if idx is not None else ""
        if jtype == "message_delta":
            delta = d(obj.get("delta"))
            sr = s(delta.get("stop_reason"))
            if sr:
                self.r.stop_reason = sr
            u = obj.get("usage")
            if isinstance(u, dict):
                merged = dict(self.usage_raw or {})
                merged.update(u)  # cumulative: latest value wins, key by key, never summed
                self.usage_raw = merged
                self.r.usage_source = "message_delta"
            summary = f"stop_reason {sr or '?'}, output {fmt_num(i(d(u).get('output_tokens')))}"
            edits = applied_edits(obj)
            if edits:
                self.r.extra["context_management"] = edits
                summary += "; context management: " + context_edits_text(edits)
            return summary
        if jtype == "message_stop":
            self.saw_stop = True
            return ""
        if jtype == "ping":
            return ""
        if jtype == "error":
            err = d(obj.get("error"))
            e = ErrorInfo(type=s(err.get("type")), message=s(err.get("message")), source="in_stream")
            self.r.errors.append(e)
            return error_summary(e)
        return preview(str(obj))

    def finish(self, ex: Exchange | None) -> None:
        r = self.r
        text: list[str] = []
        reasoning: list[str] = []
        sig = 0
        has_sig = False
        for idx in sorted(self.blocks):
            blk = self.blocks[idx]
            if blk.type == "text":
                text.append("".join(blk.text))
            elif blk.type == "thinking":
                reasoning.append("".join(blk.text))
                if blk.signature_len:
                    has_sig = True
                    sig += blk.signature_len
                elif s(blk.start.get("signature")):
                    has_sig = True
                    sig += len(blk.start["signature"])
            elif blk.type in TOOL_BLOCKS:
                raw = "".join(blk.partial_json)
                preset = blk.start.get("input", INVALID) if not blk.got_json_delta or not raw else INVALID
                tc = make_tool_call(
                    id=s(blk.start.get("id")),
                    name=s(blk.start.get("name")) or "?",
                    raw=raw,
                    index=len(r.tool_calls),
                    type=blk.type,
                    preset=preset,
                )
                tc.incomplete = tc.incomplete or not blk.stopped
                r.tool_calls.append(tc)
        r.text = "".join(text)
        r.reasoning_text = "".join(reasoning)
        if has_sig:
            r.reasoning_signature_len = sig
        compaction = [b for _, b in sorted(self.blocks.items()) if b.type == "compaction"]
        if compaction:
            r.extra["compaction"] = [
                {"summary_chars": sum(len(t) for t in b.text), "encrypted_chars": b.signature_len}
                for b in compaction
            ]
        if self.usage_raw is not None:
            r.usage = usage_anthropic(self.usage_raw)
        if ex is not None:
            finish_timing(r, ex, self.content_times)


def applied_edits(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """`context_management.applied_edits` of a response (the body, or the stream's final
    `message_delta`): what context management removed before the model read the prompt."""
    return [d(e) for e in lst(d(obj.get("context_management")).get("applied_edits")) if isinstance(e, dict)]


def context_edits_text(edits: list[dict[str, Any]]) -> str:
    """`clear_tool_uses_20250919 cleared 8 tool uses (50,000 input tokens)`, one per edit."""
    parts = []
    for e in edits:
        what = [
            f"{fmt_num(i(v))} {k.removeprefix('cleared_').replace('_', ' ')}"
            for k, v in e.items()
            if k.startswith("cleared_") and k != "cleared_input_tokens" and i(v) is not None
        ]
        text = f"{s(e.get('type')) or '?'} cleared " + (", ".join(what) or "content")
        tokens = i(e.get("cleared_input_tokens"))
        if tokens is not None:
            text += f" ({fmt_num(tokens)} input tokens)"
        parts.append(text)
    return "; ".join(parts)


def parse_message_json(r: ResponseInfo, v: Any) -> None:
    """A non-stream Messages response body (and a `count_tokens` result)."""
    if not isinstance(v, dict) or v.get("type") == "error":
        return
    edits = applied_edits(v)
    if edits:
        r.extra["context_management"] = edits
    if "input_tokens" in v and "content" not in v:
        # `/v1/messages/count_tokens`: a count, not usage (no model read these tokens).
        r.extra["count_tokens"] = i(v.get("input_tokens"))
        original = i(d(v.get("context_management")).get("original_input_tokens"))
        if original is not None:
            r.extra["count_tokens_before_context_management"] = original
        return
    r.message_id = s(v.get("id"))
    r.model = s(v.get("model"))
    r.stop_reason = s(v.get("stop_reason"))
    text: list[str] = []
    reasoning: list[str] = []
    for b in lst(v.get("content")):
        bd = d(b)
        bt = s(bd.get("type"))
        if bt == "text":
            text.append(s(bd.get("text")) or "")
        elif bt == "thinking":
            reasoning.append(s(bd.get("thinking")) or "")
            sig = s(bd.get("signature"))
            if sig:
                r.reasoning_signature_len = (r.reasoning_signature_len or 0) + len(sig)
        elif bt == "compaction":
            comp = r.extra.setdefault("compaction", [])
            enc = s(bd.get("encrypted_content")) or ""
            comp.append({"summary_chars": len(s(bd.get("content")) or ""), "encrypted_chars": len(enc)})
        elif bt in TOOL_BLOCKS:
            r.tool_calls.append(
                make_tool_call(
                    id=s(bd.get("id")),
                    name=s(bd.get("name")) or "?",
                    raw="",
                    index=len(r.tool_calls),
                    type=bt,
                    preset=bd.get("input", INVALID),
                )
            )
    r.text = "".join(text)
    r.reasoning_text = "".join(reasoning)
    u = v.get("usage")
    if isinstance(u, dict):
        r.usage = usage_anthropic(u)
        r.usage_source = "body"


def run_sse(ex: Exchange, stream: streams.SseStream, r: ResponseInfo) -> MessagesAccumulator:
    acc = MessagesAccumulator(r)
    for ev in stream.events:
        obj = loads(ev.data)
        if obj is INVALID:
            # Non-JSON data (e.g. a gateway's raw error) is kept as an event, never dropped.
            e = ErrorInfo(type="invalid_json", message=preview(ev.data), source="in_stream")
            if ev.type == "error":
                r.errors.append(e)
            add_event(r, ev.type, preview(ev.data), ev.t_last)
            continue
        etype = ev.type if ev.type != "message" else (s(d(obj).get("type")) or "message")
        add_event(r, etype, acc.feed(etype, obj, ev.t_last), ev.t_last)
    acc.finish(ex)
    r.complete = acc.saw_stop
    return acc


def parse_response(ex: Exchange) -> ResponseInfo:
    if is_sse(ex) and (split := sse_response(ex)) is not None:
        stream, r = split
        run_sse(ex, stream, r)
        if (err := http_error(ex)) is not None:
            r.errors.insert(0, err)
    else:
        r, v = non_stream_response(ex)
        parse_message_json(r, v)
    limits = unified_rate_limits(ex)
    if limits:
        r.extra["ratelimit_unified"] = limits
    return r


class Anthropic(Dialect):
    """Anthropic Messages (and count_tokens), on api.anthropic.com or a gateway serving `/v1/messages`."""

    name = "anthropic"
    backend = "anthropic"
    example_url = "https://api.anthropic.com/v1/messages"

    def matches(self, ex: Exchange) -> bool:
        parts = urlsplit(ex.url)
        host = (parts.hostname or "").lower()
        path = parts.path.rstrip("/")
        if host.endswith("anthropic.com") and "/messages" in path:
            return True
        if path.endswith("/v1/messages") or path.endswith("/v1/messages/count_tokens"):
            return True
        return ex.header("anthropic-version") is not None and path.endswith("/messages")

    def parse_request(self, ex: Exchange) -> RequestInfo:
        return parse_request(ex)

    def parse_response(self, ex: Exchange) -> ResponseInfo:
        return parse_response(ex)
