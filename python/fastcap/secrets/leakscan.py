"""Post-write leak scan (docs/specs/reports.md §6.6).

`scan_paths(paths, allowlist=()) -> list[Finding]` scans files (directories recursively) line by line
for credentials that escaped redaction. A finding names the file, the 1-based line and the pattern,
and shows at most the first 4 characters of the match followed by `…`. Matches that are exactly a
redaction marker are ignored; an allowlist (exact strings, or compiled regular expressions matched
against the whole match) suppresses known false positives.

`.cbor` captures are scanned entry by entry (decompressed payloads and metadata) when a CBOR
decoder (`cbor2`) is available; other binary files are scanned as UTF-8 with replacement.

`scan_text(text, path="")` scans a string, for callers that check output before writing it.
"""

from __future__ import annotations

import contextlib
import os
import re
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from fastcap.secrets.patterns import (
    FIELD_RE,
    HEADER_LINE_RE,
    NAME_TRIGGER_SET,
    TRIGGERS,
    VALUE_PATTERNS,
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


def _cbor_texts(path: Path) -> Iterator[str] | None:
    """Texts of each entry (header first) of a CBOR capture, or None if cbor2 is unavailable."""
    try:
        import cbor2
    except ImportError:
        return None

    def gen() -> Iterator[str]:
        with path.open("rb") as fh:
            while True:
                try:
                    item = cbor2.load(fh)
                except (EOFError, cbor2.CBORDecodeError):
                    return
                if not isinstance(item, dict):
                    yield repr(item)
                    continue
                data = item.get("data")
                if isinstance(data, bytes):
                    if item.get("enc") == "zlib":
                        with contextlib.suppress(zlib.error):
                            data = zlib.decompress(data)
                    text = data.decode("utf-8", "replace")
                else:
                    text = ""
                meta = item.get("meta") or item.get("metadata") or {}
                meta_lines = (
                    "\n".join(
                        f'"{k}": "{v}"' if isinstance(v, str) else f'"{k}": {v}' for k, v in meta.items()
                    )
                    if isinstance(meta, dict)
                    else ""
                )
                yield text + "\n" + meta_lines

    return gen()


def scan_paths(
    paths: Iterable[str | os.PathLike[str]], allowlist: Sequence[AllowEntry] = ()
) -> list[Finding]:
    """Scan files and directories (recursively); returns every finding, in file order."""
    findings: list[Finding] = []
    for f in _iter_files(paths):
        if f.suffix == ".cbor":
            texts = _cbor_texts(f)
            if texts is not None:
                for index, text in enumerate(texts):
                    among = present_triggers(text)
                    if among:
                        for line in text.splitlines():
                            findings.extend(_scan_line(line, str(f), index + 1, allowlist, among))
                continue
        with f.open("rb") as fh:
            lineno = 0
            while block := fh.readlines(_BLOCK_BYTES):
                lines = [raw.decode("utf-8", "replace").rstrip("\r\n") for raw in block]
                among = present_triggers("\n".join(lines))
                for i, line in enumerate(lines, lineno + 1):
                    if among:  # else no line of the block can match
                        findings.extend(_scan_line(line, str(f), i, allowlist, among))
                lineno += len(lines)
    return findings


_BLOCK_BYTES = 4 << 20  # lines are pre-checked a block at a time (large traffic.jsonl files too)


__all__ = ["PATTERNS", "Finding", "scan_paths", "scan_text"]
