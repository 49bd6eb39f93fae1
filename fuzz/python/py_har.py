#!/usr/bin/env python3
"""atheris target: fastcap's HAR reader through `read_exchanges(path, fmt="har")` (see
`_reader_target.py` for the invariant).

    .venv/bin/python fuzz/python/py_har.py fuzz/corpus/py_har fuzz/seeds/py_har -max_total_time=60
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _reader_target import KnownOpen, raised_in, run

KNOWN_OPEN: list[KnownOpen] = [
    # Issue 11: deeply nested JSON escapes the HAR reader as RecursionError.
    ("F-PY-DEEP-JSON", lambda e: isinstance(e, RecursionError)),
    # Issue 11: HAR fields of the wrong type raise TypeError & co. in har.py (11 sites).
    (
        "F-PY-HAR-TYPES",
        lambda e: (
            isinstance(e, TypeError | AttributeError | KeyError | IndexError | ValueError)
            and raised_in(e, "fastcap/formats/har.py")
        ),
    ),
]

if __name__ == "__main__":
    run("har", ".har", KNOWN_OPEN)
