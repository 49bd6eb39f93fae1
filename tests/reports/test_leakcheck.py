"""The leak scan of written texts (`reports.leakcheck`) finds what `scan_paths` finds in the files."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from fastcap.reports import write_reports
from fastcap.reports.leakcheck import FOLDED_TO_ASCII, scan_written
from fastcap.secrets.leakscan import scan_paths
from fastcap.secrets.patterns import fold_lower
from helpers.reports_fixtures import anthropic_session

KEY = "sk-ant-api03-" + "FakeKeyForTests0123456789" * 2  # a fake key, shaped as the pattern wants

TEXTS = {
    "plain": "# 01. Anthropic.Messages\n\nnothing secret here\n",
    "key in a fence": f"```\nhello\n{KEY}\n```\nmore\n",
    "header line": "### Request Headers\n\n```\nx-api-key: abcdef0123456789abcdef\ncontent-type: json\n```\n",
    "redacted header": "```\nx-api-key: [REDACTED]\nauthorization: [REDACTED]\n```\n",
    "base64 of a key": "body " + base64.b64encode(f"token={KEY}".encode()).decode() + " end\n",
    "json field": '{\n  "client_secret": "cs-0123456789abcdefghij",\n  "ok": 1\n}\n',
    "crlf and no final newline": f"line one\r\nbearer {'t' * 40}\r\nlast {KEY}",
    "two on a line, many lines": "\n".join(
        f"{i} {KEY} and {KEY}" if i % 7 == 0 else str(i) for i in range(60)
    ),
    "folded letters": f"\u0130\u0131 x-api-key: secretvalue1234567890\n{KEY}\n",
    "non-ASCII lines": f"# 01. — call →\n\u00e9t\u00e9 {KEY}\n\u4e2d\u6587 x-api-key: abcdef0123456789abcdef\n",
    "base64 after non-ASCII": "\u2014 \u2192 \u00e9\n\u4e2d "
    + base64.b64encode(f"key={KEY}".encode()).decode()
    + "\nx-api-key: abcdef0123456789abcdef\n",
    "kelvin and long s in a name": "\u2014\nx-api-\u212aey: abcdef0123456789abcdef\npa\u017f\u017fword: hunter2hunter2\n",
}


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_same_findings_as_scanning_the_file(tmp_path: Path, name: str) -> None:
    text = TEXTS[name]
    path = tmp_path / "f.md"
    path.write_text(text, encoding="utf-8", newline="\n")
    found = scan_written(path, text)
    assert found == scan_paths([path])
    assert bool(found) == (name not in ("plain", "redacted header"))


def test_findings_of_a_report_written_without_redaction(tmp_path: Path) -> None:
    # Real report files full of credentials: the scan of the texts as written equals the scan of
    # the files read back, finding for finding, in file order.
    result = write_reports(anthropic_session(), tmp_path / "r", redact=False, json=True)
    assert result.leak_scan == "warned"
    assert result.leak_findings == scan_paths(result.files)
    assert len(result.leak_findings) >= 3


def test_the_folded_characters_are_the_only_ones_that_lower_to_ascii() -> None:
    # The byte search of `leakcheck` relies on it: any other character keeps to non-ASCII bytes.
    to_ascii = {
        chr(c)
        for c in range(0x80, 0x110000)
        if not 0xD800 <= c < 0xE000 and any(ch.isascii() for ch in chr(c).lower() + fold_lower(chr(c)))
    }
    assert to_ascii <= set(FOLDED_TO_ASCII)
    assert {"\u0130", "\u212a"} <= to_ascii
