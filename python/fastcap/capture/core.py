"""fastcap's mitmproxy capture addon (implementation; `addon.py` is the `mitmdump -s` script).

Lossless CBOR V2 (and/or traffic.jsonl) with chunk timing. Load with
`mitmdump -s .../fastcap/capture/addon.py --set fastcap_out=DIR` or let `fastcap capture` do it. Options (all `--set name=value`):

| option | default | meaning |
|---|---|---|
| `fastcap_out` | `fastcap-capture` | output directory (created) |
| `fastcap_format` | `cbor` | `cbor`, `jsonl` or `both` |
| `fastcap_filter` | `` | mitmproxy filter expression; only matching flows are recorded |
| `fastcap_hosts` | `[]` | only record these hosts (exact, `*.x.com` or `.x.com`); empty = all |
| `fastcap_redact` | `true` | redact headers, URL query values and secret body fields at write time |
| `fastcap_redact_fingerprint` | `false` | write `[REDACTED:<sha256 8 hex>]` instead of `[REDACTED]` |
| `fastcap_max_body` | `0` | record at most this many bytes per body (0 = unlimited) |
| `fastcap_session` | `` | session id (file stem); default `fastcap-<local time>-<pid>` |
| `fastcap_backend` | `` | force the `be` value; default: the target's for its hosts, else the dialect registry's (`anthropic`, `openai`, …) |
| `fastcap_target` | `` | target name stored in the header metadata |

Files: `<out>/<session>.cbor` (CBOR V2, docs/specs/cbor-v2.md) and/or `<out>/traffic.jsonl` (docs/specs/reports.md §3.1 with
a `fastcap` extension key), plus `<out>/summary.json` at shutdown and `<out>/progress.json` (calls
and errors so far, rewritten whole at most every `PROGRESS_INTERVAL` seconds while they change and
once more at shutdown, for `fastcap capture status` and the live count of `capture -- CMD`;
docs/capture.md). Every record is one `os.write` on
an `O_APPEND` descriptor, so a `kill -9` leaves only complete records.
Streams pass through unchanged: `flow.response.stream` is a tee recording each raw chunk with its
arrival time, before it returns the chunk to the proxy. Redaction of a stream works on whole lines
or EventStream frames (`fastcap.capture.stream_redact`), so the record of a chunk that ends inside
one waits for the chunk that completes it (docs/specs/mitmproxy.md §7.9); what the client gets is
never delayed. A stream that did not finish (upstream reset, client gone, proxy stopping) gets an
end marker with `fid: "truncated"`. HTTP trailers are recorded (redacted like headers) under
fastcap's extension key `trl`, since CBOR V2 has no field for them: on the request entry, the
whole-response entry, or a stream's end marker; in traffic.jsonl as `fastcap.request_trailers` /
`response_trailers`.

A write error (a full disk) stops the proxy at once, and no byte reaches a client that is not on
record (docs/specs/mitmproxy.md §7.7): the failed write is rolled back to the last complete record,
a space reserve kept in the output directory is released to mark every flow in progress as cut by
the capture, `summary.json` says why, and the process ends at once with status 1 (`os._exit`)
before the chunk that could not be recorded is forwarded; the kernel then closes every connection,
so each client sees its transfer fail rather than end.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from mitmproxy import ctx, exceptions, flowfilter, http
from mitmproxy.addonmanager import Loader

import fastcap
from fastcap.capture.cbor_encode import BACKEND as ENCODER_BACKEND
from fastcap.capture.cbor_encode import encode_entry, encode_header
from fastcap.capture.session import PROGRESS_INTERVAL
from fastcap.capture.stream_redact import Held, StreamRedactor
from fastcap.capture.targets import backend_for, host_matches
from fastcap.formats.traffic_jsonl import body_value, fold_headers
from fastcap.secrets.redact import (
    RedactionConfig,
    redact_body,
    redact_headers,
    redact_json,
    redact_url,
)

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger("fastcap.capture")

DIR_P2B = 2
DIR_B2P = 3
WHOLE_BODY_LIMIT = 1 << 20  # responses with a content-length up to this are recorded whole
STREAM_TYPES = ("text/event-stream", "application/vnd.amazon.eventstream", "application/x-ndjson")
FORMATS = ("cbor", "jsonl", "both")
_GEMINI_MODEL_RE = re.compile(r"/models/([^/:?]+)")
# Kept allocated in the output directory and released on a write error, so that the marks of
# the flows cut by a full disk (and summary.json) can still be written.
RESERVE_BYTES = 64 << 10


class CaptureWriteError(RuntimeError):
    pass


@dataclass(slots=True)
class FlowState:
    rid: str
    backend: str
    model: str | None
    url: str
    rts: float
    content_type: str = ""
    streamed: bool = False
    ss_ts: float | None = None
    status: int | None = None
    chunks: int = 0
    total_bytes: int = 0
    recorded_bytes: int = 0
    last_chunk: bytes = b""
    chunk_times: list[tuple[float, int]] = field(default_factory=list)
    body: bytearray | None = None  # kept only for JSONL
    ws_messages: list[dict[str, Any]] | None = None
    closed: bool = False
    flow: http.HTTPFlow | None = None
    redactor: StreamRedactor | None = None
    # Chunks handed out by the redactor and not written yet, and the chunk being received (not
    # forwarded until it is written): what a write error leaves to account for.
    inflight: list[tuple[Held, bytes]] = field(default_factory=list)
    current: Held | None = None


def _fmt_headers(
    fields: Sequence[tuple[bytes, bytes]], redact: RedactionConfig | None
) -> list[tuple[str, str]]:
    pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in fields]
    return redact_headers(pairs, redact) if redact is not None else pairs


def _header_block(pairs: list[tuple[str, str]]) -> str:
    return "".join(f"{k}: {v}\r\n" for k, v in pairs)


def _trailer_block(message: http.Message, redact: RedactionConfig | None) -> str | None:
    """Trailers as a header block for the `trl` extension key (redacted like headers), or None.
    CBOR V2 has no field for trailers; like `hdrs`, the key is fastcap's and readers keep it."""
    trailers = message.trailers
    if not trailers:
        return None
    return _header_block(_fmt_headers(trailers.fields, redact))


