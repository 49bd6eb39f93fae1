"""CBOR V2 captures as `Exchange`s: one per request key (docs/specs/cbor-v2.md §5 legs).

A request is the P->B entry (reconstructed HTTP/1.1 text) when the capture has one, else the
C->P body. The response is the non-stream B->P entry (status line + headers + body) or the
stream's chunks in `ci` order with their arrival times. fastcap's own captures also put the
response header block of a stream on its start marker (extra meta key `hdrs`).

CBOR V2 has no place for HTTP trailers; fastcap keeps them as another extension key, `trl` (a
header block like `hdrs`): on the P->B request entry, on the non-stream response entry, and on a
stream's end marker (trailers follow the last chunk). Other readers ignore unknown keys.
"""

from __future__ import annotations

import os
from typing import Any

import orjson
import polars as pl

from fastcap.formats._errors import Fault, Severity
from fastcap.formats.capture_file import read_capture
from fastcap.formats.cbor_requests import (
    BACKEND_TO_PROXY,
    CLIENT_TO_PROXY,
    PROXY_TO_BACKEND,
    request_table,
    response_bodies,
    with_request_keys,
)
from fastcap.formats.content import decode_content as _decode
from fastcap.formats.content import limit_message
from fastcap.formats.limits import InflateBudget
from fastcap.model import BODY_FIDELITIES, BodyFidelity, Chunk, Exchange, WsMessage


def parse_http_head(text: bytes) -> tuple[str, list[tuple[str, str]], bytes]:
    """Split `<start line>\\r\\n<headers>\\r\\n\\r\\n<body>` into (start line, headers, body)."""
    head, sep, body = text.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = text.partition(b"\n\n")
    lines = head.decode("latin-1").splitlines()
    start = lines[0] if lines else ""
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers.append((name.strip(), value.strip()))
    return start, headers, body


