"""Secrets out of payloads before they are shown or exported (cbor-v2.md §11.16, reports.md §6).

P->B payloads (and non-stream B->P responses) are HTTP text: the request line's URL goes through
`redact_url`, each sensitive header value is replaced whole, and the body through `redact_body`
with the content type of the headers. Every other payload goes through `redact_body` (JSON, form,
SSE, EventStream bodies). Bytes come back unchanged (same object) when nothing was secret.
"""

from __future__ import annotations

from fastcap.inspect.common import BP, PB
from fastcap.redact import is_sensitive_header, marker, redact_body, redact_url

_METHODS = (b"GET ", b"POST ", b"PUT ", b"PATCH ", b"DELETE ", b"HEAD ", b"OPTIONS ", b"CONNECT ")


def split_http(data: bytes) -> tuple[bytes, bytes] | None:
    """(head, body) of an HTTP/1.1 text payload, or None if `data` is not one."""
    if not (data.startswith(b"HTTP/") or data.startswith(_METHODS)):
        return None
    cut = data.find(b"\r\n\r\n")
    if cut < 0:
        return data, b""
    return data[:cut], data[cut + 4 :]


def header_value(head: bytes, name: str) -> str | None:
    want = name.lower().encode()
    for line in head.split(b"\r\n")[1:]:
        k, sep, v = line.partition(b":")
        if sep and k.strip().lower() == want:
            return v.strip().decode("latin-1")
    return None


def redact_http(data: bytes, url: str | None = None) -> bytes:
    parts = split_http(data)
    if parts is None:
        return data
    head, body = parts
    lines = head.split(b"\r\n")
    changed = False
    first = lines[0]
    if not first.startswith(b"HTTP/"):
        method, _, rest = first.partition(b" ")
        target, _, version = rest.rpartition(b" ")
        t = target.decode("latin-1")
        red = redact_url(t)
        if red != t:
            lines[0] = method + b" " + red.encode("latin-1", "replace") + b" " + version
            changed = True
    for i in range(1, len(lines)):
        k, sep, v = lines[i].partition(b":")
        if sep and is_sensitive_header(k.decode("latin-1")):
            lines[i] = k + b": " + marker(v.strip()).encode()
            changed = True
    ctype = header_value(head, "content-type") or ""
    new_body = redact_body(body, ctype, url=url) if body else body
    if new_body is not body:
        changed = True
    if not changed:
        return data
    sep = b"\r\n\r\n" if data.find(b"\r\n\r\n") >= 0 else b""
    return b"\r\n".join(lines) + sep + new_body


def redact_payload(data: bytes, direction: int | None, url: str | None = None) -> bytes:
    if not data:
        return data
    if direction in (PB, BP) and split_http(data) is not None:
        return redact_http(data, url)
    return redact_body(data, "", url=url)
