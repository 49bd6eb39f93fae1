//! The per-flow state machine of `docs/specs/mitmproxy.md` §3.11 and the Arrow columns it fills.
//!
//! Lines are found 64 bytes at a time (`LineEnds`) and dispatched on their first bytes. Body
//! lines, the bulk of any log, take a tight loop of their own: each line's content (indent and
//! CR removed) is appended to the arena with its newline in one copy, and nothing else happens
//! per line. Everything else the parser keeps is a `Span` of the input.

use std::collections::HashMap;

use arrow_array::builder::{BooleanBuilder, UInt16Builder, UInt32Builder, UInt64Builder, UInt8Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;
use memchr::{memchr, memchr2, memmem};

use super::scan::{
    arrows, is_context_line, is_termlog, parse_hexdump, parse_message_line, parse_request_line, parse_response_line,
    parse_size, split_header, strip_ansi, unescape_header, LineEnds,
};
use super::store::{ListCol, Span, Store, ViewCol, WINDOW_STEP};
use super::{
    Body, LogInfo, MessageLine, ParsedLog, BODY_CRLF, BODY_CUT_OFF, BODY_HAS_ESCAPE, BODY_HAS_REPLACEMENT,
    BODY_HEXDUMP, BODY_MISSING_11, BODY_MISSING_12,
};
use crate::arrow_util::Table;
use crate::error::{Format, FormatError, Result};

const BATCH_ROWS: usize = 16_384;

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

/// A finished body: its text (indent removed, lines joined with `\n`) and what was noticed.
#[derive(Debug, Default, Clone, Copy)]
struct BodyOut {
    text: Span,
    bytes: Option<Span>,
    flags: u32,
    lines: u32,
}

/// A body being read: its lines are appended to the arena, each followed by `\n`.
#[derive(Debug, Default)]
struct BodyAcc {
    /// Arena position of the text.
    start: usize,
    /// Arena position of the last line.
    last: usize,
    lines: u32,
    flags: u32,
    /// The first line's content in the input, when it was copied verbatim.
    first_src: Option<(usize, usize)>,
}

/// The flow being read. Reused from flow to flow so its vectors keep their capacity.
#[derive(Debug, Default)]
struct FlowRec {
    offset: u64,
    line: u64,
    client: Span,
    method: Span,
    push_promise: bool,
    url: Span,
    req_version: Option<Span>,
    req_headers: Vec<(Span, Span)>,
    req_trailers: Vec<(Span, Span)>,
    req_body: Option<BodyOut>,
    has_response: bool,
    resp_version: Option<Span>,
    status: u16,
    reason: Span,
    size_text: Span,
    size_range: Option<(u64, u64)>,
    resp_headers: Vec<(Span, Span)>,
    resp_trailers: Vec<(Span, Span)>,
    resp_body: Option<BodyOut>,
    error: Option<Span>,
    log_context: Vec<Span>,
    saw_blank: bool,
    has_trailers: bool,
}

impl FlowRec {
    fn reset(&mut self) {
        let mut keep = [
            std::mem::take(&mut self.req_headers),
            std::mem::take(&mut self.req_trailers),
            std::mem::take(&mut self.resp_headers),
            std::mem::take(&mut self.resp_trailers),
        ];
        keep.iter_mut().for_each(Vec::clear);
        let mut log_context = std::mem::take(&mut self.log_context);
        log_context.clear();
        let [req_headers, req_trailers, resp_headers, resp_trailers] = keep;
        *self = FlowRec { req_headers, req_trailers, resp_headers, resp_trailers, log_context, ..FlowRec::default() };
    }
}

// ---------------------------------------------------------------------------------------------
// Columns

struct Columns {
    offset: UInt64Builder,
    line: UInt64Builder,
    client: ViewCol,
    method: ViewCol,
    push_promise: BooleanBuilder,
    url: ViewCol,
    request_version: ViewCol,
    req_names: ListCol,
    req_values: ListCol,
    req_body: ViewCol,
    req_bytes: ViewCol,
    req_flags: UInt32Builder,
    req_lines: UInt32Builder,
    status: UInt16Builder,
    response_version: ViewCol,
    reason: ViewCol,
    size_text: ViewCol,
    size_min: UInt64Builder,
    size_max: UInt64Builder,
    resp_names: ListCol,
    resp_values: ListCol,
    resp_body: ViewCol,
    resp_bytes: ViewCol,
    resp_flags: UInt32Builder,
    resp_lines: UInt32Builder,
    error: ViewCol,
    log_context: ListCol,
    detail: UInt8Builder,
    has_trailers: BooleanBuilder,
    req_trailer_names: ListCol,
    req_trailer_values: ListCol,
    resp_trailer_names: ListCol,
    resp_trailer_values: ListCol,
    rows: usize,
}

fn push_pairs(names: &mut ListCol, values: &mut ListCol, pairs: &[(Span, Span)], st: &Store) {
    for &(n, v) in pairs {
        names.values.push(st.view(n));
        values.values.push(st.view(v));
    }
    names.close();
    values.close();
}

fn push_body(
    st: &Store,
    text: &mut ViewCol,
    bin: &mut ViewCol,
    flags: &mut UInt32Builder,
    lines: &mut UInt32Builder,
    body: Option<&BodyOut>,
) {
    match body {
        Some(b) => {
            text.push(st.view(b.text));
            bin.push_opt(b.bytes.map(|s| st.view(s)));
            flags.append_value(b.flags);
            lines.append_value(b.lines);
        }
        None => {
            text.push_null();
            bin.push_null();
            flags.append_value(0);
            lines.append_value(0);
        }
    }
}

impl Columns {
    fn new() -> Self {
        Columns {
            offset: UInt64Builder::new(),
            line: UInt64Builder::new(),
            client: ViewCol::default(),
            method: ViewCol::default(),
            push_promise: BooleanBuilder::new(),
            url: ViewCol::default(),
            request_version: ViewCol::default(),
            req_names: ListCol::default(),
            req_values: ListCol::default(),
            req_body: ViewCol::default(),
            req_bytes: ViewCol::default(),
            req_flags: UInt32Builder::new(),
            req_lines: UInt32Builder::new(),
            status: UInt16Builder::new(),
            response_version: ViewCol::default(),
            reason: ViewCol::default(),
            size_text: ViewCol::default(),
            size_min: UInt64Builder::new(),
            size_max: UInt64Builder::new(),
            resp_names: ListCol::default(),
            resp_values: ListCol::default(),
            resp_body: ViewCol::default(),
            resp_bytes: ViewCol::default(),
            resp_flags: UInt32Builder::new(),
            resp_lines: UInt32Builder::new(),
            error: ViewCol::default(),
            log_context: ListCol::default(),
            detail: UInt8Builder::new(),
            has_trailers: BooleanBuilder::new(),
            req_trailer_names: ListCol::default(),
            req_trailer_values: ListCol::default(),
            resp_trailer_names: ListCol::default(),
            resp_trailer_values: ListCol::default(),
            rows: 0,
        }
    }

    fn push(&mut self, f: &FlowRec, st: &Store) {
        let view = |s: Span| st.view(s);
        self.offset.append_value(f.offset);
        self.line.append_value(f.line);
        self.client.push(view(f.client));
        self.method.push(view(f.method));
        self.push_promise.append_value(f.push_promise);
        self.url.push(view(f.url));
        self.request_version.push_opt(f.req_version.map(view));
        push_pairs(&mut self.req_names, &mut self.req_values, &f.req_headers, st);
        push_body(
            st,
            &mut self.req_body,
            &mut self.req_bytes,
            &mut self.req_flags,
            &mut self.req_lines,
            f.req_body.as_ref(),
        );
        if f.has_response {
            self.status.append_value(f.status);
            self.reason.push(view(f.reason));
            self.size_text.push(view(f.size_text));
        } else {
            self.status.append_null();
            self.reason.push_null();
            self.size_text.push_null();
        }
        self.response_version.push_opt(f.resp_version.map(view));
        self.size_min.append_option(f.size_range.map(|r| r.0));
        self.size_max.append_option(f.size_range.map(|r| r.1));
        push_pairs(&mut self.resp_names, &mut self.resp_values, &f.resp_headers, st);
        push_body(
            st,
            &mut self.resp_body,
            &mut self.resp_bytes,
            &mut self.resp_flags,
            &mut self.resp_lines,
            f.resp_body.as_ref(),
        );
        self.error.push_opt(f.error.map(view));
        for &l in &f.log_context {
            self.log_context.values.push(view(l));
        }
        self.log_context.close();
        let detail = if f.saw_blank {
            3
        } else if !f.req_headers.is_empty() || !f.resp_headers.is_empty() {
            2
        } else {
            1
        };
        self.detail.append_value(detail);
        self.has_trailers.append_value(f.has_trailers);
        push_pairs(&mut self.req_trailer_names, &mut self.req_trailer_values, &f.req_trailers, st);
        push_pairs(&mut self.resp_trailer_names, &mut self.resp_trailer_values, &f.resp_trailers, st);
        self.rows += 1;
    }

    fn batch(&mut self, schema: &SchemaRef, st: &mut Store) -> RecordBatch {
        let bufs = st.buffers();
        let b = &bufs;
        let cols: Vec<ArrayRef> = vec![
            std::sync::Arc::new(self.offset.finish()),
            std::sync::Arc::new(self.line.finish()),
            self.client.finish_str(b),
            self.method.finish_str(b),
            std::sync::Arc::new(self.push_promise.finish()),
            self.url.finish_str(b),
            self.request_version.finish_str(b),
            self.req_names.finish(b),
            self.req_values.finish(b),
            self.req_body.finish_str(b),
            self.req_bytes.finish_bin(b),
            std::sync::Arc::new(self.req_flags.finish()),
            std::sync::Arc::new(self.req_lines.finish()),
            std::sync::Arc::new(self.status.finish()),
            self.response_version.finish_str(b),
            self.reason.finish_str(b),
            self.size_text.finish_str(b),
            std::sync::Arc::new(self.size_min.finish()),
            std::sync::Arc::new(self.size_max.finish()),
            self.resp_names.finish(b),
            self.resp_values.finish(b),
            self.resp_body.finish_str(b),
            self.resp_bytes.finish_bin(b),
            std::sync::Arc::new(self.resp_flags.finish()),
            std::sync::Arc::new(self.resp_lines.finish()),
            self.error.finish_str(b),
            self.log_context.finish(b),
            std::sync::Arc::new(self.detail.finish()),
            std::sync::Arc::new(self.has_trailers.finish()),
            self.req_trailer_names.finish(b),
            self.req_trailer_values.finish(b),
            self.resp_trailer_names.finish(b),
            self.resp_trailer_values.finish(b),
        ];
        self.rows = 0;
        RecordBatch::try_new(std::sync::Arc::clone(schema), cols).expect("the columns match the schema")
    }
}

// ---------------------------------------------------------------------------------------------
// Body helpers

/// `\xNN` escapes (12.x backslashreplace) and U+FFFD (11.x replacement) in one pass.
fn lossy_marks(t: &[u8]) -> u32 {
    let mut flags = 0;
    let mut i = 0;
    while let Some(p) = memchr2(b'\\', 0xEF, &t[i..]) {
        let at = i + p;
        if t[at] == b'\\' {
            if flags & BODY_HAS_ESCAPE == 0
                && t.len() > at + 3
                && t[at + 1] == b'x'
                && t[at + 2].is_ascii_hexdigit()
                && t[at + 3].is_ascii_hexdigit()
            {
                flags |= BODY_HAS_ESCAPE;
            }
            i = at + 1;
        } else {
            if t[at..].starts_with("\u{FFFD}".as_bytes()) {
                flags |= BODY_HAS_REPLACEMENT;
            }
            i = at + 1;
        }
        if flags == BODY_HAS_ESCAPE | BODY_HAS_REPLACEMENT {
            break;
        }
    }
    flags
}

/// Whether the line at `start` begins with the four-space indent.
#[inline(always)]
fn indented(src: &[u8], start: usize) -> bool {
    src.get(start..start + 4) == Some(b"    ")
}

// ---------------------------------------------------------------------------------------------
// The state machine

pub(super) struct Parser<'a> {
    /// The input; checked as UTF-8 line by line as the scan reaches it.
    src: &'a [u8],
    st: Store,
    info: LogInfo,
    cols: Columns,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    cur: FlowRec,
    has_cur: bool,
    sec: Section,
    body: BodyAcc,
    pending_log: Vec<Span>,
    /// Client of every finished flow, by index, and a lookup built from it on the first
    /// WebSocket/TCP message line (logs without messages never pay for it).
    flow_clients: Vec<Span>,
    client_index: HashMap<String, u32>,
    indexed: usize,
    msg: Option<MessageLine>,
    saw_cr_in_body: bool,
    saw_hexdump: bool,
    saw_missing_11: bool,
    saw_missing_12: bool,
    /// Offset of a value too long for one Arrow view (over 2 GiB).
    oversize: Option<u64>,
}

