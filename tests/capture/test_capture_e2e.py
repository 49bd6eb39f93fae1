"""End to end through a real mitmdump (venv) with the fastcap addon, against the local fake upstream."""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastcap.secrets.leakscan import scan_paths
from helpers.fakeupstream import FakeUpstream, eventstream
from helpers.fakeupstream import server as fs
from helpers.fakeupstream.mitm import Mitmdump, entries_for, read_entries

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeUpstream]:
    with FakeUpstream(tmp_path_factory.mktemp("upstream")) as up:
        yield up


@pytest.fixture(scope="module")
def forward(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mitmdump]:
    root = tmp_path_factory.mktemp("fwd")
    (root / "conf").mkdir()
    (root / "out").mkdir()
    m = Mitmdump(root / "conf", root / "out", session="fwd", sets={"fastcap_format": "both"})
    with m:
        yield m


def _client(m: Mitmdump) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=str(m.ca))
    return httpx.Client(proxy=m.proxy, verify=ctx, timeout=30)


def _stream(c: httpx.Client, method: str, url: str, **kw: Any) -> tuple[int, list[bytes], float, float]:
    """Status, raw chunks, client-measured TTFB (s) and send time."""
    tag = kw.pop("tag")
    headers = {"x-test-id": tag, **kw.pop("headers", {})}
    t0 = time.time()
    with c.stream(method, url, headers=headers, **kw) as r:
        chunks: list[bytes] = []
        first = None
        for chunk in r.iter_raw():
            if first is None:
                first = time.time()
            chunks.append(chunk)
        return r.status_code, chunks, (first or time.time()) - t0, t0


def _entries(m: Mitmdump) -> list[dict[str, Any]]:
    return read_entries(m.out / "fwd.cbor")[1] if m.out else []


def _wait_for(m: Mitmdump, tag: str, kind: str = "eos", timeout: float = 5.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = entries_for(_entries(m), f"x-test-id: {tag}".encode())
            if any(e["meta"].get(kind) for e in got) or time.monotonic() > deadline:
                return got
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("path", "events", "body"),
    [
        ("/v1/messages", fs.anthropic_events, {"model": "claude-sonnet-4-5", "stream": True}),
        ("/v1/responses", fs.responses_events, {"model": "o4-mini", "stream": True}),
        ("/v1/chat/completions", fs.chat_events, {"model": "gpt-4o-mini", "stream": True}),
        (
            "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse&key=" + fs.GOOGLE_KEY,
            fs.gemini_events,
            {"contents": []},
        ),
        (
            "/generateAssistantResponse",
            fs.kiro_events,
            {"conversationState": {"currentMessage": {"userInputMessage": {"modelId": "claude-kiro"}}}},
        ),
        ("/gzip", fs.gzip_events, {"model": "gpt-4o-mini"}),
    ],
)
def test_stream_bytes_chunks_and_ttft(
    forward: Mitmdump, upstream: FakeUpstream, path: str, events: Any, body: Any
) -> None:
    tag = uuid.uuid4().hex
    with _client(forward) as c:
        c.get(upstream.url + "/json/200")  # warm the connection: TTFB below excludes CONNECT + TLS
        status, chunks, ttfb, _ = _stream(
            c,
            "POST",
            upstream.url + path,
            tag=tag,
            json=body,
            headers={"authorization": f"Bearer {fs.OPENAI_KEY}", "x-api-key": fs.ANTHROPIC_KEY},
        )
    expected = events()
    assert status == 200
    assert b"".join(chunks) == b"".join(expected)  # the client got the exact bytes
    got = _wait_for(forward, tag)
    req = got[0]
    assert req["dir"] == 2 and req["meta"]["event"] == "request"
    assert fs.OPENAI_KEY.encode() not in req["data"] and fs.ANTHROPIC_KEY.encode() not in req["data"]
    assert fs.GOOGLE_KEY not in req["meta"]["url"]
    payload = [e for e in got if e["dir"] == 3 and e["data"]]
    assert [e["meta"]["ci"] for e in payload] == list(range(1, len(payload) + 1))
    assert b"".join(e["data"] for e in payload) == b"".join(expected)  # byte-identical (still gzip for /gzip)
    assert [e["data"] for e in payload] == expected  # one chunk per server write, in order
    se = next(e for e in got if e["meta"].get("se"))
    assert se["meta"]["tc"] == len(expected) and se["meta"]["tb"] == sum(map(len, expected))
    ttfb_capture = payload[0]["meta"]["ttfb"] / 1000
    # The proxy's TTFB is within 15 ms of the client's on a quiet machine; scheduling on a loaded
    # 2-core runner adds tens of ms to either side, so the bound carries a margin for it.
    assert abs(ttfb_capture - ttfb) < 0.05, (ttfb_capture, ttfb)
    assert ttfb_capture >= fs.FIRST_DELAY * 0.9
    if path == "/generateAssistantResponse":
        frames = eventstream.decode_frames(b"".join(e["data"] for e in payload))
        assert next(h[":event-type"] for h, _ in frames) == "assistantResponseEvent"
        assert req["meta"]["mod"] == "claude-kiro" and req["meta"]["be"] == "kiro"
    if path.startswith("/v1beta"):
        assert req["meta"]["be"] == "gemini" and req["meta"]["mod"] == "gemini-2.5-pro"


