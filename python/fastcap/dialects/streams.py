"""The one place where dialects call the native stream decoders.

Dialect accumulators consume the simple objects defined here (`SseEvent`, `Frame`), never the
native dicts, so they can be tested with hand-made event lists. The decoders themselves live in
Rust (`fastcap._native.sse_column`, `fastcap._native.eventstream_column`); this module only adapts
their output and adds the exchange-level concerns:

- a body is split once into native columns (views into the body, tens of bytes an event), and
  its events (`SseEvents`) or frames (`Frames`) become Python objects a batch at a time as a
  dialect iterates them: a stream of a million events never holds a million objects (issue 11).
  With `events_to`, the dialects hand their per-event rows to a sink instead of keeping them;
- exact bodies with chunk arrival times (`ex.chunks`) → per-event times, from the chunks' offsets;
- bodies known only as text (mitmdump logs: `response_body is None`, `response_body_text` set):
  SSE is split from the text and the final event is flagged `terminator_unknown` (mitmdump strips
  trailing whitespace, so the blank line is always gone); EventStream frames are recovered by the
  readers' heuristic (`fastcap.formats.eventstream_text`, `docs/specs/eventstream.md` §9.1) and
  flagged `recovered_from_text`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from fastcap import _native
from fastcap.formats.eventstream_text import recover_eventstream_frames
from fastcap.model import Exchange

if TYPE_CHECKING:
    import polars as pl


@dataclass(slots=True)
class SseEvent:
    index: int
    type: str
    data: str
    last_event_id: str = ""
    byte_start: int | None = None
    byte_end: int | None = None
    terminated: bool = True
    is_done: bool = False
    t_first: float | None = None
    t_last: float | None = None


@dataclass(slots=True)
class Frame:
    offset: int | None
    headers: dict[str, Any]
    payload: bytes
    total_length: int | None = None
    message_type: str | None = None
    event_type: str | None = None
    exception_type: str | None = None
    t: float | None = None  # arrival of the chunk that completed the frame
    verified: bool = True  # False for frames recovered from a text log


@dataclass(slots=True)
class FrameStream:
    frames: Iterable[Frame]
    errors: list[str] = field(default_factory=list)
    truncated: dict[str, Any] | None = None
    corrupt: bool = False
    flags: set[str] = field(default_factory=set)  # recovered_from_text, truncated, corrupt
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------
# Where the dialects put a stream's events

EventSink = Callable[[str, str, float | None], None]
_EVENT_SINK: ContextVar[EventSink | None] = ContextVar("event_sink", default=None)


@contextmanager
def events_to(sink: EventSink) -> Iterator[None]:
    """While active, the dialects hand each stream event to `sink` (type, summary, arrival time)
    instead of keeping it in `ResponseInfo.events`, which stays empty (`event_counts` still counts
    every event): `fastcap decode` of a body of a million events keeps none of them (issue 11)."""
    token = _EVENT_SINK.set(sink)
    try:
        yield
    finally:
        _EVENT_SINK.reset(token)


def event_sink() -> EventSink | None:
    """The sink `events_to` set, or None: keep the events (`_util.add_event`)."""
    return _EVENT_SINK.get()


# --------------------------------------------------------------------------------------------------
# Small typed accessors for the native dicts.


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _float(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    return float(v) if isinstance(v, int | float) else None


def _str(v: Any) -> str | None:
    if isinstance(v, str):
        return v
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return None


# --------------------------------------------------------------------------------------------------
# SSE

# Events made into `SseEvent` objects at a time: all that a long stream holds as Python objects.
SSE_BATCH_EVENTS = 1 << 14

_SSE_COLUMNS = (
    "event_index",
    "event_type",
    "data",
    "last_event_id",
    "byte_start",
    "byte_end",
    "terminated",
    "is_done",
)


class SseEvents:
    """The events of one SSE body, split by the native splitter into columns (`_native.sse_column`:
    views into the body, about 60 bytes an event) and made into `SseEvent` objects one batch at a
    time as they are iterated, so a body of a million events never holds a million Python objects
    at once (issue 11). Iterable any number of times."""

    def __init__(self, body: bytes, chunks: list[tuple[int, float | None]] | None = None) -> None:
        import polars as pl  # not at module level: `fastcap decode` of a small body starts faster

        # (the columns are read by name: a `select` costs more than the split of a short body)
        self._table = pl.DataFrame(_native.sse_column([body], extract=False))
        self._clock = ChunkClock(chunks) if chunks else None

    def __len__(self) -> int:
        return self._table.height

    @property
    def final_terminated(self) -> bool:
        """False when the last event had no terminating blank line (it was pending at the end)."""
        return self._table.height == 0 or bool(self._table["terminated"][-1])

    def batches(self, size: int = SSE_BATCH_EVENTS) -> Iterator[list[SseEvent]]:
        """The events as `SseEvent` lists of at most `size`."""
        for part in self._table.iter_slices(size):
            columns = [part[c].to_list() for c in _SSE_COLUMNS]
            t_first: list[float | None]
            t_last: list[float | None]
            if self._clock is None:
                t_first = t_last = [None] * part.height
            else:
                # an event's first byte and its last (the end of its last line before the blank one)
                t_first = self._clock.times(columns[4])
                t_last = self._clock.times(
                    [max(end - 1, start) for start, end in zip(columns[4], columns[5], strict=True)]
                )
            yield [
                SseEvent(index, etype, data, last_id, start, end, terminated, done, first, last)
                for index, etype, data, last_id, start, end, terminated, done, first, last in zip(
                    *columns, t_first, t_last, strict=True
                )
            ]

    def __iter__(self) -> Iterator[SseEvent]:
        for batch in self.batches():
            yield from batch


class ChunkClock:
    """When each byte of a body arrived: the time of the chunk that held it (`chunks`: each chunk's
    end offset in the body and its arrival time; past the end, the last chunk's). The native
    decoder fed chunk by chunk times events the same way; from offsets, times also come out when
    some chunks have none."""

    def __init__(self, chunks: list[tuple[int, float | None]]) -> None:
        self._ends = [end for end, _ in chunks]
        self._times = [t for _, t in chunks]

    def times(self, offsets: list[int]) -> list[float | None]:
        last = len(self._times) - 1
        # the first chunk that ends after the offset
        return [self._times[min(bisect_right(self._ends, offset), last)] for offset in offsets]


@dataclass(slots=True)
class SseStream:
    events: Iterable[SseEvent]
    flags: set[str] = field(default_factory=set)  # unterminated_final_event, terminator_unknown
    notes: list[str] = field(default_factory=list)


def split_sse(body: bytes, *, chunks: list[tuple[int, float | None]] | None = None) -> SseStream:
    """Split one body as SSE; `chunks` (each chunk's end offset and arrival time) times the events."""
    events = SseEvents(body, chunks)
    stream = SseStream(events=events)
    if not events.final_terminated:
        stream.flags.add("unterminated_final_event")
        stream.notes.append("Final event had no terminating blank line.")
    return stream


def _chunk_bounds(ex: Exchange) -> list[tuple[int, float | None]]:
    """Each chunk's end offset in the body and its arrival time."""
    bounds: list[tuple[int, float | None]] = []
    end = 0
    for c in ex.chunks:
        end += len(c.data)
        bounds.append((end, c.t))
    return bounds


def sse_from_exchange(ex: Exchange) -> SseStream | None:
    """Split the response body as SSE; None when there is no body at all."""
    if ex.response_body is not None:
        return split_sse(
            ex.response_body, chunks=_chunk_bounds(ex) if ex.chunks and ex.response_body else None
        )
    if ex.response_body_text is not None:
        stream = split_sse(ex.response_body_text.encode("utf-8"))
        # mitmdump strips trailing whitespace: the final blank line is unknowable, not missing.
        if "unterminated_final_event" in stream.flags:
            stream.flags.discard("unterminated_final_event")
            stream.notes = [n for n in stream.notes if not n.startswith("Final event had no")]
        stream.flags.add("terminator_unknown")
        return stream
    return None


# --------------------------------------------------------------------------------------------------
# EventStream


def _frame_from_mapping(f: Mapping[str, Any], *, verified: bool = True) -> Frame:
    headers_raw = f.get("headers")
    headers: dict[str, Any] = dict(headers_raw) if isinstance(headers_raw, Mapping) else {}
    payload_raw = f.get("payload")
    if isinstance(payload_raw, bytes | bytearray | memoryview):
        payload = bytes(payload_raw)
    elif isinstance(payload_raw, str):
        payload = payload_raw.encode("utf-8")
    else:
        payload = b""
    return Frame(
        offset=_int(f.get("offset")),
        headers=headers,
        payload=payload,
        total_length=_int(f.get("total_length")),
        message_type=_str(f.get("message_type")) or _str(headers.get(":message-type")),
        event_type=_str(f.get("event_type")) or _str(headers.get(":event-type")),
        exception_type=_str(f.get("exception_type")) or _str(headers.get(":exception-type")),
        t=_float(f.get("t")),
        verified=verified,
    )


def frames_from_result(result: Mapping[str, Any]) -> FrameStream:
    raw_frames = result.get("frames")
    frames: Iterable[Frame] = (
        raw_frames
        if isinstance(raw_frames, Frames)
        else [
            _frame_from_mapping(f)
            for f in (raw_frames if isinstance(raw_frames, list) else [])
            if isinstance(f, Mapping)
        ]
    )
    errors: list[str] = []
    raw_errors = result.get("errors")
    for err in raw_errors if isinstance(raw_errors, list) else []:
        if isinstance(err, Mapping):
            kind = _str(err.get("kind")) or _str(err.get("error")) or "error"
            off = _int(err.get("offset"))
            msg = _str(err.get("message"))
            errors.append(
                f"{kind} at offset {off}" + (f": {msg}" if msg else "") if off is not None else kind
            )
        elif isinstance(err, str):
            errors.append(err)
    trunc_raw = result.get("truncated")
    truncated = dict(trunc_raw) if isinstance(trunc_raw, Mapping) else None
    stream = FrameStream(
        frames=frames, errors=errors, truncated=truncated, corrupt=bool(result.get("corrupt"))
    )
    if truncated is not None:
        stream.flags.add("truncated")
        stream.notes.append(
            f"Truncated last frame at offset {truncated.get('offset')}: "
            f"have {truncated.get('have')} of {truncated.get('need')} bytes."
        )
    if stream.corrupt:
        stream.flags.add("corrupt")
    for e in errors:
        stream.notes.append(f"Decoder error: {e}")
    return stream


# Frames made into `Frame` objects at a time (see `SseEvents`).
FRAME_BATCH = 1 << 14

_FRAME_COLUMNS = (
    "offset",
    "headers_json",
    "payload",
    "total_length",
    "message_type",
    "event_type",
    "exception_type",
)


class Frames:
    """The frames of one EventStream body, decoded by the native column decoder
    (`_native.eventstream_column`, resync mode) and made into `Frame` objects one batch at a time
    as they are iterated, like `SseEvents` (issue 11). Header values are as the column decoder
    renders them: a byte-array header is its base64 text."""

    def __init__(self, table: pl.DataFrame, chunks: list[tuple[int, float | None]] | None = None) -> None:
        self._table = table
        self._clock = ChunkClock(chunks) if chunks else None

    def __len__(self) -> int:
        return self._table.height

    def batches(self, size: int = FRAME_BATCH) -> Iterator[list[Frame]]:
        """The frames as `Frame` lists of at most `size`."""
        for part in self._table.iter_slices(size):
            columns = [part[c].to_list() for c in _FRAME_COLUMNS]
            if self._clock is None:
                times: list[float | None] = [None] * part.height
            else:  # a frame is complete when its last byte arrived
                times = self._clock.times(
                    [offset + total - 1 for offset, total in zip(columns[0], columns[3], strict=True)]
                )
            yield [
                Frame(offset, orjson.loads(headers), payload, total, mtype, etype, xtype, t)
                for offset, headers, payload, total, mtype, etype, xtype, t in zip(
                    *columns, times, strict=True
                )
            ]

    def __iter__(self) -> Iterator[Frame]:
        for batch in self.batches():
            yield from batch


def decode_frames(body: bytes, *, chunks: list[tuple[int, float | None]] | None = None) -> FrameStream:
    """Decode one body in resync mode: its frames (`Frames`, timed by `chunks`: each chunk's end
    offset and arrival time) and what was wrong with it."""
    import polars as pl

    events, bodies = _native.eventstream_column([body], mode="resync")
    summary = pl.DataFrame(bodies).row(0, named=True)
    return _frame_stream(Frames(pl.DataFrame(events), chunks), summary, body)


def _frame_stream(frames: Frames, summary: dict[str, Any], body: bytes) -> FrameStream:
    if summary["error_count"] > 1:
        # The summary names the first error only: the push decoder reports them all (its frames
        # are dropped a slice at a time: memory stays bounded on a body damaged many times).
        decoder = _native.EventStreamDecoder(mode="resync")
        for start in range(0, len(body), 1 << 20):
            decoder.feed(body[start : start + (1 << 20)])
        decoder.finish()
        errors = decoder.errors
    elif summary["error_count"] == 1:
        errors = [
            {
                "kind": summary["error_kind"],
                "offset": summary["error_offset"],
                "message": summary["error_message"],
            }
        ]
    else:
        errors = []
    truncated = (
        None
        if summary["truncated_offset"] is None
        else {k: summary[f"truncated_{k}"] for k in ("offset", "have", "need")}
    )
    return frames_from_result(
        {"frames": frames, "errors": errors, "truncated": truncated, "corrupt": summary["corrupt"]}
    )


def frames_from_text(text: str) -> FrameStream:
    """Frames recovered heuristically from a mitmdump text rendering (unverified)."""
    recovered = recover_eventstream_frames(text)
    stream = FrameStream(
        frames=[_frame_from_mapping(r, verified=r.get("verified") is True) for r in recovered]
    )
    for r in recovered:
        if isinstance(r.get("error"), str):
            stream.errors.append(f"recovered frame at {r.get('offset')}: {r['error']}")
    stream.flags.add("recovered_from_text")
    stream.notes.append("Events recovered from the mitmdump text log; frame checksums could not be verified.")
    return stream


def frames_from_exchange(ex: Exchange) -> FrameStream | None:
    if ex.response_body is not None:
        return decode_frames(ex.response_body, chunks=_chunk_bounds(ex) if ex.chunks else None)
    if ex.response_body_text is not None:
        return frames_from_text(ex.response_body_text)
    return None
