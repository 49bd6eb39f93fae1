"""The calls table as OpenTelemetry GenAI client spans (docs/export.md).

Attribute names follow the GenAI semantic conventions as published in
open-telemetry/semantic-conventions-genai (span `gen_ai.client.inference`, main of December 2026),
the continuation of semantic-conventions v1.37-v1.44's gen-ai spans: `gen_ai.provider.name` (not the
older `gen_ai.system`), `gen_ai.usage.cache_write.input_tokens` (not `cache_creation`),
`gen_ai.usage.reasoning.output_tokens` and `gen_ai.response.time_to_first_chunk`.

Spans are built with the SDK's `ReadableSpan` so that they carry the capture's own start and end
times, and encoded by the SDK's OTLP encoder; nothing of the protocol is written by hand. Ids are
derived from the capture and the call, so that exporting the same capture twice gives the same
spans (backends that deduplicate by id keep one copy).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
import polars as pl

from fastcap.errors import UsageError

if TYPE_CHECKING:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.sdk.trace import ReadableSpan

INSTALL_HINT = "OpenTelemetry export needs the otel extra: pip install 'fastcap[otel]'"
SCOPE_NAME = "fastcap"
BATCH_SPANS = 512  # spans per OTLP/HTTP request: far below the exporter's 64 MiB request limit
STREAM_KINDS = ("sse", "eventstream", "websocket")

# `gen_ai.provider.name` by fastcap dialect; the well-known values of the semconv registry.
PROVIDERS = {
    "anthropic": "anthropic",
    "openai_responses": "openai",
    "openai_chat": "openai",
    "gemini": "gcp.gemini",
    "bedrock": "aws.bedrock",
}
# Hosts that say more than the dialect: the same OpenAI wire format served by others.
HOST_PROVIDERS = {
    "aiplatform.googleapis.com": "gcp.vertex_ai",
    "generativelanguage.googleapis.com": "gcp.gemini",
    "api.deepseek.com": "deepseek",
    "api.groq.com": "groq",
    "api.mistral.ai": "mistral_ai",
    "api.x.ai": "x_ai",
    "api.perplexity.ai": "perplexity",
    "openai.azure.com": "azure.ai.openai",
}


def _require_otel() -> None:
    try:
        import opentelemetry.exporter.otlp.proto.common.trace_encoder
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError as exc:
        raise UsageError(INSTALL_HINT) from exc


def provider_name(dialect: str | None, host: str | None) -> str:
    """The semconv provider of a call: by its host where that is known, else by its dialect,
    else the dialect's own name (a custom value, as the semconv allows)."""
    host = (host or "").lower()
    for suffix, name in HOST_PROVIDERS.items():
        if host == suffix or host.endswith("." + suffix):
            return name
    if "bedrock" in host:
        return "aws.bedrock"
    return PROVIDERS.get(dialect or "", dialect or "_OTHER")


def operation_name(provider: str) -> str:
    # Gemini's generateContent is its own operation in the semconv; every other model API is chat.
    return "generate_content" if provider.startswith("gcp.") else "chat"


def _id(*parts: object, size: int) -> int:
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:size], "big") or 1  # all-zero ids are invalid


def nanoseconds(seconds: float) -> int:
    # Captures keep microseconds; rounding there first keeps float noise out of the nanoseconds.
    return round(seconds * 1e6) * 1000


def error_type(row: Mapping[str, Any]) -> str | None:
    """`error.type` of a failed call: the provider's error type (`overloaded_error`,
    `rate_limit_error`, ...), else the HTTP status, else fastcap's issue class; None when it went well."""
    status = row.get("status")
    error = row.get("error")
    failed = error is not None or (status is not None and status >= 400) or row.get("complete") is False
    if not failed:
        return None
    if error and ":" in error:
        head = error.split(":", 1)[0].strip()
        if head and " " not in head and head != "error":
            return head
    if status is not None and status >= 400:
        return str(status)
    return row.get("issue_class") or "_OTHER"


