"""`fastcap inspect CAPTURE`: every mode of the CBOR V2 reference inspector (docs/specs/cbor-v2.md §10), with
the fixes of §11. The work is in `fastcap.inspect`; this module only declares the flags."""

from __future__ import annotations

import argparse
from typing import Any

# `fastcap.inspect.filters.DIRECTIONS`' names, spelled out so that building the command line does
# not import Polars (every fastcap command builds it).
DIRECTIONS = ("client_to_proxy", "proxy_to_client", "proxy_to_backend", "backend_to_proxy")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "inspect",
        help="inspect a CBOR V2 wire capture (summary, listing, timeline, issues, analysis, JSON)",
        description="Inspect CBOR V2 (LLMPROXY-CAPTURE-V2) wire capture files: the reference "
        "inspector's modes, with request-id correlation, per-request status counts, 429/5xx "
        "detection, content accounting for every provider, UTC times and redacted secrets.",
    )
    p.add_argument("capture", metavar="CAPTURE_FILE", help="the .cbor capture")
    p.add_argument(
        "-e",
        "--entries",
        type=int,
        default=0,
        metavar="N",
        help="list the first N entries (0 = summary only)",
    )
    p.add_argument("-a", "--analyze", action="store_true", help="request/response analysis per request")
    p.add_argument(
        "-j",
        "--json",
        nargs="?",
        const="-",
        default=None,
        metavar="FILE",
        help="export the selected entries as JSON to FILE (default: stdout)",
    )
    p.add_argument(
        "-d",
        "--direction",
        choices=DIRECTIONS,
        help="list only the entries of one direction (client to proxy, proxy to model API, and back)",
    )
    p.add_argument(
        "-b",
        "--backend",
        metavar="NAME",
        help="only this backend (stream chunks inherit it from their stream-start marker)",
    )
    p.add_argument("-l", "--list-backends", action="store_true", help="list backends and exit")
    p.add_argument(
        "--max-data",
        type=int,
        default=4096,
        metavar="N",
        help="bytes of payload shown per entry (default 4096)",
    )
    p.add_argument(
        "--status-summary",
        action="store_true",
        help="HTTP status per request, on the client side and the model-API side (and the 429/5xx share per backend)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="show expanded metadata in the listing")
    p.add_argument(
        "-s",
        "--search",
        metavar="TERM",
        help="case-insensitive search of the raw payload bytes and the metadata",
    )
    p.add_argument(
        "--session-substring",
        metavar="TEXT",
        help="case-insensitive substring of a session id: the client connection's session (asid or sid) or the gateway's upstream session",
    )
    p.add_argument("--hex", action="store_true", help="hex dump instead of a text preview")
    p.add_argument("--last", type=int, metavar="N", help="the last N entries")
    p.add_argument("-r", "--range", metavar="A-B", help="inclusive seq range (also A:B, A..B)")
    p.add_argument("--around", type=int, metavar="SEQ", help="entries around this seq")
    p.add_argument(
        "-c", "--context", type=int, default=5, metavar="N", help="context size for --around (default 5)"
    )
    p.add_argument("--entry", type=int, metavar="SEQ", help="only the entry with this seq")
    p.add_argument("-t", "--timeline", action="store_true", help="timeline view with gaps")
    p.add_argument(
        "--detect-issues",
        action="store_true",
        help="the issue classes of docs/metrics.md (rate limits, server/client errors, stream errors, "
        "cut streams, slow gaps) and missing or slow responses, grouped by class",
    )
    p.add_argument(
        "--issue-examples",
        type=int,
        default=3,
        metavar="N",
        help="examples shown per issue class by --detect-issues (default 3, 0 = all)",
    )
    p.add_argument("--group-by-session", action="store_true", help="per-session summary")
    p.add_argument(
        "--b2bua",
        action="store_true",
        help="which client session each upstream (gateway to model API) session served, as seen on the requests the gateway forwarded",
    )
    p.add_argument(
        "--track-request",
        type=int,
        metavar="N",
        help="follow request N through every hop: client to gateway, gateway to model API, and the replies",
    )
    p.add_argument("--analyze-streaming", action="store_true", help="per-request streaming timings")
    p.add_argument(
        "--session-id", metavar="SID", help="exact session id of the client connection (asid, else sid)"
    )
    p.add_argument(
        "--start-time",
        metavar="TIME",
        help="from this time: Unix seconds, ISO datetime, date, or time of day (capture's first day)",
    )
    p.add_argument("--end-time", metavar="TIME", help="up to this time (inclusive); same forms")
    p.add_argument(
        "--tz",
        metavar="ZONE",
        default=None,
        help="time zone for display and naive times: UTC (default), local, an IANA name, +HH:MM",
    )
    p.add_argument(
        "--recover",
        action="store_true",
        help="skip past a corrupt entry to the next plausible one instead of stopping there",
    )
    p.add_argument(
        "--no-redact", action="store_true", help="show secrets (authorization headers, keys) as captured"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fastcap.inspect.run import run as run_inspect

    return run_inspect(args)
