"""Reader errors and faults: one line each, naming the file, the byte offset and what was expected.

A reader meets two kinds of trouble. Input it cannot use at all (empty, another format, no complete
record) raises a `FormatError` subclass. Trouble after some records were read is a `Fault`, kept
beside the records so that every complete record is still used; its `severity` decides the CLI's
exit code (docs/specs/errors.md):

| severity | meaning | CLI |
|---|---|---|
| `tail` | the file ends inside a record (a capture cut or still being written); every complete record was read | warning, exit 0 |
| `note` | a record was read, but part of it could not be decoded as declared (content-encoding failed or over its limit) | warning, exit 0 |
| `damage` | a complete record could not be read: it, or everything after it, is lost | error, exit 2 (`--recover`: warning, exit 0) |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fastcap._native import CaptureFormatError, FlowFileError, FormatError, MitmLogError


class ReaderFormatError(FormatError):
    """Malformed or unrecognised input file (base of the pure-Python readers' errors)."""


class UnknownFormatError(ReaderFormatError):
    """The file's content matches none of the supported formats."""


class HarFormatError(ReaderFormatError):
    """Malformed HAR file."""


class JsonlFormatError(ReaderFormatError):
    """Malformed traffic.jsonl file."""


class InputTooLargeError(ReaderFormatError):
    """A pipe or device that goes on past the size fastcap reads from a non-regular file."""


class FormatWarning(UserWarning):
    """A fault the Python API returns records past (`read_exchanges`): a truncated tail, a body that
    was not decoded, or damage read past with `strict=False` / `recover=True`."""


def make_error(cls: type[FormatError], path: str | None, offset: int, kind: str, message: str) -> FormatError:
    """Build a format error whose text is `<path>: byte <offset>: <message>` with `.kind/.offset/.path`."""
    prefix = f"{path}: " if path else ""
    err = cls(f"{prefix}byte {offset}: {message}")
    err.kind = kind
    err.offset = offset
    err.path = path
    return err


Severity = Literal["tail", "note", "damage"]

# The error class a fault becomes when it is raised, per format.
ERROR_CLASSES: dict[str, type[FormatError]] = {
    "cbor": CaptureFormatError,
    "mitm": FlowFileError,
    "har": HarFormatError,
    "jsonl": JsonlFormatError,
    "mitmlog": MitmLogError,
}


@dataclass(frozen=True, slots=True)
class Fault:
    """One problem met while reading a file, after which reading went on or stopped with the records
    read so far kept. `str(fault)` is the one-line message: `<path>: byte <offset>: <message>`."""

    path: str
    offset: int
    kind: str
    message: str
    severity: Severity
    fmt: str = ""

    def __str__(self) -> str:
        return f"{self.path}: byte {self.offset}: {self.message}"

    def error(self) -> FormatError:
        """This fault as the reader's exception (raised when nothing usable was read, or in strict mode)."""
        return make_error(
            ERROR_CLASSES.get(self.fmt, ReaderFormatError), self.path, self.offset, self.kind, self.message
        )


__all__ = [
    "ERROR_CLASSES",
    "Fault",
    "FlowFileError",
    "FormatError",
    "FormatWarning",
    "HarFormatError",
    "InputTooLargeError",
    "JsonlFormatError",
    "MitmLogError",
    "ReaderFormatError",
    "Severity",
    "UnknownFormatError",
    "make_error",
]
