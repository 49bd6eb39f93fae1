"""`--detect-issues` (§10.10, fixed per §11.2, §11.14, §11.19) in docs/metrics.md's vocabulary.

The issues of the calls table are those `fastcap analyze` reports, found by the same code
(`fastcap.analysis.issues.issue_list` over `inspect.calls.calls_of`): rate_limit, server_error,
client_error, stream_error, cut_stream (a stream that reached its stop reason is not cut, even
without its terminal event) and slow_gap (idle time between the calls of one session). Two kinds
are the reference inspector's own, kept because §10.10 asks for what no calls-table class covers:

- `missing_response` (§10.10 pass 3): a client request never forwarded to the backend, or a
  forwarded request that no backend response answered. (Its third case, a stream without its end
  marker, is `cut_stream` now, and only when the stream never reached its stop reason.)
- `slow_response` (§10.10 pass 1, per request in time order as §11.14 asks): more than 10 s
  between two consecutive entries of one call: a long wait for the first byte, or a stream that
  stalled. The gaps between calls are `slow_gap`.

Issues print grouped as analyze's overview prints them: each class with its count, its one-line
meaning and a few examples, in class order, then request order; each example names the entry to
look at (`--entry`, `--around`, `--track-request`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import polars as pl

from fastcap.analysis.issues import EXAMPLES_PER_CLASS, ISSUE_LABELS, issue_list
from fastcap.inspect.common import PB, banner
from fastcap.inspect.prepare import entry_rows

SLOW_RESPONSE_S = 10.0

LABELS = {
    **ISSUE_LABELS,
    "missing_response": "a client request never forwarded, or a forwarded request without a backend response",
    "slow_response": f"more than {SLOW_RESPONSE_S:g}s between two entries of one call "
    "(waiting for the first byte, or a stalled stream)",
}
ORDER = list(LABELS)


@dataclass(frozen=True)
class Issue:
    type: str  # a key of LABELS
    n: int  # the request's number
    seq: int | None  # the entry to look at
    text: str  # "#03 Anthropic.Messages HTTP 429, retry after 2s: …", as analyze words it
    key: str | None = None

    def line(self) -> str:
        return self.text + (f" (entry [{self.seq}])" if self.seq is not None else "")

    def detail(self) -> str:
        """The text without the request's number and name, for its block in `--analyze`."""
        _, _, rest = self.text.partition(" ")
        _, _, rest = rest.partition(" ")
        return rest or LABELS.get(self.type, self.type)


def _entry(r: dict[str, Any], kind: str) -> int | None:
    """The entry an issue of `kind` is attributed to."""
    if kind in ("rate_limit", "server_error", "client_error") and r.get("bp_status_seq") is not None:
        return int(r["bp_status_seq"])
    if kind == "cut_stream" and r.get("eos_seq") is not None:
        return int(r["eos_seq"])
    return r.get("pb_seq") if r.get("pb_seq") is not None else r.get("anchor_seq")


def _name(r: dict[str, Any]) -> str:
    what = r.get("api_name") if r.get("url") else (r.get("backend") or "request")
    return f"#{r['n']:02d} {what}"


def call_issues(requests: pl.DataFrame, calls: pl.DataFrame) -> list[Issue]:
    """The calls table's issues (analyze's list), attributed to inspect's requests and entries.
    Call index i is request number i + 1 (`inspect.calls.calls_of`)."""
    rows = requests.select("n", "key", "bp_status_seq", "eos_seq", "pb_seq", "anchor_seq").to_dicts()
    out = []
    for i in issue_list(calls):
        if i.call_index is None:
            continue
        r = rows[i.call_index]
        out.append(Issue(i.kind, r["n"], _entry(r, i.kind), i.text, r["key"]))
    return out


