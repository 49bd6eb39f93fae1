"""OpenAI usage as current servers report it (docs/metrics.md, Usage): cache writes beside cache
reads, and a Chat chunk that carries an error, the finish reason and the usage together. Both the
dialects and the engine read them, and agree on every column."""

from __future__ import annotations

import pytest
from fastcap.dialects import analyze_exchange
from helpers import DATA
from helpers.agreement import agreed_calls, exchange

FOLDER = DATA / "sse" / "openai-compat"
CHAT = "https://api.openai.com/v1/chat/completions"
RESPONSES = "https://api.openai.com/v1/responses"


@pytest.mark.parametrize(
    ("url", "name"), [(CHAT, "chat_cache_write.sse"), (RESPONSES, "responses_cache_write.sse")]
)
def test_cache_writes_are_read_and_leave_the_uncached_input(url: str, name: str) -> None:
    ex = exchange(url, (FOLDER / name).read_bytes())
    u = analyze_exchange(ex).response.usage
    assert u is not None
    assert (u.input_total, u.cache_read, u.cache_write, u.input_uncached) == (4020, 0, 4012, 8)
    assert u.output_total == 6
    calls = agreed_calls([ex])
    row = calls.row(0, named=True)
    assert (row["input_total"], row["cache_read"], row["cache_write"], row["input_uncached"]) == (
        4020,
        0,
        4012,
        8,
    )
    assert row["text_chars"] == len("Added the test.")
    assert row["issue_class"] is None


def test_an_error_chunk_keeps_its_finish_reason_and_usage() -> None:
    ex = exchange(
        "https://openrouter.ai/api/v1/chat/completions", (FOLDER / "chat_error_with_usage.sse").read_bytes()
    )
    r = analyze_exchange(ex).response
    assert [(e.type, e.message, e.source) for e in r.errors] == [
        ("server_error", "Provider disconnected unexpectedly", "in_stream")
    ]
    assert r.stop_reason == "error"
    assert r.text == "Reading the file"
    assert r.usage is not None
    assert (r.usage.input_total, r.usage.cache_read, r.usage.cache_write, r.usage.output_total) == (
        1210,
        1024,
        0,
        3,
    )
    assert "finish_reason error" in r.events[2].summary and "usage" in r.events[2].summary
    row = agreed_calls([ex]).row(0, named=True)
    assert (row["input_total"], row["input_uncached"], row["output_total"]) == (1210, 186, 3)
    assert row["stop_reason"] == "error"
    assert row["issue_class"] == "stream_error"
    assert row["error"] == "server_error: Provider disconnected unexpectedly"


def test_usage_without_cache_write_leaves_it_unknown() -> None:
    """A server that reports no cache writes: unknown (null), never 0 (docs/metrics.md)."""
    body = (DATA / "sse" / "openai-chat" / "173417d55340.sse").read_bytes()
    row = agreed_calls([exchange(CHAT, body)]).row(0, named=True)
    assert row["cache_write"] is None and row["input_total"] == row["input_uncached"] == 79
