"""A straightforward pure-Python parser of mitmdump `flow_detail` logs (docs/specs/mitmproxy.md §3.11).

Benchmark baseline for fastcap's Rust parser: the same line classes (regular expressions of
§3.11), the same state machine and the same output fields (client, method, url, versions,
unescaped headers, body texts without the indent, `(cut off)`/missing markers, status, reason,
size, error, termlog context), one dict per flow. It reads the file as text and iterates lines
the ordinary way; nothing is tuned.
"""

from __future__ import annotations

import re
from typing import Any

TERMLOG = re.compile(r"^\[\d{2}:\d{2}:\d{2}\.\d{3}\](\[[^\]]*\])? ")
REQUEST = re.compile(
    r"^(?P<client>\[replay\]|\S+:\d+): (?P<method>[A-Za-z0-9_.-]+)(?P<push> PUSH_PROMISE)? (?P<url>\S+)(?: (?P<ver>HTTP/\S+))?$"
)
RESPONSE = re.compile(
    r"^(?:\[replay\])? *<< (?:(?P<ver>HTTP/\S+) )?(?P<code>\d{3}) (?P<reason>.*?) ?(?P<size>\d+b|\d+(?:\.\d)?[kmgt]|\(content missing\))$"
)
ERROR = re.compile(r"^ << (?P<msg>.+)$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")
ESCAPE = re.compile(rb"\\(\\|x[0-9a-fA-F]{2}|[tnr'])")
_SIMPLE = {b"\\": b"\\", b"t": b"\t", b"n": b"\n", b"r": b"\r", b"'": b"'"}


def unescape(s: str) -> str:
    if "\\" not in s:
        return s
    raw = ESCAPE.sub(
        lambda m: _SIMPLE[m.group(1)] if len(m.group(1)) == 1 else bytes([int(m.group(1)[1:], 16)]),
        s.encode("utf-8"),
    )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _header(line: str) -> tuple[str, str]:
    name, _, value = line.partition(": ")
    return unescape(name), unescape(value)


def _finish_body(lines: list[str]) -> dict[str, Any]:
    cut = bool(lines) and lines[-1] == "(cut off)"
    if cut:
        lines = lines[:-1]
    text = "\n".join(lines)
    return {
        "text": text,
        "cut_off": cut,
        "missing": len(lines) == 1 and lines[0] in ("Content is missing.", "content missing"),
    }


def parse(text: str) -> list[dict[str, Any]]:
    flows: list[dict[str, Any]] = []
    cur: dict[str, Any] | None = None
    state = "none"
    body: list[str] = []
    pending_log: list[str] = []
    if "\x1b" in text:
        text = ANSI.sub("", text)

    def end_body() -> None:
        nonlocal body
        if cur is not None:
            cur["request_body" if state == "req_body" else "response_body"] = _finish_body(body)
        body = []

    for line in text.split("\n"):
        if line.endswith("\r"):
            line = line[:-1]
        if line.startswith("    ") and not (
            cur is not None
            and cur["status"] is None
            and state not in ("req_body", "resp_body")
            and RESPONSE.match(line)
        ):
            content = line[4:]
            if state in ("req_body", "resp_body"):
                body.append(content)
            elif state == "req_after_headers":
                state, body = "req_body", [content]
            elif state == "resp_after_headers":
                state, body = "resp_body", [content]
            elif state == "req_headers" and cur is not None:
                cur["request_headers"].append(_header(content))
            elif state == "resp_headers" and cur is not None:
                cur["response_headers"].append(_header(content))
            continue
        if not line:
            if state == "req_headers":
                state = "req_after_headers"
            elif state == "resp_headers":
                state = "resp_after_headers"
            elif state in ("req_body", "resp_body"):
                end_body()
                state = "req_after_body" if state == "req_body" else "resp_after_body"
            continue
        if state in ("req_body", "resp_body"):
            end_body()
            state = "after_body"
        if TERMLOG.match(line):
            pending_log.append(line)
            continue
        m = RESPONSE.match(line)
        if m and cur is not None and cur["status"] is None and cur["error"] is None:
            cur.update(
                status=int(m.group("code")),
                reason=m.group("reason"),
                size_text=m.group("size"),
                response_version=m.group("ver"),
            )
            state = "resp_headers"
            continue
        m = ERROR.match(line)
        if m and cur is not None and cur["error"] is None:
            cur["error"] = m.group("msg")
            state = "done"
            continue
        m = REQUEST.match(line)
        if m:
            cur = {
                "client": m.group("client"),
                "method": m.group("method"),
                "url": m.group("url"),
                "request_version": m.group("ver"),
                "request_headers": [],
                "request_body": None,
                "status": None,
                "reason": None,
                "size_text": None,
                "response_version": None,
                "response_headers": [],
                "response_body": None,
                "error": None,
                "log_context": pending_log,
            }
            pending_log = []
            flows.append(cur)
            state = "req_headers"
            continue
        # other lines (stderr noise) are skipped
    if state in ("req_body", "resp_body"):
        end_body()
    return flows


def parse_file(path: str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8", errors="replace", newline="") as fh:
        return parse(fh.read())
