"""Gemini CLI (Node.js): forward proxy, or reverse via GOOGLE_GEMINI_BASE_URL."""

from fastcap.capture.targets import ReverseProxy, Target

TARGET = Target(
    name="gemini",
    description="Google Gemini CLI (Node.js)",
    backend="gemini",
    hosts=(
        "generativelanguage.googleapis.com",
        "cloudcode-pa.googleapis.com",
        "oauth2.googleapis.com",
        "*-aiplatform.googleapis.com",
        "aiplatform.googleapis.com",
        "play.googleapis.com",
    ),
    modes=("forward", "reverse"),
    reverse=(
        ReverseProxy(
            upstream="https://generativelanguage.googleapis.com/",
            purpose="Gemini API (API key mode)",
            env={"GOOGLE_GEMINI_BASE_URL": "{base}"},
        ),
    ),
    example_command="gemini",
    notes=(
        "With a Google login the CLI calls cloudcode-pa.googleapis.com: use forward mode.",
        "Gemini streams SSE with CRLF line endings (alt=sse).",
    ),
)
