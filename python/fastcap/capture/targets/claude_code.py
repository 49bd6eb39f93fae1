"""Claude Code (Node.js): forward proxy, or reverse via ANTHROPIC_BASE_URL."""

from fastcap.capture.targets import ReverseProxy, Target

TARGET = Target(
    name="claude-code",
    description="Anthropic Claude Code CLI (Node.js)",
    backend="anthropic",
    hosts=("api.anthropic.com", "console.anthropic.com", "statsig.anthropic.com", "claude.ai"),
    modes=("forward", "reverse"),
    reverse=(
        ReverseProxy(
            upstream="https://api.anthropic.com/",
            purpose="Messages API",
            env={"ANTHROPIC_BASE_URL": "{base}"},
        ),
    ),
    example_command="claude",
    notes=(
        "Node.js only trusts the proxy CA through NODE_EXTRA_CA_CERTS; never set "
        "NODE_TLS_REJECT_UNAUTHORIZED=0.",
        "Reverse mode captures only the Messages API; OAuth and telemetry need forward mode.",
    ),
)
