"""Redaction before rendering (docs/specs/reports.md §6.2–6.4) and the post-write leak scan (§6.6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastcap.model import Exchange
from fastcap.reports import LeakScanError, write_reports
from helpers.reports_fixtures import T0, anthropic_session

REFRESH = "aor" + "R" * 48
ACCESS = "aoa" + "A" * 48
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def _oidc_exchange() -> Exchange:
    req = {
        "clientId": "abc",
        "clientSecret": "cs-" + "x" * 30,
        "grantType": "refresh_token",
        "refreshToken": REFRESH,
    }
    resp = {"accessToken": ACCESS, "expiresIn": 3600, "refreshToken": REFRESH, "tokenType": "Bearer"}
    return Exchange(
        index=0,
        source="cbor",
        method="POST",
        url="https://oidc.us-east-1.amazonaws.com/token",
        request_headers=[
            ("content-type", "application/json"),
            ("cookie", "session=abcdef0123456789"),
            ("x-goog-api-key", "AIza" + "k" * 35),
            ("x-custom-token", "tok-123"),
        ],
        request_body=json.dumps(req).encode(),
        status=200,
        reason="OK",
        response_headers=[("content-type", "application/json"), ("set-cookie", "id=zzz; HttpOnly")],
        response_body=json.dumps(resp).encode(),
        started_at=T0,
        ended_at=T0 + 0.3,
    )


def _cognito_exchange() -> Exchange:
    resp = {
        "Credentials": {
            "AccessKeyId": "ASIA" + "Q" * 16,
            "SecretKey": SECRET_KEY,
            "SessionToken": "IQoJ" + "s" * 80,
        }
    }
    return Exchange(
        index=1,
        source="cbor",
        method="POST",
        url="https://cognito-identity.us-east-1.amazonaws.com/",
        request_headers=[
            ("x-amz-target", "AWSCognitoIdentityService.GetCredentialsForIdentity"),
            ("content-type", "application/x-amz-json-1.1"),
        ],
        request_body=b'{"IdentityId":"us-east-1:1234"}',
        status=200,
        reason="OK",
        response_headers=[("content-type", "application/x-amz-json-1.1")],
        response_body=json.dumps(resp).encode(),
        started_at=T0 + 1,
        ended_at=T0 + 1.2,
    )


def _gemini_key_url() -> Exchange:
    return Exchange(
        index=2,
        source="cbor",
        method="GET",
        url="https://generativelanguage.googleapis.com/v1beta/models?key=AIza" + "u" * 35 + "&pageSize=5",
        status=200,
        reason="OK",
        response_headers=[("content-type", "application/json")],
        response_body=b'{"models":[]}',
        started_at=T0 + 2,
        ended_at=T0 + 2.1,
    )


def test_headers_fields_and_query_redacted(tmp_path: Path) -> None:
    out = tmp_path / "r"
    result = write_reports([_oidc_exchange(), _cognito_exchange(), _gemini_key_url()], out, json=True)
    assert result.leak_scan == "passed" and result.redacted
    everything = "\n".join(p.read_text() for p in result.files)
    for secret in (
        REFRESH,
        ACCESS,
        SECRET_KEY,
        "abcdef0123456789",
        "tok-123",
        "IQoJ",
        "ASIAQQQQ",
        "AIzakkk",
        "AIzauuu",
        "HttpOnly",
    ):
        assert secret not in everything, secret
    call1 = (out / "01_CreateToken.md").read_text()
    assert (
        "cookie: [REDACTED]\n" in call1
        and "x-goog-api-key: [REDACTED]\n" in call1
        and "x-custom-token: [REDACTED]\n" in call1
    )
    assert '"refreshToken": "[REDACTED]"' in call1 and '"accessToken": "[REDACTED]"' in call1
    assert '"grantType": "refresh_token"' in call1 and '"expiresIn": 3600' in call1  # structure kept
    assert '"SecretKey": "[REDACTED]"' in (out / "02_GetCredentialsForIdentity.md").read_text()
    assert "?key=[REDACTED]&pageSize=5" in (out / "03_Models.md").read_text()
    report = (out / "report.md").read_text()
    assert "**Cognito + OIDC**: `GetCredentialsForIdentity` yields the temporary AWS creds" in report


def test_planted_secret_in_assistant_text_is_scrubbed(tmp_path: Path) -> None:
    planted = "sk-ant-api03-" + "abcdefghijklmnopqrstuvwxyzabcd"  # 30 letters
    exs = anthropic_session()
    exs[1].response_body = exs[1].response_body.replace(b"Found it", f"Found {planted}".encode())
    result = write_reports(exs, tmp_path / "scrubbed")
    assert result.leak_scan == "passed"
    call = (tmp_path / "scrubbed" / "02_Messages.md").read_text()
    assert planted not in call and "sk-ant-api03-abcd" not in call
    assert "Found [REDACTED]" in call  # the text around the key is kept


def test_leak_scan_fails_the_run_on_a_planted_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulate a gap in redaction (free-text redaction disabled): the scan is the second line of
    # defence and must fail the run.
    import fastcap.secrets.redact

    monkeypatch.setattr(fastcap.secrets.redact, "redact_text", lambda text, config=None: text)
    planted = "sk-ant-api03-" + "abcdefghijklmnopqrstuvwxyzabcd"  # 30 letters
    exs = anthropic_session()
    exs[1].response_body = exs[1].response_body.replace(b"Found it", f"Found {planted}".encode())
    out = tmp_path / "leak"
    with pytest.raises(LeakScanError) as info:
        write_reports(exs, out)
    result = info.value.result
    assert result.leak_scan == "failed" and not result.ok
    files = {Path(f.path).name for f in result.leak_findings}
    assert {"02_Messages.md", "analysis_report.md"} <= files
    assert all(planted not in str(f) for f in result.leak_findings)  # findings show at most 4 chars
    assert "Anthropic" in str(info.value)


def test_no_redact_is_explicit_and_reports_findings_as_warnings(tmp_path: Path) -> None:
    out = tmp_path / "raw"
    result = write_reports(anthropic_session(), out, redact=False, styles=("calls",))
    assert not result.redacted
    assert result.leak_scan == "warned" and result.leak_findings
    assert "x-api-key: sk-ant-api03-" in (out / "01_Messages.md").read_text()
