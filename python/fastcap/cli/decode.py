"""`fastcap decode BODY`: what one raw response body says (SSE or AWS EventStream)."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from fastcap.errors import UsageError

if TYPE_CHECKING:
    from fastcap.dialects.base import ResponseInfo

# The registry's dialect names, for --help without importing every dialect at start-up (a test
# keeps this equal to `dialects.registry.names()`).
API_NAMES = ("anthropic", "bedrock", "gemini", "kiro", "openai_chat", "openai_responses")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "decode",
        help="decode one raw response body (SSE or AWS EventStream) into text, thinking, tool calls, usage",
        description="Decode a response body saved to a file ('-' for stdin). The framing (SSE or EventStream) and the "
        "API are guessed from the bytes unless --api is given.",
    )
    p.add_argument("body", help="body file, or - for standard input")
    p.add_argument(
        "--api",
        type=_dialect_name,
        choices=API_NAMES,
        help="the API that produced the body (default: guessed)",
    )
    p.add_argument("--events", action="store_true", help="also list every event")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def _dialect_name(value: str) -> str:
    """`--api` takes the registry's dialect names; the older `openai-chat` spelling reads as `openai_chat`."""
    return value.replace("-", "_")


def _looks_eventstream(body: bytes) -> bool:
    from fastcap import _native

    return len(body) >= 16 and _native.decode_eventstream(body[: min(len(body), 1 << 16)])["frames"] != []


def _guess_api(body: bytes, eventstream: bool) -> str:
    if eventstream:
        return "bedrock" if b"contentBlock" in body[:4096] or b'"bytes"' in body[:4096] else "kiro"
    head = body[:8192]
    if b"message_start" in head or b"content_block" in head:
        return "anthropic"
    if b'"response.' in head or b"event: response." in head:
        return "openai_responses"
    if b"candidates" in head or b"usageMetadata" in head:
        return "gemini"
    return "openai_chat"


def run(args: argparse.Namespace) -> int:
    from fastcap.formats.inputs import local_input
    from fastcap.model import Exchange

    if args.body != "-" and Path(args.body).is_dir():
        raise UsageError(f"{args.body}: is a directory, expected a body file")
    # A pipe, device or stdin is read once, within FASTCAP_MAX_STREAM_BYTES (`/dev/zero` ends in an error).
    with local_input(args.body) as src:
        body = Path(src.path).read_bytes()
    if not body:
        raise UsageError(f"{args.body}: byte 0: empty body; expected an SSE or AWS EventStream response body")
    eventstream = _looks_eventstream(body)
    from fastcap.dialects import registry

    api = args.api or _guess_api(body, eventstream)
    ctype = "application/vnd.amazon.eventstream" if eventstream else "text/event-stream"
    ex = Exchange(
        index=0,
        source="body",
        method="POST",
        url=registry.get(api).example_url,  # so the dialect that owns the body decodes it
        status=200,
        response_headers=[("content-type", ctype)],
        response_body=body,
    )
    from fastcap.dialects import streams

    with _EventList(args.json if args.events else None) as listed:
        with streams.events_to(listed.add):
            a = registry.analyze_exchange(ex)
        r = a.response
        result = _summary(a.api_name, eventstream, r)
        if args.json:
            _write_json(result, listed, sys.stdout)
            return 0
        _print_summary(result, r)
        if args.events:
            print()
            listed.copy_to(sys.stdout)
    return 0


