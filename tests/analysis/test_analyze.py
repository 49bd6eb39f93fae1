"""`fastcap analyze` end to end on the bundled demo capture, other formats, and bad inputs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from fastcap.analysis.calls import CALLS_SCHEMA
from fastcap.cli import main
from helpers import DATA, DEMO, REPO_ROOT


def test_demo_file_is_what_the_generator_writes(tmp_path: Path) -> None:
    out = tmp_path / "demo.cbor"
    subprocess.run(
        [sys.executable, str(REPO_ROOT / "examples" / "make_demo.py"), str(out)],
        check=True,
        capture_output=True,
    )
    assert out.read_bytes() == DEMO.read_bytes()


def test_analyze_demo_overview_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report"
    assert main(["analyze", str(DEMO), "--out", str(out), "--json", "--parquet"]) == 0
    text = capsys.readouterr().out
    assert "7 calls, 7 model calls" in text
    assert (
        "Anthropic.Messages ×4" in text
        and "OpenAI.Responses ×1" in text
        and "Gemini.StreamGenerateContent ×1" in text
    )
    assert "Status:   200 ×6, 429 ×1" in text
    assert (
        "Tokens:   157,571 input (152,528 cache read, 2,048 cache write) | 361 output (128 reasoning)" in text
    )
    assert "Issues:   4 in 3 classes" in text
    assert "[rate_limit] ×1  rate limited" in text
    assert "    #03 Anthropic.Messages HTTP 429, retry after 2s: rate_limit_error" in text
    assert "[cut_stream] ×1  a stream that never finished" in text
    assert "    #04 Anthropic.Messages: server disconnected mid-stream" in text
    assert "[slow_gap] ×2" in text and "    #04 Anthropic.Messages started" in text

    summary = json.loads((out / "analysis.json").read_text())
    assert summary["calls"] == 7 and summary["statuses"] == {"200": 6, "429": 1}
    # TTFB of the first Claude call is the capture's own `ttfb` (1.21 s after the request).
    calls = pl.read_parquet(out / "calls.parquet")
    first = calls.row(0, named=True)
    assert first["ttfb_s"] == pytest.approx(1.21, abs=1e-6)
    assert (
        first["tool_calls"] == ["Read"]
        and first["cache_read"] == 48112
        and first["stop_reason"] == "tool_use"
    )
    gemini = calls.filter(pl.col("dialect") == "gemini").row(0, named=True)
    assert gemini["output_total"] == 5 and gemini["input_total"] == 40  # last usageMetadata wins
    assert (out / "01_Messages.md").exists() and (out / "07_StreamGenerateContent.md").exists()
    assert "## Issues" in (out / "analysis.md").read_text()
    report = (out / "report.md").read_text()
    assert "Anthropic.Messages" in report


def test_analyze_mitmdump_log_has_no_invented_timing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = DATA / "mitmproxy" / "mitmdump_live_flow_detail3.txt"
    assert main(["analyze", str(log), "--out", str(tmp_path), "--no-reports"]) == 0
    text = capsys.readouterr().out
    assert "(mitmlog): 6 calls" in text and "200 ×5, 204 ×1" in text
    assert "TTFT" not in text and "timing is not available" in text


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "byte 0"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "byte 0"),
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path: Path, content: bytes, expected: str) -> None:
    bad = tmp_path / "bad.cbor"
    bad.write_bytes(content)
    proc = subprocess.run(
        [sys.executable, "-m", "fastcap", "analyze", str(bad), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert (
        len(lines) == 1 and str(bad) in lines[0] and expected in lines[0] and "Traceback" not in proc.stderr
    )


def test_truncated_capture_keeps_calls_and_warns(tmp_path: Path) -> None:
    data = DEMO.read_bytes()
    cut = tmp_path / "cut.cbor"
    cut.write_bytes(data[: len(data) - 40])
    proc = subprocess.run(
        [sys.executable, "-m", "fastcap", "analyze", str(cut), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "7 calls" in proc.stdout
    assert "warning" in proc.stderr and "file ends inside entry" in proc.stderr


def test_corrupt_capture_reports_offset_exit_2_but_shows_what_it_read(tmp_path: Path) -> None:
    data = bytearray(DEMO.read_bytes())
    at = data.index(b"req-codex-1")
    data[at] = 0xFF
    bad = tmp_path / "corrupt.cbor"
    bad.write_bytes(bytes(data))
    proc = subprocess.run(
        [sys.executable, "-m", "fastcap", "analyze", str(bad), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "4 calls" in proc.stdout  # the Claude calls before the fault
    err = proc.stderr.strip().splitlines()[-1]
    assert (
        err.startswith(f"fastcap: error: {bad}: byte ") and "UTF-8" in err and "Traceback" not in proc.stderr
    )
    recovered = subprocess.run(
        [sys.executable, "-m", "fastcap", "analyze", str(bad), "--recover", "--out", str(tmp_path / "r")],
        capture_output=True,
        text=True,
    )
    # Only the corrupt request entry is lost: the Codex call survives through its response entries.
    assert recovered.returncode == 0 and "7 calls" in recovered.stdout
    assert "skipped 550 bytes to the next plausible entry" in recovered.stderr


def test_version_names_native_build(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert "native build:" in capsys.readouterr().out


@pytest.mark.parametrize("round_bytes", [32 << 20, 100_000])
@pytest.mark.parametrize("source", ["demo", "generated", "real"])
def test_streaming_analysis_agrees_with_full_analysis(
    tmp_path: Path, source: str, round_bytes: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The flat-memory path for large captures gives the same calls, statuses, models, tokens and
    timings, also when requests span many reading rounds (chunks collapsed per round)."""
    from fastcap.analysis import stream_cbor
    from fastcap.analysis.calls import calls_table
    from fastcap.analysis.stream_cbor import calls_from_scan, scan
    from fastcap.formats.cbor_requests import with_weights

    monkeypatch.setattr(stream_cbor, "ROUND_BYTES", round_bytes)
    from fastcap.dialects import analyze_exchange
    from fastcap.formats import read_exchanges

    if source == "demo":
        path = DEMO
    else:
        from benches.gen_capture import generate

        path = tmp_path / "gen.cbor"
        # "real": streams recorded twice, abandoned after the finish reason, swapped write batches
        generate(
            path, 1.5 if source == "generated" else 3, shape="synthetic" if source == "generated" else "real"
        )
    full = calls_table([analyze_exchange(ex) for ex in read_exchanges(path)])
    meta, content, diagnostics = scan(path)
    streamed = calls_from_scan(meta, content)
    assert diagnostics == []
    # Every column of the calls table, by docs/metrics.md's one definition each.
    cols = list(CALLS_SCHEMA)
    floats = [c for c in cols if CALLS_SCHEMA[c] == pl.Float64]
    assert streamed.select(cols).drop(floats).to_dicts() == full.select(cols).drop(floats).to_dicts()
    for c in floats:
        a, b = streamed[c], full[c]
        assert a.is_null().to_list() == b.is_null().to_list(), c
        assert ((a - b).abs().fill_null(0) < 1e-6).all(), c
    # Collapsing chunks per round changes nothing, in any column, against one row per entry.
    monkeypatch.setattr(stream_cbor, "_reduce_meta", lambda m: with_weights(m))
    meta_rows, content_rows, _ = scan(path)
    assert streamed.to_dicts() == calls_from_scan(meta_rows, content_rows).to_dicts()
    if source == "generated":
        assert meta.height < meta_rows.height / 5, "chunks were collapsed"
    assert streamed["text_chars"].to_list() == full["text_chars"].to_list()
    assert streamed["tool_calls"].to_list() == full["tool_calls"].to_list()
    assert streamed["issue_class"].to_list() == full["issue_class"].to_list()


