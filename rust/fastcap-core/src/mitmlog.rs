//! Parser for mitmdump console output (`--set flow_detail=N`), mitmproxy 11.x and 12.x.
//!
//! Spec: `mitmproxy.md` §3 (layout §3.2, headers §3.4, response line and size §3.5, bodies
//! §3.6/§3.7, error/WebSocket lines §3.8, termlog §3.9, colours §3.10, parser §3.11).
//!
//! The input is memory-mapped (or borrowed) and scanned once, line by line with `memchr`; each
//! line is classified and fed to a small per-flow state machine. Finished flows go straight into
//! Arrow builders, so memory stays proportional to the output, and the work is linear in the
//! input size.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, ListBuilder, StringBuilder, UInt16Builder, UInt32Builder, UInt64Builder,
    UInt8Builder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use memchr::{memchr, memmem};

use crate::arrow_util::Table;
use crate::error::{Format, FormatError, Result};

// ---------------------------------------------------------------------------------------------
// Body flags (bit set per body; the Python reader turns them into `Exchange.flags`).

/// The body ended with the `(cut off)` line (removed from the text).
pub const BODY_CUT_OFF: u32 = 1 << 0;
/// `Content is missing.` (mitmproxy 12) as the only body line.
pub const BODY_MISSING_12: u32 = 1 << 1;
/// `content missing` (mitmproxy 11) as the only body line.
pub const BODY_MISSING_11: u32 = 1 << 2;
/// The body is an 11.x hex dump; the exact bytes were recovered.
pub const BODY_HEXDUMP: u32 = 1 << 3;
/// The text contains a `\xNN` escape (12.x backslashreplace of an invalid byte).
pub const BODY_HAS_ESCAPE: u32 = 1 << 4;
/// The text contains U+FFFD (11.x replacement of invalid bytes).
pub const BODY_HAS_REPLACEMENT: u32 = 1 << 5;
/// Physical body lines ended with CRLF (11.x joins body lines with CRLF).
pub const BODY_CRLF: u32 = 1 << 6;
/// Whitespace-only body: extra empty lines where a body would be (12.x quirk).
pub const BODY_BLANK_RUN: u32 = 1 << 7;

/// Classified line kinds (after CR and ANSI removal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    None,
    ReqHeaders,
    ReqAfterHeaders,
    ReqBody,
    ReqAfterBody,
    ReqTrailers,
    RespHeaders,
    RespAfterHeaders,
    RespBody,
    RespAfterBody,
    RespTrailers,
    MsgAfterLine,
    MsgBody,
    Done,
}

/// A body under construction / finished.
#[derive(Debug, Default, Clone)]
pub struct Body {
    pub text: String,
    pub lines: u32,
    pub flags: u32,
    pub bytes: Option<Vec<u8>>,
}

/// One WebSocket (or TCP/UDP) message line, with its body at fd >= 3.
#[derive(Debug, Clone)]
pub struct MessageLine {
    /// Index of the flow it belongs to (the latest flow of the same client), if any.
    pub flow_index: Option<u32>,
    pub offset: u64,
    pub client: String,
    pub from_client: bool,
    /// `text`, `binary` (WebSocket) or `tcp`/`udp`/… for other protocols.
    pub kind: String,
    pub target: String,
    pub body: Option<Body>,
}

#[derive(Debug, Default, Clone)]
struct FlowRec {
    offset: u64,
    line: u64,
    client: String,
    method: String,
    push_promise: bool,
    url: String,
    req_version: Option<String>,
    req_headers: Vec<(String, String)>,
    req_body: Option<Body>,
    has_response: bool,
    resp_version: Option<String>,
    status: u16,
    reason: String,
    size_text: String,
    size_range: Option<(u64, u64)>,
    resp_headers: Vec<(String, String)>,
    resp_body: Option<Body>,
    error: Option<String>,
    log_context: Vec<String>,
    saw_blank: bool,
    has_trailers: bool,
}

/// Log-level facts gathered while parsing.
#[derive(Debug, Default, Clone)]
pub struct LogInfo {
    pub flows: u64,
    pub lines: u64,
    /// Lines that fit no class (stderr noise, tracebacks, orphan body lines).
    pub other_lines: u64,
    pub first_other_offset: Option<u64>,
    /// `"11"` or `"12"`.
    pub version: &'static str,
    /// False when nothing in the log told the versions apart (12 is then assumed).
    pub version_certain: bool,
    pub evidence_11: Vec<&'static str>,
    pub evidence_12: Vec<&'static str>,
    pub had_ansi: bool,
    pub lossy_utf8: bool,
    /// Termlog lines after the last flow.
    pub trailing_log: Vec<String>,
    pub messages: Vec<MessageLine>,
}

/// The parse result: the flows as an Arrow table plus log-level information.
#[derive(Debug)]
pub struct ParsedLog {
    pub table: Table,
    pub info: LogInfo,
}

// ---------------------------------------------------------------------------------------------
// Entry points

/// Parse a mitmdump log file (memory-mapped).
pub fn parse_file(path: impl AsRef<Path>) -> Result<ParsedLog> {
    let file = File::open(path.as_ref())?;
    let len = file.metadata()?.len();
    if len == 0 {
        return parse_bytes(&[]);
    }
    // SAFETY: the map is read-only and lives only for this call; a file truncated underneath us
    // by another process is the usual mmap caveat and is not something a log reader guards against.
    // `populate` pre-faults the pages with read-ahead instead of one fault per page.
    let map = unsafe { memmap2::MmapOptions::new().populate().map(&file)? };
    parse_bytes(&map)
}

