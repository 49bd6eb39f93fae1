"""Test-only stand-ins for the native decoders, used only while `fastcap._native` lacks them.

They produce the documented native result shapes so the dialects' adapters are exercised the same
way. Once `sse_events` / `decode_eventstream` exist, `use_native_or_standin` installs nothing and
every test runs against the Rust code.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastcap import _native
from fastcap.dialects import streams

TESTDATA = Path("/work/shared/testdata")


def _standin_sse(body: bytes, *, chunk_sizes: Any = None, chunk_times: Any = None) -> dict[str, Any]:
    text = body.decode("utf-8", "replace").lstrip("\ufeff")
    lines: list[tuple[str, int, int]] = []  # (line, start, end-after-terminator) in char offsets
    pos = 0
    n = len(text)
    while pos < n:
        j = pos
        while j < n and text[j] not in "\r\n":
            j += 1
        if j >= n:
            lines.append((text[pos:j], pos, j))
            lines.append(("\x00EOF", j, j))
            break
        end = j + 2 if text.startswith("\r\n", j) else j + 1
        lines.append((text[pos:j], pos, end))
        pos = end
    events: list[dict[str, Any]] = []
    data: list[str] = []
    etype = ""
    last_id = ""
    start: int | None = None
    for line, a, b in lines:
        if line == "\x00EOF":
            break
        if line == "":
            if data:
                d = "\n".join(data)
                events.append(
                    {
                        "index": len(events),
                        "type": etype or "message",
                        "data": d,
                        "last_event_id": last_id,
                        "byte_start": start,
                        "byte_end": b,
                        "terminated": True,
                        "is_done": d == "[DONE]",
                        "t_first_byte": None,
                        "t_last_byte": None,
                    }
                )
            data, etype, start = [], "", None
            continue
        if start is None:
            start = a
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name == "event":
            etype = value
        elif name == "id" and "\x00" not in value:
            last_id = value
    if data:
        d = "\n".join(data)
        events.append(
            {
                "index": len(events),
                "type": etype or "message",
                "data": d,
                "last_event_id": last_id,
                "byte_start": start,
                "byte_end": len(body),
                "terminated": False,
                "is_done": d == "[DONE]",
                "t_first_byte": None,
                "t_last_byte": None,
            }
        )
    return {"events": events, "stats": {}}


def _standin_eventstream(body: bytes, *, mode: str = "strict") -> dict[str, Any]:
    frames: list[dict[str, Any]] = []
    off = 0
    truncated = None
    while off < len(body):
        if len(body) - off < 12:
            truncated = {"offset": off, "have": len(body) - off, "need": 12}
            break
        total, hlen = struct.unpack(">II", body[off : off + 8])
        if off + total > len(body):
            truncated = {"offset": off, "have": len(body) - off, "need": total}
            break
        frame = body[off : off + total]
        assert zlib.crc32(frame[:-4]) == struct.unpack(">I", frame[-4:])[0]
        headers: dict[str, Any] = {}
        h = frame[12 : 12 + hlen]
        k = 0
        while k < len(h):
            nl = h[k]
            name = h[k + 1 : k + 1 + nl].decode()
            k += 1 + nl
            t = h[k]
            k += 1
            assert t == 7, "stand-in handles string headers only"
            ln = struct.unpack(">H", h[k : k + 2])[0]
            headers[name] = h[k + 2 : k + 2 + ln].decode()
            k += 2 + ln
        frames.append(
            {
                "offset": off,
                "total_length": total,
                "headers": headers,
                "payload": frame[12 + hlen : -4],
                "message_type": headers.get(":message-type"),
                "event_type": headers.get(":event-type"),
                "exception_type": headers.get(":exception-type"),
            }
        )
        off += total
    return {"frames": frames, "errors": [], "truncated": truncated, "corrupt": False}


@pytest.fixture(autouse=True)
def use_native_or_standin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if not hasattr(_native, "sse_events"):
        monkeypatch.setattr(streams, "sse_impl", _standin_sse)
    if not hasattr(_native, "decode_eventstream"):
        monkeypatch.setattr(streams, "eventstream_impl", _standin_eventstream)
    yield


def encode_frame(headers: dict[str, str], payload: bytes) -> bytes:
    """Build one valid EventStream frame with string headers (for hand-made test bodies)."""
    hb = b""
    for name, value in headers.items():
        nb = name.encode()
        vb = value.encode()
        hb += bytes([len(nb)]) + nb + b"\x07" + struct.pack(">H", len(vb)) + vb
    total = 12 + len(hb) + len(payload) + 4
    prelude = struct.pack(">II", total, len(hb))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    msg = prelude + hb + payload
    return msg + struct.pack(">I", zlib.crc32(msg))


def event_frame(event_type: str, payload: Any) -> bytes:
    return encode_frame(
        {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"},
        json.dumps(payload).encode(),
    )


def expected(folder: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((TESTDATA / folder / "expected.json").read_text())
    return data
