"""`fastcap inspect` speaks docs/metrics.md: usage columns and issue classes as `fastcap analyze`
reports them, on the bundled demo capture."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastcap.cli import main
from helpers import DEMO


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(["inspect", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def blocks(out: str) -> dict[int, str]:
    """The `--analyze` block of each request, by number."""
    parts = re.split(r"\n--- REQUEST #(\d+) ---\n", out)
    return {int(parts[i]): parts[i + 1] for i in range(1, len(parts), 2)}


def test_usage_is_input_total_with_its_parts(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, str(DEMO), "--analyze")
    assert rc == 0
    calls = blocks(out)
    # Anthropic: input_tokens + cache reads + cache writes (docs/metrics.md, Usage)
    assert (
        "Usage: input=51,363 (1,203 uncached, 48,112 cache read, 2,048 cache write), output=96\n" in calls[1]
    )
    # OpenAI Responses: cached tokens are inside the reported input; reasoning is part of output
    assert "Usage: input=5,120 (1,024 uncached, 4,096 cache read), output=212 (128 reasoning)\n" in calls[5]
    # no cache figures: the total alone
    assert "Usage: input=88, output=6\n" in calls[6]
    assert "Usage:" not in calls[3]  # the 429 reported no usage


def num(text: str) -> int:
    return int(text.replace(",", "")) if text else 0


def test_usage_totals_match_the_analyze_overview(capsys: pytest.CaptureFixture[str]) -> None:
    """The demo's `fastcap analyze` overview (README.md): 157,571 input (152,528 cache read,
    2,048 cache write) | 361 output (128 reasoning)."""
    rc, out, _ = run(capsys, str(DEMO), "--analyze")
    assert rc == 0
    usage = re.findall(
        r"Usage: input=([\d,]+)(?: \(([^)]*)\))?, output=([\d,]+)(?: \((\d+) reasoning\))?", out
    )
    assert sum(num(u[0]) for u in usage) == 157_571
    assert sum(num(u[2]) for u in usage) == 361
    assert sum(num(u[3]) for u in usage) == 128
    parts = " ".join(u[1] for u in usage)
    assert sum(num(m) for m in re.findall(r"([\d,]+) cache read", parts)) == 152_528
    assert sum(num(m) for m in re.findall(r"([\d,]+) cache write", parts)) == 2_048


def issue_block(text: str, start: str) -> list[str]:
    """The grouped issue lines after `start`, entry references dropped."""
    lines = text[text.index(start) :].splitlines()[1:]
    block = []
    for line in lines:
        if not line.startswith("  "):
            break
        block.append(re.sub(r" \(entry \[\d+\]\)$", "", line))
    return block


def test_detect_issues_matches_analyze(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, str(DEMO), "--detect-issues")
    assert rc == 0
    text = out[out.index("ISSUES DETECTED") :]
    assert (
        "    #03 Anthropic.Messages HTTP 429, retry after 2s: rate_limit_error: Number of request tokens"
        in text
    )
    assert "  [cut_stream] ×1  a stream that never finished: no stop reason and no terminal event\n" in text
    assert "    #04 Anthropic.Messages: server disconnected mid-stream (entry [39])\n" in text
    assert main(["analyze", str(DEMO), "--out", str(tmp_path / "out")]) == 0
    overview, _ = capsys.readouterr()
    assert issue_block(text, "issues in") == issue_block(overview, "Issues:")
    assert len(issue_block(text, "issues in")) >= 6


def test_kiro_eventstream_through_the_engine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An AWS EventStream response (kiro) split over two chunks: read by the engine's native
    EventStream reader, finished (intact frames, no exception), as `fastcap analyze` has it."""
    from helpers import DATA
    from helpers.golden_capture import T0, encode

    body = (DATA / "eventstream" / "codewhisperer-shaped" / "tool_calls.bin").read_bytes()
    url = "https://codewhisperer.us-east-1.amazonaws.com/generateAssistantResponse"
    request = (
        b"POST /generateAssistantResponse HTTP/1.1\r\ncontent-type: application/json\r\n"
        b"x-amz-target: AmazonCodeWhispererStreamingService.GenerateAssistantResponse\r\n\r\n"
        b'{"conversationState":{"conversationId":"c1"}}'
    )
    half = len(body) // 2
    meta = {"rid": "k1", "sid": "s"}
    entries = [
        (T0, 2, 0, request, {**meta, "be": "kiro", "http_method": "POST", "url": url}),
        (T0 + 0.5, 3, 1, b"", {**meta, "ss": True, "sc": 200, "http_status": 200, "be": "kiro"}),
        (T0 + 0.6, 3, 2, body[:half], {**meta, "ci": 1, "sc": 200}),
        (T0 + 0.7, 3, 3, body[half:], {**meta, "ci": 2, "sc": 200}),
        (T0 + 0.8, 3, 4, b"", {**meta, "se": True, "sc": 200}),
    ]
    path = tmp_path / "kiro.cbor"
    path.write_bytes(encode("kiro", T0, entries))
    rc, out, _ = run(capsys, str(path), "--analyze", "--detect-issues")
    assert rc == 0
    assert "Backend content: 21 chars, 2 tool_calls (execute_bash, fs_read)\n" in out
    assert "No issues detected!" in out
    # cut off before its last frame, it is a cut stream
    entries[3] = (T0 + 0.7, 3, 3, body[half:-10], {**meta, "ci": 2, "sc": 200})
    path.write_bytes(encode("kiro", T0, entries))
    rc, out, _ = run(capsys, str(path), "--detect-issues")
    assert "  [cut_stream] ×1  " in out
