"""Leak scan (docs/specs/reports.md §6.6): every pattern, markers ignored, allowlist, 4-character excerpts."""

from __future__ import annotations

import re
from pathlib import Path

import cbor2
import pytest
from fastcap.secrets.leakscan import scan_paths, scan_text

SAMPLES = {
    "Anthropic": "sk-ant-api03-FAKEFAKEFAKEFAKEFAKE0000",
    "OpenAI project": "sk-proj-FAKEFAKEFAKEFAKEFAKE0000",
    "generic sk": "sk-FAKEFAKEFAKEFAKEFAKE0000",
    "aws oidc": "aoaFAKEFAKEFAKEFAKEFAKEFAKE",
    "akia": "AKIAFAKEFAKEFAKE1234",
    "session": "IQoJ" + "A" * 44,
    "sts old": "FwoGZXIvYXdz" + "B" * 44,
    "sigv4": "Signature=" + "a" * 64,
    "amz sig": "X-Amz-Signature=" + "b" * 64,
    "credential": "Credential=AKIAFAKEFAKEFAKE1234/20260101",
    "aws json": '"SecretAccessKey": "abc"',
    "google": "AIza" + "F" * 35,
    "ya29": "ya29.FAKEFAKEFAKEFAKEFAKE00",
    "refresh": "1//0FAKEFAKEFAKEFAKEFAKE00",
    "gocspx": "GOCSPX-FAKEFAKEFAKEFAKEFAKE00",
    "jwt": "eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.c2lnbmF0dXJlZmFrZQ",
    "bearer": "Bearer abcdefghijklmnopqrstuvwx",
    "basic": "Basic dXNlcjpwYXNzd29yZGxvbmc=",
    "github": "ghp_" + "a" * 36,
    "github pat": "github_pat_" + "a" * 40,
    "hf": "hf_" + "a" * 30,
    "xai": "xai-" + "a" * 40,
    "groq": "gsk_" + "a" * 40,
    "private key": "-----BEGIN RSA PRIVATE KEY-----",
    "header": "    x-api-key: abc",
    "field": '{"refreshToken": "abc"}',
}


@pytest.mark.parametrize("name", list(SAMPLES))
def test_every_pattern_found(name: str) -> None:
    text = SAMPLES[name] if name == "header" else f"some text {SAMPLES[name]} more"  # header rule: line start
    findings = scan_text(text, path="f.md")
    assert findings, name
    for f in findings:
        assert f.excerpt.endswith("…") and len(f.excerpt) <= 5
        assert f.line == 1 and f.path == "f.md"


def test_markers_and_clean_text_ignored() -> None:
    text = "\n".join(
        [
            "authorization: [REDACTED]",
            "    x-api-key: [REDACTED:0a1b2c3d]",
            '{"accessToken": "[REDACTED]", "code": 429, "password": null}',
            "Bearer [REDACTED]",
            "nothing to see, sk- is short",
        ]
    )
    assert scan_text(text) == []


def test_allowlist_exact_and_regex() -> None:
    token = "aoaLongIdentifierThatIsNotASecret123"
    assert scan_text(token)
    assert scan_text(token, allowlist=[token]) == []
    assert scan_text(token, allowlist=[re.compile(r"aoaLongIdentifier\w+")]) == []


def test_scan_paths_files_dirs_and_cbor(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "report.md").write_text("line one\nkey sk-ant-api03-FAKEFAKEFAKEFAKEFAKE0000\n")
    (tmp_path / "clean.md").write_text("all good\n")
    import zlib

    data = zlib.compress(b"x-api-key: sk-proj-FAKEFAKEFAKEFAKEFAKE0000\r\n" * 10)
    with (tmp_path / "c.cbor").open("wb") as fh:
        fh.write(cbor2.dumps({"magic": "LLMPROXY-CAPTURE-V2", "version": 2}))
        fh.write(cbor2.dumps({"ts": 1.0, "dir": 2, "seq": 0, "data": data, "enc": "zlib"}))
    findings = scan_paths([tmp_path])
    by_file = {Path(f.path).name for f in findings}
    assert by_file == {"report.md", "c.cbor"}
    md = next(f for f in findings if f.path.endswith("report.md"))
    assert md.line == 2 and md.excerpt == "sk-a…"
