"""HAR 1.2 files (mitmproxy `hardump`, browsers) → `Exchange`s (docs/specs/mitmproxy.md §6).

Body recovery: base64 bodies (`encoding: "base64"`) are decoded; text bodies are encoded back
with the charset mitmproxy would have inferred when exporting. When that charset is latin-1 (no
`charset=`, and the type does not mention JSON/HTML/XML/JavaScript/CSS), `text.encode("latin-1")`
gives back the exact original bytes, which makes EventStream and octet-stream bodies exact.

Reading: orjson parses the whole file. When that fails, the file is walked again value by value
(`_recover`): every entry of `log.entries` that is complete before the fault is kept, and the
fault names its byte offset (a file that ends inside an entry is a truncated tail, anything else
is damage; docs/specs/errors.md). A field of the wrong type is read as absent.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import contextlib
import functools
import json
import mmap
import os
import re
from datetime import datetime
from typing import Any

import orjson

from fastcap import _native
from fastcap.formats._errors import Fault, HarFormatError, make_error
from fastcap.formats._json import scrub_surrogates
from fastcap.model import BodyFidelity, Exchange, WsMessage

_CHARSET_RE = re.compile(r"charset=\"?([\w.:-]+)", re.IGNORECASE)
_UTF8_HINTS = ("json", "html", "xml", "javascript", "css")


@functools.lru_cache(maxsize=256)
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


def _d(value: Any) -> dict[str, Any]:
    """A HAR object, or {} when the field is absent or of another type."""
    return value if isinstance(value, dict) else {}


def _s(value: Any, default: str = "") -> str:
    """A HAR string (numbers written as text), or `default` when absent or of another type. Lone
    surrogates (which `\\udXXX` escapes can carry) become U+FFFD so the text encodes later."""
    if isinstance(value, str):
        if value.isascii():
            return value
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return default


def _body(
    text: Any, encoding: Any, mime_type: str, flags: set[str], prefix: str, *, browser: bool = False
) -> tuple[bytes | None, BodyFidelity]:
    """(bytes, fidelity): base64 and text in the charset mitmproxy inferred give the exact bytes.

    A browser's HAR (`browser`: any exporter but mitmproxy, docs/specs/mitmproxy.md §6) holds text
    bodies as the Unicode the browser decoded: they go back to bytes in their declared charset, else
    UTF-8, which is exact for the types that are UTF-8 by definition or by convention (SSE, JSON,
    text); for any other type the bytes are a reconstruction (`recovered_from_text`), never called
    complete."""
    if text is None:
        return None, "complete"
    if not isinstance(text, str):
        flags.add(prefix + "bad_body_type")
        return None, "missing"
    if encoding == "base64":
        try:
            return base64.b64decode(text, validate=False), "complete"
        except (binascii.Error, ValueError):
            flags.add(prefix + "bad_base64")
            return None, "missing"
    if browser:
        return _browser_text(text, mime_type, flags, prefix)
    charset = inferred_charset(mime_type)
    try:
        return text.encode(charset, "surrogateescape" if charset == "utf-8" else "strict"), "complete"
    except (UnicodeEncodeError, LookupError):
        flags.add(prefix + "lossy_text")
        return text.encode("utf-8", "replace"), "recovered_from_text"


# Types whose text a browser decodes as UTF-8 when no charset is declared, so that UTF-8 gives the
# exact bytes back: SSE is UTF-8 by definition, JSON by RFC 8259; the rest by the types' rules.
_BROWSER_UTF8 = ("text/event-stream", "json", "text/", "javascript", "xml", "html", "css")


def _browser_text(text: str, mime_type: str, flags: set[str], prefix: str) -> tuple[bytes, BodyFidelity]:
    m = _CHARSET_RE.search(mime_type or "")
    charset = "utf-8"
    if m:
        try:
            charset = codecs.lookup(m.group(1)).name
        except LookupError:
            flags.add(prefix + "unknown_charset")
    try:
        body = text.encode(charset)
    except UnicodeEncodeError:
        flags.add(prefix + "lossy_text")
        return text.encode("utf-8", "replace"), "recovered_from_text"
    lowered = (mime_type or "").lower()
    exact = m is not None or any(t in lowered for t in _BROWSER_UTF8) or text.isascii()
    return body, "complete" if exact else "recovered_from_text"


def _declared_size(obj: dict[str, Any], key: str) -> int:
    size = obj.get(key)
    return size if isinstance(size, int) and size > 0 else 0


def _ts(iso: Any) -> float | None:
    if not iso or not isinstance(iso, str):
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except (ValueError, OverflowError, OSError):
        return None


def _ms(timings: dict[str, Any], key: str) -> float:
    v = timings.get(key, -1)
    return float(v) / 1000.0 if isinstance(v, int | float) and not isinstance(v, bool) and v > 0 else 0.0


def _headers(items: Any) -> list[tuple[str, str]]:
    if not isinstance(items, list):
        return []
    return [(_s(h.get("name")), _s(h.get("value"))) for h in items if isinstance(h, dict)]


def _mime(headers: list[tuple[str, str]], declared: Any) -> str:
    if declared and isinstance(declared, str):
        return declared
    for k, v in headers:
        if k.lower() == "content-type":
            return v
    return ""


def exchange_from_entry(index: int, entry: dict[str, Any], *, browser: bool = False) -> Exchange:
    """One HAR entry; `browser`: the file was written by a browser, not mitmproxy (see `_body`)."""
    req = _d(entry.get("request"))
    resp = _d(entry.get("response"))
    flags: set[str] = set()
    req_headers = _headers(req.get("headers"))
    post = _d(req.get("postData"))
    req_body, req_fid = _body(
        post.get("text"),
        post.get("encoding"),
        _mime(req_headers, post.get("mimeType")),
        flags,
        "request_",
        browser=browser,
    )
    if req_body is None and req_fid == "complete" and _declared_size(req, "bodySize"):
        req_fid = "missing"  # HAR keeps postData for POST/PUT/PATCH only
    ex = Exchange(
        index=index,
        source="har",
        method=_s(req.get("method")),
        url=_s(req.get("url")),
        request_headers=req_headers,
        request_body=req_body,
        http_version=_s(req.get("httpVersion")) or "HTTP/1.1",
        request_body_fidelity=req_fid,
    )
    status = resp.get("status")
    if isinstance(status, int) and not isinstance(status, bool) and 0 < status < 1000:
        ex.status = status
        ex.reason = _s(resp.get("statusText"))
        ex.response_headers = _headers(resp.get("headers"))
        content = _d(resp.get("content"))
        ex.response_body, ex.response_body_fidelity = _body(
            content.get("text"),
            content.get("encoding"),
            _mime(ex.response_headers, content.get("mimeType")),
            flags,
            "",
            browser=browser,
        )
        if ex.response_body is None:
            if _declared_size(content, "size") or "bad_body_type" in flags:
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
        ex.error = _s(err.get("msg")) if isinstance(err, dict) else _s(err) or "error"
    # Timings (as mitmproxy writes them): send = request start→end, wait = request end→response
    # start, receive = response start→end; connect/ssl/blocked/dns precede or overlap and are
    # not on this path.
    ex.started_at = _ts(entry.get("startedDateTime"))
    timings = _d(entry.get("timings"))
    if ex.started_at is not None and timings:
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
            data = _s(m.get("data"))
            if opcode == 2:
                try:
                    payload = base64.b64decode(data)
                except (binascii.Error, ValueError):
                    payload = data.encode("utf-8")
            else:
                payload = data.encode("utf-8")
            t = m.get("time")
            ex.websocket.append(
                WsMessage(
                    from_client=m.get("type") == "send",
                    is_text=opcode != 2,
                    data=payload,
                    t=float(t) if isinstance(t, int | float) and not isinstance(t, bool) else None,
                )
            )
    ex.flags = flags
    return ex


# --- reading a file: orjson at once, or value by value to keep what precedes a fault ---------------

_WS = re.compile(r"[ \t\n\r]*")
_NO_ENTRIES = 'expected a HAR object with "log": {"entries": [...]}'


class _Stop(Exception):
    """Where the walk stopped: character position, message, and whether the text ran out there."""

    def __init__(self, pos: int, message: str, eof: bool) -> None:
        super().__init__(message)
        self.pos, self.message, self.eof = pos, message, eof


class _Walker:
    """The top levels of a HAR document (`{…"log": {…"entries": [e, e, …]}}`), one value at a time,
    with the standard library's scanner; each entry is parsed on its own, so the entries before a
    fault survive it."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.end = len(text.rstrip())
        self.decoder = json.JSONDecoder()
        self.entries: list[Any] = []
        self.saw_entries = False
        self.in_entry = False
        self.entry_start = 0

    def ws(self, pos: int) -> int:
        m = _WS.match(self.text, pos)
        return m.end() if m else pos

    def stop(self, pos: int, message: str) -> _Stop:
        return _Stop(pos, message, pos >= self.end)

    def char(self, pos: int, expected: str, what: str) -> int:
        pos = self.ws(pos)
        if self.text[pos : pos + 1] != expected:
            raise self.stop(pos, f"expected {what}")
        return pos + 1

    def value(self, pos: int, what: str) -> tuple[Any, int]:
        pos = self.ws(pos)
        try:
            return self.decoder.raw_decode(self.text, pos)
        except json.JSONDecodeError as exc:
            # An unterminated string runs to the end of the text: the file was cut inside it.
            eof = exc.pos >= self.end or exc.msg.startswith("Unterminated string")
            raise _Stop(exc.pos, f"{what}: {exc.msg}", eof) from None
        except RecursionError:
            raise _Stop(pos, f"{what}: JSON nested too deeply", False) from None

    def members(self, pos: int, what: str) -> Any:
        """Yield (key, position of its value) for each member of the object opening at `pos`."""
        pos = self.char(pos, "{", f"an object ({what})")
        pos = self.ws(pos)
        if self.text[pos : pos + 1] == "}":
            return pos + 1
        while True:
            key, pos = self.value(pos, f"a member name in {what}")
            if not isinstance(key, str):
                raise self.stop(pos, f"a member name in {what}")
            pos = self.char(pos, ":", "':'")
            pos = yield key, pos
            pos = self.ws(pos)
            sep = self.text[pos : pos + 1]
            if sep == "}":
                return pos + 1
            if sep != ",":
                raise self.stop(pos, f"expected ',' or '}}' in {what}")
            pos += 1

    def document(self) -> int:
        pos = self.ws(0)
        top = self.members(pos, "the HAR document")
        pos = self._each(top, self._top)
        return self.ws(pos)

    def _each(self, gen: Any, handle: Any) -> int:
        try:
            key, pos = next(gen)
            while True:
                key, pos = gen.send(handle(key, pos))
        except StopIteration as done:
            end: int = done.value
            return end

    def _top(self, key: str, pos: int) -> int:
        if key == "log" and self.text[self.ws(pos) : self.ws(pos) + 1] == "{":
            return self._each(self.members(pos, '"log"'), self._log)
        return self.value(pos, f'the value of "{key}"')[1]

    def _log(self, key: str, pos: int) -> int:
        if key != "entries" or self.text[self.ws(pos) : self.ws(pos) + 1] != "[":
            return self.value(pos, f'the value of "log.{key}"')[1]
        self.saw_entries = True
        pos = self.ws(pos) + 1
        pos = self.ws(pos)
        if self.text[pos : pos + 1] == "]":
            return pos + 1
        while True:
            self.in_entry, self.entry_start = True, self.ws(pos)
            entry, pos = self.value(pos, f"entry {len(self.entries)} of log.entries")
            self.in_entry = False
            self.entries.append(entry)
            pos = self.ws(pos)
            sep = self.text[pos : pos + 1]
            if sep == "]":
                return pos + 1
            if sep != ",":
                raise self.stop(
                    pos, f"expected ',' or ']' after entry {len(self.entries) - 1} of log.entries"
                )
            pos += 1


