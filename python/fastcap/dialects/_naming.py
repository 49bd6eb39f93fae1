"""API names (docs/specs/reports.md §2.3) and the model-call rule."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from fastcap.model import Exchange

_VERSION_RE = re.compile(r"^v\d+([a-z]+\d*)?$", re.IGNORECASE)  # v1, v1beta, v1internal, v2alpha1
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_HEX_RE = re.compile(r"^[0-9a-f]{16,}$", re.IGNORECASE)
_PROVIDER_ID_RE = re.compile(r"^[a-z]{2,12}[_-][A-Za-z0-9_-]{10,}$")
_MODEL_RE = re.compile(
    r"^(claude|gpt|o\d|gemini|gemma|chatgpt|text-embedding|llama|mistral|mixtral|codex|anthropic\.|amazon\.|meta\.|"
    r"us\.|eu\.|apac\.|global\.|deepseek|qwen|grok)",
    re.IGNORECASE,
)
_TWO_PART_SUFFIXES = {"co.uk", "com.au", "co.jp", "com.br", "co.in", "com.cn", "co.kr"}

MODEL_CALL_APIS = frozenset(
    {
        "Anthropic.Messages",
        "OpenAI.Responses",
        "OpenAI.ChatCompletions",
        "ChatGPT.CodexResponses",
        "Gemini.StreamGenerateContent",
        "Gemini.GenerateContent",
        "CodeAssist.StreamGenerateContent",
        "CodeAssist.GenerateContent",
        "Bedrock.ConverseStream",
        "Bedrock.Converse",
        "Bedrock.InvokeModelWithResponseStream",
        "Bedrock.InvokeModel",
    }
)


def pascal(text: str) -> str:
    parts = [p for p in re.split(r"[_\-.\s]+", text) if p]
    return "".join(p[0].upper() + p[1:] for p in parts)


def _service_label(host: str) -> str:
    if _is_local_host(host):
        return "Local"
    labels = [x for x in host.split(".") if x]
    if len(labels) >= 3 and ".".join(labels[-2:]) in _TWO_PART_SUFFIXES:
        return labels[-3]
    if len(labels) >= 2:
        return labels[-2]
    return labels[0] if labels else "Unknown"


def _is_identifier(seg: str) -> bool:
    return bool(seg.isdigit() or _UUID_RE.match(seg) or _HEX_RE.match(seg) or _PROVIDER_ID_RE.match(seg))


def fallback_api_name(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    service = pascal(_service_label(host)) or "Unknown"
    segments = [seg for seg in parts.path.split("/") if seg]
    # A Google-style ":method" suffix wins.
    for seg in reversed(segments):
        if ":" in seg:
            method = seg.rsplit(":", 1)[1]
            if method:
                return f"{service}.{pascal(method)}"
    prev: str | None = None
    candidates: list[str] = []
    for seg in segments:
        is_model = bool(_MODEL_RE.match(seg)) or (prev or "").lower() in {"models", "model", "deployments"}
        if not (_VERSION_RE.match(seg) or _is_identifier(seg) or is_model):
            candidates.append(seg)
        prev = seg
    op = pascal(candidates[-1]) if candidates else "Root"
    return f"{service}.{op or 'Root'}"


def url_api_name(method: str, url: str) -> str | None:
    """The generalised URL mapping of docs/specs/reports.md §2.3; None when the URL is not a known API."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    path = parts.path.rstrip("/") or "/"
    lpath = path.lower()
    if host == "api.anthropic.com" or host.endswith(".anthropic.com") or host in _CLAUDE_HOSTS:
        if lpath.endswith("/messages/count_tokens"):
            return "Anthropic.CountTokens"
        if lpath.endswith("/messages"):
            return "Anthropic.Messages"
        if (name := _claude_code_api(host, lpath)) is not None:
            return name
    if host == "api.openai.com":
        if lpath.endswith("/responses"):
            return "OpenAI.Responses"
        if lpath.endswith("/chat/completions"):
            return "OpenAI.ChatCompletions"
        if lpath.endswith("/models"):
            return "OpenAI.Models"
    if host in ("chatgpt.com", "chat.openai.com") and "/backend-api/codex/responses" in lpath:
        return "ChatGPT.CodexResponses"
    if host == "generativelanguage.googleapis.com" and ":" in path:
        return "Gemini." + pascal(path.rsplit(":", 1)[1])
    if host.startswith("cloudcode-pa.") and ":" in path:
        return "CodeAssist." + pascal(path.rsplit(":", 1)[1])
    if host == "oauth2.googleapis.com" and lpath.endswith("/token"):
        return "GoogleOAuth.Token"
    if host.endswith(".datadoghq.com") or host == "datadoghq.com":
        # Log intake some agents (Claude Code) send telemetry to: `/api/v2/logs` → `Datadog.Logs`.
        return f"Datadog.{_last_named([p for p in lpath.split('/') if p])}"
    if host.startswith("bedrock-runtime.") or (host.startswith("bedrock") and "/model/" in lpath):
        for suffix, name in (
            ("/converse-stream", "ConverseStream"),
            ("/converse", "Converse"),
            ("/invoke-with-response-stream", "InvokeModelWithResponseStream"),
            ("/invoke", "InvokeModel"),
        ):
            if lpath.endswith(suffix):
                return f"Bedrock.{name}"
    # kiro-cli 2 (x-amz-target KiroRuntimeService.*); the target names its other operations.
    runtime = host.startswith("runtime.") and host.endswith(".kiro.dev")
    if runtime and lpath.endswith("/generateassistantresponse"):
        return "KiroRuntimeService.GenerateAssistantResponse"
    if host.endswith(".amazonaws.com"):
        if lpath.endswith("/generateassistantresponse"):
            return "AmazonCodeWhispererStreamingService.GenerateAssistantResponse"
        if lpath.endswith("/sendmessage"):
            return "AmazonCodeWhispererStreamingService.SendMessage"
        if host.startswith("client-telemetry.") and lpath.endswith("/metrics"):
            return "ToolkitTelemetry.ClientTelemetryMetrics"
        if host.startswith("oidc.") and lpath.endswith("/token"):
            return "SSOOIDC.CreateToken"
    return None


