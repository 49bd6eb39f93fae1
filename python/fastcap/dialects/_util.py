"""Shared helpers for the dialects: defensive JSON access, previews, hashing, errors, timing."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from fastcap.dialects import streams
from fastcap.dialects.base import ErrorInfo, ResponseInfo, StreamEvent, ToolCall, Usage
from fastcap.model import Exchange

PREVIEW = 80


class _Invalid:
    """Sentinel for 'not JSON' (distinct from a JSON null)."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()


def loads(data: bytes | str | None) -> Any:
    """Parse JSON, returning `INVALID` (never raising) when it is not JSON."""
    if data is None:
        return INVALID
    try:
        return orjson.loads(data)
    except (orjson.JSONDecodeError, TypeError, ValueError):
        return INVALID


def dumps(v: Any) -> str:
    try:
        return orjson.dumps(v).decode("utf-8")
    except TypeError:
        return repr(v)


def d(v: Any) -> dict[str, Any]:
    """`v` if it is an object, else an empty dict."""
    return v if isinstance(v, dict) else {}


def lst(v: Any) -> list[Any]:
    return v if isinstance(v, list) else []


def s(v: Any) -> str | None:
    return v if isinstance(v, str) else None


def i(v: Any) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return None


def num(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    return float(v) if isinstance(v, int | float) else None


def preview(text: str | None, n: int = PREVIEW) -> str:
    return (text or "")[:n]


def fmt_num(v: float | int | None) -> str:
    if v is None:
        return "?"
    if isinstance(v, float) and not v.is_integer():
        return repr(v)
    return f"{int(v):,}"


def parse_arguments(raw: str) -> tuple[Any | None, bool]:
    """Parse tool-call arguments: (value, valid). An empty string is not valid JSON."""
    if not raw:
        return None, False
    v = loads(raw)
    if v is INVALID:
        return None, False
    return v, True


def make_tool_call(
    *,
    id: str | None,
    name: str,
    raw: str,
    index: int,
    type: str | None = None,
    incomplete: bool = False,
    preset: Any = INVALID,
    json_expected: bool = True,
) -> ToolCall:
    """Build a ToolCall; `preset` is an already-structured value used when no fragment arrived."""
    if not raw and preset is not INVALID:
        raw = dumps(preset)
        args, valid = preset, True
    else:
        args, valid = parse_arguments(raw)
    return ToolCall(
        id=id,
        name=name,
        arguments_raw=raw,
        arguments=args,
        arguments_json_valid=valid,
        index=index,
        incomplete=incomplete or (json_expected and not valid),
        type=type,
    )


def text_of(v: Any) -> str:
    """Text of a message content value: a string, or the text parts of a list of blocks."""
    if isinstance(v, str):
        return v
    parts: list[str] = []
    for b in lst(v):
        if isinstance(b, str):
            parts.append(b)
        elif isinstance(b, dict):
            t = s(b.get("text"))
            if t is not None:
                parts.append(t)
    return "\n".join(parts)


def hash_message(v: Any) -> str:
    """Stable hash of one normalised input message (prefix chaining, docs/specs/reports.md §2.8)."""
    try:
        blob = orjson.dumps(v, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        blob = repr(v).encode("utf-8", "replace")
    return hashlib.sha256(blob).hexdigest()[:16]


def total_usage(u: Usage) -> Usage:
    """Fill `input_uncached` and `total` from the other fields (docs/specs/sse.md §9)."""
    if u.input_total is not None:
        u.input_uncached = u.input_total - (u.cache_read or 0) - (u.cache_write or 0)
    if u.input_total is not None or u.output_total is not None:
        u.total = (u.input_total or 0) + (u.output_total or 0)
    return u


def usage_anthropic(raw: Mapping[str, Any]) -> Usage:
    inp = i(raw.get("input_tokens"))
    cw = i(raw.get("cache_creation_input_tokens"))
    cr = i(raw.get("cache_read_input_tokens"))
    total_in = None if inp is None and cw is None and cr is None else (inp or 0) + (cw or 0) + (cr or 0)
    u = Usage(
        input_total=total_in,
        cache_read=cr,
        cache_write=cw,
        output_total=i(raw.get("output_tokens")),
        reasoning=i(d(raw.get("output_tokens_details")).get("thinking_tokens")),
        raw=dict(raw),
    )
    total_usage(u)
    if inp is not None:
        u.input_uncached = inp
    return u


def usage_openai_responses(raw: Mapping[str, Any]) -> Usage:
    """`input_tokens` counts every prompt token; `input_tokens_details` splits off the cache reads
    (`cached_tokens`) and writes (`cache_write_tokens`), docs/metrics.md."""
    details = d(raw.get("input_tokens_details"))
    return total_usage(
        Usage(
            input_total=i(raw.get("input_tokens")),
            cache_read=i(details.get("cached_tokens")),
            cache_write=i(details.get("cache_write_tokens")),
            output_total=i(raw.get("output_tokens")),
            reasoning=i(d(raw.get("output_tokens_details")).get("reasoning_tokens")),
            raw=dict(raw),
        )
    )


def usage_openai_chat(raw: Mapping[str, Any]) -> Usage:
    """As `usage_openai_responses`, from `prompt_tokens` and `prompt_tokens_details`."""
    details = d(raw.get("prompt_tokens_details"))
    return total_usage(
        Usage(
            input_total=i(raw.get("prompt_tokens")),
            cache_read=i(details.get("cached_tokens")),
            cache_write=i(details.get("cache_write_tokens")),
            output_total=i(raw.get("completion_tokens")),
            reasoning=i(d(raw.get("completion_tokens_details")).get("reasoning_tokens")),
            raw=dict(raw),
        )
    )


def usage_gemini(raw: Mapping[str, Any]) -> Usage:
    cand = i(raw.get("candidatesTokenCount"))
    thoughts = i(raw.get("thoughtsTokenCount"))
    out = None if cand is None and thoughts is None else (cand or 0) + (thoughts or 0)
    return total_usage(
        Usage(
            input_total=i(raw.get("promptTokenCount")),
            cache_read=i(raw.get("cachedContentTokenCount")),
            output_total=out,
            reasoning=thoughts,
            raw=dict(raw),
        )
    )


def usage_aws(raw: Mapping[str, Any], *, uncached_key: str) -> Usage:
    """Kiro `tokenUsage` (uncached_key="uncachedInputTokens") or Bedrock usage ("inputTokens")."""
    base = i(raw.get(uncached_key))
    cr = i(raw.get("cacheReadInputTokens"))
    cw = i(raw.get("cacheWriteInputTokens"))
    total_in = None if base is None and cr is None and cw is None else (base or 0) + (cr or 0) + (cw or 0)
    u = total_usage(
        Usage(
            input_total=total_in,
            cache_read=cr,
            cache_write=cw,
            output_total=i(raw.get("outputTokens")),
            raw=dict(raw),
        )
    )
    if base is not None:
        u.input_uncached = base
    return u


def error_from_json(v: Any, headers_type: str | None = None) -> ErrorInfo | None:
    """Recognise every provider's error body shape (docs/specs/sse.md §8, docs/specs/eventstream.md §10.7)."""
    if isinstance(v, list):
        # Gemini can send a JSON array whose element holds the error.
        for item in v:
            e = error_from_json(item)
            if e is not None:
                return e
        return None
    if not isinstance(v, dict):
        return ErrorInfo(type=headers_type, message=None, source="body") if headers_type else None
    err = v.get("error")
    if isinstance(err, dict):
        parts: list[str] = []
        for key in ("type", "status", "code"):
            val = s(err.get(key))
            if val and val not in parts:
                parts.append(val)
        code = i(err.get("code"))
        if not parts and code is not None:
            parts.append(str(code))
        etype = "/".join(parts) or headers_type
        return ErrorInfo(type=etype, message=s(err.get("message")), source="body")
    if isinstance(err, str):
        return ErrorInfo(type=s(v.get("type")) or headers_type, message=err, source="body")
    aws_type = s(v.get("__type")) or headers_type
    if aws_type:
        # "com.amazon.coral.service#AccessDeniedException" → "AccessDeniedException"
        short = aws_type.split("#")[-1].split(":")[0]
        return ErrorInfo(type=short, message=s(v.get("message")) or s(v.get("Message")), source="body")
    if v.get("type") == "error":
        return ErrorInfo(type="error", message=s(v.get("message")), source="body")
    return None


def json_body_error(ex: Exchange, body_json: Any) -> ErrorInfo | None:
    """Error info for a non-2xx (or error-shaped) JSON body, including the AWS header form."""
    htype = ex.header("x-amzn-ErrorType", response=True)
    if htype:
        htype = htype.split(":")[0].split("#")[-1]
    e = error_from_json(body_json, htype) if body_json is not INVALID else None
    if e is None and htype:
        e = ErrorInfo(type=htype, message=None, source="body")
    return e


def http_error(ex: Exchange) -> ErrorInfo | None:
    if ex.status is not None and ex.status >= 400:
        return ErrorInfo(type=str(ex.status), message=ex.reason or None, source="http_status")
    return None


def body_bytes(ex: Exchange) -> bytes | None:
    if ex.response_body is not None:
        return ex.response_body
    if ex.response_body_text is not None:
        return ex.response_body_text.encode("utf-8")
    return None


def request_json(ex: Exchange) -> Any:
    if ex.request_body is not None:
        return loads(ex.request_body)
    if ex.request_body_text is not None:
        return loads(ex.request_body_text)
    return INVALID


def is_sse(ex: Exchange) -> bool:
    if ex.content_type == "text/event-stream":
        return True
    if ex.content_type:
        return False
    body = body_bytes(ex)
    if not body:
        return False
    head = body[:64].lstrip(b"\xef\xbb\xbf").lstrip()
    return head.startswith((b"event:", b"data:", b":"))


def finish_timing(r: ResponseInfo, ex: Exchange, content_times: list[float | None]) -> None:
    times = [t for t in content_times if t is not None]
    if not times:
        return
    r.first_content_t = times[0]
    r.last_content_t = times[-1]
    start = ex.request_ended_at if ex.request_ended_at is not None else ex.started_at
    if start is not None:
        r.ttft = times[0] - start


def add_event(r: ResponseInfo, etype: str, summary: str, t: float | None) -> None:
    r.event_counts[etype] = r.event_counts.get(etype, 0) + 1
    if (sink := streams.event_sink()) is not None:  # `streams.events_to`: not kept
        sink(etype, summary, t)
    else:
        r.events.append(StreamEvent(index=len(r.events) + 1, type=etype, summary=summary, t=t))


def error_summary(e: ErrorInfo) -> str:
    return f"{e.type or 'error'}: {e.message or ''}".rstrip()


def non_stream_response(ex: Exchange) -> tuple[ResponseInfo, Any]:
    """ResponseInfo skeleton for a non-stream body; returns (info, parsed JSON or INVALID)."""
    r = ResponseInfo()
    if ex.response_body is None and ex.response_body_text is None:
        r.kind = "missing" if ex.fidelity == "missing" or "content_missing" in ex.flags else "empty"
        he = http_error(ex)
        if he:
            r.errors.append(he)
        return r, INVALID
    body = body_bytes(ex) or b""
    if not body:
        r.kind = "empty"
        he = http_error(ex)
        if he:
            r.errors.append(he)
        return r, INVALID
    v = loads(body)
    if v is INVALID:
        try:
            body.decode("utf-8")
            r.kind = "text"
        except UnicodeDecodeError:
            r.kind = "binary"
    else:
        r.kind = "json"
        r.json = v
    he = http_error(ex)
    if he:
        r.errors.append(he)
    if (ex.status or 0) >= 400 or he is None:
        be = json_body_error(ex, v)
        if be is not None and ((ex.status or 0) >= 400 or _looks_like_error(v)):
            r.errors.append(be)
    if ex.response_body is None:
        r.flags.add("recovered_from_text")
    return r, v


def _looks_like_error(v: Any) -> bool:
    if not isinstance(v, dict):
        return False
    if v.get("type") == "error" or "__type" in v:
        return True
    return isinstance(v.get("error"), dict) and len(v) <= 2


def sse_response(ex: Exchange) -> tuple[streams.SseStream, ResponseInfo] | None:
    """The response body split as SSE, with a ResponseInfo that already carries the split's flags
    and notes; None when the exchange has no body at all."""
    stream = streams.sse_from_exchange(ex)
    if stream is None:
        return None
    r = ResponseInfo(kind="sse")
    r.flags |= stream.flags
    r.notes.extend(stream.notes)
    return stream, r
