"""AWS EventStream decoder through ``fastcap._native`` (spec ``docs/specs/eventstream.md`` §2-§8)."""

from __future__ import annotations

import json
import random
import struct
import uuid
import zlib
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from fastcap import _native as nat
from helpers import DATA as TEST_DATA
from hypothesis import given, settings
from hypothesis import strategies as st

DATA = TEST_DATA / "eventstream"
SUBDIRS = ("smithy-rs", "codewhisperer-shaped", "bedrock-real")


def _expected(sub: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads((DATA / sub / "expected.json").read_text())
    return out


def _all_fixtures() -> list[tuple[str, bytes]]:
    out = []
    for sub in SUBDIRS:
        for p in sorted((DATA / sub).iterdir()):
            if p.suffix != ".json":
                out.append((f"{sub}/{p.name}", p.read_bytes()))
    return out


FIXTURES = _all_fixtures()

# --------------------------------------------------------------------------------------------
# Test-side encoder, written from the spec and independent of the decoder.
# --------------------------------------------------------------------------------------------

HeaderVal = tuple[int, Any]  # (type code, python value)


def enc_header(name: bytes, code: int, value: Any) -> bytes:
    out = bytes([len(name)]) + name + bytes([code])
    if code in (0, 1):
        return out
    if code == 2:
        return out + struct.pack(">b", value)
    if code == 3:
        return out + struct.pack(">h", value)
    if code == 4:
        return out + struct.pack(">i", value)
    if code in (5, 8):
        return out + struct.pack(">q", value)
    if code in (6, 7):
        raw: bytes = value if code == 6 else value.encode()
        return out + struct.pack(">H", len(raw)) + raw
    if code == 9:
        return out + uuid.UUID(value).bytes
    raise AssertionError(code)


def enc_frame_raw(block: bytes, payload: bytes) -> bytes:
    """A frame around a raw header block, with correct CRCs whatever the block holds."""
    pre = struct.pack(">II", 16 + len(block) + len(payload), len(block))
    pre += struct.pack(">I", zlib.crc32(pre))
    body = pre + block + payload
    return body + struct.pack(">I", zlib.crc32(body))


def enc_frame(headers: list[tuple[str, int, Any]], payload: bytes) -> bytes:
    return enc_frame_raw(b"".join(enc_header(n.encode(), c, v) for n, c, v in headers), payload)


def cw_event(event_type: str, payload: str) -> bytes:
    return enc_frame(
        [
            (":event-type", 7, event_type),
            (":content-type", 7, "application/json"),
            (":message-type", 7, "event"),
        ],
        payload.encode(),
    )


def prelude(total: int, headers_len: int) -> bytes:
    p = struct.pack(">II", total, headers_len)
    return p + struct.pack(">I", zlib.crc32(p))


def expected_value(code: int, value: Any) -> Any:
    return {0: True, 1: False}.get(code, value)


# --------------------------------------------------------------------------------------------
# Helpers: strict results of the three entry points in one comparable shape
# --------------------------------------------------------------------------------------------


def strict_whole(body: bytes) -> tuple[list[dict[str, Any]], tuple[str, int] | None]:
    r = nat.decode_eventstream(body)
    err: tuple[str, int] | None = None
    if r["errors"]:
        err = (r["errors"][0]["kind"], r["errors"][0]["offset"])
    elif r["truncated"] is not None:
        err = ("Truncated", r["truncated"]["offset"])
    return r["frames"], err


def strict_chunked(body: bytes, sizes: list[int]) -> tuple[list[dict[str, Any]], tuple[str, int] | None]:
    d = nat.EventStreamDecoder()
    frames: list[dict[str, Any]] = []
    pos, i = 0, 0
    try:
        while pos < len(body):
            n = sizes[i % len(sizes)]
            i += 1
            frames.extend(d.feed(body[pos : pos + n]))
            pos += n
        d.finish()
    except nat.EventStreamError as e:
        frames.extend(getattr(e, "frames", []))
        return frames, (e.kind, e.offset)
    return frames, None


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


def test_smithy_vectors() -> None:
    exp = _expected("smithy-rs")["files"]
    assert len(exp) == 11
    for name, e in exp.items():
        body = (DATA / "smithy-rs" / name).read_bytes()
        r = nat.decode_eventstream(body)
        if e["valid"]:
            assert r["errors"] == [] and r["truncated"] is None and not r["corrupt"], name
            assert nat.check_eventstream(body) == 1
            (f,) = r["frames"]
            assert list(f["headers"]) == [h["name"] for h in e["headers"]]
            for h in e["headers"]:
                got = f["headers"][h["name"]]
                if h["type_code"] == 6:
                    assert got == bytes.fromhex(h["value_hex"])
                else:
                    assert got == h["value"] and type(got) is type(h["value"]), h
            assert f["payload"] == e["payload_utf8"].encode()
            assert f["total_length"] == e["total_length"]
        else:
            assert r["frames"] == [] and r["corrupt"], name
            assert r["errors"][0]["kind"] == e["crc_first_error"], name
            assert r["errors"][0]["offset"] == 0
            with pytest.raises(nat.EventStreamError) as ei:
                nat.check_eventstream(body)
            assert ei.value.kind == e["crc_first_error"] and ei.value.offset == 0
            assert isinstance(ei.value, ValueError)
            if e["crc_first_error"].endswith("ChecksumMismatch"):
                which = "prelude" if e["crc_first_error"].startswith("Prelude") else "message"
                assert e[f"{which}_crc_stored"] in r["errors"][0]["message"]
                assert e[f"{which}_crc_computed"] in r["errors"][0]["message"]


def test_smithy_concatenation_chunks_1_to_11() -> None:
    exp = _expected("smithy-rs")["multiple_streaming_messages"]
    body = b"".join((DATA / "smithy-rs" / f).read_bytes() for f in exp["files"])
    frames, err = strict_whole(body)
    assert err is None and [f["offset"] for f in frames] == [0, 150, 181]
    for n in range(1, 12):
        assert strict_chunked(body, [n]) == (frames, None)


def _type(f: dict[str, Any]) -> str:
    t: str = f["exception_type"] if f["message_type"] == "exception" else f["event_type"]
    return t


def test_codewhisperer_shaped() -> None:
    for name, e in _expected("codewhisperer-shaped")["files"].items():
        body = (DATA / "codewhisperer-shaped" / name).read_bytes()
        r = nat.decode_eventstream(body)
        assert len(r["frames"]) == e["frames"], name
        assert [_type(f) for f in r["frames"]] == e["types"]
        assert [f["message_type"] for f in r["frames"]] == e["message_types"]
        text = "".join(
            json.loads(f["payload"])["content"]
            for f in r["frames"]
            if f["event_type"] == "assistantResponseEvent"
        )
        assert text == e["text"]
        assert r["errors"] == []
        if e["trailing_bytes"]:
            off = len(body) - e["trailing_bytes"]
            need = struct.unpack(">I", body[off : off + 4])[0]
            assert r["truncated"] == {"offset": off, "have": e["trailing_bytes"], "need": need}
            with pytest.raises(nat.EventStreamError) as ei:
                nat.check_eventstream(body)
            assert (ei.value.kind, ei.value.offset) == ("Truncated", off)
            d = nat.EventStreamDecoder()
            assert len(d.feed(body)) == e["frames"]
            assert d.pending == e["trailing_bytes"]
            with pytest.raises(nat.EventStreamError) as ei:
                d.finish()
            assert ei.value.kind == "Truncated" and ei.value.offset == off
        else:
            assert r["truncated"] is None
            assert nat.check_eventstream(body) == e["frames"]


def test_bedrock_real() -> None:
    for name, e in _expected("bedrock-real")["files"].items():
        body = (DATA / "bedrock-real" / name).read_bytes()
        r = nat.decode_eventstream(body)
        assert r["errors"] == [] and r["truncated"] is None
        assert len(r["frames"]) == e["frame_count"]
        for f, x in zip(r["frames"], e["frames"], strict=True):
            assert (f["offset"], f["total_length"]) == (x["offset"], x["total_length"])
            assert list(f["headers"]) == x["header_names"]
            assert (f["event_type"], f["message_type"], f["content_type"]) == (
                x["event_type"],
                x["message_type"],
                x["content_type"],
            )
            assert isinstance(json.loads(f["payload"]), dict)


def test_matches_botocore_on_valid_fixtures() -> None:
    from botocore.eventstream import EventStreamBuffer

    for name, body in FIXTURES:
        frames, err = strict_whole(body)
        if err is not None and err[0] != "Truncated":
            continue
        buf = EventStreamBuffer()
        buf.add_data(body)
        boto = list(buf)
        assert len(boto) == len(frames), name
        for b, f in zip(boto, frames, strict=True):
            assert b.payload == f["payload"]
            hs = dict(b.headers)
            ours = dict(f["headers"])
            for k, v in hs.items():
                if hasattr(v, "timestamp"):  # botocore turns timestamps into datetimes
                    assert int(v.timestamp() * 1000) == ours[k]
                    hs[k] = ours[k]
                elif isinstance(v, bytes) and isinstance(ours[k], str):  # botocore: uuid as raw bytes
                    hs[k] = str(uuid.UUID(bytes=v))
            assert hs == ours, name


# --------------------------------------------------------------------------------------------
# Chunk-boundary fuzzing
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "body"), FIXTURES, ids=[n for n, _ in FIXTURES])
def test_split_at_every_position(name: str, body: bytes) -> None:
    want = strict_whole(body)
    for cut in range(1, len(body) + 1):
        assert strict_chunked(body, [cut, len(body)]) == want, cut
    rng = random.Random(name)
    for _ in range(20):
        sizes = [rng.randint(1, 64) for _ in range(16)]
        assert strict_chunked(body, sizes) == want
    assert strict_chunked(body, [1]) == want


