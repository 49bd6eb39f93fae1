"""Fixtures for the dataset tests: small captures in several formats, on chosen days."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
from fastcap.formats import read_exchanges
from fastcap.formats.writers import write_cbor, write_jsonl
from fastcap.model import Chunk, Exchange
from helpers import DEMO

DAY = 86400.0

MakeCapture = Callable[..., Path]


def _plus(t: float | None, seconds: float) -> float | None:
    return None if t is None else t + seconds


def _shifted(exchanges: list[Exchange], seconds: float) -> list[Exchange]:
    """The exchanges moved `seconds` later (every time, chunk arrivals included)."""
    return [
        dataclasses.replace(
            ex,
            started_at=_plus(ex.started_at, seconds),
            request_ended_at=_plus(ex.request_ended_at, seconds),
            response_started_at=_plus(ex.response_started_at, seconds),
            ended_at=_plus(ex.ended_at, seconds),
            chunks=[Chunk(_plus(c.t, seconds), c.data) for c in ex.chunks],
        )
        for ex in exchanges
    ]


@pytest.fixture
def demo() -> list[Exchange]:
    """The demo capture's exchanges (a fresh list each time)."""
    return read_exchanges(DEMO)


@pytest.fixture
def make_capture(tmp_path: Path, demo: list[Exchange]) -> MakeCapture:
    """`make_capture(name, exchanges=demo, *, days=0, session_id=..., fmt="cbor")`: a capture in
    `tmp_path/captures/`, its times moved `days` later; CBOR keeps raw values (as a capture does)."""
    folder = tmp_path / "captures"
    folder.mkdir(exist_ok=True)

    def make(
        name: str,
        exchanges: list[Exchange] | None = None,
        *,
        days: float = 0,
        session_id: str = "dataset-test",
        fmt: str = "cbor",
    ) -> Path:
        path = folder / name
        rows = _shifted(demo if exchanges is None else exchanges, days * DAY)
        if fmt == "cbor":
            write_cbor(rows, path, session_id=session_id, redact=None)
        else:
            write_jsonl(rows, path, redact=None)
        return path

    return make


@pytest.fixture
def captures(make_capture: MakeCapture) -> list[Path]:
    """Three captures on three days, in two formats: the demo (CBOR), the demo 10 days later
    (CBOR, another session) and the demo 20 days later as traffic.jsonl."""
    return [
        make_capture("a.cbor", session_id="session-a"),
        make_capture("b.cbor", days=10, session_id="session-b"),
        make_capture("c.jsonl", days=20, fmt="jsonl"),
    ]
