"""Codex over WebSocket end to end: a client plays Codex's side of `tests/data/websocket/`'s session
through a real mitmdump with the fastcap addon, against a WebSocket server that plays the Responses
API's side with permessage-deflate on; the capture gives one call per request
(docs/specs/responses-websocket.md), timed by the messages' arrival at the proxy."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from fastcap.analysis.calls import CALLS_SCHEMA
from fastcap.analysis.exchanges import calls_from_exchanges
from fastcap.analysis.stream_cbor import calls_from_scan, scan
from fastcap.formats import read_exchanges
from helpers import responses_ws
from helpers.fakeupstream import server as fs
from helpers.fakeupstream.certs import make_self_signed
from helpers.fakeupstream.mitm import Mitmdump, read_entries

pytestmark = pytest.mark.e2e

FIXTURE = "codex_cli_session.json"
PATH = "/backend-api/codex/responses"
SESSION = "019a0000-0000-7000-8000-00000000c0de"
FINISH = ("response.completed", "response.failed", "response.incomplete", "error")


@dataclass
class ResponsesServer:
    """A TLS WebSocket server replaying the fixture's server messages, turn by turn, with the
    fixture's delays; permessage-deflate is negotiated when the client offers it (websockets'
    default), so every message crosses the upstream leg compressed."""

    directory: Path
    turns: list[responses_ws.Turn]
    port: int = 0
    received: list[Any] = field(default_factory=list)
    extensions: list[str] = field(default_factory=list)
    handshake: dict[str, str] = field(default_factory=dict)

    def __enter__(self) -> ResponsesServer:
        from websockets.sync.server import ServerConnection, serve

        cert, key = make_self_signed(self.directory)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        pending = list(self.turns)

        def handler(ws: ServerConnection) -> None:
            self.extensions += [e.name for e in ws.protocol.extensions]
            if ws.request is not None:
                self.handshake.update({k.lower(): v for k, v in ws.request.headers.raw_items()})
            for raw in ws:
                msg = orjson.loads(raw)
                self.received.append(msg)
                if msg.get("type") in responses_ws.CREATE_TYPES and pending:
                    for delay, answer in pending.pop(0).answer:
                        time.sleep(delay)
                        ws.send(orjson.dumps(answer).decode())

        self._server = serve(handler, "127.0.0.1", 0, ssl=ctx, compression="deflate")
        self.port = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join(10)


@dataclass
class Played:
    sent: list[bytes] = field(default_factory=list)
    got: list[Any] = field(default_factory=list)
    extensions: list[str] = field(default_factory=list)


def _play_codex(proxy: Mitmdump, port: int, turns: list[responses_ws.Turn]) -> Played:
    """Codex's side: one connection, each create answered to its end before the next; in a daemon
    thread so that a stuck handshake fails the test instead of hanging it."""
    from websockets.sync.client import connect

    ctx = ssl.create_default_context(cafile=str(proxy.ca))
    played, outcome = Played(), {}

    def run() -> None:
        try:
            with connect(
                f"wss://127.0.0.1:{port}{PATH}",
                ssl=ctx,
                proxy=proxy.proxy,
                compression="deflate",
                additional_headers={
                    "session_id": SESSION,
                    "originator": "codex_cli_rs",
                    "OpenAI-Beta": "responses_websockets=2026-02-06",
                    "Authorization": f"Bearer {fs.OPENAI_KEY}",
                },
                open_timeout=15,
            ) as ws:
                played.extensions = [e.name for e in ws.protocol.extensions]
                for turn in turns:
                    data = responses_ws.message_bytes(turn.create)
                    ws.send(data.decode())
                    played.sent.append(data)
                    while True:
                        got = orjson.loads(ws.recv(timeout=10))
                        played.got.append(got)
                        if got.get("type") in FINISH:
                            break
                    for ack in turn.after:
                        data = responses_ws.message_bytes(ack)
                        ws.send(data.decode())
                        played.sent.append(data)
                    time.sleep(0.05)
            outcome["ok"] = True
        except Exception as e:  # reported by the assertion below
            outcome["error"] = e

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(90)
    assert outcome.get("ok"), f"the WebSocket session through the proxy failed: {outcome.get('error')!r}"
    return played


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Played, ResponsesServer]]:
    root = tmp_path_factory.mktemp("ws")
    for d in ("conf", "out", "up"):
        (root / d).mkdir()
    turns = responses_ws.turns(FIXTURE)
    flows = root / "out" / "flows.mitm"
    with (
        ResponsesServer(root / "up", turns) as server,
        Mitmdump(root / "conf", root / "out", session="ws", sets={"save_stream_file": str(flows)}) as proxy,
    ):
        played = _play_codex(proxy, server.port, turns)
        time.sleep(0.3)  # the close handshake reaches websocket_end
    yield root / "out", played, server


def test_permessage_deflate_on_both_legs_and_messages_unchanged(
    session: tuple[Path, Played, ResponsesServer],
) -> None:
    out, played, server = session
    assert played.extensions == ["permessage-deflate"]  # client <-> mitmproxy
    assert server.extensions == ["permessage-deflate"]  # mitmproxy <-> upstream
    assert server.handshake["session_id"] == SESSION
    fixture = responses_ws.load(FIXTURE)["messages"]
    assert server.received == [m["json"] for m in fixture if m["from_client"]]
    assert played.got == [m["json"] for m in fixture if not m["from_client"]]
    # The capture holds each message as sent, decompressed, once.
    [ex] = [e for e in read_exchanges(out / "ws.cbor") if e.websocket is not None]
    assert [m.data for m in ex.websocket or [] if m.from_client] == played.sent
    assert [orjson.loads(m.data) for m in ex.websocket or [] if not m.from_client] == played.got
    assert all(fs.OPENAI_KEY.encode() not in e["data"] for e in read_entries(out / "ws.cbor")[1])


@pytest.mark.parametrize("capture", ["ws.cbor", "flows.mitm"])
def test_each_request_is_a_call(session: tuple[Path, Played, ResponsesServer], capture: str) -> None:
    """The fastcap capture and mitmproxy's own flow file give the same calls."""
    out, _, _ = session
    calls = calls_from_exchanges(read_exchanges(out / capture))
    assert calls.height == 4
    assert set(calls["api_name"]) == {"ChatGPT.CodexResponses"} and set(calls["response_kind"]) == {
        "websocket"
    }
    assert calls["is_model_call"].to_list() == [False, True, True, True]  # the prewarm first
    assert calls["status"].to_list() == [101, 101, 101, 429]
    assert calls["issue_class"].to_list() == [None, None, None, "rate_limit"]
    assert calls["chunks"].to_list() == [2, 15, 10, 1]
    assert calls["tool_calls"].to_list() == [[], ["shell"], [], []]
    assert calls["text_chars"].to_list() == [0, 0, len("src/ holds main.rs and lib.rs."), 0]
    assert calls["reasoning_chars"].to_list()[1] == len("**Listing files**\n\nI'll run ls on src.")
    assert calls.select("input_total", "cache_read", "output_total").row(1) == (2342, 2304, 61)
    assert set(calls["conversation_id"]) == {SESSION}
    assert set(calls["model"]) == {"gpt-5.2-codex"}
    # Timed at the proxy: the server waited 0.18 s before its first message of turn 1 and 0.655 s
    # before the first reasoning delta; the proxy adds a little, never takes away.
    ttfb, ttft = calls["ttfb_s"].to_list()[1], calls["ttft_s"].to_list()[1]
    assert 0.17 <= ttfb < 0.18 + 1.0 and 0.64 <= ttft < 0.655 + 1.0 and ttft > ttfb
    assert calls["ttft_s"].to_list()[0] is None  # a prewarm has no model output
    assert 0.53 <= calls["ttft_s"].to_list()[2] < 0.545 + 1.0
    assert calls.filter(pl.col("complete").not_())["status"].to_list() == [429]


