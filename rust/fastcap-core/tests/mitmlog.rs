//! Golden tests of the mitmdump log parser on the recorded logs in `tests/data/mitmproxy/`
//! (mitmproxy 12.2.3) and on synthetic mitmproxy 11-style logs built from `docs/specs/mitmproxy.md` §3.7.

mod common;

use arrow_array::cast::AsArray;
use arrow_array::types::{UInt16Type, UInt32Type, UInt64Type};
use arrow_array::{Array, RecordBatch};
use fastcap_core::error::Error;
use fastcap_core::mitmlog::{
    self, ParsedLog, BODY_CRLF, BODY_CUT_OFF, BODY_HAS_ESCAPE, BODY_HEXDUMP, BODY_MISSING_11, BODY_MISSING_12,
};
use std::path::PathBuf;

fn testdata(name: &str) -> PathBuf {
    common::test_data("mitmproxy").join(name)
}

/// One flow, read back from the Arrow columns.
#[derive(Debug, Clone)]
struct F {
    method: String,
    url: String,
    request_version: Option<String>,
    req_headers: Vec<(String, String)>,
    req_body: Option<String>,
    req_flags: u32,
    status: Option<u16>,
    reason: Option<String>,
    response_version: Option<String>,
    size_text: Option<String>,
    size_min: Option<u64>,
    size_max: Option<u64>,
    resp_headers: Vec<(String, String)>,
    resp_body: Option<String>,
    resp_bytes: Option<Vec<u8>>,
    resp_flags: u32,
    error: Option<String>,
    log_context: Vec<String>,
    detail: u8,
}

fn strs(b: &RecordBatch, col: &str, row: usize) -> Vec<String> {
    let l = b.column_by_name(col).unwrap().as_list::<i32>();
    let v = l.value(row);
    let s = v.as_string_view();
    (0..s.len()).map(|i| s.value(i).to_string()).collect()
}

fn opt_str(b: &RecordBatch, col: &str, row: usize) -> Option<String> {
    let a = b.column_by_name(col).unwrap().as_string_view();
    if a.is_null(row) {
        None
    } else {
        Some(a.value(row).to_string())
    }
}

fn flows(p: &ParsedLog) -> Vec<F> {
    let mut out = Vec::new();
    for b in &p.table.batches {
        for r in 0..b.num_rows() {
            let hdr = |n: &str, v: &str| strs(b, n, r).into_iter().zip(strs(b, v, r)).collect::<Vec<_>>();
            let status = b.column_by_name("status").unwrap().as_primitive::<UInt16Type>();
            let u64c = |n: &str| {
                let a = b.column_by_name(n).unwrap().as_primitive::<UInt64Type>();
                if a.is_null(r) {
                    None
                } else {
                    Some(a.value(r))
                }
            };
            let bytes = b.column_by_name("response_body_bytes").unwrap().as_binary_view();
            out.push(F {
                method: opt_str(b, "method", r).unwrap(),
                url: opt_str(b, "url", r).unwrap(),
                request_version: opt_str(b, "request_version", r),
                req_headers: hdr("request_header_names", "request_header_values"),
                req_body: opt_str(b, "request_body", r),
                req_flags: b.column_by_name("request_body_flags").unwrap().as_primitive::<UInt32Type>().value(r),
                status: if status.is_null(r) { None } else { Some(status.value(r)) },
                reason: opt_str(b, "reason", r),
                response_version: opt_str(b, "response_version", r),
                size_text: opt_str(b, "size_text", r),
                size_min: u64c("size_min"),
                size_max: u64c("size_max"),
                resp_headers: hdr("response_header_names", "response_header_values"),
                resp_body: opt_str(b, "response_body", r),
                resp_bytes: if bytes.is_null(r) { None } else { Some(bytes.value(r).to_vec()) },
                resp_flags: b.column_by_name("response_body_flags").unwrap().as_primitive::<UInt32Type>().value(r),
                error: opt_str(b, "error", r),
                log_context: strs(b, "log_context", r),
                detail: b.column_by_name("detail").unwrap().as_primitive::<arrow_array::types::UInt8Type>().value(r),
            });
        }
    }
    out
}

fn parse(name: &str) -> (ParsedLog, Vec<F>) {
    let p = mitmlog::parse_file(testdata(name)).unwrap();
    let f = flows(&p);
    (p, f)
}

const PATHS: [&str; 6] = ["/json", "/sse", "/es", "/big", "/bin", "/empty"];

