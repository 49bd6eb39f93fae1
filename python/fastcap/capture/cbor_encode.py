"""CBOR V2 header/entry encoding (cbor-v2.md §1–§4).

Uses the native writer (`fastcap._native.encode_capture_header` / `encode_capture_entry`) when the
build has it, else an equivalent pure-Python encoder on top of `cbor2` (defaults, float64 for
floats, maps in insertion order: byte-identical to the reference writer). Both apply the same
metadata key order and zlib rule.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

MAGIC = "LLMPROXY-CAPTURE-V2"

# Emission order of the 44 compact keys (cbor-v2.md §4). Unknown keys follow in insertion order.
META_ORDER: tuple[str, ...] = (
    "sid", "asid", "bsid", "bseq", "be", "mod", "key", "host", "ua", "rid", "ci", "ss", "se", "tc",
    "tb", "cu", "sc", "ra", "rat", "rtry", "acct", "rts", "pts", "lat", "ttfb", "sdur", "eos",
    "eos_sig", "eos_reason", "eos_term", "eos_err_cls", "eos_err_code", "wire_schema", "transport",
    "event", "http_method", "url", "http_status", "http_reason", "http_version", "ws_message_type",
    "ccid", "crc", "cdb",
)
_META_RANK = {k: i for i, k in enumerate(META_ORDER)}
_FLAGS = frozenset({"ss", "se", "rtry", "eos"})
_FLOAT_KEYS = frozenset({"ra", "rts", "pts", "lat", "ttfb", "sdur"})


def order_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """Drop None values and false flags, coerce float keys, order per the spec."""
    out: dict[str, Any] = {}
    known = sorted((k for k in meta if k in _META_RANK), key=_META_RANK.__getitem__)
    extra = [k for k in meta if k not in _META_RANK]
    for k in (*known, *extra):
        v = meta[k]
        if v is None or (k in _FLAGS and v is not True):
            continue
        if k in _FLOAT_KEYS and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        out[k] = v
    return out


def _py_header(session_id: str, created_at: float, metadata: dict[str, Any] | None = None) -> bytes:
    import cbor2

    return cbor2.dumps(
        {
            "magic": MAGIC,
            "version": 2,
            "created_at": float(created_at),
            "session_id": session_id,
            "metadata": dict(metadata) if metadata is not None else {},
        }
    )


def _py_entry(ts: float, direction: int, seq: int, data: bytes, meta: dict[str, Any] | None = None) -> bytes:
    import cbor2

    entry: dict[str, Any] = {"ts": float(ts), "dir": direction, "seq": seq}
    if len(data) > 128:
        packed = zlib.compress(data)
        if len(packed) < len(data):
            entry["data"] = packed
            entry["enc"] = "zlib"
        else:
            entry["data"] = bytes(data)
    else:
        entry["data"] = bytes(data)
    if meta:
        ordered = order_meta(meta)
        if ordered:
            entry["meta"] = ordered
    return cbor2.dumps(entry)


def _select() -> tuple[Callable[..., bytes], Callable[..., bytes], str]:
    try:
        from fastcap import _native

        if hasattr(_native, "encode_capture_entry") and hasattr(_native, "encode_capture_header"):
            native_entry = _native.encode_capture_entry

            def entry(ts: float, direction: int, seq: int, data: bytes, meta: dict[str, Any] | None = None) -> bytes:
                return native_entry(ts, direction, seq, data, order_meta(meta) if meta else None)

            return _native.encode_capture_header, entry, "native"
    except ImportError:
        pass
    return _py_header, _py_entry, "cbor2"


encode_header, encode_entry, BACKEND = _select()

__all__ = ["BACKEND", "MAGIC", "META_ORDER", "encode_entry", "encode_header", "order_meta"]
