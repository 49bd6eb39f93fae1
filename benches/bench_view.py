"""`fastcap view` on a 20,000-call capture: how soon the page's calls table is interactive.

Generates a real-shaped capture (benches/gen_capture.py --shape real; about 26.9 calls per --size-mb,
so 20,000 calls is --size-mb 743, about 780 MB on disk) unless one is given, starts a real `fastcap view` process and drives
Debian's chromium (headless, through Playwright) against it. Prints:

- server: process start → URL printed, and → the calls table loaded (the engine's streaming pass);
- page: navigation to `#/calls` → the first rows drawn and answering (the table is interactive),
  then a jump to the middle of the table, a filter and a free-text search, each until its rows
  are drawn.

The issue's target is the page: the calls table interactive within 3 s of opening it (`--check`
fails above `--gate`). The server's load is printed beside it; on a capture this size it is the
engine's `fastcap analyze` pass (benches/README.md), done once before the page can show anything.

    python benches/bench_view.py [--calls 20000] [--capture PATH] [--check]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benches.gen_capture import generate  # noqa: E402

CALLS_PER_MB = 26.9  # gen_capture --shape real: 20,194 calls at --size-mb 750 (786 MB on disk)
ROWS = "#calls .rows .row[data-row]"


def wait_rows(page: Any, at_least: int = 1, timeout: float = 60.0) -> None:
    page.wait_for_function(
        f"() => document.querySelectorAll('{ROWS}').length >= {at_least}", timeout=timeout * 1000
    )


def timed(fn: Any) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=20_000, help="calls of the generated capture")
    ap.add_argument("--capture", type=Path, help="use this capture instead of generating one")
    ap.add_argument("--gate", type=float, default=3.0, help="seconds allowed from navigation to interactive")
    ap.add_argument("--check", action="store_true", help="exit 1 when the page is slower than --gate")
    args = ap.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("bench_view: needs Debian's chromium (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        capture = args.capture
        if capture is None:
            size_mb = args.calls / CALLS_PER_MB
            capture = Path(tmp) / "view.cbor"
            print(f"generating {size_mb:.0f} MB (--shape real) for about {args.calls:,} calls…", flush=True)
            generate(capture, size_mb, shape="real")
        size = capture.stat().st_size / 1e6
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "fastcap", "view", str(capture), "--no-live"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            t_url = time.perf_counter() - started
            m = re.search(r"(http://127\.0\.0\.1:\d+)/\?token=(\S+)", line)
            if m is None:
                raise SystemExit(f"no URL printed: {line!r}")
            url, base, token = m.group(0), m.group(1), m.group(2)
            while not (state := httpx.get(f"{base}/api/state", params={"token": token}).json())["ready"]:
                time.sleep(0.05)
            t_ready = time.perf_counter() - started
            calls = state["calls"]
            print(f"capture: {capture.name}, {size:,.0f} MB, {calls:,} calls")
            print(f"server: URL printed after {t_url:.2f} s, calls table loaded after {t_ready:.2f} s")
            from playwright.sync_api import sync_playwright

            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=chromium,
                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
                )
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                t_open = timed(lambda: (page.goto(url + "#/calls"), wait_rows(page, 20)))
                # Interactive: the table answers a scroll to its middle with that page's rows.
                middle = calls // 2

                def scroll() -> None:
                    page.evaluate(
                        f"() => (document.querySelector('#calls .scroll').scrollTop = {middle} * 26)"
                    )
                    page.wait_for_function(
                        f"() => [...document.querySelectorAll('{ROWS}')].some((r) => +r.dataset.row >= {middle - 50})",
                        timeout=60000,
                    )

                t_scroll = timed(scroll)
                # Each wait names the new view's own state: until the page has replaced it, the
                # previous view's rows and counts are still in the document.
                t_filter = timed(
                    lambda: (
                        page.goto(url + "#/calls?issue=rate_limit&sort=duration_s&desc=1"),
                        page.wait_for_function(
                            "() => document.querySelector('#f-issue')?.value === 'rate_limit'"
                            f" && document.querySelectorAll('{ROWS}').length > 0",
                            timeout=60000,
                        ),
                    )
                )
                # The search answers from the table's columns and the part of the prompt/reply index
                # built so far (it is built in the background): wait for the answer, not for rows.
                t_search = timed(
                    lambda: (
                        page.goto(url + "#/calls?q=k%C3%A4se"),
                        page.wait_for_function(
                            "() => document.querySelector('#f-q')?.value === 'käse'"
                            " && / of /.test(document.querySelector('#matched')?.textContent || '')",
                            timeout=60000,
                        ),
                    )
                )
                found = page.inner_text("#matched")
                indexed = httpx.get(f"{base}/api/state", params={"token": token}).json()["search"]
                t_overview = timed(
                    lambda: (
                        page.goto(url + "#/overview"),
                        page.wait_for_function(
                            "() => window.Chart && Object.keys(Chart.instances).length > 0"
                            " && Object.keys(Chart.instances).length === document.querySelectorAll('main canvas').length"
                        ),
                    )
                )
                browser.close()
        finally:
            proc.terminate()
            proc.wait(10)
            if proc.stdout is not None:
                proc.stdout.close()
    interactive = t_open + t_scroll
    print(
        f"page: calls table drawn {t_open:.2f} s after navigation, a jump to row {middle:,} drawn in {t_scroll:.2f} s"
    )
    print(f"page: calls table interactive {interactive:.2f} s after opening it (gate {args.gate:.1f} s)")
    print(
        f"page: filter + sort {t_filter:.2f} s, search {t_search:.2f} s ({found}; search index "
        f"{indexed['indexed']:,} of {indexed['total']:,} calls so far), overview with its charts {t_overview:.2f} s"
    )
    print(f"from `fastcap view` start to an interactive table: {t_ready + interactive:.2f} s")
    if args.check and interactive > args.gate:
        print(f"bench_view: FAIL: {interactive:.2f} s > {args.gate:.1f} s", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
