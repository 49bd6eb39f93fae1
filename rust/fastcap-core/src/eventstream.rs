//! AWS EventStream (`application/vnd.amazon.eventstream`) frame decoding.
//!
//! Spec: `docs/specs/eventstream.md` §2–§8. Three entry points share one frame validator:
//!
//! * [`decode_body`]: a whole captured body, zero-copy ([`Frame`] borrows the input), strict or
//!   resync recovery, truncated tail reported as [`Truncated`];
//! * [`StreamDecoder`]: a push decoder fed arbitrary chunks (down to 1 byte) with results identical
//!   to [`decode_body`] in strict mode;
//! * [`decode_column`]: many bodies at once into an Arrow events table plus a per-body summary.
//!
//! Detection order is CRC-first (§6.2 "fastcap"): prelude CRC, then lengths and limits (before any
//! waiting or allocation), then the message CRC, and only then the headers, so bytes that fail
//! their checksum are never interpreted.

use std::fmt;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, StringBuilder, UInt32Builder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_buffer::Buffer;
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::arrow_util::Table;
use crate::error::{Error, Format, FormatError};
use crate::sse::views::{binary_view_array, string_view_array, ViewArena};

/// Bytes of `total_length`, `headers_length` and `prelude_crc`.
pub const PRELUDE_LEN: usize = 12;
/// Prelude plus the trailing message CRC: the empty message.
pub const MIN_FRAME_LEN: usize = 16;
/// Specification limit on the encoded header block (128 KiB).
pub const DEFAULT_MAX_HEADERS_LEN: u32 = 128 * 1024;
/// Specification limit on the payload (24 MiB).
pub const DEFAULT_MAX_PAYLOAD_LEN: u32 = 24 * 1024 * 1024;

/// Size limits checked right after the prelude CRC (§5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_headers_len: u32,
    pub max_payload_len: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_headers_len: DEFAULT_MAX_HEADERS_LEN, max_payload_len: DEFAULT_MAX_PAYLOAD_LEN }
    }
}

/// Recovery strategy (§8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Stop at the first error; keep the frames before it.
    #[default]
    Strict,
    /// Skip damaged bytes and continue; every skipped range is reported.
    Resync,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "strict" => Some(Mode::Strict),
            "resync" => Some(Mode::Resync),
            _ => None,
        }
    }
}

/// The error classes of §6.1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// Input ends inside the prelude (`need` = 12) or inside a frame (`need` = `total_length`).
    Truncated {
        have: u64,
        need: u64,
    },
    InvalidMessageLength {
        total_length: u32,
    },
    PreludeChecksumMismatch {
        expected: u32,
        computed: u32,
    },
    InvalidHeadersLength {
        headers_length: u32,
        total_length: u32,
        limit: u32,
    },
    PayloadTooLong {
        payload_length: u32,
        limit: u32,
    },
    MessageChecksumMismatch {
        expected: u32,
        computed: u32,
    },
    InvalidHeaderNameLength,
    InvalidHeaderValueType(u8),
    InvalidHeaderValue,
    InvalidUtf8String,
    DuplicateHeader(String),
}

impl ErrorKind {
    /// The variant name: the `kind` seen from Python.
    pub fn name(&self) -> &'static str {
        match self {
            ErrorKind::Truncated { .. } => "Truncated",
            ErrorKind::InvalidMessageLength { .. } => "InvalidMessageLength",
            ErrorKind::PreludeChecksumMismatch { .. } => "PreludeChecksumMismatch",
            ErrorKind::InvalidHeadersLength { .. } => "InvalidHeadersLength",
            ErrorKind::PayloadTooLong { .. } => "PayloadTooLong",
            ErrorKind::MessageChecksumMismatch { .. } => "MessageChecksumMismatch",
            ErrorKind::InvalidHeaderNameLength => "InvalidHeaderNameLength",
            ErrorKind::InvalidHeaderValueType(_) => "InvalidHeaderValueType",
            ErrorKind::InvalidHeaderValue => "InvalidHeaderValue",
            ErrorKind::InvalidUtf8String => "InvalidUtf8String",
            ErrorKind::DuplicateHeader(_) => "DuplicateHeader",
        }
    }

    /// Errors found before the prelude can be trusted: recovery must rescan byte by byte.
    pub fn is_prelude_error(&self) -> bool {
        matches!(
            self,
            ErrorKind::InvalidMessageLength { .. }
                | ErrorKind::PreludeChecksumMismatch { .. }
                | ErrorKind::InvalidHeadersLength { .. }
                | ErrorKind::PayloadTooLong { .. }
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Truncated { have, need } => {
                write!(f, "truncated frame: have {have} bytes, need {need}")
            }
            ErrorKind::InvalidMessageLength { total_length } => {
                write!(f, "total_length {total_length} is below the 16-byte minimum")
            }
            ErrorKind::PreludeChecksumMismatch { expected, computed } => {
                write!(f, "prelude CRC mismatch: stored {expected:#010x}, computed {computed:#010x}")
            }
            ErrorKind::InvalidHeadersLength { headers_length, total_length, limit } => write!(
                f,
                "headers_length {headers_length} exceeds total_length-16 ({}) or the limit {limit}",
                total_length.saturating_sub(16)
            ),
            ErrorKind::PayloadTooLong { payload_length, limit } => {
                write!(f, "payload length {payload_length} exceeds the limit {limit}")
            }
            ErrorKind::MessageChecksumMismatch { expected, computed } => {
                write!(f, "message CRC mismatch: stored {expected:#010x}, computed {computed:#010x}")
            }
            ErrorKind::InvalidHeaderNameLength => write!(f, "header name length is 0 or runs past the header block"),
            ErrorKind::InvalidHeaderValueType(t) => write!(f, "invalid header value type {t}"),
            ErrorKind::InvalidHeaderValue => write!(f, "header value runs past the header block"),
            ErrorKind::InvalidUtf8String => write!(f, "header name or string value is not valid UTF-8"),
            ErrorKind::DuplicateHeader(name) => write!(f, "duplicate header {name:?}"),
        }
    }
}

/// A decoding error. `offset` is the byte offset (in the body) of the offending item: the frame
/// start for prelude, length and CRC errors, the header's first byte for header errors, the start
/// of the partial frame for `Truncated`. `frame_offset` is always the frame start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub kind: ErrorKind,
    pub offset: u64,
    pub frame_offset: u64,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "byte {}: {}", self.offset, self.kind)
    }
}

impl std::error::Error for DecodeError {}

impl From<DecodeError> for FormatError {
    fn from(e: DecodeError) -> Self {
        FormatError::new(Format::EventStream, e.kind.name(), e.offset, e.kind.to_string())
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Error::Format(e.into())
    }
}

/// A decoded header value (§3). Byte arrays and strings borrow the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderValue<'a> {
    Bool(bool),
    Byte(i8),
    Short(i16),
    Int(i32),
    Long(i64),
    Bytes(&'a [u8]),
    String(&'a str),
    /// Milliseconds since the Unix epoch.
    Timestamp(i64),
    Uuid(u128),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    pub name: &'a str,
    pub value: HeaderValue<'a>,
}

/// One verified frame. The header block is kept raw (it was fully validated) and re-walked by
/// [`Frame::headers`]; the four protocol headers are extracted during validation so the common
/// path never allocates per frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub offset: u64,
    pub total_length: u32,
    pub header_block: &'a [u8],
    pub payload: &'a [u8],
    pub message_type: Option<&'a str>,
    pub event_type: Option<&'a str>,
    pub exception_type: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub header_count: u32,
}

impl<'a> Frame<'a> {
    pub fn headers(&self) -> HeaderIter<'a> {
        HeaderIter { block: self.header_block, pos: 0 }
    }

    /// An owned copy, for callers that must outlive the input buffer.
    pub fn to_owned_frame(&self) -> OwnedFrame {
        OwnedFrame {
            offset: self.offset,
            total_length: self.total_length,
            headers: self.headers().map(OwnedHeader::from).collect(),
            payload: self.payload.to_vec(),
        }
    }
}

