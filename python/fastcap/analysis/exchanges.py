"""Exchanges of any format → the requests table → the one calls builder (`engine`).

The readers of HAR, JSONL, `.mitm` files and mitmdump logs hand over `Exchange` objects; this
module lays them out as columns once (one row per call: the request shape, times, status, bodies
and per-chunk arrival times) and computes content figures from the native events table, exactly as
the streaming CBOR pass does. Bodies the native extractor does not read (WebSocket messages) take
their figures from the dialect analysis of that call.

A call is one HTTP exchange, or one request on a WebSocket connection: a Responses connection
(Codex CLI, the Responses API's WebSocket mode) carries many requests, and `dialects.openai_ws`
splits it into one call per `response.create` (docs/specs/responses-websocket.md). Such a call is a
stream whose chunks are the server's messages; a prewarm (`generate: false`) is a call of its own
that is not a model call; requests chained through `previous_response_id` share a conversation.
Any other WebSocket connection stays one call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate
from operator import attrgetter
from typing import Any

import orjson
import polars as pl

from fastcap import _native
from fastcap.analysis.bodies import json_as_one_event
from fastcap.analysis.calls import cache_write_1h
from fastcap.analysis.content import CONTENT_SCHEMA, USAGE_COLUMNS, aggregate_events, eventstream_events
from fastcap.analysis.engine import REQUEST_SCHEMA, calls_from_requests
from fastcap.analysis.quota import codex_event_in_body, header_json
from fastcap.dialects.openai_ws import WsRequest, split_connection
from fastcap.model import Exchange

STREAM_TYPES = ("text/event-stream",)
# The request headers that name a session, in the order `_native.request_fields` reads them.
SESSION_HEADERS = ("x-claude-code-session-id", "session_id", "session-id", "x-session-id", "conversation_id")


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _first_values(headers: list[tuple[str, str]]) -> dict[str, str]:
    """The first value of each header name, by lower-cased name (`Exchange.header`'s rule, once
    per exchange instead of once per lookup)."""
    out: dict[str, str] = {}
    for key, value in headers:
        out.setdefault(key.lower(), value)
    return out


# Request fields read from the body natively; the session header is read from the exchange.
BODY_FIELDS = ("request_model", "user_id", "conversation_id_body", "prompt_cache_key")


def _request_body(ex: Exchange) -> bytes | None:
    if ex.request_body is not None:
        return ex.request_body
    return ex.request_body_text.encode("utf-8") if ex.request_body_text is not None else None


def _body(ex: Exchange) -> bytes | None:
    if ex.response_body is not None:
        return ex.response_body
    if ex.response_body_text is not None:
        return ex.response_body_text.encode("utf-8")
    return None


def _is_sse(ex: Exchange, body: bytes | None) -> bool:
    if ex.content_type in STREAM_TYPES:
        return True
    if ex.content_type or not body:
        return False
    return body[:64].lstrip(b"\xef\xbb\xbf").lstrip().startswith((b"event:", b"data:", b":"))


EVENTSTREAM_TYPE = "application/vnd.amazon.eventstream"


def _response_kind(ex: Exchange, body: bytes | None, sse: bool) -> str:
    """How the response body is framed: the `response_kind` of docs/metrics.md's calls table."""
    if ex.websocket is not None:
        return "websocket"
    if body is None:
        return "missing" if ex.fidelity == "missing" or "content_missing" in ex.flags else "empty"
    if not body:
        return "empty"
    if sse:
        return "sse"
    if ex.content_type == EVENTSTREAM_TYPE:
        return "eventstream"
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return "binary"
        return "text"
    return "json"


@dataclass(slots=True)
class _Call:
    """One row of the requests table: an exchange, or one request of a WebSocket connection."""

    ex: Exchange
    ws: WsRequest | None = None

    @property
    def ws_stream(self) -> bool:
        """A request on a Responses WebSocket: a stream of the server's messages."""
        return self.ws is not None and self.ws.kind != "connection"


