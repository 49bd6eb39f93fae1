"""An Anthropic (Claude Code) session through the real dialect: analysis_report.md and report.md."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastcap.reports import write_reports
from fastcap.reports.context import ReportContext, build_calls
from fastcap.reports.dissect import render_dissect
from fastcap.reports.safety import get_redactor
from helpers.reports_fixtures import ANTHROPIC_KEY, SYSTEM, THINKING, USER_1, anthropic_session


@pytest.fixture()
def out(tmp_path: Path) -> Path:
    out = tmp_path / "claude"
    write_reports(anthropic_session(), out, source="/captures/claude.cbor", json=True)
    return out


def _dissect(source: str = "/captures/claude.cbor") -> str:
    ctx = ReportContext(
        calls=build_calls(anthropic_session()),
        redactor=get_redactor(True),
        out_dir=Path("/tmp"),
        source=source,
    )
    return render_dissect(ctx, now=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))


def test_dissect_header_block() -> None:
    text = _dissect()
    assert text.startswith(
        "# Claude Code Traffic Analysis Report\n\n"
        "**Source:** `/captures/claude.cbor`\n"
        "**Generated:** 2026-01-02 03:04:05 UTC\n"
        "**Total requests:** 2\n"
        "**Capture duration:** 20.0s\n"
        "**Total request payload:** "
    )
    assert (
        "## Endpoints\n\n| Endpoint | Methods | Count |\n|----------|---------|-------|\n| `/v1/messages` | POST | 2 |\n"
        in text
    )
    assert "## Response Status Codes\n\n| Status | Count |\n|--------|-------|\n| 200 | 2 |\n" in text
    assert "| `messages[].role` | string | 2 |" in text
    assert "## Response Payload Structure" not in text  # SSE-only responses contribute nothing


def test_dissect_request_body_renderer() -> None:
    text = _dissect()
    assert (
        "**Model:** `claude-sonnet-4-5` | **stream:** `True` | **max_tokens:** `32000` | **thinking:** `enabled (budget 16000)`"
        in text
    )
    assert (
        f"<details>\n<summary><b>System Instructions</b> ({len(SYSTEM)} chars)</summary>\n\n```\n{SYSTEM}\n```\n</details>"
        in text
    )
    assert f"| 0 | user | text | {USER_1} |" in text
    joined = "Here is the test: ```python assert parse('a') == 1 ``` Let me read the source. tool_use Read"
    assert f"| 1 | assistant | text+tool_use | {joined[:80]}... |" in text  # first 80 chars + "..."
    assert "| 2 | user | tool_result | tool_result toolu_01ABC |" in text
    assert "- `Read` (custom)\n- `Bash` (custom)" in text


def test_dissect_response_body_renderer() -> None:
    text = _dissect()
    assert re.search(
        r"\*\*SSE Stream\*\* \([\d,]+ bytes, 13 events\)\n\n\| Event Type \| Count \|\n\|------------\|-------\|\n\| `content_block_delta` \| 4 \|",
        text,
    )
    assert f"<summary><b>Thinking</b> ({len(THINKING)} chars)</summary>" in text
    assert '- `Read` (call_id: `toolu_01ABC`)\n  ```\n  {"file_path": "/repo/test_parse.py"}\n  ```' in text
    assert "**Usage:** 49,315 input | 412 output | 49,727 total (48,112 cached)" in text
    assert "**Usage:** 49,500 input | 90 output | 49,590 total (49,000 cached, 200 cache write)" in text
    assert text.count("\n---\n") == 2


def test_fences_around_text_containing_fences(out: Path) -> None:
    for name in ("01_Messages.md", "analysis_report.md"):
        text = (out / name).read_text()
        assert (
            "````\nHere is the test:\n```python\nassert parse('a') == 1\n```\nLet me read the source.\n````"
            in text
        )


def test_per_call_sse_section(out: Path) -> None:
    text = (out / "01_Messages.md").read_text()
    assert (
        "Content-Type: `text/event-stream`\n\n**Events:**\n\n| #   | Event Type | Summary |\n| --- | ---------- | ------- |\n"
        in text
    )
    assert re.search(
        r"^\| 1 \| message_start \| model claude-sonnet-4-5, input [\d,]+ \(\+[\d,]+ cache read\) \|$",
        text,
        re.M,
    )
    assert f"**Full reasoning text:**\n\n```\n{THINKING}\n```" in text
    assert "signature [present]" in text and "EqQBCgIYAhIM" not in text
    assert (
        '"id": "toolu_01ABC",\n    "name": "Read",\n    "input": {\n      "file_path": "/repo/test_parse.py"'
        in text
    )
    assert "**Usage:** 49,315 input | 412 output | 49,727 total (48,112 cached)" in text
    assert "x-api-key: [REDACTED]" in text and ANTHROPIC_KEY not in text


def test_session_report_for_anthropic(out: Path) -> None:
    text = (out / "report.md").read_text()
    assert "| Agent | Claude Code 2.0.14 (named by header user-agent) |" in text
    assert "| User-Agent | claude-cli/2.0.14 (external, cli) |" in text
    assert "| SDK | js SDK 0.60.0 |" in text
    assert (
        "1. **API key header** (`x-api-key: <key>`): Anthropic API — Anthropic API key (`sk-ant-api…`)"
        in text
    )
    # Context % from the built-in window of claude-sonnet-4-5 (200k): prompt = input + cache read + write.
    assert (
        "1. User message sent\n   └── Messages #1 (history 1, tools: Read, context 24.66%)\n\n"
        "2. Tool result sent\n   └── Messages #2 (history 3, text 30 chars, context 24.75%)"
    ) in text
    assert "| #   | Call | History length | Input tokens | Context % |" in text
    assert "| 1 | #01 | 1 | 49,315 | 24.66% |" in text  # (1,203 + 48,112 + 0) / 200,000
    assert "| 2 | #02 | 3 | 49,500 | 24.75% |" in text  # (300 + 49,000 + 200) / 200,000
    assert "- Thinking: enabled" in text
    assert "| Total |  | 98,815 | 97,112 | 200 | 502 | — | 99,317 |" in text
    assert "Cache hits: 97,112 of 98,815 input tokens read from cache (98.3%)." in text
    assert "- 17.0 s gap before call #02 Anthropic.Messages" in text  # slow gap > 10 s


def test_rate_limit_and_cut_stream_are_issues(tmp_path: Path) -> None:
    exs = anthropic_session()
    exs[0].status, exs[0].reason = 429, "Too Many Requests"
    exs[0].response_headers = [("content-type", "application/json")]
    exs[0].response_body = b'{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}'
    exs[1].response_body = exs[1].response_body[: len(exs[1].response_body) // 2]  # cut mid-stream
    out = tmp_path / "issues"
    write_reports(exs, out)
    issues = (out / "report.md").read_text().split("## Issues")[1].split("## Notable Findings")[0]
    assert "rate limited — call #01 Anthropic.Messages returned HTTP 429" in issues
    assert "call #02 Anthropic.Messages: stream ended before its stop reason or terminal event" in issues


def test_conversation_flow_marks_sub_agent_calls(tmp_path: Path) -> None:
    """Claude Code 2.1 marks a sub-agent's requests with x-claude-code-agent-id and its parent's id:
    the Conversation Flow of report.md says which calls a sub-agent made and who started it."""
    exchanges = anthropic_session()
    exchanges[1].request_headers += [
        ("x-claude-code-agent-id", "agent-sub-7f3a9c"),
        ("x-claude-code-parent-agent-id", "agent-main-01b2"),
    ]
    write_reports(exchanges, tmp_path / "r", source="/captures/claude.cbor")
    text = (tmp_path / "r" / "report.md").read_text()
    assert "— sub-agent agent-su, started by agent-ma" in text
