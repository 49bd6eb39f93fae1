"""Readers for existing captures: every format becomes a list of `Exchange`s.

| format | reader | body fidelity (`model.BodyFidelity`, set per body) |
|---|---|---|
| `cbor` | `fastcap.formats.cbor` (fastcap / llm-interactive-proxy captures) | complete (with chunk times); truncated without an end marker or with `trunc` |
| `mitm` | `mitmflow.read_mitm_partial` (mitmproxy's `FlowReader`) | complete, or missing (streamed, not stored) |
| `har` | `har.read_har` (latin-1 recovery of text bodies) | complete; recovered_from_text / missing when the HAR lost it |
| `jsonl` | `jsonl.read_jsonl` (agent-system-dissect `traffic.jsonl`) | complete, json_value, recovered_from_text (U+FFFD) |
| `mitmlog` | `mitmlog.read_mitmlog` (mitmdump console output, parsed in Rust) | json_value, from_text_log, recovered_from_text (EventStream), decoded_from_hex, truncated (11.x), missing |

Trailers are kept from `.mitm` flows, CBOR (`trl` extension key) and JSONL (`fastcap` extension).

`detect_format` looks at the content (the file name only breaks ties), and `read_exchanges`
dispatches. Bad input raises a one-line `FormatError` subclass naming the file, the byte offset
and what was expected; the exchanges read before a fault are on the exception as `.exchanges`
(or returned, with a warning on stderr, when `strict=False`).
"""

from __future__ import annotations

import codecs
import importlib
import json
import os
import re
import sys
from typing import Any

from fastcap._native import FormatError, MitmLogError
from fastcap.formats._errors import (
    FlowFileError,
    HarFormatError,
    JsonlFormatError,
    ReaderFormatError,
    UnknownFormatError,
    make_error,
)
from fastcap.formats.eventstream_text import hexdump_to_bytes, recover_eventstream_frames
from fastcap.model import Exchange

FORMATS = ("cbor", "mitm", "har", "jsonl", "mitmlog")
_EXPECTED = "a CBOR capture, a .mitm flow file, HAR, traffic.jsonl or a mitmdump log"
_PROBE = 1 << 16

_TNET_PREFIX = re.compile(rb"^(\d{1,12}):")
_TERMLOG = re.compile(r"^\[\d{2}:\d{2}:\d{2}\.\d{3}\](\[[^\]]*\])? ")
_REQUEST = re.compile(r"^(\[replay\]|\S+:\d+): [A-Za-z0-9_.-]+( PUSH_PROMISE)? \S+( HTTP/\S+)?$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_EXT = {
    ".mitm": "mitm",
    ".flows": "mitm",
    ".har": "har",
    ".jsonl": "jsonl",
    ".cbor": "cbor",
    ".log": "mitmlog",
    ".txt": "mitmlog",
}


def _looks_tnetstring(head: bytes, size: int) -> bool:
    m = _TNET_PREFIX.match(head)
    if m is None:
        return False
    length = int(m.group(1))
    body = m.end()
    if body + length < size:
        # the whole first item is in the file: its tag byte must be a dict
        if body + length < len(head):
            return head[body + length : body + length + 1] == b"}"
        return True
    # truncated first item: its payload must begin with a tnetstring key
    return re.match(rb"^\d{1,12}:", head[body : body + 14]) is not None or length == 0


def _looks_mitmlog(text: str) -> bool:
    for line in text.split("\n")[:200]:
        line = _ANSI.sub("", line.rstrip("\r"))
        if _TERMLOG.match(line) or _REQUEST.match(line):
            return True
    return False


