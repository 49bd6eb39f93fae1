#!/usr/bin/env python3
"""atheris target: fastcap's MITM reader through `read_exchanges(path, fmt="mitm")` (see
`_reader_target.py` for the invariant).

    .venv/bin/python fuzz/python/py_mitm.py fuzz/corpus/py_mitm fuzz/seeds/py_mitm -max_total_time=60
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _reader_target import KnownOpen, raised_in, run

KNOWN_OPEN: list[KnownOpen] = [
    # Issue 11: deep or huge records make mitmproxy's own reader raise RecursionError,
    # MemoryError, AttributeError or AssertionError, which escape the .mitm reader.
    (
        "F-PY-MITM",
        lambda e: (
            isinstance(e, RecursionError | MemoryError | AttributeError | AssertionError)
            and raised_in(e, "/mitmproxy/")
        ),
    ),
]

if __name__ == "__main__":
    run("mitm", ".mitm", KNOWN_OPEN)