/// Parse a mitmdump log held in memory.
pub fn parse_bytes(data: &[u8]) -> Result<ParsedLog> {
    if data.is_empty() {
        return Err(FormatError::new(Format::MitmLog, "empty", 0, "empty file, expected a mitmdump log").into());
    }
    let probe = &data[..data.len().min(1 << 16)];
    if let Some(pos) = memchr(0, probe) {
        return Err(FormatError::new(
            Format::MitmLog,
            "binary",
            pos as u64,
            "binary data (NUL byte), expected a mitmdump text log",
        )
        .into());
    }
    let mut info = LogInfo::default();
    // Validate UTF-8 once; mitmdump output is UTF-8, stray invalid bytes (stderr noise) are
    // replaced (byte offsets are then those of the repaired text).
    let text: std::borrow::Cow<'_, str> = match std::str::from_utf8(data) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => {
            info.lossy_utf8 = true;
            String::from_utf8_lossy(data)
        }
    };
    info.had_ansi = memchr(0x1b, text.as_bytes()).is_some();
    let mut parser = Parser::new(info, data.len());
    parser.run(&text)?;
    parser.finish()
}

// ---------------------------------------------------------------------------------------------
// Line classification helpers (all on `&str` without the trailing CR).

fn is_digit(b: u8) -> bool {
    b.is_ascii_digit()
}

/// `^\[\d{2}:\d{2}:\d{2}\.\d{3}\](\[[^\]]*\])? `
fn is_termlog(line: &[u8]) -> bool {
    if line.len() < 15 || line[0] != b'[' || line[13] != b']' {
        return false;
    }
    let t = &line[1..13];
    let shape = t[2] == b':'
        && t[5] == b':'
        && t[8] == b'.'
        && [0, 1, 3, 4, 6, 7, 9, 10, 11].iter().all(|&i| is_digit(t[i]));
    if !shape {
        return false;
    }
    match line[14] {
        b' ' => true,
        b'[' => match memchr(b']', &line[15..]) {
            Some(p) => line.get(15 + p + 1) == Some(&b' '),
            None => false,
        },
        _ => false,
    }
}

struct RequestLine<'a> {
    client: &'a str,
    method: &'a str,
    push: bool,
    url: &'a str,
    version: Option<&'a str>,
}

fn looks_like_client(c: &str) -> bool {
    if c == "[replay]" {
        return true;
    }
    // ip:port, [v6]:port
    match c.rfind(':') {
        Some(p) if p > 0 && p + 1 < c.len() => c[p + 1..].bytes().all(is_digit),
        _ => false,
    }
}

fn parse_request_line(line: &str) -> Option<RequestLine<'_>> {
    let b = line.as_bytes();
    if b.is_empty() || b[0] == b' ' {
        return None;
    }
    let sep = memmem::find(b, b": ")?;
    let client = &line[..sep];
    if client.contains(' ') || !looks_like_client(client) {
        return None;
    }
    let rest = &line[sep + 2..];
    let mut it = rest.split(' ');
    let method = it.next()?;
    if method.is_empty() || !method.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.')) {
        return None;
    }
    let mut push = false;
    let mut url = it.next()?;
    if url == "PUSH_PROMISE" {
        push = true;
        url = it.next()?;
    }
    let version = it.next();
    if it.next().is_some() {
        return None;
    }
    if let Some(v) = version {
        if !v.starts_with("HTTP/") {
            return None;
        }
    }
    if url.is_empty() || !(url.contains("://") || url.starts_with('/') || method == "CONNECT" || url == "*") {
        return None;
    }
    Some(RequestLine { client, method, push, url, version })
}

struct ResponseLine<'a> {
    version: Option<&'a str>,
    status: u16,
    reason: &'a str,
    size: &'a str,
}

/// Position after `<< ` for a response/error candidate, if the line is one.
/// Returns (position after "<< ", whether the line had exactly one leading space and no replay).
fn arrows(line: &str) -> Option<(usize, bool)> {
    let b = line.as_bytes();
    let mut i = 0;
    if line.starts_with("[replay]") {
        i = 8;
    }
    let start = i;
    while i < b.len() && b[i] == b' ' {
        i += 1;
    }
    if i == start || !b[i..].starts_with(b"<< ") {
        return None;
    }
    Some((i + 3, start == 0 && i == 1))
}