/// Iterator over a header block already accepted by [`parse_headers`].
pub struct HeaderIter<'a> {
    block: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for HeaderIter<'a> {
    type Item = Header<'a>;

    fn next(&mut self) -> Option<Header<'a>> {
        if self.pos >= self.block.len() {
            return None;
        }
        // The block was validated, so the parser cannot fail here; a failure would be a bug.
        let (h, next) = read_header(self.block, self.pos).ok()?;
        self.pos = next;
        Some(h)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedHeaderValue {
    Bool(bool),
    Byte(i8),
    Short(i16),
    Int(i32),
    Long(i64),
    Bytes(Vec<u8>),
    String(String),
    Timestamp(i64),
    Uuid(u128),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedHeader {
    pub name: String,
    pub value: OwnedHeaderValue,
}

impl From<Header<'_>> for OwnedHeader {
    fn from(h: Header<'_>) -> Self {
        let value = match h.value {
            HeaderValue::Bool(b) => OwnedHeaderValue::Bool(b),
            HeaderValue::Byte(v) => OwnedHeaderValue::Byte(v),
            HeaderValue::Short(v) => OwnedHeaderValue::Short(v),
            HeaderValue::Int(v) => OwnedHeaderValue::Int(v),
            HeaderValue::Long(v) => OwnedHeaderValue::Long(v),
            HeaderValue::Bytes(b) => OwnedHeaderValue::Bytes(b.to_vec()),
            HeaderValue::String(s) => OwnedHeaderValue::String(s.to_owned()),
            HeaderValue::Timestamp(v) => OwnedHeaderValue::Timestamp(v),
            HeaderValue::Uuid(v) => OwnedHeaderValue::Uuid(v),
        };
        OwnedHeader { name: h.name.to_owned(), value }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedFrame {
    pub offset: u64,
    pub total_length: u32,
    pub headers: Vec<OwnedHeader>,
    pub payload: Vec<u8>,
}

/// Canonical 8-4-4-4-12 lowercase text of a UUID.
pub fn uuid_string(v: u128) -> String {
    let h = format!("{v:032x}");
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

// ---------------------------------------------------------------------------------------------
// Header parsing
// ---------------------------------------------------------------------------------------------

/// UTF-8 check with an ASCII fast path: header names and protocol values are ASCII, and this
/// runs for every header of every frame, where `from_utf8`'s general path showed in profiles.
#[inline]
fn utf8(b: &[u8]) -> Option<&str> {
    if b.is_ascii() {
        // SAFETY: ASCII bytes are valid UTF-8.
        Some(unsafe { std::str::from_utf8_unchecked(b) })
    } else {
        std::str::from_utf8(b).ok()
    }
}

#[inline]
fn be_u16(b: &[u8], p: usize) -> u16 {
    u16::from_be_bytes([b[p], b[p + 1]])
}

#[inline]
fn be_u32(b: &[u8], p: usize) -> u32 {
    u32::from_be_bytes([b[p], b[p + 1], b[p + 2], b[p + 3]])
}

#[inline]
fn be_u64(b: &[u8], p: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[p..p + 8]);
    u64::from_be_bytes(a)
}

/// Reads one header starting at `pos` of `block`; returns it and the position after it. The error
/// offset is relative to the block (the caller rebases it).
#[inline]
fn read_header(block: &[u8], pos: usize) -> std::result::Result<(Header<'_>, usize), (ErrorKind, usize)> {
    let name_len = block[pos] as usize;
    let name_start = pos + 1;
    let name_end = name_start + name_len;
    if name_len == 0 || name_end > block.len() {
        return Err((ErrorKind::InvalidHeaderNameLength, pos));
    }
    let name = utf8(&block[name_start..name_end]).ok_or((ErrorKind::InvalidUtf8String, pos))?;
    if name_end >= block.len() {
        // A name must be followed by its type byte.
        return Err((ErrorKind::InvalidHeaderValue, pos));
    }
    let ty = block[name_end];
    let v = name_end + 1;
    let need = |n: usize| if v + n <= block.len() { Ok(()) } else { Err((ErrorKind::InvalidHeaderValue, pos)) };
    let (value, next) = match ty {
        0 => (HeaderValue::Bool(true), v),
        1 => (HeaderValue::Bool(false), v),
        2 => {
            need(1)?;
            (HeaderValue::Byte(block[v] as i8), v + 1)
        }
        3 => {
            need(2)?;
            (HeaderValue::Short(be_u16(block, v) as i16), v + 2)
        }
        4 => {
            need(4)?;
            (HeaderValue::Int(be_u32(block, v) as i32), v + 4)
        }
        5 => {
            need(8)?;
            (HeaderValue::Long(be_u64(block, v) as i64), v + 8)
        }
        6 | 7 => {
            need(2)?;
            let n = be_u16(block, v) as usize;
            let s = v + 2;
            if s + n > block.len() {
                return Err((ErrorKind::InvalidHeaderValue, pos));
            }
            let bytes = &block[s..s + n];
            if ty == 6 {
                (HeaderValue::Bytes(bytes), s + n)
            } else {
                let text = utf8(bytes).ok_or((ErrorKind::InvalidUtf8String, pos))?;
                (HeaderValue::String(text), s + n)
            }
        }
        8 => {
            need(8)?;
            (HeaderValue::Timestamp(be_u64(block, v) as i64), v + 8)
        }
        9 => {
            need(16)?;
            let mut a = [0u8; 16];
            a.copy_from_slice(&block[v..v + 16]);
            (HeaderValue::Uuid(u128::from_be_bytes(a)), v + 16)
        }
        t => return Err((ErrorKind::InvalidHeaderValueType(t), pos)),
    };
    Ok((Header { name, value }, next))
}

/// What validation extracts from a header block.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeaderSummary<'a> {
    pub message_type: Option<&'a str>,
    pub event_type: Option<&'a str>,
    pub exception_type: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub count: u32,
}

/// Validates a whole header block: every header well-formed, UTF-8 checked, no duplicate names.
/// `base` is the body offset of the block, used for error offsets.
pub fn parse_headers(
    block: &[u8],
    base: u64,
    frame_offset: u64,
) -> std::result::Result<HeaderSummary<'_>, DecodeError> {
    // Duplicate detection without a per-frame allocation: real frames carry 3–4 headers, so a
    // linear scan of a small inline array beats hashing; a set takes over only for huge blocks (a
    // list there made a 128 KiB block of 30,000 short headers quadratic, see tests/hostile.rs).
    const INLINE: usize = 16;
    let mut inline: [&str; INLINE] = [""; INLINE];
    let mut overflow: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut s = HeaderSummary::default();
    let mut pos = 0usize;
    let err = |kind: ErrorKind, at: usize| DecodeError { kind, offset: base + at as u64, frame_offset };
    while pos < block.len() {
        let (h, next) = read_header(block, pos).map_err(|(k, at)| err(k, at))?;
        let n = s.count as usize;
        let seen = if n <= INLINE { &inline[..n] } else { &inline[..] };
        if seen.contains(&h.name) || overflow.contains(h.name) {
            return Err(err(ErrorKind::DuplicateHeader(h.name.to_owned()), pos));
        }
        if n < INLINE {
            inline[n] = h.name;
        } else {
            overflow.insert(h.name);
        }
        if let HeaderValue::String(v) = h.value {
            match h.name {
                ":message-type" => s.message_type = Some(v),
                ":event-type" => s.event_type = Some(v),
                ":exception-type" => s.exception_type = Some(v),
                ":content-type" => s.content_type = Some(v),
                _ => {}
            }
        }
        s.count += 1;
        pos = next;
    }
    Ok(s)
}

// ---------------------------------------------------------------------------------------------
// Frame validation
// ---------------------------------------------------------------------------------------------

/// A prelude that passed its CRC and the length checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prelude {
    pub total_length: u32,
    pub headers_length: u32,
    pub prelude_crc: u32,
}

