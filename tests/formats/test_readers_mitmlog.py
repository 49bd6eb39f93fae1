"""mitmdump text-log reader: golden tests on the recorded 12.2.3 logs, synthetic 11.x logs, and
(when mitmproxy 11 is importable) logs written by mitmproxy's own dumper."""

from __future__ import annotations

import ast
import io
from typing import Any

import helpers
import polars as pl
import pytest
from fastcap import MitmLogError, _native
from fastcap.formats.mitmlog import log_info, read_mitmlog, read_mitmlog_text
from helpers.addon_context import addon_context
from helpers.mitmlog_logs import BINARY, synth_v11

from benches.baselines import mitmlog_py
from benches.bench_mitmlog import generate

DATA = helpers.DATA / "mitmproxy"
PATHS = ["/json", "/sse", "/es", "/big", "/bin", "/empty"]
REQ_HEADERS_JSON = [
    ("Host", "127.0.0.1:18081"),
    ("User-Agent", "curl/7.88.1"),
    ("Accept", "*/*"),
    ("content-type", "application/json"),
    ("Content-Length", "77"),
]


def check_six(exs, *, headers=True):
    assert len(exs) == 6
    assert [e.method for e in exs] == ["POST"] * 6
    assert [e.url for e in exs] == [f"http://127.0.0.1:18081{p}" for p in PATHS]
    assert [e.status for e in exs] == [200, 200, 200, 200, 200, 204]
    assert [e.size_text for e in exs] == ["90b", "245b", "301b", "9.9k", "1.0k", "0b"]
    assert exs[5].reason == "No Content"
    assert all(e.http_version == "HTTP/1.1" and e.error is None and e.source == "mitmlog" for e in exs)
    assert "size_approx" in exs[3].flags and "size_approx" not in exs[0].flags
    if headers:
        assert exs[0].request_headers == REQ_HEADERS_JSON
        assert exs[2].header("content-type", response=True) == "application/vnd.amazon.eventstream"
        assert exs[3].header("content-length", response=True) == "10090"
    else:
        assert all(not e.request_headers and not e.response_headers for e in exs)


def check_bodies(exs):
    assert exs[0].fidelity == "json_value"
    assert exs[0].request_body_text.splitlines()[1] == '    "model": "claude",'
    assert '"input_tokens": 3' in exs[0].response_body_text
    sse = exs[1].response_body_text
    assert sse.split("\n") == [
        "event: message_start",
        'data: {"type":"message_start"}',
        "",
        "event: content_block_delta",
        'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}',
        "",
        ": keepalive comment",
        "",
        "event: message_stop",
        'data: {"type":"message_stop"}',
    ]
    assert "terminator_unknown" in exs[1].flags
    big = exs[3].response_body_text.split("\n")
    assert len(big) == 600 and big[0] == "line 0 of text" and big[-1] == "line 599 of text"
    assert "cut_off_marker" in exs[3].flags and "truncated" not in exs[3].flags
    assert "(cut off)" not in exs[3].response_body_text
    assert "lossy_binary" in exs[4].flags and "lossy_binary" in exs[2].flags
    assert "\\x80\\x81" in exs[4].response_body_text
    assert exs[5].response_body_text is None
    assert all(e.response_body is None for e in exs)  # nothing exact in a 12.x log
    assert exs[4].request_body_text == "x: ''"


def test_live_flow_detail3():
    exs = read_mitmlog(DATA / "mitmdump_live_flow_detail3.txt")
    check_six(exs)
    check_bodies(exs)
    info = log_info(DATA / "mitmdump_live_flow_detail3.txt")
    assert info["version"] == "12" and info["version_certain"] is False
    assert info["other_lines"] == 0 and len(info["trailing_log"]) == 2


def test_replay_flow_detail3():
    exs = read_mitmlog(DATA / "mitmdump_replay_flow_detail3.txt")
    check_six(exs)
    check_bodies(exs)


def test_replay_flow_detail2():
    exs = read_mitmlog(DATA / "mitmdump_replay_flow_detail2.txt")
    check_six(exs)
    assert all(e.response_body_text is None and "bodies_not_logged" in e.flags for e in exs)


def test_replay_flow_detail1():
    exs = read_mitmlog(DATA / "mitmdump_replay_flow_detail1.txt")
    check_six(exs, headers=False)


def test_stream_large_bodies_content_missing():
    exs = read_mitmlog(DATA / "mitmdump_live_stream_large_bodies.txt")
    assert [e.url.rsplit("/", 1)[1] for e in exs] == ["sse", "json"]
    for e in exs:
        assert e.size_text == "(content missing)"
        assert {"content_missing", "request_content_missing"} <= e.flags
        assert e.response_body_text is None and e.request_body_text is None
        assert e.fidelity == "missing"
        assert "size_approx" not in e.flags
    assert log_info(DATA / "mitmdump_live_stream_large_bodies.txt")["version_certain"] is True


