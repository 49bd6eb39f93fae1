"""HTTP trailers: kept on the Exchange from `.mitm` flow files and the live capture addon, carried
through CBOR (fastcap's `trl` extension key; V2 has no field for them) and JSONL, and shown,
redacted like headers, in the per-call report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from fastcap.capture.core import Capture
from fastcap.cli import main
from fastcap.formats import read_exchanges
from fastcap.reports import write_reports
from helpers.addon_context import addon_context
from mitmproxy import io as mio
from mitmproxy.http import Headers, Response
from mitmproxy.test import tflow

SECRET = "tr41ler-s3cret-value"
RESP_TRAILERS = [("grpc-status", "0"), ("x-checksum", "sha256=abc123"), ("x-upstream-token", SECRET)]
REQ_TRAILERS = [("x-request-digest", "crc32c=1a2b")]


def _headers(pairs: list[tuple[str, str]]) -> Headers:
    return Headers([(k.encode(), v.encode()) for k, v in pairs])


def _flow() -> Any:
    f = tflow.tflow(resp=True)
    f.request.host, f.request.port, f.request.scheme = "api.example.com", 443, "https"
    f.request.method, f.request.path = "POST", "/v1/stream"
    f.request.headers = Headers(host="api.example.com", **{"content-type": "application/json"})
    f.request.content = b'{"q": 1}'
    f.request.trailers = _headers(REQ_TRAILERS)
    f.response = Response.make(200, b"data: {}\n\n", {"content-type": "text/event-stream"})
    f.response.trailers = _headers(RESP_TRAILERS)
    return f


@pytest.fixture
def mitm_file(tmp_path: Path) -> Path:
    path = tmp_path / "trailers.mitm"
    with path.open("wb") as fo:
        writer = mio.FlowWriter(fo)
        writer.add(_flow())
        plain = tflow.tflow(resp=True)  # no trailers at all
        writer.add(plain)
    return path


def test_mitm_reader_keeps_trailers(mitm_file: Path) -> None:
    with_trailers, without = read_exchanges(mitm_file)
    assert with_trailers.response_trailers == RESP_TRAILERS
    assert with_trailers.request_trailers == REQ_TRAILERS
    assert without.response_trailers == [] and without.request_trailers == []


def test_per_call_report_shows_trailers_redacted(mitm_file: Path, tmp_path: Path) -> None:
    result = write_reports(read_exchanges(mitm_file), tmp_path / "r", styles=("calls",))
    assert result.leak_scan == "passed"
    first, second = (p.read_text() for p in result.call_files)
    response_part = first.split("\n## Response\n")[1]
    assert response_part.index("### Response Body") < response_part.index("### Response Trailers")
    assert (
        "### Response Trailers\n\n```\ngrpc-status: 0\nx-checksum: sha256=abc123\nx-upstream-token: [REDACTED]\n```\n"
        in response_part
    )
    assert (
        "### Request Trailers\n\n```\nx-request-digest: crc32c=1a2b\n```\n"
        in first.split("\n## Response\n")[0]
    )
    assert SECRET not in first
    assert "Trailers" not in second  # the template is unchanged without trailers


@pytest.mark.parametrize("suffix", [".cbor", ".jsonl"])
def test_trailers_survive_conversion(mitm_file: Path, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"converted{suffix}"
    assert main(["convert", str(mitm_file), str(out)]) == 0
    converted = read_exchanges(out)[0]
    assert converted.response_trailers == [*RESP_TRAILERS[:2], ("x-upstream-token", "[REDACTED]")]
    assert converted.request_trailers == REQ_TRAILERS
    raw = tmp_path / f"raw{suffix}"
    assert main(["convert", str(mitm_file), str(raw), "--no-redact"]) == 0
    assert read_exchanges(raw)[0].response_trailers == RESP_TRAILERS


def test_parquet_has_trailer_columns(mitm_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    assert main(["convert", str(mitm_file), str(out)]) == 0
    row = pl.read_parquet(out).row(0, named=True)
    assert [(t["name"], t["value"]) for t in row["response_trailers"]][-1] == (
        "x-upstream-token",
        "[REDACTED]",
    )


def _capture(tmp_path: Path, *, stream: bool) -> Path:
    addon = Capture()
    with addon_context(addon) as tctx:
        tctx.configure(addon, fastcap_out=str(tmp_path), fastcap_session="live", fastcap_format="both")
        f = _flow()
        addon.request(f)
        headers = (
            {"content-type": "text/event-stream"}
            if stream
            else {"content-type": "application/json", "content-length": "2"}
        )
        f.response = Response.make(200, b"" if stream else b"{}", headers)
        addon.responseheaders(f)
        if stream:
            tee = f.response.stream
            tee(b"data: {}\n\n")
            tee(b"")
        # mitmproxy sets trailers once the body (and the trailer block after it) has arrived.
        f.response.trailers = _headers(RESP_TRAILERS)
        addon.response(f)
        addon.done()
    return tmp_path / "live.cbor"


@pytest.mark.parametrize("stream", [True, False])
def test_live_capture_addon_records_trailers(tmp_path: Path, stream: bool) -> None:
    cbor = _capture(tmp_path, stream=stream)
    (ex,) = read_exchanges(cbor)
    redacted = [*RESP_TRAILERS[:2], ("x-upstream-token", "[REDACTED]")]
    assert ex.response_trailers == redacted and ex.request_trailers == REQ_TRAILERS
    line = orjson.loads((tmp_path / "traffic.jsonl").read_bytes().splitlines()[0])
    assert line["fastcap"]["response_trailers"] == [list(p) for p in redacted]
    (from_jsonl,) = read_exchanges(tmp_path / "traffic.jsonl")
    assert from_jsonl.response_trailers == redacted and from_jsonl.request_trailers == REQ_TRAILERS
    assert (
        SECRET.encode() not in cbor.read_bytes()
        and SECRET.encode() not in (tmp_path / "traffic.jsonl").read_bytes()
    )


def test_mitmdump_log_trailers_are_kept() -> None:
    from fastcap.formats.mitmlog import read_mitmlog_text

    log = (
        "127.0.0.1:5000: POST https://x.test/a\n    content-type: text/plain\n\n    hello\n\n"
        " << 200 OK 2b\n    content-type: text/plain\n\n    hi\n\n    --- HTTP Trailers\n    grpc-status: 0\n\n"
    )
    (ex,) = read_mitmlog_text(log)
    assert ex.response_body_text == "hi"  # the trailer block is not taken for body text
    assert ex.response_trailers == [("grpc-status", "0")] and ex.request_trailers == []