/// Steps 1–2 of §6.2: prelude CRC, then `total_length ≥ 16`, `headers_length ≤ total − 16`, limits.
/// Nothing after the 12 prelude bytes is looked at, so a caller can run this before waiting for or
/// allocating the body.
#[inline]
pub fn check_prelude(p: &[u8], limits: &Limits) -> std::result::Result<Prelude, ErrorKind> {
    let total_length = be_u32(p, 0);
    let headers_length = be_u32(p, 4);
    let expected = be_u32(p, 8);
    let computed = crc32fast::hash(&p[..8]);
    if computed != expected {
        return Err(ErrorKind::PreludeChecksumMismatch { expected, computed });
    }
    check_lengths(total_length, headers_length, limits)?;
    Ok(Prelude { total_length, headers_length, prelude_crc: expected })
}

#[inline]
fn check_lengths(total_length: u32, headers_length: u32, limits: &Limits) -> std::result::Result<(), ErrorKind> {
    if (total_length as usize) < MIN_FRAME_LEN {
        return Err(ErrorKind::InvalidMessageLength { total_length });
    }
    if headers_length > total_length - MIN_FRAME_LEN as u32 || headers_length > limits.max_headers_len {
        return Err(ErrorKind::InvalidHeadersLength { headers_length, total_length, limit: limits.max_headers_len });
    }
    let payload_length = total_length - MIN_FRAME_LEN as u32 - headers_length;
    if payload_length > limits.max_payload_len {
        return Err(ErrorKind::PayloadTooLong { payload_length, limit: limits.max_payload_len });
    }
    Ok(())
}

/// Steps 4–5 of §6.2 on a complete frame (`frame.len() == total_length`) whose prelude passed
/// [`check_prelude`]. `computed_crc` is the message CRC over `frame[..len-4]`.
#[inline]
fn finish_frame(
    frame: &[u8],
    offset: u64,
    pre: Prelude,
    computed_crc: u32,
) -> std::result::Result<Frame<'_>, DecodeError> {
    let total = frame.len();
    let expected = be_u32(frame, total - 4);
    if expected != computed_crc {
        return Err(DecodeError {
            kind: ErrorKind::MessageChecksumMismatch { expected, computed: computed_crc },
            offset,
            frame_offset: offset,
        });
    }
    let hl = pre.headers_length as usize;
    let block = &frame[PRELUDE_LEN..PRELUDE_LEN + hl];
    let s = parse_headers(block, offset + PRELUDE_LEN as u64, offset)?;
    Ok(Frame {
        offset,
        total_length: pre.total_length,
        header_block: block,
        payload: &frame[PRELUDE_LEN + hl..total - 4],
        message_type: s.message_type,
        event_type: s.event_type,
        exception_type: s.exception_type,
        content_type: s.content_type,
        header_count: s.count,
    })
}

/// The message CRC, continuing the prelude CRC state (§4) rather than rehashing bytes 0..8.
#[inline]
fn message_crc(frame: &[u8], prelude_crc: u32) -> u32 {
    let mut h = crc32fast::Hasher::new_with_initial(prelude_crc);
    h.update(&frame[8..frame.len() - 4]);
    h.finalize()
}

/// Outcome of looking for one frame at a position of a complete buffer.
#[derive(Debug)]
pub enum Step<'a> {
    Frame(Frame<'a>),
    /// Not enough bytes: `have` available from the frame start, `need` required.
    Incomplete {
        have: u64,
        need: u64,
    },
    Error(DecodeError),
}

/// Decodes the frame starting at `buf[pos..]` (`base` is the body offset of `buf[0]`).
#[inline]
pub fn decode_frame_at<'a>(buf: &'a [u8], pos: usize, base: u64, limits: &Limits) -> Step<'a> {
    let have = buf.len() - pos;
    let offset = base + pos as u64;
    if have < PRELUDE_LEN {
        return Step::Incomplete { have: have as u64, need: PRELUDE_LEN as u64 };
    }
    let pre = match check_prelude(&buf[pos..pos + PRELUDE_LEN], limits) {
        Ok(p) => p,
        Err(kind) => return Step::Error(DecodeError { kind, offset, frame_offset: offset }),
    };
    let total = pre.total_length as usize;
    if have < total {
        return Step::Incomplete { have: have as u64, need: total as u64 };
    }
    let frame = &buf[pos..pos + total];
    match finish_frame(frame, offset, pre, message_crc(frame, pre.prelude_crc)) {
        Ok(f) => Step::Frame(f),
        Err(e) => Step::Error(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Whole-body decoding
// ---------------------------------------------------------------------------------------------

/// Input ended inside a frame: the partial frame starts at `offset`, `have` bytes of it are
/// present, `need` is `total_length` when its prelude was complete and valid, else 12.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated {
    pub offset: u64,
    pub have: u64,
    pub need: u64,
}

impl Truncated {
    pub fn to_error(self) -> DecodeError {
        DecodeError {
            kind: ErrorKind::Truncated { have: self.have, need: self.need },
            offset: self.offset,
            frame_offset: self.offset,
        }
    }
}

/// One error met while decoding a body. In resync mode `skipped` bytes from `error.frame_offset`
/// were passed over; in strict mode decoding stopped there and `skipped` is 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyError {
    pub error: DecodeError,
    pub skipped: u64,
}

/// The result of [`decode_body`], minus the frames (handed to the caller's sink).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyReport {
    pub frames: u64,
    pub errors: Vec<BodyError>,
    pub truncated: Option<Truncated>,
}

impl BodyReport {
    /// A body is corrupt when any error was met (a clean cut at the end is `truncated`, not corrupt).
    pub fn corrupt(&self) -> bool {
        !self.errors.is_empty()
    }