def parse_header_block(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for line in text.splitlines():
        name, colon, value = line.partition(":")
        if colon:
            out.append((name.strip(), value.strip()))
    return out


def decode_content(body: bytes, encoding: str | None) -> tuple[bytes, str | None]:
    """Undo Content-Encoding without a size limit (callers holding untrusted files pass an
    `InflateBudget` to `formats.content.decode_content` instead). Returns (body, problem); the raw
    body is kept when decoding fails."""
    decoded = _decode(body, encoding)
    return decoded.body, decoded.problem


def _extra(row: dict[str, Any], key: str) -> Any:
    raw = row.get("meta_extra")
    if not raw:
        return None
    return orjson.loads(raw).get(key)


def _trailers(row: dict[str, Any] | None) -> list[tuple[str, str]]:
    block = _extra(row, "trl") if row is not None else None
    return parse_header_block(block) if isinstance(block, str) else []


def _fidelity(rows: list[dict[str, Any] | None], found: BodyFidelity) -> BodyFidelity:
    """A body's fidelity from the entries that frame it: fastcap's extension key `fid` (written by
    `fastcap convert` for a body that came from a weaker source), or `trunc` (the capture addon cut
    the body at `fastcap_max_body`), else what the reader found."""
    for row in rows:
        if row is None:
            continue
        declared = _extra(row, "fid")
        if isinstance(declared, str) and declared in BODY_FIDELITIES:
            return declared  # type: ignore[return-value]
        if _extra(row, "trunc") is not None:
            return "truncated"
    return found


def _defining_entries(keyed: pl.DataFrame) -> pl.DataFrame:
    """The entries `exchanges_from_entries` reads, in file order: WebSocket frames, and per
    (request key, direction) the first stream-start marker, the first stream-end marker and the
    first entry with data (any entry for the request directions). The rest are stream chunks,
    whose bytes reach the exchanges through `response_bodies`."""

    def col(name: str) -> pl.Expr:
        return pl.col(name) if name in keyed.columns else pl.lit(None)

    d = pl.col("dir")
    frame = (col("transport") == "websocket").fill_null(False) & (col("protocol_event") == "frame").fill_null(
        False
    )
    backend = d == BACKEND_TO_PROXY
    kinds = {
        "start": ~frame & backend & col("is_stream_start").fill_null(False),
        "end": ~frame & backend & col("is_stream_end").fill_null(False),
        "first": ~frame
        & ((pl.col("data_len").fill_null(0) > 0) | d.is_in([CLIENT_TO_PROXY, PROXY_TO_BACKEND])),
    }
    position = pl.int_range(pl.len(), dtype=pl.UInt32)
    indexed = keyed.with_columns(_pos=position)
    picked = [indexed.filter(frame).select("_pos")]
    for cond in kinds.values():
        picked.append(
            indexed.filter(cond).unique(["req_key", "dir"], keep="first", maintain_order=True).select("_pos")
        )
    rows = pl.concat(picked).unique().sort("_pos")
    return indexed.join(rows, on="_pos", how="semi", maintain_order="left").drop("_pos")


def exchanges_from_entries(
    entries: pl.DataFrame,
    *,
    source_path: str | None = None,
    budget: InflateBudget | None = None,
    faults: list[Fault] | None = None,
) -> list[Exchange]:
    """The capture's exchanges. A response body whose content-encoding inflates past `budget`
    (default: the limits of `formats/limits.py` for a file of the entries' size) is not kept
    (fidelity `missing`, flag `inflate_limit`), and a `note` fault is added to `faults`."""
    if entries.height == 0:
        return []
    if budget is None:
        budget = InflateBudget.for_file(int(entries.get_column("data_len").fill_null(0).sum() or 0))
    label = source_path or "capture"

    def inflate(ex: Exchange, body: bytes, at: dict[str, Any] | None) -> bytes | None:
        enc = ex.header("content-encoding", response=True)
        decoded = _decode(body, enc, budget)
        if decoded.problem:
            ex.flags.add("content_encoding_error")
        elif decoded.over_limit:
            ex.flags.add("inflate_limit")
            ex.fidelity = "missing"
            if faults is not None:
                offset = int(at["offset"]) if at is not None and at.get("offset") is not None else 0
                what = f"the response body of exchange {ex.index} ({ex.method} {ex.url[:80]})"
                faults.append(
                    Fault(
                        label,
                        offset,
                        "inflate_limit",
                        limit_message(what, str(enc), len(body), decoded),
                        "note",
                        "cbor",
                    )
                )
            return None
        return decoded.body

    keyed = with_request_keys(entries)
    requests = request_table(entries)
    bodies = response_bodies(entries)
    # The entries that define each exchange's request and response framing.
    firsts: dict[tuple[str, int], dict[str, Any]] = {}
    ws_frames: dict[str, list[WsMessage]] = {}
    markers: dict[str, dict[str, Any]] = {}
    ends: dict[str, dict[str, Any]] = {}
    # Only a few entries per exchange define it (most are stream chunks): pick them in Polars
    # and turn only those into Python rows (iterating every entry was a third of `fastcap
    # report`'s reading time).
    for row in _defining_entries(keyed).iter_rows(named=True):
        key, d = row["req_key"], row["dir"]
        if row.get("transport") == "websocket" and row.get("protocol_event") == "frame":
            ws_frames.setdefault(key, []).append(
                WsMessage(
                    from_client=d in (CLIENT_TO_PROXY, PROXY_TO_BACKEND),
                    is_text=row.get("websocket_message_type") != "binary",
                    data=row["data"] or b"",
                    t=row["ts"],
                )
            )
            continue
        if d == BACKEND_TO_PROXY and row.get("is_stream_start"):
            markers.setdefault(key, row)
        if d == BACKEND_TO_PROXY and row.get("is_stream_end"):
            ends.setdefault(key, row)
        if (row["data_len"] or 0) > 0 or d in (CLIENT_TO_PROXY, PROXY_TO_BACKEND):
            firsts.setdefault((key, d), row)

    out: list[Exchange] = []
    for req in requests.iter_rows(named=True):
        key = req["req_key"]
        pb = firsts.get((key, PROXY_TO_BACKEND))
        cp = firsts.get((key, CLIENT_TO_PROXY))
        method = req["http_method"] or "POST"
        url = req["url"] or ""
        req_headers: list[tuple[str, str]] = []
        req_body: bytes | None = None
        request_coding_error = False
        if pb is not None and pb.get("transport") != "websocket":
            start, req_headers, req_body = parse_http_head(pb["data"] or b"")
            # A request body sent compressed (Codex compresses with zstd over HTTP), undone within
            # the file's budget like response bodies.
            req_enc = next((v for k, v in req_headers if k.lower() == "content-encoding"), None)
            if req_enc and req_body:
                decoded_req = _decode(req_body, req_enc, budget)
                request_coding_error = decoded_req.problem is not None or decoded_req.over_limit
                if not request_coding_error:
                    req_body = decoded_req.body
            parts = start.split(" ")
            if len(parts) >= 2:
                method = parts[0]
                if not url:
                    host = next((v for k, v in req_headers if k.lower() == "host"), "")
                    url = f"https://{host}{parts[1]}" if host else parts[1]
        elif cp is not None:
            req_body = cp["data"]
            if cp.get("user_agent"):
                req_headers.append(("user-agent", cp["user_agent"]))
        ex = Exchange(
            index=len(out),
            source="cbor",
            method=method,
            url=url,
            request_headers=req_headers,
            request_body=req_body,
            status=req["status"],
            started_at=req["request_ts"],
            request_ended_at=req["request_ts"],
            request_id=req["request_id"],
            session_id=req["a_session_id"],
            backend=req["backend"],
            model=req["model"],
        )
        if request_coding_error:
            ex.flags.add("request_content_encoding_error")
        # The P->B entry holds the request as forwarded, else the C->P body; neither: not captured.
        framing = pb if pb is not None and pb.get("transport") != "websocket" else cp
        ex.request_body_fidelity = _fidelity([framing], "complete" if framing is not None else "missing")
        ex.request_trailers = _trailers(framing)
        chunks = bodies.get(key, [])
        marker = markers.get(key)
        if key in ws_frames:
            ex.websocket = ws_frames[key]
            ex.status = ex.status or 101
        if marker is not None:
            # Streamed response: headers from the start marker, body = the chunks in order.
            ex.reason = marker.get("http_reason_phrase") or ""
            ex.http_version = marker.get("http_version") or ex.http_version
            hdrs = _extra(marker, "hdrs")
            if isinstance(hdrs, str):
                ex.response_headers = parse_header_block(hdrs)
            ex.response_started_at = marker["ts"]
            if marker.get("request_timestamp") is not None:
                # `rts`: when the proxy forwarded the request; the capture's TTFB is measured from it.
                ex.request_ended_at = marker["request_timestamp"]
            ex.chunks = [Chunk(t=t, data=data) for t, data in chunks]
            raw = b"".join(c.data for c in ex.chunks)
            ex.response_body = inflate(ex, raw, marker)
            ex.ended_at = req["stream_end_ts"] or req["last_payload_ts"]
            if not req["complete"]:
                ex.flags.add("cut_stream")
            # No end marker: the capture stopped (or was killed) while the stream was still running.
            ex.response_body_fidelity = _fidelity(
                [marker, ends.get(key)], "complete" if req["complete"] else "truncated"
            )
            if "inflate_limit" in ex.flags:
                ex.response_body_fidelity = "missing"
            ex.response_trailers = _trailers(ends.get(key))
        elif chunks and ex.websocket is None:
            # Non-stream response: one entry holding the HTTP framing and body (or, on gateway
            # captures without framing, just the body).
            t, data = chunks[0]
            if data.startswith(b"HTTP/"):
                start, ex.response_headers, body = parse_http_head(data)
                parts = start.split(" ", 2)
                ex.http_version = parts[0]
                ex.reason = parts[2] if len(parts) > 2 else ""
                ex.response_body = inflate(ex, body, firsts.get((key, BACKEND_TO_PROXY)))
            else:
                ex.response_body = b"".join(d for _, d in chunks)
            ex.response_started_at = t
            ex.ended_at = t
            ex.response_body_fidelity = _fidelity(
                [firsts.get((key, BACKEND_TO_PROXY))],
                "missing" if "inflate_limit" in ex.flags else "complete",
            )
            ex.response_trailers = _trailers(firsts.get((key, BACKEND_TO_PROXY)))
        elif ex.websocket is None:
            ex.fidelity = "missing"
            ex.response_body_fidelity = "missing"
            ex.flags.add("no_response")
        if req["eos_termination"] == "error":
            ex.error = req["eos_reason"] or req["eos_error_class"] or "stream ended with an error"
        if req["orphan"]:
            ex.flags.add("orphan_response")
        out.append(ex)
    return out


# How each diagnostic of the native reader counts under the exit-code rule (docs/specs/errors.md).
_SEVERITY: dict[str, Severity] = {
    "truncated_tail": "tail",
    "decode_error": "damage",
    "resync_skip": "damage",
    "schema_error": "damage",
    "unknown_encoding": "note",
    "decompress_error": "note",
    "inflate_limit": "note",
}


def cbor_fault(label: str, diag: dict[str, Any]) -> Fault | None:
    """The fault a native reader diagnostic stands for (None for `duplicate_key`, which is only
    informational: the later value wins, as in the reference reader)."""
    kind = str(diag.get("kind", ""))
    if kind == "duplicate_key":
        return None
    severity = _SEVERITY.get(kind, "damage" if diag.get("fatal") else "note")
    message = str(diag.get("message", kind))
    if kind == "decode_error":
        message += "; the complete entries before it are used (--recover reads past it)"
    return Fault(label, int(diag.get("offset") or 0), kind, message, severity, "cbor")


def read_cbor_faults(
    path: str | os.PathLike[str], *, name: str | None = None, recover: bool = False
) -> tuple[list[Exchange], list[Fault]]:
    """The capture's exchanges and every fault met: the reader's diagnostics and the bodies cut at
    their inflation limit. A capture with a fault and no entry at all raises `CaptureFormatError`."""
    shown = os.fspath(path)
    label = name or shown
    result = read_capture(shown, recover=recover, errors="keep", warn=False)
    faults = [f for f in (cbor_fault(label, d) for d in result.diagnostics) if f is not None]
    if result.entries.height == 0:
        stop = next((f for f in faults if f.severity != "note"), None)
        if stop is not None:
            raise stop.error()
    budget = InflateBudget.for_file(os.path.getsize(shown))
    exchanges = exchanges_from_entries(result.entries, source_path=label, budget=budget, faults=faults)
    faults.sort(key=lambda f: f.offset)
    return exchanges, faults


def read_exchanges(path: str | os.PathLike[str], *, recover: bool = False) -> list[Exchange]:
    """Read a CBOR V2 capture as exchanges. A corrupt entry raises `CaptureFormatError` unless
    `recover=True` (then everything decodable is used)."""
    result = read_capture(path, recover=recover)
    return exchanges_from_entries(
        result.entries, source_path=os.fspath(path), budget=InflateBudget.for_file(os.path.getsize(path))
    )
