"""`fastcap view`: the captures in a browser, served from 127.0.0.1 (docs/view.md).

The page reads the engine's tables and nothing else: the calls table of `fastcap analyze`
(`analysis.stream_cbor.calls_from_scan`, `analysis.exchanges.calls_from_exchanges`), its overview
(`analysis.overview.build_overview`) and, for the one call a user opens, that call's `Exchange`
through the dialect registry (`dialects.analyze_exchange`). Bodies are read on demand, one call at
a time; everything shown is redacted with `secrets.redact`'s OUTPUT configuration, like every file
fastcap writes.

- `data`: loading captures into one redacted calls table (with the view's extra columns), live
  reloading, the table's filters, sorting and paging, conversations, the search index.
- `detail`: one call's exchange on demand, its detail and the diff of two consecutive requests.
- `server`: the Starlette app (token check, JSON API, static page) and the uvicorn runner.
- `static/`: the page (hand-written JS and CSS) and the vendored Chart.js (`static/SOURCES.md`).
"""
