"""The order of operations of `fastcap inspect` (docs/specs/cbor-v2.md §10.2), with fastcap's changes:

1. flag values are checked before anything is printed (bad value: `UsageError`, exit 2);
2. the capture is read once, round by round, keeping only what the chosen modes read
   (`inspect.load`); a corrupt entry does not stop the run: every section is printed from the
   complete entries, then the one-line error follows and the exit status is 2;
3. `--list-backends` prints and stops;
4. the global filters (session, time, backend) define the view; `--json` exports it (every filter
   applies) and stops;
5. the summary of the view, then the sections in the reference's fixed order: timeline, issues,
   sessions, B2BUA, track-request, streaming, listing, analysis.
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

import polars as pl

from fastcap.errors import UsageError
from fastcap.inspect import content as content_mod
from fastcap.inspect.analyze import analyze_lines
from fastcap.inspect.calls import with_calls
from fastcap.inspect.common import BP, PC, parse_zone
from fastcap.inspect.export import dumps, export_document
from fastcap.inspect.filters import apply_global, listing_filters, parse_range, select
from fastcap.inspect.issues import detect, issues_lines, notes
from fastcap.inspect.listing import listing_limit, listing_lines, listing_wanted
from fastcap.inspect.load import Level, Loaded, load
from fastcap.inspect.prepare import entry_count, prepare, requests_of
from fastcap.inspect.redaction import redact_printed
from fastcap.inspect.sessions import b2bua_lines, sessions_lines
from fastcap.inspect.streaming import streaming_lines
from fastcap.inspect.summary import backend_names, list_backends_lines, status_lines, summary_lines
from fastcap.inspect.timeline import timeline_lines
from fastcap.inspect.track import track_lines


def _emit(out: TextIO, lines: Iterable[str], *, redact: bool = True) -> None:
    """Print `lines`; with `redact`, the text as every other output redacts free text (metadata
    the modes print as captured: URLs with their query, end-of-stream reasons, instructions)."""
    text = "\n".join(lines)
    if redact:
        text = redact_printed(text)
    out.write(text)
    out.write("\n")


def check_flags(args: argparse.Namespace) -> tuple[int, int] | None:
    for name in ("entries", "last", "context", "issue_examples"):
        v = getattr(args, name)
        if v is not None and v < 0:
            raise UsageError(f"--{name}: must be 0 or more, got {v}")
    if args.max_data is not None and args.max_data < 1:
        raise UsageError(f"--max-data: must be at least 1, got {args.max_data}")
    if args.track_request is not None and args.track_request < 1:
        raise UsageError(f"--track-request: requests are numbered from 1, got {args.track_request}")
    for name in ("entry", "around"):
        v = getattr(args, name)
        if v is not None and v < 0:
            raise UsageError(f"--{name}: a seq is 0 or more, got {v}")
    return parse_range(args.range) if args.range is not None else None


def level_of(args: argparse.Namespace) -> Level:
    """How much of each entry the chosen modes read (`inspect.load.Level`)."""
    if args.json is not None or listing_wanted(args) or args.track_request is not None:
        return "payloads"
    per_entry = (args.timeline, args.group_by_session, args.b2bua, args.list_backends)
    filters = (args.session_id, args.start_time, args.end_time, args.backend)
    if any(per_entry) or any(f is not None for f in filters):
        return "entries"
    return "requests"


def content_dirs_of(args: argparse.Namespace) -> tuple[int, ...]:
    """The response legs whose content the chosen modes show."""
    if args.json is not None or args.list_backends:
        return ()
    if args.analyze:
        return (BP, PC)
    return (BP,) if args.detect_issues else ()


def with_content(
    loaded: Loaded, df: pl.DataFrame, requests: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(requests with the content of both response legs (`bp_c_*`, `pc_c_*`) and the calls-table
    columns of docs/metrics.md, the calls table)."""
    c = loaded.content_table(df.select("file_index", "key"))
    out = requests
    for d in (BP, PC):
        out = out.join(content_mod.leg(c, d), on="key", how="left", maintain_order="left")
    return with_calls(out)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    seq_range = check_flags(args)
    zone = parse_zone(args.tz)
    path = Path(args.capture)
    if not path.exists():
        raise UsageError(f"no such capture: {path}")
    if path.is_dir():
        raise UsageError(f"{path} is a directory; give the capture file")
    loaded = load(path, recover=args.recover, level=level_of(args), content_dirs=content_dirs_of(args))
    # With --recover the reader skips past corrupt entries: those become warnings.
    fatal = None if args.recover else loaded.fatal
    for d in loaded.diagnostics:
        if d is not fatal:
            print(f"fastcap: warning: {path}: byte {d['offset']}: {d['message']}", file=err)
    df = prepare(loaded.entries)
    status = _run_modes(args, loaded, df, zone, seq_range, str(path), out, err)
    if fatal is not None:
        out.flush()
        print(
            f"fastcap: error: {path}: byte {fatal['offset']}: {fatal['message']}; "
            f"the {entry_count(df)} complete entries before it were used (use --recover to skip past it)",
            file=err,
        )
        return 2
    return status


