"""`fastcap export`: OTLP/JSON files decoded with opentelemetry-proto, a real OTLP/HTTP receiver on
127.0.0.1, the command end to end, its errors, and redaction."""

from __future__ import annotations

import base64
import http.server
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastcap.cli import main
from fastcap.formats import read_exchanges
from fastcap.secrets.leakscan import scan_paths
from google.protobuf.json_format import MessageToDict, Parse
from helpers import DEMO, REPO_ROOT
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

FAKE_KEY = "sk-ant-api03-" + "FAKEFAKEFAKE" * 4


def _otlp_json_to_proto_json(node: Any) -> Any:
    """OTLP/JSON writes trace and span ids as hex; protobuf's JSON mapping reads bytes as base64."""
    if isinstance(node, dict):
        return {
            k: base64.b64encode(bytes.fromhex(v)).decode()
            if k in ("traceId", "spanId", "parentSpanId") and v
            else _otlp_json_to_proto_json(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_otlp_json_to_proto_json(v) for v in node]
    return node


def read_otlp_file(path: Path) -> ExportTraceServiceRequest:
    return Parse(
        json.dumps(_otlp_json_to_proto_json(json.loads(path.read_text()))), ExportTraceServiceRequest()
    )


def spans_of(request: ExportTraceServiceRequest) -> list[Span]:
    return [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]


def attrs(span: Span) -> dict[str, Any]:
    out = {}
    for kv in span.attributes:
        value = MessageToDict(kv.value)
        (kind, v), *_ = value.items() if value else [("", None)]
        if kind == "intValue":
            v = int(v)
        elif kind == "arrayValue":
            v = [next(iter(x.values())) for x in v.get("values", [])]
        out[kv.key] = v
    return out


def export_file(
    tmp_path: Path, *inputs: Path | str, extra: tuple[str, ...] = ()
) -> ExportTraceServiceRequest:
    out = tmp_path / "spans.json"
    assert main(["export", *map(str, inputs), "--otlp-file", str(out), *extra]) == 0
    return read_otlp_file(out)


def test_demo_spans_carry_the_semconv_attributes_and_the_captured_times(tmp_path: Path) -> None:
    request = export_file(tmp_path, DEMO)
    spans = spans_of(request)
    calls = [s for s in spans if s.kind == Span.SPAN_KIND_CLIENT]
    roots = [s for s in spans if s.kind == Span.SPAN_KIND_INTERNAL]
    assert len(calls) == 7 and len(roots) == 3
    # Two conversations; the calls without a conversation id grouped by their session, as the view does.
    assert sorted(r.name for r in roots) == [
        "fastcap conversation 5f1c2a9e",
        "fastcap conversation c0dex-5e55-10n",
        "fastcap session fastcap-demo-20261121",
    ]
    first = next(s for s in calls if attrs(s)["fastcap.call.index"] == 0)
    a = attrs(first)
    assert first.name == "chat claude-sonnet-4-5"
    assert a["gen_ai.operation.name"] == "chat" and a["gen_ai.provider.name"] == "anthropic"
    assert a["gen_ai.request.model"] == "claude-sonnet-4-5" and a["gen_ai.conversation.id"] == "5f1c2a9e"
    assert a["gen_ai.usage.input_tokens"] == 51363 and a["gen_ai.usage.output_tokens"] == 96
    assert (
        a["gen_ai.usage.cache_read.input_tokens"] == 48112
        and a["gen_ai.usage.cache_write.input_tokens"] == 2048
    )
    assert a["gen_ai.response.finish_reasons"] == ["tool_use"] and a["gen_ai.request.stream"] is True
    assert a["gen_ai.response.time_to_first_chunk"] == pytest.approx(1.29, abs=1e-6)
    assert a["server.address"] == "api.anthropic.com" and a["http.response.status_code"] == 200
    assert "gen_ai.system" not in a  # the older name of gen_ai.provider.name
    # The capture's own times, to the microsecond.
    assert first.start_time_unix_nano == 1763700001_000_000_000
    assert first.end_time_unix_nano == 1763700002_780_000_000
    assert first.status.code == Status.STATUS_CODE_UNSET
    # The 429: an error span with the provider's error type.
    limited = next(s for s in calls if attrs(s).get("http.response.status_code") == 429)
    assert (
        limited.status.code == Status.STATUS_CODE_ERROR and attrs(limited)["error.type"] == "rate_limit_error"
    )
    assert attrs(limited)["gen_ai.response.finish_reasons"] == ["error"]
    # One trace per conversation: its calls are children of its root span, which covers them.
    conv = [s for s in calls if attrs(s).get("gen_ai.conversation.id") == "5f1c2a9e"]
    (root,) = [r for r in roots if r.trace_id == conv[0].trace_id]
    assert {s.trace_id for s in conv} == {root.trace_id} and {s.parent_span_id for s in conv} == {
        root.span_id
    }
    assert root.start_time_unix_nano == min(s.start_time_unix_nano for s in conv)
    assert root.end_time_unix_nano == max(s.end_time_unix_nano for s in conv)
    assert len({s.trace_id for s in calls}) == 3
    gemini = next(s for s in calls if attrs(s)["gen_ai.provider.name"] == "gcp.gemini")
    assert attrs(gemini)["gen_ai.operation.name"] == "generate_content"


def test_codex_openai_call(tmp_path: Path, codex_capture: Path) -> None:
    (call,) = [s for s in spans_of(export_file(tmp_path, codex_capture)) if s.kind == Span.SPAN_KIND_CLIENT]
    a = attrs(call)
    assert call.name == "chat gpt-5-codex"
    assert a["gen_ai.provider.name"] == "openai" and a["server.address"] == "chatgpt.com"
    assert a["gen_ai.conversation.id"] == "019a0000-0000-7000-8000-00000000c0de"
    assert a["gen_ai.usage.input_tokens"] == 53 and a["gen_ai.usage.output_tokens"] == 469
    assert a["gen_ai.usage.reasoning.output_tokens"] == 448 and a["gen_ai.usage.cache_read.input_tokens"] == 0
    assert a["gen_ai.response.finish_reasons"] == ["completed"]
    assert a["gen_ai.response.time_to_first_chunk"] == pytest.approx(0.99, abs=1e-3)
    assert call.start_time_unix_nano == 1767225600_250_000_000


def test_same_capture_gives_the_same_ids(tmp_path: Path) -> None:
    a = spans_of(export_file(tmp_path, DEMO))
    b = spans_of(export_file(tmp_path, DEMO))
    assert [(s.trace_id, s.span_id) for s in a] == [(s.trace_id, s.span_id) for s in b]


class Receiver:
    """A local OTLP/HTTP receiver: decodes each POST /v1/traces with opentelemetry-proto."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self.headers: list[dict[str, str]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path != "/v1/traces" or self.headers["Content-Type"] != "application/x-protobuf":
                    self.send_response(404)
                    self.end_headers()
                    return
                outer.requests.append(ExportTraceServiceRequest.FromString(body))
                outer.headers.append(dict(self.headers))
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_http_export_reaches_a_receiver_with_the_files_spans(tmp_path: Path, receiver: Receiver) -> None:
    out = tmp_path / "spans.json"
    code = main(
        [
            "export",
            str(DEMO),
            "--otlp",
            receiver.url,
            "--otlp-file",
            str(out),
            "--otlp-header",
            "x-team=fastcap",
        ]
    )
    assert code == 0 and len(receiver.requests) == 1
    assert receiver.headers[0].get("x-team") == "fastcap"
    received = spans_of(receiver.requests[0])
    from_file = spans_of(read_otlp_file(out))
    assert len(received) == 10
    key = lambda s: s.span_id  # noqa: E731
    assert sorted(received, key=key) == sorted(from_file, key=key)


def test_export_runs_as_a_command(tmp_path: Path, receiver: Receiver) -> None:
    out = tmp_path / "spans.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fastcap",
            "export",
            str(DEMO),
            "--otlp-file",
            str(out),
            "--otlp",
            receiver.url + "/",
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Exported 7 call spans in 3 traces" in proc.stdout
    assert len(spans_of(read_otlp_file(out))) == 10 and len(spans_of(receiver.requests[0])) == 10


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_endpoint_is_one_line_and_non_zero() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fastcap",
            "export",
            str(DEMO),
            "--otlp",
            f"http://127.0.0.1:{_closed_port()}",
            "--timeout",
            "2",
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "connection refused" in proc.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["export", str(DEMO)], "--otlp URL"),
        (["export", str(DEMO), "--otlp", "127.0.0.1:4318"], "http:// or https://"),
        (["export", str(DEMO), "--otlp-file", "x.json", "--otlp-header", "novalue"], "KEY=VALUE"),
        (["export", "no/such/capture.cbor", "--otlp-file", "x.json"], "no/such/capture.cbor"),
    ],
)
def test_bad_usage_is_one_line(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.strip().count("\n") == 0


def test_missing_extra_gives_the_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "opentelemetry.sdk.trace", None)  # as if not installed
    assert main(["export", str(DEMO), "--otlp-file", str(tmp_path / "x.json")]) == 2
    assert "pip install 'fastcap[otel]'" in capsys.readouterr().err


def test_content_is_opt_in_and_redacted(tmp_path: Path, make_codex_capture: Any) -> None:
    body = json.dumps(
        {
            "model": "gpt-5-codex",
            "instructions": f"Use the key {FAKE_KEY} for the deploy.",
            "input": [
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": f"export KEY={FAKE_KEY}"}],
                }
            ],
            "stream": True,
        }
    ).encode()
    capture = make_codex_capture(
        "secret.cbor",
        request_body=body,
        request_headers=[("authorization", f"Bearer {FAKE_KEY}"), ("content-type", "application/json")],
    )
    (ex,) = read_exchanges(capture)  # the capture itself keeps the key (written without redaction)
    assert FAKE_KEY.encode() in (ex.request_body or b"")
    plain = export_file(tmp_path, capture)
    assert all(not s.events for s in spans_of(plain))  # no content unless asked
    out = tmp_path / "content.json"
    assert main(["export", str(capture), "--otlp-file", str(out), "--include-content"]) == 0
    assert FAKE_KEY not in out.read_text() and scan_paths([out]) == []
    (call,) = [s for s in spans_of(read_otlp_file(out)) if s.kind == Span.SPAN_KIND_CLIENT]
    (event,) = call.events
    assert event.name == "gen_ai.client.inference.operation.details"
    text = json.dumps(MessageToDict(event))
    assert "gen_ai.input.messages" in text and "export KEY=" in text and "final_result" in text


def test_content_adds_the_response_id_and_model(tmp_path: Path, codex_capture: Path) -> None:
    plain = [s for s in spans_of(export_file(tmp_path, codex_capture)) if s.kind == Span.SPAN_KIND_CLIENT]
    assert "gen_ai.response.model" not in attrs(plain[0])  # the calls table does not keep it
    request = export_file(tmp_path, codex_capture, extra=("--include-content",))
    (call,) = [s for s in spans_of(request) if s.kind == Span.SPAN_KIND_CLIENT]
    a = attrs(call)
    assert a["gen_ai.request.model"] == "gpt-5-codex" and a["gen_ai.response.model"] == "gpt-5-2025-08-07"
    assert a["gen_ai.response.id"] == "resp_0050471a34b36ae60068c97b94a480819587a9d70cf2979b33"


def test_several_captures_and_a_dataset_with_its_filters(
    tmp_path: Path, codex_capture: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    both = export_file(tmp_path, DEMO, codex_capture)
    services = sorted(
        next(kv.value.string_value for kv in rs.resource.attributes if kv.key == "service.name")
        for rs in both.resource_spans
    )
    assert services == ["claude-code", "codex"]  # one resource per capture, named after its agent
    assert len([s for s in spans_of(both) if s.kind == Span.SPAN_KIND_CLIENT]) == 8
    dataset = tmp_path / "dataset"
    assert main(["ingest", str(DEMO), str(codex_capture), "--to", str(dataset)]) == 0
    capsys.readouterr()
    only = export_file(tmp_path, dataset, extra=("--agent", "codex", "--include-content"))
    (call,) = [s for s in spans_of(only) if s.kind == Span.SPAN_KIND_CLIENT]
    assert attrs(call)["gen_ai.provider.name"] == "openai" and not call.events
    assert "the content of 1 calls (datasets keep no bodies)" in capsys.readouterr().out


def test_a_refusing_endpoint_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    class Refuse(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(401, "Unauthorized")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        assert main(["export", str(DEMO), "--otlp", url, "--timeout", "5"]) == 2
    finally:
        server.shutdown()
        server.server_close()
    err = capsys.readouterr().err
    assert err.startswith(f"fastcap: error: could not export spans to {url}/v1/traces") and "401" in err
    assert err.strip().count("\n") == 0


@pytest.mark.parametrize(
    ("given", "posted_to"),
    [
        ("http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/traces"),
        ("http://127.0.0.1:4318/", "http://127.0.0.1:4318/v1/traces"),
        (
            "https://cloud.langfuse.com/api/public/otel",
            "https://cloud.langfuse.com/api/public/otel/v1/traces",
        ),
        (
            "https://otlp-gateway-prod-eu-west-2.grafana.net/otlp",
            "https://otlp-gateway-prod-eu-west-2.grafana.net/otlp/v1/traces",
        ),
        ("http://collector:4318/v1/traces", "http://collector:4318/v1/traces"),
    ],
)
def test_endpoint_urls_as_the_sdk_reads_them(given: str, posted_to: str) -> None:
    from fastcap.export.otlp import traces_url

    assert traces_url(given) == posted_to


def test_large_exports_go_in_batches_and_all_arrive(
    tmp_path: Path, receiver: Receiver, codex_call: Any
) -> None:
    from fastcap.export.otlp import BATCH_SPANS
    from fastcap.formats.writers import write_cbor

    n = BATCH_SPANS + 40
    capture = tmp_path / "many.cbor"
    write_cbor([codex_call(index=i, request_id=f"r{i}") for i in range(n)], capture)
    assert main(["export", str(capture), "--otlp", receiver.url]) == 0
    assert len(receiver.requests) == 2
    spans = [s for r in receiver.requests for s in spans_of(r)]
    assert len({s.span_id for s in spans if s.kind == Span.SPAN_KIND_CLIENT}) == n
