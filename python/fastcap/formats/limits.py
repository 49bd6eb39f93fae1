"""Every size limit the Python readers apply, in one place (docs/specs/errors.md §4, §5).

The defaults are the Rust CBOR reader's (`rust/fastcap-core/src/cbor/reader.rs`,
`DEFAULT_MAX_ENTRY_INFLATED` and `DEFAULT_MAX_INFLATE_RATIO`), so that a body is held to the same
bound whether the native reader inflates a zlib entry or Python undoes a `Content-Encoding`.
Each can be changed with an environment variable, read when a file is opened (so a test or a
long-running process can change it): a whole number of bytes, or one with a `K`, `M` or `G`
suffix (binary units: `256M` = 256 MiB).

| limit | default | variable | what happens beyond it |
|---|---|---|---|
| one body after content-decoding | 256 MiB | `FASTCAP_MAX_BODY_INFLATED` | the body keeps its first bytes up to the limit, fidelity `truncated`, flag `inflate_limit`, and a warning names the exchange and its byte offset |
| all bodies of a file after content-decoding | 32 × the file's size + 256 MiB | `FASTCAP_MAX_INFLATE_RATIO` (the 32) | the same, for every body past the budget |
| bytes read from a pipe, device or standard input | 1 GiB | `FASTCAP_MAX_STREAM_BYTES` | a one-line error, exit 2: nothing is analysed |
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30

MAX_BODY_INFLATED = 256 * MiB
MAX_INFLATE_RATIO = 32
MAX_STREAM_BYTES = 1 * GiB

ENV_MAX_BODY_INFLATED = "FASTCAP_MAX_BODY_INFLATED"
ENV_MAX_INFLATE_RATIO = "FASTCAP_MAX_INFLATE_RATIO"
ENV_MAX_STREAM_BYTES = "FASTCAP_MAX_STREAM_BYTES"

_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)(i?b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": KiB, "m": MiB, "g": GiB}


def parse_size(text: str) -> int:
    """`"1048576"`, `"1024K"`, `"256M"`, `"1G"` (binary units; a trailing `B`/`iB` is allowed)."""
    m = _SIZE.match(text)
    if m is None:
        raise ValueError(f"{text!r} is not a size: expected a number of bytes, optionally with K, M or G")
    return int(m.group(1)) * _UNITS[m.group(2).lower()]


def _env_size(name: str, default: int) -> int:
    value = os.environ.get(name)
    if not value:
        return default
    try:
        return parse_size(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def format_size(n: int) -> str:
    """`256 MiB`, `1 GiB`, `1.5 KiB`, `17 bytes`: how limits are named in messages."""
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if n >= size:
            value = n / size
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"


def max_body_inflated() -> int:
    """Largest size one body may reach when its content-encoding is undone."""
    return _env_size(ENV_MAX_BODY_INFLATED, MAX_BODY_INFLATED)


def max_inflate_ratio() -> int:
    """The bodies of a file may inflate to this many times the file's size (plus one maximal body)."""
    return _env_size(ENV_MAX_INFLATE_RATIO, MAX_INFLATE_RATIO)


def max_stream_bytes() -> int:
    """Most bytes read from a pipe, a device or standard input (they are copied once to a temporary file)."""
    return _env_size(ENV_MAX_STREAM_BYTES, MAX_STREAM_BYTES)


@dataclass(slots=True)
class InflateBudget:
    """What the bodies of one file may still inflate to: `ratio × file size + max_body` in all,
    at most `max_body` each (the Rust reader's `inflate_budget`)."""

    left: int
    max_body: int

    @classmethod
    def for_file(cls, file_size: int) -> InflateBudget:
        body = max_body_inflated()
        return cls(left=max_inflate_ratio() * max(file_size, 0) + body, max_body=body)

    @classmethod
    def unlimited(cls) -> InflateBudget:
        return cls(left=1 << 62, max_body=1 << 62)

    def allowance(self) -> int:
        """How many bytes the next body may inflate to."""
        return max(0, min(self.max_body, self.left))

    def spend(self, n: int) -> None:
        self.left -= n


__all__ = [
    "ENV_MAX_BODY_INFLATED",
    "ENV_MAX_INFLATE_RATIO",
    "ENV_MAX_STREAM_BYTES",
    "MAX_BODY_INFLATED",
    "MAX_INFLATE_RATIO",
    "MAX_STREAM_BYTES",
    "InflateBudget",
    "format_size",
    "max_body_inflated",
    "max_inflate_ratio",
    "max_stream_bytes",
    "parse_size",
]
