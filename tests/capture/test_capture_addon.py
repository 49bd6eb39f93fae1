"""Unit tests of the capture addon's hooks with mitmproxy's taddons/tflow (no proxy)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastcap.capture.core import Capture
from fastcap.capture.session import PROGRESS_INTERVAL
from helpers.addon_context import addon_context
from helpers.fakeupstream.mitm import read_entries
from mitmproxy import exceptions
from mitmproxy.http import Headers, Response
from mitmproxy.test import tflow

KEY = "sk-ant-api03-FAKEFAKEFAKEFAKEFAKEFAKE0000"


def _configure(tctx: Any, addon: Capture, out: Path, **opts: Any) -> None:
    tctx.configure(addon, fastcap_out=str(out), fastcap_session="unit", **opts)


def _flow(path: str = "/v1/messages", host: str = "api.anthropic.com") -> Any:
    f = tflow.tflow()
    f.request.host = host
    f.request.port = 443
    f.request.scheme = "https"
    f.request.method = "POST"
    f.request.path = path
    f.request.headers = Headers(host=host, **{"x-api-key": KEY, "content-type": "application/json"})
    f.request.content = b'{"model":"claude-sonnet-4-5","stream":true}'
    return f


def test_options_validation(tmp_path: Path) -> None:
    addon = Capture()
    with addon_context(addon) as tctx:
        _configure(tctx, addon, tmp_path)
        with pytest.raises(exceptions.OptionsError):
            tctx.configure(addon, fastcap_filter="~d (")
        with pytest.raises(exceptions.OptionsError):
            tctx.configure(addon, fastcap_format="xml")
        with pytest.raises(exceptions.OptionsError):
            tctx.configure(addon, fastcap_max_body=-1)
        with pytest.raises(exceptions.OptionsError):
            tctx.configure(addon, fastcap_session="../evil")
        blocker = tmp_path / "file"
        blocker.write_text("")
        with pytest.raises(exceptions.OptionsError):
            tctx.configure(addon, fastcap_out=str(blocker / "sub"))
        tctx.configure(addon, fastcap_filter="~d anthropic", fastcap_format="both")
        assert addon.filter is not None


def test_streamed_response_legs(tmp_path: Path) -> None:
    addon = Capture()
    with addon_context(addon) as tctx:
        _configure(tctx, addon, tmp_path, fastcap_format="both")
        f = _flow()
        addon.requestheaders(f)
        addon.request(f)
        f.response = Response.make(
            200, b"", {"content-type": "text/event-stream", "transfer-encoding": "chunked"}
        )
        f.response.content = None
        addon.responseheaders(f)
        tee = f.response.stream
        assert callable(tee)
        chunks = [b"event: a\ndata: {}\n\n", b"data: [DONE]\n\n"]
        for c in chunks:
            assert tee(c) == c
        assert tee(b"") == b""
        addon.response(f)
        addon.done()
    _, entries = read_entries(tmp_path / "unit.cbor")
    kinds = [
        (
            e["dir"],
            e["meta"].get("event"),
            bool(e["meta"].get("ss")),
            bool(e["meta"].get("se")),
            bool(e["meta"].get("eos")),
        )
        for e in entries
    ]
    assert kinds == [
        (2, "request", False, False, False),
        (3, "response", True, False, False),
        (3, "response", False, False, False),
        (3, "response", False, False, False),
        (3, None, False, True, False),
        (3, None, False, False, True),
    ]
    req, ss, c1, c2, se, eos = entries
    assert b"x-api-key: [REDACTED]\r\n" in req["data"] and KEY.encode() not in req["data"]
    assert req["meta"]["be"] == "anthropic" and req["meta"]["mod"] == "claude-sonnet-4-5"
    assert req["data"].startswith(b"POST /v1/messages HTTP/1.1\r\n")
    assert ss["meta"]["http_status"] == 200 and "content-type: text/event-stream" in ss["meta"]["hdrs"]
    assert [c1["meta"]["ci"], c2["meta"]["ci"]] == [1, 2]
    assert "ttfb" in c1["meta"] and "ttfb" not in c2["meta"]
    assert c1["data"] + c2["data"] == b"".join(chunks)
    assert se["meta"]["tc"] == 2 and se["meta"]["tb"] == sum(map(len, chunks))
    assert eos["meta"]["eos_sig"] == "done_sentinel" and eos["meta"]["eos_term"] == "normal"
    assert [e["seq"] for e in entries] == list(range(6))
    line = orjson.loads((tmp_path / "traffic.jsonl").read_bytes().splitlines()[0])
    assert line["request"]["headers"]["x-api-key"] == "[REDACTED]"
    assert line["response"]["body"] == b"".join(chunks).decode()
    assert len(line["fastcap"]["chunks"]) == 2
    # The JSONL reader understands the extension: chunks come back with their arrival times.
    from fastcap.formats.jsonl import read_jsonl

    (ex,) = read_jsonl(tmp_path / "traffic.jsonl")
    assert [c.data for c in ex.chunks] == chunks
    assert all(c.t is not None for c in ex.chunks) and ex.started_at is not None and ex.ended_at is not None
    summary = orjson.loads((tmp_path / "summary.json").read_bytes())
    assert summary["counts"]["requests"] == 1 and summary["counts"]["streams"] == 1


def test_whole_response_and_error(tmp_path: Path) -> None:
    addon = Capture()
    with addon_context(addon) as tctx:
        _configure(tctx, addon, tmp_path)
        f = _flow("/json/429", host="example.com")
        addon.request(f)
        f.response = Response.make(
            429, b'{"error":"slow"}', {"content-type": "application/json", "retry-after": "2"}
        )
        f.response.reason = "Too Many Requests"
        addon.responseheaders(f)
        assert not f.response.stream
        addon.response(f)
        g = _flow()
        addon.request(g)
        g.error = tflow.terr("Client disconnected.")
        addon.error(g)
    _, entries = read_entries(tmp_path / "unit.cbor")
    resp = entries[1]
    assert resp["data"].startswith(b"HTTP/1.1 429 Too Many Requests\r\n") and resp["data"].endswith(
        b'{"error":"slow"}'
    )
    assert resp["meta"]["ra"] == 2.0 and resp["meta"]["sc"] == 429 and resp["meta"]["lat"] >= 0
    eos = entries[3]["meta"]
    assert eos["eos"] and eos["eos_sig"] == "client_termination" and eos["eos_err_cls"] == "transport_error"


def test_progress_is_rewritten_at_most_every_interval_and_once_at_the_end(tmp_path: Path) -> None:
    """A burst of requests writes progress.json once, the rest of the burst lands one interval
    later (a timer on the event loop), and shutdown writes the final counts; the HTTP errors are
    counted from the statuses (summary.json's `http_errors` too)."""
    progress = tmp_path / "progress.json"

    def calls() -> int:
        return int(orjson.loads(progress.read_bytes())["calls"])

    async def scenario() -> None:
        addon = Capture()
        with addon_context(addon) as tctx:
            _configure(tctx, addon, tmp_path)
            for _ in range(20):
                addon.request(_flow())
            assert calls() == 1  # at once; the other 19 wait for the interval
            await asyncio.sleep(PROGRESS_INTERVAL + 0.2)
            assert calls() == 20  # written by the timer
            await asyncio.sleep(PROGRESS_INTERVAL + 0.2)
            f = _flow("/json/500", host="example.com")
            addon.request(f)
            f.response = Response.make(500, b"{}", {"content-type": "application/json"})
            addon.responseheaders(f)
            addon.response(f)
            assert calls() == 21  # the interval had passed: written at once
            addon.request(_flow())
            addon.done()
        assert orjson.loads(progress.read_bytes())["calls"] == 22 and calls() == 22
        assert orjson.loads(progress.read_bytes())["errors"] == 1
        assert orjson.loads((tmp_path / "summary.json").read_bytes())["counts"]["http_errors"] == 1
        assert not list(tmp_path.glob(".*.tmp"))

    asyncio.run(scenario())


def test_filter_and_hosts(tmp_path: Path) -> None:
    addon = Capture()
    with addon_context(addon) as tctx:
        _configure(tctx, addon, tmp_path, fastcap_hosts=["*.anthropic.com"])
        addon.request(_flow(host="api.anthropic.com"))
        addon.request(_flow(host="example.org"))
        tctx.configure(addon, fastcap_hosts=[], fastcap_filter="~u /keep", fastcap_session="unit2")
        addon.request(_flow("/keep"))
        addon.request(_flow("/drop"))
    assert len(read_entries(tmp_path / "unit.cbor")[1]) == 1
    _, e2 = read_entries(tmp_path / "unit2.cbor")
    assert len(e2) == 1 and b"/keep" in e2[0]["data"]


def test_websocket_frames(tmp_path: Path) -> None:
    addon = Capture()
    with addon_context(addon) as tctx:
        _configure(tctx, addon, tmp_path, fastcap_format="both")
        f = tflow.twebsocketflow()
        addon.request(f)
        addon.response(f)
        for i in range(len(f.websocket.messages)):
            msgs = f.websocket.messages
            f.websocket.messages = msgs[: i + 1]
            addon.websocket_message(f)
            f.websocket.messages = msgs
        addon.websocket_end(f)
    _, entries = read_entries(tmp_path / "unit.cbor")
    frames = [e for e in entries if e["meta"].get("event") == "frame"]
    assert len(frames) == len(f.websocket.messages)
    for e, m in zip(frames, f.websocket.messages, strict=True):
        assert e["dir"] == (2 if m.from_client else 3)
        assert e["meta"]["transport"] == "websocket"
        assert e["meta"]["ws_message_type"] == ("text" if m.is_text else "binary")
        assert e["data"] == m.content
    assert entries[-1]["meta"]["eos"]
    line = orjson.loads((tmp_path / "traffic.jsonl").read_bytes())
    assert len(line["fastcap"]["websocket"]) == len(frames)


def test_write_failure_stops_and_kills(tmp_path: Path) -> None:
    addon = Capture()
    addon.exit_on_failure = False  # in the proxy the process exits (tests/capture/test_capture_faults.py)
    with addon_context(addon) as tctx:
        _configure(tctx, addon, tmp_path)
        import os

        assert addon._cbor_fd is not None
        os.close(addon._cbor_fd)  # every later write fails with EBADF
        f = _flow()
        addon.request(f)
        assert addon.failed is not None
        g = _flow()
        addon.requestheaders(g)
        assert g.error is not None  # killed: no traffic passes unrecorded
        addon._cbor_fd = None


def test_odd_traffic_does_not_raise(tmp_path: Path) -> None:
    addon = Capture()
    with addon_context(addon) as tctx:
        _configure(tctx, addon, tmp_path)
        f = _flow()
        f.request.content = b"\xff\xfe not json"
        f.request.headers["content-encoding"] = "gzip"  # lies: not gzip
        addon.request(f)
        f.response = Response.make(
            200, b"\x00\x01", {"content-type": "application/octet-stream", "content-encoding": "br"}
        )
        addon.responseheaders(f)
        addon.response(f)
        addon.error(tflow.tflow())  # never seen: ignored
    assert len(read_entries(tmp_path / "unit.cbor")[1]) == 2