impl<'a> Parser<'a> {
    pub(super) fn new(src: &'a [u8], st: Store, info: LogInfo) -> Self {
        Parser {
            src,
            st,
            info,
            cols: Columns::new(),
            schema: super::schema(),
            batches: Vec::new(),
            cur: FlowRec::default(),
            has_cur: false,
            sec: Section::None,
            body: BodyAcc::default(),
            pending_log: Vec::new(),
            flow_clients: Vec::new(),
            client_index: HashMap::new(),
            indexed: 0,
            msg: None,
            saw_cr_in_body: false,
            saw_hexdump: false,
            saw_missing_11: false,
            saw_missing_12: false,
            oversize: None,
        }
    }

    /// Parse every line. Returns false, having stopped, when the input is not valid UTF-8.
    pub(super) fn run(&mut self) -> bool {
        let bytes = self.src;
        let len = bytes.len();
        let mut ends = LineEnds::new(bytes);
        let mut start = 0usize;
        let mut line_no: u64 = 0;
        // A line end the body loop found but left to the general path.
        let mut pending = None;
        while start < len {
            let end = pending.take().unwrap_or_else(|| ends.next().unwrap_or(len));
            line_no += 1;
            if ends.invalid {
                return false;
            }
            let had_cr = end > start && bytes[end - 1] == b'\r';
            // SAFETY: every byte up to `end` was validated by `LineEnds` (not `invalid`), and the
            // line runs from after a newline (or the start) to before one (or the end): it holds
            // whole characters.
            let l = unsafe { std::str::from_utf8_unchecked(&bytes[start..end - had_cr as usize]) };
            if ends.esc && memchr(0x1b, l.as_bytes()).is_some() {
                let owned = strip_ansi(l);
                self.line(&owned, None, start as u64, line_no, had_cr);
            } else {
                self.line(l, Some(start), start as u64, line_no, had_cr);
            }
            start = end + 1;
            if !ends.attention() && self.in_body() && indented(bytes, start) {
                (start, pending) = self.body_lines(start, &mut ends, &mut line_no);
            }
        }
        self.info.lines = line_no;
        self.info.had_ansi = ends.esc;
        !ends.invalid
    }

