"""`fastcap ingest` against `fastcap analyze` on the same captures, and analyses over the dataset.

1. N real-shaped captures (benches/gen_capture.py --shape real), every third one converted to
   traffic.jsonl with `fastcap convert` (HAR is not a `convert` target), so the formats are mixed.
2. `fastcap analyze FILE --no-reports` on each file, one after the other (the baseline), then
   `fastcap ingest FILES --to DATASET --jobs J` (calls and exchanges), then the same with
   `--calls-only`, each in its own process; prints seconds, MB/s and the ratio ingest / analyze
   (the issue's target is 1.3x, using both cores).
3. The overview of the whole dataset (`fastcap.dataset.calls_for_inputs` + `build_overview`, what
   `fastcap analyze DATASET` runs; then that command itself) and a streaming aggregation over every stored exchange body, each
   in its own process: peak RSS, and whether the calls table and the overview equal the ones
   computed from the captures directly (`compare`). `--limit-mb` runs them under RLIMIT_AS (address space, not RSS; with
   POLARS_MAX_THREADS pinned to the CPU count and MALLOC_ARENA_MAX=2 it measures memory used).

Defaults are small (6 captures of 8 MB); the issue's size for the ratio is `--captures 100
--size-mb 20` (2 GB). Every timed command's CPU seconds (its own and its children's) are printed
beside its wall time: on a shared machine the wall time of two processes against one depends on
what else runs. The machine is shared: the load average is printed with the figures.

`--memory` is the issue's memory check, on captures made beforehand (any sizes: generating 5 GB
takes a while, e.g. ten `gen_capture.py --shape real --size-mb 520` in parallel): it skips step 2's
baselines, ingests `WORKDIR/captures` into `WORKDIR/ds-ingest` (incrementally: captures already
there are skipped, so the dataset can be filled while captures are still being generated), then
runs step 3 under `--limit-mb` (default 1024 with `--memory`; with POLARS_MAX_THREADS and
MALLOC_ARENA_MAX pinned, see `run_measured`).

    python benches/bench_dataset.py [--captures N] [--size-mb MB] [--jobs J] [--limit-mb MB]
    python benches/bench_dataset.py --memory --workdir DIR [--limit-mb 1024]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benches.gen_capture import generate  # noqa: E402

FASTCAP = [sys.executable, "-m", "fastcap"]

OVERVIEW = """
import json, sys
from fastcap.analysis.calls import CALLS_SCHEMA
from fastcap.analysis.overview import build_overview
from fastcap.dataset import calls_for_inputs
calls = calls_for_inputs(sys.argv[2:]).select(list(CALLS_SCHEMA))
overview = build_overview(calls, source="bench", fmt="many").to_json()
with open(sys.argv[1], "w") as f:
    json.dump(overview, f, sort_keys=True)
