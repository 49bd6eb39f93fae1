"""The built-in context-window table and the Context % it gives report.md (docs/specs/reports.md §2.8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastcap.context_windows import CLAUDE_LONG_CONTEXT, context_window
from fastcap.formats import read_exchanges
from fastcap.model import Exchange
from fastcap.reports import write_reports
from helpers import DEMO
from helpers.reports_fixtures import T0, anthropic_session


@pytest.mark.parametrize(
    ("model", "window"),
    [
        ("claude-sonnet-4-5", 200_000),
        ("claude-opus-4-1-20250805", 200_000),
        ("claude-3-5-haiku-latest", 200_000),
        ("claude-2.1", 100_000),
        ("us.anthropic.claude-sonnet-4-20250514-v1:0", 200_000),  # Bedrock inference profile
        ("anthropic.claude-3-7-sonnet-20250219-v1:0", 200_000),
        ("CLAUDE_SONNET_4_20250514_V1_0", 200_000),  # older kiro-cli model ids
        ("claude-sonnet-4@20250514", 200_000),  # Vertex
        ("gpt-4o-mini-2024-07-18", 128_000),  # longest prefix: gpt-4o, not gpt-4
        ("gpt-4", 8_192),
        ("gpt-4-turbo-2024-04-09", 128_000),
        ("gpt-4.1-mini", 1_047_576),
        ("gpt-5", 400_000),
        ("gpt-5-codex", 400_000),
        ("gpt-5.1-codex-max", 400_000),
        ("gpt-5-chat-latest", 128_000),
        ("openai/gpt-5-mini", 400_000),  # OpenRouter style
        ("codex-mini-latest", 200_000),
        ("o1-mini", 128_000),
        ("o3", 200_000),
        ("o3-mini-2025-01-31", 200_000),
        ("o4-mini", 200_000),
        ("gemini-1.5-pro-002", 2_097_152),
        ("gemini-1.5-flash", 1_048_576),
        ("gemini-2.0-flash-lite", 1_048_576),
        ("models/gemini-2.5-pro", 1_048_576),
        ("gemini-2.5-flash-preview-05-20", 1_048_576),
    ],
)
def test_known_windows(model: str, window: int) -> None:
    assert context_window(model) == window


@pytest.mark.parametrize("model", ["llama-3.1-70b", "mistral-large", "auto", "", None, "o", "gpt"])
def test_unknown_models_have_no_window(model: str | None) -> None:
    assert context_window(model) is None


def test_the_1m_beta_applies_to_claude_only() -> None:
    betas = ["interleaved-thinking-2025-05-14", "context-1m-2025-08-07"]
    assert context_window("claude-sonnet-4-5-20250929", betas=betas) == CLAUDE_LONG_CONTEXT == 1_000_000
    assert (
        context_window("us.anthropic.claude-sonnet-4-20250514-v1:0", betas=["context-1m-2025-08-07"])
        == 1_000_000
    )
    assert context_window("claude-sonnet-4-5", betas=["interleaved-thinking-2025-05-14"]) == 200_000
    assert context_window("gpt-5", betas=betas) == 400_000


def _context_rows(out: Path) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = json.loads((out / "report.json").read_text())["context_usage"]["rows"]
    return rows


def _context_table(out: Path) -> str:
    return (out / "report.md").read_text().split("## Context Usage")[1].split("## Model Info")[0]


def test_report_uses_1m_when_the_request_carries_the_beta_header(tmp_path: Path) -> None:
    exs = anthropic_session()
    exs[1].request_headers.append(("anthropic-beta", "claude-code-20250219,context-1m-2025-08-07"))
    write_reports(exs, tmp_path, json=True)
    rows = _context_rows(tmp_path)
    assert [(r["input_tokens"], r["context_window"], r["context_pct"]) for r in rows] == [
        (49_315, 200_000, 24.66),  # (1,203 + 48,112 cache read + 0 cache write) / 200k
        (49_500, 1_000_000, 4.95),  # (300 + 49,000 + 200) / 1M
    ]
    table = _context_table(tmp_path)
    assert "| 1 | #01 | 1 | 49,315 | 24.66% |" in table and "| 2 | #02 | 3 | 49,500 | 4.95% |" in table
    assert "Messages #2 (history 3, text 30 chars, context 4.95%)" in (tmp_path / "report.md").read_text()


def test_bedrock_body_beta_field_counts_too(tmp_path: Path) -> None:
    exs = anthropic_session()[:1]
    body = json.loads(exs[0].request_body or b"{}")
    body["anthropic_beta"] = ["context-1m-2025-08-07"]
    exs[0].request_body = json.dumps(body).encode()
    write_reports(exs, tmp_path, json=True, styles=("session",))
    assert _context_rows(tmp_path)[0]["context_window"] == 1_000_000


def test_unknown_model_leaves_context_empty(tmp_path: Path) -> None:
    exs = anthropic_session()
    for ex in exs:
        ex.request_body = (ex.request_body or b"").replace(b'"claude-sonnet-4-5"', b'"house-model-7"')
        ex.response_body = (ex.response_body or b"").replace(b'"claude-sonnet-4-5"', b'"house-model-7"')
    write_reports(exs, tmp_path, json=True, styles=("session",))
    assert [(r["context_window"], r["context_pct"]) for r in _context_rows(tmp_path)] == [
        (None, None),
        (None, None),
    ]
    assert "| 1 | #01 | 1 | 49,315 |  |" in _context_table(tmp_path)


def test_capture_declared_window_wins_over_the_table(tmp_path: Path) -> None:
    exs = anthropic_session()
    catalogue = {"models": [{"modelId": "claude-sonnet-4-5", "tokenLimits": {"maxInputTokens": 100_000}}]}
    listing = Exchange(
        index=-1,
        source="cbor",
        method="POST",
        url="https://q.us-east-1.amazonaws.com/",
        request_headers=[("x-amz-target", "AmazonCodeWhispererService.ListAvailableModels")],
        request_body=b"{}",
        status=200,
        reason="OK",
        response_headers=[("content-type", "application/json")],
        response_body=json.dumps(catalogue).encode(),
        started_at=T0 - 1,
        ended_at=T0 - 0.9,
    )
    write_reports([listing, *exs], tmp_path, json=True, styles=("session",))
    expected = [round(100 * 49_315 / 100_000, 2), 49.5]  # ÷ 100k, not the table's 200k
    assert [r["context_pct"] for r in _context_rows(tmp_path)] == expected


def test_demo_session_gets_context_for_every_api(tmp_path: Path) -> None:
    assert write_reports(read_exchanges(DEMO), tmp_path, json=True).ok
    rows = _context_rows(tmp_path)
    windows = {r["call"]: r["context_window"] for r in rows}
    # Anthropic (claude-sonnet-4-5), OpenAI Responses (gpt-5-codex), Chat (gpt-4o-mini), Gemini 2.5.
    assert windows == {
        "01": 200_000,
        "02": 200_000,
        "03": 200_000,
        "04": 200_000,
        "05": 400_000,
        "06": 128_000,
        "07": 1_048_576,
    }
    assert next(r for r in rows if r["call"] == "05")["context_pct"] == 1.28  # 5,120 / 400,000
    assert next(r for r in rows if r["call"] == "03")["context_pct"] is None  # HTTP 429: no usage
