"""benches/gen_capture.py: the real-shaped benchmark captures look like the reference gateway's files,
and the synthetic shape is still the default."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fastcap import _native

from benches.gen_capture import generate

CP, PC, PB, BP = range(4)


def _generate(
    tmp_path_factory: pytest.TempPathFactory, size_mb: float
) -> tuple[Path, dict[str, int], pl.DataFrame]:
    path = tmp_path_factory.mktemp("gen") / "real.cbor"
    stats = generate(path, size_mb, shape="real")
    reader = _native.CaptureReader(path)
    entries = pl.DataFrame(reader.read_all())
    assert reader.diagnostics == []
    return path, stats, entries


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int], pl.DataFrame]:
    return _generate(tmp_path_factory, 2)


@pytest.fixture(scope="module")
def real_8mb(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int], pl.DataFrame]:
    """Large enough for every dialect pair, with and without tool calls."""
    return _generate(tmp_path_factory, 8)


def _stream(body: bytes) -> dict[str, Any]:
    """What a client would make of one SSE stream: dialect, text, tool calls (each delta), finish
    reason, usage objects and whether the terminal event (`message_stop`, `[DONE]`) came."""
    out: dict[str, Any] = {"dialect": None, "text": "", "args": "", "deltas": [], "finish": None}
    out |= {"usage": [], "terminal": False}
    for event in body.decode().split("\n\n"):
        data = [line[6:] for line in event.split("\n") if line.startswith("data: ")]
        if not data:
            continue
        assert len(data) == 1, event
        if data[0] == "[DONE]":
            out["terminal"] = True
            continue
        obj = json.loads(data[0])
        if obj.get("object") == "chat.completion.chunk":
            out["dialect"] = "chat"
            if obj.get("usage"):
                out["usage"].append(obj["usage"])
            for choice in obj["choices"]:
                delta = choice["delta"]
                out["text"] += delta.get("content") or ""
                for call in delta.get("tool_calls") or []:
                    out["deltas"].append(call)
                    out["args"] += call["function"].get("arguments", "")
                out["finish"] = choice["finish_reason"] or out["finish"]
        elif obj["type"].startswith("response."):
            out["dialect"] = "responses"
            if obj["type"] == "response.output_text.delta":
                out["text"] += obj["delta"]
            elif obj["type"] == "response.function_call_arguments.delta":
                out["args"] += obj["delta"]
            elif obj["type"] == "response.completed":
                out["finish"] = obj["response"]["status"]
                out["usage"].append(obj["response"]["usage"])
        else:
            out["dialect"] = "anthropic"
            if obj["type"] == "content_block_delta":
                delta = obj["delta"]
                if delta["type"] == "text_delta":
                    out["text"] += delta["text"]
                else:
                    out["args"] += delta["partial_json"]
            elif obj["type"] == "message_start":
                out["usage"].append(obj["message"]["usage"])
            elif obj["type"] == "message_delta":
                out["finish"] = obj["delta"]["stop_reason"]
                out["usage"].append(obj["usage"])
            elif obj["type"] == "message_stop":
                out["terminal"] = True
    return out


def _streams(entries: pl.DataFrame) -> dict[str, dict[int, dict[str, Any]]]:
    """Per request id and leg (B->P, P->C): the parsed stream plus its markers."""
    legs = (
        entries.filter(pl.col("dir").is_in([PC, BP]))
        .sort("request_id", "dir", pl.col("chunk_index").fill_null(0), "seq")
        .group_by("request_id", "dir", maintain_order=True)
        .agg(
            pl.col("data").filter(pl.col("data_len") > 0),
            start=pl.col("is_stream_start").any(),
            end=pl.col("is_stream_end").any(),
            eos=pl.col("eos").any(),
            ttfb_ms=pl.col("ttfb_ms").drop_nulls().first(),
        )
        .filter(pl.col("start"))
    )
    out: dict[str, dict[int, dict[str, Any]]] = {}
    for row in legs.iter_rows(named=True):
        leg = _stream(b"".join(row["data"]))
        leg |= {"end": row["end"], "eos": row["eos"], "ttfb_ms": row["ttfb_ms"], "chunks": len(row["data"])}
        out.setdefault(row["request_id"], {})[row["dir"]] = leg
    return out


def test_real_compressed_share(real: tuple[Path, dict[str, int], pl.DataFrame]) -> None:
    _, stats, entries = real
    assert entries.height == stats["entries"]
    share = entries["compressed"].mean()
    assert share == stats["compressed"] / stats["entries"]
    assert 0.75 <= share <= 0.80
    # Compression is the writer's rule (docs/specs/cbor-v2.md §3.2): over 128 bytes and shrinking.
    assert entries.filter(pl.col("compressed"))["data_len"].min() > 128


def test_real_requests_have_every_leg(real: tuple[Path, dict[str, int], pl.DataFrame]) -> None:
    _, stats, entries = real
    per_dir = entries.group_by("dir").agg(pl.col("request_id").n_unique()).sort("dir")
    assert per_dir["request_id"].to_list() == [stats["requests"]] * 4
    streams = _streams(entries)
    assert len(streams) == stats["streams"] > 30
    for rid, legs in streams.items():
        assert set(legs) == {BP, PC}, rid
        backend, client = legs[BP], legs[PC]
        assert backend["chunks"] > 0 and client["chunks"] > 0, rid
        # The client leg is the same stream: the same text and tool call, whatever its dialect.
        assert client["text"] == backend["text"], rid
        assert client["args"] == backend["args"], rid
        assert (client["finish"] is None) == (backend["finish"] is None), rid
        assert client["end"] == backend["end"], rid
        # TTFT is measurable: the first B->P chunk carries `ttfb`, 0.3-2 s after the request.
        assert 300 <= backend["ttfb_ms"] <= 2000, rid


def test_real_streams_are_abandoned_after_the_finish_reason(
    real: tuple[Path, dict[str, int], pl.DataFrame],
) -> None:
    _, stats, entries = real
    backend = [legs[BP] for legs in _streams(entries).values()]
    abandoned = [s for s in backend if s["finish"] is not None and not s["end"]]
    assert len(abandoned) == stats["abandoned"] >= 0.75 * len(backend)
    # Nothing after the finish reason: no terminal event, but the EoS entry.
    assert not any(s["terminal"] for s in abandoned)
    assert all(s["eos"] for s in abandoned)
    complete = [s for s in backend if s["end"]]
    assert len(complete) == stats["complete"] > 0
    assert all(s["finish"] is not None for s in complete)
    assert all(s["terminal"] for s in complete if s["dialect"] != "responses")  # no terminal there
    cut = [s for s in backend if s["finish"] is None]
    assert len(cut) == stats["cut"] > 0
    assert not any(s["end"] or s["eos"] for s in cut)


def test_real_translation_and_usage(real_8mb: tuple[Path, dict[str, int], pl.DataFrame]) -> None:
    _, stats, entries = real_8mb
    streams = _streams(entries)
    translated = [legs for legs in streams.values() if legs[BP]["dialect"] != legs[PC]["dialect"]]
    assert 0.15 <= len(translated) / len(streams) <= 0.45
    # Gateways repeat the tool call's id and name in every Chat delta they emit.
    to_chat = [legs[PC] for legs in translated if legs[PC]["dialect"] == "chat" and legs[PC]["deltas"]]
    assert to_chat
    for client in to_chat:
        assert all(d.get("id") and d["function"].get("name") for d in client["deltas"])
    native_chat = [
        legs[BP] for legs in streams.values() if legs[BP]["dialect"] == "chat" and legs[BP]["deltas"]
    ]
    assert native_chat
    assert all(not d.get("id") for s in native_chat for d in s["deltas"][1:])
    tool_calls = sum(bool(legs[BP]["args"]) for legs in streams.values())
    assert 0.2 <= tool_calls / len(streams) <= 0.45

    usage: dict[str, list[dict[str, Any]]] = {}
    for legs in streams.values():
        for leg in legs.values():
            if leg["finish"] is not None:
                usage.setdefault(leg["dialect"], []).extend(leg["usage"])
    starts = [u for u in usage["anthropic"] if "input_tokens" in u]
    assert starts and all(
        "cache_read_input_tokens" in u and "cache_creation_input_tokens" in u for u in starts
    )
    assert any(u["cache_read_input_tokens"] > 0 for u in starts)
    assert all(u["output_tokens"] > 0 for u in usage["anthropic"] if "input_tokens" not in u)
    assert usage["chat"] and all("cached_tokens" in u["prompt_tokens_details"] for u in usage["chat"])
    assert usage["responses"] and all(
        "cached_tokens" in u["input_tokens_details"] for u in usage["responses"]
    )
    assert stats["translated"] >= len(translated)


def test_real_batches_out_of_order(real: tuple[Path, dict[str, int], pl.DataFrame]) -> None:
    _, stats, entries = real
    # Time order holds within and across batches except where a batch landed after its successor.
    ts_back = int((entries["ts"].diff() < 0).sum())
    seq_back = int((entries["seq"].cast(pl.Int64).diff() < 0).sum())
    assert ts_back == seq_back == stats["swapped_batches"] >= 1
    assert stats["swapped_batches"] <= 0.05 * stats["batches"]
    assert sorted(entries["seq"].to_list()) == list(range(stats["entries"]))


def test_real_is_deterministic(tmp_path: Path, real: tuple[Path, dict[str, int], pl.DataFrame]) -> None:
    path, stats, _ = real
    again = tmp_path / "again.cbor"
    assert generate(again, 2, shape="real") == stats
    assert again.read_bytes() == path.read_bytes()
    other = tmp_path / "other.cbor"
    generate(other, 2, seed=8, shape="real")
    assert other.read_bytes() != path.read_bytes()


def test_synthetic_is_the_default(tmp_path: Path) -> None:
    default, synthetic = tmp_path / "default.cbor", tmp_path / "synthetic.cbor"
    assert generate(default, 0.5) == generate(synthetic, 0.5, shape="synthetic")
    assert default.read_bytes() == synthetic.read_bytes()
    entries = pl.DataFrame(_native.CaptureReader(default).read_all())
    # The old mix: every stream ends with its end marker on both legs, files in time order.
    ends = entries.filter(pl.col("is_stream_end")).group_by("dir").len().sort("dir")
    starts = entries.filter(pl.col("is_stream_start")).group_by("dir").len().sort("dir")
    assert ends.equals(starts)
    assert int((entries["ts"].diff() < 0).sum()) == 0


def test_unknown_shape(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown shape"):
        generate(tmp_path / "x.cbor", 0.1, shape="realistic")
