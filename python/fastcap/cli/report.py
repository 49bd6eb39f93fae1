"""`fastcap report CAPTURE`: per-call files, `report.md`, `analysis_report.md` (and `report.json`)."""

from __future__ import annotations

import argparse
import dataclasses
import gc
import sys
from pathlib import Path
from typing import Any

from fastcap.errors import UsageError, print_faults

PROGRESS_THRESHOLD = 50  # show a progress bar from this many calls on


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "report",
        help="write Markdown reports (per-call files, report.md, analysis_report.md) for a capture, or "
        "with --html one self-contained HTML file to share",
        description="Write Markdown reports for a capture: one file per call (request, reply, tool "
        "calls, usage, timing), report.md (the session: calls, models, tokens, cost, issues) and "
        "analysis_report.md (what the agent sends: system prompt, tools, message history per call). "
        "Secrets are redacted and every written file is leak-scanned. With --html, the pages of "
        "`fastcap view` as one HTML file instead (docs/export.md).",
        epilog="example: fastcap report session.cbor --out session_report --style calls,session",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "capture",
        metavar="CAPTURE",
        help="capture file (fastcap .cbor, mitmdump log, .mitm flows, HAR, traffic.jsonl; '-' for standard input), "
        "or a dataset (`fastcap ingest`; filter it with the options below)",
    )
    p.add_argument(
        "--out", metavar="DIR", help="output directory (default: <capture name>_report next to the capture)"
    )
    p.add_argument(
        "--style",
        default="calls,session,dissect",
        help="comma-separated: calls (one file per call), session (report.md), dissect "
        "(analysis_report.md); default: all three",
    )
    p.add_argument(
        "--json", action="store_true", help="also write report.json (the report.md content, machine-readable)"
    )
    p.add_argument("--title", metavar="T", help="report title")
    p.add_argument(
        "--no-redact", action="store_true", help="do not redact secrets (leak-scan findings become warnings)"
    )
    p.add_argument(
        "--recover",
        action="store_true",
        help="read past damaged records where the format allows it and exit 0 with warnings",
    )
    p.add_argument("--strict", action="store_true", help="exit 2 on any fault, a truncated tail included")
    p.add_argument(
        "--html",
        action="store_true",
        help="instead of Markdown, write the view's pages as one self-contained HTML file to share (--out "
        "names the file; default <capture name>_report.html next to the capture), e.g. "
        "fastcap report session.cbor --html --html-calls 3,17",
    )
    p.add_argument(
        "--html-calls",
        metavar="LIST",
        default="",
        help="calls whose request and response go into the HTML file, by their number in the view: "
        "3,17 or 3-9 (default: none; the page says which are included)",
    )
    from fastcap.dataset.env import add_filter_options

    add_filter_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fastcap.formats.inputs import local_input

    capture = Path(args.capture)
    if str(capture) != "-" and not capture.exists() and not capture.is_symlink():
        raise UsageError(f"no such capture: {capture}")
    from fastcap.dataset import is_dataset

    if args.html:
        return _run_html(args)
    if is_dataset(args.capture):
        return _run(args, args.capture, args.capture, False)
    if capture.is_dir():
        raise UsageError(f"{capture} is a directory; give the capture file or a dataset")
    with local_input(args.capture) as src:
        try:
            return _run(args, src.path, src.name, src.copied)
        finally:
            gc.unfreeze()  # (main() may be called again in the same process)


