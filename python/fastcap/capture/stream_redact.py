"""Redaction of a streamed body across chunk boundaries (docs/specs/mitmproxy.md §7.9).

The proxy forwards every chunk the moment it arrives (the tee returns it unchanged); only its record
may wait. A secret can straddle two chunks (a token response read in two parts, an SSE `data:`
line cut in the middle of a value), so redacting each chunk on its own would write it in clear.
`StreamRedactor` holds back the record of the bytes whose unit is not complete yet and redacts
whole units:

| body | unit | held back |
|---|---|---|
| AWS EventStream (by content type, or a valid prelude at the start) | one frame | an incomplete frame |
| text (a text content type, or no control byte in the first 4 KiB) | one line (LF) | an incomplete line; a JSON body without newline: all of it, to its end |
| content-encoded (gzip, br, ...), binary, or redaction off | none | nothing (recorded as it comes, not redacted) |

Every chunk still becomes one entry with its own arrival time and `ci`; its data is the redacted
form of its own bytes. Where redaction changed a unit that spans a chunk boundary, the common
prefix and suffix of the unit keep their chunks and the changed middle (the marker that replaced a
value) goes to the chunk holding its last byte, so a unit never appears complete earlier than it
arrived. At most `HOLD_LIMIT` bytes are held per stream: beyond it (a line that never ends) what is
held is written, redacted as text that may be cut (`redact_fields_text`). At the end of the stream
(complete, cut, or the proxy stopping) the rest is written the same way.
"""

from __future__ import annotations

import binascii
import re
import struct
from dataclasses import dataclass, field
from typing import Any

from fastcap.secrets.redact import RedactionConfig, field_names, redact_body, redact_fields_text

HOLD_LIMIT = 8 << 20
EVENTSTREAM = "application/vnd.amazon.eventstream"


@dataclass(slots=True)
class Held:
    """One received chunk: its arrival time, the metadata of its entry and its recorded bytes."""

    ts: float
    meta: dict[str, Any]
    data: bytes


def _common_prefix(a: bytes, b: bytes) -> int:
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: bytes, b: bytes, limit: int) -> int:
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid :] == b[len(b) - mid :]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def map_offset(raw: bytes, new: bytes, k: int) -> int:
    """Where offset `k` of `raw` lands in `new`, its redacted form: the same place in their common
    prefix or suffix; the start of the changed middle otherwise (the replacement goes to what
    follows `k`)."""
    if new is raw or k <= 0:
        return max(k, 0)
    if k >= len(raw):
        return len(new)
    p = _common_prefix(raw, new)
    if k <= p:
        return k
    s = _common_suffix(raw, new, min(len(raw), len(new)) - p)
    if k >= len(raw) - s:
        return k - len(raw) + len(new)
    return p


# Bytes of text: printable ASCII, tab, LF, CR, FF, and every byte >= 0x80 (UTF-8).
_TEXT_BYTES = b"\t\n\r\x0c" + bytes(range(0x20, 0x7F)) + bytes(range(0x80, 0x100))
_NAMES_RX: dict[frozenset[str], re.Pattern[bytes]] = {}


def _names_rx(names: frozenset[str]) -> re.Pattern[bytes]:
    """The names as one alternation (on the short units of a stream, one search measured several
    times faster than one `in` per name)."""
    rx = _NAMES_RX.get(names)
    if rx is None:
        rx = re.compile(b"|".join(re.escape(n.encode()) for n in sorted(names, key=len, reverse=True)))
        _NAMES_RX[names] = rx
    return rx


def _valid_prelude(head: bytes) -> bool:
    if len(head) < 12:
        return False
    total, hlen = struct.unpack_from(">II", head)
    return (
        total >= 16
        and hlen <= total - 16
        and binascii.crc32(head[:8]) == struct.unpack_from(">I", head, 8)[0]
    )