    /// The rest of a body from the indented line at `start`: every following line indented by
    /// four spaces belongs to it. Returns the start of the first line after the body, and that
    /// line's end if it was already found (when the scan saw ESC or invalid UTF-8, the line is
    /// left to the general path).
    fn body_lines(&mut self, mut start: usize, ends: &mut LineEnds<'_>, line_no: &mut u64) -> (usize, Option<usize>) {
        let src = self.src;
        let len = src.len();
        let arena = &mut self.st.arena;
        let acc = &mut self.body;
        let (mut lines, mut flags) = (acc.lines, acc.flags);
        let mut last = acc.last;
        let mut n = 0u64;
        let mut pending = None;
        loop {
            let end = ends.next().unwrap_or(len);
            if ends.attention() {
                pending = Some(end);
                break;
            }
            n += 1;
            let cs = start + 4;
            let had_cr = end > cs && src[end - 1] == b'\r';
            let ce = end - had_cr as usize;
            last = arena.len();
            if end < len && !had_cr {
                // The content and its newline, in one copy.
                arena.push_from(src, cs, end + 1);
            } else {
                arena.push_from(src, cs, ce);
                arena.push_byte(b'\n');
            }
            if had_cr {
                flags |= BODY_CRLF;
            }
            if lines == 0 {
                acc.first_src = Some((cs, ce));
            }
            lines += 1;
            start = end + 1;
            if !indented(src, start) {
                break;
            }
        }
        (acc.lines, acc.last, acc.flags) = (lines, last, flags);
        *line_no += n;
        (start, pending)
    }