def _kept(n: int) -> str:
    return f"kept the {n} complete entries before it" if n != 1 else "kept the complete entry before it"


def _byte_offset(text: str, pos: int) -> int:
    return len(text[:pos].encode("utf-8", "surrogatepass"))


def _recover(raw: bytes, label: str) -> tuple[list[Any], Fault | None]:
    """The entries of a HAR file orjson refused, up to the first fault."""
    utf8_fault: Fault | None = None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        text = raw[: exc.start].decode("utf-8")
        utf8_fault = Fault(label, exc.start, "bad_utf8", "invalid UTF-8, expected HAR JSON", "damage", "har")
    walker = _Walker(text)
    try:
        end = walker.document()
    except _Stop as stop:
        offset = _byte_offset(text, stop.pos)
        if utf8_fault is not None and stop.eof:
            return walker.entries, utf8_fault
        kept = _kept(len(walker.entries))
        if stop.eof:
            if walker.in_entry:  # (the offset of the entry the file ends in, as for the other formats)
                offset = _byte_offset(text, walker.entry_start)
                where = f"inside entry {len(walker.entries)} of log.entries"
            elif walker.saw_entries:
                where = "after the last complete entry, before the end of the document"
            else:
                where = "before log.entries"
            return walker.entries, Fault(
                label, offset, "truncated_tail", f"file ends {where} ({stop.message}); {kept}", "tail", "har"
            )
        return walker.entries, Fault(
            label, offset, "bad_json", f"expected HAR JSON: {stop.message}; {kept}", "damage", "har"
        )
    if utf8_fault is not None:
        return walker.entries, utf8_fault
    if end < len(text):
        return walker.entries, Fault(
            label,
            _byte_offset(text, end),
            "bad_json",
            "expected HAR JSON: extra data after the document",
            "damage",
            "har",
        )
    if not walker.saw_entries:
        return walker.entries, Fault(label, 0, "no_entries", _NO_ENTRIES, "damage", "har")
    return walker.entries, None


