"""`fastcap report --html` on a 20,000-call capture: the size of the one-file report, and how soon
its calls table is interactive when opened from disk.

Generates a real-shaped capture (benches/gen_capture.py --shape real, about 26.9 calls per MB, as
bench_view.py does) unless one is given, runs `fastcap report CAPTURE --html --out OUT --html-calls
1,2,3` in its own process, and prints the file's size (total, per call, and its parts: the
embedded data by section, the page's code), the time to write it, and, when Debian's chromium is
installed, the time from opening the file to the calls table's rows drawn and to every chart of
the overview drawn. The issue's budget is under 10 MB for 20,000 calls (`--check` fails above `--budget-mb`).

    python benches/bench_report_html.py [--calls 20000] [--capture PATH] [--check]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benches.gen_capture import generate  # noqa: E402

CALLS_PER_MB = 26.9  # gen_capture --shape real (bench_view.py)
ROWS = "#calls .rows .row[data-row]"


def sections(html: str) -> dict[str, int]:
    """Bytes of each part of the embedded data, and of everything else (the page's own code)."""
    m = re.search(r'<script type="application/json" id="fastcap-data">(.*?)</script>', html, re.S)
    if m is None:
        return {}
    data = json.loads(m.group(1))
    out = {f"data.{k}": len(json.dumps(v, separators=(",", ":"))) for k, v in data.items()}
    out["page code, styles, Chart.js"] = len(html) - len(m.group(1))
    return out


def open_in_browser(path: Path, chromium: str) -> tuple[float, float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        t = time.perf_counter()
        page.goto(path.as_uri() + "#/calls")
        page.wait_for_function(f"() => document.querySelectorAll('{ROWS}').length >= 20", timeout=120_000)
        t_table = time.perf_counter() - t
        t = time.perf_counter()
        page.goto(path.as_uri() + "#/overview")
        # Every chart of the overview drawn, however many the view has.
        page.wait_for_function(
            "() => window.Chart && document.querySelectorAll('#main canvas').length > 0"
            " && Object.keys(Chart.instances).length === document.querySelectorAll('#main canvas').length",
            timeout=120_000,
        )
        t_overview = time.perf_counter() - t
        browser.close()
    return t_table, t_overview


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=20_000, help="calls of the generated capture")
    ap.add_argument("--capture", type=Path, help="use this capture instead of generating one")
    ap.add_argument(
        "--budget-mb", type=float, default=10.0, help="size allowed for the report (MB, 10^6 bytes)"
    )
    ap.add_argument("--check", action="store_true", help="exit 1 when the report is larger than --budget-mb")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        capture = args.capture
        if capture is None:
            size_mb = args.calls / CALLS_PER_MB
            capture = Path(tmp) / "report.cbor"
            print(f"generating {size_mb:.0f} MB (--shape real) for about {args.calls:,} calls…", flush=True)
            generate(capture, size_mb, shape="real")
        out = Path(tmp) / "report.html"
        started = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "fastcap",
                "report",
                str(capture),
                "--html",
                "--out",
                str(out),
                "--html-calls",
                "1,2,3",
            ],
            capture_output=True,
            text=True,
        )
        took = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"fastcap report --html failed: {proc.stderr.strip()}")
        html = out.read_text(encoding="utf-8")
        calls = int(re.search(r"(\d+) calls", proc.stdout).group(1))  # type: ignore[union-attr]
        size = out.stat().st_size
        print(
            f"capture: {capture.stat().st_size / 1e6:,.0f} MB, {calls:,} calls; report written in {took:.1f} s"
        )
        print(
            f"report: {size / 1e6:.2f} MB, {size / max(calls, 1):.0f} bytes per call (budget {args.budget_mb} MB)"
        )
        for name, n in sorted(sections(html).items(), key=lambda kv: -kv[1]):
            print(f"  {name}: {n / 1e6:.2f} MB")
        chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if chromium is not None:
            t_table, t_overview = open_in_browser(out, chromium)
            print(
                f"browser: calls table drawn {t_table:.2f} s after opening the file; overview charts {t_overview:.2f} s"
            )
    if args.check and size > args.budget_mb * 1e6:
        print(f"bench_report_html: FAIL: {size / 1e6:.2f} MB > {args.budget_mb} MB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
