"""OpenAI Responses over one WebSocket: a connection's messages split into one request each.

Codex CLI talks to the Responses API over a WebSocket by default, and the API's WebSocket mode is
documented for any client (docs/specs/responses-websocket.md). One connection carries many requests
for up to 60 minutes, one at a time:

- the client starts each request with a text message `{"type": "response.create", ...}` holding the
  fields of a Responses create body (`generate: false` asks for a prewarm that generates nothing;
  `previous_response_id` continues an earlier response and sends only the new input); older Codex
  builds send `response.append` for new input on the same connection;
- the server answers with one JSON event per text message, the same events as over SSE
  (`response.created`, `response.output_text.delta`, ..., `response.completed`), plus
  `codex.rate_limits` and in-band `{"type": "error", "status": 429, "error": {...}}` messages;
- the client acknowledges a finished response with `{"type": "response.processed", "response_id"}`.

`split_connection` turns a connection (`Exchange.websocket`) into one `WsRequest` per request: an
`Exchange` shaped like the HTTP call it replaces (the create message as its request body, the
server messages as its chunks, with their arrival times), which the Responses dialect analyses like
any other, plus what the protocol says about it (prewarm, response ids for chaining). The server
messages of a request are those that arrive while it is the oldest one not finished: the protocol
has one response in flight per connection; a request finishes at `response.completed`,
`response.failed`, `response.incomplete` or an `error` message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

from fastcap.dialects._util import d, i, loads, s
from fastcap.model import BodyFidelity, Chunk, Exchange, WsMessage

CREATE_TYPES = ("response.create", "response.append")
ACK_TYPE = "response.processed"
TERMINAL_TYPES = ("response.completed", "response.failed", "response.incomplete")
ERROR_TYPE = "error"
PREWARM_FLAG = "websocket_prewarm"


@dataclass(slots=True)
class WsRequest:
    """One request on a Responses WebSocket connection, as an exchange of its own."""

    exchange: Exchange
    kind: str  # "response.create" or "response.append"; "connection" for messages outside any request
    position: int  # 0-based order of the request on its connection
    generate: bool = True  # False: a prewarm (`generate: false`), no model output asked for
    response_id: str | None = None  # the server's response id (response.created / the terminal event)
    previous_response_id: str | None = None  # what the request continues
    finished: bool = False  # a terminal event or an error message ended it
    error_status: int | None = None  # the HTTP status an in-band error message carries


@dataclass(slots=True)
class _Builder:
    kind: str
    body: dict[str, object]
    create: WsMessage
    messages: list[WsMessage] = field(default_factory=list)
    server: list[WsMessage] = field(default_factory=list)
    response_id: str | None = None
    finished: bool = False
    end_t: float | None = None
    error_status: int | None = None


def _message_type(m: WsMessage) -> tuple[str | None, dict[str, object]]:
    if not m.is_text:
        return None, {}
    obj = d(loads(m.data))
    return s(obj.get("type")), obj


def is_responses_connection(ex: Exchange) -> bool:
    """True when the client sent at least one `response.create` / `response.append` message."""
    return any(m.from_client and _message_type(m)[0] in CREATE_TYPES for m in ex.websocket or ())


def per_request(exchanges: Iterable[Exchange]) -> list[Exchange]:
    """`exchanges` with each Responses WebSocket connection replaced by its requests, one exchange
    each (`split_connection`), as the calls table counts them; every other exchange as it is."""
    out: list[Exchange] = []
    for ex in exchanges:
        parts = split_connection(ex) if ex.websocket is not None else []
        if parts:
            out.extend(p.exchange for p in parts)
        else:
            out.append(ex)
    return out


def split_connection(ex: Exchange) -> list[WsRequest]:
    """The requests of one Responses WebSocket connection, in the order the client sent them, and
    last, when the server sent messages while no request was in flight (an error after the last
    response, say), one `connection` entry holding those. Empty when `ex` is not such a connection."""
    if not ex.websocket or not is_responses_connection(ex):
        return []
    builders: list[_Builder] = []
    in_flight: list[_Builder] = []
    orphans: list[WsMessage] = []
    for m in ex.websocket:
        typ, obj = _message_type(m)
        if m.from_client:
            if typ in CREATE_TYPES:
                b = _Builder(kind=typ or "", body=obj, create=m, messages=[m])
                builders.append(b)
                in_flight.append(b)
            elif builders:
                # An acknowledgement goes with the response it names; anything else with the latest.
                acked = s(obj.get("response_id")) if typ == ACK_TYPE else None
                owner = next((b for b in builders if acked and b.response_id == acked), builders[-1])
                owner.messages.append(m)
            else:
                orphans.append(m)
            continue
        if not in_flight:
            orphans.append(m)
            continue
        b = in_flight[0]
        b.messages.append(m)
        b.server.append(m)
        if typ is None:
            continue
        rid = s(d(obj.get("response")).get("id"))
        if rid and b.response_id is None and (typ == "response.created" or typ in TERMINAL_TYPES):
            b.response_id = rid
        if typ in TERMINAL_TYPES or typ == ERROR_TYPE:
            b.finished, b.end_t = True, m.t
            if typ == ERROR_TYPE:
                b.error_status = i(obj.get("status")) or i(obj.get("status_code"))
            in_flight.pop(0)
    out = [_request(ex, b, n, last=n == len(builders) - 1) for n, b in enumerate(builders)]
    if orphans:
        out.append(_connection_rest(ex, orphans, len(out)))
    return out


def _request_body(b: _Builder) -> tuple[bytes, bool]:
    """The create message as a Responses create body: its exact bytes when the fields sit at the
    top level (Codex, the API's WebSocket mode), else the nested `response` object re-encoded."""
    inner = b.body.get("response")
    if isinstance(inner, dict) and "model" not in b.body:
        return orjson.dumps(inner), False
    return b.create.data, True


def _response_fidelity(ex: Exchange, b: _Builder, last: bool) -> BodyFidelity:
    """The connection's, except for the request still running when the capture stopped (the
    connection has no end): only the start of its response was seen."""
    if ex.response_body_fidelity != "complete" or b.finished:
        return ex.response_body_fidelity
    return "truncated" if last and ex.ended_at is None else "complete"


def _request(ex: Exchange, b: _Builder, position: int, *, last: bool) -> WsRequest:
    body, exact = _request_body(b)
    generate = b.body.get("generate") is not False
    first_t = next((m.t for m in b.server if m.t is not None), None)
    last_t = next((m.t for m in reversed(b.server) if m.t is not None), None)
    flags = set(ex.flags)
    if not generate:
        flags.add(PREWARM_FLAG)
    call = Exchange(
        index=ex.index,
        source=ex.source,
        method=ex.method,
        url=ex.url,
        request_headers=list(ex.request_headers),
        request_body=body,
        http_version=ex.http_version,
        status=b.error_status or ex.status,
        reason=ex.reason,
        response_headers=list(ex.response_headers),
        chunks=[Chunk(t=m.t, data=m.data) for m in b.server],
        started_at=b.create.t,
        request_ended_at=b.create.t,
        response_started_at=first_t,
        # An unfinished request ends with its connection (closed, or cut when the capture stopped).
        ended_at=b.end_t if b.finished else ((ex.ended_at if last else None) or last_t),
        fidelity=ex.fidelity,
        # Both bodies are messages, recorded the way the connection's messages were.
        request_body_fidelity=ex.response_body_fidelity if exact else "json_value",
        response_body_fidelity=_response_fidelity(ex, b, last),
        flags=flags,
        # A transport error of the connection belongs to the request it cut.
        error=ex.error if last and not b.finished else None,
        request_id=f"{ex.request_id}/{position}" if ex.request_id else None,
        session_id=ex.session_id,
        backend=ex.backend,
        model=ex.model,
        websocket=b.messages,
    )
    return WsRequest(
        exchange=call,
        kind=b.kind,
        position=position,
        generate=generate,
        response_id=b.response_id,
        previous_response_id=s(b.body.get("previous_response_id"))
        or s(d(b.body.get("response")).get("previous_response_id")),
        finished=b.finished,
        error_status=b.error_status,
    )


def _connection_rest(ex: Exchange, messages: list[WsMessage], position: int) -> WsRequest:
    """Server messages that arrived while no request was in flight, as one non-model entry."""
    t = [m.t for m in messages if m.t is not None]
    status = next(
        (
            st
            for m in messages
            for typ, obj in [_message_type(m)]
            if typ == ERROR_TYPE and (st := i(obj.get("status")) or i(obj.get("status_code")))
        ),
        None,
    )
    call = Exchange(
        index=ex.index,
        source=ex.source,
        method=ex.method,
        url=ex.url,
        request_headers=list(ex.request_headers),
        http_version=ex.http_version,
        status=status or ex.status,
        reason=ex.reason,
        response_headers=list(ex.response_headers),
        chunks=[Chunk(t=m.t, data=m.data) for m in messages if not m.from_client],
        started_at=t[0] if t else ex.started_at,
        request_ended_at=t[0] if t else ex.request_ended_at,
        response_started_at=t[0] if t else None,
        ended_at=t[-1] if t else ex.ended_at,
        fidelity=ex.fidelity,
        request_body_fidelity="missing",
        response_body_fidelity=ex.response_body_fidelity,
        flags=set(ex.flags),
        request_id=f"{ex.request_id}/{position}" if ex.request_id else None,
        session_id=ex.session_id,
        backend=ex.backend,
        model=ex.model,
        websocket=messages,
    )
    return WsRequest(exchange=call, kind="connection", position=position, generate=False, finished=True)