/// Parse the size token: exact for `Nb`, a range for `N.Nk` / `Nk`, none for `(content missing)`.
pub fn parse_size(s: &str) -> Option<Option<(u64, u64)>> {
    if s == "(content missing)" {
        return Some(None);
    }
    let b = s.as_bytes();
    let (num, unit) = b.split_at(b.len().checked_sub(1)?);
    if num.is_empty() {
        return None;
    }
    if unit[0] == b'b' {
        if !num.iter().all(|&c| is_digit(c)) {
            return None;
        }
        let n: u64 = std::str::from_utf8(num).ok()?.parse().ok()?;
        return Some(Some((n, n)));
    }
    let mult: f64 = match unit[0] {
        b'k' => 1024.0,
        b'm' => 1024.0 * 1024.0,
        b'g' => 1024.0 * 1024.0 * 1024.0,
        b't' => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let numstr = std::str::from_utf8(num).ok()?;
    let (ip, fp) = match numstr.split_once('.') {
        Some((a, f)) => (a, Some(f)),
        None => (numstr, None),
    };
    if ip.is_empty() || !ip.bytes().all(is_digit) {
        return None;
    }
    if let Some(f) = fp {
        if f.len() != 1 || !f.bytes().all(is_digit) {
            return None;
        }
    }
    let v: f64 = numstr.parse().ok()?;
    let half = if fp.is_some() { 0.05 } else { 0.5 };
    let lo = ((v - half).max(0.0) * mult).ceil() as u64;
    // exclusive upper bound → largest integer strictly below
    let hi_f = (v + half) * mult;
    let hi = if hi_f.fract() == 0.0 { hi_f as u64 - 1 } else { hi_f.floor() as u64 };
    Some(Some((lo, hi)))
}

fn parse_response_line(line: &str) -> Option<ResponseLine<'_>> {
    let (p, _) = arrows(line)?;
    let mut rest = &line[p..];
    let mut version = None;
    if rest.starts_with("HTTP/") {
        let sp = rest.find(' ')?;
        version = Some(&rest[..sp]);
        rest = &rest[sp + 1..];
    }
    let rb = rest.as_bytes();
    if rb.len() < 5 || !rb[..3].iter().all(|&c| is_digit(c)) || rb[3] != b' ' {
        return None;
    }
    let status: u16 = rest[..3].parse().ok()?;
    let tail = &rest[4..];
    let (reason, size) = if let Some(r) = tail.strip_suffix("(content missing)") {
        (r.strip_suffix(' ').unwrap_or(r), "(content missing)")
    } else {
        match tail.rfind(' ') {
            Some(sp) => (&tail[..sp], &tail[sp + 1..]),
            None => ("", tail),
        }
    };
    parse_size(size)?;
    Some(ResponseLine { version, status, reason, size })
}

/// `<client> -> WebSocket text message -> <server><path>` / `<client> -> tcp -> <server>`.
fn parse_message_line(line: &str) -> Option<(String, bool, String, String)> {
    let b = line.as_bytes();
    if b.is_empty() || b[0] == b' ' {
        return None;
    }
    let sp = line.find(' ')?;
    let client = &line[..sp];
    if !looks_like_client(client) {
        return None;
    }
    let rest = &line[sp + 1..];
    let (dir, rest) = if let Some(r) = rest.strip_prefix("-> ") {
        ("->", r)
    } else if let Some(r) = rest.strip_prefix("<- ") {
        ("<-", r)
    } else {
        return None;
    };
    let from_client = dir == "->";
    let arrow = format!(" {dir} ");
    let (kind_part, target) = rest.rsplit_once(arrow.as_str())?;
    let kind = if let Some(k) = kind_part.strip_prefix("WebSocket ") {
        k.strip_suffix(" message")?.to_string()
    } else {
        kind_part.to_string()
    };
    Some((client.to_string(), from_client, kind, target.to_string()))
}

fn is_context_line(line: &str) -> bool {
    line.starts_with("WebSocket connection closed by ") || line.starts_with("Error in ")
}

/// Remove ANSI SGR sequences `\x1b[...m` (§3.10).
fn strip_ansi(line: &str) -> String {
    let b = line.as_bytes();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    let mut last = 0;
    while let Some(p) = memchr(0x1b, &b[i..]) {
        let esc = i + p;
        let mut j = esc + 1;
        if j < b.len() && b[j] == b'[' {
            j += 1;
            while j < b.len() && (is_digit(b[j]) || b[j] == b';') {
                j += 1;
            }
            if j < b.len() && b[j] == b'm' {
                out.push_str(&line[last..esc]);
                last = j + 1;
                i = j + 1;
                continue;
            }
        }
        i = esc + 1;
    }
    out.push_str(&line[last..]);
    out
}

fn hexval(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Undo mitmproxy's `bytes_to_escaped_str` (Python bytes repr without quotes): `\\`, `\xNN`,
/// `\t`, `\n`, `\r`, `\'`. The bytes are returned as UTF-8 text when valid, else latin-1 (which
/// keeps every byte recoverable).
pub fn unescape_header(s: &str) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'\\' && i + 1 < b.len() {
            match b[i + 1] {
                b'\\' => {
                    out.push(b'\\');
                    i += 2;
                    continue;
                }
                b't' => {
                    out.push(b'\t');
                    i += 2;
                    continue;
                }
                b'n' => {
                    out.push(b'\n');
                    i += 2;
                    continue;
                }
                b'r' => {
                    out.push(b'\r');
                    i += 2;
                    continue;
                }
                b'\'' => {
                    out.push(b'\'');
                    i += 2;
                    continue;
                }
                b'x' if i + 3 < b.len() => {
                    if let (Some(h), Some(l)) = (hexval(b[i + 2]), hexval(b[i + 3])) {
                        out.push(h * 16 + l);
                        i += 4;
                        continue;
                    }
                }
                _ => {}
            }
        }
        out.push(c);
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => e.into_bytes().iter().map(|&b| b as char).collect(),
    }
}

fn split_header(line: &str) -> (String, String) {
    // line is without the 4-space indent
    match line.find(": ") {
        Some(p) => (unescape_header(&line[..p]), unescape_header(&line[p + 2..])),
        None => match line.strip_suffix(':') {
            Some(n) => (unescape_header(n), String::new()),
            None => (unescape_header(line), String::new()),
        },
    }
}

/// Try to read an 11.x hex dump (`0000000000 00 01 … 0f   ascii`) back into bytes.
fn parse_hexdump(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4);
    for line in text.split('\n') {
        let b = line.as_bytes();
        if b.len() < 13 || b[10] != b' ' {
            return None;
        }
        let mut off: u64 = 0;
        for &c in &b[..10] {
            let v = hexval(c)?;
            if c.is_ascii_uppercase() {
                return None;
            }
            off = off * 16 + v as u64;
        }
        if off != out.len() as u64 {
            return None;
        }
        let mut i = 11;
        let mut n = 0;
        while n < 16 && i + 1 < b.len() && b[i] != b' ' {
            out.push(hexval(b[i])? * 16 + hexval(b[i + 1])?);
            n += 1;
            i += 2;
            if i < b.len() && b[i] == b' ' {
                i += 1;
            }
        }
        if n == 0 {
            return None;
        }
        // The ASCII column follows after the padding to 47 columns plus three spaces.
        if b.len() < 11 + 47 + 3 || &b[58..61] != b"   " {
            return None;
        }
    }
    Some(out)
}