# Claude's own hosts beside *.anthropic.com (OAuth sign-in and the platform console).
_CLAUDE_HOSTS = ("claude.ai", "platform.claude.com", "claude.com")
# A key or token in a path (`/api/eval/sdk-zRO1tlG5kUXbnrNC`): long, and with a digit.
_SEGMENT_ID_RE = re.compile(r"^(?=.*\d)[A-Za-z0-9_-]{16,}$")


def _last_named(segments: list[str]) -> str:
    """The last path segment that names something (not an id or a key), PascalCased."""
    for seg in reversed(segments):
        if not (_is_identifier(seg) or _SEGMENT_ID_RE.match(seg) or _VERSION_RE.match(seg)):
            return pascal(seg)
    return "Root"


def _claude_code_api(host: str, lpath: str) -> str | None:
    """The companion APIs Claude Code (2.1) calls on Anthropic's hosts besides the Messages API:
    OAuth (sign-in, profile, the subscription's `/api/oauth/usage`), its telemetry
    (`/api/event_logging/batch`, the Statsig host) and its settings and feature flags
    (docs/specs/reports.md §2.3.1)."""
    segments = [p for p in lpath.split("/") if p]
    if host.startswith("statsig."):
        return f"Statsig.{_last_named(segments)}"
    if "oauth" in segments:
        rest = segments[segments.index("oauth") + 1 :]
        return f"AnthropicOAuth.{_last_named(rest) if rest else 'Root'}"
    if lpath.startswith("/api/event_logging"):
        return "ClaudeCodeTelemetry.EventLogging"
    if lpath.startswith("/api/eval/"):
        return "ClaudeCode.Eval"
    if lpath.startswith("/api/claude_code"):
        # `/api/claude_code/settings`, `/api/claude_code/organizations/metrics_enabled`, and
        # `/api/claude_code_penguin_mode` (the name after the prefix).
        rest = segments[1:]
        rest = rest[1:] if rest[0] == "claude_code" else [rest[0].removeprefix("claude_code_"), *rest[1:]]
        return f"ClaudeCode.{_last_named(rest)}"
    if lpath == "/api/hello":
        return "ClaudeCode.Hello"
    return None


