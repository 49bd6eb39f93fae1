"""CBOR V2 benchmark: fastcap against the Python baselines, same file, same run.

* read:    fastcap `CaptureReader` -> Polars frame, payloads left as stored (lazy decompression),
           against cbor2 decoding every item;
* load:    the same with every zlib payload decompressed, against cbor2 + `zlib.decompress`
           (what the reference inspector does before any analysis);
* analyze: what `fastcap analyze` runs on large captures (streaming read, request correlation,
           vectorised content accounting: `analysis.stream_cbor`), against
           the reference inspector's per-request correlation (`--analyze`, docs/specs/cbor-v2.md §10.7–10.8:
           a rescan of the rest of the file for every client request, JSON per SSE line) in plain
           Python on pre-decoded entries (load time excluded from the baseline).

Prints MB/s and ratios (ratios are what CI gates on, never absolute times).

    python benches/bench_cbor.py --size-mb 40
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import cbor2  # noqa: E402
import polars as pl  # noqa: E402
from fastcap import _native  # noqa: E402
from fastcap.analysis.stream_cbor import calls_from_scan, scan  # noqa: E402

from benches.gen_capture import generate  # noqa: E402
from benches.timing import best_of  # noqa: E402


def fastcap_read(path: Path, decompress: bool) -> pl.DataFrame:
    return pl.DataFrame(_native.CaptureReader(str(path), decompress=decompress).read_all())


def cbor2_items(path: Path) -> list[Any]:
    with open(path, "rb") as f:
        dec = cbor2.CBORDecoder(io.BufferedReader(f, 1 << 20))
        items = []
        while True:
            try:
                items.append(dec.decode())
            except cbor2.CBORDecodeEOF:
                return items


def cbor2_load(path: Path) -> list[Any]:
    items = cbor2_items(path)
    for item in items[1:]:
        if item.get("enc") == "zlib":
            item["data"] = zlib.decompress(item["data"])
    return items


def reference_analyze(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The reference inspector's `--analyze` correlation and content accounting, in plain Python."""
    entries = items[1:]
    out = []
    for i, e in enumerate(entries):
        if e["dir"] != 0:
            continue
        meta = e.get("meta", {})
        rid = meta.get("rid")
        sid = meta.get("asid") or meta.get("sid")
        backend = (
            [x for x in entries[i + 1 :] if x["dir"] == 3 and x.get("meta", {}).get("rid") == rid]
            if rid
            else []
        )
        if not backend:  # session-window fallback
            for x in entries[i + 1 :]:
                if x["dir"] == 0 and (x.get("meta", {}).get("asid") or x.get("meta", {}).get("sid")) == sid:
                    break
                if x["dir"] == 3:
                    backend.append(x)
        client = [x for x in entries[i + 1 :] if x["dir"] == 1 and x.get("meta", {}).get("rid") == rid]
        ttft = next(
            (
                x["meta"]["ttfb"] / 1000
                for x in backend
                if isinstance(x.get("meta", {}).get("ttfb"), (int, float))
            ),
            None,
        )
        chars, tools, models = 0, 0, set()
        for x in backend:
            for line in x["data"].decode("utf-8", "replace").splitlines():
                if not line.startswith("data: ") or line[6:].strip() == "[DONE]":
                    continue
                try:
                    ev = json.loads(line[6:])
                except ValueError:
                    continue
                if isinstance(ev, dict):
                    if ev.get("model"):
                        models.add(ev["model"])
                    for ch in ev.get("choices") or []:
                        delta = ch.get("delta") or {}
                        chars += len(delta.get("content") or "")
                        tools += len(delta.get("tool_calls") or [])
        client_chunks = [len(x["data"]) for x in client if x["data"]]
        out.append(
            {
                "rid": rid,
                "ttft": ttft,
                "chars": chars,
                "tools": tools,
                "models": models,
                "client": client_chunks,
            }
        )
    return out


def fastcap_analyze(path: Path) -> pl.DataFrame:
    meta, content, _ = scan(path)
    return calls_from_scan(meta, content)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=float, default=40.0, help="capture size (default 40)")
    ap.add_argument("--repeat", type=int, default=3, help="best of N for fastcap timings")
    ap.add_argument("--data-dir", type=Path, default=ROOT / "bench-data")
    ap.add_argument(
        "--skip-analyze-baseline",
        action="store_true",
        help="the quadratic baseline takes minutes at 40 MB and up",
    )
    ap.add_argument(
        "--check-min-read-ratio", type=float, default=None, help="exit 1 if read/cbor2 is below N"
    )
    ap.add_argument(
        "--check-min-analyze-ratio", type=float, default=None, help="exit 1 if analyze/baseline is below N"
    )
    args = ap.parse_args(argv)

    args.data_dir.mkdir(parents=True, exist_ok=True)
    path = args.data_dir / f"capture_{args.size_mb:g}mb.cbor"
    if not path.exists():
        stats = generate(path, args.size_mb)
        print(f"generated {path.name}: {stats['entries']:,} entries, {stats['requests']:,} requests")
    mb = path.stat().st_size / 1e6
    print(f"file: {path} ({mb:.1f} MB)")

    t_read, df = best_of(args.repeat, lambda: fastcap_read(path, decompress=False))
    t_cbor2, items = best_of(2, lambda: cbor2_items(path))
    assert df.height == len(items) - 1, "fastcap and cbor2 disagree on the entry count"
    t_load, _ = best_of(args.repeat, lambda: fastcap_read(path, decompress=True))
    t_cbor2_load, items = best_of(1, lambda: cbor2_load(path))
    rows = [
        ("read (payloads as stored)", t_read, "cbor2 decode", t_cbor2),
        ("load (zlib decompressed)", t_load, "cbor2 + zlib", t_cbor2_load),
    ]
    t_an, calls = best_of(args.repeat, lambda: fastcap_analyze(path))
    if not args.skip_analyze_baseline:
        t_ref, ref = best_of(1, lambda: reference_analyze(items))
        assert len(ref) == calls.height, (
            f"request count differs: reference {len(ref)}, fastcap {calls.height}"
        )
        rows.append(("analyze (correlate + content)", t_an, "reference --analyze", t_ref))

    print(f"{'fastcap':32} {'MB/s':>9}   {'baseline':22} {'MB/s':>9}   ratio")
    ratios = {}
    for name, t, base_name, tb in rows:
        ratio = tb / t
        ratios[name.split()[0]] = ratio
        print(f"{name:32} {mb / t:9.1f}   {base_name:22} {mb / tb:9.1f}   {ratio:6.1f}x")
    print(f"requests: {calls.height:,}, with text: {int((calls['text_chars'] > 0).sum()):,}")

    failed = False
    if args.check_min_read_ratio is not None and ratios["read"] < args.check_min_read_ratio:
        print(f"FAIL: read ratio {ratios['read']:.1f}x < {args.check_min_read_ratio}x", file=sys.stderr)
        failed = True
    if (
        args.check_min_analyze_ratio is not None
        and "analyze" in ratios
        and ratios["analyze"] < args.check_min_analyze_ratio
    ):
        print(
            f"FAIL: analyze ratio {ratios['analyze']:.1f}x < {args.check_min_analyze_ratio}x", file=sys.stderr
        )
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
