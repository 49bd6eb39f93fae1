"""Redaction of secrets in headers, URLs and bodies (reports.md §6).

One code path for everything fastcap writes: the capture addon, JSONL, Markdown reports.

Public API (keep it small):

- `RedactionConfig` / `DEFAULT`: which headers, query parameters and body fields are secret, and the
  marker style (`[REDACTED]` or the fingerprint form `[REDACTED:<8 hex of sha256>]`).
- `marker(value, config)`, `is_marker(text)`.
- `is_sensitive_header(name, config)`, `redact_headers(pairs, config)`.
- `redact_url(url, config)`.
- `redact_json(value, config, url=None)` for parsed JSON.
- `redact_body(body, content_type, config, url=None) -> bytes`: JSON, form-encoded, SSE and
  AWS EventStream bodies. **Returns the very same object when nothing was redacted**, so callers
  can keep byte-exact bodies and test `result is body` cheaply.

Every value is replaced whole; no prefix or suffix is ever kept.
"""

from __future__ import annotations

import binascii
import hashlib
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import orjson

REDACTED = "[REDACTED]"
MARKER_RE = re.compile(r"\[REDACTED(?::[0-9a-f]{8})?\]")

DEFAULT_HEADERS: frozenset[str] = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
        "x-amz-security-token",
        "cookie",
        "set-cookie",
        "openai-organization",
        "openai-project",
        "x-amzn-kiro-profile-arn",
    }
)
DEFAULT_HEADER_SUFFIXES: tuple[str, ...] = ("-token", "-secret", "-api-key")
DEFAULT_QUERY_PARAMS: frozenset[str] = frozenset(
    p.lower()
    for p in (
        "key",
        "api_key",
        "apikey",
        "access_token",
        "token",
        "id_token",
        "refresh_token",
        "client_secret",
        "X-Amz-Security-Token",
        "X-Amz-Signature",
        "X-Amz-Credential",
        "signature",
        "sig",
    )
)
DEFAULT_BODY_FIELDS: frozenset[str] = frozenset(
    f.lower()
    for f in (
        "refreshToken",
        "clientSecret",
        "accessToken",
        "idToken",
        "deviceCode",
        "AccessKeyId",
        "SecretKey",
        "SessionToken",
        "SecretAccessKey",
        "access_token",
        "refresh_token",
        "id_token",
        "client_secret",
        "code_verifier",
        "api_key",
        "apiKey",
        "password",
        "secret",
        "private_key",
        "authorization",
    )
)
# Redacted only on OAuth token endpoints / callback paths (elsewhere `code` is an error code etc.).
OAUTH_ONLY_FIELDS: frozenset[str] = frozenset({"code"})
_OAUTH_PATH_RE = re.compile(r"(?i)(oauth|/token\b|/callback|/authorize|createtoken)")


@dataclass(frozen=True, slots=True)
class RedactionConfig:
    """What counts as secret. Names are compared case-insensitively."""

    headers: frozenset[str] = DEFAULT_HEADERS
    header_suffixes: tuple[str, ...] = DEFAULT_HEADER_SUFFIXES
    query_params: frozenset[str] = DEFAULT_QUERY_PARAMS
    body_fields: frozenset[str] = DEFAULT_BODY_FIELDS
    fingerprint: bool = False
    # Derived lower-case sets (filled in __post_init__).
    _headers_lc: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    _fields_lc: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    _params_lc: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_headers_lc", frozenset(h.lower() for h in self.headers))
        object.__setattr__(self, "_fields_lc", frozenset(f.lower() for f in self.body_fields))
        object.__setattr__(self, "_params_lc", frozenset(p.lower() for p in self.query_params))

    def with_changes(
        self,
        *,
        add_headers: Iterable[str] = (),
        remove_headers: Iterable[str] = (),
        add_fields: Iterable[str] = (),
        remove_fields: Iterable[str] = (),
        add_params: Iterable[str] = (),
        remove_params: Iterable[str] = (),
        fingerprint: bool | None = None,
    ) -> RedactionConfig:
        """A copy with names added/removed (the configurable list of reports.md §6.2)."""

        def upd(base: frozenset[str], add: Iterable[str], rem: Iterable[str]) -> frozenset[str]:
            removed = {r.lower() for r in rem}
            return frozenset({b.lower() for b in base} - removed | {a.lower() for a in add})

        return replace(
            self,
            headers=upd(self.headers, add_headers, remove_headers),
            body_fields=upd(self.body_fields, add_fields, remove_fields),
            query_params=upd(self.query_params, add_params, remove_params),
            fingerprint=self.fingerprint if fingerprint is None else fingerprint,
        )


