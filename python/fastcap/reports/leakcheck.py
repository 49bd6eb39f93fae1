"""The post-write leak scan (docs/specs/reports.md §6.6) of the texts a report has just written.

`fastcap.secrets.leakscan.scan_paths` reads each file back, decodes it and splits it into lines;
a report holds the very text it wrote (`write_text`, UTF-8, LF only), so the scan runs on that
text instead: the same lines, the same pre-check (the literals and base64 secrets of the whole
text find the only lines worth the line rules) and the same line rules (`leakscan._scan_line`),
hence the same findings, without a second read of two thousand files.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from itertools import accumulate
from pathlib import Path

from fastcap.secrets.leakscan import Finding, _scan_line
from fastcap.secrets.patterns import B64_TRIGGER, b64_secret_spans, fold_lower, literals_in


def scan_written(path: Path, text: str) -> list[Finding]:
    """The findings of `scan_paths([path])` once `text` is `path`'s whole content."""
    among = literals_in(text)
    spans = b64_secret_spans(text)
    if spans:
        among.add(B64_TRIGGER)
    if not among:  # no line of the text can match
        return []
    # The lines `scan_paths` reads: split at LF, each without its line end (CR before LF too).
    lines = [line.rstrip("\r\n") for line in text.split("\n")]
    if lines and lines[-1] == "" and text.endswith("\n"):
        lines.pop()  # the final LF ends the last line, it does not open another
    name = str(path)
    findings: list[Finding] = []
    for i in _candidate_lines(text, among, spans):
        findings.extend(_scan_line(lines[i], name, i + 1, (), among))
    return findings


def scan_all_written(written: Iterable[tuple[Path, str]]) -> list[Finding]:
    """`scan_written` of each (path, text), in order."""
    return [f for path, text in written for f in scan_written(path, text)]


# The characters `fold_lower` maps to ASCII letters before lower-casing (İ ı ſ K): the only ones
# whose folding can form one of the (ASCII) literals; U+0130 and U+212A are also the only
# characters whose `lower()` holds ASCII (tests/reports/test_leakcheck.py checks both).
FOLDED_TO_ASCII = "\u0130\u0131\u017f\u212a"


def _candidate_lines(text: str, among: set[str], spans: list[tuple[int, int]]) -> list[int]:
    """Indices of the lines (split at LF) holding one of the literals `among`, case-insensitively
    as `fold_lower` compares, or starting one of the base64 `spans`.

    Searched in the UTF-8 bytes lower-cased, where a literal occurs exactly where it occurs in the
    folded text (every other non-ASCII character stays non-ASCII bytes): `str.lower()` of a report,
    which holds non-ASCII (`—`, `→`), goes character by character through the Unicode tables."""
    folded = fold_lower(text) if any(c in text for c in FOLDED_TO_ASCII) else text
    low = folded.encode("utf-8", "surrogatepass").lower()
    # Where each line starts, summed at C speed (a Python loop over every line was the cost).
    starts = list(accumulate(map((1).__add__, map(len, low.split(b"\n"))), initial=0))
    hits: set[int] = {text.count("\n", 0, a) for a, _ in spans}  # rare: spans are secrets
    for literal in among:
        if literal == B64_TRIGGER:
            continue
        needle = literal.encode("ascii")
        pos = low.find(needle)
        while pos >= 0:
            index = bisect.bisect_right(starts, pos) - 1
            hits.add(index)
            pos = low.find(needle, starts[index + 1])  # on to the next line: one hit is enough
    return sorted(hits)
