"""Run every benchmark at a small size with its ratio gate (what `make test` runs in CI).

Gates are ratios against the Python baselines measured in the same run, never absolute times.
Each gate sits below the ratio measured on the project's 2-core machines (benches/README.md), with
room for run-to-run noise; the full-size targets are reported by `make bench`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

GATES: list[tuple[str, list[str]]] = [
    (
        "cbor",
        ["bench_cbor.py", "--size-mb", "12", "--check-min-read-ratio", "8", "--check-min-analyze-ratio", "8"],
    ),
    ("eventstream", ["bench_eventstream.py", "--mb", "2", "--check-min-ratio", "20"]),
    ("sse", ["bench_sse.py", "--mb", "6", "--check-min-ratio", "20"]),
    ("mitmlog", ["bench_mitmlog.py", "--size-mb", "8", "--check-min-ratio", "15", "--skip-reader"]),
    # fastcap analyze end to end on real-shaped data against cbor2 merely decoding it: 0.31x at
    # 30 MB in a quiet clean-clone run (start-up included; the target is 3x at 250 MB);
    # the gate catches a halving, the RSS gate a leak.
    (
        "analyze",
        [
            "bench_analyze.py",
            "--size-mb",
            "30",
            "--repeat",
            "2",
            "--check-min-ratio",
            "0.15",
            "--check-max-rss-mb",
            "600",
        ],
    ),
]


def main() -> int:
    failed = []
    for name, args in GATES:
        print(f"== bench {name}: {' '.join(args[1:])}", flush=True)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(HERE / args[0]), *args[1:]], check=False)
        print(
            f"== bench {name}: {'ok' if proc.returncode == 0 else 'FAILED'} in {time.perf_counter() - start:.1f}s",
            flush=True,
        )
        if proc.returncode != 0:
            failed.append(name)
    passed = len(GATES) - len(failed)
    print(f"{passed} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
