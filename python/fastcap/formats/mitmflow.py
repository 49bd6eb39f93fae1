"""mitmproxy `.mitm` flow files → `Exchange`s, through mitmproxy's own `FlowReader` (docs/specs/mitmproxy.md §4).

mitmproxy is imported lazily: it is an optional dependency (`fastcap[capture]`) and heavy to
import. The file is read record by record: each record's tnetstring length prefix is checked
against the file's size before mitmproxy reads it, so a file cut inside a record is a truncated
tail (the flows before it are kept) and a prefix claiming more bytes than the file holds never
becomes an allocation. A record mitmproxy cannot load (corrupt, nested too deeply, of an unknown
shape) is damage at its byte offset; with `recover=True` reading goes on at the next record when
the length prefix says where it starts (docs/specs/errors.md).

Bodies are content-decoded (gzip/br/zstd/deflate) by `formats/content.py` from the raw bytes,
within the file's inflation budget (`formats/limits.py`): a body that inflates past it is not kept
(fidelity `missing`, flag `inflate_limit`) and the record is reported with its offset. A body whose
decoding fails is kept raw and flagged `decode_failed`.
"""

from __future__ import annotations

import os
import re
from typing import Any

from fastcap.formats._errors import Fault
from fastcap.formats.content import decode_content, limit_message
from fastcap.formats.limits import InflateBudget
from fastcap.model import Exchange, WsMessage

_PREFIX = re.compile(rb"(\d{1,12}):")


def _text(b: bytes) -> str:
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b.decode("latin-1")


def _headers(h: Any) -> list[tuple[str, str]]:
    return [(_text(k), _text(v)) for k, v in h.fields]


def _trailers(message: Any) -> list[tuple[str, str]]:
    trailers = getattr(message, "trailers", None)  # mitmproxy Headers, or None without trailers
    return _headers(trailers) if trailers is not None else []


def _body(message: Any, flags: set[str], prefix: str, budget: InflateBudget, cut: list[str]) -> bytes | None:
    raw = message.raw_content
    if raw is None:
        flags.add(prefix + "content_missing")
        return None
    enc = message.headers.get("content-encoding")
    decoded = decode_content(raw, enc, budget)
    if decoded.problem is not None:
        flags.add(prefix + "decode_failed")
    elif decoded.over_limit:
        flags.add(prefix + "inflate_limit")
        cut.append(limit_message(f"the {prefix.rstrip('_') or 'response'} body", str(enc), len(raw), decoded))
        return None
    return decoded.body


def _exchange(index: int, flow: Any, budget: InflateBudget, cut: list[str]) -> Exchange | None:
    req = getattr(flow, "request", None)
    if req is None:  # tcp/udp/dns flows
        return None
    flags: set[str] = set()
    resp = flow.response
    ex = Exchange(
        index=index,
        source="mitm",
        method=req.method,
        url=req.url,
        request_headers=_headers(req.headers),
        request_body=_body(req, flags, "request_", budget, cut),
        request_trailers=_trailers(req),
        http_version=req.http_version,
        started_at=req.timestamp_start,
        request_ended_at=req.timestamp_end,
    )
    # A flow file holds a body's exact bytes, or null when it was streamed and not stored.
    ex.request_body_fidelity = "missing" if ex.request_body is None else "complete"
    if resp is not None:
        ex.status = resp.status_code
        ex.reason = resp.reason
        ex.response_headers = _headers(resp.headers)
        ex.response_body = _body(resp, flags, "", budget, cut)
        ex.response_trailers = _trailers(resp)
        ex.response_started_at = resp.timestamp_start
        ex.ended_at = resp.timestamp_end
        if ex.response_body is None:
            ex.fidelity = "missing"
            ex.response_body_fidelity = "missing"
    else:
        ex.fidelity = "missing"
        ex.response_body_fidelity = "missing"
    if flow.error is not None:
        ex.error = flow.error.msg
    if getattr(flow, "websocket", None) is not None:
        ex.websocket = [
            WsMessage(from_client=m.from_client, is_text=m.is_text, data=m.content, t=m.timestamp)
            for m in flow.websocket.messages
        ]
    ex.flags = flags
    return ex


def _first_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) <= 160 else text[:160] + "…"


def read_mitm_faults(
    path: str | os.PathLike[str], *, name: str | None = None, recover: bool = False
) -> tuple[list[Exchange], list[Fault]]:
    """Every flow that reads cleanly, and the faults met (see the module docstring)."""
    shown = os.fspath(path)
    label = name or shown
    try:
        from mitmproxy import io as mio
    except ImportError as exc:
        raise ImportError(
            "reading .mitm files needs mitmproxy (pip install 'fastcap[capture]' or mitmproxy>=11)"
        ) from exc
    size = os.path.getsize(shown)
    budget = InflateBudget.for_file(size)
    out: list[Exchange] = []
    faults: list[Fault] = []

    def fault(offset: int, kind: str, message: str, severity: str = "damage") -> None:
        faults.append(Fault(label, offset, kind, message, severity, "mitm"))  # type: ignore[arg-type]

    with open(shown, "rb") as fo:
        offset = 0
        while offset < size:
            fo.seek(offset)
            head = fo.read(14)
            if not head.strip(b"\x00\r\n\t "):
                break  # padding after the last record
            m = _PREFIX.match(head)
            if m is None:
                if head.isdigit() and offset + len(head) >= size:
                    fault(offset, "truncated_tail", "file ends inside a record's length prefix", "tail")
                else:
                    fault(
                        offset,
                        "bad_record",
                        "expected a tnetstring flow record (format 21): no length prefix",
                    )
                break
            end = offset + m.end() + int(m.group(1)) + 1  # prefix, payload, type byte
            if end > size:
                fault(
                    offset,
                    "truncated_tail",
                    f"file ends inside flow record {len(out)} ({size - offset} of its {end - offset} bytes); "
                    "the partial record was dropped",
                    "tail",
                )
                break
            fo.seek(offset)
            cut: list[str] = []
            try:
                flow = next(iter(mio.FlowReader(fo).stream()))
                ex = _exchange(len(out), flow, budget, cut)
            except StopIteration:
                break
            except Exception as exc:  # mitmproxy's FlowReadException, and what it lets through
                # (RecursionError, MemoryError, AttributeError, AssertionError on hostile records)
                cause = exc.__cause__ if exc.__cause__ is not None else exc
                fault(
                    offset,
                    "bad_record",
                    f"unreadable flow record {len(out)}, expected a tnetstring flow (format 21): "
                    f"{type(cause).__name__}: {_first_line(cause)}",
                )
                if not recover:
                    break
                offset = end
                continue
            for message in cut:
                fault(offset, "inflate_limit", f"flow record {len(out)}: {message}", "note")
            if ex is not None:
                out.append(ex)
            offset = end
    return out, faults


def read_mitm_partial(path: str | os.PathLike[str]) -> tuple[list[Exchange], Exception | None]:
    """Every flow that reads cleanly, plus the first fault that stopped reading (or None)."""
    exchanges, faults = read_mitm_faults(path)
    stop = next((f for f in faults if f.severity != "note"), None)
    return exchanges, (stop.error() if stop is not None else None)