def _put(attrs: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        attrs[key] = value


def call_attributes(row: Mapping[str, Any]) -> dict[str, Any]:
    """The span attributes of one row of the calls table (docs/export.md has the mapping)."""
    provider = provider_name(row.get("dialect"), row.get("host"))
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": operation_name(provider),
        "gen_ai.provider.name": provider,
    }
    _put(attrs, "gen_ai.request.model", row.get("model"))
    _put(attrs, "gen_ai.conversation.id", row.get("conversation_id"))
    streamed = row.get("response_kind") in STREAM_KINDS
    if streamed:
        attrs["gen_ai.request.stream"] = True
        _put(attrs, "gen_ai.response.time_to_first_chunk", row.get("ttft_s"))
    err = error_type(row)
    if row.get("stop_reason"):
        attrs["gen_ai.response.finish_reasons"] = [row["stop_reason"]]
    elif err is not None:
        attrs["gen_ai.response.finish_reasons"] = [
            "error"
        ]  # the semconv's value for a generation that failed
    # The semconv's input_tokens includes cached tokens: fastcap's input_total (docs/metrics.md).
    _put(attrs, "gen_ai.usage.input_tokens", row.get("input_total"))
    _put(attrs, "gen_ai.usage.output_tokens", row.get("output_total"))
    _put(attrs, "gen_ai.usage.cache_read.input_tokens", row.get("cache_read"))
    _put(attrs, "gen_ai.usage.cache_write.input_tokens", row.get("cache_write"))
    _put(attrs, "gen_ai.usage.reasoning.output_tokens", row.get("reasoning_tokens"))
    _put(attrs, "error.type", err)
    _put(attrs, "server.address", row.get("host") or None)
    _put(attrs, "http.request.method", row.get("method"))
    _put(attrs, "http.response.status_code", row.get("status"))
    _put(attrs, "url.path", row.get("path"))
    # fastcap's own measurements, under its own namespace.
    _put(attrs, "fastcap.call.index", row.get("index"))
    _put(attrs, "fastcap.api", row.get("api_name"))
    _put(attrs, "fastcap.ttfb_s", row.get("ttfb_s"))
    _put(attrs, "fastcap.issue_class", row.get("issue_class"))
    _put(attrs, "fastcap.agent_id", row.get("agent_id"))
    _put(attrs, "fastcap.parent_agent_id", row.get("parent_agent_id"))
    _put(attrs, "fastcap.session_id", row.get("session_id"))
    _put(attrs, "fastcap.credits", row.get("credits"))
    _put(attrs, "fastcap.retry_after_s", row.get("retry_after_s"))
    _put(attrs, "fastcap.cost_usd", row.get("cost_usd"))  # present once the table has cost columns
    if row.get("tool_calls"):
        attrs["fastcap.tool_calls"] = list(row["tool_calls"])
    return attrs


@dataclass
class Trace:
    """The calls of one conversation of one capture; without a conversation id, of one session (the
    `session_id` column, as `fastcap view` groups them); else a capture's remaining calls."""

    capture: str
    conversation: str | None
    session: str | None
    source: str
    agent: str | None
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, str]:
        if self.conversation is not None:
            return (self.capture, "conversation", self.conversation)
        return (self.capture, "session", self.session or "")

    @property
    def trace_id(self) -> int:
        return _id("trace", *self.key, size=16)

    @property
    def title(self) -> str:
        if self.conversation is not None:
            return f"conversation {self.conversation}"
        return f"session {self.session}" if self.session else "calls without a conversation"


@dataclass
class Exported:
    spans: list[ReadableSpan]
    calls: int  # call spans (the rest are the traces' root spans)
    skipped_untimed: int  # calls without a start time cannot be placed on a timeline
    skipped_other: int  # not model calls (count_tokens, telemetry, auth, ...)
    with_content: int = 0  # call spans that carry what `--include-content` read from the bodies


