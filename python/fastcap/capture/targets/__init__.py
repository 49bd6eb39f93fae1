"""Capture targets: which hosts an agent talks to and how to route it through mitmproxy.

One small declarative module per agent, each defining `TARGET`; `TARGET_MODULES` below is the one
list of them (the `--target` choices, in `backend_for`'s order). `get(name)` looks one up by its CLI
name; `backend_for(host, path, headers)`
gives the label (`anthropic`, `openai`, `kiro`, `gemini`, …) the capture addon writes as `be`:
the target's for its hosts, else the dialect registry's (`Dialect.backend`).
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


# The one list of targets: CLI name -> module. `backend_for` tries them in this order and the first
# host match wins, so targets that share a provider's hosts come after the one that owns them
# (claude-agent-sdk after claude-code); `generic` (no hosts) stays last.
TARGET_MODULES: dict[str, str] = {
    "claude-code": "fastcap.capture.targets.claude_code",
    "codex": "fastcap.capture.targets.codex",
    "kiro": "fastcap.capture.targets.kiro",
    "gemini": "fastcap.capture.targets.gemini",
    "claude-agent-sdk": "fastcap.capture.targets.claude_agent_sdk",
    "opencode": "fastcap.capture.targets.opencode",
    "copilot": "fastcap.capture.targets.copilot",
    "qwen-code": "fastcap.capture.targets.qwen_code",
    "kimi": "fastcap.capture.targets.kimi",
    "grok": "fastcap.capture.targets.grok",
    "generic": "fastcap.capture.targets.generic",
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
    """The `be` label of a request: the label of the target that lists its host, else the label
    of the dialect the dialect registry finds for its path and headers, else the host."""
    for target in all_targets():
        for pattern, backend in target.host_backends:
            if host_matches(host, (pattern,)):
                return backend
        if target.hosts and target.matches_host(host):
            return target.backend
    return _dialect_backend(host, path, headers) or host or "unknown"


def _dialect_backend(host: str, path: str, headers: Mapping[str, str] | None) -> str:
    # Imported here: the registry loads every dialect module, and most requests never get here.
    from fastcap.dialects.registry import dialect_for
    from fastcap.model import Exchange

    netloc = f"[{host}]" if ":" in host and not host.startswith("[") else host
    ex = Exchange(
        index=0,
        source="capture",
        method="POST",
        url=f"https://{netloc}{path if path.startswith('/') else '/' + path}",
        request_headers=list((headers or {}).items()),
    )
    try:
        return dialect_for(ex).backend
    except ValueError:  # a URL urllib cannot split (a malformed host): no dialect
        return ""


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
