"""Which agent a capture came from: the `agent` partition of a dataset.

`dialects.agents.recognise` names the agent from the request headers (the first agent signal any
request matches); the partition value is that name as a slug (`Claude Code` → `claude-code`,
`kiro-cli`, `Codex` → `codex`), `unknown` when no signal names one. `ingest --agent NAME`
overrides it. System-prompt signals are not used here: they would need every request body parsed.
A CBOR capture is judged from its first batch of entries (an agent sends the same headers on
every request), read in milliseconds at any file size; other formats from all their exchanges.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import polars as pl

from fastcap.dataset.layout import agent_slug
from fastcap.dialects.agents import recognise
from fastcap.formats.cbor import parse_http_head
from fastcap.formats.cbor_requests import CLIENT_TO_PROXY, PROXY_TO_BACKEND
from fastcap.model import Exchange

UNKNOWN = "unknown"
# Request heads looked at in a CBOR capture's first batch (they are parsed in Python).
MAX_REQUESTS = 64
HEAD_BYTES = 16 << 10

Headers = Sequence[tuple[str, str]]


def agent_of(requests: Iterable[Headers]) -> str:
    """The agent slug of a capture from its requests' headers, `unknown` when none says."""
    name = recognise((headers, None) for headers in requests).agent
    return agent_slug(name) if name else UNKNOWN


def exchange_headers(exchanges: Iterable[Exchange]) -> list[Headers]:
    return [ex.request_headers for ex in exchanges]


def cbor_headers(path: str | os.PathLike[str]) -> list[Headers]:
    """The request headers of the first requests of a CBOR capture: the forwarded request's head
    (P->B), else the User-Agent the client leg recorded (C->P `user_agent`)."""
    from fastcap import _native

    reader = _native.CaptureReader(os.fspath(path), recover=True, decompress_dirs=[PROXY_TO_BACKEND])
    table = reader.next_batch()
    if table is None:
        return []
    batch = pl.DataFrame(table).select("dir", "data", "user_agent")
    out: list[Headers] = []
    for direction, data, user_agent in batch.iter_rows():
        if direction == PROXY_TO_BACKEND and data:
            out.append(parse_http_head(data[:HEAD_BYTES])[1])
        elif direction == CLIENT_TO_PROXY and user_agent:
            out.append([("user-agent", user_agent)])
        if len(out) >= MAX_REQUESTS:
            break
    return out
