"""Capture faults end to end, through a real mitmdump with the fastcap addon and a local HTTPS fake
upstream: secrets split between two chunks at every byte (docs/specs/mitmproxy.md §7.9), a stream
reset by the upstream (recorded as truncated and analysed as a cut stream), and a full disk (the
proxy stops, and no client gets a byte that is not on record, §7.7)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import os
import resource
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastcap.secrets.leakscan import scan_paths
from fastcap.secrets.redact import encode_eventstream_frame
from helpers.fakeupstream import FakeUpstream
from helpers.fakeupstream.mitm import Mitmdump, entries_for, read_entries

pytestmark = pytest.mark.e2e

# Obviously fake credentials (docs/specs/reports.md §6.6 shapes).
API_KEY = "sk-ant-api03-" + "FAKEfake0123" * 3
OAUTH_ACCESS = "sk-ant-oat01-" + "FAKEfake4567" * 3
OAUTH_REFRESH = "1//0" + "FAKEfake8901" * 2
KIRO_TOKEN = "aoa" + "FAKEfake2345" * 3


class SplittingUpstream(FakeUpstream):
    """The fake upstream plus `POST /split`: the request body (JSON) says what to answer, chunk by
    chunk: `{"ctype", "parts": [base64...], "gap": seconds, "reset": bool}`, or, so that no secret
    travels in the request, `{"body": <name in SPLIT_BODIES>, "cuts": [offsets]}`; with `reset` the
    connection is reset (RST) after the last part instead of ending the body."""

    async def _route(
        self,
        method: str,
        target: str,
        hmap: dict[str, str],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        head: bytes,
    ) -> bool:
        if not target.startswith("/split"):
            return await super()._route(method, target, hmap, reader, writer, head)
        spec = orjson.loads(self.received[-1].body)
        if "body" in spec:
            ctype, body, _ = SPLIT_BODIES[spec["body"]]
            bounds = [0, *spec["cuts"], len(body)]
            parts = [body[a:b] for a, b in itertools.pairwise(bounds)]
        else:
            ctype, parts = spec["ctype"], [base64.b64decode(p) for p in spec["parts"]]
        writer.write(
            f"HTTP/1.1 200 OK\r\ncontent-type: {ctype}\r\ntransfer-encoding: chunked\r\n\r\n".encode()
        )
        await writer.drain()
        for i, data in enumerate(parts):
            if i:
                await asyncio.sleep(spec.get("gap", 0.005))
            if data:
                writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                await writer.drain()
        if spec.get("reset"):
            await asyncio.sleep(spec.get("gap", 0.005))
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SplittingUpstream]:
    with SplittingUpstream(tmp_path_factory.mktemp("upstream")) as up:
        yield up


def _split_request(ctype: str, parts: list[bytes], **kw: Any) -> bytes:
    return orjson.dumps({"ctype": ctype, "parts": [base64.b64encode(p).decode() for p in parts], **kw})


def _client(m: Mitmdump, timeout: float = 30) -> httpx.Client:
    return httpx.Client(proxy=m.proxy, verify=ssl.create_default_context(cafile=str(m.ca)), timeout=timeout)


def _frame(payload: dict[str, object]) -> bytes:
    headers = b"\x0b:event-type\x07\x00\x16assistantResponseEvent"
    return encode_eventstream_frame(headers, orjson.dumps(payload))


SPLIT_BODIES = {
    # An OAuth token response sent chunked, without Content-Length: the addon streams it.
    "token response": (
        "application/json",
        orjson.dumps({"access_token": OAUTH_ACCESS, "refresh_token": OAUTH_REFRESH, "expires_in": 3600}),
        "/split/oauth/token",
    ),
    "sse field": (
        "text/event-stream",
        b"event: message_start\ndata: "
        + orjson.dumps({"type": "message_start", "api_key": API_KEY})
        + b"\n\nevent: ping\ndata: {}\n\n",
        "/split/v1/messages",
    ),
    "eventstream frame": (
        "application/vnd.amazon.eventstream",
        _frame({"content": "hi"}) + _frame({"accessToken": KIRO_TOKEN}),
        "/split/generateAssistantResponse",
    ),
}


def test_secrets_split_at_every_byte_are_never_recorded(tmp_path: Path, upstream: SplittingUpstream) -> None:
    """Every body is sent in two chunks, split at each of its byte positions; whatever the split,
    no file the capture writes holds the secret, and each chunk keeps its own entry and arrival
    time."""
    (tmp_path / "conf").mkdir()
    out = tmp_path / "out"
    out.mkdir()
    m = Mitmdump(tmp_path / "conf", out, session="split", sets={"fastcap_format": "both"})
    m.log = tmp_path / "mitmdump.log"  # the proxy's own output: not a file the capture writes
    sent: dict[str, tuple[str, bytes, int]] = {}
    with m, _client(m) as c:
        for name, (_ctype, body, path) in SPLIT_BODIES.items():
            for at in range(len(body) + 1):
                tag = uuid.uuid4().hex
                r = c.post(
                    upstream.url + path,
                    content=orjson.dumps({"body": name, "cuts": [at], "gap": 0.004}),
                    headers={"x-test-id": tag, "content-type": "application/json"},
                )
                assert r.status_code == 200 and r.content == body, (name, at)  # the client: untouched
                sent[tag] = (name, body, at)
    # The proxy stopped (done() ran): every file is complete.
    files = [p for p in out.rglob("*") if p.is_file()]
    assert {p.name for p in files} >= {"split.cbor", "traffic.jsonl", "summary.json"}
    assert scan_paths(files) == []
    blob = b"".join(p.read_bytes() for p in files)
    _, entries = read_entries(out / "split.cbor")
    gaps = []
    for tag, (name, _body, at) in sent.items():
        got = entries_for(entries, f"x-test-id: {tag}".encode())
        chunks = sorted(
            (e for e in got if e["dir"] == 3 and e["meta"].get("ci")), key=lambda e: e["meta"]["ci"]
        )
        assembled = b"".join(e["data"] for e in chunks)
        for secret in (API_KEY, OAUTH_ACCESS, OAUTH_REFRESH, KIRO_TOKEN):
            assert secret.encode() not in assembled, (name, at)
            assert secret[:16].encode() not in assembled, (name, at)
        assert b"[REDACTED]" in assembled, (name, at)
        assert [e["meta"]["ci"] for e in chunks] == list(range(1, len(chunks) + 1))
        assert "ttfb" in chunks[0]["meta"] and all("ttfb" not in e["meta"] for e in chunks[1:])
        if len(chunks) == 2:
            gaps.append(chunks[1]["ts"] - chunks[0]["ts"])  # each entry has its chunk's arrival time
    # The split survived the proxy for (nearly) every position, so every boundary was exercised.
    splits = sum(1 for _, body, at in sent.values() if 0 < at < len(body))
    assert len(gaps) >= 0.9 * splits, (len(gaps), splits)
    assert min(gaps) > 0 and sorted(gaps)[len(gaps) // 2] > 0.002
    for secret in (API_KEY, OAUTH_ACCESS, OAUTH_REFRESH, KIRO_TOKEN):
        assert secret.encode() not in blob


def _anthropic_sse(*, stop: bool) -> list[bytes]:
    def ev(name: str, data: dict[str, object]) -> bytes:
        return f"event: {name}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"

    parts = [
        ev(
            "message_start",
            {"type": "message_start", "message": {"id": "msg_1", "model": "claude-sonnet-4-5", "usage": {}}},
        ),
        ev(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}},
        ),
        ev(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}},
        ),
    ]
    if stop:
        parts.append(ev("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}}))
    return parts


def test_upstream_reset_mid_stream_is_a_truncated_cut_stream(
    tmp_path: Path, upstream: SplittingUpstream
) -> None:
    (tmp_path / "conf").mkdir()
    out = tmp_path / "out"
    out.mkdir()
    m = Mitmdump(tmp_path / "conf", out, session="reset")
    m.log = tmp_path / "mitmdump.log"
    parts = _anthropic_sse(stop=False)
    with m, _client(m) as c:
        ok = c.post(
            upstream.url + "/split/v1/messages",
            content=_split_request(
                "text/event-stream", [*_anthropic_sse(stop=True), b"event: message_stop\ndata: {}\n\n"]
            ),
            headers={"x-test-id": "whole", "content-type": "application/json"},
        )
        assert ok.status_code == 200
        with pytest.raises(httpx.HTTPError):
            c.post(
                upstream.url + "/split/v1/messages",
                content=_split_request("text/event-stream", parts, reset=True, gap=0.02),
                headers={"x-test-id": "reset", "content-type": "application/json"},
            )
    _, entries = read_entries(out / "reset.cbor")
    got = entries_for(entries, b"x-test-id: reset")
    assert b"".join(e["data"] for e in got if e["meta"].get("ci")) == b"".join(parts)
    se = next(e for e in got if e["meta"].get("se"))
    assert se["meta"]["fid"] == "truncated"
    eos = next(e for e in got if e["meta"].get("eos"))
    assert eos["meta"]["eos_term"] == "error" and eos["meta"]["eos_err_cls"] == "transport_error"
    whole = entries_for(entries, b"x-test-id: whole")
    assert "fid" not in next(e for e in whole if e["meta"].get("se"))["meta"]
    # Read back: the body is truncated and the call a cut stream; the complete one is not.
    from fastcap.analysis.exchanges import calls_from_exchanges
    from fastcap.formats import read_exchanges

    calls = calls_from_exchanges(read_exchanges(out / "reset.cbor"))
    rows = {r["response_body_fidelity"]: r for r in calls.iter_rows(named=True)}
    assert set(rows) == {"complete", "truncated"}
    assert rows["truncated"]["issue_class"] == "cut_stream" and rows["complete"]["issue_class"] is None
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "fastcap",
            "analyze",
            str(out / "reset.cbor"),
            "--out",
            str(tmp_path / "a"),
            "--parquet",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    assert "cut_stream" in r.stdout
    import polars as pl

    analysed = pl.read_parquet(tmp_path / "a" / "calls.parquet")
    assert sorted(analysed.select("response_body_fidelity", "issue_class").rows(), key=str) == [
        ("complete", None),
        ("truncated", "cut_stream"),
    ]


# ----------------------------------------------------------------------------------- full disk
def _small_disk(path: Path, size: str) -> bool:
    """A tmpfs of `size` at `path` (root only); False when it cannot be mounted."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    return r.returncode == 0


