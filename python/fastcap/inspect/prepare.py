"""Entry columns and the per-request table every inspect mode builds on.

Linear time throughout (docs/specs/cbor-v2.md §11.1): stream chunks inherit `backend`/`model` from the entry of
the same request id and leg that carries them (the stream-start marker first) through one hash
join; entries without a request id are attached to the latest request anchor of their A-session
with one as-of join; the request table is one `group_by` over the correlation key.

Derived timings follow §6, each with the source it came from:

- `ttfb_s`: `ttfb`/1000 (`meta`), else first B->P payload − P->B `ts` (`ts`);
- `latency_s`: `lat`/1000 on the `se` marker or non-stream response (`meta`), else last B->P − P->B;
- `stream_s`: `sdur`/1000 (`meta`), else `se` − `ss` marker `ts` (`ts`); measured from the
  stream-start marker, so it excludes the time to first byte;
- `client_s`: last P->C − C->P `ts`.

Rows may stand for several entries (`inspect.load.collapse`: the stream chunks of one request and
leg in one round, with `n_rows`, `last_ts` and the chunks' own `ts_list`, `seq_list`,
`len_list`); counts are summed over `n_rows` and last times taken from `last_ts`, so the same
code serves a collapsed table and one row per entry. `entry_rows` gives one row per entry back.
"""

from __future__ import annotations

import polars as pl

from fastcap.inspect.common import BP, CP, PB, PC
from fastcap.inspect.load import FIELD_COLUMNS, FIELDS_SCHEMA

_NARROW = ("ts", "dir", "request_id", "backend", "model", "is_stream_start", "a_session_id", "session_id")


def with_weights(entries: pl.DataFrame) -> pl.DataFrame:
    """Rows of one entry each (`n_rows` 1, `last_ts` its `ts`), unless they carry weights.
    Columns are added with `hstack`, which leaves the others as they are (a `with_columns` over
    a table read round by round would copy every column into one chunk)."""
    if "n_rows" in entries.columns:
        return entries
    ones = pl.repeat(1, entries.height, dtype=pl.UInt32, eager=True).alias("n_rows")
    return entries.hstack([ones, entries["ts"].alias("last_ts")])


def entry_count(df: pl.DataFrame) -> int:
    """How many entries the rows stand for."""
    if "n_rows" not in df.columns:
        return df.height
    return int(df["n_rows"].sum() or 0)


def entry_rows(df: pl.DataFrame, where: pl.Expr | None = None) -> pl.DataFrame:
    """One row per entry of the rows `where` selects: kid (the request key's number), dir,
    payload, ts, seq, data_len, collapsed rows unfolded."""
    cols = ["kid", "dir", "payload", "ts", "seq", "data_len"]
    if where is not None:
        df = df.filter(where)
    if "ts_list" not in df.columns:
        return df.select(cols)
    single = df.filter(pl.col("ts_list").is_null()).select(cols)
    many = (
        df.filter(pl.col("ts_list").is_not_null())
        .select("kid", "dir", "payload", ts="ts_list", seq="seq_list", data_len="len_list")
        .explode(["ts", "seq", "data_len"])
    )
    return pl.concat([single, many], how="vertical_relaxed")


