"""The view's web server: a Starlette app behind a token, run by uvicorn on 127.0.0.1.

Every request must carry the random token the URL was printed with (`?token=…`, or the
`X-Fastcap-Token` header) and name the server by its loopback address in `Host` (so a web page
elsewhere cannot reach it through DNS rebinding); anything else gets 403. The token is the only
secret: other local users can see the port, not the traffic. The page itself is static
(`static/`, shipped in the wheel) and reads everything through the JSON API below, which answers
from one consistent `data.Snapshot` per request:

| endpoint | answer |
|---|---|
| `GET /api/state` | version, loading / live state, call count, search index progress |
| `GET /api/overview` | `analysis.overview` as `analysis.json` has it, plus the chart series |
| `GET /api/facets` | the values each filter offers, with counts |
| `GET /api/calls?offset&limit&sort&desc&model&api&status&issue&conv&agent&model_calls&q` | a page of the filtered, sorted calls table |
| `GET /api/call/{row}` | one call in detail (`detail.call_detail`) |
| `GET /api/diff/{row}[?prev=N]` | the request against the previous one of its conversation and agent |
| `GET /api/conversations`, `GET /api/conversation?id=` | conversations, one conversation by agent |
"""

from __future__ import annotations

import secrets
import socket
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import orjson
import polars as pl
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from fastcap.view import data
from fastcap.view.data import Filters, Live, Snapshot, Source, State
from fastcap.view.detail import Loader, call_detail, request_diff
from fastcap.view.search import SearchIndex, start_index

STATIC = Path(__file__).with_name("static")
TOKEN_HEADER = b"x-fastcap-token"
DETAIL_CACHE = 64
SECURITY_HEADERS = {
    # The token is in the URL: never send it anywhere else, and load nothing from elsewhere.
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
}


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


class TokenGuard:
    """403 for any request without the token or addressed to another host name (module docstring)."""

    def __init__(self, app: ASGIApp, token: str, hosts: set[str]) -> None:
        self.app = app
        self.token = token
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            given = (query.get("token") or [""])[0] or headers.get(TOKEN_HEADER, b"").decode("latin-1")
            host = headers.get(b"host", b"").decode("latin-1")
            if not secrets.compare_digest(given, self.token) or host not in self.hosts:
                await PlainTextResponse("403 Forbidden: fastcap view needs the token of its URL", 403)(
                    scope, receive, send
                )
                return

            async def send_with_headers(message: Any) -> None:
                if message["type"] == "http.response.start":
                    message.setdefault("headers", [])
                    message["headers"] += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                await send(message)

            await self.app(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send)


class View:
    """The state behind the API: the snapshot, the detail loader, the search index."""

    def __init__(
        self, sources: Sequence[Source], *, redact: bool = True, recover: bool = False, live: bool = True
    ) -> None:
        self.state = State(list(sources), recover=recover, redact=redact)
        self.loader = Loader(sources, recover=recover)
        self.live = Live(self.state) if live else None
        self.index = SearchIndex()
        self._building: SearchIndex | None = None
        self._details: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self.state.listeners.append(self._reindex)

    def start(self) -> None:
        """Load in the background (the page shows progress) and start watching for growth."""

        def first() -> None:
            self.state.reload()
            if self.live is not None:
                self.live.start()

        threading.Thread(target=first, name="fastcap-view-load", daemon=True).start()

    def _reindex(self, snap: Snapshot) -> None:
        with self._lock:
            if self._building is not None and self._building.building:
                return  # the next reload after it finishes starts the next one

            def done(index: SearchIndex) -> None:
                with self._lock:
                    self.index = index
                    self._building = None
                latest = self.state.snapshot
                if latest is not None and latest.version != index.version:
                    self._reindex(latest)  # the capture grew while this index was being built

            self._building = start_index(
                snap,
                self.state.sources,
                redacting=self.state.redact,
                recover=self.state.recover,
                on_done=done,
                before=lambda: self.loader.prepare(snap),  # call detail first: one cheap pass
            )

    def snapshot(self) -> Snapshot | None:
        return self.state.snapshot

    def search_rows(self, snap: Snapshot, q: str | None) -> pl.Series | None:
        if not q:
            return None
        building = self._building
        index = building if building is not None and building.done > self.index.done else self.index
        return index.rows(snap, q)

    def detail(self, snap: Snapshot, row: int) -> dict[str, Any] | None:
        info = snap.calls.row(row, named=True)
        key = (info["file"], info["call"], snap.stamps[info["file"]])
        with self._lock:
            hit = self._details.get(key)
        if hit is not None:
            return {**hit, "row": info}
        ex = self.loader.exchange(snap, row)
        if ex is None:
            return None
        out = call_detail(info, ex, redacting=self.state.redact)
        with self._lock:
            self._details[key] = out
            while len(self._details) > DETAIL_CACHE:
                self._details.popitem(last=False)
        return out