class LimitedMitmdump(Mitmdump):
    """Mitmdump whose files may not grow past `fsize` bytes (RLIMIT_FSIZE: writes fail with EFBIG),
    the fallback when no small filesystem can be mounted."""

    fsize: int | None = None

    def start(self) -> LimitedMitmdump:
        limit = self.fsize

        def preexec() -> None:
            if limit is not None:
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        with self.log.open("wb") as logf:
            self.proc = subprocess.Popen(self.cmd, stdout=logf, stderr=subprocess.STDOUT, preexec_fn=preexec)
        from helpers.fakeupstream.mitm import wait_port

        try:
            wait_port(self.port, proc=self.proc)
        except Exception as exc:
            raise RuntimeError(f"{exc}\n{self.log.read_text(errors='replace')}") from None
        return self


def test_full_disk_stops_the_proxy_and_never_forwards_unrecorded_bytes(
    tmp_path: Path, upstream: SplittingUpstream
) -> None:
    """60 concurrent streams into a capture directory that fills up: the proxy exits with status
    1, summary.json says why and lists the cut flows, every flow still open is marked in the
    capture (`fid: truncated` + an EoS entry naming the capture error), and every client got at
    most what the capture recorded for it (never a byte more)."""
    (tmp_path / "conf").mkdir()
    out = tmp_path / "disk"
    mounted = _small_disk(out, "1m")
    try:
        m = LimitedMitmdump(tmp_path / "conf", out, session="full", sets={"fastcap_format": "cbor"})
        m.log = tmp_path / "mitmdump.log"
        if not mounted:
            m.fsize = 1 << 20
        m.start()
        ctx = ssl.create_default_context(cafile=str(m.ca))
        tags = [uuid.uuid4().hex for _ in range(60)]
        received: dict[str, bytes] = {}

        async def one(client: httpx.AsyncClient, tag: str) -> None:
            data = bytearray()
            with contextlib.suppress(httpx.HTTPError):
                async with client.stream(
                    "GET",
                    f"{upstream.url}/stream?n=400&size=300&delay=0.01&first=0.05",
                    headers={"x-test-id": tag},
                ) as r:
                    async for chunk in r.aiter_raw():
                        data += chunk
            received[tag] = bytes(data)

        async def main() -> None:
            limits = httpx.Limits(max_connections=70)
            async with httpx.AsyncClient(proxy=m.proxy, verify=ctx, timeout=60, limits=limits) as client:
                await asyncio.gather(*(one(client, t) for t in tags))

        asyncio.run(main())
        assert m.proc is not None
        code = m.proc.wait(30)
        log = m.log.read_text(errors="replace")
        assert code == 1, log
        assert "capture stopped" in log and ("No space left" in log or "too large" in log), log
        summary = orjson.loads((out / "summary.json").read_bytes())
        assert summary["failed"] and summary["cut_flows"], summary
        _, entries = read_entries(out / "full.cbor")
        from fastcap.formats.capture_file import read_capture

        assert read_capture(out / "full.cbor", warn=False).diagnostics == []  # ends on a whole record
        cut_rids = {c["rid"] for c in summary["cut_flows"]}
        rid_of = {}
        for e in entries:
            if e["dir"] == 2 and e["meta"].get("event") == "request":
                for tag in tags:
                    if f"x-test-id: {tag}".encode() in e["data"]:
                        rid_of[tag] = e["meta"]["rid"]
        seen_cut = 0
        for tag in tags:
            rid = rid_of.get(tag)
            got = [e for e in entries if rid is not None and e["meta"].get("rid") == rid]
            chunks = sorted((e for e in got if e["meta"].get("ci")), key=lambda e: e["meta"]["ci"])
            recorded = b"".join(e["data"] for e in chunks)
            client = received[tag]
            # Never a byte to the client that is not on record.
            assert recorded.startswith(client), (tag, len(client), len(recorded))
            if rid in cut_rids:
                seen_cut += 1
                if mounted:  # the reserve let the marks be written
                    eos = next(e for e in got if e["meta"].get("eos"))
                    assert "capture stopped" in eos["meta"]["eos_reason"]
                    if any(e["meta"].get("ss") for e in got):  # its response had started
                        se = next(e for e in got if e["meta"].get("se"))
                        assert se["meta"]["fid"] == "truncated"
                    assert [c["unrecorded_bytes"] for c in summary["cut_flows"] if c["rid"] == rid] == [0]
        assert seen_cut >= 1
    finally:
        with contextlib.suppress(Exception):
            m.stop()
        if mounted:
            subprocess.run(["umount", "-l", str(out)], capture_output=True)


