"""Input paths that are not regular files: pipes, process substitution, devices, standard input.

Detection reads the start of a file and the reader opens it again; the native readers map it. A
FIFO (`fastcap analyze <(cat x.cbor)`) can be read only once, and a device such as `/dev/zero`
never ends. So a non-regular input is copied once, in bounded pieces, to a temporary regular
file, at most `limits.max_stream_bytes()` bytes (1 GiB unless `FASTCAP_MAX_STREAM_BYTES` says
otherwise); beyond that it is refused with a one-line error. Regular files are used in place.
`-` means standard input.

Messages keep naming the input as the user gave it: `renamed` rewrites the temporary file's name
in an error raised while reading the copy.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from fastcap._native import FormatError
from fastcap.formats._errors import InputTooLargeError, make_error
from fastcap.formats.limits import ENV_MAX_STREAM_BYTES, format_size, max_stream_bytes

STDIN = "-"
_PIECE = 1 << 20


@dataclass(frozen=True, slots=True)
class Input:
    """`path`: a regular file holding the input's bytes; `name`: the input as the user named it."""

    path: str
    name: str
    copied: bool


def is_regular(path: str | os.PathLike[str]) -> bool:
    """True for a regular file (or a symlink to one)."""
    shown = os.fspath(path)
    if shown == STDIN:
        return False
    try:
        return stat.S_ISREG(os.stat(shown).st_mode)
    except OSError:
        return False


def check_path(path: str | os.PathLike[str]) -> str:
    """The path as text, after the checks every command makes: it exists and is not a directory.
    Symlink loops and unreadable paths become one-line errors here rather than tracebacks later."""
    shown = os.fspath(path)
    if shown == STDIN:
        return shown
    try:
        mode = os.stat(shown).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"{shown}: no such file") from None
    except OSError as exc:  # ELOOP, ENAMETOOLONG, EACCES on a parent
        raise PermissionError(f"{shown}: cannot open: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise IsADirectoryError(f"{shown}: is a directory, expected a capture file")
    return shown


def _copy(src: str, name: str, limit: int) -> str:
    fd, tmp = tempfile.mkstemp(prefix="fastcap-input-")
    try:
        with os.fdopen(fd, "wb") as out:
            source = sys.stdin.buffer if src == STDIN else open(src, "rb")  # noqa: SIM115
            try:
                copied = 0
                while piece := source.read(min(_PIECE, limit + 1 - copied)):
                    out.write(piece)
                    copied += len(piece)
                    if copied > limit:
                        raise make_error(
                            InputTooLargeError,
                            name,
                            limit,
                            "too_large",
                            f"not a regular file and longer than {format_size(limit)}, the most fastcap reads "
                            f"from a pipe, device or standard input (set {ENV_MAX_STREAM_BYTES} to raise it, "
                            "or save the capture to a file)",
                        )
            finally:
                if source is not sys.stdin.buffer:
                    source.close()
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


@contextmanager
def local_input(path: str | os.PathLike[str], *, limit: int | None = None) -> Iterator[Input]:
    """Yield a regular file with the content of `path` (the path itself when it is one). Errors
    raised inside the block name `path`, not the temporary copy."""
    name = check_path(path)
    if is_regular(name):
        yield Input(path=name, name=name, copied=False)
        return
    shown = "<stdin>" if name == STDIN else name
    tmp = _copy(name, shown, max_stream_bytes() if limit is None else limit)
    try:
        yield Input(path=tmp, name=shown, copied=True)
    except FormatError as exc:
        raise renamed(exc, tmp, shown) from None
    finally:
        # (a native reader may still map the copy: on POSIX its pages stay readable once unlinked)
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def renamed(exc: FormatError, tmp: str, name: str) -> FormatError:
    """`exc` with the temporary file's name replaced by `name` in its message and `.path`."""
    text = str(exc)
    if tmp not in text and getattr(exc, "path", None) != tmp:
        return exc
    new = type(exc)(text.replace(tmp, name))
    for attr in ("kind", "offset", "exchanges", "partial"):
        if hasattr(exc, attr):
            setattr(new, attr, getattr(exc, attr))
    new.path = name
    return new


__all__ = ["STDIN", "Input", "check_path", "is_regular", "local_input", "renamed"]