calls.write_parquet(sys.argv[1] + ".calls.parquet")
"""


def close(a: object, b: object) -> bool:
    """Equal, floats within 1e-12 relative: Polars sums a float column per group on hash
    partitions whose seed is random per process, so a per-group total (the overview's cost per
    model) can differ in its last digit between two runs on the same calls."""
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-12 * max(abs(a), abs(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def compare(direct: Path, dataset: Path) -> tuple[bool, str]:
    """(the same answer, how): the calls tables (every per-call metric) exactly, the overviews
    exactly or up to the last digit of a float sum."""
    import polars as pl

    calls_same = pl.read_parquet(f"{direct}.calls.parquet").equals(
        pl.read_parquet(f"{dataset}.calls.parquet")
    )
    a, b = json.loads(direct.read_text()), json.loads(dataset.read_text())
    if a == b:
        how = "calls tables identical, overviews identical"
    elif close(a, b):
        how = "calls tables identical, overviews equal but for the last digit of float sums"
    else:
        return False, f"calls tables {'identical' if calls_same else 'DIFFER'}, overviews DIFFER"
    return calls_same, how if calls_same else how.replace("identical,", "DIFFER,", 1)


BODIES = """
import sys, polars as pl, fastcap
ds = fastcap.open_dataset(sys.argv[1])
out = (
    ds.exchanges.group_by("model", "date")
    .agg(bodies=pl.col("response_body").bin.size().sum(), requests=pl.col("request_body").bin.size().sum(),
         chunks=pl.col("chunk_sizes").list.len().sum(), n=pl.len())
    .collect(engine="streaming")
)
print(out.height, int(out["bodies"].sum()), int(out["requests"].sum()))
"""


LAST_CPU_S = [0.0]  # CPU seconds (user + system) of the last `run_measured` command and its children


def run_measured(cmd: list[str], limit_mb: int | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, stdout) of one command in its own process; the peak is the
    largest of the process and the worker processes it waited for (os.wait4). Its CPU seconds are
    left in LAST_CPU_S."""

    def limit() -> None:
        if limit_mb:
            resource.setrlimit(resource.RLIMIT_AS, (limit_mb << 20, limit_mb << 20))
            # RLIMIT_AS counts address space, which Polars' thread pools and glibc's malloc arenas
            # (64 MB reserved per thread that allocates) reserve generously: pin the threads to the
            # CPUs there are (the default can count more) and the arenas to two, so that the limit
            # measures memory used (56,593 calls: 1.4 GB of address space with the default arenas,
            # 0.5 GB with two, 0.21 GB resident either way).
            os.environ["POLARS_MAX_THREADS"] = str(os.cpu_count() or 2)
            os.environ["MALLOC_ARENA_MAX"] = "2"

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, preexec_fn=limit)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        LAST_CPU_S[0] = usage.ru_utime + usage.ru_stime
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(
                f"{' '.join(cmd)} exited {proc.returncode}:\n{err.read().decode(errors='replace')[-2000:]}"
            )
        return wall, usage.ru_maxrss / 1024, out.read().decode()


def make_captures(folder: Path, n: int, size_mb: float) -> list[Path]:
    paths = []
    for i in range(n):
        cbor = folder / f"c{i:03d}.cbor"
        generate(cbor, size_mb, seed=100 + i, shape="real")
        if i % 3 == 2:
            jsonl = folder / f"c{i:03d}.jsonl"
            subprocess.run([*FASTCAP, "convert", str(cbor), str(jsonl)], check=True, capture_output=True)
            cbor.unlink()
            paths.append(jsonl)
        else:
            paths.append(cbor)
    return paths


def ingest_timed(files: list[Path], ds: Path, jobs: int, extra: list[str]) -> float:
    wall, _, _ = run_measured(
        [*FASTCAP, "ingest", *map(str, files), "--to", str(ds), "-q", "--jobs", str(jobs), *extra]
    )
    return wall


