"""SSE splitter (`fastcap._native.sse_events` / `SseDecoder` / `sse_column`).

Fixtures against their expected.json, the pure-Python WHATWG parser as an oracle (fixtures and
hypothesis-generated streams), chunk-boundary fuzzing, column == per-body, and the extracted
fields reconstructing the expected text / reasoning / tools / stop reason / usage.
"""

from __future__ import annotations

import itertools
import json
import random
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from fastcap import _native
from helpers import DATA
from hypothesis import given, settings
from hypothesis import strategies as st

from benches.baselines.sse_py import PySseParser, parse_events, parse_sse

TESTDATA = DATA / "sse"
DIRS = ["anthropic", "openai-chat", "openai-responses", "gemini"]
STAT_KEYS = [
    "comment_lines",
    "blank_lines",
    "blocks_without_data",
    "id_fields",
    "retry_fields",
    "unknown_fields",
]
ORACLE_STAT_KEYS = [
    *STAT_KEYS,
    "bytes",
    "lines",
    "events",
    "lf",
    "crlf",
    "cr",
    "bom",
    "ends_with_newline",
    "ends_with_blank_line",
    "partial_last_line",
    "pending_at_eof",
    "retry",
]
EVENT_KEYS = ["index", "type", "data", "last_event_id", "byte_start", "byte_end", "terminated", "is_done"]


def _fixtures() -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for d in DIRS:
        exp = json.loads((TESTDATA / d / "expected.json").read_text())
        for name, e in exp["files"].items():
            out.append((d, name, e))
    return out


FIXTURES = _fixtures()
IDS = [f"{d}/{n}" for d, n, _ in FIXTURES]


def _body(d: str, name: str) -> bytes:
    return (TESTDATA / d / name).read_bytes()


def _rle(xs: list[str]) -> list[list[Any]]:
    out: list[list[Any]] = []
    for x in xs:
        if out and out[-1][0] == x:
            out[-1][1] += 1
        else:
            out.append([x, 1])
    return out


def _strip_times(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: e[k] for k in EVENT_KEYS} for e in events]


def _oracle(body: bytes) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    events, stats = parse_events(body)
    sd = {k: getattr(stats, k) for k in ORACLE_STAT_KEYS}
    sd["line_endings"] = stats.line_endings
    return [e.as_dict() for e in events], sd


# -- fixtures ------------------------------------------------------------------------------------


def test_fixture_count() -> None:
    assert len(FIXTURES) == 32


@pytest.mark.parametrize(("d", "name", "exp"), FIXTURES, ids=IDS)
def test_fixture_matches_expected(d: str, name: str, exp: dict[str, Any]) -> None:
    body = _body(d, name)
    r = _native.sse_events(body)
    events, stats = r["events"], r["stats"]
    w = exp["whatwg"]
    term = [e for e in events if e["terminated"]]
    pending = [e for e in events if not e["terminated"]]
    assert len(term) == w["dispatched_events"]
    assert _rle([e["type"] for e in term]) == w["event_names_rle"]
    for k in STAT_KEYS:
        assert stats[k] == w[k], k
    assert stats["line_endings"] == exp["line_endings"]
    assert stats["ends_with_blank_line"] == exp["ends_with_blank_line"]
    assert stats["ends_with_newline"] == exp["ends_with_newline"]
    if "not_dispatched_at_eof" in w:
        assert len(pending) == 1
        assert pending[0]["type"] == w["not_dispatched_at_eof"]["type"]
        assert pending[0]["data"] == w["not_dispatched_at_eof"]["data"]
        assert pending[0]["byte_end"] == len(body)
        assert stats["pending_at_eof"]
        assert len(events) == w["dispatched_if_flushed_at_eof"]
    else:
        assert pending == []
        assert not stats["pending_at_eof"]
    assert [(e["type"], e["data"]) for e in term] == parse_sse(body)


@pytest.mark.parametrize(("d", "name", "exp"), FIXTURES, ids=IDS)
def test_fixture_equals_oracle(d: str, name: str, exp: dict[str, Any]) -> None:
    body = _body(d, name)
    r = _native.sse_events(body)
    want_events, want_stats = _oracle(body)
    assert _strip_times(r["events"]) == want_events
    assert {k: r["stats"][k] for k in want_stats} == want_stats
    for e in r["events"]:
        assert e["t_first_byte"] is None and e["t_last_byte"] is None


