"""Any HTTP client that honours HTTPS_PROXY and a CA bundle: records every host."""

from fastcap.capture.targets import Target

TARGET = Target(
    name="generic",
    description="Any agent or client that honours HTTPS_PROXY/HTTP_PROXY (all hosts recorded)",
    backend="generic",
    hosts=(),
    modes=("forward", "reverse"),
    example_command="python client.py",
    notes=("Reverse mode needs --upstream URL naming the API to front.",),
)
