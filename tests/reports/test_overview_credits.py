"""kiro's metering credits reach the overview in their own unit, never as tokens (docs/metrics.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastcap.cli import main
from fastcap.formats.writers import write_cbor
from fastcap.model import Exchange
from helpers import DATA

BODY = DATA / "eventstream" / "kiro-runtime" / "generate_assistant_response.bin"


def test_credits_in_the_overview(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ex = Exchange(
        0, "cbor", "POST", "https://runtime.us-east-1.kiro.dev/",
        request_headers=[("x-amz-target", "KiroRuntimeService.GenerateAssistantResponse")],
        request_body=b'{"conversationState": {}}', status=200,
        response_headers=[("content-type", "application/vnd.amazon.eventstream")],
        response_body=BODY.read_bytes(), started_at=1_763_700_000.0,
    )  # fmt: skip
    capture = tmp_path / "kiro.cbor"
    write_cbor([ex], capture)
    out = tmp_path / "a"
    assert main(["analyze", str(capture), "--out", str(out), "--json"]) == 0
    credits = json.loads((out / "analysis.json").read_text())["credits"]
    assert credits is not None and credits > 0
    assert f"Credits:  {credits:,.4g} (kiro metering, not tokens)" in capsys.readouterr().out
    assert f"Credits (kiro metering, not tokens): {credits:,.4g}" in (out / "analysis.md").read_text()
