"""Reading CBOR V2 capture files (LLMPROXY-CAPTURE-V2) into Polars.

The native reader memory-maps the file and decodes entries straight into Arrow batches; this
module adds the Python conveniences: a strict/keep error policy, warnings for truncated tails,
streaming iteration, and the `Capture` object with per-request views.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import polars as pl

from fastcap import _native
from fastcap._native import CaptureFormatError
from fastcap.formats.inputs import local_input

CLIENT_TO_PROXY, PROXY_TO_CLIENT, PROXY_TO_BACKEND, BACKEND_TO_PROXY = range(4)

#: (compact, long, kind) for the 44 metadata keys, in writer order.
META_KEYS: list[tuple[str, str, str]] = _native.capture_meta_keys()


class CaptureWarning(UserWarning):
    """A recoverable problem in a capture file (e.g. a truncated final entry)."""


ErrorPolicy = Literal["raise", "keep"]


@dataclass
class ReadResult:
    header: dict[str, Any]
    entries: pl.DataFrame
    diagnostics: list[dict[str, Any]] = field(default_factory=list)

    @property
    def fatal(self) -> dict[str, Any] | None:
        return next((d for d in self.diagnostics if d["fatal"]), None)


def _fatal_error(path: str, diag: dict[str, Any], partial: pl.DataFrame) -> CaptureFormatError:
    err = CaptureFormatError(
        f"{path}: byte {diag['offset']}: {diag['message']}; {partial.height} complete entries before it "
        "are readable (use --recover to skip past it)"
    )
    err.kind = diag["kind"]
    err.offset = diag["offset"]
    err.path = path
    err.partial = partial  # type: ignore[attr-defined]
    return err


def _warn_nonfatal(path: str, diagnostics: list[dict[str, Any]]) -> None:
    for d in diagnostics:
        if d["kind"] in ("truncated_tail", "resync_skip", "schema_error"):
            warnings.warn(f"{path}: byte {d['offset']}: {d['message']}", CaptureWarning, stacklevel=3)


def read_capture(
    path: str | os.PathLike[str],
    *,
    recover: bool = False,
    errors: ErrorPolicy = "raise",
    warn: bool = True,
    on_progress: Callable[[int, int], None] | None = None,
) -> ReadResult:
    """Read a whole capture. A corrupt entry raises `CaptureFormatError` (with `.partial`, the
    entries before it) unless `errors="keep"` or `recover=True`. `on_progress(done, total)` gets
    byte positions after every batch. A pipe or device is read once into a temporary file, within
    `FASTCAP_MAX_STREAM_BYTES` (`formats/inputs.py`)."""
    with local_input(path) as src:
        reader = _native.CaptureReader(src.path, recover=recover)
        if on_progress is None:
            entries = pl.DataFrame(reader.read_all())
        else:
            frames = []
            while (batch := reader.next_batch()) is not None:
                frames.append(pl.DataFrame(batch))
                on_progress(reader.position, reader.size)
            entries = pl.concat(frames) if frames else pl.DataFrame(reader.read_all())
        diags = reader.diagnostics
        result = ReadResult(header=reader.header, entries=entries, diagnostics=diags)
        fatal = result.fatal
        if fatal is not None and errors == "raise" and not recover:
            raise _fatal_error(src.name, fatal, entries)
        if warn:
            _warn_nonfatal(src.name, diags)
        return result


def read_cbor(
    path: str | os.PathLike[str], *, recover: bool = False, errors: ErrorPolicy = "raise"
) -> pl.DataFrame:
    """One row per entry: `ts`, `dir`, `seq`, `data` (decompressed), the 44 metadata keys under
    their long names, `meta_extra`/`entry_extra` (unknown keys as JSON) and `problems`."""
    return read_capture(path, recover=recover, errors=errors).entries


def iter_cbor(
    path: str | os.PathLike[str],
    *,
    batch_rows: int = 16384,
    recover: bool = False,
    errors: ErrorPolicy = "raise",
) -> Iterator[pl.DataFrame]:
    """Stream a capture in record batches: memory stays flat whatever the file size."""
    with local_input(path) as src:
        reader = _native.CaptureReader(src.path, recover=recover, batch_rows=batch_rows)
        rows = 0
        while (batch := reader.next_batch()) is not None:
            frame = pl.DataFrame(batch)
            rows += frame.height
            yield frame
        fatal = next((d for d in reader.diagnostics if d["fatal"]), None)
        if fatal is not None and errors == "raise" and not recover:
            raise _fatal_error(src.name, fatal, pl.DataFrame())
        _warn_nonfatal(src.name, reader.diagnostics)


def expand_meta(row: dict[str, Any]) -> dict[str, Any]:
    """The metadata of one entry row with long names, nulls dropped, unknown keys kept."""
    import orjson

    out: dict[str, Any] = {}
    for _, long, kind in META_KEYS:
        value = row.get(long)
        if value is None:
            continue
        out[long] = orjson.loads(value) if kind == "json" else value
    extra = row.get("meta_extra")
    if extra:
        out.update(orjson.loads(extra))
    return out


class Capture:
    """A CBOR V2 capture: header, entries, diagnostics, and request-level views."""

    def __init__(self, path: str | os.PathLike[str], *, recover: bool = False, errors: ErrorPolicy = "raise"):
        self.path = os.fspath(path)
        result = read_capture(self.path, recover=recover, errors=errors)
        self.header: dict[str, Any] = result.header
        self.entries: pl.DataFrame = result.entries
        self.diagnostics: list[dict[str, Any]] = result.diagnostics

    @property
    def session_id(self) -> str | None:
        return self.header.get("session_id")

    @property
    def created_at(self) -> float | None:
        return self.header.get("created_at")

    @cached_property
    def requests(self) -> pl.DataFrame:
        """One row per backend request (see `fastcap.formats.cbor_requests.request_table`)."""
        from fastcap.formats.cbor_requests import request_table

        return request_table(self.entries)

    def exchanges(self) -> list[Any]:
        """The capture as normalised `Exchange` objects (for reports)."""
        from fastcap.formats.cbor import exchanges_from_entries

        return exchanges_from_entries(self.entries, source_path=self.path)

    def __repr__(self) -> str:
        return f"<Capture {self.path!r} session={self.session_id!r} entries={self.entries.height}>"
