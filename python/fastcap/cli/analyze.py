"""`fastcap analyze FILE`: one pass, a compact overview on the terminal, reports on disk."""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from fastcap.errors import EXIT_BAD_INPUT, UsageError, print_faults

PROGRESS_MIN_BYTES = 4 << 20  # show progress bars for inputs above a few MB
# Per-call report files need every call's full dialect analysis in memory; above this size
# `analyze` writes the overview, analysis.md/json and calls.parquet and leaves them to `fastcap report`.
REPORTS_MAX_BYTES = 128 << 20
# ... and above this many calls: a mitmdump log of 200,000 request lines is 13 MB, and its 200,000
# per-call files took minutes to write and leak-scan (`fastcap report` still writes them).
REPORTS_MAX_CALLS = 10_000


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "analyze",
        help="overview of a capture (requests, models, status, TTFT, tokens, issues) plus Markdown reports",
        description=(
            "Read a capture (CBOR V2, mitmdump flow_detail log, .mitm, HAR or JSONL; detected from its content), "
            "print a compact overview and write reports into --out."
        ),
    )
    p.add_argument(
        "file",
        nargs="+",
        help="capture file ('-' for standard input; pipes and devices are read once); several files, a "
        "directory, a glob or a dataset (`fastcap ingest`) give one overview of them all",
    )
    p.add_argument(
        "--out", metavar="DIR", help="report directory (default: <file stem>_fastcap next to the input)"
    )
    p.add_argument(
        "--format", dest="fmt", choices=["auto", "cbor", "mitmlog", "mitm", "har", "jsonl"], default="auto"
    )
    p.add_argument("--json", action="store_true", help="also write analysis.json (and report.json)")
    p.add_argument("--parquet", action="store_true", help="also write calls.parquet (one row per call)")
    p.add_argument(
        "--no-reports", action="store_true", help="only the overview: no per-call files or session reports"
    )
    p.add_argument(
        "--recover",
        action="store_true",
        help="read past damaged records where the format allows it (CBOR entries, .mitm records, JSONL lines) "
        "and exit 0 with warnings",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="exit 2 on any fault, a truncated tail or an undecoded body included (default: those are warnings)",
    )
    p.add_argument(
        "--no-redact", action="store_true", help="do not redact secrets in the reports (raw values!)"
    )
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    from fastcap.dataset.env import add_filter_options

    add_filter_options(p)
    p.set_defaults(func=run)


def _progress(enabled: bool) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=True,
    )


def _write_overview(args: argparse.Namespace, out_dir: Path, overview: Any, calls: Any) -> list[str]:
    from fastcap.reports.overview import render_markdown

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "analysis.md").write_text(render_markdown(overview, calls), encoding="utf-8")
    written = ["analysis.md"]
    if args.json:
        (out_dir / "analysis.json").write_bytes(
            orjson.dumps(overview.to_json(), option=orjson.OPT_INDENT_2) + b"\n"
        )
        written.append("analysis.json")
    if args.parquet:
        calls.write_parquet(out_dir / "calls.parquet")
        written.append("calls.parquet")
    return written


def _cbor_calls(args: argparse.Namespace, path: Path, show: bool) -> tuple[Any, list[dict[str, Any]]]:
    """The calls table of a CBOR capture from the streaming pass (flat memory at any size)."""
    from fastcap.analysis.stream_cbor import calls_from_scan, scan

    with _progress(show) as progress:
        task = progress.add_task("analysing", total=path.stat().st_size)
        meta, content, diagnostics = scan(
            path, recover=args.recover, on_progress=lambda done, _total: progress.update(task, completed=done)
        )
    return calls_from_scan(meta, content), diagnostics


def _cbor_exchanges(args: argparse.Namespace, path: Path, name: str, faults: list[Any]) -> list[Any]:
    """The exchanges of a CBOR capture for the per-call files; bodies cut at their inflation
    limit add a fault to `faults`."""
    from fastcap.formats.capture_file import read_capture
    from fastcap.formats.cbor import exchanges_from_entries
    from fastcap.formats.limits import InflateBudget

    result = read_capture(path, recover=args.recover, errors="keep", warn=False)
    return exchanges_from_entries(
        result.entries, source_path=name, budget=InflateBudget.for_file(path.stat().st_size), faults=faults
    )


def default_out_dir(name: str, copied: bool, suffix: str) -> Path:
    """`<file stem><suffix>` beside the input; in the working directory for a pipe, device or stdin."""
    named = Path("stdin" if name == "<stdin>" else name)
    if copied:
        return Path.cwd() / f"{named.name}{suffix}"
    return named.with_name(f"{named.stem}{suffix}")


def run(args: argparse.Namespace) -> int:
    """One engine (analysis/engine.py) computes the calls table for every format and size; the
    dialects' per-call objects are built only to render the per-call report files."""
    from fastcap.dataset import is_many

    if is_many(args.file):
        return _run_many(args)
    args.file = args.file[0]
    from fastcap.formats.inputs import local_input

    with local_input(args.file) as src:
        try:
            return _run(args, Path(src.path), src.name, src.copied)
        finally:
            gc.unfreeze()  # (main() may be called again in the same process)


