"""`fastcap inspect` analysis modes on the docs/specs/cbor-v2.md §10.16 golden capture."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastcap.cli import main
from helpers.golden_capture import write_golden

RULE = "=" * 70


@pytest.fixture
def golden(tmp_path: Path) -> Path:
    return write_golden(tmp_path / "demo-session.cbor")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(["inspect", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def section(out: str, title: str) -> str:
    """The text of one section: from its title to the next banner."""
    start = out.index(f"{RULE}\n{title}")
    rest = out[start + len(RULE) + 1 :]
    nxt = rest.find(f"\n\n{RULE}\n", rest.index(RULE) + len(RULE))
    return rest if nxt < 0 else rest[:nxt]


def test_summary_totals(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, str(golden))
    assert rc == 0 and err == ""
    assert out.startswith(f"\n{RULE}\nCAPTURE FILE SUMMARY\n{RULE}\n")
    assert "Session ID: demo-session\n" in out
    assert "Created At: 1700000000.0\n" in out
    assert "Total Entries: 15\n" in out
    assert "Requests: 2\n" in out
    assert "  CLIENT_TO_PROXY: 2\n  PROXY_TO_CLIENT: 5\n  PROXY_TO_BACKEND: 2\n  BACKEND_TO_PROXY: 6\n" in out
    assert "Total Bytes: 1,344\n" in out
    assert "Duration: 15.90s\n" in out
    assert "Filters:" not in out


def test_summary_describes_filtered_view(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, str(golden), "--start-time", "1700000015", "--status-summary")
    assert rc == 0
    assert "Total Entries: 4 (of 15 in the file)\n" in out
    assert "Filters: time after 2023-11-14 22:13:35.000000 (UTC)" in out
    assert "Total Bytes: 549\n" in out  # 81 + 208 + 171 + 89
    assert "Matched 4 of 15 entries" in out
    # only request 2 is left: one 429 per leg
    assert "  B->P (backend responses, 1 request):\n    429: 1 (100.0%)" in out


def test_status_summary_counts_requests_per_leg(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, str(golden), "--status-summary")
    assert rc == 0
    block = out[out.index("HTTP Status Summary") :]
    assert "  B->P (backend responses, 2 requests):\n    200: 1 (50.0%)\n    429: 1 (50.0%)\n" in block
    assert "  P->C (client responses, 2 requests):\n    200: 1 (50.0%)\n    429: 1 (50.0%)\n" in block
    assert "  openai: 429 1/2 (50.0%), 5xx 0/2 (0.0%)" in block
    # the reference's chunk counting (200: 8) must not come back
    assert "200: 8" not in out and "80.0%" not in out


def test_detect_issues_slow_gap_and_rate_limit(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, str(golden), "--detect-issues")
    assert rc == 0
    text = section(out, "ISSUES DETECTED")
    # grouped as `fastcap analyze` prints them: classes in docs/metrics.md order, then requests
    assert text.endswith(
        "2 issues in 2 classes\n"
        "  [rate_limit] ×1  rate limited: HTTP 429, or an error about rate, quota, throttling or overload\n"
        "    #02 OpenAI.ChatCompletions HTTP 429, retry after 2s: rate_limit_exceeded: Rate limit reached"
        " (entry [13])\n"
        "  [slow_gap] ×1  more than 10s idle between two calls of one conversation\n"
        "    #02 OpenAI.ChatCompletions started 15.1s after call #01 ended (entry [12])\n"
    )
    assert "missing_response" not in text and "slow_response" not in text


def test_detect_issues_examples_per_class(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from helpers.golden_capture import T0, encode, golden_entries

    # the 429 exchange (entries 11-14) five times, each a minute after the one before
    first, rate_limited = golden_entries()[:11], golden_entries()[11:]
    entries = list(first)
    for k in range(5):
        for ts, d, seq, data, meta in rate_limited:
            entries.append((ts + 60 * k, d, seq + 4 * k, data, {**meta, "rid": f"req-r{k}"}))
    path = tmp_path / "many.cbor"
    path.write_bytes(encode("many", T0, entries))
    rc, out, _ = run(capsys, str(path), "--detect-issues")
    assert rc == 0
    text = section(out, "ISSUES DETECTED")
    assert "  [rate_limit] ×5  " in text
    assert text.count("HTTP 429, retry after") == 3
    assert "    … and 2 more (--issue-examples 0 lists them all)\n" in text
    rc, out, _ = run(capsys, str(path), "--detect-issues", "--issue-examples", "0")
    assert section(out, "ISSUES DETECTED").count("HTTP 429, retry after") == 5 and "… and" not in out


def test_detect_issues_slow_response_inside_a_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from helpers.golden_capture import T0, encode, golden_entries

    # request 1's first chunk arrives 12 s after the stream-start marker
    entries = [
        (ts + 12 if 4 <= seq <= 10 else ts, d, seq, data, meta) for ts, d, seq, data, meta in golden_entries()
    ]
    path = tmp_path / "slow.cbor"
    path.write_bytes(encode("slow", T0, entries))
    rc, out, _ = run(capsys, str(path), "--detect-issues")
    assert rc == 0
    text = section(out, "ISSUES DETECTED")
    assert "  [slow_response] ×1  more than 10s between two entries of one call" in text
    assert "    #01 OpenAI.ChatCompletions: 12.0s between entries [3] and [4] (entry [4])" in text


def test_detect_issues_none(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from helpers.golden_capture import T0, encode, golden_entries

    first_request = [e for e in golden_entries() if e[2] <= 10]
    path = tmp_path / "ok.cbor"
    path.write_bytes(encode("ok", T0, first_request))
    rc, out, _ = run(capsys, str(path), "--detect-issues")
    assert rc == 0
    assert out.endswith("\nNo issues detected!\n")
    assert "ISSUES DETECTED" not in out


def test_analyze_streaming(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, str(golden), "--analyze-streaming")
    assert rc == 0
    text = section(out, "STREAMING PERFORMANCE ANALYSIS")
    s1 = text[text.index("--- Stream #1 (Entry [1]) ---") : text.index("--- Response #2")]
    assert "  Time to First Token: 0.440s (from ttfb_ms)" in s1
    assert "  Total Duration: 0.600s" in s1  # request to last byte (lat), never smaller than TTFT
    assert "  Stream Duration: 0.210s (from the stream-start marker)" in s1
    assert "  Chunks: 2\n" in s1
    assert "  Total Data: 253 bytes" in s1
    assert "  Avg Time Between Chunks: 0.150s" in s1
    s2 = text[text.index("--- Response #2 (Entry [12]) ---") :]
    assert "Non-stream response: HTTP 429" in s2
    assert "Time to First Byte: 0.190s" in s2
    assert "Total Data: 171 bytes" in s2
    assert "Chunks:" not in s2  # a non-stream response is not a one-chunk stream


def test_analyze_content_and_timing(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, str(golden), "--analyze")
    assert rc == 0
    text = section(out, "REQUEST/RESPONSE ANALYSIS")
    r1 = text[text.index("--- REQUEST #1 ---") : text.index("--- REQUEST #2 ---")]
    assert "Model: gpt-4o-mini\n" in r1
    assert "Timing: TTFT=0.440s, Duration=0.600s, Stream=0.210s" in r1
    assert "Backend models: gpt-4o-mini\n" in r1  # a plain list, not a Python set
    assert "Backend content: 5 chars\n" in r1  # "Hel" + "lo"
    assert "Client received: 5 chars, finish_reason [118,135]" in r1
    assert "ISSUES:" not in r1
    r2 = text[text.index("--- REQUEST #2 ---") :]
    assert "Status: 429, non-stream" in r2
    assert "Timing: TTFT=0.190s, Duration=0.190s" in r2
    assert "Backend content: 0 chars" in r2
    assert "Client received: 0 chars [89]" in r2
    assert "  [!] [rate_limit] HTTP 429, retry after 2s: rate_limit_exceeded: Rate limit reached" in r2
    assert "  [!] [slow_gap] started 15.1s after call #01 ended" in r2


def test_backend_filter_keeps_stream_chunks(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(
        capsys,
        str(golden),
        "--backend",
        "openai",
        "--analyze",
        "--analyze-streaming",
        "--timeline",
        "--entries",
        "20",
    )
    assert rc == 0 and "not found" not in err
    assert "(Filtered to backend: openai)" in out
    analyze = section(out, "REQUEST/RESPONSE ANALYSIS")
    assert "Timing: TTFT=0.440s" in analyze
    assert "Backend content: 5 chars" in analyze
    streaming = section(out, "STREAMING PERFORMANCE ANALYSIS")
    assert "Time to First Token: 0.440s" in streaming and "Chunks: 2" in streaming
    timeline = section(out, "TIMELINE VIEW")
    for seq in (4, 5, 6, 7):
        assert f"\n[{seq}]  " in timeline
    listing = section(out, "ENTRIES")
    assert "[4] B->P | 118 bytes" in listing


def test_backend_filter_unknown_backend_warns(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, str(golden), "--backend", "gemini")
    assert rc == 0
    assert "Warning: Backend 'gemini' not found in capture." in err
    assert "Available backends: client, openai" in err
    assert "Total Entries: 0 (of 15 in the file)" in out


def test_backend_client_is_the_client_leg(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, str(golden), "--backend", "client", "--timeline")
    assert rc == 0
    lines = [ln for ln in section(out, "TIMELINE VIEW").splitlines() if ln.startswith("[")]
    assert [ln.split()[0] for ln in lines] == ["[0]", "[11]"]


def test_list_backends(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, str(golden), "--list-backends")
    assert rc == 0
    assert (
        out
        == f"\n{RULE}\nAVAILABLE BACKENDS\n{RULE}\n  openai: 13 entries, 2 requests\n  client: 2 entries\n"
    )


def test_timeline_gaps_and_slow_marker(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, str(golden), "--timeline")
    assert rc == 0
    text = section(out, "TIMELINE VIEW")
    assert "[0]  C->P  22:13:20.000  81B  be=client  a=sess-1\n" in text
    assert "[1]  P->B  22:13:20.010   (+10ms)  208B  be=openai  a=sess-1\n" in text
    assert "[11]  C->P  22:13:35.700   !!! +15.1s SLOW !!!  81B  be=client  a=sess-1\n" in text
    assert "[4]  B->P  22:13:20.450   (+49ms)  118B  a=sess-1" in text


def test_timeline_tz(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, str(golden), "--timeline", "--tz", "Europe/Berlin")
    assert rc == 0
    assert "[0]  C->P  23:13:20.000  81B" in out
    rc, out, _ = run(capsys, str(golden), "--timeline", "--tz", "+05:30")
    assert "[0]  C->P  03:43:20.000  81B" in out


def test_timeline_sorts_out_of_order_entries(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from helpers.golden_capture import T0, encode, golden_entries

    entries = golden_entries()
    entries[2], entries[4] = entries[4], entries[2]  # a batch written out of order
    path = tmp_path / "ooo.cbor"
    path.write_bytes(encode("ooo", T0, entries))
    rc, out, _ = run(capsys, str(path), "--timeline")
    assert rc == 0
    assert "Out of order: 2 entries" in out  # [3] and [2] come after [4] in the file
    lines = [ln.split()[0] for ln in section(out, "TIMELINE VIEW").splitlines() if ln.startswith("[")]
    assert lines[:6] == ["[0]", "[1]", "[2]", "[3]", "[4]", "[5]"]


def test_track_request(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, str(golden), "--track-request", "1")
    assert rc == 0
    text = section(out, "REQUEST FLOW TRACKING - Request #1")
    assert "Request initiated at entry [1]\nModel: gpt-4o-mini\nRequest size: 81 bytes\n" in text
    assert (
        "Flow timeline:\n  [C->P] [0] 81 bytes (t=-0.010s)\n  [START] [1] P->B  Forwarded to backend (t=0.000s)\n"
        in text
    )
    assert "  [B->P] [2] Stream start (HTTP 200) (t=0.390s)" in text
    assert "  [P->C] [3] Forwarded to client (t=0.391s)" in text
    assert "  [B->P] [4] Content chunk (t=0.440s)" in text
    assert "  [B->P] [8] Stream end (2 chunks, 253 bytes) (t=0.600s)" in text
    # only request 1: request 2's entries are not in its flow
    assert "[11]" not in text and "[13]" not in text


def test_track_request_2_and_not_found(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, str(golden), "--track-request", "2")
    text = section(out, "REQUEST FLOW TRACKING - Request #2")
    assert "Request initiated at entry [12]" in text
    assert "  [B->P] [13] HTTP 429 response (171 bytes) (t=0.190s)" in text
    rc, out, _ = run(capsys, str(golden), "--track-request", "3")
    assert rc == 0 and "Request #3 not found" in out
    rc, _, err = run(capsys, str(golden), "--track-request", "0")
    assert rc == 2 and "--track-request" in err


def test_group_by_session_and_b2bua(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, str(golden), "--group-by-session", "--b2bua")
    assert rc == 0
    text = section(out, "ENTRIES GROUPED BY SESSION")
    assert "Found 1 unique session(s):\n\nSession: sess-1... (backend: openai)\n" in text
    assert "  Entries: 15, Duration: 15.90s\n  Requests: 2\n  Entry range: [0] to [14]\n" in text
    assert "No A/B session pairs found on P->B entries (non-B2BUA or missing metadata)." in out


def test_b2bua_pairs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from helpers.golden_capture import T0, encode, golden_entries

    entries = []
    for ts, d, seq, data, meta in golden_entries():
        meta = dict(meta)
        if d == 2:
            meta.update(asid="llm-b2bua-a-1", bsid=f"llm-b2bua-b-1-{1 if seq < 5 else 2}")
        entries.append((ts, d, seq, data, meta))
    path = tmp_path / "b2bua.cbor"
    path.write_bytes(encode("b", T0, entries))
    rc, out, _ = run(capsys, str(path), "--b2bua")
    assert rc == 0
    assert "Found 2 distinct (a_session, b_session) pair(s):" in out
    assert "  A-leg: llm-b2bua-a-1\n  B-leg: llm-b2bua-b-1-1\n  P->B entries: 1\n" in out


def test_sections_in_reference_order(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(
        capsys,
        str(golden),
        "--analyze",
        "--entries",
        "1",
        "--analyze-streaming",
        "--track-request",
        "1",
        "--b2bua",
        "--group-by-session",
        "--detect-issues",
        "--timeline",
    )
    assert rc == 0
    titles = [
        "TIMELINE VIEW",
        "ISSUES DETECTED",
        "ENTRIES GROUPED BY SESSION",
        "B2BUA LEG CORRELATION",
        "REQUEST FLOW TRACKING",
        "STREAMING PERFORMANCE ANALYSIS",
        "ENTRIES\n",
        "REQUEST/RESPONSE ANALYSIS",
    ]
    positions = [out.index(f"{RULE}\n{t}") for t in titles]
    assert positions == sorted(positions)
