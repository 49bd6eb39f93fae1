"""Model-API dialects: turn one `Exchange` into a `CallAnalysis`.

One module per API, each with one `Dialect` class (`base.Dialect`), registered in
`registry.DIALECTS`: the only list of dialects. Public entry points:

- `analyze_exchange(ex)`: pick the dialect (URL, `x-amz-target`, headers) and analyse.
- `dialect_for(ex)`: the `Dialect` that `analyze_exchange` would use; `detect_dialect(ex)` its name.
- `api_name(ex)`: docs/specs/reports.md §2.3 API name.
- `is_model_call(ex_or_api_name)`; `api_kind(api_name, model_call)`: model, count_tokens,
  usage_limits, telemetry, auth or other (docs/specs/reports.md §2.3.1).
- `classify_issue(ex, response)`: rate_limit / server_error / client_error / stream_error / cut_stream
  (the classes of docs/metrics.md).
"""

from __future__ import annotations

from fastcap.dialects._naming import api_kind, api_name, is_model_call, url_api_name
from fastcap.dialects.base import (
    CallAnalysis,
    Dialect,
    ErrorInfo,
    MessageInfo,
    RequestInfo,
    ResponseInfo,
    StreamEvent,
    ToolCall,
    Usage,
)
from fastcap.dialects.registry import (
    DIALECTS,
    GENERIC,
    analyze_exchange,
    classify_issue,
    detect_dialect,
    dialect_for,
)

__all__ = [
    "DIALECTS",
    "GENERIC",
    "CallAnalysis",
    "Dialect",
    "ErrorInfo",
    "MessageInfo",
    "RequestInfo",
    "ResponseInfo",
    "StreamEvent",
    "ToolCall",
    "Usage",
    "analyze_exchange",
    "api_kind",
    "api_name",
    "classify_issue",
    "detect_dialect",
    "dialect_for",
    "is_model_call",
    "url_api_name",
]
