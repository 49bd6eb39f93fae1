"""Request/response bodies as redacted values and as §2.4 Markdown blocks.

A body is decoded once into a `Body` (JSON value, text, bytes, empty or missing) and redacted before
anything renders it. Source notes (§1) say when the bytes cannot be trusted: they come from the
fidelity the reader set on each body (`Exchange.request_body_fidelity` / `response_body_fidelity`),
never from guessing here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl

from fastcap.model import BodyFidelity, Exchange
from fastcap.reports.markdown import fence, hexdump, json_text, note, parse_json
from fastcap.reports.safety import Redactor

BodyKind = Literal["json", "form", "text", "binary", "empty", "missing"]

CUTOFF_LINES = 512  # mitmdump content_view_lines_cutoff


@dataclass(slots=True)
class Body:
    kind: BodyKind
    value: Any = None  # redacted JSON value (json)
    text: str = ""  # redacted text (form/text)
    data: bytes = b""  # binary bytes
    content_type: str = ""
    size: int = 0  # decoded wire size in bytes (0 when unknown)
    notes: tuple[str, ...] = ()


# A control character other than TAB, LF, FF and CR.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")


def _looks_binary(data: bytes) -> bool:
    """Not UTF-8, or a control character among the first 4,096 characters."""
    if not data:
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return _CONTROL_RE.search(text, 0, 4096) is not None


def fidelity(ex: Exchange, side: str) -> BodyFidelity:
    return ex.request_body_fidelity if side == "request" else ex.response_body_fidelity


# Why a body is not its exact bytes, per source (`*` for any other source).
_EXPLANATIONS: dict[tuple[BodyFidelity, str], str] = {
    ("truncated", "mitmlog"): f"Body truncated by mitmdump (flow_detail=3 cut-off at {CUTOFF_LINES} lines).",
    (
        "truncated",
        "cbor",
    ): "Body truncated in the capture (the stream never ended while recording, or fastcap_max_body cut it).",
    ("truncated", "*"): "Body truncated in the source.",
    ("missing", "mitmlog"): "Body not in the mitmdump log (streamed and not stored, or flow_detail below 3).",
    ("missing", "mitm"): "Body not stored in the flow file (streamed without store_streamed_bodies).",
    ("missing", "*"): "Body not stored in the source.",
    ("recovered_from_text", "mitmlog"): "Body recovered from the mitmdump text log; binary content is lossy.",
    (
        "recovered_from_text",
        "*",
    ): "Body recovered from text with replacement characters; binary content is lossy.",
    ("decoded_from_hex", "*"): "Body decoded from the mitmdump hex dump (exact bytes).",
    (
        "from_text_log",
        "*",
    ): "Body text as the mitmdump log printed it; line endings and trailing blank lines may differ.",
    ("json_value", "*"): "Body is the JSON value the source recorded, not its exact bytes.",
}


def fidelity_note(ex: Exchange, side: str) -> str | None:
    """The §1 source note for a body that is not `complete`, naming its fidelity."""
    value = fidelity(ex, side)
    if value == "complete":
        return None
    text = _EXPLANATIONS.get((value, ex.source)) or _EXPLANATIONS[(value, "*")]
    return f"{text} Fidelity: `{value}`."


def _notes(ex: Exchange, side: str) -> tuple[str, ...]:
    note_text = fidelity_note(ex, side)
    return (note_text,) if note_text else ()


def _missing(ex: Exchange, side: str) -> bool:
    return fidelity(ex, side) == "missing"


def body_notes(ex: Exchange, side: str) -> tuple[str, ...]:
    """The source notes of a body (what `decode_body(...).notes` holds), without decoding it."""
    return _notes(ex, side)


def undecoded_body(ex: Exchange, side: str) -> Body:
    """A body's kind (empty or missing), size and notes, its content left out: for a stream, whose
    report shows the events, never the bytes, so neither parsing nor redacting them is needed.
    Same size and notes as `decode_body`."""
    if side == "request":
        data, text, ctype = ex.request_body, ex.request_body_text, ex.request_content_type
    else:
        data, text, ctype = ex.response_body, ex.response_body_text, ex.content_type
    notes = _notes(ex, side)
    if data is not None and len(data) == 0:
        return Body("empty", content_type=ctype, notes=notes)
    if data is None and not text:
        return Body("missing" if _missing(ex, side) else "empty", content_type=ctype, notes=notes)
    size = len(data) if data is not None else len((text or "").encode("utf-8", "replace"))
    return Body("text", content_type=ctype, size=size, notes=notes)


def decode_body(ex: Exchange, side: str, redactor: Redactor) -> Body:
    """The request (`side="request"`) or response body, redacted."""
    if side == "request":
        data, text, ctype = ex.request_body, ex.request_body_text, ex.request_content_type
    else:
        data, text, ctype = ex.response_body, ex.response_body_text, ex.content_type
    notes = _notes(ex, side)
    if data is None and text is None:
        return Body("missing" if _missing(ex, side) else "empty", content_type=ctype, notes=notes)
    if data is not None and len(data) == 0:
        return Body("empty", content_type=ctype, notes=notes)
    if data is None and text is not None and text == "":
        return Body("missing" if _missing(ex, side) else "empty", content_type=ctype, notes=notes)
    size = len(data) if data is not None else len((text or "").encode("utf-8", "replace"))
    raw: bytes | str = data if data is not None else (text or "")
    if "eventstream" not in ctype and "event-stream" not in ctype:
        ok, value = parse_json(raw)
        if ok:
            return Body(
                "json", value=redactor.json(value, url=ex.url), content_type=ctype, size=size, notes=notes
            )
    if data is not None and _looks_binary(data):
        return Body("binary", data=data, content_type=ctype, size=size, notes=notes)
    body_text = data.decode("utf-8", "replace") if data is not None else (text or "")
    if ctype == "application/x-www-form-urlencoded" or (
        ctype == "" and "=" in body_text and " " not in body_text.strip() and parse_qsl(body_text)
    ):
        return Body(
            "form", text=redactor.form(body_text, url=ex.url), content_type=ctype, size=size, notes=notes
        )
    raw_bytes = data if data is not None else body_text.encode("utf-8")
    redacted = redactor.body(raw_bytes, ctype, url=ex.url)
    if redacted is not raw_bytes:
        body_text = redacted.decode("utf-8", "replace")
    return Body("text", text=redactor.text(body_text), content_type=ctype, size=size, notes=notes)


def body_block(body: Body) -> list[str]:
    """§2.4 body rendering: JSON fence, plain fence, `(empty)`, `(content missing)` or a hex dump."""
    lines = [note(n) for n in body.notes]
    if lines:
        lines.append("")
    if body.kind == "missing":
        lines.append("(content missing)")
    elif body.kind == "empty":
        lines.append("(empty)")
    elif body.kind == "json":
        lines.append(fence(json_text(body.value), "json"))
    elif body.kind == "binary":
        lines.append(f"({len(body.data)} bytes, {body.content_type or 'unknown content type'}, binary)")
        lines.append("")
        lines.append(fence(hexdump(body.data)))
    else:
        lines.append(fence(body.text))
    return lines


def body_value(body: Body) -> Any:
    """The body as agent-system-dissect holds it: JSON value, text, or None when empty/missing."""
    if body.kind == "json":
        return body.value
    if body.kind in ("text", "form"):
        return body.text
    if body.kind == "binary":
        return body.data.decode("utf-8", "replace")
    return None