def prepare(entries: pl.DataFrame) -> pl.DataFrame:
    """`entries` plus `row`, `asid`, `status`, `payload`, `be_eff`, `mod_eff`, `key`,
    `req_backend`, `req_model`. Row order (file order) is kept. The joins run on a narrow frame
    without the payload column, whose result is stacked onto the entries (no payload copies)."""
    df = entries.select(_NARROW).with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("row"),
        pl.coalesce("a_session_id", "session_id").alias("asid"),
        pl.col("dir").cast(pl.Int64).alias("dir"),
    )
    # Chunks carry no `be`/`mod`: inherit them from the same request id and leg (§5, §11.4).
    inherit = (
        df.filter(pl.col("request_id").is_not_null() & pl.col("backend").is_not_null())
        .sort([pl.col("is_stream_start").fill_null(False), "ts"], descending=[True, False])
        .group_by(["request_id", "dir"])
        .agg(pl.col("backend").first().alias("_be"), pl.col("model").drop_nulls().first().alias("_mod"))
    )
    df = (
        df.join(inherit, on=["request_id", "dir"], how="left", maintain_order="left")
        .with_columns(
            pl.coalesce("backend", "_be").alias("be_eff"), pl.coalesce("model", "_mod").alias("mod_eff")
        )
        .drop("_be", "_mod")
    )
    df = _with_key(df)
    # The backend of a request is that of its backend legs (P->B, then B->P, then P->C).
    prio = pl.when(pl.col("dir") == PB).then(0).when(pl.col("dir") == BP).then(1).otherwise(2)
    rb = (
        df.filter(pl.col("key").is_not_null() & pl.col("be_eff").is_not_null() & (pl.col("dir") != CP))
        .sort([prio, pl.col("ts")])
        .group_by("key")
        .agg(
            pl.col("be_eff").first().alias("req_backend"),
            pl.col("mod_eff").drop_nulls().first().alias("req_model"),
        )
    )
    df = df.join(rb, on="key", how="left", maintain_order="left")
    # `kid`: a number per key, for the per-entry work (sorting numbers, not strings).
    df = df.with_columns(kid=pl.col("key").rank("dense").cast(pl.UInt32))
    added = df.select("row", "asid", "be_eff", "mod_eff", "key", "kid", "req_backend", "req_model")
    out = with_weights(entries)
    extra = out.select(
        pl.coalesce("http_status_code", "status_code").alias("status"),
        (pl.col("data_len") > 0).alias("payload"),
    )
    out = out.hstack(extra.get_columns()).hstack(added.get_columns())
    out.replace_column(out.get_column_index("dir"), out["dir"].cast(pl.Int64))
    return out


def _with_key(df: pl.DataFrame) -> pl.DataFrame:
    """`key`: the request id; without one, the key of the latest request anchor (C->P, or P->B in
    captures without a client leg) of the same A-session at or before the entry."""
    anchor_dir = CP if (df["dir"] == CP).any() else PB
    own = pl.lit("#") + pl.col("row").cast(pl.String)
    no_rid = df.filter(pl.col("request_id").is_null() & (pl.col("dir") != anchor_dir))
    if no_rid.height == 0:
        return df.with_columns(pl.coalesce(pl.col("request_id"), own).alias("key"))
    sess = pl.col("asid").fill_null("")
    anchors = (
        df.filter((pl.col("dir") == anchor_dir) & pl.col("ts").is_not_null())
        .select("ts", sess.alias("_sess"), pl.coalesce(pl.col("request_id"), own).alias("_akey"))
        .sort("ts")
    )
    matched = (
        no_rid.filter(pl.col("ts").is_not_null())
        .select("row", "ts", sess.alias("_sess"))
        .sort("ts")
        .join_asof(anchors, on="ts", by="_sess", strategy="backward", check_sortedness=False)
        .select("row", "_akey")
    )
    df = df.join(matched, on="row", how="left", maintain_order="left")
    key = (
        pl.when(pl.col("request_id").is_not_null())
        .then(pl.col("request_id"))
        .when(pl.col("dir") == anchor_dir)
        .then(own)
        .otherwise(pl.col("_akey"))
    )
    return df.with_columns(key.alias("key")).drop("_akey")


def _first(col: str, cond: pl.Expr) -> pl.Expr:
    return pl.col(col).filter(cond & pl.col(col).is_not_null()).first()


def _last(col: str, cond: pl.Expr) -> pl.Expr:
    return pl.col(col).filter(cond & pl.col(col).is_not_null()).last()


_REQUEST_INPUTS = (
    "file_index",
    "key",
    "kid",
    "row",
    "ts",
    "seq",
    "dir",
    "n_rows",
    "last_ts",
    "payload",
    "data_len",
    "request_id",
    "asid",
    "b_session_id",
    "req_backend",
    "mod_eff",
    "url",
    "http_method",
    "status",
    "is_stream_start",
    "is_stream_end",
    "chunk_index",
    "eos",
    "request_timestamp",
    "ttfb_ms",
    "latency_ms",
    "stream_duration_ms",
    "total_chunks",
    "total_bytes",
    "retry_after_seconds",
    "eos_signal",
    "eos_termination_category",
    "eos_error_classification",
    "eos_error_status_code",
    "eos_reason",
)


