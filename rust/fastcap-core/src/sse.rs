//! Server-Sent Events (`text/event-stream`) splitting with exact WHATWG semantics.
//!
//! Spec: `docs/specs/sse.md` §1. One state machine, [`SseDecoder`], serves both forms:
//!
//! * incremental: [`SseDecoder::feed`] / [`SseDecoder::finish`] with arbitrary chunk boundaries
//!   (CR at the end of one chunk + LF at the start of the next is one line break; a UTF-8 sequence
//!   or the BOM may be split anywhere);
//! * whole body: [`split_raw_with`] (module [`raw`]) walks the body once with the same rules; every
//!   value is a borrowed slice of the body (only multi-line data is joined into a reused buffer).
//!   [`split`] / [`split_with`] decode its events' values as UTF-8; the tests check that it agrees
//!   with the incremental decoder on every input and chunking.
//!
//! Lines are split on **bytes**: CR, LF, `:` and U+0020 are ASCII and never occur inside a UTF-8
//! multi-byte sequence, and every field value is delimited by ASCII bytes, so lossy-decoding each
//! value (or the joined data buffer) at dispatch equals UTF-8-decoding the stream incrementally
//! (invalid sequences become U+FFFD, maximal-subpart rule, as `String::from_utf8_lossy`).
//!
//! Byte ranges: `byte_start` is the offset of the first line of the event's block (the first line
//! after the previous blank line; after a BOM), `byte_end` the offset where the terminating blank
//! line starts, so `body[byte_start..byte_end]` is the block's lines with their terminators. The
//! event pending at EOF (§1.6) ends at the body length and has `terminated == false`.
//!
//! Field extraction over parsed JSON and the Arrow events table are in [`extract`] and [`column`](mod@column).

use std::borrow::Cow;

use memchr::{memchr, memchr2};

use crate::error::{Error, Format, FormatError, Result};

pub mod column;
pub mod extract;
pub mod raw;
pub mod views;

pub use raw::{split_raw_with, RawEvent};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Stream statistics (§1.7). Identical whatever the chunking.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SseStats {
    /// Bytes fed.
    pub bytes: u64,
    /// Lines seen (a partial last line included).
    pub lines: u64,
    /// Events returned (the event pending at EOF included).
    pub events: u64,
    pub blank_lines: u64,
    pub comment_lines: u64,
    /// Blank lines ending a block that set `event`, `id` or `retry` but no `data`: blocks an SDK
    /// would dispatch with empty data and WHATWG drops.
    pub blocks_without_data: u64,
    pub id_fields: u64,
    pub retry_fields: u64,
    pub unknown_fields: u64,
    /// Line terminators by kind.
    pub lf: u64,
    pub crlf: u64,
    pub cr: u64,
    /// A leading BOM was stripped.
    pub bom: bool,
    /// The body ends with a line terminator (no partial last line).
    pub ends_with_newline: bool,
    /// The last line of the body is blank (the final event was terminated).
    pub ends_with_blank_line: bool,
    /// The body ended inside a line (no terminator after the last line).
    pub partial_last_line: bool,
    /// An event was pending at EOF and returned with `terminated == false`.
    pub pending_at_eof: bool,
    /// Last valid `retry` value (reconnection time, ms).
    pub retry: Option<u64>,
}

impl SseStats {
    /// `LF`, `CRLF`, `CR`, `mixed`, or `none` when the body has no line terminator.
    pub fn line_endings(&self) -> &'static str {
        match (self.lf > 0, self.crlf > 0, self.cr > 0) {
            (false, false, false) => "none",
            (true, false, false) => "LF",
            (false, true, false) => "CRLF",
            (false, false, true) => "CR",
            _ => "mixed",
        }
    }
}

/// A dispatched event, borrowing the decoder's buffers (valid during the sink call only).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventRef<'a> {
    /// 0-based index among the events of this stream (the pending event included).
    pub index: u64,
    /// Event type (`message` when no `event` field was given).
    pub event_type: &'a str,
    pub data: &'a str,
    pub last_event_id: &'a str,
    pub byte_start: u64,
    pub byte_end: u64,
    /// `false` only for the event pending at EOF (§1.6).
    pub terminated: bool,
    /// `data == "[DONE]"`.
    pub is_done: bool,
    /// Arrival time of the chunk holding the event's first byte, when chunk times were given.
    pub t_first_byte: Option<f64>,
    /// Arrival time of the chunk holding the event's last byte (`byte_end - 1`).
    pub t_last_byte: Option<f64>,
}