fn check_six(f: &[F], with_headers: bool) {
    assert_eq!(f.len(), 6);
    for (flow, path) in f.iter().zip(PATHS) {
        assert_eq!(flow.method, "POST");
        assert_eq!(flow.url, format!("http://127.0.0.1:18081{path}"));
        assert_eq!(flow.request_version, None);
        assert!(flow.error.is_none());
    }
    let statuses: Vec<_> = f.iter().map(|x| x.status.unwrap()).collect();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 204]);
    let sizes: Vec<_> = f.iter().map(|x| x.size_text.clone().unwrap()).collect();
    assert_eq!(sizes, ["90b", "245b", "301b", "9.9k", "1.0k", "0b"]);
    assert_eq!(f[5].reason.as_deref(), Some("No Content"));
    assert_eq!((f[0].size_min, f[0].size_max), (Some(90), Some(90)));
    let (lo, hi) = (f[3].size_min.unwrap(), f[3].size_max.unwrap());
    assert!(lo <= 10090 && 10090 <= hi);
    if with_headers {
        assert_eq!(
            f[0].req_headers,
            vec![
                ("Host".into(), "127.0.0.1:18081".into()),
                ("User-Agent".into(), "curl/7.88.1".into()),
                ("Accept".into(), "*/*".into()),
                ("content-type".into(), "application/json".into()),
                ("Content-Length".into(), "77".into()),
            ]
        );
        assert_eq!(
            f[2].resp_headers[2],
            ("content-type".to_string(), "application/vnd.amazon.eventstream".to_string())
        );
        assert_eq!(f[5].resp_headers.len(), 2);
    } else {
        assert!(f.iter().all(|x| x.req_headers.is_empty() && x.resp_headers.is_empty()));
    }
}

fn check_bodies(f: &[F]) {
    assert_eq!(
        f[0].req_body.as_deref().unwrap(),
        "{\n    \"model\": \"claude\",\n    \"messages\": [\n        {\n            \"role\": \"user\",\n            \"content\": \"hi\"\n        }\n    ],\n    \"stream\": false\n}"
    );
    // SSE: blank lines inside the body are lines of four spaces → empty lines in the text.
    let sse = f[1].resp_body.as_deref().unwrap();
    assert!(sse.starts_with("event: message_start\ndata: {\"type\":\"message_start\"}\n\nevent: content_block_delta\n"));
    assert!(sse.ends_with("\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}"));
    assert_eq!(sse.split('\n').filter(|l| l.is_empty()).count(), 3);
    // /big: the full 600 lines, then the 12.x `(cut off)` marker (not content).
    let big = f[3].resp_body.as_deref().unwrap();
    let lines: Vec<_> = big.split('\n').collect();
    assert_eq!(lines.len(), 600);
    assert_eq!(lines[0], "line 0 of text");
    assert_eq!(lines[599], "line 599 of text");
    assert!(f[3].resp_flags & BODY_CUT_OFF != 0);
    assert!(f[1].resp_flags & BODY_CUT_OFF == 0);
    // /bin: lossy raw rendering with \xNN escapes.
    assert!(f[4].resp_flags & BODY_HAS_ESCAPE != 0);
    assert!(f[4].resp_body.as_deref().unwrap().contains("\\x80\\x81"));
    // /es: EventStream rendered as text.
    let es = f[2].resp_body.as_deref().unwrap();
    assert!(es.contains(":event-type...assistantResponseEvent"));
    assert!(es.contains("{\"content\":\"Hello\"}"));
    // /empty: no body block.
    assert!(f[5].resp_body.is_none());
    assert_eq!(f[4].req_body.as_deref(), Some("x: ''"));
}

#[test]
fn live_flow_detail3() {
    let (p, f) = parse("mitmdump_live_flow_detail3.txt");
    check_six(&f, true);
    check_bodies(&f);
    assert!(f.iter().all(|x| x.detail == 3));
    assert_eq!(p.info.version, "12");
    assert!(!p.info.version_certain);
    assert_eq!(p.info.other_lines, 0);
    // termlog lines: the first flow gets the listen line and its connects.
    assert_eq!(f[0].log_context.len(), 3);
    assert!(f[0].log_context[0].contains("listening at"));
    assert!(f[1].log_context[0].ends_with("client disconnect"));
    assert_eq!(p.info.trailing_log.len(), 2);
}

#[test]
fn replay_flow_detail3() {
    let (p, f) = parse("mitmdump_replay_flow_detail3.txt");
    check_six(&f, true);
    check_bodies(&f);
    assert!(f.iter().all(|x| x.log_context.is_empty()));
    assert_eq!(p.info.other_lines, 0);
}

