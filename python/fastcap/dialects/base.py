"""The contract between dialects (one module per model API) and everything that consumes them.

A dialect (`Dialect`) recognises its traffic and turns one `Exchange` into a `CallAnalysis`: what
was asked (`RequestInfo`) and what the model said (`ResponseInfo`). Reports, `fastcap analyze` and
`fastcap inspect --analyze` only ever see these types, never provider JSON. `dialects/registry.py`
holds the one list of dialects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from fastcap.model import Exchange


@dataclass(slots=True)
class Usage:
    """Normalised token usage (docs/specs/sse.md §9). `raw` keeps the provider's object verbatim."""

    input_total: int | None = None
    input_uncached: int | None = None
    cache_read: int | None = None
    cache_write: int | None = None
    output_total: int | None = None
    reasoning: int | None = None
    total: int | None = None
    raw: dict[str, Any] | None = None


@dataclass(slots=True)
class ToolCall:
    id: str | None
    name: str
    arguments_raw: str
    arguments: Any | None  # parsed JSON, or None when arguments_raw is not complete JSON
    arguments_json_valid: bool
    index: int
    incomplete: bool = False  # stream ended before the call was closed (kiro: no `stop`)
    # Additions (dialects engineer): block/item type ("tool_use", "server_tool_use", "function_call",
    # "toolUseEvent", ...) and provider extras (Gemini thought-signature length, Responses item id, ...).
    type: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ErrorInfo:
    type: str | None  # provider error type/code/status, e.g. "overloaded_error", "ThrottlingException"
    message: str | None
    source: str  # "http_status", "body", "in_stream", "decoder"


@dataclass(slots=True)
class StreamEvent:
    """One row of the per-call events table (docs/specs/reports.md §2.5/§2.6)."""

    index: int  # 1-based
    type: str  # display type: SSE event name, JSON type, "message", "[DONE]", or EventStream :event-type
    summary: str  # the report's Summary cell text (not yet cell-escaped)
    t: float | None = None  # arrival time of the chunk that completed this event, if known


@dataclass(slots=True)
class MessageInfo:
    role: str
    type: str  # e.g. "text", "text+tool_use", "function_call_output", "tool_result"
    preview: str  # text preview (full text; renderers cut it)
    chars: int


@dataclass(slots=True)
class RequestInfo:
    model: str | None = None
    stream: bool | None = None
    system_text: str | None = None
    messages: list[MessageInfo] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    tool_types: list[str] = field(default_factory=list)
    thinking: str | None = None  # e.g. "enabled (budget 16000)", "reasoning effort high"; None = off/unknown
    thinking_enabled: bool = False
    max_tokens: int | None = None
    config: dict[str, Any] = field(default_factory=dict)  # other settings worth showing (tool_choice, ...)
    conversation_id: str | None = None  # conversationId / metadata.user_id session / session_id / ...
    continuation_id: str | None = None  # kiro agentContinuationId, Responses previous_response_id
    turn_kind: str | None = None  # "user_message" | "tool_result"
    user_text: str | None = None
    history_length: int | None = None  # number of input messages (kiro: len(history))
    message_hashes: list[str] = field(
        default_factory=list
    )  # per normalised input message, for prefix chaining
    json: Any | None = None  # the parsed request body (unredacted; redact before rendering)
    # Additions (dialects engineer):
    tool_results: list[dict[str, Any]] = field(default_factory=list)  # {id, status, chars} of the turn
    thinking_tool: bool = False  # kiro: a tool named "thinking" is offered (older kiro-cli)
    # Provider beta features the request opts into (Anthropic `anthropic-beta` header or
    # `anthropic_beta` body field), e.g. "context-1m-2025-08-07", which changes the context window.
    betas: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # origin, trigger, profile_arn, project, ...


@dataclass(slots=True)
class ResponseInfo:
    kind: str = "empty"  # "sse", "eventstream", "json", "text", "binary", "websocket", "empty", "missing"
    message_id: str | None = None
    model: str | None = None
    text: str = ""
    reasoning_text: str = ""
    reasoning_signature_len: int | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    stop_reason: str | None = None
    usage: Usage | None = None
    errors: list[ErrorInfo] = field(default_factory=list)
    events: list[StreamEvent] = field(default_factory=list)
    event_counts: dict[str, int] = field(default_factory=dict)
    complete: bool | None = None  # provider terminal event seen (None: not a stream)
    context_usage_pct: list[float] = field(default_factory=list)  # kiro contextUsageEvent values
    credits: dict[str, float] = field(default_factory=dict)  # kiro meteringEvent usage summed per unit
    ttft: float | None = None  # seconds from request end to the chunk with the first content delta
    first_content_t: float | None = None
    last_content_t: float | None = None
    notes: list[str] = field(default_factory=list)  # e.g. "Final event had no terminating blank line."
    flags: set[str] = field(
        default_factory=set
    )  # unterminated_final_event, recovered_from_text, truncated, ...
    json: Any | None = None  # parsed non-stream JSON body (unredacted)
    # Additions (dialects engineer):
    refusal: str = ""  # Chat `delta.refusal` / Responses refusal text
    usage_source: str | None = None  # where usage came from, e.g. "message_delta", "metadataEvent"
    extra: dict[str, Any] = field(default_factory=dict)  # provider extras (chat choices, seq gaps, ...)


@dataclass(slots=True)
class CallAnalysis:
    exchange: Exchange
    dialect: str  # module name, e.g. "anthropic", "kiro"
    api_name: (
        str  # docs/specs/reports.md §2.3, e.g. "Anthropic.Messages", "AmazonCodeWhispererService.GetProfile"
    )
    is_model_call: bool
    request: RequestInfo
    response: ResponseInfo
    issue_class: str | None = (
        None  # "rate_limit", "server_error", "client_error", "stream_error", "cut_stream", None
    )

    @property
    def service(self) -> str:
        return self.api_name.rsplit(".", 1)[0]

    @property
    def operation(self) -> str:
        return self.api_name.rsplit(".", 1)[-1]


class Dialect(Protocol):
    """One model API: how to recognise its traffic and how to read its request and response.

    A dialect is one class in `dialects/<name>.py`, subclassing this protocol, with one instance in
    `registry.DIALECTS`. That tuple is the only list of dialects: the calls table, reports, inspect,
    `fastcap decode` and the capture's `be` label all ask the registry which API an exchange is.
    """

    # The one spelling of the dialect: `CallAnalysis.dialect`, the calls table's `dialect` column
    # and the `fastcap decode --api` value, e.g. "openai_chat".
    name: ClassVar[str]
    # The `be` label the capture addon writes for a request of this API on a host no target lists
    # (e.g. "openai" for both OpenAI dialects); "" writes the host instead.
    backend: ClassVar[str]
    # A URL this dialect matches and names: `fastcap decode` analyses a bare body as a POST to it.
    example_url: ClassVar[str]

    def matches(self, ex: Exchange) -> bool:
        """True when the exchange is this API (URL host or path, headers); the registry's order
        decides between two dialects that both match."""
        ...

    def parse_request(self, ex: Exchange) -> RequestInfo:
        """What was asked: model, messages, system text, tools, settings."""
        ...

    def parse_response(self, ex: Exchange) -> ResponseInfo:
        """What the model said: text, reasoning, tool calls, usage, errors, events, timing."""
        ...