def _summary(api_name: str, eventstream: bool, r: ResponseInfo) -> dict[str, Any]:
    """What `--json` prints (but the event list)."""
    result: dict[str, Any] = {
        "api": api_name,
        "framing": "eventstream" if eventstream else "sse",
        "events": sum(r.event_counts.values()),
        "event_counts": r.event_counts,
        "model": r.model,
        "text": r.text,
        "reasoning": r.reasoning_text,
        "tool_calls": [
            {
                "id": t.id,
                "name": t.name,
                "arguments": t.arguments if t.arguments_json_valid else t.arguments_raw,
            }
            for t in r.tool_calls
        ],
        "stop_reason": r.stop_reason,
        "usage": None
        if r.usage is None
        else {
            k: getattr(r.usage, k)
            for k in ("input_total", "cache_read", "cache_write", "output_total", "reasoning")
        },
        "errors": [{"type": e.type, "message": e.message} for e in r.errors],
        "complete": r.complete,
        "notes": r.notes,
    }
    if r.context_usage_pct:
        result["context_usage_pct"] = r.context_usage_pct
    if r.credits:
        result["credits"] = r.credits
    return result


def _write_json(result: dict[str, Any], listed: _EventList, out: IO[str]) -> None:
    """`result` as indented JSON, with the spooled event list (if any) as its last key `event_list`."""
    text = orjson.dumps(result, option=orjson.OPT_INDENT_2).decode()
    if listed.file is None:
        out.write(text + "\n")
        return
    out.write(text[: -len("\n}")] + ',\n  "event_list": ')
    if listed.count:
        out.write("[\n")
        listed.copy_to(out)
        out.write("\n  ]\n}\n")
    else:
        out.write("[]\n}\n")


class _EventList:
    """The `--events` list, written to a temporary file as the dialect hands over each event
    (`streams.events_to`), so a stream of a million events is never held in memory (issue 11);
    rows as `--json` (`as_json`) or the text listing print them. Without `--events`
    (`as_json is None`) events are only counted (`ResponseInfo.event_counts`)."""

    def __init__(self, as_json: bool | None) -> None:
        self.as_json = as_json
        self.count = 0
        self.file: IO[str] | None = None

    def __enter__(self) -> _EventList:
        if self.as_json is not None:
            self.file = tempfile.TemporaryFile("w+", encoding="utf-8")
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.file is not None:
            self.file.close()

    def add(self, etype: str, summary: str, _t: float | None) -> None:
        if self.file is None:
            return
        self.count += 1
        if self.as_json:
            item = orjson.dumps(
                {"index": self.count, "type": etype, "summary": summary}, option=orjson.OPT_INDENT_2
            )
            row = ("" if self.count == 1 else ",\n") + "    " + item.decode().replace("\n", "\n    ")
        else:
            row = f"{self.count:>4}  {etype:<28} {summary[:100]}\n"
        self.file.write(row)

    def copy_to(self, out: IO[str]) -> None:
        if self.file is not None:
            self.file.seek(0)
            shutil.copyfileobj(self.file, out)


def _print_summary(result: dict[str, Any], r: ResponseInfo) -> None:
    print(
        f"{result['api']} ({result['framing']}): {result['events']} events"
        + (f", model {r.model}" if r.model else "")
        + (f", stop {r.stop_reason}" if r.stop_reason else "")
        + ("" if r.complete is not False else ", INCOMPLETE")
    )
    if r.reasoning_text:
        print(f"\nThinking ({len(r.reasoning_text):,} chars):\n{r.reasoning_text}")
    print(f"\nText ({len(r.text):,} chars):\n{r.text}")
    for t in result["tool_calls"]:
        print(f"\nTool call {t['name']} ({t['id'] or 'no id'}): {orjson.dumps(t['arguments']).decode()}")
    if result["usage"]:
        u = result["usage"]

        def count(key: str) -> str:  # a count, or — when the stream did not report it (never None)
            return "—" if u[key] is None else f"{u[key]:,}"

        print(
            f"\nUsage: {count('input_total')} input ({count('cache_read')} cache read, "
            f"{count('cache_write')} cache write) | {count('output_total')} output ({count('reasoning')} reasoning)"
        )
    for e in result["errors"]:
        print(f"Error: {e['type']}: {e['message']}")
    for n in r.notes:
        print(f"Note: {n}")