#[test]
fn replay_flow_detail2() {
    let (_, f) = parse("mitmdump_replay_flow_detail2.txt");
    check_six(&f, true);
    assert!(f.iter().all(|x| x.req_body.is_none() && x.resp_body.is_none() && x.detail == 2));
}

#[test]
fn replay_flow_detail1() {
    let (_, f) = parse("mitmdump_replay_flow_detail1.txt");
    check_six(&f, false);
    assert!(f.iter().all(|x| x.detail == 1));
}

#[test]
fn stream_large_bodies() {
    let (p, f) = parse("mitmdump_live_stream_large_bodies.txt");
    assert_eq!(f.len(), 2);
    for x in &f {
        assert_eq!(x.size_text.as_deref(), Some("(content missing)"));
        assert_eq!(x.size_min, None);
        assert!(x.resp_flags & BODY_MISSING_12 != 0);
        assert!(x.req_flags & BODY_MISSING_12 != 0);
        assert!(x.log_context.iter().any(|l| l.ends_with("Streaming response from 127.0.0.1.")));
    }
    assert_eq!(p.info.version, "12");
    assert!(p.info.version_certain);
}

#[test]
fn store_streamed_bodies() {
    let (_, f) = parse("mitmdump_live_stream_store_streamed_bodies.txt");
    assert_eq!(f.len(), 2);
    assert_eq!(f[0].size_text.as_deref(), Some("245b"));
    assert_eq!(f[0].resp_flags & BODY_MISSING_12, 0);
    assert!(f[0].resp_body.as_deref().unwrap().contains("message_stop"));
    assert_eq!(f[1].req_body.as_deref(), Some("{\n    \"a\": 1\n}"));
}

#[test]
fn h2_synthetic_with_error() {
    let (_, f) = parse("dumper_h2_synthetic.txt");
    assert_eq!(f.len(), 3);
    assert_eq!(f[0].request_version.as_deref(), Some("HTTP/2.0"));
    assert_eq!(f[0].response_version.as_deref(), Some("HTTP/2.0"));
    assert_eq!(f[0].size_text.as_deref(), Some("1.3k"));
    assert_eq!(f[0].resp_headers[0], ("content-type".into(), "text/event-stream; charset=utf-8".into()));
    assert!(f[0].resp_body.as_deref().unwrap().starts_with("event: ping\ndata: {\"type\": \"ping\"}\n\nxxxx"));
    assert_eq!(f[1].status, Some(200));
    assert_eq!(f[1].response_version.as_deref(), Some("HTTP/2.0"));
    assert_eq!(f[2].method, "GET");
    assert_eq!(f[2].url, "http://address:22/path");
    assert_eq!(f[2].status, None);
    assert_eq!(f[2].error.as_deref(), Some("error"));
}

#[test]
fn ansi_colours_from_repr() {
    // The file holds a Python repr of TTY output; undo the repr escapes used there.
    let raw = std::fs::read_to_string(testdata("dumper_tty_colors_repr.txt")).unwrap();
    let line = raw.lines().nth(1).unwrap();
    let inner = &line[1..line.len() - 1];
    let text = inner.replace("\\x1b", "\x1b").replace("\\n", "\n");
    let p = mitmlog::parse_bytes(text.as_bytes()).unwrap();
    assert!(p.info.had_ansi);
    let f = flows(&p);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].method, "POST");
    assert_eq!(f[0].url, "http://127.0.0.1:18081/json");
    assert_eq!(f[0].status, Some(200));
    assert_eq!(f[0].size_text.as_deref(), Some("90b"));
    assert_eq!(f[0].req_headers[0], ("Host".into(), "127.0.0.1:18081".into()));
    assert!(f[0].resp_body.as_deref().unwrap().contains("\"input_tokens\": 3"));
    assert!(!f[0].resp_body.as_deref().unwrap().contains('\x1b'));
}