def test_fastcap_analyze_splits_the_connection_too(session: tuple[Path, Played, ResponsesServer]) -> None:
    """`fastcap analyze` (the streaming pass over the CBOR capture) gives the same calls as the
    exchanges of the same capture: each request on the connection is a call."""
    out, _, _ = session
    streamed = calls_from_scan(*scan(out / "ws.cbor")[:2])
    full = calls_from_exchanges(read_exchanges(out / "ws.cbor"))
    assert streamed.height == full.height == 4
    floats = [c for c, t in CALLS_SCHEMA.items() if t == pl.Float64]
    assert streamed.drop(floats).to_dicts() == full.drop(floats).to_dicts()
    for c in floats:
        assert ((streamed[c] - full[c]).abs().fill_null(0) < 1e-6).all(), c


def test_per_call_report_files_split_the_connection_too(
    session: tuple[Path, Played, ResponsesServer], tmp_path: Path
) -> None:
    """`fastcap report` writes one per-call file per request on the connection, numbered as the
    calls table counts them."""
    from fastcap.cli import main

    out, _, _ = session
    assert main(["report", str(out / "ws.cbor"), "--out", str(tmp_path / "r"), "--style", "calls"]) == 0
    files = sorted(p.name for p in (tmp_path / "r").glob("0*_*.md"))
    assert len(files) == calls_from_exchanges(read_exchanges(out / "ws.cbor")).height == 4, files


def test_jsonl_keeps_the_connection(session: tuple[Path, Played, ResponsesServer], tmp_path: Path) -> None:
    """CBOR -> traffic.jsonl keeps every WebSocket message with its arrival time, so the JSONL gives
    the same calls (the reader used to drop the messages the addon writes)."""
    from fastcap.cli import main

    out, _, _ = session
    jsonl = tmp_path / "ws.jsonl"
    assert main(["convert", str(out / "ws.cbor"), str(jsonl)]) == 0
    a = calls_from_exchanges(read_exchanges(out / "ws.cbor"))
    b = calls_from_exchanges(read_exchanges(jsonl))
    cols = [
        "status",
        "model",
        "text_chars",
        "reasoning_chars",
        "tool_calls",
        "input_total",
        "output_total",
        "chunks",
    ]
    assert b.height == 4 and b.select(cols).to_dicts() == a.select(cols).to_dicts()
    assert b["ttft_s"].to_list() == a["ttft_s"].to_list()
