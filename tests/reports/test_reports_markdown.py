"""Markdown building blocks (docs/specs/reports.md §1) and mitmdump size strings (docs/specs/mitmproxy.md §3.5)."""

from __future__ import annotations

import pytest
from fastcap.reports.markdown import cell, fence, finish, fmt_number, hexdump, json_text, preview, size_string


def test_fence_is_longer_than_any_backtick_run_inside() -> None:
    assert fence("plain") == "```\nplain\n```"
    text = "Here:\n```python\nx = 1\n```\n"
    out = fence(text)
    assert out.startswith("````\n") and out.endswith("\n````")
    assert fence("a ````` b", "json").startswith("``````json\n")


def test_fence_normalises_line_ends() -> None:
    assert fence("a\r\nb\rc") == "```\na\nb\nc\n```"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("a|b", "a\\|b"), ("  x\ty\r\nz  ", "x y  z"), ("|", "\\|"), ("no pipes", "no pipes")],
)
def test_cell_escaping(raw: str, expected: str) -> None:
    assert cell(raw) == expected


def test_preview_counts_code_points_after_normalisation() -> None:
    assert preview("é" * 100, 80) == "é" * 80
    assert preview("a\nb", 80) == "a b"
    assert preview("x" * 81, 80, suffix="...") == "x" * 80 + "..."
    assert preview("x" * 80, 80, suffix="...") == "x" * 80


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (0, "0b"),
        (90, "90b"),
        (117, "117b"),
        (1023, "1023b"),
        (1024, "1.0k"),
        (1331, "1.3k"),
        (10137, "9.9k"),
        (102348, "99.9k"),
        (102400, "100k"),
        (524288, "512k"),
        (1048576, "1.0m"),
    ],
)
def test_size_string(n: int, expected: str) -> None:
    assert size_string(n) == expected


def test_json_text_keeps_order_and_non_ascii() -> None:
    assert json_text({"z": 1, "a": "日本"}) == '{\n  "z": 1,\n  "a": "日本"\n}'


def test_numbers_as_sent() -> None:
    assert fmt_number(21.75) == "21.75"
    assert fmt_number(21.0) == "21"
    assert fmt_number(0.176) == "0.176"


def test_hexdump_and_finish() -> None:
    dump = hexdump(bytes(range(40)), limit=32)
    assert dump.count("\n") == 1 and dump.startswith("00000000  00 01 02")
    assert finish(["a", "", "", ""]) == "a\n"