# -- chunk boundaries -------------------------------------------------------------------------------


@pytest.mark.parametrize(("d", "name", "exp"), FIXTURES, ids=IDS)
def test_every_split_position(d: str, name: str, exp: dict[str, Any]) -> None:
    body = _body(d, name)
    whole = _native.sse_events(body)
    n = len(body)
    # Every position for bodies up to 20 KB; for larger ones every position near a CR/LF (where
    # splits matter) plus a deterministic sample.
    if n <= 20_000:
        positions: list[int] = list(range(n + 1))
    else:
        rng = random.Random(n)
        near = {i + o for i, b in enumerate(body) if b in (10, 13) for o in (0, 1)}
        positions = sorted({p for p in near if p <= n} | {rng.randrange(n + 1) for _ in range(300)})[::7]
    for k in positions:
        r = _native.sse_events(body, chunk_sizes=[k, n - k])
        assert r["events"] == whole["events"], k
        assert r["stats"] == whole["stats"], k


@pytest.mark.parametrize(("d", "name", "exp"), FIXTURES, ids=IDS)
def test_random_chunk_sizes_and_times(d: str, name: str, exp: dict[str, Any]) -> None:
    body = _body(d, name)
    whole = _native.sse_events(body)
    rng = random.Random(hash(name) & 0xFFFF)
    for trial in range(6):
        hi = [1, 3, 17, 64, 700, 16384][trial]
        sizes: list[int] = []
        left = len(body)
        while left:
            s = min(left, rng.randint(1, hi))
            sizes.append(s)
            left -= s
        times = [float(i) for i in range(len(sizes))]
        # The incremental decoder, fed chunk by chunk with arrival times.
        dec = _native.SseDecoder()
        events: list[dict[str, Any]] = []
        off = 0
        for s, t in zip(sizes, times, strict=True):
            events += dec.feed(body[off : off + s], t)
            off += s
        events += dec.finish()
        assert dec.finished
        assert _strip_times(events) == _strip_times(whole["events"])
        assert dec.stats == whole["stats"]
        # Times are those of the chunks holding each event's first and last byte.
        ends = []
        acc = 0
        for s in sizes:
            acc += s
            ends.append(acc)

        def chunk_of(offset: int, ends: list[int] = ends) -> float:
            return float(next(i for i, e in enumerate(ends) if offset < e))

        for e in events:
            assert e["t_first_byte"] == chunk_of(e["byte_start"])
            assert e["t_last_byte"] == chunk_of(e["byte_end"] - 1)
        timed = _native.sse_events(body, chunk_sizes=sizes, chunk_times=times)
        assert timed["events"] == events


def test_decoder_edge_cases() -> None:
    dec = _native.SseDecoder()
    assert dec.feed(b"data: a\r") == []
    assert dec.feed(b"\n") == []
    ev = dec.feed(b"\r")
    assert [e["data"] for e in ev] == ["a"]
    assert dec.feed(b"\n\xef\xbb") == []
    tail = dec.finish()
    assert tail == []  # "\xef\xbb" is a field name (not at stream start), no data
    st_ = dec.stats
    assert (st_["crlf"], st_["blank_lines"], st_["unknown_fields"]) == (2, 1, 1)
    assert dec.finish() == []
    with pytest.raises(_native.SseError) as ei:
        dec.feed(b"data: x\n\n")
    assert ei.value.kind == "feed_after_finish"
    # BOM split across chunks, multi-byte UTF-8 split across chunks, invalid bytes.
    dec = _native.SseDecoder()
    out = []
    for b in [b"\xef", b"\xbb\xbfdata: \xe2", b"\x82\xac\xff", b"\n\n"]:
        out += dec.feed(b)
    assert [e["data"] for e in out] == ["\u20ac\ufffd"]
    assert dec.stats["bom"]


