"""Reports people read: per-call files, `report.md`, `analysis_report.md`, `report.json`.

`write_reports` renders a list of exchanges into a directory; `write_session_reports` does the same
for a capture file (what the capture engineer calls when a capture stops). Redaction is applied
before anything is rendered and a leak scan checks every written file afterwards; findings fail
the run with `LeakScanError`.
"""

from __future__ import annotations

import json as _json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastcap.dialects.base import CallAnalysis
from fastcap.model import Exchange
from fastcap.reports.calls import call_bodies, render_call
from fastcap.reports.context import ReportContext, build_calls
from fastcap.reports.dissect import DissectEntry, dissect_entry, render_dissect
from fastcap.reports.flow import agent_of
from fastcap.reports.jsonout import report_json
from fastcap.reports.leakcheck import scan_written
from fastcap.reports.safety import get_redactor
from fastcap.reports.session import build_session, completion_message, render_session

STYLES = ("calls", "session", "dissect")

Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass(slots=True)
class ReportResult:
    out_dir: Path
    files: list[Path] = field(default_factory=list)
    call_files: list[Path] = field(default_factory=list)
    calls: int = 0
    model_calls: int = 0
    redacted: bool = True
    leak_scan: str = "not run"  # "passed", "failed", "warned" (redaction off)
    leak_findings: list[Any] = field(default_factory=list)
    completion_message: str = ""
    session: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.leak_scan in ("passed", "warned")


class LeakScanError(RuntimeError):
    """The post-write leak scan found secrets in generated files (docs/specs/reports.md §6.6)."""

    def __init__(self, result: ReportResult) -> None:
        self.result = result
        lines = [str(f) for f in result.leak_findings[:20]]
        more = len(result.leak_findings) - len(lines)
        if more > 0:
            lines.append(f"... and {more} more")
        super().__init__(
            f"leak scan found {len(result.leak_findings)} possible secret(s) in the reports:\n"
            + "\n".join(lines)
        )


class _ScannedWriter:
    """Writes report files and leak-scans each text as it is written (`leakcheck.scan_written`:
    the findings `scan_paths` would give on the file, without reading it back)."""

    def __init__(self) -> None:
        self.findings: list[Any] = []

    def write(self, path: Path, text: str) -> Path:
        path.write_text(text, encoding="utf-8", newline="\n")
        self.findings += scan_written(path, text)
        return path


def _styles(styles: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(s.strip() for s in styles if s.strip()))
    bad = [s for s in chosen if s not in STYLES]
    if bad:
        from fastcap.errors import UsageError

        raise UsageError(f"unknown report style {', '.join(bad)} (choose from {', '.join(STYLES)})")
    return chosen


def write_reports(
    exchanges: Sequence[Exchange],
    out_dir: str | Path,
    *,
    title: str | None = None,
    source: str | Path | None = None,
    state: dict[str, Any] | None = None,
    styles: Iterable[str] = STYLES,
    json: bool = False,
    redact: bool = True,
    progress: Progress | None = None,
    analyzer: Callable[[Exchange], CallAnalysis] | None = None,
    cost: dict[str, Any] | None = None,
) -> ReportResult:
    """Render `exchanges` into `out_dir`; raises `LeakScanError` when the leak scan finds secrets.

    `analyzer` replaces `fastcap.dialects.analyze_exchange` (tests, callers with cached analyses);
    `cost` is the calls' cost summary when the caller has already priced them.
    """
    chosen = _styles(styles)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    redactor = get_redactor(redact)
    total = len(exchanges)
    calls = build_calls(
        exchanges, analyzer=analyzer, progress=(lambda n: progress("analyse", n, total)) if progress else None
    )
    ctx = ReportContext(
        calls=calls,
        redactor=redactor,
        out_dir=out,
        title=title,
        source=str(source) if source is not None else None,
        state=dict(state or {}),
        styles=chosen,
        cost=cost,
    )
    result = ReportResult(
        out_dir=out, calls=len(calls), model_calls=len(ctx.model_calls), redacted=redactor.enabled
    )
    # One pass renders each call's file and its analysis_report.md section from bodies decoded
    # and redacted once (they were decoded twice, once per report).
    entries: list[DissectEntry] | None = [] if "dissect" in chosen else None
    writer = _ScannedWriter()
    if "calls" in chosen:
        for n, call in enumerate(calls, 1):
            bodies = call_bodies(call, redactor)
            result.call_files.append(writer.write(out / call.file_name, render_call(call, redactor, bodies)))
            if entries is not None:
                entries.append(dissect_entry(n, call, bodies, redactor))
            if progress:
                progress("write", n, len(calls))
        result.files += result.call_files
    else:
        entries = None
    agent = agent_of(calls)  # recognised once for report.md and analysis_report.md
    data = build_session(ctx, agent)
    result.session = data
    raw_log = str(Path(source).resolve()) if source is not None else None
    result.completion_message = completion_message(
        data, out, raw_log=raw_log, call_files=len(result.call_files)
    )
    if "session" in chosen:
        result.files.append(writer.write(out / "report.md", render_session(data)))
    if "dissect" in chosen:
        result.files.append(
            writer.write(
                out / "analysis_report.md", render_dissect(ctx, entries=entries, agent=agent.agent or "agent")
            )
        )
    if json:
        doc = report_json(data, source=ctx.source, completion=result.completion_message)
        result.files.append(writer.write(out / "report.json", doc))
    result.leak_findings = writer.findings
    if result.leak_findings:
        result.leak_scan = "failed" if redactor.enabled else "warned"
    else:
        result.leak_scan = "passed"
    if result.leak_scan == "failed":
        raise LeakScanError(result)
    return result


def _read_state(out_dir: Path) -> dict[str, Any]:
    path = out_dir / "state.json"
    try:
        value = _json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def write_session_reports(
    capture_path: str | Path, out_dir: str | Path, *, progress: Progress | None = None
) -> ReportResult:
    """Read a capture with `fastcap.formats.read_exchanges` and write every report (and `report.json`)."""
    from fastcap.formats import read_exchanges

    out = Path(out_dir)
    exchanges = read_exchanges(str(capture_path))
    return write_reports(
        exchanges,
        out,
        source=capture_path,
        state=_read_state(out),
        styles=STYLES,
        json=True,
        redact=True,
        progress=progress,
    )


__all__ = [
    "STYLES",
    "LeakScanError",
    "ReportResult",
    "write_reports",
    "write_session_reports",
]
