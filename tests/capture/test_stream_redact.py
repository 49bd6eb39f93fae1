"""`StreamRedactor` (docs/specs/mitmproxy.md §7.9): a streamed body cut into chunks at any place is
recorded as redacted as the same body in one chunk, one output per chunk in order, with the bytes
of every chunk untouched by redaction kept as they came."""

from __future__ import annotations

import orjson
import pytest
from fastcap.capture.stream_redact import Held, StreamRedactor, map_offset
from fastcap.secrets.leakscan import scan_text
from fastcap.secrets.redact import DEFAULT, encode_eventstream_frame

KEY = "sk-ant-api03-" + "FAKEfake0123" * 3
ACCESS = "ya29." + "FAKEfake0123" * 2
REFRESH = "1//0" + "FAKEfake0123" * 2


def _sse(*events: dict[str, object]) -> bytes:
    return b"".join(b"event: x\ndata: " + orjson.dumps(e) + b"\n\n" for e in events)


def _frame(payload: dict[str, object]) -> bytes:
    headers = b"\x0b:event-type\x07\x00\x16assistantResponseEvent"
    return encode_eventstream_frame(headers, orjson.dumps(payload))


BODIES = {
    "sse": (
        "text/event-stream",
        _sse({"type": "ping"}, {"type": "token", "api_key": KEY, "n": 1}, {"type": "done"}),
        [KEY],
    ),
    "sse crlf": ("text/event-stream", _sse({"access_token": ACCESS}).replace(b"\n", b"\r\n"), [ACCESS]),
    "json compact": (
        "application/json",
        orjson.dumps({"access_token": ACCESS, "refresh_token": REFRESH, "expires_in": 3600}),
        [ACCESS, REFRESH],
    ),
    "json pretty": (
        "application/json",
        orjson.dumps({"access_token": ACCESS, "token_type": "Bearer"}, option=orjson.OPT_INDENT_2),
        [ACCESS],
    ),
    "ndjson": (
        "application/x-ndjson",
        b'{"a":1}\n{"password":"hunter2hunter2","b":2}\n{"c":3}\n',
        ["hunter2hunter2"],
    ),
    "eventstream": (
        "application/vnd.amazon.eventstream",
        _frame({"content": "hi"}) + _frame({"accessToken": ACCESS}) + _frame({"content": "bye"}),
        [ACCESS],
    ),
}


def _run(ctype: str, chunks: list[bytes], url: str = "https://x.test/oauth/token") -> list[bytes]:
    red = StreamRedactor(ctype, "", DEFAULT, url)
    out: list[tuple[Held, bytes]] = []
    held = [Held(float(i), {"ci": i + 1}, c) for i, c in enumerate(chunks)]
    for h in held:
        out.extend(red.push(h))
    out.extend(red.finish())
    assert [h for h, _ in out] == held  # one output per chunk, in order
    assert red.held_bytes == 0
    return [d for _, d in out]


@pytest.mark.parametrize("name", list(BODIES))
def test_every_split_in_two_redacts_like_one_chunk(name: str) -> None:
    ctype, body, secrets = BODIES[name]
    whole = b"".join(_run(ctype, [body]))
    for s in secrets:
        assert s.encode() not in whole
    assert b"[REDACTED]" in whole
    for at in range(len(body) + 1):
        got = _run(ctype, [body[:at], body[at:]])
        assert b"".join(got) == whole, at
        # The first chunk keeps its own bytes up to where redaction changed something.
        assert whole.startswith(got[0])


@pytest.mark.parametrize("name", ["sse", "json pretty", "eventstream"])
def test_three_chunks_and_single_bytes(name: str) -> None:
    ctype, body, _ = BODIES[name]
    whole = b"".join(_run(ctype, [body]))
    for a in range(0, len(body), 7):
        for b in range(a, len(body), 11):
            assert b"".join(_run(ctype, [body[:a], body[a:b], body[b:]])) == whole
    assert b"".join(_run(ctype, [body[i : i + 1] for i in range(len(body))])) == whole


def test_untouched_chunks_are_byte_identical() -> None:
    body = _sse({"type": "a", "text": "hello"}, {"type": "b", "text": "world"})
    for at in range(len(body) + 1):
        assert _run("text/event-stream", [body[:at], body[at:]]) == [body[:at], body[at:]]


def test_replacement_goes_to_the_chunk_that_completes_it() -> None:
    line = b'data: {"api_key":"' + KEY.encode() + b'"}\n\n'
    at = line.index(b"sk-ant") + 5
    first, second = _run("text/event-stream", [line[:at], line[at:]])
    assert first == line[: line.index(b"sk-ant")]  # up to the value: as received
    assert second.startswith(b"[REDACTED]") and second.endswith(b'"}\n\n')


def test_cut_stream_and_hold_limit() -> None:
    cut = b'data: {"x":1}\n\n{"refresh_token": "' + REFRESH.encode()[:12]
    out = b"".join(_run("text/event-stream", [cut[:20], cut[20:]]))
    assert REFRESH.encode()[:12] not in out and out.startswith(b'data: {"x":1}\n\n')
    red = StreamRedactor("text/plain", "", DEFAULT, "https://x.test/", hold_limit=64)
    line = b'{"password": "' + b"p" * 40 + b'", "pad": "' + b"x" * 100
    ready = red.push(Held(0.0, {}, line[:50]))
    assert ready == []  # held: the line is not complete and under the limit
    ready = red.push(Held(1.0, {}, line[50:]))
    assert len(ready) == 2 and b"p" * 40 not in b"".join(d for _, d in ready)


def test_binary_encoded_and_unredacted_streams_pass_through() -> None:
    for ctype, enc, cfg, data in (
        ("text/event-stream", "gzip", DEFAULT, b'data: {"api_key": "abc'),
        ("application/octet-stream", "", DEFAULT, b"\x00\x01"),
        ("application/grpc", "", DEFAULT, b"\x08\x96\x01 no newline, no NUL"),  # protobuf-like
        ("text/event-stream", "", None, b'data: {"api_key": "abc'),
    ):
        red = StreamRedactor(ctype, enc, cfg, "https://x.test/")
        h = Held(0.0, {}, data)
        assert red.push(h) == [(h, data)]  # recorded at once, not held for a newline


def test_map_offset() -> None:
    raw, new = b"ab SECRET cd", b"ab [REDACTED] cd"
    assert [map_offset(raw, new, k) for k in (0, 2, 3, 5, 9, 10, 12)] == [0, 2, 3, 3, 13, 14, 16]


def test_leak_scan_of_every_split_output_is_clean() -> None:
    for ctype, body, _ in BODIES.values():
        for at in range(0, len(body) + 1, 3):
            text = b"".join(_run(ctype, [body[:at], body[at:]])).decode("latin-1")
            assert scan_text(text) == [], (ctype, at)
