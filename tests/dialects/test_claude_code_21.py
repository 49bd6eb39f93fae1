"""Claude Code 2.1 on the wire (tests/data/sse/claude-code/): API names and kinds, sub-agent ids,
context management asked and applied, server-side compaction, tool search, count_tokens, the
subscription's unified rate-limit headers; the engine and the dialects agree on every column, and
the per-call file shows what the dialect read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastcap.dialects import analyze_exchange, api_kind
from fastcap.model import Exchange
from fastcap.reports.calls import claude_code_lines, rate_limit_text
from fastcap.reports.context import AuthEvidence, Call
from fastcap.reports.safety import NullRedactor
from helpers import DATA
from helpers.agreement import agreed_calls, exchange

FOLDER = DATA / "sse" / "claude-code"


def _exchanges() -> dict[str, Exchange]:
    spec = json.loads((FOLDER / "exchanges.json").read_text())
    out = {}
    for n, e in enumerate(spec["exchanges"]):
        body: Any = e.get("response_body")
        data = (
            (FOLDER / e["response_body_file"]).read_bytes()
            if "response_body_file" in e
            else orjson.dumps(body)
        )
        ex = exchange(
            e["url"],
            data,
            response_headers=[tuple(h) for h in e["response_headers"]],
            request_headers=[tuple(h) for h in e["request_headers"]],
            request_body=None if e["request_body"] is None else orjson.dumps(e["request_body"]),
            status=e["status"],
            index=n,
        )
        ex.method = e["method"]
        out[e["name"]] = ex
    return out


EX = _exchanges()


def test_api_names_and_kinds() -> None:
    names = {
        k: (a.api_name, a.is_model_call, api_kind(a.api_name, a.is_model_call))
        for k, a in _analyses().items()
    }
    assert names == {
        "main": ("Anthropic.Messages", True, "model"),
        "subagent": ("Anthropic.Messages", True, "model"),
        "count_tokens": ("Anthropic.CountTokens", False, "count_tokens"),
        "oauth_usage": ("AnthropicOAuth.Usage", False, "usage_limits"),
        "telemetry": ("ClaudeCodeTelemetry.EventLogging", False, "telemetry"),
        "statsig": ("Statsig.Rgstr", False, "telemetry"),
    }


def _analyses() -> dict[str, Any]:
    return {k: analyze_exchange(ex) for k, ex in EX.items()}


def test_engine_and_dialects_agree_and_carry_sub_agent_ids() -> None:
    calls = agreed_calls(list(EX.values()))
    rows = dict(zip(EX, calls.iter_rows(named=True), strict=True))
    assert (rows["subagent"]["agent_id"], rows["subagent"]["parent_agent_id"]) == ("a3f9c2e1", "main")
    assert (rows["main"]["agent_id"], rows["main"]["parent_agent_id"]) == (None, None)
    assert [r["api_kind"] for r in rows.values()] == [
        "model",
        "model",
        "count_tokens",
        "usage_limits",
        "telemetry",
        "telemetry",
    ]
    # A token count is not usage: nothing was read by a model.
    assert rows["count_tokens"]["input_total"] is None
    main = rows["main"]
    assert main["tool_calls"] == ["Agent"] and main["stop_reason"] == "tool_use"
    # The compaction summary is not assistant text.
    assert main["text_chars"] == len("Picking up from the summary: the retry goes in upload().")
    assert (main["input_total"], main["cache_read"], main["cache_write"]) == (17132, 14211, 2915)


def test_request_features_of_the_main_agent() -> None:
    req = analyze_exchange(EX["main"]).request
    assert len(req.betas) == 12 and "compact-2026-01-12" in req.betas
    assert req.extra["subagent_tool"] == "Agent"
    assert req.extra["context_management"] == ["clear_thinking_20251015", "compact_20260112"]
    assert req.extra["deferred_tools"] == [
        "mcp__github__create_pull_request",
        "mcp__github__list_issues",
        "NotebookEdit",
    ]
    assert req.extra["tool_references"] == ["mcp__github__create_pull_request"]
    assert req.extra["compaction_blocks"] == 1
    assert req.conversation_id == "0f8e3b4a-2c71-4d5e-9b1a-6a7c8d9e0f12"
    sub = analyze_exchange(EX["subagent"]).request
    assert (sub.extra["agent_id"], sub.extra["parent_agent_id"]) == ("a3f9c2e1", "main")
    assert "subagent_tool" not in sub.extra


def test_response_features() -> None:
    r = analyze_exchange(EX["main"]).response
    assert r.extra["compaction"] == [{"summary_chars": 100, "encrypted_chars": 56}]
    assert [e["type"] for e in r.extra["context_management"]] == [
        "clear_thinking_20251015",
        "clear_tool_uses_20250919",
    ]
    assert r.events[3].summary.startswith("compaction: # Task Overview")
    assert "context management: clear_thinking_20251015 cleared 3 thinking turns (15,000 input tokens)" in (
        r.events[-2].summary
    )
    limits = r.extra["ratelimit_unified"]
    assert limits[""] == {
        "status": "allowed",
        "representative-claim": "five_hour",
        "fallback-percentage": "0.5",
        "reset": "1767243600",
    }
    assert limits["5h"] == {"status": "allowed", "reset": "1767243600", "utilization": "0.21"}
    assert limits["overage"] == {"status": "rejected", "disabled-reason": "org_level_disabled"}
    count = analyze_exchange(EX["count_tokens"]).response
    assert count.usage is None
    assert (count.extra["count_tokens"], count.extra["count_tokens_before_context_management"]) == (
        25000,
        70000,
    )


def test_rate_limit_text() -> None:
    limits = analyze_exchange(EX["main"]).response.extra["ratelimit_unified"]
    assert rate_limit_text(limits) == (
        "allowed (representative five_hour); 5h: allowed, 21% used, resets 2026-01-01 05:00 UTC; "
        "7d: allowed, 68% used, resets 2026-01-07 00:00 UTC; "
        "overage: rejected, disabled-reason org_level_disabled; resets 2026-01-01 05:00 UTC"
    )


@pytest.mark.parametrize("name", ["main", "subagent", "count_tokens", "telemetry"])
def test_per_call_file_lines(name: str, tmp_path: Path) -> None:
    call = Call(seq=1, nn="01", ca=analyze_exchange(EX[name]), auth=AuthEvidence(scheme=None))
    lines = claude_code_lines(call, NullRedactor())
    text = "\n".join(lines)
    if name == "telemetry":
        assert lines == []
        return
    assert lines[0] == "### Claude Code"
    if name == "main":
        assert "**Sub-agent tool offered:** `Agent`" in text
        assert "**Context management asked:** clear_thinking_20251015, compact_20260112" in text
        assert "**Context management applied:** clear_thinking_20251015 cleared 3 thinking turns" in text
        assert (
            "**Compaction:** a summary of 100 chars replaces the earlier history (56 chars encrypted)" in text
        )
        assert "**Tools deferred (tool search):** 3" in text
        assert "**Tools loaded by reference:** `mcp__github__create_pull_request`" in text
        assert "**Subscription rate limits:** allowed (representative five_hour)" in text
    elif name == "subagent":
        assert "**Agent:** sub-agent `a3f9c2e1`, started by `main`" in text
    else:
        assert "**Token count:** 25,000 input tokens (70,000 before context management)" in text