def requests_of(df: pl.DataFrame, fields: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per request (correlation key), ordered by request time, numbered from 1 (`n`).
    `fields` are the request payloads' fields by file_index (`inspect.load.request_fields`)."""
    d = pl.col("dir")
    cp, pb, bp, pc = d == CP, d == PB, d == BP, d == PC
    ss = pl.col("is_stream_start").fill_null(False)
    se = pl.col("is_stream_end").fill_null(False)
    chunk = pl.col("chunk_index").is_not_null()
    pay = pl.col("payload")
    rows = pl.col("n_rows")
    last = pl.col("last_ts")
    anchor_cp = pl.col("dir").filter(cp).first().is_not_null()  # the request body is the C->P one
    # Only the columns aggregated below are sorted (one row per entry can be a million rows).
    keyed = (
        with_weights(df)
        .select([c for c in _REQUEST_INPUTS if c in df.columns or c in ("n_rows", "last_ts")])
        .filter(pl.col("key").is_not_null())
    )
    if fields is None:
        fields = pl.DataFrame(schema=FIELDS_SCHEMA)
    keyed = keyed.join(fields, on="file_index", how="left").sort(["ts", "seq", "file_index"], nulls_last=True)
    req = keyed.group_by("key", maintain_order=True).agg(
        pl.col("kid").first(),
        pl.col("request_id").drop_nulls().first().alias("rid"),
        pl.col("asid").drop_nulls().first().alias("asid"),
        pl.col("b_session_id").drop_nulls().first().alias("bsid"),
        pl.col("req_backend").first().alias("backend"),
        pl.coalesce(_first("mod_eff", pb | bp), _first("mod_eff", cp)).alias("model"),
        pl.coalesce(_first("url", pb), _first("url", bp), _first("url", cp)).alias("url"),
        pl.coalesce(_first("http_method", pb), _first("http_method", cp)).alias("method"),
        _first("seq", cp).alias("cp_seq"),
        _first("ts", cp).alias("cp_ts"),
        _first("row", cp).alias("cp_row"),
        _first("seq", pb).alias("pb_seq"),
        _first("ts", pb).alias("pb_ts"),
        _first("row", pb).alias("pb_row"),
        rows.filter(pb).sum().alias("n_pb"),
        rows.filter(bp).sum().alias("n_bp"),
        rows.filter(pc).sum().alias("n_pc"),
        (bp & (ss | se | chunk)).any().alias("stream"),
        _first("ts", bp & ss).alias("ss_ts"),
        # `rts` on the stream-start marker: when the request had been passed on (docs/metrics.md t0).
        _first("request_timestamp", bp & ss).alias("rts"),
        last.filter(bp & se).max().alias("se_ts"),
        (bp & se).any().alias("has_se"),
        (bp & pl.col("eos").fill_null(False)).any().alias("has_eos"),
        _first("ts", bp).alias("bp_first_any_ts"),
        last.filter(bp).max().alias("bp_last_any_ts"),
        _first("ts", bp & pay).alias("bp_first_ts"),
        last.filter(bp & pay).max().alias("bp_last_ts"),
        rows.filter(bp & pay).sum().alias("bp_chunks"),
        pl.col("data_len").filter(bp & pay).sum().alias("bp_bytes"),
        _first("row", bp & pay).alias("bp_first_row"),
        _last("row", bp & pay).alias("bp_last_row"),
        _first("ttfb_ms", bp).alias("ttfb_ms"),
        pl.coalesce(_last("latency_ms", bp & se), _last("latency_ms", bp)).alias("lat_ms"),
        _last("stream_duration_ms", bp).alias("sdur_ms"),
        _last("total_chunks", bp & se).alias("tc"),
        _last("total_bytes", bp & se).alias("tb"),
        _first("status", bp).alias("bp_status"),
        _first("seq", bp & pl.col("status").is_not_null()).alias("bp_status_seq"),
        _first("ts", bp & pl.col("status").is_not_null()).alias("bp_status_ts"),
        _first("retry_after_seconds", bp).alias("retry_after"),
        _first("status", pc).alias("pc_status"),
        _first("seq", pc & pl.col("status").is_not_null()).alias("pc_status_seq"),
        rows.filter(pc & pay).sum().alias("pc_chunks"),
        pl.col("data_len").filter(pc & pay).sum().alias("pc_bytes"),
        last.filter(pc).max().alias("pc_last_ts"),
        _last("eos_signal", bp).alias("eos_signal"),
        _last("eos_termination_category", bp).alias("eos_term"),
        _last("eos_error_classification", bp).alias("eos_err_cls"),
        _last("eos_error_status_code", bp).alias("eos_err_code"),
        _last("eos_reason", bp).alias("eos_reason"),
        _last("seq", bp & pl.col("eos").fill_null(False)).alias("eos_seq"),
        _last("ts", bp & pl.col("eos").fill_null(False)).alias("eos_ts"),
        pl.col("ts").min().alias("first_ts"),
        pl.col("seq").min().alias("first_seq"),
        # The request body shown (C->P, else P->B), as `inspect.load.request_fields` read it.
        pl.when(anchor_cp)
        .then(pl.col("request_model").filter(cp).first())
        .otherwise(pl.col("request_model").filter(pb).first())
        .alias("body_model"),
        pl.when(anchor_cp)
        .then(pl.col("body_json").filter(cp).first())
        .otherwise(pl.col("body_json").filter(pb).first())
        .alias("body_json"),
        pl.when(anchor_cp)
        .then(pl.col("data_len").filter(cp).first())
        .otherwise(pl.col("data_len").filter(pb).first())
        .alias("body_len"),
        # The request's fields for the calls table: the forwarded request's, else the client's.
        *[pl.coalesce(_first(c, pb), _first(c, cp)).alias(f"req_{c}") for c in FIELD_COLUMNS],
    )
    sizes = (
        entry_rows(df, (pl.col("dir") == PC) & pl.col("payload") & pl.col("key").is_not_null())
        .sort(["ts", "seq"], nulls_last=True)
        .group_by("kid", maintain_order=True)
        .agg(pc_sizes=pl.col("data_len"))
    )
    req = req.join(sizes, on="kid", how="left", maintain_order="left")
    req_start = pl.coalesce("pb_ts", "cp_ts")
    ttfb_ts = pl.col("bp_first_ts") - req_start
    req = req.with_columns(
        pl.coalesce("cp_ts", "pb_ts", "first_ts").alias("anchor_ts"),
        pl.coalesce("pb_seq", "cp_seq", "first_seq").alias("anchor_seq"),
        pl.coalesce(pl.col("ttfb_ms") / 1000.0, ttfb_ts).alias("ttfb_s"),
        pl.when(pl.col("ttfb_ms").is_not_null())
        .then(pl.lit("meta"))
        .when(ttfb_ts.is_not_null())
        .then(pl.lit("ts"))
        .alias("ttfb_src"),
        pl.coalesce(pl.col("lat_ms") / 1000.0, pl.col("bp_last_any_ts") - req_start).alias("latency_s"),
        pl.when(pl.col("lat_ms").is_not_null())
        .then(pl.lit("meta"))
        .otherwise(pl.lit("ts"))
        .alias("latency_src"),
        pl.coalesce(pl.col("sdur_ms") / 1000.0, pl.col("se_ts") - pl.col("ss_ts")).alias("stream_s"),
        (pl.col("pc_last_ts") - pl.col("cp_ts")).alias("client_s"),
        pl.coalesce("bp_status", "pc_status").alias("status"),
    )
    return req.sort(["anchor_ts", "anchor_seq"], nulls_last=True).with_row_index("n", offset=1)


def backend_mask(df: pl.DataFrame, backend: str) -> pl.Series:
    """Entries of `backend` (case-insensitive): their own or inherited `be`, or their request's."""
    want = backend.lower()
    return df.select(
        (
            (pl.col("be_eff").str.to_lowercase() == want).fill_null(False)
            | (pl.col("req_backend").str.to_lowercase() == want).fill_null(False)
        ).alias("m")
    )["m"]
