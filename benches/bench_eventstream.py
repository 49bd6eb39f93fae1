"""Throughput of fastcap's EventStream decoder against botocore's ``EventStreamBuffer``.

Builds a deterministic CodeWhisperer-shaped body (``assistantResponseEvent`` frames of 120-160
bytes, like the real service sends: a token or two of text each) and times, in one run:

* ``check_eventstream``: whole-body decode, both CRCs and every header checked (no Python objects);
* ``decode_eventstream``: the same plus a Python dict per frame;
* ``EventStreamDecoder`` fed 16 KiB chunks (dict per frame);
* ``eventstream_column``: the body split into exchanges of ~64 frames, decoded into Arrow tables;
* botocore ``EventStreamBuffer`` fed 16 KiB chunks (what the AWS SDK does).

Build first: ``maturin develop --release``. ``--check-min-ratio N`` exits 1 when the whole-body
decode is less than N times botocore's throughput (CI uses 20).
"""

from __future__ import annotations

import argparse
import json
import random
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fastcap import _native as nat  # noqa: E402

from benches.timing import best_of  # noqa: E402

CHUNK = 16 * 1024
WORDS = [
    "the",
    " file",
    " reads",
    " Ünï",
    "cödé",
    " ✓",
    " config",
    "\\n",
    " def",
    " return",
    " x",
    " =",
    " 42",
    ".",
]


def _header(name: str, value: str) -> bytes:
    n, v = name.encode(), value.encode()
    return bytes([len(n)]) + n + b"\x07" + struct.pack(">H", len(v)) + v


HEADERS = (
    _header(":event-type", "assistantResponseEvent")
    + _header(":content-type", "application/json")
    + _header(":message-type", "event")
)


def frame(payload: bytes) -> bytes:
    pre = struct.pack(">II", 16 + len(HEADERS) + len(payload), len(HEADERS))
    pre += struct.pack(">I", zlib.crc32(pre))
    body = pre + HEADERS + payload
    return body + struct.pack(">I", zlib.crc32(body))


def build_frames(total_bytes: int, seed: int = 0) -> list[bytes]:
    rng = random.Random(seed)
    frames: list[bytes] = []
    size = 0
    while size < total_bytes:
        target = rng.randint(120, 160)
        text = ""
        while True:
            payload = json.dumps({"content": text + rng.choice(WORDS)}, ensure_ascii=False).encode()
            if 16 + len(HEADERS) + len(payload) > target:
                break
            text = json.loads(payload)["content"]
        f = frame(json.dumps({"content": text}, ensure_ascii=False).encode())
        frames.append(f)
        size += len(f)
    return frames


def seconds(fn: Callable[[], object], repeat: int) -> float:
    return best_of(repeat, fn)[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mb", type=float, default=8.0, help="body size in MB (default 8)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--check-min-ratio", type=float, default=None, metavar="N")
    args = ap.parse_args(argv)

    from botocore.eventstream import EventStreamBuffer

    if nat.build_profile != "release":
        print(f"warning: fastcap._native is a {nat.build_profile} build", file=sys.stderr)
    frames = build_frames(int(args.mb * 1e6))
    body = b"".join(frames)
    n = len(frames)
    exchanges = [b"".join(frames[i : i + 64]) for i in range(0, n, 64)]
    sizes = [len(f) for f in frames]
    print(
        f"body: {len(body) / 1e6:.1f} MB, {n} frames of {min(sizes)}-{max(sizes)} bytes, {len(exchanges)} exchanges"
    )

    assert nat.check_eventstream(body) == n

    def incremental() -> None:
        d = nat.EventStreamDecoder()
        got = 0
        for i in range(0, len(body), CHUNK):
            got += len(d.feed(body[i : i + CHUNK]))
        d.finish()
        assert got == n

    def column() -> None:
        ev, _ = nat.eventstream_column(exchanges)
        assert ev.num_rows == n

    def botocore() -> None:
        buf = EventStreamBuffer()
        got = 0
        for i in range(0, len(body), CHUNK):
            buf.add_data(body[i : i + CHUNK])
            for _ in buf:
                got += 1
        assert got == n

    slow = max(1, min(3, args.repeat))
    results = {
        "fastcap whole-body (check_eventstream)": seconds(lambda: nat.check_eventstream(body), args.repeat),
        "fastcap whole-body + dicts (decode_eventstream)": seconds(
            lambda: nat.decode_eventstream(body), slow
        ),
        "fastcap incremental, 16 KiB chunks (dicts)": seconds(incremental, slow),
        "fastcap column -> Arrow (eventstream_column)": seconds(column, args.repeat),
        "botocore EventStreamBuffer, 16 KiB chunks": seconds(botocore, slow),
    }
    mbps = {k: len(body) / v / 1e6 for k, v in results.items()}
    width = max(map(len, mbps))
    for k, v in mbps.items():
        print(f"{k:<{width}}  {v:10.1f} MB/s")
    boto = mbps["botocore EventStreamBuffer, 16 KiB chunks"]
    whole = mbps["fastcap whole-body (check_eventstream)"]
    print()
    for k, v in mbps.items():
        if not k.startswith("botocore"):
            print(f"{k:<{width}}  {v / boto:8.1f}x botocore")
    col = mbps["fastcap column -> Arrow (eventstream_column)"]
    print(f"whole-body / column: {whole / col:.2f} (target <= 2)")
    if args.check_min_ratio is not None and whole / boto < args.check_min_ratio:
        print(f"FAIL: fastcap/botocore = {whole / boto:.1f} < {args.check_min_ratio}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
