"""Turning failures into the one-line messages and exit codes the CLI promises."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from fastcap._native import FormatError

EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """A problem with what the user asked for (bad flag value, missing file): exit 2, one line."""


def run_with_clean_errors(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    try:
        return func(args)
    except (FormatError, UsageError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        print(f"fastcap: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("fastcap: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
