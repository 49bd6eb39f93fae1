"""CBOR V2 encoding for the capture addon: the native writer (`fastcap._native`), which orders
metadata keys as the reference writer does, drops unset values, writes timing keys as floats and
applies the zlib rule (docs/specs/cbor-v2.md §1–§4)."""

from __future__ import annotations

from fastcap._native import __version__
from fastcap._native import encode_capture_entry as encode_entry
from fastcap._native import encode_capture_header as encode_header

MAGIC = "LLMPROXY-CAPTURE-V2"
BACKEND = f"native {__version__}"

__all__ = ["BACKEND", "MAGIC", "encode_entry", "encode_header"]
