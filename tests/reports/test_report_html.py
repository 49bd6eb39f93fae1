"""`fastcap report --html`: one self-contained HTML file with the view's pages, opened from file:// in
a real headless Chromium (Debian's, through Playwright, as tests/view does), and its size budget."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastcap.cli import main
from fastcap.formats.writers import write_cbor
from fastcap.model import Exchange
from fastcap.secrets.leakscan import scan_paths
from helpers import REPO_ROOT
from helpers.reports_fixtures import ANTHROPIC_KEY
from helpers.view import ADDED_TO_SYSTEM, ARTIFACTS, headless_chromium, session_exchanges, write_session

BUDGET_BYTES = 10_000_000  # the budget: under 10 MB for 20,000 calls
BUDGET_CALLS = 20_000
ROWS = "#calls .rows .row[data-row]"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The three-call test session of tests/view (thinking, a tool call, a system prompt that gains
    a line, an API key in a tool result, a sub-agent) with the bodies of calls #1 and #2 only."""
    tmp = tmp_path_factory.mktemp("html")
    capture = write_session(tmp / "session.cbor")
    out = tmp / "session.html"
    assert main(["report", str(capture), "--html", "--out", str(out), "--html-calls", "1,2"]) == 0
    return out


def embedded(path: Path) -> dict[str, Any]:
    m = re.search(r'<script type="application/json" id="fastcap-data">(.*?)</script>', path.read_text(), re.S)
    assert m is not None
    data: dict[str, Any] = json.loads(m.group(1))
    return data


def test_the_file_stands_alone_and_is_redacted(report: Path) -> None:
    text = report.read_text()
    # Nothing loaded from elsewhere: no src/href to a file or URL, and a CSP that forbids connecting.
    assert not re.search(r'<(script|link)[^>]+(src|href)="(?!data:)', text)
    assert "default-src 'none'" in text and "connect-src" not in text
    assert ANTHROPIC_KEY not in text and scan_paths([report]) == []
    data = embedded(report)
    assert data["included"] == [0, 1] and set(data["details"]) == {"0", "1"}
    assert data["table"]["row"] == {"k": "index", "n": 3} and data["state"]["sources"] == ["session.cbor"]
    assert "bodies only for 2 calls: #1, #2" in text


@pytest.mark.parametrize("spec", ["0", "4", "2-1", "x", "1,,a"])
def test_bad_call_lists_are_one_line(tmp_path: Path, spec: str, capsys: pytest.CaptureFixture[str]) -> None:
    capture = write_session(tmp_path / "s.cbor")
    assert (
        main(["report", str(capture), "--html", "--out", str(tmp_path / "x.html"), "--html-calls", spec]) == 2
    )
    err = capsys.readouterr().err
    assert err.startswith("fastcap: error: --html-calls") and err.strip().count("\n") == 0