    /// The first problem in strict terms, including a truncated tail: what `check` raises.
    pub fn first_error(&self) -> Option<DecodeError> {
        match (self.errors.first(), self.truncated) {
            (Some(e), _) => Some(e.error.clone()),
            (None, Some(t)) => Some(t.to_error()),
            (None, None) => None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    pub mode: Mode,
    pub limits: Limits,
}

/// Decodes a whole body, calling `sink` for every verified frame in order. Linear time: one
/// cursor walks the input, no re-slicing or copying of the remaining buffer per frame.
pub fn decode_body<'a>(body: &'a [u8], opts: &Options, mut sink: impl FnMut(Frame<'a>)) -> BodyReport {
    let mut report = BodyReport::default();
    let mut pos = 0usize;
    // Prefix CRCs for checking long resync candidates, made on the first one (see [`RangeCrc`]).
    let mut crc: Option<RangeCrc> = None;
    while pos < body.len() {
        match decode_frame_at(body, pos, 0, &opts.limits) {
            Step::Frame(f) => {
                pos += f.total_length as usize;
                report.frames += 1;
                sink(f);
            }
            Step::Incomplete { have, need } => {
                report.truncated = Some(Truncated { offset: pos as u64, have, need });
                break;
            }
            Step::Error(e) => {
                if opts.mode == Mode::Strict {
                    report.errors.push(BodyError { error: e, skipped: 0 });
                    break;
                }
                let start = e.frame_offset as usize;
                let next = if e.kind.is_prelude_error() {
                    resync_scan(body, start + 1, &opts.limits, &mut crc)
                } else {
                    // The prelude verified, so its total_length is trustworthy (§8).
                    let total = be_u32(body, start) as usize;
                    start + total
                };
                report.errors.push(BodyError { error: e, skipped: (next - start) as u64 });
                pos = next;
            }
        }
    }
    report
}

/// Finds the next offset ≥ `from` that starts a plausible frame: valid prelude CRC and lengths,
/// and, when the whole frame is present, a valid message CRC (so a chance 12-byte match is not
/// accepted). A candidate whose frame runs past the end is accepted too, so that the caller
/// reports it as the truncated tail. Returns `body.len()` when there is none. Linear in the bytes
/// scanned, whatever the candidates claim (see [`candidate_crc_ok`]).
fn resync_scan(body: &[u8], from: usize, limits: &Limits, crc: &mut Option<RangeCrc>) -> usize {
    let mut p = from;
    while p + PRELUDE_LEN <= body.len() {
        if let Some(total) = candidate_at(body, p, limits) {
            if p + total > body.len() || candidate_crc_ok(body, 0, p, total, crc) {
                return p;
            }
        }
        p += 1;
    }
    body.len()
}

/// The claimed `total_length` if `data[p..p + 12]` is a prelude with a valid CRC and plausible
/// lengths. The cheap length test comes first: most garbage positions fail it without hashing.
#[inline]
fn candidate_at(data: &[u8], p: usize, limits: &Limits) -> Option<usize> {
    let total_length = be_u32(data, p);
    let ok = check_lengths(total_length, be_u32(data, p + 4), limits).is_ok()
        && crc32fast::hash(&data[p..p + 8]) == be_u32(data, p + 8);
    ok.then_some(total_length as usize)
}

/// Whether the complete candidate frame `data[p..p + total]` has a valid message CRC
/// (`data_start` is the body offset of `data[0]`). Short frames are hashed; long ones are checked
/// through the prefix CRCs of `crc` (made here, from `p`, on first use), so that a run of decoy
/// preludes, each claiming megabytes, costs constant time each instead of a pass over its claim.
fn candidate_crc_ok(data: &[u8], data_start: u64, p: usize, total: usize, crc: &mut Option<RangeCrc>) -> bool {
    let stored = be_u32(data, p + total - 4);
    if total <= DIRECT_CRC_MAX {
        return message_crc(&data[p..p + total], be_u32(data, p + 8)) == stored;
    }
    let (a, b) = (data_start + p as u64, data_start + (p + total - 4) as u64);
    let rc = crc.get_or_insert_with(|| RangeCrc::new(a));
    rc.forget_before(a);
    rc.extend(data, data_start, b);
    rc.range(a, b, data, data_start) == stored
}

// ---------------------------------------------------------------------------------------------
// CRC of any range
// ---------------------------------------------------------------------------------------------

/// Candidate frames up to this long are checked by hashing them, longer ones by [`RangeCrc`]
/// (at most a few hundred bytes of hashing per position either way).
const DIRECT_CRC_MAX: usize = 256;
/// Bytes between two checkpoints of [`RangeCrc`].
const CRC_STEP: u64 = 64;

/// The CRC-32 of any range of a byte stream, in constant time, from checkpoints of the CRCs of
/// its prefixes: with `P(i)` the CRC of `stream[origin..i]`,
/// `crc(stream[a..b]) = P(b) ^ P(a)·x^(8(b-a)) mod the CRC polynomial` (what zlib's
/// `crc32_combine` computes).
///
/// Why: resynchronisation tries every offset after damage, and a candidate prelude that passes its
/// CRC claims a frame of up to 24 MiB whose message CRC decides. Hashing each claimed frame made a
/// body full of such decoys quadratic (4 MB took 3.7 s, 10 MB 23 s). Here the stream is hashed
/// once, a checkpoint kept every 64 bytes (1/16 of the bytes held), and a candidate costs at most
/// 126 bytes of hashing plus a multiplication. Checkpoints before the scan position are dropped.
#[derive(Debug, Clone)]
struct RangeCrc {
    origin: u64,
    /// Step number (from `origin`) of `checkpoints[0]`.
    first: u64,
    /// `checkpoints[j]` is `P(origin + (first + j) * CRC_STEP)`; the last one is at the frontier.
    checkpoints: std::collections::VecDeque<u32>,
    /// The CRC state at the frontier.
    hasher: crc32fast::Hasher,
    /// The last shift factor computed, `(n, x^(8n))`: candidates often claim the same length.
    shift: (u64, u32),
}

impl RangeCrc {
    fn new(origin: u64) -> Self {
        RangeCrc { origin, first: 0, checkpoints: [0].into(), hasher: crc32fast::Hasher::new(), shift: (0, 1 << 31) }
    }

    /// Offset up to which the stream has been hashed (a checkpoint).
    fn frontier(&self) -> u64 {
        self.origin + (self.first + self.checkpoints.len() as u64 - 1) * CRC_STEP
    }

    /// Hash whole steps of `data` (body offset `data_start`) past the frontier, up to `upto`.
    /// `data` must hold the bytes from the frontier on.
    fn extend(&mut self, data: &[u8], data_start: u64, upto: u64) {
        let mut at = self.frontier();
        while at + CRC_STEP <= upto {
            let i = (at - data_start) as usize;
            self.hasher.update(&data[i..i + CRC_STEP as usize]);
            self.checkpoints.push_back(self.hasher.clone().finalize());
            at += CRC_STEP;
        }
    }

    /// Drop the checkpoints no range starting at or after `offset` needs.
    fn forget_before(&mut self, offset: u64) {
        while self.checkpoints.len() > 1 && self.origin + (self.first + 1) * CRC_STEP <= offset {
            self.checkpoints.pop_front();
            self.first += 1;
        }
    }

    /// `P(i)`: `i` lies at most a step past the frontier and at or after the first checkpoint,
    /// and `data` holds the bytes from that checkpoint up to `i`.
    fn prefix(&self, i: u64, data: &[u8], data_start: u64) -> u32 {
        let step = (i - self.origin) / CRC_STEP;
        let at = self.origin + step * CRC_STEP;
        let cp = self.checkpoints[(step - self.first) as usize];
        if at == i {
            return cp;
        }
        let mut h = crc32fast::Hasher::new_with_initial(cp);
        h.update(&data[(at - data_start) as usize..(i - data_start) as usize]);
        h.finalize()
    }

    /// `crc(stream[a..b])`, for `a ≤ b` within what [`prefix`](Self::prefix) accepts.
    fn range(&mut self, a: u64, b: u64, data: &[u8], data_start: u64) -> u32 {
        let pa = self.prefix(a, data, data_start);
        let pb = self.prefix(b, data, data_start);
        if self.shift.0 != b - a {
            self.shift = (b - a, x8n_mod_p(b - a));
        }
        pb ^ gf2_mul(self.shift.1, pa)
    }
}

/// The reflected CRC-32 polynomial.
const CRC_POLY: u32 = 0xedb8_8320;

/// `a·b` modulo the CRC polynomial, in the reflected bit order of CRC-32 (bit 31 is `x^0`).
const fn gf2_mul(mut a: u32, mut b: u32) -> u32 {
    let mut p = 0;
    // Bit 31 of `a` first; stop once no bits are left.
    while a != 0 {
        if a & (1 << 31) != 0 {
            p ^= b;
        }
        a <<= 1;
        b = if b & 1 != 0 { (b >> 1) ^ CRC_POLY } else { b >> 1 };
    }
    p
}

/// `x^(2^k)` modulo the CRC polynomial, for k in 0..64.
const X2N: [u32; 64] = {
    let mut t = [0u32; 64];
    let mut p = 1 << 30; // x^1
    let mut k = 0;
    while k < 64 {
        t[k] = p;
        p = gf2_mul(p, p);
        k += 1;
    }
    t
};

/// `x^(8n)` modulo the CRC polynomial: the factor that shifts a CRC past `n` bytes.
fn x8n_mod_p(n: u64) -> u32 {
    let mut p = 1 << 31; // x^0
    let mut bits = n;
    let mut k = 3; // 8n = n·2^3
    while bits != 0 {
        if bits & 1 != 0 {
            p = gf2_mul(X2N[k], p);
        }
        bits >>= 1;
        k += 1;
    }
    p
}

/// Counts the frames of a body, failing on the first problem including a truncated tail.
pub fn check_body(body: &[u8], limits: &Limits) -> std::result::Result<u64, DecodeError> {
    let opts = Options { mode: Mode::Strict, limits: *limits };
    let report = decode_body(body, &opts, |_| {});
    match report.first_error() {
        Some(e) => Err(e),
        None => Ok(report.frames),
    }
}

// ---------------------------------------------------------------------------------------------
// Incremental decoding
// ---------------------------------------------------------------------------------------------

/// Push decoder (§7).
///
/// **Strict** ([`StreamDecoder::new`]): after an error every later call returns that error. Only a
/// frame that straddles chunks is copied (into `pending`, which never holds more than one frame);
/// frames wholly inside a chunk are decoded in place, zero-copy. The prelude is checked as soon as
/// its 12 bytes exist, before the body is awaited or buffer space reserved, and the message CRC of
/// a straddling frame is accumulated as its bytes arrive.
///
/// **Resync** ([`StreamDecoder::with_options`] with [`Mode::Resync`]): the recovery of
/// [`decode_body`] (§8), with identical frames, errors, skipped byte counts and truncated tail in
/// any chunking. `feed` and `finish` never fail; the problems are in [`errors`](Self::errors) and
/// [`truncated`](Self::truncated). After a damaged prelude the decoder scans byte by byte for the
/// next valid prelude; a candidate whose frame is not complete yet is held (with the bytes after
/// it) until its message CRC can be checked, or accepted as the truncated tail at `finish`, as
/// the whole-body decoder accepts a candidate running past the end of the body. An error is
/// listed once its `skipped` count is known (decoding resumed, or the input ended).
#[derive(Debug, Default)]
pub struct StreamDecoder {
    mode: Mode,
    /// Resync mode: held bytes; `buf[head..]` are the unconsumed ones, from body offset `offset`.
    buf: Vec<u8>,
    /// Resync mode: consumed bytes at the start of `buf`, dropped once they are half of it (a
    /// copy of everything held after each small advance made resync over decoys quadratic).
    head: usize,
    /// Resync mode: scanning for a valid prelude after `error`.
    scan: Option<Scan>,
    errors: Vec<BodyError>,
    truncated: Option<Truncated>,
    finished: bool,
    limits: Limits,
    /// Body offset of the next byte not yet assigned to a complete frame.
    offset: u64,
    pending: Vec<u8>,
    /// Set once `pending` holds a verified prelude.
    pending_prelude: Option<Prelude>,
    hasher: Option<crc32fast::Hasher>,
    hashed: usize,
    failed: Option<DecodeError>,
    frames: u64,
}

/// Resync scanning state: the error that started it, and the next candidate offset.
#[derive(Debug, Clone)]
struct Scan {
    error: DecodeError,
    next: u64,
    /// Prefix CRCs for long candidates, from the first one on (see [`RangeCrc`]).
    crc: Option<RangeCrc>,
}

impl Scan {
    /// Bytes of `data` (body offset `base`) not needed any more by a scan stopped at `p`: those
    /// before `p`, or, once prefix CRCs are kept, before their first checkpoint (at most a step
    /// earlier), since later ranges are computed from it.
    fn keep_from(&mut self, data: &[u8], base: u64, p: usize) -> usize {
        let Some(rc) = self.crc.as_mut() else { return p };
        rc.forget_before(base + p as u64);
        rc.extend(data, base, base + p as u64);
        let first = rc.origin + rc.first * CRC_STEP;
        ((first - base) as usize).min(p)
    }
}

impl StreamDecoder {
    /// A strict decoder.
    pub fn new(limits: Limits) -> Self {
        StreamDecoder { limits, ..Default::default() }
    }

    /// A strict or resync decoder.
    pub fn with_options(opts: Options) -> Self {
        StreamDecoder { limits: opts.limits, mode: opts.mode, ..Default::default() }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Resync mode: the errors passed over so far, each with the bytes skipped from its frame start.
    pub fn errors(&self) -> &[BodyError] {
        &self.errors
    }

    /// Resync mode: the partial frame left at the end, known after [`finish`](Self::finish).
    pub fn truncated(&self) -> Option<Truncated> {
        self.truncated
    }

    /// Resync mode: frames, errors and truncated tail as [`decode_body`] reports them.
    pub fn report(&self) -> BodyReport {
        BodyReport { frames: self.frames, errors: self.errors.clone(), truncated: self.truncated }
    }

    /// Body offset of the first byte not yet consumed into a complete frame.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Bytes held for a frame that has not completed.
    pub fn pending_len(&self) -> usize {
        self.pending.len() + self.buf.len() - self.head
    }

    /// Allocated size of the straddle buffer (for tests that bound memory use).
    pub fn pending_capacity(&self) -> usize {
        self.pending.capacity()
    }

    /// Feeds a chunk; calls `sink` for each frame completed by it. Frames borrow either `chunk` or
    /// the decoder's small straddle buffer, hence the callback rather than a returned borrow.
    pub fn feed(&mut self, chunk: &[u8], mut sink: impl FnMut(Frame<'_>)) -> std::result::Result<(), DecodeError> {
        if self.mode == Mode::Resync {
            self.feed_resync(chunk, &mut sink);
            return Ok(());
        }
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let r = self.feed_inner(chunk, &mut sink);
        if let Err(e) = &r {
            self.failed = Some(e.clone());
        }
        r
    }

    fn feed_inner(
        &mut self,
        mut chunk: &[u8],
        sink: &mut dyn FnMut(Frame<'_>),
    ) -> std::result::Result<(), DecodeError> {
        if !self.pending.is_empty() {
            chunk = self.fill_pending(chunk, sink)?;
            if !self.pending.is_empty() {
                return Ok(()); // chunk exhausted inside the pending frame
            }
        }
        let base = self.offset;
        let mut pos = 0usize;
        loop {
            match decode_frame_at(chunk, pos, base, &self.limits) {
                Step::Frame(f) => {
                    pos += f.total_length as usize;
                    self.frames += 1;
                    sink(f);
                }
                Step::Incomplete { .. } => break,
                Step::Error(e) => return Err(e),
            }
        }
        self.offset = base + pos as u64;
        let rest = &chunk[pos..];
        if !rest.is_empty() {
            let r = self.fill_pending(rest, sink)?;
            debug_assert!(r.is_empty());
        }
        Ok(())
    }

    /// Appends bytes to the straddling frame; returns the unused remainder of `data`.
    fn fill_pending<'c>(
        &mut self,
        mut data: &'c [u8],
        sink: &mut dyn FnMut(Frame<'_>),
    ) -> std::result::Result<&'c [u8], DecodeError> {
        if self.pending_prelude.is_none() {
            let take = (PRELUDE_LEN - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.pending.len() < PRELUDE_LEN {
                return Ok(data);
            }
            let pre = check_prelude(&self.pending, &self.limits).map_err(|kind| DecodeError {
                kind,
                offset: self.offset,
                frame_offset: self.offset,
            })?;
            // No reservation of `total_length`: even within raised limits a corrupt length must
            // not allocate gigabytes up front; the buffer grows only with bytes actually received.
            let mut h = crc32fast::Hasher::new_with_initial(pre.prelude_crc);
            h.update(&self.pending[8..PRELUDE_LEN]);
            self.hasher = Some(h);
            self.hashed = PRELUDE_LEN;
            self.pending_prelude = Some(pre);
        }
        let pre = self.pending_prelude.expect("prelude set above");
        let total = pre.total_length as usize;
        let take = (total - self.pending.len()).min(data.len());
        self.pending.extend_from_slice(&data[..take]);
        data = &data[take..];
        let crc_end = (total - 4).min(self.pending.len());
        if crc_end > self.hashed {
            if let Some(h) = self.hasher.as_mut() {
                h.update(&self.pending[self.hashed..crc_end]);
            }
            self.hashed = crc_end;
        }
        if self.pending.len() < total {
            return Ok(data);
        }
        let computed = self.hasher.take().map(|h| h.finalize()).unwrap_or(0);
        let frame = finish_frame(&self.pending, self.offset, pre, computed)?;
        self.frames += 1;
        sink(frame);
        self.offset += total as u64;
        self.pending.clear();
        self.pending_prelude = None;
        self.hashed = 0;
        Ok(data)
    }

    /// Resync mode: decode what `chunk` completes. A chunk fed after `finish` is ignored.
    fn feed_resync(&mut self, chunk: &[u8], sink: &mut dyn FnMut(Frame<'_>)) {
        if self.finished || chunk.is_empty() {
            return;
        }
        if self.head == self.buf.len() {
            // Nothing held: decode in place; keep only what is not consumed yet.
            self.buf.clear();
            self.head = 0;
            let used = self.resync_step(chunk, sink);
            self.buf.extend_from_slice(&chunk[used..]);
            self.offset += used as u64;
        } else {
            let mut buf = std::mem::take(&mut self.buf);
            buf.extend_from_slice(chunk);
            let used = self.resync_step(&buf[self.head..], sink);
            self.head += used;
            self.offset += used as u64;
            if self.head * 2 >= buf.len() {
                buf.drain(..self.head);
                self.head = 0;
            }
            self.buf = buf;
        }
    }

    /// Decodes `data` (body offset `self.offset`) as far as it can; returns the number of leading
    /// bytes no longer needed.
    fn resync_step(&mut self, data: &[u8], sink: &mut dyn FnMut(Frame<'_>)) -> usize {
        let base = self.offset;
        let mut pos = 0usize;
        loop {
            if let Some(scan) = self.scan.as_mut() {
                // Same acceptance rule as `resync_scan`, but a candidate whose frame is not
                // complete yet waits for more input (or for `finish`).
                let mut p = (scan.next - base) as usize;
                loop {
                    if p + PRELUDE_LEN > data.len() {
                        scan.next = base + p as u64;
                        return scan.keep_from(data, base, p);
                    }
                    if let Some(total) = candidate_at(data, p, &self.limits) {
                        if p + total > data.len() {
                            scan.next = base + p as u64;
                            return scan.keep_from(data, base, p);
                        }
                        if candidate_crc_ok(data, base, p, total, &mut scan.crc) {
                            break;
                        }
                    }
                    p += 1;
                }
                let scan = self.scan.take().expect("scanning");
                let skipped = base + p as u64 - scan.error.frame_offset;
                self.errors.push(BodyError { error: scan.error, skipped });
                pos = p;
                continue;
            }
            match decode_frame_at(data, pos, base, &self.limits) {
                Step::Frame(f) => {
                    pos += f.total_length as usize;
                    self.frames += 1;
                    sink(f);
                }
                Step::Incomplete { .. } => return pos,
                Step::Error(e) => {
                    if e.kind.is_prelude_error() {
                        let next = e.frame_offset + 1;
                        self.scan = Some(Scan { error: e, next, crc: None });
                    } else {
                        // The prelude verified, so its total_length is trustworthy (§8).
                        let total = be_u32(data, pos) as usize;
                        self.errors.push(BodyError { error: e, skipped: total as u64 });
                        pos += total;
                    }
                }
            }
        }
    }

    /// Resync mode end of input: resolve a scan still running and record the truncated tail.
    fn finish_resync(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        let buf = std::mem::take(&mut self.buf);
        let held = &buf[self.head..];
        self.head = 0;
        let end = self.offset + held.len() as u64;
        if let Some(scan) = self.scan.take() {
            // The scan stopped at a candidate whose frame runs past the end (accepted, as by
            // `resync_scan`), or with fewer than 12 bytes left (skipped to the end).
            let p = scan.next;
            let rel = (p - self.offset) as usize;
            if rel + PRELUDE_LEN <= held.len() {
                self.errors.push(BodyError { skipped: p - scan.error.frame_offset, error: scan.error });
                let need = u64::from(be_u32(held, rel));
                self.truncated = Some(Truncated { offset: p, have: end - p, need });
            } else {
                self.errors.push(BodyError { skipped: end - scan.error.frame_offset, error: scan.error });
            }
        } else if !held.is_empty() {
            let have = held.len() as u64;
            let need = if held.len() < PRELUDE_LEN { PRELUDE_LEN as u64 } else { u64::from(be_u32(held, 0)) };
            self.truncated = Some(Truncated { offset: self.offset, have, need });
        }
    }

    /// End of input: `Truncated{offset, have, need}` if a partial frame is pending. In resync mode
    /// this never fails: the tail is reported by [`truncated`](Self::truncated).
    pub fn finish(&mut self) -> std::result::Result<(), DecodeError> {
        if self.mode == Mode::Resync {
            self.finish_resync();
            return Ok(());
        }
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.pending.is_empty() {
            return Ok(());
        }
        let need = self.pending_prelude.map(|p| p.total_length as u64).unwrap_or(PRELUDE_LEN as u64);
        Err(Truncated { offset: self.offset, have: self.pending.len() as u64, need }.to_error())
    }
}

// ---------------------------------------------------------------------------------------------
// Column decoding
// ---------------------------------------------------------------------------------------------

/// Schema of the events table of [`ColumnDecoder`].
pub fn events_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("exchange_index", DataType::UInt32, false),
        Field::new("frame_index", DataType::UInt32, false),
        Field::new("offset", DataType::UInt64, false),
        Field::new("total_length", DataType::UInt32, false),
        Field::new("message_type", DataType::Utf8, true),
        Field::new("event_type", DataType::Utf8, true),
        Field::new("exception_type", DataType::Utf8, true),
        Field::new("content_type", DataType::Utf8, true),
        Field::new("headers_json", DataType::Utf8View, false),
        Field::new("payload", DataType::BinaryView, false),
    ]))
}

/// Schema of the per-body summary table of [`ColumnDecoder`].
pub fn bodies_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("exchange_index", DataType::UInt32, false),
        Field::new("is_null", DataType::Boolean, false),
        Field::new("body_length", DataType::UInt64, false),
        Field::new("frames", DataType::UInt32, false),
        Field::new("error_count", DataType::UInt32, false),
        Field::new("error_kind", DataType::Utf8, true),
        Field::new("error_offset", DataType::UInt64, true),
        Field::new("error_message", DataType::Utf8, true),
        Field::new("skipped_bytes", DataType::UInt64, false),
        Field::new("truncated_offset", DataType::UInt64, true),
        Field::new("truncated_have", DataType::UInt64, true),
        Field::new("truncated_need", DataType::UInt64, true),
        Field::new("corrupt", DataType::Boolean, false),
    ]))
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_into(out: &mut Vec<u8>, data: &[u8]) {
    for c in data.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        out.push(B64[(n >> 18) as usize & 63]);
        out.push(B64[(n >> 12) as usize & 63]);
        out.push(if c.len() > 1 { B64[(n >> 6) as usize & 63] } else { b'=' });
        out.push(if c.len() > 2 { B64[n as usize & 63] } else { b'=' });
    }
}