@pytest.mark.parametrize("code", [403, 429, 529])
def test_json_errors_recorded_whole(forward: Mitmdump, upstream: FakeUpstream, code: int) -> None:
    tag = uuid.uuid4().hex
    with _client(forward) as c:
        r = c.get(f"{upstream.url}/json/{code}", headers={"x-test-id": tag})
    assert r.status_code == code
    got = _wait_for(forward, tag, kind="http_status")
    resp = next(e for e in got if e["dir"] == 3)
    assert resp["meta"]["http_status"] == code and resp["meta"]["sc"] == code
    assert resp["data"].endswith(fs.JSON_ERRORS[code]) and resp["data"].startswith(
        f"HTTP/1.1 {code} ".encode()
    )
    if code == 429:
        assert resp["meta"]["ra"] == 2.0


def test_cut_stream_recorded_as_error(forward: Mitmdump, upstream: FakeUpstream) -> None:
    tag = uuid.uuid4().hex
    with _client(forward) as c, pytest.raises(httpx.HTTPError):
        _stream(c, "POST", upstream.url + "/cut", tag=tag, json={})
    got = _wait_for(forward, tag)
    payload = [e for e in got if e["dir"] == 3 and e["data"]]
    assert b"".join(e["data"] for e in payload) == b"".join(fs.anthropic_events()[:3])
    eos = next(e for e in got if e["meta"].get("eos"))
    assert eos["meta"]["eos_term"] == "error" and eos["meta"]["eos_err_cls"] == "transport_error"
    assert any(e["meta"].get("se") for e in got)


def test_long_pause_keeps_streaming(forward: Mitmdump, upstream: FakeUpstream) -> None:
    tag = uuid.uuid4().hex
    arrivals: list[float] = []
    with (
        _client(forward) as c,
        c.stream("POST", upstream.url + "/pause?pause=1.0", headers={"x-test-id": tag}, json={}) as r,
    ):
        for _ in r.iter_raw():
            arrivals.append(time.time())
    assert len(arrivals) == 3
    assert arrivals[2] - arrivals[1] > 0.9  # the client saw the first events before the pause
    got = _wait_for(forward, tag)
    times = [e["ts"] for e in got if e["dir"] == 3 and e["data"]]
    assert times[2] - times[1] > 0.9
    assert abs(times[0] - arrivals[0]) < 0.015


