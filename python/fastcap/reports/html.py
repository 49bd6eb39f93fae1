"""`fastcap report --html`: the view's pages as one self-contained HTML file (docs/export.md).

The page is the view's own (`view/static/`: index.html, app.css, Chart.js, app.js) with every
asset inlined and the data the view's JSON API would answer embedded as one JSON block
(`view.bundle.build`), which `embedded.js` answers the page's requests from. Nothing is fetched:
a Content-Security-Policy forbids any connection, so the file can be opened from disk, mailed or
attached to an issue. The assets and data are handed in by the caller (the CLI), which keeps this
module free of the view package (the import contract in pyproject.toml).
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

# No network at all: inline scripts and styles, images from data: URLs (Chart.js draws on canvas).
CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'"
SCRIPTS = ("chart.min.js", "embedded.js", "app.js")


def _script_safe(text: str) -> str:
    """Text that cannot close its <script> element early (`</script`, `<!--` inside code or data)."""
    return text.replace("</", "<\\/").replace("<!--", "<\\!--")


def embedded_json(bundle: Mapping[str, Any]) -> str:
    # `<` written as \u003c: the JSON stays valid and no HTML parser sees a tag in it.
    return orjson.dumps(bundle, option=orjson.OPT_NON_STR_KEYS).decode().replace("<", "\\u003c")


def included_note(included: Sequence[int], total: int) -> str:
    if not included:
        return (
            f"Shared report of {total:,} calls: summary, table, charts and conversations. No call bodies "
            "are included (fastcap report --html --html-calls N,M adds them)."
        )
    names = ", ".join(f"#{r + 1}" for r in included[:50]) + (" …" if len(included) > 50 else "")
    return (
        f"Shared report of {total:,} calls: summary, table, charts and conversations for all; request and "
        f"response bodies only for {len(included)} call{'s' if len(included) != 1 else ''}: {names}. "
        "Search reads the table's columns, not the bodies."
    )


def render_page(assets: Mapping[str, str], bundle: Mapping[str, Any], *, title: str | None = None) -> str:
    """The whole page: `assets` maps the view's static file names to their text (`view.bundle.assets`)."""
    page = assets["index.html"]
    # The server's page links its files; here they are inlined (scripts at the end of the body,
    # after the data block they read).
    page = re.sub(r'<link rel="stylesheet"[^>]*>', lambda _: f"<style>\n{assets['app.css']}\n</style>", page)
    page = re.sub(r"<script src=[^>]*></script>\n?", "", page)
    page = page.replace(
        '<meta name="referrer" content="no-referrer">',
        f'<meta name="referrer" content="no-referrer">\n<meta http-equiv="Content-Security-Policy" content="{CSP}">',
    )
    name = title or ", ".join(bundle["state"]["sources"])
    page = re.sub(r"<title>.*?</title>", f"<title>{html.escape(name)} · fastcap report</title>", page)
    note = included_note(bundle["included"], bundle["state"]["calls"])
    page = page.replace(
        '<main id="main">',
        f'<p id="embedded-note" class="muted" style="margin:6px 16px">{html.escape(note)}</p>\n<main id="main">',
    )
    page = page.replace(
        '<span class="brand">fastcap view</span>', '<span class="brand">fastcap report</span>'
    )
    scripts = [f'<script type="application/json" id="fastcap-data">{embedded_json(bundle)}</script>']
    scripts += [f"<script>\n{_script_safe(assets[name])}\n</script>" for name in SCRIPTS]
    return page.replace("</body>", "\n".join(scripts) + "\n</body>")
