"""A small AWS EventStream encoder (header-exact frames with valid CRCs) for test bodies."""

from __future__ import annotations

import binascii
import struct


def _header(name: str, value: str) -> bytes:
    n = name.encode()
    v = value.encode()
    return struct.pack(">B", len(n)) + n + b"\x07" + struct.pack(">H", len(v)) + v


def frame(headers: list[tuple[str, str]], payload: bytes) -> bytes:
    """One frame: prelude (total length, headers length, CRC32), string headers, payload, CRC32."""
    raw_headers = b"".join(_header(k, v) for k, v in headers)
    total = 12 + len(raw_headers) + len(payload) + 4
    prelude = struct.pack(">II", total, len(raw_headers))
    prelude += struct.pack(">I", binascii.crc32(prelude))
    message = prelude + raw_headers + payload
    return message + struct.pack(">I", binascii.crc32(message))


def event(event_type: str, payload: bytes) -> bytes:
    return frame(
        [(":event-type", event_type), (":content-type", "application/json"), (":message-type", "event")],
        payload,
    )


def decode_frames(body: bytes) -> list[tuple[dict[str, str], bytes]]:
    """Inverse of `frame` for string headers, checking both CRCs."""
    out = []
    pos = 0
    while pos < len(body):
        total, hlen = struct.unpack_from(">II", body, pos)
        assert binascii.crc32(body[pos : pos + 8]) == struct.unpack_from(">I", body, pos + 8)[0]
        msg = body[pos : pos + total]
        assert binascii.crc32(msg[:-4]) == struct.unpack_from(">I", msg, total - 4)[0]
        headers: dict[str, str] = {}
        h = 12
        while h < 12 + hlen:
            nlen = msg[h]
            name = msg[h + 1 : h + 1 + nlen].decode()
            h += 1 + nlen
            assert msg[h] == 7
            vlen = struct.unpack_from(">H", msg, h + 1)[0]
            headers[name] = msg[h + 3 : h + 3 + vlen].decode()
            h += 3 + vlen
        out.append((headers, msg[12 + hlen : total - 4]))
        pos += total
    return out