DEFAULT = RedactionConfig()


def marker(value: str | bytes | None, config: RedactionConfig = DEFAULT) -> str:
    """`[REDACTED]`, or `[REDACTED:<first 8 hex of sha256(value)>]` in fingerprint mode."""
    if not config.fingerprint or value is None:
        return REDACTED
    raw = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    return f"[REDACTED:{hashlib.sha256(raw).hexdigest()[:8]}]"


def is_marker(text: str) -> bool:
    """True if `text` is exactly a redaction marker."""
    return MARKER_RE.fullmatch(text.strip()) is not None


def is_sensitive_header(name: str, config: RedactionConfig = DEFAULT) -> bool:
    lname = name.strip().lower()
    return lname in config._headers_lc or lname.endswith(config.header_suffixes)


def redact_headers(
    pairs: Iterable[tuple[str, str]], config: RedactionConfig = DEFAULT
) -> list[tuple[str, str]]:
    """Header pairs with sensitive values replaced (names, order and duplicates kept)."""
    return [(k, marker(v, config) if is_sensitive_header(k, config) else v) for k, v in pairs]


def _is_oauth_path(path: str) -> bool:
    return bool(_OAUTH_PATH_RE.search(path))


def redact_url(url: str, config: RedactionConfig = DEFAULT, *, encode_marker: bool = False) -> str:
    """URL with secret query values replaced. Unchanged (same string) when nothing matched.

    `encode_marker=True` writes the marker URL-encoded (`%5BREDACTED%5D`) for machine-readable URLs.
    """
    if "?" not in url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.query:
        return url
    names = config._params_lc | (OAUTH_ONLY_FIELDS if _is_oauth_path(parts.path) else frozenset())
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if not any(k.lower() in names for k, _ in pairs):
        return url
    out: list[str] = []
    for piece in parts.query.split("&"):
        name, eq, value = piece.partition("=")
        if eq and _unquote(name).lower() in names:
            mark = marker(_unquote(value), config)
            out.append(f"{name}={quote(mark, safe='') if encode_marker else mark}")
        else:
            out.append(piece)
    return urlunsplit(parts._replace(query="&".join(out)))


def _unquote(s: str) -> str:
    from urllib.parse import unquote_plus

    return unquote_plus(s)


def _field_names(config: RedactionConfig, url: str | None) -> frozenset[str]:
    if url is not None and _is_oauth_path(urlsplit(url).path if "://" in url else url):
        return config._fields_lc | OAUTH_ONLY_FIELDS
    return config._fields_lc


def redact_json(value: Any, config: RedactionConfig = DEFAULT, *, url: str | None = None) -> Any:
    """A copy of parsed JSON with secret fields replaced at any depth; the input itself if unchanged."""
    names = _field_names(config, url)
    result, _ = _redact_value(value, names, config)
    return result


def _redact_value(value: Any, names: frozenset[str], config: RedactionConfig) -> tuple[Any, bool]:
    if isinstance(value, dict):
        changed = False
        out: dict[Any, Any] = {}
        for k, v in value.items():
            if isinstance(k, str) and k.lower() in names and not (isinstance(v, str) and is_marker(v)):
                if v is None:
                    out[k] = v
                    continue
                out[k] = marker(v if isinstance(v, str) else orjson.dumps(v), config)
                changed = True
            else:
                nv, c = _redact_value(v, names, config)
                out[k] = nv
                changed |= c
        return (out, True) if changed else (value, False)
    if isinstance(value, list):
        changed = False
        items = []
        for v in value:
            nv, c = _redact_value(v, names, config)
            items.append(nv)
            changed |= c
        return (items, True) if changed else (value, False)
    return value, False