    fn in_body(&self) -> bool {
        matches!(self.sec, Section::ReqBody | Section::RespBody | Section::MsgBody)
    }

    /// The span of `sub`, a piece of the line `l` (a slice of the input at `at`, or a
    /// transformed copy when `at` is `None`, whose pieces go to the arena).
    fn keep(&mut self, l: &str, at: Option<usize>, sub: &str) -> Span {
        if sub.len() > WINDOW_STEP {
            self.oversize.get_or_insert(at.unwrap_or(0) as u64);
        }
        let off = (sub.as_ptr() as usize).wrapping_sub(l.as_ptr() as usize);
        match at {
            // Only a piece of the line itself (a parser may also return a literal).
            Some(a) if off <= l.len() && off + sub.len() <= l.len() => Span::src(a + off, a + off + sub.len()),
            _ => self.st.arena.push(sub.as_bytes()),
        }
    }

    /// A header name or value: unescaped into the arena when it holds an escape.
    fn keep_header(&mut self, l: &str, at: Option<usize>, sub: &str) -> Span {
        if memchr(b'\\', sub.as_bytes()).is_some() {
            let s = unescape_header(sub);
            self.st.arena.push(s.as_bytes())
        } else {
            self.keep(l, at, sub)
        }
    }

    fn header(&mut self, l: &str, at: Option<usize>, content: &str) -> (Span, Span) {
        let (n, v) = split_header(content);
        (self.keep_header(l, at, n), self.keep_header(l, at, v))
    }

