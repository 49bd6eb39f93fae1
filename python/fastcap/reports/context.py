"""From exchanges to the numbered, named calls every report renders (docs/specs/reports.md §2.2–2.3).

Authentication evidence is taken here, from the unredacted headers, before anything is redacted;
only scheme labels, token classes and SHA-256 fingerprints leave this module.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fastcap.dialects.base import CallAnalysis, RequestInfo, ResponseInfo
from fastcap.model import Exchange
from fastcap.reports.safety import Redactor

MODEL_CALL_OPERATIONS = {"GenerateAssistantResponse", "SendMessage"}


@dataclass(slots=True)
class AuthEvidence:
    scheme: str | None  # "bearer", "sigv4", "basic", "api_key", "google_key", or None
    token_class: str | None = None  # e.g. "AWS SSO OIDC token (`aoa…`)"; never the token
    fingerprint: str | None = None  # SHA-256 hex of the Bearer credential (never printed)


@dataclass(slots=True)
class Call:
    seq: int  # 1-based sequence number
    nn: str  # zero-padded sequence number ("01", "001")
    ca: CallAnalysis
    auth: AuthEvidence
    file_name: str = ""

    @property
    def ex(self) -> Exchange:
        return self.ca.exchange

    @property
    def req(self) -> RequestInfo:
        return self.ca.request

    @property
    def resp(self) -> ResponseInfo:
        return self.ca.response

    @property
    def api(self) -> str:
        return self.ca.api_name

    @property
    def operation(self) -> str:
        return self.ca.operation

    @property
    def service(self) -> str:
        return self.ca.service

    @property
    def status(self) -> int | None:
        return self.ex.status


@dataclass(slots=True)
class ReportContext:
    calls: list[Call]
    redactor: Redactor
    out_dir: Path
    title: str | None = None
    source: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
    styles: tuple[str, ...] = ("calls", "session", "dissect")
    # The cost summary (`CostSummary.to_json()`) when the caller already has it (`fastcap analyze`
    # priced its calls table); None: report.md prices the calls itself.
    cost: dict[str, Any] | None = None

    @property
    def model_calls(self) -> list[Call]:
        return [c for c in self.calls if c.ca.is_model_call]


# --- analysis ---------------------------------------------------------------------------------


def fallback_analysis(ex: Exchange, problem: str | None = None) -> CallAnalysis:
    """A bare analysis (name, model-call flag) when dialects are not used or the dialect failed."""
    from fastcap.dialects import api_name

    api = api_name(ex)
    kind = "missing" if "content_missing" in ex.flags else "empty"
    if ex.response_body:
        kind = "binary"
    if ex.websocket is not None:
        kind = "websocket"
    return CallAnalysis(
        exchange=ex,
        dialect="unknown",
        api_name=api,
        is_model_call=api.rsplit(".", 1)[-1] in MODEL_CALL_OPERATIONS,
        request=RequestInfo(),
        response=ResponseInfo(kind=kind, notes=[problem] if problem else []),
    )


def analyse(ex: Exchange, analyzer: Callable[[Exchange], CallAnalysis] | None) -> CallAnalysis:
    if analyzer is None:
        return fallback_analysis(ex)
    try:
        return analyzer(ex)
    except Exception as exc:  # one undecodable call must not lose the whole report
        return fallback_analysis(ex, f"Analysis failed: {type(exc).__name__}: {exc}")


# --- authentication evidence ---------------------------------------------------------------------


def _token_class(token: str) -> str | None:
    for prefix, label in (
        ("sk-ant-api", "Anthropic API key (`sk-ant-api…`)"),
        ("sk-ant-oat", "Anthropic OAuth token (`sk-ant-oat…`)"),
        ("sk-", "OpenAI-style key (`sk-…`)"),
        ("ya29.", "Google OAuth token (`ya29.…`)"),
        ("aoa", "AWS SSO OIDC token (`aoa…`)"),
        ("eyJ", "JWT (OAuth, e.g. ChatGPT login)"),
    ):
        if token.startswith(prefix):
            return label
    return None


def _fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def auth_evidence(ex: Exchange) -> AuthEvidence:
    auth = (ex.header("authorization") or "").strip()
    low = auth.lower()
    if low.startswith("bearer "):
        token = auth[7:].strip()
        return AuthEvidence("bearer", _token_class(token), _fingerprint(token))
    if low.startswith("aws4-hmac-sha256"):
        return AuthEvidence("sigv4")
    if low.startswith("basic "):
        return AuthEvidence("basic", fingerprint=_fingerprint(auth[6:].strip()))
    if ex.header("x-api-key"):
        key = ex.header("x-api-key") or ""
        return AuthEvidence("api_key", _token_class(key), _fingerprint(key))
    query_keys = {k.lower() for k, _ in parse_qsl(urlsplit(ex.url).query, keep_blank_values=True)}
    if ex.header("x-goog-api-key") or "key" in query_keys:
        return AuthEvidence("google_key")
    if auth:
        return AuthEvidence("other")
    return AuthEvidence(None)


# --- numbering -------------------------------------------------------------------------------------


def seq_width(total: int) -> int:
    return 2 if total <= 99 else len(str(total))


def call_file_name(nn: str, api_name: str) -> str:
    operation = api_name.rsplit(".", 1)[-1]
    return f"{nn}_{re.sub(r'[^A-Za-z0-9_-]', '_', operation) or 'Call'}.md"


def order_exchanges(exchanges: Sequence[Exchange]) -> list[Exchange]:
    """Sequence order = the source's order (`index`); ties keep first appearance."""
    return sorted(exchanges, key=lambda ex: ex.index)


def build_calls(
    exchanges: Sequence[Exchange],
    *,
    analyzer: Callable[[Exchange], CallAnalysis] | None = None,
    use_dialects: bool = True,
    progress: Callable[[int], None] | None = None,
) -> list[Call]:
    if analyzer is None and use_dialects:
        from fastcap.dialects import analyze_exchange

        analyzer = analyze_exchange
    from fastcap.dialects.openai_ws import per_request

    # One call per request on a Responses WebSocket, as the calls table counts them.
    ordered = order_exchanges(per_request(exchanges))
    width = seq_width(len(ordered))
    calls: list[Call] = []
    for n, ex in enumerate(ordered, 1):
        ca = analyse(ex, analyzer)
        nn = str(n).zfill(width)
        calls.append(Call(n, nn, ca, auth_evidence(ex), call_file_name(nn, ca.api_name)))
        if progress is not None:
            progress(n)
    return calls
