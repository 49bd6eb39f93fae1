"""What a command needs to accept datasets, several captures, directories and globs: the filter
options, the test for "more than one capture", and the overview of all of them (docs/datasets.md).
`fastcap analyze` and `fastcap report` call these rather than knowing about datasets themselves."""

from __future__ import annotations

import argparse
import glob
import os
from collections.abc import Sequence
from typing import Any

import polars as pl

from fastcap.analysis.overview import Overview
from fastcap.dataset.env import FILTER_OPTIONS
from fastcap.dataset.read import Filters, calls_for_inputs, is_dataset


def filters_from_args(args: argparse.Namespace) -> Filters:
    return Filters(**{name: getattr(args, name, None) for name in FILTER_OPTIONS})


def is_many(inputs: Sequence[str]) -> bool:
    """Whether `inputs` name more than one capture file: several inputs, a dataset, a directory or
    a glob pattern that names no existing file."""
    if len(inputs) != 1:
        return True
    only = inputs[0]
    return is_dataset(only) or os.path.isdir(only) or (not os.path.exists(only) and glob.has_magic(only))


def overview_of_inputs(
    inputs: Sequence[str],
    filters: Filters | None = None,
    *,
    recover: bool = False,
    redact: bool = True,
    fmt: str | None = None,
) -> tuple[pl.DataFrame, Overview, list[Any]]:
    """(calls table, overview, reader faults) of every capture `inputs` name: what
    `fastcap analyze DATASET` prints and writes. The calls table keeps the dataset's columns
    (capture_id, source_path, date, agent) after `CALLS_SCHEMA`'s."""
    from fastcap.analysis.calls import CALLS_SCHEMA
    from fastcap.analysis.overview import build_overview

    faults: list[Any] = []
    calls = calls_for_inputs(inputs, filters, recover=recover, redact=redact, fmt=fmt, faults=faults)
    source = inputs[0] if len(inputs) == 1 else f"{len(inputs)} inputs"
    captures = calls["capture_id"].n_unique()
    overview = build_overview(
        calls.select(list(CALLS_SCHEMA)), source=os.path.basename(source.rstrip("/")), fmt="dataset"
    )
    overview.notes.insert(
        0, f"{captures} capture{'s' if captures != 1 else ''}; call numbers (#NN) count within each capture."
    )
    return calls, overview, faults
