"""kiro-cli (Rust, AWS SDK): forward proxy with SSL_CERT_FILE.

kiro-cli 2 talks to `runtime.{region}.kiro.dev` (x-amz-target `KiroRuntimeService.*`); older
releases and Amazon Q Developer CLI to `q.{region}.amazonaws.com` / `codewhisperer.…`
(`AmazonCodeWhispererStreamingService.*`, `AmazonCodeWhispererService.*`). Both are listed."""

from fastcap.capture.targets import Target

TARGET = Target(
    name="kiro",
    description="kiro-cli / Amazon Q Developer CLI (Rust, AWS SDK for Rust)",
    backend="kiro",
    hosts=(
        "q.*.amazonaws.com",
        "codewhisperer.*.amazonaws.com",
        "oidc.*.amazonaws.com",
        "cognito-identity.*.amazonaws.com",
        "client-telemetry.*.amazonaws.com",
        "*.kiro.dev",
        "kiro.dev",
    ),
    modes=("forward",),
    example_command="kiro-cli chat",
    notes=(
        "The AWS SDK for Rust reads SSL_CERT_FILE; it must contain the mitmproxy CA (fastcap points "
        "it at a bundle of the system CAs plus the mitmproxy CA).",
        "GenerateAssistantResponse streams application/vnd.amazon.eventstream; GetUsageLimits may "
        "return 403, which is normal.",
        "kiro-cli 2 sends x-amz-target KiroRuntimeService.GenerateAssistantResponse to "
        "runtime.<region>.kiro.dev; older releases AmazonCodeWhispererStreamingService.* to "
        "q.<region>.amazonaws.com. meteringEvent reports credits, shown apart from tokens.",
    ),
)
