"""`fastcap view CAPTURE...`: the captures in a browser, on 127.0.0.1 behind a random token."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from fastcap.errors import UsageError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "view",
        help="browse captures in a local web page: overview charts, calls, call detail, conversations, diffs",
        description=(
            "Serve the captures on 127.0.0.1 (a free port unless --port) behind a random token, and "
            "print the URL. The page works offline; it follows captures that are still being written. "
            "Everything shown is redacted unless --no-redact. See docs/view.md."
        ),
    )
    p.add_argument("files", nargs="+", metavar="CAPTURE", help="capture files (any format fastcap reads)")
    p.add_argument(
        "--format", dest="fmt", choices=["auto", "cbor", "mitmlog", "mitm", "har", "jsonl"], default="auto"
    )
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    p.add_argument("--no-live", action="store_true", help="do not re-read the captures when they grow")
    p.add_argument(
        "--recover", action="store_true", help="skip past corrupt CBOR entries instead of stopping there"
    )
    p.add_argument("--no-redact", action="store_true", help="show secrets as captured (raw values!)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from fastcap.view.data import source_for
    from fastcap.view.server import View, bind, new_token, serve

    sources = []
    for name in args.files:
        path = Path(name)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file")
        if path.is_dir():
            raise UsageError(f"{path}: is a directory, expected a capture file")
        sources.append(source_for(path, args.fmt))
    view = View(sources, redact=not args.no_redact, recover=args.recover, live=not args.no_live)
    try:
        sock = bind(args.port)
    except OSError as exc:
        raise UsageError(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}") from None
    token = new_token()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/?token={token}"
    view.start()
    print(f"fastcap view: {url}", flush=True)
    print("(the token in the URL is the only key to this traffic; Ctrl-C stops the server)", flush=True)
    if args.open:
        import webbrowser

        webbrowser.open(url)
    with contextlib.suppress(KeyboardInterrupt):
        serve(view, sock, token)
    print("fastcap view: stopped", file=sys.stderr)
    return 0
