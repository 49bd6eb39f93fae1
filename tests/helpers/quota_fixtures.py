"""Rate-limit header sets of each provider, written by hand after the providers' documentation
(made-up values), and calls that carry them (tests/analysis/test_quota.py, tests/view)."""

from __future__ import annotations

from fastcap.model import Chunk, Exchange

T0 = 1_763_640_000.0

# Anthropic API key (docs: "Rate limits", response headers).
ANTHROPIC_API = [
    ("anthropic-ratelimit-requests-limit", "4000"),
    ("anthropic-ratelimit-requests-remaining", "3999"),
    ("anthropic-ratelimit-requests-reset", "2026-11-20T12:00:30Z"),
    ("anthropic-ratelimit-tokens-limit", "2000000"),
    ("anthropic-ratelimit-tokens-remaining", "1500000"),
    ("anthropic-ratelimit-tokens-reset", "2026-11-20T12:00:02Z"),
    ("anthropic-ratelimit-input-tokens-limit", "2000000"),
    ("anthropic-ratelimit-input-tokens-remaining", "1600000"),
    ("anthropic-ratelimit-input-tokens-reset", "2026-11-20T12:00:02Z"),
    ("Anthropic-Ratelimit-Output-Tokens-Limit", "400000"),
    ("Anthropic-Ratelimit-Output-Tokens-Remaining", "380000"),
    ("anthropic-ratelimit-output-tokens-reset", "2026-11-20T12:00:01Z"),
    ("request-id", "req_011CVfake"),
]
# Claude Code on a subscription: the unified limits.
ANTHROPIC_UNIFIED = [
    ("anthropic-ratelimit-unified-status", "allowed_warning"),
    ("anthropic-ratelimit-unified-5h-status", "allowed"),
    ("anthropic-ratelimit-unified-5h-utilization", "0.21"),
    ("anthropic-ratelimit-unified-5h-reset", "1763650800"),
    ("anthropic-ratelimit-unified-7d-status", "allowed_warning"),
    ("anthropic-ratelimit-unified-7d-utilization", "0.82"),
    ("anthropic-ratelimit-unified-7d-reset", "1764000000"),
    ("anthropic-ratelimit-unified-representative-claim", "seven_day"),
    ("anthropic-ratelimit-unified-fallback-percentage", "0.5"),
    ("anthropic-ratelimit-unified-reset", "1764000000"),
]
OPENAI = [
    ("x-ratelimit-limit-requests", "10000"),
    ("x-ratelimit-remaining-requests", "9990"),
    ("x-ratelimit-reset-requests", "8.64s"),
    ("x-ratelimit-limit-tokens", "2000000"),
    ("x-ratelimit-remaining-tokens", "1200000"),
    ("x-ratelimit-reset-tokens", "24ms"),
    ("openai-processing-ms", "812"),
]
CODEX = [
    ("x-codex-primary-used-percent", "37.5"),
    ("x-codex-primary-window-minutes", "300"),
    ("x-codex-primary-reset-at", "1763650800"),
    ("x-codex-secondary-used-percent", "91"),
    ("x-codex-secondary-window-minutes", "10080"),
    ("x-codex-secondary-reset-after-seconds", "86400"),
    ("x-codex-plan-type", "pro"),
]


def _sse(events: list[tuple[str, str]]) -> bytes:
    return "".join(f"event: {e}\ndata: {d}\n\n" for e, d in events).encode()


ANTHROPIC_STREAM = _sse(
    [
        ("message_start", '{"type":"message_start","message":{"model":"claude-sonnet-4-5","usage":{"input_tokens":10,"output_tokens":1}}}'),
        ("message_delta", '{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":5}}'),
        ("message_stop", '{"type":"message_stop"}'),
    ]
)  # fmt: skip
OPENAI_JSON = (
    b'{"id":"c1","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},'
    b'"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":2}}'
)
RESPONSES_STREAM = (
    b'event: response.completed\ndata: {"type":"response.completed","response":{"model":"gpt-5-codex",'
    b'"status":"completed","usage":{"input_tokens":10,"output_tokens":2}}}\n\n'
)


def quota_exchanges() -> list[Exchange]:
    def ex(i: int, url: str, body: bytes, ctype: str, headers: list[tuple[str, str]], model: str) -> Exchange:
        stream = ctype == "text/event-stream"
        return Exchange(
            i, "cbor", "POST", url,
            request_headers=[("content-type", "application/json")],
            request_body=f'{{"model":"{model}","stream":{str(stream).lower()}}}'.encode(),
            status=200, response_headers=[("content-type", ctype), *headers], response_body=body,
            started_at=T0 + i, request_ended_at=T0 + i + 0.01, ended_at=T0 + i + 1,
            chunks=[Chunk(T0 + i + 0.5, body)] if stream else [],
        )  # fmt: skip

    return [
        ex(0, "https://api.anthropic.com/v1/messages", ANTHROPIC_STREAM, "text/event-stream", ANTHROPIC_API, "claude-sonnet-4-5"),
        ex(1, "https://api.anthropic.com/v1/messages", ANTHROPIC_STREAM, "text/event-stream", ANTHROPIC_UNIFIED, "claude-sonnet-4-5"),
        ex(2, "https://api.openai.com/v1/chat/completions", OPENAI_JSON, "application/json", OPENAI, "gpt-4o-mini"),
        ex(3, "https://chatgpt.com/backend-api/codex/responses", RESPONSES_STREAM, "text/event-stream", CODEX, "gpt-5-codex"),
        ex(4, "https://api.openai.com/v1/chat/completions", OPENAI_JSON, "application/json", [], "gpt-4o-mini"),
    ]  # fmt: skip
