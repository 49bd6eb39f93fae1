"""One call in detail, read on demand: its `Exchange`, the dialect's analysis, and the diff of two
consecutive requests.

Only the calls a user opens are read. For a CBOR V2 capture, the first detail builds an index of
entry byte ranges per request key (one pass without inflating anything, `_native.CaptureReader(...,
decompress=False)`: offsets, directions and ids only); a call's entries are then copied, with the
file's header, into a small temporary capture that the ordinary reader turns into the call's
exchange (`formats.cbor.exchanges_from_entries`). Other formats are read again
(`formats.read_file`) and the call's exchange picked out, unless the capture is small enough to
keep (`KEEP_BYTES`).

Everything returned is redacted with `secrets.redact`'s OUTPUT configuration (headers, URL query
parameters, JSON fields by name, secrets inside free text), like every file fastcap writes.
"""

from __future__ import annotations

import difflib
import itertools
import os
import tempfile
import threading
from collections.abc import Sequence
from typing import Any

import orjson
import polars as pl

from fastcap.dialects import analyze_exchange, api_name, dialect_for
from fastcap.dialects.base import CallAnalysis, RequestInfo, ResponseInfo
from fastcap.model import Exchange
from fastcap.secrets import redact
from fastcap.view.data import Snapshot, Source, read_exchanges_tolerant, stamp

# Non-CBOR captures up to this size keep their exchanges in memory after the first detail.
KEEP_BYTES = 32 << 20
# Longest message text sent to the page (the rest is counted, not sent).
MESSAGE_CHARS = 20_000
# Lines of context around each change of a text diff.
DIFF_CONTEXT = 2

_INDEX_COLUMNS = [
    "file_index",
    "offset",
    "dir",
    "request_id",
    "session_id",
    "a_session_id",
    "backend",
    "model",
]


class CborLocator:
    """The byte ranges of every request's entries in one CBOR capture (module docstring): the
    entries' (offset, end) sorted by request key, and per key the slice of them it owns."""

    def __init__(self, path: os.PathLike[str] | str) -> None:
        from fastcap import _native
        from fastcap.formats.cbor_requests import with_request_keys

        reader = _native.CaptureReader(os.fspath(path), decompress=False, recover=True)
        parts = []
        while (batch := reader.next_round()) is not None:
            parts.append(pl.DataFrame(batch.select(_INDEX_COLUMNS)))
        self.size = reader.size
        self.path = os.fspath(path)
        self.slices: dict[str, tuple[int, int]] = {}
        self.spans = pl.DataFrame(schema={"offset": pl.UInt64, "end": pl.UInt64})
        self.header_end = 0
        if not parts:
            return
        entries = pl.concat(parts)
        # The file's header ends where its first entry starts.
        self.header_end = int(entries.select(pl.col("offset").min()).item() or 0)
        keyed = (
            with_request_keys(entries.sort("file_index"))
            .with_columns(end=pl.col("offset").shift(-1).fill_null(self.size))
            .select(pl.col("req_key").cast(pl.Utf8), "offset", "end")
            .sort("req_key", "offset")
        )
        bounds = keyed.with_row_index("_i").group_by("req_key").agg(pl.col("_i").min(), pl.len())
        self.slices = {k: (int(i), int(n)) for k, i, n in bounds.iter_rows()}
        self.spans = keyed.select("offset", "end")

    def knows(self, key: str) -> bool:
        return key in self.slices

    def exchange(self, key: str) -> Exchange | None:
        """The exchange of one request key, from a temporary capture holding only its entries."""
        from fastcap.formats.capture_file import read_capture
        from fastcap.formats.cbor import exchanges_from_entries

        if key not in self.slices:
            return None
        spans = self.spans.slice(*self.slices[key])
        with open(self.path, "rb") as src, tempfile.NamedTemporaryFile(suffix=".cbor", delete=False) as tmp:
            src.seek(0)
            tmp.write(src.read(self.header_end))
            for start, end in spans.select("offset", "end").iter_rows():
                src.seek(start)
                tmp.write(src.read(end - start))
            name = tmp.name
        try:
            result = read_capture(name, recover=True, errors="keep", warn=False)
            exchanges = exchanges_from_entries(result.entries)
        finally:
            os.unlink(name)
        return next((ex for ex in exchanges if ex.request_id == key), exchanges[0] if exchanges else None)