fn finish_body(mut body: Body) -> Body {
    // `(cut off)` as the last body line is a marker (both versions).
    if body.lines > 0 {
        let marker_nl = "\n(cut off)";
        if body.text.ends_with(marker_nl) {
            body.text.truncate(body.text.len() - marker_nl.len());
            body.lines -= 1;
            body.flags |= BODY_CUT_OFF;
        } else if body.text == "(cut off)" {
            body.text.clear();
            body.lines = 0;
            body.flags |= BODY_CUT_OFF;
        }
    }
    if body.lines == 1 {
        if body.text == "Content is missing." {
            body.flags |= BODY_MISSING_12;
        } else if body.text == "content missing" {
            body.flags |= BODY_MISSING_11;
        }
    }
    let tb = body.text.as_bytes();
    if tb.len() >= 13 && tb[..10].iter().all(|c| c.is_ascii_hexdigit()) && tb[10] == b' ' {
        if let Some(bytes) = parse_hexdump(&body.text) {
            body.bytes = Some(bytes);
            body.flags |= BODY_HEXDUMP;
        }
    }
    if body.flags & BODY_HEXDUMP == 0 {
        for at in memmem::find_iter(tb, b"\\x") {
            if at + 3 < tb.len() && tb[at + 2].is_ascii_hexdigit() && tb[at + 3].is_ascii_hexdigit() {
                body.flags |= BODY_HAS_ESCAPE;
                break;
            }
        }
        if memmem::find(tb, "\u{FFFD}".as_bytes()).is_some() {
            body.flags |= BODY_HAS_REPLACEMENT;
        }
    }
    body
}

// ---------------------------------------------------------------------------------------------
// Arrow output

struct Columns {
    offset: UInt64Builder,
    line: UInt64Builder,
    client: StringBuilder,
    method: StringBuilder,
    push_promise: BooleanBuilder,
    url: StringBuilder,
    request_version: StringBuilder,
    req_names: ListBuilder<StringBuilder>,
    req_values: ListBuilder<StringBuilder>,
    req_body: StringBuilder,
    req_bytes: BinaryBuilder,
    req_flags: UInt32Builder,
    req_lines: UInt32Builder,
    status: UInt16Builder,
    response_version: StringBuilder,
    reason: StringBuilder,
    size_text: StringBuilder,
    size_min: UInt64Builder,
    size_max: UInt64Builder,
    resp_names: ListBuilder<StringBuilder>,
    resp_values: ListBuilder<StringBuilder>,
    resp_body: StringBuilder,
    resp_bytes: BinaryBuilder,
    resp_flags: UInt32Builder,
    resp_lines: UInt32Builder,
    error: StringBuilder,
    log_context: ListBuilder<StringBuilder>,
    detail: UInt8Builder,
    has_trailers: BooleanBuilder,
    rows: usize,
    bytes: usize,
}

fn schema() -> SchemaRef {
    let list = |n: &str| Field::new(n, DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))), false);
    Arc::new(Schema::new(vec![
        Field::new("offset", DataType::UInt64, false),
        Field::new("line", DataType::UInt64, false),
        Field::new("client", DataType::Utf8, false),
        Field::new("method", DataType::Utf8, false),
        Field::new("push_promise", DataType::Boolean, false),
        Field::new("url", DataType::Utf8, false),
        Field::new("request_version", DataType::Utf8, true),
        list("request_header_names"),
        list("request_header_values"),
        Field::new("request_body", DataType::Utf8, true),
        Field::new("request_body_bytes", DataType::Binary, true),
        Field::new("request_body_flags", DataType::UInt32, false),
        Field::new("request_body_lines", DataType::UInt32, false),
        Field::new("status", DataType::UInt16, true),
        Field::new("response_version", DataType::Utf8, true),
        Field::new("reason", DataType::Utf8, true),
        Field::new("size_text", DataType::Utf8, true),
        Field::new("size_min", DataType::UInt64, true),
        Field::new("size_max", DataType::UInt64, true),
        list("response_header_names"),
        list("response_header_values"),
        Field::new("response_body", DataType::Utf8, true),
        Field::new("response_body_bytes", DataType::Binary, true),
        Field::new("response_body_flags", DataType::UInt32, false),
        Field::new("response_body_lines", DataType::UInt32, false),
        Field::new("error", DataType::Utf8, true),
        list("log_context"),
        Field::new("detail", DataType::UInt8, false),
        Field::new("has_trailers", DataType::Boolean, false),
    ]))
}

/// Flush a batch once its string data nears this size (Utf8 offsets are i32).
const BATCH_BYTES: usize = 256 << 20;
const BATCH_ROWS: usize = 16_384;