def test_oauth_bodies_redacted_and_no_leaks(forward: Mitmdump, upstream: FakeUpstream) -> None:
    tag = uuid.uuid4().hex
    with _client(forward) as c:
        r = c.post(
            upstream.url + "/oauth/token",
            headers={"x-test-id": tag},
            data={"grant_type": "refresh_token", "refresh_token": fs.OAUTH_REFRESH},
        )
    assert r.json()["access_token"] == fs.OAUTH_ACCESS  # the client sees the real body
    _wait_for(forward, tag, kind="http_status")
    assert forward.out is not None
    findings = [f for f in scan_paths([forward.out]) if not f.path.endswith(".log")]
    assert findings == [], findings
    blob = b"".join(p.read_bytes() for p in forward.out.iterdir() if p.suffix in (".jsonl", ".cbor"))
    # raw bytes of uncompressed entries and JSONL: no fake secret anywhere
    for secret in fs.ALL_FAKE_SECRETS:
        assert secret.encode() not in blob


def _websocket_exchange(forward: Mitmdump, upstream: FakeUpstream) -> tuple[str, str, bytes]:
    """One text message out, a text and a binary message back, through the proxy. Runs in a
    daemon thread, retried once on a handshake timeout: in a clean-clone CI run the first
    WebSocket handshake through a freshly started mitmdump once timed out, and the websockets
    client then hung joining its receive thread until pytest-timeout, 300 s later."""
    from websockets.sync.client import connect

    ctx = ssl.create_default_context(cafile=str(forward.ca))
    outcome: dict[str, Any] = {}

    def attempt() -> None:
        for _ in range(2):
            tag = uuid.uuid4().hex
            try:
                with connect(
                    f"wss://127.0.0.1:{upstream.port}/ws",
                    ssl=ctx,
                    proxy=forward.proxy,
                    additional_headers={"x-test-id": tag},
                    open_timeout=15,
                ) as ws:
                    ws.send('{"type":"response.create","n":1}')
                    outcome["result"] = (tag, ws.recv(timeout=5), ws.recv(timeout=5))
                    return
            except TimeoutError as e:
                outcome["error"] = e

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(60)
    assert "result" in outcome, f"no WebSocket exchange through the proxy: {outcome.get('error')!r}"
    tag, text, binary = outcome["result"]
    return tag, text, binary


def test_websocket_frames(forward: Mitmdump, upstream: FakeUpstream) -> None:
    tag, text, binary = _websocket_exchange(forward, upstream)
    assert orjson.loads(text)["echo"] and binary == b"\x00\x01bin\xff"
    got = _wait_for(forward, tag)
    frames = [e for e in got if e["meta"].get("event") == "frame"]
    assert [(e["dir"], e["meta"]["ws_message_type"]) for e in frames] == [
        (2, "text"),
        (3, "text"),
        (3, "binary"),
    ]
    assert frames[0]["data"] == b'{"type":"response.create","n":1}' and frames[2]["data"] == binary
    assert all(e["meta"]["transport"] == "websocket" for e in frames)


def test_fifty_concurrent_streams(forward: Mitmdump, upstream: FakeUpstream) -> None:
    tags = [uuid.uuid4().hex for _ in range(50)]
    expected = b"".join(fs.generic_events(20, 200))
    ctx = ssl.create_default_context(cafile=str(forward.ca))

    async def one(client: httpx.AsyncClient, tag: str) -> bytes:
        async with client.stream(
            "GET", f"{upstream.url}/stream?n=20&size=200&delay=0.01&first=0.05", headers={"x-test-id": tag}
        ) as r:
            return b"".join([c async for c in r.aiter_raw()])

    async def main() -> list[bytes]:
        limits = httpx.Limits(max_connections=60)
        async with httpx.AsyncClient(proxy=forward.proxy, verify=ctx, timeout=60, limits=limits) as client:
            return await asyncio.gather(*(one(client, t) for t in tags))

    bodies = asyncio.run(main())
    assert all(b == expected for b in bodies)
    entries = _entries(forward)
    deadline = time.monotonic() + 10
    while sum(1 for e in entries if e["meta"].get("eos")) < 50 and time.monotonic() < deadline:
        time.sleep(0.1)
        entries = _entries(forward)
    for tag in tags:
        got = entries_for(entries, f"x-test-id: {tag}".encode())
        payload = sorted((e for e in got if e["dir"] == 3 and e["data"]), key=lambda e: e["meta"]["ci"])
        assert b"".join(e["data"] for e in payload) == expected
        se = next(e for e in got if e["meta"].get("se"))
        assert se["meta"]["tb"] == len(expected) and se["meta"]["tc"] == len(payload)
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    lines = (forward.out / "traffic.jsonl").read_bytes().splitlines() if forward.out else []
    assert all(orjson.loads(line) for line in lines)  # no interleaved / torn JSONL lines


