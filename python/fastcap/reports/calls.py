"""Per-call files `NN_<APIName>.md` (docs/specs/reports.md §2.4–2.7)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastcap.dialects._util import fmt_num
from fastcap.dialects.anthropic import context_edits_text
from fastcap.dialects.base import ResponseInfo, ToolCall, Usage
from fastcap.reports.bodies import Body, body_block, body_notes, decode_body, undecoded_body
from fastcap.reports.context import Call
from fastcap.reports.markdown import (
    cell,
    fence,
    finish,
    fmt_number,
    json_text,
    note,
    preview,
    size_string,
    table,
)
from fastcap.reports.safety import Redactor

EVENTSTREAM_CT = "application/vnd.amazon.eventstream"
SSE_CT = "text/event-stream"
_KIRO_BASIC_EVENTS = {"assistantResponseEvent", "toolUseEvent", "contextUsageEvent"}
RECOVERED_NOTE = "Events recovered from the mitmdump text log; frame checksums could not be verified."


def size_text(call: Call) -> str:
    """The mitmdump size string of the response (docs/specs/mitmproxy.md §3.5), `—` without a response."""
    ex = call.ex
    if ex.status is None:
        return "—"
    if ex.size_text is not None:
        return ex.size_text
    encoded = ex.header("content-encoding", response=True)
    length = (ex.header("content-length", response=True) or "").strip()
    if encoded and length.isdigit():
        return size_string(int(length))
    if ex.response_body is not None:
        return size_string(len(ex.response_body))
    if "content_missing" in ex.flags:
        return "(content missing)"
    if ex.response_body_text is not None:
        return size_string(len(ex.response_body_text.encode("utf-8", "replace")))
    return "0b"


def status_line(call: Call) -> str:
    """`<code> <reason> <size>` as mitmdump prints it after ` << `."""
    ex = call.ex
    if ex.status is None:
        return "(no response)"
    return " ".join(p for p in (str(ex.status), ex.reason, size_text(call)) if p)


def header_block(headers: list[tuple[str, str]]) -> str:
    if not headers:
        return "(none)"
    return fence("\n".join(f"{k}: {v}" for k, v in headers))


def usage_line(usage: Usage | None) -> str | None:
    """`**Usage:** 49,315 input | 412 output | 49,727 total (48,112 cached, 96 reasoning)`."""
    text = usage_text(usage)
    return f"**Usage:** {text}" if text else None


def usage_text(usage: Usage | None) -> str | None:
    if usage is None:
        return None
    inp, out, total = usage.input_total, usage.output_total, usage.total
    if total is None and inp is not None and out is not None:
        total = inp + out
    if inp is None and out is None and total is None:
        return None

    def n(v: int | None) -> str:
        return "?" if v is None else f"{v:,}"

    text = f"{n(inp)} input | {n(out)} output | {n(total)} total"
    details = [
        f"{v:,} {label}"
        for v, label in (
            (usage.cache_read, "cached"),
            (usage.cache_write, "cache write"),
            (usage.reasoning, "reasoning"),
        )
        if v
    ]
    if details:
        text += f" ({', '.join(details)})"
    return text


def tool_call_objects(
    calls: list[ToolCall], redactor: Redactor, *, kiro: bool, url: str
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for tc in calls:
        value: Any = tc.arguments if tc.arguments_json_valid else tc.arguments_raw
        value = redactor.json(value, url=url) if not isinstance(value, str) else redactor.text(value)
        if kiro:
            obj: dict[str, Any] = {"toolUseId": tc.id, "name": tc.name, "input": value}
        else:
            obj = (
                {"id": tc.id, "name": tc.name, "input": value}
                if tc.id is not None
                else {"name": tc.name, "input": value}
            )
        if tc.incomplete:
            obj["incomplete"] = True
        out.append(obj)
    return out


def _stream_notes(resp: ResponseInfo, redactor: Redactor) -> list[str]:
    lines: list[str] = []
    if "recovered_from_text" in resp.flags:
        lines.append(note(RECOVERED_NOTE))
    for err in resp.errors:
        if err.source == "http_status":
            continue
        text = ": ".join(p for p in (err.type, err.message) if p) or "unknown error"
        lines.append(note(f"Stream error: {redactor.text(text)}"))
    for n in resp.notes:
        lines.append(note(redactor.text(n)))
    return list(dict.fromkeys(lines))


def _events_table(resp: ResponseInfo, redactor: Redactor, *, kiro: bool) -> list[str]:
    events = resp.events
    summaries = redactor.texts([ev.summary for ev in events])
    if kiro:
        extended = any(ev.type not in _KIRO_BASIC_EVENTS for ev in resp.events)
        if extended:
            header = "| #   | Event Type             | Summary                          |"
            sep = "| --- | ---------------------- | -------------------------------- |"
        else:
            header = "| #   | Event Type             | Summary                       |"
            sep = "| --- | ---------------------- | ----------------------------- |"
    else:
        header, sep = "| #   | Event Type | Summary |", "| --- | ---------- | ------- |"
    # `table`'s rows written out: a stream has hundreds of events (the index is an int, no escaping).
    return [
        header,
        sep,
        *(f"| {ev.index} | {cell(ev.type)} | {cell(s)} |" for ev, s in zip(events, summaries, strict=True)),
    ]


def stream_body_lines(call: Call, redactor: Redactor, *, kiro: bool) -> list[str]:
    """§2.5 (EventStream) and §2.6 (SSE) response body sections."""
    resp = call.resp
    ctype = EVENTSTREAM_CT if kiro else SSE_CT
    lines = ["### Response Body", "", f"Content-Type: `{ctype}`", ""]
    notes = body_notes(call.ex, "response")  # the stream's bytes are not shown: no need to decode them
    if notes:
        lines += [*(note(n) for n in notes), ""]
    lines += ["**Events:**", "", *_events_table(resp, redactor, kiro=kiro), ""]
    extra = _stream_notes(resp, redactor)
    if extra:
        lines += [*extra, ""]
    if resp.reasoning_text:
        lines += ["**Full reasoning text:**", "", fence(redactor.text(resp.reasoning_text)), ""]
    lines += ["**Full assistant response:**", "", fence(redactor.text(resp.text)), ""]
    if resp.tool_calls:
        objs = tool_call_objects(resp.tool_calls, redactor, kiro=kiro, url=call.ex.url)
        lines += ["**Tool calls:**", "", fence(json_text(objs), "json"), ""]
    if kiro and resp.credits:
        metering = "; ".join(f"{unit}, usage {fmt_number(v)}" for unit, v in resp.credits.items())
        lines += [f"**Metering:** {metering}", ""]
    ul = usage_line(resp.usage)
    if ul and not kiro:
        lines += [ul, ""]
    return lines


def websocket_lines(call: Call, redactor: Redactor) -> list[str]:
    """§2.7: `### WebSocket Messages` replaces the response body."""
    ex = call.ex
    base = ex.response_started_at or ex.started_at
    rows = []
    for i, msg in enumerate(ex.websocket or [], 1):
        when = "—" if msg.t is None or base is None else f"+{msg.t - base:.3f} s"
        if msg.is_text:
            summary = preview(redactor.text(msg.data.decode("utf-8", "replace")), 80)
        else:
            summary = f"{len(msg.data)} bytes"
        rows.append((i, "→" if msg.from_client else "←", when, "text" if msg.is_text else "binary", summary))
    lines = ["### WebSocket Messages", ""]
    lines += table("| # | Dir | Time | Type | Summary |", "| --- | --- | ---- | ---- | ------- |", rows)
    lines.append("")
    resp = call.resp
    if resp.text or resp.tool_calls or resp.events:
        lines += ["**Full assistant response:**", "", fence(redactor.text(resp.text)), ""]
        if resp.tool_calls:
            objs = tool_call_objects(resp.tool_calls, redactor, kiro=False, url=ex.url)
            lines += ["**Tool calls:**", "", fence(json_text(objs), "json"), ""]
        ul = usage_line(resp.usage)
        if ul:
            lines += [ul, ""]
    return lines


def response_kind(call: Call) -> str:
    kind = call.resp.kind
    ctype = call.ex.content_type
    if call.ex.websocket is not None or kind == "websocket":
        return "websocket"
    if kind == "missing" or (call.ex.response_body is None and call.ex.response_body_text is None):
        return "plain"
    if kind == "eventstream" or ctype == EVENTSTREAM_CT:
        return "eventstream" if call.resp.events or kind == "eventstream" else "plain"
    if kind == "sse" or ctype == SSE_CT:
        return "sse" if call.resp.events or kind == "sse" else "plain"
    return "plain"


def _when(epoch: str) -> str:
    """A `reset` header value (Unix seconds) as UTC time; anything else as sent."""
    try:
        return datetime.fromtimestamp(float(epoch), tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (ValueError, OverflowError, OSError):
        return epoch


def rate_limit_text(limits: dict[str, dict[str, str]]) -> str:
    """`allowed (representative five_hour); 5h: allowed, 21% used, resets …; 7d: 68% used, …`."""
    overall = limits.get("", {})
    head = overall.get("status", "?")
    if "representative-claim" in overall:
        head += f" (representative {overall['representative-claim']})"
    parts = [head]
    for window, fields in limits.items():
        if not window:
            continue
        bits = [fields["status"]] if "status" in fields else []
        if "utilization" in fields:
            try:
                bits.append(f"{float(fields['utilization']) * 100:.0f}% used")
            except ValueError:
                bits.append(f"utilization {fields['utilization']}")
        if "reset" in fields:
            bits.append(f"resets {_when(fields['reset'])}")
        bits += [f"{k} {v}" for k, v in fields.items() if k not in ("status", "utilization", "reset")]
        parts.append(f"{window}: {', '.join(bits)}")
    if "reset" in overall:
        parts.append(f"resets {_when(overall['reset'])}")
    return "; ".join(parts)


def claude_code_lines(call: Call, redactor: Redactor) -> list[str]:
    """What Claude Code 2.1 adds to a Messages call (docs/specs/reports.md §2.4.1), read by the
    anthropic dialect: sub-agent ids, context management asked for and applied, compaction, tool
    search, a token count, the subscription's unified rate limits. Nothing when none is present,
    so the §2.4 template is unchanged for other traffic."""
    req, resp = call.req.extra, call.resp.extra
    lines: list[str] = []
    if "agent_id" in req or "parent_agent_id" in req:
        text = f"sub-agent `{req.get('agent_id', '?')}`"
        if "parent_agent_id" in req:
            text += f", started by `{req['parent_agent_id']}`"
        lines.append(f"**Agent:** {redactor.text(text)}")
    if "subagent_tool" in req:
        lines.append(f"**Sub-agent tool offered:** `{req['subagent_tool']}`")
    if "context_management" in req:
        lines.append(f"**Context management asked:** {', '.join(req['context_management'])}")
    if "context_management" in resp:
        lines.append(f"**Context management applied:** {context_edits_text(resp['context_management'])}")
    for block in resp.get("compaction", []):
        lines.append(
            f"**Compaction:** a summary of {fmt_num(block['summary_chars'])} chars replaces the earlier "
            f"history ({fmt_num(block['encrypted_chars'])} chars encrypted)"
        )
    if "compaction_blocks" in req:
        lines.append(f"**Compaction blocks in the history:** {req['compaction_blocks']}")
    if "deferred_tools" in req:
        lines.append(f"**Tools deferred (tool search):** {len(req['deferred_tools'])}")
    if "tool_references" in req:
        names = ", ".join(f"`{n}`" for n in dict.fromkeys(req["tool_references"]))
        lines.append(f"**Tools loaded by reference:** {redactor.text(names)}")
    if "count_tokens" in resp:
        text = f"{fmt_num(resp['count_tokens'])} input tokens"
        if "count_tokens_before_context_management" in resp:
            text += f" ({fmt_num(resp['count_tokens_before_context_management'])} before context management)"
        lines.append(f"**Token count:** {text}")
    if "ratelimit_unified" in resp:
        lines.append(f"**Subscription rate limits:** {rate_limit_text(resp['ratelimit_unified'])}")
    if not lines:
        return []
    out = ["### Claude Code", ""]
    for line in lines:
        out += [line, ""]
    return out


def call_bodies(call: Call, redactor: Redactor) -> tuple[Body, Body]:
    """The request and response bodies as the reports show them, each decoded and redacted once:
    a stream's or WebSocket's response body only sized (its events are shown, not its bytes)."""
    request = decode_body(call.ex, "request", redactor)
    if response_kind(call) == "plain":
        return request, decode_body(call.ex, "response", redactor)
    return request, undecoded_body(call.ex, "response")


def render_call(call: Call, redactor: Redactor, bodies: tuple[Body, Body] | None = None) -> str:
    """The call's file; `bodies`: its `call_bodies` when the caller has decoded them already."""
    ex = call.ex
    request_body, response_body = bodies or call_bodies(call, redactor)
    lines = [f"# {call.nn}. {redactor.text(call.api)}", "", "## Request", ""]
    lines += [fence(f"{ex.method} {redactor.url(ex.url)}"), ""]
    lines += ["### Request Headers", "", header_block(redactor.headers(ex.request_headers)), ""]
    lines += ["### Request Body", "", *body_block(request_body), ""]
    lines += trailer_lines("Request", ex.request_trailers, redactor)
    lines += ["## Response", ""]
    if ex.error:
        lines += [note(f"Error: {redactor.text(ex.error)}"), ""]
    lines += [fence(status_line(call)), ""]
    lines += ["### Response Headers", "", header_block(redactor.headers(ex.response_headers)), ""]
    kind = response_kind(call)
    if kind == "websocket":
        lines += websocket_lines(call, redactor)
    elif kind in ("eventstream", "sse"):
        lines += stream_body_lines(call, redactor, kiro=kind == "eventstream")
    else:
        lines += ["### Response Body", ""]
        extra = [note(redactor.text(n)) for n in call.resp.notes]
        lines += [*extra, ""] if extra else []
        lines += [*body_block(response_body), ""]
    lines += trailer_lines("Response", ex.response_trailers, redactor)
    lines += claude_code_lines(call, redactor)
    return finish(lines)


def trailer_lines(side: str, trailers: list[tuple[str, str]], redactor: Redactor) -> list[str]:
    """HTTP trailers after the body they follow, redacted like headers; nothing when there are none
    (so the §2.4 template is unchanged for ordinary traffic)."""
    if not trailers:
        return []
    return [f"### {side} Trailers", "", header_block(redactor.headers(trailers)), ""]