impl Columns {
    /// `body_bytes`: expected body text per batch; reserving it up front avoids repeated
    /// reallocation (and page faults) while the value buffers grow.
    fn new(body_bytes: usize) -> Self {
        let lb = || ListBuilder::new(StringBuilder::new());
        Columns {
            offset: UInt64Builder::new(),
            line: UInt64Builder::new(),
            client: StringBuilder::new(),
            method: StringBuilder::new(),
            push_promise: BooleanBuilder::new(),
            url: StringBuilder::new(),
            request_version: StringBuilder::new(),
            req_names: lb(),
            req_values: lb(),
            req_body: StringBuilder::with_capacity(1024, body_bytes / 4),
            req_bytes: BinaryBuilder::new(),
            req_flags: UInt32Builder::new(),
            req_lines: UInt32Builder::new(),
            status: UInt16Builder::new(),
            response_version: StringBuilder::new(),
            reason: StringBuilder::new(),
            size_text: StringBuilder::new(),
            size_min: UInt64Builder::new(),
            size_max: UInt64Builder::new(),
            resp_names: lb(),
            resp_values: lb(),
            resp_body: StringBuilder::with_capacity(1024, body_bytes),
            resp_bytes: BinaryBuilder::new(),
            resp_flags: UInt32Builder::new(),
            resp_lines: UInt32Builder::new(),
            error: StringBuilder::new(),
            log_context: lb(),
            detail: UInt8Builder::new(),
            has_trailers: BooleanBuilder::new(),
            rows: 0,
            bytes: 0,
        }
    }

    fn push(&mut self, f: &mut FlowRec) {
        self.offset.append_value(f.offset);
        self.line.append_value(f.line);
        self.client.append_value(&f.client);
        self.method.append_value(&f.method);
        self.push_promise.append_value(f.push_promise);
        self.url.append_value(&f.url);
        self.request_version.append_option(f.req_version.as_deref());
        for (n, v) in &f.req_headers {
            self.req_names.values().append_value(n);
            self.req_values.values().append_value(v);
        }
        self.req_names.append(true);
        self.req_values.append(true);
        let mut bytes = f.url.len();
        push_body(&mut self.req_body, &mut self.req_bytes, &mut self.req_flags, &mut self.req_lines, f.req_body.as_ref(), &mut bytes);
        if f.has_response {
            self.status.append_value(f.status);
            self.reason.append_value(&f.reason);
            self.size_text.append_value(&f.size_text);
        } else {
            self.status.append_null();
            self.reason.append_null();
            self.size_text.append_null();
        }
        self.response_version.append_option(f.resp_version.as_deref());
        self.size_min.append_option(f.size_range.map(|r| r.0));
        self.size_max.append_option(f.size_range.map(|r| r.1));
        for (n, v) in &f.resp_headers {
            self.resp_names.values().append_value(n);
            self.resp_values.values().append_value(v);
            bytes += n.len() + v.len();
        }
        self.resp_names.append(true);
        self.resp_values.append(true);
        push_body(&mut self.resp_body, &mut self.resp_bytes, &mut self.resp_flags, &mut self.resp_lines, f.resp_body.as_ref(), &mut bytes);
        self.error.append_option(f.error.as_deref());
        for l in &f.log_context {
            self.log_context.values().append_value(l);
        }
        self.log_context.append(true);
        let detail = if f.saw_blank { 3 } else if !f.req_headers.is_empty() || !f.resp_headers.is_empty() { 2 } else { 1 };
        self.detail.append_value(detail);
        self.has_trailers.append_value(f.has_trailers);
        self.rows += 1;
        self.bytes += bytes;
    }

    fn batch(&mut self, schema: &SchemaRef) -> Result<RecordBatch> {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.offset.finish()),
            Arc::new(self.line.finish()),
            Arc::new(self.client.finish()),
            Arc::new(self.method.finish()),
            Arc::new(self.push_promise.finish()),
            Arc::new(self.url.finish()),
            Arc::new(self.request_version.finish()),
            Arc::new(self.req_names.finish()),
            Arc::new(self.req_values.finish()),
            Arc::new(self.req_body.finish()),
            Arc::new(self.req_bytes.finish()),
            Arc::new(self.req_flags.finish()),
            Arc::new(self.req_lines.finish()),
            Arc::new(self.status.finish()),
            Arc::new(self.response_version.finish()),
            Arc::new(self.reason.finish()),
            Arc::new(self.size_text.finish()),
            Arc::new(self.size_min.finish()),
            Arc::new(self.size_max.finish()),
            Arc::new(self.resp_names.finish()),
            Arc::new(self.resp_values.finish()),
            Arc::new(self.resp_body.finish()),
            Arc::new(self.resp_bytes.finish()),
            Arc::new(self.resp_flags.finish()),
            Arc::new(self.resp_lines.finish()),
            Arc::new(self.error.finish()),
            Arc::new(self.log_context.finish()),
            Arc::new(self.detail.finish()),
            Arc::new(self.has_trailers.finish()),
        ];
        self.rows = 0;
        self.bytes = 0;
        Ok(RecordBatch::try_new(Arc::clone(schema), cols)?)
    }
}

