"""`fastcap inspect` on fastcap's own captures (P->B / B->P only), the shared §9 fixture, and
damaged files."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastcap.cli import main
from helpers import DATA
from helpers.golden_capture import write_fastcap, write_golden

SAMPLE = DATA / "cbor" / "sample_v2_generated.cbor"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(["inspect", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def fastcap_capture(tmp_path: Path) -> Path:
    return write_fastcap(tmp_path / "fastcap-demo.cbor")


def test_fastcap_capture_analyze(fastcap_capture: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, str(fastcap_capture), "--analyze", "--status-summary")
    assert rc == 0
    assert "Requests: 2\n" in out
    assert "  PROXY_TO_BACKEND: 2\n  BACKEND_TO_PROXY: 8\n" in out
    r1 = out[out.index("--- REQUEST #1 ---") : out.index("--- REQUEST #2 ---")]
    assert "Model: claude-sonnet-4-5\n" in r1
    assert "Timing: TTFT=0.800s, Duration=1.300s, Stream=0.800s" in r1
    assert "Backend models: claude-sonnet-4-5\n" in r1
    assert "Backend content: 12 chars, 1 tool_calls (Bash)\n" in r1  # "Hello" + ", world"
    assert "Usage: input=12, output=9\n" in r1
    assert "Stop reason: tool_use\n" in r1
    assert "Client received" not in out  # no P->C leg in a fastcap capture
    r2 = out[out.index("--- REQUEST #2 ---") :]
    assert "Status: 529, non-stream" in r2
    assert "  [!] [server_error] HTTP 529: overloaded_error: Overloaded" in r2
    assert "  B->P (backend responses, 2 requests):\n    200: 1 (50.0%)\n    529: 1 (50.0%)" in out


def test_fastcap_capture_issues_streaming_track(
    fastcap_capture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, _ = run(
        capsys, str(fastcap_capture), "--detect-issues", "--analyze-streaming", "--track-request", "1"
    )
    assert rc == 0
    assert (
        "1 issue in 1 class\n"
        "  [server_error] ×1  server error: HTTP 5xx (529 included)\n"
        "    #02 Anthropic.Messages HTTP 529: overloaded_error: Overloaded (entry [9])\n"
    ) in out
    assert "missing_response" not in out
    assert "--- Stream #1 (Entry [0]) ---\n  Time to First Token: 0.800s" in out
    assert "  Chunks: 4\n" in out
    assert "Request initiated at entry [0]" in out
    assert "  [START] [0] P->B  Forwarded to backend (t=0.000s)" in out
    assert "  [B->P] [3] Content chunk (+1 other events) (t=0.900s)" in out
    assert "  [B->P] [5] Tool call response (+2 other events) (t=1.100s)" in out
    assert "  [B->P] [7] End of stream: response_completed (normal) (t=1.300s)" in out


def test_fastcap_capture_redacts_x_api_key(fastcap_capture: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, str(fastcap_capture), "--entry", "0")
    assert rc == 0
    assert "    x-api-key: [REDACTED]" in out and "sk-ant" not in out


def test_fastcap_capture_missing_response(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from helpers.golden_capture import encode, fastcap_entries

    entries = [e for e in fastcap_entries() if e[2] not in (6, 7, 9)]  # no se/EoS, no 529 answer
    path = tmp_path / "cut.cbor"
    path.write_bytes(encode("cut", 1700001000.0, entries))
    rc, out, _ = run(capsys, str(path), "--detect-issues")
    assert rc == 0
    # Request 1's stream lost its end marker and completion entry, but it reached its stop
    # reason (tool_use): it finished, so it is not a cut stream (docs/metrics.md).
    assert "cut_stream" not in out
    assert "  [missing_response] ×1  " in out
    assert "    #02 Anthropic.Messages: forwarded, no backend response (entry [8])" in out


def test_shared_sample_fixture(capsys: pytest.CaptureFixture[str]) -> None:
    if not SAMPLE.exists():
        pytest.skip("shared fixture not present")
    rc, out, err = run(
        capsys, str(SAMPLE), "--analyze", "--analyze-streaming", "--detect-issues", "--status-summary"
    )
    assert rc == 0 and err == ""
    assert "Session ID: proxy-20240101\nCreated At: 1700000000.5\nTotal Entries: 6\n" in out
    assert "Total Bytes: 447\n" in out  # 96 + 51 + 300
    assert "Duration: 1.60s\n" in out
    assert "Model: openai:gpt-4o-mini\n" in out
    assert "Timing: TTFT=0.400s, Duration=1.400s, Stream=1.250s" in out
    assert "Backend content: 5 chars" in out
    assert "  Note: the stream-end marker says 352 bytes (stream_totals_mismatch)" in out
    # No stop reason and no [DONE]: cut, as `fastcap analyze` reports it too.
    assert "  [cut_stream] ×1  " in out and "    #01 OpenAI.ChatCompletions (entry [5])" in out


def test_truncated_tail_warns_and_continues(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_golden(tmp_path / "g.cbor").read_bytes()
    path = tmp_path / "trunc.cbor"
    path.write_bytes(data[:-20])
    rc, out, err = run(capsys, str(path))
    assert rc == 0
    assert "Total Entries: 14\n" in out
    assert "fastcap: warning:" in err and "file ends inside entry 14" in err


def test_corrupt_entry_prints_then_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_golden(tmp_path / "g.cbor").read_bytes()
    path = tmp_path / "corrupt.cbor"
    # Invalid UTF-8 inside the text of entry 1's metadata: a decode error at that entry.
    cut = data.index(b"openai-main")
    path.write_bytes(data[:cut] + b"\xff" + data[cut + 1 :])
    rc, out, err = run(capsys, str(path), "--timeline")
    assert rc == 2
    assert "Total Entries: 1\n" in out and "[0]  C->P  22:13:20.000  81B" in out
    assert err.count("\n") == 1 and err.startswith("fastcap: error: ") and "--recover" in err
    rc, out, err = run(capsys, str(path), "--recover")
    assert rc == 0 and "Total Entries: 14\n" in out
    assert "fastcap: warning:" in err and "skipped" in err


def test_bad_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, str(tmp_path / "missing.cbor"))
    assert rc == 2 and out == "" and "no such capture" in err
    bad = tmp_path / "v1.cbor"
    bad.write_bytes(bytes.fromhex("a265") + b"magic" + bytes.fromhex("73") + b"LLMPROXY-CAPTURE-V1")
    rc, out, err = run(capsys, str(bad))
    assert rc == 2 and out == "" and err.startswith("fastcap: error:") and err.count("\n") == 1
    rc, out, err = run(capsys, str(tmp_path), "--tz", "UTC")
    assert rc == 2 and "directory" in err