def group_traces(calls: pl.DataFrame) -> tuple[list[Trace], int, int]:
    """Model calls with a start time, one trace per conversation (`Trace`), in order of their first call."""
    traces: dict[tuple[str, str, str], Trace] = {}
    untimed = other = 0
    for row in calls.iter_rows(named=True):
        if not row.get("is_model_call"):
            other += 1
            continue
        if row.get("started_at") is None:
            untimed += 1
            continue
        capture = str(row.get("capture_id") or row.get("source_path") or "capture")
        trace = Trace(
            capture,
            row.get("conversation_id"),
            row.get("session_id"),
            str(row.get("source_path") or ""),
            row.get("agent"),
        )
        trace = traces.setdefault(trace.key, trace)
        trace.rows.append(row)
    return list(traces.values()), untimed, other


@dataclass
class CallContent:
    """What the bodies add to a call's span (`export.content`): events and attributes."""

    events: list[Any] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)


def build_spans(
    calls: pl.DataFrame, *, contents: Mapping[tuple[str, int], CallContent] | None = None
) -> Exported:
    """Spans for the model calls of `calls` (a table `dataset.calls_for_inputs` returns): per trace a
    root span over its calls, and a CLIENT span per call. `contents` maps (capture_id, index) to
    what `--include-content` adds from the bodies."""
    _require_otel()
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

    from fastcap import _native

    scope = InstrumentationScope(SCOPE_NAME, _native.__version__)
    traces, untimed, other = group_traces(calls)
    resources: dict[str, Resource] = {}
    spans: list[ReadableSpan] = []
    n_calls = with_content = 0
    for tr in traces:
        resource = resources.get(tr.capture)
        if resource is None:
            attrs = {"service.name": tr.agent or "coding-agent", "fastcap.capture.id": tr.capture}
            if tr.source:
                attrs["fastcap.capture.source"] = os.path.basename(tr.source)
            resource = resources[tr.capture] = Resource(attrs)
        trace_id = tr.trace_id
        root_ctx = SpanContext(trace_id, _id("root", *tr.key, size=8), False, TraceFlags(1))
        starts, ends = [], []
        for row in tr.rows:
            start = nanoseconds(row["started_at"])
            end_s = row.get("ended_at")
            if end_s is None and row.get("duration_s") is not None:
                end_s = row["started_at"] + row["duration_s"]
            end = max(start, nanoseconds(end_s)) if end_s is not None else start
            starts.append(start)
            ends.append(end)
            attrs = call_attributes(row)
            err = attrs.get("error.type")
            status = (
                Status(StatusCode.ERROR, (row.get("error") or f"error: {err}")[:500])
                if err is not None
                else Status(StatusCode.UNSET)
            )
            ctx = SpanContext(trace_id, _id("call", tr.capture, row["index"], size=8), False, TraceFlags(1))
            name = f"{attrs['gen_ai.operation.name']} {row.get('model') or attrs['gen_ai.provider.name']}"
            content = (contents or {}).get((tr.capture, row["index"]))
            if content is not None:
                attrs.update(content.attributes)
                with_content += 1
            spans.append(
                ReadableSpan(
                    name,
                    context=ctx,
                    parent=root_ctx,
                    resource=resource,
                    attributes=attrs,
                    events=content.events if content is not None else (),
                    kind=SpanKind.CLIENT,
                    status=status,
                    start_time=start,
                    end_time=end,
                    instrumentation_scope=scope,
                )
            )
            n_calls += 1
        root_attrs: dict[str, Any] = {"fastcap.calls": len(tr.rows)}
        _put(root_attrs, "gen_ai.conversation.id", tr.conversation)
        if tr.conversation is None:
            _put(root_attrs, "fastcap.session_id", tr.session)
        spans.append(
            ReadableSpan(
                f"fastcap {tr.title}",
                context=root_ctx,
                resource=resource,
                attributes=root_attrs,
                kind=SpanKind.INTERNAL,
                start_time=min(starts),
                end_time=max(ends),
                instrumentation_scope=scope,
            )
        )
    return Exported(spans, n_calls, untimed, other, with_content)


