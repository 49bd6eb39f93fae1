"""Fixtures shared by every test layer. Test data lives in `tests/data/` (see its SOURCES.md); the
builders shared by several layers are in the `helpers` package beside this file."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import DATA, DEMO


@pytest.fixture
def data_dir() -> Path:
    """The repository's test data folder (`tests/data/`)."""
    return DATA


@pytest.fixture
def demo_capture() -> Path:
    """The bundled demo capture (`examples/demo_session.cbor`)."""
    return DEMO
