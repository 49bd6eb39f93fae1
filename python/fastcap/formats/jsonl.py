"""agent-system-dissect `traffic.jsonl` → `Exchange`s (docs/specs/reports.md §3.1).

Each line: `{"timestamp", "request": {method, url, headers, body}, "response": {status_code,
headers, body}}`. Headers are maps (duplicates already folded); bodies are JSON values when they
parsed as JSON, else text decoded as UTF-8 with replacement characters (so a string body is exact
only when it holds no U+FFFD), `null` when empty. `timestamp` is when the response completed.

fastcap's own extension lives under the top-level key `fastcap` (ignored by other readers):

| key | meaning |
|---|---|
| `started_at`, `request_ended_at`, `response_started_at`, `ended_at` | epoch seconds |
| `request_body_b64`, `response_body_b64` | exact body bytes (content-encoding removed), base64 |
| `chunks` | response chunks: `{"t": epoch s, "data_b64": …}` or `{"t": …, "len": n}` (slices of the exact body), or `[t, data_b64]` |
| `session_id`, `request_id`, `backend`, `model`, `error` | copied to the `Exchange` (`error`: a transport error the capture recorded) |
| `request_body_fidelity`, `response_body_fidelity` | how the body was known when it was converted (model.py), when not `complete` |
| `request_trailers`, `response_trailers` | HTTP trailers, `[[name, value], …]` (or an object), redacted like headers |

A malformed line is skipped and becomes a fault naming the file, its byte offset and line number
(`formats/_errors.py`): a last line cut short (no newline at the end of the file) is a truncated
tail, a malformed line anywhere else is damage (docs/specs/errors.md). Lines are parsed with
orjson; what orjson refuses and the standard library accepts (lone surrogates, integers past 64
bits, `NaN`) is parsed again with `json`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import mmap
import os
import sys
from collections.abc import Iterator
from typing import Any, TextIO

from fastcap import _native
from fastcap.formats._errors import Fault, JsonlFormatError, make_error
from fastcap.formats._json import dumps, loads
from fastcap.model import BODY_FIDELITIES, BodyFidelity, Chunk, Exchange, WsMessage

_BOM = b"\xef\xbb\xbf"


class _Malformed(ValueError):
    pass


def _headers(obj: Any) -> list[tuple[str, str]]:
    if obj is None:
        return []
    if isinstance(obj, dict):
        return [(str(k), str(v)) for k, v in obj.items()]
    if isinstance(obj, list):  # tolerate [[name, value], ...]
        return [(str(p[0]), str(p[1])) for p in obj if isinstance(p, list | tuple) and len(p) == 2]
    raise _Malformed("headers must be an object")


def _b64(v: Any) -> bytes | None:
    if not isinstance(v, str):
        return None
    try:
        return base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _Malformed(f"bad base64 in fastcap extension: {exc}") from None


def _body(
    value: Any, exact: bytes | None, flags: set[str], prefix: str
) -> tuple[bytes | None, str | None, BodyFidelity]:
    """(bytes, text, fidelity). A string without U+FFFD was valid UTF-8, so its bytes are exact; a
    JSON value is held as its compact JSON bytes (fidelity `json_value`: the value, not the bytes
    that were sent)."""
    if exact is not None:
        return exact, None, "complete"
    if value is None:
        return None, None, "complete"  # the format writes null for an empty body
    if isinstance(value, str):
        if "\ufffd" in value:
            flags.add(prefix + "lossy_binary")
            return None, value, "recovered_from_text"
        return value.encode("utf-8"), None, "complete"
    return dumps(value), None, "json_value"


def _ws_message(m: Any) -> WsMessage | None:
    """One WebSocket message as the capture addon writes it into traffic.jsonl's extension."""
    if not isinstance(m, dict):
        return None
    is_text = m.get("type") != "binary"
    if is_text:
        data = str(m.get("text") or "").encode("utf-8", "surrogateescape")
    else:
        raw = _b64(m.get("data_b64"))
        data = raw or b""
    return WsMessage(bool(m.get("from_client")), is_text, data, _f(m.get("t")))


def _declared_fidelity(ext: dict[str, Any], key: str, found: BodyFidelity) -> BodyFidelity:
    """A fidelity fastcap's writer recorded (a body converted from a weaker source) beats what the
    line itself shows: the bytes of a truncated log body look complete once written here."""
    value = ext.get(key)
    return value if isinstance(value, str) and value in BODY_FIDELITIES and value != "complete" else found  # type: ignore[return-value]


def _f(v: Any) -> float | None:
    return float(v) if v.__class__ is float or v.__class__ is int else None


