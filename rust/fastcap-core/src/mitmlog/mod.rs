//! Parser for mitmdump console output (`--set flow_detail=N`), mitmproxy 11.x and 12.x.
//!
//! Spec: `docs/specs/mitmproxy.md` §3 (layout §3.2, headers §3.4, response line and size §3.5, bodies
//! §3.6/§3.7, error/WebSocket lines §3.8, termlog §3.9, colours §3.10, parser §3.11).
//!
//! The input is memory-mapped and scanned once, 64 bytes at a time for line ends; each line is
//! classified and fed to a small per-flow state machine (`parser`). The flows come out as Arrow
//! columns of views: strings the log prints verbatim (URLs, headers, termlog lines, one-line
//! bodies) point into the map itself, and only what had to be transformed — multi-line bodies
//! without their indent, unescaped headers, ANSI-stripped lines, hex-dump bytes — is copied, once,
//! into an arena (`store`). The work is linear in the input size.

use std::fs::File;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use arrow_array::{RecordBatch, UInt64Array};
use arrow_buffer::Buffer;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use memchr::memchr;

use crate::arrow_util::Table;
use crate::error::{Error, Format, FormatError, Result};

mod parser;
mod scan;
mod store;

pub use scan::{parse_size, unescape_header};

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

/// A WebSocket/TCP message body.
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

/// Parse a mitmdump log file (memory-mapped; the table's views point into the map, which it
/// keeps alive). As with every mapped input, appending to the file meanwhile is harmless, but it
/// must not be truncated while the table, or a DataFrame built on it, is in use.
pub fn parse_file(path: impl AsRef<Path>) -> Result<ParsedLog> {
    let file = File::open(path.as_ref())?;
    let len = file.metadata()?.len();
    if len == 0 {
        return parse_bytes(&[]);
    }
    // SAFETY: the map is read-only; a file truncated underneath us by another process is the
    // usual mmap caveat and is not something a log reader guards against (see above).
    // Not pre-faulted (`populate`): the first pass faults the pages in with fault-around, which
    // measured cheaper than MAP_POPULATE for page-cache-resident logs.
    let map = unsafe { memmap2::MmapOptions::new().map(&file)? };
    #[cfg(unix)]
    let _ = map.advise(memmap2::Advice::Sequential);
    check_text(&map)?;
    let ptr = NonNull::new(map.as_ptr() as *mut u8).expect("a map is never null");
    let len = map.len();
    // SAFETY: the bytes stay mapped, unchanged, for as long as the Arc (held by the Buffer) lives.
    let buf = unsafe { Buffer::from_custom_allocation(ptr, len, Arc::new(map)) };
    parse_buffer(buf)
}

/// Parse a mitmdump log held in memory (copied once, since the table refers to its bytes).
pub fn parse_bytes(data: &[u8]) -> Result<ParsedLog> {
    check_text(data)?;
    parse_buffer(Buffer::from(data))
}

/// Refuse what cannot be a text log before doing any work.
fn check_text(data: &[u8]) -> Result<()> {
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
    Ok(())
}

/// A log repaired into UTF-8 (each run of invalid bytes replaced by U+FFFD, as
/// `String::from_utf8_lossy` does), and where each replacement sits in both texts, so that offsets
/// found in the repaired text can be reported as offsets in the file.
struct Repaired {
    text: Vec<u8>,
    /// Per replacement, in order: where it ends in the repaired text, where the invalid bytes it
    /// replaced start in the file, and where they end.
    marks: Vec<(u64, u64, u64)>,
}

/// The UTF-8 encoding of U+FFFD.
const REPLACEMENT: &str = "\u{FFFD}";

impl Repaired {
    fn new(data: &[u8]) -> Self {
        let mut text = Vec::with_capacity(data.len() + data.len() / 8);
        let mut marks = Vec::new();
        let mut at = 0usize;
        for chunk in data.utf8_chunks() {
            text.extend_from_slice(chunk.valid().as_bytes());
            at += chunk.valid().len();
            let bad = chunk.invalid().len();
            if bad > 0 {
                text.extend_from_slice(REPLACEMENT.as_bytes());
                marks.push((text.len() as u64, at as u64, (at + bad) as u64));
                at += bad;
            }
        }
        Repaired { text, marks }
    }

    /// The file offset of `offset` in the repaired text (an offset inside a replacement character
    /// is that of the invalid bytes it replaced).
    fn file_offset(&self, offset: u64) -> u64 {
        let after = self.marks.partition_point(|&(end, _, _)| end <= offset);
        match self.marks.get(after) {
            Some(&(end, start, _)) if offset + REPLACEMENT.len() as u64 > end => start,
            _ => match after.checked_sub(1).map(|i| self.marks[i]) {
                Some((end, _, file_end)) => file_end + (offset - end),
                None => offset,
            },
        }
    }

