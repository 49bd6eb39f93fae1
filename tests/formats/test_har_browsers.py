"""HAR files written by browsers (issue 12): their text bodies are the Unicode the browser decoded,
not mitmproxy's latin-1 convention. Told apart by `log.creator`; an SSE body with non-ASCII text
decodes exactly, and a body that could only be reconstructed is never labelled complete."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastcap.analysis.exchanges import calls_from_exchanges
from fastcap.formats import read_exchanges

TEXT = "It is 25 °C in Zürich — 東京は晴れ"
SSE = (
    'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","model":"claude-sonnet-4-5",'
    '"usage":{"input_tokens":10,"output_tokens":1}}}\n\n'
    'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
    'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":'
    + json.dumps(TEXT, ensure_ascii=False)
    + "}}\n\n"
    'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":12}}\n\n'
    'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)


def _har(path: Path, creator: str, mime: str, text: str) -> Path:
    entry = {
        "startedDateTime": "2026-12-01T10:00:00.000Z",
        "time": 100,
        "request": {
            "method": "POST",
            "url": "https://api.anthropic.com/v1/messages",
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": "content-type", "value": "application/json"}],
            "postData": {
                "mimeType": "application/json",
                "text": '{"model":"claude-sonnet-4-5","stream":true}',
            },
        },
        "response": {
            "status": 200,
            "statusText": "OK",
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": "content-type", "value": mime}],
            "content": {"size": len(text.encode()), "mimeType": mime, "text": text},
        },
        "timings": {"send": 1, "wait": 50, "receive": 49},
    }
    doc = {"log": {"version": "1.2", "creator": {"name": creator, "version": "1"}, "entries": [entry]}}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("creator", ["WebInspector", "Firefox"])
def test_a_browsers_sse_body_decodes_exactly(tmp_path: Path, creator: str) -> None:
    [ex] = read_exchanges(_har(tmp_path / "b.har", creator, "text/event-stream", SSE))
    assert ex.response_body == SSE.encode() and ex.response_body_fidelity == "complete"
    [call] = calls_from_exchanges([ex]).to_dicts()
    assert call["text_chars"] == len(TEXT) and call["output_total"] == 12


def test_mitmproxys_convention_is_kept(tmp_path: Path) -> None:
    """mitmproxy writes a body of a type without charset latin-1-decoded: latin-1 gives the bytes."""
    wire = SSE.encode()
    [ex] = read_exchanges(_har(tmp_path / "m.har", "mitmproxy", "text/event-stream", wire.decode("latin-1")))
    assert ex.response_body == wire and ex.response_body_fidelity == "complete"


def test_a_reconstructed_body_is_not_complete(tmp_path: Path) -> None:
    [ex] = read_exchanges(_har(tmp_path / "o.har", "WebInspector", "application/octet-stream", "bin°ary"))
    assert ex.response_body == "bin°ary".encode() and ex.response_body_fidelity == "recovered_from_text"
