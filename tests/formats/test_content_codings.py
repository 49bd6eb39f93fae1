"""Content codings (`formats.content.decode_content`, the one decoder every reader uses): each
coding and chains of them round-trip, a cut stream is never a shorter complete body, and a
request body sent compressed (Codex sends zstd over HTTP) is read the same by every path."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import brotli  # type: ignore[import-not-found]
import orjson
import pytest
import zstandard  # type: ignore[import-not-found]
from fastcap.analysis.exchanges import calls_from_exchanges
from fastcap.analysis.stream_cbor import calls_from_scan, scan
from fastcap.formats import read_exchanges
from fastcap.formats.content import decode_content
from fastcap.formats.writers import write_cbor
from fastcap.model import Exchange
from helpers import DATA

BODY = (DATA / "sse" / "claude-code" / "exchanges.json").read_bytes()
ENCODERS = {
    "gzip": gzip.compress,
    "x-gzip": gzip.compress,
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": lambda b: zstandard.ZstdCompressor().compress(b),
}


def encode(body: bytes, coding: str) -> bytes:
    """`coding` applied in order (`gzip, br`: gzip first, as Content-Encoding lists them)."""
    for c in (p.strip() for p in coding.split(",")):
        if c and c != "identity":
            body = ENCODERS[c](body)
    return body


@pytest.mark.parametrize("coding", [*ENCODERS, "gzip, br", "zstd, gzip", "br, zstd, deflate", "identity", ""])
def test_round_trip(coding: str) -> None:
    got = decode_content(encode(BODY, coding), coding)
    assert (got.body, got.problem, got.over_limit) == (BODY, None, False)


def test_several_zstd_frames() -> None:
    frames = zstandard.ZstdCompressor().compress(b"ab") + zstandard.ZstdCompressor().compress(b"cd")
    assert decode_content(frames, "zstd").body == b"abcd"


@pytest.mark.parametrize("coding", [*ENCODERS, "gzip, br"])
def test_a_cut_stream_is_never_a_shorter_complete_body(coding: str) -> None:
    wire = encode(BODY, coding)
    got = decode_content(wire[: len(wire) - 9], coding)
    assert got.problem is not None and got.body == wire[: len(wire) - 9]


def test_a_zstd_request_body_reads_the_same_through_every_path(tmp_path: Path) -> None:
    request = {
        "model": "gpt-5.2-codex",
        "input": [{"role": "user", "content": "hi"}],
        "prompt_cache_key": "conv-7",
    }
    response = {
        "id": "resp_1",
        "object": "response",
        "model": "gpt-5.2-codex",
        "status": "completed",
        "output": [],
    }
    wire = zstandard.ZstdCompressor().compress(orjson.dumps(request))
    ex = Exchange(
        0, "cbor", "POST", "https://api.openai.com/v1/responses",
        request_headers=[("content-type", "application/json"), ("content-encoding", "zstd")],
        request_body=wire, status=200, response_headers=[("content-type", "application/json")],
        response_body=orjson.dumps(response), started_at=1_763_700_000.0,
    )  # fmt: skip
    path = tmp_path / "codex.cbor"
    write_cbor([ex], path, redact=None)
    [read] = read_exchanges(path)
    assert orjson.loads(read.request_body or b"") == request
    streamed = calls_from_scan(*scan(path)[:2])
    full = calls_from_exchanges([read])
    for c in ("model", "conversation_id"):
        assert (
            streamed[c].to_list()
            == full[c].to_list()
            == [request.get("model" if c == "model" else "prompt_cache_key")]
        ), c