def _run(args: argparse.Namespace, path: str, name: str, copied: bool) -> int:
    from fastcap.cli.analyze import default_out_dir
    from fastcap.formats import read_file
    from fastcap.reports import STYLES, LeakScanError, write_reports

    styles = [s.strip() for s in str(args.style).split(",") if s.strip()]
    bad = [s for s in styles if s not in STYLES]
    if bad or not styles:
        raise UsageError(
            f"--style: unknown style {', '.join(bad) or '(none)'}; choose from {', '.join(STYLES)}"
        )
    out = Path(args.out) if args.out else default_out_dir(name, copied, "_report")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} exists and is not a directory")

    from fastcap.dataset import filters_from_args, is_dataset, open_dataset

    faults: list[Any] = []
    if is_dataset(path):
        filters = dataclasses.asdict(filters_from_args(args))
        exchanges = open_dataset(path, **filters).exchange_objects()
    else:
        result_read = read_file(path, recover=args.recover, name=name)
        exchanges, faults = result_read.exchanges, result_read.faults
    gc.freeze()  # what was read lives to the end: later collections need not walk it
    kwargs: dict[str, Any] = {
        "title": args.title,
        "source": Path(name),
        "styles": styles,
        "json": bool(args.json),
        "redact": not args.no_redact,
    }
    # Neither do the analyses and rendered sections: all live to the end or die by reference
    # count, yet each full collection walked them all (about 9 % of the run on 2,000 calls).
    gc.disable()
    try:
        if len(exchanges) >= PROGRESS_THRESHOLD and sys.stderr.isatty():
            result = _with_progress(exchanges, out, kwargs)
        else:
            result = write_reports(exchanges, out, **kwargs)
    except LeakScanError as exc:
        print(f"fastcap: error: {exc}", file=sys.stderr)
        r = exc.result
        print(_summary(r, "FAILED"), file=sys.stderr)
        return 1
    finally:
        gc.enable()
    for finding in result.leak_findings:
        print(f"fastcap: warning: {finding}", file=sys.stderr)
    scan = (
        "passed" if result.leak_scan == "passed" else f"{len(result.leak_findings)} finding(s), redaction off"
    )
    print(_summary(result, scan))
    return print_faults(
        faults,
        recover=args.recover,
        strict=args.strict,
        used=f"the {result.calls} calls reported",
    )


def _summary(result: Any, scan: str) -> str:
    return (
        f"Wrote {len(result.files)} files to {result.out_dir}: {result.calls} calls, "
        f"{result.model_calls} model calls; leak scan {scan}"
    )


def _with_progress(exchanges: list[Any], out: Path, kwargs: dict[str, Any]) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from fastcap.reports import write_reports

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), transient=True) as bar:
        tasks: dict[str, Any] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                label = "Analysing calls" if phase == "analyse" else "Writing call files"
                tasks[phase] = bar.add_task(label, total=total)
            bar.update(tasks[phase], completed=done)

        return write_reports(exchanges, out, progress=progress, **kwargs)


def html_rows(spec: str, calls: int) -> list[int]:
    """`--html-calls 3,17,20-22` → view rows [2, 16, 19, 20, 21] (the view numbers calls from #1)."""
    rows: set[int] = set()
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        first, dash, last = part.lstrip("#").partition("-")
        if not first.isdigit() or (dash and not last.lstrip("#").isdigit()):
            raise UsageError(f"--html-calls {spec!r}: give call numbers and ranges, e.g. 3,17,20-22")
        lo, hi = int(first), int(last.lstrip("#")) if dash else int(first)
        if not 1 <= lo <= hi <= calls:
            raise UsageError(f"--html-calls: {part} is not a call of this capture (#1 to #{calls})")
        rows.update(range(lo - 1, hi))
    return sorted(rows)


def _run_html(args: argparse.Namespace) -> int:
    """`--html`: the view's pages with the data embedded (view.bundle) in one file (reports.html)."""
    from fastcap.dataset import is_dataset
    from fastcap.formats.inputs import local_input

    if is_dataset(args.capture) or Path(args.capture).is_dir():
        raise UsageError("--html reads a capture file (as `fastcap view` does), not a dataset or directory")
    with local_input(args.capture) as src:
        return _write_html(args, Path(src.path), src.name, src.copied)


def _write_html(args: argparse.Namespace, path: Path, name: str, copied: bool) -> int:
    from fastcap.cli.analyze import default_out_dir
    from fastcap.reports.html import render_page
    from fastcap.view import bundle
    from fastcap.view.data import source_for

    source = source_for(path)
    out = Path(args.out) if args.out else default_out_dir(name, copied, "_report.html")
    if out.is_dir():
        raise UsageError(f"--out {out} is a directory; with --html it names the HTML file")
    redact = not args.no_redact
    # The calls asked for are checked against the call count, known once the capture is read.
    data = bundle.build(
        [source], lambda calls: html_rows(args.html_calls, calls), redact=redact, recover=args.recover
    )
    rows = data["included"]
    data["state"]["sources"] = [Path(name).name]
    out.write_text(render_page(bundle.assets(), data, title=args.title), encoding="utf-8")
    if redact:
        from fastcap.secrets.leakscan import remove_if_leaks

        if remove_if_leaks(out):
            return 1
    size = out.stat().st_size
    print(
        f"Wrote {out} ({size / 1e6:.1f} MB): {data['state']['calls']} calls, bodies of {len(rows)}; "
        f"leak scan {'passed' if redact else 'off'}"
    )
    return 0