def detect_format(path: str | os.PathLike[str]) -> str:
    """`cbor`, `mitm`, `har`, `jsonl` or `mitmlog`, from the file's content.

    Raises `UnknownFormatError` for an empty or unrecognised file."""
    shown = os.fspath(path)
    size = os.path.getsize(shown)
    with open(shown, "rb") as fh:
        head = fh.read(_PROBE)
    if head.startswith(codecs.BOM_UTF8):
        head = head[3:]
    stripped = head.lstrip()
    if not stripped:
        raise make_error(UnknownFormatError, shown, 0, "empty", f"empty file, expected {_EXPECTED}")
    # CBOR V2: the header is a CBOR map (major type 5) holding the magic text.
    if 0xA0 <= head[0] <= 0xBF and b"LLMPROXY-CAPTURE" in head[:512]:
        return "cbor"
    if _looks_tnetstring(head, size):
        return "mitm"
    if stripped[:1] == b"{":
        first_line = stripped.split(b"\n", 1)[0]
        try:
            obj = json.loads(first_line)
        except ValueError:
            obj = None
        if isinstance(obj, dict):
            return "har" if "log" in obj and "request" not in obj else "jsonl"
        if re.search(rb'^\s*\{\s*"log"\s*:', stripped) or b'"log"' in stripped[:4096]:
            return "har"
        if re.match(rb'^\{\s*"(timestamp|request|response)"', stripped):
            return "jsonl"
    if b"\x00" not in head:
        text = head.decode("utf-8", "replace")
        if _looks_mitmlog(text):
            return "mitmlog"
    ext = os.path.splitext(shown)[1].lower()
    hint = f" (the name suggests {_EXT[ext]}, but the content does not match)" if ext in _EXT else ""
    raise make_error(
        UnknownFormatError, shown, 0, "unknown_format", f"unrecognised content, expected {_EXPECTED}{hint}"
    )


def _partial(exc: FormatError, exchanges: list[Exchange], strict: bool) -> list[Exchange]:
    exc.exchanges = exchanges  # type: ignore[attr-defined]
    if strict:
        raise exc
    print(f"WARNING: {exc}; kept {len(exchanges)} complete records", file=sys.stderr)
    return exchanges


def read_exchanges(
    path: str | os.PathLike[str], *, fmt: str | None = None, strict: bool = True
) -> list[Exchange]:
    """Read any supported capture file into `Exchange`s (format detected unless `fmt` is given).

    A fault raises a one-line `FormatError` subclass (`.path`, `.offset`, `.kind`, and
    `.exchanges`: the complete records before the fault). With `strict=False` the records before
    a fault are returned and the fault is printed as a warning on stderr."""
    shown = os.fspath(path)
    if not os.path.exists(shown):
        raise FileNotFoundError(f"{shown}: no such file")
    if os.path.isdir(shown):
        raise IsADirectoryError(f"{shown}: is a directory, expected a capture file")
    kind = fmt or detect_format(shown)
    if kind not in FORMATS:
        raise ValueError(f"unknown format {kind!r}; expected one of {', '.join(FORMATS)}")
    if kind == "cbor":
        cbor = importlib.import_module("fastcap.formats.cbor")
        result: list[Exchange] = cbor.read_exchanges(shown)
        return result
    if kind == "mitm":
        from fastcap.formats.mitmflow import read_mitm_partial

        exchanges, error = read_mitm_partial(shown)
        if error is not None:
            assert isinstance(error, FormatError)
            return _partial(error, exchanges, strict)
        return exchanges
    if kind == "har":
        from fastcap.formats.har import read_har

        return read_har(shown)
    if kind == "jsonl":
        from fastcap.formats.jsonl import read_jsonl

        return read_jsonl(shown)
    from fastcap.formats.mitmlog import read_mitmlog

    return read_mitmlog(shown)


def __getattr__(name: str) -> Any:
    # Lazy access to submodules that import heavy dependencies.
    if name in ("mitmlog", "mitmflow", "har", "jsonl", "cbor", "eventstream_text"):
        return importlib.import_module(f"fastcap.formats.{name}")
    raise AttributeError(name)


__all__ = [
    "FORMATS",
    "FlowFileError",
    "FormatError",
    "HarFormatError",
    "JsonlFormatError",
    "MitmLogError",
    "ReaderFormatError",
    "UnknownFormatError",
    "detect_format",
    "hexdump_to_bytes",
    "read_exchanges",
    "recover_eventstream_frames",
]