def missing_responses(requests: pl.DataFrame, *, has_pb_leg: bool) -> list[Issue]:
    out = []
    cols = ["n", "key", "cp_seq", "pb_seq", "anchor_seq", "n_pb", "n_bp", "url", "api_name", "backend"]
    for r in requests.select(cols).iter_rows(named=True):
        if r["cp_seq"] is not None and not r["n_pb"] and not r["n_bp"]:
            what = "not forwarded to the backend" if has_pb_leg else "no backend response"
            out.append(Issue("missing_response", r["n"], r["cp_seq"], f"{_name(r)}: {what}", r["key"]))
        elif r["n_pb"] and not r["n_bp"]:
            seq = r["pb_seq"] if r["pb_seq"] is not None else r["anchor_seq"]
            out.append(
                Issue(
                    "missing_response", r["n"], seq, f"{_name(r)}: forwarded, no backend response", r["key"]
                )
            )
    return out


def slow_responses(entries: pl.DataFrame, requests: pl.DataFrame) -> list[Issue]:
    """Gaps of more than SLOW_RESPONSE_S between consecutive entries of one request, in time order.
    `entries` is the prepared table (`prepare.prepare`)."""
    gaps = (
        entry_rows(entries, pl.col("key").is_not_null() & pl.col("ts").is_not_null())
        .sort(["kid", "ts", "seq"])
        .with_columns(_gap=pl.col("ts").diff().over("kid"), _prev=pl.col("seq").shift(1).over("kid"))
        .filter(pl.col("_gap") > SLOW_RESPONSE_S)
    )
    if gaps.height == 0:
        return []
    named = requests.select("kid", "key", "n", "url", "api_name", "backend")
    out = []
    for r in gaps.join(named, on="kid", how="inner").iter_rows(named=True):
        text = f"{_name(r)}: {r['_gap']:.1f}s between entries [{r['_prev']}] and [{r['seq']}]"
        out.append(Issue("slow_response", r["n"], r["seq"], text, r["key"]))
    return out


def detect(entries: pl.DataFrame, requests: pl.DataFrame, calls: pl.DataFrame) -> list[Issue]:
    """Every issue, by class (`ORDER`), then request number. `requests` and `calls` come from
    `inspect.calls.with_calls`; `entries` is the prepared table (`prepare.prepare`)."""
    has_pb = bool((entries["dir"] == PB).any()) if entries.height else False
    issues = (
        call_issues(requests, calls)
        + missing_responses(requests, has_pb_leg=has_pb)
        + slow_responses(entries, requests)
    )
    return sorted(issues, key=lambda i: (ORDER.index(i.type), i.n, i.seq if i.seq is not None else -1))


def notes(calls: pl.DataFrame) -> list[str]:
    """What analyze's overview notes about completion (not an issue)."""
    abandoned = int(calls["abandoned_after_finish"].fill_null(False).sum()) if calls.height else 0
    if not abandoned:
        return []
    return [
        f"Note: {abandoned:,} stream{'s' if abandoned > 1 else ''} finished (stop reason seen) but "
        "ended before the provider's terminal event: the reader stopped after the finish reason. "
        "Not an issue (docs/metrics.md)."
    ]


def issues_lines(
    issues: list[Issue],
    backend: str | None,
    *,
    examples: int = EXAMPLES_PER_CLASS,
    notes: list[str] | None = None,
) -> Iterator[str]:
    """Grouped as `fastcap analyze` prints its overview: class, count, meaning and `examples`
    examples (0: all)."""
    if not issues:
        yield ""
        yield "No issues detected!"
        yield from notes or []
        return
    yield banner("ISSUES DETECTED", backend)
    groups: dict[str, list[Issue]] = {}
    for i in issues:
        groups.setdefault(i.type, []).append(i)
    n = len(issues)
    yield f"{n:,} issue{'s' if n > 1 else ''} in {len(groups)} class{'es' if len(groups) > 1 else ''}"
    for kind, members in groups.items():
        yield f"  [{kind}] ×{len(members):,}  {LABELS.get(kind, kind)}"
        shown = members if examples <= 0 else members[:examples]
        yield from (f"    {i.line()}" for i in shown)
        if len(shown) < len(members):
            yield f"    … and {len(members) - len(shown):,} more (--issue-examples 0 lists them all)"
    yield from notes or []


__all__ = ["LABELS", "Issue", "detect", "issues_lines", "notes"]