/// Appends `s` as a JSON string literal. Hand-written because it runs for every header of every
/// frame of the column path: the common all-printable-ASCII name/value is copied in one go.
fn json_str_into(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let b = s.as_bytes();
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&b[start..i]);
        if esc.is_empty() {
            out.extend_from_slice(format!("\\u{c:04x}").as_bytes());
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
}

/// JSON object of all headers of a frame, in wire order: integers and timestamps (ms) as numbers,
/// booleans, strings, uuids as canonical text, byte arrays as standard base64 text.
pub fn headers_json_into(out: &mut Vec<u8>, frame: &Frame<'_>) {
    out.push(b'{');
    for (i, h) in frame.headers().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json_str_into(out, h.name);
        out.push(b':');
        match h.value {
            HeaderValue::Bool(b) => out.extend_from_slice(if b { b"true" } else { b"false" }),
            HeaderValue::Byte(v) => out.extend_from_slice(v.to_string().as_bytes()),
            HeaderValue::Short(v) => out.extend_from_slice(v.to_string().as_bytes()),
            HeaderValue::Int(v) => out.extend_from_slice(v.to_string().as_bytes()),
            HeaderValue::Long(v) | HeaderValue::Timestamp(v) => out.extend_from_slice(v.to_string().as_bytes()),
            HeaderValue::String(s) => json_str_into(out, s),
            HeaderValue::Bytes(b) => {
                out.push(b'"');
                base64_into(out, b);
                out.push(b'"');
            }
            HeaderValue::Uuid(u) => {
                out.push(b'"');
                out.extend_from_slice(uuid_string(u).as_bytes());
                out.push(b'"');
            }
        }
    }
    out.push(b'}');
}

