"""Shared body of the atheris targets of fastcap's Python readers (`py_har.py`, `py_jsonl.py`,
`py_mitm.py`).

Each input is written to a file and read the way `fastcap analyze` reads it: `detect_format`,
then `read_exchanges(path, fmt=<the target's format>)` (the format is forced, so the reader under
test runs even when detection would pick another one).

Invariant: the reader returns a list of `Exchange`s or raises fastcap's own error type,
`fastcap._native.FormatError` (every reader error derives from it, and the CLI turns it into a
one-line message with exit code 2). Any other exception (a traceback for the user) is a finding;
so is a crash, a hang (`-timeout`) or memory over `-rss_limit_mb`.

Known open findings are stepped around unless FASTCAP_FUZZ_STRICT=1, as in the Rust targets
(`docs/fuzzing.md`): an exception matching one of `KNOWN_OPEN` is swallowed, so that fuzzing
goes on looking for other ones.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import traceback
from collections.abc import Callable

import atheris

# Instrument fastcap's readers (imported here, since `read_exchanges` imports them lazily) and
# mitmproxy's flow-file reading (tnetstring, flow state migration), for coverage feedback.
with atheris.instrument_imports(include=["fastcap", "mitmproxy.io", "mitmproxy.coretypes", "mitmproxy.http"]):
    from fastcap._native import FormatError
    from fastcap.formats import detect_format, read_exchanges
    from fastcap.model import Exchange

STRICT = os.environ.get("FASTCAP_FUZZ_STRICT") == "1"

# (name, predicate on the exception): the open findings of issue 11 the readers still show.
KnownOpen = tuple[str, Callable[[BaseException], bool]]


def raised_in(exc: BaseException, fragment: str) -> bool:
    frames = traceback.extract_tb(exc.__traceback__)
    return any(fragment in f.filename for f in frames)


def run(fmt: str, suffix: str, known_open: list[KnownOpen]) -> None:
    tmpdir = "/dev/shm" if os.path.isdir("/dev/shm") else None
    fd, path = tempfile.mkstemp(prefix=f"fastcap-fuzz-{fmt}-", suffix=suffix, dir=tmpdir)
    os.close(fd)

    def one_input(data: bytes) -> None:
        with open(path, "wb") as fh:
            fh.write(data)
        # The readers warn on stderr about skipped records; keep the fuzzer's output readable.
        with contextlib.redirect_stderr(io.StringIO()):
            try:
                with contextlib.suppress(FormatError):
                    detect_format(path)
                exchanges = read_exchanges(path, fmt=fmt)
            except FormatError as exc:
                offset = getattr(exc, "offset", None)
                if offset is not None and not 0 <= offset <= len(data):
                    raise AssertionError(
                        f"error offset {offset} outside the input ({len(data)} bytes): {exc}"
                    ) from exc
                return
            except Exception as exc:
                if not STRICT:
                    for _name, matches in known_open:
                        if matches(exc):
                            return
                raise
        assert isinstance(exchanges, list) and all(isinstance(e, Exchange) for e in exchanges)

    try:
        atheris.Setup(sys.argv, one_input)
        atheris.Fuzz()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
