"""HTTP content codings (RFC 9110 §8.4): undo `gzip`, `deflate`, `br` and `zstd` on a request or
response body, within a size limit; the one place bodies are decompressed.

Agents compress more than responses: Codex CLI sends its request bodies with
`content-encoding: zstd`, and a capture may hold a body as it went over the wire. Every reader
that finds a `content-encoding` header on a body it keeps calls `decode(body, header)` and sets
the body's fidelity (model.py) from the result: `complete` when `problem` is None, `truncated`
when the limit cut the output, and the wire bytes with a note otherwise.

Limits (a decompression bomb must not take the machine down): the decoded body is at most
`MAX_BODY` bytes (256 MiB), and above `RATIO_FLOOR` (1 MiB) at most `MAX_RATIO` (1000) times the
encoded size. Output past the limit is not produced: decoding stops there, and what was decoded
is returned with `truncated=True`. Decoders are fed with an output cap where the library has
one (zlib's `max_length`, brotli ≥ 1.2's `output_buffer_limit`); zstandard and brotli 1.1 (the
newest mitmproxy 11 allows) have none, so their input is fed in small pieces and the output
checked after each, which bounds the overshoot by what one piece can expand to.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

MAX_BODY = 256 << 20
MAX_RATIO = 1000
RATIO_FLOOR = 1 << 20

# Names as they appear in `content-encoding` (case-insensitive), and the ones we can produce.
IDENTITY = ("", "identity")
CODINGS = ("gzip", "x-gzip", "deflate", "br", "zstd")

_STEP = 1 << 20  # output produced per zlib call (the unconsumed input is copied on each)


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded body. `problem` is None when `body` is exactly the decoded content; otherwise it
    says why not: an unknown or undecodable coding (then `body` is the input, as sent), or a limit
    or a cut stream (then `body` is the decoded start and `truncated` is True)."""

    body: bytes
    problem: str | None = None
    truncated: bool = False

    @property
    def complete(self) -> bool:
        return self.problem is None


def codings(header: str | None) -> list[str]:
    """The codings of a `content-encoding` value in the order they were applied (`gzip, br`: gzip
    first), identity dropped, lower-cased."""
    return [c for c in (p.strip().lower() for p in (header or "").split(",")) if c not in IDENTITY]


def limit_for(encoded_size: int, *, max_size: int = MAX_BODY, max_ratio: int = MAX_RATIO) -> int:
    """How many decoded bytes a body of `encoded_size` bytes may expand to."""
    return min(max_size, max(RATIO_FLOOR, encoded_size * max_ratio))


class _Cut(Exception):
    """Decoding stopped: the limit was reached, or the compressed data ended early."""

    def __init__(self, out: bytes, why: str) -> None:
        super().__init__(why)
        self.out = out
        self.why = why


def decode(
    body: bytes,
    content_encoding: str | None,
    *,
    max_size: int = MAX_BODY,
    max_ratio: int = MAX_RATIO,
    limit: int | None = None,
) -> Decoded:
    """Undo the `content-encoding` of `body`, last coding first; see the module docstring for the
    limits (`limit`, when given, replaces them: a reader holding a budget for a whole file passes
    what is left of it). Never raises on bad input: an undecodable body comes back as sent, with a
    problem."""
    steps = codings(content_encoding)
    if not steps or not body:
        return Decoded(body)
    unknown = [c for c in steps if c not in CODINGS]
    if unknown:
        return Decoded(body, f"unknown content-encoding {', '.join(unknown)}")
    if limit is None:
        limit = limit_for(len(body), max_size=max_size, max_ratio=max_ratio)
    data = body
    problem: str | None = None
    for coding in reversed(steps):
        try:
            data = _DECODERS[coding](data, limit)
        except _Cut as cut:
            # A cut stream decodes to its start; the codings under it still apply to that start.
            data, problem = cut.out, problem or f"content-encoding {coding}: {cut.why}"
        except Exception as exc:  # any decoder failure leaves the wire bytes as they were
            if problem is not None:
                return Decoded(b"", problem, truncated=True)
            return Decoded(body, f"content-encoding {coding} could not be decoded: {exc}")
    return Decoded(data, problem, truncated=problem is not None)


def _over(limit: int) -> str:
    return f"decoded body exceeds the limit of {limit:,} bytes; kept the first {limit:,}"


