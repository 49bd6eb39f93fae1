"""Context windows of known models, in tokens: the built-in table behind report.md's Context %.

Context % = prompt tokens (input + cache read + cache write, i.e. the normalised `input_total` of
docs/specs/sse.md §9) ÷ the window of the call's model. A window declared by the capture itself (kiro-cli's
`ListAvailableModels`) takes precedence over this table; a model the table does not know has no
window ("unknown") and its Context % stays empty rather than guessed.

Lookup: the model id is normalised (lower case, `_` → `-`, a provider or path prefix such as
`models/`, `openai/`, `us.anthropic.` removed) and the **longest** prefix below that it starts with
wins, so `gpt-4o-mini-2024-07-18` finds `gpt-4o` and not `gpt-4`. Anthropic's 1M-token context is a
beta the request opts into (`anthropic-beta: context-1m-…`, or `anthropic_beta` in a Bedrock body);
with it, Claude models get `CLAUDE_LONG_CONTEXT`.

Figures are the providers' published input context windows (as of late 2025); update this table,
not the code, when a model family is added.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

CLAUDE_LONG_CONTEXT = 1_000_000
LONG_CONTEXT_BETA = "context-1m"  # prefix of the beta name (`context-1m-2025-08-07`)

WINDOWS: dict[str, int] = {
    # Anthropic (Claude 3 and later: 200k; 1M with the beta, see above)
    "claude-": 200_000,
    "claude-2": 100_000,
    "claude-instant": 100_000,
    # OpenAI
    "gpt-3.5-turbo": 16_385,
    "gpt-4": 8_192,
    "gpt-4-32k": 32_768,
    "gpt-4-turbo": 128_000,
    "gpt-4-1106": 128_000,
    "gpt-4-0125": 128_000,
    "gpt-4o": 128_000,
    "chatgpt-4o": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-4.5": 128_000,
    "gpt-5": 400_000,  # gpt-5, -mini, -nano, -codex, gpt-5.1, gpt-5.1-codex, …
    "gpt-5-chat": 128_000,
    "gpt-5.1-chat": 128_000,
    "codex-mini": 200_000,
    "o1": 200_000,
    "o1-mini": 128_000,
    "o1-preview": 128_000,
    "o3": 200_000,
    "o3-mini": 200_000,
    "o4-mini": 200_000,
    # Google Gemini
    "gemini-1.5-pro": 2_097_152,
    "gemini-1.5-flash": 1_048_576,
    "gemini-2.0-flash": 1_048_576,
    "gemini-2.0-pro": 2_097_152,
    "gemini-2.5-pro": 1_048_576,
    "gemini-2.5-flash": 1_048_576,
    "gemini-3": 1_048_576,
}

# Longest first, so the first prefix that matches is the most specific one.
_PREFIXES = sorted(WINDOWS, key=len, reverse=True)
# Routing prefixes in front of the model name: Bedrock (`us.anthropic.`, `anthropic.`), OpenRouter
# and Vertex style paths (`openai/`, `models/`, `publishers/google/models/`).
_PROVIDER_PREFIX = re.compile(r"^(?:[a-z]{2,6}\.)?(?:anthropic|openai|google|meta|amazon)\.")


def normalise(model: str) -> str:
    name = model.strip().lower().replace("_", "-").rsplit("/", 1)[-1]
    return _PROVIDER_PREFIX.sub("", name)


def is_long_context(betas: Iterable[str]) -> bool:
    return any(b.strip().lower().startswith(LONG_CONTEXT_BETA) for b in betas)


def context_window(model: str | None, *, betas: Iterable[str] = ()) -> int | None:
    """The model's context window in tokens, or None when unknown."""
    if not model:
        return None
    name = normalise(model)
    prefix = next((p for p in _PREFIXES if name.startswith(p)), None)
    if prefix is None:
        return None
    if name.startswith("claude-") and is_long_context(betas):
        return CLAUDE_LONG_CONTEXT
    return WINDOWS[prefix]


__all__ = [
    "CLAUDE_LONG_CONTEXT",
    "LONG_CONTEXT_BETA",
    "WINDOWS",
    "context_window",
    "is_long_context",
    "normalise",
]
