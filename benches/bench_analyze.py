"""`fastcap analyze` end to end, with every feature of the calls table (TTFT, per-call accounting,
grouped issues, analysis.md, analysis.json, calls.parquet), against cbor2 merely decoding the same
file, in the same run, each in its own process so that peak memory is the command's own.

Real-shaped data by default (benches/gen_capture.py --shape real: most entries zlib-compressed,
streams recorded at two layers, streams abandoned after their finish reason, a few batches out of
order). Prints MB/s, the ratio of cbor2's time to fastcap's and both peak RSS; with the --check
flags, fails when the ratio drops below the gate or the RSS rises above it (ratios, never times).

    python benches/bench_analyze.py --size-mb 250
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benches.gen_capture import generate  # noqa: E402

CBOR2_DECODE = """
import io, sys, cbor2
with open(sys.argv[1], "rb") as f:
    dec = cbor2.CBORDecoder(io.BufferedReader(f, 1 << 20))
    n = 0
    while True:
        try:
            dec.decode()
        except cbor2.CBORDecodeEOF:
            break
        n += 1
print(n)
"""


def run_measured(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one command in its own process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode not in (0,):
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{err[-2000:]}")
    return wall, usage.ru_maxrss / 1024


def best(repeat: int, cmd: list[str]) -> tuple[float, float]:
    runs = [run_measured(cmd) for _ in range(max(1, repeat))]
    return min(r[0] for r in runs), max(r[1] for r in runs)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=float, default=250)
    ap.add_argument("--shape", default="real", choices=["real", "synthetic"])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--check-min-ratio", type=float, help="fail when cbor2 time / fastcap time is below this")
    ap.add_argument("--check-max-rss-mb", type=float, help="fail when fastcap's peak RSS is above this")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{args.shape}.cbor"
        t = time.perf_counter()
        generate(path, args.size_mb, shape=args.shape)
        mb = path.stat().st_size / 1e6
        print(f"generated {mb:.1f} MB ({args.shape} shape) in {time.perf_counter() - t:.1f}s", flush=True)
        analyze = [
            sys.executable, "-m", "fastcap", "analyze", str(path), "--out", str(Path(tmp) / "out"),
            "--json", "--parquet", "--no-reports", "-q",
        ]  # fmt: skip
        fc_time, fc_rss = best(args.repeat, analyze)
        cb_time, cb_rss = best(args.repeat, [sys.executable, "-c", CBOR2_DECODE, str(path)])
    ratio = cb_time / fc_time
    print(f"fastcap analyze (every column, analysis.md/json, calls.parquet): {fc_time:6.2f}s  "
          f"{mb / fc_time:7.1f} MB/s  peak RSS {fc_rss:6.0f} MB")  # fmt: skip
    print(f"cbor2 decoding only                                          : {cb_time:6.2f}s  "
          f"{mb / cb_time:7.1f} MB/s  peak RSS {cb_rss:6.0f} MB")  # fmt: skip
    print(
        f"ratio (cbor2 time / fastcap time): {ratio:.2f}x   [issue target: >= 3x, peak RSS < 500 MB at 250 MB]"
    )
    ok = True
    if args.check_min_ratio is not None and ratio < args.check_min_ratio:
        print(f"FAIL: ratio {ratio:.2f} < {args.check_min_ratio}")
        ok = False
    if args.check_max_rss_mb is not None and fc_rss > args.check_max_rss_mb:
        print(f"FAIL: peak RSS {fc_rss:.0f} MB > {args.check_max_rss_mb} MB")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
