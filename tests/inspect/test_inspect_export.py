"""`fastcap inspect --json`: every entry, payload, parsed events, header verbatim, filters, redaction."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from fastcap.cli import main
from fastcap.formats.capture_file import expand_meta, read_capture
from helpers.golden_capture import FAKE_KEY, T0, encode, golden_entries, write_golden


@pytest.fixture
def golden(tmp_path: Path) -> Path:
    return write_golden(tmp_path / "demo-session.cbor")


def export(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    rc = main(["inspect", *argv, "--json"])
    out, err = capsys.readouterr()
    assert rc == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


def payload(entry: dict[str, Any]) -> bytes:
    if "text" in entry:
        return str(entry["text"]).encode("utf-8")
    return base64.b64decode(entry["data_b64"])


def test_round_trip_every_entry(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = export(capsys, str(golden), "--no-redact")
    result = read_capture(golden)
    assert doc["header"] == result.header  # verbatim, magic and version included
    assert doc["header"]["magic"] == "LLMPROXY-CAPTURE-V2" and doc["header"]["version"] == 2
    assert doc["redacted"] is False
    rows = result.entries.to_dicts()
    assert len(doc["entries"]) == len(rows) == 15
    for entry, row in zip(doc["entries"], rows, strict=True):
        assert entry["seq"] == row["seq"]
        assert entry["timestamp"] == row["ts"]
        assert (
            entry["direction"]
            == ("CLIENT_TO_PROXY", "PROXY_TO_CLIENT", "PROXY_TO_BACKEND", "BACKEND_TO_PROXY")[row["dir"]]
        )
        assert entry["data_length"] == row["data_len"]
        assert payload(entry) == row["data"]
        assert entry["metadata"] == expand_meta(row)


def test_parsed_events_and_bodies(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    entries = {e["seq"]: e for e in export(capsys, str(golden))["entries"]}
    chunk2 = entries[6]
    assert [ev["data"] for ev in chunk2["events"]][1] == "[DONE]"
    assert chunk2["events"][0]["data"]["choices"][0]["delta"]["content"] == "lo"
    assert chunk2["events"][0]["data"]["choices"][0]["finish_reason"] == "stop"
    assert entries[4]["events"][0]["data"]["choices"][0]["delta"]["content"] == "Hel"
    # plain JSON bodies are parsed too, after the HTTP framing of non-stream responses
    assert entries[0]["parsed"]["model"] == "gpt-4o-mini"
    assert entries[13]["parsed"]["error"]["type"] == "rate_limit_exceeded"
    assert entries[14]["parsed"]["error"]["message"] == "Rate limit reached"
    # stream chunks carry the backend inherited from their stream-start marker
    assert entries[4]["inherited"] == {"backend": "openai", "model": "gpt-4o-mini"}
    assert "backend" not in entries[4]["metadata"]


def test_redacted_by_default(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["inspect", str(golden), "--json"])
    out, _ = capsys.readouterr()
    assert rc == 0
    assert FAKE_KEY not in out and "sk-ant" not in out
    doc = json.loads(out)
    pb = doc["entries"][1]
    assert "authorization: [REDACTED]\r\n" in pb["text"]
    assert pb["payload_redacted"] is True
    assert doc["redacted"] is True


def test_every_filter_applies(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = export(capsys, str(golden), "--direction", "backend_to_proxy", "--range", "0-8")
    assert [e["seq"] for e in doc["entries"]] == [2, 4, 6, 8]
    assert doc["filters"] == ["direction=backend_to_proxy", "range=0-8"]
    doc = export(capsys, str(golden), "--start-time", "1700000015")
    assert [e["seq"] for e in doc["entries"]] == [11, 12, 13, 14]
    doc = export(capsys, str(golden), "--backend", "openai", "--search", "content")
    assert 4 in [e["seq"] for e in doc["entries"]]  # chunks survive the backend filter
    doc = export(capsys, str(golden), "--entry", "0")
    assert [e["seq"] for e in doc["entries"]] == [0]


def test_export_to_file(golden: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "out.json"
    rc = main(["inspect", str(golden), "--json", str(target)])
    out, _ = capsys.readouterr()
    assert rc == 0
    assert out == f"Exported 15 entries to {target}\n"
    assert len(json.loads(target.read_text("utf-8"))["entries"]) == 15


def test_binary_payload_is_base64(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ts, d, seq, _, meta = golden_entries()[4]
    blob = bytes(range(256))
    path = tmp_path / "bin.cbor"
    path.write_bytes(encode("bin", T0, [(ts, d, seq, blob, meta)]))
    doc = export(capsys, str(path))
    assert "text" not in doc["entries"][0]
    assert base64.b64decode(doc["entries"][0]["data_b64"]) == blob


@pytest.mark.parametrize("binary_neighbour", [False, True])
def test_json_body_fields_redacted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], binary_neighbour: bool
) -> None:
    entries = golden_entries()[:2]
    ts, d, seq, _, meta = entries[0]
    entries[0] = (ts, d, seq, b'{"model":"m","API_KEY":"sk-secret-123"}', meta)
    if binary_neighbour:  # a non-UTF-8 payload switches the pre-check to its per-payload path
        entries.append((ts + 1, 3, 9, b"\xff\xfe\x00", {"sid": "sess-1"}))
    path = tmp_path / "body.cbor"
    path.write_bytes(encode("b", T0, entries))
    rc = main(["inspect", str(path), "--json"])
    out, _ = capsys.readouterr()
    assert rc == 0 and "sk-secret-123" not in out
    assert json.loads(out)["entries"][0]["parsed"]["API_KEY"] == "[REDACTED]"
