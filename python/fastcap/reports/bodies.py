"""Request/response bodies as redacted values and as §2.4 Markdown blocks.

A body is decoded once into a `Body` (JSON value, text, bytes, empty or missing) and redacted before
anything renders it. Source notes (§1) say when the bytes cannot be trusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl

from fastcap.model import Exchange
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


def _looks_binary(data: bytes) -> bool:
    if not data:
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return any(ch < " " and ch not in "\r\n\t\f" for ch in text[:4096])


def _notes(ex: Exchange, side: str, text: str | None, data: bytes | None) -> tuple[str, ...]:
    flags = ex.flags
    out: list[str] = []
    truncated = f"{side}_truncated" in flags
    if not truncated and ({"truncated", "cut_off_marker"} & flags):
        lines = (text or "").count("\n") + 1 if text else 0
        other_text = ex.request_body_text if side == "response" else ex.response_body_text
        other_lines = (other_text or "").count("\n") + 1 if other_text else 0
        truncated = lines >= CUTOFF_LINES or (side == "response" and other_lines < CUTOFF_LINES)
    if truncated and data is None:
        out.append(f"Body truncated by mitmdump (flow_detail=3 cut-off at {CUTOFF_LINES} lines).")
    lossy = f"{side}_lossy_binary" in flags or (
        "lossy_binary" in flags and data is None and text is not None and (side == "response" or "\ufffd" in text)
    )
    if lossy:
        out.append("Body recovered from the mitmdump text log; binary content is lossy.")
    return tuple(out)


def _missing(ex: Exchange, side: str) -> bool:
    flags = ex.flags
    return f"{side}_content_missing" in flags or (side == "response" and "content_missing" in flags)


def decode_body(ex: Exchange, side: str, redactor: Redactor) -> Body:
    """The request (`side="request"`) or response body, redacted."""
    if side == "request":
        data, text, ctype = ex.request_body, ex.request_body_text, ex.request_content_type
    else:
        data, text, ctype = ex.response_body, ex.response_body_text, ex.content_type
    notes = _notes(ex, side, text, data)
    if data is None and text is None:
        if _missing(ex, side) or ex.fidelity == "missing":
            return Body("missing", content_type=ctype, notes=notes)
        return Body("empty", content_type=ctype, notes=notes)
    if data is not None and len(data) == 0:
        return Body("empty", content_type=ctype, notes=notes)
    if data is None and text is not None and text == "":
        return Body("missing" if _missing(ex, side) else "empty", content_type=ctype, notes=notes)
    size = len(data) if data is not None else len((text or "").encode("utf-8", "replace"))
    raw: bytes | str = data if data is not None else (text or "")
    if "eventstream" not in ctype and "event-stream" not in ctype:
        ok, value = parse_json(raw)
        if ok:
            return Body("json", value=redactor.json(value, url=ex.url), content_type=ctype, size=size, notes=notes)
    if data is not None and _looks_binary(data):
        return Body("binary", data=data, content_type=ctype, size=size, notes=notes)
    body_text = data.decode("utf-8", "replace") if data is not None else (text or "")
    if ctype == "application/x-www-form-urlencoded" or (
        ctype == "" and "=" in body_text and " " not in body_text.strip() and parse_qsl(body_text)
    ):
        return Body("form", text=redactor.form(body_text, url=ex.url), content_type=ctype, size=size, notes=notes)
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