fn push_body(
    text: &mut StringBuilder,
    bin: &mut BinaryBuilder,
    flags: &mut UInt32Builder,
    lines: &mut UInt32Builder,
    body: Option<&Body>,
    bytes: &mut usize,
) {
    match body {
        Some(b) => {
            *bytes += b.text.len();
            text.append_value(&b.text);
            match &b.bytes {
                Some(x) => {
                    *bytes += x.len();
                    bin.append_value(x)
                }
                None => bin.append_null(),
            }
            flags.append_value(b.flags);
            lines.append_value(b.lines);
        }
        None => {
            text.append_null();
            bin.append_null();
            flags.append_value(0);
            lines.append_value(0);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Line splitting

/// Iterator over the positions of `\n`, 64 bytes at a time.
///
/// Hand-written because it is the hottest loop: log lines average ~40 bytes, and calling
/// `memchr` once per line pays its setup cost on every short search (~18% of the parse in
/// profiles). Here one pass builds a 64-bit mask of newline positions per 64-byte block (SSE2 on
/// x86_64, SWAR elsewhere) and the positions are popped with `trailing_zeros`.
struct LineEnds<'a> {
    data: &'a [u8],
    base: usize,
    mask: u64,
}

impl<'a> LineEnds<'a> {
    fn new(data: &'a [u8]) -> Self {
        let mut it = LineEnds { data, base: 0, mask: 0 };
        it.mask = it.block_mask(0);
        it
    }

    #[inline]
    fn block_mask(&self, base: usize) -> u64 {
        let rest = &self.data[base.min(self.data.len())..];
        if rest.len() >= 64 {
            newline_mask64(&rest[..64])
        } else {
            let mut m = 0u64;
            for (i, &b) in rest.iter().enumerate() {
                if b == b'\n' {
                    m |= 1 << i;
                }
            }
            m
        }
    }
}

impl Iterator for LineEnds<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            self.base += 64;
            if self.base >= self.data.len() {
                return None;
            }
            self.mask = self.block_mask(self.base);
        }
        let tz = self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(self.base + tz)
    }
}

#[cfg(target_arch = "x86_64")]
#[inline]
fn newline_mask64(block: &[u8]) -> u64 {
    use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
    debug_assert!(block.len() >= 64);
    // SAFETY: SSE2 is part of the x86_64 baseline; the four unaligned 16-byte loads stay inside
    // `block`, which has at least 64 bytes.
    unsafe {
        let nl = _mm_set1_epi8(b'\n' as i8);
        let p = block.as_ptr() as *const __m128i;
        let m0 = _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(p), nl)) as u16 as u64;
        let m1 = _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(p.add(1)), nl)) as u16 as u64;
        let m2 = _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(p.add(2)), nl)) as u16 as u64;
        let m3 = _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128(p.add(3)), nl)) as u16 as u64;
        m0 | (m1 << 16) | (m2 << 32) | (m3 << 48)
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
fn newline_mask64(block: &[u8]) -> u64 {
    // SWAR: exact zero-byte test on `word ^ 0x0a..` (no false positives), 8 bytes at a time.
    let mut m = 0u64;
    for (k, chunk) in block[..64].chunks_exact(8).enumerate() {
        let x = u64::from_le_bytes(chunk.try_into().expect("8 bytes")) ^ 0x0a0a_0a0a_0a0a_0a0a;
        let zero = !(((x & 0x7f7f_7f7f_7f7f_7f7f).wrapping_add(0x7f7f_7f7f_7f7f_7f7f)) | x | 0x7f7f_7f7f_7f7f_7f7f);
        let mut bits = 0u64;
        for i in 0..8 {
            bits |= ((zero >> (i * 8 + 7)) & 1) << i;
        }
        m |= bits << (k * 8);
    }
    m
}

// ---------------------------------------------------------------------------------------------
// The state machine

struct Parser {
    info: LogInfo,
    cols: Columns,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    cur: Option<FlowRec>,
    sec: Section,
    body: Body,
    pending_log: Vec<String>,
    /// Latest flow index per client address, for attaching WebSocket messages.
    last_flow_of_client: std::collections::HashMap<String, u32>,
    msg: Option<MessageLine>,
    saw_cr_in_body: bool,
    saw_hexdump: bool,
    saw_missing_11: bool,
    saw_missing_12: bool,
    /// Body buffers handed back after a flow was written, reused to avoid allocation churn.
    spare: Vec<String>,
}

impl Parser {
    fn new(info: LogInfo, input_len: usize) -> Self {
        Parser {
            spare: Vec::new(),
            info,
            cols: Columns::new(input_len.min(BATCH_BYTES)),
            schema: schema(),
            batches: Vec::new(),
            cur: None,
            sec: Section::None,
            body: Body::default(),
            pending_log: Vec::new(),
            last_flow_of_client: std::collections::HashMap::new(),
            msg: None,
            saw_cr_in_body: false,
            saw_hexdump: false,
            saw_missing_11: false,
            saw_missing_12: false,
        }
    }

    fn run(&mut self, text: &str) -> Result<()> {
        let bytes = text.as_bytes();
        let mut start = 0usize;
        let mut line_no: u64 = 0;
        let ansi = self.info.had_ansi;
        // Hot loop: one memchr per line, then a cheap first-bytes dispatch. Body lines (the bulk
        // of any log) take the `    ` branch and are appended to the body buffer directly.
        let mut ends = LineEnds::new(bytes);
        loop {
            let (end, next) = match ends.next() {
                Some(e) => (e, e + 1),
                None if start < bytes.len() => (bytes.len(), bytes.len()),
                None => break,
            };
            line_no += 1;
            let mut l = &text[start..end];
            let had_cr = l.ends_with('\r');
            if had_cr {
                l = &l[..l.len() - 1];
            }
            if ansi && l.as_bytes().contains(&0x1b) {
                let owned = strip_ansi(l);
                self.line(&owned, start as u64, line_no, had_cr);
            } else {
                self.line(l, start as u64, line_no, had_cr);
            }
            start = next;
        }
        self.info.lines = line_no;
        Ok(())
    }

    fn in_body(&self) -> bool {
        matches!(self.sec, Section::ReqBody | Section::RespBody | Section::MsgBody)
    }

