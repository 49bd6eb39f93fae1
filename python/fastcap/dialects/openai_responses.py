"""OpenAI Responses (`/v1/responses`, `chatgpt.com/backend-api/codex/responses`, Codex WebSocket).

Stream accumulation per docs/specs/sse.md §5: items keyed by `output_index`, function-call `call_id` and `name`
from `response.output_item.added`, usage from `response.completed.response.usage`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from fastcap.dialects._util import (
    INVALID,
    add_event,
    d,
    error_summary,
    finish_timing,
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
    usage_openai_responses,
)
from fastcap.dialects.base import Dialect, ErrorInfo, MessageInfo, RequestInfo, ResponseInfo
from fastcap.model import Exchange

TERMINAL = ("response.completed", "response.failed", "response.incomplete")


# --------------------------------------------------------------------------------------------------
# Request


def _item_text(item: dict[str, Any]) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    return text_of(content)


def item_info(it: Any) -> MessageInfo:
    item = d(it)
    itype = s(item.get("type")) or ("message" if "role" in item else "?")
    role = s(item.get("role")) or (
        "assistant" if itype in ("function_call", "reasoning", "custom_tool_call") else "tool"
    )
    if itype == "message":
        t = _item_text(item)
        return MessageInfo(role=role, type="message", preview=t, chars=len(t))
    if itype in ("function_call", "custom_tool_call"):
        args = s(item.get("arguments")) or s(item.get("input")) or ""
        return MessageInfo(
            role=role, type=itype, preview=f"{s(item.get('name')) or '?'} {args}", chars=len(args)
        )
    if itype in ("function_call_output", "custom_tool_call_output"):
        out = item.get("output")
        t = out if isinstance(out, str) else text_of(out)
        return MessageInfo(role=role, type=itype, preview=t, chars=len(t))
    if itype == "reasoning":
        t = "\n".join(s(d(x).get("text")) or "" for x in lst(item.get("summary")))
        return MessageInfo(role=role, type=itype, preview=t, chars=len(t))
    return MessageInfo(role=role, type=itype, preview="", chars=0)


def _norm_item(item: Any) -> Any:
    if isinstance(item, dict):
        return {k: v for k, v in item.items() if k not in ("id", "status")}
    return item


def parse_request_body(body: Any, ex: Exchange | None) -> RequestInfo:
    r = RequestInfo()
    if not isinstance(body, dict):
        return r
    r.json = body
    r.model = s(body.get("model"))
    stream = body.get("stream")
    r.stream = stream if isinstance(stream, bool) else None
    r.max_tokens = i(body.get("max_output_tokens"))
    instructions = body.get("instructions")
    r.system_text = instructions if isinstance(instructions, str) else (text_of(instructions) or None)
    raw_input = body.get("input")
    items: list[Any] = (
        [{"type": "message", "role": "user", "content": raw_input}]
        if isinstance(raw_input, str)
        else lst(raw_input)
    )
    r.messages = [item_info(it) for it in items]
    r.history_length = len(items)
    r.message_hashes = [hash_message(_norm_item(it)) for it in items]
    sys_msgs = [_item_text(d(it)) for it in items if d(it).get("role") in ("system", "developer")]
    if sys_msgs and not r.system_text:
        r.system_text = "\n\n".join(sys_msgs)
    for t in lst(body.get("tools")):
        td = d(t)
        ttype = s(td.get("type")) or "function"
        r.tools.append(s(td.get("name")) or ttype)
        r.tool_types.append(ttype)
    reasoning = d(body.get("reasoning"))
    effort = s(reasoning.get("effort"))
    if reasoning:
        r.thinking = f"reasoning effort {effort or 'default'}"
        summary = s(reasoning.get("summary"))
        if summary:
            r.thinking += f", summary {summary}"
        r.thinking_enabled = effort != "none"
    for key in (
        "tool_choice",
        "parallel_tool_calls",
        "store",
        "service_tier",
        "include",
        "text",
        "temperature",
    ):
        if key in body:
            r.config[key] = body[key]
    r.continuation_id = s(body.get("previous_response_id"))
    pck = s(body.get("prompt_cache_key"))
    if pck:
        r.config["prompt_cache_key"] = pck
    conv = body.get("conversation")
    conv_id = s(conv) or s(d(conv).get("id"))
    header_session = None
    if ex is not None:
        header_session = ex.header("session_id") or ex.header("session-id") or ex.header("conversation_id")
    r.conversation_id = header_session or conv_id or pck
    last = d(items[-1]) if items else {}
    ltype = s(last.get("type")) or ("message" if "role" in last else None)
    if ltype in ("function_call_output", "custom_tool_call_output"):
        r.turn_kind = "tool_result"
    elif ltype == "message" and last.get("role") == "user":
        r.turn_kind = "user_message"
    for it in reversed(items):
        itd = d(it)
        if itd.get("role") == "user":
            r.user_text = _item_text(itd)
            break
    # tool results of the current turn: trailing outputs
    for it in reversed(items):
        itd = d(it)
        if itd.get("type") not in ("function_call_output", "custom_tool_call_output"):
            break
        out = itd.get("output")
        r.tool_results.insert(
            0,
            {
                "id": s(itd.get("call_id")),
                "status": "success",
                "chars": len(out if isinstance(out, str) else text_of(out)),
            },
        )
    return r


def parse_request(ex: Exchange) -> RequestInfo:
    if ex.websocket:
        for m in ex.websocket:
            if not (m.from_client and m.is_text):
                continue
            obj = loads(m.data)
            if isinstance(obj, dict) and obj.get("type") == "response.create":
                inner = obj.get("response")
                body = inner if isinstance(inner, dict) else obj
                return parse_request_body(body, ex)
    return parse_request_body(request_json(ex), ex)


# --------------------------------------------------------------------------------------------------
# Response


@dataclass
class _Item:
    output_index: int
    type: str
    id: str | None
    item: dict[str, Any]
    text: list[str] = field(default_factory=list)
    summary: dict[int, list[str]] = field(default_factory=dict)
    reasoning_text: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    got_args: bool = False
    done_item: dict[str, Any] | None = None
    done_args: str | None = None


class ResponsesAccumulator:
    def __init__(self, r: ResponseInfo) -> None:
        self.r = r
        self.items: dict[int, _Item] = {}
        self.by_id: dict[str, _Item] = {}
        self.content_times: list[float | None] = []
        self.terminal = False
        self.final_output: list[Any] | None = None
        self.last_seq: int | None = None
        self.gaps: list[tuple[int, int]] = []

    def _item_for(self, obj: dict[str, Any]) -> _Item:
        iid = s(obj.get("item_id"))
        if iid and iid in self.by_id:
            return self.by_id[iid]
        oi = i(obj.get("output_index"))
        if oi is not None and oi in self.items:
            return self.items[oi]
        it = _Item(output_index=oi if oi is not None else len(self.items), type="?", id=iid, item={})
        self.items[it.output_index] = it
        if iid:
            self.by_id[iid] = it
        return it

    def _response_obj(self, resp: dict[str, Any]) -> None:
        self.r.message_id = s(resp.get("id")) or self.r.message_id
        self.r.model = s(resp.get("model")) or self.r.model

    def feed(self, obj: Any, t: float | None) -> str:
        if not isinstance(obj, dict):
            return preview(str(obj))
        typ = s(obj.get("type")) or "?"
        seq = i(obj.get("sequence_number"))
        if seq is not None:
            if self.last_seq is not None and seq != self.last_seq + 1:
                self.gaps.append((self.last_seq, seq))
            self.last_seq = seq
        if typ in ("response.created", "response.in_progress", "response.queued"):
            resp = d(obj.get("response"))
            self._response_obj(resp)
            return f"status {s(resp.get('status')) or '?'}"
        if typ == "response.output_item.added":
            item = d(obj.get("item"))
            oi = i(obj.get("output_index"))
            it = _Item(
                output_index=oi if oi is not None else len(self.items),
                type=s(item.get("type")) or "?",
                id=s(item.get("id")),
                item=item,
            )
            self.items[it.output_index] = it
            if it.id:
                self.by_id[it.id] = it
            name = s(item.get("name"))
            if name:
                self.content_times.append(t)  # a tool call's start is model output (docs/metrics.md, TTFT)
            return it.type + (f" {name}" if name else "")
        if typ == "response.output_item.done":
            item = d(obj.get("item"))
            it = self._item_for({"item_id": item.get("id"), "output_index": obj.get("output_index")})
            it.done_item = item
            if it.type == "?":
                it.type = s(item.get("type")) or "?"
                it.item = item
            name = s(item.get("name"))
            return (s(item.get("type")) or "?") + (f" {name}" if name else "")
        if typ.endswith(".delta"):
            delta = obj.get("delta")
            frag = delta if isinstance(delta, str) else ""
            it = self._item_for(obj)
            if typ == "response.output_text.delta":
                it.text.append(frag)
                self.content_times.append(t)
            elif typ == "response.reasoning_summary_text.delta":
                idx = i(obj.get("summary_index")) or 0
                it.summary.setdefault(idx, []).append(frag)
                self.content_times.append(t)
            elif typ == "response.reasoning_text.delta":
                it.reasoning_text.append(frag)
                self.content_times.append(t)
            elif typ in ("response.function_call_arguments.delta", "response.custom_tool_call_input.delta"):
                it.args.append(frag)
                it.got_args = True
                self.content_times.append(t)
                return f"{s(it.item.get('name')) or '?'}: {preview(frag)}"
            elif typ == "response.refusal.delta":
                # Not model output for TTFT (docs/metrics.md: text, reasoning, tool calls).
                self.r.refusal += frag
            return preview(frag)
        if typ in ("response.function_call_arguments.done", "response.custom_tool_call_input.done"):
            it = self._item_for(obj)
            done = obj.get("arguments") if typ.startswith("response.function") else obj.get("input")
            it.done_args = done if isinstance(done, str) else None
            return f"{s(obj.get('name')) or s(it.item.get('name')) or '?'}"
        if typ in TERMINAL:
            self.terminal = True
            resp = d(obj.get("response"))
            self._response_obj(resp)
            status = s(resp.get("status")) or typ.rsplit(".", 1)[1]
            u = resp.get("usage")
            if isinstance(u, dict):
                self.r.usage = usage_openai_responses(u)
                self.r.usage_source = typ
            out = resp.get("output")
            if isinstance(out, list):
                self.final_output = out
            if typ == "response.incomplete":
                self.r.stop_reason = s(d(resp.get("incomplete_details")).get("reason")) or "incomplete"
            else:
                self.r.stop_reason = status
            if typ == "response.failed":
                err = d(resp.get("error"))
                self.r.errors.append(
                    ErrorInfo(
                        type=s(err.get("code")) or "failed", message=s(err.get("message")), source="in_stream"
                    )
                )
            uu = d(u)
            return f"status {status}, {i(uu.get('input_tokens'))}/{i(uu.get('output_tokens'))} tokens"
        if typ == "error":
            err = d(obj.get("error")) or obj
            parts = [x for x in (s(err.get("type")) if err is not obj else None, s(err.get("code"))) if x]
            e = ErrorInfo(type="/".join(parts) or "error", message=s(err.get("message")), source="in_stream")
            self.r.errors.append(e)
            return error_summary(e)
        return ""

    def finish(self, ex: Exchange | None) -> None:
        r = self.r
        if self.final_output is not None:
            # items only present in the final output (non-stream-like streams)
            for n, item in enumerate(self.final_output):
                if isinstance(item, dict) and n not in self.items:
                    self.items[n] = _Item(
                        output_index=n,
                        type=s(item.get("type")) or "?",
                        id=s(item.get("id")),
                        item=item,
                        done_item=item,
                    )
        text: list[str] = []
        reasoning: list[str] = []
        for oi in sorted(self.items):
            it = self.items[oi]
            final = it.done_item or {}
            if it.type == "message":
                t = "".join(it.text)
                if not it.text and final:
                    t = "".join(
                        s(d(c).get("text")) or ""
                        for c in lst(final.get("content"))
                        if d(c).get("type") == "output_text"
                    )
                text.append(t)
            elif it.type == "reasoning":
                if it.summary:
                    reasoning.append("\n\n".join("".join(it.summary[k]) for k in sorted(it.summary)))
                elif it.reasoning_text:
                    reasoning.append("".join(it.reasoning_text))
                elif final:
                    parts = [s(d(x).get("text")) or "" for x in lst(final.get("summary"))]
                    if any(parts):
                        reasoning.append("\n\n".join(parts))
            elif it.type in ("function_call", "custom_tool_call"):
                raw = "".join(it.args)
                if not it.got_args:
                    raw = (
                        s(final.get("arguments"))
                        or s(final.get("input"))
                        or s(it.item.get("arguments"))
                        or ""
                    )
                src = it.item or final
                tc = make_tool_call(
                    id=s(src.get("call_id")) or s(final.get("call_id")),
                    name=s(src.get("name")) or s(final.get("name")) or "?",
                    raw=raw,
                    index=len(r.tool_calls),
                    type=it.type,
                    json_expected=it.type == "function_call",
                )
                tc.extra["item_id"] = it.id
                if it.done_args is not None and it.got_args and it.done_args != raw:
                    tc.extra["arguments_done_mismatch"] = True
                    r.notes.append(f"Arguments of {tc.name} differ from the .done event.")
                if not self.terminal and final == {}:
                    tc.incomplete = True
                r.tool_calls.append(tc)
        r.text = "".join(text)
        r.reasoning_text = "\n\n".join(x for x in reasoning if x)
        if self.gaps:
            r.extra["sequence_gaps"] = self.gaps
        if ex is not None:
            finish_timing(r, ex, self.content_times)


def run_events(
    ex: Exchange | None, events: Iterable[tuple[str, str, float | None]], r: ResponseInfo
) -> ResponsesAccumulator:
    """events: (display type, data text, time)."""
    acc = ResponsesAccumulator(r)
    for etype, data, t in events:
        obj = loads(data)
        if obj is INVALID:
            add_event(r, etype, preview(data), t)
            continue
        jtype = s(d(obj).get("type"))
        display = etype if etype != "message" else (jtype or "message")
        if jtype and etype not in ("message", jtype):
            r.extra.setdefault("event_type_field_mismatches", []).append((etype, jtype))
        add_event(r, display, acc.feed(obj, t), t)
    acc.finish(ex)
    r.complete = acc.terminal
    return acc


def parse_response_json(r: ResponseInfo, v: Any) -> None:
    if not isinstance(v, dict) or "output" not in v:
        return
    acc = ResponsesAccumulator(r)
    acc.feed({"type": "response.completed", "response": v}, None)
    acc.finish(None)


def parse_response(ex: Exchange) -> ResponseInfo:
    if ex.websocket is not None:
        r = ResponseInfo(kind="websocket")
        evs: list[tuple[str, str, float | None]] = []
        for m in ex.websocket:
            if m.from_client or not m.is_text:
                continue
            text = m.data.decode("utf-8", "replace")
            obj = loads(text)
            jtype = s(d(obj).get("type")) or ""
            if jtype.startswith("response.") or jtype == "error":
                evs.append((jtype, text, m.t))
        run_events(ex, evs, r)
        return r
    if is_sse(ex) and (split := sse_response(ex)) is not None:
        stream, r = split
        run_events(ex, ((e.type, e.data, e.t_last) for e in stream.events), r)
        if (err := http_error(ex)) is not None:
            r.errors.insert(0, err)
        return r
    r, v = non_stream_response(ex)
    parse_response_json(r, v)
    return r


class OpenAIResponses(Dialect):
    """OpenAI Responses, including ChatGPT's Codex `backend-api/codex/responses`."""

    name = "openai_responses"
    backend = "openai"
    example_url = "https://api.openai.com/v1/responses"

    def matches(self, ex: Exchange) -> bool:
        path = urlsplit(ex.url).path.rstrip("/").lower()
        return path.endswith("/responses") or "/codex/responses" in path

    def parse_request(self, ex: Exchange) -> RequestInfo:
        return parse_request(ex)

    def parse_response(self, ex: Exchange) -> ResponseInfo:
        return parse_response(ex)
