"""Capture targets: which hosts an agent talks to and how to route it through mitmproxy.

One small declarative module per agent (`claude_code`, `codex`, `kiro`, `gemini`, `generic`), each
defining `TARGET`. `get(name)` looks one up by its CLI name; `backend_for(host, path, headers)`
names the dialect (`anthropic`, `openai`, `kiro`, `gemini`, …) the capture addon writes as `be`.
"""

from __future__ import annotations

import fnmatch
import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

ProxyMode = Literal["forward", "reverse"]

# Variables that make an agent (and the tools it spawns) trust the proxy's CA. Values are
# placeholders filled by the runner: {proxy} = http://127.0.0.1:PORT, {ca} = mitmproxy CA PEM,
# {bundle} = system CAs + mitmproxy CA.
FORWARD_ENV: dict[str, str] = {
    "HTTPS_PROXY": "{proxy}",
    "HTTP_PROXY": "{proxy}",
    "https_proxy": "{proxy}",
    "http_proxy": "{proxy}",
    "SSL_CERT_FILE": "{bundle}",
    "REQUESTS_CA_BUNDLE": "{bundle}",
    "CURL_CA_BUNDLE": "{bundle}",
    "NODE_EXTRA_CA_CERTS": "{ca}",
}


@dataclass(frozen=True, slots=True)
class ReverseProxy:
    """One reverse-proxy listener: `--mode reverse:<upstream>@<port>`."""

    upstream: str  # e.g. "https://api.openai.com/"
    purpose: str
    port_offset: int = 0  # listen port = base port + offset
    # Variables pointing the agent at this listener; {base} = http://127.0.0.1:PORT
    env: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Target:
    name: str  # CLI name, e.g. "claude-code"
    description: str
    backend: str  # dialect written as `be` for this target's hosts
    hosts: tuple[str, ...]  # exact names or fnmatch patterns ("*.amazonaws.com")
    modes: tuple[ProxyMode, ...] = ("forward",)
    reverse: tuple[ReverseProxy, ...] = ()
    example_command: str = ""
    manual_steps: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    # Extra host→backend rules for multi-dialect targets (pattern, backend).
    host_backends: tuple[tuple[str, str], ...] = ()

    @property
    def default_mode(self) -> ProxyMode:
        return self.modes[0]

    def matches_host(self, host: str) -> bool:
        return host_matches(host, self.hosts)


def host_matches(host: str, patterns: Iterable[str]) -> bool:
    h = host.lower().rstrip(".")
    for p in patterns:
        p = p.lower().strip()
        if not p:
            continue
        if p.startswith("."):
            if h.endswith(p) or h == p[1:]:
                return True
        elif fnmatch.fnmatchcase(h, p):
            return True
    return False


TARGET_MODULES: dict[str, str] = {
    "claude-code": "fastcap.targets.claude_code",
    "codex": "fastcap.targets.codex",
    "kiro": "fastcap.targets.kiro",
    "gemini": "fastcap.targets.gemini",
    "generic": "fastcap.targets.generic",
}


def names() -> list[str]:
    return list(TARGET_MODULES)


def get(name: str) -> Target:
    """The target registered under `name` (KeyError listing the valid names otherwise)."""
    try:
        module = TARGET_MODULES[name]
    except KeyError:
        raise KeyError(f"unknown target {name!r} (choose from {', '.join(TARGET_MODULES)})") from None
    target: Target = importlib.import_module(module).TARGET
    return target


def all_targets() -> list[Target]:
    return [get(n) for n in TARGET_MODULES]


def backend_for(host: str, path: str = "", headers: Mapping[str, str] | None = None) -> str:
    """The API dialect of a request: from the host, else from the path / headers, else the host."""
    for target in all_targets():
        for pattern, backend in target.host_backends:
            if host_matches(host, (pattern,)):
                return backend
        if target.hosts and target.matches_host(host):
            return target.backend
    lower = path.lower()
    if headers is not None:
        amz = headers.get("x-amz-target", "")
        if "CodeWhisperer" in amz or "q.amazonaws" in host:
            return "kiro"
    if "generatecontent" in lower or "/v1beta/" in lower or "/v1internal" in lower:
        return "gemini"
    if lower.startswith("/v1/messages") or "anthropic" in lower:
        return "anthropic"
    if "/chat/completions" in lower or "/responses" in lower or "/backend-api/" in lower:
        return "openai"
    if "generateassistantresponse" in lower:
        return "kiro"
    return host or "unknown"


__all__ = [
    "FORWARD_ENV",
    "ProxyMode",
    "ReverseProxy",
    "Target",
    "all_targets",
    "backend_for",
    "get",
    "host_matches",
    "names",
]
