"""The capture targets (`capture/targets/`): one declarative module each, registered in one place,
every field valid, and the launch lines `fastcap capture` prints for each target usable as printed."""

from __future__ import annotations

import ast
import importlib
import json
import os
import pkgutil
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastcap.capture import runner, targets
from fastcap.capture import session as sess

# In `backend_for` order (TARGET_MODULES): the first host match wins.
NAMES = [
    "claude-code",
    "codex",
    "kiro",
    "gemini",
    "claude-agent-sdk",
    "opencode",
    "copilot",
    "qwen-code",
    "kimi",
    "grok",
    "generic",
]
# Targets configured from the agents' documentation only (README, "Agents"): their modules say so.
FROM_DOCS = {"claude-agent-sdk", "opencode", "copilot", "qwen-code", "kimi", "grok"}
ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
HOST_PATTERN = re.compile(r"^\.?[a-z0-9*?\[\]-]+(\.[a-z0-9*?\[\]-]+)*$")


def test_one_registry_lists_every_target_module() -> None:
    assert targets.names() == NAMES
    package = Path(targets.__file__).parent
    modules = {f"fastcap.capture.targets.{m.name}" for m in pkgutil.iter_modules([str(package)])}
    assert modules == set(targets.TARGET_MODULES.values())  # no module left unregistered
    with pytest.raises(KeyError, match="choose from claude-code, codex"):
        targets.get("nope")


def _module_tree(name: str) -> ast.Module:
    return ast.parse(Path(importlib.import_module(targets.TARGET_MODULES[name]).__file__ or "").read_text())


@pytest.mark.parametrize("name", NAMES)
def test_target_module_is_declarative(name: str) -> None:
    """A docstring, one `TARGET`, imports from the targets package only (the addon imports it
    inside mitmproxy's interpreter); targets configured from documentation cite it."""
    tree = _module_tree(name)
    doc = ast.get_docstring(tree)
    assert doc, name
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            assert (node.module or "").startswith("fastcap.capture.targets"), (name, node.module)
        assert not isinstance(node, ast.Import), name
    assigned = [
        t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)
    ]
    assert assigned == ["TARGET"], name
    if name in FROM_DOCS:
        assert "not tried for real" in doc and "https://" in doc, name


@pytest.mark.parametrize("name", NAMES)
def test_target_fields_are_valid(name: str) -> None:
    t = targets.get(name)
    assert t.name == name and t.description and t.example_command and t.backend
    assert re.fullmatch(r"[a-z][a-z0-9_-]*", t.backend), t.backend
    assert t.modes and len(set(t.modes)) == len(t.modes) and set(t.modes) <= {"forward", "reverse"}
    for host in t.hosts:
        assert HOST_PATTERN.match(host), (name, host)  # no scheme, port, path or upper case
        if not any(c in host for c in "*?[") and not host.startswith("."):
            assert t.matches_host(host) and t.matches_host(host.upper() + "."), host
    for pattern, backend in t.host_backends:
        assert HOST_PATTERN.match(pattern) and backend
    assert all(isinstance(n, str) and n.strip() and "\n" not in n for n in t.notes)
    if "reverse" not in t.modes:
        assert t.reverse == () and t.manual_steps == ()
    elif name != "generic":  # generic fronts whatever --upstream names
        assert t.reverse, name


@pytest.mark.parametrize("name", [n for n in NAMES if targets.get(n).reverse])
def test_reverse_listeners_and_env_placeholders(name: str, tmp_path: Path) -> None:
    t = targets.get(name)
    offsets = [r.port_offset for r in t.reverse]
    assert sorted(offsets) == list(range(len(offsets)))  # one port each, no gaps
    for r in t.reverse:
        up = urlsplit(r.upstream)
        assert up.scheme == "https" and up.hostname and up.path == "/" and not up.query, r.upstream
        assert r.purpose
        for key, value in r.env.items():
            assert ENV_NAME.match(key), key
            # `{base}` is the only placeholder: the runner formats with it alone.
            filled = value.format(base="http://127.0.0.1:9")
            assert ("http://127.0.0.1:9" in filled) == ("{base}" in value), (key, value)
            if filled.startswith("{"):
                json.loads(filled)  # an inline JSON config stays JSON once filled
    cfg = runner.CaptureConfig(target=t, session_dir=tmp_path, mode="reverse", port=9000)
    assert cfg.listen_ports == [9000 + o for o in offsets]
    cmd = runner.build_command(cfg, "mitmdump")
    for r in t.reverse:
        assert f"reverse:{r.upstream}@{9000 + r.port_offset}" in cmd
    env = runner.agent_env(cfg, tmp_path / "ca.pem", tmp_path / "bundle.pem")
    assert env["FASTCAP_PROXY_URL"] == "http://127.0.0.1:9000"
    assert "HTTPS_PROXY" not in env and "NODE_TLS_REJECT_UNAUTHORIZED" not in env
    for r in t.reverse:
        for key, value in r.env.items():
            assert env[key] == value.format(base=f"http://127.0.0.1:{9000 + r.port_offset}")
    steps = runner.manual_steps(cfg)
    assert len(steps) == len(t.manual_steps)  # every step formats with the listen ports
    assert all("{" not in s or s.count("{") == s.count("}") for s in steps)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shell", ["bash", "powershell"])
