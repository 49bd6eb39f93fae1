"""`--json [FILE]` (§10.15, fixed per §11.6): the header verbatim and every selected entry with its
payload (`text` when valid UTF-8, else `data_b64`), expanded metadata, every SSE event of the
payload (JSON events embedded as parsed JSON) or the parsed JSON body. Unless `--no-redact`, every
value is redacted as in every other output (`OUTPUT`: named fields and free text, base64 included):
payloads before their text, base64, events and parsed body are made from them; metadata (URLs,
EoS reasons, the captured instructions of `cdb`), the header, the filters and the diagnostics as
JSON values. Every filter applies.

Events are split by one call of the native SSE splitter over all exported payloads; valid JSON
event data is embedded as-is (`orjson.Fragment`), so no event is parsed in Python.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
import polars as pl

from fastcap import _native
from fastcap.formats.capture_file import META_KEYS
from fastcap.inspect.common import dir_name, sym
from fastcap.inspect.redaction import (
    CONFIG,
    maybe_secret,
    redact_meta,
    redact_metas,
    redact_payload,
    split_http,
)
from fastcap.secrets.redact import redact_url

FORMAT = "fastcap-inspect-json/1"


def _payload_fields(data: bytes) -> dict[str, Any]:
    try:
        return {"text": data.decode("utf-8")}
    except UnicodeDecodeError:
        return {"data_b64": base64.b64encode(data).decode("ascii")}


def _json_body(data: bytes) -> Any:
    parts = split_http(data)
    body = parts[1] if parts is not None else data
    head = body[:1]
    if head not in (b"{", b"[") and body.lstrip()[:1] not in (b"{", b"["):
        return None
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return orjson.Fragment(body)


def _events(payloads: list[bytes]) -> dict[int, list[Any]]:
    idx = [
        i
        for i, p in enumerate(payloads)
        if p and p.lstrip()[:6].startswith((b"data:", b"event:", b":", b"id:"))
    ]
    if not idx:
        return {}
    ev = pl.DataFrame(_native.sse_column([payloads[i] for i in idx]))
    out: dict[int, list[Any]] = {}
    for e, etype, data, json_error, is_done in ev.select(
        "exchange_index", "event_type", "data", "json_error", "is_done"
    ).iter_rows():
        if json_error is False:
            value: Any = orjson.Fragment(data.encode("utf-8"))
        elif json_error is None and not is_done:
            try:
                value = orjson.loads(data)
            except orjson.JSONDecodeError:
                value = data
        else:
            value = data
        out.setdefault(idx[e], []).append({"event": etype, "data": value})
    return out


_JSON_KINDS = {long for _, long, kind in META_KEYS if kind == "json"}


def _metadata(df: pl.DataFrame) -> list[dict[str, Any]]:
    """`expand_meta` for every row, touching only the metadata columns that hold any value."""
    present = [long for _, long, _ in META_KEYS if long in df.columns and df[long].null_count() < df.height]
    cols = {c: df[c].to_list() for c in present}
    extra: list[str | None] = df["meta_extra"].to_list() if "meta_extra" in df.columns else [None] * df.height
    out: list[dict[str, Any]] = []
    for i in range(df.height):
        meta: dict[str, Any] = {}
        for c in present:
            v = cols[c][i]
            if v is not None:
                meta[c] = orjson.loads(v) if c in _JSON_KINDS else v
        row_extra = extra[i]
        if row_extra:
            meta.update(orjson.loads(row_extra))
        out.append(meta)
    return out


_ROW_TEXT = ("url", "backend", "model", "be_eff", "mod_eff", "key", "problems")


def export_document(
    header: dict[str, Any],
    df: pl.DataFrame,
    *,
    source: str,
    applied: list[str],
    redact: bool,
    diagnostics: list[dict[str, Any]],
) -> dict[str, Any]:
    metas = _metadata(df)
    rows = df.select(
        "file_index",
        "offset",
        "seq",
        "dir",
        "ts",
        "data_len",
        "compressed",
        "data",
        "url",
        "backend",
        "model",
        "be_eff",
        "mod_eff",
        "key",
        "problems",
    ).to_dicts()
    if redact:
        maybe = maybe_secret(df["data"])
        payloads = [
            redact_payload(r["data"], r["dir"], r.get("url"), maybe=m) or b""
            for r, m in zip(rows, maybe, strict=True)
        ]
    else:
        payloads = [r["data"] or b"" for r in rows]
    events = _events(payloads)
    if redact:
        for meta in metas:
            if isinstance(meta.get("url"), str):
                meta["url"] = redact_url(meta["url"], CONFIG)
        metas = redact_metas(metas)
        # Key names, problems, inherited backend and model (the payload is redacted above).
        small = redact_metas([{k: r[k] for k in _ROW_TEXT} for r in rows])
        rows = [{**r, **extra} for r, extra in zip(rows, small, strict=True)]
    entries = []
    for i, r in enumerate(rows):
        meta = metas[i]
        entry: dict[str, Any] = {
            "index": r["file_index"],
            "offset": r["offset"],
            "seq": r["seq"],
            "direction": dir_name(r["dir"]),
            "direction_symbol": sym(r["dir"]),
            "timestamp": r["ts"],
            "data_length": r["data_len"],
            "compressed": bool(r["compressed"]),
            "metadata": meta,
        }
        inherited = {}
        if r.get("backend") is None and r.get("be_eff"):
            inherited["backend"] = r["be_eff"]
        if r.get("model") is None and r.get("mod_eff"):
            inherited["model"] = r["mod_eff"]
        if inherited:
            entry["inherited"] = inherited
        if r.get("key") is not None:
            entry["request_key"] = r["key"]
        if r.get("problems"):
            entry["problems"] = r["problems"]
        data = payloads[i]
        if redact and data is not r["data"] and data != (r["data"] or b""):
            entry["payload_redacted"] = True
        if data or r["data"] is not None:
            entry.update(_payload_fields(data))
        if i in events:
            entry["events"] = events[i]
        elif data:
            parsed = _json_body(data)
            if parsed is not None:
                entry["parsed"] = parsed
        entries.append(entry)
    if redact:
        header = redact_meta(header)  # type: ignore[assignment]
        applied = redact_meta(applied)  # type: ignore[assignment]
        diagnostics = redact_meta(diagnostics)  # type: ignore[assignment]
    return {
        "format": FORMAT,
        "source": source,
        "header": header,
        "filters": applied,
        "redacted": redact,
        "diagnostics": diagnostics,
        "entries": entries,
    }


def dumps(doc: dict[str, Any]) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str)
