"""fastcap: see exactly what AI coding agents send to their model APIs, and analyse it fast."""

from __future__ import annotations

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

__all__ = [
    "CaptureFormatError",
    "EventStreamError",
    "FlowFileError",
    "FormatError",
    "MitmLogError",
    "SseError",
    "__version__",
]
