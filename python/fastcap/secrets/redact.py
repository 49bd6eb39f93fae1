"""Redaction of secrets in headers, URLs and bodies (docs/specs/reports.md §6).

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
- `redact_text(text, config)`: secrets inside free text (assistant output, prompts, tool arguments,
  URLs, log text), found by the same patterns the leak scan uses (`fastcap.secrets.patterns`),
  base64-encoded secrets included (a run whose decoded text holds one is replaced whole, §6.7).
- `redact_fields_text(text, config, url=None)`: secret JSON fields written in text that need not
  parse (a pretty-printed line of a body, a body cut short), a value cut at the end included.

Two presets: `DEFAULT` redacts named things only (headers, query parameters, body fields), which is
what the capture addon applies to every chunk on the proxy's hot path; `OUTPUT` also runs
`redact_text` over every string (JSON string values, text bodies, header values, URLs), which is what
reports and converted files use, so a key pasted into a prompt does not reach them.

Every value is replaced whole; no prefix or suffix is ever kept (`Bearer <token>` keeps the scheme
word, `Signature=<hex>` the parameter name).
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

from fastcap._native import LiteralSet
from fastcap.secrets.patterns import (
    B64_TRIGGER,
    DEFAULT_BODY_FIELDS,
    DEFAULT_HEADER_SUFFIXES,
    DEFAULT_HEADERS,
    DEFAULT_QUERY_PARAMS,
    FIELD_RE,
    HEADER_LINE_RE,
    NAME_TRIGGER_SET,
    OAUTH_ONLY_FIELDS,
    TEXT_TRIGGERS,
    TRIGGERS,
    VALUE_PATTERNS,
    SecretPattern,
    b64_secret_spans,
    has_b64_secret,
    is_sensitive_field_name,
    present_triggers,
)

REDACTED = "[REDACTED]"
MARKER_RE = re.compile(r"\[REDACTED(?::[0-9a-f]{8})?\]")

# Which names are secret lives in `fastcap.secrets.patterns` (shared with the leak scan); re-exported
# here because callers have always imported them from this module.
_OAUTH_PATH_RE = re.compile(r"(?i)(oauth|/token\b|/callback|/authorize|createtoken)")


@dataclass(frozen=True, slots=True)
class RedactionConfig:
    """What counts as secret. Names are compared case-insensitively."""

    headers: frozenset[str] = DEFAULT_HEADERS
    header_suffixes: tuple[str, ...] = DEFAULT_HEADER_SUFFIXES
    query_params: frozenset[str] = DEFAULT_QUERY_PARAMS
    body_fields: frozenset[str] = DEFAULT_BODY_FIELDS
    fingerprint: bool = False
    # Also redact secrets found by shape in free text (strings inside bodies, header values, URLs).
    free_text: bool = False
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
        free_text: bool | None = None,
    ) -> RedactionConfig:
        """A copy with names added/removed (the configurable list of docs/specs/reports.md §6.2)."""

        def upd(base: frozenset[str], add: Iterable[str], rem: Iterable[str]) -> frozenset[str]:
            removed = {r.lower() for r in rem}
            return frozenset({b.lower() for b in base} - removed | {a.lower() for a in add})

        return replace(
            self,
            headers=upd(self.headers, add_headers, remove_headers),
            body_fields=upd(self.body_fields, add_fields, remove_fields),
            query_params=upd(self.query_params, add_params, remove_params),
            fingerprint=self.fingerprint if fingerprint is None else fingerprint,
            free_text=self.free_text if free_text is None else free_text,
        )


DEFAULT = RedactionConfig()
OUTPUT = RedactionConfig(free_text=True)


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
    """Header pairs with sensitive values replaced (names, order and duplicates kept); with
    `free_text`, secrets inside the other values too (a key in a `referer` URL, say)."""
    out: list[tuple[str, str]] = []
    for k, v in pairs:
        if is_sensitive_header(k, config):
            out.append((k, marker(v, config)))
        else:
            out.append((k, redact_text(v, config) if config.free_text else v))
    return out


# --- free text ----------------------------------------------------------------------------------

# `x-api-key: <value>` inside a line (a curl command in assistant text), beyond what the leak scan
# checks (it only looks at header lines). Key-like header names only: `cookie: it stores…` is prose.
# The value must look like a credential: 8+ token characters with a digit, or 20+.
_INLINE_NAMES = sorted([h for h in DEFAULT_HEADERS if h.endswith(("key", "token"))], key=len, reverse=True)
_INLINE_KEY_RE = re.compile(
    r"(?i)\b((?:"
    + "|".join(re.escape(h) for h in _INLINE_NAMES)
    + r")|[A-Za-z0-9-]+(?:"
    + "|".join(re.escape(s) for s in DEFAULT_HEADER_SUFFIXES)
    + r"))([\"']?\s*[:=]\s*[\"']?)(?!\[REDACTED)([A-Za-z0-9._~+/=-]{8,})"
)
# No pattern, header line or field rule matches fewer characters (`cookie:x`).
_MIN_SECRET_TEXT = 8


def may_hold_secret(text: str) -> bool:
    """False when `redact_text` certainly has nothing to do (no pattern's literal occurs)."""
    return len(text) >= _MIN_SECRET_TEXT and bool(present_triggers(text))


def _sub_pattern(pattern: SecretPattern, text: str, config: RedactionConfig) -> str:
    def repl(m: re.Match[str]) -> str:
        if pattern.group == 0:
            return marker(m.group(0), config)
        start, end = m.span(pattern.group)
        whole = m.group(0)
        offset = m.start()
        return whole[: start - offset] + marker(m.group(pattern.group), config) + whole[end - offset :]

    return pattern.redaction_regex.sub(repl, text)


def _redact_line(line: str, config: RedactionConfig) -> str:
    """The leak scan's two name rules on one line: a sensitive header line and JSON fields."""
    hm = HEADER_LINE_RE.match(line)
    if hm:
        value = hm.group(2).strip().strip("`'\"")
        if value and not is_marker(value):
            line = line[: hm.start(2)] + marker(value, config) + line[hm.end(2) :]

    def field(m: re.Match[str]) -> str:
        raw = m.group(2)
        if raw in ("{", "["):
            return m.group(0)
        value = raw[1:-1] if raw.startswith('"') else raw
        if not value or is_marker(value):
            return m.group(0)
        return m.group(0)[: m.start(2) - m.start()] + '"' + marker(value, config) + '"'

    return FIELD_RE.sub(field, line)


def _inline_key(m: re.Match[str], config: RedactionConfig) -> str:
    value = m.group(3)
    if len(value) < 20 and not any(c.isdigit() for c in value):
        return m.group(0)
    return m.group(1) + m.group(2) + marker(value, config)


def _name_rules(text: str, config: RedactionConfig, *, lf_only: bool) -> str:
    """`_redact_line` over the lines of `text` (endings kept): split at LF only as `scan_paths` reads
    files (then CR is stripped), or at every `str.splitlines` separator as `scan_text` does."""
    lines = text.splitlines(keepends=True) if not lf_only else re.split(r"(?<=\n)", text)
    changed = False
    for i, line in enumerate(lines):
        if lf_only:
            body = line.rstrip("\r\n")
        else:
            parts = line.splitlines()
            body = parts[0] if parts else ""
        if ":" in body:
            new = _redact_line(body, config)
            if new != body:
                lines[i] = new + line[len(body) :]
                changed = True
    return "".join(lines) if changed else text


def redact_text(text: str, config: RedactionConfig = DEFAULT) -> str:
    """`text` with every secret the leak scan would report replaced by the marker.

    Credentials recognised by shape (`sk-ant-…`, `sk-proj-…`, `AKIA…`, `Bearer <token>`, JWTs, private
    key blocks, … — `fastcap.secrets.patterns.VALUE_PATTERNS`), the value of a sensitive header line
    (`x-api-key: …`, also inside a line for key-like names) and scalar values of secret JSON keys
    written in the text. Returns `text` unchanged when nothing matched. Literal pre-checks keep
    ordinary text (no `sk-`, `bearer`, `authorization`, … anywhere) at the cost of one `lower()`.
    """
    return _redact_text(text, config, TRIGGERS)


def _redact_text(text: str, config: RedactionConfig, among: Iterable[str]) -> str:
    # `among`: the literals worth looking for (all of them, or those present in an enclosing text).
    if len(text) < _MIN_SECRET_TEXT:
        return text
    present = present_triggers(text, among)
    if not present:
        return text
    out = text
    for pattern in VALUE_PATTERNS:
        if not present.isdisjoint(pattern.triggers):
            out = _sub_pattern(pattern, out, config)
    if not present.isdisjoint(NAME_TRIGGER_SET):
        # Line rules as the scan reads: files split at LF only, `scan_text` at every `splitlines`
        # separator (CR, U+2028, …). Both passes, so neither reading finds a header line left over.
        out = _name_rules(out, config, lf_only=True)
        out = _name_rules(out, config, lf_only=False)
        out = _INLINE_KEY_RE.sub(lambda m: _inline_key(m, config), out)
    if B64_TRIGGER in present:
        out = _redact_b64(out, config)
    return out


def _redact_b64(text: str, config: RedactionConfig) -> str:
    """Every base64 run whose decoded text holds a secret, replaced whole (with its `=` padding) by
    the marker (§6.7)."""
    spans = b64_secret_spans(text)
    if not spans:
        return text
    out: list[str] = []
    pos = 0
    for a, b in spans:
        if text.startswith("==", b):
            b += 2
        elif text.startswith("=", b):
            b += 1
        out.append(text[pos:a])
        out.append(marker(text[a:b], config))
        pos = b
    out.append(text[pos:])
    return "".join(out)


def _fields_rx(names: frozenset[str]) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """(a JSON key of `names` or a `*-token`/`*-secret`/`*-api-key` key with a string or number
    value; the same key with a string value that the text cuts short; the names and suffixes as a
    lower-case pre-check)."""
    cached = _FIELDS_RX.get(names)
    if cached is not None:
        return cached
    alt = (
        "(?:"
        + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
        + r")|[A-Za-z0-9-]+(?:"
        + "|".join(re.escape(s) for s in DEFAULT_HEADER_SUFFIXES)
        + ")"
    )
    whole = re.compile(r"\"(" + alt + r")\"\s*:\s*(\"(?:[^\"\\]|\\.)*\"|-?\d[\d.eE+-]*)", re.IGNORECASE)
    cut = re.compile(r"\"(" + alt + r")\"\s*:\s*(\"(?:[^\"\\]|\\.)*\\?)\Z", re.IGNORECASE)
    literals = sorted(set(names) | set(DEFAULT_HEADER_SUFFIXES), key=len, reverse=True)
    pre = re.compile("|".join(re.escape(n) for n in literals))
    _FIELDS_RX[names] = (whole, cut, pre)
    return whole, cut, pre


_FIELDS_RX: dict[frozenset[str], tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]] = {}