/// An owned [`EventRef`].
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub index: u64,
    pub event_type: String,
    pub data: String,
    pub last_event_id: String,
    pub byte_start: u64,
    pub byte_end: u64,
    pub terminated: bool,
    pub is_done: bool,
    pub t_first_byte: Option<f64>,
    pub t_last_byte: Option<f64>,
}

impl From<EventRef<'_>> for SseEvent {
    fn from(e: EventRef<'_>) -> Self {
        SseEvent {
            index: e.index,
            event_type: e.event_type.to_owned(),
            data: e.data.to_owned(),
            last_event_id: e.last_event_id.to_owned(),
            byte_start: e.byte_start,
            byte_end: e.byte_end,
            terminated: e.terminated,
            is_done: e.is_done,
            t_first_byte: e.t_first_byte,
            t_last_byte: e.t_last_byte,
        }
    }
}

/// Incremental WHATWG event-stream decoder.
#[derive(Debug, Default)]
pub struct SseDecoder {
    /// Bytes of the current line not yet terminated (spanning chunks).
    partial: Vec<u8>,
    /// Absolute offset of the next byte fed.
    pos: u64,
    /// Absolute offset of the current line's first byte.
    line_start: u64,
    line_start_t: Option<f64>,
    /// The previous byte was a CR ending a line: drop an LF that follows it.
    skip_lf: bool,
    seen_first_line: bool,
    data: Vec<u8>,
    event_type: Vec<u8>,
    last_event_id: String,
    block_start: Option<u64>,
    block_start_t: Option<f64>,
    block_last_t: Option<f64>,
    block_has_field: bool,
    last_line_blank: bool,
    last_t: Option<f64>,
    index: u64,
    finished: bool,
    stats: SseStats,
}

impl SseDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn stats(&self) -> &SseStats {
        &self.stats
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Feed one chunk (arriving at time `t`, if known); dispatched events go to `sink`.
    pub fn feed_with<F: FnMut(EventRef<'_>)>(&mut self, chunk: &[u8], t: Option<f64>, sink: &mut F) -> Result<()> {
        if self.finished {
            return Err(Error::Format(FormatError::new(
                Format::Sse,
                "feed_after_finish",
                self.pos,
                "feed() called after finish()",
            )));
        }
        let n = chunk.len();
        if n == 0 {
            return Ok(());
        }
        self.last_t = t;
        let mut i = 0usize;
        if self.skip_lf {
            self.skip_lf = false;
            if chunk[0] == b'\n' {
                // Second half of a CRLF split across chunks.
                self.stats.crlf += 1;
                i = 1;
                self.line_start += 1;
                if self.block_start.is_some() {
                    self.block_last_t = t;
                }
            } else {
                self.stats.cr += 1;
            }
        }
        // Hot loop: one memchr2 per line; lines borrow the chunk unless they began in an earlier one.
        while i < n {
            if self.partial.is_empty() {
                self.line_start_t = t;
            }
            let Some(k) = memchr2(b'\n', b'\r', &chunk[i..]) else {
                self.partial.extend_from_slice(&chunk[i..]);
                break;
            };
            let end = i + k;
            let next = if chunk[end] == b'\n' {
                self.stats.lf += 1;
                end + 1
            } else if end + 1 < n {
                if chunk[end + 1] == b'\n' {
                    self.stats.crlf += 1;
                    end + 2
                } else {
                    self.stats.cr += 1;
                    end + 1
                }
            } else {
                self.skip_lf = true;
                end + 1
            };
            if self.partial.is_empty() {
                self.line(&chunk[i..end], t, sink);
            } else {
                let mut buf = std::mem::take(&mut self.partial);
                buf.extend_from_slice(&chunk[i..end]);
                self.line(&buf, t, sink);
                buf.clear();
                self.partial = buf;
            }
            self.line_start = self.pos + next as u64;
            i = next;
        }
        self.pos += n as u64;
        self.stats.bytes = self.pos;
        Ok(())
    }

