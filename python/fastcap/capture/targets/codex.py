"""OpenAI Codex CLI (Rust): reverse proxies for API-key mode, forward proxy for ChatGPT login."""

from fastcap.capture.targets import ReverseProxy, Target

TARGET = Target(
    name="codex",
    description="OpenAI Codex CLI (Rust)",
    backend="openai",
    hosts=("api.openai.com", "chatgpt.com", "auth.openai.com", "ab.chatgpt.com"),
    modes=("reverse", "forward"),
    reverse=(
        ReverseProxy(
            upstream="https://api.openai.com/",
            purpose="Model API (API key mode)",
            port_offset=0,
            env={"OPENAI_BASE_URL": "{base}/v1"},
        ),
        ReverseProxy(
            upstream="https://chatgpt.com/",
            purpose="Backend channels",
            port_offset=1,
        ),
    ),
    example_command='codex exec "write a hello world function"',
    manual_steps=('Add to ~/.codex/config.toml: chatgpt_base_url = "http://127.0.0.1:{port1}/backend-api/"',),
    notes=(
        "With a ChatGPT login Codex ignores OPENAI_BASE_URL and calls chatgpt.com/backend-api/codex/"
        "responses: use --mode forward.",
        "Codex talks to the Responses API over a WebSocket by default (HTTP after a 426); fastcap "
        "records every message and makes each request on the connection a call of its own.",
    ),
)
