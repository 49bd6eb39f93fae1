"""Hostile and unusual inputs to the Python readers (issue 11): decompression bombs in
content-encoded bodies, pipes, devices and standard input, records of the wrong shape."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import pytest
import zstandard
from fastcap.formats import FormatWarning, read_exchanges, read_file
from fastcap.formats.content import decode_content
from fastcap.formats.limits import InflateBudget, parse_size
from fastcap.formats.writers import write_cbor
from fastcap.model import Exchange
from helpers import DATA, DEMO

MIB = 1 << 20


def _exchange(index: int, body: bytes, encoding: str) -> Exchange:
    return Exchange(
        index=index,
        source="test",
        method="POST",
        url="https://api.anthropic.com/v1/messages",
        request_headers=[("content-type", "application/json")],
        request_body=b'{"model":"claude-sonnet-4-5"}',
        status=200,
        reason="OK",
        response_headers=[("content-type", "application/json"), ("content-encoding", encoding)],
        response_body=body,
        started_at=1.0,
        ended_at=2.0,
    )


def _zstd_zeros(n_mib: int) -> bytes:
    """A zstd frame of `n_mib` MiB of zeros, a few bytes per 128 KiB block (built in pieces)."""
    c = zstandard.ZstdCompressor(level=1).compressobj()
    piece = b"\0" * (16 * MIB)
    return b"".join([c.compress(piece) for _ in range(n_mib // 16)] + [c.flush()])


# Started by a small launcher: a child forked from this pytest process would count the pages it
# shares with it in its peak RSS (Linux keeps the pre-exec maximum), 500+ MB late in a full run.
_LAUNCHER = (
    "import os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execv(sys.argv[2], sys.argv[2:])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "open(sys.argv[1], 'w').write(str(usage.ru_maxrss))\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def _run_measured(argv: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str, float, int]:
    """Run a command; (exit code, stdout, stderr, seconds, peak RSS in MB of that process alone)."""
    with tempfile.TemporaryDirectory() as tmp:
        rss_file = Path(tmp) / "maxrss"
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, str(rss_file), *argv], capture_output=True, env=env, timeout=300
        )
        seconds = time.perf_counter() - started
        rss = int(rss_file.read_text() or 0) // 1024
        return proc.returncode, proc.stdout.decode(), proc.stderr.decode(), seconds, rss


# --- content-decoding ---------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd"])
def test_each_encoding_decodes_and_stops_at_its_allowance(encoding: str) -> None:
    import brotli

    text = b'{"text": "' + b"hello " * 50_000 + b'"}'
    compress = {
        "gzip": gzip.compress,
        "deflate": zlib.compress,
        "br": brotli.compress,
        "zstd": zstandard.ZstdCompressor().compress,
    }[encoding]
    wire = compress(text)
    assert decode_content(wire, encoding).body == text
    budget = InflateBudget(left=1 << 40, max_body=100_000)
    cut = decode_content(wire, encoding, budget)
    assert cut.over_limit and cut.limit == 100_000 and cut.body == wire
    assert budget.left < 1 << 40  # what was inflated counts against the file's budget


def test_gzip_members_raw_deflate_and_bad_data() -> None:
    assert decode_content(gzip.compress(b"ab") + gzip.compress(b"cd"), "gzip").body == b"abcd"
    raw = zlib.compressobj(wbits=-15)
    assert decode_content(raw.compress(b"xyz") + raw.flush(), "deflate").body == b"xyz"
    bad = decode_content(b"not gzip", "gzip")
    assert bad.body == b"not gzip" and bad.problem is not None and not bad.over_limit
    assert decode_content(b"abc", "compress").problem == "unknown content-encoding compress"
    chained = zstandard.ZstdCompressor().compress(gzip.compress(b"twice"))  # gzip, then zstd
    assert decode_content(chained, "gzip, zstd").body == b"twice"
    assert parse_size("256M") == 256 * MIB and parse_size("1g") == 1 << 30 and parse_size("17") == 17


def test_file_budget_bounds_the_total() -> None:
    bomb = zlib.compress(b"\0" * (4 * MIB))
    budget = InflateBudget(left=6 * MIB, max_body=5 * MIB)
    first = decode_content(bomb, "deflate", budget)
    second = decode_content(bomb, "deflate", budget)
    assert not first.over_limit and len(first.body) == 4 * MIB
    assert second.over_limit and second.limit == 2 * MIB  # what was left of the file's budget


def test_cbor_bomb_body_over_the_limit_is_reported_and_reading_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FASTCAP_MAX_BODY_INFLATED", "1M")
    small = gzip.compress(b'{"ok": true}' * 40_000)  # 480 KB: under the limit
    bomb = gzip.compress(b"\0" * (8 * MIB), 1)
    path = tmp_path / "bomb.cbor"
    plain = b'{"after": "the bomb"}'
    write_cbor(
        [_exchange(0, small, "gzip"), _exchange(1, bomb, "gzip"), _exchange(2, plain, "identity")],
        path,
        redact=None,
    )
    result = read_file(path)
    a, b, c = result.exchanges
    assert a.response_body == b'{"ok": true}' * 40_000 and c.response_body == plain
    assert b.response_body is None and b.response_body_fidelity == "missing" and "inflate_limit" in b.flags
    (fault,) = result.faults
    assert fault.severity == "note" and fault.kind == "inflate_limit" and fault.offset > 0
    assert str(fault).startswith(f"{path}: byte {fault.offset}: the response body of exchange 1 ")
    assert "inflates past " in str(fault) and "not kept (fidelity missing" in str(fault)


def test_five_kb_capture_bombs_end_fast_and_small(tmp_path: Path) -> None:
    """Three responses of 2 GiB of zeros each, zstd-encoded (the capture is 2 KB): every command
    ends in seconds under 1 GB, with one warning per body (issue 11: past 5 GB before)."""
    bomb = _zstd_zeros(2048)
    path = tmp_path / "bomb.cbor"
    write_cbor([_exchange(i, bomb, "zstd") for i in range(3)], path, redact=None)
    assert path.stat().st_size < 5000
    for argv in (
        ["analyze", str(path), "--out", str(tmp_path / "a"), "-q"],
        ["convert", str(path), str(tmp_path / "c.jsonl")],
    ):
        code, _, err, seconds, rss = _run_measured([sys.executable, "-m", "fastcap", *argv])
        assert code == 0, err
        warnings = err.strip().splitlines()
        assert len(warnings) == 3 and all("inflates past" in w for w in warnings), err
        assert seconds < 60 and rss < 1000, (argv[0], seconds, rss)
    assert (tmp_path / "c.jsonl").stat().st_size < 10_000


def test_mitm_bomb_body_is_not_inflated_by_mitmproxy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mitmproxy")
    from mitmproxy import io as mio
    from mitmproxy.test import tflow

    monkeypatch.setenv("FASTCAP_MAX_BODY_INFLATED", "1M")
    flows = []
    for body in (gzip.compress(b"fine" * 1000), gzip.compress(b"\0" * (16 * MIB), 1)):
        f = tflow.tflow(resp=True)
        f.response.headers["content-encoding"] = "gzip"
        f.response.raw_content = body
        flows.append(f)
    path = tmp_path / "bomb.mitm"
    with path.open("wb") as fo:
        writer = mio.FlowWriter(fo)
        for f in flows:
            writer.add(f)
    with pytest.warns(
        FormatWarning, match=r"bomb\.mitm: byte \d+: flow record 1: the response body .* inflates past 1 MiB"
    ):
        ok, cut = read_exchanges(path)
    assert ok.response_body == b"fine" * 1000
    assert (
        cut.response_body is None and cut.response_body_fidelity == "missing" and "inflate_limit" in cut.flags
    )


# --- pipes, devices, standard input ---------------------------------------------------------------


def test_fifo_is_read_once(tmp_path: Path) -> None:
    """`fastcap analyze <(cat x.cbor)`: detection and reading used to open the FIFO twice (a hang)."""
    fifo = tmp_path / "capture.fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "wb") as w:
            w.write(DEMO.read_bytes())

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    proc = subprocess.run(
        [sys.executable, "-m", "fastcap", "analyze", str(fifo), "--out", str(tmp_path / "o"), "-q"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    writer.join(5)
    assert proc.returncode == 0, proc.stderr
    assert "capture.fifo (cbor): 7 calls" in proc.stdout and (tmp_path / "o" / "report.md").exists()


def test_stdin_and_default_output_directory(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "fastcap", "analyze", "-", "-q", "--no-reports"],
        input=DEMO.read_bytes(),
        capture_output=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert b"7 calls" in proc.stdout and (tmp_path / "stdin_fastcap" / "analysis.md").exists()


@pytest.mark.parametrize("command", ["analyze", "report", "convert", "decode"])
def test_endless_device_is_refused_at_the_limit(tmp_path: Path, command: str) -> None:
    argv = [sys.executable, "-m", "fastcap", command, "/dev/zero"]
    if command == "convert":
        argv.append(str(tmp_path / "out.jsonl"))
    env = {**os.environ, "FASTCAP_MAX_STREAM_BYTES": "8M"}
    code, _, err, seconds, rss = _run_measured(argv, env)
    assert code == 2 and seconds < 60 and rss < 500
    (line,) = err.strip().splitlines()
    assert line.startswith(
        "fastcap: error: /dev/zero: byte 8388608: not a regular file and longer than 8 MiB"
    )


def test_path_errors_are_one_line(tmp_path: Path) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    for target in (loop, tmp_path, tmp_path / "missing.cbor"):
        proc = subprocess.run(
            [sys.executable, "-m", "fastcap", "analyze", str(target), "--out", str(tmp_path / "o")],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert str(target) in proc.stderr and "Traceback" not in proc.stderr


# --- records of the wrong shape -------------------------------------------------------------------


def test_har_fields_of_the_wrong_type_read_as_absent(tmp_path: Path) -> None:
    import json

    entries = [
        {"request": [], "response": "x"},
        {"request": {"method": 5, "url": {"a": 1}, "headers": "h", "postData": {"text": 7}}, "response": {}},
        {"request": {"method": "GET", "url": "http://x/"}, "response": {"status": True, "content": []}},
        {
            "startedDateTime": 12,
            "timings": [],
            "_error": ["x"],
            "_webSocketMessages": [{"data": 5, "time": "t"}],
        },
        "not an entry",
    ]
    path = tmp_path / "odd.har"
    path.write_text(json.dumps({"log": {"entries": entries}}))
    exchanges = read_exchanges(path)
    assert len(exchanges) == 4 and exchanges[2].method == "GET" and exchanges[2].status is None
    assert exchanges[1].method == "5" and exchanges[1].request_body is None


def test_deep_and_surrogate_json_are_clean(tmp_path: Path) -> None:
    deep = tmp_path / "deep.jsonl"
    deep.write_bytes(b'{"request": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n")
    with pytest.raises(ValueError, match="nested") as ei:
        read_exchanges(deep)
    assert "\n" not in str(ei.value)
    lone = tmp_path / "lone.jsonl"
    lone.write_bytes(
        b'{"request": {"method": "POST", "url": "http://x/\\ud800", "body": "a\\udc00b"}, "response": null}\n'
    )
    (ex,) = read_exchanges(lone)
    assert ex.url == "http://x/\ufffd" and ex.request_body_fidelity == "recovered_from_text"
    har = tmp_path / "deep.har"
    har.write_bytes(
        b'{"log": {"entries": [{"request": {"method": "GET", "url": "http://a/"}}, ' + b"[" * 50_000
    )
    with pytest.warns(FormatWarning, match="deep.har: byte"):
        (first,) = read_exchanges(har, strict=False)
    assert first.url == "http://a/"


@pytest.mark.parametrize("at", [5, 300])
def test_a_nul_byte_in_a_mitmdump_log_is_reported_where_it_is(tmp_path: Path, at: int) -> None:
    """The log parser names the NUL's offset; format detection used to give up at byte 0."""
    src = (DATA / "mitmproxy" / "mitmdump_live_flow_detail3.txt").read_bytes()
    log = tmp_path / "nul.log"
    log.write_bytes(src[:at] + b"\x00" + src[at + 1 :])
    proc = subprocess.run(
        [sys.executable, "-m", "fastcap", "analyze", str(log), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and f"{log}: byte {at}: binary data (NUL byte)" in proc.stderr
