"""Qwen Code (Node.js, a Gemini CLI fork speaking OpenAI Chat Completions): forward proxy, or reverse
via OPENAI_BASE_URL.

Configured from Qwen Code's documentation, not tried for real:
- https://qwenlm.github.io/qwen-code-docs/en/cli/openai-auth : OPENAI_API_KEY, OPENAI_BASE_URL
  (default https://api.openai.com/v1), OPENAI_MODEL, or --openai-base-url.
- https://qwenlm.github.io/qwen-code-docs/en/users/configuration/auth : Qwen OAuth (a qwen.ai
  browser login; its free tier ended on 2026-04-15), Alibaba Cloud Coding Plan, or an API key.
- https://www.alibabacloud.com/help/en/model-studio/compatibility-of-openai-with-dashscope : the
  OpenAI-compatible base URLs https://dashscope-intl.aliyuncs.com/compatible-mode/v1 (Singapore) and
  https://dashscope.aliyuncs.com/compatible-mode/v1 (Beijing).
- Qwen OAuth signs in at chat.qwen.ai and then calls portal.qwen.ai/v1 (qwen-code
  packages/core/src/qwen/qwenOAuth2.ts, as the OAuth plugins that mirror it quote it).
"""

from fastcap.capture.targets import ReverseProxy, Target

TARGET = Target(
    name="qwen-code",
    description="Qwen Code CLI (Node.js)",
    backend="qwen",
    hosts=("chat.qwen.ai", "portal.qwen.ai", "dashscope*.aliyuncs.com"),
    modes=("forward", "reverse"),
    reverse=(
        ReverseProxy(
            upstream="https://dashscope-intl.aliyuncs.com/",
            purpose="Model Studio OpenAI-compatible API (international)",
            env={"OPENAI_BASE_URL": "{base}/compatible-mode/v1"},
        ),
    ),
    example_command="qwen",
    notes=(
        "With a qwen.ai (OAuth) login the CLI calls portal.qwen.ai: use forward mode.",
        "Beijing region: --mode reverse --upstream https://dashscope.aliyuncs.com/ and "
        "OPENAI_BASE_URL=$FASTCAP_PROXY_URL/compatible-mode/v1.",
    ),
)