    fn line(&mut self, l: &str, at: Option<usize>, offset: u64, line_no: u64, had_cr: bool) {
        let b = l.as_bytes();
        // Indented: header, body or trailer line depending on the section.
        if b.len() >= 4 && &b[..4] == b"    " && !self.padded_response_line(l) {
            let content = &l[4..];
            match self.sec {
                Section::ReqBody | Section::RespBody | Section::MsgBody => {
                    self.body_line(l, at, had_cr);
                }
                Section::ReqAfterHeaders | Section::RespAfterHeaders if content == "--- HTTP Trailers" => {
                    // Trailers right after the header block: the body was empty.
                    self.start_trailers();
                }
                Section::ReqAfterHeaders | Section::RespAfterHeaders | Section::MsgAfterLine => {
                    self.sec = match self.sec {
                        Section::ReqAfterHeaders => Section::ReqBody,
                        Section::RespAfterHeaders => Section::RespBody,
                        _ => Section::MsgBody,
                    };
                    self.body_begin();
                    self.body_line(l, at, had_cr);
                }
                Section::ReqHeaders | Section::RespHeaders | Section::ReqTrailers | Section::RespTrailers => {
                    if self.has_cur {
                        let h = self.header(l, at, content);
                        let f = &mut self.cur;
                        match self.sec {
                            Section::ReqHeaders => f.req_headers.push(h),
                            Section::RespHeaders => f.resp_headers.push(h),
                            Section::ReqTrailers => f.req_trailers.push(h),
                            _ => f.resp_trailers.push(h),
                        }
                    }
                }
                Section::ReqAfterBody | Section::RespAfterBody if content == "--- HTTP Trailers" => {
                    self.start_trailers();
                }
                _ => self.other(offset),
            }
            return;
        }
        if b.is_empty() {
            if self.has_cur {
                self.cur.saw_blank = true;
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
                // A run of empty lines where a body would be (whitespace-only body, 12.x).
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
            let s = self.keep(l, at, l);
            self.pending_log.push(s);
            return;
        }
        if memmem::find(&b[..b.len().min(64)], b"<< ").is_some() {
            if let Some(r) = parse_response_line(l) {
                if self.has_cur && !self.cur.has_response && self.cur.error.is_none() {
                    self.finish_msg();
                    let reason = self.keep(l, at, r.reason);
                    let size_text = self.keep(l, at, r.size);
                    let resp_version = r.version.map(|v| self.keep(l, at, v));
                    let f = &mut self.cur;
                    f.has_response = true;
                    f.status = r.status;
                    f.reason = reason;
                    f.size_text = size_text;
                    f.size_range = parse_size(r.size).flatten();
                    f.resp_version = resp_version;
                    self.sec = Section::RespHeaders;
                    return;
                }
            }
            if let Some((p, _)) = arrows(l) {
                if self.has_cur && self.cur.error.is_none() && p < l.len() {
                    let e = self.keep(l, at, &l[p..]);
                    self.cur.error = Some(e);
                    self.sec = Section::Done;
                    return;
                }
            }
        }
        if let Some(r) = parse_request_line(l) {
            self.finish_flow();
            self.finish_msg();
            let client = self.keep(l, at, r.client);
            let method = self.keep(l, at, r.method);
            let url = self.keep(l, at, r.url);
            let req_version = r.version.map(|v| self.keep(l, at, v));
            let f = &mut self.cur;
            f.reset();
            f.offset = offset;
            f.line = line_no;
            f.client = client;
            f.method = method;
            f.push_promise = r.push;
            f.url = url;
            f.req_version = req_version;
            std::mem::swap(&mut f.log_context, &mut self.pending_log);
            self.has_cur = true;
            self.sec = Section::ReqHeaders;
            return;
        }
        if let Some((client, from_client, kind, target)) = parse_message_line(l) {
            self.finish_msg();
            // The current (unfinished) flow of the same client gets the next index.
            let flow_index = if self.has_cur && self.st.str(self.cur.client) == client {
                Some(self.info.flows as u32)
            } else {
                self.last_flow_of(&client)
            };
            self.msg = Some(MessageLine { flow_index, offset, client, from_client, kind, target, body: None });
            self.sec = Section::MsgAfterLine;
            return;
        }
        if is_context_line(l) {
            let s = self.keep(l, at, l);
            self.pending_log.push(s);
            return;
        }
        self.other(offset);
    }

    fn start_trailers(&mut self) {
        if self.has_cur {
            self.cur.has_trailers = true;
        }
        self.sec = match self.sec {
            Section::ReqAfterHeaders | Section::ReqAfterBody => Section::ReqTrailers,
            _ => Section::RespTrailers,
        };
    }

    fn last_flow_of(&mut self, client: &str) -> Option<u32> {
        while self.indexed < self.flow_clients.len() {
            let c = self.st.str(self.flow_clients[self.indexed]).to_string();
            self.client_index.insert(c, self.indexed as u32);
            self.indexed += 1;
        }
        self.client_index.get(client).copied()
    }

    /// At fd = 1 the response arrows are padded under the method (`              << 200 OK 90b`),
    /// so a response line can look indented; only outside bodies and before a response.
    fn padded_response_line(&self, l: &str) -> bool {
        if self.in_body() || !self.has_cur || self.cur.has_response {
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

    // -- bodies ---------------------------------------------------------------------------------

    fn body_begin(&mut self) {
        self.body = BodyAcc { start: self.st.arena.len(), ..BodyAcc::default() };
    }

    /// One body line `l` (with its indent) from the generic path.
    fn body_line(&mut self, l: &str, at: Option<usize>, had_cr: bool) {
        match at {
            Some(a) => self.body_line_src(a + 4, a + l.len(), had_cr),
            None => {
                let arena = &mut self.st.arena;
                self.body.last = arena.len();
                arena.push(&l.as_bytes()[4..]);
                arena.push_byte(b'\n');
                self.body.lines += 1;
                if had_cr {
                    self.body.flags |= BODY_CRLF;
                }
            }
        }
    }

    /// One body line whose content is `input[cs..ce]` (indent and CR excluded).
    #[inline]
    fn body_line_src(&mut self, cs: usize, ce: usize, had_cr: bool) {
        let src = self.src;
        let arena = &mut self.st.arena;
        let acc = &mut self.body;
        acc.last = arena.len();
        if src.get(ce) == Some(&b'\n') {
            // The content and its newline, in one copy.
            arena.push_from(src, cs, ce + 1);
        } else {
            arena.push_from(src, cs, ce);
            arena.push_byte(b'\n');
        }
        if acc.lines == 0 {
            acc.first_src = Some((cs, ce));
        }
        acc.lines += 1;
        if had_cr {
            acc.flags |= BODY_CRLF;
        }
    }

    /// Close the body: drop the final newline and a `(cut off)` marker, recognise the missing
    /// markers and hex dumps, flag lossy renderings; a single unmodified line becomes a view of
    /// the input again (the arena copy is dropped).
    fn finish_text(&mut self) -> BodyOut {
        let acc = std::mem::take(&mut self.body);
        let arena = &mut self.st.arena;
        let mut lines = acc.lines;
        let mut flags = acc.flags;
        let start = acc.start;
        let mut end = arena.len().saturating_sub(1).max(start);
        if lines > 0 && arena.bytes(acc.last, end) == b"(cut off)" {
            flags |= BODY_CUT_OFF;
            lines -= 1;
            end = if lines == 0 { start } else { acc.last - 1 };
        }
        arena.truncate(end);
        let text = arena.bytes(start, end);
        if lines == 1 {
            if text == b"Content is missing." {
                flags |= BODY_MISSING_12;
            } else if text == b"content missing" {
                flags |= BODY_MISSING_11;
            }
        }
        let mut hexdump = None;
        if text.len() >= 13 && text[..10].iter().all(u8::is_ascii_hexdigit) && text[10] == b' ' {
            hexdump = std::str::from_utf8(text).ok().and_then(parse_hexdump);
        }
        if hexdump.is_some() {
            flags |= BODY_HEXDUMP;
        } else {
            flags |= lossy_marks(text);
        }
        let mut text_span = Span { start, end, owned: true };
        if lines == 1 {
            if let Some((a, b)) = acc.first_src {
                arena.truncate(start);
                text_span = Span::src(a, b);
            }
        }
        let bytes = hexdump.map(|h| arena.push(&h));
        if text_span.len() > WINDOW_STEP {
            self.oversize.get_or_insert(text_span.start as u64);
        }
        BodyOut { text: text_span, bytes, flags, lines }
    }

    fn end_body(&mut self) {
        let start = self.body.start;
        let body = self.finish_text();
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
            Section::ReqBody if self.has_cur => self.cur.req_body = Some(body),
            Section::RespBody if self.has_cur => self.cur.resp_body = Some(body),
            Section::MsgBody => {
                // Messages are reported in `LogInfo`, not in the table: copy out and give the
                // arena space back.
                if let Some(m) = self.msg.as_mut() {
                    m.body = Some(Body {
                        text: self.st.str(body.text).to_string(),
                        lines: body.lines,
                        flags: body.flags,
                        bytes: body.bytes.map(|s| self.st.bytes(s).to_vec()),
                    });
                }
                self.st.arena.truncate(start);
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
        if self.has_cur {
            self.has_cur = false;
            self.flow_clients.push(self.cur.client);
            self.info.flows += 1;
            self.cols.push(&self.cur, &self.st);
            if self.cols.rows >= BATCH_ROWS {
                let b = self.cols.batch(&self.schema, &mut self.st);
                self.batches.push(b);
            }
        }
        self.sec = Section::None;
    }

    pub(super) fn finish(mut self) -> Result<ParsedLog> {
        self.finish_flow();
        if let Some(off) = self.oversize {
            return Err(FormatError::new(Format::MitmLog, "too_long", off, "a line or body over 2 GiB").into());
        }
        if self.cols.rows > 0 || self.batches.is_empty() {
            let b = self.cols.batch(&self.schema, &mut self.st);
            self.batches.push(b);
        }
        let mut info = self.info;
        info.trailing_log = self.pending_log.iter().map(|&s| self.st.str(s).to_string()).collect();
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