def test_sse_events_argument_errors() -> None:
    with pytest.raises(_native.SseError):
        _native.sse_events(b"abc", chunk_sizes=[1, 1])
    with pytest.raises(ValueError):
        _native.sse_events(b"abc", chunk_sizes=[3], chunk_times=[1.0, 2.0])
    with pytest.raises(ValueError):
        _native.sse_events(b"abc", chunk_times=[1.0])


# -- hypothesis: native == oracle ------------------------------------------------------------------

_EOL = st.sampled_from([b"\n", b"\r\n", b"\r"])
_TEXT = st.one_of(
    st.binary(max_size=12).filter(lambda b: b"\n" not in b and b"\r" not in b),
    st.text(
        alphabet=st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=8
    ).map(lambda s: s.encode()),
    st.sampled_from(
        [b"", b" ", b"  x", b"[DONE]", b'{"type":"x"}', b"\xe2\x82", b"\xff", b"a\x00b", b"12", b"+5"]
    ),
)
_NAME = st.sampled_from([b"data", b"event", b"id", b"retry", b"Data", b"foo", b"", b"dat"])


@st.composite
def _line(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["field", "field", "field", "nocolon", "comment", "blank"]))
    eol = draw(_EOL)
    if kind == "blank":
        return eol
    if kind == "comment":
        return b":" + draw(_TEXT) + eol
    if kind == "nocolon":
        return draw(_NAME) + eol
    sep = draw(st.sampled_from([b":", b": ", b":  "]))
    return draw(_NAME) + sep + draw(_TEXT) + eol


@st.composite
def _stream(draw: st.DrawFn) -> bytes:
    lines = draw(st.lists(_line(), max_size=30))
    body = b"".join(lines)
    if draw(st.booleans()):
        body = body[: draw(st.integers(0, len(body)))]  # possibly cut inside a line or a CRLF
    if draw(st.integers(0, 4)) == 0:
        body = b"\xef\xbb\xbf" + body
    return body


@settings(max_examples=400, deadline=None)
@given(body=_stream(), cuts=st.lists(st.integers(0, 400), max_size=6))
def test_random_streams_native_equals_oracle(body: bytes, cuts: list[int]) -> None:
    want_events, want_stats = _oracle(body)
    r = _native.sse_events(body)
    assert _strip_times(r["events"]) == want_events
    assert {k: r["stats"][k] for k in want_stats} == want_stats
    # Same through the incremental decoders (native and Python) at random cut points.
    pos = sorted({min(c, len(body)) for c in cuts} | {0, len(body)})
    sizes = [b - a for a, b in itertools.pairwise(pos)]
    assert _strip_times(_native.sse_events(body, chunk_sizes=sizes)["events"]) == want_events
    p = PySseParser()
    evs = []
    for a, b in itertools.pairwise(pos):
        evs += p.feed(body[a:b])
    evs += p.finish()
    assert [e.as_dict() for e in evs] == want_events


# -- column ------------------------------------------------------------------------------------------


def _all_bodies() -> list[bytes | None]:
    bodies: list[bytes | None] = [_body(d, n) for d, n, _ in FIXTURES]
    bodies[3:3] = [None, b"", b"data: x"]
    return bodies


def test_column_equals_per_body() -> None:
    bodies = _all_bodies()
    t = _native.sse_column(bodies)
    df = pl.DataFrame(t)
    assert t.num_rows == df.height
    assert df.schema["exchange_index"] == pl.UInt32
    assert df.schema["event_index"] == pl.UInt32
    assert df.schema["input_tokens"] == pl.Int64
    for i, body in enumerate(bodies):
        rows = df.filter(pl.col("exchange_index") == i).sort("event_index")
        if body is None:
            assert rows.height == 0
            continue
        want = _native.sse_events(body)["events"]
        got = [
            {
                "index": r["event_index"],
                "type": r["event_type"],
                "data": r["data"],
                "last_event_id": r["last_event_id"],
                "byte_start": r["byte_start"],
                "byte_end": r["byte_end"],
                "terminated": r["terminated"],
                "is_done": r["is_done"],
            }
            for r in rows.iter_rows(named=True)
        ]
        assert got == _strip_times(want), i
    # Without extraction: the same split columns only.
    plain = pl.DataFrame(_native.sse_column(bodies, extract=False))
    assert plain.columns == df.columns[: len(plain.columns)]
    assert "text" not in plain.columns
    assert plain.equals(df.select(plain.columns))
    # The same from an Arrow binary / large_binary / string array.
    for typ in (pa.binary(), pa.large_binary()):
        arr = pa.array(bodies, type=typ)
        assert pl.DataFrame(_native.sse_column(arr)).equals(df)
    sarr = pa.array([b.decode() if b is not None else None for b in bodies[:5]], type=pa.string())
    assert pl.DataFrame(_native.sse_column(sarr)).equals(pl.DataFrame(_native.sse_column(bodies[:5])))
    with pytest.raises(TypeError):
        _native.sse_column(["not bytes"])
    with pytest.raises(TypeError):
        _native.sse_column(pa.array([1, 2]))
    assert _native.sse_column([]).num_rows == 0


