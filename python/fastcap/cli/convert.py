"""`fastcap convert IN OUT`: any readable capture to CBOR V2, JSONL or Parquet."""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
from pathlib import Path
from typing import Any

from fastcap.errors import UsageError, print_faults

TARGETS = {".cbor": "cbor", ".jsonl": "jsonl", ".parquet": "parquet"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "convert",
        help="convert a capture (any readable format) to CBOR V2, JSONL or Parquet",
        description="Read IN (format detected from content) and write OUT; the output format comes from OUT's "
        "extension (.cbor, .jsonl, .parquet) or --to. Secrets are redacted unless --no-redact.",
    )
    p.add_argument("input", help="capture file to read ('-' for standard input)")
    p.add_argument("output", help="file to write")
    p.add_argument(
        "--to", choices=["cbor", "jsonl", "parquet"], help="output format (default: from OUT's extension)"
    )
    p.add_argument(
        "--from",
        dest="fmt",
        choices=["cbor", "mitmlog", "mitm", "har", "jsonl"],
        help="input format (default: detected)",
    )
    p.add_argument(
        "--no-redact", action="store_true", help="keep credentials as captured (the output is then sensitive)"
    )
    p.add_argument(
        "--recover",
        action="store_true",
        help="read past damaged records where the format allows it and exit 0 with warnings",
    )
    p.add_argument("--strict", action="store_true", help="exit 2 on any fault, a truncated tail included")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fastcap.formats import read_file
    from fastcap.formats.inputs import local_input

    out = Path(args.output)
    target = args.to or TARGETS.get(out.suffix.lower())
    if target is None:
        raise UsageError(
            f"{out}: cannot tell the output format from the extension; use .cbor, .jsonl, .parquet or --to"
        )
    if args.input != "-" and Path(args.input).resolve() == out.resolve():
        raise UsageError(f"{out}: output would overwrite the input")
    if out.is_dir():
        raise UsageError(f"{out}: is a directory, expected the output file")
    with local_input(args.input) as src:
        read = read_file(src.path, fmt=args.fmt, recover=args.recover, name=src.name)
        name = src.name
    exchanges = read.exchanges
    gc.freeze()  # what was read lives to the end: later collections need not walk it
    try:
        return _write(args, exchanges, read.faults, name, out, target)
    finally:
        gc.unfreeze()  # (main() may be called again in the same process)


def _write(
    args: argparse.Namespace, exchanges: list[Any], faults: list[Any], name: str, out: Path, target: str
) -> int:
    from fastcap.formats.writers import write_cbor, write_jsonl, write_parquet
    from fastcap.secrets.redact import OUTPUT

    config = None if args.no_redact else OUTPUT
    writer = {"cbor": write_cbor, "jsonl": write_jsonl, "parquet": write_parquet}[target]
    # Written under a temporary name and renamed when complete: a failure (full disk, interrupt)
    # never leaves a partial file that looks like a finished conversion.
    partial = out.with_name(f".{out.name}.fastcap-partial")
    try:
        written = writer(exchanges, partial, redact=config)
        os.replace(partial, out)
    finally:
        with contextlib.suppress(OSError):
            partial.unlink()
    unit = "entries" if target == "cbor" else "rows"
    print(
        f"Converted {len(exchanges)} calls from {name} to {out} "
        f"({target}, {written} {unit}{', redacted' if config is not None else ', NOT redacted'})"
    )
    return print_faults(
        faults, recover=args.recover, strict=args.strict, used=f"the {len(exchanges)} calls converted"
    )
