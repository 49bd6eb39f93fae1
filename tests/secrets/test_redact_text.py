"""Free-text redaction (`redact_text`, the `OUTPUT` configuration) and its single pattern table with
the leak scan: whatever the scan would report in a text, `redact_text` removes, and ordinary text is
left alone."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from fastcap.secrets import leakscan
from fastcap.secrets.patterns import TRIGGERS, VALUE_PATTERNS
from fastcap.secrets.redact import (
    DEFAULT,
    OUTPUT,
    RedactionConfig,
    may_hold_secret,
    redact_body,
    redact_headers,
    redact_json,
    redact_text,
    redact_url,
)
from helpers.reports_fixtures import es_body

# Fake credentials, one per pattern family (assembled so the test source itself stays scannable).
ANTHROPIC = "sk-ant-api03-" + "Q1w2E3r4T5y6U7i8O9p0" * 2
OAUTH = "sk-ant-oat01-" + "a1B2c3D4e5F6g7H8i9J0k1"
OPENAI_PROJ = "sk-proj-" + "Zz9Yy8Xx7Ww6Vv5Uu4Tt3"
OPENAI_LEGACY = "sk-" + "abcdefghij0123456789ABCD"
AWS_ID = "AKIA" + "IOSFODNN7EXAMPLE"
AWS_TEMP = "ASIA" + "ABCDEFGHIJKLMNOP"
SESSION = "IQoJ" + "b3JpZ2luX2VjEJr" * 4
SSO = "aoa" + "Zx9" * 12
GOOGLE = "AIza" + "SyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6q"
YA29 = "ya29." + "a0AfH6SMC" * 3
GH = "ghp_" + "0123456789abcdefghijABCDEFGHIJ012345"
JWT = "eyJhbGciOiJIUzI1NiJ9" + ".eyJzdWIiOiIxMjM0NTY3ODkwIn0" + ".dozjgNryP4J3jVmNHl0w5N_XgL0n"
BEARER = "tok_" + "9f8e7d6c5b4a3f2e1d0c"
ALL_SHAPES = [
    ANTHROPIC,
    OAUTH,
    OPENAI_PROJ,
    OPENAI_LEGACY,
    AWS_ID,
    AWS_TEMP,
    SESSION,
    SSO,
    GOOGLE,
    YA29,
    GH,
    JWT,
]


def _findings(text: str) -> list[str]:
    return [str(f) for f in leakscan.scan_text(text)]


def test_the_leak_scan_and_redaction_share_one_pattern_table() -> None:
    assert [(n, rx) for n, rx in leakscan.PATTERNS] == [(p.name, p.regex) for p in VALUE_PATTERNS]
    for p in VALUE_PATTERNS:
        assert p.triggers and all(t == t.lower() for t in p.triggers), p.name


@pytest.mark.parametrize("secret", ALL_SHAPES)
def test_each_credential_shape_is_replaced_and_the_scan_then_passes(secret: str) -> None:
    text = f"Here is the value you asked for: {secret} (keep it safe)."
    assert _findings(text), "the fixture must be something the scan reports"
    out = redact_text(text)
    assert secret not in out and secret[:12] not in out
    assert out == "Here is the value you asked for: [REDACTED] (keep it safe)."
    assert _findings(out) == []


def test_scheme_words_and_parameter_names_are_kept() -> None:
    assert redact_text(f"send it as Bearer {BEARER} please") == "send it as Bearer [REDACTED] please"
    assert redact_text("auth: Basic dXNlcm5hbWU6cGFzc3dvcmQxMjM=") == "auth: Basic [REDACTED]"
    sig = "Signature=" + "ab" * 32
    assert redact_text(f"X-Amz-Date=20250101&{sig}&x=1") == "X-Amz-Date=20250101&Signature=[REDACTED]&x=1"
    assert (
        redact_text(f"Credential={AWS_ID}/20250101/us-east-1") == "Credential=[REDACTED]/20250101/us-east-1"
    )


def test_header_lines_and_inline_key_headers() -> None:
    text = "Try this:\n  x-api-key: hunter2hunter2\nAuthorization: Token abc\n"
    out = redact_text(text)
    assert out == "Try this:\n  x-api-key: [REDACTED]\nAuthorization: [REDACTED]\n"
    curl = "curl -H 'x-api-key: 1234abcd5678efgh' -H \"x-goog-api-key: AbCdEf123456\" https://x"
    assert redact_text(curl) == "curl -H 'x-api-key: [REDACTED]' -H \"x-goog-api-key: [REDACTED]\" https://x"
    # Placeholders and prose stay: no digit and shorter than 20 characters.
    assert redact_text("set x-api-key: YOUR_KEY in the config") == "set x-api-key: YOUR_KEY in the config"


def test_json_written_inside_text() -> None:
    text = 'Use {"password": "hunter2", "apiKey": 1234, "x-session-token": "abc", "name": "ok"}'
    out = redact_text(text)
    assert (
        out
        == 'Use {"password": "[REDACTED]", "apiKey": "[REDACTED]", "x-session-token": "[REDACTED]", "name": "ok"}'
    )
    aws = '{"AccessKeyId": "x", "SecretKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCY"}'
    assert "wJalr" not in redact_text(aws) and _findings(redact_text(aws)) == []


def test_private_key_block_is_removed_whole() -> None:
    block = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA1234\nabcd==\n-----END RSA PRIVATE KEY-----"
    assert redact_text(f"key:\n{block}\ndone") == "key:\n[REDACTED]\ndone"
    cut = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA"  # cut before the end line
    assert redact_text(cut) == "[REDACTED]"


def test_fingerprint_markers() -> None:
    out = redact_text(f"key {ANTHROPIC}", RedactionConfig(fingerprint=True))
    assert out.startswith("key [REDACTED:") and len(out) == len("key [REDACTED:12345678]")


NORMAL_TEXTS = [
    "The quick brown fox jumps over the lazy dog. Basic usage: run `make test` first.",
    "I'll read src/auth/token.py and check how the bearer token is passed in the Authorization header.",
    "Set a cookie: it stores the session. The password field must be hashed with bcrypt.",
    "def get_secret(name: str) -> str:\n    return os.environ[name]  # never hard-code secrets\n",
    'headers = {"Authorization": f"Bearer {token}", "x-api-key": os.environ["ANTHROPIC_API_KEY"]}',
    "In Asia the aorta is studied by ask-learn users; sk-learn is a typo of scikit-learn.",
    "Use max_tokens=4096 and input_tokens from the usage block; the cache_read tokens are cheaper.",
    "Run `git log --oneline | head` and then `gh pr create --fill`.",
    "export ANTHROPIC_API_KEY=$(cat ~/.config/key)  # placeholder, read at runtime",
    "| # | Event Type | Summary |\n| 1 | content_block_delta | Hello |",
    '{"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "hi"}], "stream": true}',
    "Credentials are rotated by SSOOIDC.CreateToken; the refreshToken field is redacted.",
]


@pytest.mark.parametrize("text", NORMAL_TEXTS)
def test_no_false_positives_on_normal_text(text: str) -> None:
    assert redact_text(text) == text
    assert _findings(text) == []


def test_unchanged_text_and_the_cheap_precheck() -> None:
    plain = "nothing to see here " * 1000
    assert not may_hold_secret(plain)
    assert redact_text(plain) is plain
    assert may_hold_secret("Bearer x") and may_hold_secret("SK-ANT-X")


def test_scan_finds_nothing_after_redaction_of_a_mixed_corpus() -> None:
    parts = [
        *ALL_SHAPES,
        f"Bearer {BEARER}",
        "x-api-key: abc123def456",
        '"client_secret": "s3cr3t"',
        "Signature=" + "0f" * 32,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
    ]
    separators = [" ", "\n", "\t", "\r\n", " | ", "\u2028", ", ", "`", '"', "'"]
    corpus = "".join(p + separators[i % len(separators)] for i, p in enumerate(parts * 3))
    assert _findings(corpus)
    assert _findings(redact_text(corpus)) == []


# --- the OUTPUT configuration: every string in bodies, headers and URLs ---------------------------


def test_output_config_scrubs_json_string_values_and_scan_fields() -> None:
    body = {
        "messages": [{"role": "user", "content": f"my key is {ANTHROPIC}, use it"}],
        "tools": [{"name": "t", "input_schema": {"properties": {"authorization": {"type": "string"}}}}],
        "metadata": {"cookie": "a=b", "x-request-token": 7, "flag": True},
    }
    out = redact_json(body, OUTPUT)
    assert out["messages"][0]["content"] == "my key is [REDACTED], use it"
    assert out["metadata"] == {"cookie": "[REDACTED]", "x-request-token": "[REDACTED]", "flag": True}
    # DEFAULT (the capture addon's hot path) stays field-only.
    assert redact_json(body, DEFAULT)["messages"][0]["content"].endswith("use it") and ANTHROPIC in str(
        redact_json(body, DEFAULT)
    )
    assert body["messages"][0]["content"].startswith("my key is sk-ant")  # input not modified


def test_output_config_bodies_of_every_kind() -> None:
    sse = (
        f'data: {{"delta":{{"text":"{OPENAI_PROJ}"}}}}\n\ndata: plain {ANTHROPIC}\n\ndata: [DONE]\n\n'
    ).encode()
    out = redact_body(sse, "text/event-stream", OUTPUT)
    assert (
        OPENAI_PROJ.encode() not in out
        and ANTHROPIC.encode() not in out
        and out.endswith(b"data: [DONE]\n\n")
    )
    text = f"error: invalid key {AWS_ID}".encode()
    assert redact_body(text, "text/plain", OUTPUT) == b"error: invalid key [REDACTED]"
    assert redact_body(text, "text/plain", DEFAULT) is text
    es = es_body([("assistantResponseEvent", {"content": f"here: {GH}"})])
    red = redact_body(es, "application/vnd.amazon.eventstream", OUTPUT)
    assert GH.encode() not in red and b"here: [REDACTED]" in red
    form = f"grant_type=x&note={ANTHROPIC}".encode()
    assert ANTHROPIC.encode() not in redact_body(form, "application/x-www-form-urlencoded", OUTPUT)
    binary = bytes(range(256)) + ANTHROPIC.encode() + b"\xff\x00"
    # Binary: only the secret's own bytes change (the leak scan reads binary files and base64 too).
    assert (
        redact_body(binary, "application/octet-stream", OUTPUT) == bytes(range(256)) + b"[REDACTED]\xff\x00"
    )
    plain_binary = bytes(range(256))
    assert redact_body(plain_binary, "application/octet-stream", OUTPUT) is plain_binary
    clean = orjson.dumps({"a": "b"})
    assert redact_body(clean, "application/json", OUTPUT) is clean


def test_output_config_headers_and_urls() -> None:
    headers = [
        ("referer", f"https://x.test/cb?state={JWT}"),
        ("x-api-key", "v"),
        ("user-agent", "claude-cli/1.0"),
    ]
    assert redact_headers(headers, OUTPUT) == [
        ("referer", "https://x.test/cb?state=[REDACTED]"),
        ("x-api-key", "[REDACTED]"),
        ("user-agent", "claude-cli/1.0"),
    ]
    url = f"https://api.example.test/keys/{GOOGLE}/send?key=abc&q=1"
    assert redact_url(url, OUTPUT) == "https://api.example.test/keys/[REDACTED]/send?key=[REDACTED]&q=1"
    assert (
        redact_url(url, OUTPUT, encode_marker=True)
        == "https://api.example.test/keys/%5BREDACTED%5D/send?key=%5BREDACTED%5D&q=1"
    )
    assert redact_url(url, DEFAULT).startswith(f"https://api.example.test/keys/{GOOGLE}/")


def test_literal_prechecks_do_not_change_what_the_scan_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    # Including the non-ASCII letters a case-insensitive expression matches to ASCII (ı, K).
    corpus = "\n".join(
        [
            *ALL_SHAPES,
            f"Bearer {BEARER}",
            "auth: Bas\u0131c dXNlcm5hbWU6cGFzc3dvcmQxMjM=",
            "\u212aEY: x",
            "x-api-key: abc",
            '  "password": "p", "cookie": 3',
            "plain words only",
            "Signature=" + "ab" * 32,
            "set-cookie: a=b",
            "x-upstream-secret: s",
            "-----BEGIN EC PRIVATE KEY-----",
        ]
    )
    with_precheck = [str(f) for f in leakscan.scan_text(corpus)]
    monkeypatch.setattr(leakscan, "present_triggers", lambda text, among=(): set(TRIGGERS))
    assert [str(f) for f in leakscan.scan_text(corpus)] == with_precheck
    assert len(with_precheck) >= len(ALL_SHAPES) + 8
    assert _findings(redact_text(corpus)) == []


def test_scan_paths_reads_large_files_in_blocks(tmp_path: Path) -> None:
    path = tmp_path / "big.md"
    filler = "ordinary line of report text\n" * 200_000  # ~6 MB: more than one block
    path.write_text(filler + f"leaked {ANTHROPIC}\n" + filler + "x-api-key: abc\n")
    found = leakscan.scan_paths([path])
    assert {f.line for f in found} == {200_001, 400_002}
    assert {"Anthropic key / OAuth token", "un-redacted header x-api-key"} <= {f.pattern for f in found}
