"""Agent and client-library recognition (`fastcap.dialects.agents`) on recorded header sets: the
bundled demo's requests and the Codex WebSocket fixture (tests/data/SOURCES.md), and header sets
as the agents' and libraries' sources write them (named per case)."""

from __future__ import annotations

import json

import pytest
from fastcap.dialects.agents import AGENT_SIGNALS, recognise
from fastcap.formats import read_exchanges
from helpers import DATA, DEMO


def test_the_demo_requests_name_their_agents() -> None:
    found = {}
    for ex in read_exchanges(DEMO):
        r = recognise([(ex.request_headers, None)])
        found[ex.header("user-agent")] = (r.agent, r.version, r.signal, r.clients)
    assert found["claude-cli/2.0.14 (external, cli)"] == ("Claude Code", "2.0.14", "header user-agent", [])
    assert found["codex_cli_rs/0.46.0"] == ("Codex", "0.46.0", "header user-agent", [])
    assert found["GeminiCLI/0.9.0"] == ("Gemini CLI", "0.9.0", "header user-agent", [])
    # A bare SDK is a client library, not an agent.
    assert found["OpenAI/Python 1.51.0"] == (None, None, None, ["OpenAI Python SDK 1.51.0"])


def test_the_codex_websocket_fixture() -> None:
    fixture = json.loads((DATA / "websocket" / "codex_cli_session.json").read_text())
    r = recognise([([tuple(h) for h in fixture["request_headers"]], None)])
    assert (r.agent, r.version) == ("Codex", "0.98.0")


@pytest.mark.parametrize(
    ("headers", "system", "expected"),
    [
        # aider through litellm (litellm sets user-agent litellm/<version>; aider's system prompt
        # opens with "Act as an expert software developer.", aider/coders/editblock_prompts.py).
        (
            [("user-agent", "litellm/1.81.10")],
            "Act as an expert software developer.\nAlways use best practices when coding.",
            ("aider", None, "system prompt", ["litellm 1.81.10"]),
        ),
        # aider's OpenRouter attribution headers (aider/models.py sets X-Title / HTTP-Referer).
        (
            [
                ("X-Title", "Aider"),
                ("HTTP-Referer", "https://aider.chat"),
                ("User-Agent", "OpenAI/Python 1.99.1"),
            ],
            None,
            ("aider", None, "header x-title", ["OpenAI Python SDK 1.99.1"]),
        ),
        # claude-agent-sdk sets CLAUDE_CODE_ENTRYPOINT=sdk-py for the Claude Code it runs.
        (
            [("user-agent", "claude-cli/2.1.3 (external, sdk-py, agent-sdk/0.1.6)")],
            None,
            ("Claude Agent SDK (Python)", "2.1.3", "header user-agent", []),
        ),
        # kiro-cli's AWS SDK user agent names the app.
        (
            [
                (
                    "x-amz-user-agent",
                    "aws-sdk-rust/1.3.9 ua/2.1 api/codewhispererstreaming/0.1.11961 os/linux lang/rust/1.87.0 m/F app/AmazonQ-For-CLI",
                )
            ],
            None,
            ("kiro-cli", None, "header x-amz-user-agent", ["AWS SDK for Rust 1.3.9"]),
        ),
        (
            [("user-agent", "opencode/0.15.8 ai-sdk/provider-utils/3.0.9")],
            None,
            ("opencode", "0.15.8", "header user-agent", []),
        ),
        ([("user-agent", "curl/7.88.1")], None, (None, None, None, [])),
    ],
)
def test_documented_header_sets(
    headers: list[tuple[str, str]], system: str | None, expected: tuple[object, ...]
) -> None:
    r = recognise([(headers, system)])
    assert (r.agent, r.version, r.signal, r.clients) == expected


def test_the_label_says_which_signal_named_the_agent() -> None:
    r = recognise([([("user-agent", "litellm/1.81.10")], "Act as an expert software developer.")])
    assert r.label() == "aider (named by system prompt; via litellm 1.81.10)"
    assert recognise([([("user-agent", "curl/7.88.1")], None)]).label() == "agent (no agent signal)"


def test_every_signal_names_something_and_compiles() -> None:
    assert all(s.name and s.where and s.pattern.pattern for s in AGENT_SIGNALS)
