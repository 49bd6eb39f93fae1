"""Responses over WebSocket (Codex CLI, the Responses API's WebSocket mode): each request on a
connection is a call of its own (docs/specs/responses-websocket.md), with the figures an HTTP call
of the same response would have, chained into a conversation through `previous_response_id`."""

from __future__ import annotations

import orjson
import polars as pl
import pytest
from fastcap.analysis.calls import calls_table
from fastcap.analysis.exchanges import calls_from_exchanges, requests_from_exchanges
from fastcap.dialects import analyze_exchange
from fastcap.dialects.openai_ws import PREWARM_FLAG, split_connection
from fastcap.model import Exchange, WsMessage
from helpers import responses_ws

CODEX = "codex_cli_session.json"
API = "api_websocket_mode.json"
SESSION = "019a0000-0000-7000-8000-00000000c0de"


def _msg(from_client: bool, obj: object, t: float) -> WsMessage:
    return WsMessage(from_client, True, orjson.dumps(obj), t)


def test_codex_connection_is_one_call_per_request() -> None:
    calls = calls_from_exchanges([responses_ws.exchange(CODEX)])
    assert calls.height == 4
    assert set(calls["api_name"]) == {"ChatGPT.CodexResponses"}
    assert set(calls["dialect"]) == {"openai_responses"}
    assert set(calls["response_kind"]) == {"websocket"}
    assert set(calls["model"]) == {"gpt-5.2-codex"}  # from each response.create
    # The prewarm (`generate: false`) is a call, but not a model call.
    assert calls["is_model_call"].to_list() == [False, True, True, True]
    # One stream each: chunks are the server's messages of that request (codex.rate_limits included).
    assert calls["chunks"].to_list() == [2, 15, 10, 1]
    first, tool, text, limited = calls.iter_rows(named=True)
    assert first["text_chars"] == 0 and first["ttft_s"] is None and first["complete"] is True
    assert (first["input_total"], first["output_total"], first["stop_reason"]) == (2310, 0, "completed")
    # response.completed has an empty `output`: the content comes from the deltas.
    assert tool["tool_calls"] == ["shell"] and tool["text_chars"] == 0
    assert tool["reasoning_chars"] == len("**Listing files**\n\nI'll run ls on src.")
    assert (tool["input_total"], tool["cache_read"], tool["input_uncached"]) == (2342, 2304, 38)
    assert (tool["output_total"], tool["reasoning_tokens"]) == (61, 32)
    assert text["text_chars"] == len("src/ holds main.rs and lib.rs.") and text["tool_calls"] == []
    # Times from the messages' arrival: t0 is the response.create message (docs/metrics.md).
    assert tool["ttfb_s"] == pytest.approx(0.18)  # codex.rate_limits is the first byte
    assert tool["ttft_s"] == pytest.approx(0.655)  # the first reasoning-summary delta
    assert text["ttft_s"] == pytest.approx(0.545)  # the first text delta
    assert tool["duration_s"] == pytest.approx(1.015)  # to response.completed
    # The in-band error carries the HTTP status the server gave it.
    assert (limited["status"], limited["issue_class"], limited["complete"]) == (429, "rate_limit", False)
    assert limited["error"] == "usage_limit_reached: The usage limit has been reached"
    assert set(calls["issue_class"].drop_nulls()) == {"rate_limit"}
    assert set(calls["conversation_id"]) == {SESSION}  # Codex's session_id header


def test_requests_table_rows_are_streams_with_their_request_bodies() -> None:
    http = Exchange(1, "cbor", "POST", "https://api.openai.com/v1/responses", status=200)
    req = requests_from_exchanges([responses_ws.exchange(CODEX), http])[:4]
    # What the engine cannot tell from the URL, for apply_model_call_override; null: the API name decides.
    assert requests_from_exchanges([http])["model_call_override"].to_list() == [None]
    assert req["model_call_override"].to_list() == [False, True, True, True]
    assert req["is_stream"].to_list() == [True] * 4
    assert req["request_model"].to_list() == ["gpt-5.2-codex"] * 4
    assert req["prompt_cache_key"].to_list() == [SESSION] * 4
    assert req["request_body_fidelity"].to_list() == ["complete"] * 4
    ends = req["stream_end_ts"].to_list()
    assert all(e is not None for e in ends) and ends == sorted(ends)