def _run_modes(
    args: argparse.Namespace,
    loaded: Loaded,
    df: pl.DataFrame,
    zone: Any,
    seq_range: tuple[int, int] | None,
    source: str,
    out: TextIO,
    err: TextIO,
) -> int:
    emit = functools.partial(_emit, redact=not args.no_redact)
    if args.list_backends:
        emit(out, list_backends_lines(df))
        return 0
    backend = args.backend
    if backend is not None:
        names = backend_names(df)
        if backend.lower() not in {n.lower() for n in names}:
            print(f"Warning: Backend '{backend}' not found in capture.", file=err)
            print(
                f"Available backends: {', '.join(names)}"
                if names
                else "No backend information available in this capture.",
                file=err,
            )
    view = apply_global(
        df, session_id=args.session_id, start=args.start_time, end=args.end_time, backend=backend, zone=zone
    )
    v = view.df
    if args.json is not None:
        listed = listing_filters(
            v, direction=args.direction, session_substring=args.session_substring, search=args.search
        )
        limit = int(args.entries) if (args.entries or 0) > 0 else None
        sel = select(
            listed,
            entry=args.entry,
            around=args.around,
            context=args.context,
            seq_range=seq_range,
            last=args.last,
            limit=limit,
        )
        applied = list(view.applied) + _listing_applied(args)
        doc = export_document(
            loaded.header,
            sel.df,
            source=source,
            applied=applied,
            redact=not args.no_redact,
            diagnostics=loaded.diagnostics,
        )
        data = dumps(doc)
        if args.json == "-":
            out.write(data.decode("utf-8"))
            out.write("\n")
        else:
            Path(args.json).write_bytes(data + b"\n")
            out.write(f"Exported {sel.df.height} entries to {args.json}\n")
        return 0
    requests = requests_of(v, loaded.fields)
    ooo = loaded.out_of_order if loaded.level == "requests" else None
    emit(
        out,
        summary_lines(
            loaded.header,
            v,
            total=view.total,
            applied=view.applied,
            requests=requests,
            zone=zone,
            out_of_order_entries=ooo,
        ),
    )
    calls = None
    if args.analyze or args.detect_issues:
        requests, calls = with_content(loaded, v, requests)
    if args.status_summary:
        emit(out, status_lines(requests))
    if view.notices:
        emit(out, ["", *view.notices])
    issues = detect(v, requests, calls) if calls is not None else []
    if args.timeline:
        emit(out, timeline_lines(v, zone, backend))
    if args.detect_issues and calls is not None:
        emit(out, issues_lines(issues, backend, examples=args.issue_examples, notes=notes(calls)))
    if args.group_by_session:
        emit(out, sessions_lines(v))
    if args.b2bua:
        emit(out, b2bua_lines(v))
    if args.track_request is not None:
        emit(out, track_lines(v, requests, args.track_request, backend))
    if args.analyze_streaming:
        emit(out, streaming_lines(v, requests, backend))
    if listing_wanted(args):
        listed = listing_filters(
            v, direction=args.direction, session_substring=args.session_substring, search=args.search
        )
        sel = select(
            listed,
            entry=args.entry,
            around=args.around,
            context=args.context,
            seq_range=seq_range,
            last=args.last,
            limit=listing_limit(args),
        )
        emit(
            out,
            listing_lines(
                sel,
                zone=zone,
                verbose=args.verbose,
                hexdump=args.hex,
                max_data=args.max_data,
                redact=not args.no_redact,
                backend=backend,
            ),
        )
    if args.analyze:
        emit(out, analyze_lines(v, requests, issues, backend))
    return 0


def _listing_applied(args: argparse.Namespace) -> list[str]:
    parts = []
    for flag, attr in (
        ("direction", "direction"),
        ("session-substring", "session_substring"),
        ("search", "search"),
        ("entry", "entry"),
        ("around", "around"),
        ("range", "range"),
        ("last", "last"),
    ):
        v = getattr(args, attr)
        if v is not None:
            parts.append(f"{flag}={v}")
    if args.around is not None:
        parts.append(f"context={args.context}")
    if (args.entries or 0) > 0:
        parts.append(f"entries={args.entries}")
    return parts