@dataclass(slots=True)
class StreamRedactor:
    """Per streamed response: `push` each received chunk, write the chunks it returns (in order,
    each with its redacted bytes), and `finish` at the end of the stream."""

    content_type: str
    content_encoding: str
    config: RedactionConfig | None
    url: str
    hold_limit: int = HOLD_LIMIT
    mode: str | None = None  # "lines", "frames" or "raw", from the first bytes
    _pending: list[Held] = field(default_factory=list)
    _head_done: bytes = b""  # redacted output of the consumed start of _pending[0]
    _head_k: int = 0  # raw bytes of _pending[0] already consumed
    _avail: int = 0  # raw bytes held (not yet consumed)
    _frame_next: int = 0  # frames: offset (in held bytes) where the next frame starts
    _names: re.Pattern[bytes] | None = None

    def __post_init__(self) -> None:
        cfg = self.config
        if cfg is not None:
            names = {n.lower() for n in field_names(cfg, self.url) | set(cfg.headers)}
            suffixes = {s.lower() for s in cfg.header_suffixes}
            if self.content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
                # A secret field is a JSON key: the name between quotes (a word of prose is not).
                names = {f'"{n}"' for n in names}
                suffixes = {f'{s}"' for s in suffixes}
            self._names = _names_rx(frozenset(names | suffixes))

    @property
    def held_bytes(self) -> int:
        """Bytes received (and forwarded) whose record is still held back."""
        return self._avail

    def push(self, chunk: Held) -> list[tuple[Held, bytes]]:
        """The chunks whose record is complete now (possibly none), with their redacted bytes."""
        if self.mode is None and chunk.data:
            self.mode = self._sniff(chunk.data)
        if self.mode in (None, "raw") and not self._pending:
            return [(chunk, chunk.data)]
        prev = self._avail
        self._pending.append(chunk)
        self._avail += len(chunk.data)
        if self.mode == "lines":
            nl = chunk.data.rfind(b"\n")
            cut = prev + nl + 1 if nl >= 0 else 0
        elif self.mode == "frames":
            cut = self._frames_end()
        else:
            cut = self._avail
        if cut == 0 and self._avail > self.hold_limit:
            cut = self._avail  # a unit that never ends: written redacted as cut text
        return self._take(cut) if cut else []

    def finish(self) -> list[tuple[Held, bytes]]:
        """Everything still held (the stream ended, was cut, or the proxy is stopping)."""
        if not self._pending:
            return []
        return self._take(self._avail)

    # ------------------------------------------------------------------ units
    def _sniff(self, data: bytes) -> str:
        ctype = self.content_type.split(";")[0].strip().lower()
        if self.config is None or self.content_encoding.strip().lower() not in ("", "identity"):
            return "raw"
        if _valid_prelude(data[:12]) or (ctype == EVENTSTREAM and len(data) < 12):
            return "frames"
        if ctype.startswith("text/") or ctype.endswith(("json", "+xml", "/xml", "ndjson", "urlencoded")):
            return "lines"
        # Anything else is text only if its start has no control byte (protobuf, images: raw, not
        # held back for a newline that may never come).
        head = data[:4096]
        return "raw" if head.translate(None, _TEXT_BYTES) else "lines"

    def _peek(self, offset: int, n: int) -> bytes:
        """`n` held bytes from `offset` (fewer at the end)."""
        out = b""
        pos = -self._head_k
        for chunk in self._pending:
            end = pos + len(chunk.data)
            if end > offset:
                start = max(offset - pos, 0)
                out += chunk.data[start : start + n - len(out)]
                if len(out) >= n:
                    break
            pos = end
        return out

    def _frames_end(self) -> int:
        """End of the last complete frame held (0: none); switches to raw on a bad prelude."""
        while self._avail - self._frame_next >= 12:
            head = self._peek(self._frame_next, 12)
            if not _valid_prelude(head):
                self.mode = "raw"
                return self._avail
            total = struct.unpack_from(">I", head)[0]
            if self._frame_next + total > self._avail:
                break
            self._frame_next += total
        return self._frame_next

    def _units(self, region: bytes) -> list[int]:
        """Start offsets of the units of `region` (lines or frames; a cut last one included)."""
        starts = [0]
        if self.mode == "lines":
            pos = region.find(b"\n")
            while 0 <= pos < len(region) - 1:
                starts.append(pos + 1)
                pos = region.find(b"\n", pos + 1)
        elif self.mode == "frames":
            pos = 0
            while pos + 12 <= len(region) and _valid_prelude(region[pos : pos + 12]):
                total = struct.unpack_from(">I", region, pos)[0]
                if pos + total >= len(region):
                    break
                pos += total
                starts.append(pos)
        return starts

    def _may_hold(self, data: bytes) -> bool:
        """Could `data` hold a secret field (one of the names occurs, in any case)?"""
        return self._names is not None and self._names.search(data.lower()) is not None

    def _redact_unit(self, unit: bytes) -> bytes:
        """One line or frame, redacted: the body rules of its content type (a frame's JSON payload,
        an SSE `data:` line, a JSON line), then the field rule for text that does not parse (a
        pretty-printed line, a unit cut short). The same object when nothing changed."""
        cfg = self.config
        assert cfg is not None
        if not self._may_hold(unit):
            return unit
        if self.mode == "frames":
            out = redact_body(unit, EVENTSTREAM, cfg, url=self.url)
            if out is not unit:
                return out
            text = unit.decode("latin-1")
            fields = redact_fields_text(text, cfg, url=self.url)
            return unit if fields is text else fields.encode("latin-1", "replace")
        eol = b"\r\n" if unit.endswith(b"\r\n") else b"\n" if unit.endswith(b"\n") else b""
        body = unit[: len(unit) - len(eol)]
        new = redact_body(body, self.content_type, cfg, url=self.url)
        text = new.decode("utf-8", "surrogateescape")
        fields = redact_fields_text(text, cfg, url=self.url)
        if fields is not text:
            new = fields.encode("utf-8", "surrogateescape")
        return unit if new is body else new + eol

    # ------------------------------------------------------------------ consuming held bytes
    def _take(self, cut: int) -> list[tuple[Held, bytes]]:
        """Redact the first `cut` held bytes and hand out every chunk they complete."""
        parts = [self._pending[0].data[self._head_k :]]
        parts.extend(c.data for c in self._pending[1:])
        region = b"".join(parts)[:cut]
        bounds = []  # end of each pending chunk the region completes, in held-byte offsets
        pos = 0
        for part in parts:
            pos += len(part)
            if pos > cut:
                break
            bounds.append(pos)
        out, mapped = self._redact_region(region, bounds)
        ready: list[tuple[Held, bytes]] = []
        start = 0
        for i, o in enumerate(mapped):
            data = out[start:o]
            if i == 0 and self._head_done:
                data = self._head_done + data
            ready.append((self._pending[i], data))
            start = o
        rest = out[start:]
        if mapped:
            self._pending = self._pending[len(mapped) :]
            self._head_done = rest
            self._head_k = cut - bounds[-1]
        else:
            self._head_done += rest
            self._head_k += cut
        self._avail -= cut
        self._frame_next = max(self._frame_next - cut, 0)
        if not self._pending:
            self._head_done, self._head_k = b"", 0
        return ready

    def _redact_region(self, region: bytes, bounds: list[int]) -> tuple[bytes, list[int]]:
        """(the redacted region, where each of `bounds` lands in it)."""
        if self.config is None or self.mode == "raw" or not self._may_hold(region):
            return region, bounds
        starts = self._units(region)
        pieces = [region[a:b] for a, b in zip(starts, [*starts[1:], len(region)], strict=True)]
        news = [self._redact_unit(p) for p in pieces]
        if all(n is p for n, p in zip(news, pieces, strict=True)):
            return region, bounds
        out_starts = [0]
        for n in news:
            out_starts.append(out_starts[-1] + len(n))
        mapped = []
        u = 0
        for b in bounds:
            if b >= len(region):
                mapped.append(out_starts[-1])
                continue
            while u + 1 < len(starts) and starts[u + 1] <= b:
                u += 1
            mapped.append(out_starts[u] + map_offset(pieces[u], news[u], b - starts[u]))
        return b"".join(news), mapped