def call_exchanges(exchanges: Sequence[Exchange], fmt: str) -> list[Exchange]:
    """The calls of a capture's exchanges in its calls table's order. For every format but CBOR
    (`analysis.exchanges`): one per exchange, or one per request on a Responses WebSocket
    connection (`dialects.openai_ws`); the streaming CBOR pass has one call per request key, in
    `formats.cbor`'s exchange order."""
    from fastcap.dialects.openai_ws import split_connection

    if fmt == "cbor":
        return list(exchanges)
    out: list[Exchange] = []
    for ex in exchanges:
        parts = split_connection(ex) if ex.websocket is not None else []
        out.extend(p.exchange for p in parts) if parts else out.append(ex)
    return out


class Loader:
    """Finds the exchange of a view row, reading only what that call needs (module docstring)."""

    def __init__(self, sources: Sequence[Source], *, recover: bool = False) -> None:
        self.sources = list(sources)
        self.recover = recover
        self._locators: dict[int, CborLocator] = {}
        self._kept: dict[int, tuple[tuple[int, int], list[Exchange]]] = {}
        self._lock = threading.Lock()

    def prepare(self, snap: Snapshot) -> None:
        """Index the CBOR captures' entries now (in the background after the first load), so that
        the first call a user opens does not wait for it."""
        for file, src in enumerate(self.sources):
            keys = snap.keys[file]
            if src.fmt == "cbor" and keys and file not in self._locators:
                with self._lock:
                    self._locator(file, keys[0])

    def _locator(self, file: int, key: str) -> CborLocator:
        loc = self._locators.get(file)
        if loc is None or (not loc.knows(key) and stamp(self.sources[file].path)[0] != loc.size):
            loc = CborLocator(self.sources[file].path)
            self._locators[file] = loc
        return loc

    def _exchanges(self, file: int) -> list[Exchange]:
        src = self.sources[file]
        now = stamp(src.path)
        kept = self._kept.get(file)
        if kept is not None and kept[0] == now:
            return kept[1]
        exchanges = call_exchanges(read_exchanges_tolerant(src, [], recover=self.recover), src.fmt)
        if now[0] <= KEEP_BYTES:
            self._kept[file] = (now, exchanges)
        return exchanges

    def exchange(self, snap: Snapshot, row: int) -> Exchange | None:
        if row < 0 or row >= snap.calls.height:
            return None
        info = snap.calls.row(row, named=True)
        file, call = info["file"], info["call"]
        with self._lock:
            keys = snap.keys[file]
            if self.sources[file].fmt == "cbor" and keys is not None:
                return self._locator(file, keys[call]).exchange(keys[call])
            exchanges = self._exchanges(file)
            return exchanges[call] if call < len(exchanges) else None


def analyse(ex: Exchange) -> tuple[CallAnalysis | None, str | None]:
    """The dialect's analysis of one exchange; a call no dialect can read still shows its HTTP."""
    try:
        return analyze_exchange(ex), None
    except Exception as exc:  # one undecodable call must not break the page
        return None, f"analysis failed: {type(exc).__name__}: {exc}"


# --- redaction -------------------------------------------------------------------------------------