/// Accumulates many bodies into an events table and a per-body summary table. Bodies are pushed
/// one at a time so that a caller (the Python binding) can check for interrupts between batches.
pub struct ColumnDecoder {
    opts: Options,
    next_index: u32,
    ev_exchange: UInt32Builder,
    ev_frame: UInt32Builder,
    ev_offset: UInt64Builder,
    ev_total: UInt32Builder,
    ev_message_type: StringBuilder,
    ev_event_type: StringBuilder,
    ev_exception_type: StringBuilder,
    ev_content_type: StringBuilder,
    /// `headers_json` and `payload` are view columns (see [`crate::sse::views`]): payloads point
    /// into the bodies when the decoder is given their buffers ([`ColumnDecoder::push_shared`]),
    /// and a run of frames with byte-identical header blocks shares one stored JSON text.
    arena: ViewArena,
    ev_headers: Vec<u128>,
    ev_payload: Vec<u128>,
    b_exchange: UInt32Builder,
    b_null: BooleanBuilder,
    b_len: UInt64Builder,
    b_frames: UInt32Builder,
    b_error_count: UInt32Builder,
    b_error_kind: StringBuilder,
    b_error_offset: UInt64Builder,
    b_error_message: StringBuilder,
    b_skipped: UInt64Builder,
    b_trunc_offset: UInt64Builder,
    b_trunc_have: UInt64Builder,
    b_trunc_need: UInt64Builder,
    b_corrupt: BooleanBuilder,
    last_json: String,
    last_json_view: u128,
    last_block: Vec<u8>,
}

