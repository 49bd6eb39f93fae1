"""Per-body fidelity set by each reader (model.py's `BodyFidelity`) and shown by the reports.

Golden values for the recorded mitmproxy test data (tests/data/mitmproxy: six flows
`/json`, `/sse`, `/es`, `/big` (600 lines), `/bin`, `/empty`), synthetic and real mitmproxy 11 logs,
and captures built here."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from fastcap.analysis.calls import calls_table
from fastcap.cli import main
from fastcap.dialects import analyze_exchange
from fastcap.formats import read_exchanges
from fastcap.formats.jsonl import exchange_from_record
from fastcap.formats.mitmlog import read_mitmlog, read_mitmlog_text
from fastcap.formats.writers import write_cbor, write_jsonl
from fastcap.model import Exchange
from fastcap.reports import write_reports
from helpers import DATA as TEST_DATA
from helpers import DEMO
from helpers.addon_context import addon_context
from helpers.mitmlog_logs import BINARY, synth_v11

DATA = TEST_DATA / "mitmproxy"
PATHS = ["/json", "/sse", "/es", "/big", "/bin", "/empty"]


def _fid(exs: list[Exchange]) -> dict[str, tuple[str, str]]:
    return {e.url.rsplit(":18081", 1)[-1]: (e.request_body_fidelity, e.response_body_fidelity) for e in exs}


# --- mitmdump text logs ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["mitmdump_live_flow_detail3.txt", "mitmdump_replay_flow_detail3.txt"])
def test_mitmlog_12_flow_detail3(name: str) -> None:
    assert _fid(read_mitmlog(DATA / name)) == {
        "/json": ("json_value", "json_value"),  # JSON view: re-indented
        "/sse": ("json_value", "from_text_log"),  # raw view of text: characters kept, line ends not
        "/es": ("json_value", "recovered_from_text"),  # EventStream printed as lossy text
        "/big": ("from_text_log", "from_text_log"),  # 12.x prints all 600 lines, then "(cut off)"
        "/bin": ("from_text_log", "recovered_from_text"),
        "/empty": ("from_text_log", "complete"),  # 204: no body lines
    }


@pytest.mark.parametrize("name", ["mitmdump_replay_flow_detail1.txt", "mitmdump_replay_flow_detail2.txt"])
def test_mitmlog_without_bodies(name: str) -> None:
    assert set(_fid(read_mitmlog(DATA / name)).values()) == {("missing", "missing")}


def test_mitmlog_streamed_bodies() -> None:
    assert set(_fid(read_mitmlog(DATA / "mitmdump_live_stream_large_bodies.txt")).values()) == {
        ("missing", "missing")
    }
    stored = _fid(read_mitmlog(DATA / "mitmdump_live_stream_store_streamed_bodies.txt"))
    assert stored == {"/sse": ("json_value", "from_text_log"), "/json": ("json_value", "json_value")}


def test_mitmlog_11_hexdump_cut_off_and_missing(tmp_path: Path) -> None:
    p = tmp_path / "raw.log"
    p.write_bytes(synth_v11().encode("utf-8"))
    a, b, c = read_mitmlog(p)
    assert (a.request_body_fidelity, a.response_body_fidelity) == ("recovered_from_text", "decoded_from_hex")
    assert a.response_body == BINARY
    assert (b.request_body_fidelity, b.response_body_fidelity) == ("truncated", "missing")  # 512 of the lines
    assert (c.request_body_fidelity, c.response_body_fidelity) == (
        "complete",
        "missing",
    )  # error, no response


def test_mitmlog_from_the_real_mitmproxy11_dumper() -> None:
    from mitmproxy import version as mversion

    if not mversion.VERSION.startswith("11."):
        pytest.skip("the 11.x rendering needs mitmproxy 11")
    from mitmproxy.addons import dumper
    from mitmproxy.test import tflow

    buf = io.StringIO()
    d = dumper.Dumper(buf)
    with addon_context(d) as ctx:
        ctx.configure(d, flow_detail=3, showhost=True)
        f1 = tflow.tflow(resp=True)
        f1.response.headers["content-type"] = "application/octet-stream"
        f1.response.content = BINARY
        d.response(f1)
        f2 = tflow.tflow(resp=True)
        f2.response.headers["content-type"] = "text/plain"
        f2.response.content = "\n".join(f"line {i}" for i in range(600)).encode()
        d.response(f2)
        f3 = tflow.tflow(resp=True)
        f3.response.content = None
        d.response(f3)
    e1, e2, e3 = read_mitmlog_text(buf.getvalue())
    assert e1.response_body_fidelity == "decoded_from_hex" and e1.response_body == BINARY
    assert e2.response_body_fidelity == "truncated"
    assert e3.response_body_fidelity == "missing"


# --- flow files, HAR, JSONL, CBOR ------------------------------------------------------------------


def test_mitm_flow_file_bodies_are_complete_or_missing(tmp_path: Path) -> None:
    assert set(_fid(read_exchanges(DATA / "flows_v21.mitm")).values()) == {("complete", "complete")}
    from mitmproxy import io as mio
    from mitmproxy.test import tflow

    flow = tflow.tflow(resp=True)
    flow.response.headers["content-type"] = "text/event-stream"
    flow.response.raw_content = None  # streamed, store_streamed_bodies off
    path = tmp_path / "streamed.mitm"
    with path.open("wb") as fo:
        mio.FlowWriter(fo).add(flow)
    (ex,) = read_exchanges(path)
    assert (ex.request_body_fidelity, ex.response_body_fidelity) == ("complete", "missing")


def test_har_bodies(tmp_path: Path) -> None:
    # Base64 and latin-1-decoded text bodies give the exact bytes back (docs/specs/mitmproxy.md §6).
    assert set(_fid(read_exchanges(DATA / "hardump.har")).values()) == {("complete", "complete")}
    entry = json.loads((DATA / "hardump.har").read_text())["log"]["entries"][0]
    entry["response"]["content"].pop("text")  # a HAR writer that leaves bodies out
    entry["response"]["content"]["size"] = 10
    entry["request"]["postData"]["text"] = "caf\u00e9 \u2603"  # not encodable in the declared charset
    entry["request"]["postData"]["mimeType"] = "text/plain; charset=latin-1"
    har = tmp_path / "edited.har"
    har.write_text(json.dumps({"log": {"entries": [entry]}}))
    (ex,) = read_exchanges(har)
    assert (ex.request_body_fidelity, ex.response_body_fidelity) == ("recovered_from_text", "missing")


def test_jsonl_bodies() -> None:
    def rec(body: object, ext: dict[str, object] | None = None, response: bool = True) -> Exchange:
        r: dict[str, object] = {
            "timestamp": 1.0,
            "request": {"method": "POST", "url": "https://x/", "body": body},
        }
        if response:
            r["response"] = {"status_code": 200, "headers": {}, "body": body}
        if ext:
            r["fastcap"] = ext
        return exchange_from_record(0, r)

    assert (rec({"a": 1}).request_body_fidelity, rec({"a": 1}).response_body_fidelity) == (
        "json_value",
        "json_value",
    )
    assert rec("data: x\n\n").response_body_fidelity == "complete"  # valid UTF-8 text: exact bytes
    assert rec("bad \ufffd bytes").response_body_fidelity == "recovered_from_text"
    assert rec(None).response_body_fidelity == "complete"  # null: an empty body
    assert rec(None, response=False).response_body_fidelity == "missing"
    exact = {"response_body_b64": base64.b64encode(b"\x00\x01").decode()}
    assert rec("x", exact).response_body_fidelity == "complete"
    declared = {"response_body_fidelity": "truncated", "request_body_fidelity": "from_text_log"}
    assert (rec("x", declared).request_body_fidelity, rec("x", declared).response_body_fidelity) == (
        "from_text_log",
        "truncated",
    )


def test_cbor_stream_without_end_is_truncated() -> None:
    exs = read_exchanges(DEMO)
    assert [e.response_body_fidelity for e in exs] == ["complete"] * 3 + ["truncated"] + ["complete"] * 3
    assert {e.request_body_fidelity for e in exs} == {"complete"}


@pytest.mark.parametrize("suffix", [".cbor", ".jsonl"])
def test_fidelity_survives_conversion(tmp_path: Path, suffix: str) -> None:
    """A log body written into a capture keeps saying what it was (extension key `fid` / fastcap ext)."""
    original = read_mitmlog(DATA / "mitmdump_live_flow_detail3.txt")
    out = tmp_path / f"from_log{suffix}"
    (write_cbor if suffix == ".cbor" else write_jsonl)(original, out)
    again = read_exchanges(out)
    assert _fid(again) == _fid(original)
    assert again[1].response_body == (original[1].response_body_text or "").encode()  # the SSE text is kept


# --- what the reports show -------------------------------------------------------------------------


def test_per_call_report_notes_and_exchanges_tables(tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert (
        main(["analyze", str(DATA / "mitmdump_live_flow_detail3.txt"), "--out", str(out), "-q", "--parquet"])
        == 0
    )
    files = sorted(p.name for p in out.glob("0*.md"))
    es = (out / files[2]).read_text()
    assert (
        "> Body recovered from the mitmdump text log; binary content is lossy. Fidelity: `recovered_from_text`."
        in es
    )
    assert "> Events recovered from the mitmdump text log; frame checksums could not be verified." in es
    js = (out / files[0]).read_text()
    request_part = js.split("## Response")[0]
    assert (
        "> Body is the JSON value the source recorded, not its exact bytes. Fidelity: `json_value`."
        in request_part
    )
    big = (out / files[3]).read_text()
    assert "Fidelity: `from_text_log`" in big and "truncated" not in big  # 12.x printed the whole body
    empty = (out / files[5]).read_text()
    assert "### Response Body\n\n(empty)\n" in empty
    # The exchanges tables: analysis.md's Calls table and calls.parquet.
    analysis = (out / "analysis.md").read_text()
    assert "| Bodies (req / resp) |" in analysis and "| json_value / recovered_from_text |" in analysis
    import polars as pl

    calls = pl.read_parquet(out / "calls.parquet")
    assert calls["response_body_fidelity"].to_list() == [
        "json_value",
        "from_text_log",
        "recovered_from_text",
        "from_text_log",
        "recovered_from_text",
        "complete",
    ]


def test_truncated_and_missing_notes(tmp_path: Path) -> None:
    p = tmp_path / "raw.log"
    p.write_bytes(synth_v11().encode("utf-8"))
    result = write_reports(read_mitmlog(p), tmp_path / "r", styles=("calls", "session"))
    second = (tmp_path / "r" / result.call_files[1].name).read_text()
    assert (
        "> Body truncated by mitmdump (flow_detail=3 cut-off at 512 lines). Fidelity: `truncated`." in second
    )
    assert (
        "> Body not in the mitmdump log (streamed and not stored, or flow_detail below 3). Fidelity: `missing`."
        in second
    )
    assert "(content missing)" in second
    first = (tmp_path / "r" / result.call_files[0].name).read_text()
    assert "> Body decoded from the mitmdump hex dump (exact bytes). Fidelity: `decoded_from_hex`." in first
    findings = (tmp_path / "r" / "report.md").read_text().split("## Notable Findings")[1]
    assert "request body truncated, response body missing" in findings


def test_calls_table_carries_fidelity() -> None:
    table = calls_table([analyze_exchange(ex) for ex in read_exchanges(DEMO)])
    assert table["response_body_fidelity"].to_list()[3] == "truncated"
    assert set(table["request_body_fidelity"].to_list()) == {"complete"}


def test_capture_addon_max_body_marks_bodies_truncated(tmp_path: Path) -> None:
    from fastcap.capture.core import Capture
    from mitmproxy.http import Response
    from mitmproxy.test import tflow

    addon = Capture()
    with addon_context(addon) as tctx:
        tctx.configure(addon, fastcap_out=str(tmp_path), fastcap_session="cut", fastcap_max_body=16)
        streamed = tflow.tflow()
        streamed.request.content = b'{"model":"m","stream":true,"padding":"' + b"x" * 40 + b'"}'
        addon.request(streamed)
        streamed.response = Response.make(200, b"", {"content-type": "text/event-stream"})
        addon.responseheaders(streamed)
        tee = streamed.response.stream
        for chunk in (b"data: {}\n\n" * 3, b"data: [DONE]\n\n", b""):
            tee(chunk)
        addon.response(streamed)
        whole = tflow.tflow()
        addon.request(whole)
        whole.response = Response.make(
            200, b'{"a":"' + b"y" * 40 + b'"}', {"content-type": "application/json"}
        )
        addon.responseheaders(whole)
        addon.response(whole)
        small = tflow.tflow()
        small.request.content = b"{}"
        addon.request(small)
        small.response = Response.make(200, b"{}", {"content-type": "application/json"})
        addon.responseheaders(small)
        addon.response(small)
        addon.done()
    a, b, c = read_exchanges(tmp_path / "cut.cbor")
    assert (a.request_body_fidelity, a.response_body_fidelity) == ("truncated", "truncated")
    assert a.response_body == (b"data: {}\n\n" * 3)[:16]
    assert b.response_body_fidelity == "truncated"
    assert (c.request_body_fidelity, c.response_body_fidelity) == ("complete", "complete")