def _load(path: str) -> tuple[Any, bytes | None]:
    """(document, None) when orjson parses the file, read through a memory map (no copy of the
    file in memory); else (None, the file's bytes without a BOM) for the value-by-value walk."""
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            return None, b""
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            start = 3 if mm[:3] == codecs.BOM_UTF8 else 0
            with memoryview(mm) as whole, whole[start:] as view:
                try:
                    doc = orjson.loads(view)
                except orjson.JSONDecodeError:
                    doc = _FAILED
            if doc is not _FAILED:
                return doc, None
            return None, mm[start:]


_FAILED = object()
_CREATOR_RE = re.compile(rb'"creator"\s*:\s*\{[^{}]*?"name"\s*:\s*"([^"\\]*)"')


def _native_exchange(index: int, item: tuple[Any, ...]) -> Exchange:
    """An `Exchange` from one entry `_native.har_entries` read (the same fields and rules as
    `exchange_from_entry` for a file mitmproxy wrote)."""
    method, url, http_version, req_headers, req_body, req_kind, req_declared, resp, started, timings = item
    flags: set[str] = set()
    req_fid: BodyFidelity = "complete"
    if req_kind == _LOSSY:
        flags.add("request_lossy_text")
        req_fid = "recovered_from_text"
    elif req_body is None and req_declared:
        req_fid = "missing"  # HAR keeps postData for POST/PUT/PATCH only
    ex = Exchange(
        index=index,
        source="har",
        method=method,
        url=url,
        request_headers=req_headers,
        request_body=req_body,
        http_version=http_version or "HTTP/1.1",
        request_body_fidelity=req_fid,
    )
    if resp is not None:
        ex.status, ex.reason, ex.response_headers, ex.response_body, kind, declared = resp
        if kind == _LOSSY:
            flags.add("lossy_text")
            ex.response_body_fidelity = "recovered_from_text"
        if ex.response_body is None:
            if declared:
                flags.add("content_missing")
                ex.fidelity = "missing"
                ex.response_body_fidelity = "missing"
            else:
                ex.response_body = b""
    else:
        ex.fidelity = "missing"
        ex.response_body_fidelity = "missing"
    ex.started_at = _ts(started)
    if ex.started_at is not None and timings is not None:
        send, wait, receive = (v / 1000.0 if v is not None and v > 0 else 0.0 for v in timings)
        ex.request_ended_at = ex.started_at + send
        if ex.status is not None:
            ex.response_started_at = ex.request_ended_at + wait
            ex.ended_at = ex.response_started_at + receive
    ex.flags = flags
    return ex


