"""Exports of the calls table to other tools' formats (docs/export.md).

`otlp`: OpenTelemetry GenAI spans, sent to an OTLP/HTTP endpoint or written as an OTLP/JSON file;
`content`: the prompts and replies `--include-content` attaches to them.
"""