def test_store_streamed_bodies():
    exs = read_mitmlog(DATA / "mitmdump_live_stream_store_streamed_bodies.txt")
    assert [e.size_text for e in exs] == ["245b", "90b"]
    assert "content_missing" not in exs[0].flags
    assert exs[0].response_body_text.endswith('data: {"type":"message_stop"}')
    assert exs[1].request_body_text == '{\n    "a": 1\n}'
    assert exs[1].fidelity == "json_value"


def test_h2_synthetic_and_error_flow():
    exs = read_mitmlog(DATA / "dumper_h2_synthetic.txt")
    assert len(exs) == 3
    assert exs[0].http_version == "HTTP/2.0" and exs[1].http_version == "HTTP/2.0"
    assert exs[0].url == "https://api.anthropic.com/v1/messages"
    assert exs[0].size_text == "1.3k" and exs[0].status == 200 and exs[0].reason == "OK"
    assert exs[0].request_headers == [
        ("header", "qvalue"),
        ("content-length", "41"),
        ("content-type", "application/json"),
    ]
    assert exs[0].response_body_text.startswith('event: ping\ndata: {"type": "ping"}\n\nxxx')
    assert exs[1].status == 200 and exs[1].response_body_text is None
    assert (exs[2].method, exs[2].url, exs[2].status, exs[2].error) == (
        "GET",
        "http://address:22/path",
        None,
        "error",
    )


def test_ansi_coloured_output():
    lines = (DATA / "dumper_tty_colors_repr.txt").read_text().splitlines()
    text = ast.literal_eval(lines[1])
    assert "\x1b[" in text
    exs = read_mitmlog_text(text)
    assert len(exs) == 1
    e = exs[0]
    assert (e.method, e.url, e.status, e.size_text) == ("POST", "http://127.0.0.1:18081/json", 200, "90b")
    assert e.request_headers == REQ_HEADERS_JSON
    assert "\x1b" not in e.response_body_text and e.fidelity == "json_value"
    plain = read_mitmlog(DATA / "mitmdump_replay_flow_detail3.txt")[0]
    assert e.request_body_text == plain.request_body_text
    assert e.response_body_text == plain.response_body_text


# --- mitmproxy 11.x, synthesised from docs/specs/mitmproxy.md §3.7 ---------------------------------------


def test_synthetic_v11_log(tmp_path):
    p = tmp_path / "raw.log"
    p.write_bytes(synth_v11().encode("utf-8"))
    exs = read_mitmlog(p)
    info = log_info(p)
    assert info["version"] == "11" and info["version_certain"]
    assert len(exs) == 3
    a, b, c = exs
    # unescaped bytes: UTF-8 when valid, else latin-1 (every byte kept)
    assert a.request_headers[2:] == [("x-esc", "tab\there\\ é"), ("x-latin", "\xff")]
    assert a.request_body_text == '{"conversationState":\n\n\ufffd broken}'
    assert "request_lossy_binary" in a.flags
    assert a.response_body == BINARY and a.fidelity == "exact"
    assert "lossy_binary" not in a.flags
    assert len(b.request_body_text.split("\n")) == 512
    assert "request_truncated" in b.flags and "request_cut_off_marker" not in b.flags
    assert "content_missing" in b.flags and b.response_body_text is None
    assert c.status is None and c.error == "Client disconnected." and c.http_version == "HTTP/2.0"


def test_real_mitmproxy11_dumper(tmp_path):
    """Feed flows through the installed mitmproxy's Dumper (11.0.2 on Python 3.11) and parse its output."""
    mitmproxy = pytest.importorskip("mitmproxy")
    from mitmproxy import version as mversion

    if not mversion.VERSION.startswith("11."):
        pytest.skip("the 11.x rendering needs mitmproxy 11")
    from mitmproxy.addons import dumper
    from mitmproxy.test import tflow

    buf = io.StringIO()
    d = dumper.Dumper(buf)
    big = "\n".join(f"line {i}" for i in range(600)).encode()
    with addon_context(d) as ctx:
        ctx.configure(d, flow_detail=3, showhost=True)
        f1 = tflow.tflow(resp=True)
        f1.request.headers["content-type"] = "text/plain"
        f1.request.content = b"a\r\nb\n\nc"
        f1.response.headers["content-type"] = "application/octet-stream"
        f1.response.content = BINARY
        d.response(f1)
        f2 = tflow.tflow(resp=True)
        f2.response.headers["content-type"] = "text/plain"
        f2.response.content = big
        d.response(f2)
        f3 = tflow.tflow(resp=True)
        f3.response.content = None
        d.response(f3)
        f4 = tflow.tflow(err=True)
        d.error(f4)
    text = buf.getvalue()
    assert "\r\n" in text
    exs = read_mitmlog_text(text)
    assert len(exs) == 4
    assert exs[0].url == f1.request.pretty_url
    assert exs[0].request_body_text == "a\nb\n\nc"
    assert exs[0].response_body == BINARY and exs[0].fidelity == "exact"
    assert len(exs[1].response_body_text.split("\n")) == 512 and "truncated" in exs[1].flags
    assert "content_missing" in exs[2].flags and exs[2].size_text == "(content missing)"
    assert exs[3].error == f4.error.msg
    assert mitmproxy is not None