impl ColumnDecoder {
    pub fn new(opts: Options) -> Self {
        Self::with_capacity(opts, 0)
    }

    /// `total_bytes` (the summed body lengths) sizes the builders up front: growing them by
    /// doubling showed as memmove and page faults in profiles of the column path.
    pub fn with_capacity(opts: Options, total_bytes: usize) -> Self {
        let rows = total_bytes / 128;
        ColumnDecoder {
            opts,
            next_index: 0,
            ev_exchange: UInt32Builder::with_capacity(rows),
            ev_frame: UInt32Builder::with_capacity(rows),
            ev_offset: UInt64Builder::with_capacity(rows),
            ev_total: UInt32Builder::with_capacity(rows),
            ev_message_type: StringBuilder::with_capacity(rows, rows * 5),
            ev_event_type: StringBuilder::with_capacity(rows, rows * 22),
            ev_exception_type: StringBuilder::with_capacity(rows, 0),
            ev_content_type: StringBuilder::with_capacity(rows, rows * 16),
            arena: ViewArena::new(),
            ev_headers: Vec::with_capacity(rows),
            ev_payload: Vec::with_capacity(rows),
            b_exchange: UInt32Builder::new(),
            b_null: BooleanBuilder::new(),
            b_len: UInt64Builder::new(),
            b_frames: UInt32Builder::new(),
            b_error_count: UInt32Builder::new(),
            b_error_kind: StringBuilder::new(),
            b_error_offset: UInt64Builder::new(),
            b_error_message: StringBuilder::new(),
            b_skipped: UInt64Builder::new(),
            b_trunc_offset: UInt64Builder::new(),
            b_trunc_have: UInt64Builder::new(),
            b_trunc_need: UInt64Builder::new(),
            b_corrupt: BooleanBuilder::new(),
            last_json: String::new(),
            last_json_view: 0,
            // Sentinel that no valid header block equals (a lone name length of 255 with no
            // name), so the first frame always computes its JSON.
            last_block: vec![0xff],
        }
    }

    /// Decodes the next body (`None` for a missing one); its `exchange_index` is its position.
    pub fn push(&mut self, body: Option<&[u8]>) {
        self.push_in(body, None);
    }

    /// Decodes the body `owner[range]`; payloads become views into `owner` (which the events
    /// table then keeps alive) instead of copies.
    pub fn push_shared(&mut self, owner: &Buffer, range: std::ops::Range<usize>) {
        let body = &owner.as_slice()[range];
        self.push_in(Some(body), Some(owner));
    }

    fn push_in(&mut self, body: Option<&[u8]>, owner: Option<&Buffer>) {
        let idx = self.next_index;
        self.next_index += 1;
        let Some(body) = body else {
            self.push_summary(idx, true, 0, &BodyReport::default());
            return;
        };
        let mut frame_index = 0u32;
        self.arena.set_source(owner, body);
        let report = decode_body(body, &self.opts, |f| {
            self.ev_exchange.append_value(idx);
            self.ev_frame.append_value(frame_index);
            self.ev_offset.append_value(f.offset);
            self.ev_total.append_value(f.total_length);
            self.ev_message_type.append_option(f.message_type);
            self.ev_event_type.append_option(f.event_type);
            self.ev_exception_type.append_option(f.exception_type);
            self.ev_content_type.append_option(f.content_type);
            // Consecutive frames of a stream usually carry byte-identical header blocks (same
            // event type), so the JSON of the previous block is reused: a short memcmp instead of
            // re-walking and re-escaping the headers.
            if f.header_block != self.last_block.as_slice() {
                self.last_block.clear();
                self.last_block.extend_from_slice(f.header_block);
                let mut buf = std::mem::take(&mut self.last_json).into_bytes();
                buf.clear();
                headers_json_into(&mut buf, &f);
                // Built from validated UTF-8 names/values and ASCII, so this never falls back.
                self.last_json = String::from_utf8(buf).unwrap_or_else(|_| "{}".to_owned());
                self.last_json_view = self.arena.copy(self.last_json.as_bytes());
            }
            self.ev_headers.push(self.last_json_view);
            self.ev_payload.push(self.arena.view(f.payload, true));
            frame_index += 1;
        });
        self.push_summary(idx, false, body.len() as u64, &report);
    }

    fn push_summary(&mut self, idx: u32, is_null: bool, len: u64, r: &BodyReport) {
        self.b_exchange.append_value(idx);
        self.b_null.append_value(is_null);
        self.b_len.append_value(len);
        self.b_frames.append_value(r.frames as u32);
        self.b_error_count.append_value(r.errors.len() as u32);
        let first = r.errors.first();
        self.b_error_kind.append_option(first.map(|e| e.error.kind.name()));
        self.b_error_offset.append_option(first.map(|e| e.error.offset));
        self.b_error_message.append_option(first.map(|e| e.error.kind.to_string()));
        self.b_skipped.append_value(r.errors.iter().map(|e| e.skipped).sum());
        self.b_trunc_offset.append_option(r.truncated.map(|t| t.offset));
        self.b_trunc_have.append_option(r.truncated.map(|t| t.have));
        self.b_trunc_need.append_option(r.truncated.map(|t| t.need));
        self.b_corrupt.append_value(r.corrupt());
    }

    /// The events table and the per-body summary table.
    pub fn finish(mut self) -> crate::Result<(Table, Table)> {
        let blocks = self.arena.take_blocks();
        // SAFETY: the views were made by `self.arena`, whose blocks these are; the header JSON is
        // UTF-8 (built from validated header names and values).
        let (headers, payload) = unsafe {
            (
                string_view_array(std::mem::take(&mut self.ev_headers), Arc::clone(&blocks), None),
                binary_view_array(std::mem::take(&mut self.ev_payload), blocks, None),
            )
        };
        let ev: Vec<ArrayRef> = vec![
            Arc::new(self.ev_exchange.finish()),
            Arc::new(self.ev_frame.finish()),
            Arc::new(self.ev_offset.finish()),
            Arc::new(self.ev_total.finish()),
            Arc::new(self.ev_message_type.finish()),
            Arc::new(self.ev_event_type.finish()),
            Arc::new(self.ev_exception_type.finish()),
            Arc::new(self.ev_content_type.finish()),
            Arc::new(headers),
            Arc::new(payload),
        ];
        let bo: Vec<ArrayRef> = vec![
            Arc::new(self.b_exchange.finish()),
            Arc::new(self.b_null.finish()),
            Arc::new(self.b_len.finish()),
            Arc::new(self.b_frames.finish()),
            Arc::new(self.b_error_count.finish()),
            Arc::new(self.b_error_kind.finish()),
            Arc::new(self.b_error_offset.finish()),
            Arc::new(self.b_error_message.finish()),
            Arc::new(self.b_skipped.finish()),
            Arc::new(self.b_trunc_offset.finish()),
            Arc::new(self.b_trunc_have.finish()),
            Arc::new(self.b_trunc_need.finish()),
            Arc::new(self.b_corrupt.finish()),
        ];
        let es = events_schema();
        let bs = bodies_schema();
        let events = RecordBatch::try_new(Arc::clone(&es), ev)?;
        let bodies = RecordBatch::try_new(Arc::clone(&bs), bo)?;
        Ok((Table::new(es, vec![events]), Table::new(bs, vec![bodies])))
    }
}

