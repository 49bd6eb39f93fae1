"""Responses WebSocket connections from `tests/data/websocket/` (origins in `tests/data/SOURCES.md`):
as an `Exchange` the way a capture reader hands one over, and as requests a fake server replays."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastcap.model import Exchange, WsMessage

from helpers import DATA

FOLDER = DATA / "websocket"
CREATE_TYPES = ("response.create", "response.append")


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FOLDER / name).read_text())
    return data


def message_bytes(obj: Any) -> bytes:
    """A message as a client or server writes it: compact JSON."""
    return orjson.dumps(obj)


def exchange(name: str, **overrides: Any) -> Exchange:
    """The connection of fixture `name` as one Exchange (every message with its arrival time)."""
    fx = load(name)
    msgs = [WsMessage(m["from_client"], True, message_bytes(m["json"]), m["t"]) for m in fx["messages"]]
    kw: dict[str, Any] = {
        "index": 0,
        "source": "cbor",
        "method": "GET",
        "url": fx["url"],
        "request_headers": [tuple(h) for h in fx["request_headers"]],
        "status": fx["status"],
        "started_at": msgs[0].t,
        "request_ended_at": msgs[0].t,
        "ended_at": msgs[-1].t,
        "websocket": msgs,
    }
    kw.update(overrides)
    return Exchange(**kw)


@dataclass
class Turn:
    """One request of a fixture: what the client sends, then the server's answer with the delay
    before each message (seconds), and the client messages that follow it (acknowledgements)."""

    create: Any
    answer: list[tuple[float, Any]] = field(default_factory=list)
    after: list[Any] = field(default_factory=list)


def turns(name: str) -> list[Turn]:
    out: list[Turn] = []
    last_t = 0.0
    for m in load(name)["messages"]:
        obj = m["json"]
        if m["from_client"]:
            if obj.get("type") in CREATE_TYPES:
                out.append(Turn(obj))
            else:
                out[-1].after.append(obj)
        else:
            out[-1].answer.append((round(m["t"] - last_t, 3), obj))
        last_t = m["t"]
    return out