@pytest.mark.parametrize(
    "name",
    [
        "dumper_h2_synthetic.txt",
        "mitmdump_live_flow_detail3.txt",
        "mitmdump_live_stream_store_streamed_bodies.txt",
        "mitmdump_replay_flow_detail3.txt",
    ],
)
def test_streaming_analysis_reads_declared_fidelities(tmp_path: Path, name: str) -> None:
    """Bodies that came from a weaker source keep the fidelity `fastcap convert` declares for them
    (`fid`), and a body the addon cut keeps `truncated` (`trunc`), in the streaming pass as in
    the reader (one answer per question)."""
    from fastcap.analysis.calls import calls_table
    from fastcap.analysis.stream_cbor import calls_from_scan, scan
    from fastcap.dialects import analyze_exchange
    from fastcap.formats import read_exchanges
    from fastcap.formats.writers import write_cbor

    exchanges = read_exchanges(DATA / "mitmproxy" / name)
    path = tmp_path / "converted.cbor"
    write_cbor(exchanges, path)
    full = calls_table([analyze_exchange(ex) for ex in read_exchanges(path)])
    streamed = calls_from_scan(*scan(path)[:2])
    cols = ["request_body_fidelity", "response_body_fidelity"]
    assert streamed.select(cols).to_dicts() == full.select(cols).to_dicts()
    declared = {ex.response_body_fidelity for ex in exchanges} | {
        ex.request_body_fidelity for ex in exchanges
    }
    assert declared - {"complete", "missing"}, "the source declares a weaker fidelity"
    assert set(streamed["response_body_fidelity"]) | set(streamed["request_body_fidelity"]) == declared
