"""Cost in what `fastcap analyze` prints and writes (docs/metrics.md, Cost): the terminal line,
analysis.md, analysis.json and calls.parquet; an unpriced model is named, never counted as $0."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from fastcap.analysis.cost import prices_version
from fastcap.cli import main
from fastcap.formats.writers import write_cbor
from fastcap.model import Exchange

T0 = 1_763_640_000.0
ANTHROPIC_JSON = (
    b'{"type":"message","model":"claude-sonnet-4-5","content":[{"type":"text","text":"Hi"}],'
    b'"stop_reason":"end_turn","usage":{"input_tokens":900,"cache_creation_input_tokens":100,'
    b'"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":100},"output_tokens":50}}'
)
LOCAL_JSON = (
    b'{"id":"c1","model":"my-local-model","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},'
    b'"finish_reason":"stop"}],"usage":{"prompt_tokens":10,"completion_tokens":2}}'
)


def _exchange(index: int, url: str, model: str, body: bytes) -> Exchange:
    return Exchange(
        index, "cbor", "POST", url,
        request_headers=[("content-type", "application/json")],
        request_body=json.dumps({"model": model, "messages": []}).encode(),
        status=200, response_headers=[("content-type", "application/json")],
        response_body=body, started_at=T0 + index, ended_at=T0 + index + 1,
    )  # fmt: skip


def test_cost_in_the_overview_reports_and_parquet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capture = tmp_path / "mixed.cbor"
    write_cbor(
        [
            _exchange(0, "https://api.anthropic.com/v1/messages", "claude-sonnet-4-5", ANTHROPIC_JSON),
            _exchange(1, "https://llm.internal.example/v1/chat/completions", "my-local-model", LOCAL_JSON),
        ],
        capture,
    )
    out = tmp_path / "a"
    assert main(["analyze", str(capture), "--out", str(out), "--json", "--parquet"]) == 0
    usd = (900 * 3 + 100 * 6 + 50 * 15) / 1e6  # 1-hour writes at $6/MTok
    line = (
        f"Cost:     ${usd:.6f} at list prices ({prices_version()}) over 1 priced calls; "
        "1 unpriced (my-local-model ×1)"
    )
    assert line in capsys.readouterr().out
    cost = json.loads((out / "analysis.json").read_text())["cost"]
    assert cost["total_usd"] == pytest.approx(usd)
    assert cost["unpriced_models"] == {"my-local-model": 1}
    assert cost["by_model"] == {"claude-sonnet-4-5": pytest.approx(usd)}
    md = (out / "analysis.md").read_text()
    assert "## Cost (model calls)" in md and "| my-local-model | unpriced |" in md
    assert f"| ${usd:.6f} |" in md  # the Anthropic call's row in the calls table
    calls = pl.read_parquet(out / "calls.parquet")
    assert calls["cost_usd"].to_list() == [pytest.approx(usd), None]
    assert calls["cache_write_1h"].to_list() == [100, None]
    assert calls["price_model"].to_list() == ["claude-sonnet-4-5", None]


def test_the_price_source_is_named_with_its_version() -> None:
    from importlib.metadata import version

    assert prices_version() == f"genai-prices {version('genai-prices')}"


def test_without_genai_prices_every_call_is_unpriced(tmp_path: Path) -> None:
    """A Python where genai-prices cannot be imported: `fastcap analyze` still runs, and says so."""
    import subprocess
    import sys

    capture = tmp_path / "one.cbor"
    write_cbor(
        [_exchange(0, "https://api.anthropic.com/v1/messages", "claude-sonnet-4-5", ANTHROPIC_JSON)], capture
    )
    blocker = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] == 'genai_prices':\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from fastcap.cli import main\n"
        f"raise SystemExit(main(['analyze', {str(capture)!r}, '--out', {str(tmp_path / 'a')!r}]))\n"
    )
    run = subprocess.run([sys.executable, "-c", blocker], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert "Cost:     — at list prices (genai-prices not installed: every call unpriced)" in run.stdout
    assert "1 unpriced (claude-sonnet-4-5 ×1)" in run.stdout