    fn line(&mut self, l: &str, offset: u64, line_no: u64, had_cr: bool) {
        let b = l.as_bytes();
        // Indented: header, body or trailer line depending on the section.
        if b.len() >= 4 && &b[..4] == b"    " && !self.padded_response_line(l) {
            let content = &l[4..];
            match self.sec {
                Section::ReqBody | Section::RespBody | Section::MsgBody => {
                    self.body_line(content, had_cr);
                }
                Section::ReqAfterHeaders | Section::RespAfterHeaders | Section::MsgAfterLine => {
                    self.sec = match self.sec {
                        Section::ReqAfterHeaders => Section::ReqBody,
                        Section::RespAfterHeaders => Section::RespBody,
                        _ => Section::MsgBody,
                    };
                    let mut text = self.spare.pop().unwrap_or_default();
                    text.clear();
                    self.body = Body { text, ..Body::default() };
                    self.body_line(content, had_cr);
                }
                Section::ReqHeaders => {
                    if let Some(f) = self.cur.as_mut() {
                        f.req_headers.push(split_header(content));
                    }
                }
                Section::RespHeaders => {
                    if let Some(f) = self.cur.as_mut() {
                        f.resp_headers.push(split_header(content));
                    }
                }
                Section::ReqTrailers | Section::RespTrailers => {}
                Section::ReqAfterBody | Section::RespAfterBody if content == "--- HTTP Trailers" => {
                    if let Some(f) = self.cur.as_mut() {
                        f.has_trailers = true;
                    }
                    self.sec = if self.sec == Section::ReqAfterBody { Section::ReqTrailers } else { Section::RespTrailers };
                }
                _ => self.other(offset),
            }
            return;
        }
        if b.is_empty() {
            if let Some(f) = self.cur.as_mut() {
                f.saw_blank = true;
            }
            self.sec = match self.sec {
                Section::ReqHeaders => Section::ReqAfterHeaders,
                Section::ReqBody => {
                    self.end_body();
                    Section::ReqAfterBody
                }
                Section::ReqTrailers => Section::ReqAfterBody,
                Section::RespHeaders => Section::RespAfterHeaders,
                Section::RespBody => {
                    self.end_body();
                    Section::RespAfterBody
                }
                Section::RespTrailers => Section::RespAfterBody,
                Section::MsgBody => {
                    self.end_body();
                    self.finish_msg();
                    Section::Done
                }
                Section::ReqAfterHeaders | Section::RespAfterHeaders => {
                    // A run of empty lines where a body would be (whitespace-only body, 12.x).
                    self.sec
                }
                Section::MsgAfterLine => Section::MsgAfterLine,
                s => s,
            };
            return;
        }
        // Anything else closes an open body (malformed or cut logs).
        if self.in_body() {
            self.end_body();
            self.sec = match self.sec {
                Section::ReqBody => Section::ReqAfterBody,
                Section::RespBody => Section::RespAfterBody,
                _ => {
                    self.finish_msg();
                    Section::Done
                }
            };
        }
        if b[0] == b'[' && is_termlog(b) {
            self.pending_log.push(l.to_string());
            return;
        }
        if memmem::find(&b[..b.len().min(64)], b"<< ").is_some() {
            if let Some(r) = parse_response_line(l) {
                let attach = matches!(&self.cur, Some(f) if !f.has_response && f.error.is_none());
                if attach {
                    self.finish_msg();
                    let f = self.cur.as_mut().expect("checked");
                    f.has_response = true;
                    f.status = r.status;
                    f.reason = r.reason.to_string();
                    f.size_text = r.size.to_string();
                    f.size_range = parse_size(r.size).flatten();
                    f.resp_version = r.version.map(str::to_string);
                    self.sec = Section::RespHeaders;
                    return;
                }
            }
            if let Some((p, _)) = arrows(l) {
                if let Some(f) = self.cur.as_mut() {
                    if f.error.is_none() && p < l.len() {
                        f.error = Some(l[p..].to_string());
                        self.sec = Section::Done;
                        return;
                    }
                }
            }
        }
        if let Some(r) = parse_request_line(l) {
            self.finish_flow();
            self.finish_msg();
            let f = FlowRec {
                offset,
                line: line_no,
                client: r.client.to_string(),
                method: r.method.to_string(),
                push_promise: r.push,
                url: r.url.to_string(),
                req_version: r.version.map(str::to_string),
                log_context: std::mem::take(&mut self.pending_log),
                ..Default::default()
            };
            self.cur = Some(f);
            self.sec = Section::ReqHeaders;
            return;
        }
        if let Some((client, from_client, kind, target)) = parse_message_line(l) {
            self.finish_msg();
            // The current (unfinished) flow of the same client gets the next index.
            let flow_index = match &self.cur {
                Some(f) if f.client == client => Some(self.info.flows as u32),
                _ => self.last_flow_of_client.get(&client).copied(),
            };
            self.msg = Some(MessageLine { flow_index, offset, client, from_client, kind, target, body: None });
            self.sec = Section::MsgAfterLine;
            return;
        }
        if is_context_line(l) {
            self.pending_log.push(l.to_string());
            return;
        }
        self.other(offset);
    }

    /// At fd = 1 the response arrows are padded under the method (`              << 200 OK 90b`),
    /// so a response line can look indented; only outside bodies and before a response.
    fn padded_response_line(&self, l: &str) -> bool {
        if self.in_body() || !matches!(&self.cur, Some(f) if !f.has_response) {
            return false;
        }
        l.trim_start_matches(' ').starts_with("<< ") && parse_response_line(l).is_some()
    }

    fn other(&mut self, offset: u64) {
        self.info.other_lines += 1;
        if self.info.first_other_offset.is_none() {
            self.info.first_other_offset = Some(offset);
        }
    }

    #[inline]
    fn body_line(&mut self, content: &str, had_cr: bool) {
        if self.body.lines > 0 {
            self.body.text.push('\n');
        }
        self.body.text.push_str(content);
        self.body.lines += 1;
        if had_cr {
            self.body.flags |= BODY_CRLF;
        }
    }

