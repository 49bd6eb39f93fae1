"""Claude Agent SDK for Python (`claude-agent-sdk`): the SDK runs the bundled Claude Code CLI (Node.js)
as a subprocess, which inherits the environment, so it routes exactly like Claude Code.

Configured from documentation, not tried for real:
- https://pypi.org/project/claude-agent-sdk/ (README): the Claude Code CLI is bundled and spawned by
  `query()` / `ClaudeSDKClient`; `ClaudeAgentOptions(env=...)` adds variables to its environment.
- https://docs.claude.com/en/docs/claude-code/network-config : HTTPS_PROXY / HTTP_PROXY,
  NODE_EXTRA_CA_CERTS; https://docs.claude.com/en/docs/claude-code/settings : ANTHROPIC_BASE_URL.
"""

from fastcap.capture.targets import Target
from fastcap.capture.targets.claude_code import TARGET as CLAUDE_CODE

TARGET = Target(
    name="claude-agent-sdk",
    description="Claude Agent SDK for Python (runs the bundled Claude Code CLI)",
    backend="anthropic",
    hosts=CLAUDE_CODE.hosts,
    modes=("forward", "reverse"),
    reverse=CLAUDE_CODE.reverse,
    example_command="python agent.py",
    notes=(
        "The Python process makes no model calls itself: the Claude Code CLI it spawns does, and it "
        "inherits these variables (pass ClaudeAgentOptions(env=...) only to add more).",
        "The CLI is Node.js: it trusts the proxy CA through NODE_EXTRA_CA_CERTS; never set "
        "NODE_TLS_REJECT_UNAUTHORIZED=0.",
    ),
)
