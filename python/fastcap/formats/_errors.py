"""Reader errors: one-line `FormatError` subclasses naming the file, byte offset and what was expected."""

from __future__ import annotations

from fastcap._native import FlowFileError, FormatError, MitmLogError


class ReaderFormatError(FormatError):
    """Malformed or unrecognised input file (base of the pure-Python readers' errors)."""


class UnknownFormatError(ReaderFormatError):
    """The file's content matches none of the supported formats."""


class HarFormatError(ReaderFormatError):
    """Malformed HAR file."""


class JsonlFormatError(ReaderFormatError):
    """Malformed traffic.jsonl file."""


def make_error(cls: type[FormatError], path: str | None, offset: int, kind: str, message: str) -> FormatError:
    """Build a format error whose text is `<path>: byte <offset>: <message>` with `.kind/.offset/.path`."""
    prefix = f"{path}: " if path else ""
    err = cls(f"{prefix}byte {offset}: {message}")
    err.kind = kind
    err.offset = offset
    err.path = path
    return err


__all__ = [
    "FlowFileError",
    "FormatError",
    "HarFormatError",
    "JsonlFormatError",
    "MitmLogError",
    "ReaderFormatError",
    "UnknownFormatError",
    "make_error",
]
