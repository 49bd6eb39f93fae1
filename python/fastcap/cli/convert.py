"""`fastcap convert IN OUT`: any readable capture to CBOR V2, JSONL or Parquet."""

from __future__ import annotations

import argparse
from pathlib import Path

from fastcap.errors import UsageError

TARGETS = {".cbor": "cbor", ".jsonl": "jsonl", ".parquet": "parquet"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "convert",
        help="convert a capture (any readable format) to CBOR V2, JSONL or Parquet",
        description="Read IN (format detected from content) and write OUT; the output format comes from OUT's "
        "extension (.cbor, .jsonl, .parquet) or --to. Secrets are redacted unless --no-redact.",
    )
    p.add_argument("input", help="capture file to read")
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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fastcap.formats import read_exchanges
    from fastcap.formats.writers import write_cbor, write_jsonl, write_parquet
    from fastcap.secrets.redact import OUTPUT

    out = Path(args.output)
    target = args.to or TARGETS.get(out.suffix.lower())
    if target is None:
        raise UsageError(
            f"{out}: cannot tell the output format from the extension; use .cbor, .jsonl, .parquet or --to"
        )
    if Path(args.input).resolve() == out.resolve():
        raise UsageError(f"{out}: output would overwrite the input")
    exchanges = read_exchanges(args.input, fmt=args.fmt)
    config = None if args.no_redact else OUTPUT
    writer = {"cbor": write_cbor, "jsonl": write_jsonl, "parquet": write_parquet}[target]
    written = writer(exchanges, out, redact=config)
    unit = "entries" if target == "cbor" else "rows"
    print(
        f"Converted {len(exchanges)} calls from {args.input} to {out} ({target}, {written} {unit}"
        f"{', redacted' if config is not None else ', NOT redacted'})"
    )
    return 0
