"""The native fast paths of the traffic.jsonl and HAR readers (`_native.jsonl_records`,
`_native.har_entries`) give the same exchanges as the Python readers they stand in for: every
record here is read both ways, through the public reader and through the Python functions one
record at a time (`exchange_from_record`, `exchange_from_entry`), and compared field by field.
The records cover what each fast path reads and what it hands back to Python (faults, base64,
WebSocket messages, lossy text, declared charsets, wrong types)."""

from __future__ import annotations

import base64
import json
import math
import random
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastcap import _native
from fastcap.formats._json import loads
from fastcap.formats.har import exchange_from_entry, read_har_faults
from fastcap.formats.jsonl import exchange_from_record, read_jsonl_faults
from fastcap.model import Exchange

CHAT = "https://api.openai.com/v1/chat/completions"


def _fields(exchanges: list[Exchange]) -> list[dict[str, Any]]:
    return [asdict(e) for e in exchanges]


def _record(**over: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "timestamp": 5,
        "request": {
            "method": "POST",
            "url": CHAT,
            "headers": {"content-type": "application/json", "session_id": "s1"},
            "body": {"model": "gpt-4o", "temperature": 0.7, "tiny": 1e-7, "big": 1e20, "s": "café \u2028 /"},
        },
        "response": {
            "status_code": 200,
            "headers": {"content-type": "text/event-stream"},
            "body": 'data: {"choices":[{"delta":{"content":"hi"}}]}\n\ndata: [DONE]\n\n',
        },
        "fastcap": {
            "started_at": 1.25,
            "request_ended_at": 1,
            "response_started_at": 1.5,
            "ended_at": 4.0,
            "session_id": "s1",
            "request_id": "r1",
            "backend": "openai",
            "model": "gpt-4o",
            "error": 7,  # not a string: ignored
            "response_body_fidelity": "truncated",
            "chunks": [{"t": 1.6, "len": 20}, {"t": 2, "len": 10_000}],
        },
    }
    rec.update(over)
    return rec


def _jsonl_lines() -> list[str]:
    compact = {"separators": (",", ":"), "ensure_ascii": False}
    lines = [json.dumps(_record(), **compact), json.dumps(_record())]  # as orjson writes it; spaced
    plain = _record(fastcap=None)
    plain["response"] = {
        "status_code": 200,
        "headers": {"content-type": "application/json"},
        "body": [1, {"a": -0.0}],
    }
    lines.append(json.dumps(plain, **compact))
    lines.append(json.dumps(_record(response=None), **compact))
    b64 = _record()
    b64["fastcap"]["chunks"] = [{"t": 1, "data_b64": base64.b64encode(b"data: ").decode()}]
    lines.append(json.dumps(b64))
    lossy = _record()
    lossy["response"]["body"] = "bytes \ufffd lost"
    lines.append(json.dumps(lossy))
    ws = _record()
    ws["fastcap"] = {"websocket": [{"from_client": True, "text": "hi", "t": 1}], "request_body_b64": "eA=="}
    lines.append(json.dumps(ws))
    odd = _record(fastcap="not an object")
    odd["response"]["status_code"] = True
    lines.append(json.dumps(odd))
    lines += [
        "   ",
        '{"request": 3}',
        "not json",
        json.dumps(_record())[:-1] + ',"request":{"method":"GET","url":"u"}}',
    ]
    lines.append('{"timestamp":1,"request":{"method":"GET","url":"\\ud800"}}')  # a lone surrogate
    return lines


def test_jsonl_fast_path_reads_as_python(tmp_path: Path) -> None:
    lines = _jsonl_lines()
    path = tmp_path / "traffic.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode("utf-8", "surrogatepass") + b'\n{"cut')
    exchanges, faults = read_jsonl_faults(path)
    expected = []
    for line in lines:
        if not line.strip():
            continue
        try:
            expected.append(exchange_from_record(len(expected), loads(line)))
        except ValueError:
            continue
    assert _fields(exchanges) == _fields(expected)
    assert [f.offset for f in faults] == [
        sum(len(x.encode("utf-8", "surrogatepass")) + 1 for x in lines[:n]) + 3 for n in (9, 10, len(lines))
    ]
    kinds = [len(item) for item in _native.jsonl_records(path)]
    assert kinds.count(10) == 4, "the compact, spaced, JSON-body and no-response records are native"


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.randrange(7 if depth < 3 else 4)
    if pick == 0:
        return rng.choice([0, -1, 7, 2**63 - 1, -(2**63), 2**64 - 1, 10**12])
    if pick == 1:
        x = rng.choice([rng.uniform(-1e3, 1e3), 10 ** rng.uniform(-8, 20), -0.0, 0.5, 1.0, 1e-4, 1e15, 1e16])
        return x if math.isfinite(x) else 0.0
    if pick == 2:
        alphabet = ['"', "\\", "\n", "\t", "\x00", "\x1f", "\x7f", "é", "\u2028", "/", "a", "日"]
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(6)))
    if pick == 3:
        return rng.choice([None, True, False])
    if pick in (4, 5):
        return {f"k{i}": _random_value(rng, depth + 1) for i in range(rng.randrange(4))}
    return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]


