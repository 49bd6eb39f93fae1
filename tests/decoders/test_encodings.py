"""`fastcap.formats.encodings`: every content coding round-trips, chained codings decode last
first, a cut stream is never called complete, and the size limits stop a decompression bomb."""

from __future__ import annotations

import zlib

import pytest
import zstandard
from fastcap.formats import encodings
from fastcap.formats.encodings import MAX_RATIO, RATIO_FLOOR, codings, decode, encode, limit_for
from helpers import DATA

# A Codex-shaped Responses request body: what Codex CLI compresses with zstd over HTTP.
BODY = (DATA / "sse" / "claude-code" / "exchanges.json").read_bytes()
CODINGS = ["gzip", "x-gzip", "deflate", "br", "zstd"]


@pytest.mark.parametrize("coding", [*CODINGS, "gzip, br", "zstd, gzip", "br, zstd, deflate", "identity", ""])
def test_round_trip(coding: str) -> None:
    wire = encode(BODY, coding)
    got = decode(wire, coding)
    assert (got.body, got.problem, got.truncated, got.complete) == (BODY, None, False, True)


def test_names() -> None:
    assert codings(" GZIP , identity, Br ") == ["gzip", "br"]
    assert codings(None) == codings("") == codings("identity") == []
    assert decode(BODY, "identity").body is BODY
    assert decode(b"", "zstd").complete


def test_raw_deflate_and_several_members_or_frames() -> None:
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert decode(c.compress(BODY) + c.flush(), "deflate").body == BODY
    assert decode(encode(b"ab", "gzip") + encode(b"cd", "gzip"), "gzip").body == b"abcd"
    frames = zstandard.ZstdCompressor().compress(b"ab") + zstandard.ZstdCompressor().compress(b"cd")
    assert decode(frames, "zstd").body == b"abcd"


@pytest.mark.parametrize("coding", [*CODINGS, "gzip, br"])
def test_a_cut_stream_is_truncated_never_complete(coding: str) -> None:
    wire = encode(BODY, coding)
    got = decode(wire[: len(wire) - 9], coding)
    assert got.truncated and not got.complete
    assert "ended early" in (got.problem or "")
    assert BODY.startswith(got.body)


def test_undecodable_and_unknown_codings_keep_the_wire_bytes() -> None:
    got = decode(b"not gzip at all", "gzip")
    assert (got.body, got.truncated) == (b"not gzip at all", False)
    assert got.problem is not None and got.problem.startswith("content-encoding gzip could not be decoded")
    assert decode(b"x", "compress").problem == "unknown content-encoding compress"


def test_limits() -> None:
    assert limit_for(10) == RATIO_FLOOR
    assert limit_for(10 << 20) == 256 << 20
    assert limit_for(2 << 20, max_size=1 << 40) == (2 << 20) * MAX_RATIO
    small = decode(encode(b"a" * 5000, "gzip"), "gzip", max_size=1000)
    assert (small.body, small.truncated) == (b"a" * 1000, True)
    assert "limit of 1,000 bytes" in (small.problem or "")


def _bomb(coding: str, size: int) -> bytes:
    """`size` zeros, compressed fast (the default brotli quality takes seconds on this)."""
    if coding == "br":
        import brotli

        return bytes(brotli.compress(b"\0" * size, quality=1))
    return encode(b"\0" * size, coding)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_a_decompression_bomb_stops_at_the_ratio_limit(coding: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Zeros compress far beyond 1000:1: only `limit_for(wire size)` bytes are produced."""
    monkeypatch.setattr(encodings, "_STEP", 1 << 16)
    wire = _bomb(coding, 24 << 20)
    assert len(wire) * MAX_RATIO < 24 << 20
    got = decode(wire, coding)
    limit = limit_for(len(wire))
    assert got.truncated and len(got.body) == limit and not got.body.strip(b"\0")