def _chunks(chunks: list[Any], body: bytes) -> list[Chunk]:
    out: list[Chunk] = []
    pos = 0
    for c in chunks:
        if c.__class__ is dict:
            t = c.get("t")
            n = c.get("len")
            if n.__class__ is int and n >= 0:
                data = body[pos : pos + n]
            elif "data_b64" in c:
                data = _b64(c.get("data_b64")) or b""
            else:
                raise _Malformed("chunk needs data_b64 or len")
        elif isinstance(c, list | tuple) and len(c) == 2:
            t, data = c[0], _b64(c[1]) or b""
        else:
            raise _Malformed("chunk must be an object or [t, data_b64]")
        pos += len(data)
        out.append(Chunk(t=float(t) if t.__class__ is float or t.__class__ is int else None, data=data))
    return out


def exchange_from_record(index: int, rec: Any) -> Exchange:
    if not isinstance(rec, dict):
        raise _Malformed(f"expected a JSON object, got {type(rec).__name__}")
    req = rec.get("request")
    if (
        not isinstance(req, dict)
        or not isinstance(req.get("method"), str)
        or not isinstance(req.get("url"), str)
    ):
        raise _Malformed('expected "request" with "method" and "url"')
    resp = rec.get("response")
    if resp is not None and not isinstance(resp, dict):
        raise _Malformed('"response" must be an object or null')
    ext = rec.get("fastcap")
    ext = ext if isinstance(ext, dict) else {}
    flags: set[str] = set()
    req_bytes, req_text, req_fid = _body(
        req.get("body"), _b64(ext.get("request_body_b64")), flags, "request_"
    )
    ex = Exchange(
        index=index,
        source="jsonl",
        method=req["method"],
        url=req["url"],
        request_headers=_headers(req.get("headers")),
        request_body=req_bytes,
        request_body_text=req_text,
        request_body_fidelity=_declared_fidelity(ext, "request_body_fidelity", req_fid) if ext else req_fid,
    )
    # `fidelity` describes the response body (as for the other readers); a request body that
    # was stored as a JSON value is flagged instead.
    if req_fid == "json_value":
        flags.add("request_json_value")
    if resp is not None:
        status = resp.get("status_code")
        ex.status = status if status.__class__ is int else None
        ex.response_headers = _headers(resp.get("headers"))
        rb, rt, rf = _body(resp.get("body"), _b64(ext.get("response_body_b64")), flags, "")
        ex.response_body, ex.response_body_text = rb, rt
        ex.response_body_fidelity = _declared_fidelity(ext, "response_body_fidelity", rf) if ext else rf
        if rf == "json_value":
            ex.fidelity = "json_value"
        elif rt is not None:
            ex.fidelity = "text_log"
    else:
        ex.fidelity = "missing"
        ex.response_body_fidelity = "missing"
    ex.ended_at = _f(rec.get("timestamp"))
    if ext:
        ex.ended_at = _f(ext.get("ended_at")) or ex.ended_at
        ex.started_at = _f(ext.get("started_at"))
        ex.request_ended_at = _f(ext.get("request_ended_at"))
        ex.response_started_at = _f(ext.get("response_started_at"))
        if "request_trailers" in ext:
            ex.request_trailers = _headers(ext["request_trailers"])
        if "response_trailers" in ext:
            ex.response_trailers = _headers(ext["response_trailers"])
        # `error`: what the transport or the capture recorded (fastcap's writer keeps it here).
        for key in ("session_id", "request_id", "backend", "model", "error"):
            value = ext.get(key)
            if isinstance(value, str):
                setattr(ex, key, value)
        chunks = ext.get("chunks")
        if isinstance(chunks, list):
            ex.chunks = _chunks(chunks, ex.response_body or b"")
        messages = ext.get("websocket")
        if isinstance(messages, list):
            ex.websocket = [m for m in map(_ws_message, messages) if m is not None]
    ex.flags = flags
    return ex


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "…"


def _bad_line(label: str, offset: int, lineno: int, exc: BaseException, *, tail: bool) -> Fault:
    what = "cut short by the end of the file" if tail else "malformed"
    return Fault(
        label,
        offset,
        "truncated_tail" if tail else "bad_line",
        f"line {lineno} {what}, expected a traffic.jsonl record; skipped it ({_reason(exc)})",
        "tail" if tail else "damage",
        "jsonl",
    )


