"""Conversation grouping by message-prefix chaining (`reports.flow.conversation_keys`)."""

from __future__ import annotations

import random

from fastcap.dialects.base import CallAnalysis, RequestInfo, ResponseInfo
from fastcap.model import Exchange
from fastcap.reports.context import AuthEvidence, Call
from fastcap.reports.flow import conversation_keys


def _by_scanning_every_conversation(hash_lists: list[list[str]]) -> list[str | None]:
    """The definition: each call continues the longest (latest, on ties) conversation whose latest
    messages it starts with, else begins a new one."""
    convs: list[tuple[str, list[str]]] = []
    out: list[str | None] = []
    for hashes in hash_lists:
        if not hashes:
            out.append(None)
            continue
        best = None
        for i, (_, latest) in enumerate(convs):
            if hashes[: len(latest)] == latest and (best is None or len(latest) >= len(convs[best][1])):
                best = i
        if best is None:
            convs.append((f"#{len(convs) + 1}", list(hashes)))
            out.append(convs[-1][0])
        else:
            convs[best] = (convs[best][0], list(hashes))
            out.append(convs[best][0])
    return out


def _call(n: int, hashes: list[str]) -> Call:
    ex = Exchange(index=n, source="cbor", method="POST", url="https://api.anthropic.com/v1/messages")
    ca = CallAnalysis(
        ex, "anthropic", "Anthropic.Messages", True, RequestInfo(message_hashes=hashes), ResponseInfo()
    )
    return Call(n + 1, str(n + 1), ca, AuthEvidence(None))


def test_same_conversations_as_scanning_every_one() -> None:
    # Many interleaved conversations, forks (two calls continuing the same history), restarts from
    # a shared first message, and calls without messages.
    rng = random.Random(7)
    histories: list[list[str]] = []
    hash_lists: list[list[str]] = []
    for _ in range(600):
        roll = rng.random()
        if roll < 0.05:
            hash_lists.append([])
            continue
        if roll < 0.25 or not histories:
            first = rng.choice(["sys-a", "sys-b", f"sys-{rng.randrange(40)}"])
            history = [first, f"u{rng.randrange(10**6)}"]
        else:
            base = rng.choice(histories)
            cut = len(base) if rng.random() < 0.8 else rng.randrange(1, len(base) + 1)
            history = base[:cut] + [f"m{rng.randrange(10**6)}" for _ in range(rng.randrange(1, 3))]
        histories.append(history)
        hash_lists.append(history)
    calls = [_call(n, h) for n, h in enumerate(hash_lists)]
    found = [name for name, _ in conversation_keys(calls)]
    assert found == _by_scanning_every_conversation(hash_lists)
    assert len(set(found)) > 50  # many conversations, so the candidates really are narrowed