def redact_fields_text(text: str, config: RedactionConfig = DEFAULT, *, url: str | None = None) -> str:
    """Secret JSON fields written in `text` that need not parse as JSON: a line of a pretty-printed
    body, a body cut short. The value of a §6.4 field (or a sensitive header name used as a key, as
    the leak scan's field rule reads it) becomes the marker, and so does a string value the text
    ends inside (a stream cut mid-value). Structure, other keys and whitespace are kept. Returns
    `text` itself when nothing was replaced."""
    names = _field_names(config, url) | config._headers_lc
    whole, cut, pre = _fields_rx(names)
    if pre.search(text.lower()) is None:
        return text

    def field(m: re.Match[str]) -> str:
        raw = m.group(2)
        value = raw[1:-1] if raw.startswith('"') else raw
        if not value or is_marker(value):
            return m.group(0)
        return m.group(0)[: m.start(2) - m.start()] + '"' + marker(value, config) + '"'

    out = whole.sub(field, text)
    tail = cut.search(out)
    if tail is not None:
        value = tail.group(2)[1:]  # after the opening quote; the text ends before the closing one
        if value and not MARKER_RE.match(value):
            out = out[: tail.start(2)] + '"' + marker(value, config)
    return out if out != text else text


def _is_oauth_path(path: str) -> bool:
    return bool(_OAUTH_PATH_RE.search(path))


