"""mitmproxy's `taddons.context`, with its event loop closed on exit.

Outside a running loop `taddons.context` makes a new event loop and never closes it; with warnings
as errors the leaked loop fails whichever test the garbage collector happens to run in."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mitmproxy.test import taddons


@contextmanager
def addon_context(*addons: Any) -> Iterator[taddons.context]:
    running = True
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        running = False
    tctx = taddons.context(*addons)
    try:
        with tctx:
            yield tctx
    finally:
        if not running:
            tctx.master.event_loop.close()
