"""`fastcap inspect --json` with fake secrets planted everywhere a capture can hold them (prompts,
model output, tool arguments, headers, URLs, metadata, EventStream frames, binary payloads, base64):
with every mode and filter, the exported document says `"redacted": true` and the leak scan of it
finds nothing (docs/specs/reports.md §6.6, §6.7); with `--no-redact` the secrets are all there."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastcap.cli import main
from fastcap.secrets.leakscan import scan_paths
from fastcap.secrets.redact import encode_eventstream_frame
from helpers.golden_capture import encode

T0 = 1700000000.0
# Obviously fake credentials, one per kind the issue lists (and a few more).
PROMPT_KEY = "sk-ant-api03-" + "FAKEprompt01" * 3
OUTPUT_TOKEN = "ghp_" + "FAKEoutput0123456789abcdefghijklmnopq"
AWS_ID = "AKIA" + "FAKEFAKEFAKE2468"
TOOL_KEY = "sk-proj-" + "FAKEtoolarg0" * 2
HEADER_KEY = "sk-ant-api03-" + "FAKEheader01" * 3
URL_KEY = "AIza" + "FAKEurl01234" * 2 + "FAKEurl0123"
EOS_TOKEN = "ya29." + "FAKEeos01234" * 2
CDB_KEY = "sk-ant-oat01-" + "FAKEcdb01234" * 3
B64_KEY = base64.b64encode(("user:" + "sk-ant-api03-" + "FAKEbase6401" * 3).encode()).decode()
FRAME_ID = "ASIA" + "FAKEFAKEFRAME135"
BINARY_KEY = "sk-ant-api03-" + "FAKEbinary01" * 3
SESSION_KEY = "sk-ant-api03-" + "FAKEsession1" * 3
ALL = [
    PROMPT_KEY,
    OUTPUT_TOKEN,
    AWS_ID,
    TOOL_KEY,
    HEADER_KEY,
    URL_KEY,
    EOS_TOKEN,
    CDB_KEY,
    B64_KEY,
    FRAME_ID,
    BINARY_KEY,
]


def _frame(event: str, payload: dict[str, object]) -> bytes:
    name = event.encode()
    headers = b"\x0b:event-type\x07" + len(name).to_bytes(2, "big") + name
    return encode_eventstream_frame(headers, orjson.dumps(payload))


def _sse(data: dict[str, object]) -> bytes:
    return b"event: content_block_delta\ndata: " + orjson.dumps(data) + b"\n\n"


def planted_capture(path: Path) -> Path:
    url = f"https://generativelanguage.googleapis.com/v1/models/x:streamGenerateContent?key={URL_KEY}"
    body = orjson.dumps(
        {
            "model": "claude-sonnet-4-5",
            "messages": [
                {"role": "user", "content": f"deploy with {PROMPT_KEY} and {AWS_ID}, blob {B64_KEY}"},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "input": {"cmd": f"export K={TOOL_KEY}"}}],
                },
            ],
        }
    )
    pb = (
        f"POST /v1/messages HTTP/1.1\r\nx-api-key: {HEADER_KEY}\r\nreferer: https://x.test/cb?token={EOS_TOKEN}\r\n"
        "content-type: application/json\r\n\r\n"
    ).encode() + body
    ids = {"sid": "s1", "rid": "r1"}
    frames = _frame("assistantResponseEvent", {"content": f"your key id is {FRAME_ID}"})
    binary = b"\x00\x01\x02\xff" + f"config={BINARY_KEY};".encode() + bytes(range(200))
    entries: list[tuple[float, int, int, bytes, dict[str, Any]]] = [
        (T0 + 0.0, 0, 0, body, {**ids, "be": "client", "ua": "agent/1.0", "event": "request"}),
        (
            T0 + 0.1,
            2,
            1,
            pb,
            {
                **ids,
                "be": "anthropic",
                "mod": "claude-sonnet-4-5",
                "url": url,
                "event": "request",
                "http_method": "POST",
                "cdb": {"instructions": f"you may use {CDB_KEY}"},
            },
        ),
        (T0 + 0.2, 3, 2, b"", {**ids, "ss": True, "sc": 200, "url": url}),
        (
            T0 + 0.3,
            3,
            3,
            _sse(
                {
                    "type": "content_block_delta",
                    "delta": {"type": "text_delta", "text": f"token: {OUTPUT_TOKEN}"},
                }
            ),
            {**ids, "ci": 1, "sc": 200},
        ),
        (T0 + 0.4, 3, 4, frames, {**ids, "ci": 2, "sc": 200}),
        (T0 + 0.5, 3, 5, binary, {**ids, "ci": 3, "sc": 200}),
        (T0 + 0.6, 3, 6, b"", {**ids, "se": True, "tc": 3, "sc": 200}),
        (
            T0 + 0.7,
            3,
            7,
            b"",
            {
                **ids,
                "eos": True,
                "eos_sig": "error_termination",
                "eos_reason": f"upstream said: invalid Bearer {EOS_TOKEN}",
                "eos_term": "error",
            },
        ),
    ]
    path.write_bytes(encode("s1", T0, entries, {"note": f"session key {SESSION_KEY}"}))
    return path


MODES: list[list[str]] = [
    [],
    ["--analyze"],
    ["--analyze-streaming"],
    ["--detect-issues"],
    ["--timeline"],
    ["--status-summary"],
    ["--group-by-session"],
    ["--b2bua"],
    ["--track-request", "1"],
    ["-e", "20"],
    ["-e", "20", "-v"],
    ["-d", "backend_to_proxy"],
    ["-d", "proxy_to_backend"],
    ["-b", "anthropic"],
    ["--session-id", "s1"],
    ["--session-substring", "s"],
    ["--search", "deploy"],
    ["--search", PROMPT_KEY[:20]],
    ["--last", "3"],
    ["-r", "0-5"],
    ["--entry", "1"],
    ["--around", "3", "-c", "2"],
    ["--start-time", str(T0), "--end-time", str(T0 + 1)],
]


@pytest.mark.parametrize("mode", MODES, ids=[" ".join(m) or "plain" for m in MODES])
def test_json_export_of_every_mode_has_no_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: list[str]
) -> None:
    cap = planted_capture(tmp_path / "planted.cbor")
    out = tmp_path / "export.json"
    assert main(["inspect", str(cap), *mode, "--json", str(out)]) == 0
    capsys.readouterr()
    doc = orjson.loads(out.read_bytes())
    assert doc["redacted"] is True
    assert scan_paths([out]) == []
    text = out.read_text()
    for secret in ALL:
        assert secret not in text, secret
    if not mode or mode == ["-e", "20"]:
        assert len(doc["entries"]) == 8 and "[REDACTED]" in text
    # stdout (`--json -`) is the same document
    assert main(["inspect", str(cap), *mode, "--json"]) == 0
    printed = capsys.readouterr().out
    (tmp_path / "stdout.json").write_text(printed)
    assert scan_paths([tmp_path / "stdout.json"]) == []


def test_no_redact_keeps_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cap = planted_capture(tmp_path / "planted.cbor")
    out = tmp_path / "raw.json"
    assert main(["inspect", str(cap), "--json", str(out), "--no-redact"]) == 0
    capsys.readouterr()
    doc = orjson.loads(out.read_bytes())
    assert doc["redacted"] is False
    text = out.read_text()
    for secret in (PROMPT_KEY, OUTPUT_TOKEN, AWS_ID, HEADER_KEY, URL_KEY, CDB_KEY, B64_KEY):
        assert secret in text, secret
    assert scan_paths([out])


# The terminal modes that print metadata as captured (URLs with their query, EoS reasons, `cdb`
# instructions): `inspect/analyze.py`, `inspect/issues.py`, `inspect/listing.py`'s verbose lines.
# The payload previews are redacted (`inspect/redaction.py`); these lines are not yet.
_TEXT_LEAKS: set[str] = set()
TEXT_MODES = [
    pytest.param(
        m,
        id=" ".join(m) or "plain",
        marks=[pytest.mark.xfail(strict=True, reason="metadata printed unredacted")]
        if " ".join(m) in _TEXT_LEAKS
        else [],
    )
    for m in MODES
]


@pytest.mark.parametrize("mode", TEXT_MODES)
def test_text_modes_show_no_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: list[str]
) -> None:
    """The terminal output of the same modes (listing previews, analysis, tracking)."""
    cap = planted_capture(tmp_path / "planted.cbor")
    assert main(["inspect", str(cap), *mode]) == 0
    printed = capsys.readouterr().out
    (tmp_path / "stdout.txt").write_text(printed)
    assert scan_paths([tmp_path / "stdout.txt"]) == [], printed