    /// End of stream: a partial last line is interpreted, and an event still pending (data
    /// buffered without its blank line) is returned with `terminated == false`. Idempotent.
    pub fn finish_with<F: FnMut(EventRef<'_>)>(&mut self, sink: &mut F) {
        if self.finished {
            return;
        }
        self.finished = true;
        if self.skip_lf {
            self.skip_lf = false;
            self.stats.cr += 1;
        }
        self.stats.ends_with_newline = self.pos > 0 && self.partial.is_empty();
        if !self.seen_first_line && self.partial == BOM {
            // The body is just a BOM: no line at all.
            self.stats.bom = true;
            self.partial.clear();
        }
        if !self.partial.is_empty() {
            self.stats.partial_last_line = true;
            let buf = std::mem::take(&mut self.partial);
            let t = self.last_t;
            self.line(&buf, t, sink);
            self.block_last_t = t;
            self.last_line_blank = false;
        }
        self.stats.ends_with_blank_line = self.last_line_blank;
        if !self.data.is_empty() {
            self.stats.pending_at_eof = true;
            self.block_last_t = self.last_t;
            self.dispatch(self.pos, false, sink);
        }
        self.reset_block();
    }

    /// [`feed_with`](Self::feed_with) collecting owned events.
    pub fn feed(&mut self, chunk: &[u8], t: Option<f64>) -> Result<Vec<SseEvent>> {
        let mut out = Vec::new();
        self.feed_with(chunk, t, &mut |e| out.push(e.into()))?;
        Ok(out)
    }

    /// [`finish_with`](Self::finish_with) collecting owned events.
    pub fn finish(&mut self) -> Vec<SseEvent> {
        let mut out = Vec::new();
        self.finish_with(&mut |e| out.push(e.into()));
        out
    }