def redact_url(url: str, config: RedactionConfig = DEFAULT, *, encode_marker: bool = False) -> str:
    """URL with secret query values replaced. Unchanged (same string) when nothing matched.

    `encode_marker=True` writes the marker URL-encoded (`%5BREDACTED%5D`) for machine-readable URLs.
    With `free_text`, secrets elsewhere in the URL (a key in the path) are replaced as well.
    """
    out = _redact_query(url, config, encode_marker)
    if config.free_text:
        text = redact_text(out, config)
        if text != out:
            out = MARKER_RE.sub(lambda m: quote(m.group(0), safe=""), text) if encode_marker else text
    return out


# A URL-like token with a query string inside a line of text (`https://h/p?key=…`, a mitmdump
# WebSocket line's `host:443/ws?token=…`, a URL cut with `…`).
_URL_QUERY_TOKEN_RE = re.compile(r"[^\s\"'<>()\[\]]*\?[^\s\"'<>()\[\]]*=[^\s\"'<>()\[\]]*")


# An indented `name: value` line (mitmdump prints a request's query parameters so at flow_detail 2+).
_NAME_VALUE_LINE_RE = re.compile(r"^(\s+)([A-Za-z0-9_.~-]+)(:\s*)(\S.*?)(\s*)$", re.DOTALL)