def test_default_name_beside_the_capture(tmp_path: Path) -> None:
    capture = write_session(tmp_path / "run.cbor")
    proc = subprocess.run(
        [sys.executable, "-m", "fastcap", "report", str(capture), "--html"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "run_report.html").is_file() and "bodies of 0" in proc.stdout


def _many(n: int) -> list[Exchange]:
    """`n` calls: the test session repeated, a new conversation every three calls, a second apart."""
    base = session_exchanges()
    out = []
    for i in range(n):
        ex = copy.deepcopy(base[i % 3])
        body = json.loads(ex.request_body or b"{}")
        body["metadata"] = {"user_id": f"user_abc_account__session_{i // 3:08d}-0000-4000-8000-000000000000"}
        ex.request_body = json.dumps(body).encode()
        shift = i * 1.0 - (ex.started_at or 0) + 1_763_700_000.0
        ex.index = i
        ex.request_id = f"req-{i}"
        ex.started_at = (ex.started_at or 0) + shift
        ex.request_ended_at = (ex.request_ended_at or 0) + shift
        ex.ended_at = (ex.ended_at or 0) + shift
        ex.chunks = [type(c)(c.t + shift if c.t is not None else None, c.data) for c in ex.chunks]
        out.append(ex)
    return out


def test_size_budget_scaled_from_two_thousand_calls(tmp_path: Path) -> None:
    """Bytes per call measured on 300 and 2,000 calls, extrapolated to 20,000: under the budget.
    (benches/bench_report_html.py measures a real 20,000-call capture.)"""
    sizes = {}
    for n in (300, 2_000):
        capture = tmp_path / f"{n}.cbor"
        write_cbor(_many(n), capture, redact=None)
        out = tmp_path / f"{n}.html"
        assert main(["report", str(capture), "--html", "--out", str(out), "--html-calls", "1,2,3"]) == 0
        sizes[n] = out.stat().st_size
    per_call = (sizes[2_000] - sizes[300]) / 1_700
    projected = sizes[300] + per_call * (BUDGET_CALLS - 300)
    print(
        f"html: {per_call:.0f} bytes per call, {projected / 1e6:.2f} MB projected for {BUDGET_CALLS:,} calls"
    )
    assert projected < BUDGET_BYTES


# --- in a browser ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with headless_chromium() as b:
        yield b


@pytest.fixture
def page(browser: Any, report: Path) -> Iterator[tuple[Any, list[str], list[str]]]:
    """A page on the report's file:// URL, recording console errors and every network request."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    p = ctx.new_page()
    errors: list[str] = []
    requests: list[str] = []
    p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.on("request", lambda r: requests.append(r.url))
    try:
        yield p, errors, requests
    finally:
        ctx.close()


def _shot(p: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    p.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_overview_table_and_charts_from_file(page: Any, report: Path) -> None:
    p, errors, requests = page
    url = report.as_uri()
    p.goto(url)
    p.wait_for_selector("#c-timing")
    # A chart rendered: its canvas has pixels that are not blank.
    drawn = p.evaluate(
        """() => { const c = document.getElementById('c-timing'); const d = c.getContext('2d')
             .getImageData(0, 0, c.width, c.height).data; let n = 0;
             for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }"""
    )
    assert drawn > 500
    assert "session.cbor" in p.inner_text("h1")
    _shot(p, "report_html_overview")
    p.goto(url + "#/calls")
    p.wait_for_function(f"() => document.querySelectorAll('{ROWS}').length === 3")
    assert p.inner_text("#matched") == "3 of 3 calls"
    # The file has no bodies to search: the search box says what it does search.
    assert "columns" in (p.get_attribute("#f-q", "placeholder") or "")
    p.goto(url + "#/calls?agent=agent-7f3a")
    p.wait_for_function(f"() => document.querySelectorAll('{ROWS}').length === 1")
    p.goto(url + "#/calls?sort=duration_s&desc=1")
    p.wait_for_function(f"() => document.querySelectorAll('{ROWS}').length === 3")
    _shot(p, "report_html_calls")
    assert errors == []
    assert all(r.startswith(("file:", "data:")) for r in requests), requests


def test_included_call_detail_and_diff(page: Any, report: Path) -> None:
    p, errors, _ = page
    url = report.as_uri()
    p.goto(url + "#/call/0")
    p.wait_for_selector("#toolcalls")
    assert "Read" in p.inner_text("#toolcalls")
    p.goto(url + "#/diff/1")
    p.wait_for_selector("#d-system")
    assert ADDED_TO_SYSTEM in p.inner_text("#d-system")
    _shot(p, "report_html_diff")
    p.goto(url + "#/conversations")
    p.wait_for_selector("#convs")
    p.click("#convs a")
    p.wait_for_selector(".agent.sub")
    assert errors == []


def test_a_call_left_out_says_so(page: Any, report: Path) -> None:
    p, errors, _ = page
    p.goto(report.as_uri() + "#/call/2")
    p.wait_for_selector(".err-text")
    text = p.inner_text(".err-text")
    assert "call #3 are not in this file" in text and "#1, #2" in text
    assert "bodies only for 2 calls" in p.inner_text("#embedded-note")
    assert errors == []


def _decode(col: Any) -> Any:
    """embedded.js's `decode`, in Python."""
    if not isinstance(col, dict) or "k" not in col:
        return col
    if col["k"] == "dict":
        return [col["v"][i] for i in col["c"]]
    if col["k"] == "bool":
        return [None if b is None else bool(b) for b in col["c"]]
    if col["k"] == "index":
        return list(range(col["n"]))
    return col


def test_the_embedded_data_decodes_to_what_the_server_answers(tmp_path: Path) -> None:
    """Columns, chart series stored as references to table columns, and shortened floats decode to
    the values `fastcap view`'s API computes (floats to 10 significant digits)."""
    from fastcap.view import bundle, data

    capture = tmp_path / "many.cbor"
    write_cbor(_many(60), capture, redact=None)
    sources = [data.source_for(capture)]
    embedded_data = json.loads(json.dumps(bundle.build(sources, lambda n: [0])))
    snap = data.load_snapshot(sources, version=1, recover=False, redact=True)
    table = {c: _decode(v) for c, v in embedded_data["table"].items()}
    model = [bool(m) for m in table["is_model_call"]]
    expected = bundle.short(data.overview_json(snap)["charts"])
    got = {
        k: [v for v, m in zip(table[s["c"]], model, strict=True) if m]
        if isinstance(s, dict) and s.get("k") == "col"
        else _decode(s)
        for k, s in embedded_data["overview"]["charts"].items()
    }
    assert got == json.loads(json.dumps(expected))
    assert any(
        isinstance(s, dict) and s.get("k") == "col" for s in embedded_data["overview"]["charts"].values()
    )
    page = data.page(snap.calls, data.Filters(), sort=None, desc=False, offset=0, limit=1000)
    for col in ("model", "api_name", "conv", "status", "input_total", "tool_calls", "issues"):
        assert table[col] == [r[col] for r in page["rows"]], col
