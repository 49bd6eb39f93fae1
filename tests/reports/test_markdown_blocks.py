"""Markdown building blocks whose fast paths must give what their definitions say."""

from __future__ import annotations

import re

import pytest
from fastcap.reports.markdown import cell_text, longest_backtick_run, preview


@pytest.mark.parametrize(
    "text",
    ["", "plain", "a`b", "```py\nx\n```", "`` and ````` and `", "x" + "`" * 12 + "y ```", "`" * 8, "`" * 7],
)
def test_longest_backtick_run(text: str) -> None:
    assert longest_backtick_run(text) == max((len(r) for r in re.findall(r"`+", text)), default=0)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "short",
        "  \t\n leading and trailing \r\n ",
        "line one\nline two\ttabbed\r\n" * 20,
        "\x1c\x1d separators strip too " + "y" * 100,
        "\u2028" + "z" * 79 + "\n",
        " " * 200,
    ],
)
@pytest.mark.parametrize("n", [1, 80])
def test_preview_is_the_normalised_text_cut(text: str, n: int) -> None:
    # The definition: normalise the whole text as a cell, then cut to `n` code points.
    norm = cell_text(text)
    assert preview(text, n, suffix="...") == (norm[:n] + "..." if len(norm) > n else norm)
