"""Post-write leak scan (docs/specs/reports.md §6.6).

`scan_paths(paths, allowlist=()) -> list[Finding]` scans files (directories recursively) line by line
for credentials that escaped redaction. A finding names the file, the 1-based line and the pattern,
and shows at most the first 4 characters of the match followed by `…`. Matches that are exactly a
redaction marker are ignored; an allowlist (exact strings, or compiled regular expressions matched
against the whole match) suppresses known false positives.

A base64 run whose decoded text holds a secret is a finding too (`base64 of <pattern>`, the excerpt
taken from the run; docs/specs/reports.md §6.7).

`.cbor` captures are scanned entry by entry (decompressed payloads and metadata) when a CBOR
decoder (`cbor2`) is available, and every streamed body once more as a whole (its chunks joined in
order, content-encoding removed), so a secret split between two chunks is found; a finding in a
stream names the entry of its first chunk. Other binary files are scanned as UTF-8 with replacement.

`scan_text(text, path="")` scans a string, for callers that check output before writing it.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import re
import sys
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastcap.secrets.patterns import (
    B64_TRIGGER,
    FIELD_RE,
    HEADER_LINE_RE,
    NAME_TRIGGER_SET,
    TRIGGERS,
    VALUE_PATTERNS,
    b64_decoded_secrets,
    b64_secret_spans,
    fold_lower,
    literals_in,
    present_triggers,
)
from fastcap.secrets.redact import is_marker

AllowEntry = str | re.Pattern[str]


@dataclass(frozen=True, slots=True)
class Finding:
    path: str
    line: int  # 1-based; for CBOR files the entry index (0-based) + 1
    pattern: str  # human name of the pattern
    excerpt: str  # at most 4 characters of the match + "…"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.pattern}: {self.excerpt}"


# The patterns and name rules live in `fastcap.secrets.patterns`, shared with `redact_text`: a
# secret this scan would report is one redaction removes.
PATTERNS: list[tuple[str, re.Pattern[str]]] = [(p.name, p.regex) for p in VALUE_PATTERNS]


def _excerpt(match: str) -> str:
    return match[:4] + "…"


def _allowed(text: str, allowlist: Sequence[AllowEntry]) -> bool:
    for entry in allowlist:
        if isinstance(entry, str):
            if text == entry:
                return True
        elif entry.fullmatch(text) or entry.search(text):
            return True
    return False


def _scan_line(
    line: str, path: str, lineno: int, allowlist: Sequence[AllowEntry], among: Iterable[str] = TRIGGERS
) -> Iterator[Finding]:
    # Skip every expression whose literals are absent (most lines hold none); same findings, a
    # fraction of the regular-expression work. `among`: the literals present in the whole file.
    present = present_triggers(line, among)
    if not present:
        return
    for pattern in VALUE_PATTERNS:
        if present.isdisjoint(pattern.triggers):
            continue
        name, rx = pattern.name, pattern.regex
        for m in rx.finditer(line):
            text = m.group(0)
            if is_marker(text) or _allowed(text, allowlist):
                continue
            yield Finding(path, lineno, name, _excerpt(text))
    if B64_TRIGGER in present:
        for a, b in b64_secret_spans(line):
            run = line[a:b]
            if _allowed(run, allowlist):
                continue
            for pattern, found in b64_decoded_secrets(run):
                if not _allowed(found, allowlist):
                    yield Finding(path, lineno, f"base64 of {pattern.name}", _excerpt(run))
                    break
    if present.isdisjoint(NAME_TRIGGER_SET):
        return
    hm = HEADER_LINE_RE.match(line)
    if hm:
        value = hm.group(2).strip().strip("`'\"")
        if value and not is_marker(value) and not _allowed(value, allowlist):
            yield Finding(path, lineno, f"un-redacted header {hm.group(1).lower()}", _excerpt(value))
    for fm in FIELD_RE.finditer(line):
        raw = fm.group(2)
        if raw in ("{", "["):
            continue  # a nested structure, its leaves are checked on their own
        value = raw[1:-1] if raw.startswith('"') else raw
        if not value or is_marker(value) or _allowed(value, allowlist):
            continue
        yield Finding(path, lineno, f"un-redacted field {fm.group(1)}", _excerpt(value))


def scan_text(text: str, path: str = "", allowlist: Sequence[AllowEntry] = ()) -> list[Finding]:
    """Findings in one text (lines numbered from 1)."""
    findings: list[Finding] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        findings.extend(_scan_line(line, path, lineno, allowlist))
    return findings


def _iter_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    for p in paths:
        path = Path(p)
        if path.is_dir():
            yield from sorted(f for f in path.rglob("*") if f.is_file())
        elif path.is_file():
            yield path


# A streamed body is scanned whole up to this size (the rest of a longer one chunk by chunk only),
# and its content-encoding removed up to this many bytes out.
_STREAM_SCAN_MAX = 64 << 20


def _cbor_texts(path: Path) -> Iterator[tuple[int, str]] | None:
    """(entry index, text) of each entry (header first) of a CBOR capture, then of each streamed
    body joined from its chunks; None if cbor2 is unavailable."""
    try:
        import cbor2
    except ImportError:
        return None

    def gen() -> Iterator[tuple[int, str]]:
        streams: dict[tuple[object, object], _Stream] = {}
        index = -1
        with path.open("rb") as fh:
            while True:
                try:
                    item = cbor2.load(fh)
                except (EOFError, cbor2.CBORDecodeError):
                    break
                index += 1
                if not isinstance(item, dict):
                    yield index, repr(item)
                    continue
                data = item.get("data")
                if isinstance(data, bytes):
                    if item.get("enc") == "zlib":
                        with contextlib.suppress(zlib.error):
                            data = zlib.decompress(data)
                else:
                    data = b""
                meta = item.get("meta") or item.get("metadata") or {}
                meta_lines = (
                    "\n".join(
                        f'"{k}": "{v}"' if isinstance(v, str) else f'"{k}": {v}' for k, v in meta.items()
                    )
                    if isinstance(meta, dict)
                    else ""
                )
                taken, finished = (
                    _follow_stream(streams, index, item.get("dir"), meta, data)
                    if isinstance(meta, dict)
                    else (False, None)
                )
                # A chunk of a followed stream is scanned with its stream (below), not on its own.
                text = "" if taken else data.decode("utf-8", "replace")
                yield index, text + "\n" + meta_lines
                if finished is not None:
                    yield finished.first, finished.text()
        for stream in streams.values():
            if stream.chunks:
                yield stream.first, stream.text()

    return gen()


@dataclass(slots=True)
class _Stream:
    encoding: str = ""
    first: int = -1
    size: int = 0
    chunks: list[tuple[int, bytes]] | None = None

    def text(self) -> str:
        # Chunks in `ci` order (file order may differ, docs/specs/cbor-v2.md §7).
        body = b"".join(c for _, c in sorted(self.chunks or (), key=lambda ic: ic[0]))
        return _decoded(body, self.encoding).decode("utf-8", "replace")


def _follow_stream(
    streams: dict[tuple[object, object], _Stream],
    index: int,
    direction: object,
    meta: dict[Any, Any],
    data: bytes,
) -> tuple[bool, _Stream | None]:
    """Collect the chunks of each stream (`rid` and direction, from its start marker on): (whether
    this entry's data was taken into a stream, the stream once its end marker or, for a cut
    stream, its EoS entry is read)."""
    rid = meta.get("rid")
    if rid is None:
        return False, None
    key = (rid, direction)
    if meta.get("ss"):
        hdrs = meta.get("hdrs")
        enc = ""
        if isinstance(hdrs, str):
            for line in hdrs.splitlines():
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-encoding":
                    enc = value.strip().lower()
        streams[key] = _Stream(encoding=enc, chunks=[])
        return False, None
    stream = streams.get(key)
    if stream is None or stream.chunks is None:
        return False, None
    ci = meta.get("ci")
    if ci is not None and data:
        if stream.size + len(data) > _STREAM_SCAN_MAX:
            return False, None  # beyond the whole-body limit: scanned entry by entry
        if stream.first < 0:
            stream.first = index
        stream.size += len(data)
        stream.chunks.append((ci if isinstance(ci, int) else 0, data))
        return True, None
    if meta.get("se") or meta.get("eos"):
        del streams[key]
        return False, stream if stream.chunks else None
    return False, None


def _decoded(body: bytes, encoding: str) -> bytes:
    """`body` with a gzip/deflate content-encoding removed (bounded output; on any error, or for an
    encoding this module cannot undo, the bytes as they are)."""
    if encoding in ("gzip", "x-gzip", "deflate"):
        for wbits in (31,) if "gzip" in encoding else (15, -15):
            try:
                out = zlib.decompressobj(wbits).decompress(body, _STREAM_SCAN_MAX)
            except zlib.error:
                continue
            return out
    return body


def scan_paths(
    paths: Iterable[str | os.PathLike[str]], allowlist: Sequence[AllowEntry] = ()
) -> list[Finding]:
    """Scan files and directories (recursively); returns every finding, in file order."""
    findings: list[Finding] = []
    for f in _iter_files(paths):
        if f.suffix == ".cbor":
            texts = _cbor_texts(f)
            if texts is not None:
                for index, text in texts:
                    among = present_triggers(text)
                    if among:
                        for line in text.splitlines():
                            findings.extend(_scan_line(line, str(f), index + 1, allowlist, among))
                continue
        with f.open("rb") as fh:
            lineno = 0
            while block := fh.readlines(_BLOCK_BYTES):
                lines = [raw.decode("utf-8", "replace").rstrip("\r\n") for raw in block]
                text = "\n".join(lines)
                among = literals_in(text)
                spans = b64_secret_spans(text)
                if spans:
                    among.add(B64_TRIGGER)
                if among:  # else no line of the block can match
                    for i in _candidate_lines(fold_lower(text), lines, among, spans):
                        findings.extend(_scan_line(lines[i], str(f), lineno + 1 + i, allowlist, among))
                lineno += len(lines)
    return findings


def _candidate_lines(low: str, lines: list[str], among: set[str], spans: list[tuple[int, int]]) -> list[int]:
    """Indices of the lines (`low`: `lines` joined by LF, folded) that hold one of the literals
    `among` or one of the base64 `spans`: the only lines `_scan_line` can report. Found with
    `str.find` over the whole block rather than a pre-check per line."""
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    hits: set[int] = {bisect.bisect_right(starts, a) - 1 for a, _ in spans}
    for literal in among:
        if literal == B64_TRIGGER:
            continue
        pos = low.find(literal)
        while pos >= 0:
            index = bisect.bisect_right(starts, pos) - 1
            hits.add(index)
            # On to the next line: one hit is enough for a line.
            nxt = starts[index + 1] if index + 1 < len(starts) else len(low)
            pos = low.find(literal, nxt)
    return sorted(hits)


_BLOCK_BYTES = 4 << 20  # lines are pre-checked a block at a time (large traffic.jsonl files too)


def remove_if_leaks(path: Path) -> bool:
    """Leak-scan one written file; when it holds a secret, print the findings (at most 20) and a
    one-line error on stderr, remove the file and return True."""
    findings = scan_paths([path])
    if not findings:
        return False
    for f in findings[:20]:
        print(f"fastcap: leak scan: {f}", file=sys.stderr)
    path.unlink()
    print(f"fastcap: error: leak scan found {len(findings)} secret(s); {path} removed", file=sys.stderr)
    return True


__all__ = ["PATTERNS", "Finding", "remove_if_leaks", "scan_paths", "scan_text"]
