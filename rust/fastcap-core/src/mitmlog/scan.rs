//! Line-level pieces of the mitmdump log parser: line splitting and the line classes of
//! `docs/specs/mitmproxy.md` §3.11 (termlog, request, response, message lines), header unescaping, ANSI
//! stripping, the response size and 11.x hex dumps. Everything here works on one line (or one
//! body text) and allocates only when it has to transform.

use memchr::{memchr, memmem};

pub(super) fn is_digit(b: u8) -> bool {
    b.is_ascii_digit()
}

/// `^\[\d{2}:\d{2}:\d{2}\.\d{3}\](\[[^\]]*\])? `
pub(super) fn is_termlog(line: &[u8]) -> bool {
    if line.len() < 15 || line[0] != b'[' || line[13] != b']' {
        return false;
    }
    let t = &line[1..13];
    let shape =
        t[2] == b':' && t[5] == b':' && t[8] == b'.' && [0, 1, 3, 4, 6, 7, 9, 10, 11].iter().all(|&i| is_digit(t[i]));
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

pub(super) struct RequestLine<'a> {
    pub(super) client: &'a str,
    pub(super) method: &'a str,
    pub(super) push: bool,
    pub(super) url: &'a str,
    pub(super) version: Option<&'a str>,
}

pub(super) fn looks_like_client(c: &str) -> bool {
    if c == "[replay]" {
        return true;
    }
    // ip:port, [v6]:port
    match c.rfind(':') {
        Some(p) if p > 0 && p + 1 < c.len() => c[p + 1..].bytes().all(is_digit),
        _ => false,
    }
}

pub(super) fn parse_request_line(line: &str) -> Option<RequestLine<'_>> {
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

pub(super) struct ResponseLine<'a> {
    pub(super) version: Option<&'a str>,
    pub(super) status: u16,
    pub(super) reason: &'a str,
    pub(super) size: &'a str,
}