def test_not_a_log(tmp_path):
    p = tmp_path / "x.log"
    p.write_text("just some text\nnot a log at all\n")
    with pytest.raises(MitmLogError) as ei:
        read_mitmlog(p)
    assert ei.value.offset == 0 and ei.value.kind == "not_a_log" and str(p) in str(ei.value)
    assert "\n" not in str(ei.value)
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(MitmLogError) as ei:
        read_mitmlog(p)
    assert ei.value.kind == "binary" and ei.value.offset == 8
    p.write_bytes(b"")
    with pytest.raises(MitmLogError) as ei:
        read_mitmlog(p)
    assert ei.value.kind == "empty"


def test_noise_lines_are_skipped():
    text = (DATA / "mitmdump_replay_flow_detail3.txt").read_text()
    noisy = "Traceback (most recent call last):\n  File 'x', line 1\n" + text.replace(
        "127.0.0.1:51158: POST", "some stderr warning\n127.0.0.1:51158: POST"
    )
    exs = read_mitmlog_text(noisy)
    check_six(exs)
    check_bodies(exs)


def test_truncated_log_keeps_complete_flows(tmp_path):
    data = (DATA / "mitmdump_replay_flow_detail3.txt").read_bytes()
    cut = data.index(b"127.0.0.1:51184: POST") + 100  # inside the /bin request headers
    exs = read_mitmlog_text(data[:cut])
    assert [e.url.rsplit("/", 1)[1] for e in exs] == ["json", "sse", "es", "big", "bin"]
    assert exs[3].status == 200 and "incomplete" in exs[4].flags and exs[4].status is None


# --- the native table against the benchmark's plain-Python parser ------------------------------


def _native_flows(data: bytes) -> list[dict[str, Any]]:
    """The native table in the baseline's shape (mitmlog_py.parse)."""
    flag = _native.MITMLOG_BODY_FLAGS
    table, _ = _native.parse_mitmlog_bytes(data)

    def body(text: str | None, flags: int) -> dict[str, Any] | None:
        if text is None:
            return None
        return {
            "text": text,
            "cut_off": bool(flags & flag["cut_off"]),
            "missing": bool(flags & (flag["missing_11"] | flag["missing_12"])),
        }

    out = []
    for r in pl.DataFrame(table).iter_rows(named=True):
        out.append(
            {
                "client": r["client"],
                "method": r["method"],
                "url": r["url"],
                "request_version": r["request_version"],
                "request_headers": list(
                    zip(r["request_header_names"], r["request_header_values"], strict=True)
                ),
                "request_body": body(r["request_body"], r["request_body_flags"]),
                "status": r["status"],
                "reason": r["reason"],
                "size_text": r["size_text"],
                "response_version": r["response_version"],
                "response_headers": list(
                    zip(r["response_header_names"], r["response_header_values"], strict=True)
                ),
                "response_body": body(r["response_body"], r["response_body_flags"]),
                "error": r["error"],
                "log_context": r["log_context"],
            }
        )
    return out


def _baseline_flows(data: bytes) -> list[dict[str, Any]]:
    flows = mitmlog_py.parse(data.decode("utf-8", "replace"))
    for f in flows:
        f["request_headers"] = [tuple(h) for h in f["request_headers"]]
        f["response_headers"] = [tuple(h) for h in f["response_headers"]]
    return flows


def _same_as_baseline(data: bytes) -> None:
    ours, theirs = _native_flows(data), _baseline_flows(data)
    assert len(ours) == len(theirs)
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert a == b, f"flow {i}"


@pytest.mark.parametrize(
    "name",
    [
        "mitmdump_live_flow_detail3.txt",
        "mitmdump_replay_flow_detail1.txt",
        "mitmdump_replay_flow_detail2.txt",
        "mitmdump_replay_flow_detail3.txt",
        "mitmdump_live_stream_large_bodies.txt",
        "mitmdump_live_stream_store_streamed_bodies.txt",
        "dumper_h2_synthetic.txt",
    ],
)
def test_same_information_as_baseline_recorded(name):
    """What bench_mitmlog compares is the same information: every field the plain-Python
    parser produces (bodies zero-copy or de-indented, headers unescaped) is equal."""
    _same_as_baseline((DATA / name).read_bytes())


def test_same_information_as_baseline_synthetic(tmp_path):
    _same_as_baseline(synth_v11().encode("utf-8"))
    lines = (DATA / "dumper_tty_colors_repr.txt").read_text().splitlines()
    _same_as_baseline(ast.literal_eval(lines[1]).encode("utf-8"))
    p = tmp_path / "bench.log"
    generate(p, 0.3)
    _same_as_baseline(p.read_bytes())
