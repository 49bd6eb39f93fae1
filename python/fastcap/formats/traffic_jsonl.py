"""Shared rules of the traffic.jsonl format (docs/specs/reports.md §3.1) for its two writers: the capture
addon (from mitmproxy flows) and `fastcap.formats.writers` (from `Exchange`s). Standard library and orjson
only, so the addon's process does not pay for Polars."""

from __future__ import annotations

from typing import Any

import orjson


def fold_headers(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """Header map as the format has it: first-seen name case, duplicates joined with ", "."""
    out: dict[str, str] = {}
    index: dict[str, str] = {}
    for k, v in pairs:
        key = index.setdefault(k.lower(), k)
        out[key] = f"{out[key]}, {v}" if key in out else v
    return out


def body_value(body: bytes | None, content_type: str) -> tuple[Any, bool]:
    """Body value: raw text for SSE, parsed JSON, else text; None when empty.

    Second value: True when the bytes were not valid UTF-8 (the text is lossy).
    """
    if not body:
        return None, False
    try:
        text = body.decode("utf-8")
        lossy = False
    except UnicodeDecodeError:
        text = body.decode("utf-8", "replace")
        lossy = True
    if "text/event-stream" in content_type or lossy:
        return text, lossy
    try:
        return orjson.loads(body), False
    except orjson.JSONDecodeError:
        return text, False