    /// `parsed` with every offset it reports (flows, message lines, the first unclassified line)
    /// moved from the repaired text to the file.
    fn to_file(&self, mut parsed: ParsedLog) -> Result<ParsedLog> {
        let info = &mut parsed.info;
        info.first_other_offset = info.first_other_offset.map(|o| self.file_offset(o));
        for m in &mut info.messages {
            m.offset = self.file_offset(m.offset);
        }
        for batch in &mut parsed.table.batches {
            let i = batch.schema().index_of("offset").map_err(|e| Error::Arrow(e.to_string()))?;
            let old = batch.column(i).as_primitive::<UInt64Type>();
            let moved: UInt64Array = old.iter().map(|o| o.map(|o| self.file_offset(o))).collect();
            let mut columns = batch.columns().to_vec();
            columns[i] = Arc::new(moved);
            *batch = RecordBatch::try_new(batch.schema(), columns).map_err(|e| Error::Arrow(e.to_string()))?;
        }
        Ok(parsed)
    }

    fn error_to_file(&self, e: Error) -> Error {
        match e {
            Error::Format(mut f) => {
                f.offset = self.file_offset(f.offset);
                Error::Format(f)
            }
            other => other,
        }
    }
}

/// Parse; the input is validated as UTF-8 during the scan, and if it is not, parsed again after
/// repair. mitmdump output is UTF-8; stray invalid bytes (stderr noise) are replaced, and the
/// offsets reported are still the file's (finding F-MITMLOG-OFFSET in docs/fuzzing.md: they were
/// those of the repaired text, up to three times as far).
fn parse_buffer(buf: Buffer) -> Result<ParsedLog> {
    if let Some(parsed) = parse_once(buf.clone(), false)? {
        return Ok(parsed);
    }
    let mut repaired = Repaired::new(buf.as_slice());
    drop(buf);
    let fixed = Buffer::from_vec(std::mem::take(&mut repaired.text));
    match parse_once(fixed, true) {
        Ok(Some(parsed)) => repaired.to_file(parsed),
        Ok(None) => Err(FormatError::new(Format::MitmLog, "utf8", 0, "invalid UTF-8 after repair").into()),
        Err(e) => Err(repaired.error_to_file(e)),
    }
}

/// `None` when the input turned out not to be valid UTF-8.
fn parse_once(buf: Buffer, lossy_utf8: bool) -> Result<Option<ParsedLog>> {
    let store = store::Store::new(buf.clone())?;
    let info = LogInfo { lossy_utf8, ..LogInfo::default() };
    let mut p = parser::Parser::new(buf.as_slice(), store, info);
    if !p.run() {
        return Ok(None);
    }
    p.finish().map(Some)
}

// ---------------------------------------------------------------------------------------------
// Arrow schema

fn schema() -> SchemaRef {
    let list = |n: &str| Field::new(n, DataType::List(Arc::new(Field::new("item", DataType::Utf8View, true))), false);
    Arc::new(Schema::new(vec![
        Field::new("offset", DataType::UInt64, false),
        Field::new("line", DataType::UInt64, false),
        Field::new("client", DataType::Utf8View, false),
        Field::new("method", DataType::Utf8View, false),
        Field::new("push_promise", DataType::Boolean, false),
        Field::new("url", DataType::Utf8View, false),
        Field::new("request_version", DataType::Utf8View, true),
        list("request_header_names"),
        list("request_header_values"),
        Field::new("request_body", DataType::Utf8View, true),
        Field::new("request_body_bytes", DataType::BinaryView, true),
        Field::new("request_body_flags", DataType::UInt32, false),
        Field::new("request_body_lines", DataType::UInt32, false),
        Field::new("status", DataType::UInt16, true),
        Field::new("response_version", DataType::Utf8View, true),
        Field::new("reason", DataType::Utf8View, true),
        Field::new("size_text", DataType::Utf8View, true),
        Field::new("size_min", DataType::UInt64, true),
        Field::new("size_max", DataType::UInt64, true),
        list("response_header_names"),
        list("response_header_values"),
        Field::new("response_body", DataType::Utf8View, true),
        Field::new("response_body_bytes", DataType::BinaryView, true),
        Field::new("response_body_flags", DataType::UInt32, false),
        Field::new("response_body_lines", DataType::UInt32, false),
        Field::new("error", DataType::Utf8View, true),
        list("log_context"),
        Field::new("detail", DataType::UInt8, false),
        Field::new("has_trailers", DataType::Boolean, false),
        list("request_trailer_names"),
        list("request_trailer_values"),
        list("response_trailer_names"),
        list("response_trailer_values"),
    ]))
}

#[cfg(test)]
mod tests {
    use super::scan::*;

    /// The number (from 1) of the line holding byte `offset`, and whether `offset` starts it.
    fn line_of(data: &[u8], offset: u64) -> (u64, bool) {
        let o = offset as usize;
        let line = data[..o].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        (line, o == 0 || data[o - 1] == b'\n')
    }

