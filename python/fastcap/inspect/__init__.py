"""`fastcap inspect`: the CBOR V2 reference inspector's modes (docs/specs/cbor-v2.md §10), done right (§11).

Modules, one job each:

- `common`: section banners, number/size/time formatting, time zones.
- `load`: the one pass over the capture, round by round, keeping what the chosen modes read
  (collapsed stream chunks, every entry's metadata, or every payload) and reducing response
  bodies to content figures as they complete.
- `prepare`: entry columns every mode uses (A-session id, status, inherited backend/model,
  correlation key) and the per-request table (`requests_of`), all Polars joins, linear time.
- `filters`: time parsing, `--range`, the global filters (session, time, backend) and the listing
  filters/selection.
- `content`: per-request content accounting, the one `fastcap analyze` uses (native body
  assembler and SSE field extractor + `analysis.content.aggregate_events`; dialects for
  EventStream bodies).
- `calls`: inspect's requests through `analysis.engine.calls_from_requests`: usage, completion
  and issue classes of docs/metrics.md.
- `redaction`: secrets out of payloads before they are displayed or exported.
- `summary`, `listing`, `timeline`, `issues`, `streaming`, `track`, `sessions`, `analyze`,
  `export`: one output mode each.
- `run`: the order of operations (§10.2) on top of all of these.
"""

from __future__ import annotations