def test_all_fixtures_concatenated_random_chunks() -> None:
    valid = [b for _, b in FIXTURES if strict_whole(b)[1] is None]
    body = b"".join(valid)
    want = strict_whole(body)
    assert want[1] is None and len(want[0]) == 3 + 6 + 10 + 6 + 2 + 26 + 9 + 33 + 25
    rng = random.Random(7)
    for _ in range(30):
        sizes = [rng.choice([1, 2, 3, 5, 8, 13, 100, 1000, 16384]) for _ in range(10)]
        assert strict_chunked(body, sizes) == want


# --------------------------------------------------------------------------------------------
# Hypothesis round trips
# --------------------------------------------------------------------------------------------


def _value_for(code: int) -> st.SearchStrategy[Any]:
    return {
        0: st.just(True),
        1: st.just(False),
        2: st.integers(-(2**7), 2**7 - 1),
        3: st.integers(-(2**15), 2**15 - 1),
        4: st.integers(-(2**31), 2**31 - 1),
        5: st.integers(-(2**63), 2**63 - 1),
        6: st.binary(max_size=300),
        7: st.text(max_size=100).filter(lambda s: len(s.encode()) < 65536),
        8: st.integers(-(2**63), 2**63 - 1),
        9: st.uuids().map(str),
    }[code]