def _previous(snap: Snapshot, row: int) -> int | None:
    """The previous call of the same conversation and agent, by start time."""
    info = snap.calls.row(row, named=True)
    conv = data.conversation(snap.calls, info["conv"])
    for agent in conv["agents"]:
        for c in agent["calls"]:
            if c["row"] == row:
                return c["prev_row"]
    return None


def build_app(view: View, token: str, port: int) -> Starlette:
    index_html = (STATIC / "index.html").read_text(encoding="utf-8")

    def need() -> Snapshot:
        snap = view.snapshot()
        if snap is None:
            raise _NotReady
        return snap

    def home(request: Request) -> Response:
        return HTMLResponse(index_html.replace("{{TOKEN}}", token))

    def state(request: Request) -> Response:
        snap = view.snapshot()
        st = view.state
        building = view._building
        return JSON(
            {
                "ready": snap is not None,
                "version": snap.version if snap else 0,
                "loading": st.loading,
                "progress": round(st.progress, 3),
                "error": st.error,
                "calls": snap.calls.height if snap else 0,
                "load_s": round(snap.load_s, 3) if snap else None,
                "live": view.live is not None,
                "sources": [str(s.path.name) for s in st.sources],
                "formats": [s.fmt for s in st.sources],
                "redacted": st.redact,
                "search": (building or view.index).progress(),
            }
        )

    def overview(request: Request) -> Response:
        return JSON(data.overview_json(need()))

    def facets(request: Request) -> Response:
        return JSON(data.facets(need().calls))

    def calls(request: Request) -> Response:
        snap = need()
        p = request.query_params
        f = Filters.from_params(p)
        return JSON(
            data.page(
                snap.calls,
                f,
                sort=p.get("sort"),
                desc=p.get("desc") in ("1", "true"),
                offset=_int(p.get("offset"), 0),
                limit=_int(p.get("limit"), 100),
                search_rows=view.search_rows(snap, f.q),
            )
        )

    def call(request: Request) -> Response:
        snap = need()
        row = _int(request.path_params["row"], -1)
        if not 0 <= row < snap.calls.height:
            return JSON({"error": "no such call"}, status_code=404)
        out = view.detail(snap, row)
        if out is None:
            return JSON({"error": "the call's entries were not found in the capture"}, status_code=404)
        return JSON(out)

    def diff(request: Request) -> Response:
        snap = need()
        row = _int(request.path_params["row"], -1)
        if not 0 <= row < snap.calls.height:
            return JSON({"error": "no such call"}, status_code=404)
        prev_param = request.query_params.get("prev")
        prev = _int(prev_param, -1) if prev_param else _previous(snap, row)
        if prev is None or not 0 <= prev < snap.calls.height:
            return JSON({"row": row, "prev": None, "diff": None})
        a, b = view.loader.exchange(snap, prev), view.loader.exchange(snap, row)
        if a is None or b is None:
            return JSON({"error": "the calls' entries were not found in the capture"}, status_code=404)
        return JSON({"row": row, "prev": prev, "diff": request_diff(a, b, redacting=view.state.redact)})

    def conversations(request: Request) -> Response:
        return JSON(data.conversations(need().calls))

    def conversation(request: Request) -> Response:
        return JSON(data.conversation(need().calls, request.query_params.get("id") or ""))

    async def not_ready(request: Request, exc: Exception) -> Response:
        return JSON({"error": "loading"}, status_code=503)

    routes = [
        Route("/", home),
        Route("/api/state", state),
        Route("/api/overview", overview),
        Route("/api/facets", facets),
        Route("/api/calls", calls),
        Route("/api/call/{row}", call),
        Route("/api/diff/{row}", diff),
        Route("/api/conversations", conversations),
        Route("/api/conversation", conversation),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={_NotReady: not_ready})
    hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
    return TokenGuard(app, token, hosts)  # type: ignore[return-value]


class _NotReady(Exception):
    """The first load has not finished yet (503, the page waits)."""


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def bind(port: int = 0) -> socket.socket:
    """A listening socket on 127.0.0.1 (`port` 0: a free one the OS picks)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def new_token() -> str:
    return secrets.token_urlsafe(24)


def serve(view: View, sock: socket.socket, token: str) -> None:
    """Run until interrupted (Ctrl-C)."""
    import uvicorn

    port = sock.getsockname()[1]
    app = build_app(view, token, port)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
