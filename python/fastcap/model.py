"""The normalised exchange model every reader produces and every report consumes.

One `Exchange` is one HTTP request/response pair (or one WebSocket connection with its
messages), whatever file it came from. Readers fill what their source knows and leave the rest
`None`; `fidelity` and `flags` say how far the bytes can be trusted.

Each body carries an explicit `BodyFidelity`, set by the reader that knows how its source stored
it (reports print it; they never infer it):

| value | the body held here is |
|---|---|
| `complete` | the exact bytes (content-encoding removed), or an exactly empty body |
| `json_value` | the exact JSON value but not its bytes (mitmdump's re-indenting JSON view; a parsed body in traffic.jsonl) |
| `from_text_log` | a text body as a text log printed it: characters exact; CR/LF and trailing blank lines lost |
| `recovered_from_text` | binary bytes recovered from a lossy text rendering (mitmdump raw view, U+FFFD replacement); EventStream frames parsed from it cannot be CRC-checked |
| `decoded_from_hex` | exact bytes parsed back from a mitmproxy 11 hex dump |
| `truncated` | only the start of the body (mitmproxy 11's 512-line cut at flow_detail=3, a stream the capture never saw end, `fastcap_max_body`) |
| `missing` | nothing: streamed and not stored, not logged at this flow_detail, no response |

`fidelity` is the older, coarser summary of the response alone (`exact`, `json_value`,
`text_log`, `missing`), kept for the dialects that branch on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Fidelity = Literal["exact", "json_value", "text_log", "missing"]
BodyFidelity = Literal[
    "complete",
    "json_value",
    "from_text_log",
    "recovered_from_text",
    "decoded_from_hex",
    "truncated",
    "missing",
]
BODY_FIDELITIES: tuple[BodyFidelity, ...] = (
    "complete",
    "json_value",
    "from_text_log",
    "recovered_from_text",
    "decoded_from_hex",
    "truncated",
    "missing",
)


@dataclass(slots=True)
class Chunk:
    """One piece of a streamed body as it arrived at the proxy."""

    t: float | None  # arrival time, Unix epoch seconds (None when the source has no chunk times)
    data: bytes


@dataclass(slots=True)
class WsMessage:
    from_client: bool
    is_text: bool
    data: bytes
    t: float | None


@dataclass(slots=True)
class Exchange:
    index: int  # 0-based order in the source (request start order where known)
    source: str  # "cbor", "mitmlog", "mitm", "har", "jsonl"
    method: str
    url: str
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    request_body: bytes | None = None
    http_version: str = "HTTP/1.1"
    status: int | None = None
    reason: str = ""
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    # Exact response body bytes when the source has them (content-encoding removed).
    response_body: bytes | None = None
    # Lossy text rendering (mitmdump logs) when exact bytes are unknown.
    response_body_text: str | None = None
    request_body_text: str | None = None
    # HTTP trailers (header fields after the body: gRPC status, checksums, server timing), where the
    # source keeps them: mitmproxy flows (.mitm, the live capture), fastcap CBOR and JSONL.
    request_trailers: list[tuple[str, str]] = field(default_factory=list)
    response_trailers: list[tuple[str, str]] = field(default_factory=list)
    # Streamed chunks with arrival times (fastcap captures); their concatenation == response_body.
    chunks: list[Chunk] = field(default_factory=list)
    started_at: float | None = None  # request start (epoch s)
    request_ended_at: float | None = None
    response_started_at: float | None = None  # response headers received
    ended_at: float | None = None  # response complete
    size_text: str | None = None  # mitmdump size string if the source printed one ("1.3k")
    fidelity: Fidelity = "exact"
    request_body_fidelity: BodyFidelity = "complete"
    response_body_fidelity: BodyFidelity = "complete"
    flags: set[str] = field(default_factory=set)  # truncated, lossy_binary, content_missing, cut_stream, ...
    error: str | None = None
    request_id: str | None = None
    session_id: str | None = None
    backend: str | None = None
    model: str | None = None
    websocket: list[WsMessage] | None = None

    def header(self, name: str, *, response: bool = False) -> str | None:
        """First header value with this name (case-insensitive)."""
        wanted = name.lower()
        for key, value in self.response_headers if response else self.request_headers:
            if key.lower() == wanted:
                return value
        return None

    @property
    def content_type(self) -> str:
        return (self.header("content-type", response=True) or "").split(";")[0].strip().lower()

    @property
    def request_content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    @property
    def response_size(self) -> int | None:
        if self.response_body is not None:
            return len(self.response_body)
        return None
