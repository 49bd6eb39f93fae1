"""A kiro-cli session through the per-call files and report.md (docs/specs/reports.md §2)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastcap.dialects.base import CallAnalysis
from fastcap.reports import write_reports
from helpers.reports_fixtures import CONV, GAR_TEXT_2, KIRO_TOKEN, SIGV4, kiro_session

STATE = {"status": "completed", "started_at": "2025-11-21T05:47:32+00:00"}
APIS = [
    "ToolkitTelemetry.ClientTelemetryMetrics",
    "AmazonCodeWhispererService.GetProfile",
    "AmazonCodeWhispererService.ListAvailableModels",
    "AmazonCodeWhispererService.GetUsageLimits",
    "AmazonCodeWhispererStreamingService.GenerateAssistantResponse",
    "AmazonCodeWhispererService.SendTelemetryEvent",
    "AmazonCodeWhispererStreamingService.GenerateAssistantResponse",
]


def _write(tmp_path: Path, cas: list[CallAnalysis], **kw: object) -> Path:
    out = tmp_path / "20251121_054732"
    by_id = {id(c.exchange): c for c in cas}
    write_reports(
        [c.exchange for c in cas], out, analyzer=lambda ex: by_id[id(ex)], state=STATE, json=True, **kw
    )  # type: ignore[arg-type]
    return out


@pytest.fixture()
def out(tmp_path: Path) -> Path:
    return _write(tmp_path, kiro_session())


def test_per_call_files_named_and_titled(out: Path) -> None:
    names = sorted(p.name for p in out.glob("[0-9][0-9]_*.md"))
    assert names == [
        "01_ClientTelemetryMetrics.md",
        "02_GetProfile.md",
        "03_ListAvailableModels.md",
        "04_GetUsageLimits.md",
        "05_GenerateAssistantResponse.md",
        "06_SendTelemetryEvent.md",
        "07_GenerateAssistantResponse.md",
    ]
    assert (
        (out / "01_ClientTelemetryMetrics.md")
        .read_text()
        .startswith(
            "# 01. ToolkitTelemetry.ClientTelemetryMetrics\n\n## Request\n\n```\nPOST https://client-telemetry.us-east-1.amazonaws.com/metrics\n```\n\n### Request Headers\n\n```\n"
        )
    )


def test_403_call_file(out: Path) -> None:
    text = (out / "04_GetUsageLimits.md").read_text()
    assert "## Response\n\n```\n403 Forbidden 61b\n```" in text
    assert '"__type": "AccessDeniedException"' in text


def test_eventstream_body_section(out: Path) -> None:
    text = (out / "05_GenerateAssistantResponse.md").read_text()
    assert (
        "### Response Body\n\nContent-Type: `application/vnd.amazon.eventstream`\n\n**Events:**\n\n" in text
    )
    assert (
        "| #   | Event Type             | Summary                       |\n| --- | ---------------------- | ----------------------------- |\n"
        in text
    )
    assert "| 1 | assistantResponseEvent | I'll read the README first. |" in text
    assert "| 4 | toolUseEvent | fs_read: [stop] |" in text
    assert "| 5 | contextUsageEvent | 12.5% |" in text
    assert "**Full assistant response:**\n\n```\nI'll read the README first.\n```" in text
    block = re.search(r"\*\*Tool calls:\*\*\n\n```json\n(.*?)\n```", text, re.S)
    assert block is not None
    assert json.loads(block.group(1)) == [
        {
            "toolUseId": "tooluse_1",
            "name": "fs_read",
            "input": {"operations": [{"mode": "Line", "path": "/repo/README.md"}]},
        }
    ]
    assert "**Full reasoning text:**" not in text and "**Metering:**" not in text


def test_pipe_in_event_summary_is_escaped(out: Path) -> None:
    text = (out / "07_GenerateAssistantResponse.md").read_text()
    assert "| 1 | assistantResponseEvent | The README describes fastcap \\| a capture tool. |" in text
    assert f"```\n{GAR_TEXT_2}\n```" in text  # fenced text is verbatim


def test_report_calls_in_order_with_403(out: Path) -> None:
    text = (out / "report.md").read_text()
    assert text.startswith("# Capture Analysis Report — 20251121_054732\n\n## Capture Environment\n")
    rows = re.findall(r"^\| (\d\d) \| (\S+) \| (\d+) \| (\S+) \| \[(\S+)\]\(\S+\) \|$", text, re.M)
    assert [r[1] for r in rows] == APIS
    assert rows[3][:3] == ("04", "AmazonCodeWhispererService.GetUsageLimits", "403")
    assert rows[4][4] == "05_GenerateAssistantResponse.md"


def test_report_environment(out: Path) -> None:
    text = (out / "report.md").read_text()
    for row in (
        "| Date | 2025-11-21T05:47:32+00:00 |",
        "| kiro-cli version | 1.20.0 |",
        "| AWS SDK | aws-sdk-rust/1.3.9 |",
        "| OS | os/macos |",
        "| Model | claude-sonnet-4 |",
        "| Region | us-east-1 |",
    ):
        assert row in text


def test_report_category_table(out: Path) -> None:
    text = (out / "report.md").read_text()
    assert (
        "| Category                      | Count | APIs                                                                |\n"
        "| ----------------------------- | ----- | ------------------------------------------------------------------- |\n"
        "| CodeWhispererStreamingService | 2 | GenerateAssistantResponse |\n"
        "| CodeWhispererService | 4 | GetProfile, ListAvailableModels, GetUsageLimits, SendTelemetryEvent |\n"
        "| ToolkitTelemetry | 1 | ClientTelemetryMetrics |\n"
    ) in text


def test_report_authentication(out: Path) -> None:
    text = (out / "report.md").read_text()
    assert "1. **Bearer Token** (`authorization: Bearer <token>`): CodeWhisperer / kiro.dev API" in text
    assert "2. **AWS Signature V4** (`authorization: AWS4-HMAC-SHA256 ...`): Telemetry API" in text
    assert "Token rotated" not in text


def test_report_conversation_tree(out: Path) -> None:
    text = (out / "report.md").read_text()
    assert (
        "## Conversation Flow\n\n```\n"
        "1. kiro-cli startup\n"
        "   ├── ClientTelemetryMetrics (3 metrics)\n"
        "   ├── GetProfile\n"
        "   ├── ListAvailableModels\n"
        "   └── GetUsageLimits (403)\n"
        "\n"
        "2. User message sent\n"
        "   ├── GenerateAssistantResponse #1 (history 0, tools: fs_read, context 12.5%)\n"
        "   └── SendTelemetryEvent\n"
        "\n"
        "3. Tool result sent\n"
        "   └── GenerateAssistantResponse #2 (history 2, text 46 chars, context 23.75%)\n"
        "```\n"
    ) in text


def test_report_context_usage_model_info_tools(out: Path) -> None:
    text = (out / "report.md").read_text()
    assert "| 1 | #05 | 0 | 12.5% |\n| 2 | #07 | 2 | 23.75% |" in text
    assert "- Model ID: claude-sonnet-4\n- Thinking: disabled\n- Tool count: 3" in text
    assert "| fs_read | 1 |" in text
    assert "`GetUsageLimits` (call #04) returned 403, which is expected/normal" in text
    issues = text.split("## Issues")[1].split("## Notable Findings")[0]
    assert "No issues detected." in issues  # the expected 403 is not an issue
    assert text.endswith("\n") and not text.endswith("\n\n") and "\r" not in text


def test_timing_never_estimated(out: Path) -> None:
    text = (out / "report.md").read_text()
    assert (
        "| 05 | AmazonCodeWhispererStreamingService.GenerateAssistantResponse | 05:47:36.000 | 0.420 s | 2.000 s | 0.800 s |"
        in text
    )
    assert "| 01 | ToolkitTelemetry.ClientTelemetryMetrics | 05:47:32.000 | — | 0.200 s | — |" in text


def test_secrets_never_written(out: Path) -> None:
    for p in out.iterdir():
        text = p.read_text()
        assert KIRO_TOKEN not in text
        assert SIGV4.split("Signature=")[1] not in text
        assert "IQoJ" not in text
    assert "authorization: [REDACTED]\n" in (out / "02_GetProfile.md").read_text()
    assert "x-amz-security-token: [REDACTED]\n" in (out / "01_ClientTelemetryMetrics.md").read_text()


def test_report_json_mirrors_report(out: Path) -> None:
    data = json.loads((out / "report.json").read_text())
    assert [c["api"] for c in data["calls"]] == APIS
    assert data["context_usage"]["rows"][1]["context_pct"] == 23.75
    assert data["tool_usage"] == [{"name": "fs_read", "count": 1}]
    assert data["conversation_flow"][2]["label"] == "Tool result sent"
    assert "Context usage (final): 23.75%" in data["completion_message"]
    assert data["timing"][0]["started_at"].startswith("2025-11-21T05:47:32")


def test_token_rotation_and_second_conversation(tmp_path: Path) -> None:
    cas = kiro_session()
    gar2 = cas[6]
    gar2.exchange.request_headers = [
        (k, "Bearer aor" + "N" * 40 if k == "authorization" else v) for k, v in gar2.exchange.request_headers
    ]
    gar2.request.conversation_id = "feedbeef-0000"
    text = (_write(tmp_path, cas) / "report.md").read_text()
    assert "Token rotated 1 time(s); first change at call #07." in text
    assert f"2. User message sent — conversation {CONV[:8]}" in text
    assert "3. Tool result sent — conversation feedbeef" in text


def test_through_the_kiro_dialect(tmp_path: Path) -> None:
    cas = kiro_session()
    out = tmp_path / "d"
    write_reports([c.exchange for c in cas], out, state=STATE)
    text = (out / "05_GenerateAssistantResponse.md").read_text()
    assert '"name": "fs_read"' in text and "| 5 | contextUsageEvent | 12.5% |" in text
    report = (out / "report.md").read_text()
    assert "| 1 | #05 | 0 | 12.5% |\n| 2 | #07 | 2 | 23.75% |" in report
    assert "3. Tool result sent\n   └── GenerateAssistantResponse #2" in report
