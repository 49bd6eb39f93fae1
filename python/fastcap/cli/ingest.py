"""`fastcap ingest CAPTURE_OR_DIR... --to DATASET`: captures into a Parquet dataset (docs/datasets.md)."""

from __future__ import annotations

import argparse
import sys

from fastcap.errors import EXIT_BAD_INPUT, EXIT_OK, UsageError

# Warning lines printed (one per reader fault); the rest are counted.
MAX_WARNINGS = 10


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from fastcap.dataset.env import DEFAULT_DATASET_ENV

    p = sub.add_parser(
        "ingest",
        help="decode captures (any format) into a Parquet dataset: idempotent, incremental",
        description=(
            "Decode captures of any format into a hive-partitioned Parquet dataset (calls and exchanges, "
            "redacted, partitioned by date and agent). A capture already ingested is skipped, one that "
            "grew since is ingested again under its id. Read it back with `fastcap.open_dataset` "
            "(docs/datasets.md)."
        ),
    )
    p.add_argument("inputs", nargs="+", metavar="CAPTURE_OR_DIR", help="capture files, directories or globs")
    p.add_argument(
        "--to",
        metavar="DATASET",
        help=f"dataset directory or fsspec URL (default: ${DEFAULT_DATASET_ENV}, else "
        "$XDG_DATA_HOME/fastcap/dataset, i.e. ~/.local/share/fastcap/dataset)",
    )
    p.add_argument("--agent", help="the agent of every capture (default: named from each capture's headers)")
    p.add_argument(
        "--jobs",
        "-j",
        type=int,
        metavar="N",
        help="decoding processes on this machine (default: one per CPU)",
    )
    dask = p.add_mutually_exclusive_group()
    dask.add_argument(
        "--workers", type=int, metavar="N", help="decode on a local Dask cluster of N worker processes"
    )
    dask.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="decode on the workers of a running Dask scheduler (inputs and dataset must be reachable from them)",
    )
    p.add_argument(
        "--recover",
        action="store_true",
        help="read past damaged records where the format allows it (CBOR entries, .mitm records, JSONL lines)",
    )
    p.add_argument(
        "--calls-only",
        action="store_true",
        help="store the calls table only, not the exchanges (bodies, headers, chunk timing): about as fast "
        "as `fastcap analyze`",
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fastcap.dataset import DatasetError, ingest
    from fastcap.dataset.ingestion import print_progress
    from fastcap.dataset.layout import default_dataset_path

    for name, value in (("--jobs", args.jobs), ("--workers", args.workers)):
        if value is not None and value < 1:
            raise UsageError(f"{name} must be at least 1")
    to = args.to or default_dataset_path()
    try:
        result = ingest(
            args.inputs,
            to,
            agent=args.agent,
            recover=args.recover,
            jobs=args.jobs,
            workers=args.workers,
            scheduler=args.scheduler,
            progress=None if args.quiet else print_progress,
            exchanges=not args.calls_only,
        )
    except DatasetError as exc:
        raise UsageError(str(exc)) from exc
    for line in result.warnings[:MAX_WARNINGS]:
        print(f"fastcap: warning: {line}", file=sys.stderr)
    if len(result.warnings) > MAX_WARNINGS:
        print(f"fastcap: warning: … and {len(result.warnings) - MAX_WARNINGS} more", file=sys.stderr)
    for line in result.errors:
        print(f"fastcap: error: {line}", file=sys.stderr)
    print(f"{to}: {result.summary()}")
    return EXIT_BAD_INPUT if result.failed else EXIT_OK
