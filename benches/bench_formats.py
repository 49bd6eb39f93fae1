"""`fastcap analyze` on HAR and traffic.jsonl end to end (issue 10: at least 100 MB/s), against the
standard library merely parsing the same file's JSON, each in its own process, in the same run.

The data is real-shaped: a `benches/gen_capture.py --shape real` capture read once and written as
traffic.jsonl (fastcap's writer, with chunk arrival times in its extension, as `fastcap convert`
writes it) and as HAR 1.2 (laid out as mitmproxy's `hardump` writes it: text bodies, headers as
name/value lists, `timings` in ms). Prints MB/s, the ratio of the baseline's time to fastcap's
and both peak RSS, and the CPU seconds of fastcap (user + system: on a shared machine the wall
time swings with the load, the CPU time much less).

    python benches/bench_formats.py --size-mb 250
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benches.gen_capture import generate  # noqa: E402

# The baselines: the standard library parsing every record (what any Python reader pays first).
JSONL_PARSE = """
import json, sys
n = 0
with open(sys.argv[1], "rb") as f:
    for line in f:
        if line.strip():
            json.loads(line)
            n += 1
print(n)
"""
HAR_PARSE = """
import json, sys
with open(sys.argv[1], "rb") as f:
    print(len(json.load(f)["log"]["entries"]))
"""


def _iso(t: float | None) -> str:
    return datetime.fromtimestamp(t or 0.0, UTC).isoformat().replace("+00:00", "Z")


def _ms(a: float | None, b: float | None) -> float:
    return round((b - a) * 1000.0, 3) if a is not None and b is not None and b >= a else -1


def har_entry(ex: Any) -> dict[str, Any]:
    """One HAR entry as mitmproxy's hardump writes it (text bodies; base64 when not UTF-8)."""

    def content(body: bytes | None, mime: str) -> dict[str, Any]:
        if body is None:
            return {"size": 0, "mimeType": mime}
        try:
            return {"size": len(body), "mimeType": mime, "text": body.decode("utf-8")}
        except UnicodeDecodeError:
            import base64

            return {
                "size": len(body),
                "mimeType": mime,
                "text": base64.b64encode(body).decode(),
                "encoding": "base64",
            }

    req_ct = ex.header("content-type") or ""
    resp_ct = ex.header("content-type", response=True) or ""
    entry: dict[str, Any] = {
        "startedDateTime": _iso(ex.started_at),
        "time": _ms(ex.started_at, ex.ended_at),
        "request": {
            "method": ex.method,
            "url": ex.url,
            "httpVersion": ex.http_version,
            "cookies": [],
            "headers": [{"name": k, "value": v} for k, v in ex.request_headers],
            "queryString": [],
            "headersSize": -1,
            "bodySize": len(ex.request_body or b""),
            "postData": {"mimeType": req_ct, "params": [], **content(ex.request_body, req_ct)},
        },
        "response": {
            "status": ex.status or 0,
            "statusText": ex.reason,
            "httpVersion": ex.http_version,
            "cookies": [],
            "headers": [{"name": k, "value": v} for k, v in ex.response_headers],
            "content": content(ex.response_body, resp_ct),
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": len(ex.response_body or b""),
        },
        "cache": {},
        "timings": {
            "send": _ms(ex.started_at, ex.request_ended_at),
            "wait": _ms(ex.request_ended_at, ex.response_started_at),
            "receive": _ms(ex.response_started_at, ex.ended_at),
        },
    }
    return entry


def write_har(exchanges: list[Any], path: Path) -> None:
    doc = {
        "log": {
            "version": "1.2",
            "creator": {"name": "mitmproxy", "version": "11.0.2", "comment": "benches/bench_formats.py"},
            "pages": [],
            "entries": [har_entry(ex) for ex in exchanges],
        }
    }
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")


def run_measured(cmd: list[str]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS in MB) of one command in its own process."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}:\n{err[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def best(repeat: int, cmd: list[str]) -> tuple[float, float, float]:
    runs = [run_measured(cmd) for _ in range(max(1, repeat))]
    return min(r[0] for r in runs), min(r[1] for r in runs), max(r[2] for r in runs)


def make_inputs(tmp: Path, size_mb: float) -> None:
    from fastcap.formats import read_exchanges
    from fastcap.formats.writers import write_jsonl

    cbor = tmp / "real.cbor"
    generate(cbor, size_mb, shape="real")
    exchanges = read_exchanges(cbor)
    cbor.unlink()
    jsonl, har = tmp / "traffic.jsonl", tmp / "capture.har"
    write_jsonl(exchanges, jsonl, redact=None)
    write_har(exchanges, har)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--size-mb", type=float, default=250, help="size of the CBOR capture the inputs come from"
    )
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--keep", type=Path, help="write the inputs into this directory and keep them (reused)")
    ap.add_argument("--check-min-mbps", type=float, help="fail when fastcap's MB/s (CPU time) is below this")
    ap.add_argument("--inputs-only", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inputs_only is not None:
        make_inputs(args.inputs_only, args.size_mb)
        return 0

    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = args.keep or Path(tmpdir)
        tmp.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        # In a process of its own: a child's peak RSS starts from its parent's at fork, so this
        # process must stay small for the measured commands' RSS to be their own.
        inputs = {"jsonl": tmp / "traffic.jsonl", "har": tmp / "capture.har"}
        if not (args.keep and all(p.exists() for p in inputs.values())):  # --keep DIR: reused when there
            subprocess.run(
                [sys.executable, __file__, "--inputs-only", str(tmp), "--size-mb", str(args.size_mb)],
                check=True,
            )
        print(f"inputs written in {time.perf_counter() - t:.1f}s", flush=True)
        failed = False
        for fmt, path in inputs.items():
            mb = path.stat().st_size / 1e6
            analyze = [
                sys.executable,
                "-m",
                "fastcap",
                "analyze",
                str(path),
                "--out",
                str(tmp / f"out_{fmt}"),
            ]
            analyze += ["--json", "--parquet", "--no-reports", "-q"]
            baseline = [sys.executable, "-c", JSONL_PARSE if fmt == "jsonl" else HAR_PARSE, str(path)]
            wall, cpu, rss = best(args.repeat, analyze)
            b_wall, b_cpu, b_rss = best(args.repeat, baseline)
            print(
                f"{fmt:>5} {mb:7.1f} MB: fastcap analyze {wall:6.2f}s wall ({mb / wall:6.1f} MB/s), "
                f"{cpu:6.2f}s CPU ({mb / cpu:6.1f} MB/s), {rss:5.0f} MB RSS | json {b_wall:6.2f}s wall, "
                f"{b_cpu:6.2f}s CPU, {b_rss:5.0f} MB | ratio {b_cpu / cpu:4.2f}x (CPU)",
                flush=True,
            )
            if args.check_min_mbps is not None and mb / cpu < args.check_min_mbps:
                failed = True
        return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
