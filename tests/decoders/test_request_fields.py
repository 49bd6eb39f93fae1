"""`_native.request_fields`: the identifying fields of request payloads, one row per payload."""

from __future__ import annotations

from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from fastcap import _native as nat

COLUMNS = {
    "model": pl.Utf8,
    "user_id": pl.Utf8,
    "conversation_id_body": pl.Utf8,
    "prompt_cache_key": pl.Utf8,
    "previous_response_id": pl.Utf8,
    "session_header": pl.Utf8,
    "amz_target": pl.Utf8,
    "agent_id": pl.Utf8,
    "parent_agent_id": pl.Utf8,
    "stream": pl.Boolean,
}
NULLS: dict[str, Any] = dict.fromkeys(COLUMNS)


def fields(*payloads: bytes | None) -> list[dict[str, Any]]:
    df = pl.DataFrame(nat.request_fields(list(payloads)))
    assert dict(df.schema) == COLUMNS
    return df.to_dicts()


def head(*lines: str) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_anthropic_with_head() -> None:
    body = (
        b'{"model":"claude-sonnet-4-5","max_tokens":100,"messages":[{"role":"user","content":"hi"}],'
        b'"metadata":{"user_id":"user_ab_account_cd_session_ef"},"stream":true}'
    )
    p = (
        head(
            "POST /v1/messages?beta=true HTTP/1.1", "Host: api.anthropic.com", "X-Claude-Code-Session-Id: s-1"
        )
        + body
    )
    assert fields(p) == [
        {
            **NULLS,
            "model": "claude-sonnet-4-5",
            "user_id": "user_ab_account_cd_session_ef",
            "session_header": "s-1",
            "stream": True,
        }
    ]


def test_claude_code_sub_agent_headers() -> None:
    """Claude Code 2.1 marks a sub-agent's requests with its id and its parent's."""
    p = head(
        "POST /v1/messages?beta=true HTTP/1.1",
        "x-claude-code-session-id: s-1",
        "x-claude-code-agent-id: a-sub",
        "X-Claude-Code-Parent-Agent-Id: a-main",
    )
    assert fields(p, b"{}") == [
        {**NULLS, "session_header": "s-1", "agent_id": "a-sub", "parent_agent_id": "a-main"},
        NULLS,
    ]


def test_session_header_preference() -> None:
    p = head(
        "POST /v1/responses HTTP/1.1",
        "conversation_id: c",
        "x-session-id: x",
        "Session-Id: sd",
        "session_id: su",
    )
    assert fields(p)[0]["session_header"] == "su"
    # Empty values are skipped.
    p = head("POST /v1/responses HTTP/1.1", "conversation_id: c", "session_id:  ")
    assert fields(p)[0]["session_header"] == "c"


def test_openai_responses_body_alone() -> None:
    body = (
        b'{"model":"gpt-5","input":[{"role":"user","content":"x"}],"prompt_cache_key":"pck",'
        b'"previous_response_id":"resp_1","conversation":{"id":"conv_1"},"stream":false}'
    )
    assert fields(body) == [
        {
            **NULLS,
            "model": "gpt-5",
            "prompt_cache_key": "pck",
            "previous_response_id": "resp_1",
            "conversation_id_body": "conv_1",
            "stream": False,
        }
    ]
    assert fields(b'{"conversation":"conv_2"}')[0]["conversation_id_body"] == "conv_2"


def test_kiro() -> None:
    p = head(
        "POST / HTTP/1.1",
        "x-amz-target: AmazonCodeWhispererStreamingService.GenerateAssistantResponse",
    ) + (
        b'{"conversationState":{"conversationId":"conv-k","history":[],'
        b'"currentMessage":{"userInputMessage":{"content":"hi","modelId":"claude-sonnet-4.5"}}}}'
    )
    assert fields(p) == [
        {
            **NULLS,
            "model": "claude-sonnet-4.5",
            "conversation_id_body": "conv-k",
            "amz_target": "AmazonCodeWhispererStreamingService.GenerateAssistantResponse",
        }
    ]


def test_code_assist_wrapper() -> None:
    body = b'{"model":"gemini-2.5-pro","project":"p","request":{"contents":[],"session_id":"sess-1"}}'
    row = fields(body)[0]
    assert (row["model"], row["conversation_id_body"]) == ("gemini-2.5-pro", "sess-1")


def test_model_id_fallback() -> None:
    assert fields(b'{"modelId":"amazon.nova"}')[0]["model"] == "amazon.nova"


def test_invalid_and_missing_give_nulls() -> None:
    assert fields(b"{nope", b"", None, b"[1]", b'{"model":5,"stream":"yes"}') == [NULLS] * 5
    # The head's columns survive a broken body.
    row = fields(head("POST / HTTP/1.1", "session_id: s") + b"{broken")[0]
    assert row == {**NULLS, "session_header": "s"}


def test_content_encoding_is_not_decoded() -> None:
    gz = head("POST /v1/messages HTTP/1.1", "content-encoding: gzip", "session_id: s") + b"\x1f\x8b\x08\x00"
    assert fields(gz)[0] == {**NULLS, "session_header": "s"}


def test_arrow_inputs() -> None:
    payloads = [b'{"model":"a"}', None, b'{"model":"b","stream":true}']
    want = pl.DataFrame(nat.request_fields(payloads))
    assert want["model"].to_list() == ["a", None, "b"]
    assert pl.DataFrame(nat.request_fields(pa.array(payloads, pa.binary()))).equals(want)
    df = pl.DataFrame({"n": [1, 2, 3], "req": payloads})
    assert pl.DataFrame(nat.request_fields(df, column="req")).equals(want)


def test_rejects_a_single_bytes_object() -> None:
    with pytest.raises(TypeError):
        nat.request_fields(b'{"model":"a"}')