header_st = st.integers(0, 9).flatmap(lambda c: st.tuples(st.just(c), _value_for(c)))
headers_st = st.dictionaries(
    st.text(min_size=1, max_size=20).filter(lambda s: 0 < len(s.encode()) < 256), header_st, max_size=8
)
message_st = st.tuples(headers_st, st.binary(max_size=500))


@settings(max_examples=300, deadline=None)
@given(messages=st.lists(message_st, min_size=1, max_size=6), seed=st.integers(0, 2**32 - 1))
def test_round_trip(messages: list[tuple[dict[str, tuple[int, Any]], bytes]], seed: int) -> None:
    wire = [enc_frame([(n, c, v) for n, (c, v) in hs.items()], p) for hs, p in messages]
    body = b"".join(wire)
    r = nat.decode_eventstream(body)
    assert r["errors"] == [] and r["truncated"] is None
    offset = 0
    for (hs, payload), w, f in zip(messages, wire, r["frames"], strict=True):
        assert f["payload"] == payload
        assert f["offset"] == offset and f["total_length"] == len(w)
        assert f["headers"] == {n: expected_value(c, v) for n, (c, v) in hs.items()}
        assert list(f["headers"]) == list(hs)
        offset += len(w)
    rng = random.Random(seed)
    assert strict_chunked(body, [rng.randint(1, 40) for _ in range(8)]) == (r["frames"], None)
    events, summary = nat.eventstream_column([body])
    ev = pl.DataFrame(events)
    assert ev["payload"].to_list() == [p for _, p in messages]
    assert summary.num_rows == 1


