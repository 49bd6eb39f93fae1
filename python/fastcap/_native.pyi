# Type stubs for the native module, kept honest by `python -m mypy.stubtest fastcap._native`.
# Each section is owned by one area; edit only your section.
import os
from collections.abc import Sequence
from typing import Any, Final, Literal
from typing import final as _final

__version__: Final[str]
build_profile: Final[str]

# --- begin errors ---
class FormatError(ValueError):
    kind: str
    offset: int
    path: str | None

class CaptureFormatError(FormatError): ...
class EventStreamError(FormatError): ...
class SseError(FormatError): ...
class MitmLogError(FormatError): ...
class FlowFileError(FormatError): ...

# --- end errors ---

# --- begin arrow ---
@_final
class ArrowTable:
    @property
    def num_rows(self) -> int: ...
    @property
    def column_names(self) -> list[str]: ...
    def __len__(self) -> int: ...
    def select(self, columns: list[str]) -> ArrowTable: ...
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...

# --- end arrow ---

# --- begin cbor ---
@_final
class CaptureReader:
    def __new__(
        cls,
        path: str | os.PathLike[str],
        *,
        recover: bool = False,
        batch_rows: int = 16384,
        decompress: bool = True,
        decompress_dirs: Sequence[int] | None = None,
        max_entry_inflated: int = 268435456,
        max_inflate_ratio: int = 32,
    ) -> CaptureReader: ...
    @property
    def path(self) -> str: ...
    @property
    def header(self) -> Any: ...
    @property
    def position(self) -> int: ...
    @property
    def size(self) -> int: ...
    @property
    def diagnostics(self) -> list[dict[str, Any]]: ...
    def next_batch(self) -> ArrowTable | None: ...
    def next_round(self, span_bytes: int = 67108864) -> ArrowTable | None: ...
    def read_all(self) -> ArrowTable: ...

@_final
class BodyAssembler:
    def __new__(cls, direction: int = 3) -> BodyAssembler: ...
    # Both return a table of columns request_id (Utf8View), body (BinaryView), chunk_ends
    # (List[UInt64]), chunk_times (List[Float64]), ended (Boolean).
    def feed(self, table: ArrowTable) -> ArrowTable: ...
    def close(self) -> ArrowTable: ...

def capture_meta_keys() -> list[tuple[str, str, str]]: ...
def encode_capture_header(session_id: str, created_at: float, metadata: Any = None) -> bytes: ...
def encode_capture_entry(
    ts: float,
    direction: int,
    seq: int,
    data: bytes,
    meta: dict[str, Any] | None = None,
    compress: bool = True,
) -> bytes: ...

# --- end cbor ---

# --- begin eventstream ---

def decode_eventstream(
    body: bytes,
    *,
    mode: Literal["strict", "resync"] | str = "strict",
    max_headers_len: int = 131072,
    max_payload_len: int = 25165824,
) -> dict[str, Any]: ...
def check_eventstream(
    body: bytes, *, max_headers_len: int = 131072, max_payload_len: int = 25165824
) -> int: ...
def eventstream_column(
    bodies: Sequence[bytes | None] | object,
    *,
    mode: Literal["strict", "resync"] | str = "strict",
    max_headers_len: int = 131072,
    max_payload_len: int = 25165824,
    column: str | None = None,
) -> tuple[ArrowTable, ArrowTable]:
    """Decode many bodies: a sequence of ``bytes | None``, an Arrow binary/string array
    (``__arrow_c_array__``) or an Arrow stream (``__arrow_c_stream__``: Polars Series/DataFrame,
    pyarrow ChunkedArray/Table, ArrowTable); a table contributes ``column`` (or its only column).
    Returns ``(events, bodies)``; ``payload`` (binary_view) points into the input bodies."""

@_final
class EventStreamDecoder:
    """Push decoder. ``mode="strict"`` raises EventStreamError on bad data (and ``finish`` on a
    truncated tail); ``mode="resync"`` recovers like ``decode_eventstream(mode="resync")`` in any
    chunking and reports through ``errors`` / ``truncated`` / ``corrupt`` instead of raising."""

    def __new__(
        cls,
        *,
        mode: Literal["strict", "resync"] | str = "strict",
        max_headers_len: int = 131072,
        max_payload_len: int = 25165824,
    ) -> EventStreamDecoder: ...
    def feed(self, data: bytes) -> list[dict[str, Any]]: ...
    def finish(self) -> None: ...
    @property
    def mode(self) -> str: ...
    @property
    def errors(self) -> list[dict[str, Any]]: ...
    @property
    def truncated(self) -> dict[str, int] | None: ...
    @property
    def corrupt(self) -> bool: ...
    @property
    def offset(self) -> int: ...
    @property
    def pending(self) -> int: ...
    @property
    def frames(self) -> int: ...

# --- end eventstream ---

# --- begin sse ---

def sse_events(
    body: bytes,
    *,
    chunk_sizes: Sequence[int] | None = None,
    chunk_times: Sequence[float] | None = None,
) -> dict[str, Any]:
    """{"events": [event dicts], "stats": stats dict}; see SseDecoder for the keys."""

@_final
class SseDecoder:
    """Incremental WHATWG SSE decoder. Event dicts: index, type, data, last_event_id, byte_start,
    byte_end, terminated, is_done, t_first_byte, t_last_byte."""

    def __init__(self) -> None: ...
    def feed(self, data: bytes, t: float | None = None) -> list[dict[str, Any]]: ...
    def finish(self) -> list[dict[str, Any]]: ...
    @property
    def stats(self) -> dict[str, Any]: ...
    @property
    def finished(self) -> bool: ...

