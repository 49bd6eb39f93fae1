"""Secrets out of payloads before they are shown or exported (docs/specs/cbor-v2.md §11.16, docs/specs/reports.md §6).

P->B payloads (and non-stream B->P responses) are HTTP text: the request line's URL goes through
`redact_url`, each sensitive header value is replaced whole, and the body through `redact_body`
with the content type of the headers. Every other payload goes through `redact_body` (JSON, form,
SSE, EventStream bodies). Bytes come back unchanged (same object) when nothing was secret.
"""

from __future__ import annotations

import polars as pl

from fastcap.inspect.common import BP, PB
from fastcap.secrets.redact import (
    DEFAULT_BODY_FIELDS,
    OAUTH_ONLY_FIELDS,
    is_sensitive_header,
    marker,
    redact_body,
    redact_url,
)

_NAMES = sorted({n.lower() for n in DEFAULT_BODY_FIELDS | OAUTH_ONLY_FIELDS})
# Names containing another name add nothing to a substring pre-check.
_CORE = [n for n in _NAMES if not any(o != n and o in n for o in _NAMES)]
_CORE_B = [n.encode() for n in _CORE]


def maybe_secret(data: pl.Series) -> list[bool]:
    """Per payload: could it hold a secret body field? One Aho-Corasick pass in Polars when every
    payload is UTF-8, else a lower-cased substring check per payload. False means `redact_body`
    would return it unchanged."""
    try:
        text = data.cast(pl.String)
    except pl.exceptions.PolarsError:
        out = []
        for d in data.to_list():
            low = d.lower() if d else b""
            out.append(any(n in low for n in _CORE_B))
        return out
    return text.str.contains_any(_CORE, ascii_case_insensitive=True).fill_null(False).to_list()


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


def redact_payload(
    data: bytes, direction: int | None, url: str | None = None, *, maybe: bool = True
) -> bytes:
    """`maybe=False` (from `maybe_secret`) skips the body check of a non-HTTP payload."""
    if not data:
        return data
    if direction in (PB, BP) and split_http(data) is not None:
        return redact_http(data, url)
    if not maybe:
        return data
    return redact_body(data, "", url=url)
