"""A straightforward, pure-Python WHATWG ``text/event-stream`` parser.

This is the benchmark baseline for fastcap's Rust SSE splitter and a test oracle for it. It follows
the WHATWG HTML rules ("Parsing an event stream" / "Interpreting an event stream") exactly:

* incremental: ``feed(chunk)`` may split lines, CR/LF pairs and UTF-8 sequences anywhere;
* one leading BOM (EF BB BF) is stripped; lines end with CRLF, LF or CR;
* comments (``:...``), ``event``/``data``/``id``/``retry`` fields; other fields ignored;
* dispatch only on a blank line and only with a non-empty data buffer; the last event id persists;
* at ``finish()`` a pending event (data buffered, no terminating blank line, possibly a partial
  last line) is returned with ``terminated=False`` instead of being silently dropped.

Line splitting works on bytes (CR, LF and ``:`` are ASCII and never occur inside a UTF-8 multi-byte
sequence) and each field value is decoded with ``errors="replace"``; this equals incremental UTF-8
decoding of the whole stream because every value is delimited by ASCII bytes.

Byte ranges: ``byte_start`` is the offset of the first line of the event's block (the first line
after the previous blank line, after a BOM); ``byte_end`` is the offset where the terminating blank
line starts (so ``body[byte_start:byte_end]`` is the block's lines with their line terminators), or
the body length for the event pending at EOF.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BOM = b"\xef\xbb\xbf"


@dataclass
class PyEvent:
    index: int
    type: str
    data: str
    last_event_id: str
    byte_start: int
    byte_end: int
    terminated: bool
    is_done: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "type": self.type,
            "data": self.data,
            "last_event_id": self.last_event_id,
            "byte_start": self.byte_start,
            "byte_end": self.byte_end,
            "terminated": self.terminated,
            "is_done": self.is_done,
        }


@dataclass
class PyStats:
    bytes: int = 0
    lines: int = 0
    events: int = 0
    blank_lines: int = 0
    comment_lines: int = 0
    blocks_without_data: int = 0
    id_fields: int = 0
    retry_fields: int = 0
    unknown_fields: int = 0
    lf: int = 0
    crlf: int = 0
    cr: int = 0
    bom: bool = False
    ends_with_newline: bool = False
    ends_with_blank_line: bool = False
    partial_last_line: bool = False
    pending_at_eof: bool = False
    retry: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def line_endings(self) -> str:
        kinds = [name for name, n in (("LF", self.lf), ("CRLF", self.crlf), ("CR", self.cr)) if n]
        if not kinds:
            return "none"
        return kinds[0] if len(kinds) == 1 else "mixed"


class PySseParser:
    """Incremental WHATWG event-stream parser (plain Python)."""

    def __init__(self) -> None:
        self.stats = PyStats()
        self._partial = bytearray()  # bytes of the current, unterminated line
        self._line_start = 0  # absolute offset of the current line
        self._pos = 0  # absolute offset of the next byte fed
        self._skip_lf = False  # previous byte was a CR (a following LF belongs to it)
        self._first_line = True
        self._data: list[str] = []
        self._event_type = ""
        self._last_event_id = ""
        self._block_start: int | None = None
        self._block_has_field = False  # event/id/retry seen in this block
        self._last_line_blank = False
        self._index = 0
        self._finished = False

    # -- lines -------------------------------------------------------------------------------
    def feed(self, chunk: bytes) -> list[PyEvent]:
        if self._finished:
            raise ValueError("feed() after finish()")
        out: list[PyEvent] = []
        n = len(chunk)
        i = 0
        if n and self._skip_lf:
            self._skip_lf = False
            if chunk[0] == 0x0A:
                self.stats.crlf += 1
                i = 1
                self._line_start += 1
            else:
                self.stats.cr += 1
        while i < n:
            lf = chunk.find(b"\n", i)
            cr = chunk.find(b"\r", i)
            if lf < 0 and cr < 0:
                self._partial += chunk[i:]
                break
            end = lf if cr < 0 or (0 <= lf < cr) else cr
            line = bytes(self._partial) + chunk[i:end] if self._partial else chunk[i:end]
            self._partial.clear()
            if chunk[end] == 0x0A:
                self.stats.lf += 1
                nxt = end + 1
            elif end + 1 < n:
                if chunk[end + 1] == 0x0A:
                    self.stats.crlf += 1
                    nxt = end + 2
                else:
                    self.stats.cr += 1
                    nxt = end + 1
            else:
                self._skip_lf = True
                nxt = end + 1
            self._line(line, out)
            self._line_start = self._pos + nxt
            i = nxt
        self._pos += n
        self.stats.bytes = self._pos
        return out

    def finish(self) -> list[PyEvent]:
        if self._finished:
            return []
        self._finished = True
        out: list[PyEvent] = []
        if self._skip_lf:
            self._skip_lf = False
            self.stats.cr += 1
        self.stats.ends_with_newline = self._pos > 0 and not self._partial
        if self._first_line and self._partial == BOM:
            # The body is just a BOM: no line at all.
            self.stats.bom = True
            self._partial.clear()
        if self._partial:
            self.stats.partial_last_line = True
            line = bytes(self._partial)
            self._partial.clear()
            self._line(line, out)
            self._last_line_blank = False
        self.stats.ends_with_blank_line = self._last_line_blank
        if self._data:
            self.stats.pending_at_eof = True
            out.append(self._make_event(self._pos, terminated=False))
        self._reset_block()
        return out

    # -- interpretation ----------------------------------------------------------------------
    def _line(self, line: bytes, out: list[PyEvent]) -> None:
        st = self.stats
        st.lines += 1
        start = self._line_start
        if self._first_line:
            self._first_line = False
            if line.startswith(BOM):
                st.bom = True
                line = line[3:]
                start += 3
                self._line_start = start
        if not line:
            st.blank_lines += 1
            self._last_line_blank = True
            if self._data:
                out.append(self._make_event(start, terminated=True))
            elif self._block_has_field:
                st.blocks_without_data += 1
            self._reset_block()
            return
        self._last_line_blank = False
        if self._block_start is None:
            self._block_start = start
        if line[0] == 0x3A:  # ":"
            st.comment_lines += 1
            return
        colon = line.find(b":")
        if colon >= 0:
            name = line[:colon]
            value = line[colon + 1 :]
            if value[:1] == b" ":
                value = value[1:]
        else:
            name = line
            value = b""
        if name == b"data":
            self._data.append(value.decode("utf-8", "replace"))
        elif name == b"event":
            self._event_type = value.decode("utf-8", "replace")
            self._block_has_field = True
        elif name == b"id":
            st.id_fields += 1
            self._block_has_field = True
            if b"\x00" not in value:
                self._last_event_id = value.decode("utf-8", "replace")
        elif name == b"retry":
            st.retry_fields += 1
            self._block_has_field = True
            if value and value.isdigit():
                st.retry = int(value)
        else:
            st.unknown_fields += 1

    def _make_event(self, end: int, *, terminated: bool) -> PyEvent:
        data = "\n".join(self._data)
        start = self._block_start if self._block_start is not None else end
        ev = PyEvent(
            index=self._index,
            type=self._event_type or "message",
            data=data,
            last_event_id=self._last_event_id,
            byte_start=start,
            byte_end=end,
            terminated=terminated,
            is_done=data == "[DONE]",
        )
        self._index += 1
        self.stats.events += 1
        return ev

    def _reset_block(self) -> None:
        self._data = []
        self._event_type = ""
        self._block_start = None
        self._block_has_field = False


def parse_events(body: bytes, *, include_pending: bool = True) -> tuple[list[PyEvent], PyStats]:
    """Parse a whole body; the event pending at EOF (``terminated=False``) is included unless told not."""
    p = PySseParser()
    events = p.feed(body)
    tail = p.finish()
    if include_pending:
        events.extend(tail)
    return events, p.stats


def parse_sse(body: bytes) -> list[tuple[str, str]]:
    """WHATWG-dispatched ``(type, data)`` pairs of a whole body (the pending event at EOF is dropped)."""
    p = PySseParser()
    events = p.feed(body)
    p.finish()
    return [(e.type, e.data) for e in events]