/// Decodes a column of bodies in one call: see [`ColumnDecoder`].
pub fn decode_column<'a>(
    bodies: impl IntoIterator<Item = Option<&'a [u8]>>,
    opts: &Options,
) -> crate::Result<(Table, Table)> {
    let bodies: Vec<Option<&[u8]>> = bodies.into_iter().collect();
    let total = bodies.iter().map(|b| b.map_or(0, <[u8]>::len)).sum();
    let mut d = ColumnDecoder::with_capacity(*opts, total);
    for b in bodies {
        d.push(b);
    }
    d.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked frame of spec §2.1.
    const WORKED: &str = "0000007f0000005c7c7db5a80b3a6576656e742d747970650700166173736973\
74616e74526573706f6e73654576656e740d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a\
736f6e0d3a6d6573736167652d747970650700056576656e747b22636f6e74656e74223a2248656c6c6f227d9b5d0635";

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn crc_check_value_and_continuation() {
        assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
        let f = hex(WORKED);
        let pre = crc32fast::hash(&f[..8]);
        assert_eq!(message_crc(&f, pre), crc32fast::hash(&f[..f.len() - 4]));
    }

    #[test]
    fn empty_message() {
        let f = hex("000000100000000005c248eb7d98c8ff");
        match decode_frame_at(&f, 0, 0, &Limits::default()) {
            Step::Frame(fr) => {
                assert_eq!(fr.header_count, 0);
                assert!(fr.payload.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn worked_frame() {
        let f = hex(WORKED);
        assert_eq!(f.len(), 127);
        let Step::Frame(fr) = decode_frame_at(&f, 0, 0, &Limits::default()) else { panic!() };
        assert_eq!(fr.event_type, Some("assistantResponseEvent"));
        assert_eq!(fr.content_type, Some("application/json"));
        assert_eq!(fr.message_type, Some("event"));
        assert_eq!(fr.payload, br#"{"content":"Hello"}"#);
        let names: Vec<_> = fr.headers().map(|h| h.name).collect();
        assert_eq!(names, [":event-type", ":content-type", ":message-type"]);
        let mut j = Vec::new();
        headers_json_into(&mut j, &fr);
        assert_eq!(
            String::from_utf8(j).unwrap(),
            r#"{":event-type":"assistantResponseEvent",":content-type":"application/json",":message-type":"event"}"#
        );
    }

    #[test]
    fn length_checks_order() {
        let l = Limits { max_headers_len: 10, max_payload_len: 20 };
        assert!(matches!(check_lengths(15, 0, &l), Err(ErrorKind::InvalidMessageLength { .. })));
        assert!(matches!(check_lengths(20, 5, &l), Err(ErrorKind::InvalidHeadersLength { .. })));
        assert!(matches!(check_lengths(40, 11, &l), Err(ErrorKind::InvalidHeadersLength { .. })));
        assert!(matches!(check_lengths(16 + 10 + 21, 10, &l), Err(ErrorKind::PayloadTooLong { .. })));
        assert!(check_lengths(16 + 10 + 20, 10, &l).is_ok());
        // Overflow-free at the extremes.
        assert!(check_lengths(u32::MAX, u32::MAX, &Limits::default()).is_err());
    }

    #[test]
    fn header_parser_errors() {
        assert_eq!(read_header(&[0], 0).unwrap_err().0, ErrorKind::InvalidHeaderNameLength);
        assert_eq!(read_header(&[5, b'a'], 0).unwrap_err().0, ErrorKind::InvalidHeaderNameLength);
        assert_eq!(read_header(&[1, b'a'], 0).unwrap_err().0, ErrorKind::InvalidHeaderValue);
        assert_eq!(read_header(&[1, b'a', 10], 0).unwrap_err().0, ErrorKind::InvalidHeaderValueType(10));
        assert_eq!(read_header(&[1, b'a', 4, 0, 0], 0).unwrap_err().0, ErrorKind::InvalidHeaderValue);
        assert_eq!(read_header(&[1, b'a', 7, 0, 2, 0xff, 0xfe], 0).unwrap_err().0, ErrorKind::InvalidUtf8String);
        assert_eq!(read_header(&[1, 0xff, 0], 0).unwrap_err().0, ErrorKind::InvalidUtf8String);
        let (h, n) = read_header(&[1, b'a', 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], 0).unwrap();
        assert_eq!(n, 19);
        assert_eq!(h.value, HeaderValue::Uuid(0x0102030405060708090a0b0c0d0e0f10));
        let dup = [1, b'a', 0, 1, b'a', 1];
        assert_eq!(parse_headers(&dup, 12, 0).unwrap_err().kind, ErrorKind::DuplicateHeader("a".into()));
        assert_eq!(parse_headers(&dup, 12, 0).unwrap_err().offset, 15);
    }

    #[test]
    fn many_headers_duplicate_past_inline_array() {
        let mut block = Vec::new();
        for i in 0..40u8 {
            block.extend_from_slice(&[2, b'h', b'0' + i, 0]);
        }
        assert_eq!(parse_headers(&block, 0, 0).unwrap().count, 40);
        block.extend_from_slice(&[2, b'h', b'0' + 30, 1]);
        assert_eq!(parse_headers(&block, 0, 0).unwrap_err().offset, 160);
    }

    #[test]
    fn range_crc_matches_hashing_the_range() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2654435761) >> 11) as u8).collect();
        for origin in [0u64, 1, 63, 64, 700] {
            let mut rc = RangeCrc::new(origin);
            let mut a = origin;
            while a < 4900 {
                rc.forget_before(a);
                for len in [0u64, 1, 5, 63, 64, 65, 129, 1000, 3000] {
                    let b = (a + len).min(data.len() as u64);
                    rc.extend(&data, 0, b);
                    let want = crc32fast::hash(&data[a as usize..b as usize]);
                    assert_eq!(rc.range(a, b, &data, 0), want, "origin {origin}, {a}..{b}");
                }
                a += 37;
            }
            // Memory: only the checkpoints from the last range start on are kept.
            assert!(rc.checkpoints.len() <= 3000 / CRC_STEP as usize + 3, "{}", rc.checkpoints.len());
        }
        // Checked against zlib's crc32_combine arithmetic: x^(8n) for n = 1 shifts a CRC by a byte.
        let (x, y) = (b"hello ", b"world");
        let whole = crc32fast::hash(b"hello world");
        assert_eq!(gf2_mul(x8n_mod_p(y.len() as u64), crc32fast::hash(x)) ^ crc32fast::hash(y), whole);
    }

    #[test]
    fn base64_and_uuid() {
        let mut o = Vec::new();
        base64_into(&mut o, b"some bytes");
        assert_eq!(o, b"c29tZSBieXRlcw==");
        assert_eq!(uuid_string(0xb79bc914de214e13b8b2bc47e85b7f0b), "b79bc914-de21-4e13-b8b2-bc47e85b7f0b");
        let mut j = Vec::new();
        json_str_into(&mut j, "a\"\\\n\u{1}é");
        assert_eq!(String::from_utf8(j).unwrap(), "\"a\\\"\\\\\\n\\u0001é\"");
    }
}