    /// Interpret one line (§1.3, §1.4). `t` is the arrival time of the line's terminator.
    #[inline]
    fn line<F: FnMut(EventRef<'_>)>(&mut self, mut line: &[u8], t: Option<f64>, sink: &mut F) {
        self.stats.lines += 1;
        let mut start = self.line_start;
        if !self.seen_first_line {
            self.seen_first_line = true;
            if line.starts_with(BOM) {
                self.stats.bom = true;
                line = &line[3..];
                start += 3;
                self.line_start = start;
            }
        }
        if line.is_empty() {
            self.stats.blank_lines += 1;
            self.last_line_blank = true;
            if !self.data.is_empty() {
                self.dispatch(start, true, sink);
            } else if self.block_has_field {
                self.stats.blocks_without_data += 1;
            }
            self.reset_block();
            return;
        }
        self.last_line_blank = false;
        if self.block_start.is_none() {
            self.block_start = Some(start);
            self.block_start_t = self.line_start_t;
        }
        self.block_last_t = t;
        if line[0] == b':' {
            self.stats.comment_lines += 1;
            return;
        }
        let (name, value) = match memchr(b':', line) {
            Some(c) => {
                let v = &line[c + 1..];
                (&line[..c], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        match name {
            b"data" => {
                self.data.extend_from_slice(value);
                self.data.push(b'\n');
            }
            b"event" => {
                self.event_type.clear();
                self.event_type.extend_from_slice(value);
                self.block_has_field = true;
            }
            b"id" => {
                self.stats.id_fields += 1;
                self.block_has_field = true;
                if memchr(0, value).is_none() {
                    self.last_event_id = String::from_utf8_lossy(value).into_owned();
                }
            }
            b"retry" => {
                self.stats.retry_fields += 1;
                self.block_has_field = true;
                if !value.is_empty() && value.iter().all(u8::is_ascii_digit) {
                    let v =
                        value.iter().fold(0u64, |acc, &d| acc.saturating_mul(10).saturating_add(u64::from(d - b'0')));
                    self.stats.retry = Some(v);
                }
            }
            _ => self.stats.unknown_fields += 1,
        }
    }

    /// §1.5 steps 3–5 (the caller checked that the data buffer is non-empty).
    fn dispatch<F: FnMut(EventRef<'_>)>(&mut self, end: u64, terminated: bool, sink: &mut F) {
        let raw = &self.data[..self.data.len() - 1];
        let data: Cow<'_, str> = String::from_utf8_lossy(raw);
        let event_type: Cow<'_, str> = if self.event_type.is_empty() {
            Cow::Borrowed("message")
        } else {
            String::from_utf8_lossy(&self.event_type)
        };
        let ev = EventRef {
            index: self.index,
            event_type: &event_type,
            data: &data,
            last_event_id: &self.last_event_id,
            byte_start: self.block_start.unwrap_or(end),
            byte_end: end,
            terminated,
            is_done: raw == b"[DONE]",
            t_first_byte: self.block_start_t,
            t_last_byte: self.block_last_t,
        };
        sink(ev);
        self.index += 1;
        self.stats.events += 1;
    }

    fn reset_block(&mut self) {
        self.data.clear();
        self.event_type.clear();
        self.block_start = None;
        self.block_start_t = None;
        self.block_last_t = None;
        self.block_has_field = false;
    }
}

/// `bytes` as text, valid UTF-8 or lossily decoded (invalid sequences become U+FFFD).
/// `valid` says the bytes are known to be valid UTF-8 (e.g. a slice at ASCII boundaries of a
/// validated body).
#[inline]
pub(crate) fn text(bytes: &[u8], valid: bool) -> Cow<'_, str> {
    if valid {
        // SAFETY: the caller vouches that the bytes are valid UTF-8.
        Cow::Borrowed(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        String::from_utf8_lossy(bytes)
    }
}

/// Split a whole body: every event (the pending one at EOF last, `terminated == false`) goes to
/// `sink`. No allocation per line or event for valid UTF-8: the body is validated once, and every
/// value is then a slice of it (CR, LF, `:` and space, where values start and end, are ASCII).
pub fn split_with<F: FnMut(EventRef<'_>)>(body: &[u8], sink: &mut F) -> SseStats {
    let valid = simdutf8::basic::from_utf8(body).is_ok();
    split_raw_with(body, &mut |e: RawEvent<'_>| {
        let event_type = text(e.event_type_or_default(), valid);
        let data = text(e.data, valid);
        let last_event_id = text(e.last_event_id, valid);
        sink(EventRef {
            index: e.index,
            event_type: &event_type,
            data: &data,
            last_event_id: &last_event_id,
            byte_start: e.byte_start,
            byte_end: e.byte_end,
            terminated: e.terminated,
            is_done: e.is_done(),
            t_first_byte: None,
            t_last_byte: None,
        });
    })
}

/// Split a whole body into owned events plus statistics.
pub fn split(body: &[u8]) -> (Vec<SseEvent>, SseStats) {
    let mut out = Vec::new();
    let stats = split_with(body, &mut |e| out.push(e.into()));
    (out, stats)
}

/// Split a body delivered in chunks of the given sizes (which must sum to the body length), each
/// arriving at the matching time of `times` (if given): the timed form of [`split`].
pub fn split_chunked(body: &[u8], sizes: &[usize], times: Option<&[f64]>) -> Result<(Vec<SseEvent>, SseStats)> {
    if let Some(ts) = times {
        if ts.len() != sizes.len() {
            return Err(bad_arg(format!("{} chunk times for {} chunk sizes", ts.len(), sizes.len())));
        }
    }
    let total: usize = sizes.iter().sum();
    if total != body.len() {
        return Err(bad_arg(format!("chunk sizes sum to {total}, body has {} bytes", body.len())));
    }
    let mut dec = SseDecoder::new();
    let mut out = Vec::new();
    let mut sink = |e: EventRef<'_>| out.push(SseEvent::from(e));
    let mut off = 0usize;
    for (k, &sz) in sizes.iter().enumerate() {
        dec.feed_with(&body[off..off + sz], times.map(|ts| ts[k]), &mut sink)?;
        off += sz;
    }
    dec.finish_with(&mut sink);
    Ok((out, dec.stats))
}

fn bad_arg(msg: String) -> Error {
    Error::Format(FormatError::new(Format::Sse, "bad_chunking", 0, msg))
}