def sse_column(
    bodies: Sequence[bytes | None] | object, *, extract: bool = True, column: str | None = None
) -> ArrowTable:
    """One events table for many bodies (same inputs as ``eventstream_column``). ``event_type``,
    ``data`` and ``last_event_id`` are string_view columns pointing into the input bodies."""

# --- end sse ---

# --- begin mitmlog ---
MITMLOG_BODY_FLAGS: dict[str, int]

def parse_mitmlog(path: str | os.PathLike[str]) -> tuple[ArrowTable, dict[str, Any]]: ...
def parse_mitmlog_bytes(data: bytes) -> tuple[ArrowTable, dict[str, Any]]: ...

# --- end mitmlog ---

# --- begin har ---

def har_entries(path: str | os.PathLike[str]) -> tuple[str, list[tuple[Any, ...]]] | None:
    """The entries of a HAR file mitmproxy wrote (or one without a creator), the fast path of
    ``fastcap.formats.har``: ``(creator name, entries)``, each entry a 10-tuple ``(method, url,
    http version, request headers [(name, value)], request body: bytes | None, request body kind,
    request bodySize declared: bool, response, startedDateTime: str | None, timings)`` or a 2-tuple
    ``(start, end)``: the byte range of an entry the caller parses itself. Body kinds: 0 absent,
    1 exact bytes (text in the charset mitmproxy inferred), 2 text not in that charset, as UTF-8.
    ``response``: ``None`` (no status in 1-999) or ``(status, status text, headers, body, body
    kind, content.size declared: bool)``; ``timings``: ``None`` or ``(send, wait, receive)`` in ms,
    each ``None`` when not a number. ``None`` when the whole file is the caller's (it does not
    parse, a browser wrote it, or it is empty)."""

# --- end har ---

# --- begin jsonl ---

def jsonl_records(path: str | os.PathLike[str]) -> list[tuple[Any, ...]]:
    """The records of a traffic.jsonl file in file order, blank lines skipped (the fast path of
    ``fastcap.formats.jsonl``). Each line is a 10-tuple ``(line number, byte offset, method, url,
    request headers [(name, value)], request body: bytes | None, request body kind, response,
    timestamp: float | None, extension)``, or a 4-tuple ``(line number, byte offset, start, end)``
    for a line the caller reads itself (faults and the rarer shapes). Body kinds: 0 absent, 1 the
    exact bytes of a text body, 2 a JSON value as orjson writes it, 3 a JSON value to write again.
    ``response``: ``None`` or ``(status: int | None, headers, body, body kind)``. ``extension``:
    ``None`` or ``(started_at, request_ended_at, response_started_at, ended_at, session_id,
    request_id, backend, model, error, request_body_fidelity, response_body_fidelity, chunk times,
    chunk bytes)``, the last two lists or ``None``."""

# --- end jsonl ---

# --- begin request ---

def request_fields(payloads: Sequence[bytes | None] | object, *, column: str | None = None) -> ArrowTable:
    """One row per request payload (an HTTP/1.x request with its head, or the JSON body alone;
    same inputs as ``sse_column``; ``None`` gives a row of nulls). Utf8 columns ``model``,
    ``user_id``, ``conversation_id_body``, ``prompt_cache_key``, ``previous_response_id``,
    ``session_header``, ``amz_target``, ``agent_id``, ``parent_agent_id`` (Claude Code's sub-agent
    headers) and Boolean ``stream``, null when absent. A body under a
    ``content-encoding`` is not decompressed (its body columns are null unless it is plain JSON)."""

# --- end request ---

# --- begin literals ---

@_final
class LiteralSet:
    """A fixed set of ASCII literals (lower case by convention) searched for in one Aho-Corasick
    pass, ASCII case-insensitively; a ``str`` is searched as its UTF-8."""

    def __new__(cls, literals: list[str]) -> LiteralSet: ...
    def present(self, text: str | bytes) -> list[int]:
        """The indices of the literals that occur in ``text``, ascending, each once."""
    def any_in(self, text: str | bytes) -> bool:
        """Whether any literal occurs in ``text`` (stops at the first)."""
    def __len__(self) -> int: ...

def b64_candidate_runs(data: bytes, first: bool = False) -> list[tuple[int, int]]:
    """(start, end) of the base64 runs (24+ characters of the standard or URL-safe alphabet) of
    ``data`` whose decoding from one of their first four characters may hold a secret (ASCII and
    20+ bytes, or 20 printable bytes in a row), in order; with ``first``, at most one."""

def b64_decoded_texts(run: bytes) -> list[str]:
    """The texts one base64 run decodes to from each of its first four characters where a secret
    may hide: the whole decoding when ASCII and 20+ bytes, else its runs of 20+ printable bytes
    joined by ``\n``. Bytes outside the alphabet (padding) are skipped."""

# --- end literals ---

# --- begin stream_events ---

def eventstream_events(bodies: Sequence[bytes | None] | object, *, column: str | None = None) -> ArrowTable:
    """The frames of AWS EventStream bodies (kiro, Bedrock Converse / InvokeModel streams) as an
    events table with ``sse_column``'s columns and then Float64 ``credits`` (kiro ``meteringEvent``
    credits), one row per frame (resync decoding), so ``fastcap.analysis.content.aggregate_events``
    reads both. Same inputs as ``sse_column``."""

# --- end stream_events ---
