"""Base64-encoded secrets (docs/specs/reports.md §6.7): found by the leak scan and removed by free-text
redaction in the standard and URL-safe alphabets, padded or not, at any position of the decoded text,
glued to a path; no false positives on ordinary base64 (images, ids, hashes, encoded prose)."""

from __future__ import annotations

import base64
import random
import time
from pathlib import Path

import orjson
import pytest
from fastcap.secrets.leakscan import scan_paths, scan_text
from fastcap.secrets.patterns import B64_TRIGGER, b64_secret_spans, present_triggers
from fastcap.secrets.redact import DEFAULT, OUTPUT, redact_body, redact_json, redact_text

# Fake credentials of every value pattern (docs/specs/reports.md §6.6).
SECRETS = {
    "anthropic": "sk-ant-api03-" + "FAKEfake0123" * 3,
    "openai": "sk-proj-" + "FAKEfake0123" * 2,
    "aws id": "AKIA" + "FAKEFAKEFAKE1234",
    "aws temp id": "ASIA" + "FAKEFAKEFAKE5678",
    "session": "IQoJ" + "b3JpZ2luX2VjEJr" * 3,
    "sso": "aoa" + "FAKEfake0123" * 2,
    "google": "AIza" + "F" * 35,
    "ya29": "ya29." + "FAKEfake0123" * 2,
    "github": "ghp_" + "a" * 36,
    "jwt": "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0" + ".dozjgNryP4J3jVmNHl0w",
    "bearer": "Bearer " + "tok_9f8e7d6c5b4a3f2e1d0c",
    "hf": "hf_" + "a" * 30,
    "private key": "-----BEGIN RSA PRIVATE KEY-----",
}
ENCODERS = {
    "standard": lambda b: base64.b64encode(b).decode(),
    "standard unpadded": lambda b: base64.b64encode(b).decode().rstrip("="),
    "url-safe": lambda b: base64.urlsafe_b64encode(b).decode(),
    "url-safe unpadded": lambda b: base64.urlsafe_b64encode(b).decode().rstrip("="),
}
# Where the secret sits in the decoded text: every byte alignment (prefixes of 0-3 bytes ending in a
# word boundary, as `\b` patterns need), and after other text.
PREFIXES = ["", ":", "u:", "us:", "user:", "token=", "prefix with spaces and \u00e9 "]


def _encoded(secret: str, prefix: str, encoder: str) -> str:
    return ENCODERS[encoder]((prefix + secret + " tail").encode())


@pytest.mark.parametrize("encoder", list(ENCODERS))
@pytest.mark.parametrize("name", list(SECRETS))
def test_found_and_redacted_in_every_encoding(name: str, encoder: str) -> None:
    for prefix in PREFIXES:
        run = _encoded(SECRETS[name], prefix, encoder)
        for text in (
            f"see {run} here",
            f'{{"blob": "{run}", "n": 1}}',
            f"Authorization: Basic {run}",
            f"GET /v1/keys/{run}?x=1",  # glued to a path: decoded at its own alignment
            f"data:text/plain;base64,{run}",
        ):
            assert B64_TRIGGER in present_triggers(text), (name, encoder, prefix, text)
            found = scan_text(text)
            assert any(f.pattern.startswith("base64 of ") for f in found), (name, encoder, prefix, text)
            red = redact_text(text, OUTPUT)
            assert run not in red and "[REDACTED]" in red
            assert scan_text(red) == [], (text, red)


def test_bodies_and_files(tmp_path: Path) -> None:
    key = ENCODERS["standard"](("sk-ant-api03-" + "FAKEfake0123" * 3).encode())
    aws = ENCODERS["url-safe unpadded"](b"AKIAFAKEFAKEFAKE1234")
    body = orjson.dumps({"messages": [{"content": f"the config is {key}"}], "meta": {"id": aws}})
    out = redact_body(body, "application/json", OUTPUT)
    assert key.encode() not in out and aws.encode() not in out
    assert redact_json(orjson.loads(body), OUTPUT)["meta"]["id"] == "[REDACTED]"
    assert redact_body(body, "application/json", DEFAULT) is body  # the capture's named-only preset
    sse = f'data: {{"delta": {{"text": "{key}"}}}}\n\n'.encode()
    assert key.encode() not in redact_body(sse, "text/event-stream", OUTPUT)
    path = tmp_path / "out.jsonl"
    path.write_bytes(body + b"\n" + b"clean line\n")
    found = scan_paths([path])
    assert {f.pattern for f in found} == {
        "base64 of Anthropic key / OAuth token",
        "base64 of AWS access key id",
    }
    assert {f.line for f in found} == {1}
    path.write_bytes(out + b"\n")
    assert scan_paths([path]) == []


def _random_b64(rnd: random.Random, n: int) -> str:
    return base64.b64encode(rnd.randbytes(n)).decode()


def test_no_false_positives_on_ordinary_base64() -> None:
    rnd = random.Random(11)
    texts = [
        _random_b64(rnd, 3000),  # an image
        base64.b64encode(b"an ordinary sentence of prose, nothing secret in it at all").decode(),
        "toolu_01" + "AbCdEfGhIjKlMnOpQrStUv",
        "/repo/src/fastcap/secrets/patterns_and_more.py",
        "0123456789abcdef" * 4,  # a hash
        "msg_01XFDUDYJgAACzvnptvVoYEL",
        "Eq0BCkgIBhABGAIiQL" + _random_b64(rnd, 300),  # a thinking-block signature
        " ".join(_random_b64(rnd, rnd.randint(18, 200)) for _ in range(2000)),
    ]
    for text in texts:
        assert b64_secret_spans(text) == []
        assert B64_TRIGGER not in present_triggers(text)
        assert [f for f in scan_text(text) if f.pattern.startswith("base64")] == []
        assert redact_text(text, OUTPUT) is text


def test_linear_and_bounded_work() -> None:
    """A 16 MB text of short base64-looking runs and one 4 MB blob: each checked in seconds, with
    the secret at the far end still found (the bound is on work, not on where it looks)."""
    rnd = random.Random(5)
    ids = " ".join(_random_b64(rnd, 21) for _ in range(500_000))  # ~15 MB of 28-character runs
    blob = _random_b64(rnd, 3_000_000)
    secret = ENCODERS["standard"](b"AKIAFAKEFAKEFAKE1234")
    for text in (ids + " " + secret, blob + " " + secret):
        start = time.process_time()
        spans = b64_secret_spans(text)
        elapsed = time.process_time() - start
        assert [text[a:b] for a, b in spans] == [secret.rstrip("=")]
        assert elapsed < 10, elapsed