def ratios(files: list[Path], work: Path, mb: float, jobs: int, figures: dict[str, float]) -> None:
    """Step 2: analyze one by one, then ingest (with and without exchanges)."""
    out = work / "analyze-out"
    t0 = time.perf_counter()
    cpu = 0.0
    for p in files:
        run_measured([*FASTCAP, "analyze", str(p), "--no-reports", "--out", str(out), "-q"])
        cpu += LAST_CPU_S[0]
    analyze_s = time.perf_counter() - t0
    print(f"analyze, one by one:      {analyze_s:7.2f}s  {mb / analyze_s:6.1f} MB/s  CPU {cpu:7.1f}s")
    figures.update(analyze_s=analyze_s, analyze_cpu_s=cpu)
    for label, extra, key in (
        ("ingest (calls+exchanges)", [], "ingest"),
        ("ingest --calls-only", ["--calls-only"], "ingest_calls_only"),
    ):
        ds = work / f"ds-{key}"
        subprocess.run(["rm", "-rf", str(ds)], check=True)
        wall = ingest_timed(files, ds, jobs, extra)
        figures[f"{key}_s"] = wall
        figures[f"{key}_cpu_s"] = LAST_CPU_S[0]
        print(
            f"{label + ',':25} {wall:7.2f}s  {mb / wall:6.1f} MB/s  CPU {LAST_CPU_S[0]:7.1f}s  "
            f"ratio to analyze {wall / analyze_s:.2f}x (CPU {LAST_CPU_S[0] / cpu:.2f}x)"
            f"  (--jobs {jobs}, load {os.getloadavg()[0]:.1f})"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--captures", type=int, default=6)
    ap.add_argument("--size-mb", type=float, default=8)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--limit-mb", type=int, help="RLIMIT_AS for the dataset analyses")
    ap.add_argument("--workdir", type=Path, help="keep the captures and dataset here (default: a temp dir)")
    ap.add_argument(
        "--memory",
        action="store_true",
        help="the memory check on the captures already in WORKDIR/captures (no generation, no baselines)",
    )
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON line too")
    args = ap.parse_args()
    if args.memory and args.workdir is None:
        ap.error("--memory needs --workdir (the captures are made beforehand)")
    limit_mb = args.limit_mb or (1024 if args.memory else None)

    with tempfile.TemporaryDirectory(prefix="fastcap-bench-dataset-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        caps = work / "captures"
        caps.mkdir(exist_ok=True)
        files = sorted(p for p in caps.iterdir() if p.suffix in (".cbor", ".jsonl"))
        if not args.memory and len(files) != args.captures:
            for p in files:
                p.unlink()
            files = make_captures(caps, args.captures, args.size_mb)
        total = sum(p.stat().st_size for p in files)
        mb = total / 1e6
        print(
            f"{len(files)} captures ({sum(p.suffix == '.jsonl' for p in files)} JSONL), {mb:.0f} MB; "
            f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start"
        )

        figures: dict[str, float] = {"mb": mb}
        ds = work / "ds-ingest"
        if args.memory:
            wall = ingest_timed(files, ds, args.jobs, [])
            print(
                f"ingest (what was not in the dataset yet): {wall:7.2f}s  CPU {LAST_CPU_S[0]:7.1f}s"
                f"  (--jobs {args.jobs}, load {os.getloadavg()[0]:.1f})"
            )
        else:
            ratios(files, work, mb, args.jobs, figures)

        stored = sum(p.stat().st_size for p in ds.rglob("*.parquet"))
        direct_json, ds_json = work / "direct.json", work / "dataset.json"
        wall_d, rss_d, _ = run_measured([sys.executable, "-c", OVERVIEW, str(direct_json), *map(str, files)])
        print(f"overview of the captures: {wall_d:7.2f}s  peak RSS {rss_d:6.0f} MB  (decoding every capture)")
        wall, rss, _ = run_measured([sys.executable, "-c", OVERVIEW, str(ds_json), str(ds)], limit_mb)
        same, how = compare(direct_json, ds_json)
        print(
            f"overview of the dataset:  {wall:7.2f}s  peak RSS {rss:6.0f} MB  "
            f"same answer as the captures: {same} ({how})"
            + (f"  (under RLIMIT_AS {limit_mb} MB)" if limit_mb else "")
        )
        wall_a, rss_a, _ = run_measured(
            [*FASTCAP, "analyze", str(ds), "--out", str(work / "analyze-dataset"), "-q"], limit_mb
        )
        print(
            f"fastcap analyze DATASET:  {wall_a:7.2f}s  peak RSS {rss_a:6.0f} MB  (analysis.md of every call)"
        )
        wall_b, rss_b, line = run_measured([sys.executable, "-c", BODIES, str(ds)], limit_mb)
        groups, resp, req = (int(x) for x in line.split())
        print(
            f"stream over all bodies:   {wall_b:7.2f}s  peak RSS {rss_b:6.0f} MB  "
            f"({stored / 1e6:.0f} MB of Parquet holding {(resp + req) / 1e9:.2f} GB of bodies: "
            f"{resp / 1e9:.2f} GB response, {req / 1e9:.2f} GB request; {groups} groups)"
        )
        figures.update(
            direct_overview_s=wall_d,
            direct_overview_rss_mb=rss_d,
            overview_s=wall,
            overview_rss_mb=rss,
            analyze_dataset_s=wall_a,
            analyze_dataset_rss_mb=rss_a,
            bodies_s=wall_b,
            bodies_rss_mb=rss_b,
            body_bytes=float(resp + req),
            parquet_bytes=float(stored),
            same=float(same),
        )
        print(f"load average at end {os.getloadavg()[0]:.1f}")
        if args.json:
            print(json.dumps(figures))
        return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
