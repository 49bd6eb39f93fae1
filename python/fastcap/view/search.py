"""Free-text search over prompts and replies: an index built in the background after each load.

The calls table carries no text from the bodies, so the page's search reads an index of, per call,
the prompt (the request's latest user text, `RequestInfo.user_text` from the call's dialect) and the
reply (assistant text, reasoning and tool-call arguments), redacted with `secrets.redact` (OUTPUT)
before they are stored, lower-cased, each cut at `TEXT_CHARS`. Until the index is complete, a
search finds what is indexed so far (the page says how far it is).

- CBOR V2: one pass over the capture in rounds (`_native.CaptureReader.next_round`), the forwarded
  requests read by their dialect (`dialect_for(ex).parse_request`) and the backend responses
  reassembled natively (`_native.BodyAssembler`) and split by the native extractors
  (`_native.sse_column`, `analysis.content.eventstream_events`), whose `text`, `reasoning` and
  `tool_args` columns are the reply. Memory stays flat: one round at a time.
- Other formats: the capture's exchanges (`formats.read_file`), each analysed by its dialect
  (`dialects.analyze_exchange`), then dropped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import polars as pl

from fastcap.secrets import redact
from fastcap.view.data import Snapshot, Source, read_exchanges_tolerant

TEXT_CHARS = 50_000
ROUND_BYTES = 32 << 20


def _clean(text: str, redacting: bool) -> str:
    text = text[:TEXT_CHARS]
    if redacting:
        text = str(redact.redact_text(text, redact.OUTPUT))
    return text.lower()


def _prompt(data: bytes) -> str:
    """The user text of one forwarded request (P->B: HTTP head and body), by its dialect."""
    from fastcap.dialects import dialect_for
    from fastcap.formats.cbor import parse_http_head
    from fastcap.model import Exchange

    start, headers, body = parse_http_head(data)
    parts = start.split(" ")
    host = next((v for k, v in headers if k.lower() == "host"), "")
    path = parts[1] if len(parts) > 1 else "/"
    url = path if path.startswith("http") else f"https://{host}{path}"
    ex = Exchange(
        index=0,
        source="cbor",
        method=parts[0] or "POST",
        url=url,
        request_headers=headers,
        request_body=body,
    )
    try:
        return dialect_for(ex).parse_request(ex).user_text or ""
    except Exception:  # an unreadable request has no prompt to search
        return ""


def _replies(bodies: pl.DataFrame) -> dict[str, str]:
    """request_id → reply text of finished backend bodies (request_id, body)."""
    from fastcap import _native
    from fastcap.analysis.bodies import body_kind, json_as_one_event, unframe
    from fastcap.analysis.content import eventstream_events

    sse: list[bytes] = []
    sse_ids: list[str] = []
    es: list[bytes] = []
    es_ids: list[str] = []
    for rid, data in bodies.select("request_id", "body").iter_rows():
        if rid is None or not data:
            continue
        body, ctype = unframe(data)
        kind = body_kind(ctype, body)
        if kind == "eventstream":
            es.append(body)
            es_ids.append(rid)
        elif kind in ("sse", "json"):
            sse.append(body if kind == "sse" else json_as_one_event(body))
            sse_ids.append(rid)
    out: dict[str, str] = {}
    for ids, events in (
        (sse_ids, pl.DataFrame(_native.sse_column(sse)) if sse else None),
        (es_ids, eventstream_events(pl.Series(es, dtype=pl.Binary))[0] if es else None),
    ):
        if events is None or events.height == 0:
            continue
        text = (
            events.group_by("exchange_index", maintain_order=True)
            .agg(
                pl.concat_str(
                    pl.col("reasoning").fill_null("").str.join(""),
                    pl.col("text").fill_null("").str.join(""),
                    pl.col("tool_args").fill_null("").str.join(""),
                    separator="\n",
                )
            )
            .rows()
        )
        for i, t in text:
            out[ids[i]] = out.get(ids[i], "") + t
    return out


class SearchIndex:
    """Per (file, call): the redacted, lower-cased prompt and reply text (module docstring)."""

    def __init__(self) -> None:
        self.texts: dict[tuple[int, int], str] = {}
        self.version = 0  # the snapshot version the index was built for
        self.done = 0
        self.total = 0
        self.building = False
        self._frame: pl.DataFrame | None = None
        self._lock = threading.Lock()

    def progress(self) -> dict[str, Any]:
        return {"indexed": self.done, "total": self.total, "building": self.building}

    def _put(self, file: int, call: int, text: str) -> None:
        with self._lock:
            self.texts[(file, call)] = text
            self._frame = None
            self.done = len(self.texts)

    def rows(self, snap: Snapshot, q: str) -> pl.Series:
        """The view rows whose prompt or reply contains `q` (case-insensitive)."""
        with self._lock:
            if self._frame is None:
                self._frame = pl.DataFrame(
                    {
                        "file": [k[0] for k in self.texts],
                        "call": [k[1] for k in self.texts],
                        "text": list(self.texts.values()),
                    },
                    schema={"file": pl.UInt16, "call": pl.UInt32, "text": pl.Utf8},
                )
            frame = self._frame
        hits = frame.filter(pl.col("text").str.contains(q.lower(), literal=True)).select("file", "call")
        return snap.calls.join(hits, on=["file", "call"], how="semi")["row"]

    def build(self, snap: Snapshot, sources: list[Source], *, redacting: bool, recover: bool) -> None:
        self.building = True
        self.total = snap.calls.height
        try:
            for file, src in enumerate(sources):
                keys = snap.keys[file]
                # The streaming pass needs request ids; a capture without them (keys made of
                # session windows, "~…") is read whole, as `fastcap report` reads it.
                if src.fmt == "cbor" and keys is not None and not any(k.startswith("~") for k in keys):
                    self._build_cbor(file, src, keys, redacting)
                else:
                    self._build_exchanges(file, src, redacting, recover)
        finally:
            self.version = snap.version
            self.building = False

    def _build_cbor(self, file: int, src: Source, keys: list[str], redacting: bool) -> None:
        from fastcap import _native
        from fastcap.formats.cbor_requests import BACKEND_TO_PROXY, PROXY_TO_BACKEND

        call_of = {k: n for n, k in enumerate(keys)}
        prompts: dict[str, str] = {}
        reader = _native.CaptureReader(
            str(src.path), recover=True, decompress_dirs=[PROXY_TO_BACKEND, BACKEND_TO_PROXY]
        )
        assembler = _native.BodyAssembler(BACKEND_TO_PROXY)

        def flush(bodies: pl.DataFrame) -> None:
            for rid, reply in _replies(bodies).items():
                if rid in call_of:
                    self._put(file, call_of[rid], _clean(prompts.pop(rid, "") + "\n" + reply, redacting))

        while (batch := reader.next_round(ROUND_BYTES)) is not None:
            entries = pl.DataFrame(batch.select(["dir", "request_id", "data"])).filter(
                (pl.col("dir") == PROXY_TO_BACKEND)
                & pl.col("request_id").is_not_null()
                & pl.col("data").is_not_null()
            )
            for rid, data in entries.select("request_id", "data").iter_rows():
                if rid in call_of and rid not in prompts:
                    prompts[rid] = _prompt(data)
            flush(pl.DataFrame(assembler.feed(batch)))
            del batch
        flush(pl.DataFrame(assembler.close()))
        for rid, prompt in prompts.items():  # requests without a (readable) response
            self._put(file, call_of[rid], _clean(prompt, redacting))

    def _build_exchanges(self, file: int, src: Source, redacting: bool, recover: bool) -> None:
        from fastcap.view.detail import analyse, call_exchanges

        exchanges = call_exchanges(read_exchanges_tolerant(src, [], recover=recover), src.fmt)
        for call, ex in enumerate(exchanges):
            analysis, _ = analyse(ex)
            if analysis is None:
                continue
            resp = analysis.response
            parts = [
                analysis.request.user_text or "",
                resp.reasoning_text,
                resp.text,
                *(tc.arguments_raw for tc in resp.tool_calls),
            ]
            self._put(file, call, _clean("\n".join(parts), redacting))


def start_index(
    snap: Snapshot,
    sources: list[Source],
    *,
    redacting: bool,
    recover: bool,
    on_done: Callable[[SearchIndex], None],
    before: Callable[[], None] | None = None,
) -> SearchIndex:
    """Build a new index for `snap` in a background thread (after `before`, if given); `on_done`
    gets it when complete."""
    index = SearchIndex()
    index.total = snap.calls.height
    index.building = True

    def run() -> None:
        try:
            if before is not None:
                before()
            index.build(snap, sources, redacting=redacting, recover=recover)
        finally:
            on_done(index)

    threading.Thread(target=run, name="fastcap-view-index", daemon=True).start()
    return index
