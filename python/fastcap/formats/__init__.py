"""Readers for existing captures: every format becomes a list of `Exchange`s.

| format | reader | body fidelity (`model.BodyFidelity`, set per body) |
|---|---|---|
| `cbor` | `cbor.read_cbor_faults` (fastcap / llm-interactive-proxy captures) | complete (with chunk times); truncated without an end marker or with `trunc` |
| `mitm` | `mitmflow.read_mitm_faults` (mitmproxy's `FlowReader`, record by record) | complete, or missing (streamed, not stored) |
| `har` | `har.read_har_faults` (latin-1 recovery of text bodies) | complete; recovered_from_text / missing when the HAR lost it |
| `jsonl` | `jsonl.read_jsonl_faults` (agent-system-dissect `traffic.jsonl`) | complete, json_value, recovered_from_text (U+FFFD) |
| `mitmlog` | `mitmlog.read_mitmlog_faults` (mitmdump console output, parsed in Rust) | json_value, from_text_log, recovered_from_text (EventStream), decoded_from_hex, truncated (11.x), missing |

Trailers are kept from `.mitm` flows, CBOR (`trl` extension key) and JSONL (`fastcap` extension).

`detect_format` looks at the content (the file name only breaks ties), and `read_file` /
`read_exchanges` dispatch. Input that cannot be used at all (empty, another format, no complete
record) raises a one-line `FormatError` subclass naming the file, the byte offset and what was
expected. Trouble after complete records is a `Fault` (`formats/_errors.py`): `read_file` returns
the records with every fault, and the CLI decides the exit code from their severities
(docs/specs/errors.md). Pipes, devices and standard input are copied once to a temporary file,
within `FASTCAP_MAX_STREAM_BYTES` (`formats/inputs.py`); content-encodings are undone within the
inflation limits of `formats/limits.py`.
"""

from __future__ import annotations

import codecs
import contextlib
import gc
import importlib
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from fastcap._native import FormatError, MitmLogError
from fastcap.formats._errors import (
    Fault,
    FlowFileError,
    FormatWarning,
    HarFormatError,
    InputTooLargeError,
    JsonlFormatError,
    ReaderFormatError,
    UnknownFormatError,
    make_error,
)
from fastcap.formats.eventstream_text import hexdump_to_bytes, recover_eventstream_frames
from fastcap.formats.inputs import local_input
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
            obj = orjson.loads(first_line)
        except orjson.JSONDecodeError:  # (also JSON nested too deeply: orjson stops at 1024 levels)
            obj = None
        if isinstance(obj, dict):
            return "har" if "log" in obj and "request" not in obj else "jsonl"
        if re.search(rb'^\s*\{\s*"log"\s*:', stripped) or b'"log"' in stripped[:4096]:
            return "har"
        if re.match(rb'^\{\s*"(timestamp|request|response)"', stripped):
            return "jsonl"
    # A stray NUL does not make a log something else: the log parser reports it at its own offset.
    if _looks_mitmlog(head.replace(b"\x00", b" ").decode("utf-8", "replace")):
        return "mitmlog"
    ext = os.path.splitext(shown)[1].lower()
    hint = f" (the name suggests {_EXT[ext]}, but the content does not match)" if ext in _EXT else ""
    raise make_error(
        UnknownFormatError, shown, 0, "unknown_format", f"unrecognised content, expected {_EXPECTED}{hint}"
    )


@dataclass
class FileRead:
    """What reading one file gave: its exchanges, the faults met (in file order) and its format."""

    exchanges: list[Exchange]
    faults: list[Fault] = field(default_factory=list)
    fmt: str = ""

    @property
    def damage(self) -> list[Fault]:
        """Faults that lost complete records (exit code 2 unless `--recover`)."""
        return [f for f in self.faults if f.severity == "damage"]


def _read_local(path: str, name: str, kind: str, recover: bool) -> FileRead:
    if kind == "cbor":
        from fastcap.formats.cbor import read_cbor_faults

        exchanges, faults = read_cbor_faults(path, name=name, recover=recover)
    elif kind == "mitm":
        from fastcap.formats.mitmflow import read_mitm_faults

        exchanges, faults = read_mitm_faults(path, name=name, recover=recover)
    elif kind == "har":
        from fastcap.formats.har import read_har_faults

        exchanges, faults = read_har_faults(path, name=name)
    elif kind == "jsonl":
        from fastcap.formats.jsonl import read_jsonl_faults

        exchanges, faults = read_jsonl_faults(path, name=name)
    else:
        from fastcap.formats.mitmlog import read_mitmlog_faults

        exchanges, faults = read_mitmlog_faults(path, name=name)
    if not exchanges:
        stop = next((f for f in faults if f.severity != "note"), None)
        if stop is not None:  # a fault and no complete record: nothing usable
            err = stop.error()
            err.exchanges = []  # type: ignore[attr-defined]
            raise err
    return FileRead(exchanges, faults, kind)


def read_file(
    path: str | os.PathLike[str], *, fmt: str | None = None, recover: bool = False, name: str | None = None
) -> FileRead:
    """Read any supported capture file (format detected unless `fmt` is given): the exchanges of
    every complete record, and every fault met on the way (`FileRead.faults`). Raises a one-line
    `FormatError` subclass when nothing usable is found; `recover=True` reads past damage where the
    format allows it (CBOR resynchronises at the next plausible entry, `.mitm` at the next record).
    `name`: what messages call the file (default: `path`, or `<stdin>` for `-`)."""
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    with local_input(path) as src, _no_gc():  # (errors name the input, not a temporary copy)
        return _read_local(src.path, name or src.name, fmt or detect_format(src.path), recover)


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """The cyclic garbage collector paused while a file is read. Readers build millions of small
    acyclic objects (parsed JSON, headers, chunks) that live on; each collection walked all of
    them again: 0.3-0.6 s of 1.1-1.6 s reading a 230 MB traffic.jsonl. Nothing read forms a cycle,
    so nothing is left for the collector to find afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def read_exchanges(
    path: str | os.PathLike[str], *, fmt: str | None = None, strict: bool = True, recover: bool = False
) -> list[Exchange]:
    """Read any supported capture file into `Exchange`s (format detected unless `fmt` is given).

    Damage (a complete record that could not be read) raises its one-line `FormatError` subclass
    (`.path`, `.offset`, `.kind`, and `.exchanges`: the records read). With `strict=False` or
    `recover=True` the records are returned instead. Every fault that does not raise (a truncated
    tail, a body not decoded, damage read past) is issued as a `FormatWarning`."""
    result = read_file(path, fmt=fmt, recover=recover)
    damage = result.damage
    if damage and strict and not recover:
        err = damage[0].error()
        err.exchanges = result.exchanges  # type: ignore[attr-defined]
        raise err
    for fault in result.faults:
        warnings.warn(str(fault), FormatWarning, stacklevel=2)
    return result.exchanges


def __getattr__(name: str) -> Any:
    # Lazy access to submodules that import heavy dependencies.
    if name in ("mitmlog", "mitmflow", "har", "jsonl", "cbor", "eventstream_text"):
        return importlib.import_module(f"fastcap.formats.{name}")
    raise AttributeError(name)


__all__ = [
    "FORMATS",
    "Fault",
    "FileRead",
    "FlowFileError",
    "FormatError",
    "FormatWarning",
    "HarFormatError",
    "InputTooLargeError",
    "JsonlFormatError",
    "MitmLogError",
    "ReaderFormatError",
    "UnknownFormatError",
    "detect_format",
    "hexdump_to_bytes",
    "read_exchanges",
    "read_file",
    "recover_eventstream_frames",
]
