"""Turning failures into the one-line messages and exit codes the CLI promises (docs/specs/errors.md).

The rule, for every input format and every command that reads a capture:

- **0**: every complete record was read. Warnings (one line each, naming the file and byte offset)
  report a truncated tail (the file ends inside a record: a capture cut, killed or still being
  written) and bodies that were read but not fully decoded (a content-encoding that fails or
  inflates past its limit).
- **2**: a complete record could not be read (it, or everything after it, is lost), or nothing
  usable was found (empty, another format, no complete record). Whatever was read is still
  analysed, reported and written; the error line comes last. `--recover` reads past damage where
  the format allows it and turns it into warnings (exit 0 when something was read); `--strict`
  makes every fault an error (exit 2), truncated tails included.

Exceptions that reach `run_with_clean_errors` become one line and exit 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Protocol

from fastcap._native import FormatError

EXIT_OK = 0
EXIT_BAD_INPUT = 2
# Lines printed per kind of fault; the rest are counted in one line (a damaged JSONL file can have
# thousands of bad lines, a capture thousands of over-limit bodies).
MAX_LINES_PER_KIND = 10


class UsageError(Exception):
    """A problem with what the user asked for (bad flag value, missing file): exit 2, one line."""


class FaultLike(Protocol):
    """What the CLI needs of a reader's fault (`fastcap.formats.Fault`): `str()` is one line
    naming the file and byte offset."""

    @property
    def severity(self) -> str: ...

    @property
    def kind(self) -> str: ...


def fault_exit_code(faults: Sequence[FaultLike], *, recover: bool = False, strict: bool = False) -> int:
    """The exit code the rule gives for these faults (records were read)."""
    if strict and faults:
        return EXIT_BAD_INPUT
    if not recover and any(f.severity == "damage" for f in faults):
        return EXIT_BAD_INPUT
    return EXIT_OK


def print_faults(
    faults: Sequence[FaultLike], *, recover: bool = False, strict: bool = False, used: str = ""
) -> int:
    """Print every fault on stderr, one line each (at most `MAX_LINES_PER_KIND` per kind, then a
    count), warnings first and errors last; returns the exit code of `fault_exit_code`. `used`
    says what the output was made from ("the 7 calls above"); it closes the last error line."""
    code = fault_exit_code(faults, recover=recover, strict=strict)
    errors = [f for f in faults if strict or (f.severity == "damage" and not recover)]
    warnings = [f for f in faults if not (strict or (f.severity == "damage" and not recover))]
    for label, group in (("warning", warnings), ("error", errors)):
        lines: list[str] = []
        shown: Counter[str] = Counter()
        for fault in group:
            shown[fault.kind] += 1
            if shown[fault.kind] <= MAX_LINES_PER_KIND:
                lines.append(f"fastcap: {label}: {fault}")
        lines += [
            f"fastcap: {label}: … and {count - MAX_LINES_PER_KIND} more faults of kind {kind}"
            for kind, count in shown.items()
            if count > MAX_LINES_PER_KIND
        ]
        if label == "error" and lines and used:
            hint = "" if strict or recover else "; --recover reads past damage where the format allows it"
            lines[-1] += f" ({used} come from the records read{hint})"
        for line in lines:
            print(line, file=sys.stderr)
    return code


def _os_message(exc: OSError) -> str:
    what = exc.strerror or str(exc).splitlines()[0]
    names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
    return f"{' -> '.join(names)}: {what}" if names else what


def run_with_clean_errors(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    try:
        return func(args)
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("fastcap: interrupted", file=sys.stderr)
        return 130
    except (FormatError, UsageError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if isinstance(exc, OSError) and exc.strerror:  # raised by the OS, not with our own message
            text = _os_message(exc)
        print(f"fastcap: error: {text}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as exc:  # a full disk, a read-only directory, a symlink loop, ...
        print(f"fastcap: error: {_os_message(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except MemoryError:
        print(
            "fastcap: error: out of memory (a limit in docs/limits.md may be set too high for this machine)",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
