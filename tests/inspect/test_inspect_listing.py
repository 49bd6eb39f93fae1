"""`fastcap inspect` listing, filters, time forms and redaction on the §10.16 golden capture."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastcap.cli import main
from fastcap.errors import UsageError
from fastcap.inspect.common import parse_zone
from fastcap.inspect.filters import parse_range, parse_time
from helpers.golden_capture import FAKE_KEY, T0, encode, golden_entries, write_golden

RULE = "=" * 70


@pytest.fixture
def golden(tmp_path: Path) -> Path:
    return write_golden(tmp_path / "demo-session.cbor")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(["inspect", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def listing(out: str) -> str:
    return out[out.index(f"{RULE}\nENTRIES\n{RULE}\n") + 2 * len(RULE) + 10 :]


def shown_seqs(out: str) -> list[int]:
    return [int(ln[1 : ln.index("]")]) for ln in listing(out).splitlines() if ln.startswith("[")]


def test_no_listing_by_default(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, str(golden))
    assert "\nENTRIES\n" not in out


def test_range_matches_reference_layout(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, str(golden), "--range", "2-4")
    assert rc == 0
    text = listing(out)
    assert text.startswith("Showing entries [2] to [4]\n\n")
    assert (
        "[2] B->P | 0 bytes | ts=2023-11-14 22:13:20.400000 | backend=openai | session=a=sess-1 | "
        "stream_start\n"
    ) in text
    assert (
        "[3] P->C | 0 bytes | ts=2023-11-14 22:13:20.401000 | backend=openai | session=a=sess-1 | stream_start"
        in text
    )
    assert "[4] B->P | 118 bytes | ts=2023-11-14 22:13:20.450000 | session=a=sess-1\n    data: {" in text
    assert '"content":"Hel"}}]}' in text
    assert shown_seqs(out) == [2, 3, 4]
    for form in ("2:4", "2..4"):
        assert shown_seqs(run(capsys, str(golden), "--range", form)[1]) == [2, 3, 4]


def test_bad_range_is_a_usage_error(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run(capsys, str(golden), "--range", "4-x")
    assert rc == 2 and out == ""
    assert err.startswith("fastcap: error: --range: invalid range format: 4-x") and err.count("\n") == 1


def test_entry_zero_is_a_value(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, str(golden), "--entry", "0")
    assert rc == 0
    assert "Showing entry [0]" in out
    assert shown_seqs(out) == [0]
    assert "more entries" not in out
    _, out, _ = run(capsys, str(golden), "--entry", "99")
    assert "Warning: Entry [99] not found in filtered results" in out


def test_around_and_context(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, str(golden), "--around", "7", "--context", "2")
    assert "Showing context around entry [7] (2 before/after)" in out
    assert shown_seqs(out) == [5, 6, 7, 8, 9]
    _, out, _ = run(capsys, str(golden), "--around", "0", "-c", "1")
    assert shown_seqs(out) == [0, 1]
    assert "more entries" not in out


def test_last_and_entries_limit(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, str(golden), "--last", "3")
    assert "Showing last 3 entries" in out and shown_seqs(out) == [12, 13, 14]
    _, out, _ = run(capsys, str(golden), "--entries", "2")
    assert shown_seqs(out) == [0, 1]
    assert out.endswith("\n... and 13 more entries (use --last to see final entries)\n")


def test_direction_filter(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, str(golden), "--direction", "backend_to_proxy", "--entries", "50")
    assert shown_seqs(out) == [2, 4, 6, 8, 10, 13]


def test_search_is_case_insensitive_on_raw_bytes_and_meta(
    golden: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run(capsys, str(golden), "--search", "RATE LIMIT REACHED")
    assert shown_seqs(out) == [13, 14]
    _, out, _ = run(capsys, str(golden), "--search", "done_sentinel")  # metadata only
    assert shown_seqs(out) == [10]


def test_search_non_ascii(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    entries = golden_entries()[:2]
    ts, d, seq, _, meta = entries[0]
    entries[0] = (ts, d, seq, '{"content":"Grüße aus Köln"}'.encode(), meta)
    path = tmp_path / "u.cbor"
    path.write_bytes(encode("u", T0, entries))
    _, out, _ = run(capsys, str(path), "--search", "GRÜSSE".replace("SS", "ß").lower())
    assert shown_seqs(out) == [0]
    # displayed as text, not \\uNNNN escapes
    assert "Grüße aus Köln" in listing(out)


def test_control_characters_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ts, d, seq, _, meta = golden_entries()[0]
    path = tmp_path / "c.cbor"
    path.write_bytes(encode("c", T0, [(ts, d, seq, b"a\x01b\x1b[31mc\tok\xff", meta)]))
    _, out, _ = run(capsys, str(path), "--entry", "0")
    assert "    a\\x01b\\x1b[31mc\tok\\xff\n" in out


def test_verbose_metadata(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, str(golden), "--entry", "8", "--verbose")
    text = listing(out)
    assert "    Metadata:\n" in text
    assert "      is_stream_end: True\n" in text
    assert "      total_chunks: 2\n" in text
    assert "      stream_duration_ms: 210.0\n" in text
    assert "      backend:" not in text and "      session_id:" not in text
    _, out, _ = run(capsys, str(golden), "--entry", "4", "--verbose")
    assert "      ttfb_ms: 440.0\n" in out
    assert "inherited from the stream-start marker: backend=openai" in out


def test_hex_dump(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, str(golden), "--entry", "0", "--hex", "--max-data", "20")
    text = listing(out)
    assert "    Hex Dump:\n" in text
    assert '      0000  7b 22 6d 6f 64 65 6c 22 3a 22 67 70 74 2d 34 6f   |{"model":"gpt-4o|\n' in text
    assert "      0010  2d 6d 69 6e                                       |-min|\n" in text
    assert "    ... (61 more bytes)" in text


def test_max_data_and_preview_lines(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, str(golden), "--entry", "0", "--max-data", "10")
    assert '    {"model":"\n    ... (71 more bytes)' in out
    rc, _, err = run(capsys, str(golden), "--entry", "0", "--max-data", "0")
    assert rc == 2 and "--max-data" in err


def test_redaction_in_listing_and_search(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, str(golden), "--entry", "1")
    assert "    authorization: [REDACTED]\n" in out
    assert FAKE_KEY not in out and "sk-ant" not in out
    # searching for the secret finds the entry but still does not print it
    _, out, _ = run(capsys, str(golden), "--search", "sk-ant-api03")
    assert shown_seqs(out) == [1, 12]
    assert "sk-ant" not in listing(out)
    _, out, _ = run(capsys, str(golden), "--entry", "1", "--hex")
    assert FAKE_KEY.encode().hex()[:16] not in out.replace(" ", "")
    _, out, _ = run(capsys, str(golden), "--entry", "1", "--no-redact")
    assert f"    authorization: Bearer {FAKE_KEY}\n" in out


def test_session_filters(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run(capsys, str(golden), "--session-id", "sess-1")
    assert rc == 0 and "Filtered to session: sess-1" in out and "Total Entries: 15 (of 15 in the file)" in out
    rc, out, err = run(capsys, str(golden), "--session-id", "nope")
    assert rc == 2 and out == "" and "no entries found for session ID: nope" in err
    _, out, _ = run(capsys, str(golden), "--session-substring", "SESS")
    assert len(shown_seqs(out)) == 15  # no limit when filtering by session substring
    _, out, _ = run(capsys, str(golden), "--session-substring", "other")
    assert shown_seqs(out) == []


def test_time_filters_unix_iso_and_time_of_day(golden: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--entries", "50"]
    _, out, _ = run(capsys, str(golden), "--start-time", "1700000015.7", *base)
    assert shown_seqs(out) == [11, 12, 13, 14]
    _, out, _ = run(capsys, str(golden), "--start-time", "2023-11-14T22:13:35", *base)
    assert shown_seqs(out) == [11, 12, 13, 14]
    _, out, _ = run(capsys, str(golden), "--end-time", "2023-11-14 22:13:20.010", *base)
    assert shown_seqs(out) == [0, 1]
    # time of day: on the capture's first day, in --tz
    _, out, _ = run(capsys, str(golden), "--start-time", "23:13:35", "--tz", "Europe/Berlin", *base)
    assert shown_seqs(out) == [11, 12, 13, 14]
    assert "Filtered to entries after 2023-11-14 23:13:35.000000 (Europe/Berlin)" in out
    _, out, _ = run(capsys, str(golden), "--start-time", "22:13:35", *base)  # UTC by default
    assert shown_seqs(out) == [11, 12, 13, 14]
    # 0 is a timestamp, not "unset"
    rc, out, _ = run(capsys, str(golden), "--start-time", "0", "--end-time", "1700000000.4", *base)
    assert rc == 0 and shown_seqs(out) == [0, 1, 2]
    rc, out, err = run(capsys, str(golden), "--start-time", "1800000000")
    assert rc == 2 and "no entries found in the specified time range" in err
    rc, _, err = run(capsys, str(golden), "--start-time", "yesterday-ish")
    assert rc == 2 and "could not parse time: 'yesterday-ish'" in err


def test_parse_time_forms() -> None:
    utc = parse_zone(None)
    assert parse_time("0", utc) == 0.0
    assert parse_time("2024-01-15", utc) == dt.datetime(2024, 1, 15, tzinfo=dt.UTC).timestamp()
    assert parse_time("2024-01-15T10:00:00Z", utc) == dt.datetime(2024, 1, 15, 10, tzinfo=dt.UTC).timestamp()
    assert (
        parse_time("2024-01-15T12:00:00+02:00", utc)
        == dt.datetime(2024, 1, 15, 10, tzinfo=dt.UTC).timestamp()
    )
    assert parse_time("10:30", utc, day_of=T0) == dt.datetime(2023, 11, 14, 10, 30, tzinfo=dt.UTC).timestamp()
    berlin = parse_zone("Europe/Berlin")
    assert parse_time("2024-01-15 11:00", berlin) == dt.datetime(2024, 1, 15, 10, tzinfo=dt.UTC).timestamp()
    with pytest.raises(UsageError):
        parse_time("nan", utc)
    with pytest.raises(UsageError):
        parse_zone("Not/AZone")
    assert parse_range("80..98") == (80, 98)
    with pytest.raises(UsageError):
        parse_range("9-3")