def _trailer_pairs(message: http.Message, redact: RedactionConfig | None) -> list[list[str]] | None:
    trailers = message.trailers
    if not trailers:
        return None
    return [[k, v] for k, v in _fmt_headers(trailers.fields, redact)]


def _model_from(body: bytes, path: str) -> str | None:
    m = _GEMINI_MODEL_RE.search(path)
    if m:
        return m.group(1)
    if not body or body.lstrip()[:1] != b"{":
        return None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    for key in ("model", "modelId"):
        if isinstance(data.get(key), str):
            return str(data[key])
    try:  # kiro GenerateAssistantResponse
        mid = data["conversationState"]["currentMessage"]["userInputMessage"]["modelId"]
        return mid if isinstance(mid, str) else None
    except (KeyError, TypeError):
        return None


class Capture:
    """The addon. One instance per proxy process; all hooks run on the proxy's event loop."""

    def __init__(self) -> None:
        self.filter: flowfilter.TFilter | None = None
        self.redact: RedactionConfig | None = RedactionConfig()
        self.hosts: list[str] = []
        self.max_body = 0
        self.session_id = ""
        self.out_dir: Path | None = None
        self.cbor_path: Path | None = None
        self.jsonl_path: Path | None = None
        self._cbor_fd: int | None = None
        self._jsonl_fd: int | None = None
        self._seq = 0
        self._flows: dict[str, FlowState] = {}
        self._skipped: set[str] = set()
        self.failed: str | None = None
        # On a write error: end the process at once (`os._exit`: no event-loop shutdown during which
        # a stream could still move), so that nothing more is forwarded. Unit tests turn it off.
        self.exit_on_failure = True
        self._exit: Callable[[int], None] = os._exit
        self._cbor_size = 0
        self._reserve: Path | None = None
        self.stats: Counter[str] = Counter()
        self.status_counts: Counter[str] = Counter()
        self.host_counts: Counter[str] = Counter()
        self._started = time.time()
        self._progress_written = -PROGRESS_INTERVAL  # time.monotonic() of the last write
        self._progress_timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ lifecycle
    def load(self, loader: Loader) -> None:
        loader.add_option("fastcap_out", str, "fastcap-capture", "fastcap: output directory.")
        loader.add_option("fastcap_format", str, "cbor", "fastcap: output format.", choices=list(FORMATS))
        loader.add_option("fastcap_filter", str, "", "fastcap: record only flows matching this filter.")
        loader.add_option(
            "fastcap_hosts", Sequence[str], [], "fastcap: record only these hosts (empty: all)."
        )
        loader.add_option("fastcap_redact", bool, True, "fastcap: redact secrets at write time.")
        loader.add_option(
            "fastcap_redact_fingerprint", bool, False, "fastcap: use [REDACTED:<sha256 8 hex>] markers."
        )
        loader.add_option("fastcap_max_body", int, 0, "fastcap: max recorded bytes per body (0 = all).")
        loader.add_option("fastcap_session", str, "", "fastcap: session id (file stem).")
        loader.add_option("fastcap_backend", str, "", "fastcap: force the backend name.")
        loader.add_option("fastcap_target", str, "", "fastcap: target name for the header metadata.")

    def configure(self, updated: set[str]) -> None:
        opts = ctx.options
        if "fastcap_format" in updated and opts.fastcap_format not in FORMATS:
            raise exceptions.OptionsError(f"fastcap_format must be one of {', '.join(FORMATS)}")
        if "fastcap_filter" in updated:
            expr = opts.fastcap_filter.strip()
            if expr:
                try:
                    self.filter = flowfilter.parse(expr)
                except ValueError as exc:
                    raise exceptions.OptionsError(
                        f"fastcap_filter: invalid filter expression {expr!r}: {exc}"
                    ) from None
                if self.filter is None:  # 11.x returns None on a bad expression
                    raise exceptions.OptionsError(f"fastcap_filter: invalid filter expression {expr!r}")
            else:
                self.filter = None
        if "fastcap_max_body" in updated:
            if opts.fastcap_max_body < 0:
                raise exceptions.OptionsError("fastcap_max_body must be >= 0")
            self.max_body = opts.fastcap_max_body
        if "fastcap_hosts" in updated:
            self.hosts = [h.strip() for item in opts.fastcap_hosts for h in item.split(",") if h.strip()]
        if updated & {"fastcap_redact", "fastcap_redact_fingerprint"}:
            self.redact = (
                RedactionConfig(fingerprint=opts.fastcap_redact_fingerprint) if opts.fastcap_redact else None
            )
        if (
            "fastcap_session" in updated
            and opts.fastcap_session
            and not re.fullmatch(r"[A-Za-z0-9._-]+", opts.fastcap_session)
        ):
            raise exceptions.OptionsError(
                "fastcap_session may only contain letters, digits, '.', '_' and '-'"
            )
        if updated & {"fastcap_out", "fastcap_format", "fastcap_session"}:
            self._open_files()

    def _open_files(self) -> None:
        opts = ctx.options
        out = Path(os.path.expanduser(opts.fastcap_out or "fastcap-capture"))
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise exceptions.OptionsError(f"fastcap_out: cannot create {out}: {exc}") from None
        if not os.access(out, os.W_OK):
            raise exceptions.OptionsError(f"fastcap_out: {out} is not writable")
        self._close_files()
        self.out_dir = out
        self.session_id = opts.fastcap_session or f"fastcap-{time.strftime('%Y%m%d_%H%M%S')}-{os.getpid()}"
        fmt = opts.fastcap_format
        try:
            if fmt in ("cbor", "both"):
                self.cbor_path = out / f"{self.session_id}.cbor"
                fd = os.open(self.cbor_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
                self._cbor_fd = fd
                meta = {
                    "writer": "fastcap",
                    "fastcap_version": getattr(fastcap, "__version__", "?"),
                    "encoder": ENCODER_BACKEND,
                    "target": opts.fastcap_target or None,
                    "redacted": self.redact is not None,
                    "legs": "P->B,B->P",
                }
                self._cbor_size = 0
                self._write(fd, encode_header(self.session_id, time.time(), meta))
            if fmt in ("jsonl", "both"):
                self.jsonl_path = out / "traffic.jsonl"
                self._jsonl_fd = os.open(self.jsonl_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._reserve = out / f".fastcap-reserve-{self.session_id}"
            self._reserve.write_bytes(b"\0" * RESERVE_BYTES)
        except (OSError, CaptureWriteError) as exc:
            self._close_files()
            raise exceptions.OptionsError(f"fastcap_out: cannot write to {out}: {exc}") from None

    def running(self) -> None:
        paths = ", ".join(str(p) for p in (self.cbor_path, self.jsonl_path) if p)
        logger.info(f"fastcap: recording to {paths}")

    def done(self) -> None:
        now = time.time()
        for state in list(self._flows.values()):
            if not state.closed and self.failed is None:
                try:
                    self._finish_incomplete(state, now, "proxy shutdown before the flow completed")
                except CaptureWriteError:
                    break
        self._flows.clear()
        self._write_summary()
        self._write_progress()  # the final counts, whatever the throttle held back
        self._close_files()
        self._release_reserve()

    def _release_reserve(self) -> None:
        if self._reserve is not None:
            with contextlib.suppress(OSError):
                self._reserve.unlink()
            self._reserve = None

    def _close_files(self) -> None:
        for name in ("_cbor_fd", "_jsonl_fd"):
            fd = getattr(self, name)
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
                setattr(self, name, None)

    def _write_summary(self) -> None:
        if self.out_dir is None or self.failed is not None:
            return
        try:
            self._store_summary({})
        except OSError as exc:
            logger.warning(f"fastcap: could not write summary.json: {exc}")

    def _store_summary(self, extra: dict[str, Any]) -> None:
        """summary.json; `extra` goes after the times (a failed capture's `failed` and `cut_flows`)."""
        counts: dict[str, int] = dict(self.stats)
        if http_errors := self._http_errors():
            counts["http_errors"] = http_errors
        self._replace_json(
            "summary",
            {
                "session_id": self.session_id,
                "started_at": self._started,
                "ended_at": time.time(),
                **extra,
                "capture_file": str(self.cbor_path) if self.cbor_path else None,
                "jsonl_file": str(self.jsonl_path) if self.jsonl_path else None,
                "counts": counts,
                "status": dict(self.status_counts),
                "hosts": dict(self.host_counts),
                "encoder": ENCODER_BACKEND,
            },
            indent=True,
        )

    def _http_errors(self) -> int:
        """Responses with an HTTP status of 400 or more."""
        return sum(n for status, n in self.status_counts.items() if status.isdigit() and int(status) >= 400)

    def _replace_json(self, name: str, value: dict[str, Any], *, indent: bool = False) -> None:
        """`<out>/<name>.json` written whole: a temporary file renamed over it, so a reader never
        sees half of one. On an OSError the temporary file is removed and the error raised."""
        assert self.out_dir is not None
        tmp = self.out_dir / f".{name}.{os.getpid()}.tmp"
        try:
            tmp.write_bytes(orjson.dumps(value, option=orjson.OPT_INDENT_2 if indent else 0))
            os.replace(tmp, self.out_dir / f"{name}.json")
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise

    def _store_progress(self) -> None:
        """The counts changed: write progress.json now if the last write is `PROGRESS_INTERVAL`
        old, else once at the end of that interval (a timer on the proxy's event loop). Every
        proxied request changes the counts: a burst of them is not a burst of file writes."""
        if self.out_dir is None or self._progress_timer is not None:
            return
        wait = self._progress_written + PROGRESS_INTERVAL - time.monotonic()
        if wait <= 0:
            self._write_progress()
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # hooks called outside a proxy (unit tests): no loop to wait on
            self._write_progress()
            return
        self._progress_timer = loop.call_later(wait, self._write_progress)

    def _write_progress(self) -> None:
        """`progress.json`: the live counts (calls recorded, failed ones: a transport error or an
        HTTP status >= 400, and 429s). Never fails the capture: the counts are a convenience, the
        capture file is the record."""
        if self._progress_timer is not None:
            self._progress_timer.cancel()
            self._progress_timer = None
        if self.out_dir is None:
            return
        self._progress_written = time.monotonic()
        progress = {
            "calls": self.stats["requests"],
            "errors": self.stats["errors"] + self._http_errors(),
            "rate_limited": self.status_counts["429"],
            "updated_at": time.time(),
        }
        with contextlib.suppress(OSError):
            self._replace_json("progress", progress)

    # ------------------------------------------------------------------ writing
    def _write(self, fd: int, data: bytes, *, lock: bool = False) -> None:
        """Write one whole record. On an error the file is cut back to where it was, so it still
        ends on a complete record, and the capture fails (`_fail`)."""
        try:
            if lock and fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                size = self._cbor_size if fd == self._cbor_fd else os.fstat(fd).st_size
                view = memoryview(data)
                try:
                    while view:
                        n = os.write(fd, view)
                        view = view[n:]
                except OSError:
                    if len(view) < len(data):
                        with contextlib.suppress(OSError):
                            os.ftruncate(fd, size)
                    raise
                if fd == self._cbor_fd:
                    self._cbor_size = size + len(data)
            finally:
                if lock and fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        except OSError as exc:
            self._fail(exc, fd)
            raise CaptureWriteError(str(exc)) from exc

    def _fail(self, exc: BaseException, fd: int | None = None) -> None:
        """The capture cannot write: stop so that record and traffic never silently diverge
        (docs/specs/mitmproxy.md §7.7). Every flow in progress is marked as cut in the capture
        (what the reserve's space allows), summary.json says why, and the process exits before the
        chunk that could not be written is forwarded."""
        if self.failed is not None:
            return
        path = self.cbor_path if fd is not None and fd == self._cbor_fd else self.jsonl_path
        self.failed = f"cannot write {path}: {exc}"
        self._release_reserve()
        cut = self._mark_cut_flows()
        self._write_failure_summary(cut)
        unrecorded = sum(c["unrecorded_bytes"] for c in cut)
        message = (
            f"fastcap: capture stopped: {self.failed}. The proxy exits now so that no traffic passes "
            f"unrecorded; {len(cut)} flow(s) in progress were cut and marked in the capture"
            + (f" ({unrecorded} forwarded bytes could not be recorded)" if unrecorded else "")
            + "."
        )
        with contextlib.suppress(Exception):
            print(message, file=sys.stderr, flush=True)
        if self.exit_on_failure:
            self._close_files()
            with contextlib.suppress(Exception):
                sys.stdout.flush()
            self._exit(1)
        logger.error(message)
        with contextlib.suppress(Exception):  # no master in unit tests
            ctx.master.shutdown()

    def _mark_cut_flows(self) -> list[dict[str, Any]]:
        """Write what every open flow still owes the record (chunks already forwarded), then its
        end marker (`fid: "truncated"`) and an EoS entry saying the capture cut it."""
        cut: list[dict[str, Any]] = []
        now = time.time()
        reason = f"capture stopped: {self.failed}; the proxy cut this flow"
        for state in list(self._flows.values()):
            if state.closed:
                continue
            owed = [(h, d) for h, d in state.inflight if h is not state.current]
            state.inflight = []
            held = state.redactor.held_bytes if state.redactor is not None else 0
            if state.current is not None and state.redactor is not None:
                held -= len(state.current.data)
            unrecorded = sum(len(h.data) for h, _ in owed) + max(held, 0)
            try:
                for h, d in owed:
                    self._emit(h.ts, DIR_B2P, d, h.meta)
                    unrecorded -= len(h.data)
                self._finish_incomplete(state, now, reason, flow=state.flow, skip=state.current)
                unrecorded = 0
            except CaptureWriteError:
                state.closed = True
            cut.append(
                {
                    "rid": state.rid,
                    "url": state.url,
                    "forwarded_bytes": state.total_bytes - (len(state.current.data) if state.current else 0),
                    "unrecorded_bytes": max(unrecorded, 0),
                }
            )
        return cut

    def _write_failure_summary(self, cut: list[dict[str, Any]]) -> None:
        if self.out_dir is None:
            return
        with contextlib.suppress(OSError):  # the disk is what failed: say what can be said
            self._store_summary({"failed": self.failed, "cut_flows": cut})

    def _emit(self, ts: float, direction: int, data: bytes, meta: dict[str, Any]) -> None:
        if self._cbor_fd is None:
            return
        seq = self._seq
        self._seq += 1
        self._write(self._cbor_fd, encode_entry(ts, direction, seq, data, meta))

    def _emit_jsonl(self, record: dict[str, Any]) -> None:
        if self._jsonl_fd is None:
            return
        line = orjson.dumps(record, default=str) + b"\n"
        self._write(self._jsonl_fd, line, lock=True)

    def _ids(self, state: FlowState) -> dict[str, Any]:
        """The keys every entry of a request carries: session, backend, model, request id (the
        writer puts metadata in the reference order, so where they go in a dict does not matter)."""
        return {"sid": self.session_id, "be": state.backend, "mod": state.model, "rid": state.rid}

    def _cap(self, data: bytes) -> bytes:
        return data[: self.max_body] if self.max_body and len(data) > self.max_body else data

    def _redact_body(self, body: bytes, content_type: str, url: str) -> bytes:
        if self.redact is None:
            return body
        return redact_body(body, content_type, self.redact, url=url)

    def _redact_url(self, url: str) -> str:
        return redact_url(url, self.redact) if self.redact is not None else url

    # ------------------------------------------------------------------ selection
    def _wanted(self, flow: http.HTTPFlow) -> bool:
        if self.hosts and not (
            host_matches(flow.request.host, self.hosts) or host_matches(flow.request.pretty_host, self.hosts)
        ):
            return False
        return self.filter is None or bool(flowfilter.match(self.filter, flow))

    # ------------------------------------------------------------------ HTTP hooks
    def requestheaders(self, flow: http.HTTPFlow) -> None:
        if self.failed is not None:
            flow.kill()

    def request(self, flow: http.HTTPFlow) -> None:
        if self.failed is not None:
            flow.kill()
            return
        try:
            if self._wanted(flow):
                self._record_request(flow)
            elif self.filter is not None:
                self._skipped.add(flow.id)  # may still match once the response is known
        except CaptureWriteError:
            flow.kill()
        except Exception:
            logger.exception(f"fastcap: could not record request of flow {flow.id}")

    def _record_request(self, flow: http.HTTPFlow, ts: float | None = None) -> None:
        req = flow.request
        now = time.time() if ts is None else ts
        raw = req.raw_content or b""
        ctype = req.headers.get("content-type", "")
        url = self._redact_url(req.url)
        backend = ctx.options.fastcap_backend or backend_for(req.host, req.path, req.headers)
        decoded = raw
        if raw and req.headers.get("content-encoding"):
            decoded = req.get_content(strict=False) or raw
        model = _model_from(decoded, req.path)
        state = FlowState(rid=flow.id, backend=backend, model=model, url=url, rts=now, flow=flow)
        pairs = _fmt_headers(req.headers.fields, self.redact)
        if not any(k.lower() == "host" for k, _ in pairs):
            pairs.insert(0, ("host", req.authority or req.pretty_host))
        body = raw
        meta_extra: dict[str, Any] = {}
        if self.redact is not None and raw:
            red = self._redact_body(decoded, ctype, url)
            if red is not decoded:
                body = red
                if decoded is not raw:
                    meta_extra["cenc_removed"] = req.headers.get("content-encoding")
        path = self._redact_url(req.path)
        head = f"{req.method} {path} HTTP/1.1\r\n{_header_block(pairs)}\r\n".encode("latin-1", "replace")
        meta = {
            "sid": self.session_id,
            "be": backend,
            "mod": model,
            "host": flow.client_conn.peername[0] if flow.client_conn.peername else None,
            "ua": req.headers.get("user-agent"),
            "rid": flow.id,
            "wire_schema": "v2",
            "transport": "http",
            "event": "request",
            "http_method": req.method,
            "url": url,
            "trl": _trailer_block(req, self.redact),
            **meta_extra,
        }
        if self.max_body and len(body) > self.max_body:
            meta["trunc"] = len(body)
        self._emit(now, DIR_P2B, head + self._cap(body), meta)
        # Registered once on record: a request whose entry could not be written is not forwarded.
        self._flows[flow.id] = state
        self.stats["requests"] += 1
        self.host_counts[req.pretty_host] += 1
        self._store_progress()

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        if self.failed is not None:
            flow.kill()
            return
        try:
            state = self._flows.get(flow.id)
            if state is None and flow.id in self._skipped and self._wanted(flow):
                self._skipped.discard(flow.id)
                self._record_request(flow, ts=flow.request.timestamp_end or flow.request.timestamp_start)
                state = self._flows.get(flow.id)
            if state is None or flow.response is None:
                return
            resp = flow.response
            state.status = resp.status_code
            state.content_type = resp.headers.get("content-type", "")
            if not self._should_stream(flow):
                return
            now = time.time()
            state.streamed = True
            state.ss_ts = now
            state.redactor = StreamRedactor(
                state.content_type, resp.headers.get("content-encoding", ""), self.redact, state.url
            )
            if self._jsonl_fd is not None:
                state.body = bytearray()
            hdrs = _header_block(_fmt_headers(resp.headers.fields, self.redact))
            self._emit(
                now,
                DIR_B2P,
                b"",
                {
                    **self._ids(state),
                    "ss": True,
                    "sc": resp.status_code,
                    "ra": _retry_after(resp),
                    "rts": state.rts,
                    "transport": "http",
                    "event": "response",
                    "http_method": flow.request.method,
                    "url": state.url,
                    "http_status": resp.status_code,
                    "http_reason": resp.reason,
                    "http_version": resp.http_version,
                    "hdrs": hdrs,
                },
            )
            self.stats["streams"] += 1
            flow.response.stream = self._make_tee(flow, state, flow.response.stream)
        except CaptureWriteError:
            flow.kill()
        except Exception:
            logger.exception(f"fastcap: could not handle response headers of flow {flow.id}")

    @staticmethod
    def _should_stream(flow: http.HTTPFlow) -> bool:
        resp = flow.response
        assert resp is not None
        if flow.request.method == "HEAD" or resp.status_code in (101, 204, 304) or resp.status_code < 200:
            return False
        if callable(resp.stream) or resp.stream:
            return True
        ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype in STREAM_TYPES:
            return True
        length = resp.headers.get("content-length")
        if length is None or "chunked" in resp.headers.get("transfer-encoding", "").lower():
            return True
        try:
            return int(length) > WHOLE_BODY_LIMIT
        except ValueError:
            return True

    def _make_tee(self, flow: http.HTTPFlow, state: FlowState, inner: Any) -> Any:
        sid = self.session_id
        method = flow.request.method

        def tee(chunk: bytes) -> Any:
            out: Any = inner(chunk) if callable(inner) else chunk
            if not chunk:
                return out
            if self.failed is not None:
                return b""  # never forward what is not on record
            now = time.time()
            try:
                state.chunks += 1
                state.total_bytes += len(chunk)
                state.chunk_times.append((now, len(chunk)))
                state.last_chunk = chunk[-64:]
                data = chunk
                if self.max_body:
                    room = max(0, self.max_body - state.recorded_bytes)
                    data = chunk[:room]
                state.recorded_bytes += len(data)
                if state.body is not None:
                    state.body += data
                if self._cbor_fd is not None and state.redactor is not None:
                    meta: dict[str, Any] = {
                        "sid": sid,
                        "rid": state.rid,
                        "ci": state.chunks,
                        "sc": state.status,
                        "transport": "http",
                        "event": "response",
                        "http_method": method,
                        "url": state.url,
                    }
                    if state.chunks == 1:
                        meta["ttfb"] = (now - state.rts) * 1000.0
                    state.current = Held(now, meta, data)
                    self._write_chunks(state, state.redactor.push(state.current))
                    state.current = None
            except CaptureWriteError:
                return b""  # (unit tests: the process exits in the proxy)
            except Exception:
                logger.exception(f"fastcap: could not record a chunk of flow {flow.id}")
            return out

        return tee

    def _write_chunks(self, state: FlowState, ready: list[tuple[Held, bytes]]) -> None:
        """Write the chunk entries the redactor handed out, in order, each with its arrival time."""
        state.inflight = ready
        while state.inflight:
            held, data = state.inflight[0]
            self._emit(held.ts, DIR_B2P, data, held.meta)
            state.inflight.pop(0)

    def response(self, flow: http.HTTPFlow) -> None:
        state = self._flows.get(flow.id)
        if state is None or state.closed or flow.response is None:
            self._skipped.discard(flow.id)
            return
        try:
            now = time.time()
            resp = flow.response
            self.status_counts[str(resp.status_code)] += 1
            if resp.status_code >= 400:
                self._store_progress()
            if state.streamed:
                if state.redactor is not None:
                    self._write_chunks(state, state.redactor.finish())
                # Trailers arrive after the last chunk: they go on the stream's end marker.
                self._end_stream(state, now, trailers=_trailer_block(resp, self.redact))
                self._eos_normal(flow, state, now)
            else:
                self._record_whole_response(flow, state, now)
            if flow.websocket is not None:
                state.ws_messages = []
                return  # finalised at websocket_end
            self._jsonl_flow(flow, state, now)
            state.closed = True
            self._flows.pop(flow.id, None)
        except CaptureWriteError:
            pass
        except Exception:
            logger.exception(f"fastcap: could not record response of flow {flow.id}")

    def _record_whole_response(self, flow: http.HTTPFlow, state: FlowState, now: float) -> None:
        resp = flow.response
        assert resp is not None
        raw = resp.raw_content or b""
        body = raw
        meta_extra: dict[str, Any] = {}
        if raw and resp.headers.get("content-encoding"):
            decoded = resp.get_content(strict=False)
            if decoded is not None and decoded is not raw:
                body = decoded
                meta_extra["cenc_removed"] = resp.headers.get("content-encoding")
        state.total_bytes = len(raw)
        if state.body is None and self._jsonl_fd is not None:
            state.body = bytearray(self._cap(raw))
        body = self._redact_body(body, state.content_type, state.url)
        pairs = _fmt_headers(resp.headers.fields, self.redact)
        version = resp.http_version
        head = f"{version} {resp.status_code} {resp.reason}\r\n{_header_block(pairs)}\r\n".encode(
            "latin-1", "replace"
        )
        meta = {
            **self._ids(state),
            "sc": resp.status_code,
            "ra": _retry_after(resp),
            "rts": state.rts,
            "pts": now,
            "lat": (now - state.rts) * 1000.0,
            "wire_schema": "v2",
            "transport": "http",
            "event": "response",
            "http_method": flow.request.method,
            "url": state.url,
            "http_status": resp.status_code,
            "http_reason": resp.reason,
            "http_version": version,
            "trl": _trailer_block(resp, self.redact),
            **meta_extra,
        }
        if self.max_body and len(body) > self.max_body:
            meta["trunc"] = len(body)
        self._emit(now, DIR_B2P, head + self._cap(body), meta)

    def _end_stream(
        self, state: FlowState, now: float, trailers: str | None = None, *, cut: bool = False
    ) -> None:
        self._emit(
            now,
            DIR_B2P,
            b"",
            {
                **self._ids(state),
                "se": True,
                "tc": state.chunks,
                "tb": state.total_bytes,
                "sc": state.status,
                "rts": state.rts,
                "pts": now,
                "lat": (now - state.rts) * 1000.0,
                "sdur": (now - state.ss_ts) * 1000.0 if state.ss_ts is not None else None,
                # fastcap_max_body cut the recorded chunks: the reader marks the body truncated.
                "trunc": state.total_bytes if state.recorded_bytes < state.total_bytes else None,
                # The stream did not finish (upstream reset, client gone, proxy stopping): only the
                # start of the body exists (docs/specs/cbor-v2.md §4.4).
                "fid": "truncated" if cut else None,
                "trl": trailers,
            },
        )

    def _eos(self, state: FlowState, now: float, **fields: Any) -> None:
        self._emit(
            now,
            DIR_B2P,
            b"",
            {
                **self._ids(state),
                "eos": True,
                **fields,
                "wire_schema": "v2",
            },
        )

    def _eos_normal(self, flow: http.HTTPFlow, state: FlowState, now: float) -> None:
        status = state.status or 0
        if status >= 400:
            self._eos(
                state,
                now,
                eos_sig="error_termination",
                eos_reason=f"HTTP {status}",
                eos_term="error",
                eos_err_cls="http_error",
                eos_err_code=status,
            )
            return
        sig = "done_sentinel" if b"[DONE]" in state.last_chunk else "response_completed"
        self._eos(state, now, eos_sig=sig, eos_reason="stream completed", eos_term="normal")

    def error(self, flow: http.HTTPFlow) -> None:
        state = self._flows.get(flow.id)
        self._skipped.discard(flow.id)
        if state is None or state.closed:
            return
        try:
            now = time.time()
            msg = flow.error.msg if flow.error else "unknown error"
            self.stats["errors"] += 1
            self._store_progress()
            self._finish_incomplete(state, now, msg, flow=flow)
        except CaptureWriteError:
            pass
        except Exception:
            logger.exception(f"fastcap: could not record error of flow {flow.id}")

    def _finish_incomplete(
        self,
        state: FlowState,
        now: float,
        msg: str,
        flow: http.HTTPFlow | None = None,
        *,
        skip: Held | None = None,
    ) -> None:
        """A flow that ends without its response completing: what its stream still held back, the
        stream's end marker (`fid: "truncated"`) and an EoS entry with the reason. `skip`: a chunk
        received but, because of a write error, never forwarded (left out of the record)."""
        state.closed = True
        self._flows.pop(state.rid, None)
        if state.streamed:
            if state.redactor is not None:
                ready = [(h, d) for h, d in state.redactor.finish() if h is not skip]
                self._write_chunks(state, ready)
            self._end_stream(state, now, cut=True)
        client = "client" in msg.lower()
        self._eos(
            state,
            now,
            sc=state.status,
            eos_sig="client_termination" if client else "error_termination",
            eos_reason=msg,
            eos_term="error",
            eos_err_cls="transport_error",
            eos_err_code=state.status if state.status and state.status >= 400 else None,
        )
        if flow is not None:
            self._jsonl_flow(flow, state, now, error=msg)

    # ------------------------------------------------------------------ WebSocket hooks
    def websocket_message(self, flow: http.HTTPFlow) -> None:
        state = self._flows.get(flow.id)
        if state is None or flow.websocket is None or not flow.websocket.messages:
            return
        try:
            msg = flow.websocket.messages[-1]
            now = time.time()
            is_text = msg.is_text
            data = self._cap(msg.content)
            if is_text:
                data = self._redact_body(data, "application/json", state.url)
            self.stats["ws_messages"] += 1
            self._emit(
                now,
                DIR_P2B if msg.from_client else DIR_B2P,
                data,
                {
                    **self._ids(state),
                    "wire_schema": "v2",
                    "transport": "websocket",
                    "event": "frame",
                    "url": state.url,
                    "ws_message_type": "text" if is_text else "binary",
                },
            )
            if state.ws_messages is not None and self._jsonl_fd is not None:
                entry: dict[str, Any] = {
                    "from_client": msg.from_client,
                    "type": "text" if is_text else "binary",
                    "t": now,
                }
                if is_text:
                    entry["text"] = data.decode("utf-8", "replace")
                else:
                    import base64

                    entry["data_b64"] = base64.b64encode(data).decode()
                state.ws_messages.append(entry)
        except CaptureWriteError:
            pass
        except Exception:
            logger.exception(f"fastcap: could not record a WebSocket message of flow {flow.id}")

    def websocket_end(self, flow: http.HTTPFlow) -> None:
        state = self._flows.pop(flow.id, None)
        if state is None or state.closed:
            return
        state.closed = True
        try:
            now = time.time()
            ws = flow.websocket
            code = ws.close_code if ws else None
            reason = f"WebSocket closed ({code}{' ' + ws.close_reason if ws and ws.close_reason else ''})"
            by_client = bool(ws and ws.closed_by_client)
            normal = code in (None, 1000, 1001, 1005)
            self._eos(
                state,
                now,
                eos_sig="client_termination" if by_client else "response_completed",
                eos_reason=reason,
                eos_term="normal" if normal else "error",
                eos_err_cls=None if normal else "transport_error",
            )
            self._jsonl_flow(flow, state, now)
        except CaptureWriteError:
            pass
        except Exception:
            logger.exception(f"fastcap: could not finish WebSocket flow {flow.id}")

    # ------------------------------------------------------------------ JSONL
    def _jsonl_flow(
        self, flow: http.HTTPFlow, state: FlowState, now: float, error: str | None = None
    ) -> None:
        if self._jsonl_fd is None:
            return
        req = flow.request
        req_pairs = _fmt_headers(req.headers.fields, self.redact)
        req_body = req.get_content(strict=False) or b""
        req_val, _ = body_value(self._cap(req_body), req.headers.get("content-type", ""))
        if self.redact is not None and isinstance(req_val, (dict, list)):
            req_val = redact_json(req_val, self.redact, url=state.url)
        elif self.redact is not None and isinstance(req_val, str):
            req_val = self._redact_body(
                req_val.encode(), req.headers.get("content-type", ""), state.url
            ).decode("utf-8", "replace")
        response: dict[str, Any] | None = None
        ext: dict[str, Any] = {
            "id": flow.id,
            "session_id": self.session_id,
            "backend": state.backend,
            "model": state.model,
            # Key names as documented in fastcap.formats.jsonl (the reader of this extension).
            "started_at": req.timestamp_start,
            "request_ended_at": req.timestamp_end,
            "request_captured": state.rts,
            "streamed": state.streamed,
        }
        if req.trailers:
            ext["request_trailers"] = _trailer_pairs(req, self.redact)
        resp = flow.response
        if resp is not None:
            raw = bytes(state.body) if state.body is not None else b""
            enc = resp.headers.get("content-encoding")
            body = raw
            if enc and raw:
                try:
                    from mitmproxy.net import encoding

                    decoded = encoding.decode(raw, enc)
                    body = decoded if isinstance(decoded, bytes) else raw
                except (ValueError, TypeError):
                    body = raw
            ctype = resp.headers.get("content-type", "")
            value, lossy = body_value(body, ctype)
            if self.redact is not None and lossy:
                # Binary (EventStream frames): redacted as bytes, before both its text and its base64.
                body = self._redact_body(body, ctype, state.url)
                value, lossy = body_value(body, ctype)
            if self.redact is not None and isinstance(value, (dict, list)):
                value = redact_json(value, self.redact, url=state.url)
            elif self.redact is not None and isinstance(value, str) and not lossy:
                value = self._redact_body(value.encode(), ctype, state.url).decode("utf-8", "replace")
            if lossy:
                import base64

                ext["response_body_b64"] = base64.b64encode(body).decode()
            response = {
                "status_code": resp.status_code,
                "headers": fold_headers(_fmt_headers(resp.headers.fields, self.redact)),
                "body": value,
            }
            ext["response_started_at"] = resp.timestamp_start
            ext["ended_at"] = resp.timestamp_end or now
            if resp.trailers:
                ext["response_trailers"] = _trailer_pairs(resp, self.redact)
            ext["body_encoding"] = enc
            ext["response_bytes"] = state.total_bytes
            if state.streamed:
                ext["chunks"] = [{"t": round(t, 6), "len": n} for t, n in state.chunk_times]
                ext["ttfb_ms"] = (state.chunk_times[0][0] - state.rts) * 1000.0 if state.chunk_times else None
        if error is not None:
            ext["error"] = error
        if state.ws_messages is not None:
            ext["websocket"] = state.ws_messages
        record = {
            "timestamp": now,
            "request": {
                "method": req.method,
                "url": self._redact_url(req.pretty_url),
                "headers": fold_headers(req_pairs),
                "body": req_val,
            },
            "response": response,
            "fastcap": ext,
        }
        self._emit_jsonl(record)


def _retry_after(resp: http.Response) -> float | None:
    value = resp.headers.get("retry-after")
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        return None