def test_calls_agree_with_the_responses_dialect_on_each_request() -> None:
    """The engine's row for each request = the Responses dialect's analysis of that request."""
    ex = responses_ws.exchange(CODEX)
    engine = calls_from_exchanges([ex])
    dialect = calls_table([analyze_exchange(p.exchange) for p in split_connection(ex)])
    for name in (
        "api_name",
        "model",
        "status",
        "response_kind",
        "chunks",
        "text_chars",
        "reasoning_chars",
        "tool_calls",
        "input_total",
        "input_uncached",
        "cache_read",
        "output_total",
        "reasoning_tokens",
        "stop_reason",
        "complete",
        "issue_class",
        "conversation_id",
    ):
        assert engine[name].to_list() == dialect[name].to_list(), name
    for name in ("ttfb_s", "ttft_s", "duration_s"):
        a, b = engine[name], dialect[name]
        assert ((a.is_null() & b.is_null()) | ((a - b).abs() < 1e-6)).all(), name


def test_split_keeps_each_request_with_its_messages() -> None:
    parts = split_connection(responses_ws.exchange(CODEX))
    assert [p.kind for p in parts] == ["response.create"] * 4
    assert [p.generate for p in parts] == [False, True, True, True]
    assert [p.response_id for p in parts] == ["resp_w0", "resp_t1", "resp_t2", None]
    assert [p.previous_response_id for p in parts] == [None, "resp_w0", "resp_t1", "resp_t2"]
    assert [p.finished for p in parts] == [True] * 4 and parts[3].error_status == 429
    assert PREWARM_FLAG in parts[0].exchange.flags and PREWARM_FLAG not in parts[1].exchange.flags
    # Each acknowledgement stays with the response it names.
    acks = [
        [orjson.loads(m.data).get("response_id") for m in p.exchange.websocket or [] if m.from_client][1:]
        for p in parts
    ]
    assert acks == [["resp_w0"], ["resp_t1"], ["resp_t2"], []]
    total = sum(len(p.exchange.websocket or []) for p in parts)
    assert total == len(responses_ws.load(CODEX)["messages"])  # nothing lost, nothing twice


def test_previous_response_id_chains_requests_into_one_conversation() -> None:
    """The API docs' warm-up and continuation carry no session header nor cache key: the chain
    from the warm-up response names the conversation."""
    calls = calls_from_exchanges([responses_ws.exchange(API)])
    assert calls["api_name"].to_list() == ["OpenAI.Responses"] * 3
    assert calls["is_model_call"].to_list() == [False, True, True]
    assert calls["conversation_id"].to_list() == ["resp_warm"] * 3
    assert calls["tool_calls"].to_list() == [[], ["read_file"], []]
    assert calls["text_chars"].to_list() == [0, 0, len("fizz_buzz is in fizz.py.")]
    assert calls["ttft_s"].to_list()[1:] == pytest.approx([0.35, 0.3])


def test_chains_reach_across_connections_and_stop_at_an_own_key() -> None:
    """A request continuing a response of an earlier connection (Codex reconnects after 60
    minutes) joins its conversation; a request with a key of its own keeps it."""

    def conn(index: int, t: float, creates: list[dict[str, object]], ids: list[str]) -> Exchange:
        msgs: list[WsMessage] = []
        for n, (create, rid) in enumerate(zip(creates, ids, strict=True)):
            base = t + 10 * n
            msgs += [
                _msg(True, {"type": "response.create", "model": "m", "input": [], **create}, base),
                _msg(False, {"type": "response.created", "response": {"id": rid}}, base + 0.1),
                _msg(
                    False, {"type": "response.completed", "response": {"id": rid, "output": []}}, base + 0.2
                ),
            ]
        return Exchange(
            index, "cbor", "GET", "https://api.openai.com/v1/responses", status=101, websocket=msgs
        )

    first = conn(0, 1000.0, [{}, {"previous_response_id": "r1"}], ["r1", "r2"])
    second = conn(1, 5000.0, [{"previous_response_id": "r2"}, {"prompt_cache_key": "mine"}], ["r3", "r4"])
    lone = conn(2, 9000.0, [{}], ["r5"])
    calls = calls_from_exchanges([first, second, lone])
    assert calls["conversation_id"].to_list() == ["r1", "r1", "r1", "mine", None]


