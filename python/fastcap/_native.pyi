# Type stubs for the native module, kept honest by `python -m mypy.stubtest fastcap._native`.
# Each section is owned by one area; edit only your section.
from collections.abc import Sequence
from typing import Any, Final, Literal

__version__: Final[str]
build_profile: Final[str]

# --- begin errors ---
class FormatError(ValueError):
    kind: str
    offset: int
    path: str | None

class CaptureFormatError(FormatError): ...
class EventStreamError(FormatError): ...
class SseError(FormatError): ...
class MitmLogError(FormatError): ...
class FlowFileError(FormatError): ...
# --- end errors ---

# --- begin arrow ---
class ArrowTable:
    @property
    def num_rows(self) -> int: ...
    @property
    def column_names(self) -> list[str]: ...
    def __len__(self) -> int: ...
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...
# --- end arrow ---

# --- begin cbor ---
# --- end cbor ---

# --- begin eventstream ---
# --- end eventstream ---

# --- begin sse ---
# --- end sse ---

# --- begin mitmlog ---
# --- end mitmlog ---
