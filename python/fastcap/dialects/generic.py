"""Fallback dialect: any other traffic (JSON, text, binary, unknown SSE or EventStream bodies).

The API name follows docs/specs/reports.md §2.3 (x-amz-target, known URLs, then `<Service>.<Operation>`).
"""

from __future__ import annotations

from fastcap.dialects import streams
from fastcap.dialects._util import (
    add_event,
    d,
    is_sse,
    loads,
    non_stream_response,
    preview,
    request_json,
    s,
    sse_response,
)
from fastcap.dialects.base import Dialect, ErrorInfo, RequestInfo, ResponseInfo
from fastcap.model import Exchange


def parse_request(ex: Exchange) -> RequestInfo:
    r = RequestInfo()
    body = request_json(ex)
    if isinstance(body, dict | list):
        r.json = body
    if isinstance(body, dict):
        r.model = s(body.get("model")) or s(body.get("modelId"))
        stream = body.get("stream")
        r.stream = stream if isinstance(stream, bool) else None
    return r


def parse_response(ex: Exchange) -> ResponseInfo:
    if ex.content_type == "application/vnd.amazon.eventstream":
        fs = streams.frames_from_exchange(ex)
        if fs is not None:
            r = ResponseInfo(kind="eventstream")
            r.flags |= fs.flags
            r.notes.extend(fs.notes)
            for fr in fs.frames:
                et = fr.exception_type or fr.event_type or fr.message_type or "?"
                text = fr.payload.decode("utf-8", "replace")
                if fr.message_type == "exception":
                    msg = s(d(loads(fr.payload)).get("message"))
                    r.errors.append(ErrorInfo(type=et, message=msg, source="in_stream"))
                    add_event(r, et, f"{et}: {preview(msg)}", fr.t)
                else:
                    add_event(r, et, preview(text), fr.t)
            for err in fs.errors:
                r.errors.append(ErrorInfo(type="decoder", message=err, source="decoder"))
            if fs.truncated is not None:
                r.errors.append(ErrorInfo(type="Truncated", message=None, source="decoder"))
            return r
    if is_sse(ex) and (split := sse_response(ex)) is not None:
        stream, r = split
        for ev in stream.events:
            add_event(
                r,
                "[DONE]" if ev.is_done else ev.type,
                preview(ev.data) if not ev.is_done else "",
                ev.t_last,
            )
        return r
    r, _v = non_stream_response(ex)
    return r


class Generic(Dialect):
    """The fallback for any other traffic; never in `registry.DIALECTS`, used when no dialect matches."""

    name = "generic"
    backend = ""
    example_url = "https://example.com/"

    def matches(self, ex: Exchange) -> bool:
        return True

    def parse_request(self, ex: Exchange) -> RequestInfo:
        return parse_request(ex)

    def parse_response(self, ex: Exchange) -> ResponseInfo:
        return parse_response(ex)
