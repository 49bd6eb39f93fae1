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

Malformed lines are reported on stderr as `WARNING: skipping malformed line N: <error>` and skipped.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import sys
from typing import Any, TextIO

from fastcap.formats._errors import JsonlFormatError, make_error
from fastcap.model import BODY_FIDELITIES, BodyFidelity, Chunk, Exchange


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
    """(bytes, text, fidelity). A string without U+FFFD was valid UTF-8, so its bytes are exact."""
    if exact is not None:
        return exact, None, "complete"
    if value is None:
        return None, None, "complete"  # the format writes null for an empty body
    if isinstance(value, str):
        if "\ufffd" in value:
            flags.add(prefix + "lossy_binary")
            return None, value, "recovered_from_text"
        return value.encode("utf-8"), None, "complete"
    return None, json.dumps(value, ensure_ascii=False), "json_value"


def _declared_fidelity(ext: dict[str, Any], key: str, found: BodyFidelity) -> BodyFidelity:
    """A fidelity fastcap's writer recorded (a body converted from a weaker source) beats what the
    line itself shows: the bytes of a truncated log body look complete once written here."""
    value = ext.get(key)
    return value if isinstance(value, str) and value in BODY_FIDELITIES and value != "complete" else found


def _f(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


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
        request_body_fidelity=_declared_fidelity(ext, "request_body_fidelity", req_fid),
    )
    # `fidelity` describes the response body (as for the other readers); a request body that
    # was stored as a JSON value is flagged instead.
    if req_fid == "json_value":
        flags.add("request_json_value")
    if resp is not None:
        status = resp.get("status_code")
        ex.status = status if isinstance(status, int) and not isinstance(status, bool) else None
        ex.response_headers = _headers(resp.get("headers"))
        rb, rt, rf = _body(resp.get("body"), _b64(ext.get("response_body_b64")), flags, "")
        ex.response_body, ex.response_body_text = rb, rt
        ex.response_body_fidelity = _declared_fidelity(ext, "response_body_fidelity", rf)
        if rf == "json_value":
            ex.fidelity = "json_value"
        elif rt is not None:
            ex.fidelity = "text_log"
    else:
        ex.fidelity = "missing"
        ex.response_body_fidelity = "missing"
    ex.ended_at = _f(ext.get("ended_at")) or _f(rec.get("timestamp"))
    ex.started_at = _f(ext.get("started_at"))
    ex.request_ended_at = _f(ext.get("request_ended_at"))
    ex.response_started_at = _f(ext.get("response_started_at"))
    ex.request_trailers = _headers(ext.get("request_trailers"))
    ex.response_trailers = _headers(ext.get("response_trailers"))
    # `error`: what the transport or the capture recorded (fastcap's writer keeps it here).
    for key in ("session_id", "request_id", "backend", "model", "error"):
        if isinstance(ext.get(key), str):
            setattr(ex, key, ext[key])
    chunks = ext.get("chunks")
    if isinstance(chunks, list):
        pos = 0
        body = ex.response_body or b""
        for c in chunks:
            if isinstance(c, list | tuple) and len(c) == 2:
                t, data = _f(c[0]), _b64(c[1]) or b""
            elif isinstance(c, dict):
                t = _f(c.get("t"))
                if "data_b64" in c:
                    data = _b64(c.get("data_b64")) or b""
                elif isinstance(c.get("len"), int):
                    data = body[pos : pos + c["len"]]
                else:
                    raise _Malformed("chunk needs data_b64 or len")
            else:
                raise _Malformed("chunk must be an object or [t, data_b64]")
            pos += len(data)
            ex.chunks.append(Chunk(t=t, data=data))
    ex.flags = flags
    return ex


def read_jsonl(path: str | os.PathLike[str], *, warn: TextIO | None = None) -> list[Exchange]:
    """Read a traffic.jsonl file. Malformed lines are warned about on stderr and skipped; a file
    with no valid record at all is not traffic.jsonl and raises `JsonlFormatError`."""
    shown = os.fspath(path)
    out_warn = warn if warn is not None else sys.stderr
    exchanges: list[Exchange] = []
    first_bad: tuple[int, str] | None = None
    offset = 0
    with open(shown, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line_offset = offset
            offset += len(raw)
            if not raw.strip():
                continue
            try:
                rec = json.loads(raw)
                exchanges.append(exchange_from_record(len(exchanges), rec))
            except (ValueError, UnicodeDecodeError) as exc:
                msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                print(f"WARNING: skipping malformed line {lineno}: {msg}", file=out_warn)
                if first_bad is None:
                    first_bad = (line_offset, msg)
    if not exchanges:
        if first_bad is not None:
            raise make_error(
                JsonlFormatError,
                shown,
                first_bad[0],
                "no_records",
                f"no valid traffic.jsonl record ({first_bad[1]})",
            )
        raise make_error(JsonlFormatError, shown, 0, "empty", "empty file, expected traffic.jsonl records")
    return exchanges
