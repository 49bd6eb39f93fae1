"""Writing `Exchange`s out: CBOR V2 (the legs fastcap's addon records), traffic.jsonl
(docs/specs/reports.md §3.1 with the `fastcap` extension the JSONL reader documents) and Parquet.

Redaction is on by default and goes through `fastcap.secrets.redact`, like every file fastcap writes; the
default is the `OUTPUT` configuration, which also scrubs secrets inside free text (prompts, assistant
text, tool arguments, URLs). A body that redaction changed loses its chunk boundaries in CBOR output
when its length changed (it is then written as one chunk at the first chunk's arrival time).
"""

from __future__ import annotations

import base64
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import polars as pl

from fastcap import _native
from fastcap.formats.traffic_jsonl import body_value, fold_headers
from fastcap.model import Exchange, WsMessage
from fastcap.secrets.redact import (
    OUTPUT,
    RedactionConfig,
    redact_body,
    redact_headers,
    redact_text,
    redact_url,
)

P2B, B2P = 2, 3


def _redacted(
    ex: Exchange, config: RedactionConfig | None
) -> tuple[str, list[tuple[str, str]], bytes, list[tuple[str, str]], bytes | None]:
    url = ex.url
    req_headers, resp_headers = list(ex.request_headers), list(ex.response_headers)
    req_body = ex.request_body if ex.request_body is not None else (ex.request_body_text or "").encode()
    # A body known only as text (mitmdump logs) is written as that text; its fidelity says so.
    resp_body = ex.response_body
    if resp_body is None and ex.response_body_text is not None:
        resp_body = ex.response_body_text.encode("utf-8")
    if config is not None:
        url = redact_url(url, config)
        req_headers = redact_headers(req_headers, config)
        resp_headers = redact_headers(resp_headers, config)
        req_body = redact_body(req_body, ex.request_content_type, config, url=ex.url)
        if resp_body is not None:
            resp_body = redact_body(resp_body, ex.content_type, config, url=ex.url)
    return url, req_headers, req_body, resp_headers, resp_body


def _redacted_text(text: str | None, config: RedactionConfig | None) -> str | None:
    """A body known only as text (mitmdump logs): its secrets by shape, as in every other output."""
    return redact_text(text, config) if text is not None and config is not None else text


def _trl(trailers: list[tuple[str, str]], config: RedactionConfig | None) -> dict[str, str]:
    """fastcap's CBOR extension key for HTTP trailers (V2 has no field for them), redacted like headers."""
    if not trailers:
        return {}
    return {"trl": _head(redact_headers(trailers, config) if config is not None else trailers)}


def _trailer_pairs(trailers: list[tuple[str, str]], config: RedactionConfig | None) -> list[list[str]]:
    return [[k, v] for k, v in (redact_headers(trailers, config) if config is not None else trailers)]


def _fid(fidelity: str) -> dict[str, str]:
    """fastcap's CBOR extension key for a body that is not the exact bytes (read back by the reader)."""
    return {} if fidelity == "complete" else {"fid": fidelity}


def _head(lines: Sequence[tuple[str, str]]) -> str:
    return "".join(f"{k}: {v}\r\n" for k, v in lines)