# --------------------------------------------------------------------------------------------
# Each error class, with offsets
# --------------------------------------------------------------------------------------------

OK = enc_header(b"ok", 4, 1)  # 8 bytes
A = cw_event("assistantResponseEvent", '{"content":"A"}')


def _bad_crc(frame: bytes) -> bytes:
    return frame[:-1] + bytes([frame[-1] ^ 1])


def _bad_prelude(frame: bytes) -> bytes:
    return frame[:11] + bytes([frame[11] ^ 1]) + frame[12:]


ERROR_CASES: list[tuple[str, bytes, int]] = [
    # (kind, bad frame placed after A, offset of the error relative to the bad frame)
    ("InvalidMessageLength", prelude(15, 0) + b"\0" * 3, 0),
    ("PreludeChecksumMismatch", _bad_prelude(cw_event("x", "{}")), 0),
    ("InvalidHeadersLength", prelude(100, 90) + b"\0" * 88, 0),
    ("InvalidHeadersLength", prelude(200_000, 131_073) + b"\0" * 10, 0),
    ("PayloadTooLong", prelude(16 + 25_165_825, 0), 0),
    ("MessageChecksumMismatch", _bad_crc(cw_event("x", "{}")), 0),
    ("InvalidHeaderNameLength", enc_frame_raw(OK + b"\x00\x00", b"p"), 12 + 8),
    ("InvalidHeaderNameLength", enc_frame_raw(OK + b"\x09ab", b"p"), 12 + 8),
    ("InvalidHeaderValueType", enc_frame_raw(OK + b"\x01x\x0a", b"p"), 12 + 8),
    ("InvalidHeaderValue", enc_frame_raw(OK + b"\x01x\x07\xff\xffa", b"p"), 12 + 8),
    ("InvalidHeaderValue", enc_frame_raw(OK + b"\x01x\x09\x01\x02", b"p"), 12 + 8),
    ("InvalidUtf8String", enc_frame_raw(OK + b"\x01x\x07\x00\x02\xc3\x28", b"p"), 12 + 8),
    ("InvalidUtf8String", enc_frame_raw(OK + b"\x02\xff\x78\x00", b"p"), 12 + 8),
    ("DuplicateHeader", enc_frame_raw(OK + enc_header(b"ok", 0, True), b"p"), 12 + 8),
]


@pytest.mark.parametrize(
    ("kind", "bad", "rel"), ERROR_CASES, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(ERROR_CASES)]
)
def test_error_classes(kind: str, bad: bytes, rel: int) -> None:
    body = A + bad
    r = nat.decode_eventstream(body)
    assert len(r["frames"]) == 1 and r["corrupt"]
    (err,) = r["errors"]
    assert (err["kind"], err["offset"], err["frame_offset"], err["skipped"]) == (
        kind,
        len(A) + rel,
        len(A),
        0,
    )
    with pytest.raises(nat.EventStreamError) as ei:
        nat.check_eventstream(body)
    assert (ei.value.kind, ei.value.offset) == (kind, len(A) + rel)
    frames, e2 = strict_chunked(body, [3])
    assert len(frames) == 1 and e2 == (kind, len(A) + rel)
    # The decoder stays failed.
    d = nat.EventStreamDecoder()
    with pytest.raises(nat.EventStreamError) as ei:
        d.feed(body)
    assert [f["offset"] for f in ei.value.frames] == [0]  # type: ignore[attr-defined]
    with pytest.raises(nat.EventStreamError):
        d.feed(A)


