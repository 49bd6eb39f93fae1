"""`fastcap export CAPTURE... --otlp URL | --otlp-file FILE`: the calls as OpenTelemetry GenAI spans."""

from __future__ import annotations

import argparse
import contextlib
import os
from pathlib import Path
from typing import Any

from fastcap.errors import EXIT_BAD_INPUT, UsageError, print_faults

EPILOG = """examples:
  fastcap export session.cbor --otlp http://127.0.0.1:4318
  fastcap export session.cbor --otlp-file spans.json
  fastcap export ~/captures --since 2026-11-01 --otlp https://cloud.langfuse.com/api/public/otel \\
      --otlp-header "Authorization=Basic $LANGFUSE_AUTH"

One span per model call (start and end as captured), one trace per conversation; docs/export.md
says how to load them into Langfuse, Phoenix, Grafana Tempo or Jaeger."""


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "export",
        help="export the calls as OpenTelemetry GenAI spans (to an OTLP/HTTP endpoint or an OTLP/JSON file)",
        description="Export every model call of the captures as an OpenTelemetry span that follows the GenAI "
        "semantic conventions: model, provider, tokens (cache read and write, reasoning), time to first "
        "chunk, finish reason, errors. Needs the otel extra: pip install 'fastcap[otel]'.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="CAPTURE",
        help="capture files (any format `fastcap analyze` reads, '-' for standard input), directories, globs "
        "or a dataset",
    )
    p.add_argument(
        "--otlp",
        metavar="URL",
        help="OTLP/HTTP endpoint, e.g. http://127.0.0.1:4318 (/v1/traces is added unless the URL ends with it)",
    )
    p.add_argument("--otlp-file", metavar="FILE", help="write the spans to FILE in the OTLP/JSON encoding")
    p.add_argument(
        "--otlp-header",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="HTTP header for the endpoint, e.g. an API key (repeatable)",
    )
    p.add_argument(
        "--timeout", type=float, default=10.0, metavar="S", help="seconds per request (default 10)"
    )
    p.add_argument(
        "--include-content",
        action="store_true",
        help="attach the system prompt, messages and reply to each span as a semconv event (redacted; off by "
        "default; capture files only)",
    )
    p.add_argument(
        "--no-redact", action="store_true", help="do not redact secrets (raw values leave the machine!)"
    )
    p.add_argument(
        "--recover", action="store_true", help="read past damaged records where the format allows it"
    )
    p.add_argument(
        "--strict", action="store_true", help="exit 2 on any reader fault, a truncated tail included"
    )
    from fastcap.dataset.env import add_filter_options

    add_filter_options(p)
    p.set_defaults(func=run)


def _headers(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--otlp-header {pair!r}: write it as KEY=VALUE")
        out[key.strip()] = value.strip()
    return out


def run(args: argparse.Namespace) -> int:
    if not args.otlp and not args.otlp_file:
        raise UsageError("say where the spans go: --otlp URL (an OTLP/HTTP endpoint) or --otlp-file FILE")
    headers = _headers(args.otlp_header)
    from fastcap.export.otlp import traces_url

    if args.otlp:
        traces_url(args.otlp)  # a bad URL fails before the captures are read
    with contextlib.ExitStack() as stack:
        inputs = _local_inputs(args.inputs, stack)
        return _run(args, inputs, headers)


def _local_inputs(inputs: list[str], stack: contextlib.ExitStack) -> list[str]:
    """Standard input becomes a temporary file; every other input must name captures."""
    from fastcap.dataset import expand_inputs, is_dataset
    from fastcap.formats.inputs import local_input

    out = []
    for item in inputs:
        if item == "-":
            out.append(str(stack.enter_context(local_input(item)).path))
        elif not is_dataset(item) and not expand_inputs([item]):
            raise UsageError(
                f"{item}: no capture found there (give capture files, a directory, a glob or a dataset)"
            )
        else:
            out.append(item)
    return out


def _run(args: argparse.Namespace, inputs: list[str], headers: dict[str, str]) -> int:
    from fastcap.dataset import calls_for_inputs, filters_from_args
    from fastcap.export.otlp import build_spans, otlp_json, send

    faults: list[Any] = []
    redact = not args.no_redact
    calls = calls_for_inputs(
        inputs, filters_from_args(args), recover=args.recover, redact=redact, faults=faults
    )
    contents = None
    if args.include_content:
        from fastcap.export.content import call_contents, capture_files

        wanted = {
            (str(r["capture_id"]), int(r["index"])) for r in calls.iter_rows(named=True) if r["is_model_call"]
        }
        # The calls table names each capture file's id (`source_path` is the absolute path).
        ids = dict(calls.select("source_path", "capture_id").unique().iter_rows())
        files = {path: ids[path] for path in map(os.path.abspath, capture_files(inputs)) if path in ids}
        contents = call_contents(files, wanted, redact=redact, recover=args.recover)
    exported = build_spans(calls, contents=contents)
    done = []
    if args.otlp_file:
        out = Path(args.otlp_file)
        out.write_bytes(otlp_json(exported.spans))
        from fastcap.secrets.leakscan import remove_if_leaks

        if redact and remove_if_leaks(out):
            return EXIT_BAD_INPUT
        done.append(f"wrote {out}")
    if args.otlp:
        requests = send(exported.spans, args.otlp, headers=headers, timeout=args.timeout)
        done.append(f"sent {requests} request{'s' if requests != 1 else ''} to {args.otlp}")
    skipped = []
    if exported.skipped_other:
        skipped.append(f"{exported.skipped_other} calls that are not model calls")
    if exported.skipped_untimed:
        skipped.append(f"{exported.skipped_untimed} model calls without timestamps (mitmdump logs keep none)")
    if args.include_content and exported.with_content < exported.calls:
        skipped.append(
            f"the content of {exported.calls - exported.with_content} calls (datasets keep no bodies)"
        )
    traces = len(exported.spans) - exported.calls
    print(
        f"Exported {exported.calls} call spans in {traces} trace{'s' if traces != 1 else ''}: {'; '.join(done)}"
        + (f" (left out: {', '.join(skipped)})" if skipped else "")
    )
    return print_faults(
        faults, recover=args.recover, strict=args.strict, used=f"the {exported.calls} calls exported"
    )
