"""Kimi CLI (Python): forward proxy, or reverse via KIMI_BASE_URL.

Configured from Moonshot AI's documentation, not tried for real:
- https://moonshotai.github.io/kimi-cli/en/configuration/env-vars.html : KIMI_BASE_URL, KIMI_API_KEY
  and KIMI_MODEL_NAME override a `kimi`-type provider; OPENAI_BASE_URL / OPENAI_API_KEY override
  `openai_legacy` and `openai_responses` providers.
- https://moonshotai.github.io/kimi-cli/en/configuration/config-files.md : providers in
  ~/.kimi/config.toml; the Kimi Code subscription's base URL is https://api.kimi.com/coding/v1, the
  Moonshot platform's https://api.moonshot.ai/v1 (https://api.moonshot.cn/v1 in China).
- https://moonshotai.github.io/kimi-code/en/configuration/env-vars : the newer Kimi Code CLI reads
  keys and base URLs from config.toml only, not from the environment.
"""

from fastcap.capture.targets import ReverseProxy, Target

TARGET = Target(
    name="kimi",
    description="Kimi CLI (Python) / Kimi Code CLI",
    backend="kimi",
    hosts=("api.kimi.com", "auth.kimi.com", "*.kimi.com", "api.moonshot.ai", "api.moonshot.cn"),
    modes=("forward", "reverse"),
    reverse=(
        ReverseProxy(
            upstream="https://api.kimi.com/",
            purpose="Kimi Code API (kimi provider)",
            env={"KIMI_BASE_URL": "{base}/coding/v1"},
        ),
    ),
    example_command="kimi",
    notes=(
        "Python HTTP clients read HTTPS_PROXY and SSL_CERT_FILE; fastcap points SSL_CERT_FILE at a "
        "bundle of the system CAs plus the mitmproxy CA.",
        "Moonshot platform keys: --mode reverse --upstream https://api.moonshot.ai/ and "
        "KIMI_BASE_URL=$FASTCAP_PROXY_URL/v1.",
        "The newer Kimi Code CLI takes base URLs from config.toml only: use forward mode, or set "
        "base_url in config.toml to the listener.",
    ),
)
