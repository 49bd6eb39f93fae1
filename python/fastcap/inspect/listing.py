"""The entry listing (§10.6): header line, `--verbose` metadata, text preview or `--hex` dump.

Previews are redacted (unless `--no-redact`) and keep non-ASCII text readable: only control
characters are escaped (§11.17); undecodable bytes show as `\\xNN`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson

from fastcap.formats.capture_file import expand_meta
from fastcap.inspect.common import Zone, banner, commas, fmt_dt, sym
from fastcap.inspect.filters import Selection
from fastcap.inspect.redaction import redact_payload

_SKIP_VERBOSE = {"backend", "session_id", "a_session_id", "b_session_id"}
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
PREVIEW_LINES = 5


def escape_controls(text: str) -> str:
    return _CONTROL_RE.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def session_part(row: dict[str, Any]) -> str:
    parts = []
    if row.get("asid"):
        parts.append(f"a={row['asid'][:8]}")
    if row.get("b_session_id"):
        parts.append(f"b={row['b_session_id'][:8]}")
    return ",".join(parts)


def header_line(row: dict[str, Any], zone: Zone) -> str:
    parts = [
        f"[{row['seq']}] {sym(row['dir'])}",
        f"{commas(row['data_len'] or 0)} bytes",
        f"ts={fmt_dt(row['ts'], zone)}",
    ]
    if row.get("backend"):
        parts.append(f"backend={row['backend']}")
    sess = session_part(row)
    if sess:
        parts.append(f"session={sess}")
    flags = [
        name
        for col, name in (
            ("is_stream_start", "stream_start"),
            ("is_stream_end", "stream_end"),
            ("eos", "eos"),
        )
        if row.get(col)
    ]
    if flags:
        parts.append(",".join(flags))
    return " | ".join(parts)


def _fmt_value(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return orjson.dumps(v).decode()
    return str(v)


def verbose_lines(row: dict[str, Any]) -> list[str]:
    meta = expand_meta(row)
    lines = ["    Metadata:"]
    for k, v in meta.items():
        if k in _SKIP_VERBOSE:
            continue
        if isinstance(v, dict):
            lines.append(f"      {k}:")
            lines += [f"        {kk}: {_fmt_value(vv)}" for kk, vv in v.items()]
        else:
            lines.append(f"      {k}: {_fmt_value(v)}")
    inherited = []
    if row.get("backend") is None and row.get("be_eff"):
        inherited.append(f"backend={row['be_eff']}")
    if row.get("model") is None and row.get("mod_eff"):
        inherited.append(f"model={row['mod_eff']}")
    if inherited:
        lines.append(f"      inherited from the stream-start marker: {', '.join(inherited)}")
    if row.get("problems"):
        lines.append(f"      problems: {row['problems']}")
    return lines


def preview_lines(data: bytes, max_data: int) -> list[str]:
    shown = data[:max_data]
    text = escape_controls(shown.decode("utf-8", "backslashreplace"))
    lines = [f"    {line.removesuffix(chr(13))}" for line in text.split("\n")[:PREVIEW_LINES]]
    if len(data) > max_data:
        lines.append(f"    ... ({len(data) - max_data} more bytes)")
    return lines


def hex_lines(data: bytes, max_data: int) -> list[str]:
    shown = data[:max_data]
    lines = ["    Hex Dump:"]
    for off in range(0, len(shown), 16):
        block = shown[off : off + 16]
        hexpart = " ".join(f"{b:02x}" for b in block)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in block)
        lines.append(f"      {off:04x}  {hexpart:<48}  |{text}|")
    if len(data) > max_data:
        lines.append(f"    ... ({len(data) - max_data} more bytes)")
    return lines


def listing_lines(
    sel: Selection,
    *,
    zone: Zone,
    verbose: bool,
    hexdump: bool,
    max_data: int,
    redact: bool,
    backend: str | None,
) -> Iterator[str]:
    yield banner("ENTRIES", backend)
    if sel.warning:
        yield sel.warning
    if sel.header:
        yield sel.header
    for row in sel.df.iter_rows(named=True):
        yield ""
        yield header_line(row, zone)
        if verbose:
            yield from verbose_lines(row)
        data: bytes = row["data"] or b""
        if not data:
            continue
        if redact:
            data = redact_payload(data, row["dir"], row.get("url"))
        yield from (hex_lines(data, max_data) if hexdump else preview_lines(data, max_data))
    if sel.more:
        yield ""
        yield f"... and {sel.more} more entries (use --last to see final entries)"


def listing_wanted(args: Any) -> bool:
    return bool(
        (args.entries or 0) > 0
        or args.search is not None
        or args.session_substring is not None
        or args.last is not None
        or args.range is not None
        or args.around is not None
        or args.entry is not None
    )


def listing_limit(args: Any) -> int | None:
    if args.last is not None:
        return None
    if (args.entries or 0) > 0:
        return int(args.entries)
    if args.search is not None or args.session_substring is not None:
        return None
    return 20