def export_request(spans: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
    """The OTLP ExportTraceServiceRequest of `spans` (the SDK's encoder)."""
    _require_otel()
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    return encode_spans(spans)


_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def _hex_ids(node: Any) -> None:
    """Protobuf's JSON mapping writes bytes as base64; OTLP/JSON wants trace and span ids as hex."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_FIELDS and isinstance(value, str):
                node[key] = base64.b64decode(value).hex()
            else:
                _hex_ids(value)
    elif isinstance(node, list):
        for item in node:
            _hex_ids(item)


def otlp_json(spans: Sequence[ReadableSpan]) -> bytes:
    """The OTLP/JSON encoding of `spans` (the OTLP specification's JSON Protobuf encoding: lowerCamelCase
    names, enums as integers, trace and span ids as hex), one request per file."""
    from google.protobuf.json_format import MessageToDict

    message = MessageToDict(export_request(spans), use_integers_for_enums=True)
    _hex_ids(message)
    return orjson.dumps(message) + b"\n"


class ExportError(UsageError):
    """The endpoint did not take the spans (one line, the exporter's own reason)."""


class _Last(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _quiet_exporter_logs() -> Iterator[_Last]:
    """The exporter logs its failures (with retries) instead of raising: keep them for our one-line
    error rather than letting them reach the terminal."""
    logger = logging.getLogger("opentelemetry.exporter.otlp")
    handler = _Last()
    old = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = old


def traces_url(endpoint: str) -> str:
    """The traces URL of an OTLP/HTTP endpoint, as the SDK reads OTEL_EXPORTER_OTLP_ENDPOINT: a base
    URL gets `/v1/traces` (`http://host:4318` → `http://host:4318/v1/traces`, Langfuse's
    `.../api/public/otel` → `.../api/public/otel/v1/traces`); a URL ending in /v1/traces is kept."""
    from urllib.parse import urlsplit

    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"--otlp {endpoint}: give an http:// or https:// URL, e.g. http://127.0.0.1:4318")
    if parts.path.rstrip("/").endswith("/v1/traces"):
        return endpoint
    return endpoint.rstrip("/") + "/v1/traces"


def send(
    spans: Sequence[ReadableSpan],
    endpoint: str,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> int:
    """POST `spans` to an OTLP/HTTP endpoint (protobuf) in batches; the number of requests sent.
    Raises ExportError with the exporter's reason when a batch is refused or the endpoint is unreachable."""
    _require_otel()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    url = traces_url(endpoint)
    exporter = OTLPSpanExporter(endpoint=url, headers=dict(headers or {}), timeout=timeout)
    sent = 0
    try:
        with _quiet_exporter_logs() as log:
            for at in range(0, len(spans), BATCH_SPANS):
                if exporter.export(spans[at : at + BATCH_SPANS]) is not SpanExportResult.SUCCESS:
                    reason = _reason(log.messages)
                    raise ExportError(f"could not export spans to {url}: {reason}")
                sent += 1
    finally:
        exporter.shutdown()
    return sent


def _reason(messages: list[str]) -> str:
    """The most telling of the exporter's log lines (it logs each retry), as one short line."""
    text = " ".join(" ".join(messages).split())
    for marker, said in (
        ("Connection refused", "connection refused"),
        ("Name or service not known", "unknown host"),
        ("Failed to resolve", "unknown host"),
        ("timed out", "timed out"),
        ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted"),
    ):
        if marker in text:
            return said
    last = " ".join((messages[-1] if messages else "").split())
    return last[:300] or "the endpoint refused the request"