def write_cbor(
    exchanges: Sequence[Exchange],
    path: str | os.PathLike[str],
    *,
    session_id: str | None = None,
    redact: RedactionConfig | None = OUTPUT,
) -> int:
    """Write exchanges as a CBOR V2 capture; returns the number of entries written."""
    sid = session_id or Path(path).stem
    created = next((ex.started_at for ex in exchanges if ex.started_at is not None), 0.0)
    seq = 0
    with open(path, "wb") as f:
        f.write(_native.encode_capture_header(sid, created))

        def put(ts: float | None, direction: int, data: bytes, meta: dict[str, Any]) -> None:
            nonlocal seq
            f.write(
                _native.encode_capture_entry(ts if ts is not None else created, direction, seq, data, meta)
            )
            seq += 1

        def put_error_end(ex: Exchange, common: dict[str, Any]) -> None:
            """The end marker of an exchange the transport ended with an error."""
            put(
                ex.ended_at,
                B2P,
                b"",
                {
                    **common,
                    "eos": True,
                    "eos_sig": "error_termination",
                    "eos_reason": ex.error,
                    "eos_term": "error",
                    "eos_err_cls": "transport_error",
                    "wire_schema": "v2",
                },
            )

        for ex in exchanges:
            url, req_headers, req_body, resp_headers, resp_body = _redacted(ex, redact)
            rid = ex.request_id or f"{sid}-{ex.index}"
            parts = urlsplit(url)
            target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            common = {"sid": ex.session_id or sid, "be": ex.backend, "mod": ex.model, "rid": rid}
            http = {"transport": "http", "http_method": ex.method, "url": url}
            put(
                ex.started_at,
                P2B,
                f"{ex.method} {target} HTTP/1.1\r\n{_head(req_headers)}\r\n".encode() + req_body,
                {
                    **common,
                    "wire_schema": "v2",
                    **http,
                    "event": "request",
                    **_fid(ex.request_body_fidelity),
                    **_trl(ex.request_trailers, redact),
                },
            )
            if ex.status is None and resp_body is None:
                if ex.error:
                    put_error_end(ex, common)
                continue
            status = {
                "sc": ex.status,
                "http_status": ex.status,
                "http_reason": ex.reason,
                "http_version": ex.http_version,
            }
            if ex.chunks and redact is None:
                # Streamed response with arrival times: start marker, chunks, end marker.
                put(
                    ex.response_started_at or ex.chunks[0].t,
                    B2P,
                    b"",
                    {
                        **common,
                        "ss": True,
                        **status,
                        "rts": ex.request_ended_at,
                        **http,
                        "event": "response",
                        "hdrs": _head(resp_headers),
                        **_fid(ex.response_body_fidelity),
                    },
                )
                for i, chunk in enumerate(ex.chunks, 1):
                    put(
                        chunk.t, B2P, chunk.data, {"sid": common["sid"], "rid": rid, "ci": i, "sc": ex.status}
                    )
                put(
                    ex.ended_at,
                    B2P,
                    b"",
                    {
                        **common,
                        "se": True,
                        "tc": len(ex.chunks),
                        "tb": sum(len(c.data) for c in ex.chunks),
                        "sc": ex.status,
                        **_trl(ex.response_trailers, redact),
                    },
                )
            elif ex.chunks:
                # Redacted streams: the chunks are redacted as one body, then re-split at the
                # original boundaries when the length is unchanged (so arrival times survive).
                body = resp_body or b""
                sizes = [len(c.data) for c in ex.chunks]
                pieces: list[tuple[float | None, bytes]]
                if sum(sizes) == len(body):
                    pos, pieces = 0, []
                    for c, n in zip(ex.chunks, sizes, strict=True):
                        pieces.append((c.t, body[pos : pos + n]))
                        pos += n
                else:
                    pieces = [(ex.chunks[0].t, body)]
                put(
                    ex.response_started_at or ex.chunks[0].t,
                    B2P,
                    b"",
                    {
                        **common,
                        "ss": True,
                        **status,
                        "rts": ex.request_ended_at,
                        **http,
                        "event": "response",
                        "hdrs": _head(resp_headers),
                        **_fid(ex.response_body_fidelity),
                    },
                )
                for i, (t, data) in enumerate(pieces, 1):
                    put(t, B2P, data, {"sid": common["sid"], "rid": rid, "ci": i, "sc": ex.status})
                put(
                    ex.ended_at,
                    B2P,
                    b"",
                    {
                        **common,
                        "se": True,
                        "tc": len(pieces),
                        "tb": sum(len(d) for _, d in pieces),
                        "sc": ex.status,
                        **_trl(ex.response_trailers, redact),
                    },
                )
            else:
                head = f"{ex.http_version} {ex.status} {ex.reason}\r\n{_head(resp_headers)}\r\n".encode()
                put(
                    ex.ended_at or ex.response_started_at,
                    B2P,
                    head + (resp_body or b""),
                    {
                        **common,
                        **status,
                        "wire_schema": "v2",
                        "transport": "http",
                        "event": "response",
                        **_fid(ex.response_body_fidelity),
                        **_trl(ex.response_trailers, redact),
                    },
                )
            if ex.error:
                put_error_end(ex, common)
    return seq


