"""What `fastcap export --include-content` attaches to each call's span from its bodies: the system
instructions, the input messages and the reply, redacted, as one
`gen_ai.client.inference.operation.details` event in the shapes of the GenAI semantic conventions
(`gen_ai.system_instructions`, `gen_ai.input.messages`, `gen_ai.output.messages`: role + parts),
and the response's id and model (`gen_ai.response.id`, `gen_ai.response.model`), which the calls
table does not keep. Off by default: prompts and replies are the most sensitive part of a capture."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from fastcap.dialects import CallAnalysis, analyze_exchange
from fastcap.export.otlp import CallContent, nanoseconds
from fastcap.secrets.redact import OUTPUT, redact_text

EVENT_NAME = "gen_ai.client.inference.operation.details"
MAX_PART_CHARS = 64_000  # one part's text; longer text is cut and says so


def _text(value: str, redact: bool) -> str:
    text = redact_text(value, OUTPUT) if redact else value
    if len(text) > MAX_PART_CHARS:
        text = text[:MAX_PART_CHARS] + f"… (cut at {MAX_PART_CHARS:,} characters by fastcap)"
    return text


def details(a: CallAnalysis, *, redact: bool = True) -> dict[str, Any]:
    """The event's attributes for one analysed call."""
    req, resp = a.request, a.response
    attrs: dict[str, Any] = {}
    if req.system_text:
        attrs["gen_ai.system_instructions"] = [{"type": "text", "content": _text(req.system_text, redact)}]
    attrs["gen_ai.input.messages"] = [
        {"role": m.role, "parts": [{"type": "text", "content": _text(m.preview, redact)}]}
        for m in req.messages
    ]
    parts: list[dict[str, Any]] = []
    if resp.reasoning_text:
        parts.append({"type": "reasoning", "content": _text(resp.reasoning_text, redact)})
    if resp.text:
        parts.append({"type": "text", "content": _text(resp.text, redact)})
    for call in resp.tool_calls:
        tool: dict[str, Any] = {
            "type": "tool_call",
            "name": call.name,
            "arguments": _text(call.arguments_raw, redact),
        }
        if call.id:
            tool["id"] = call.id
        parts.append(tool)
    output: dict[str, Any] = {"role": "assistant", "parts": parts}
    if resp.stop_reason:
        output["finish_reason"] = resp.stop_reason
    attrs["gen_ai.output.messages"] = [output]
    return attrs


def response_attributes(a: CallAnalysis, *, redact: bool = True) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if a.response.message_id:
        attrs["gen_ai.response.id"] = _text(a.response.message_id, redact)
    if a.response.model:
        attrs["gen_ai.response.model"] = a.response.model
    return attrs


def call_contents(
    captures: dict[str, str], wanted: set[tuple[str, int]], *, redact: bool = True, recover: bool = False
) -> dict[tuple[str, int], CallContent]:
    """(capture_id, call index) → what the bodies add, for the wanted calls of the capture files
    `captures` (path → its capture id, as the calls table of `dataset.calls_for_inputs` has them:
    the file is not hashed again)."""
    from opentelemetry.sdk.trace import Event

    from fastcap.formats import read_file

    out: dict[tuple[str, int], CallContent] = {}
    for path, capture in captures.items():
        if not any(c == capture for c, _ in wanted):
            continue
        for ex in read_file(path, recover=recover, name=os.path.basename(path)).exchanges:
            if (capture, ex.index) not in wanted:
                continue
            when = ex.ended_at or ex.started_at
            stamp = nanoseconds(when) if when is not None else None
            a = analyze_exchange(ex)
            out[(capture, ex.index)] = CallContent(
                [Event(EVENT_NAME, details(a, redact=redact), stamp)], response_attributes(a, redact=redact)
            )
    return out


def capture_files(inputs: Sequence[str]) -> list[str]:
    """The capture files among `inputs` (datasets keep no bodies to read content from)."""
    from fastcap.dataset import expand_inputs, is_dataset

    return expand_inputs([i for i in inputs if not is_dataset(i)])