def test_prelude_errors_need_only_12_bytes() -> None:
    d = nat.EventStreamDecoder()
    with pytest.raises(nat.EventStreamError) as ei:
        d.feed(prelude(0xFFFFFFF0, 0))
    assert ei.value.kind == "PayloadTooLong"
    big = nat.EventStreamDecoder(max_headers_len=2**32 - 1, max_payload_len=2**32 - 1)
    assert big.feed(prelude(0xFFFFFFF0, 0) + b"x" * 100) == []
    assert big.pending == 112
    with pytest.raises(nat.EventStreamError) as ei:
        big.finish()
    assert ei.value.kind == "Truncated"
    r = nat.decode_eventstream(prelude(0xFFFFFFF0, 0), max_payload_len=2**32 - 1)
    assert r["truncated"] == {"offset": 0, "have": 12, "need": 0xFFFFFFF0}


def test_configurable_limits() -> None:
    f = cw_event("assistantResponseEvent", "x" * 50)
    assert nat.check_eventstream(f) == 1
    with pytest.raises(nat.EventStreamError, match="limit") as ei:
        nat.check_eventstream(f, max_payload_len=49)
    assert ei.value.kind == "PayloadTooLong"
    with pytest.raises(nat.EventStreamError) as ei:
        nat.check_eventstream(f, max_headers_len=10)
    assert ei.value.kind == "InvalidHeadersLength"


def test_truncated_inside_prelude() -> None:
    r = nat.decode_eventstream(A + A[:5])
    assert r["truncated"] == {"offset": len(A), "have": 5, "need": 12}
    assert not r["corrupt"] and len(r["frames"]) == 1


def test_bad_mode_and_types() -> None:
    with pytest.raises(ValueError, match="mode"):
        nat.decode_eventstream(A, mode="lenient")
    with pytest.raises(TypeError):
        nat.eventstream_column([A, "text"])
    with pytest.raises(TypeError):
        nat.eventstream_column(A)


# --------------------------------------------------------------------------------------------
# Resync
# --------------------------------------------------------------------------------------------


def test_resync_reports_every_skipped_range() -> None:
    b = cw_event("assistantResponseEvent", '{"content":"B"}')
    c = cw_event("metadataEvent", "{}")
    garbage = bytes((i * 97 + 13) % 256 for i in range(37))
    decoy = prelude(40, 0) + b"\xab" * 28
    bad = _bad_crc(cw_event("assistantResponseEvent", '{"content":"X"}'))
    parts = [A, garbage, b, bad, decoy[:10] + garbage, c, b, A[:30]]
    body = b"".join(parts)
    offs = [sum(len(p) for p in parts[:i]) for i in range(len(parts))]
    r = nat.decode_eventstream(body, mode="resync")
    assert [f["offset"] for f in r["frames"]] == [offs[0], offs[2], offs[5], offs[6]]
    assert [(e["kind"], e["frame_offset"], e["skipped"]) for e in r["errors"]] == [
        ("PreludeChecksumMismatch", offs[1], len(garbage)),
        ("MessageChecksumMismatch", offs[3], len(bad)),
        ("PreludeChecksumMismatch", offs[4], len(parts[4])),
    ]
    assert r["truncated"] == {"offset": offs[7], "have": 30, "need": len(A)}
    assert r["corrupt"]
    strict = nat.decode_eventstream(body)
    assert len(strict["frames"]) == 1 and strict["errors"][0]["skipped"] == 0


def resync_chunked(body: bytes, sizes: list[int]) -> dict[str, Any]:
    """`decode_eventstream(mode="resync")`'s result, built by the incremental decoder."""
    d = nat.EventStreamDecoder(mode="resync")
    frames: list[dict[str, Any]] = []
    pos, i = 0, 0
    while pos < len(body):
        n = sizes[i % len(sizes)]
        i += 1
        frames.extend(d.feed(body[pos : pos + n]))
        pos += n
    d.finish()
    assert d.mode == "resync"
    return {"frames": frames, "errors": d.errors, "truncated": d.truncated, "corrupt": d.corrupt}


