"""fastcap: see exactly what AI coding agents send to their model APIs, and analyse it fast."""

from __future__ import annotations

from typing import Any

from fastcap import _native
from fastcap._native import (
    CaptureFormatError,
    EventStreamError,
    FlowFileError,
    FormatError,
    MitmLogError,
    SseError,
)

__version__: str = _native.__version__

# The Polars-facing API is imported on first use, so `import fastcap` stays cheap.
_LAZY = {
    "read_cbor": "fastcap.formats.capture_file",
    "iter_cbor": "fastcap.formats.capture_file",
    "read_capture": "fastcap.formats.capture_file",
    "Capture": "fastcap.formats.capture_file",
    "read_exchanges": "fastcap.formats",
    "analyze_exchange": "fastcap.dialects",
    "open_dataset": "fastcap.dataset",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fastcap' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "Capture",
    "CaptureFormatError",
    "EventStreamError",
    "FlowFileError",
    "FormatError",
    "MitmLogError",
    "SseError",
    "__version__",
    "analyze_exchange",
    "iter_cbor",
    "read_capture",
    "read_cbor",
    "read_exchanges",
]
