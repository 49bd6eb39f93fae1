"""The Authentication section of `report.md` (docs/specs/reports.md §2.8), from pre-redaction evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastcap.reports.context import Call

COGNITO_OIDC_APIS = ("AWSCognitoIdentityService.GetCredentialsForIdentity", "SSOOIDC.CreateToken")
COGNITO_OIDC_TEXT = (
    "**Cognito + OIDC**: `GetCredentialsForIdentity` yields the temporary AWS creds that SigV4-sign the "
    "telemetry calls; `CreateToken` (`grantType: refresh_token`) refreshes the Bearer token mid-session"
)

_SCHEMES: tuple[tuple[str, str], ...] = (
    ("bearer", "**Bearer Token** (`authorization: Bearer <token>`)"),
    ("sigv4", "**AWS Signature V4** (`authorization: AWS4-HMAC-SHA256 ...`)"),
    ("cognito", COGNITO_OIDC_TEXT),
    ("api_key", "**API key header** (`x-api-key: <key>`)"),
    ("google_key", "**Google API key** (`x-goog-api-key` header or `key=` query parameter)"),
    ("basic", "**Basic auth** (`authorization: Basic <credentials>`)"),
    ("other", "**Other authorization scheme** (`authorization: <scheme> <credentials>`)"),
    ("none", "**Unauthenticated**"),
)

_API_LABELS = {
    "AmazonCodeWhispererStreamingService": "CodeWhisperer / kiro.dev",
    "AmazonCodeWhispererService": "CodeWhisperer / kiro.dev",
    "ToolkitTelemetry": "Telemetry",
    "AWSCognitoIdentityService": "Cognito",
    "SSOOIDC": "SSO OIDC",
}


def category(service: str) -> str:
    return service[6:] if service.startswith("Amazon") and len(service) > 6 else service


def api_label(service: str) -> str:
    return _API_LABELS.get(service, category(service))


@dataclass(slots=True)
class Scheme:
    key: str
    text: str
    services: list[str] = field(default_factory=list)
    token_classes: list[str] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)


def _rotation(calls: list[Call]) -> dict[str, Any] | None:
    last: str | None = None
    changes = 0
    first_change: Call | None = None
    last_create: Call | None = None
    create_before_first: Call | None = None
    for call in calls:
        if call.api == "SSOOIDC.CreateToken":
            last_create = call
        fp = call.auth.fingerprint if call.auth.scheme == "bearer" else None
        if fp is None:
            continue
        if last is not None and fp != last:
            changes += 1
            if first_change is None:
                first_change = call
                create_before_first = last_create
        last = fp
    if not changes or first_change is None:
        return None
    text = f"Token rotated {changes} time(s); first change at call #{first_change.nn}"
    if create_before_first is not None:
        text += f" (after SSOOIDC.CreateToken #{create_before_first.nn})"
    return {
        "rotations": changes,
        "first_change_call": first_change.nn,
        "after_create_token_call": create_before_first.nn if create_before_first else None,
        "text": text + ".",
    }


def build_auth(calls: list[Call]) -> dict[str, Any]:
    schemes: dict[str, Scheme] = {}
    texts = dict(_SCHEMES)
    order = [k for k, _ in _SCHEMES]
    for call in calls:
        key = call.auth.scheme or "none"
        if call.api in COGNITO_OIDC_APIS:
            key = "cognito" if call.auth.scheme is None else key
            schemes.setdefault("cognito", Scheme("cognito", texts["cognito"])).calls.append(call.nn)
            if key == "cognito":
                continue
        scheme = schemes.setdefault(key, Scheme(key, texts[key]))
        scheme.calls.append(call.nn)
        label = api_label(call.service)
        if label not in scheme.services:
            scheme.services.append(label)
        if call.auth.token_class and call.auth.token_class not in scheme.token_classes:
            scheme.token_classes.append(call.auth.token_class)
    items = []
    for key in order:
        if key not in schemes:
            continue
        s = schemes[key]
        line = s.text
        if key != "cognito":
            line += f": {', '.join(s.services)} API"
            if s.token_classes:
                line += f" — {', '.join(s.token_classes)}"
        items.append(
            {
                "scheme": key,
                "text": line,
                "apis": s.services,
                "token_classes": s.token_classes,
                "calls": s.calls,
            }
        )
    return {"schemes": items, "rotation": _rotation(calls)}


def render_auth(data: dict[str, Any]) -> list[str]:
    lines = [f"{i}. {item['text']}" for i, item in enumerate(data["schemes"], 1)]
    if not lines:
        lines = ["(no calls)"]
    if data["rotation"]:
        lines += ["", data["rotation"]["text"]]
    return lines