def _damaged_bodies() -> list[bytes]:
    b = cw_event("assistantResponseEvent", '{"content":"B"}')
    garbage = bytes((i * 97 + 13) % 256 for i in range(37))
    decoy = prelude(40, 0) + b"\xab" * 28
    bad = _bad_crc(cw_event("assistantResponseEvent", '{"content":"X"}'))
    out = [
        b"".join([A, garbage, b, bad, decoy[:10] + garbage, A, b, A[:30]]),
        b"".join([garbage, A, decoy, b, garbage[:5]]),
        b"".join([_bad_prelude(A), A, b[:11]]),
        b"".join([A, prelude(400, 0), b"x" * 20]),  # a candidate running past the end
    ]
    out += [body + garbage[:9] + A for _, body in FIXTURES]
    return out


@pytest.mark.parametrize("sizes", [[1], [2, 3], [7], [64], [16384]])
def test_resync_incremental_equals_whole_body(sizes: list[int]) -> None:
    for body in _damaged_bodies():
        assert resync_chunked(body, sizes) == nat.decode_eventstream(body, mode="resync")


@settings(max_examples=150, deadline=None)
@given(
    parts=st.lists(st.integers(0, 5), min_size=0, max_size=10),
    cuts=st.lists(st.integers(1, 80), min_size=1, max_size=6),
    seed=st.integers(0, 2**16),
)
def test_resync_incremental_random_damage_and_chunks(parts: list[int], cuts: list[int], seed: int) -> None:
    rng = random.Random(seed)
    b = cw_event("toolUseEvent", '{"toolUseId":"t","name":"n","stop":true}')
    pieces = []
    for k in parts:
        if k == 0:
            pieces.append(A)
        elif k == 1:
            pieces.append(_bad_crc(b))
        elif k == 2:
            pieces.append(bytes(rng.randrange(256) for _ in range(rng.randint(1, 30))))
        elif k == 3:
            pieces.append(prelude(rng.randint(16, 90), 0) + b"\x00" * rng.randint(0, 90))
        elif k == 4:
            pieces.append(_bad_prelude(b))
        else:
            pieces.append(b[: rng.randint(0, len(b))])
    body = b"".join(pieces)
    assert resync_chunked(body, cuts) == nat.decode_eventstream(body, mode="resync")


def test_resync_decoder_properties_and_strict_unchanged() -> None:
    d = nat.EventStreamDecoder(mode="resync")
    assert d.feed(A + b"junk" + A[:20]) and d.errors == [] and not d.corrupt
    assert len(d.feed(A[20:])) == 1
    assert [e["skipped"] for e in d.errors] == [4] and d.corrupt
    d.finish()
    assert d.truncated is None
    with pytest.raises(ValueError, match="mode"):
        nat.EventStreamDecoder(mode="lenient")
    s = nat.EventStreamDecoder()
    assert s.mode == "strict"
    with pytest.raises(nat.EventStreamError):
        s.feed(A + b"junk" + A)


# --------------------------------------------------------------------------------------------
# Column path
# --------------------------------------------------------------------------------------------


def test_column_equals_per_body() -> None:
    bodies: list[bytes | None] = [b for _, b in FIXTURES]
    bodies.insert(3, None)
    bodies.append(b"")
    for mode in ("strict", "resync"):
        events, summary = nat.eventstream_column(bodies, mode=mode)
        ev = pl.DataFrame(events)
        sm = pl.DataFrame(summary)
        assert ev.columns == [
            "exchange_index",
            "frame_index",
            "offset",
            "total_length",
            "message_type",
            "event_type",
            "exception_type",
            "content_type",
            "headers_json",
            "payload",
        ]
        assert ev.schema["exchange_index"] == pl.UInt32 and ev.schema["payload"] == pl.Binary
        assert sm.height == len(bodies)
        for i, body in enumerate(bodies):
            rows = ev.filter(pl.col("exchange_index") == i).sort("frame_index")
            s = sm.row(i, named=True)
            if body is None:
                assert s["is_null"] and rows.height == 0
                continue
            r = nat.decode_eventstream(body, mode=mode)
            assert rows["frame_index"].to_list() == list(range(len(r["frames"])))
            assert rows["offset"].to_list() == [f["offset"] for f in r["frames"]]
            assert rows["payload"].to_list() == [f["payload"] for f in r["frames"]]
            for key in ("message_type", "event_type", "exception_type", "content_type"):
                assert rows[key].to_list() == [f[key] for f in r["frames"]]
            for hj, f in zip(rows["headers_json"].to_list(), r["frames"], strict=True):
                assert json.loads(hj).keys() == f["headers"].keys()
            assert s["frames"] == len(r["frames"]) and s["body_length"] == len(body)
            assert s["error_count"] == len(r["errors"])
            assert s["error_kind"] == (r["errors"][0]["kind"] if r["errors"] else None)
            assert s["error_offset"] == (r["errors"][0]["offset"] if r["errors"] else None)
            assert s["skipped_bytes"] == sum(e["skipped"] for e in r["errors"])
            assert s["corrupt"] == r["corrupt"]
            t = r["truncated"] or {"offset": None, "have": None, "need": None}
            assert (s["truncated_offset"], s["truncated_have"], s["truncated_need"]) == (
                t["offset"],
                t["have"],
                t["need"],
            )


