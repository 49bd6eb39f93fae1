"""`fastcap convert` (round trips between formats, redaction) and `fastcap decode`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from fastcap.cli import main
from fastcap.formats import read_exchanges
from fastcap.formats.writers import write_cbor, write_jsonl
from fastcap.model import Chunk, Exchange
from fastcap.secrets.leakscan import scan_paths
from helpers import DATA, DEMO

FAKE_KEY = "sk-ant-api03-" + "FAKEFAKEFAKE" * 4


def _key(ex: Exchange) -> tuple[object, ...]:
    return (ex.method, ex.url, ex.status, ex.response_body, [c.t for c in ex.chunks], ex.started_at)


@pytest.mark.parametrize("suffix", [".cbor", ".jsonl"])
def test_demo_round_trips_through_each_format(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"demo{suffix}"
    assert main(["convert", str(DEMO), str(out)]) == 0
    original, converted = read_exchanges(DEMO), read_exchanges(out)
    assert [_key(e) for e in converted] == [_key(e) for e in original]


def test_parquet_has_one_row_per_call_with_chunk_timing(tmp_path: Path) -> None:
    out = tmp_path / "demo.parquet"
    assert main(["convert", str(DEMO), str(out)]) == 0
    df = pl.read_parquet(out)
    assert df.height == 7 and df["status"].to_list().count(429) == 1
    first = df.row(0, named=True)
    assert len(first["chunk_times"]) == len(first["chunk_sizes"]) > 10 and sum(first["chunk_sizes"]) == len(
        first["response_body"]
    )


def test_har_converts_to_cbor_with_exact_bodies(tmp_path: Path) -> None:
    out = tmp_path / "har.cbor"
    assert main(["convert", str(DATA / "mitmproxy" / "hardump.har"), str(out)]) == 0
    har, cbor = read_exchanges(DATA / "mitmproxy" / "hardump.har"), read_exchanges(out)
    assert [(e.method, e.status, e.response_body) for e in cbor] == [
        (e.method, e.status, e.response_body) for e in har
    ]


def _secret_exchange() -> Exchange:
    body = b'data: {"type":"message_start"}\n\n'
    return Exchange(
        index=0,
        source="test",
        method="POST",
        url=f"https://api.example.com/v1/messages?key={FAKE_KEY}",
        request_headers=[("x-api-key", FAKE_KEY), ("content-type", "application/json")],
        request_body=json.dumps({"api_key": FAKE_KEY, "model": "m"}).encode(),
        status=200,
        response_headers=[("content-type", "text/event-stream")],
        response_body=body,
        chunks=[Chunk(t=2.0, data=body)],
        started_at=1.0,
        ended_at=2.5,
    )


def test_converted_files_are_redacted_by_default(tmp_path: Path) -> None:
    cbor, jsonl = tmp_path / "s.cbor", tmp_path / "s.jsonl"
    write_cbor([_secret_exchange()], cbor)
    write_jsonl([_secret_exchange()], jsonl)
    for path in (cbor, jsonl):
        assert FAKE_KEY.encode() not in path.read_bytes()
    assert scan_paths([jsonl]) == []
    # The redacted copy still analyses: the stream and its timing survive.
    (ex,) = read_exchanges(cbor)
    assert ex.response_body == _secret_exchange().response_body and ex.chunks[0].t == 2.0


def test_no_redact_keeps_raw_values(tmp_path: Path) -> None:
    src = tmp_path / "src.cbor"
    write_cbor([_secret_exchange()], src, redact=None)
    out = tmp_path / "raw.jsonl"
    assert main(["convert", str(src), str(out), "--no-redact"]) == 0
    assert FAKE_KEY in out.read_text()


def test_convert_refuses_unknown_extension(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "fastcap", "convert", str(DEMO), str(tmp_path / "x.txt")],
        capture_output=True,
        text=True,
    )
    assert (
        proc.returncode == 2
        and "use .cbor, .jsonl, .parquet or --to" in proc.stderr
        and "Traceback" not in proc.stderr
    )


def test_decode_kiro_body(capsys: pytest.CaptureFixture[str]) -> None:
    body = DATA / "eventstream" / "codewhisperer-shaped" / "tool_calls.bin"
    assert main(["decode", str(body), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    expected = json.loads((body.parent / "expected.json").read_text())["files"]["tool_calls.bin"]
    assert result["framing"] == "eventstream" and result["api"].endswith("GenerateAssistantResponse")
    assert result["text"] == expected["text"]
    assert [t["name"] for t in result["tool_calls"]] == [t["name"] for t in expected["tool_calls"]]
    assert result["tool_calls"][0]["arguments"] == expected["tool_calls"][0]["input_json"]


def test_decode_anthropic_sse_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", str(DATA / "sse" / "anthropic" / "tool_use_response.txt")]) == 0
    out = capsys.readouterr().out
    assert (
        out.startswith("Anthropic.Messages (sse):")
        and "Tool call get_weather" in out
        and '{"location":"Paris"}' in out
    )
    # Usage fields the stream did not report print as —, never as None (issue 13).
    usage = next(line for line in out.splitlines() if line.startswith("Usage:"))
    assert "None" not in usage and "input" in usage


def test_decode_empty_body_is_a_clean_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    proc = subprocess.run(
        [sys.executable, "-m", "fastcap", "decode", str(empty)], capture_output=True, text=True
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "byte 0" in proc.stderr


@pytest.mark.parametrize("spelling", ["openai_chat", "openai-chat"])
def test_decode_api_takes_the_registry_name_and_the_older_spelling(
    capsys: pytest.CaptureFixture[str], spelling: str
) -> None:
    body = DATA / "sse" / "anthropic" / "tool_use_response.txt"
    assert main(["decode", str(body), "--json", "--api", spelling]) == 0
    assert json.loads(capsys.readouterr().out)["api"] == "OpenAI.ChatCompletions"


def test_decode_rejects_an_api_the_registry_does_not_know(capsys: pytest.CaptureFixture[str]) -> None:
    body = DATA / "sse" / "anthropic" / "tool_use_response.txt"
    with pytest.raises(SystemExit) as exit_info:
        main(["decode", str(body), "--api", "generic"])
    assert exit_info.value.code == 2 and "invalid choice: 'generic'" in capsys.readouterr().err
