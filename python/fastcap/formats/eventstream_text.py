"""Heuristic recovery of AWS EventStream frames from a mitmdump text rendering (docs/specs/eventstream.md §9.1).

mitmdump prints a binary EventStream body lossily: prelude, lengths and CRCs become `.`, `\\xNN`,
stray printable characters or line breaks, while header names, string header values and JSON
payloads survive as text. This module finds the header names, reads the values after the three
rendered type/length bytes, and brace-matches the JSON payload that follows. Nothing can be
verified (no lengths, no CRCs), so every recovered frame carries `verified: False`.

An 11.x hex dump, by contrast, is exact: it is parsed back to bytes and decoded exactly with
`fastcap._native.decode_eventstream`.

Written in Python: bodies are small and every scan below is a compiled regular expression or a
single pass over one payload, so this is not a hot path.
"""

from __future__ import annotations

import json
import re
from typing import Any

from fastcap import _native

_HEADER_NAMES = (
    "event-type",
    "message-type",
    "content-type",
    "exception-type",
    "error-code",
    "error-message",
)
# One rendered byte: a `\xNN` escape (12.x), or any single character (`.`, TAB, a printable
# character, U+FFFD under 11.x, or the line break produced by a 0x0A/0x0D byte).
_BYTE = r"(?:\\x[0-9a-fA-F]{2}|[\s\S])"
_NAME_RE = re.compile(r":(" + "|".join(re.escape(n) for n in _HEADER_NAMES) + r")")
_VALUE_RES = {
    "event-type": re.compile(_BYTE + r"{3}([A-Za-z0-9_-]+)"),
    "exception-type": re.compile(_BYTE + r"{3}([A-Za-z0-9_-]+)"),
    "error-code": re.compile(_BYTE + r"{3}([A-Za-z0-9_.:-]+)"),
    "content-type": re.compile(_BYTE + r"{3}([A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+)"),
    "message-type": re.compile(_BYTE + r"{3}(event|exception|error)"),
    # Free text: up to the next control rendering (a `.`-run, an escape or a line break).
    "error-message": re.compile(_BYTE + r"{3}([^\n]*?)(?=\.\.|\\x[0-9a-fA-F]{2}|\n|$)"),
}
_HEXDUMP_LINE = re.compile(r"^([0-9a-f]{10}) ((?:[0-9a-f]{2} ){0,15}[0-9a-f]{2}) *   (.{0,16})$")


def hexdump_to_bytes(text: str) -> bytes | None:
    """Parse a mitmproxy 11.x hex dump (`0000000000 00 01 …   ascii`) back into bytes, else None."""
    out = bytearray()
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    if not lines or not lines[0]:
        return None
    for line in lines:
        m = _HEXDUMP_LINE.match(line)
        if m is None or int(m.group(1), 16) != len(out):
            return None
        out += bytes.fromhex(m.group(2))
    return bytes(out)


def _match_json_object(text: str, start: int) -> int | None:
    """End index (exclusive) of the JSON object starting at `text[start] == "{"`, string-aware."""
    depth = 0
    in_str = False
    i = start
    n = len(text)
    while i < n:
        c = text[i]
        if in_str:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                in_str = False
        elif c == '"':
            in_str = True
        elif c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def _frame(offset: int, headers: dict[str, str], payload: bytes, **extra: Any) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "offset": offset,
        "headers": headers,
        "payload": payload,
        "event_type": headers.get(":event-type"),
        "message_type": headers.get(":message-type"),
        "exception_type": headers.get(":exception-type"),
        "verified": False,
    }
    frame.update(extra)
    return frame


def _decode_exact(body: bytes) -> list[dict[str, Any]]:
    """Exact decoding of the bytes recovered from a hex dump."""
    out = []
    for f in _native.decode_eventstream(body, mode="resync")["frames"]:
        d = dict(f)
        d.setdefault("verified", True)
        d["source"] = "hexdump"
        out.append(d)
    return out


def recover_eventstream_frames(text: str) -> list[dict[str, Any]]:
    """Recover EventStream frames from the mitmdump text rendering of a body.

    `text` is the body as the mitmlog reader gives it (`Exchange.response_body_text`: the body
    lines without their 4-space indent, joined with `\\n`; a trailing CR per line is tolerated).
    Returns dicts shaped like the native decoder's frames (`offset` is a character offset into
    `text`, `headers`, `payload` bytes of the recovered JSON, `event_type`, `message_type`,
    `exception_type`) plus `verified: False`. A payload that does not parse is still returned
    with an `error` key; a JSON string broken by a raw U+2028/U+2029/U+0085 (which mitmproxy 12
    splits into lines) is reported as `error` and repaired as a best guess (`repaired: True`).
    A mitmproxy 11.x hex dump is decoded exactly instead (`verified` from the CRCs).
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    exact = hexdump_to_bytes(text)
    if exact is not None:
        return _decode_exact(exact)

    frames: list[dict[str, Any]] = []
    headers: dict[str, str] = {}
    frame_start: int | None = None
    value_end = 0
    pos = 0
    n = len(text)
    while pos < n:
        m = _NAME_RE.search(text, pos)
        brace = text.find("{", value_end if headers else n)
        if headers and brace != -1 and (m is None or brace < m.start()):
            # The payload of the pending frame starts before the next header name.
            end = _match_json_object(text, brace)
            assert frame_start is not None
            if end is None:
                frames.append(
                    _frame(
                        frame_start, headers, text[brace:].encode("utf-8"), error="unterminated JSON payload"
                    )
                )
                return frames
            raw = text[brace:end]
            frames.append(_payload_frame(frame_start, headers, raw))
            headers, frame_start = {}, None
            pos = end
            continue
        if m is None:
            break
        name = ":" + m.group(1)
        vm = _VALUE_RES[m.group(1)].match(text, m.end())
        if vm is None:
            pos = m.end()
            continue
        if name in headers:
            # A repeated header: the pending frame had no payload (e.g. an `error` message).
            assert frame_start is not None
            frames.append(_frame(frame_start, headers, b""))
            headers, frame_start = {}, None
        if frame_start is None:
            frame_start = m.start()
        headers[name] = vm.group(1)
        value_end = vm.end()
        pos = vm.end()
    if headers and frame_start is not None:
        frames.append(_frame(frame_start, headers, b""))
    return frames


def _payload_frame(offset: int, headers: dict[str, str], raw: str) -> dict[str, Any]:
    try:
        json.loads(raw)
    except ValueError as exc:
        if "\n" in raw:
            # mitmproxy 12 splits lines at U+2028/U+2029/U+0085; JSON strings cannot hold a raw
            # line break, so each one here was such a character. Guess U+2028 and say so.
            guess = raw.replace("\n", "\u2028")
            try:
                json.loads(guess)
            except ValueError:
                pass
            else:
                return _frame(
                    offset,
                    headers,
                    guess.encode("utf-8"),
                    error="JSON string split at a line separator (U+2028/U+2029/U+0085); repaired as U+2028",
                    repaired=True,
                )
        return _frame(offset, headers, raw.encode("utf-8"), error=f"payload is not valid JSON: {exc}")
    return _frame(offset, headers, raw.encode("utf-8"))