def _json_bytes(body: bytes, names: frozenset[str], config: RedactionConfig) -> bytes | None:
    """Redacted JSON bytes, or None if `body` is not JSON or nothing changed."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    new, changed = _redact_value(parsed, names, config)
    if not changed:
        return None
    return orjson.dumps(new)


def _quick_reject(body: bytes, names: frozenset[str]) -> bool:
    """True when no sensitive name can occur in `body` (cheap pre-check on the hot path)."""
    low = body.lower()
    return not any(n.encode() in low for n in names)


def redact_body(
    body: bytes,
    content_type: str = "",
    config: RedactionConfig = DEFAULT,
    *,
    url: str | None = None,
) -> bytes:
    """Redact a body by content type (JSON, form, SSE, EventStream; JSON sniffed otherwise).

    Returns `body` itself (same object) when nothing was redacted; non-JSON text is left alone.
    """
    if not body:
        return body
    names = _field_names(config, url)
    if _quick_reject(body, names):
        return body
    ct = content_type.split(";")[0].strip().lower()
    if ct == "application/vnd.amazon.eventstream":
        return redact_eventstream(body, config, url=url)
    if ct == "text/event-stream":
        return redact_sse(body, config, url=url)
    if ct == "application/x-www-form-urlencoded":
        return redact_form(body, config, url=url)
    stripped = body.lstrip()
    if stripped[:1] in (b"{", b"["):
        out = _json_bytes(body, names, config)
        return body if out is None else out
    if stripped.startswith((b"data:", b"event:", b":", b"id:")):
        return redact_sse(body, config, url=url)
    if b"=" in body and b"\n" not in body and b" " not in body:
        return redact_form(body, config, url=url)
    return body


def redact_form(body: bytes, config: RedactionConfig = DEFAULT, *, url: str | None = None) -> bytes:
    names = _field_names(config, url)
    try:
        text = body.decode("ascii")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return body
    if not any(k.lower() in names for k, _ in pairs):
        return body
    return urlencode([(k, marker(v, config) if k.lower() in names else v) for k, v in pairs]).encode()


_SSE_LINE_RE = re.compile(rb"^(data:[ ]?)(.*?)(\r?)$", re.MULTILINE)


def redact_sse(body: bytes, config: RedactionConfig = DEFAULT, *, url: str | None = None) -> bytes:
    """Redact JSON found on `data:` lines; every other byte (line endings included) is kept."""
    names = _field_names(config, url)
    changed = False

    def sub(m: re.Match[bytes]) -> bytes:
        nonlocal changed
        payload = m.group(2)
        out = _json_bytes(payload, names, config) if payload[:1] in (b"{", b"[") else None
        if out is None:
            return m.group(0)
        changed = True
        return m.group(1) + out + m.group(3)

    result = _SSE_LINE_RE.sub(sub, body)
    return result if changed else body


def redact_eventstream(
    body: bytes, config: RedactionConfig = DEFAULT, *, url: str | None = None
) -> bytes:
    """Redact JSON payloads of AWS EventStream frames, re-encoding lengths and CRCs.

    Partial or invalid frames (a chunk boundary inside a frame) are kept byte for byte.
    """
    names = _field_names(config, url)
    out: list[bytes] = []
    pos = 0
    changed = False
    n = len(body)
    while pos + 16 <= n:
        total, hlen = struct.unpack_from(">II", body, pos)
        if total < 16 or pos + total > n or hlen > total - 16:
            break
        if binascii.crc32(body[pos : pos + 8]) != struct.unpack_from(">I", body, pos + 8)[0]:
            break
        headers = body[pos + 12 : pos + 12 + hlen]
        payload = body[pos + 12 + hlen : pos + total - 4]
        new_payload = _json_bytes(payload, names, config) if payload[:1] in (b"{", b"[") else None
        if new_payload is None:
            out.append(body[pos : pos + total])
        else:
            changed = True
            out.append(encode_eventstream_frame(headers, new_payload))
        pos += total
    if not changed:
        return body
    out.append(body[pos:])
    return b"".join(out)


def encode_eventstream_frame(raw_headers: bytes, payload: bytes) -> bytes:
    """One EventStream frame from already-encoded header bytes and a payload (CRC32 prelude/message)."""
    total = 16 + len(raw_headers) + len(payload)
    prelude = struct.pack(">II", total, len(raw_headers))
    prelude += struct.pack(">I", binascii.crc32(prelude))
    message = prelude + raw_headers + payload
    return message + struct.pack(">I", binascii.crc32(message))


__all__ = [
    "DEFAULT",
    "MARKER_RE",
    "REDACTED",
    "RedactionConfig",
    "encode_eventstream_frame",
    "is_marker",
    "is_sensitive_header",
    "marker",
    "redact_body",
    "redact_eventstream",
    "redact_form",
    "redact_headers",
    "redact_json",
    "redact_sse",
    "redact_url",
]