class Scrub:
    """`secrets.redact` with the OUTPUT configuration, or nothing at all with `--no-redact`."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.config = redact.OUTPUT

    def text(self, value: str | None) -> str | None:
        if value is None or not self.enabled:
            return value
        return str(redact.redact_text(value, self.config))

    def headers(self, headers: Sequence[tuple[str, str]]) -> list[list[str]]:
        pairs = list(redact.redact_headers(list(headers), self.config)) if self.enabled else list(headers)
        return [[k, v] for k, v in pairs]

    def url(self, url: str) -> str:
        return str(redact.redact_url(url, self.config)) if self.enabled else url

    def json(self, value: Any, url: str | None = None) -> Any:
        return redact.redact_json(value, self.config, url=url) if self.enabled else value


# --- call detail -----------------------------------------------------------------------------------


def _cut(text: str, limit: int) -> tuple[str, bool]:
    return (text[:limit], True) if len(text) > limit else (text, False)


def _usage(resp: ResponseInfo) -> dict[str, Any] | None:
    u = resp.usage
    if u is None:
        return None
    return {
        "input_total": u.input_total,
        "input_uncached": u.input_uncached,
        "cache_read": u.cache_read,
        "cache_write": u.cache_write,
        "output_total": u.output_total,
        "reasoning": u.reasoning,
    }


def _request(req: RequestInfo, scrub: Scrub, url: str) -> dict[str, Any]:
    messages = []
    for m in req.messages:
        text, cut = _cut(m.preview, MESSAGE_CHARS)
        messages.append(
            {"role": m.role, "type": m.type, "chars": m.chars, "text": scrub.text(text), "cut": cut}
        )
    return {
        "model": req.model,
        "stream": req.stream,
        "system": scrub.text(req.system_text),
        "system_chars": len(req.system_text or ""),
        "tools": [
            {"name": scrub.text(n), "type": req.tool_types[i] if i < len(req.tool_types) else None}
            for i, n in enumerate(req.tools)
        ],
        "messages": messages,
        "thinking": req.thinking,
        "thinking_enabled": req.thinking_enabled,
        "max_tokens": req.max_tokens,
        "config": scrub.json(req.config, url),
        "betas": req.betas,
        "history_length": req.history_length,
        "turn_kind": req.turn_kind,
        "user_text": scrub.text(req.user_text),
        "conversation_id": scrub.text(req.conversation_id),
    }


def _response(resp: ResponseInfo, scrub: Scrub, url: str) -> dict[str, Any]:
    tools = []
    for tc in resp.tool_calls:
        args: Any = tc.arguments if tc.arguments_json_valid else tc.arguments_raw
        args = scrub.json(args, url) if not isinstance(args, str) else scrub.text(args)
        tools.append({"id": tc.id, "name": tc.name, "arguments": args, "incomplete": tc.incomplete})
    return {
        "kind": resp.kind,
        "model": resp.model,
        "text": scrub.text(resp.text),
        "reasoning": scrub.text(resp.reasoning_text),
        "refusal": scrub.text(resp.refusal),
        "tool_calls": tools,
        "usage": _usage(resp),
        "stop_reason": resp.stop_reason,
        "complete": resp.complete,
        "errors": [
            {"type": scrub.text(e.type), "message": scrub.text(e.message), "source": e.source}
            for e in resp.errors
        ],
        "notes": [scrub.text(n) for n in resp.notes],
        "events": len(resp.events),
        "event_counts": resp.event_counts,
        "credits": resp.credits,
    }


def _timing(ex: Exchange, resp: ResponseInfo | None) -> dict[str, Any]:
    """docs/metrics.md, Times: t0 is when the request had been passed on, else its start; the
    chunks' arrival times relative to it (the timing strip), TTFB and TTFT."""
    t0 = ex.request_ended_at or ex.started_at
    chunks = [[round(c.t - t0, 4), len(c.data)] for c in ex.chunks if c.t is not None and t0 is not None]
    first = chunks[0][0] if chunks else None
    if first is None and t0 is not None and ex.response_started_at is not None:
        first = round(ex.response_started_at - t0, 4)
    fc = resp.first_content_t if resp is not None else None
    gaps = [round(b[0] - a[0], 4) for a, b in itertools.pairwise(chunks)]
    return {
        "t0": t0,
        "started_at": ex.started_at,
        "ttfb": first,
        "ttft": round(fc - t0, 4) if fc is not None and t0 is not None else None,
        "duration": round(ex.ended_at - ex.started_at, 4)
        if ex.ended_at is not None and ex.started_at is not None
        else None,
        "end": round(ex.ended_at - t0, 4) if ex.ended_at is not None and t0 is not None else None,
        "chunks": chunks,
        "longest_gap": max(gaps) if gaps else None,
    }


def call_detail(row: dict[str, Any], ex: Exchange, *, redacting: bool = True) -> dict[str, Any]:
    """Everything the call page shows, redacted (module docstring)."""
    scrub = Scrub(redacting)
    analysis, problem = analyse(ex)
    url = ex.url
    out: dict[str, Any] = {
        "row": row,
        "api": scrub.text(analysis.api_name if analysis else api_name(ex)),
        "dialect": analysis.dialect if analysis else None,
        "method": ex.method,
        "url": scrub.url(url),
        "status": ex.status,
        "reason": ex.reason,
        "error": scrub.text(ex.error),
        "problem": problem,
        "request_headers": scrub.headers(ex.request_headers),
        "response_headers": scrub.headers(ex.response_headers),
        "request_body_fidelity": ex.request_body_fidelity,
        "response_body_fidelity": ex.response_body_fidelity,
        "request_bytes": len(ex.request_body) if ex.request_body is not None else None,
        "response_bytes": len(ex.response_body) if ex.response_body is not None else None,
        "timing": _timing(ex, analysis.response if analysis else None),
        "request": _request(analysis.request, scrub, url) if analysis else None,
        "response": _response(analysis.response, scrub, url) if analysis else None,
        "issue_class": analysis.issue_class if analysis else None,
    }
    return out


