"""OpenAI Chat Completions (and OpenAI-compatible gateways): docs/specs/sse.md §6."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from fastcap.dialects._util import (
    INVALID,
    add_event,
    d,
    error_from_json,
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
    usage_openai_chat,
)
from fastcap.dialects.base import Dialect, ErrorInfo, MessageInfo, RequestInfo, ResponseInfo
from fastcap.model import Exchange

# --------------------------------------------------------------------------------------------------
# Request


def message_info(m: Any) -> MessageInfo:
    md = d(m)
    role = s(md.get("role")) or "?"
    content = text_of(md.get("content"))
    calls = lst(md.get("tool_calls"))
    if calls:
        names = " ".join(s(d(d(c).get("function")).get("name")) or "?" for c in calls)
        return MessageInfo(
            role=role,
            type="tool_calls",
            preview=(content + "\n" if content else "") + f"tool_calls {names}",
            chars=len(content),
        )
    if role == "tool":
        return MessageInfo(role=role, type="tool", preview=content, chars=len(content))
    return MessageInfo(role=role, type="message", preview=content, chars=len(content))


def parse_request(ex: Exchange) -> RequestInfo:
    r = RequestInfo()
    body = request_json(ex)
    if not isinstance(body, dict):
        return r
    r.json = body
    r.model = s(body.get("model"))
    stream = body.get("stream")
    r.stream = stream if isinstance(stream, bool) else None
    r.max_tokens = i(body.get("max_completion_tokens"))
    if r.max_tokens is None:
        r.max_tokens = i(body.get("max_tokens"))
    messages = lst(body.get("messages"))
    r.messages = [message_info(m) for m in messages]
    r.history_length = len(messages)
    r.message_hashes = [hash_message(m) for m in messages]
    sys_texts = [
        text_of(d(m).get("content")) for m in messages if d(m).get("role") in ("system", "developer")
    ]
    if sys_texts:
        r.system_text = "\n\n".join(sys_texts)
    for t in lst(body.get("tools")):
        td = d(t)
        r.tools.append(s(d(td.get("function")).get("name")) or s(td.get("name")) or "(unnamed)")
        r.tool_types.append(s(td.get("type")) or "function")
    effort = s(body.get("reasoning_effort")) or s(d(body.get("reasoning")).get("effort"))
    if effort:
        r.thinking = f"reasoning effort {effort}"
        r.thinking_enabled = effort not in ("none", "minimal")
    for key in (
        "tool_choice",
        "parallel_tool_calls",
        "stream_options",
        "n",
        "temperature",
        "response_format",
    ):
        if key in body:
            r.config[key] = body[key]
    user = s(body.get("user"))
    if user:
        r.config["user"] = user
    last = d(messages[-1]) if messages else {}
    if last.get("role") == "tool":
        r.turn_kind = "tool_result"
    elif last.get("role") == "user":
        r.turn_kind = "user_message"
    for m in reversed(messages):
        if d(m).get("role") == "user":
            r.user_text = text_of(d(m).get("content"))
            break
    for m in reversed(messages):
        md = d(m)
        if md.get("role") != "tool":
            break
        r.tool_results.insert(
            0,
            {"id": s(md.get("tool_call_id")), "status": "success", "chars": len(text_of(md.get("content")))},
        )
    return r


# --------------------------------------------------------------------------------------------------
# Response


@dataclass
class _Call:
    index: int
    id: str | None = None
    name: str | None = None
    type: str | None = None
    args: list[str] = field(default_factory=list)


@dataclass
class _Choice:
    index: int
    role: str | None = None
    content: list[str] = field(default_factory=list)
    refusal: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    calls: dict[int, _Call] = field(default_factory=dict)
    finish_reason: str | None = None


class ChatAccumulator:
    def __init__(self, r: ResponseInfo) -> None:
        self.r = r
        self.choices: dict[int, _Choice] = {}
        self.done = False
        self.content_times: list[float | None] = []

    def feed(self, obj: Any, t: float | None) -> str:
        if not isinstance(obj, dict):
            return preview(str(obj))
        summaries: list[str] = []
        # An error does not end the chunk: some OpenAI-compatible routers send their last chunk
        # with `error`, `choices` (the finish reason) and `usage` together; every field is read.
        if obj.get("error") is not None:
            e = error_from_json(obj) or ErrorInfo(type="error", message=None, source="in_stream")
            e.source = "in_stream"
            self.r.errors.append(e)
            summaries.append(error_summary(e))
        self.r.message_id = s(obj.get("id")) or self.r.message_id
        self.r.model = s(obj.get("model")) or self.r.model
        if s(obj.get("system_fingerprint")):
            self.r.extra["system_fingerprint"] = obj["system_fingerprint"]
        for ch in lst(obj.get("choices")):
            chd = d(ch)
            ci = i(chd.get("index")) or 0
            choice = self.choices.setdefault(ci, _Choice(index=ci))
            delta = d(chd.get("delta"))
            if not delta and isinstance(chd.get("message"), dict):
                delta = d(chd.get("message"))
            if s(delta.get("role")):
                choice.role = delta["role"]
            content = s(delta.get("content"))
            if content:
                choice.content.append(content)
                self.content_times.append(t)
                summaries.append(preview(content))
            refusal = s(delta.get("refusal"))
            if refusal:
                # Not model output for TTFT (docs/metrics.md: text, reasoning, tool calls).
                choice.refusal.append(refusal)
                summaries.append(preview(refusal))
            reasoning = s(delta.get("reasoning_content")) or s(delta.get("reasoning"))
            if reasoning:
                choice.reasoning.append(reasoning)
                self.content_times.append(t)
                summaries.append(preview(reasoning))
            for tc in lst(delta.get("tool_calls")):
                tcd = d(tc)
                idx = i(tcd.get("index"))
                idx = idx if idx is not None else len(choice.calls)
                call = choice.calls.setdefault(idx, _Call(index=idx))
                call.id = call.id or s(tcd.get("id"))
                call.type = call.type or s(tcd.get("type"))
                fn = d(tcd.get("function"))
                call.name = call.name or s(fn.get("name"))
                frag = s(fn.get("arguments")) or ""
                call.args.append(frag)
                self.content_times.append(t)
                summaries.append(f"{call.name or '?'}: {preview(frag)}")
            fr = s(chd.get("finish_reason"))
            if fr:
                choice.finish_reason = fr
                summaries.append(f"finish_reason {fr}")
        u = obj.get("usage")
        if isinstance(u, dict):
            self.r.usage = usage_openai_chat(u)
            self.r.usage_source = "usage chunk"
            summaries.append(f"usage {i(u.get('prompt_tokens'))}/{i(u.get('completion_tokens'))}")
        return "; ".join(x for x in summaries if x)

    def finish(self, ex: Exchange | None) -> None:
        r = self.r
        c0 = self.choices.get(0) or (self.choices[min(self.choices)] if self.choices else None)
        if c0 is not None:
            r.text = "".join(c0.content)
            r.refusal = "".join(c0.refusal)
            r.reasoning_text = "".join(c0.reasoning)
            r.stop_reason = c0.finish_reason
            for idx in sorted(c0.calls):
                call = c0.calls[idx]
                r.tool_calls.append(
                    make_tool_call(
                        id=call.id, name=call.name or "?", raw="".join(call.args), index=idx, type=call.type
                    )
                )
        if len(self.choices) > 1:
            r.extra["choices"] = [
                {
                    "index": ch.index,
                    "content": "".join(ch.content),
                    "refusal": "".join(ch.refusal),
                    "finish_reason": ch.finish_reason,
                    "tool_calls": [
                        {"index": c.index, "id": c.id, "name": c.name, "arguments": "".join(c.args)}
                        for c in (ch.calls[k] for k in sorted(ch.calls))
                    ],
                }
                for ch in (self.choices[k] for k in sorted(self.choices))
            ]
        if ex is not None:
            finish_timing(r, ex, self.content_times)


def parse_response_json(r: ResponseInfo, v: Any) -> None:
    if not isinstance(v, dict) or not isinstance(v.get("choices"), list):
        return
    acc = ChatAccumulator(r)
    acc.feed(v, None)
    acc.finish(None)


def parse_response(ex: Exchange) -> ResponseInfo:
    if is_sse(ex) and (split := sse_response(ex)) is not None:
        stream, r = split
        acc = ChatAccumulator(r)
        for ev in stream.events:
            if ev.is_done:
                acc.done = True
                add_event(r, "[DONE]", "", ev.t_last)
                continue
            obj = loads(ev.data)
            if obj is INVALID:
                add_event(r, ev.type, preview(ev.data), ev.t_last)
                continue
            if ev.type == "error" and isinstance(obj, dict) and "error" not in obj:
                obj = {"error": obj}
            add_event(r, ev.type, acc.feed(obj, ev.t_last), ev.t_last)
        acc.finish(ex)
        r.complete = acc.done
        if (err := http_error(ex)) is not None:
            r.errors.insert(0, err)
        return r
    r, v = non_stream_response(ex)
    parse_response_json(r, v)
    return r


class OpenAIChat(Dialect):
    """OpenAI Chat Completions (and legacy `/v1/completions`), on api.openai.com or any compatible server."""

    name = "openai_chat"
    backend = "openai"
    example_url = "https://api.openai.com/v1/chat/completions"

    def matches(self, ex: Exchange) -> bool:
        path = urlsplit(ex.url).path.rstrip("/").lower()
        return path.endswith("/chat/completions") or path.endswith("/v1/completions")

    def parse_request(self, ex: Exchange) -> RequestInfo:
        return parse_request(ex)

    def parse_response(self, ex: Exchange) -> ResponseInfo:
        return parse_response(ex)