def test_column_from_arrow_streams_and_views() -> None:
    """Inputs exposing only `__arrow_c_stream__` (Polars Series and DataFrame, pyarrow ChunkedArray
    and Table, fastcap's ArrowTable) and view arrays give the same table as a list of bytes."""
    bodies = _all_bodies()
    want = pl.DataFrame(_native.sse_column(bodies))
    series = pl.Series("body", bodies, dtype=pl.Binary)
    chunked = pa.chunked_array([pa.array(bodies[:4], pa.binary()), pa.array(bodies[4:], pa.binary())])
    texts = [b.decode() if b is not None else None for b in bodies]
    inputs: list[object] = [
        series,
        series.to_frame(),
        pl.DataFrame({"other": list(range(len(bodies))), "body": series}),
        chunked,
        pa.table({"body": chunked}),
        pa.array(bodies, pa.binary_view()),
        pa.array(texts, pa.string_view()),
        pl.Series(texts, dtype=pl.String),
    ]
    for obj in inputs:
        assert not hasattr(obj, "__arrow_c_array__") or isinstance(obj, pa.Array), type(obj)
        kw = {"column": "body"} if isinstance(obj, pl.DataFrame) and obj.width > 1 else {}
        assert pl.DataFrame(_native.sse_column(obj, **kw)).equals(want), type(obj)
    # A sliced array (non-zero offset) and a sliced view array: positions restart at the slice.
    for typ in (pa.binary(), pa.large_binary(), pa.binary_view()):
        sliced = pa.array(bodies, typ).slice(2, 5)
        got = pl.DataFrame(_native.sse_column(sliced))
        assert got.equals(pl.DataFrame(_native.sse_column(bodies[2:7]))), typ
    # fastcap's own ArrowTable (here the events table itself, one column of it as bodies).
    t = _native.sse_column([b"data: data: " + b"x" * 40 + b"\n\n"], extract=False).select(["data"])
    again = pl.DataFrame(_native.sse_column(t, extract=False))
    assert again["data"].to_list() == ["x" * 40]
    assert again["terminated"].to_list() == [False]
    with pytest.raises(TypeError, match="column="):
        _native.sse_column(pl.DataFrame({"a": [b"x"], "b": [b"y"]}))
    with pytest.raises(KeyError):
        _native.sse_column(series.to_frame(), column="nope")
    with pytest.raises(TypeError):
        _native.sse_column(pl.Series([1, 2]))


def test_column_views_point_into_the_bodies() -> None:
    """Single-line values are views into the input (the bytes objects stay alive through the
    table); multi-line data and text repaired from invalid UTF-8 are copies with the same value."""
    big = b"".join(
        b'event: content_block_delta\ndata: {"i":%d,"pad":"%s"}\n\n' % (i, b"p" * 50) for i in range(200)
    )
    odd = (
        b"data: line one is long enough\ndata: line two is long enough\n\ndata: bad \xff byte here, long\n\n"
    )
    bodies = [big, odd * 100]
    t = _native.sse_column(bodies, extract=False)
    at = pa.table(t)
    assert at.schema.field("data").type == pa.string_view()
    del bodies
    import gc

    gc.collect()
    df = pl.DataFrame(t)
    del t, at
    gc.collect()
    assert df["data"][0] == '{"i":0,"pad":"' + "p" * 50 + '"}'
    assert df["event_type"][199] == "content_block_delta"
    assert df["data"][200] == "line one is long enough\nline two is long enough"
    assert df["data"][201] == "bad \ufffd byte here, long"
    assert df.height == 400


