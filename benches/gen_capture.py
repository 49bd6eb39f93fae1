"""Deterministic CBOR V2 captures of any size, in two shapes.

`shape="synthetic"` (the default; CI benchmark gates and tests are calibrated on its bytes): each
request is a four-leg gateway exchange (the reference inspector's workload, docs/specs/cbor-v2.md
§11.1): a C->P JSON request of a few KB to ~20 KB (zlib-compressed when it shrinks), the P->B
HTTP request text, B->P stream-start marker, 20–120 SSE chunks of 50–400 bytes (Anthropic, OpenAI
Chat or OpenAI Responses shaped), stream-end marker and completion entry, and the same chunks on
P->C. Every 40th request is an HTTP 429 instead of a stream.

`shape="real"`: what the reference gateway's files look like.

* Agent sessions (a few open at once, requests interleaved between them) with a system prompt,
  tools and a growing history; each request is C->P (the client's dialect, gateway URL), P->B (the
  backend's dialect, provider URL, HTTP framing), the B->P stream and the same stream recorded a
  second time on P->C. In ~30 % of requests the backend speaks another dialect and the client
  stream is a translation (same text, same tool call), e.g. an Anthropic stream re-emitted as
  OpenAI Chat chunks in which, as gateways do, the tool call's `id` and `function.name` are
  repeated in every delta.
* Most streams are abandoned after the event carrying the finish reason (Anthropic
  `message_delta` with `stop_reason`, Chat chunk with `finish_reason` (+ its usage chunk, same
  read), Responses `response.completed`): no terminal event (`message_stop`, `[DONE]`), no
  stream-end marker, only the EoS entry (`eos_sig` `finish_reason` / `response_completed`).
  ~12 % run to their end (terminal event, `se` markers on both legs), ~3 % are cut mid-content
  (no finish reason, no marker, no EoS entry).
* 75–80 % of entries zlib-compressed (uncompressed: markers and the short Anthropic events;
  OpenAI chunks always exceed the 128-byte threshold), steered to `_TARGET_SHARE` whatever the
  dialect mix.
* Entries written in batches (50 entries or one second, as the reference writer flushes); about
  one batch in 100 reaches the file after its successor (`ts` and `seq` stay true, so file order
  differs from time order there, docs/specs/cbor-v2.md §7).
* Usage as the APIs report it (Anthropic `message_start` input / cache read / cache creation and
  `message_delta` output tokens; Chat final usage with `prompt_tokens_details.cached_tokens`;
  Responses `input_tokens_details.cached_tokens`), tool calls in ~30 % of responses, the first
  chunk 0.3–2 s after the request (`ttfb` on it) and the next ones tens of ms apart, ~2.5 % of
  requests answered 429 and retried.

    python benches/gen_capture.py OUT.cbor --size-mb 40 [--shape real] [--seed 7]
"""

# ruff: noqa: UP031  (the SSE/JSON templates below use %-formatting: no doubled braces)
from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import BinaryIO

from fastcap import _native

WORDS = (
    "the",
    "parser",
    "fails",
    "because",
    "newline",
    "test",
    "fix",
    "function",
    "returns",
    "value",
    "käse",
    "naïve",
    "→",
)


def _delta_chunks(rng: random.Random, kind: int, n: int) -> list[bytes]:
    out = []
    if kind == 0:
        out.append(
            b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",'
            b'"content":[],"model":"claude-sonnet-4-5","usage":{"input_tokens":900,"cache_read_input_tokens":4096,"output_tokens":1}}}\n\n'
            b'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n'
        )
    elif kind == 2:
        out.append(
            b'event: response.created\ndata: {"type":"response.created","response":{"id":"resp_1","status":"in_progress","model":"gpt-5-codex"}}\n\n'
            b'event: response.output_item.added\ndata: {"type":"response.output_item.added","output_index":0,'
            b'"item":{"type":"message","id":"msg_1","role":"assistant","content":[]}}\n\n'
        )
    for i in range(n):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 40)))
        if kind == 0:
            ev = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}}
            out.append(f"event: content_block_delta\ndata: {json.dumps(ev, ensure_ascii=False)}\n\n".encode())
        elif kind == 1:
            ev = {
                "id": "chatcmpl-x",
                "object": "chat.completion.chunk",
                "model": "gpt-4o-mini",
                "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
            }
            out.append(f"data: {json.dumps(ev, ensure_ascii=False)}\n\n".encode())
        else:
            ev = {
                "type": "response.output_text.delta",
                "sequence_number": i,
                "item_id": "msg_1",
                "output_index": 0,
                "content_index": 0,
                "delta": text,
            }
            out.append(
                f"event: response.output_text.delta\ndata: {json.dumps(ev, ensure_ascii=False)}\n\n".encode()
            )
    if kind == 0:
        out.append(
            b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":321}}\n\n'
            b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
        )
    elif kind == 1:
        out.append(
            b'data: {"id":"chatcmpl-x","object":"chat.completion.chunk","model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n'
        )
    else:
        out.append(
            b'event: response.completed\ndata: {"type":"response.completed","response":{"status":"completed","usage":{"input_tokens":900,"output_tokens":321,"total_tokens":1221}}}\n\n'
        )
    return out


_MAP6 = 0xA6  # an entry map of six keys: ts, dir, seq, data, enc, meta (five without `enc`)


