"""Helpers shared by the test layers. `DATA` is the repository's own test data (`tests/data/`,
origins and licences in `tests/data/SOURCES.md`); nothing here looks outside the repository."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA = REPO_ROOT / "tests" / "data"
EXAMPLES = REPO_ROOT / "examples"
DEMO = EXAMPLES / "demo_session.cbor"
