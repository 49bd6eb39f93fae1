"""CBOR V2 reader and writer through the Python API, cross-checked with cbor2."""

from __future__ import annotations

import io
import math
import random
import zlib
from pathlib import Path

import cbor2
import polars as pl
import pytest
from fastcap import CaptureFormatError, _native
from fastcap.formats.capture_file import (
    META_KEYS,
    Capture,
    CaptureWarning,
    expand_meta,
    iter_cbor,
    read_capture,
    read_cbor,
)
from helpers import DATA
from hypothesis import given, settings
from hypothesis import strategies as st

SAMPLE = DATA / "cbor" / "sample_v2_generated.cbor"


def cbor2_items(data: bytes) -> list[object]:
    dec = cbor2.CBORDecoder(io.BytesIO(data))
    out = []
    while True:
        try:
            out.append(dec.decode())
        except cbor2.CBORDecodeEOF:
            return out


def sample_value(kind: str, i: int) -> object:
    return {
        "text": f"v{i}",
        "int": 1000 + i,
        "float": 1.5 + i,
        "flag": True,
        "json": {"k": i, "nested": [1, None]},
    }[kind]


def test_sample_fixture_reads_and_matches_cbor2() -> None:
    df = read_cbor(SAMPLE)
    items = cbor2_items(SAMPLE.read_bytes())
    assert df.height == len(items) - 1 == 6
    for row, item in zip(df.iter_rows(named=True), items[1:], strict=True):
        data = item["data"]
        if item.get("enc") == "zlib":
            data = zlib.decompress(data)
        assert row["data"] == data
        assert row["ts"] == item["ts"] and row["dir"] == item["dir"] and row["seq"] == item["seq"]
        assert expand_meta(row) == {
            long: v for compact, long, _ in META_KEYS if (v := item.get("meta", {}).get(compact)) is not None
        }
    assert df["ttfb_ms"][2] == 400.0 and df["total_bytes"][4] == 352


def test_sample_reencodes_byte_identical() -> None:
    cap = Capture(SAMPLE)
    header = cap.header
    out = bytearray(
        _native.encode_capture_header(header["session_id"], header["created_at"], header["metadata"])
    )
    for row in cap.entries.iter_rows(named=True):
        meta = {
            compact: row[long]
            for compact, long, kind in META_KEYS
            if kind != "json" and row[long] is not None
        }
        out += _native.encode_capture_entry(row["ts"], row["dir"], row["seq"], row["data"], meta)
    assert bytes(out) == SAMPLE.read_bytes()


def test_every_meta_key_round_trips(tmp_path: Path) -> None:
    meta = {compact: sample_value(kind, i) for i, (compact, _long, kind) in enumerate(META_KEYS)}
    meta["zz_unknown"] = {"kept": True}
    blob = _native.encode_capture_header("s", 1.0) + _native.encode_capture_entry(2.0, 3, 0, b"x" * 300, meta)
    path = tmp_path / "all.cbor"
    path.write_bytes(blob)
    # cbor2 sees the same values, keys in the reference writer's order, unknown key last.
    item = cbor2_items(blob)[1]
    assert list(item["meta"]) == [k for k, _, _ in META_KEYS] + ["zz_unknown"]
    assert item["enc"] == "zlib" and zlib.decompress(item["data"]) == b"x" * 300
    row = read_cbor(path).row(0, named=True)
    expanded = expand_meta(row)
    for i, (_compact, long, kind) in enumerate(META_KEYS):
        assert expanded[long] == sample_value(kind, i), long
    assert expanded["zz_unknown"] == {"kept": True}
    assert row["data"] == b"x" * 300 and row["compressed"] is True


def test_zlib_rule_and_lazy_decompression(tmp_path: Path) -> None:
    small, random_bytes = b"a" * 128, random.Random(1).randbytes(300)  # incompressible
    blob = _native.encode_capture_header("s", 1.0)
    for seq, data in enumerate([small, b"b" * 129, random_bytes]):
        blob += _native.encode_capture_entry(1.0, 3, seq, data)
    items = cbor2_items(blob)[1:]
    assert "enc" not in items[0] and items[1]["enc"] == "zlib" and "enc" not in items[2]
    path = tmp_path / "z.cbor"
    path.write_bytes(blob)
    assert read_cbor(path)["data"].to_list() == [small, b"b" * 129, random_bytes]
    raw = pl.DataFrame(_native.CaptureReader(str(path), decompress=False).read_all())
    assert raw["compressed"].to_list() == [False, True, False]
    assert zlib.decompress(raw["data"][1]) == b"b" * 129


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=4e9, allow_nan=False),
            st.integers(0, 3),
            st.binary(max_size=600),
            st.dictionaries(
                st.sampled_from(["sid", "rid", "be", "ci", "sc", "ttfb", "ss", "url", "cu"]),
                st.one_of(
                    st.text(max_size=20),
                    st.integers(0, 10**6),
                    st.floats(allow_nan=False, allow_infinity=False),
                    st.just(True),
                ),
                max_size=5,
            ),
        ),
        max_size=20,
    )
)
def test_writer_reader_cbor2_agree(entries: list[tuple[float, int, bytes, dict[str, object]]]) -> None:
    blob = _native.encode_capture_header("h", 1.0)
    for seq, (ts, d, data, meta) in enumerate(entries):
        blob += _native.encode_capture_entry(ts, d, seq, data, meta)
    items = cbor2_items(blob)
    assert len(items) == len(entries) + 1
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".cbor") as f:
        f.write(blob)
        f.flush()
        df = read_cbor(f.name)
    assert df.height == len(entries)
    for row, (ts, d, data, _meta), item in zip(df.iter_rows(named=True), entries, items[1:], strict=True):
        assert row["ts"] == ts and row["dir"] == d and row["data"] == data
        decoded = zlib.decompress(item["data"]) if item.get("enc") else item["data"]
        assert decoded == data