def test_launch_lines_set_what_the_agent_needs(name: str, shell: str, tmp_path: Path) -> None:
    t = targets.get(name)
    for mode in t.modes:
        if mode == "reverse" and not t.reverse:
            continue
        cfg = runner.CaptureConfig(target=t, session_dir=tmp_path, mode=mode, port=9100)
        env = runner.agent_env(cfg, tmp_path / "ca.pem", tmp_path / "bundle.pem")
        text = runner.launch_lines(env, t.example_command, shell)
        lines = text.splitlines()
        assert lines[-1] == t.example_command
        if shell == "bash":
            # Each line is `NAME=value \`: a shell reads back exactly the value fastcap set.
            got = dict(shlex.split(line.removesuffix(" \\"))[0].split("=", 1) for line in lines[:-1])
        else:
            got = dict(re.fullmatch(r"\$env:(\w+) = '(.*)'", line).groups() for line in lines[:-1])  # type: ignore[union-attr]
        assert got == {k: v for k, v in env.items() if not k.islower()}
        if mode == "forward":
            assert got["HTTPS_PROXY"] == "http://127.0.0.1:9100"
            assert got["NODE_EXTRA_CA_CERTS"].endswith("ca.pem") and got["SSL_CERT_FILE"].endswith(
                "bundle.pem"
            )
        assert "NODE_TLS_REJECT_UNAUTHORIZED" not in got


def test_backend_labels_of_the_new_hosts() -> None:
    expected = {
        "api.anthropic.com": "anthropic",  # claude-code's, before claude-agent-sdk and opencode
        "opencode.ai": "opencode",
        "models.dev": "opencode",
        "api.githubcopilot.com": "copilot",
        "api.individual.githubcopilot.com": "copilot",
        "copilot-proxy.githubusercontent.com": "copilot",
        "portal.qwen.ai": "qwen",
        "dashscope-intl.aliyuncs.com": "qwen",
        "dashscope.aliyuncs.com": "qwen",
        "api.kimi.com": "kimi",
        "api.moonshot.cn": "kimi",
        "api.x.ai": "xai",
        "q.us-east-1.amazonaws.com": "kiro",
    }
    assert {h: targets.backend_for(h) for h in expected} == expected
    assert not targets.get("qwen-code").matches_host("oss-cn-hangzhou.aliyuncs.com")
    # A host no target lists still gets its API's label from the dialect registry.
    assert targets.backend_for("llm.example.internal", "/v1/chat/completions") == "openai"


# ---------------------------------------------------------------------------------------------------
# `fastcap capture start` prints the launch lines for a new target (through a real mitmdump)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    e = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    e["FASTCAP_SESSIONS_DIR"] = str(tmp_path / "sessions")
    yield e
    for state_file in (tmp_path / "sessions").glob("*/state.json"):
        state = sess.read_state(state_file.parent) or {}
        if sess.is_recorded_proxy(state):  # a failed assertion left it running
            runner.stop_proxy(state["pid"])


def _fastcap(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fastcap", *args], env=env, capture_output=True, text=True, timeout=90
    )


@pytest.mark.e2e
@pytest.mark.parametrize(("name", "mode"), [("opencode", "reverse"), ("copilot", "forward")])
def test_capture_start_prints_the_target_launch_lines(
    name: str, mode: str, tmp_path: Path, env: dict[str, str]
) -> None:
    out = tmp_path / "session"
    conf = ["--confdir", str(tmp_path / "conf"), "--no-report", "--out", str(out)]
    r = _fastcap(["capture", "start", "--target", name, "--mode", mode, *conf], env)
    try:
        assert r.returncode == 0, r.stdout + r.stderr
        t = targets.get(name)
        assert f"Run {t.description} through the proxy" in r.stdout
        assert t.example_command in r.stdout and all(f"Note: {n}" in r.stdout for n in t.notes)
        state = sess.read_state(out)
        assert state is not None and state["agent"] == name and state["mode"] == mode
        if mode == "reverse":
            port = state["port"]
            assert f":{port} -> https://api.anthropic.com/" in r.stdout
            line = next(x for x in r.stdout.splitlines() if x.startswith("OPENCODE_CONFIG_CONTENT="))
            value = shlex.split(line.removesuffix(" \\"))[0].split("=", 1)[1]
            assert json.loads(value) == {
                "provider": {"anthropic": {"options": {"baseURL": f"http://127.0.0.1:{port}/v1"}}}
            }
        else:
            assert "HTTPS_PROXY=http://127.0.0.1:" in r.stdout and "NODE_EXTRA_CA_CERTS=" in r.stdout
    finally:
        stop = _fastcap(["capture", "stop", "--out", str(out), "--no-report"], env)
    assert stop.returncode == 0, stop.stdout + stop.stderr