def _run_many(args: argparse.Namespace) -> int:
    """Several captures, a directory, a glob or a dataset: one overview of all their calls, the
    filters pushed into a dataset's scan (docs/datasets.md); no per-call files."""
    from fastcap.dataset import expand_inputs, filters_from_args, is_dataset, overview_of_inputs
    from fastcap.reports.overview import render_text

    for item in args.file:
        if not is_dataset(item) and not expand_inputs([item]):
            raise UsageError(
                f"{item}: no capture found there (give capture files, a directory of them, a glob or a dataset)"
            )
    started = time.perf_counter()
    calls, overview, faults = overview_of_inputs(
        args.file, filters_from_args(args), recover=args.recover, redact=not args.no_redact
    )
    print(render_text(overview))
    out_dir = Path(args.out or "fastcap_analysis")
    written = _write_overview(args, out_dir, overview, calls)
    print(f"Wrote {', '.join(written)} to {out_dir} in {time.perf_counter() - started:.2f}s")
    return print_faults(
        faults, recover=args.recover, strict=args.strict, used=f"the {calls.height} calls above"
    )


def _run(args: argparse.Namespace, path: Path, name: str, copied: bool) -> int:
    from fastcap.analysis.calls import redact_calls
    from fastcap.analysis.exchanges import calls_from_exchanges
    from fastcap.analysis.overview import build_overview
    from fastcap.formats import detect_format, read_file
    from fastcap.formats.cbor import cbor_fault
    from fastcap.reports.overview import render_text

    started = time.perf_counter()
    size = path.stat().st_size
    fmt = detect_format(path) if args.fmt == "auto" else args.fmt
    show = not args.quiet and sys.stderr.isatty() and size >= PROGRESS_MIN_BYTES
    faults: list[Any] = []
    exchanges: list[Any] | None = None
    if fmt == "cbor":
        calls, diagnostics = _cbor_calls(args, path, show)
        faults = [f for f in (cbor_fault(name, d) for d in diagnostics) if f is not None]
        if calls.height == 0:
            stop = next((f for f in faults if f.severity != "note"), None)
            if stop is not None:  # a fault and no complete entry: nothing usable
                raise stop.error()
    else:
        result = read_file(path, fmt=fmt, recover=args.recover, name=name)
        exchanges, faults = result.exchanges, result.faults
        gc.freeze()  # what was read lives to the end: later collections need not walk it (~10 % of the run)
        calls = calls_from_exchanges(exchanges)
    if not args.no_redact:
        calls = redact_calls(calls)
    overview = build_overview(calls, source=Path(name).name, fmt=fmt)
    print(render_text(overview))

    out_dir = Path(args.out) if args.out else default_out_dir(name, copied, "_fastcap")
    written = _write_overview(args, out_dir, overview, calls)
    scanned: set[Path] = set()
    if not args.no_reports and calls.height and size > REPORTS_MAX_BYTES:
        written.append(f"no per-call files above {REPORTS_MAX_BYTES >> 20} MB (`fastcap report` writes them)")
    elif not args.no_reports and calls.height > REPORTS_MAX_CALLS:
        written.append(f"no per-call files above {REPORTS_MAX_CALLS:,} calls (`fastcap report` writes them)")
    elif not args.no_reports and calls.height:
        from fastcap.reports import write_reports

        if exchanges is None:
            exchanges = _cbor_exchanges(args, path, name, faults)
        with _progress(show and len(exchanges) > 50) as progress:
            tasks: dict[str, Any] = {}

            def report_progress(phase: str, done: int, total: int) -> None:
                if phase not in tasks:
                    tasks[phase] = progress.add_task(phase, total=total)
                progress.update(tasks[phase], completed=done)

            report_result = write_reports(
                exchanges,
                out_dir,
                source=Path(name),
                json=args.json,
                redact=not args.no_redact,
                progress=report_progress,
                cost=overview.cost.to_json() if overview.cost is not None else None,
            )
        written.append(f"{len(report_result.files)} report files")
        scanned = set(report_result.files)  # write_reports leak-scanned its own files
    from fastcap.secrets.leakscan import scan_paths

    if not args.no_redact:
        findings = scan_paths([p for p in out_dir.iterdir() if p.is_file() and p not in scanned])
        if findings:
            for f in findings[:20]:
                print(f"fastcap: leak scan: {f}", file=sys.stderr)
            print(f"fastcap: error: leak scan found {len(findings)} secret(s) in {out_dir}", file=sys.stderr)
            return EXIT_BAD_INPUT

    elapsed = time.perf_counter() - started
    print(f"Wrote {', '.join(written)} to {out_dir} in {elapsed:.2f}s")
    faults.sort(key=lambda f: f.offset)
    return print_faults(
        faults, recover=args.recover, strict=args.strict, used=f"the {calls.height} calls above"
    )
