"""The dialect registry is the one answer to "what API is this?", and the one list of dialects."""

from __future__ import annotations

import argparse
import importlib
import pkgutil

import fastcap.dialects
import pytest
from fastcap.capture import targets
from fastcap.cli import build_parser
from fastcap.dialects import Dialect, analyze_exchange, detect_dialect, dialect_for
from fastcap.dialects.registry import BY_NAME, DIALECTS, GENERIC, get, names
from fastcap.model import Exchange
from mitmproxy.http import Headers


def _dialect_classes() -> dict[str, list[type]]:
    """Every class subclassing `Dialect` defined in a module of fastcap.dialects, by module."""
    found: dict[str, list[type]] = {}
    for info in pkgutil.iter_modules(fastcap.dialects.__path__, "fastcap.dialects."):
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            defined_here = isinstance(obj, type) and obj.__module__ == module.__name__
            if defined_here and obj is not Dialect and Dialect in obj.__mro__:
                found.setdefault(module.__name__, []).append(obj)
    return found


def test_every_dialect_class_is_registered_once() -> None:
    classes = _dialect_classes()
    assert all(len(c) == 1 for c in classes.values()), classes  # one Dialect class per module
    defined = {c for cs in classes.values() for c in cs}
    registered = [type(d) for d in (*DIALECTS, GENERIC)]
    assert sorted(registered, key=str) == sorted(defined, key=str)
    assert len(set(registered)) == len(registered)


def test_the_registry_order_and_names() -> None:
    assert names() == ("kiro", "bedrock", "anthropic", "openai_responses", "openai_chat", "gemini")
    assert GENERIC.name == "generic" and GENERIC not in DIALECTS
    assert list(BY_NAME) == [*names(), "generic"]  # unique: BY_NAME refuses a second name
    for d in (*DIALECTS, GENERIC):
        assert get(d.name) is d and d.name.isidentifier() and d.name == type(d).__module__.rsplit(".")[-1]
    with pytest.raises(KeyError, match="unknown dialect 'openai'"):
        get("openai")


def test_decode_api_choices_are_the_registry_names() -> None:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    api = next(a for a in sub.choices["decode"]._actions if a.dest == "api")
    assert list(api.choices) == sorted(names())


@pytest.mark.parametrize("dialect", [*DIALECTS, GENERIC], ids=lambda d: d.name)
def test_each_dialect_owns_its_example_url(dialect: Dialect) -> None:
    ex = Exchange(0, "body", "POST", dialect.example_url)
    assert dialect.matches(ex) and dialect_for(ex) is dialect and detect_dialect(ex) == dialect.name
    assert analyze_exchange(ex).dialect == dialect.name
    assert (dialect.backend == "") == (dialect is GENERIC)


@pytest.mark.parametrize(
    ("host", "path", "headers", "backend"),
    [
        # A host a target lists: the target's label, whatever the path.
        ("api.anthropic.com", "/api/oauth/profile", None, "anthropic"),
        ("chatgpt.com", "/backend-api/me", None, "openai"),
        ("q.us-east-1.amazonaws.com", "/", None, "kiro"),
        # Any other host: the label of the dialect the registry finds, else the host.
        ("127.0.0.1", "/v1/messages?beta=true", None, "anthropic"),
        ("llm-gateway.corp.internal", "/v1/chat/completions", None, "openai"),
        ("localhost", "/v1/responses", None, "openai"),
        ("127.0.0.1", "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse", None, "gemini"),
        ("127.0.0.1", "/generateAssistantResponse", None, "kiro"),
        ("10.0.0.7", "/", {"x-amz-target": "AmazonCodeWhispererService.ListAvailableModels"}, "kiro"),
        ("bedrock-runtime.us-east-1.amazonaws.com", "/model/m/converse-stream", None, "bedrock"),
        ("::1", "/v1/messages", None, "anthropic"),
        ("127.0.0.1", "/json/200", None, "127.0.0.1"),
        ("", "", None, "unknown"),
    ],
)
def test_backend_for_asks_the_registry_for_unlisted_hosts(
    host: str, path: str, headers: dict[str, str] | None, backend: str
) -> None:
    assert targets.backend_for(host, path, headers) == backend


def test_backend_for_takes_mitmproxy_headers() -> None:
    headers = Headers(x_amz_target="AmazonCodeWhispererStreamingService.GenerateAssistantResponse")
    assert targets.backend_for("127.0.0.1", "/", headers) == "kiro"


def test_backend_for_survives_a_host_urllib_cannot_split() -> None:
    assert targets.backend_for("[::1", "/v1/messages") == "[::1"
