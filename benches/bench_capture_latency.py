"""Latency the fastcap addon adds per chunk and per request, versus plain mitmdump, in one run.

Both proxies run in forward mode against the local fake upstream; plain mitmdump streams with
`stream_large_bodies=1` (so neither buffers). The upstream stamps each SSE event with its send time,
so per-chunk latency = client arrival − server send (same clock). Requests alternate between the two
proxies to share noise. Prints p50/p99 of each and the added milliseconds.

    python benches/bench_capture_latency.py [--requests 40] [--chunks 50] [--delay 0.005]
"""

from __future__ import annotations

import argparse
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from fakeupstream import FakeUpstream
from fakeupstream.mitm import Mitmdump


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def one(client: httpx.Client, url: str) -> tuple[list[float], float]:
    lat: list[float] = []
    buf = b""
    t0 = time.perf_counter()
    with client.stream("GET", url) as r:
        for chunk in r.iter_raw():
            now = time.time()
            buf += chunk
            while b"\n\n" in buf:
                event, buf = buf.split(b"\n\n", 1)
                if event.startswith(b"data: "):
                    lat.append((now - orjson.loads(event[6:])["t"]) * 1000.0)
    return lat, (time.perf_counter() - t0) * 1000.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--chunks", type=int, default=50)
    ap.add_argument("--delay", type=float, default=0.005)
    ap.add_argument("--size", type=int, default=300)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="fastcap-bench-"))
    (root / "conf").mkdir()
    (root / "out").mkdir()
    with FakeUpstream(root) as up:
        plain = Mitmdump(root / "conf", root / "out", addon=False, sets={"stream_large_bodies": "1"}).start()
        capture = Mitmdump(root / "conf", root / "out", session="bench").start()
        try:
            url = f"{up.url}/stamped?n={args.chunks}&delay={args.delay}&size={args.size}"
            results: dict[str, tuple[list[float], list[float]]] = {"plain": ([], []), "fastcap": ([], [])}
            clients = {}
            for name, m in (("plain", plain), ("fastcap", capture)):
                ctx = ssl.create_default_context(cafile=str(m.ca))
                clients[name] = httpx.Client(proxy=m.proxy, verify=ctx, timeout=60)
                one(clients[name], url)  # warm-up: connections, TLS, certificate generation
            for _ in range(args.requests):
                for name in ("plain", "fastcap"):
                    lat, total = one(clients[name], url)
                    results[name][0].extend(lat)
                    results[name][1].append(total)
            for c in clients.values():
                c.close()
        finally:
            plain.stop()
            capture.stop()
    size = sum(p.stat().st_size for p in (root / "out").glob("*.cbor"))
    print(
        f"{args.requests} requests × {args.chunks} chunks of ~{args.size} B per proxy, {args.delay * 1000:.0f} ms apart"
    )
    print(f"{'':10} {'chunk p50':>10} {'chunk p99':>10} {'req p50':>10} {'req p99':>10}  (ms)")
    for name, (lat, tot) in results.items():
        print(
            f"{name:10} {pct(lat, 0.5):10.3f} {pct(lat, 0.99):10.3f} {pct(tot, 0.5):10.2f} {pct(tot, 0.99):10.2f}"
        )
    (pl, pt), (fl, ft) = results["plain"], results["fastcap"]
    added50 = pct(fl, 0.5) - pct(pl, 0.5)
    added99 = pct(fl, 0.99) - pct(pl, 0.99)
    print(
        f"added per chunk:   p50 {added50:+.3f} ms  p99 {added99:+.3f} ms  ratio p50 {pct(fl, 0.5) / pct(pl, 0.5):.2f}x"
    )
    print(
        f"added per request: p50 {pct(ft, 0.5) - pct(pt, 0.5):+.2f} ms  p99 {pct(ft, 0.99) - pct(pt, 0.99):+.2f} ms  "
        f"ratio p50 {statistics.median(ft) / statistics.median(pt):.3f}x"
    )
    print(
        f"capture file: {size} bytes; target: < 1 ms added per chunk at p50 -> {'OK' if added50 < 1.0 else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
