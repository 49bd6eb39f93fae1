"""HAR 1.2 files (mitmproxy `hardump`, browsers) → `Exchange`s (docs/specs/mitmproxy.md §6).

Body recovery: base64 bodies (`encoding: "base64"`) are decoded; text bodies are encoded back
with the charset mitmproxy would have inferred when exporting. When that charset is latin-1 (no
`charset=`, and the type does not mention JSON/HTML/XML/JavaScript/CSS), `text.encode("latin-1")`
gives back the exact original bytes, which makes EventStream and octet-stream bodies exact.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import json
import os
import re
from datetime import datetime
from typing import Any

from fastcap.formats._errors import HarFormatError, make_error
from fastcap.model import BodyFidelity, Exchange, WsMessage

_CHARSET_RE = re.compile(r"charset=\"?([\w.:-]+)", re.IGNORECASE)
_UTF8_HINTS = ("json", "html", "xml", "javascript", "css")


def inferred_charset(mime_type: str) -> str:
    """The charset mitmproxy's `get_text` would use for a body of this type (BOMs aside)."""
    m = _CHARSET_RE.search(mime_type or "")
    if m:
        try:
            return codecs.lookup(m.group(1)).name
        except LookupError:
            pass
    lowered = (mime_type or "").lower()
    if any(h in lowered for h in _UTF8_HINTS):
        return "utf-8"
    return "latin-1"


def body_bytes(
    text: str | None, encoding: str | None, mime_type: str, flags: set[str], prefix: str
) -> bytes | None:
    """Exact body bytes from a HAR `content`/`postData` text."""
    return _body(text, encoding, mime_type, flags, prefix)[0]


def _body(
    text: str | None, encoding: str | None, mime_type: str, flags: set[str], prefix: str
) -> tuple[bytes | None, BodyFidelity]:
    """(bytes, fidelity): base64 and text in the charset mitmproxy inferred give the exact bytes."""
    if text is None:
        return None, "complete"
    if encoding == "base64":
        try:
            return base64.b64decode(text, validate=False), "complete"
        except (binascii.Error, ValueError):
            flags.add(prefix + "bad_base64")
            return None, "missing"
    charset = inferred_charset(mime_type)
    try:
        return text.encode(charset, "surrogateescape" if charset == "utf-8" else "strict"), "complete"
    except (UnicodeEncodeError, LookupError):
        flags.add(prefix + "lossy_text")
        return text.encode("utf-8", "replace"), "recovered_from_text"


def _declared_size(obj: dict[str, Any], key: str) -> int:
    size = obj.get(key)
    return size if isinstance(size, int) and size > 0 else 0


def _ts(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _ms(timings: dict[str, Any], key: str) -> float:
    v = timings.get(key, -1)
    return float(v) / 1000.0 if isinstance(v, int | float) and v > 0 else 0.0


def _headers(items: Any) -> list[tuple[str, str]]:
    return [(str(h.get("name", "")), str(h.get("value", ""))) for h in items or [] if isinstance(h, dict)]


def _mime(headers: list[tuple[str, str]], declared: str | None) -> str:
    if declared:
        return declared
    for k, v in headers:
        if k.lower() == "content-type":
            return v
    return ""


def exchange_from_entry(index: int, entry: dict[str, Any]) -> Exchange:
    req = entry.get("request") or {}
    resp = entry.get("response") or {}
    flags: set[str] = set()
    req_headers = _headers(req.get("headers"))
    post = req.get("postData") or {}
    req_body, req_fid = _body(
        post.get("text"), post.get("encoding"), _mime(req_headers, post.get("mimeType")), flags, "request_"
    )
    if req_body is None and req_fid == "complete" and _declared_size(req, "bodySize"):
        req_fid = "missing"  # HAR keeps postData for POST/PUT/PATCH only
    ex = Exchange(
        index=index,
        source="har",
        method=str(req.get("method", "")),
        url=str(req.get("url", "")),
        request_headers=req_headers,
        request_body=req_body,
        http_version=str(req.get("httpVersion") or "HTTP/1.1"),
        request_body_fidelity=req_fid,
    )
    status = resp.get("status")
    if isinstance(status, int) and status > 0:
        ex.status = status
        ex.reason = str(resp.get("statusText", ""))
        ex.response_headers = _headers(resp.get("headers"))
        content = resp.get("content") or {}
        ex.response_body, ex.response_body_fidelity = _body(
            content.get("text"),
            content.get("encoding"),
            _mime(ex.response_headers, content.get("mimeType")),
            flags,
            "",
        )
        if ex.response_body is None:
            if _declared_size(content, "size"):
                flags.add("content_missing")
                ex.fidelity = "missing"
                ex.response_body_fidelity = "missing"
            elif ex.response_body_fidelity == "complete":
                ex.response_body = b""
    else:
        ex.fidelity = "missing"
        ex.response_body_fidelity = "missing"
    err = entry.get("_error")
    if err:
        ex.error = str(err.get("msg", err) if isinstance(err, dict) else err)
    # Timings (as mitmproxy writes them): send = request start→end, wait = request end→response
    # start, receive = response start→end; connect/ssl/blocked/dns precede or overlap and are
    # not on this path.
    ex.started_at = _ts(entry.get("startedDateTime"))
    timings = entry.get("timings") or {}
    if ex.started_at is not None and isinstance(timings, dict) and timings:
        ex.request_ended_at = ex.started_at + _ms(timings, "send")
        if ex.status is not None:
            ex.response_started_at = ex.request_ended_at + _ms(timings, "wait")
            ex.ended_at = ex.response_started_at + _ms(timings, "receive")
    msgs = entry.get("_webSocketMessages")
    if isinstance(msgs, list):
        ex.websocket = []
        for m in msgs:
            if not isinstance(m, dict):
                continue
            opcode = m.get("opcode", 1)
            data = m.get("data", "")
            if opcode == 2:
                try:
                    payload = base64.b64decode(data)
                except (binascii.Error, ValueError):
                    payload = str(data).encode("utf-8")
            else:
                payload = str(data).encode("utf-8")
            t = m.get("time")
            ex.websocket.append(
                WsMessage(
                    from_client=m.get("type") == "send",
                    is_text=opcode != 2,
                    data=payload,
                    t=float(t) if isinstance(t, int | float) else None,
                )
            )
    ex.flags = flags
    return ex


def read_har(path: str | os.PathLike[str]) -> list[Exchange]:
    shown = os.fspath(path)
    with open(shown, "rb") as fh:
        raw = fh.read()
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise make_error(
            HarFormatError, shown, exc.start, "bad_utf8", "invalid UTF-8, expected HAR JSON"
        ) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        offset = len(text[: exc.pos].encode("utf-8"))
        kind = "truncated" if exc.pos >= len(text.rstrip()) else "bad_json"
        raise make_error(HarFormatError, shown, offset, kind, f"expected HAR JSON: {exc.msg}") from None
    entries = (
        doc.get("log", {}).get("entries")
        if isinstance(doc, dict) and isinstance(doc.get("log"), dict)
        else None
    )
    if not isinstance(entries, list):
        raise make_error(
            HarFormatError, shown, 0, "no_entries", 'expected a HAR object with "log": {"entries": [...]}'
        )
    return [exchange_from_entry(i, e) for i, e in enumerate(entries) if isinstance(e, dict)]