def redact_log_line(line: str, config: RedactionConfig = DEFAULT) -> str:
    """One line of a log (mitmdump's output): the secret query parameters of every URL on it
    (`redact_url`) and of mitmdump's query block (an indented `key: value` line naming one), then,
    with `free_text`, every secret `redact_text` finds. Returns `line` itself when nothing changed."""
    out = line
    if "?" in line and "=" in line:
        out = _URL_QUERY_TOKEN_RE.sub(lambda m: redact_url(m.group(0), config), line)
    m = _NAME_VALUE_LINE_RE.match(out)
    if m and m.group(2).lower() in config._params_lc and not is_marker(m.group(4)):
        out = m.group(1) + m.group(2) + m.group(3) + marker(m.group(4), config) + m.group(5)
    if config.free_text:
        out = redact_text(out, config)
    return line if out == line else out


def _redact_query(url: str, config: RedactionConfig, encode_marker: bool) -> str:
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


def field_names(config: RedactionConfig = DEFAULT, url: str | None = None) -> frozenset[str]:
    """The body field names (lower case) secret in a body of `url`: §6.4, with `code` on OAuth paths."""
    return _field_names(config, url)


def redact_json(value: Any, config: RedactionConfig = DEFAULT, *, url: str | None = None) -> Any:
    """A copy of parsed JSON with secret fields replaced at any depth; the input itself if unchanged."""
    names = _field_names(config, url)
    try:
        dumped: bytes | None = orjson.dumps(value)
    except TypeError:  # not plain JSON (e.g. non-string keys): check each string on its own
        dumped = None
    # orjson escapes no letter, so a name or literal in any key or string is one of the dump: when
    # none is there, walking the value (a whole conversation) would change nothing.
    if dumped is not None and _quick_reject(dumped, names, config):
        return value
    result, _ = _redact_value(value, names, config, _free_text_among(value, config, dumped))
    return result


def _free_text_among(
    value: Any, config: RedactionConfig, dumped: bytes | None = None
) -> frozenset[str] | None:
    """The secret literals present anywhere in a JSON value (None: no free-text work at all);
    `dumped`: the value's orjson dump when the caller has it.

    One check over the serialised value instead of one per string: orjson escapes no letter, so a
    literal in any string or key is a literal of the dump."""
    if not config.free_text:
        return None
    if dumped is None:
        try:
            dumped = orjson.dumps(value)
        except TypeError:  # not plain JSON (e.g. non-string keys): check each string on its own
            return frozenset(TRIGGERS)
    present = present_triggers(dumped.decode("utf-8"))
    return frozenset(present) if present else None


def _secret_scalar(key: Any, value: Any) -> bool:
    """A scalar under a key the leak scan treats as a secret field (header names used as JSON keys,
    `*-token` / `*-secret` / `*-api-key`): what `FIELD_RE` would report once rendered."""
    if isinstance(value, str):
        scalar = bool(value) and not is_marker(value)
    else:
        scalar = isinstance(value, int | float) and not isinstance(value, bool)
    return scalar and isinstance(key, str) and is_sensitive_field_name(key)