def _generate_synthetic(path: Path, size_mb: float, seed: int) -> dict[str, int]:
    """The original mix (kept byte for byte: CI benchmark gates and tests are calibrated on it)."""
    rng = random.Random(seed)
    target = int(size_mb * (1 << 20))
    backends = ("anthropic", "openai", "openai-responses")
    models = ("claude-sonnet-4-5", "gpt-4o-mini", "gpt-5-codex")
    urls = (
        "https://api.anthropic.com/v1/messages",
        "https://api.openai.com/v1/chat/completions",
        "https://api.openai.com/v1/responses",
    )
    ts = 1_763_700_000.0
    seq = 0
    requests = entries = compressed = 0
    with open(path, "wb") as f:
        written = f.write(_native.encode_capture_header("bench-session", ts))

        def put(direction: int, data: bytes, meta: dict[str, object]) -> None:
            nonlocal seq, written, entries, compressed
            entry = _native.encode_capture_entry(ts, direction, seq, data, meta)
            written += f.write(entry)
            compressed += entry[0] == _MAP6  # ts, dir, seq, data, enc, meta
            seq += 1
            entries += 1

        while written < target:
            kind = requests % 3
            rid = f"req-{requests:07d}"
            sid = f"sess-{requests // 25:05d}"
            be, model, url = backends[kind], models[kind], urls[kind]
            history = [
                {
                    "role": "user" if i % 2 == 0 else "assistant",
                    "content": " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 200))),
                }
                for i in range(rng.randint(2, 30))
            ]
            body = json.dumps(
                {"model": model, "stream": True, "max_tokens": 8192, "messages": history}, ensure_ascii=False
            ).encode()
            put(
                0,
                body,
                {
                    "sid": sid,
                    "be": "client",
                    "mod": model,
                    "rid": rid,
                    "wire_schema": "v2",
                    "transport": "http",
                    "event": "request",
                    "http_method": "POST",
                    "url": url,
                },
            )
            ts += 0.005
            head = f"POST {url.split('/', 3)[3]} HTTP/1.1\r\nhost: {url.split('/')[2]}\r\nauthorization: [REDACTED]\r\ncontent-type: application/json\r\n\r\n"
            put(
                2,
                head.encode() + body,
                {
                    "sid": sid,
                    "be": be,
                    "mod": model,
                    "rid": rid,
                    "wire_schema": "v2",
                    "transport": "http",
                    "event": "request",
                    "http_method": "POST",
                    "url": url,
                },
            )
            rts = ts
            if requests % 40 == 39:
                ts += 0.2
                err = b'HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nretry-after: 2\r\n\r\n{"error":{"type":"rate_limit_error","message":"slow down"}}'
                put(
                    3,
                    err,
                    {
                        "sid": sid,
                        "rid": rid,
                        "sc": 429,
                        "ra": 2.0,
                        "rts": rts,
                        "pts": ts,
                        "lat": 200.0,
                        "wire_schema": "v2",
                        "transport": "http",
                        "event": "response",
                        "http_status": 429,
                    },
                )
                put(
                    1,
                    err.split(b"\r\n\r\n", 1)[1],
                    {"sid": sid, "be": be, "rid": rid, "sc": 429, "http_status": 429, "wire_schema": "v2"},
                )
                requests += 1
                continue
            ts += rng.uniform(0.2, 1.5)
            put(
                3,
                b"",
                {
                    "sid": sid,
                    "be": be,
                    "mod": model,
                    "rid": rid,
                    "ss": True,
                    "sc": 200,
                    "rts": rts,
                    "http_status": 200,
                },
            )
            put(1, b"", {"sid": sid, "be": be, "mod": model, "rid": rid, "ss": True, "sc": 200})
            ss = ts
            chunks = _delta_chunks(rng, kind, rng.randint(20, 120))
            for i, chunk in enumerate(chunks, 1):
                ts += rng.uniform(0.005, 0.08)
                meta: dict[str, object] = {"sid": sid, "rid": rid, "ci": i, "sc": 200}
                if i == 1:
                    meta["ttfb"] = (ts - rts) * 1000
                put(3, chunk, meta)
                put(1, chunk, {"sid": sid, "rid": rid, "ci": i, "sc": 200})
            ts += 0.01
            put(
                3,
                b"",
                {
                    "sid": sid,
                    "be": be,
                    "mod": model,
                    "rid": rid,
                    "se": True,
                    "tc": len(chunks),
                    "tb": sum(map(len, chunks)),
                    "sc": 200,
                    "rts": rts,
                    "pts": ts,
                    "lat": (ts - rts) * 1000,
                    "sdur": (ts - ss) * 1000,
                },
            )
            put(
                1,
                b"",
                {
                    "sid": sid,
                    "be": be,
                    "mod": model,
                    "rid": rid,
                    "se": True,
                    "tc": len(chunks),
                    "tb": sum(map(len, chunks)),
                },
            )
            put(
                3,
                b"",
                {
                    "sid": sid,
                    "be": be,
                    "mod": model,
                    "rid": rid,
                    "eos": True,
                    "eos_sig": "done_sentinel",
                    "eos_reason": "stream completed",
                    "eos_term": "normal",
                    "wire_schema": "v2",
                },
            )
            requests += 1
            ts += rng.uniform(0.5, 3.0)
    return {"bytes": written, "entries": entries, "requests": requests, "compressed": compressed}


# --------------------------------------------------------------------------------------------
# shape="real": what the reference gateway's files look like (see the module docstring).

_BATCH_ENTRIES = 50  # the reference writer flushes at 50 entries ...
_FLUSH_INTERVAL = 1.0  # ... or every second (docs/specs/cbor-v2.md §7)
_SWAP_EVERY = 100  # on average one batch in 100 reaches the disk after its successor
_TARGET_SHARE = 0.775  # of entries stored zlib-compressed (the reference gateway's files: 75-80 %)


class _BatchWriter:
    """Entries in write batches as the reference writer makes them (50 entries or one flush
    interval), one batch in about `_SWAP_EVERY` written after the batch that follows it."""

    def __init__(self, f: BinaryIO, rng: random.Random) -> None:
        self.f, self.rng = f, rng
        self.seq = self.entries = self.compressed = self.written = 0
        self.batches = self.swapped = 0
        self.buf: list[bytes] = []
        self.buf_t0 = 0.0
        self.held: bytes | None = None
        self.next_swap = rng.randint(1, 2 * _SWAP_EVERY - 1)

    def put(self, ts: float, direction: int, data: bytes, meta: dict[str, object]) -> None:
        if self.buf and (len(self.buf) >= _BATCH_ENTRIES or ts - self.buf_t0 >= _FLUSH_INTERVAL):
            self.flush()
        if not self.buf:
            self.buf_t0 = ts
        entry = _native.encode_capture_entry(ts, direction, self.seq, data, meta)
        self.buf.append(entry)
        self.written += len(entry)
        self.compressed += entry[0] == _MAP6
        self.seq += 1
        self.entries += 1

    def flush(self) -> None:
        if not self.buf:
            return
        batch = b"".join(self.buf)
        self.buf = []
        self.batches += 1
        if self.held is not None:  # the held batch lands after its successor
            self.f.write(batch)
            self.f.write(self.held)
            self.held = None
            self.swapped += 1
        elif self.batches >= self.next_swap:
            self.held = batch
            self.next_swap = self.batches + self.rng.randint(2, 2 * _SWAP_EVERY - 2)
        else:
            self.f.write(batch)

    def close(self) -> None:
        self.flush()
        if self.held is not None:
            self.f.write(self.held)
            self.held = None