def _calls(exchanges: Sequence[Exchange]) -> list[_Call]:
    out: list[_Call] = []
    for ex in exchanges:
        parts = split_connection(ex) if ex.websocket is not None else []
        if parts:
            out.extend(_Call(p.exchange, p) for p in parts)
        else:
            out.append(_Call(ex))
    return out


def _request_row(ex: Exchange, kind: str, body: bytes | None, *, ws_stream: bool = False) -> dict[str, Any]:
    is_stream = kind in ("sse", "eventstream") or ws_stream
    first_chunk_t = next((c.t for c in ex.chunks if c.t is not None), None)
    last_chunk_t = next((c.t for c in reversed(ex.chunks) if c.t is not None), None)
    request = _first_values(ex.request_headers)
    response = _first_values(ex.response_headers)
    return {
        "request_id": ex.request_id,
        "http_method": ex.method,
        "url": ex.url,
        "amz_target": request.get("x-amz-target"),
        "response_content_type": _media_type(response.get("content-type")) or None,
        "status": ex.status,
        "is_stream": is_stream,
        "response_kind": kind,
        "model": ex.model,
        "request_ts": ex.started_at,
        "request_sent_ts": ex.request_ended_at,
        "first_payload_ts": first_chunk_t if first_chunk_t is not None else ex.response_started_at,
        "stream_end_ts": ex.ended_at if is_stream and ex.response_body_fidelity == "complete" else None,
        "last_payload_ts": last_chunk_t if last_chunk_t is not None else ex.ended_at,
        "chunks": len(ex.chunks),
        # Exact bytes only: a body known from a text log has no byte count (docs/metrics.md). A
        # WebSocket request's response is its server messages (payloads, decompressed).
        "body_bytes": len(ex.response_body)
        if ex.response_body is not None
        else (
            sum(len(c.data) for c in ex.chunks)
            if ws_stream and ex.response_body_fidelity == "complete"
            else None
        ),
        "a_session_id": ex.session_id,
        "session_header": next(
            (v for name in SESSION_HEADERS if (v := request.get(name)) is not None and v.strip()), None
        ),
        # Claude Code's sub-agent headers, read as `_native.request_fields` reads them.
        "agent_id": (request.get("x-claude-code-agent-id") or "").strip() or None,
        "parent_agent_id": (request.get("x-claude-code-parent-agent-id") or "").strip() or None,
        "retry_after_s": _retry_after(response.get("retry-after")),
        "ratelimit_headers": header_json(ex.response_headers),
        "transport_error": ex.error,
        "request_body_fidelity": ex.request_body_fidelity,
        "response_body_fidelity": ex.response_body_fidelity,
    }


def _media_type(content_type: str | None) -> str:
    """`Exchange.content_type` of a Content-Type value."""
    return (content_type or "").split(";")[0].strip().lower()


def _chunk_lengths(ex: Exchange, body: bytes) -> list[int]:
    """The chunks' sizes, when the chunks are the body's bytes as they are (else none)."""
    if not ex.chunks:
        return []
    lengths = list(map(len, map(_DATA, ex.chunks)))
    return lengths if sum(lengths) == len(body) else []


_DATA = attrgetter("data")
_TIME = attrgetter("t")


# A body for the native decoders: (row of the requests table, body, chunk sizes, its exchange).
_NativeBody = tuple[int, bytes, list[int], Exchange]


def _chunk_table(items: list[_NativeBody]) -> pl.DataFrame:
    """`aggregate_events`' chunks table (per body: cumulative chunk ends and arrival times; bodies
    without usable chunks have no row), built from flat columns: a list column built from a
    Python list per body costs far more per chunk."""
    index: list[int] = []
    ends: list[int] = []
    times: list[float | None] = []
    for n, (_, _, lengths, ex) in enumerate(items):
        if lengths:
            index.extend([n] * len(lengths))
            ends.extend(accumulate(lengths))
            times.extend(map(_TIME, ex.chunks))
    flat = pl.DataFrame(
        {"exchange_index": index, "chunk_ends": ends, "chunk_times": times},
        schema={"exchange_index": pl.UInt32, "chunk_ends": pl.UInt64, "chunk_times": pl.Float64},
    )
    return flat.group_by("exchange_index", maintain_order=True).agg("chunk_ends", "chunk_times")


