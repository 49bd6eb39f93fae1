"""Any HTTP client that honours HTTPS_PROXY and a CA bundle: records every host.

This is also the target for any OpenAI-compatible client (the official OpenAI SDKs, LiteLLM, Aider,
Continue, ...): the OpenAI SDKs read OPENAI_BASE_URL (https://github.com/openai/openai-python,
README "Configuring the HTTP client"; https://github.com/openai/openai-node, README), and most other
clients have a base-URL option of their own.
"""

from fastcap.capture.targets import Target

TARGET = Target(
    name="generic",
    description="Any agent or client that honours HTTPS_PROXY/HTTP_PROXY (all hosts recorded)",
    backend="generic",
    hosts=(),
    modes=("forward", "reverse"),
    example_command="python client.py",
    notes=(
        "Reverse mode needs --upstream URL naming the API to front.",
        "OpenAI-compatible clients: --mode reverse --upstream https://api.example.com/ and point the "
        "client's base URL at $FASTCAP_PROXY_URL/v1 (OPENAI_BASE_URL for the OpenAI SDKs).",
    ),
)
