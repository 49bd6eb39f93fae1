//! The whole-body fast path of the splitter: the same WHATWG rules as [`super::SseDecoder`], but
//! the body is one slice, so every line, field value and (single-line) data buffer is a borrowed
//! sub-slice of it and nothing is copied or decoded.
//!
//! Differences from feeding the decoder one chunk are only in the work done, never in the result
//! (the tests compare both on every fixture, every edge case and random bodies):
//!
//! * no `partial` buffer: a last line without terminator is just the tail of the body;
//! * when the body holds no CR at all (one `memchr` pass decides), lines are found with a single-byte
//!   `memchr` for LF instead of `memchr2`;
//! * `data:` and `event:` lines are recognised by their prefix before the general colon search;
//! * the data buffer is a range of the body while the event has one `data` line (the overwhelmingly
//!   common case); a second `data` line copies the joined value into a reused buffer;
//! * values are raw bytes: UTF-8 decoding (lossy, as the decoder does) is the caller's, which can
//!   validate the whole body once instead of every value.

use memchr::{memchr, memchr2};

use super::{SseStats, BOM};

/// An event of [`split_raw_with`]. Every slice borrows the body, except `data` when the event had
/// several `data` lines (`data_in_body == false`: the lines joined with LF in the splitter's buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawEvent<'a> {
    /// 0-based index among the events of this body (the pending event included).
    pub index: u64,
    /// The last `event` value of the block; empty means the type is `message`.
    pub event_type: &'a [u8],
    pub data: &'a [u8],
    /// `data` is a sub-slice of the body.
    pub data_in_body: bool,
    /// The last-event-ID buffer (persists across events).
    pub last_event_id: &'a [u8],
    pub byte_start: u64,
    pub byte_end: u64,
    /// `false` only for the event pending at EOF.
    pub terminated: bool,
}

impl RawEvent<'_> {
    /// The event type, `message` when no `event` field was given.
    #[inline]
    pub fn event_type_or_default(&self) -> &[u8] {
        if self.event_type.is_empty() {
            b"message"
        } else {
            self.event_type
        }
    }

    #[inline]
    pub fn is_done(&self) -> bool {
        self.data == b"[DONE]"
    }
}

const NONE: usize = usize::MAX;

struct Splitter<'b> {
    body: &'b [u8],
    stats: SseStats,
    /// Number of `data` lines in the current block.
    data_lines: u32,
    /// Value range of the first `data` line.
    data_one: (usize, usize),
    /// Joined data of a block with several `data` lines.
    data_buf: Vec<u8>,
    event_type: (usize, usize),
    last_id: (usize, usize),
    block_start: usize,
    block_has_field: bool,
    last_line_blank: bool,
    index: u64,
}

/// Split a whole body; every event (the one pending at EOF last, `terminated == false`) goes to
/// `sink`. Returns the same statistics as [`super::SseDecoder`] fed the body in any chunking.
pub fn split_raw_with<F: FnMut(RawEvent<'_>)>(body: &[u8], sink: &mut F) -> SseStats {
    let n = body.len();
    let mut s = Splitter {
        body,
        stats: SseStats { bytes: n as u64, ..SseStats::default() },
        data_lines: 0,
        data_one: (0, 0),
        data_buf: Vec::new(),
        event_type: (0, 0),
        last_id: (0, 0),
        block_start: NONE,
        block_has_field: false,
        last_line_blank: false,
        index: 0,
    };
    let mut pos = 0usize;
    if body.starts_with(BOM) {
        s.stats.bom = true;
        pos = BOM.len();
    }
    if memchr(b'\r', &body[pos..]).is_none() {
        while pos < n {
            // A blank line (one per event) needs no search.
            let end = if body[pos] == b'\n' {
                pos
            } else {
                match memchr(b'\n', &body[pos..]) {
                    Some(k) => pos + k,
                    None => break,
                }
            };
            s.stats.lf += 1;
            s.line(pos, end, sink);
            pos = end + 1;
        }
    } else {
        while let Some(k) = memchr2(b'\n', b'\r', &body[pos..]) {
            let end = pos + k;
            let next = if body[end] == b'\n' {
                s.stats.lf += 1;
                end + 1
            } else if end + 1 < n && body[end + 1] == b'\n' {
                s.stats.crlf += 1;
                end + 2
            } else {
                s.stats.cr += 1;
                end + 1
            };
            s.line(pos, end, sink);
            pos = next;
        }
    }
    s.stats.ends_with_newline = n > 0 && matches!(body[n - 1], b'\n' | b'\r');
    if pos < n {
        // A last line without terminator (never empty; a body that is only a BOM has no line).
        s.stats.partial_last_line = true;
        s.line(pos, n, sink);
        s.last_line_blank = false;
    }
    s.stats.ends_with_blank_line = s.last_line_blank;
    if s.data_lines > 0 {
        s.stats.pending_at_eof = true;
        s.dispatch(n, false, sink);
    }
    s.stats
}

