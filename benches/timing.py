"""The one timing rule every benchmark uses, for fastcap and its baseline alike."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """Best wall time of `repeat` calls of `fn`, and the last call's result.

    The previous call's result is released (and garbage collected) before the clock starts, and
    the current one is kept until the clock stops, so no call is charged for freeing output.
    """
    best, result = float("inf"), None
    for _ in range(max(1, repeat)):
        result = None
        gc.collect()
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result
