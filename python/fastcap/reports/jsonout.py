"""`report.json`: the session report's data, machine-readable (same content as `report.md`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastcap.reports.markdown import fmt_iso

SCHEMA = "fastcap.report/1"


def _iso_times(data: dict[str, Any]) -> dict[str, Any]:
    timing = [dict(row, started_at=fmt_iso(row["started_at"])) for row in data["timing"]]
    return dict(data, timing=timing)


def report_json(data: dict[str, Any], *, source: str | None, completion: str) -> str:
    doc = {"schema": SCHEMA, "source": source, **_iso_times(data), "completion_message": completion}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def write_json(path: Path, data: dict[str, Any], *, source: str | None, completion: str) -> Path:
    path.write_text(report_json(data, source=source, completion=completion), encoding="utf-8", newline="\n")
    return path