def _redact_value(
    value: Any, names: frozenset[str], config: RedactionConfig, among: frozenset[str] | None
) -> tuple[Any, bool]:
    """`among`: secret literals present in the whole value (None: free-text redaction off or moot)."""
    if isinstance(value, str):
        if among is None:
            return value, False
        text = _redact_text(value, config, among)
        return (text, True) if text != value else (value, False)
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
            elif among is not None and _secret_scalar(k, v):
                out[k] = marker(v if isinstance(v, str) else orjson.dumps(v), config)
                changed = True
            else:
                nv, c = _redact_value(v, names, config, among)
                out[k] = nv
                changed |= c
        return (out, True) if changed else (value, False)
    if isinstance(value, list):
        changed = False
        items = []
        for v in value:
            nv, c = _redact_value(v, names, config, among)
            items.append(nv)
            changed |= c
        return (items, True) if changed else (value, False)
    return value, False


def _json_try(body: bytes, names: frozenset[str], config: RedactionConfig) -> tuple[bool, bytes | None]:
    """(is JSON, redacted bytes or None when nothing changed)."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False, None
    new, changed = _redact_value(parsed, names, config, _free_text_among(parsed, config))
    return True, orjson.dumps(new) if changed else None


def _json_bytes(body: bytes, names: frozenset[str], config: RedactionConfig) -> bytes | None:
    """Redacted JSON bytes, or None if `body` is not JSON or nothing changed."""
    return _json_try(body, names, config)[1]


def _quick_reject(body: bytes, names: frozenset[str], config: RedactionConfig = DEFAULT) -> bool:
    """True when no sensitive name (nor, with `free_text`, any secret's literal or base64 of a
    secret) can occur in `body` (cheap pre-check on the hot path)."""
    ascii_set, others = _name_literals(names, config.free_text)
    if ascii_set.any_in(body) or (others and any(n in body.lower() for n in others)):
        return False
    return not (config.free_text and has_b64_secret(body))


_NAME_LITERALS: dict[tuple[frozenset[str], bool], tuple[LiteralSet, tuple[bytes, ...]]] = {}


def _name_literals(names: frozenset[str], free_text: bool) -> tuple[LiteralSet, tuple[bytes, ...]]:
    """The lower-case field names (and, with `free_text`, the secrets' literals), built once per
    name set: the ASCII ones as one native set (one pass over a body instead of one `in` per
    literal), the rare others as lower-case UTF-8 bytes."""
    cached = _NAME_LITERALS.get((names, free_text))
    if cached is None:
        found = {n.lower() for n in names} | (set(TEXT_TRIGGERS) if free_text else set())
        ascii_names = sorted(n for n in found if n.isascii())
        others = tuple(sorted(n.encode() for n in found if not n.isascii()))
        cached = _NAME_LITERALS[(names, free_text)] = (LiteralSet(ascii_names), others)
    return cached


def _text_bytes(body: bytes, config: RedactionConfig) -> bytes:
    """`redact_text` over a body: UTF-8 text, or, for other bytes (binary with printable parts),
    each byte as one character, so only a secret's own bytes change (the marker is ASCII)."""
    try:
        text = body.decode("utf-8")
        encoding = "utf-8"
    except UnicodeDecodeError:
        text = body.decode("latin-1")
        encoding = "latin-1"
    out = redact_text(text, config)
    return body if out == text else out.encode(encoding)


def redact_body(
    body: bytes,
    content_type: str = "",
    config: RedactionConfig = DEFAULT,
    *,
    url: str | None = None,
) -> bytes:
    """Redact a body by content type (JSON, form, SSE, EventStream; JSON sniffed otherwise).

    Returns `body` itself (same object) when nothing was redacted. Non-JSON text is left alone
    unless `config.free_text`, which runs `redact_text` over it (and over every JSON string), and
    over the printable parts of binary bodies (each byte taken as one character).
    """
    if not body:
        return body
    names = _field_names(config, url)
    if _quick_reject(body, names, config):
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
        is_json, out = _json_try(body, names, config)
        if is_json or not config.free_text:
            return body if out is None else out
    elif _starts_with_frame(body):  # EventStream frames without their content type
        return redact_eventstream(body, config, url=url)
    elif stripped.startswith((b"data:", b"event:", b":", b"id:")):
        return redact_sse(body, config, url=url)
    elif b"=" in body and b"\n" not in body and b" " not in body:
        return redact_form(body, config, url=url)
    return _text_bytes(body, config) if config.free_text else body


def redact_form(body: bytes, config: RedactionConfig = DEFAULT, *, url: str | None = None) -> bytes:
    names = _field_names(config, url)
    try:
        text = body.decode("ascii")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True)
    except (UnicodeDecodeError, ValueError):
        return body
    if config.free_text:
        redacted = [
            (k, marker(v, config) if k.lower() in names else redact_text(v, config)) for k, v in pairs
        ]
        if redacted == pairs:
            return body
        return urlencode(redacted).encode()
    if not any(k.lower() in names for k, _ in pairs):
        return body
    return urlencode([(k, marker(v, config) if k.lower() in names else v) for k, v in pairs]).encode()


