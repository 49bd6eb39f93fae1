"""Synthetic mitmproxy 11.x `flow_detail=3` logs (docs/specs/mitmproxy.md §3.7), shared by the
mitmdump-log reader and body-fidelity tests."""

from __future__ import annotations


def hexdump(data: bytes) -> list[str]:
    out = []
    for i in range(0, len(data), 16):
        part = data[i : i + 16]
        hexa = " ".join(f"{b:02x}" for b in part).ljust(47)
        asc = "".join(chr(b) if 32 <= b < 127 else "." for b in part)
        out.append(f"    {i:010x} {hexa}   {asc}")
    return out


def v11_body(lines: list[str]) -> str:
    # 11.x joins the indented lines with CRLF; the block ends with LF.
    return "\r\n".join(lines) + "\n"


BINARY = bytes(range(255, -1, -1)) * 2  # "mostly binary" for 11.x (first 100 bytes all high)


def synth_v11() -> str:
    s = "[10:00:00.000][127.0.0.1:5000] client connect\n"
    s += "127.0.0.1:5000: POST https://q.us-east-1.amazonaws.com/\n"
    s += "    content-type: application/x-amz-json-1.0\n"
    s += "    x-amz-target: AmazonCodeWhispererStreamingService.GenerateAssistantResponse\n"
    s += "    x-esc: tab\\there\\\\ \\xc3\\xa9\n"
    s += "    x-latin: \\xff\n\n"
    s += v11_body(['    {"conversationState":', "    ", "    \ufffd broken}"]) + "\n"
    s += " << 200 OK 512b\n    content-type: application/octet-stream\n\n"
    s += v11_body(hexdump(BINARY)) + "\n"
    s += "127.0.0.1:5001: POST https://api.anthropic.com/v1/messages\n    content-type: application/json\n\n"
    s += v11_body([f'        "k{i}": {i},' for i in range(512)])
    s += "    (cut off)\n\n"
    s += " << 200 OK (content missing)\n    content-type: text/event-stream\n\n    content missing\n\n"
    s += "127.0.0.1:5002: GET https://example.com/ HTTP/2.0\n\n << Client disconnected.\n"
    return s
