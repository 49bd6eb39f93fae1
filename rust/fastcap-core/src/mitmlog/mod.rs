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

use arrow_buffer::Buffer;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use memchr::memchr;

use crate::arrow_util::Table;
use crate::error::{Format, FormatError, Result};

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

/// mitmdump output is UTF-8; stray invalid bytes (stderr noise) are replaced (byte offsets are
/// then those of the repaired text).
fn repair(data: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(data).into_owned().into_bytes()
}

/// Parse; the input is validated as UTF-8 during the scan, and if it is not, parsed again after
/// repair.
fn parse_buffer(buf: Buffer) -> Result<ParsedLog> {
    if let Some(parsed) = parse_once(buf.clone(), false)? {
        return Ok(parsed);
    }
    let fixed = Buffer::from_vec(repair(buf.as_slice()));
    drop(buf);
    parse_once(fixed, true)?
        .ok_or_else(|| FormatError::new(Format::MitmLog, "utf8", 0, "invalid UTF-8 after repair").into())
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