def _zlib(data: bytes, limit: int, wbits: int) -> bytes:
    """zlib/gzip/raw deflate with an output cap; concatenated gzip members are all decoded."""
    out = bytearray()
    rest = data
    while True:
        d = zlib.decompressobj(wbits)
        chunk = rest
        while chunk and not d.eof:
            out += d.decompress(chunk, min(_STEP, limit + 1 - len(out)))
            if len(out) > limit:
                raise _Cut(bytes(out[:limit]), _over(limit))
            chunk = d.unconsumed_tail
        if not d.eof:
            out += d.flush()
            if len(out) > limit:
                raise _Cut(bytes(out[:limit]), _over(limit))
            raise _Cut(bytes(out), "the compressed data ended early")
        rest = d.unused_data
        # Another gzip member follows (RFC 1952 §2.2); anything else after the end is ignored.
        if not (wbits & 16 and rest.startswith(b"\x1f\x8b")):
            return bytes(out)


def _gzip(data: bytes, limit: int) -> bytes:
    return _zlib(data, limit, 16 + zlib.MAX_WBITS)


def _deflate(data: bytes, limit: int) -> bytes:
    # RFC 9110 says zlib-wrapped; some servers send raw deflate. The zlib header tells them apart.
    wrapped = len(data) >= 2 and (data[0] & 0x0F) == 8 and ((data[0] << 8) | data[1]) % 31 == 0
    return _zlib(data, limit, zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)


def _zstd(data: bytes, limit: int) -> bytes:
    """Every frame (a writer may flush several); the input is fed in pieces small enough that one
    piece cannot expand far past the limit (a 4-byte RLE block decodes to 128 KiB)."""
    import zstandard

    out = bytearray()
    rest = data
    while rest:
        d = zstandard.ZstdDecompressor().decompressobj()
        pos = 0
        while pos < len(rest) and not d.eof:
            piece = max(64, min(1 << 20, (limit - len(out)) >> 15))
            out += d.decompress(rest[pos : pos + piece])
            pos += piece
            if len(out) > limit:
                raise _Cut(bytes(out[:limit]), _over(limit))
        if not d.eof:
            raise _Cut(bytes(out), "the compressed data ended early")
        rest = d.unused_data + rest[pos:]
    return bytes(out)


def _brotli(data: bytes, limit: int) -> bytes:
    import brotli

    d: Any = brotli.Decompressor()
    out = bytearray()
    try:
        # brotli >= 1.2: the decoder itself stops at the cap.
        out += d.process(data, output_buffer_limit=limit + 1)
        while len(out) <= limit and not d.is_finished() and not d.can_accept_more_data():
            out += d.process(b"", output_buffer_limit=limit + 1 - len(out))
    except TypeError:
        # brotli < 1.2: a few input bytes can hold a 16 MiB meta-block, so feed no more at a time
        # than the room left could take at that rate.
        d = brotli.Decompressor()
        pos = 0
        while pos < len(data) and len(out) <= limit:
            piece = max(1, min(1 << 16, (limit + 1 - len(out)) >> 24))
            out += d.process(data[pos : pos + piece])
            pos += piece
    if len(out) > limit:
        raise _Cut(bytes(out[:limit]), _over(limit))
    if not d.is_finished():
        raise _Cut(bytes(out), "the compressed data ended early")
    return bytes(out)


_DECODERS = {"gzip": _gzip, "x-gzip": _gzip, "deflate": _deflate, "br": _brotli, "zstd": _zstd}


def encode(body: bytes, content_encoding: str) -> bytes:
    """Apply `content_encoding` (codings in order) to `body`: the inverse of `decode`, for writers
    and round-trip tests."""
    data = body
    for coding in codings(content_encoding):
        if coding in ("gzip", "x-gzip"):
            c = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
            data = c.compress(data) + c.flush()
        elif coding == "deflate":
            data = zlib.compress(data)
        elif coding == "br":
            import brotli

            data = brotli.compress(data)
        elif coding == "zstd":
            import zstandard

            data = zstandard.ZstdCompressor().compress(data)
        else:
            raise ValueError(f"unknown content-encoding {coding}")
    return data


__all__ = [
    "CODINGS",
    "MAX_BODY",
    "MAX_RATIO",
    "RATIO_FLOOR",
    "Decoded",
    "codings",
    "decode",
    "encode",
    "limit_for",
]
