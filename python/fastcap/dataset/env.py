"""What the CLI's parsers need from the dataset package, without importing Polars or the engine:
the variable naming the personal dataset, and the filter options (pushed into a dataset's scan)."""

from __future__ import annotations

import argparse

DEFAULT_DATASET_ENV = "FASTCAP_DATASET"

FILTER_OPTIONS = {
    "since": "only calls that started on or after this UTC date (YYYY-MM-DD) or ISO timestamp",
    "until": "only calls that started on or before this UTC date, or before this ISO timestamp",
    "agent": "only this agent (the dataset's agent partition, e.g. claude-code); repeatable",
    "model": "only this model; repeatable",
    "session": "only this session or conversation id; repeatable",
}
_REPEATABLE = ("agent", "model", "session")


def add_filter_options(parser: argparse.ArgumentParser) -> None:
    """`--since`, `--until`, `--agent`, `--model`, `--session` (pushed into a dataset's scan)."""
    group = parser.add_argument_group("filters (datasets and several captures)")
    for name, text in FILTER_OPTIONS.items():
        if name in _REPEATABLE:
            group.add_argument(f"--{name}", action="append", metavar=name.upper(), help=text)
        else:
            group.add_argument(f"--{name}", metavar="WHEN", help=text)
