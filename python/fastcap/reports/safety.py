"""The one code path between unredacted data and rendered text (docs/specs/reports.md §6).

The patterns live in `fastcap.secrets.patterns`, applied by `fastcap.secrets.redact` and checked by
`fastcap.secrets.leakscan`; this module only adapts their functions to the small interface the renderers
use, so that nothing is rendered without passing through them. Reports use the `OUTPUT`
configuration: named fields plus secrets inside free text (prompts, assistant text, tool arguments,
URLs), so a key quoted in a message is scrubbed instead of failing the leak scan. Redaction can only
be turned off explicitly (`NullRedactor`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from fastcap.secrets import leakscan, redact
from fastcap.secrets.patterns import present_triggers


class Redactor(Protocol):
    enabled: bool

    def headers(self, headers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]: ...

    def url(self, url: str) -> str: ...

    def json(self, value: Any, *, url: str | None = None) -> Any: ...

    def form(self, text: str, *, url: str | None = None) -> str: ...

    def text(self, text: str) -> str: ...

    def texts(self, texts: list[str]) -> list[str]: ...

    def body(self, data: bytes, content_type: str, *, url: str | None = None) -> bytes: ...


class NullRedactor:
    """`--no-redact`: values pass through unchanged."""

    enabled = False

    def headers(self, headers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        return list(headers)

    def url(self, url: str) -> str:
        return url

    def json(self, value: Any, *, url: str | None = None) -> Any:
        return value

    def form(self, text: str, *, url: str | None = None) -> str:
        return text

    def text(self, text: str) -> str:
        return text

    def texts(self, texts: list[str]) -> list[str]:
        return texts

    def body(self, data: bytes, content_type: str, *, url: str | None = None) -> bytes:
        return data


class PatternRedactor:
    """`fastcap.secrets.redact` with its `OUTPUT` configuration (its patterns, its marker)."""

    enabled = True

    def __init__(self) -> None:
        self._config = redact.OUTPUT

    def headers(self, headers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        return list(redact.redact_headers(list(headers), self._config))

    def url(self, url: str) -> str:
        return str(redact.redact_url(url, self._config))

    def json(self, value: Any, *, url: str | None = None) -> Any:
        return redact.redact_json(value, self._config, url=url)

    def form(self, text: str, *, url: str | None = None) -> str:
        data = text.encode("utf-8", "surrogateescape")
        out = redact.redact_body(data, "application/x-www-form-urlencoded", self._config, url=url)
        return text if out is data else bytes(out).decode("utf-8", "replace")

    def text(self, text: str) -> str:
        return str(redact.redact_text(text, self._config))

    def texts(self, texts: list[str]) -> list[str]:
        """`text` of each, with one pre-check for all: most lists (a stream's event summaries, a
        few hundred short strings) hold no literal a secret pattern needs, so none is redacted one
        by one. Joined at LF, which no literal and no base64 run spans, so the joined text holds
        a literal or a base64 secret exactly when one of the texts does."""
        if not present_triggers("\n".join(texts)):
            return texts
        return [self.text(t) for t in texts]

    def body(self, data: bytes, content_type: str, *, url: str | None = None) -> bytes:
        return bytes(redact.redact_body(data, content_type, self._config, url=url))


def get_redactor(enabled: bool = True) -> Redactor:
    if not enabled:
        return NullRedactor()
    return PatternRedactor()


def leak_scan(paths: Sequence[Path]) -> list[Any]:
    """Scan every generated file with `fastcap.secrets.leakscan` (§6.6): `Finding(path, line, pattern, excerpt)`."""
    return list(leakscan.scan_paths([Path(p) for p in paths]))
