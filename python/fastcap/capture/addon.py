"""The `mitmdump -s` entry point of fastcap's capture addon: `addons = [Capture()]`.

    mitmdump -s /path/to/fastcap/capture/addon.py --set fastcap_out=DIR [--set fastcap_format=both]

The implementation and the option list live in `fastcap.capture.core` (mitmproxy's script loader
does not register scripts in `sys.modules`, so real code lives in an importable module). If fastcap
is not installed in mitmproxy's interpreter, the package directory next to this file is used.
"""

from __future__ import annotations

import sys
from pathlib import Path

try:
    import fastcap.capture.core as _core
except ImportError:  # pragma: no cover - mitmproxy installed as a separate tool
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    import fastcap.capture.core as _core

Capture = _core.Capture
addons = [Capture()]
