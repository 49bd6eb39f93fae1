"""JSON parsing shared by the HAR and JSONL readers: orjson first, the standard library for what
only it accepts (lone surrogates in `\\uXXXX` escapes, integers past 64 bits, `NaN`), and no
traceback on input nested too deeply for either."""

from __future__ import annotations

import json
from typing import Any

import orjson


class JsonValueError(ValueError):
    """The bytes are not one JSON value (the message says why, and where when known)."""


def scrub_surrogates(obj: Any) -> Any:
    """Lone surrogates become U+FFFD in every string and key, so that each encodes as UTF-8 later
    (iteratively: a value `json` could parse may still be too deep for recursion here)."""
    stack = [obj]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key in [k for k in node if isinstance(k, str) and _bad(k)]:
                node[_fixed(key)] = node.pop(key)
            items: Any = node.items()
        elif isinstance(node, list):
            items = enumerate(node)
        else:
            continue
        for key, value in list(items):
            if isinstance(value, str):
                if _bad(value):
                    node[key] = _fixed(value)
            elif isinstance(value, dict | list):
                stack.append(value)
    return obj


def _bad(text: str) -> bool:
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _fixed(text: str) -> str:
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def loads(raw: bytes | str | memoryview) -> Any:
    """One JSON value. Raises `JsonValueError` (a `ValueError`) for anything else."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth limit" in str(exc):
            raise JsonValueError("JSON nested deeper than 1024 levels") from None
        first = str(exc)
    try:
        return scrub_surrogates(json.loads(raw.tobytes() if isinstance(raw, memoryview) else raw))
    except RecursionError:
        raise JsonValueError("JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError):
        raise JsonValueError(first) from None


def dumps(value: Any) -> bytes:
    """Compact JSON bytes of a parsed value (`json` for what orjson does not write)."""
    try:
        return orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):  # integers past 64 bits, NaN
        return json.dumps(value, ensure_ascii=False).encode("utf-8", "replace")


__all__ = ["JsonValueError", "dumps", "loads", "scrub_surrogates"]