/// A mitmproxy 11.0.2-style log, written the way its dumper does (§3.7): body lines joined with
/// CRLF, an empty line inside a body is four spaces, hex dumps, real 512-line truncation,
/// `content missing`.
fn synth_v11() -> (String, Vec<u8>) {
    let mut s = String::new();
    // 1: raw text body with CRLF joins and a blank line inside
    s.push_str("127.0.0.1:5000: POST https://q.us-east-1.amazonaws.com/\n");
    s.push_str("    content-type: application/x-amz-json-1.0\n    x-weird: a\\\\b\\xc3\\xa9\n\n");
    s.push_str("    line one\r\n    \r\n    line three\n\n");
    s.push_str(" << 200 OK 512k\n    content-type: application/octet-stream\n\n");
    // hex dump of 40 bytes
    let bytes: Vec<u8> = (0u8..40).map(|i| i.wrapping_mul(7)).collect();
    let mut dump = Vec::new();
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        let ascii: String = chunk.iter().map(|&b| if (32..127).contains(&b) { b as char } else { '.' }).collect();
        dump.push(format!("    {:010x} {:<47}   {}", i * 16, hex.join(" "), ascii));
    }
    s.push_str(&dump.join("\r\n"));
    s.push_str("\n\n");
    // 2: 512-line truncation
    s.push_str("127.0.0.1:5001: POST https://api.anthropic.com/v1/messages\n    content-type: application/json\n\n");
    let lines: Vec<String> = (0..512).map(|i| format!("    \"k{i}\": {i},")).collect();
    s.push_str(&lines.join("\r\n"));
    s.push_str("\n    (cut off)\n\n");
    s.push_str(" << 200 OK (content missing)\n    content-type: text/event-stream\n\n    content missing\n\n");
    (s, bytes)
}

#[test]
fn synthetic_v11() {
    let (s, bytes) = synth_v11();
    let p = mitmlog::parse_bytes(s.as_bytes()).unwrap();
    let f = flows(&p);
    assert_eq!(f.len(), 2);
    assert_eq!(p.info.version, "11");
    assert!(p.info.version_certain);
    assert_eq!(f[0].req_headers[1], ("x-weird".into(), "a\\bé".into()));
    assert_eq!(f[0].req_body.as_deref(), Some("line one\n\nline three"));
    assert!(f[0].req_flags & BODY_CRLF != 0);
    assert!(f[0].resp_flags & BODY_HEXDUMP != 0);
    assert_eq!(f[0].resp_bytes.as_deref(), Some(&bytes[..]));
    let (lo, hi) = (f[0].size_min.unwrap(), f[0].size_max.unwrap());
    assert_eq!((lo, hi), (511 * 1024 + 512, 512 * 1024 + 511));
    assert_eq!(f[1].req_body.as_deref().unwrap().split('\n').count(), 512);
    assert!(f[1].req_flags & BODY_CUT_OFF != 0);
    assert!(f[1].resp_flags & BODY_MISSING_11 != 0);
}

