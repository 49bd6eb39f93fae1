"""Captures the export tests read: the demo, and a Codex CLI call built from an OpenAI Responses
stream of `tests/data/sse/openai-responses/` (origins in tests/data/SOURCES.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastcap.formats.writers import write_cbor
from fastcap.model import Chunk, Exchange
from helpers import DATA

CODEX_STREAM = DATA / "sse" / "openai-responses" / "test_openai_responses_streaming_usage.sse"
CODEX_SESSION = "019a0000-0000-7000-8000-00000000c0de"
CODEX_T0 = 1767225600.25


def codex_exchange(**overrides: object) -> Exchange:
    """One streamed Codex CLI turn on chatgpt.com, its events arriving 50 ms apart after 0.8 s."""
    body = CODEX_STREAM.read_bytes()
    events = [e + b"\n\n" for e in body.split(b"\n\n") if e.strip()]
    chunks = [Chunk(t=CODEX_T0 + 0.8 + 0.05 * i, data=e) for i, e in enumerate(events)]
    request = {
        "model": "gpt-5-codex",
        "instructions": "You are Codex, a coding agent.",
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Add 2 and 3."}]}
        ],
        "stream": True,
        "prompt_cache_key": CODEX_SESSION,
    }
    kw: dict[str, object] = {
        "index": 0,
        "source": "cbor",
        "method": "POST",
        "url": "https://chatgpt.com/backend-api/codex/responses",
        "request_headers": [
            ("content-type", "application/json"),
            ("session_id", CODEX_SESSION),
            ("originator", "codex_cli_rs"),
        ],
        "request_body": json.dumps(request).encode(),
        "status": 200,
        "response_headers": [("content-type", "text/event-stream")],
        "response_body": b"".join(events),
        "chunks": chunks,
        "started_at": CODEX_T0,
        "request_ended_at": CODEX_T0 + 0.01,
        "ended_at": chunks[-1].t,
    }
    kw.update(overrides)
    return Exchange(**kw)  # type: ignore[arg-type]


@pytest.fixture
def codex_capture(tmp_path: Path) -> Path:
    path = tmp_path / "codex.cbor"
    write_cbor([codex_exchange()], path, session_id="codex-test")
    return path


@pytest.fixture
def make_codex_capture(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A factory: a capture of one Codex turn with `overrides` applied to its exchange."""

    def make(name: str = "variant.cbor", **overrides: object) -> Path:
        path = tmp_path / name
        write_cbor([codex_exchange(**overrides)], path, session_id="codex-test", redact=None)
        return path

    return make


@pytest.fixture
def codex_call():  # type: ignore[no-untyped-def]
    """`codex_exchange` itself, for tests that build many calls."""
    return codex_exchange