/// Position after `<< ` for a response/error candidate, if the line is one.
/// Returns (position after "<< ", whether the line had exactly one leading space and no replay).
pub(super) fn arrows(line: &str) -> Option<(usize, bool)> {
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

pub(super) fn parse_response_line(line: &str) -> Option<ResponseLine<'_>> {
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
pub(super) fn parse_message_line(line: &str) -> Option<(String, bool, String, String)> {
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

pub(super) fn is_context_line(line: &str) -> bool {
    line.starts_with("WebSocket connection closed by ") || line.starts_with("Error in ")
}

/// Remove ANSI SGR sequences `\x1b[...m` (§3.10).
pub(super) fn strip_ansi(line: &str) -> String {
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

pub(super) fn hexval(c: u8) -> Option<u8> {
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

/// Split a header line (without the indent) into name and value, still escaped.
pub(super) fn split_header(line: &str) -> (&str, &str) {
    match memmem::find(line.as_bytes(), b": ") {
        Some(p) => (&line[..p], &line[p + 2..]),
        None => (line.strip_suffix(':').unwrap_or(line), ""),
    }
}

/// Try to read an 11.x hex dump (`0000000000 00 01 … 0f   ascii`) back into bytes.
pub(super) fn parse_hexdump(text: &str) -> Option<Vec<u8>> {
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

// ---------------------------------------------------------------------------------------------
// Line splitting

/// Iterator over the positions of `\n`, 64 bytes at a time, checking the input on the way.
///
/// Hand-written because it is the hottest loop: log lines average ~40 bytes, and calling
/// `memchr` once per line pays its setup cost on every short search (~18% of the parse in
/// profiles). Here one pass builds a 64-bit mask of newline positions per 64-byte block (SSE2 on
/// x86_64, SWAR elsewhere) and the positions are popped with `trailing_zeros`.
///
/// The same loads tell whether a block holds a non-ASCII byte or an ESC: non-ASCII runs are
/// validated as UTF-8 right there (`std::str::from_utf8` on the run, pure-ASCII blocks need
/// nothing), and ESC switches the parser to ANSI stripping. Doing this in the line scan, instead
/// of a validation pass and an ESC search over the whole input first, reads the input once.
///
/// When a line end is returned, every byte up to it has been checked (the scan runs at most one
/// block ahead), so the line may be used as `&str` unless `invalid` is set.
pub(super) struct LineEnds<'a> {
    data: &'a [u8],
    base: usize,
    mask: u64,
    /// Bytes before `max(checked, block start)` are known valid UTF-8; `checked` is a character
    /// boundary.
    checked: usize,
    /// Invalid UTF-8 was found (the caller repairs the input and starts over).
    pub invalid: bool,
    /// An ESC byte was seen in the blocks scanned so far.
    pub esc: bool,
}

impl<'a> LineEnds<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
        let mut it = LineEnds { data, base: 0, mask: 0, checked: 0, invalid: false, esc: false };
        it.mask = it.block_mask(0);
        it
    }

    /// Something the caller must look at (`invalid` or `esc`) was seen.
    #[inline(always)]
    pub(super) fn attention(&self) -> bool {
        self.invalid | self.esc
    }

    #[inline]
    fn block_mask(&mut self, base: usize) -> u64 {
        let rest = &self.data[base.min(self.data.len())..];
        let (mask, high, esc) = if rest.len() >= 64 {
            scan64(&rest[..64])
        } else {
            let mut m = 0u64;
            let (mut high, mut esc) = (false, false);
            for (i, &b) in rest.iter().enumerate() {
                m |= ((b == b'\n') as u64) << i;
                high |= b >= 0x80;
                esc |= b == 0x1b;
            }
            (m, high, esc)
        };
        self.esc |= esc;
        if high {
            self.check_utf8(base, base + rest.len().min(64));
        }
        mask
    }

    /// Validate the non-ASCII run(s) of the block `[base, end)`, extended to the next ASCII byte
    /// so no character is cut.
    #[cold]
    fn check_utf8(&mut self, base: usize, end: usize) {
        if end <= self.checked {
            return;
        }
        // Either `checked` (a boundary) or `base`, which follows an ASCII byte.
        let from = self.checked.max(base);
        let mut to = end;
        while to < self.data.len() && self.data[to] >= 0x80 {
            to += 1;
        }
        if std::str::from_utf8(&self.data[from..to]).is_err() {
            self.invalid = true;
        }
        self.checked = to;
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

/// Newline mask of a 64-byte block, and whether it holds a non-ASCII byte or an ESC.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(super) fn scan64(block: &[u8]) -> (u64, bool, bool) {
    use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8};
    debug_assert!(block.len() >= 64);
    // SAFETY: SSE2 is part of the x86_64 baseline; the four unaligned 16-byte loads stay inside
    // `block`, which has at least 64 bytes.
    unsafe {
        let nl = _mm_set1_epi8(b'\n' as i8);
        let esc = _mm_set1_epi8(0x1b);
        let p = block.as_ptr() as *const __m128i;
        let (v0, v1, v2, v3) =
            (_mm_loadu_si128(p), _mm_loadu_si128(p.add(1)), _mm_loadu_si128(p.add(2)), _mm_loadu_si128(p.add(3)));
        let m0 = _mm_movemask_epi8(_mm_cmpeq_epi8(v0, nl)) as u16 as u64;
        let m1 = _mm_movemask_epi8(_mm_cmpeq_epi8(v1, nl)) as u16 as u64;
        let m2 = _mm_movemask_epi8(_mm_cmpeq_epi8(v2, nl)) as u16 as u64;
        let m3 = _mm_movemask_epi8(_mm_cmpeq_epi8(v3, nl)) as u16 as u64;
        let high = _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(v0, v1), _mm_or_si128(v2, v3))) != 0;
        let e = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(v0, esc), _mm_cmpeq_epi8(v1, esc)),
            _mm_or_si128(_mm_cmpeq_epi8(v2, esc), _mm_cmpeq_epi8(v3, esc)),
        );
        (m0 | (m1 << 16) | (m2 << 32) | (m3 << 48), high, _mm_movemask_epi8(e) != 0)
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline]
pub(super) fn scan64(block: &[u8]) -> (u64, bool, bool) {
    // SWAR: exact zero-byte test on `word ^ pattern` (no false positives), 8 bytes at a time.
    fn zero_bytes(x: u64) -> u64 {
        !(((x & 0x7f7f_7f7f_7f7f_7f7f).wrapping_add(0x7f7f_7f7f_7f7f_7f7f)) | x | 0x7f7f_7f7f_7f7f_7f7f)
    }
    let (mut m, mut high, mut esc) = (0u64, 0u64, 0u64);
    for (k, chunk) in block[..64].chunks_exact(8).enumerate() {
        let w = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        let zero = zero_bytes(w ^ 0x0a0a_0a0a_0a0a_0a0a);
        high |= w & 0x8080_8080_8080_8080;
        esc |= zero_bytes(w ^ 0x1b1b_1b1b_1b1b_1b1b);
        let mut bits = 0u64;
        for i in 0..8 {
            bits |= ((zero >> (i * 8 + 7)) & 1) << i;
        }
        m |= bits << (k * 8);
    }
    (m, high != 0, esc != 0)
}