    /// F-MITMLOG-OFFSET (docs/fuzzing.md): a log that is not valid UTF-8 is parsed after repair,
    /// and its offsets were those of the repaired text (each invalid byte three bytes long there).
    /// Every offset reported is now the file's: inside it, at the start of the line it names.
    #[test]
    fn offsets_of_a_log_that_is_not_utf8_are_the_files() {
        use arrow_array::cast::AsArray;
        use arrow_array::types::UInt64Type;

        let mut log = Vec::new();
        for i in 0..40 {
            log.extend_from_slice(format!("127.0.0.1:{}: POST http://a/{i}\n    h: v", 6000 + i % 3).as_bytes());
            log.extend_from_slice(b"\xff\xfe\xfd\n\n");
            log.extend_from_slice(b"    body \xc8 \xe2\x82 end\n\n << 200 OK 1b\n");
            if i % 10 == 3 {
                log.extend_from_slice(
                    b"127.0.0.1:6001 -> WebSocket text message -> a:443/\xff\n    {\"x\": \"\xfe\"}\n",
                );
            }
            if i == 25 {
                log.extend_from_slice(b"Traceback \xff\xff (most recent call last)\n");
            }
        }
        let p = super::parse_bytes(&log).unwrap();
        assert!(p.info.lossy_utf8);
        assert_eq!(p.info.flows, 40);
        let mut flows = 0;
        for b in &p.table.batches {
            let off = b.column_by_name("offset").unwrap().as_primitive::<UInt64Type>();
            let line = b.column_by_name("line").unwrap().as_primitive::<UInt64Type>();
            for r in 0..b.num_rows() {
                let (o, l) = (off.value(r), line.value(r));
                assert!(o < log.len() as u64, "flow at {o}, past the file ({})", log.len());
                assert_eq!(line_of(&log, o), (l, true), "flow {flows} at byte {o}");
                assert!(log[o as usize..].starts_with(b"127.0.0.1:"), "flow {flows} at byte {o}");
                flows += 1;
            }
        }
        assert_eq!(flows, 40);
        assert_eq!(p.info.messages.len(), 4);
        for m in &p.info.messages {
            assert!(line_of(&log, m.offset).1, "message at byte {}", m.offset);
            assert!(log[m.offset as usize..].starts_with(b"127.0.0.1:6001 -> WebSocket"), "at {}", m.offset);
        }
        let other = p.info.first_other_offset.expect("the traceback line");
        assert!(log[other as usize..].starts_with(b"Traceback \xff"), "first unclassified line at {other}");

        // An error: the 12-byte regression input was refused at "byte 13".
        let data = b"Error in \xc8\n[";
        match super::parse_bytes(data) {
            Err(crate::error::Error::Format(e)) => assert!(e.offset <= data.len() as u64, "{e}"),
            other => panic!("expected a format error, got {other:?}"),
        }
    }

    #[test]
    fn repaired_offsets_map_back() {
        // "a" + ff + "b" + c8 + "\n" + e2 82 (truncated 3-byte sequence) + "c"
        let data = b"a\xffb\xc8\n\xe2\x82c";
        let r = super::Repaired::new(data);
        assert_eq!(r.text, String::from_utf8_lossy(data).as_bytes());
        // repaired: a(0) FFFD(1..4) b(4) FFFD(5..8) \n(8) FFFD(9..12) c(12)
        let want = [(0, 0), (1, 1), (2, 1), (3, 1), (4, 2), (5, 3), (8, 4), (9, 5), (11, 5), (12, 7), (13, 8)];
        for (rep, file) in want {
            assert_eq!(r.file_offset(rep), file, "repaired offset {rep}");
        }
    }

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

    /// The scan's UTF-8 check agrees with `std::str::from_utf8`, whatever falls on the 64-byte
    /// block boundaries; ESC is noticed anywhere.
    #[test]
    fn line_scan_checks_utf8() {
        let pieces: [&[u8]; 9] =
            [b"abc", b"\n", b"    ", "é".as_bytes(), "€".as_bytes(), "😀".as_bytes(), b"\xff", b"\x80", b"\x1b[0m"];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for round in 0..3000 {
            let mut data = Vec::new();
            let n = 1 + round % 90;
            for _ in 0..n {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                // invalid bytes and ESC only in some rounds
                let k = (seed % 9) as usize;
                if (k >= 6 && round % 3 != 0) || (k == 8 && round % 5 != 0) {
                    continue;
                }
                data.extend_from_slice(pieces[k]);
            }
            let mut it = LineEnds::new(&data);
            let ends: Vec<usize> = it.by_ref().collect();
            assert_eq!(ends, memchr::memchr_iter(b'\n', &data).collect::<Vec<_>>());
            assert_eq!(it.invalid, std::str::from_utf8(&data).is_err(), "{data:?}");
            assert_eq!(it.esc, data.contains(&0x1b), "{data:?}");
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
