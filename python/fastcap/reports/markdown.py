"""Markdown building blocks shared by every report (docs/specs/reports.md §1).

Fences longer than any backtick run inside, table-cell escaping, previews, mitmdump size strings,
JSON re-serialisation and hex dumps. Nothing here knows about APIs or redaction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

_BACKTICK_RUN = re.compile(r"`+")
_CELL_WS = str.maketrans({"\r": " ", "\n": " ", "\t": " "})

DASH = "—"  # shown for values whose source is null; never estimated


def normalise_newlines(text: str) -> str:
    """LF line ends only (CRLF and lone CR become LF)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def longest_backtick_run(text: str) -> int:
    # The longest run is the first length not found: a few C-speed searches, where the regular
    # expression built a string per backtick run (prompts quote code: thousands of runs).
    longest = 0
    while "`" * (longest + 1) in text:
        longest += 1
        if longest == 8:  # an unusual text: one pass over its runs rather than a search per length
            return max(map(len, _BACKTICK_RUN.findall(text)))
    return longest


def fence_marker(content: str) -> str:
    """A backtick run longer than any inside `content`, minimum three."""
    return "`" * max(3, longest_backtick_run(content) + 1)


def fence(content: str, lang: str = "") -> str:
    """A fenced code block around `content` (LF line ends; fence safe against embedded fences)."""
    content = normalise_newlines(content)
    marker = fence_marker(content)
    return f"{marker}{lang}\n{content}\n{marker}"


def cell_text(text: object) -> str:
    """Cell normalisation without escaping: CR/LF/TAB → space, trimmed."""
    text = str(text)
    # Most cells hold none of the three (a per-event table has hundreds of thousands of cells):
    # three C-speed searches are cheaper than `translate`, which rebuilds every string.
    if "\n" in text or "\r" in text or "\t" in text:
        text = text.translate(_CELL_WS)
    return text.strip()


def cell(text: object) -> str:
    """A table cell: CR/LF/TAB → space, trimmed, every pipe preceded by a backslash."""
    return cell_text(text).replace("|", "\\|")


def preview(text: str | None, n: int = 80, *, suffix: str = "") -> str:
    """First `n` code points after cell normalisation; `suffix` appended only when cut (unescaped)."""
    # Normalised only as far as shown: the mapping keeps whitespace whitespace and every other
    # character as it is, so trimming first and mapping the first `n` code points gives the same
    # cell as mapping a whole message body (often 100 KB) and cutting it.
    trimmed = (text or "").strip()
    if len(trimmed) > n:
        return _cell_spaces(trimmed[:n]) + suffix
    return _cell_spaces(trimmed)


def _cell_spaces(text: str) -> str:
    """CR, LF and TAB as spaces (`cell_text` without the trimming)."""
    if "\n" in text or "\r" in text or "\t" in text:
        return text.translate(_CELL_WS)
    return text


def table_row(cells: Iterable[object]) -> str:
    return "| " + " | ".join(cell(c) for c in cells) + " |"


def table(header: str, separator: str, rows: Iterable[Sequence[object]]) -> list[str]:
    """Header and separator lines verbatim (templates pad them), rows escaped and unpadded."""
    return [header, separator, *(table_row(r) for r in rows)]


def simple_table(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    header = "| " + " | ".join(columns) + " |"
    sep = "| " + " | ".join("-" * max(3, len(c)) for c in columns) + " |"
    return table(header, sep, rows)


def size_string(n: int) -> str:
    """mitmdump's human size (docs/specs/mitmproxy.md §3.5): `90b`, `1.3k`, `9.9k`, `512k`."""
    if n < 1024:
        return f"{n}b"
    value = float(n)
    for unit in ("k", "m", "g", "t"):
        value /= 1024
        if value < 99.95:
            return f"{value:.1f}{unit}"
        if value < 1024 or unit == "t":
            return f"{value:.0f}{unit}"
    raise AssertionError("unreachable")


def json_text(value: Any) -> str:
    """2-space indentation, key order preserved, non-ASCII kept (§1)."""
    try:
        # orjson: the same text as `json.dumps(indent=2, ensure_ascii=False)` at ten times the
        # speed, except tiny floats (`0.00001` for `1e-05`); request bodies are large.
        return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode("utf-8")
    except (TypeError, orjson.JSONEncodeError):  # non-string keys, integers beyond 64 bits, …
        return json.dumps(value, indent=2, ensure_ascii=False)


def parse_json(data: bytes | str | None) -> tuple[bool, Any]:
    """(True, value) when `data` is one complete JSON document, else (False, None)."""
    if data is None:
        return False, None
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        if not text.strip():
            return False, None
        try:
            return True, orjson.loads(text)  # ~5x json.loads on request bodies
        except orjson.JSONDecodeError:  # NaN, integers beyond 64 bits: what only `json` accepts
            return True, json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False, None


def hexdump(data: bytes, limit: int = 256) -> str:
    """Classic 16-bytes-per-line dump of the first `limit` bytes."""
    lines = []
    for off in range(0, min(len(data), limit), 16):
        chunk = data[off : min(off + 16, limit)]
        hexpart = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{off:08x}  {hexpart:<47}  |{text}|")
    return "\n".join(lines)


def note(text: str) -> str:
    """A one-line source note (blockquote)."""
    return "> " + cell_text(text)


def fmt_int(v: int | float | None) -> str:
    """Comma-grouped number, `—` for unknown."""
    if v is None:
        return DASH
    if isinstance(v, float) and not v.is_integer():
        return f"{v:,.3f}".rstrip("0").rstrip(".")
    return f"{int(v):,}"


def fmt_number(v: float | int) -> str:
    """A number as sent: `21.75`, `21`, `0.176` (no float noise, no trailing `.0`)."""
    if isinstance(v, float):
        if v.is_integer():
            return str(int(v))
        return repr(v)
    return str(v)


def fmt_seconds(v: float | None) -> str:
    if v is None:
        return DASH
    return f"{v:.3f} s"


def fmt_clock(t: float | None) -> str:
    """`HH:MM:SS.mmm` UTC, `—` when unknown."""
    if t is None:
        return DASH
    return datetime.fromtimestamp(t, tz=UTC).strftime("%H:%M:%S.%f")[:-3]


def fmt_iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, tz=UTC).isoformat(timespec="milliseconds")


def finish(lines: Iterable[str]) -> str:
    """Join lines into a document: LF only, trailing blank lines collapsed, one final newline."""
    text = normalise_newlines("\n".join(lines))
    return text.rstrip("\n") + "\n"