# -- extraction --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def extracted() -> dict[str, pl.DataFrame]:
    bodies = [_body(d, n) for d, n, _ in FIXTURES]
    df = pl.DataFrame(_native.sse_column(bodies))
    # Reconstructions are computed from WHATWG-dispatched events only.
    df = df.filter(pl.col("terminated"))
    return {IDS[i]: df.filter(pl.col("exchange_index") == i) for i in range(len(FIXTURES))}


def _cat(df: pl.DataFrame, col: str) -> str:
    return "".join(v for v in df[col].to_list() if v is not None)


def _last(df: pl.DataFrame, col: str) -> Any:
    vals = [v for v in df[col].to_list() if v is not None]
    return vals[-1] if vals else None


def _names(df: pl.DataFrame) -> list[str]:
    return [n for v in df["tool_name"].to_list() if v is not None for n in v.split(",")]


@pytest.mark.parametrize(("d", "name", "exp"), FIXTURES, ids=IDS)
def test_extracted_fields_reconstruct(
    d: str, name: str, exp: dict[str, Any], extracted: dict[str, pl.DataFrame]
) -> None:
    df = extracted[f"{d}/{name}"]
    rec = exp["reconstruction"]
    assert not any(df["json_error"].to_list())
    assert df.filter(pl.col("data").str.starts_with("{"))["json_error"].null_count() == 0
    if d == "anthropic":
        assert (df["json_type"] == df["event_type"]).all()
        assert _cat(df, "text") == rec["text"]
        assert _cat(df, "reasoning") == rec["thinking"]
        assert _names(df) == [t["name"] for t in rec["tool_calls"]]
        assert _last(df, "stop_reason") == rec["stop_reason"]
        assert _last(df, "model") == rec["model"]
        u = rec["usage_totals"]
        # message_start usage updated key by key by message_delta usage: latest non-null wins.
        assert _last(df, "input_tokens") == u["input_tokens"]
        assert _last(df, "output_tokens") == u["output_tokens"]
        assert _last(df, "cache_read_tokens") == u["cache_read_input_tokens"]
        assert _last(df, "cache_write_tokens") == u["cache_creation_input_tokens"]
    elif d == "openai-chat":
        c0 = rec["choices"][0]
        assert _cat(df, "text") == rec["text"] == (c0["content"] or "")
        assert _names(df) == [t["name"] for t in c0["tool_calls"]]
        assert _last(df, "stop_reason") == c0["finish_reason"]
        assert _last(df, "model") == rec["model"]
        assert df["is_done"].sum() == rec["done_sentinels"]
        u = rec["usage_totals"]
        assert _last(df, "input_tokens") == u["prompt_tokens"]
        assert _last(df, "output_tokens") == u["completion_tokens"]
        assert df["input_tokens"].drop_nulls().len() == 1  # only the usage chunk
        reasoning = rec["usage"].get("completion_tokens_details", {}).get("reasoning_tokens")
        assert _last(df, "reasoning_tokens") == reasoning
    elif d == "openai-responses":
        assert (df["json_type"] == df["event_type"]).all()
        assert _cat(df, "text") == rec["text"]
        assert _cat(df, "reasoning") == "".join(rec["reasoning_summary"])
        assert _names(df) == [t["name"] for t in rec["tool_calls"]]
        assert _last(df, "stop_reason") == rec["status"]
        assert _last(df, "model") == rec["model"]
        u = rec["usage"]
        assert _last(df, "input_tokens") == u["input_tokens"]
        assert _last(df, "output_tokens") == u["output_tokens"]
        assert _last(df, "cache_read_tokens") == u["input_tokens_details"]["cached_tokens"]
        assert _last(df, "reasoning_tokens") == u["output_tokens_details"]["reasoning_tokens"]
        assert df["cache_write_tokens"].null_count() == df.height
    else:
        assert _cat(df, "text") == rec["text"]
        assert _cat(df, "reasoning") == rec["thought_text"]
        assert _names(df) == [t["name"] for t in rec["tool_calls"]]
        assert _last(df, "stop_reason") == rec["finish_reason"]
        assert _last(df, "model") == rec["model_version"]
        # Gemini: the last chunk's usageMetadata wins.
        last = df.tail(1).row(0, named=True)
        u = rec["usage_totals"]
        assert last["input_tokens"] == u["promptTokenCount"]
        assert last["output_tokens"] == u["candidatesTokenCount"]
        assert last["reasoning_tokens"] == u["thoughtsTokenCount"]
    assert df["error_type"].null_count() == df.height


