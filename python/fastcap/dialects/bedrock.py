"""Amazon Bedrock: ConverseStream / Converse and InvokeModel(WithResponseStream) (docs/specs/eventstream.md §11).

`InvokeModelWithResponseStream` chunk payloads `{"bytes": <base64>}` decode to the model's native
events; for Anthropic models those are Messages events, accumulated by the Anthropic dialect.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from fastcap.dialects import anthropic, streams
from fastcap.dialects._util import (
    INVALID,
    add_event,
    d,
    dumps,
    error_summary,
    finish_timing,
    hash_message,
    http_error,
    i,
    loads,
    lst,
    make_tool_call,
    non_stream_response,
    preview,
    request_json,
    s,
    usage_aws,
)
from fastcap.dialects.base import Dialect, ErrorInfo, MessageInfo, RequestInfo, ResponseInfo
from fastcap.model import Exchange


def _op(ex: Exchange) -> str:
    path = urlsplit(ex.url).path.rstrip("/").lower()
    for suffix, op in (
        ("/converse-stream", "ConverseStream"),
        ("/converse", "Converse"),
        ("/invoke-with-response-stream", "InvokeModelWithResponseStream"),
        ("/invoke", "InvokeModel"),
    ):
        if path.endswith(suffix):
            return op
    return "?"


def _model_from_url(ex: Exchange) -> str | None:
    segs = urlsplit(ex.url).path.split("/")
    if "model" in segs:
        k = segs.index("model")
        if k + 1 < len(segs) and segs[k + 1]:
            return unquote(segs[k + 1])
    return None


# --------------------------------------------------------------------------------------------------
# Request


def _converse_msg(m: Any) -> MessageInfo:
    md = d(m)
    role = s(md.get("role")) or "?"
    kinds: list[str] = []
    pieces: list[str] = []
    chars = 0
    for b in lst(md.get("content")):
        bd = d(b)
        k = next(iter(bd), "?") if bd else "?"
        if k not in kinds:
            kinds.append(k)
        if k == "text":
            t = s(bd.get("text")) or ""
            pieces.append(t)
            chars += len(t)
        elif k == "toolUse":
            pieces.append(f"tool_use {s(d(bd.get('toolUse')).get('name')) or '?'}")
        elif k == "toolResult":
            tr = d(bd.get("toolResult"))
            pieces.append(f"tool_result {s(tr.get('toolUseId')) or '?'}")
            chars += len(dumps(tr.get("content")))
    return MessageInfo(role=role, type="+".join(kinds) or "empty", preview="\n".join(pieces), chars=chars)


def parse_request(ex: Exchange) -> RequestInfo:
    op = _op(ex)
    if op.startswith("Invoke"):
        r = anthropic.parse_request(ex)
        r.model = _model_from_url(ex) or r.model
        r.stream = op == "InvokeModelWithResponseStream"
        return r
    r = RequestInfo(model=_model_from_url(ex), stream=op == "ConverseStream")
    body = request_json(ex)
    if not isinstance(body, dict):
        return r
    r.json = body
    system = [s(d(b).get("text")) for b in lst(body.get("system"))]
    if any(system):
        r.system_text = "\n\n".join(x for x in system if x)
    messages = lst(body.get("messages"))
    r.messages = [_converse_msg(m) for m in messages]
    r.history_length = len(messages)
    r.message_hashes = [hash_message(m) for m in messages]
    for t in lst(d(body.get("toolConfig")).get("tools")):
        spec = d(d(t).get("toolSpec"))
        if s(spec.get("name")):
            r.tools.append(spec["name"])
            r.tool_types.append("toolSpec")
    r.max_tokens = i(d(body.get("inferenceConfig")).get("maxTokens"))
    r.betas = anthropic.request_betas(ex, body)
    extra = d(body.get("additionalModelRequestFields"))
    thinking = d(extra.get("thinking")) or d(extra.get("reasoning_config"))
    ttype = s(thinking.get("type"))
    if ttype and ttype != "disabled":
        budget = i(thinking.get("budget_tokens"))
        r.thinking = f"{ttype} (budget {budget})" if budget is not None else ttype
        r.thinking_enabled = True
    last = d(messages[-1]) if messages else {}
    blocks = [d(b) for b in lst(last.get("content"))]
    if last.get("role") == "user":
        r.turn_kind = "tool_result" if any("toolResult" in b for b in blocks) else "user_message"
        texts = [s(b.get("text")) for b in blocks if s(b.get("text"))]
        r.user_text = "\n".join(t for t in texts if t) or None
    return r


# --------------------------------------------------------------------------------------------------
# Response: ConverseStream


@dataclass
class _Block:
    index: int
    tool_id: str | None = None
    tool_name: str | None = None
    text: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    tool_input: list[str] = field(default_factory=list)
    sig_len: int = 0
    stopped: bool = False


class ConverseAccumulator:
    def __init__(self, r: ResponseInfo) -> None:
        self.r = r
        self.blocks: dict[int, _Block] = {}
        self.content_times: list[float | None] = []
        self.saw_stop = False
        self.stopped_by_exception = False

    def _block(self, p: dict[str, Any]) -> _Block:
        idx = i(p.get("contentBlockIndex"))
        idx = idx if idx is not None else 0
        return self.blocks.setdefault(idx, _Block(index=idx))

    def feed_frame(self, fr: streams.Frame) -> tuple[str, str]:
        if fr.message_type in ("exception", "error"):
            payload = d(loads(fr.payload))
            et = fr.exception_type or s(fr.headers.get(":error-code")) or "exception"
            msg = (
                s(payload.get("message")) or s(payload.get("Message")) or s(fr.headers.get(":error-message"))
            )
            e = ErrorInfo(type=et, message=msg, source="in_stream")
            self.r.errors.append(e)
            self.stopped_by_exception = True
            return et, error_summary(e)
        et = fr.event_type or "?"
        p = d(loads(fr.payload))
        t = fr.t
        if et == "messageStart":
            return et, f"role {s(p.get('role')) or '?'}"
        if et == "contentBlockStart":
            blk = self._block(p)
            tu = d(d(p.get("start")).get("toolUse"))
            blk.tool_id = s(tu.get("toolUseId"))
            blk.tool_name = s(tu.get("name"))
            return et, f"{blk.index}: toolUse {blk.tool_name or '?'}" if tu else f"{blk.index}"
        if et == "contentBlockDelta":
            blk = self._block(p)
            delta = d(p.get("delta"))
            if isinstance(delta.get("text"), str):
                blk.text.append(delta["text"])
                self.content_times.append(t)
                return et, preview(delta["text"])
            if "toolUse" in delta:
                frag = s(d(delta.get("toolUse")).get("input")) or ""
                blk.tool_input.append(frag)
                self.content_times.append(t)
                return et, f"{blk.tool_name or '?'}: {preview(frag)}"
            rc = d(delta.get("reasoningContent"))
            if rc:
                if isinstance(rc.get("text"), str):
                    blk.reasoning.append(rc["text"])
                    self.content_times.append(t)
                    return et, preview(rc["text"])
                if isinstance(rc.get("signature"), str):
                    blk.sig_len += len(rc["signature"])
                    return et, "signature [present]"
                if rc.get("redactedContent") is not None:
                    return et, "redactedContent [present]"
            return et, preview(dumps(delta))
        if et == "contentBlockStop":
            blk = self._block(p)
            blk.stopped = True
            return et, str(blk.index)
        if et == "messageStop":
            self.saw_stop = True
            self.r.stop_reason = s(p.get("stopReason"))
            return et, f"stopReason {self.r.stop_reason or '?'}"
        if et == "metadata":
            u = p.get("usage")
            parts: list[str] = []
            if isinstance(u, dict):
                self.r.usage = usage_aws(u, uncached_key="inputTokens")
                self.r.usage_source = "metadata"
                parts.append(f"{self.r.usage.input_total}/{self.r.usage.output_total} tokens")
            lat = i(d(p.get("metrics")).get("latencyMs"))
            if lat is not None:
                self.r.extra["latency_ms"] = lat
                parts.append(f"latency {lat} ms")
            return et, ", ".join(parts)
        shown = {k: v for k, v in p.items() if k != "p"}
        return et, preview(dumps(shown))

    def finish(self, ex: Exchange | None, stream_cut: bool) -> None:
        r = self.r
        text: list[str] = []
        reasoning: list[str] = []
        sig = 0
        for idx in sorted(self.blocks):
            blk = self.blocks[idx]
            text.append("".join(blk.text))
            reasoning.append("".join(blk.reasoning))
            sig += blk.sig_len
            if blk.tool_id is not None or blk.tool_input:
                tc = make_tool_call(
                    id=blk.tool_id,
                    name=blk.tool_name or "?",
                    raw="".join(blk.tool_input),
                    index=len(r.tool_calls),
                    type="toolUse",
                )
                if not blk.tool_input:
                    tc = make_tool_call(
                        id=blk.tool_id,
                        name=blk.tool_name or "?",
                        raw="",
                        index=tc.index,
                        type="toolUse",
                        preset={},
                    )
                tc.incomplete = tc.incomplete or not blk.stopped
                r.tool_calls.append(tc)
        r.text = "".join(text)
        r.reasoning_text = "".join(reasoning)
        if sig:
            r.reasoning_signature_len = sig
        r.complete = self.saw_stop and not stream_cut and not self.stopped_by_exception
        if ex is not None:
            finish_timing(r, ex, self.content_times)


def _decoder_errors(fs: streams.FrameStream, r: ResponseInfo) -> None:
    r.flags |= fs.flags
    r.notes.extend(fs.notes)
    for err in fs.errors:
        r.errors.append(ErrorInfo(type="decoder", message=err, source="decoder"))
    if fs.truncated is not None:
        r.errors.append(
            ErrorInfo(
                type="Truncated",
                message=f"last frame cut at offset {fs.truncated.get('offset')}",
                source="decoder",
            )
        )


def run_converse(ex: Exchange | None, fs: streams.FrameStream, r: ResponseInfo) -> ConverseAccumulator:
    acc = ConverseAccumulator(r)
    for fr in fs.frames:
        et, summary = acc.feed_frame(fr)
        add_event(r, et, summary, fr.t)
    _decoder_errors(fs, r)
    acc.finish(ex, stream_cut=fs.truncated is not None)
    return acc


def run_invoke_stream(
    ex: Exchange | None, fs: streams.FrameStream, r: ResponseInfo
) -> anthropic.MessagesAccumulator:
    acc = anthropic.MessagesAccumulator(r)
    stopped_by_exception = False
    for fr in fs.frames:
        if fr.message_type in ("exception", "error"):
            payload = d(loads(fr.payload))
            et = fr.exception_type or s(fr.headers.get(":error-code")) or "exception"
            e = ErrorInfo(
                type=et, message=s(payload.get("message")) or s(payload.get("Message")), source="in_stream"
            )
            r.errors.append(e)
            stopped_by_exception = True
            add_event(r, et, error_summary(e), fr.t)
            continue
        payload = d(loads(fr.payload))
        b64 = s(payload.get("bytes"))
        inner: Any = INVALID
        if b64 is not None:
            try:
                inner = loads(base64.b64decode(b64, validate=False))
            except (binascii.Error, ValueError):
                inner = INVALID
        if not isinstance(inner, dict):
            add_event(r, fr.event_type or "?", preview(fr.payload.decode("utf-8", "replace")), fr.t)
            continue
        metrics = inner.get("amazon-bedrock-invocationMetrics")
        if isinstance(metrics, dict):
            r.extra["invocation_metrics"] = metrics
        etype = s(inner.get("type")) or fr.event_type or "chunk"
        add_event(r, etype, acc.feed(etype, inner, fr.t), fr.t)
    _decoder_errors(fs, r)
    acc.finish(ex)
    r.complete = acc.saw_stop and fs.truncated is None and not stopped_by_exception
    return acc


def parse_converse_json(r: ResponseInfo, v: Any) -> None:
    if not isinstance(v, dict) or "output" not in v:
        return
    msg = d(d(v.get("output")).get("message"))
    text: list[str] = []
    reasoning: list[str] = []
    for b in lst(msg.get("content")):
        bd = d(b)
        if isinstance(bd.get("text"), str):
            text.append(bd["text"])
        elif "toolUse" in bd:
            tu = d(bd.get("toolUse"))
            r.tool_calls.append(
                make_tool_call(
                    id=s(tu.get("toolUseId")),
                    name=s(tu.get("name")) or "?",
                    raw="",
                    index=len(r.tool_calls),
                    type="toolUse",
                    preset=tu.get("input", {}),
                )
            )
        elif "reasoningContent" in bd:
            rt = d(d(bd.get("reasoningContent")).get("reasoningText"))
            reasoning.append(s(rt.get("text")) or "")
    r.text = "".join(text)
    r.reasoning_text = "".join(reasoning)
    r.stop_reason = s(v.get("stopReason"))
    u = v.get("usage")
    if isinstance(u, dict):
        r.usage = usage_aws(u, uncached_key="inputTokens")
        r.usage_source = "body"


def parse_response(ex: Exchange) -> ResponseInfo:
    op = _op(ex)
    if ex.content_type == "application/vnd.amazon.eventstream" or (
        op in ("ConverseStream", "InvokeModelWithResponseStream")
        and (ex.status or 200) < 400
        and "json" not in ex.content_type
    ):
        fs = streams.frames_from_exchange(ex)
        if fs is not None:
            r = ResponseInfo(kind="eventstream")
            first = next((f.event_type for f in fs.frames if f.event_type), None)
            if op == "InvokeModelWithResponseStream" or first == "chunk":
                run_invoke_stream(ex, fs, r)
            else:
                run_converse(ex, fs, r)
            if (err := http_error(ex)) is not None:
                r.errors.insert(0, err)
            return r
    r, v = non_stream_response(ex)
    if op == "InvokeModel":
        anthropic.parse_message_json(r, v)
    else:
        parse_converse_json(r, v)
    return r


class Bedrock(Dialect):
    """Amazon Bedrock runtime: Converse / ConverseStream and InvokeModel (with response stream)."""

    name = "bedrock"
    backend = "bedrock"
    example_url = "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/converse-stream"

    def matches(self, ex: Exchange) -> bool:
        parts = urlsplit(ex.url)
        host = (parts.hostname or "").lower()
        path = parts.path.lower()
        if host.startswith("bedrock-runtime.") or (
            host.startswith("bedrock") and host.endswith(".amazonaws.com")
        ):
            return True
        return "/model/" in path and path.rstrip("/").endswith(
            ("/converse", "/converse-stream", "/invoke", "/invoke-with-response-stream")
        )

    def parse_request(self, ex: Exchange) -> RequestInfo:
        return parse_request(ex)

    def parse_response(self, ex: Exchange) -> ResponseInfo:
        return parse_response(ex)