def test_write_failure_exits_before_forwarding(tmp_path: Path) -> None:
    """The addon on its own: a write error ends the process (`os._exit(1)`, here a SystemExit)
    after the open flows were marked; nothing is returned for the chunk that could not be written."""
    from fastcap.capture.core import Capture
    from helpers.addon_context import addon_context
    from mitmproxy.http import Headers, Response
    from mitmproxy.test import tflow

    addon = Capture()

    def exit_(code: int) -> None:
        raise SystemExit(code)

    addon._exit = exit_
    with addon_context(addon) as tctx:
        tctx.configure(addon, fastcap_out=str(tmp_path), fastcap_session="unit")
        assert (tmp_path / ".fastcap-reserve-unit").stat().st_size > 0
        f = tflow.tflow()
        f.request.headers = Headers(host="x.test", **{"content-type": "application/json"})
        f.request.content = b"{}"
        addon.request(f)
        f.response = Response.make(200, b"", {"content-type": "text/event-stream"})
        addon.responseheaders(f)
        tee = f.response.stream
        assert tee(b"data: {}\n\n") == b"data: {}\n\n"
        assert tee(b'data: {"partial') == b'data: {"partial'  # forwarded; its record held back
        fd = addon._cbor_fd
        assert fd is not None
        os.close(fd)  # the next write fails (EBADF)
        with pytest.raises(SystemExit):
            tee(b'":1}\n\n')  # never returns: the chunk is not forwarded
        assert addon._cbor_fd is None
    summary = orjson.loads((tmp_path / "summary.json").read_bytes())
    assert "Bad file descriptor" in summary["failed"] and len(summary["cut_flows"]) == 1
    assert not (tmp_path / ".fastcap-reserve-unit").exists()
