"""Which agent and which client library sent a call: one table of signals, one answer.

Each signal is declarative: a request header (or the request's system prompt) and a pattern. The
first agent signal that matches names the agent, and the answer says which signal it was, so a
reader can judge it ("aider, named by its X-Title header"); client libraries (the official SDKs,
litellm, the AWS SDK) are named beside it. Adding an agent is one row of `AGENT_SIGNALS`.
Sources of the header formats: each agent's and SDK's own source or documentation (named per row).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

Headers = Sequence[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Signal:
    name: str  # the agent or library it names
    where: str  # a lower-case header name, or "system" for the request's system prompt
    pattern: re.Pattern[str]  # searched in the value; group 1, when present, is the version

    def match(self, value: str) -> str | None:
        """The version the signal reads from `value` ("" when it names none), None if no match."""
        m = self.pattern.search(value)
        if m is None:
            return None
        return m.group(1) if m.groups() and m.group(1) else ""


def _s(name: str, where: str, pattern: str) -> Signal:
    return Signal(name, where, re.compile(pattern, re.IGNORECASE))


# Most specific first: the Agent SDK reuses Claude Code's user agent with another entrypoint.
AGENT_SIGNALS: tuple[Signal, ...] = (
    # claude-agent-sdk: CLAUDE_CODE_ENTRYPOINT=sdk-py / sdk-ts shows in Claude Code's user agent.
    _s("Claude Agent SDK (Python)", "user-agent", r"claude-cli/(\S+) \(external, sdk-py"),
    _s("Claude Agent SDK (TypeScript)", "user-agent", r"claude-cli/(\S+) \(external, sdk-ts"),
    _s("Claude Code", "user-agent", r"claude-cli/(\S+)"),
    _s("Claude Code", "x-app", r"^cli$"),
    _s("Claude Code", "system", r"You are Claude Code, Anthropic's official CLI"),
    # openai/codex codex-rs: `originator` header and user agent codex_cli_rs/<version>.
    _s("Codex", "user-agent", r"codex_cli_rs/(\S+)"),
    _s("Codex", "originator", r"codex_cli_rs|codex_exec"),
    _s("Codex", "user-agent", r"\bcodex[/_ -](\S+)"),
    # google-gemini/gemini-cli: user agent GeminiCLI/<version> (<platform>; <arch>).
    _s("Gemini CLI", "user-agent", r"GeminiCLI/(\S+)"),
    # kiro-cli / Amazon Q Developer CLI: the AWS SDK user agent names the app.
    _s("kiro-cli", "x-amz-user-agent", r"app/(?:kiro|AmazonQ-For-CLI)[\w-]*(?:/(\S+))?"),
    _s("kiro-cli", "user-agent", r"\bkiro[\w-]*/(\S+)"),
    _s("kiro-cli", "x-amz-target", r"^KiroRuntimeService\."),
    # sst/opencode: user agent opencode/<version>.
    _s("opencode", "user-agent", r"\bopencode/(\S+)"),
    # GitHub Copilot CLI: Copilot-Integration-Id and its user agent.
    _s("GitHub Copilot CLI", "copilot-integration-id", r"copilot[\w-]*cli"),
    _s("GitHub Copilot CLI", "user-agent", r"copilot[\w-]*cli/(\S+)"),
    _s("Qwen Code", "user-agent", r"QwenCode/(\S+)"),
    _s("Kimi CLI", "user-agent", r"Kimi[\w-]*CLI/(\S+)"),
    _s("Grok CLI", "user-agent", r"grok-cli/(\S+)"),
    # Aider (through litellm): its OpenRouter attribution headers, and its system prompt.
    _s("aider", "x-title", r"^Aider$"),
    _s("aider", "http-referer", r"aider\.chat"),
    _s("aider", "system", r"Act as an expert (?:software developer|code analyst|architect)"),
)

CLIENT_SIGNALS: tuple[Signal, ...] = (
    _s("litellm", "user-agent", r"litellm/(\S+)"),
    # Stainless-generated SDKs (openai, anthropic): "OpenAI/Python 1.x", x-stainless-* headers.
    _s("OpenAI Python SDK", "user-agent", r"OpenAI/Python (\S+)"),
    _s("OpenAI JS SDK", "user-agent", r"OpenAI/JS (\S+)"),
    _s("Anthropic Python SDK", "user-agent", r"Anthropic/Python (\S+)"),
    _s("Anthropic JS SDK", "user-agent", r"Anthropic/JS (\S+)"),
    _s("Google Gen AI SDK", "x-goog-api-client", r"google-genai-sdk/(\S+)"),
    _s("Google Gen AI SDK", "user-agent", r"google-genai-sdk/(\S+)"),
    _s("AWS SDK for Rust", "x-amz-user-agent", r"aws-sdk-rust/(\S+)"),
    _s("AWS SDK for Rust", "user-agent", r"aws-sdk-rust/(\S+)"),
)


@dataclass(frozen=True, slots=True)
class Recognition:
    agent: str | None  # None: no signal named an agent
    version: str | None
    signal: str | None  # which signal named it, e.g. "header user-agent" or "system prompt"
    clients: list[str] = field(default_factory=list)  # "litellm 1.81.10", ...

    def label(self) -> str:
        """ "aider (named by header x-title; via litellm 1.81.10, OpenAI Python SDK 1.99.1)"."""
        name = self.agent or "agent"
        if self.agent and self.version:
            name += f" {self.version}"
        notes = [f"named by {self.signal}"] if self.signal else ["no agent signal"]
        if self.clients:
            notes.append("via " + ", ".join(self.clients))
        return f"{name} ({'; '.join(notes)})"


def _value(headers: dict[str, str], where: str, system: str | None) -> str | None:
    return system if where == "system" else headers.get(where)


def _by_name(headers: Headers) -> dict[str, str]:
    """Lower-case header name → its first value (built once per request, not once per signal)."""
    out: dict[str, str] = {}
    for k, v in headers:
        out.setdefault(k.lower(), v)
    return out


def recognise(requests: Iterable[tuple[Headers, str | None]]) -> Recognition:
    """The agent behind `requests` ((headers, system prompt) of each request, in order): the first
    agent signal, in `AGENT_SIGNALS` order, that any request matches; the client libraries seen."""
    seen = [(_by_name(headers), system) for headers, system in requests]
    agent: tuple[Signal, str] | None = None
    for signal in AGENT_SIGNALS:
        for headers, system in seen:
            value = _value(headers, signal.where, system)
            version = signal.match(value) if value else None
            if version is not None:
                agent = (signal, version)
                break
        if agent:
            break
    clients: list[str] = []
    for signal in CLIENT_SIGNALS:
        for headers, system in seen:
            value = _value(headers, signal.where, system)
            version = signal.match(value) if value else None
            if version is not None:
                text = f"{signal.name} {version}".strip()
                if not any(c.startswith(signal.name) for c in clients):
                    clients.append(text)
                break
    if agent is None:
        return Recognition(None, None, None, clients)
    signal, version = agent
    where = "system prompt" if signal.where == "system" else f"header {signal.where}"
    return Recognition(signal.name, version or None, where, clients)
