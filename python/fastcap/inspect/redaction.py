"""Secrets out of payloads before they are shown or exported (docs/specs/cbor-v2.md §11.16, docs/specs/reports.md §6).

The `OUTPUT` configuration, as every other output: named headers, query parameters and body fields,
and secrets inside free text (a key in a prompt, a token in model output, an AWS key id in a
frame, base64 of any of them; §6.6, §6.7). P->B payloads (and non-stream B->P responses) are HTTP
text: the request line's URL goes through `redact_url`, each sensitive header value is replaced
whole and every other header value through `redact_text`, and the body through `redact_body` with
the content type of the headers. Every other payload goes through `redact_body` (JSON, form, SSE,
EventStream bodies, text). Bytes come back unchanged (same object) when nothing was secret.
`redact_meta` does the same for the metadata, header and filter values `--json` exports.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import polars as pl

from fastcap.inspect.common import BP, PB
from fastcap.secrets.patterns import TEXT_TRIGGERS, has_b64_secret
from fastcap.secrets.redact import (
    DEFAULT_BODY_FIELDS,
    OAUTH_ONLY_FIELDS,
    OUTPUT,
    RedactionConfig,
    is_sensitive_header,
    marker,
    redact_body,
    redact_json,
    redact_text,
    redact_url,
)

CONFIG = OUTPUT
_NAMES = sorted({n.lower() for n in DEFAULT_BODY_FIELDS | OAUTH_ONLY_FIELDS} | set(TEXT_TRIGGERS))
# Names containing another name add nothing to a substring pre-check.
_CORE = [n for n in _NAMES if not any(o != n and o in n for o in _NAMES)]
_CORE_B = [n.encode() for n in _CORE]
# A run of base64 long enough to hold a secret (docs/specs/reports.md §6.7).
_B64_RUN = r"[A-Za-z0-9+/_-]{24}"


_URL_RE = re.compile(r"https?://[^\s\"'<>]+")


def redact_printed(text: str, config: RedactionConfig = CONFIG) -> str:
    """Terminal text as inspect prints it: URLs with their secret query values masked, then the
    free-text redaction of every other output (credentials by shape, header lines, JSON keys)."""
    if "://" in text:
        text = _URL_RE.sub(lambda m: redact_url(m.group(0), config), text)
    return redact_text(text, config)


def maybe_secret(data: pl.Series) -> list[bool]:
    """Per payload: could it hold a secret (a secret body field's name, a literal of a secret's
    shape, a base64 run)? One Aho-Corasick pass and one regular expression in Polars when every
    payload is UTF-8, else a check per payload. False means `redact_body` would return it
    unchanged."""
    try:
        text = data.cast(pl.String)
    except pl.exceptions.PolarsError:
        out = []
        for d in data.to_list():
            low = d.lower() if d else b""
            out.append(any(n in low for n in _CORE_B) or (bool(d) and has_b64_secret(d)))
        return out
    literal = text.str.contains_any(_CORE, ascii_case_insensitive=True).fill_null(False).to_list()
    runs = text.str.contains(_B64_RUN).fill_null(False).to_list()
    # Without a literal, only base64 can hide a secret: decode the runs of just those payloads.
    return [
        lit or (run and has_b64_secret(d)) for lit, run, d in zip(literal, runs, data.to_list(), strict=True)
    ]


def redact_meta(value: object, config: RedactionConfig = CONFIG) -> object:
    """Metadata, header or filter values (strings anywhere in dicts and lists): free text redacted,
    secret-named keys replaced; the value itself when nothing changed."""
    return redact_json(value, config)


def redact_metas(metas: list[dict[str, Any]], config: RedactionConfig = CONFIG) -> list[dict[str, Any]]:
    """`redact_meta` over every entry's metadata, skipping the entries that hold no literal of a
    secret or of a secret name (one Aho-Corasick pass in Polars over all of them) and the base64
    check when no base64 run of all of them together decodes to a secret."""
    if not metas:
        return metas
    dumps = [orjson.dumps(m, default=str).decode("utf-8") for m in metas]
    hit = pl.Series(dumps, dtype=pl.String).str.contains_any(list(TEXT_TRIGGERS), ascii_case_insensitive=True)
    b64 = has_b64_secret("\n".join(dumps))
    out = []
    for meta, dump, found in zip(metas, dumps, hit.to_list(), strict=True):
        if found or not dump.isascii() or (b64 and has_b64_secret(dump)):
            meta = redact_json(meta, config)
        out.append(meta)
    return out


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


def redact_http(data: bytes, url: str | None = None, config: RedactionConfig = CONFIG) -> bytes:
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
        red = redact_url(t, config)
        if red != t:
            lines[0] = method + b" " + red.encode("latin-1", "replace") + b" " + version
            changed = True
    for i in range(1, len(lines)):
        k, sep, v = lines[i].partition(b":")
        if not sep:
            continue
        if is_sensitive_header(k.decode("latin-1"), config):
            lines[i] = k + b": " + marker(v.strip(), config).encode()
            changed = True
        elif config.free_text:
            value = v.decode("latin-1")
            red = redact_text(value, config)
            if red != value:
                lines[i] = k + b":" + red.encode("latin-1", "replace")
                changed = True
    ctype = header_value(head, "content-type") or ""
    new_body = redact_body(body, ctype, config, url=url) if body else body
    if new_body is not body:
        changed = True
    if not changed:
        return data
    sep = b"\r\n\r\n" if data.find(b"\r\n\r\n") >= 0 else b""
    return b"\r\n".join(lines) + sep + new_body


def redact_payload(
    data: bytes,
    direction: int | None,
    url: str | None = None,
    *,
    maybe: bool = True,
    config: RedactionConfig = CONFIG,
) -> bytes:
    """`maybe=False` (from `maybe_secret`) skips the body check of a non-HTTP payload."""
    if not data:
        return data
    if direction in (PB, BP) and split_http(data) is not None:
        return redact_http(data, url, config)
    if not maybe:
        return data
    return redact_body(data, "", config, url=url)
