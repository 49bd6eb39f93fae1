"""Undoing `Content-Encoding` (gzip, deflate, br, zstd) with a bound on what a body inflates to.

Every reader that removes a content-encoding in Python goes through `decode_content`: the CBOR
reader's HTTP response entries and `.mitm` flows (whose bodies mitmproxy would otherwise inflate
without a limit). The output is produced in bounded steps and stops at the allowance the caller's
`InflateBudget` gives (`formats/limits.py`): a 5 KB gzip member that expands to gigabytes costs at
most the allowance in memory and the time to produce it. A body that would inflate further is not
kept decoded (`Decoded.over_limit`): the readers mark it `missing` with the flag `inflate_limit`
and report it with its byte offset, as the native reader keeps such a payload as stored
(docs/limits.md). The inflated bytes count against the file's budget all the same, so the work a
file can cause stays bounded however many bombs it holds.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from fastcap.formats.limits import InflateBudget, format_size

# Brotli's decoder has no output bound in the installed binding, so input goes in small steps. A
# brotli meta-block produces at most 16 MiB from a header of at least 3 bytes: no input byte
# yields more than this much output, and a step of `allowance // _BROTLI_PER_BYTE` input bytes
# cannot overshoot the allowance by more than one byte's worth.
_BROTLI_PER_BYTE = 8 << 20
_STEP = 1 << 20  # output produced per step by the zlib and zstd decoders


@dataclass(slots=True)
class Decoded:
    """A body with its content-encoding undone (or the wire bytes when that was impossible)."""

    body: bytes  # decoded; the wire bytes when `problem` is set or `over_limit`
    problem: str | None = None  # why the wire bytes were kept (unknown encoding, decoder failure)
    over_limit: bool = False  # True: the body inflates past `limit` (the allowance it had)
    limit: int = 0


class _OverLimit(Exception):
    """Inflation passed the allowance; `args[0]` is how many bytes were produced."""


def _zlib(data: bytes, wbits: int, allowance: int, multi_member: bool) -> bytes:
    out = bytearray()
    rest = data
    while True:
        d = zlib.decompressobj(wbits)
        buf = rest
        # Never `flush()`: it returns whatever is pending at once. Bounded calls, also with the
        # input used up, until the stream ends or makes no more progress.
        while not d.eof:
            chunk = d.decompress(buf, min(_STEP, allowance - len(out) + 1))
            buf = d.unconsumed_tail
            out += chunk
            if len(out) > allowance:
                raise _OverLimit(len(out))
            if not chunk and not buf:
                break
        if not d.eof:
            raise zlib.error("incomplete or truncated stream")
        rest = d.unused_data
        if not (multi_member and rest.strip(b"\x00")):
            return bytes(out)


def _brotli(data: bytes, allowance: int) -> bytes:
    import brotli  # type: ignore[import-not-found]

    d = brotli.Decompressor()
    out = bytearray()
    pos = 0
    while pos < len(data):
        step = max(1, (allowance - len(out)) // _BROTLI_PER_BYTE)
        out += d.process(data[pos : pos + step])
        pos += step
        if len(out) > allowance:
            raise _OverLimit(len(out))
    if not d.is_finished():
        raise ValueError("incomplete brotli stream")
    return bytes(out)


def _zstd(data: bytes, allowance: int) -> bytes:
    """Every frame (a writer may flush several). The input goes in pieces small enough that one
    cannot expand far past the allowance (a 4-byte RLE block decodes to 128 KiB); a frame that
    ends early is an error, never a shorter complete body (the stream reader returns it quietly)."""
    import zstandard  # type: ignore[import-not-found]

    out = bytearray()
    rest = data
    while rest.strip(b"\x00"):
        d = zstandard.ZstdDecompressor().decompressobj()
        pos = 0
        while pos < len(rest) and not d.eof:
            piece = max(64, min(_STEP, (allowance - len(out)) >> 15))
            out += d.decompress(rest[pos : pos + piece])
            pos += piece
            if len(out) > allowance:
                raise _OverLimit(len(out))
        if not d.eof:
            raise ValueError("incomplete or truncated zstd frame")
        rest = d.unused_data + rest[pos:]
    return bytes(out)


def _one(data: bytes, enc: str, allowance: int) -> bytes:
    if enc in ("gzip", "x-gzip"):
        return _zlib(data, 16 + zlib.MAX_WBITS, allowance, multi_member=True)
    if enc == "deflate":
        try:
            return _zlib(data, zlib.MAX_WBITS, allowance, multi_member=False)
        except zlib.error:
            return _zlib(data, -zlib.MAX_WBITS, allowance, multi_member=False)
    if enc == "br":
        return _brotli(data, allowance)
    if enc == "zstd":
        return _zstd(data, allowance)
    raise LookupError(enc)


def decode_content(body: bytes, encoding: str | None, budget: InflateBudget | None = None) -> Decoded:
    """Undo `encoding` on `body` within `budget` (unlimited when None). Chained codings
    (`gzip, br`: gzip applied first) are undone last one first, each within the allowance. The raw
    body is kept, with `problem` set, when a coding is unknown or its data does not decode."""
    codings = [
        c for c in (p.strip().lower() for p in (encoding or "").split(",")) if c not in ("", "identity")
    ]
    if not codings or not body:
        return Decoded(body)
    enc = ", ".join(codings)
    unknown = [c for c in codings if c not in ("gzip", "x-gzip", "deflate", "br", "zstd")]
    if unknown:
        return Decoded(body, f"unknown content-encoding {unknown[0]}")
    spend = budget if budget is not None else InflateBudget.unlimited()
    allowance = spend.allowance()
    out = body
    try:
        for coding in reversed(codings):
            out = _one(out, coding, allowance)
    except _OverLimit as cut:
        spend.spend(int(cut.args[0]))
        return Decoded(body, over_limit=True, limit=allowance)
    except Exception as exc:  # any decoder failure leaves the wire bytes as they were
        return Decoded(body, f"content-encoding {enc} could not be decoded: {exc}")
    spend.spend(len(out))
    return Decoded(out)


def limit_message(what: str, enc: str, compressed: int, decoded: Decoded) -> str:
    """The fault message for a body cut at its inflation allowance."""
    return (
        f"{what} ({enc}, {format_size(compressed)} on the wire) inflates past "
        f"{format_size(decoded.limit)}, the limit for one body or what is left of the file's budget; "
        "not kept (fidelity missing; docs/specs/errors.md §4: FASTCAP_MAX_BODY_INFLATED)"
    )


__all__ = ["Decoded", "decode_content", "limit_message"]