def _is_local_host(host: str) -> bool:
    """Loopback, IP literals and single-label names: a reverse proxy or test upstream, whose
    host says nothing about the API."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return host == "localhost" or "." not in host


# Official host to assume for a known API path served from a local/IP host.
_PATH_HOSTS = (
    ("/backend-api/codex/responses", "chatgpt.com"),
    ("/messages/count_tokens", "api.anthropic.com"),
    ("/messages", "api.anthropic.com"),
    ("/api/event_logging/batch", "api.anthropic.com"),
    ("/api/event_logging/v2/batch", "api.anthropic.com"),
    ("/api/oauth/usage", "api.anthropic.com"),
    ("/responses", "api.openai.com"),
    ("/chat/completions", "api.openai.com"),
    (":streamgeneratecontent", "generativelanguage.googleapis.com"),
    (":generatecontent", "generativelanguage.googleapis.com"),
    (":counttokens", "generativelanguage.googleapis.com"),
    ("/generateassistantresponse", "q.us-east-1.amazonaws.com"),
)


def api_name(ex: Exchange) -> str:
    target = ex.header("x-amz-target")
    if target and target.strip():
        return target.strip()
    known = url_api_name(ex.method, ex.url)
    if known:
        return known
    parts = urlsplit(ex.url)
    host = (parts.hostname or "").lower()
    if _is_local_host(host):
        lpath = parts.path.rstrip("/").lower()
        for suffix, official in _PATH_HOSTS:
            if lpath.endswith(suffix):
                name = url_api_name(ex.method, parts._replace(netloc=official).geturl())
                if name:
                    return name
    return fallback_api_name(ex.url)


_MODEL_PATH_RE = re.compile(
    r"(/v1/messages$|/chat/completions$|/responses$|:streamgeneratecontent$|:generatecontent$|"
    r"/generateassistantresponse$|/converse(-stream)?$|/invoke(-with-response-stream)?$)"
)


# What a call is for, besides model calls (docs/specs/reports.md §2.3.1): the calls table's `api_kind`.
API_KINDS = ("model", "count_tokens", "usage_limits", "telemetry", "auth", "other")
TELEMETRY_SERVICES = frozenset({"ClaudeCodeTelemetry", "Statsig", "Datadog", "ToolkitTelemetry"})
_AUTH_SERVICES = frozenset({"AnthropicOAuth", "SSOOIDC", "AWSCognitoIdentityService", "GoogleOAuth"})
_USAGE_LIMIT_APIS = frozenset({"AnthropicOAuth.Usage"})


def api_kind(name: str, model_call: bool) -> str:
    """`model`, `count_tokens`, `usage_limits` (a plan's quota: Claude's `/api/oauth/usage`,
    kiro's `GetUsageLimits`), `telemetry`, `auth` or `other`, from the API name (and whether the
    call is a model call, which a gateway path can make it)."""
    if model_call:
        return "model"
    service, _, operation = name.rpartition(".")
    if operation == "CountTokens":
        return "count_tokens"
    if name in _USAGE_LIMIT_APIS or operation == "GetUsageLimits":
        return "usage_limits"
    if service in TELEMETRY_SERVICES or "Telemetry" in operation:
        return "telemetry"
    if service in _AUTH_SERVICES:
        return "auth"
    return "other"


def is_model_call(x: Exchange | str) -> bool:
    """True for GenerateAssistantResponse/SendMessage and the model APIs of docs/specs/reports.md §2.3.

    Given an Exchange, also true for a known model endpoint path on another host (a gateway or a
    proxy such as ANTHROPIC_BASE_URL), whose API name follows the fallback rule.
    """
    if isinstance(x, str):
        name = x
        return name in MODEL_CALL_APIS or name.endswith((".GenerateAssistantResponse", ".SendMessage"))
    name = api_name(x)
    if is_model_call(name):
        return True
    if x.header("x-amz-target"):
        return False
    path = urlsplit(x.url).path.rstrip("/").lower()
    return x.method.upper() == "POST" and bool(_MODEL_PATH_RE.search(path))
