"""The one place where dialects call the native stream decoders.

Dialect accumulators consume the simple objects defined here (`SseEvent`, `Frame`), never the
native dicts, so they can be tested with hand-made event lists. The decoders themselves live in
Rust (`fastcap._native.sse_events`, `fastcap._native.decode_eventstream`); this module only adapts
their output and adds the exchange-level concerns:

- exact bodies with chunk arrival times (`ex.chunks`) → per-event times;
- bodies known only as text (mitmdump logs: `response_body is None`, `response_body_text` set):
  SSE is split from the text and the final event is flagged `terminator_unknown` (mitmdump strips
  trailing whitespace, so the blank line is always gone); EventStream frames are recovered by the
  readers' heuristic (`fastcap.formats.eventstream_text`, `docs/specs/eventstream.md` §9.1) and
  flagged `recovered_from_text`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastcap import _native
from fastcap.formats.eventstream_text import recover_eventstream_frames
from fastcap.model import Exchange


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
class SseStream:
    events: list[SseEvent]
    stats: dict[str, Any] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)  # unterminated_final_event, terminator_unknown
    notes: list[str] = field(default_factory=list)


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
    frames: list[Frame]
    errors: list[str] = field(default_factory=list)
    truncated: dict[str, Any] | None = None
    corrupt: bool = False
    flags: set[str] = field(default_factory=set)  # recovered_from_text, truncated, corrupt
    notes: list[str] = field(default_factory=list)


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


def sse_events_from_result(result: Mapping[str, Any]) -> SseStream:
    events: list[SseEvent] = []
    raw_events = result.get("events")
    for i, e in enumerate(raw_events if isinstance(raw_events, list) else []):
        if not isinstance(e, Mapping):
            continue
        data = _str(e.get("data")) or ""
        idx = _int(e.get("index"))
        events.append(
            SseEvent(
                index=idx if idx is not None else i,
                type=_str(e.get("type")) or "message",
                data=data,
                last_event_id=_str(e.get("last_event_id")) or "",
                byte_start=_int(e.get("byte_start")),
                byte_end=_int(e.get("byte_end")),
                terminated=e.get("terminated") is not False,
                is_done=bool(e.get("is_done")) or data == "[DONE]",
                t_first=_float(e.get("t_first_byte")),
                t_last=_float(e.get("t_last_byte")),
            )
        )
    stats = result.get("stats")
    stream = SseStream(events=events, stats=dict(stats) if isinstance(stats, Mapping) else {})
    if any(not ev.terminated for ev in events):
        stream.flags.add("unterminated_final_event")
        stream.notes.append("Final event had no terminating blank line.")
    return stream


def split_sse(
    body: bytes, *, chunk_sizes: list[int] | None = None, chunk_times: list[float] | None = None
) -> SseStream:
    return sse_events_from_result(_native.sse_events(body, chunk_sizes=chunk_sizes, chunk_times=chunk_times))


def _chunk_args(ex: Exchange) -> tuple[list[int] | None, list[float] | None]:
    if not ex.chunks or ex.response_body is None:
        return None, None
    if sum(len(c.data) for c in ex.chunks) != len(ex.response_body):
        return None, None
    if any(c.t is None for c in ex.chunks):
        return None, None
    return [len(c.data) for c in ex.chunks], [float(c.t) for c in ex.chunks if c.t is not None]


def sse_from_exchange(ex: Exchange) -> SseStream | None:
    """Split the response body as SSE; None when there is no body at all."""
    if ex.response_body is not None:
        sizes, times = _chunk_args(ex)
        stream = split_sse(ex.response_body, chunk_sizes=sizes, chunk_times=times)
        if ex.chunks and ex.response_body:
            # fills only times the decoder did not provide (e.g. partial chunk timestamps)
            _assign_times_by_offset(stream.events, ex)
        return stream
    if ex.response_body_text is not None:
        stream = split_sse(ex.response_body_text.encode("utf-8"))
        # mitmdump strips trailing whitespace: the final blank line is unknowable, not missing.
        if "unterminated_final_event" in stream.flags:
            stream.flags.discard("unterminated_final_event")
            stream.notes = [n for n in stream.notes if not n.startswith("Final event had no")]
        stream.flags.add("terminator_unknown")
        return stream
    return None


def _assign_times_by_offset(events: Iterable[SseEvent], ex: Exchange) -> None:
    """Chunk times from offsets when the native splitter was not given them (partial timestamps)."""
    bounds: list[tuple[int, float | None]] = []
    end = 0
    for c in ex.chunks:
        end += len(c.data)
        bounds.append((end, c.t))
    for ev in events:
        if ev.byte_start is None or ev.byte_end is None:
            continue
        if ev.t_first is None:
            ev.t_first = _time_at(bounds, ev.byte_start)
        if ev.t_last is None:
            ev.t_last = _time_at(bounds, max(ev.byte_end - 1, ev.byte_start))
    return None


def _time_at(bounds: list[tuple[int, float | None]], offset: int) -> float | None:
    for end, t in bounds:
        if offset < end:
            return t
    return bounds[-1][1] if bounds else None


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
    frames = [
        _frame_from_mapping(f)
        for f in (raw_frames if isinstance(raw_frames, list) else [])
        if isinstance(f, Mapping)
    ]
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


def decode_frames(body: bytes, *, mode: str = "resync") -> FrameStream:
    return frames_from_result(_native.decode_eventstream(body, mode=mode))


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
        stream = decode_frames(ex.response_body)
        if ex.chunks:
            bounds: list[tuple[int, float | None]] = []
            end = 0
            for c in ex.chunks:
                end += len(c.data)
                bounds.append((end, c.t))
            for fr in stream.frames:
                if fr.t is None and fr.offset is not None:
                    # the frame is complete when its last byte arrived
                    last = fr.offset + (fr.total_length - 1 if fr.total_length else len(fr.payload))
                    fr.t = _time_at(bounds, last)
        return stream
    if ex.response_body_text is not None:
        return frames_from_text(ex.response_body_text)
    return None
