"""The native literal pre-check (`LiteralSet`, one Aho-Corasick pass) finds exactly what `in` on the
folded, lower-cased text finds: redaction and the leak scan skip a pattern only when neither could
match."""

from __future__ import annotations

import pytest
from fastcap._native import LiteralSet
from fastcap.secrets.patterns import TEXT_TRIGGERS, fold_lower, literals_in, present_triggers
from hypothesis import given, settings
from hypothesis import strategies as st


def _reference(text: str) -> set[str]:
    low = fold_lower(text)
    return {t for t in TEXT_TRIGGERS if t in low}


# Pieces of triggers in mixed case, glued to letters that case-insensitive matching folds to
# ASCII (İ ı ſ K), other non-ASCII text and separators.
_pieces = st.sampled_from(
    [t for t in TEXT_TRIGGERS]
    + [t.upper() for t in TEXT_TRIGGERS[::3]]
    + [t[: len(t) // 2] for t in TEXT_TRIGGERS]
)
_glue = st.sampled_from(
    ["", " ", "\u0130", "\u0131", "\u017f", "\u212a", "é", "日本", "\n", "_", "-", "K", "s"]
)
_texts = st.lists(st.tuples(_pieces, _glue), max_size=12).map(lambda parts: "".join(a + b for a, b in parts))


@settings(max_examples=400, deadline=None)
@given(_texts)
def test_literals_in_agrees_with_in_on_the_folded_text(text: str) -> None:
    assert literals_in(text) == _reference(text)
    assert literals_in(text.encode("utf-8")) == _reference(text) if text.isascii() else True


def test_kelvin_and_dotted_i_fold_like_the_expressions() -> None:
    # `re.IGNORECASE` matches K (U+212A) to k and İ (U+0130) to i: the pre-check must not rule
    # out a token the expressions would redact.
    text = "s\u212a-ant-api03-x and AUTHOR\u0130ZATION"
    assert literals_in(text) == _reference(text)
    assert "authorization" in literals_in(text)


def test_among_narrows_and_b64_stays_separate() -> None:
    text = "Authorization: Bearer abc; password=x"
    found = literals_in(text)
    assert {"authorization", "password"} <= found
    assert literals_in(text, ("password",)) == {"password"}
    hidden = "QUtJQUlPU0ZPRE5ON0VYQU1QTEU="  # base64 of the AWS documentation's fake key id
    assert "B64" in present_triggers(hidden) and "B64" not in literals_in(hidden)


def test_literal_set_api() -> None:
    s = LiteralSet(["api_key", "key", "sk-ant-"])
    assert s.present("X-Api_Key: SK-ANT-1") == [0, 1, 2]
    assert s.present(b"nothing") == []
    assert s.any_in(b"a KEY") and not s.any_in("")
    assert len(s) == 3
    with pytest.raises(ValueError, match="not ASCII"):
        LiteralSet(["clé"])
    with pytest.raises(TypeError, match="str or bytes"):
        s.present(3)  # type: ignore[arg-type]