def test_json_bodies_kept_as_written_only_when_orjson_writes_them_so(tmp_path: Path) -> None:
    rng = random.Random(11)
    texts = []
    for _ in range(400):
        value = {"v": _random_value(rng)}
        texts.append(json.dumps(value, separators=(",", ":"), ensure_ascii=rng.random() < 0.3))
        texts.append(orjson.dumps(value).decode())
    path = tmp_path / "bodies.jsonl"
    path.write_text(
        "".join(f'{{"request":{{"method":"POST","url":"u","body":{t}}}}}\n' for t in texts), encoding="utf-8"
    )
    kinds = {2: 0, 3: 0}
    for item, text in zip(_native.jsonl_records(path), texts, strict=True):
        body, kind = item[5], item[6]
        kinds[kind] += 1
        assert (body == orjson.dumps(orjson.loads(text))) if kind == 2 else kind == 3
    assert kinds[2] > 300 and kinds[3] > 50  # both ways taken
    exchanges, _ = read_jsonl_faults(path)
    assert [e.request_body for e in exchanges] == [orjson.dumps(orjson.loads(t)) for t in texts]


def _har_entries() -> list[Any]:
    def entry(response: dict[str, Any], **over: Any) -> dict[str, Any]:
        e: dict[str, Any] = {
            "startedDateTime": "2025-01-01T00:00:00.500Z",
            "request": {
                "method": "POST",
                "url": "https://api.anthropic.com/v1/messages",
                "httpVersion": "HTTP/2",
                "headers": [{"name": "Content-Type", "value": "application/json"}],
                "bodySize": 18,
                "postData": {"mimeType": "application/json", "text": '{"model":"claudé"}'},
            },
            "response": response,
            "timings": {"send": 1, "wait": 2.25, "receive": -1},
        }
        e.update(over)
        return e

    def content(text: str | None, mime: str, **more: Any) -> dict[str, Any]:
        return {
            "status": 200,
            "statusText": "OK",
            "headers": [],
            "content": {"mimeType": mime, "text": text, **more},
        }

    return [
        entry(content("event: x\ndata: {}\n\n", "text/event-stream")),
        entry(content("\u00ff\u0000bin", "application/vnd.amazon.eventstream")),
        entry(content("\u0100 wide", "text/plain")),  # not latin-1: recovered
        entry(content(None, "text/plain", size=9)),  # declared but absent
        entry(content(None, "text/plain")),
        entry(content("ä", "text/plain; charset=utf-8")),  # declared charset: Python's
        entry(content("aGk=", "", encoding="base64")),  # base64: Python's
        entry({"status": 0}, _error="connection reset"),
        entry({"status": True}, timings={}),
        entry(content("x", ""), request={"method": "GET", "url": "u", "bodySize": True}, timings={"x": 1}),
        entry(
            content("x", ""), request={"method": "GET", "url": "u", "headers": [{"name": "a", "value": 5}]}
        ),
        entry({"status": 101}, _webSocketMessages=[{"type": "send", "opcode": 1, "data": "hi", "time": 1.5}]),
        "not an entry",
    ]


@pytest.mark.parametrize("creator", ["mitmproxy", None])
def test_har_fast_path_reads_as_python(tmp_path: Path, creator: str | None) -> None:
    entries = _har_entries()
    log: dict[str, Any] = {"version": "1.2", "entries": entries}
    if creator:
        log["creator"] = {"name": creator, "version": "11.0.2"}
    path = tmp_path / "capture.har"
    path.write_text(json.dumps({"log": log}, indent=2), encoding="utf-8")
    found = _native.har_entries(path)
    assert found is not None and sum(len(e) == 10 for e in found[1]) == 7
    exchanges, faults = read_har_faults(path)
    expected = [exchange_from_entry(i, e) for i, e in enumerate(e for e in entries if isinstance(e, dict))]
    assert faults == []
    assert _fields(exchanges) == _fields(expected)
    assert exchanges[1].response_body == b"\xff\x00bin" and "lossy_text" in exchanges[2].flags


def test_har_left_to_python_whole(tmp_path: Path) -> None:
    browser = tmp_path / "chrome.har"
    browser.write_text(json.dumps({"log": {"creator": {"name": "WebInspector"}, "entries": _har_entries()}}))
    cut = tmp_path / "cut.har"
    cut.write_text(json.dumps({"log": {"entries": _har_entries()}})[:-200])
    assert _native.har_entries(browser) is None and _native.har_entries(cut) is None
    exchanges, faults = read_har_faults(cut)
    assert exchanges and faults[0].kind == "truncated_tail"