_SSE_LINE_RE = re.compile(rb"^(data:[ ]?)(.*?)(\r?)$", re.MULTILINE)


def redact_sse(body: bytes, config: RedactionConfig = DEFAULT, *, url: str | None = None) -> bytes:
    """Redact JSON found on `data:` lines (with `free_text`, secrets in non-JSON data too); every
    other byte (line endings included) is kept."""
    names = _field_names(config, url)
    changed = False

    def sub(m: re.Match[bytes]) -> bytes:
        nonlocal changed
        payload = m.group(2)
        is_json, out = _json_try(payload, names, config) if payload[:1] in (b"{", b"[") else (False, None)
        if out is None and not is_json and config.free_text:
            text = _text_bytes(payload, config)
            out = None if text is payload else text
        if out is None:
            return m.group(0)
        changed = True
        return m.group(1) + out + m.group(3)

    result = _SSE_LINE_RE.sub(sub, body)
    return result if changed else body


def redact_eventstream(body: bytes, config: RedactionConfig = DEFAULT, *, url: str | None = None) -> bytes:
    """Redact JSON payloads of AWS EventStream frames, re-encoding lengths and CRCs.

    Partial or invalid frames (a chunk boundary inside a frame) are kept byte for byte.
    """
    names = _field_names(config, url)
    out: list[bytes] = []
    pos = 0
    changed = False
    n = len(body)
    if config.free_text and not _starts_with_frame(body):
        # Not frames at all: EventStream text recovered from a mitmdump log.
        return _text_bytes(body, config)
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


def _starts_with_frame(body: bytes) -> bool:
    if len(body) < 16:
        return False
    return binascii.crc32(body[:8]) == struct.unpack_from(">I", body, 8)[0]


def encode_eventstream_frame(raw_headers: bytes, payload: bytes) -> bytes:
    """One EventStream frame from already-encoded header bytes and a payload (CRC32 prelude/message)."""
    total = 16 + len(raw_headers) + len(payload)
    prelude = struct.pack(">II", total, len(raw_headers))
    prelude += struct.pack(">I", binascii.crc32(prelude))
    message = prelude + raw_headers + payload
    return message + struct.pack(">I", binascii.crc32(message))


__all__ = [
    "DEFAULT",
    "DEFAULT_BODY_FIELDS",
    "DEFAULT_HEADERS",
    "DEFAULT_HEADER_SUFFIXES",
    "DEFAULT_QUERY_PARAMS",
    "MARKER_RE",
    "OAUTH_ONLY_FIELDS",
    "OUTPUT",
    "REDACTED",
    "RedactionConfig",
    "encode_eventstream_frame",
    "field_names",
    "is_marker",
    "is_sensitive_header",
    "marker",
    "may_hold_secret",
    "redact_body",
    "redact_eventstream",
    "redact_fields_text",
    "redact_form",
    "redact_headers",
    "redact_json",
    "redact_log_line",
    "redact_sse",
    "redact_text",
    "redact_url",
]
