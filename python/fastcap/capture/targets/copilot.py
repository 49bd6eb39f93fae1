"""GitHub Copilot CLI (Node.js): forward proxy; reverse only for a BYOK provider (COPILOT_PROVIDER_BASE_URL).

Configured from GitHub's documentation, not tried for real:
- https://docs.github.com/en/copilot/reference/copilot-allowlist-reference : the hosts Copilot talks to
  (github.com login, api.github.com/copilot_internal, *.githubcopilot.com, copilot-proxy and
  telemetry hosts).
- https://docs.github.com/en/copilot/how-tos/copilot-cli/customize-copilot/use-byok-models :
  COPILOT_PROVIDER_BASE_URL, COPILOT_PROVIDER_TYPE (openai, azure, anthropic),
  COPILOT_PROVIDER_API_KEY, COPILOT_MODEL.
- https://coder.com/docs/ai-coder/ai-gateway/clients/copilot : the CLI has no base-URL override for
  GitHub-hosted models, honours HTTPS_PROXY and trusts an extra CA through NODE_EXTRA_CA_CERTS.
"""

from fastcap.capture.targets import ReverseProxy, Target

TARGET = Target(
    name="copilot",
    description="GitHub Copilot CLI (Node.js)",
    backend="copilot",
    hosts=(
        "api.githubcopilot.com",
        "*.githubcopilot.com",
        "copilot-proxy.githubusercontent.com",
        "origin-tracker.githubusercontent.com",
        "copilot-telemetry.githubusercontent.com",
        "api.github.com",
        "github.com",
        "collector.github.com",
        "default.exp-tas.com",
    ),
    modes=("forward", "reverse"),
    reverse=(
        ReverseProxy(
            upstream="https://api.openai.com/",
            purpose="BYOK model provider (OpenAI-compatible)",
            env={"COPILOT_PROVIDER_BASE_URL": "{base}/v1", "COPILOT_PROVIDER_TYPE": "openai"},
        ),
    ),
    example_command="copilot",
    notes=(
        "GitHub-hosted models (api.*.githubcopilot.com) have no base-URL override: use forward mode.",
        "Reverse mode is for bring-your-own-key models: also export COPILOT_PROVIDER_API_KEY and "
        "COPILOT_MODEL; for a provider other than OpenAI pass --upstream URL and set "
        "COPILOT_PROVIDER_BASE_URL to $FASTCAP_PROXY_URL plus its path.",
    ),
)
