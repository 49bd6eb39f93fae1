""".mitm, HAR and traffic.jsonl readers, cross-format agreement, EventStream recovery from text,
format detection and clean errors on bad input."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest
from fastcap import _native
from fastcap.formats import (
    FlowFileError,
    FormatError,
    FormatWarning,
    HarFormatError,
    JsonlFormatError,
    MitmLogError,
    UnknownFormatError,
    detect_format,
    read_exchanges,
    recover_eventstream_frames,
)
from fastcap.formats.eventstream_text import hexdump_to_bytes
from helpers import DATA as TEST_DATA

DATA = TEST_DATA / "mitmproxy"
PATHS = ["/json", "/sse", "/es", "/big", "/bin", "/empty"]
LOGS = [
    "mitmdump_live_flow_detail3.txt",
    "mitmdump_replay_flow_detail1.txt",
    "mitmdump_replay_flow_detail2.txt",
    "mitmdump_replay_flow_detail3.txt",
    "mitmdump_live_stream_large_bodies.txt",
    "mitmdump_live_stream_store_streamed_bodies.txt",
    "dumper_h2_synthetic.txt",
]
ES_TYPES = ["assistantResponseEvent", "toolUseEvent"]
ES_PAYLOADS = [
    {"content": "Hello"},
    {"name": "fs_read", "toolUseId": "tooluse_1", "input": '{"path":', "stop": False},
]

pytest.importorskip("mitmproxy")


@pytest.fixture(scope="module")
def mitm():
    return read_exchanges(DATA / "flows_v21.mitm")


@pytest.fixture(scope="module")
def har():
    return read_exchanges(DATA / "hardump.har")


@pytest.fixture(scope="module")
def log():
    return read_exchanges(DATA / "mitmdump_live_flow_detail3.txt")


def test_mitm_reader(mitm):
    assert [e.url for e in mitm] == [f"http://127.0.0.1:18081{p}" for p in PATHS]
    assert [e.status for e in mitm] == [200, 200, 200, 200, 200, 204]
    assert all(e.source == "mitm" and e.fidelity == "exact" for e in mitm)
    assert [len(e.response_body) for e in mitm] == [90, 245, 301, 10090, 1024, 0]
    assert mitm[4].response_body == bytes(range(256)) * 4
    assert all(e.started_at and e.request_ended_at and e.response_started_at and e.ended_at for e in mitm)
    assert all(e.started_at <= e.request_ended_at <= e.response_started_at <= e.ended_at for e in mitm)
    assert mitm[0].request_headers[0] == ("Host", "127.0.0.1:18081")


def test_har_reader_latin1_recovery(har, mitm):
    assert all(e.source == "har" for e in har)
    raw = json.loads((DATA / "hardump.har").read_text())
    es_text = raw["log"]["entries"][2]["response"]["content"]["text"]
    assert "encoding" not in raw["log"]["entries"][2]["response"]["content"]
    assert har[2].response_body == es_text.encode("latin-1")
    assert har[4].response_body == bytes(range(256)) * 4
    for h, m in zip(har, mitm, strict=True):
        assert h.response_body == m.response_body
        assert h.request_body == m.request_body
        assert h.started_at == pytest.approx(m.started_at, abs=1e-3)
        assert h.ended_at == pytest.approx(m.ended_at, abs=1e-3)
        assert h.response_started_at == pytest.approx(m.response_started_at, abs=1e-3)


def test_three_readers_agree(log, mitm, har):
    for lg, m, h in zip(log, mitm, har, strict=True):
        assert lg.method == m.method == h.method == "POST"
        assert lg.url == m.url == h.url
        assert lg.status == m.status == h.status
        assert lg.request_headers == m.request_headers == h.request_headers
        assert lg.response_headers == m.response_headers == h.response_headers
    # exact where the log is exact: JSON values, SSE text minus the trailing blank line, /big
    assert json.loads(log[0].response_body_text) == json.loads(m_body(mitm[0]))
    assert json.loads(log[0].request_body_text) == json.loads(mitm[0].request_body)
    assert log[1].response_body_text == m_body(mitm[1]).strip()
    assert log[3].response_body_text == m_body(mitm[3]).strip()
    assert log[1].response_body_text == har[1].response_body.decode("utf-8").strip()


def m_body(e):
    return e.response_body.decode("utf-8")


def test_eventstream_recovery_from_log(log):
    frames = recover_eventstream_frames(log[2].response_body_text)
    assert [f["event_type"] for f in frames] == ES_TYPES
    assert [json.loads(f["payload"]) for f in frames] == ES_PAYLOADS
    assert all(f["verified"] is False and f["message_type"] == "event" for f in frames)
    assert all(f["headers"][":content-type"] == "application/json" for f in frames)


@pytest.mark.parametrize("reader", ["mitm", "har"])
def test_eventstream_exact_decoding_agrees(reader, mitm, har):
    ex = (mitm if reader == "mitm" else har)[2]
    result = _native.decode_eventstream(ex.response_body)
    frames = result["frames"]
    assert not result["errors"]
    assert [f["event_type"] for f in frames] == ES_TYPES
    assert [json.loads(f["payload"]) for f in frames] == ES_PAYLOADS


def test_eventstream_recovery_spec_example_and_broken_line():
    spec = (
        ".......\\|}\\xb5\\xa8.:event-type...assistantResponseEvent\n"
        ":content-type...application/json\n"
        ':message-type...event{"content":"Hello"}\\x9b].5...\\xae...R/P\\xceF.:event-type...toolUseEvent\n'
        ":content-type...application/json\n"
        ':message-type...event{"name":"fs_read","toolUseId":"tooluse_1","input":"{\\"path\\":","stop":false}\\xc9\\xf3$\\xf7'
    )
    frames = recover_eventstream_frames(spec)
    assert [f["event_type"] for f in frames] == ES_TYPES
    assert [json.loads(f["payload"]) for f in frames] == ES_PAYLOADS
    # a 13-byte value: the 0x0d length byte splits ":event-type.." from "meteringEvent" (11.x: CRLF)
    broken = (
        "...\\x8a.:event-type..\r\nmeteringEvent\r\n:content-type...application/json\r\n"
        ':message-type...event{"unit":"credit","unitPlural":"credits","usage":0.17618616013267}\\xab'
    )
    frames = recover_eventstream_frames(broken)
    assert [f["event_type"] for f in frames] == ["meteringEvent"]
    assert json.loads(frames[0]["payload"])["usage"] == 0.17618616013267
    # exception frame
    exc = ':exception-type...ThrottlingException\n:content-type...application/json\n:message-type...exception{"message":"slow down"}'
    (f,) = recover_eventstream_frames(exc)
    assert f["exception_type"] == "ThrottlingException" and f["message_type"] == "exception"


def test_eventstream_recovery_reports_line_separator_split():
    text = ':event-type...assistantResponseEvent\n:message-type...event{"content":"a\nb"}..'
    (f,) = recover_eventstream_frames(text)
    assert "line separator" in f["error"] and f["repaired"] is True
    assert json.loads(f["payload"]) == {"content": "a\u2028b"}
    (g,) = recover_eventstream_frames(':event-type...x\n:message-type...event{"content": broken}')
    assert "not valid JSON" in g["error"]


def test_eventstream_hexdump_is_exact(mitm):
    body = mitm[2].response_body
    lines = []
    for i in range(0, len(body), 16):
        part = body[i : i + 16]
        hexa = " ".join(f"{b:02x}" for b in part).ljust(47)
        lines.append(f"{i:010x} {hexa}   " + "".join(chr(b) if 32 <= b < 127 else "." for b in part))
    text = "\r\n".join(lines)
    assert hexdump_to_bytes(text) == body
    frames = recover_eventstream_frames(text)
    assert [f["event_type"] for f in frames] == ES_TYPES
    assert [json.loads(f["payload"]) for f in frames] == ES_PAYLOADS
    assert all(f["verified"] for f in frames)


# --- JSONL --------------------------------------------------------------------------------------


def _jsonl_record(**over):
    rec = {
        "timestamp": 1707123456.1,
        "request": {
            "method": "POST",
            "url": "https://api.openai.com/v1/responses",
            "headers": {"content-type": "application/json"},
            "body": {"model": "o4-mini", "stream": True},
        },
        "response": {
            "status_code": 200,
            "headers": {"content-type": "text/event-stream"},
            "body": 'event: response.output_text.delta\ndata: {"delta": "Hi"}\n\n',
        },
    }
    rec.update(over)
    return rec


def test_jsonl_reader_and_malformed_lines(tmp_path, capsys):
    body = b"data: one\n\ndata: two\n\n"
    ext = {
        "started_at": 1707123455.0,
        "response_started_at": 1707123455.5,
        "ended_at": 1707123456.1,
        "response_body_b64": base64.b64encode(body).decode(),
        "chunks": [{"t": 1707123455.6, "len": 11}, {"t": 1707123456.0, "len": 11}],
    }
    lines = [
        json.dumps(_jsonl_record()),
        "{not json",
        json.dumps(_jsonl_record(fastcap=ext)),
        "",
        json.dumps([1, 2]),
        json.dumps(_jsonl_record(response={"status_code": 500, "headers": {}, "body": "bad \ufffd bytes"})),
        '{"timestamp": 1, "request": {"method": "GET", "url": "http://x/"}, "response": {"status_code": 2',
    ]
    p = tmp_path / "traffic.jsonl"
    p.write_text("\n".join(lines) + "\n")
    assert detect_format(p) == "jsonl"
    # Malformed lines inside the file are damage: strict reading raises, with the records kept.
    with pytest.raises(JsonlFormatError) as ei:
        read_exchanges(p)
    assert len(ei.value.exchanges) == 3 and ei.value.offset == len(lines[0]) + 1
    with pytest.warns(FormatWarning) as caught:
        exs = read_exchanges(p, strict=False)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line.encode()) + 1)
    assert [str(w.message).split(", expected")[0] for w in caught] == [
        f"{p}: byte {offsets[1]}: line 2 malformed",
        f"{p}: byte {offsets[4]}: line 5 malformed",
        f"{p}: byte {offsets[6]}: line 7 malformed",
    ]
    assert len(exs) == 3
    a, b, c = exs
    assert a.source == "jsonl" and a.method == "POST" and a.status == 200
    assert a.request_headers == [("content-type", "application/json")]
    assert a.request_body_fidelity == "json_value" and a.request_body_text is None
    assert json.loads(a.request_body) == {"model": "o4-mini", "stream": True}
    assert a.response_body == b'event: response.output_text.delta\ndata: {"delta": "Hi"}\n\n'
    assert a.fidelity == "exact" and "request_json_value" in a.flags and a.ended_at == 1707123456.1
    assert b.response_body == body and b.fidelity == "exact"
    assert [ch.data for ch in b.chunks] == [b"data: one\n\n", b"data: two\n\n"]
    assert b.chunks[0].t == 1707123455.6 and b.started_at == 1707123455.0
    assert c.status == 500 and "lossy_binary" in c.flags and c.response_body is None
    assert c.response_body_text == "bad \ufffd bytes"


def test_jsonl_all_malformed_is_an_error(tmp_path):
    p = tmp_path / "t.jsonl"
    p.write_text('{"a": 1}\n{"b": 2}\n')
    with pytest.raises(JsonlFormatError) as ei:
        read_exchanges(p, fmt="jsonl")
    assert ei.value.offset == 0 and str(p) in str(ei.value)


# --- detection and bad input --------------------------------------------------------------------


@pytest.mark.parametrize("name", LOGS)
def test_detect_logs(name):
    assert detect_format(DATA / name) == "mitmlog"


def test_detect_other_formats(tmp_path):
    assert detect_format(DATA / "flows_v21.mitm") == "mitm"
    assert detect_format(DATA / "hardump.har") == "har"
    cbor = DATA.parent / "cbor" / "sample_v2_generated.cbor"
    assert detect_format(cbor) == "cbor"
    # content wins over the name
    renamed = tmp_path / "capture.txt"
    renamed.write_bytes((DATA / "flows_v21.mitm").read_bytes())
    assert detect_format(renamed) == "mitm"
    one_line_har = tmp_path / "x.jsonl"
    one_line_har.write_text(json.dumps({"log": {"entries": []}}))
    assert detect_format(one_line_har) == "har"


def test_all_logs_read(tmp_path):
    counts = {name: len(read_exchanges(DATA / name)) for name in LOGS}
    assert counts == {
        "mitmdump_live_flow_detail3.txt": 6,
        "mitmdump_replay_flow_detail1.txt": 6,
        "mitmdump_replay_flow_detail2.txt": 6,
        "mitmdump_replay_flow_detail3.txt": 6,
        "mitmdump_live_stream_large_bodies.txt": 2,
        "mitmdump_live_stream_store_streamed_bodies.txt": 2,
        "dumper_h2_synthetic.txt": 3,
    }


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"


@pytest.mark.parametrize(
    ("content", "fmt", "exc", "kind"),
    [
        (b"", None, UnknownFormatError, "empty"),
        (b"  \n\n", None, UnknownFormatError, "empty"),
        (PNG, None, UnknownFormatError, "unknown_format"),
        (PNG, "mitmlog", MitmLogError, "binary"),
        (PNG, "har", HarFormatError, "bad_utf8"),
        (b"hello\nworld\n", None, UnknownFormatError, "unknown_format"),
        (b'{"log": {"entries": [', "har", HarFormatError, "truncated"),
        (b'{"log": 5}', "har", HarFormatError, "no_entries"),
    ],
)
def test_bad_inputs_give_clean_errors(tmp_path, content, fmt, exc, kind):
    p = tmp_path / "input.bin"
    p.write_bytes(content)
    with pytest.raises(exc) as ei:
        read_exchanges(p, fmt=fmt)
    e = ei.value
    assert isinstance(e, FormatError) and isinstance(e, ValueError)
    assert e.kind == kind and e.path == str(p) and isinstance(e.offset, int)
    msg = str(e)
    assert "\n" not in msg and msg.startswith(f"{p}: byte {e.offset}: ")


def test_truncated_mitm_keeps_complete_flows(tmp_path):
    """A file cut inside its last record is a truncated tail: the complete flows are returned and the
    cut is a warning naming the record's offset (issue 11: it used to raise and lose every flow)."""
    data = (DATA / "flows_v21.mitm").read_bytes()
    p = tmp_path / "cut.mitm"
    p.write_bytes(data[: len(data) - 500])
    with pytest.warns(FormatWarning, match=r"cut\.mitm: byte 21526: file ends inside flow record 5"):
        exs = read_exchanges(p)
    assert [e.url.rsplit("/", 1)[1] for e in exs] == ["json", "sse", "es", "big", "bin"]
    # A corrupt record inside the file is damage: raised, with the flows before it kept.
    bad = bytearray(data)
    at = data.index(b"request", 5000)
    bad[at] = ord("X")
    p.write_bytes(bytes(bad))
    with pytest.raises(FlowFileError) as ei:
        read_exchanges(p)
    assert len(ei.value.exchanges) == 3 and ei.value.offset == 6530 and ei.value.kind == "bad_record"
    assert "\n" not in str(ei.value)
    with pytest.warns(FormatWarning, match="byte 6530: unreadable flow record 3"):
        recovered = read_exchanges(p, recover=True)
    assert [e.url.rsplit("/", 1)[1] for e in recovered] == ["json", "sse", "es", "bin", "empty"]


def test_cli_style_error_is_one_line(tmp_path):
    """No traceback: the error message is what a CLI prints."""
    p = tmp_path / "empty.log"
    p.write_bytes(b"")
    code = (
        "import sys\nfrom fastcap.formats import read_exchanges, FormatError\n"
        f"try:\n    read_exchanges({str(p)!r})\nexcept FormatError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.count("\n") == 1 and "empty file" in out.stdout and not out.stderr.strip()