def jsonl_record(ex: Exchange, redact: RedactionConfig | None = OUTPUT) -> dict[str, Any]:
    url, req_headers, req_body, resp_headers, resp_body = _redacted(ex, redact)

    req_value, _ = body_value(req_body, ex.request_content_type)
    ext: dict[str, Any] = {
        "started_at": ex.started_at,
        "request_ended_at": ex.request_ended_at,
        "response_started_at": ex.response_started_at,
        "ended_at": ex.ended_at,
        "session_id": ex.session_id,
        "request_id": ex.request_id,
        "backend": ex.backend,
        "model": ex.model,
    }
    response = None
    if ex.status is not None or resp_body is not None:
        value, lossy = body_value(resp_body, ex.content_type)
        # A parsed JSON value or lossy text cannot give the wire bytes back: keep them exactly.
        if resp_body is not None and (lossy or not isinstance(value, str)):
            ext["response_body_b64"] = base64.b64encode(resp_body).decode()
        response = {"status_code": ex.status, "headers": fold_headers(resp_headers), "body": value}
        if ex.chunks and resp_body is not None and sum(len(c.data) for c in ex.chunks) == len(resp_body):
            ext["chunks"] = [{"t": c.t, "len": len(c.data)} for c in ex.chunks]
    if ex.error:
        ext["error"] = ex.error
    if ex.websocket is not None:
        # The messages as the capture addon writes them into traffic.jsonl (docs/specs/reports.md §3).
        ext["websocket"] = [_ws_message(m, redact) for m in ex.websocket]
    for side, fidelity in (("request", ex.request_body_fidelity), ("response", ex.response_body_fidelity)):
        if fidelity != "complete":
            ext[f"{side}_body_fidelity"] = fidelity
    for side, trailers in (("request", ex.request_trailers), ("response", ex.response_trailers)):
        if trailers:
            ext[f"{side}_trailers"] = _trailer_pairs(trailers, redact)
    return {
        "timestamp": ex.ended_at or ex.started_at,
        "request": {"method": ex.method, "url": url, "headers": fold_headers(req_headers), "body": req_value},
        "response": response,
        "fastcap": {k: v for k, v in ext.items() if v is not None},
    }


def _ws_message(m: WsMessage, redact: RedactionConfig | None) -> dict[str, Any]:
    out: dict[str, Any] = {"from_client": m.from_client, "type": "text" if m.is_text else "binary", "t": m.t}
    if m.is_text:
        text = m.data.decode("utf-8", "replace")
        out["text"] = _redacted_text(text, redact) if redact is not None else text
    else:
        out["data_b64"] = base64.b64encode(m.data).decode()
    return out


def write_jsonl(
    exchanges: Sequence[Exchange], path: str | os.PathLike[str], *, redact: RedactionConfig | None = OUTPUT
) -> int:
    with open(path, "wb") as f:
        for ex in exchanges:
            f.write(orjson.dumps(jsonl_record(ex, redact)) + b"\n")
    return len(exchanges)


def exchanges_frame(
    exchanges: Sequence[Exchange], *, redact: RedactionConfig | None = OUTPUT
) -> pl.DataFrame:
    """One row per exchange, bodies as binary, headers as lists of {name, value}."""
    rows = []
    for ex in exchanges:
        url, req_headers, req_body, resp_headers, resp_body = _redacted(ex, redact)
        rows.append(
            {
                "index": ex.index,
                "source": ex.source,
                "method": ex.method,
                "url": url,
                "http_version": ex.http_version,
                "status": ex.status,
                "reason": ex.reason,
                "request_headers": [{"name": k, "value": v} for k, v in req_headers],
                "request_body": req_body,
                "response_headers": [{"name": k, "value": v} for k, v in resp_headers],
                "response_body": resp_body,
                "response_body_text": _redacted_text(ex.response_body_text, redact),
                "request_trailers": [
                    {"name": k, "value": v} for k, v in _trailer_pairs(ex.request_trailers, redact)
                ],
                "response_trailers": [
                    {"name": k, "value": v} for k, v in _trailer_pairs(ex.response_trailers, redact)
                ],
                "chunk_times": [c.t for c in ex.chunks],
                "chunk_sizes": [len(c.data) for c in ex.chunks],
                "started_at": ex.started_at,
                "request_ended_at": ex.request_ended_at,
                "response_started_at": ex.response_started_at,
                "ended_at": ex.ended_at,
                "fidelity": ex.fidelity,
                "request_body_fidelity": ex.request_body_fidelity,
                "response_body_fidelity": ex.response_body_fidelity,
                "flags": sorted(ex.flags),
                "error": ex.error,
                "request_id": ex.request_id,
                "session_id": ex.session_id,
                "backend": ex.backend,
                "model": ex.model,
            }
        )
    return pl.DataFrame(rows, infer_schema_length=None)


def write_parquet(
    exchanges: Sequence[Exchange], path: str | os.PathLike[str], *, redact: RedactionConfig | None = OUTPUT
) -> int:
    exchanges_frame(exchanges, redact=redact).write_parquet(os.fspath(path))
    return len(exchanges)
