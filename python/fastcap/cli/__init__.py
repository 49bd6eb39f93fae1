"""The `fastcap` command line (`main`); one module per subcommand beside this one."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each module defines `register(subparsers)`; the parser it adds sets `func=<callable(args) -> int>`.
COMMAND_MODULES = (
    "fastcap.cli.analyze",
    "fastcap.cli.inspect",
    "fastcap.cli.capture",
    "fastcap.cli.report",
    "fastcap.cli.convert",
    "fastcap.cli.decode",
    "fastcap.cli.view",
    "fastcap.cli.ingest",
    "fastcap.cli.export",
)


def build_parser() -> argparse.ArgumentParser:
    from fastcap import _native

    parser = argparse.ArgumentParser(
        prog="fastcap",
        description="Capture, decode and analyse what AI coding agents send to model APIs.",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"fastcap {_native.__version__} (native build: {_native.build_profile})",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    # What follows the first `--` is a command to run (`fastcap capture -- claude`), never parsed
    # as options or action words: argparse would mix it with the words before it.
    command: list[str] | None = None
    if "--" in words:
        at = words.index("--")
        words, command = words[:at], words[at + 1 :]
    args = parser.parse_args(words)
    args.command_after_dashes = command
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    from fastcap.errors import run_with_clean_errors

    return run_with_clean_errors(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