_LOSSY = 2  # body kinds of `_native.har_entries`: 0 absent, 1 exact bytes, 2 text recovered as UTF-8


def _read_native(path: str) -> list[Exchange] | None:
    """The exchanges of a HAR file mitmproxy wrote, through `_native.har_entries` (entries it
    leaves are parsed here); `None` when the whole file is for the Python reader."""
    found = _native.har_entries(path)
    if found is None:
        return None
    _, items = found
    exchanges: list[Exchange] = []
    with contextlib.ExitStack() as stack:
        whole: memoryview | None = None
        for item in items:
            if len(item) != 2:
                exchanges.append(_native_exchange(len(exchanges), item))
                continue
            if whole is None:
                fh = stack.enter_context(open(path, "rb"))
                mm = stack.enter_context(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ))
                whole = stack.enter_context(memoryview(mm))
            with whole[item[0] : item[1]] as text:
                entry = orjson.loads(text)
            if isinstance(entry, dict):
                exchanges.append(exchange_from_entry(len(exchanges), entry))
    return exchanges


def read_har_faults(
    path: str | os.PathLike[str], *, name: str | None = None
) -> tuple[list[Exchange], list[Fault]]:
    """The exchanges of a HAR file and the fault that stopped reading it, if any (the complete
    entries before it are kept). Raises `HarFormatError` when no entry can be used.

    A file mitmproxy wrote is parsed natively (`_native.har_entries`); any other, and any file
    that does not parse, is read here."""
    shown = os.fspath(path)
    label = name or shown
    fast = _read_native(shown)
    if fast is not None:
        return fast, []
    doc, raw = _load(shown)
    faults: list[Fault] = []
    creator = ""
    if raw is None:
        log = doc.get("log") if isinstance(doc, dict) else None
        entries = log.get("entries") if isinstance(log, dict) else None
        if isinstance(log, dict) and isinstance(log.get("creator"), dict):
            creator = _s(log["creator"].get("name"))
        if not isinstance(entries, list):
            raise make_error(HarFormatError, label, 0, "no_entries", _NO_ENTRIES)
    else:
        found = _CREATOR_RE.search(bytes(raw[:65536]))
        creator = found.group(1).decode("utf-8", "replace") if found else ""
        entries, fault = _recover(raw, label)
        scrub_surrogates(entries)
        if fault is not None:
            if not any(isinstance(e, dict) for e in entries):
                kind = "truncated" if fault.severity == "tail" else fault.kind
                message = fault.message.split("; kept ", 1)[0]
                raise make_error(HarFormatError, label, fault.offset, kind, message)
            faults.append(fault)
    # mitmproxy writes its name as the creator and text bodies latin-1-decoded where it inferred
    # no charset; every other exporter (Chrome's WebInspector, Firefox) writes the decoded Unicode.
    browser = bool(creator) and not creator.lower().startswith("mitmproxy")
    # Each entry is dropped once converted: a HAR holding a 100 MB body is held about twice
    # (text, bytes), not three times.
    raw = None
    doc = log = None
    entries.reverse()
    exchanges: list[Exchange] = []
    while entries:
        entry = entries.pop()
        if isinstance(entry, dict):
            exchanges.append(exchange_from_entry(len(exchanges), entry, browser=browser))
    return exchanges, faults


def read_har(path: str | os.PathLike[str]) -> list[Exchange]:
    """Read a HAR file; a fault after complete entries raises `HarFormatError` with them as `.exchanges`."""
    exchanges, faults = read_har_faults(path)
    if faults:
        err = faults[0].error()
        err.exchanges = exchanges  # type: ignore[attr-defined]
        raise err
    return exchanges