def _content_from_dialect(ex: Exchange) -> dict[str, Any]:
    """Content figures from the dialect analysis, for bodies the native extractor does not read."""
    from fastcap.dialects import analyze_exchange

    analysis = analyze_exchange(ex)
    resp, usage = analysis.response, analysis.response.usage
    err = next((e for e in resp.errors if e.source != "http_status"), None)
    # The dialect has combined the fields already; hand them back in the raw fields' meaning, so
    # that the engine's one rule (engine.calls_from_requests) gives the same totals.
    raw_input = raw_output = None
    if usage is not None:
        anthropic_like = analysis.dialect in ("anthropic", "bedrock")
        raw_input = usage.input_uncached if anthropic_like else usage.input_total
        raw_output = usage.output_total
        if analysis.dialect == "gemini" and raw_output is not None:
            raw_output -= usage.reasoning or 0
    return {
        "events": len(resp.events),
        "text_chars": len(resp.text),
        "reasoning_chars": len(resp.reasoning_text),
        "tool_calls": [t.name for t in resp.tool_calls],
        "sse_model": resp.model,
        "stop_reason": resp.stop_reason,
        "error_type": err.type if err else None,
        "error_code": None,  # the dialect's type already joins type, status and code
        "error_message": err.message if err else None,
        "stop_seen": True if resp.stop_reason is not None else (None if resp.complete is None else False),
        "terminal_seen": resp.complete,  # None: the dialect cannot tell
        "first_content_t": resp.first_content_t,
        "stream_intact": None,
        "stream_problem": None,
        "input_tokens": raw_input,
        "output_tokens": raw_output,
        "cache_read_tokens": usage.cache_read if usage else None,
        "cache_write_tokens": usage.cache_write if usage else None,
        "reasoning_tokens": usage.reasoning if usage else None,
        "cache_write_1h_tokens": cache_write_1h(usage),
        "ratelimit_event": codex_event_in_body(c.data for c in ex.chunks),
    }


def _chained_conversations(
    calls: Sequence[_Call],
    session_header: list[str | None],
    body_key: list[str | None],
    cache_key: list[str | None],
) -> list[str | None]:
    """`conversation_id_body` with the WebSocket requests chained through `previous_response_id`.

    A Responses request names its conversation by the session header, the body's conversation or
    its prompt cache key (the engine's rule, in that order). A request on a WebSocket that has none
    of them belongs to the conversation of the response it continues; the first request of such a
    chain is named by the chain's first response id (the response its first member continues, or
    its own when it continues none)."""
    out = list(body_key)
    own = [h or b or k for h, b, k in zip(session_header, body_key, cache_key, strict=True)]
    by_response = {
        c.ws.response_id: n for n, c in enumerate(calls) if c.ws_stream and c.ws and c.ws.response_id
    }
    parent: dict[int, int] = {}
    for n, c in enumerate(calls):
        prev = c.ws.previous_response_id if c.ws_stream and c.ws else None
        if prev is not None and (p := by_response.get(prev)) is not None and p < n:
            parent[n] = p
    continued = set(parent.values())
    chain: dict[int, str | None] = {}
    for n, c in enumerate(calls):
        if not c.ws_stream or c.ws is None:
            continue
        if own[n]:
            chain[n] = own[n]
        elif n in parent:
            chain[n] = chain.get(parent[n])
        else:
            chain[n] = c.ws.previous_response_id or (c.ws.response_id if n in continued else None)
        if not own[n] and chain[n]:
            out[n] = chain[n]
    return out


def requests_from_exchanges(exchanges: Sequence[Exchange]) -> pl.DataFrame:
    """The requests table (`engine.REQUEST_SCHEMA` + content figures) of a list of exchanges: one
    row per call (module docstring), plus `model_call_override`: whether a WebSocket request is a
    model call (false for a prewarm and for messages outside any request), null for every other
    row, whose API name decides (`apply_model_call_override`)."""
    return _requests(_calls(exchanges))


