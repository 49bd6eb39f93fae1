"""The post-write leak scan (docs/specs/reports.md §6.6) of the texts a report has just written.

`fastcap.secrets.leakscan.scan_paths` reads each file back, decodes it and splits it into lines;
a report holds the very text it wrote (`write_text`, UTF-8, no newline translation), so the scan runs on that
text instead: the same lines, the same pre-check (the literals and base64 secrets of the whole
text find the only lines worth the line rules) and the same line rules (`leakscan._scan_line`),
hence the same findings, without a second read of two thousand files.
"""

from __future__ import annotations

from pathlib import Path

# `_scan_line`: the line rules themselves, which `leakscan` keeps private (its public functions read
# files or check every line); one definition of what a finding is, not a copy.
from fastcap.secrets.leakscan import Finding, _scan_line
from fastcap.secrets.patterns import B64_TRIGGER, b64_secret_spans, fold_lower, literals_in


def scan_written(path: Path, text: str) -> list[Finding]:
    """The findings of `scan_paths([path])` once `text` is `path`'s whole content."""
    data = text.encode("utf-8", "surrogatepass")
    # (searched for in the bytes: a byte search is several times faster than one in a text
    # holding `—`, and UTF-8 finds a character's sequence nowhere but at that character)
    if any(folded in data for folded in _FOLDED_UTF8):
        return _scan_folded(str(path), text)
    # Without İ ı ſ K, a literal occurs in the folded text exactly where it occurs in the UTF-8
    # bytes lower-cased: every other non-ASCII character stays non-ASCII bytes. (`str.lower()` of a
    # report, which holds `—` and `→`, went character by character through the Unicode tables.)
    low = data.lower()
    among = literals_in(low)
    spans = b64_secret_spans(data)  # the same runs as in the text: none holds a non-ASCII byte
    if spans:
        among.add(B64_TRIGGER)
    if not among:  # no line of the text can match
        return []
    # The starts of the lines holding a literal or a base64 run: the only lines the rules can
    # report. Only those lines are decoded and numbered (by the line ends before them).
    starts = {data.rfind(b"\n", 0, a) + 1 for a, _ in spans}
    for literal in among:
        if literal == B64_TRIGGER:
            continue
        needle = literal.encode("ascii")
        pos = low.find(needle)
        while pos >= 0:
            starts.add(low.rfind(b"\n", 0, pos) + 1)
            end = low.find(b"\n", pos)
            pos = -1 if end < 0 else low.find(needle, end + 1)  # one hit is enough for a line
    name = str(path)
    findings: list[Finding] = []
    lineno, counted = 1, 0
    for start in sorted(starts):
        lineno += data.count(b"\n", counted, start)
        counted = start
        end = data.find(b"\n", start)
        line = data[start : len(data) if end < 0 else end].decode("utf-8", "surrogatepass")
        # As `scan_paths` reads a line: split at LF, without its line end (CR before LF too).
        findings.extend(_scan_line(line.rstrip("\r\n"), name, lineno, (), among))
    return findings


# The characters `fold_lower` maps to ASCII letters before lower-casing (İ ı ſ K): the only ones
# whose folding can form one of the (ASCII) literals; U+0130 and U+212A are also the only
# characters whose `lower()` holds ASCII (tests/reports/test_leakcheck.py checks both).
FOLDED_TO_ASCII = "\u0130\u0131\u017f\u212a"
_FOLDED_UTF8 = tuple(c.encode("utf-8") for c in FOLDED_TO_ASCII)


def _scan_folded(name: str, text: str) -> list[Finding]:
    """`scan_written` of a text holding İ ı ſ or K, as `scan_paths` does it: the literals searched
    in the folded text (whose offsets are not the text's: İ folds to two characters), every line
    split."""
    among = literals_in(text)
    spans = b64_secret_spans(text)
    if spans:
        among.add(B64_TRIGGER)
    if not among:
        return []
    lines = [line.rstrip("\r\n") for line in text.split("\n")]
    hits = {text.count("\n", 0, a) for a, _ in spans}
    low = fold_lower(text)
    positions = sorted(pos for literal in among - {B64_TRIGGER} for pos in _occurrences(low, literal))
    index, counted = 0, 0
    for pos in positions:  # line numbers by the line ends before each hit, counted once
        index += low.count("\n", counted, pos)
        counted = pos
        hits.add(index)
    return [f for i in sorted(hits) for f in _scan_line(lines[i], name, i + 1, (), among)]


def _occurrences(low: str, literal: str) -> list[int]:
    out: list[int] = []
    pos = low.find(literal)
    while pos >= 0:
        out.append(pos)
        pos = low.find(literal, pos + 1)
    return out
