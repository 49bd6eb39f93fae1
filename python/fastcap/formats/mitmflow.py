"""mitmproxy `.mitm` flow files → `Exchange`s, through mitmproxy's own `FlowReader` (docs/specs/mitmproxy.md §4).

mitmproxy is imported lazily: it is an optional dependency (`fastcap[capture]`) and heavy to
import. Bodies are content-decoded (gzip/br/zstd/deflate) with `get_content(strict=False)`, so a
body whose decoding fails is kept raw and flagged `decode_failed`.
"""

from __future__ import annotations

import os
from typing import Any

from fastcap.formats._errors import FlowFileError, make_error
from fastcap.model import Exchange, WsMessage


def _text(b: bytes) -> str:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b.decode("latin-1")


def _headers(h: Any) -> list[tuple[str, str]]:
    return [(_text(k), _text(v)) for k, v in h.fields]


def _trailers(message: Any) -> list[tuple[str, str]]:
    trailers = getattr(message, "trailers", None)  # mitmproxy Headers, or None without trailers
    return _headers(trailers) if trailers is not None else []


def _body(message: Any, flags: set[str], prefix: str) -> bytes | None:
    if message.raw_content is None:
        flags.add(prefix + "content_missing")
        return None
    try:
        content: bytes | None = message.get_content(strict=True)
    except ValueError:
        flags.add(prefix + "decode_failed")
        content = message.raw_content
    return content


def _exchange(index: int, flow: Any) -> Exchange | None:
    req = getattr(flow, "request", None)
    if req is None:  # tcp/udp/dns flows
        return None
    flags: set[str] = set()
    resp = flow.response
    ex = Exchange(
        index=index,
        source="mitm",
        method=req.method,
        url=req.url,
        request_headers=_headers(req.headers),
        request_body=_body(req, flags, "request_"),
        request_trailers=_trailers(req),
        http_version=req.http_version,
        started_at=req.timestamp_start,
        request_ended_at=req.timestamp_end,
    )
    # A flow file holds a body's exact bytes, or null when it was streamed and not stored.
    ex.request_body_fidelity = "missing" if ex.request_body is None else "complete"
    if resp is not None:
        ex.status = resp.status_code
        ex.reason = resp.reason
        ex.response_headers = _headers(resp.headers)
        ex.response_body = _body(resp, flags, "")
        ex.response_trailers = _trailers(resp)
        ex.response_started_at = resp.timestamp_start
        ex.ended_at = resp.timestamp_end
        if ex.response_body is None:
            ex.fidelity = "missing"
            ex.response_body_fidelity = "missing"
    else:
        ex.fidelity = "missing"
        ex.response_body_fidelity = "missing"
    if flow.error is not None:
        ex.error = flow.error.msg
    if getattr(flow, "websocket", None) is not None:
        ex.websocket = [
            WsMessage(from_client=m.from_client, is_text=m.is_text, data=m.content, t=m.timestamp)
            for m in flow.websocket.messages
        ]
    ex.flags = flags
    return ex


def read_mitm_partial(path: str | os.PathLike[str]) -> tuple[list[Exchange], Exception | None]:
    """Every flow that reads cleanly, plus the error that stopped reading (or None)."""
    shown = os.fspath(path)
    try:
        from mitmproxy import io as mio
        from mitmproxy.exceptions import FlowReadException
    except ImportError as exc:
        raise ImportError(
            "reading .mitm files needs mitmproxy (pip install 'fastcap[capture]' or mitmproxy>=11)"
        ) from exc
    out: list[Exchange] = []
    with open(shown, "rb") as fo:
        reader = mio.FlowReader(fo)
        offset = 0
        try:
            for flow in reader.stream():
                ex = _exchange(len(out), flow)
                if ex is not None:
                    out.append(ex)
                offset = fo.tell()
        except (FlowReadException, ValueError, KeyError, TypeError) as exc:
            return out, make_error(
                FlowFileError,
                shown,
                offset,
                "bad_record",
                f"unreadable flow record, expected a tnetstring flow (format 21): {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
            )
    return out, None
