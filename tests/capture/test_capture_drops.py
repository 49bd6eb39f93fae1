"""A capture must never change what the client receives (issue 13, "a rare dropped stream"): 1,020
streamed requests through real mitmdump processes with the fastcap addon, forward and reverse, from
three kinds of client, and every one gets the whole stream, byte for byte.

- raw socket: one HTTP/1.1 request per connection written by hand, `connection: close`, read to the
  end of the chunked body (in forward mode through `CONNECT` and TLS with the proxy's CA); the
  client of the original report;
- curl-like: `http.client`, a new connection per request, the body read as it arrives;
- SDK-like: `httpx` with a keep-alive pool and `iter_raw`, as the Anthropic and OpenAI SDKs use it.

Four clients of a kind run at once. Each stream has 8 events 2 ms apart, so every response crosses
the addon's streaming tee in several chunks. The capture must also have recorded every request.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastcap.capture import runner
from helpers.fakeupstream import FakeUpstream
from helpers.fakeupstream import server as fs
from helpers.fakeupstream.mitm import Mitmdump

pytestmark = [pytest.mark.e2e, pytest.mark.slow]  # about 50 s

PER_CLIENT = 170  # x 3 clients x 2 modes = 1,020 requests
CONCURRENCY = 4
EVENTS, SIZE = 8, 200
PATH = f"/stream?n={EVENTS}&size={SIZE}&delay=0.002&first=0.005"
EXPECTED = b"".join(fs.generic_events(EVENTS, SIZE))
BODY = b'{"model":"m","stream":true}'


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeUpstream]:
    with FakeUpstream(tmp_path_factory.mktemp("upstream")) as up:
        yield up


@pytest.fixture(scope="module", params=["forward", "reverse"])
def proxy(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream
) -> Iterator[Mitmdump]:
    root = tmp_path_factory.mktemp(request.param)
    (root / "conf").mkdir()
    (root / "out").mkdir()
    mode = f"reverse:{upstream.url}" if request.param == "reverse" else None
    with Mitmdump(root / "conf", root / "out", mode=mode, session=request.param) as m:
        yield m


def _dechunk(data: bytes) -> bytes:
    """The body of a chunked HTTP/1.1 message; raises if it is cut short."""
    out = bytearray()
    pos = 0
    while True:
        end = data.index(b"\r\n", pos)
        size = int(data[pos:end].split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        start = end + 2
        if len(data) < start + size + 2:
            raise ValueError("chunk cut short")
        out += data[start : start + size]
        pos = start + size + 2


def _raw(m: Mitmdump, upstream: FakeUpstream, forward: bool) -> bytes:
    host = f"127.0.0.1:{upstream.port}"
    sock: socket.socket = socket.create_connection(("127.0.0.1", m.port), timeout=30)
    try:
        if forward:
            sock.sendall(f"CONNECT {host} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            reply = b""
            while b"\r\n\r\n" not in reply:
                got = sock.recv(4096)
                if not got:
                    return b""
                reply += got
            assert reply.startswith(b"HTTP/1.1 200"), reply
            ctx = ssl.create_default_context(cafile=str(m.ca))
            sock = ctx.wrap_socket(sock, server_hostname="127.0.0.1")
        head = (
            f"POST {PATH} HTTP/1.1\r\nHost: {host}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(BODY)}\r\nconnection: close\r\n\r\n"
        ).encode()
        sock.sendall(head + BODY)
        data = b""
        while True:
            try:
                got = sock.recv(65536)
            except (ssl.SSLError, OSError):
                break
            if not got:
                break
            data += got
    finally:
        sock.close()
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0 or not data.startswith(b"HTTP/1.1 200"):
        return b""
    try:
        return _dechunk(data[head_end + 4 :])
    except ValueError:
        return b"<cut>"


def _curl_like(m: Mitmdump, upstream: FakeUpstream, forward: bool) -> bytes:
    conn: http.client.HTTPConnection
    if forward:
        ctx = ssl.create_default_context(cafile=str(m.ca))
        conn = http.client.HTTPSConnection("127.0.0.1", m.port, timeout=30, context=ctx)
        conn.set_tunnel("127.0.0.1", upstream.port)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", m.port, timeout=30)
    try:
        conn.request("POST", PATH, body=BODY, headers={"content-type": "application/json"})
        resp = conn.getresponse()
        out = bytearray()
        while chunk := resp.read1(65536):
            out += chunk
        return bytes(out) if resp.status == 200 else b""
    except (http.client.HTTPException, OSError):
        return b"<error>"
    finally:
        conn.close()


def _sdk_like(m: Mitmdump, upstream: FakeUpstream, forward: bool) -> tuple[httpx.Client, Callable[[], bytes]]:
    """One pooled client shared by the threads, as an application shares its SDK client."""
    if forward:
        client = httpx.Client(
            proxy=m.proxy, verify=ssl.create_default_context(cafile=str(m.ca)), timeout=30, trust_env=False
        )
        base = upstream.url
    else:
        client = httpx.Client(timeout=30, trust_env=False)
        base = f"http://127.0.0.1:{m.port}"

    def one() -> bytes:
        try:
            with client.stream("POST", base + PATH, content=BODY) as r:
                return b"".join(r.iter_raw()) if r.status_code == 200 else b""
        except httpx.HTTPError:
            return b"<error>"

    return client, one


def test_no_stream_is_dropped(proxy: Mitmdump, upstream: FakeUpstream) -> None:
    forward = proxy.cmd.count("--mode") == 0
    pooled, sdk = _sdk_like(proxy, upstream, forward)
    clients: dict[str, Callable[[], bytes]] = {
        "raw socket": lambda: _raw(proxy, upstream, forward),
        "curl-like": lambda: _curl_like(proxy, upstream, forward),
        "SDK-like": sdk,
    }
    started = time.monotonic()
    dropped: dict[str, int] = {}
    with pooled, ThreadPoolExecutor(CONCURRENCY) as pool:
        for name, client in clients.items():
            bodies = [f.result() for f in [pool.submit(client) for _ in range(PER_CLIENT)]]
            dropped[name] = sum(1 for b in bodies if b != EXPECTED)
    seconds = time.monotonic() - started
    assert dropped == dict.fromkeys(clients, 0), f"dropped streams per client: {dropped}"
    # ... and the capture recorded every one of them.
    assert proxy.out is not None
    deadline = time.monotonic() + 10
    while (runner.read_progress(proxy.out) or {}).get("calls", 0) < 3 * PER_CLIENT:
        assert time.monotonic() < deadline, runner.read_progress(proxy.out)
        time.sleep(0.1)
    assert seconds < 120, f"{3 * PER_CLIENT} requests took {seconds:.1f}s"
    print(
        f"{3 * PER_CLIENT} streamed requests ({'forward' if forward else 'reverse'}), 0 dropped, {seconds:.1f}s"
    )