def _native_exchange(index: int, item: tuple[Any, ...]) -> Exchange:
    """An `Exchange` from one record `_native.jsonl_records` read (the same fields and rules as
    `exchange_from_record`, which reads the lines it leaves to Python)."""
    _, _, method, url, req_headers, req_raw, req_kind, resp, timestamp, ext = item
    flags: set[str] = set()
    req_body = _native_body(req_raw, req_kind)
    req_fid: BodyFidelity = "json_value" if req_kind >= _JSON else "complete"
    if req_fid == "json_value":
        flags.add("request_json_value")
    ex = Exchange(
        index=index,
        source="jsonl",
        method=method,
        url=url,
        request_headers=req_headers,
        request_body=req_body,
        request_body_fidelity=_declared(ext[9], req_fid) if ext is not None else req_fid,
    )
    if resp is not None:
        status, ex.response_headers, resp_raw, resp_kind = resp
        ex.status = status
        ex.response_body = _native_body(resp_raw, resp_kind)
        resp_fid: BodyFidelity = "json_value" if resp_kind >= _JSON else "complete"
        ex.response_body_fidelity = _declared(ext[10], resp_fid) if ext is not None else resp_fid
        if resp_fid == "json_value":
            ex.fidelity = "json_value"
    else:
        ex.fidelity = "missing"
        ex.response_body_fidelity = "missing"
    ex.ended_at = timestamp
    if ext is not None:
        started, request_ended, response_started, ended = ext[:4]
        ex.ended_at = ended or ex.ended_at
        ex.started_at, ex.request_ended_at, ex.response_started_at = started, request_ended, response_started
        ex.session_id, ex.request_id, ex.backend, ex.model, ex.error = ext[4:9]
        if ext[11] is not None:
            ex.chunks = list(map(Chunk, ext[11], ext[12]))
    ex.flags = flags
    return ex


_JSON = 2  # body kinds of `_native.jsonl_records`: 0 absent, 1 text, 2 JSON as orjson writes it, 3 JSON


def _native_body(raw: bytes | None, kind: int) -> bytes | None:
    return dumps(loads(raw)) if kind == 3 and raw is not None else raw


def _declared(value: str | None, found: BodyFidelity) -> BodyFidelity:
    return value if value in BODY_FIDELITIES and value != "complete" else found  # type: ignore[return-value]


def read_jsonl_faults(
    path: str | os.PathLike[str], *, name: str | None = None
) -> tuple[list[Exchange], list[Fault]]:
    """Every record of a traffic.jsonl file, and the faults met: a malformed line is skipped and
    reported (a last line without its newline as a truncated tail, any other as damage). Raises
    `JsonlFormatError` when the file holds no record at all.

    The lines are parsed natively (`_native.jsonl_records`); the few it leaves (faults, base64
    bodies and chunks, WebSocket messages, trailers, lossy text) are read here, line by line."""
    shown = os.fspath(path)
    label = name or shown
    exchanges: list[Exchange] = []
    faults: list[Fault] = []
    items = _native.jsonl_records(shown)
    items.reverse()  # popped in file order, each dropped once converted
    with contextlib.ExitStack() as stack:
        whole: memoryview | None = None
        while items:
            item = items.pop()
            if len(item) != 4:
                exchanges.append(_native_exchange(len(exchanges), item))
                continue
            if whole is None:
                whole = stack.enter_context(_mapped(shown))
            lineno, line_offset, start, end = item
            with whole[start:end] as raw:
                _read_line(raw, lineno, line_offset, label, exchanges, faults)
    if not exchanges:
        if faults:
            first = faults[0]
            raise make_error(
                JsonlFormatError,
                label,
                first.offset,
                "no_records",
                f"no valid traffic.jsonl record ({first.message})",
            )
        raise make_error(JsonlFormatError, label, 0, "empty", "empty file, expected traffic.jsonl records")
    return exchanges, faults


@contextlib.contextmanager
def _mapped(path: str) -> Iterator[memoryview]:
    with (
        open(path, "rb") as fh,
        mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm,
        memoryview(mm) as whole,
    ):
        yield whole


def _read_line(
    raw: memoryview, lineno: int, line_offset: int, label: str, exchanges: list[Exchange], faults: list[Fault]
) -> None:
    cut = raw[-1:] != b"\n"
    try:
        rec = loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        # A last line without its newline that does not parse: the file was cut inside it.
        faults.append(_bad_line(label, line_offset, lineno, exc, tail=cut))
        return
    try:
        exchanges.append(exchange_from_record(len(exchanges), rec))
    except ValueError as exc:
        faults.append(_bad_line(label, line_offset, lineno, exc, tail=False))


def read_jsonl(path: str | os.PathLike[str], *, warn: TextIO | None = None) -> list[Exchange]:
    """Read a traffic.jsonl file. Malformed lines are skipped with a warning on `warn` (stderr);
    a file with no valid record at all is not traffic.jsonl and raises `JsonlFormatError`."""
    exchanges, faults = read_jsonl_faults(path)
    for fault in faults:
        print(f"WARNING: {fault}", file=warn if warn is not None else sys.stderr)
    return exchanges
