"""The leak scan of a CBOR capture reads every streamed body whole as well as entry by entry, so a
secret split between two chunks (or inside a gzip-encoded stream) is found; and
`redact_fields_text`, the field rule for text that need not parse as JSON."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import cbor2
import pytest
from fastcap.secrets.leakscan import scan_paths
from fastcap.secrets.redact import DEFAULT, redact_fields_text

KEY = "sk-ant-api03-" + "FAKEfake0123" * 3


def _write(path: Path, entries: list[dict[str, Any]]) -> Path:
    with path.open("wb") as fh:
        fh.write(cbor2.dumps({"magic": "LLMPROXY-CAPTURE-V2", "version": 2, "session_id": "t"}))
        for seq, e in enumerate(entries):
            fh.write(cbor2.dumps({"ts": 1.0 + seq, "dir": 3, "seq": seq, **e}))
    return path


def _stream(
    body: bytes, cut: int, *, hdrs: str = "content-type: text/event-stream\r\n", end: bool = True
) -> list[dict[str, Any]]:
    entries = [
        {"data": b"", "meta": {"rid": "r1", "ss": True, "hdrs": hdrs}},
        {"data": body[:cut], "meta": {"rid": "r1", "ci": 1}},
        {"data": body[cut:], "meta": {"rid": "r1", "ci": 2}},
    ]
    if end:
        entries.append({"data": b"", "meta": {"rid": "r1", "se": True, "tc": 2}})
    return entries


@pytest.mark.parametrize("end", [True, False], ids=["ended", "cut"])
def test_secret_split_between_chunks(tmp_path: Path, end: bool) -> None:
    body = f'data: {{"type":"x","note":"{KEY}"}}\n\n'.encode()
    at = body.index(b"sk-ant") + 10
    found = scan_paths([_write(tmp_path / "s.cbor", _stream(body, at, end=end))])
    assert "Anthropic key / OAuth token" in {f.pattern for f in found}
    assert {f.line for f in found} == {3}  # the entry of the stream's first chunk (header = 1)


def test_chunks_out_of_file_order_and_field_split(tmp_path: Path) -> None:
    body = b'{"access_token": "abcdef0123456789", "token_type": "bearer"}'
    entries = _stream(body, body.index(b"abcdef") + 3, hdrs="content-type: application/json\r\n")
    entries[1], entries[2] = entries[2], entries[1]  # written out of order: reassembled by `ci`
    found = scan_paths([_write(tmp_path / "f.cbor", entries)])
    assert [f.pattern for f in found] == ["un-redacted field access_token"]


def test_gzip_encoded_stream(tmp_path: Path) -> None:
    comp = zlib.compressobj(wbits=31)
    body = comp.compress(f'data: {{"k":"{KEY}"}}\n\n'.encode()) + comp.flush()
    entries = _stream(
        body, len(body) // 2, hdrs="content-type: text/event-stream\r\ncontent-encoding: gzip\r\n"
    )
    found = scan_paths([_write(tmp_path / "g.cbor", entries)])
    assert "Anthropic key / OAuth token" in {f.pattern for f in found}


def test_each_finding_once(tmp_path: Path) -> None:
    body = f"data: {KEY}\n\n".encode()
    found = scan_paths([_write(tmp_path / "o.cbor", _stream(body, 2))])  # whole in chunk 2 and the stream
    assert sorted((f.line, f.pattern) for f in found) == [
        (3, "Anthropic key / OAuth token"),
        (3, "generic sk- key"),
    ]


def test_redact_fields_text() -> None:
    pretty = '{\n  "access_token": "abc",\n  "expires_in": 3600,\n  "x-api-key": 12345\n}'
    out = redact_fields_text(pretty)
    assert out == '{\n  "access_token": "[REDACTED]",\n  "expires_in": 3600,\n  "x-api-key": "[REDACTED]"\n}'
    cut = '{"token_type": "Bearer", "refresh_token": "1//0abcdefgh'
    assert redact_fields_text(cut) == '{"token_type": "Bearer", "refresh_token": "[REDACTED]'
    assert redact_fields_text('{"password": "[REDACTED]"}') == '{"password": "[REDACTED]"}'
    oauth = '{"code": "4/0Abc", "state": "s"}'
    assert redact_fields_text(oauth) is oauth  # `code` is secret on OAuth paths only
    assert '"code": "[REDACTED]"' in redact_fields_text(oauth, DEFAULT, url="https://x.test/oauth/token")
    plain = "nothing secret here " * 10
    assert redact_fields_text(plain) is plain