def test_truncated_tail_warns_and_keeps_entries(tmp_path: Path) -> None:
    cut = tmp_path / "cut.cbor"
    cut.write_bytes(SAMPLE.read_bytes()[:1000])
    with pytest.warns(CaptureWarning, match=r"byte 875: file ends inside entry 5"):
        df = read_cbor(cut)
    assert df.height == 5


def test_corrupt_middle_raises_with_partial_and_recover_skips(tmp_path: Path) -> None:
    data = bytearray(SAMPLE.read_bytes())
    at = data.index(b"sess-1", 503)
    data[at] = 0xFF  # invalid UTF-8 inside entry 2 (offset 503)
    bad = tmp_path / "bad.cbor"
    bad.write_bytes(bytes(data))
    with pytest.raises(CaptureFormatError) as info:
        read_cbor(bad)
    err = info.value
    assert err.offset == 503 and err.kind == "decode_error" and str(bad) in str(err)
    assert err.partial.height == 2  # type: ignore[attr-defined]
    with pytest.warns(CaptureWarning, match="skipped"):
        recovered = read_cbor(bad, recover=True)
    assert recovered["seq"].to_list() == [0, 1, 3, 4, 5]
    kept = read_capture(bad, errors="keep", warn=False)
    assert kept.entries.height == 2 and kept.fatal is not None


@pytest.mark.parametrize(
    ("content", "kind", "fragment"),
    [
        (b"", "missing_header", "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "bad_header", "not a CBOR V2 capture"),
        (cbor2.dumps({"magic": "LLMPROXY-CAPTURE-V1", "version": 1}), "unsupported_version", "V1 capture"),
        (cbor2.dumps({"magic": "LLMPROXY-CAPTURE-V2", "version": 3}), "unsupported_version", "expected 2"),
        (cbor2.dumps({"magic": "OTHER", "version": 2}), "bad_magic", '"OTHER"'),
        (cbor2.dumps([1, 2]), "bad_header", "expected a CBOR map"),
    ],
)
def test_bad_headers(tmp_path: Path, content: bytes, kind: str, fragment: str) -> None:
    path = tmp_path / "x.cbor"
    path.write_bytes(content)
    with pytest.raises(CaptureFormatError) as info:
        read_cbor(path)
    assert info.value.kind == kind and fragment in str(info.value) and str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


def test_missing_file_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.cbor"):
        read_cbor(tmp_path / "nope.cbor")


def test_iter_cbor_streams_batches(tmp_path: Path) -> None:
    blob = _native.encode_capture_header("s", 1.0) + b"".join(
        _native.encode_capture_entry(float(i), 3, i, b"chunk %d" % i, {"rid": f"r{i % 7}", "ci": i})
        for i in range(1000)
    )
    path = tmp_path / "many.cbor"
    path.write_bytes(blob)
    batches = list(iter_cbor(path, batch_rows=128))
    assert [b.height for b in batches] == [128] * 7 + [104]
    assert pl.concat(batches)["seq"].to_list() == list(range(1000))


def test_non_map_item_is_skipped_with_schema_warning(tmp_path: Path) -> None:
    blob = (
        _native.encode_capture_header("s", 1.0)
        + cbor2.dumps([1, 2])
        + _native.encode_capture_entry(1.0, 2, 0, b"x")
    )
    path = tmp_path / "s.cbor"
    path.write_bytes(blob)
    with pytest.warns(CaptureWarning, match="expected an entry map"):
        df = read_cbor(path)
    assert df.height == 1 and df["file_index"][0] == 1


def test_capture_requests_view() -> None:
    req = Capture(SAMPLE).requests.row(0, named=True)
    assert req["request_id"] == "req-1" and req["backend"] == "openai" and req["status"] == 200
    assert req["ttfb_s"] == pytest.approx(0.4) and req["ttfb_source"] == "ttfb"
    assert req["latency_s"] == pytest.approx(1.4) and req["stream_duration_s"] == pytest.approx(1.25)
    assert req["chunks"] == 2 and req["response_bytes"] == 351
    assert req["totals_mismatch"] is True  # tb says 352 (docs/specs/cbor-v2.md §9): informational, flagged
    assert not math.isnan(req["request_ts"])