def test_column_headers_json_values() -> None:
    f = enc_frame(
        [
            ("b", 0, True),
            ("i", 4, -7),
            ("y", 6, b"some bytes"),
            ("t", 8, 5_000_000_000),
            ("u", 9, str(uuid.UUID(int=1))),
        ],
        b"",
    )
    events, _ = nat.eventstream_column([f])
    (hj,) = pl.DataFrame(events)["headers_json"].to_list()
    assert json.loads(hj) == {
        "b": True,
        "i": -7,
        "y": "c29tZSBieXRlcw==",
        "t": 5_000_000_000,
        "u": str(uuid.UUID(int=1)),
    }


@pytest.mark.parametrize("typ", [pa.binary(), pa.large_binary(), pa.binary_view()])
def test_column_from_arrow_array(typ: pa.DataType) -> None:
    bodies = [*[b for _, b in FIXTURES][:8], None]
    want_ev, want_sm = nat.eventstream_column(bodies)
    ev, sm = nat.eventstream_column(pa.array(bodies, type=typ))
    assert pl.DataFrame(ev).equals(pl.DataFrame(want_ev))
    assert pl.DataFrame(sm).equals(pl.DataFrame(want_sm))
    assert pa.table(ev).num_rows == ev.num_rows


def test_column_from_arrow_streams() -> None:
    """Objects exposing only `__arrow_c_stream__` (Polars Series/DataFrame, pyarrow ChunkedArray
    and Table, fastcap's ArrowTable) decode like the list of bytes; payloads stay views."""
    bodies = [*[b for _, b in FIXTURES][:8], None]
    want_ev, want_sm = (pl.DataFrame(t) for t in nat.eventstream_column(bodies))
    series = pl.Series("body", bodies, dtype=pl.Binary)
    chunked = pa.chunked_array([pa.array(bodies[:3], pa.binary()), pa.array(bodies[3:], pa.binary())])
    for obj, kw in [
        (series, {}),
        (series.to_frame(), {}),
        (pl.DataFrame({"n": list(range(len(bodies))), "body": series}), {"column": "body"}),
        (chunked, {}),
        (pa.table({"x": pa.array([1] * len(bodies)), "body": chunked}), {"column": "body"}),
    ]:
        ev, sm = nat.eventstream_column(obj, **kw)
        assert pl.DataFrame(ev).equals(want_ev), type(obj)
        assert pl.DataFrame(sm).equals(want_sm), type(obj)
    # Payloads of the events table fed back through ArrowTable.select (a one-column stream).
    ev, _ = nat.eventstream_column(bodies)
    again, sm = nat.eventstream_column(ev.select(["payload"]))
    # (JSON payloads are not EventStream frames: one summary row per payload, no events.)
    assert again.num_rows == 0 and pl.DataFrame(sm).height == ev.num_rows
    assert pa.table(ev).schema.field("payload").type == pa.binary_view()
    with pytest.raises(TypeError, match="column="):
        nat.eventstream_column(pl.DataFrame({"a": [A], "b": [A]}))


def test_column_many_bodies_crosses_batches() -> None:
    bodies = [A * (i % 5) for i in range(3000)]
    ev, sm = nat.eventstream_column(bodies)
    assert ev.num_rows == sum(i % 5 for i in range(3000))
    assert pl.DataFrame(sm)["exchange_index"].to_list() == list(range(3000))
