"""Redaction (docs/specs/reports.md §6): headers, query params, body fields, SSE, EventStream, fingerprints."""

from __future__ import annotations

import hashlib

import orjson
from fastcap.secrets.redact import (
    DEFAULT,
    RedactionConfig,
    is_marker,
    is_sensitive_header,
    marker,
    redact_body,
    redact_headers,
    redact_json,
    redact_url,
)
from helpers.fakeupstream import eventstream

KEY = "sk-ant-api03-FAKEFAKEFAKEFAKEFAKEFAKE0000"


def test_headers_exact_and_suffix_rules() -> None:
    pairs = [
        ("Authorization", "Bearer " + KEY),
        ("x-api-key", KEY),
        ("X-Goog-Api-Key", "AIza..."),
        ("x-custom-token", "t"),
        ("x-client-secret", "s"),
        ("my-api-key", "k"),
        ("Cookie", "a=b"),
        ("content-type", "application/json"),
        ("x-tokens-used", "12"),
    ]
    out = dict(redact_headers(pairs))
    for name in (
        "Authorization",
        "x-api-key",
        "X-Goog-Api-Key",
        "x-custom-token",
        "x-client-secret",
        "my-api-key",
        "Cookie",
    ):
        assert out[name] == "[REDACTED]", name
    assert out["content-type"] == "application/json"
    assert out["x-tokens-used"] == "12"
    assert is_sensitive_header("SET-COOKIE")


def test_configurable_lists() -> None:
    cfg = DEFAULT.with_changes(add_headers=["x-internal"], remove_headers=["cookie"])
    out = dict(redact_headers([("x-internal", "v"), ("cookie", "c")], cfg))
    assert out == {"x-internal": "[REDACTED]", "cookie": "c"}


def test_fingerprint_marker() -> None:
    cfg = RedactionConfig(fingerprint=True)
    expected = f"[REDACTED:{hashlib.sha256(KEY.encode()).hexdigest()[:8]}]"
    assert marker(KEY, cfg) == expected
    assert dict(redact_headers([("x-api-key", KEY)], cfg))["x-api-key"] == expected
    assert is_marker(expected) and is_marker("[REDACTED]") and not is_marker("[REDACTED:xyz]")


def test_url_query_params() -> None:
    url = "https://generativelanguage.googleapis.com/v1beta/models/g:streamGenerateContent?alt=sse&key=AIzaSECRET"
    assert redact_url(url).endswith("?alt=sse&key=[REDACTED]")
    assert redact_url(url, encode_marker=True).endswith("key=%5BREDACTED%5D")
    assert redact_url("https://x/a?code=42") == "https://x/a?code=42"
    assert (
        redact_url("https://x/oauth/callback?code=abc&state=s")
        == "https://x/oauth/callback?code=[REDACTED]&state=s"
    )
    same = "https://x/v1/messages?beta=true"
    assert redact_url(same) is same


def test_json_any_depth_keeps_structure() -> None:
    value = {"a": [{"accessToken": "x", "n": 1}], "nested": {"Password": 5, "ok": "v"}, "code": 429}
    out = redact_json(value)
    assert out == {
        "a": [{"accessToken": "[REDACTED]", "n": 1}],
        "nested": {"Password": "[REDACTED]", "ok": "v"},
        "code": 429,
    }
    assert value["a"][0]["accessToken"] == "x"  # input untouched
    assert redact_json({"code": "abc"}, url="https://oauth2.googleapis.com/token") == {"code": "[REDACTED]"}


def test_body_unchanged_is_same_object() -> None:
    body = b'{"model":"claude","messages":[]}'
    assert redact_body(body, "application/json") is body
    sse = b'event: x\ndata: {"text":"hi"}\n\n'
    assert redact_body(sse, "text/event-stream") is sse


def test_json_form_sse_bodies() -> None:
    out = orjson.loads(redact_body(b'{"refresh_token":"r1","x":1}', "application/json"))
    assert out == {"refresh_token": "[REDACTED]", "x": 1}
    form = redact_body(
        b"grant_type=refresh_token&refresh_token=r1&client_secret=s", "application/x-www-form-urlencoded"
    )
    assert form == b"grant_type=refresh_token&refresh_token=%5BREDACTED%5D&client_secret=%5BREDACTED%5D"
    sse = b'event: t\r\ndata: {"accessToken":"a"}\r\n\r\ndata: [DONE]\r\n\r\n'
    assert (
        redact_body(sse, "text/event-stream")
        == b'event: t\r\ndata: {"accessToken":"[REDACTED]"}\r\n\r\ndata: [DONE]\r\n\r\n'
    )


def test_eventstream_payloads_reencoded_with_valid_crcs() -> None:
    body = eventstream.event("credentials", b'{"SessionToken":"IQoJsecret","x":1}') + eventstream.event(
        "assistantResponseEvent", b'{"content":"hi"}'
    )
    out = redact_body(body, "application/vnd.amazon.eventstream")
    frames = eventstream.decode_frames(out)  # asserts CRCs
    assert orjson.loads(frames[0][1]) == {"SessionToken": "[REDACTED]", "x": 1}
    assert frames[0][0][":event-type"] == "credentials"
    assert frames[1][1] == b'{"content":"hi"}'
    partial = body[:20]
    assert redact_body(partial, "application/vnd.amazon.eventstream") is partial
