"""A figure that is not known is never printed as 0 (docs/metrics.md): a response without usage
shows "—" (or null in JSON and Parquet) in every output of `analyze` and `report`."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import polars as pl
import pytest
from fastcap.cli import main
from fastcap.formats.writers import write_cbor
from fastcap.model import Exchange

URL = "https://api.openai.com/v1/chat/completions"
JSON = [("content-type", "application/json")]


def _call(index: int, usage: dict[str, int] | None) -> Exchange:
    request = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    response: dict[str, object] = {
        "id": f"chatcmpl-{index}",
        "object": "chat.completion",
        "model": "gpt-4o",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}
        ],
    }
    if usage is not None:
        response["usage"] = usage
    t = 1_763_700_000.0 + 10 * index
    return Exchange(
        index, "cbor", "POST", URL,
        request_headers=JSON, request_body=orjson.dumps(request), status=200, response_headers=JSON,
        response_body=orjson.dumps(response), started_at=t, request_ended_at=t + 0.01,
        response_started_at=t + 0.5, ended_at=t + 0.6,
    )  # fmt: skip


@pytest.mark.parametrize("reported", [0, 1])
def test_unknown_usage_is_a_dash_everywhere(
    tmp_path: Path, reported: int, capsys: pytest.CaptureFixture[str]
) -> None:
    usage = {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
    calls = [_call(0, usage if reported else None), _call(1, None)]
    capture = tmp_path / "c.cbor"
    write_cbor(calls, capture)
    out = tmp_path / "a"
    assert main(["analyze", str(capture), "--out", str(out), "--json", "--parquet"]) == 0
    text = capsys.readouterr().out
    md = (out / "analysis.md").read_text()
    tokens = json.loads((out / "analysis.json").read_text())["tokens"]
    parquet = pl.read_parquet(out / "calls.parquet")
    assert parquet["output_total"].to_list() == ([3, None] if reported else [None, None])
    if reported:
        assert tokens["input_total"] == 12 and tokens["cache_write"] is None
        assert (
            "12 input (— cache read, — cache write) | 3 output (— reasoning); usage reported by 1 of 2"
            in text
        )
        assert "| 12 | — | — | 3 | — |" in md and "Usage reported by 1 of 2 model calls" in md
    else:
        assert all(v is None for v in tokens.values())
        assert "Tokens:   — (no model call reported usage)" in text
        assert "| — | — | — | — | — |" in md and "Usage reported by 0 of 2 model calls" in md
    assert "| 0 |" not in md.split("## Tokens")[1].split("## Issues")[0]
    report = tmp_path / "r"
    assert main(["report", str(capture), "--out", str(report)]) == 0
    session = (report / "report.md").read_text()
    assert " 0 " not in session.split("## Token Usage")[1].split("##")[0].replace("0 of", "")
