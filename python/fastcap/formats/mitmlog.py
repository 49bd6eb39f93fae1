"""mitmdump `flow_detail` text logs → `Exchange`s (docs/specs/mitmproxy.md §3, parsed in Rust).

The native parser (`fastcap._native.parse_mitmlog`) does the line scanning and returns the
flows as Arrow columns; this module only turns rows into `Exchange`s, choosing fidelity and
flags from the content type and the detected mitmproxy version (§3.11).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from fastcap import _native
from fastcap.formats._errors import Fault
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


# The table's columns this module reads, each turned into one Python list at once (far cheaper
# than a dict per row: a log of 200,000 request lines is 200,000 rows).
_COLUMNS = (
    "offset",
    "method",
    "url",
    "request_version",
    "response_version",
    "request_header_names",
    "request_header_values",
    "response_header_names",
    "response_header_values",
    "request_body",
    "request_body_bytes",
    "request_body_flags",
    "response_body",
    "response_body_bytes",
    "response_body_flags",
    "status",
    "reason",
    "size_text",
    "error",
    "detail",
    "request_trailer_names",
    "request_trailer_values",
    "response_trailer_names",
    "response_trailer_values",
)


def _columns(table: Any) -> dict[str, list[Any]]:
    import polars as pl

    df = pl.DataFrame(table)
    return {name: df.get_column(name).to_list() for name in _COLUMNS if name in df.columns}


def _zip_pairs(names: list[str] | None, values: list[str] | None) -> list[tuple[str, str]]:
    if not names:
        return []
    return list(zip(names, values or (), strict=True))


def exchanges_from_table(table: Any, info: Mapping[str, Any]) -> list[Exchange]:
    version = str(info.get("version", "12"))
    out: list[Exchange] = []
    cols = _columns(table)
    n = len(cols["method"])
    none = [None] * n
    req_trailer_names = cols.get("request_trailer_names", none)
    req_trailer_values = cols.get("request_trailer_values", none)
    resp_trailer_names = cols.get("response_trailer_names", none)
    resp_trailer_values = cols.get("response_trailer_values", none)
    for i in range(n):
        req_headers = _zip_pairs(cols["request_header_names"][i], cols["request_header_values"][i])
        resp_headers = _zip_pairs(cols["response_header_names"][i], cols["response_header_values"][i])
        req_ct = _content_type(req_headers) if req_headers else ""
        resp_ct = _content_type(resp_headers) if resp_headers else ""
        flags: set[str] = set()
        rq_flags: int = cols["request_body_flags"][i]
        rs_flags: int = cols["response_body_flags"][i]
        if rq_flags:
            _body_flags(rq_flags, req_ct, version, "request_", flags)
        if rs_flags:
            _body_flags(rs_flags, resp_ct, version, "", flags)
        status = cols["status"][i]
        size_text = cols["size_text"][i]
        if size_text is not None and not size_text.endswith("b") and size_text != "(content missing)":
            flags.add("size_approx")
        if size_text == "(content missing)":
            flags.add("content_missing")
        resp_text = cols["response_body"][i]
        req_text = cols["request_body"][i]
        if rs_flags & _MISSING:
            resp_text = None
        if rq_flags & _MISSING:
            req_text = None
        if resp_ct == "text/event-stream" and resp_text is not None:
            flags.add("terminator_unknown")
        error = cols["error"][i]
        detail = cols["detail"][i]
        if status is None and error is None:
            flags.add("incomplete")
        if detail < 3:
            flags.add("bodies_not_logged")
        fidelity: Fidelity = "text_log"
        if rs_flags & _HEXDUMP:
            fidelity = "exact"
        elif rs_flags & _MISSING or (status is not None and detail < 3):
            fidelity = "missing"
        elif resp_text is not None and _is_json_type(resp_ct) and _parses_as_json(resp_text):
            fidelity = "json_value"
        logged = detail >= 3
        req_bytes = cols["request_body_bytes"][i]
        resp_bytes = cols["response_body_bytes"][i]
        req_fid = body_fidelity(rq_flags, req_ct, version, logged=logged, text=req_text, exact=req_bytes)
        resp_fid = body_fidelity(
            rs_flags, resp_ct, version, logged=logged and status is not None, text=resp_text, exact=resp_bytes
        )
        out.append(
            Exchange(
                index=i,
                source="mitmlog",
                method=cols["method"][i],
                url=cols["url"][i],
                request_headers=req_headers,
                request_body=req_bytes,
                request_body_text=req_text,
                http_version=cols["request_version"][i] or cols["response_version"][i] or "HTTP/1.1",
                status=status,
                reason=cols["reason"][i] or "",
                response_headers=resp_headers,
                response_body=resp_bytes,
                response_body_text=resp_text,
                size_text=size_text,
                fidelity=fidelity,
                request_body_fidelity=req_fid,
                response_body_fidelity=resp_fid,
                request_trailers=_zip_pairs(req_trailer_names[i], req_trailer_values[i]),
                response_trailers=_zip_pairs(resp_trailer_names[i], resp_trailer_values[i]),
                flags=flags,
                error=error,
            )
        )
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


def _last_line_start(path: str, size: int) -> int | None:
    """Where the file's last line starts when the file does not end with a newline (else None)."""
    if size == 0:
        return None
    with open(path, "rb") as fh:
        back = min(size, 1 << 16)
        fh.seek(size - back)
        tail = fh.read(back)
    if tail.endswith(b"\n"):
        return None
    nl = tail.rfind(b"\n")
    return size - back + nl + 1 if nl >= 0 else (0 if back == size else size - back)


def read_mitmlog_faults(
    path: str | os.PathLike[str], *, name: str | None = None
) -> tuple[list[Exchange], list[Fault]]:
    """`read_mitmlog`, and a truncated-tail fault when the log ends inside a line (mitmdump wrote
    every line whole, so the file was cut or is still being written): the body being printed then
    is marked `truncated` (flag `truncated_tail`)."""
    shown = os.fspath(path)
    table, info = _native.parse_mitmlog(shown)
    exchanges = exchanges_from_table(table, info)
    start = _last_line_start(shown, os.path.getsize(shown))
    if start is None:
        return exchanges, []
    label = name or shown
    if info.get("trailing_log") or not exchanges:
        what = "a log line after the last flow"
    else:
        last = exchanges[-1]
        last.flags.add("truncated_tail")
        if last.response_body_text is not None or last.response_body is not None:
            last.response_body_fidelity = "truncated"
            what = f"the response body of flow {len(exchanges) - 1} (kept as truncated)"
        elif last.status is None and (last.request_body_text is not None or last.request_body is not None):
            last.request_body_fidelity = "truncated"
            what = f"the request body of flow {len(exchanges) - 1} (kept as truncated)"
        else:
            what = f"the text of flow {len(exchanges) - 1}"
    return exchanges, [
        Fault(
            label,
            start,
            "truncated_tail",
            f"file ends inside a line (mitmdump ends every line with a newline), cutting {what}",
            "tail",
            "mitmlog",
        )
    ]


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