_VOCAB_TEXT = """the a an to of and in is that it for on with as this be are we can I will not if you
    file test tests function returns value parser fails because newline fix error line code
    change should now then when where which there here let me check read update run build
    module class method import from return self None True False type list dict string bytes
    config path directory output input request response stream chunk token usage cache model
    backend client proxy session timeout retry status header body json schema field missing
    unexpected expected assert raise exception handler logger debug warning info trace stack
    commit branch merge rebase diff patch review comment docs example benchmark profile memory
    allocation thread async await future loop queue lock index offset length size count total
    first last next previous before after between inside outside above below both each every
    small large fast slow simple complex correct wrong valid invalid empty full partial final
    looks like seems it's don't doesn't I'll we'll that's here's ok great done sure
    src/fastcap/reader.py tests/test_reader.py Cargo.toml pyproject.toml README.md main.rs
    fn pub let mut impl struct enum match Some Ok Err Vec<u8> &str usize u64 f64 ->
    def async with yield lambda print(x) foo() bar(1, 2) x.y self.z len(data) data[0]"""
_VOCAB = (
    *_VOCAB_TEXT.split(),
    "käse",
    "naïve",
    "→",
    "—",
    "\n",
    "\n\n",
    "`x`",
    '"quoted"',
    "C:\\path",
    "{}",
    "[]",
    "日本語",
)

_TOOLS = (
    (
        "Read",
        "Reads a file from the local filesystem. The file_path parameter must be an absolute path. "
        "By default, it reads up to 2000 lines starting from the beginning of the file.",
        {
            "type": "object",
            "properties": {
                "file_path": {"type": "string", "description": "The absolute path to the file to read"},
                "offset": {"type": "number", "description": "The line number to start reading from"},
                "limit": {"type": "number", "description": "The number of lines to read"},
            },
            "required": ["file_path"],
            "additionalProperties": False,
        },
    ),
    (
        "Bash",
        "Executes a given bash command in a persistent shell session with optional timeout, ensuring "
        "proper handling and security measures. Always quote file paths that contain spaces.",
        {
            "type": "object",
            "properties": {
                "command": {"type": "string", "description": "The command to execute"},
                "timeout": {"type": "number", "description": "Optional timeout in milliseconds (max 600000)"},
                "description": {
                    "type": "string",
                    "description": "Clear, concise description of what this command does",
                },
            },
            "required": ["command"],
            "additionalProperties": False,
        },
    ),
    (
        "Edit",
        "Performs exact string replacements in files. You must use your Read tool at least once in the "
        "conversation before editing. The edit will FAIL if old_string is not unique in the file.",
        {
            "type": "object",
            "properties": {
                "file_path": {"type": "string", "description": "The absolute path to the file to modify"},
                "old_string": {"type": "string", "description": "The text to replace"},
                "new_string": {"type": "string", "description": "The text to replace it with"},
                "replace_all": {
                    "type": "boolean",
                    "default": False,
                    "description": "Replace all occurrences",
                },
            },
            "required": ["file_path", "old_string", "new_string"],
            "additionalProperties": False,
        },
    ),
    (
        "Grep",
        "A powerful search tool built on ripgrep. Supports full regex syntax, filters files with glob "
        "or type, and returns matching lines, file paths or counts.",
        {
            "type": "object",
            "properties": {
                "pattern": {"type": "string", "description": "The regular expression to search for"},
                "path": {"type": "string", "description": "File or directory to search in"},
                "glob": {"type": "string", "description": "Glob pattern to filter files"},
            },
            "required": ["pattern"],
            "additionalProperties": False,
        },
    ),
)


