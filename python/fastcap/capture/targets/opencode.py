"""opencode (Bun, AI SDK providers): forward proxy, or reverse for Anthropic via OPENCODE_CONFIG_CONTENT.

Configured from opencode's documentation, not tried for real:
- https://opencode.ai/docs/network/ : opencode honours HTTPS_PROXY / HTTP_PROXY, trusts an extra CA
  through NODE_EXTRA_CA_CERTS, and needs NO_PROXY=localhost,127.0.0.1 because its TUI talks to a local
  HTTP server.
- https://opencode.ai/docs/providers/ ("Base URL"): `provider.<id>.options.baseURL`, for Anthropic
  `https://api.anthropic.com/v1`.
- https://opencode.ai/docs/config/ ("Precedence order"): OPENCODE_CONFIG_CONTENT, inline JSON config
  applied after every config file.
"""

from fastcap.capture.targets import ReverseProxy, Target

TARGET = Target(
    name="opencode",
    description="opencode terminal coding agent (Bun, AI SDK providers)",
    backend="opencode",
    # opencode's own services (Zen gateway, share, auth) and the model catalogue it downloads; the
    # providers' hosts (api.anthropic.com, api.openai.com, ...) keep their own targets' labels.
    hosts=("opencode.ai", "*.opencode.ai", "models.dev"),
    modes=("forward", "reverse"),
    reverse=(
        ReverseProxy(
            upstream="https://api.anthropic.com/",
            purpose="Anthropic Messages API (provider anthropic)",
            # Doubled braces: the runner fills `{base}` with str.format.
            env={
                "OPENCODE_CONFIG_CONTENT": '{{"provider":{{"anthropic":{{"options":{{"baseURL":"{base}/v1"}}}}}}}}'
            },
        ),
    ),
    example_command="opencode",
    notes=(
        "Forward mode: also export NO_PROXY=localhost,127.0.0.1, or the TUI's calls to its own local "
        "server loop through the proxy (opencode.ai/docs/network).",
        "Reverse mode fronts the anthropic provider only; for another provider set "
        "provider.<id>.options.baseURL to the listener yourself, or use forward mode.",
    ),
)
