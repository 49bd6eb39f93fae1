//! Line-level pieces of the mitmdump log parser: line splitting and the line classes of
//! `mitmproxy.md` §3.11 (termlog, request, response, message lines), header unescaping, ANSI
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

/// Iterator over the positions of `\n`, 64 bytes at a time.
///
/// Hand-written because it is the hottest loop: log lines average ~40 bytes, and calling
/// `memchr` once per line pays its setup cost on every short search (~18% of the parse in
/// profiles). Here one pass builds a 64-bit mask of newline positions per 64-byte block (SSE2 on
/// x86_64, SWAR elsewhere) and the positions are popped with `trailing_zeros`.
pub(super) struct LineEnds<'a> {
    data: &'a [u8],
    base: usize,
    mask: u64,
}

impl<'a> LineEnds<'a> {
    pub(super) fn new(data: &'a [u8]) -> Self {
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
pub(super) fn newline_mask64(block: &[u8]) -> u64 {
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
pub(super) fn newline_mask64(block: &[u8]) -> u64 {
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