#[test]
fn not_a_log() {
    for (data, kind) in [
        (&b""[..], "empty"),
        (&b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"[..], "binary"),
        (&b"hello world\nthis is not a log\n"[..], "not_a_log"),
        (&b"{\"log\": {}}"[..], "not_a_log"),
    ] {
        match mitmlog::parse_bytes(data) {
            Err(Error::Format(e)) => assert_eq!(e.kind, kind, "{data:?}"),
            other => panic!("expected a format error for {data:?}, got {other:?}"),
        }
    }
    // only termlog lines: a valid log with no flows
    let p = mitmlog::parse_bytes(b"[05:27:32.524] HTTP(S) proxy listening at *:8080.\n").unwrap();
    assert_eq!(p.info.flows, 0);
    assert_eq!(p.info.trailing_log.len(), 1);
}

#[test]
fn truncated_log_keeps_complete_flows() {
    let data = std::fs::read(testdata("mitmdump_replay_flow_detail3.txt")).unwrap();
    // cut in the middle of the /bin response body
    let cut = data.windows(8).position(|w| w == b"\\x9e\\x9f").unwrap();
    let p = mitmlog::parse_bytes(&data[..cut]).unwrap();
    let f = flows(&p);
    assert_eq!(f.len(), 5);
    assert_eq!(f[3].url, "http://127.0.0.1:18081/big");
    assert_eq!(f[4].status, Some(200));
}

#[test]
fn websocket_and_showhost() {
    let log = "\
127.0.0.1:6000: GET https://chatgpt.com/backend-api/codex/responses
    Host: chatgpt.com
    Upgrade: websocket

 << 101 Switching Protocols 0b
    Upgrade: websocket

127.0.0.1:6000 -> WebSocket text message -> chatgpt.com:443/backend-api/codex/responses

    {\"type\": \"response.create\"}

127.0.0.1:6000 <- WebSocket binary message <- chatgpt.com:443/backend-api/codex/responses

    \\x00\\x01

WebSocket connection closed by client: 1000 
127.0.0.1:6001: POST http://example.com/x
    Host: example.com

 << 502 Bad Gateway 0b
 << Connection killed.
";
    let p = mitmlog::parse_bytes(log.as_bytes()).unwrap();
    let f = flows(&p);
    assert_eq!(f.len(), 2);
    assert_eq!(f[0].status, Some(101));
    assert_eq!(p.info.messages.len(), 2);
    let m = &p.info.messages[0];
    assert_eq!((m.flow_index, m.from_client, m.kind.as_str()), (Some(0), true, "text"));
    assert_eq!(m.body.as_ref().unwrap().text, "{\"type\": \"response.create\"}");
    assert_eq!(p.info.messages[1].kind, "binary");
    assert!(!p.info.messages[1].from_client);
    assert_eq!(f[1].error.as_deref(), Some("Connection killed."));
    assert!(f[1].log_context[0].starts_with("WebSocket connection closed"));
}

fn list_pairs(b: &RecordBatch, names: &str, values: &str, row: usize) -> Vec<(String, String)> {
    strs(b, names, row).into_iter().zip(strs(b, values, row)).collect()
}

#[test]
fn trailers_are_kept() {
    // §3.2/§3.4: `    --- HTTP Trailers` after the body block (or right after the header block
    // when the body is empty), then one line per trailer field.
    let log = "\
127.0.0.1:7000: POST https://example.com/grpc HTTP/2.0
    content-type: application/grpc

    payload line

    --- HTTP Trailers
    x-checksum: abc
 << HTTP/2.0 200 OK 12b
    content-type: application/grpc

    --- HTTP Trailers
    grpc-status: 0
    grpc-message: fine\\x21
127.0.0.1:7001: GET https://example.com/plain
    accept: */*

 << 200 OK 0b
    server: x

";
    let p = mitmlog::parse_bytes(log.as_bytes()).unwrap();
    let b = &p.table.batches[0];
    assert_eq!(b.num_rows(), 2);
    assert_eq!(
        list_pairs(b, "request_trailer_names", "request_trailer_values", 0),
        vec![("x-checksum".into(), "abc".into())]
    );
    assert_eq!(
        list_pairs(b, "response_trailer_names", "response_trailer_values", 0),
        vec![("grpc-status".into(), "0".into()), ("grpc-message".into(), "fine!".into())]
    );
    let f = flows(&p);
    assert_eq!(f[0].req_body.as_deref(), Some("payload line"));
    assert_eq!(f[0].resp_body, None);
    assert_eq!(f[0].resp_headers, vec![("content-type".into(), "application/grpc".into())]);
    let has = b.column_by_name("has_trailers").unwrap().as_boolean();
    assert!(has.value(0) && !has.value(1));
    assert!(strs(b, "request_trailer_names", 1).is_empty());
    assert_eq!(f[1].resp_headers, vec![("server".into(), "x".into())]);
}

/// Many flows (more than one record batch), each body distinct: every view must resolve to its
/// own flow's text, whether it points into the input (one-line bodies, headers) or the arena.
#[test]
fn views_across_batches() {
    let n = 40_000;
    let mut s = String::from("[00:00:00.000] HTTP(S) proxy listening at *:8080.\n");
    for i in 0..n {
        s.push_str(&format!(
            "127.0.0.1:{}: POST https://h/{i}\n    x-i: {i}\n    x-esc: a\\\\{i}\n\n",
            1000 + i % 50000
        ));
        if i % 3 == 0 {
            s.push_str(&format!("    {{\n        \"i\": {i}\n    }}\n\n"));
        } else {
            s.push_str(&format!("    one line body number {i}\n\n"));
        }
        s.push_str(&format!(
            " << 200 OK {}b\n    content-type: text/plain\n\n    a\n    \n    b{i}\n    (cut off)\n\n",
            i % 1000
        ));
    }
    let p = mitmlog::parse_bytes(s.as_bytes()).unwrap();
    assert!(p.table.batches.len() >= 3);
    let f = flows(&p);
    assert_eq!(f.len(), n);
    for (i, x) in f.iter().enumerate() {
        assert_eq!(x.url, format!("https://h/{i}"));
        assert_eq!(x.req_headers, vec![("x-i".into(), i.to_string()), ("x-esc".into(), format!("a\\{i}"))]);
        let want = if i % 3 == 0 { format!("{{\n    \"i\": {i}\n}}") } else { format!("one line body number {i}") };
        assert_eq!(x.req_body.as_deref(), Some(want.as_str()));
        assert_eq!(x.resp_body.as_deref(), Some(format!("a\n\nb{i}").as_str()));
        assert!(x.resp_flags & BODY_CUT_OFF != 0);
        assert_eq!(x.size_text.as_deref(), Some(format!("{}b", i % 1000).as_str()));
    }
    assert_eq!(f[0].log_context.len(), 1);
}

#[test]
fn body_edge_cases() {
    // A body that is only the `(cut off)` marker, a single CRLF line, a single line at the very
    // end of the input without a newline.
    let log = "127.0.0.1:1: POST http://a/x\n    h: v\n\n    (cut off)\n\n << 200 OK 1b\n    h: v\n\n    only\r\n\n\
               127.0.0.1:2: POST http://a/y\n    h: v\n\n    last line";
    let p = mitmlog::parse_bytes(log.as_bytes()).unwrap();
    let f = flows(&p);
    assert_eq!(f.len(), 2);
    assert_eq!(f[0].req_body.as_deref(), Some(""));
    assert!(f[0].req_flags & BODY_CUT_OFF != 0);
    assert_eq!(f[0].resp_body.as_deref(), Some("only"));
    assert!(f[0].resp_flags & BODY_CRLF != 0);
    assert_eq!(f[1].req_body.as_deref(), Some("last line"));
}

/// Invalid UTF-8 anywhere (here deep inside a body, past the first blocks) is repaired and the
/// whole log parsed again: same flows, U+FFFD in place of the bad bytes.
#[test]
fn invalid_utf8_is_repaired() {
    let mut log = Vec::new();
    for i in 0..50 {
        log.extend_from_slice(format!("127.0.0.1:{i}: POST http://a/{i}\n    h: v\n\n").as_bytes());
        for k in 0..20 {
            log.extend_from_slice(format!("    line {k} of body {i} é\n").as_bytes());
        }
        if i == 37 {
            log.extend_from_slice(b"    bad \xff\xfe byte\n");
        }
        log.extend_from_slice(b"\n << 200 OK 1b\n\n");
    }
    let p = mitmlog::parse_bytes(&log).unwrap();
    assert!(p.info.lossy_utf8);
    let f = flows(&p);
    assert_eq!(f.len(), 50);
    let body = f[37].req_body.as_deref().unwrap();
    assert!(body.ends_with("line 19 of body 37 é\nbad \u{FFFD}\u{FFFD} byte"), "{body}");
    assert!(f[37].req_flags & mitmlog::BODY_HAS_REPLACEMENT != 0);
    assert!(f[36].req_body.as_deref().unwrap().ends_with("line 19 of body 36 é"));
    // valid multi-byte characters across 64-byte block boundaries are not a problem
    let ok: String =
        (0..200).map(|i| format!("127.0.0.1:1: GET http://a/{i}\n    h: {}\n\n", "é€😀".repeat(i % 7))).collect();
    let p = mitmlog::parse_bytes(ok.as_bytes()).unwrap();
    assert!(!p.info.lossy_utf8);
    assert_eq!(flows(&p)[13].req_headers[0].1, "é€😀".repeat(6));
}

/// ANSI colours that start late in a log, and an ESC inside a body the fast body loop is
/// already reading, are stripped like any other.
#[test]
fn late_ansi_is_stripped() {
    let mut log = String::new();
    for i in 0..30 {
        log.push_str(&format!("127.0.0.1:{i}: POST http://a/{i}\n    h: v\n\n"));
        for k in 0..10 {
            if i == 20 && k == 7 {
                log.push_str("    \x1b[32m\"coloured\"\x1b[0m,\n");
            } else {
                log.push_str(&format!("    line {k}\n"));
            }
        }
        log.push_str("\n << 200 OK 1b\n\n");
    }
    log.push_str("127.0.0.1:99: \x1b[35m\x1b[1mPOST\x1b[0m http://a/last\n    \x1b[34mh\x1b[0m: v\n\n");
    let p = mitmlog::parse_bytes(log.as_bytes()).unwrap();
    assert!(p.info.had_ansi);
    let f = flows(&p);
    assert_eq!(f.len(), 31);
    let b = f[20].req_body.as_deref().unwrap();
    assert_eq!(b.lines().nth(7), Some("\"coloured\","));
    assert_eq!(b.lines().count(), 10);
    assert_eq!(f[30].method, "POST");
    assert_eq!(f[30].req_headers, vec![("h".into(), "v".into())]);
    assert_eq!(f[29].req_body.as_deref().unwrap().lines().count(), 10);
}