def apply_model_call_override(calls: pl.DataFrame, requests: pl.DataFrame) -> pl.DataFrame:
    """`is_model_call` of the calls table built from `requests` (same rows, same order), where the
    requests table's `model_call_override` says otherwise: every request on a Responses WebSocket
    asks the model for output, whatever the host's API name says, except a prewarm
    (`generate: false`) and the messages outside any request."""
    if (
        "model_call_override" not in requests.columns
        or requests["model_call_override"].null_count() == requests.height
    ):
        return calls
    return calls.with_columns(
        is_model_call=pl.coalesce(requests["model_call_override"], pl.col("is_model_call"))
    )


def _requests(calls: Sequence[_Call]) -> pl.DataFrame:
    rows: list[dict[str, Any]] = []
    # Bodies by native decoder: SSE and one-event JSON through sse_column, AWS EventStream
    # through eventstream_events; (row, body, chunk sizes, exchange) each.
    native: dict[str, list[_NativeBody]] = {"sse": [], "eventstream": []}
    bridged: dict[int, dict[str, Any]] = {}
    for i, call in enumerate(calls):
        ex = call.ex
        body = _body(ex)
        kind = _response_kind(ex, body, _is_sse(ex, body))
        rows.append(_request_row(ex, kind, body, ws_stream=call.ws_stream))
        if kind in ("sse", "eventstream") and body:
            native[kind].append((i, body, _chunk_lengths(ex, body), ex))
        elif kind == "json" and body:
            native["sse"].append((i, json_as_one_event(body), [], ex))
        elif kind == "websocket":
            bridged[i] = _content_from_dialect(ex)
    fields = pl.DataFrame(_native.request_fields([_request_body(c.ex) for c in calls]))
    conversation_body = _chained_conversations(
        calls,
        [r["session_header"] for r in rows],
        fields["conversation_id_body"].to_list(),
        fields["prompt_cache_key"].to_list(),
    )
    requests = (
        pl.DataFrame(rows, schema={k: v for k, v in REQUEST_SCHEMA.items() if k not in BODY_FIELDS})
        .with_columns(
            request_model=fields["model"],
            user_id=fields["user_id"],
            conversation_id_body=pl.Series(conversation_body, dtype=pl.Utf8),
            prompt_cache_key=fields["prompt_cache_key"],
        )
        .with_row_index("row")
    )
    content_schema = {k: v for k, v in CONTENT_SCHEMA.items() if k != "exchange_index"}
    parts = []
    for kind, items in native.items():
        if not items:
            continue
        bodies = [item[1] for item in items]
        intact = None
        if kind == "eventstream":
            events, intact = eventstream_events(pl.Series(bodies, dtype=pl.Binary))
        else:
            events = pl.DataFrame(_native.sse_column(bodies))  # (the bytes as they are: no copy)
        rows_of = pl.Series([item[0] for item in items], dtype=pl.UInt32)
        agg = aggregate_events(events, _chunk_table(items), intact)
        parts.append(
            agg.with_columns(row=pl.lit(rows_of).gather(pl.col("exchange_index"))).drop("exchange_index")
        )
    if bridged:
        parts.append(
            pl.DataFrame(list(bridged.values()), schema=content_schema).with_columns(
                row=pl.Series(list(bridged), dtype=pl.UInt32)
            )
        )
    content = (
        pl.concat(parts, how="diagonal_relaxed")
        if parts
        else pl.DataFrame(schema={"row": pl.UInt32, **content_schema})
    )
    out = requests.join(content, on="row", how="left", maintain_order="left").drop("row")
    return out.with_columns(
        *[pl.col(c).cast(pl.Int64) for c in USAGE_COLUMNS],
        model_call_override=pl.Series([c.ws.generate if c.ws else None for c in calls], dtype=pl.Boolean),
    )


def calls_from_exchanges(exchanges: Sequence[Exchange]) -> pl.DataFrame:
    """The calls table (`calls.CALLS_SCHEMA`) of exchanges of any format: one row per call (module
    docstring)."""
    requests = requests_from_exchanges(exchanges)
    return apply_model_call_override(calls_from_requests(requests), requests)