def test_messages_outside_any_request_are_one_non_model_call() -> None:
    """Codex's connection limit: an error message after the last response (Codex source,
    responses_websocket.rs tests)."""
    limit = {
        "type": "error",
        "status": 400,
        "error": {
            "type": "invalid_request_error",
            "code": "websocket_connection_limit_reached",
            "message": "Responses websocket connection limit reached (60 minutes). "
            "Create a new websocket connection to continue.",
        },
    }
    msgs = [
        _msg(True, {"type": "response.create", "model": "gpt-5.2-codex", "input": "hi"}, 1.0),
        _msg(False, {"type": "response.created", "response": {"id": "r1"}}, 1.2),
        _msg(
            False,
            {"type": "response.output_item.added", "output_index": 0, "item": {"type": "message", "id": "m"}},
            1.3,
        ),
        _msg(
            False,
            {"type": "response.output_text.delta", "output_index": 0, "item_id": "m", "delta": "hello"},
            1.4,
        ),
        _msg(False, {"type": "response.completed", "response": {"id": "r1", "output": []}}, 1.5),
        _msg(False, limit, 3600.0),
    ]
    ex = Exchange(
        0, "mitm", "GET", "https://chatgpt.com/backend-api/codex/responses", status=101, websocket=msgs
    )
    parts = split_connection(ex)
    assert [p.kind for p in parts] == ["response.create", "connection"]
    calls = calls_from_exchanges([ex])
    assert calls["is_model_call"].to_list() == [True, False]
    assert calls["issue_class"].to_list() == [None, "client_error"]
    assert calls["error"].to_list()[1].startswith("invalid_request_error/websocket_connection_limit_reached")
    assert calls["text_chars"].to_list() == [5, 0] and calls["complete"].to_list() == [True, True]


def test_a_request_cut_by_the_end_of_the_capture_or_the_connection() -> None:
    msgs = [
        _msg(True, {"type": "response.create", "model": "m", "input": "a"}, 1.0),
        _msg(False, {"type": "response.created", "response": {"id": "r1"}}, 1.1),
        _msg(False, {"type": "response.completed", "response": {"id": "r1", "output": []}}, 1.2),
        _msg(
            True, {"type": "response.create", "model": "m", "input": "b", "previous_response_id": "r1"}, 2.0
        ),
        _msg(False, {"type": "response.created", "response": {"id": "r2"}}, 2.1),
        _msg(
            False,
            {"type": "response.output_item.added", "output_index": 0, "item": {"type": "message", "id": "m"}},
            2.2,
        ),
        _msg(
            False,
            {"type": "response.output_text.delta", "output_index": 0, "item_id": "m", "delta": "par"},
            2.3,
        ),
    ]
    url = "https://api.openai.com/v1/responses"
    running = Exchange(0, "cbor", "GET", url, status=101, websocket=msgs)  # no end: the capture stopped
    calls = calls_from_exchanges([running])
    assert calls["complete"].to_list() == [True, False]
    assert calls["issue_class"].to_list() == [None, "cut_stream"]
    assert calls["response_body_fidelity"].to_list() == ["complete", "truncated"]
    assert calls["text_chars"].to_list() == [0, 3]
    closed = Exchange(
        0, "cbor", "GET", url, status=101, websocket=msgs, ended_at=9.0, error="WebSocket closed (1006)"
    )
    calls = calls_from_exchanges([closed])
    assert calls["error"].to_list() == [None, "WebSocket closed (1006)"]  # the request it cut
    assert calls["ended_at"].to_list() == [pytest.approx(1.2), pytest.approx(9.0)]
    assert calls["response_body_fidelity"].to_list() == ["complete", "complete"]


def test_nested_create_append_and_other_websockets() -> None:
    """`{"type": "response.create", "response": {...}}` (fields nested) and Codex's older
    `response.append` are requests too; a WebSocket that is not the Responses API stays one call."""
    msgs = [
        _msg(True, {"type": "response.create", "response": {"model": "gpt-x", "input": "hi"}}, 1.0),
        _msg(False, {"type": "response.completed", "response": {"id": "r1", "output": []}}, 1.5),
        _msg(True, {"type": "response.append", "input": [{"role": "user", "content": "more"}]}, 2.0),
        _msg(False, {"type": "response.completed", "response": {"id": "r2", "output": []}}, 2.4),
    ]
    ex = Exchange(0, "har", "GET", "https://api.openai.com/v1/responses", status=101, websocket=msgs)
    parts = split_connection(ex)
    assert [p.kind for p in parts] == ["response.create", "response.append"]
    assert orjson.loads(parts[0].exchange.request_body or b"") == {"model": "gpt-x", "input": "hi"}
    assert parts[0].exchange.request_body_fidelity == "json_value"
    calls = calls_from_exchanges([ex])
    assert calls["model"].to_list()[0] == "gpt-x" and calls["duration_s"].to_list() == pytest.approx(
        [0.5, 0.4]
    )
    echo = Exchange(
        1,
        "cbor",
        "GET",
        "https://example.com/ws",
        status=101,
        websocket=[_msg(True, {"type": "hello"}, 1.0), _msg(False, {"type": "hi"}, 1.1)],
    )
    assert split_connection(echo) == []
    one = calls_from_exchanges([echo])
    assert one.height == 1 and one["response_kind"].to_list() == ["websocket"]
    assert calls_from_exchanges([ex, echo]).height == 3
    assert calls_from_exchanges([echo])["is_model_call"].dtype == pl.Boolean