def test_reverse_mode(tmp_path: Path, upstream: FakeUpstream) -> None:
    (tmp_path / "conf").mkdir()
    m = Mitmdump(tmp_path / "conf", tmp_path, mode=f"reverse:{upstream.url}/", session="rev")
    with m, httpx.Client(base_url=f"http://127.0.0.1:{m.port}", timeout=30) as c:
        r = c.post(
            "/v1/messages",
            json={"model": "claude-sonnet-4-5"},
            headers={"x-api-key": fs.ANTHROPIC_KEY, "x-test-id": "rev1"},
        )
        assert r.content == b"".join(fs.anthropic_events())
    _, entries = read_entries(tmp_path / "rev.cbor")
    got = entries_for(entries, b"x-test-id: rev1")
    assert got[0]["meta"]["url"].startswith(upstream.url)
    assert b"".join(e["data"] for e in got if e["dir"] == 3 and e["data"]) == r.content
    assert fs.ANTHROPIC_KEY.encode() not in got[0]["data"]
    assert (tmp_path / "summary.json").exists()  # clean shutdown ran done()


def test_kill9_mid_stream_leaves_readable_file(tmp_path: Path, upstream: FakeUpstream) -> None:
    (tmp_path / "conf").mkdir()
    m = Mitmdump(tmp_path / "conf", tmp_path, session="k9").start()
    ctx = ssl.create_default_context(cafile=str(m.ca))
    seen = threading.Event()

    def client() -> None:
        try:
            with (
                httpx.Client(proxy=m.proxy, verify=ctx, timeout=30) as c,
                c.stream(
                    "GET", f"{upstream.url}/stream?n=200&delay=0.01&first=0.01", headers={"x-test-id": "k9"}
                ) as r,
            ):
                for i, _ in enumerate(r.iter_raw()):
                    if i == 20:
                        seen.set()
        except httpx.HTTPError:
            pass

    t = threading.Thread(target=client)
    t.start()
    assert seen.wait(10)
    m.kill9()
    t.join(10)
    data = (tmp_path / "k9.cbor").read_bytes()
    header, entries = read_entries(tmp_path / "k9.cbor")
    assert header["magic"] == "LLMPROXY-CAPTURE-V2"
    import cbor2
    from fastcap.formats.capture_file import read_capture

    # fastcap's own reader: every record complete, no truncated tail, the same entries.
    result = read_capture(tmp_path / "k9.cbor", warn=False)
    assert result.diagnostics == [] and result.entries.height == len(entries)
    chunks = [e for e in entries if e["dir"] == 3 and e["data"]]
    assert len(chunks) >= 20
    # complete records only: decoding consumed the whole file
    import io

    buf = io.BytesIO(data)
    cbor2.load(buf)
    n = 0
    while buf.tell() < len(data):
        cbor2.load(buf)
        n += 1
    assert n == len(entries)
    import fastcap

    assert len(fastcap.read_cbor(str(tmp_path / "k9.cbor"))) == len(entries)
