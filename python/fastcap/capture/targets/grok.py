"""Grok CLI (superagent-ai/grok-cli, Bun, OpenAI SDK): forward proxy, or reverse via GROK_BASE_URL.

Configured from the project's documentation, not tried for real:
- https://github.com/superagent-ai/grok-cli (README): GROK_API_KEY, GROK_BASE_URL (default
  https://api.x.ai/v1), GROK_MODEL; settings in ~/.grok/user-settings.json. A community project, not
  xAI's.
- https://docs.x.ai/developers/advanced-api-usage/websocket-mode : the xAI Responses API also runs over
  one WebSocket (`response.create` with `previous_response_id`), which fastcap splits into calls like
  Codex's.
- xAI's own Grok Build CLI (also `grok`, https://docs.x.ai/build/overview) documents no base-URL
  variable: forward mode.
"""

from fastcap.capture.targets import ReverseProxy, Target

TARGET = Target(
    name="grok",
    description="Grok CLI (superagent-ai/grok-cli, Bun) or xAI Grok Build",
    backend="xai",
    hosts=("api.x.ai", "*.x.ai", "x.ai"),
    modes=("forward", "reverse"),
    reverse=(
        ReverseProxy(
            upstream="https://api.x.ai/",
            purpose="xAI API (OpenAI-compatible)",
            env={"GROK_BASE_URL": "{base}/v1"},
        ),
    ),
    example_command="grok",
    notes=(
        "Bun and Node.js trust the proxy CA through NODE_EXTRA_CA_CERTS; Node.js's own fetch honours "
        "HTTPS_PROXY only with NODE_USE_ENV_PROXY=1 (Node 24+).",
        "xAI's Grok Build CLI has no documented base-URL variable: use forward mode for it.",
    ),
)
