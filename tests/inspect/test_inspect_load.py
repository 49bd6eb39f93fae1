"""`fastcap inspect` reads a capture once, round by round, keeping only what the chosen modes read
(`fastcap.inspect.load`): the figures must not depend on how much is kept or where the rounds
fall."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from fastcap.cli import main
from fastcap.inspect import load as load_mod
from fastcap.inspect.common import BP, PC
from fastcap.inspect.filters import DIRECTIONS
from fastcap.inspect.load import load
from helpers import DEMO
from helpers.golden_capture import T0, encode, golden_entries, write_golden

RULE = "=" * 70
MODES = ("--analyze", "--analyze-streaming", "--detect-issues", "--status-summary")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["inspect", *argv]) == 0
    out, _ = capsys.readouterr()
    return out


def sections(out: str, *titles: str) -> list[str]:
    """The text of the named sections, each from its title to the next banner."""
    found = []
    for title in titles:
        start = out.index(f"{RULE}\n{title}\n")
        end = out.find(f"\n\n{RULE}\n", start + len(RULE) + len(title) + 2 + len(RULE))
        found.append(out[start:] if end < 0 else out[start:end])
    return found


TITLES = (
    "CAPTURE FILE SUMMARY",
    "ISSUES DETECTED",
    "STREAMING PERFORMANCE ANALYSIS",
    "REQUEST/RESPONSE ANALYSIS",
)


@pytest.mark.parametrize("round_bytes", [1 << 20, 600, 1])
def test_same_figures_at_every_level_and_round_size(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, round_bytes: int
) -> None:
    """Collapsed rows (summary and analyses alone), every entry's metadata (--group-by-session)
    and every payload (--last, a listing) give the same sections, in rounds of any size (one
    entry a round splits every stream across rounds)."""
    monkeypatch.setattr(load_mod, "ROUND_BYTES", round_bytes)
    monkeypatch.setattr(load_mod, "PAYLOAD_ROUND_BYTES", round_bytes)
    requests = run(capsys, str(DEMO), *MODES)
    entries = run(capsys, str(DEMO), *MODES, "--group-by-session")
    payloads = run(capsys, str(DEMO), *MODES, "--last", "1")
    assert sections(requests, *TITLES) == sections(entries, *TITLES) == sections(payloads, *TITLES)
    assert "Usage: input=51,363 (1,203 uncached, 48,112 cache read, 2,048 cache write), output=96" in requests


def test_requests_level_keeps_no_payload() -> None:
    loaded = load(DEMO, level="requests", content_dirs=(BP, PC))
    entries = loaded.entries
    assert "data" not in entries.columns
    # the stream chunks of one request and leg are one row, with every chunk's time kept
    assert entries.height < 69 and int(entries["n_rows"].sum()) == 69
    assert entries.filter(pl.col("n_rows") > 1)["ts_list"].list.len().sum() > 0
    assert not loaded.fields.is_empty()


def test_client_leg_without_end_marker_and_late_pieces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A gateway's client leg often has no end marker: its body is complete when the backend leg
    ended. A piece the writer flushed after the end marker (a batch out of order) still joins its
    body, on both legs."""
    entries = [e for e in golden_entries() if e[2] != 9]  # no P->C stream-end marker
    late = next(e for e in entries if e[2] == 4)  # B->P "Hel" flushed after the end of its stream
    entries = [e for e in entries if e[2] != 4]
    entries.insert(next(i for i, e in enumerate(entries) if e[2] == 10) + 1, late)
    path = tmp_path / "gateway.cbor"
    path.write_bytes(encode("gw", T0, entries))
    out = run(capsys, str(path), "--analyze")
    r1 = out[out.index("--- REQUEST #1 ---") : out.index("--- REQUEST #2 ---")]
    assert "Backend content: 5 chars\n" in r1  # "Hel" + "lo"
    assert "Client received: 5 chars, finish_reason [118,135]" in r1


def test_responses_without_request_id(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Entries without a request id join the request before them in their session; their bodies
    are assembled once that is known."""
    entries = []
    for ts, d, seq, data, meta in golden_entries():
        if d in (BP, PC):
            meta = {k: v for k, v in meta.items() if k != "rid"}
        entries.append((ts, d, seq, data, meta))
    path = tmp_path / "norid.cbor"
    path.write_bytes(encode("norid", T0, entries))
    out = run(capsys, str(path), "--analyze")
    assert "Backend content: 5 chars\n" in out
    assert "Client received: 5 chars, finish_reason [118,135]" in out


def test_out_of_order_count_across_rounds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    entries = golden_entries()
    entries[2], entries[4] = entries[4], entries[2]  # a batch written out of order
    path = tmp_path / "ooo.cbor"
    path.write_bytes(encode("ooo", T0, entries))
    monkeypatch.setattr(load_mod, "ROUND_BYTES", 1)
    assert load(path, level="requests").out_of_order == 2


def test_empty_capture(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty.cbor"
    path.write_bytes(encode("empty", T0, []))
    out = run(capsys, str(path), *MODES)
    assert "Total Entries: 0\n" in out and "No issues detected!" in out


def test_command_line_directions_match_the_filter() -> None:
    from fastcap.cli.inspect import DIRECTIONS as CHOICES

    assert tuple(DIRECTIONS) == CHOICES


def test_golden_levels_agree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_golden(tmp_path / "g.cbor")
    requests = run(capsys, str(path), *MODES)
    payloads = run(capsys, str(path), *MODES, "--entry", "0")
    assert sections(requests, *TITLES) == sections(payloads, *TITLES)
