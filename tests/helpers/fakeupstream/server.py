"""The fake upstream: a raw asyncio HTTPS/1.1 server with exact control of chunks and timing.

Every streamed response is written as HTTP/1.1 chunked transfer encoding, one chunk per event with
`delay` seconds before it, so tests know the exact bytes (and, with enough spacing, the chunk
boundaries) that crossed the proxy. Endpoints:

| path | response |
|---|---|
| POST /v1/messages | Anthropic SSE: thinking, text, tool_use |
| POST /v1/responses | OpenAI Responses SSE |
| POST /v1/chat/completions | OpenAI Chat SSE ending with `data: [DONE]` |
| POST /v1beta/models/<m>:streamGenerateContent | Gemini SSE with CRLF line endings |
| POST /generateAssistantResponse | kiro EventStream (`application/vnd.amazon.eventstream`) |
| GET /json/<code> | JSON error (403/429/529, 200) with Content-Length; 429 has Retry-After |
| POST /oauth/token | JSON with access/refresh tokens (redaction of bodies) |
| POST /cut | SSE cut after two events (connection closed without the last chunk) |
| POST /pause | SSE with a long pause between events |
| POST /gzip | gzip-encoded SSE, flushed per event |
| GET /stream?n=&delay=&size= | generic SSE stream for load tests and benchmarks |
| GET /stamped?n=&delay=&size= | SSE events carrying the server's send time (benchmarks) |
| GET /ws | WebSocket: answers each message with a text and a binary message |
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import orjson
import wsproto
import wsproto.events as wse

from . import eventstream
from .certs import make_self_signed

# Obviously fake credentials; a leak scan of any written file must not find them.
ANTHROPIC_KEY = "sk-ant-api03-FAKEFAKEFAKEFAKEFAKEFAKE0000"
OPENAI_KEY = "sk-proj-FAKEFAKEFAKEFAKEFAKEFAKE0000"
GOOGLE_KEY = "AIzaFAKEFAKEFAKEFAKEFAKEFAKEFAKEFAKE123"
KIRO_TOKEN = "aoaFAKEFAKEFAKEFAKEFAKEFAKEFAKE0000"
OAUTH_ACCESS = "ya29.FAKEFAKEFAKEFAKEFAKEFAKE0000"
OAUTH_REFRESH = "1//0FAKEFAKEFAKEFAKEFAKEFAKE0000"
ALL_FAKE_SECRETS = (ANTHROPIC_KEY, OPENAI_KEY, GOOGLE_KEY, KIRO_TOKEN, OAUTH_ACCESS, OAUTH_REFRESH)

FIRST_DELAY = 0.15  # seconds before the first event: a measurable TTFT
GAP = 0.02  # between events: keeps chunk boundaries intact through the proxy


def _sse(event: str | None, data: dict[str, object] | str, eol: bytes = b"\n") -> bytes:
    payload = data if isinstance(data, str) else orjson.dumps(data).decode()
    out = b""
    if event:
        out += b"event: " + event.encode() + eol
    return out + b"data: " + payload.encode() + eol + eol


def anthropic_events() -> list[bytes]:
    e = _sse
    return [
        e(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_fake1",
                    "model": "claude-sonnet-4-5",
                    "usage": {"input_tokens": 12, "output_tokens": 1},
                },
            },
        ),
        e(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "thinking", "thinking": ""},
            },
        ),
        e(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "thinking_delta", "thinking": "Let me think."},
            },
        ),
        e(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "signature_delta", "signature": "c2lnbmF0dXJl"},
            },
        ),
        e("content_block_stop", {"type": "content_block_stop", "index": 0}),
        e(
            "content_block_start",
            {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        ),
        e(
            "content_block_delta",
            {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Héllo ✓"}},
        ),
        e("content_block_stop", {"type": "content_block_stop", "index": 1}),
        e(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 2,
                "content_block": {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {}},
            },
        ),
        e(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 2,
                "delta": {"type": "input_json_delta", "partial_json": '{"path": "a.py"}'},
            },
        ),
        e("content_block_stop", {"type": "content_block_stop", "index": 2}),
        e(
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 42}},
        ),
        e("message_stop", {"type": "message_stop"}),
    ]


def responses_events() -> list[bytes]:
    e = _sse
    return [
        e("response.created", {"type": "response.created", "response": {"id": "resp_1", "model": "o4-mini"}}),
        e(
            "response.output_item.added",
            {
                "type": "response.output_item.added",
                "item": {"type": "function_call", "call_id": "call_1", "name": "shell"},
            },
        ),
        e(
            "response.function_call_arguments.delta",
            {"type": "response.function_call_arguments.delta", "delta": '{"cmd":"ls"}'},
        ),
        e("response.output_text.delta", {"type": "response.output_text.delta", "delta": "Here's"}),
        e(
            "response.completed",
            {
                "type": "response.completed",
                "response": {
                    "id": "resp_1",
                    "usage": {"input_tokens": 5, "output_tokens": 7, "total_tokens": 12},
                },
            },
        ),
    ]


def chat_events() -> list[bytes]:
    e = _sse
    return [
        e(None, {"id": "chatcmpl-1", "choices": [{"delta": {"role": "assistant", "content": "Hel"}}]}),
        e(None, {"id": "chatcmpl-1", "choices": [{"delta": {"content": "lo"}, "finish_reason": "stop"}]}),
        e(None, "[DONE]"),
    ]


def gemini_events() -> list[bytes]:
    return [
        _sse(None, {"candidates": [{"content": {"parts": [{"text": "Hi"}], "role": "model"}}]}, eol=b"\r\n"),
        _sse(
            None,
            {
                "candidates": [{"content": {"parts": [{"text": " there"}]}, "finishReason": "STOP"}],
                "usageMetadata": {"promptTokenCount": 3},
            },
            eol=b"\r\n",
        ),
    ]


def kiro_events() -> list[bytes]:
    ev = eventstream.event
    return [
        ev("assistantResponseEvent", b'{"content":"Hello"}'),
        ev("toolUseEvent", b'{"name":"fs_read","toolUseId":"tooluse_1","input":"{\\"path\\":","stop":false}'),
        ev("toolUseEvent", b'{"name":"fs_read","toolUseId":"tooluse_1","input":"\\"a\\"}","stop":true}'),
        ev("contextUsageEvent", b'{"contextUsagePercentage":12.5}'),
    ]


def gzip_events() -> list[bytes]:
    comp = zlib.compressobj(wbits=31)
    out = []
    for ev in chat_events():
        out.append(comp.compress(ev) + comp.flush(zlib.Z_SYNC_FLUSH))
    out.append(comp.flush())
    return out


def generic_events(n: int, size: int) -> list[bytes]:
    pad = "x" * max(0, size - 40)
    return [_sse(None, {"i": i, "p": pad}) for i in range(n)]


STREAMS: dict[str, tuple[str, Callable[[], list[bytes]]]] = {
    "/v1/messages": ("text/event-stream; charset=utf-8", anthropic_events),
    "/v1/responses": ("text/event-stream", responses_events),
    "/v1/chat/completions": ("text/event-stream", chat_events),
    "/generateAssistantResponse": ("application/vnd.amazon.eventstream", kiro_events),
    "/gzip": ("text/event-stream", gzip_events),
}

JSON_ERRORS = {
    200: b'{"ok":true}',
    403: b'{"__type":"AccessDeniedException","message":"forbidden"}',
    429: b'{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}',
    529: b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
}
REASONS = {200: "OK", 403: "Forbidden", 429: "Too Many Requests", 529: "Site Overloaded"}


@dataclass
class Received:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class FakeUpstream:
    directory: Path
    port: int = 0
    received: list[Received] = field(default_factory=list)
    first_delay: float = FIRST_DELAY
    gap: float = GAP

    def __post_init__(self) -> None:
        self.cert, self.key = make_self_signed(self.directory)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> FakeUpstream:
        self._thread.start()
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.cert, self.key)
        ctx.set_alpn_protocols(["http/1.1"])

        async def start() -> None:
            self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0, ssl=ctx)
            self.port = self._server.sockets[0].getsockname()[1]

        asyncio.run_coroutine_threadsafe(start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ protocol
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            import socket

            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = [
                    (k.strip(), v.strip()) for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)
                ]
                hmap = {k.lower(): v for k, v in headers}
                body = b""
                if "content-length" in hmap:
                    body = await reader.readexactly(int(hmap["content-length"]))
                elif "chunked" in hmap.get("transfer-encoding", ""):
                    body = await self._read_chunked(reader)
                self.received.append(Received(method, target, headers, body))
                keep = await self._route(method, target, hmap, reader, writer, head)
                if not keep:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, asyncio.LimitOverrunError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    @staticmethod
    async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
        out = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return out
            out += await reader.readexactly(size + 2)
            out = out[:-2]

    async def _stream(
        self,
        writer: asyncio.StreamWriter,
        ctype: str,
        events: list[bytes],
        *,
        extra: str = "",
        cut_after: int | None = None,
        pause_at: int | None = None,
        pause: float = 0.0,
        delay: float | None = None,
        first_delay: float | None = None,
    ) -> bool:
        writer.write(
            (
                f"HTTP/1.1 200 OK\r\ncontent-type: {ctype}\r\ntransfer-encoding: chunked\r\n"
                f"cache-control: no-cache\r\n{extra}\r\n"
            ).encode()
        )
        await writer.drain()
        for i, ev in enumerate(events):
            if cut_after is not None and i == cut_after:
                writer.transport.abort()
                return False
            wait = (
                (self.first_delay if first_delay is None else first_delay)
                if i == 0
                else (self.gap if delay is None else delay)
            )
            if pause_at is not None and i == pause_at:
                wait = pause
            if wait:
                await asyncio.sleep(wait)
            writer.write(f"{len(ev):x}\r\n".encode() + ev + b"\r\n")
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async def _stamped(self, writer: asyncio.StreamWriter, n: int, delay: float, size: int) -> bool:
        """SSE whose events carry the server's send time (`t`), for latency benchmarks."""
        import time

        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        await writer.drain()
        pad = "x" * max(0, size - 60)
        for i in range(n):
            await asyncio.sleep(delay)
            ev = _sse(None, {"t": time.time(), "i": i, "p": pad})
            writer.write(f"{len(ev):x}\r\n".encode() + ev + b"\r\n")
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    async def _json(self, writer: asyncio.StreamWriter, code: int, body: bytes, extra: str = "") -> bool:
        writer.write(
            f"HTTP/1.1 {code} {REASONS.get(code, 'Status')}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n{extra}\r\n".encode()
            + body
        )
        await writer.drain()
        return True

    async def _route(
        self,
        method: str,
        target: str,
        hmap: dict[str, str],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        head: bytes,
    ) -> bool:
        parts = urlsplit(target)
        path = parts.path
        query = parse_qs(parts.query)
        if path in STREAMS:
            ctype, gen = STREAMS[path]
            extra = "content-encoding: gzip\r\n" if path == "/gzip" else ""
            return await self._stream(writer, ctype, gen(), extra=extra)
        if path.startswith("/v1beta/models/") and "streamGenerateContent" in path:
            return await self._stream(writer, "text/event-stream", gemini_events())
        if path.startswith("/json/"):
            code = int(path.rsplit("/", 1)[1])
            extra = "retry-after: 2\r\n" if code == 429 else ""
            return await self._json(writer, code, JSON_ERRORS.get(code, b"{}"), extra)
        if path == "/oauth/token":
            body = orjson.dumps(
                {
                    "access_token": OAUTH_ACCESS,
                    "refresh_token": OAUTH_REFRESH,
                    "expires_in": 3600,
                    "token_type": "Bearer",
                }
            )
            return await self._json(writer, 200, body, f"set-cookie: session={OAUTH_ACCESS}\r\n")
        if path == "/cut":
            return await self._stream(writer, "text/event-stream", anthropic_events(), cut_after=3)
        if path == "/pause":
            pause = float(query.get("pause", ["1.2"])[0])
            return await self._stream(writer, "text/event-stream", chat_events(), pause_at=2, pause=pause)
        if path == "/stream":
            n = int(query.get("n", ["20"])[0])
            size = int(query.get("size", ["100"])[0])
            delay = float(query.get("delay", [str(self.gap)])[0])
            first = float(query.get("first", [str(self.first_delay)])[0])
            return await self._stream(
                writer, "text/event-stream", generic_events(n, size), delay=delay, first_delay=first
            )
        if path == "/stamped":
            n = int(query.get("n", ["50"])[0])
            delay = float(query.get("delay", ["0.005"])[0])
            size = int(query.get("size", ["200"])[0])
            return await self._stamped(writer, n, delay, size)
        if path == "/ws":
            await self._websocket(reader, writer, head)
            return False
        return await self._json(writer, 404 if method != "HEAD" else 200, b'{"error":"not found"}')

    async def _websocket(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes
    ) -> None:
        conn = wsproto.WSConnection(wsproto.ConnectionType.SERVER)
        conn.receive_data(head)
        while True:
            for event in conn.events():
                if isinstance(event, wse.Request):
                    writer.write(conn.send(wse.AcceptConnection()))
                elif isinstance(event, wse.TextMessage):
                    reply = orjson.dumps({"type": "response.output_text.delta", "echo": event.data})
                    writer.write(conn.send(wse.TextMessage(data=reply.decode())))
                    writer.write(conn.send(wse.BytesMessage(data=b"\x00\x01bin\xff")))
                elif isinstance(event, wse.BytesMessage):
                    writer.write(conn.send(wse.BytesMessage(data=bytes(event.data))))
                elif isinstance(event, wse.CloseConnection):
                    writer.write(conn.send(event.response()))
                    await writer.drain()
                    return
                elif isinstance(event, wse.Ping):
                    writer.write(conn.send(event.response()))
            await writer.drain()
            data = await reader.read(65536)
            if not data:
                return
            conn.receive_data(data)