    fn end_body(&mut self) {
        let body = finish_body(std::mem::take(&mut self.body));
        if body.flags & BODY_CRLF != 0 {
            self.saw_cr_in_body = true;
        }
        if body.flags & BODY_HEXDUMP != 0 {
            self.saw_hexdump = true;
        }
        if body.flags & BODY_MISSING_11 != 0 {
            self.saw_missing_11 = true;
        }
        if body.flags & BODY_MISSING_12 != 0 {
            self.saw_missing_12 = true;
        }
        match self.sec {
            Section::ReqBody => {
                if let Some(f) = self.cur.as_mut() {
                    f.req_body = Some(body);
                }
            }
            Section::RespBody => {
                if let Some(f) = self.cur.as_mut() {
                    f.resp_body = Some(body);
                }
            }
            Section::MsgBody => {
                if let Some(m) = self.msg.as_mut() {
                    m.body = Some(body);
                }
            }
            _ => {}
        }
    }

    fn finish_msg(&mut self) {
        if let Some(m) = self.msg.take() {
            self.info.messages.push(m);
        }
    }

    fn finish_flow(&mut self) {
        if self.in_body() {
            self.end_body();
        }
        self.finish_msg();
        if let Some(mut f) = self.cur.take() {
            self.last_flow_of_client.insert(f.client.clone(), self.info.flows as u32);
            self.info.flows += 1;
            self.cols.push(&mut f);
            for b in [f.req_body.take(), f.resp_body.take()].into_iter().flatten() {
                self.spare.push(b.text);
            }
            if self.cols.rows >= BATCH_ROWS || self.cols.bytes >= BATCH_BYTES {
                let b = self.cols.batch(&self.schema);
                if let Ok(b) = b {
                    self.batches.push(b);
                }
            }
        }
        self.sec = Section::None;
    }

    fn finish(mut self) -> Result<ParsedLog> {
        self.finish_flow();
        if self.cols.rows > 0 || self.batches.is_empty() {
            let b = self.cols.batch(&self.schema)?;
            self.batches.push(b);
        }
        let mut info = self.info;
        info.trailing_log = self.pending_log;
        if info.flows == 0 {
            if let Some(off) = info.first_other_offset {
                return Err(FormatError::new(
                    Format::MitmLog,
                    "not_a_log",
                    off,
                    "expected a mitmdump request line (`<client>: <METHOD> <url>`) or log line (`[HH:MM:SS.mmm] …`)",
                )
                .into());
            }
        }
        if self.saw_cr_in_body {
            info.evidence_11.push("CRLF inside bodies");
        }
        if self.saw_hexdump {
            info.evidence_11.push("hex dump body");
        }
        if self.saw_missing_11 {
            info.evidence_11.push("`content missing`");
        }
        if self.saw_missing_12 {
            info.evidence_12.push("`Content is missing.`");
        }
        info.version_certain = !(info.evidence_11.is_empty() && info.evidence_12.is_empty());
        info.version = if info.evidence_11.len() > info.evidence_12.len() { "11" } else { "12" };
        Ok(ParsedLog { table: Table::new(self.schema, self.batches), info })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_ends_match_memchr() {
        let mut data = Vec::new();
        for i in 0..500u32 {
            data.extend(std::iter::repeat_n(b'a', (i * 7 % 131) as usize));
            data.push(b'\n');
            if i % 5 == 0 {
                data.push(b'\n');
            }
        }
        for cut in [0, 1, 63, 64, 65, 127, 1000, data.len()] {
            let d = &data[..cut.min(data.len())];
            let want: Vec<usize> = memchr::memchr_iter(b'\n', d).collect();
            assert_eq!(LineEnds::new(d).collect::<Vec<_>>(), want, "cut {cut}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("90b"), Some(Some((90, 90))));
        assert_eq!(parse_size("(content missing)"), Some(None));
        let (lo, hi) = parse_size("1.3k").unwrap().unwrap();
        assert!(lo <= 1336 && 1336 <= hi, "{lo} {hi}");
        let (lo, hi) = parse_size("9.9k").unwrap().unwrap();
        assert!(lo <= 10090 && 10090 <= hi);
        let (lo, hi) = parse_size("512k").unwrap().unwrap();
        assert_eq!((lo, hi), (511 * 1024 + 512, 512 * 1024 + 511));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("1.23k"), None);
        assert_eq!(parse_size("b"), None);
    }

    #[test]
    fn termlog() {
        assert!(is_termlog(b"[05:27:35.610][127.0.0.1:51144] client connect"));
        assert!(is_termlog(b"[05:27:32.524] reverse proxy"));
        assert!(!is_termlog(b"[::1]:5000: GET http://x/"));
        assert!(!is_termlog(b"[replay]: GET http://x/"));
    }

    #[test]
    fn header_unescape() {
        assert_eq!(unescape_header(r"a\\b"), r"a\b");
        assert_eq!(unescape_header(r"\xc3\xa9"), "é");
        assert_eq!(unescape_header(r"\xff"), "\u{ff}");
        assert_eq!(unescape_header(r"x\ty"), "x\ty");
    }

    #[test]
    fn request_lines() {
        assert!(parse_request_line("127.0.0.1:1: POST http://a/b").is_some());
        assert!(parse_request_line("[::1]:1: GET https://a/b HTTP/2.0").is_some());
        assert!(parse_request_line("Note: see http://x").is_none());
        assert!(parse_request_line("127.0.0.1:1: DNS QUERY (A) example.com").is_none());
    }
}
