"""Findings of the fuzz targets (docs/fuzzing.md), checked through the native module as fastcap
reads files: F-CBOR-KEYS, F-CBOR-ORDER, F-MITMLOG-OFFSET. Each test failed (or ran for hours)
before its fix; the Rust unit tests of the same findings are in `cbor/decode.rs`,
`cbor/reader.rs` and `mitmlog/mod.rs`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cbor2
import pytest
from fastcap import MitmLogError, _native
from fastcap.formats.mitmlog import read_mitmlog_text
from helpers import REPO_ROOT

REGRESSIONS = REPO_ROOT / "fuzz" / "regressions"

# The 187-byte regression input: a header, then an entry whose `meta.cu` is {{{…{0: 0}…: 0}: 0}
# nested 26 deep. Its first 134 bytes run up to the `cu` key.
CU_NESTED = REGRESSIONS / "cbor_reader" / "cu-map-keys-nested-26-deep"
UP_TO_CU = 0x86
HEADER_END = 0x5F

_READ_CU = """
import sys, time
import polars as pl
from fastcap import _native
t = time.perf_counter()
table = pl.DataFrame(_native.CaptureReader(sys.argv[1]).read_all())
print(time.perf_counter() - t)
print(table["canonical_usage"][0])
"""


def _map_keys_nested(depth: int) -> bytes:
    src = CU_NESTED.read_bytes()
    assert src[UP_TO_CU - 2 : UP_TO_CU] == b"cu" and src[UP_TO_CU : UP_TO_CU + 26] == b"\xa1" * 26
    return src[:UP_TO_CU] + b"\xa1" * depth + b"\x00" * (depth + 1)


@pytest.mark.parametrize("depth", [26, 40, 200])
def test_map_keys_nested_in_map_keys_render_in_linear_time(tmp_path: Path, depth: int) -> None:
    """F-CBOR-KEYS: 26 levels took 4 s and 355 MB, each further level two to three times more."""
    path = tmp_path / "keys.cbor"
    path.write_bytes(_map_keys_nested(depth))
    proc = subprocess.run(
        [sys.executable, "-c", _READ_CU, str(path)], capture_output=True, text=True, timeout=60, check=True
    )
    seconds, rendered = proc.stdout.splitlines()
    assert float(seconds) < 1.0
    assert len(rendered) < 16 * path.stat().st_size
    outer = json.loads(rendered)
    (key,) = outer
    # The first level is the key's JSON text; the key inside it is its CBOR encoding, in hex.
    (inner_key,) = json.loads(key)
    assert json.loads(inner_key)["$cbor"] == "a1" * (depth - 2) + "00" * (depth - 1)


def _entry(seq: int, **extra: object) -> bytes:
    return cbor2.dumps({"ts": 1.0 + seq, "dir": 3, "seq": seq, "data": b"payload", **extra})


def _capture_with_faults() -> bytes:
    """Inflation failures (`enc: zlib` on bytes that are not zlib) before and after damage and a
    truncated tail, all within one default-sized batch."""
    out = CU_NESTED.read_bytes()[:HEADER_END]
    for seq in range(20):
        out += _entry(seq, enc="zlib") if seq % 3 == 1 else _entry(seq)
        if seq == 10:
            out += b"\xff\xff\xff"
    last = _entry(20, enc="zlib")
    return out + last[: len(last) // 2]


@pytest.mark.parametrize("recover", [False, True])
def test_diagnostics_are_in_file_order_at_any_batch_size(tmp_path: Path, recover: bool) -> None:
    """F-CBOR-ORDER: a batch listed its inflation diagnostics after its scan faults."""
    path = tmp_path / "faults.cbor"
    path.write_bytes(_capture_with_faults())
    lists = []
    for rows in (1, 7, 256, 16384):
        reader = _native.CaptureReader(str(path), recover=recover, batch_rows=rows)
        reader.read_all()
        lists.append(reader.diagnostics)
    assert all(d == lists[0] for d in lists[1:])
    offsets = [d["offset"] for d in lists[0]]
    assert offsets == sorted(offsets)
    kinds = {d["kind"] for d in lists[0]}
    assert {"decompress_error", "decode_error"} <= kinds
    if recover:
        assert {"resync_skip", "truncated_tail"} <= kinds


def test_a_log_that_is_not_utf8_reports_the_files_offsets() -> None:
    """F-MITMLOG-OFFSET: offsets were those of the log after UTF-8 repair (3 bytes per bad one)."""
    with pytest.raises(MitmLogError) as ei:
        read_mitmlog_text(b"Error in \xc8\n[")  # the regression input, refused at "byte 13"
    assert ei.value.offset == 11
    log = b"127.0.0.1:1: GET http://a/\xff\xfe\n    h: \xc8\n << 200 OK 1b\nnoise\n"
    _, info = _native.parse_mitmlog_bytes(log)
    assert info["lossy_utf8"]
    assert info["first_other_offset"] == log.index(b"noise")
