"""Builders and expected values shared by the dialect tests: EventStream frames made by hand and the
`expected.json` of each test-data folder."""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

from helpers import DATA


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
    data: dict[str, Any] = json.loads((DATA / folder / "expected.json").read_text())
    return data