impl Splitter<'_> {
    /// Interpret the line `body[start..end]` (spec §1.3, §1.4).
    #[inline(always)]
    fn line<F: FnMut(RawEvent<'_>)>(&mut self, start: usize, end: usize, sink: &mut F) {
        self.stats.lines += 1;
        if start == end {
            self.stats.blank_lines += 1;
            self.last_line_blank = true;
            if self.data_lines > 0 {
                self.dispatch(start, true, sink);
            } else if self.block_has_field {
                self.stats.blocks_without_data += 1;
            }
            self.reset_block();
            return;
        }
        self.last_line_blank = false;
        if self.block_start == NONE {
            self.block_start = start;
        }
        let line = &self.body[start..end];
        // The two fields of nearly every line, by prefix; anything else takes the general path.
        if line.starts_with(b"data:") {
            let v = start + 5;
            let v = if v < end && self.body[v] == b' ' { v + 1 } else { v };
            self.push_data(v, end);
            return;
        }
        if line.starts_with(b"event:") {
            let v = start + 6;
            let v = if v < end && self.body[v] == b' ' { v + 1 } else { v };
            self.event_type = (v, end);
            self.block_has_field = true;
            return;
        }
        if line[0] == b':' {
            self.stats.comment_lines += 1;
            return;
        }
        let (name, v) = match memchr(b':', line) {
            Some(c) => {
                let v = start + c + 1;
                (&line[..c], if v < end && self.body[v] == b' ' { v + 1 } else { v })
            }
            None => (line, end),
        };
        match name {
            b"data" => self.push_data(v, end),
            b"event" => {
                self.event_type = (v, end);
                self.block_has_field = true;
            }
            b"id" => {
                self.stats.id_fields += 1;
                self.block_has_field = true;
                if memchr(0, &self.body[v..end]).is_none() {
                    self.last_id = (v, end);
                }
            }
            b"retry" => {
                self.stats.retry_fields += 1;
                self.block_has_field = true;
                let value = &self.body[v..end];
                if !value.is_empty() && value.iter().all(u8::is_ascii_digit) {
                    let r =
                        value.iter().fold(0u64, |acc, &d| acc.saturating_mul(10).saturating_add(u64::from(d - b'0')));
                    self.stats.retry = Some(r);
                }
            }
            _ => self.stats.unknown_fields += 1,
        }
    }

    #[inline(always)]
    fn push_data(&mut self, v: usize, end: usize) {
        match self.data_lines {
            0 => self.data_one = (v, end),
            1 => {
                self.data_buf.clear();
                self.data_buf.extend_from_slice(&self.body[self.data_one.0..self.data_one.1]);
                self.data_buf.push(b'\n');
                self.data_buf.extend_from_slice(&self.body[v..end]);
            }
            _ => {
                self.data_buf.push(b'\n');
                self.data_buf.extend_from_slice(&self.body[v..end]);
            }
        }
        self.data_lines += 1;
    }

    /// §1.5 (the caller checked that there is data).
    #[inline(always)]
    fn dispatch<F: FnMut(RawEvent<'_>)>(&mut self, end: usize, terminated: bool, sink: &mut F) {
        let body = self.body;
        let (data, data_in_body) = if self.data_lines == 1 {
            (&body[self.data_one.0..self.data_one.1], true)
        } else {
            (&self.data_buf[..], false)
        };
        sink(RawEvent {
            index: self.index,
            event_type: &body[self.event_type.0..self.event_type.1],
            data,
            data_in_body,
            last_event_id: &body[self.last_id.0..self.last_id.1],
            byte_start: if self.block_start == NONE { end as u64 } else { self.block_start as u64 },
            byte_end: end as u64,
            terminated,
        });
        self.index += 1;
        self.stats.events += 1;
    }

    #[inline(always)]
    fn reset_block(&mut self) {
        self.data_lines = 0;
        self.event_type = (0, 0);
        self.block_start = NONE;
        self.block_has_field = false;
    }
}