def _x(data: str) -> dict[str, Any]:
    body = b"data: " + data.encode() + b"\n\n"
    return pl.DataFrame(_native.sse_column([body])).row(0, named=True)


def test_extraction_shapes() -> None:
    # Errors of every shape (spec §8).
    x = _x('{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}')
    assert (x["error_type"], x["error_message"]) == ("overloaded_error", "Overloaded")
    x = _x(
        '{"error":{"message":"m","type":"invalid_request_error","param":null,"code":"rate_limit_exceeded"}}'
    )
    assert (x["error_type"], x["error_code"], x["error_message"]) == (
        "invalid_request_error",
        "rate_limit_exceeded",
        "m",
    )
    x = _x('{"error":{"code":429,"message":"q","status":"RESOURCE_EXHAUSTED"}}')
    assert (x["error_type"], x["error_code"], x["error_message"]) == ("RESOURCE_EXHAUSTED", "429", "q")
    x = _x('{"type":"error","code":"server_error","message":"boom","param":null,"sequence_number":3}')
    assert (x["error_type"], x["error_code"], x["error_message"]) == ("server_error", "server_error", "boom")
    x = _x(
        '{"type":"response.failed","response":{"status":"failed","error":{"code":"rate_limit_exceeded","message":"r"}}}'
    )
    assert (x["stop_reason"], x["error_type"], x["error_message"]) == ("failed", None, "r")
    assert x["error_code"] == "rate_limit_exceeded"
    # Code Assist wrapper, thought parts, function calls.
    x = _x(
        '{"response":{"candidates":[{"content":{"role":"model","parts":[{"text":"think","thought":true},'
        '{"text":"A\\n"},{"functionCall":{"name":"f1","args":{}}},{"functionCall":{"name":"f2","args":{}}}]},'
        '"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":7,"candidatesTokenCount":2,'
        '"cachedContentTokenCount":3,"thoughtsTokenCount":4},"modelVersion":"gemini-2.5-pro"},"traceId":"x"}'
    )
    assert (x["text"], x["reasoning"], x["tool_name"], x["stop_reason"], x["model"]) == (
        "A\n",
        "think",
        "f1,f2",
        "STOP",
        "gemini-2.5-pro",
    )
    assert (x["input_tokens"], x["output_tokens"], x["cache_read_tokens"], x["reasoning_tokens"]) == (
        7,
        2,
        3,
        4,
    )
    # Chat reasoning_content and tool-call start; choice index 1 ignored.
    x = _x(
        '{"model":"m","choices":[{"index":0,"delta":{"reasoning_content":"r","tool_calls":[{"index":0,"function":{"name":"t"}}]}}]}'
    )
    assert (x["reasoning"], x["tool_name"], x["model"]) == ("r", "t", "m")
    x = _x('{"choices":[{"index":1,"delta":{"content":"other choice"}}]}')
    assert x["text"] is None
    # Anthropic cache fields; wrong types are absent, not errors; invalid JSON flagged.
    x = _x(
        '{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":9,"cache_creation_input_tokens":5}}'
    )
    assert (x["stop_reason"], x["output_tokens"], x["cache_write_tokens"]) == ("tool_use", 9, 5)
    x = _x('{"type":5,"delta":null,"choices":{"a":1},"usage":[1],"candidates":"x"}')
    assert x["json_error"] is False and x["json_type"] == "5"  # numbers read as text (error codes)
    assert _x('{"type": "x"')["json_error"] is True
    assert _x("[DONE]")["json_error"] is None
    assert _x("[DONE]")["is_done"] is True
