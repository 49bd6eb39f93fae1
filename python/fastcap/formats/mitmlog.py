"""mitmdump `flow_detail` text logs → `Exchange`s (docs/specs/mitmproxy.md §3, parsed in Rust).

The native parser (`fastcap._native.parse_mitmlog`) does the line scanning and returns the
flows as Arrow columns; this module only turns rows into `Exchange`s, choosing fidelity and
flags from the content type and the detected mitmproxy version (§3.11).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

from fastcap import _native
from fastcap.model import BodyFidelity, Exchange, Fidelity, WsMessage

_F = _native.MITMLOG_BODY_FLAGS
_CUT_OFF = _F["cut_off"]
_MISSING = _F["missing_11"] | _F["missing_12"]
_HEXDUMP = _F["hexdump"]
_LOSSY_MARKS = _F["has_escape"] | _F["has_replacement"]
_CRLF = _F["crlf"]

# Content types the raw view prints as text that stands for binary bytes (docs/specs/mitmproxy.md §3.6).
_BINARY_TYPES = ("application/vnd.amazon.eventstream", "application/octet-stream")


def _is_json_type(ct: str) -> bool:
    return ct in ("application/json", "application/json-rpc") or (
        ct.startswith("application/") and ct.endswith("json")
    )


def body_view(content_type: str, flags: int) -> str:
    """The mitmproxy content view that rendered a body: json, form, raw, hexdump or other."""
    if flags & _HEXDUMP:
        return "hexdump"
    if _is_json_type(content_type):
        return "json"
    if content_type == "application/x-www-form-urlencoded":
        return "form"
    if (
        not content_type
        or content_type.startswith("text/")
        or content_type in _BINARY_TYPES
        or content_type.startswith("application/x-amz-json")
    ):
        return "raw"
    return "other"


def _content_type(headers: list[tuple[str, str]]) -> str:
    for k, v in headers:
        if k.lower() == "content-type":
            return v.split(";")[0].strip().lower()
    return ""


def _body_flags(flags: int, ct: str, version: str, prefix: str, out: set[str]) -> None:
    if flags & _CUT_OFF:
        # 11.x really drops everything after 512 lines; 12.x prints it all plus the marker.
        out.add(prefix + ("truncated" if version == "11" or flags & _CRLF else "cut_off_marker"))
    if flags & _MISSING:
        out.add(prefix + "content_missing")
    raw_view = not flags & (_HEXDUMP | _MISSING) and body_view(ct, flags) == "raw"
    if raw_view and (flags & _LOSSY_MARKS or ct in _BINARY_TYPES):
        out.add(prefix + "lossy_binary")


def _parses_as_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def body_fidelity(
    flags: int, ct: str, version: str, *, logged: bool, text: str | None, exact: bytes | None
) -> BodyFidelity:
    """What one body of the log is (model.py's table), from the parser's flags and the view that
    printed it. `logged`: flow_detail ≥ 3 and the message exists (else the body never was)."""
    if not logged or flags & _MISSING:
        return "missing"
    if flags & _CUT_OFF and (version == "11" or flags & _CRLF):
        return "truncated"  # 11.x printed only the first 512 lines (12.x prints all, then the marker)
    if flags & _HEXDUMP and exact is not None:
        return "decoded_from_hex"
    if text is None or text == "":
        return "complete"  # an empty body prints no lines
    view = body_view(ct, flags)
    if view == "raw" and (flags & _LOSSY_MARKS or ct in _BINARY_TYPES):
        return "recovered_from_text"
    if view == "json" and _parses_as_json(text):
        return "json_value"
    return "from_text_log"


def _rows(table: Any) -> Iterable[Mapping[str, Any]]:
    import polars as pl

    return pl.DataFrame(table).iter_rows(named=True)


def _pairs(row: Mapping[str, Any], names: str, values: str) -> list[tuple[str, str]]:
    return list(zip(row.get(names) or [], row.get(values) or [], strict=True))


def exchanges_from_table(table: Any, info: Mapping[str, Any]) -> list[Exchange]:
    version = str(info.get("version", "12"))
    out: list[Exchange] = []
    for i, row in enumerate(_rows(table)):
        req_headers = list(zip(row["request_header_names"], row["request_header_values"], strict=True))
        resp_headers = list(zip(row["response_header_names"], row["response_header_values"], strict=True))
        req_ct = _content_type(req_headers)
        resp_ct = _content_type(resp_headers)
        flags: set[str] = set()
        rq_flags: int = row["request_body_flags"]
        rs_flags: int = row["response_body_flags"]
        _body_flags(rq_flags, req_ct, version, "request_", flags)
        _body_flags(rs_flags, resp_ct, version, "", flags)
        status = row["status"]
        size_text = row["size_text"]
        if size_text is not None and not size_text.endswith("b") and size_text != "(content missing)":
            flags.add("size_approx")
        if size_text == "(content missing)":
            flags.add("content_missing")
        resp_text = row["response_body"]
        req_text = row["request_body"]
        if rs_flags & _MISSING:
            resp_text = None
        if rq_flags & _MISSING:
            req_text = None
        if resp_ct == "text/event-stream" and resp_text is not None:
            flags.add("terminator_unknown")
        if status is None and row["error"] is None:
            flags.add("incomplete")
        if row["detail"] < 3:
            flags.add("bodies_not_logged")
        # Trailers (a `--- HTTP Trailers` block after the body), as the native parser kept them.
        req_trailers = _pairs(row, "request_trailer_names", "request_trailer_values")
        resp_trailers = _pairs(row, "response_trailer_names", "response_trailer_values")
        fidelity: Fidelity = "text_log"
        if rs_flags & _HEXDUMP:
            fidelity = "exact"
        elif rs_flags & _MISSING or (status is not None and row["detail"] < 3):
            fidelity = "missing"
        elif resp_text is not None and _is_json_type(resp_ct):
            try:
                json.loads(resp_text)
            except ValueError:
                pass
            else:
                fidelity = "json_value"
        logged = row["detail"] >= 3
        req_fid = body_fidelity(
            rq_flags, req_ct, version, logged=logged, text=req_text, exact=row["request_body_bytes"]
        )
        resp_fid = body_fidelity(
            rs_flags,
            resp_ct,
            version,
            logged=logged and status is not None,
            text=resp_text,
            exact=row["response_body_bytes"],
        )
        ex = Exchange(
            index=i,
            source="mitmlog",
            method=row["method"],
            url=row["url"],
            request_headers=req_headers,
            request_body=row["request_body_bytes"],
            request_body_text=req_text,
            http_version=row["request_version"] or row["response_version"] or "HTTP/1.1",
            status=status,
            reason=row["reason"] or "",
            response_headers=resp_headers,
            response_body=row["response_body_bytes"],
            response_body_text=resp_text,
            size_text=size_text,
            fidelity=fidelity,
            request_body_fidelity=req_fid,
            response_body_fidelity=resp_fid,
            request_trailers=req_trailers,
            response_trailers=resp_trailers,
            flags=flags,
            error=row["error"],
        )
        out.append(ex)
    for msg in info.get("messages", []):
        idx = msg.get("flow_index")
        if idx is None or idx >= len(out) or str(msg.get("kind", "")) not in ("text", "binary"):
            continue
        ex = out[idx]
        if ex.websocket is None:
            ex.websocket = []
        data = msg.get("bytes")
        if data is None:
            data = (msg.get("text") or "").encode("utf-8")
            if msg.get("kind") == "binary":
                ex.flags.add("websocket_lossy")
        ex.websocket.append(
            WsMessage(from_client=bool(msg["from_client"]), is_text=msg["kind"] == "text", data=data, t=None)
        )
    return out


def read_mitmlog(path: str | os.PathLike[str]) -> list[Exchange]:
    """Read a mitmdump console log (any `flow_detail` ≥ 1; bodies need ≥ 3)."""
    table, info = _native.parse_mitmlog(os.fspath(path))
    return exchanges_from_table(table, info)


def read_mitmlog_text(text: str | bytes) -> list[Exchange]:
    """Same as `read_mitmlog` for a log held in memory."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    table, info = _native.parse_mitmlog_bytes(data)
    return exchanges_from_table(table, info)


def log_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Log-level facts: detected version (and evidence), termlog lines after the last flow,
    skipped lines, WebSocket/TCP message lines."""
    _, info = _native.parse_mitmlog(os.fspath(path))
    return info
