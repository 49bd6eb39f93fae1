"""Gemini `generateContent` / `streamGenerateContent` and the Code Assist wrapper (docs/specs/sse.md §7).

Response forms: SSE (`?alt=sse`, CRLF framing), the non-SSE stream (one JSON array of
GenerateContentResponse objects), a single JSON object, and Code Assist's `{"response": …}` wrapper
around each of them. A raw JSON error found in an SSE body is recorded as an error event.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlsplit

from fastcap.dialects._util import (
    INVALID,
    add_event,
    body_bytes,
    d,
    dumps,
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
    usage_gemini,
)
from fastcap.dialects.base import Dialect, ErrorInfo, MessageInfo, RequestInfo, ResponseInfo
from fastcap.model import Exchange

_MODEL_IN_PATH = re.compile(r"/models/([^/:]+)")


# --------------------------------------------------------------------------------------------------
# Request


def _part_kind(p: dict[str, Any]) -> str:
    if p.get("thought") is True:
        return "thought"
    for key in (
        "text",
        "functionCall",
        "functionResponse",
        "inlineData",
        "fileData",
        "executableCode",
        "codeExecutionResult",
    ):
        if key in p:
            return key
    return next(iter(p), "?") if p else "?"


def content_info(c: Any) -> MessageInfo:
    cd = d(c)
    role = s(cd.get("role")) or "user"
    kinds: list[str] = []
    pieces: list[str] = []
    chars = 0
    for p in lst(cd.get("parts")):
        pd = d(p)
        k = _part_kind(pd)
        if k not in kinds:
            kinds.append(k)
        if k in ("text", "thought"):
            t = s(pd.get("text")) or ""
            chars += len(t)
            if k == "text":
                pieces.append(t)
        elif k == "functionCall":
            pieces.append(f"functionCall {s(d(pd.get('functionCall')).get('name')) or '?'}")
        elif k == "functionResponse":
            fr = d(pd.get("functionResponse"))
            pieces.append(f"functionResponse {s(fr.get('name')) or '?'}")
            chars += len(dumps(fr.get("response")))
    return MessageInfo(role=role, type="+".join(kinds) or "empty", preview="\n".join(pieces), chars=chars)


def _strip_signatures(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _strip_signatures(x) for k, x in v.items() if k != "thoughtSignature"}
    if isinstance(v, list):
        return [_strip_signatures(x) for x in v]
    return v


def parse_request(ex: Exchange) -> RequestInfo:
    r = RequestInfo()
    body = request_json(ex)
    path = unquote(urlsplit(ex.url).path)
    r.stream = ":streamGenerateContent" in path or None
    m = _MODEL_IN_PATH.search(path)
    if m:
        r.model = m.group(1)
    if not isinstance(body, dict):
        return r
    r.json = body
    inner = body
    if isinstance(body.get("request"), dict):  # Code Assist wrapper
        inner = body["request"]
        r.model = s(body.get("model")) or r.model
        for key in ("project", "user_prompt_id"):
            if s(body.get(key)):
                r.extra[key] = body[key]
        r.conversation_id = s(inner.get("session_id"))
    r.model = r.model or s(inner.get("model"))
    si = d(inner.get("systemInstruction") or inner.get("system_instruction"))
    sys_parts = [s(d(p).get("text")) or "" for p in lst(si.get("parts"))]
    if sys_parts:
        r.system_text = "\n".join(sys_parts)
    elif isinstance(inner.get("systemInstruction"), str):
        r.system_text = inner["systemInstruction"]
    contents = lst(inner.get("contents"))
    r.messages = [content_info(c) for c in contents]
    r.history_length = len(contents)
    r.message_hashes = [hash_message(_strip_signatures(c)) for c in contents]
    for t in lst(inner.get("tools")):
        td = d(t)
        decls = lst(td.get("functionDeclarations")) or lst(td.get("function_declarations"))
        for fd in decls:
            r.tools.append(s(d(fd).get("name")) or "(unnamed)")
            r.tool_types.append("function")
        for key in td:
            if key not in ("functionDeclarations", "function_declarations"):
                r.tools.append(key)
                r.tool_types.append(key)
    gc = d(inner.get("generationConfig"))
    r.max_tokens = i(gc.get("maxOutputTokens"))
    tc = gc.get("thinkingConfig")
    if isinstance(tc, dict):
        budget = i(tc.get("thinkingBudget"))
        level = s(tc.get("thinkingLevel"))
        bits = []
        if budget is not None:
            bits.append(f"budget {budget}")
        if level:
            bits.append(f"level {level}")
        if tc.get("includeThoughts") is True:
            bits.append("include thoughts")
        r.thinking = "thinkingConfig" + (f" ({', '.join(bits)})" if bits else "")
        r.thinking_enabled = budget != 0
    for key in ("temperature", "topP", "topK", "responseMimeType"):
        if key in gc:
            r.config[key] = gc[key]
    if "toolConfig" in inner:
        r.config["toolConfig"] = inner["toolConfig"]
    last = d(contents[-1]) if contents else {}
    parts = [d(p) for p in lst(last.get("parts"))]
    if any("functionResponse" in p for p in parts):
        r.turn_kind = "tool_result"
        for p in parts:
            fr = d(p.get("functionResponse"))
            if fr:
                r.tool_results.append(
                    {
                        "id": s(fr.get("id")) or s(fr.get("name")),
                        "status": "success",
                        "chars": len(dumps(fr.get("response"))),
                    }
                )
    elif last.get("role", "user") == "user" and contents:
        r.turn_kind = "user_message"
    for c in reversed(contents):
        cd = d(c)
        if cd.get("role", "user") == "user":
            texts = [s(d(p).get("text")) for p in lst(cd.get("parts")) if s(d(p).get("text")) is not None]
            if texts:
                r.user_text = "\n".join(t for t in texts if t is not None)
                break
    return r


# --------------------------------------------------------------------------------------------------
# Response


class GeminiAccumulator:
    def __init__(self, r: ResponseInfo) -> None:
        self.r = r
        self.text: list[str] = []
        self.thoughts: list[str] = []
        self.content_times: list[float | None] = []
        self.finish_reason: str | None = None
        self.signatures = 0
        self.signature_len = 0
        self.credits: list[Any] = []

    def feed(self, obj: Any, t: float | None) -> str:
        if not isinstance(obj, dict):
            return preview(str(obj))
        if "error" in obj:
            e = error_from_json(obj) or ErrorInfo(type="error", message=None, source="in_stream")
            e.source = "in_stream"
            self.r.errors.append(e)
            return error_summary(e)
        if isinstance(obj.get("response"), dict):  # Code Assist wrapper
            for key in ("traceId", "consumedCredits", "remainingCredits"):
                if key in obj:
                    self.r.extra[key] = obj[key]
            obj = obj["response"]
        self.r.message_id = s(obj.get("responseId")) or self.r.message_id
        self.r.model = s(obj.get("modelVersion")) or self.r.model
        summaries: list[str] = []
        for cand in lst(obj.get("candidates")):
            cd = d(cand)
            if i(cd.get("index")) not in (None, 0):
                continue
            for p in lst(d(cd.get("content")).get("parts")):
                pd = d(p)
                sig = s(pd.get("thoughtSignature"))
                if sig:
                    self.signatures += 1
                    self.signature_len += len(sig)
                if "functionCall" in pd:
                    fc = d(pd.get("functionCall"))
                    name = s(fc.get("name")) or "?"
                    args = fc.get("args", {})
                    tc = make_tool_call(
                        id=s(fc.get("id")),
                        name=name,
                        raw="",
                        index=len(self.r.tool_calls),
                        type="functionCall",
                        preset=args,
                    )
                    if sig:
                        tc.extra["thought_signature_len"] = len(sig)
                    self.r.tool_calls.append(tc)
                    self.content_times.append(t)
                    summaries.append(f"functionCall {name}")
                    continue
                txt = s(pd.get("text"))
                if txt is None:
                    continue
                if pd.get("thought") is True:
                    self.thoughts.append(txt)
                    summaries.append(f"thought: {preview(txt)}")
                else:
                    self.text.append(txt)
                    summaries.append(preview(txt))
                self.content_times.append(t)
            fr = s(cd.get("finishReason"))
            if fr:
                self.finish_reason = fr
                summaries.append(f"finishReason {fr}")
        um = obj.get("usageMetadata")
        if isinstance(um, dict):
            self.r.usage = usage_gemini(um)  # the last chunk wins
            self.r.usage_source = "usageMetadata"
        return "; ".join(x for x in summaries if x)

    def finish(self, ex: Exchange | None) -> None:
        r = self.r
        r.text = "".join(self.text)
        r.reasoning_text = "".join(self.thoughts)
        r.stop_reason = self.finish_reason
        if self.signatures:
            r.reasoning_signature_len = self.signature_len
            r.extra["parts_with_thought_signature"] = self.signatures
        if ex is not None:
            finish_timing(r, ex, self.content_times)


def _trailing_json(body: bytes, after: int) -> Any:
    """A raw JSON value (typically an error) in an SSE body outside any `data:` line."""
    tail = body[after:].strip()
    if not tail.startswith((b"{", b"[")):
        pos = tail.find(b"{")
        if pos < 0:
            return INVALID
        tail = tail[pos:]
    return loads(tail)


def parse_response(ex: Exchange) -> ResponseInfo:
    body = body_bytes(ex)
    if (
        is_sse(ex)
        and body is not None
        and not body.lstrip().startswith((b"{", b"["))
        and (split := sse_response(ex)) is not None
    ):
        stream, r = split
        acc = GeminiAccumulator(r)
        for ev in stream.events:
            obj = loads(ev.data)
            if obj is INVALID:
                add_event(r, ev.type, preview(ev.data), ev.t_last)
                continue
            add_event(r, ev.type, acc.feed(obj, ev.t_last), ev.t_last)
        last_end = max((e.byte_end or 0 for e in stream.events), default=0)
        if ex.response_body is not None and last_end < len(body.rstrip()):
            extra = _trailing_json(body, last_end)
            if extra is not INVALID:
                add_event(r, "message", acc.feed(extra, None), None)
        acc.finish(ex)
        r.complete = acc.finish_reason is not None
        if (err := http_error(ex)) is not None:
            r.errors.insert(0, err)
        return r
    r, v = non_stream_response(ex)
    if isinstance(v, list):
        # the non-SSE stream form: one JSON array of chunks
        r.kind = "json"
        acc = GeminiAccumulator(r)
        has_body_error = any(e.source == "body" for e in r.errors)
        for item in v:
            if has_body_error and isinstance(item, dict) and "error" in item:
                continue
            add_event(r, "message", acc.feed(item, None), None)
        acc.finish(ex)
        r.complete = acc.finish_reason is not None
    elif isinstance(v, dict) and (
        isinstance(v.get("candidates"), list) or isinstance(v.get("response"), dict)
    ):
        acc = GeminiAccumulator(r)
        acc.feed(v, None)
        acc.finish(ex)
    return r


class Gemini(Dialect):
    """Gemini `generateContent` / `streamGenerateContent`, direct or through Code Assist (cloudcode-pa)."""

    name = "gemini"
    backend = "gemini"
    example_url = (
        "https://generativelanguage.googleapis.com/v1beta/models/gemini:streamGenerateContent?alt=sse"
    )

    def matches(self, ex: Exchange) -> bool:
        parts = urlsplit(ex.url)
        host = (parts.hostname or "").lower()
        if host in ("generativelanguage.googleapis.com",) or host.startswith("cloudcode-pa."):
            return True
        path = parts.path.lower()
        return ":generatecontent" in path or ":streamgeneratecontent" in path

    def parse_request(self, ex: Exchange) -> RequestInfo:
        return parse_request(ex)

    def parse_response(self, ex: Exchange) -> ResponseInfo:
        return parse_response(ex)
