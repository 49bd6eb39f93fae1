"""End to end: an unredacted capture whose bodies quote credentials (a user pasting a key, a tool
result printing one, the model repeating it, an error echoing it) → `fastcap report`, `fastcap
convert` and `fastcap analyze` write none of them, and the leak scan passes."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from fastcap.cli import main
from fastcap.formats import read_exchanges
from fastcap.formats.writers import write_cbor, write_jsonl
from fastcap.model import Chunk, Exchange
from fastcap.secrets.leakscan import scan_paths
from helpers.reports_fixtures import T0, anthropic_turn

PASTED = "sk-ant-api03-" + "PastedByTheUser0123456789" * 2
PRINTED_ID = "AKIA" + "Q7RTY2ZX5WV8NB4M"
HEADER_VALUE = "hdr" + "9c1f2e3d4c5b6a7f"
REPEATED = "sk-proj-" + "RepeatedByTheModel987654"
TOOL_ARG = "ghp_" + "ToolArgumentToken0123456789abcdefghij"
ECHOED = "sk-" + "EchoedInAnError000000000000"
BEARER = "eyJhbGciOiJSUzI1NiJ9" + ".eyJzdWIiOiJ1c2VyLTEyMyJ9" + ".c2lnbmF0dXJlLXBhcnQtMDE"
SECRETS = [PASTED, PRINTED_ID, HEADER_VALUE, REPEATED, TOOL_ARG, ECHOED, BEARER]


def _leaky_session() -> list[Exchange]:
    user = {
        "role": "user",
        "content": [{"type": "text", "text": f"Here is my key {PASTED}, please set it up."}],
    }
    ex1 = anthropic_turn(
        0,
        [user],
        text=f"I'll export it as {REPEATED} in your shell.",
        tool=("toolu_01", "Bash", {"command": f"export GITHUB_TOKEN={TOOL_ARG}"}),
        usage_start={"input_tokens": 10, "output_tokens": 1},
        usage_end={"output_tokens": 5},
    )
    result = (
        f"env:\nAWS_ACCESS_KEY_ID={PRINTED_ID}\nx-api-key: {HEADER_VALUE}\nAuthorization: Bearer {BEARER}"
    )
    messages = [
        user,
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01", "content": result}]},
    ]
    ex2 = anthropic_turn(
        1,
        messages,
        text="Done.",
        tool=None,
        usage_start={"input_tokens": 20, "output_tokens": 1},
        usage_end={"output_tokens": 2},
    )
    # Streamed with chunk times, as the capture addon records it.
    for ex in (ex1, ex2):
        body = ex.response_body or b""
        half = len(body) // 2
        ex.chunks = [
            Chunk(t=ex.started_at + 0.5, data=body[:half]),
            Chunk(t=ex.started_at + 0.6, data=body[half:]),
        ]
    ex3 = Exchange(
        index=2,
        source="cbor",
        method="POST",
        url=f"https://api.openai.com/v1/chat/completions?debug={ECHOED}",
        request_headers=[("content-type", "application/json"), ("authorization", f"Bearer {ECHOED}")],
        request_body=json.dumps(
            {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
        ).encode(),
        status=401,
        reason="Unauthorized",
        response_headers=[("content-type", "text/plain")],
        response_body=f"Incorrect API key provided: {ECHOED}".encode(),
        started_at=T0 + 5,
        ended_at=T0 + 5.2,
    )
    return [ex1, ex2, ex3]


@pytest.fixture(params=["cbor", "jsonl"])
def leaky_capture(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    path = tmp_path / f"raw.{request.param}"
    writer = write_cbor if request.param == "cbor" else write_jsonl
    writer(_leaky_session(), path, redact=None)  # a capture recorded with fastcap_redact=false
    raw = _content(path)
    assert all(s in raw for s in SECRETS), "the fixture must really contain every secret"
    return path


def _content(path: Path) -> str:
    """Everything a file holds, as text: CBOR payloads are compressed, so read them as exchanges."""
    if path.suffix == ".cbor":
        parts: list[str] = []
        for ex in read_exchanges(path):
            parts += [ex.url, repr(ex.request_headers), repr(ex.response_headers)]
            parts += [(b or b"").decode("utf-8", "replace") for b in (ex.request_body, ex.response_body)]
            parts += [c.data.decode("utf-8", "replace") for c in ex.chunks]
        return "\n".join(parts)
    if path.suffix == ".parquet":
        df = pl.read_parquet(path)
        return "\n".join(
            v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
            for col in df.columns
            for v in df[col].to_list()
        )
    return path.read_bytes().decode("utf-8", "replace")


def _assert_clean(paths: list[Path]) -> None:
    for p in paths:
        data = _content(p)
        leaked = [s for s in SECRETS if s in data or s[:16] in data]
        assert not leaked, (p.name, leaked)


def test_report_scrubs_free_text_and_the_leak_scan_passes(leaky_capture: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert main(["report", str(leaky_capture), "--out", str(out), "--json"]) == 0
    files = sorted(out.iterdir())
    assert {
        "01_Messages.md",
        "02_Messages.md",
        "03_ChatCompletions.md",
        "report.md",
        "analysis_report.md",
        "report.json",
    } <= {f.name for f in files}
    _assert_clean(files)
    assert scan_paths(files) == []
    first = (out / "01_Messages.md").read_text()
    assert "Here is my key [REDACTED], please set it up." in first  # prompt text around the key kept
    assert "I'll export it as [REDACTED] in your shell." in first  # assistant text
    assert "export GITHUB_TOKEN=[REDACTED]" in first  # tool arguments
    second = (out / "02_Messages.md").read_text()
    assert "AWS_ACCESS_KEY_ID=[REDACTED]" in second and "x-api-key: [REDACTED]" in second
    third = (out / "03_ChatCompletions.md").read_text()
    assert "?debug=[REDACTED]" in third and "Incorrect API key provided: [REDACTED]" in third


@pytest.mark.parametrize("suffix", [".cbor", ".jsonl", ".parquet"])
def test_convert_scrubs_free_text(leaky_capture: Path, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"converted{suffix}"
    assert main(["convert", str(leaky_capture), str(out)]) == 0
    _assert_clean([out])
    if suffix != ".parquet":
        assert scan_paths([out]) == []
        # The converted file is still a capture fastcap reads, with the same calls.
        report = tmp_path / "again"
        assert main(["report", str(out), "--out", str(report), "--style", "calls"]) == 0
        assert len(list(report.glob("*.md"))) == 3


def test_no_redact_still_keeps_raw_values(leaky_capture: Path, tmp_path: Path) -> None:
    out = tmp_path / "unredacted.jsonl"
    assert main(["convert", str(leaky_capture), str(out), "--no-redact"]) == 0
    assert PASTED in _content(out)
    report = tmp_path / "raw_report"
    assert main(["report", str(leaky_capture), "--out", str(report), "--no-redact", "--style", "calls"]) == 0
    assert PASTED in (report / "01_Messages.md").read_text()


def test_analyze_outputs_are_clean(
    leaky_capture: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "analysis"
    assert main(["analyze", str(leaky_capture), "--out", str(out), "--json", "--parquet", "-q"]) == 0
    _assert_clean(sorted(out.iterdir()))
    assert ECHOED not in capsys.readouterr().out  # the terminal overview too


def test_report_data_redacted_section_by_section_as_whole(tmp_path: Path) -> None:
    # build_session redacts each section on its own (a section without any literal skips the walk):
    # the same data as redacting the whole report at once, on a session full of secrets.
    from fastcap.reports.context import ReportContext, build_calls
    from fastcap.reports.safety import NullRedactor, PatternRedactor
    from fastcap.reports.session import build_session

    exchanges = _leaky_session()
    # A key in a header value report.md quotes (the environment's User-Agent row).
    exchanges[0].request_headers = [
        (k, v) for k, v in exchanges[0].request_headers if k.lower() != "user-agent"
    ] + [("user-agent", f"claude-cli/2.1.0 {PASTED}")]
    calls = build_calls(exchanges)
    raw = build_session(ReportContext(calls=calls, redactor=NullRedactor(), out_dir=tmp_path))
    sectioned = build_session(ReportContext(calls=calls, redactor=PatternRedactor(), out_dir=tmp_path))
    assert sectioned == PatternRedactor().json(raw)
    assert PASTED in json.dumps(raw, ensure_ascii=False)  # there was something to redact
    assert PASTED not in json.dumps(sectioned, ensure_ascii=False)