def _js(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


_TOOLS_JSON = {
    "anthropic": json.dumps(
        [{"name": n, "description": d, "input_schema": p} for n, d, p in _TOOLS], ensure_ascii=False
    ),
    "chat": json.dumps(
        [
            {"type": "function", "function": {"name": n, "description": d, "parameters": p}}
            for n, d, p in _TOOLS
        ],
        ensure_ascii=False,
    ),
    "responses": json.dumps(
        [
            {"type": "function", "name": n, "description": d, "parameters": p, "strict": False}
            for n, d, p in _TOOLS
        ],
        ensure_ascii=False,
    ),
}
# dialect: (backend name, request model, model named in the stream, provider URL, gateway path)
_DIALECTS = {
    "anthropic": (
        "anthropic",
        "claude-sonnet-4-5",
        "claude-sonnet-4-5-20250929",
        "https://api.anthropic.com/v1/messages",
        "/v1/messages",
    ),
    "chat": (
        "openai",
        "gpt-4.1-mini",
        "gpt-4.1-mini-2025-04-14",
        "https://api.openai.com/v1/chat/completions",
        "/v1/chat/completions",
    ),
    "responses": (
        "openai-responses",
        "gpt-5-codex",
        "gpt-5-codex",
        "https://api.openai.com/v1/responses",
        "/v1/responses",
    ),
}
_CLIENTS = {  # the client dialect a session speaks, its user agent, and its share of sessions
    "anthropic": ("claude-cli/2.0.14 (external, cli)", 0.55),
    "chat": ("OpenAI/Python 1.109.1", 0.25),
    "responses": ("codex_cli_rs/0.46.0 (Ubuntu 24.4.0; x86_64) xterm-256color", 0.2),
}
_FIRST_CLIENTS = ("anthropic", "chat", "anthropic", "responses")  # the first open sessions: every kind
_GATEWAY = "http://127.0.0.1:8000"
_OPEN_SESSIONS = 4  # agents using the gateway at the same time
_HISTORY_CHARS = 30_000  # a session's history is trimmed (oldest turns first) beyond this
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_HEX = "0123456789abcdef"


class _Msg:
    """One turn of a session's history, rendered once per dialect on demand."""

    __slots__ = ("cache", "kind", "text", "tool")

    def __init__(self, kind: str, text: str, tool: tuple[str, str, str] | None = None) -> None:
        self.kind, self.text, self.tool = kind, text, tool  # tool: (call id, name, arguments JSON)
        self.cache: dict[str, str] = {}

    def render(self, dialect: str) -> str:
        out = self.cache.get(dialect)
        if out is None:
            out = self.cache[dialect] = self._render(dialect)
        return out

    def _render(self, dialect: str) -> str:
        t, tool = self.text, self.tool
        if self.kind == "user":
            if dialect == "anthropic":
                return _js_obj({"role": "user", "content": [{"type": "text", "text": t}]})
            if dialect == "chat":
                return _js_obj({"role": "user", "content": t})
            return _js_obj(
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": t}]}
            )
        if self.kind == "tool_result":
            assert tool is not None
            if dialect == "anthropic":
                result = {"type": "tool_result", "tool_use_id": tool[0], "content": t}
                return _js_obj({"role": "user", "content": [result]})
            if dialect == "chat":
                return _js_obj({"role": "tool", "tool_call_id": tool[0], "content": t})
            return _js_obj({"type": "function_call_output", "call_id": tool[0], "output": t})
        # the assistant's turn: its text and its tool call
        if dialect == "anthropic":
            content: list[dict[str, object]] = [{"type": "text", "text": t}] if t else []
            if tool:
                content.append(
                    {"type": "tool_use", "id": tool[0], "name": tool[1], "input": json.loads(tool[2])}
                )
            return _js_obj({"role": "assistant", "content": content})
        if dialect == "chat":
            msg: dict[str, object] = {"role": "assistant", "content": t or None}
            if tool:
                call = {
                    "id": tool[0],
                    "type": "function",
                    "function": {"name": tool[1], "arguments": tool[2]},
                }
                msg["tool_calls"] = [call]
            return _js_obj(msg)
        items = []
        if t:
            part = {"type": "output_text", "text": t, "annotations": []}
            items.append(_js_obj({"type": "message", "role": "assistant", "content": [part]}))
        if tool:
            items.append(
                _js_obj({"type": "function_call", "call_id": tool[0], "name": tool[1], "arguments": tool[2]})
            )
        return ",".join(items)

    def size(self) -> int:
        return len(self.text) + (len(self.tool[2]) if self.tool else 0) + 60


def _js_obj(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _request_body(dialect: str, model: str, system: str, history: list[_Msg]) -> bytes:
    msgs = ",".join(filter(None, (m.render(dialect) for m in history)))
    tools = _TOOLS_JSON[dialect]
    if dialect == "anthropic":
        sys_block = '[{"type":"text","text":%s,"cache_control":{"type":"ephemeral"}}]' % _js(system)
        body = '{"model":"%s","max_tokens":32000,"system":%s,"messages":[%s],"tools":%s,"stream":true}' % (
            model,
            sys_block,
            msgs,
            tools,
        )
    elif dialect == "chat":
        body = (
            '{"model":"%s","messages":[{"role":"system","content":%s},%s],"tools":%s,"stream":true,'
            '"stream_options":{"include_usage":true}}' % (model, _js(system), msgs, tools)
        )
    else:
        body = (
            '{"model":"%s","instructions":%s,"input":[%s],"tools":%s,"tool_choice":"auto",'
            '"parallel_tool_calls":false,"store":false,"stream":true}' % (model, _js(system), msgs, tools)
        )
    return body.encode()


class _Response:
    """The content of one streamed response, independent of its dialect: the same text and tool
    call are rendered for the backend and, translated or not, for the client."""

    def __init__(self, rng: random.Random, rid: str, created: int, model: str) -> None:
        self.rid, self.created, self.model = rid, created, model
        self.deltas: list[str] = []
        self.text = ""
        self.tool: tuple[str, str, str] | None = None  # (call id, name, arguments JSON)
        self.tool_frags: list[str] = []
        self.fc_id = "fc_" + "".join(rng.choices(_HEX, k=48))
        self.msg_item_id = "msg_" + "".join(rng.choices(_HEX, k=48))
        self.anthropic_id = "msg_01" + "".join(rng.choices(_ALNUM, k=22))
        self.chat_id = "chatcmpl-" + "".join(rng.choices(_ALNUM, k=29))
        self.resp_id = "resp_" + "".join(rng.choices(_HEX, k=48))
        self.fingerprint = "fp_" + "".join(rng.choices(_HEX, k=10))
        # usage (tokens): prompt total, cache read, cache write, output, reasoning; first output
        self.prompt = self.cache_read = self.cache_write = self.output = self.reasoning = 0
        self.start_output = rng.randint(1, 8)

    def stop_reason(self, dialect: str) -> str:
        if dialect == "anthropic":
            return "tool_use" if self.tool else "end_turn"
        return "tool_calls" if self.tool else "stop"

    def events(self) -> list[tuple[str, int]]:
        """Abstract stream events: (kind, index into deltas / tool fragments)."""
        ev: list[tuple[str, int]] = [("start", 0)]
        if self.deltas:
            ev += [("text_start", 0), ("ping", 0)]
            ev += [("text", i) for i in range(len(self.deltas))]
            ev.append(("text_end", 0))
        if self.tool:
            ev.append(("tool_start", 0))
            ev += [("tool_args", i) for i in range(len(self.tool_frags))]
            ev.append(("tool_end", 0))
        ev += [("finish", 0), ("terminal", 0)]
        return ev


class _Anthropic:
    def __init__(self, r: _Response, native: bool) -> None:
        self.r, self.native = r, native
        self.tool_index = 1 if r.deltas else 0

    def __call__(self, kind: str, i: int) -> str:
        r = self.r
        if kind == "text":
            return (
                'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
                '"delta":{"type":"text_delta","text":%s}}\n\n' % _js(r.deltas[i])
            )
        if kind == "tool_args":
            return (
                'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,'
                '"delta":{"type":"input_json_delta","partial_json":%s}}\n\n'
                % (self.tool_index, _js(r.tool_frags[i]))
            )
        if kind == "start":
            uncached = r.prompt - r.cache_read - r.cache_write
            return (
                'event: message_start\ndata: {"type":"message_start","message":{"model":"%s","id":"%s",'
                '"type":"message","role":"assistant","content":[],"stop_reason":null,"stop_sequence":null,'
                '"usage":{"input_tokens":%d,"cache_creation_input_tokens":%d,"cache_read_input_tokens":%d,'
                '"cache_creation":{"ephemeral_5m_input_tokens":%d,"ephemeral_1h_input_tokens":0},'
                '"output_tokens":%d,"service_tier":"standard"}}}\n\n'
                % (
                    r.model,
                    r.anthropic_id,
                    uncached,
                    r.cache_write,
                    r.cache_read,
                    r.cache_write,
                    r.start_output,
                )
            )
        if kind == "text_start":
            return (
                'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
                '"content_block":{"type":"text","text":""}}\n\n'
            )
        if kind == "ping":
            return 'event: ping\ndata: {"type": "ping"}\n\n' if self.native else ""
        if kind in ("text_end", "tool_end"):
            index = 0 if kind == "text_end" else self.tool_index
            return 'event: content_block_stop\ndata: {"type":"content_block_stop","index":%d}\n\n' % index
        if kind == "tool_start":
            assert r.tool is not None
            return (
                'event: content_block_start\ndata: {"type":"content_block_start","index":%d,'
                '"content_block":{"type":"tool_use","id":"%s","name":"%s","input":{}}}\n\n'
                % (self.tool_index, r.tool[0], r.tool[1])
            )
        if kind == "finish":
            return (
                'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"%s",'
                '"stop_sequence":null},"usage":{"output_tokens":%d}}\n\n'
                % (r.stop_reason("anthropic"), r.output)
            )
        return 'event: message_stop\ndata: {"type":"message_stop"}\n\n'  # terminal


class _Chat:
    """OpenAI Chat Completions chunks; `native` as OpenAI sends them, else as a gateway re-emits
    them (slimmer, and the tool call's `id` and `function.name` repeated in every delta)."""

    def __init__(self, r: _Response, native: bool) -> None:
        self.r, self.native = r, native
        if native:
            self.head = (
                'data: {"id":"%s","object":"chat.completion.chunk","created":%d,"model":"%s",'
                '"service_tier":"default","system_fingerprint":"%s","choices":[{"index":0,"delta":'
                % (r.chat_id, r.created, r.model, r.fingerprint)
            )
            self.tail = ',"logprobs":null,"finish_reason":null}],"usage":null}\n\n'
        else:
            self.head = (
                'data: {"id":"chatcmpl-%s","object":"chat.completion.chunk","created":%d,"model":"%s",'
                '"choices":[{"index":0,"delta":' % (r.rid, r.created, r.model)
            )
            self.tail = ',"finish_reason":null}]}\n\n'

    def usage(self) -> str:
        r = self.r
        return (
            '{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,"prompt_tokens_details":'
            '{"cached_tokens":%d,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":%d,'
            '"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}'
            % (r.prompt, r.output, r.prompt + r.output, r.cache_read, r.reasoning)
        )

    def __call__(self, kind: str, i: int) -> str:
        r = self.r
        if kind == "text":
            return self.head + '{"content":%s}' % _js(r.deltas[i]) + self.tail
        if kind == "tool_args":
            assert r.tool is not None
            frag = _js(r.tool_frags[i])
            if self.native:
                delta = '{"tool_calls":[{"index":0,"function":{"arguments":%s}}]}' % frag
            else:
                delta = (
                    '{"tool_calls":[{"index":0,"id":"%s","type":"function","function":{"name":"%s","arguments":%s}}]}'
                    % (
                        r.tool[0],
                        r.tool[1],
                        frag,
                    )
                )
            return self.head + delta + self.tail
        if kind == "start":
            delta = (
                '{"role":"assistant","content":"","refusal":null}' if self.native else '{"role":"assistant"}'
            )
            return self.head + delta + self.tail
        if kind == "tool_start":
            assert r.tool is not None
            delta = (
                '{"tool_calls":[{"index":0,"id":"%s","type":"function","function":{"name":"%s","arguments":""}}]}'
                % (
                    r.tool[0],
                    r.tool[1],
                )
            )
            return self.head + delta + self.tail
        if kind == "finish":
            reason = r.stop_reason("chat")
            if self.native:  # finish chunk and usage chunk, sent back to back (one read)
                return (
                    self.head
                    + '{},"logprobs":null,"finish_reason":"%s"}],"usage":null}\n\n' % reason
                    + 'data: {"id":"%s","object":"chat.completion.chunk","created":%d,"model":"%s",'
                    '"service_tier":"default","system_fingerprint":"%s","choices":[],"usage":%s}\n\n'
                    % (r.chat_id, r.created, r.model, r.fingerprint, self.usage())
                )
            return self.head + '{},"finish_reason":"%s"}],"usage":%s}\n\n' % (reason, self.usage())
        if kind == "terminal":
            return "data: [DONE]\n\n"
        return ""  # text_start, ping, text_end, tool_end


class _Responses:
    def __init__(self, r: _Response, native: bool) -> None:
        del native
        self.r = r
        self.n = 0  # sequence_number
        self.tool_index = 1 if r.deltas else 0

    def ev(self, name: str, body: str) -> str:
        self.n += 1
        return 'event: %s\ndata: {"type":"%s","sequence_number":%d,%s}\n\n' % (name, name, self.n - 1, body)

    def response(self, status: str) -> str:
        r = self.r
        if status == "completed":
            output = []
            if r.deltas:
                output.append(self.message_item("completed"))
            if r.tool:
                output.append(self.tool_item("completed"))
            usage = (
                '{"input_tokens":%d,"input_tokens_details":{"cached_tokens":%d},"output_tokens":%d,'
                '"output_tokens_details":{"reasoning_tokens":%d},"total_tokens":%d}'
                % (r.prompt, r.cache_read, r.output, r.reasoning, r.prompt + r.output)
            )
        else:
            output, usage = [], "null"
        return (
            '{"id":"%s","object":"response","created_at":%d,"status":"%s","background":false,"error":null,'
            '"incomplete_details":null,"instructions":null,"max_output_tokens":null,"model":"%s","output":[%s],'
            '"parallel_tool_calls":false,"previous_response_id":null,"reasoning":{"effort":"medium","summary":null},'
            '"store":false,"temperature":1.0,"text":{"format":{"type":"text"},"verbosity":"medium"},'
            '"tool_choice":"auto","tools":[],"top_p":1.0,"truncation":"disabled","usage":%s}'
            % (r.resp_id, r.created, status, r.model, ",".join(output), usage)
        )

    def message_item(self, status: str) -> str:
        content = '{"type":"output_text","annotations":[],"logprobs":[],"text":%s}' % _js(self.r.text)
        return '{"id":"%s","type":"message","status":"%s","content":[%s],"role":"assistant"}' % (
            self.r.msg_item_id,
            status,
            content if status == "completed" else "",
        )

    def tool_item(self, status: str) -> str:
        r = self.r
        assert r.tool is not None
        args = r.tool[2] if status == "completed" else ""
        return (
            '{"id":"%s","type":"function_call","status":"%s","arguments":%s,"call_id":"%s","name":"%s"}'
            % (
                r.fc_id,
                status,
                _js(args),
                r.tool[0],
                r.tool[1],
            )
        )

    def __call__(self, kind: str, i: int) -> str:
        r = self.r
        if kind == "text":
            return self.ev(
                "response.output_text.delta",
                '"item_id":"%s","output_index":0,"content_index":0,"delta":%s,"logprobs":[]'
                % (r.msg_item_id, _js(r.deltas[i])),
            )
        if kind == "tool_args":
            return self.ev(
                "response.function_call_arguments.delta",
                '"item_id":"%s","output_index":%d,"delta":%s'
                % (r.fc_id, self.tool_index, _js(r.tool_frags[i])),
            )
        if kind == "start":
            return self.ev("response.created", '"response":' + self.response("in_progress")) + self.ev(
                "response.in_progress", '"response":' + self.response("in_progress")
            )
        if kind == "text_start":
            return self.ev(
                "response.output_item.added", '"output_index":0,"item":' + self.message_item("in_progress")
            ) + self.ev(
                "response.content_part.added",
                '"item_id":"%s","output_index":0,"content_index":0,"part":{"type":"output_text","annotations":[],'
                '"logprobs":[],"text":""}' % r.msg_item_id,
            )
        if kind == "text_end":
            text = _js(r.text)
            return (
                self.ev(
                    "response.output_text.done",
                    '"item_id":"%s","output_index":0,"content_index":0,"text":%s,"logprobs":[]'
                    % (r.msg_item_id, text),
                )
                + self.ev(
                    "response.content_part.done",
                    '"item_id":"%s","output_index":0,"content_index":0,"part":{"type":"output_text",'
                    '"annotations":[],"logprobs":[],"text":%s}' % (r.msg_item_id, text),
                )
                + self.ev(
                    "response.output_item.done", '"output_index":0,"item":' + self.message_item("completed")
                )
            )
        if kind == "tool_start":
            return self.ev(
                "response.output_item.added",
                '"output_index":%d,"item":%s' % (self.tool_index, self.tool_item("in_progress")),
            )
        if kind == "tool_end":
            assert r.tool is not None
            return self.ev(
                "response.function_call_arguments.done",
                '"item_id":"%s","output_index":%d,"arguments":%s'
                % (r.fc_id, self.tool_index, _js(r.tool[2])),
            ) + self.ev(
                "response.output_item.done",
                '"output_index":%d,"item":%s' % (self.tool_index, self.tool_item("completed")),
            )
        if kind == "finish":
            return self.ev("response.completed", '"response":' + self.response("completed"))
        return ""  # ping; terminal: response.completed is the last event of a Responses stream


_RENDERERS = {"anthropic": _Anthropic, "chat": _Chat, "responses": _Responses}


def _words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choices(_VOCAB, k=n))


def _tool_call(rng: random.Random) -> tuple[str, dict[str, object]]:
    name = rng.choice(("Read", "Read", "Bash", "Edit", "Grep"))
    w = rng.choice
    if name == "Read":
        return name, {"file_path": f"/repo/src/{w(_VOCAB[:80])}/{w(_VOCAB[:80])}.py"}
    if name == "Bash":
        return name, {
            "command": f"cd /work && python -m pytest -q tests/test_{w(_VOCAB[:80])}.py -k {w(_VOCAB[:80])}",
            "description": "Run the " + _words(rng, rng.randint(2, 6)) + " tests",
        }
    if name == "Edit":
        return name, {
            "file_path": f"/repo/src/{w(_VOCAB[:80])}.py",
            "old_string": _words(rng, rng.randint(5, 60)),
            "new_string": _words(rng, rng.randint(5, 80)),
        }
    return name, {"pattern": f"def {w(_VOCAB[:80])}", "path": "src", "glob": "*.py"}


def _split(rng: random.Random, s: str, lo: int, hi: int) -> list[str]:
    out, i = [], 0
    while i < len(s):
        j = i + rng.randint(lo, hi)
        out.append(s[i:j])
        i = j
    return out


class _Session:
    """An agent session: one client dialect, a system prompt and a growing history."""

    def __init__(self, rng: random.Random, n: int, anthropic_weight: float) -> None:
        self.sid = f"sess-{n:05d}"
        self.left = rng.randint(3, 20)  # requests still to come
        self.turns = 0
        if n < len(_FIRST_CLIENTS):
            self.client = _FIRST_CLIENTS[n]
        else:
            weights = [anthropic_weight if d == "anthropic" else w for d, (_, w) in _CLIENTS.items()]
            self.client = rng.choices(tuple(_CLIENTS), weights=weights)[0]
        self.ua = _CLIENTS[self.client][0]
        self.system = _words(rng, rng.randint(200, 900))
        self.history = [_Msg("user", _words(rng, rng.randint(20, 150)))]
        self.prev_prompt = 0
        self.pending_tool: tuple[str, str, str] | None = None
        self.retry = False


def _generate_real(path: Path, size_mb: float, seed: int) -> dict[str, int]:
    rng = random.Random(seed)
    target = int(size_mb * (1 << 20))
    ts = 1_763_700_000.0
    stats = dict.fromkeys(
        (
            "requests",
            "sessions",
            "streams",
            "translated",
            "abandoned",
            "complete",
            "cut",
            "tool_calls",
            "errors",
        ),
        0,
    )
    with open(path, "wb") as f:
        header = f.write(_native.encode_capture_header("proxy-20251121_0440", ts, {"config_file": None}))
        out = _BatchWriter(f, random.Random(rng.random()))
        put = out.put
        sessions: list[_Session] = []
        ses: _Session | None = None
        cut_phase = rng.random()
        while out.written < target:
            # Several agents share the gateway: each request comes from one of a few open sessions
            # (a rate-limited request is retried first), mostly the one of the previous request
            # (the agent's next turn follows the tool run within seconds). Anthropic streams are where uncompressed
            # entries come from (see the text deltas below): while the file's compressed share is
            # above target, the next request more likely comes from an Anthropic session (one is
            # opened if none is), and new sessions and translated requests lean to Anthropic.
            high = out.compressed > (_TARGET_SHARE + 0.005) * out.entries
            sessions = [x for x in sessions if x.left]
            while len(sessions) < _OPEN_SESSIONS or (high and all(x.client != "anthropic" for x in sessions)):
                sessions.append(_Session(rng, stats["sessions"], 100.0 if high else _CLIENTS["anthropic"][1]))
                stats["sessions"] += 1
            busy = [x for x in sessions if x.client == "anthropic"] if high and rng.random() < 0.9 else []
            if not busy and ses in sessions and rng.random() < 0.8:
                busy = [ses]  # an agent mostly runs several turns in a row
            ses = next((x for x in sessions if x.retry), None) or rng.choice(busy or sessions)
            sid, client, ua, system, history = ses.sid, ses.client, ses.ua, ses.system, ses.history
            if ses.turns and not ses.retry:  # the next turn: the tool's result, or the user's next message
                if ses.pending_tool is not None:
                    history.append(_Msg("tool_result", _words(rng, rng.randint(30, 600)), ses.pending_tool))
                else:
                    history.append(_Msg("user", _words(rng, rng.randint(5, 80))))
                while sum(m.size() for m in history) > _HISTORY_CHARS and len(history) > 2:
                    del history[:2]
            ses.turns += 1
            ses.retry = False
            n = stats["requests"]
            stats["requests"] += 1
            rid = f"req-{n:07d}"
            backend_dialect = client
            if rng.random() < 0.30:
                others = [d for d in _DIALECTS if d != client]
                backend_dialect = "anthropic" if high and client != "anthropic" else rng.choice(others)
                stats["translated"] += 1
            be, model, stream_model, url, _ = _DIALECTS[backend_dialect]
            local_url = _GATEWAY + _DIALECTS[client][4]
            cp_body = _request_body(client, model, system, history)
            pb_body = (
                cp_body
                if client == backend_dialect
                else _request_body(backend_dialect, model, system, history)
            )
            put(
                ts,
                0,
                cp_body,
                {
                    "sid": sid,
                    "be": "client",
                    "mod": model,
                    "host": "127.0.0.1",
                    "ua": ua,
                    "rid": rid,
                    "wire_schema": "v2",
                    "transport": "http",
                    "event": "request",
                    "http_method": "POST",
                    "url": local_url,
                },
            )
            rts = ts + rng.uniform(0.002, 0.015)
            host, upath = url.split("/")[2], "/" + url.split("/", 3)[3]
            auth = (
                "x-api-key: [REDACTED]\r\nanthropic-version: 2023-06-01"
                if be == "anthropic"
                else "authorization: [REDACTED]"
            )
            head = (
                f"POST {upath} HTTP/1.1\r\nhost: {host}\r\n{auth}\r\ncontent-type: application/json\r\n"
                f"accept: text/event-stream\r\ncontent-length: {len(pb_body)}\r\n\r\n"
            )
            key = "anthropic-main" if be == "anthropic" else "openai-main"
            put(
                rts,
                2,
                head.encode() + pb_body,
                {
                    "sid": sid,
                    "be": be,
                    "mod": model,
                    "key": key,
                    "rid": rid,
                    "wire_schema": "v2",
                    "transport": "http",
                    "event": "request",
                    "http_method": "POST",
                    "url": url,
                },
            )
            if rng.random() < 0.025:  # rate limited: a non-stream B->P error, the client retries
                stats["errors"] += 1
                ts = rts + rng.uniform(0.05, 0.4)
                err = (
                    b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nretry-after: 2\r\n\r\n"
                    b'{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has '
                    b'exceeded your per-minute rate limit"}}'
                    if be == "anthropic"
                    else b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nretry-after: 2\r\n\r\n"
                    b'{"error":{"message":"Rate limit reached for requests","type":"requests","param":null,'
                    b'"code":"rate_limit_exceeded"}}'
                )
                meta: dict[str, object] = {
                    "sid": sid,
                    "rid": rid,
                    "sc": 429,
                    "ra": 2.0,
                    "rts": rts,
                    "pts": ts,
                    "lat": (ts - rts) * 1000,
                    "wire_schema": "v2",
                    "transport": "http",
                    "event": "response",
                    "http_status": 429,
                    "http_reason": "Too Many Requests",
                    "http_version": "HTTP/1.1",
                }
                put(ts, 3, err, meta)
                put(
                    ts + 0.001,
                    1,
                    err.split(b"\r\n\r\n", 1)[1],
                    {"sid": sid, "be": be, "rid": rid, "sc": 429, "http_status": 429, "wire_schema": "v2"},
                )
                ts += rng.uniform(2.0, 3.0)
                ses.retry = True
                continue

            # The response, dialect-free.
            stats["streams"] += 1
            r = _Response(rng, rid, int(rts), stream_model)
            has_tool = rng.random() < 0.30
            n_words = (rng.randint(0, 30) if rng.random() < 0.8 else 0) if has_tool else rng.randint(15, 250)
            if n_words:
                toks = rng.choices(_VOCAB, k=n_words)
                # Text deltas: OpenAI sends a token or two per chunk (always > 128 bytes, so always
                # compressed); Anthropic a few words, and an Anthropic event with less than ~15
                # characters of text stays under the compression threshold. The mix of small and
                # large Anthropic deltas is steered to keep the file's compressed share at
                # `_TARGET_SHARE` whatever the dialect mix (a file of a few MB has few sessions).
                p_small = -1.0
                if "anthropic" in (backend_dialect, client):
                    share = out.compressed / max(out.entries, 1)
                    p_small = min(0.98, max(0.02, 0.5 + 30 * (share - _TARGET_SHARE)))
                i = 0
                while i < len(toks):
                    if p_small < 0:
                        k = rng.choice((1, 1, 1, 2))
                    else:
                        k = 1 if rng.random() < p_small else rng.randint(4, 10)
                    r.deltas.append((" " if i else "") + " ".join(toks[i : i + k]))
                    i += k
                r.text = "".join(r.deltas)
            if has_tool:
                stats["tool_calls"] += 1
                name, args = _tool_call(rng)
                if backend_dialect == "anthropic":
                    call_id = "toolu_01" + "".join(rng.choices(_ALNUM, k=22))
                else:
                    call_id = "call_" + "".join(rng.choices(_ALNUM, k=24))
                r.tool = (call_id, name, _js_obj(args))
                lo, hi = (3, 30) if backend_dialect == "anthropic" else (2, 10)
                r.tool_frags = _split(rng, r.tool[2], lo, hi)
            r.prompt = len(pb_body) // 4
            if ses.prev_prompt:
                r.cache_read = min(ses.prev_prompt, r.prompt - 5)
            if backend_dialect == "anthropic":
                r.cache_write = max(0, r.prompt - r.cache_read - rng.randint(1, 12))
            else:
                r.cache_read -= r.cache_read % 128  # OpenAI caches in 128-token steps
            ses.prev_prompt = r.prompt
            r.output = (len(r.text) + (len(r.tool[2]) if r.tool else 0)) // 4 + rng.randint(1, 20)
            if backend_dialect == "responses":
                r.reasoning = rng.randint(0, 400)
                r.output += r.reasoning

            # How the stream ends: most are abandoned right after the finish reason (no terminal
            # event, no end marker), a few run to their end, and one in ~33 (evenly spread, so a
            # small file has some too) is cut mid-content.
            if stats["cut"] < int(0.03 * stats["streams"] + cut_phase):
                outcome = "cut"
            else:
                outcome = "complete" if rng.random() < 0.12 else "abandoned"
            stats[outcome] += 1
            events = r.events()
            if outcome == "abandoned":
                events.pop()  # terminal
            elif outcome == "cut":
                content = [j for j, (kind, _) in enumerate(events) if kind in ("text", "tool_args")]
                events = events[: rng.choice(content)] if content else events[:1]

            # Group the events into network reads; events with no backend bytes travel with the next.
            brender = _RENDERERS[backend_dialect](r, True)
            groups: list[tuple[str, list[tuple[str, int]]]] = []
            carry: list[tuple[str, int]] = []
            for ev in events:
                carry.append(ev)
                b = brender(*ev)
                if not b:
                    continue
                if groups and ev[0] not in ("finish", "terminal") and rng.random() < 0.10:
                    groups[-1] = (groups[-1][0] + b, groups[-1][1] + carry)
                else:
                    groups.append((b, carry))
                carry = []
            if carry and groups:
                groups[-1][1].extend(carry)
            translated = backend_dialect != client
            crender = _RENDERERS[client](r, False) if translated else None

            t = rts + 0.3 + 1.7 * rng.random() ** 1.5  # first chunk 0.3-2 s after the request
            ss = t - rng.uniform(0.001, 0.03)
            start = {"sid": sid, "be": be, "mod": model, "rid": rid, "ss": True, "sc": 200}
            put(
                ss,
                3,
                b"",
                {
                    **start,
                    "key": key,
                    "rts": rts,
                    "http_status": 200,
                    "http_reason": "OK",
                    "http_version": "HTTP/1.1",
                },
            )
            put(ss + 0.0005, 1, b"", start)
            tb = cb = cci = 0
            for ci, (b, evs) in enumerate(groups, 1):
                if ci > 1:
                    t += rng.uniform(0.008, 0.07) if rng.random() > 0.03 else rng.uniform(0.2, 1.5)
                data = b.encode()
                meta = {"sid": sid, "rid": rid, "ci": ci, "sc": 200}
                if ci == 1:
                    meta["ttfb"] = (t - rts) * 1000
                put(t, 3, data, meta)
                tb += len(data)
                # The client leg follows within a millisecond (less than the next read's gap, so
                # time order and write order agree; only swapped batches break it).
                tc = t
                if crender is None:
                    cci += 1
                    tc += rng.uniform(0.0001, 0.001)
                    put(tc, 1, data, {"sid": sid, "rid": rid, "ci": cci, "sc": 200})
                    cb += len(data)
                    continue
                for ev in evs:
                    c = crender(*ev)
                    if c:
                        cci += 1
                        tc += rng.uniform(0.0001, 0.001)
                        cdata = c.encode()
                        put(tc, 1, cdata, {"sid": sid, "rid": rid, "ci": cci, "sc": 200})
                        cb += len(cdata)
                t = max(t, tc)
            t += rng.uniform(0.003, 0.02)
            if outcome == "complete":
                put(
                    t,
                    3,
                    b"",
                    {
                        "sid": sid,
                        "be": be,
                        "mod": model,
                        "rid": rid,
                        "se": True,
                        "tc": len(groups),
                        "tb": tb,
                        "sc": 200,
                        "rts": rts,
                        "pts": t,
                        "lat": (t - rts) * 1000,
                        "sdur": (t - ss) * 1000,
                    },
                )
                put(
                    t + 0.0005,
                    1,
                    b"",
                    {"sid": sid, "be": be, "mod": model, "rid": rid, "se": True, "tc": cci, "tb": cb},
                )
            if outcome != "cut":  # the completion entry: what the gateway saw end the stream
                if backend_dialect == "responses":
                    signal = "response_completed"
                else:
                    signal = "finish_reason" if outcome == "abandoned" else "done_sentinel"
                put(
                    t + 0.001,
                    3,
                    b"",
                    {
                        "sid": sid,
                        "be": be,
                        "mod": model,
                        "rid": rid,
                        "eos": True,
                        "eos_sig": signal,
                        "eos_reason": "stream completed",
                        "eos_term": "normal",
                        "wire_schema": "v2",
                    },
                )
            history.append(_Msg("assistant", r.text, r.tool))
            ses.pending_tool = r.tool
            ses.left -= 1
            ts = t + rng.uniform(0.3, 4.0)
        out.close()
    return {
        "bytes": header + out.written,
        "entries": out.entries,
        "compressed": out.compressed,
        "batches": out.batches,
        "swapped_batches": out.swapped,
        **stats,
    }


SHAPES = ("synthetic", "real")


def generate(path: Path, size_mb: float, seed: int = 7, shape: str = "synthetic") -> dict[str, int]:
    """Write a capture of about `size_mb` MiB to `path`; the same arguments give the same bytes.

    Returns counts: `bytes`, `entries`, `requests`, `compressed` (entries stored zlib-compressed)
    and, for `shape="real"`, `streams`, `translated`, `abandoned`, `complete`, `cut`,
    `tool_calls`, `errors`, `sessions`, `batches` and `swapped_batches`."""
    if shape not in SHAPES:
        raise ValueError(f"unknown shape {shape!r} (expected one of {', '.join(SHAPES)})")
    if shape == "synthetic":
        return _generate_synthetic(path, size_mb, seed)
    return _generate_real(path, size_mb, seed)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--size-mb", type=float, default=40)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--shape", choices=SHAPES, default="synthetic")
    args = ap.parse_args()
    t0 = time.perf_counter()
    stats = generate(args.out, args.size_mb, args.seed, shape=args.shape)
    took = time.perf_counter() - t0
    print(
        f"wrote {args.out}: {stats['bytes']:,} bytes, {stats['entries']:,} entries, {stats['requests']:,} requests, "
        f"{stats['compressed'] / max(stats['entries'], 1):.1%} compressed, "
        f"{stats['bytes'] / (1 << 20) / took:.1f} MB/s"
    )
    if args.shape == "real":
        print(", ".join(f"{k} {v:,}" for k, v in stats.items() if k not in ("bytes", "entries", "requests")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