# --- diff of two consecutive requests ---------------------------------------------------------------


def _lines_diff(a: str, b: str) -> list[str]:
    return list(
        difflib.unified_diff(a.splitlines(), b.splitlines(), "previous", "this", n=DIFF_CONTEXT, lineterm="")
    )


def _tool_defs(req: RequestInfo) -> dict[str, bytes]:
    """Each offered tool's definition as canonical JSON, by name, when the body lists them."""
    body = req.json if isinstance(req.json, dict) else {}
    tools = body.get("tools")
    out: dict[str, bytes] = {}
    for t in tools if isinstance(tools, list) else []:
        if not isinstance(t, dict):
            continue
        fn = t.get("function")
        name = t.get("name") or (fn.get("name") if isinstance(fn, dict) else None)
        if isinstance(name, str):
            out[name] = orjson.dumps(t, option=orjson.OPT_SORT_KEYS)
    return out


def _message_keys(req: RequestInfo) -> list[str]:
    if len(req.message_hashes) == len(req.messages):
        return list(req.message_hashes)
    return [f"{m.role}\x00{m.type}\x00{m.preview}" for m in req.messages]


def _msg(req: RequestInfo, i: int, scrub: Scrub) -> dict[str, Any]:
    m = req.messages[i]
    text, cut = _cut(m.preview, MESSAGE_CHARS)
    return {
        "index": i,
        "role": m.role,
        "type": m.type,
        "chars": m.chars,
        "text": scrub.text(text),
        "cut": cut,
    }


def request_diff(prev: Exchange, this: Exchange, *, redacting: bool = True) -> dict[str, Any]:
    """What changed from one request to the next of the same conversation and agent: the system
    prompt (a unified diff), the tools offered (added, removed, definition changed), the settings,
    and the messages (added, removed, edited: `difflib.SequenceMatcher` over the dialect's message
    hashes)."""
    scrub = Scrub(redacting)
    a = dialect_for(prev).parse_request(prev)
    b = dialect_for(this).parse_request(this)
    sys_a, sys_b = scrub.text(a.system_text or "") or "", scrub.text(b.system_text or "") or ""
    defs_a, defs_b = _tool_defs(a), _tool_defs(b)
    names_a, names_b = list(dict.fromkeys(a.tools)), list(dict.fromkeys(b.tools))
    settings = {}
    for name in ("model", "thinking", "max_tokens", "stream"):
        va, vb = getattr(a, name), getattr(b, name)
        if va != vb:
            settings[name] = [va, vb]
    for key in sorted(set(a.config) | set(b.config)):
        va, vb = a.config.get(key), b.config.get(key)
        if va != vb:
            settings[f"config.{key}"] = [scrub.json(va), scrub.json(vb)]
    ops = []
    matcher = difflib.SequenceMatcher(None, _message_keys(a), _message_keys(b), autojunk=False)
    kept = 0
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            kept += i2 - i1
            continue
        removed = [_msg(a, i, scrub) for i in range(i1, i2)]
        added = [_msg(b, j, scrub) for j in range(j1, j2)]
        op: dict[str, Any] = {"op": tag, "removed": removed, "added": added}
        if tag == "replace" and i2 - i1 == j2 - j1:
            op["op"] = "edit"
            op["diffs"] = [
                _lines_diff(r["text"] or "", n["text"] or "") for r, n in zip(removed, added, strict=True)
            ]
        ops.append(op)
    return {
        "system": {
            "changed": sys_a != sys_b,
            "chars": [len(a.system_text or ""), len(b.system_text or "")],
            "diff": _lines_diff(sys_a, sys_b),
        },
        "tools": {
            "added": [scrub.text(n) for n in names_b if n not in names_a],
            "removed": [scrub.text(n) for n in names_a if n not in names_b],
            "changed": [
                scrub.text(n) for n in names_b if n in defs_a and n in defs_b and defs_a[n] != defs_b[n]
            ],
            "count": [len(names_a), len(names_b)],
        },
        "settings": settings,
        "messages": {"count": [len(a.messages), len(b.messages)], "unchanged": kept, "ops": ops},
    }
