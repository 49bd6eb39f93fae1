//! A small, zero-copy CBOR (RFC 8949) decoder over a byte slice.
//!
//! Hand-written rather than serde-based because the capture reader's hot loop dispatches on
//! map keys while decoding and must borrow strings and byte strings straight out of the
//! memory-mapped file; a generic deserializer would allocate a value tree per entry.

use std::borrow::Cow;

/// Why an item could not be decoded. `offset` is absolute in the input.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError {
    pub offset: usize,
    pub message: String,
    /// True when the input simply ended inside the item (a truncated tail, not corruption).
    pub eof: bool,
}

pub type DResult<T> = std::result::Result<T, DecodeError>;

/// A decoded generic CBOR value (used for the header, `cu`, `cdb` and unknown keys).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Uint(u64),
    /// Negative integer stored as -1 - n.
    Nint(u64),
    Bytes(Vec<u8>),
    Text(String),
    Array(Vec<Value>),
    Map(Vec<(Value, Value)>),
    Bool(bool),
    Null,
    Undefined,
    Float(f64),
    Tag(u64, Box<Value>),
    Simple(u8),
}

impl Value {
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            Value::Tag(_, v) => v.as_text(),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(f) => Some(*f),
            Value::Uint(u) => Some(*u as f64),
            Value::Nint(n) => Some(-1.0 - *n as f64),
            Value::Tag(_, v) => v.as_f64(),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Uint(u) => i64::try_from(*u).ok(),
            Value::Nint(n) => i64::try_from(*n).ok().map(|n| -1 - n),
            Value::Float(f) if f.fract() == 0.0 && f.is_finite() && f.abs() < 9.0e15 => Some(*f as i64),
            Value::Tag(_, v) => v.as_i64(),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(pairs) => pairs.iter().rev().find(|(k, _)| k.as_text() == Some(key)).map(|(_, v)| v),
            _ => None,
        }
    }

    /// JSON rendering for columns that keep opaque maps (`cu`, `cdb`, unknown keys).
    /// Bytes become `{"$bytes": "<hex>"}`; non-finite floats become strings; a map key that is
    /// not text becomes its JSON text (see [`Value::key_text`]).
    pub fn to_json(&self) -> serde_json::Value {
        self.to_json_in(false)
    }

    /// The JSON object key for this value as a map key: text as it is, anything else its compact
    /// JSON text (`1`, `{"a":1}`).
    ///
    /// Inside such a key, a map or array key is not rendered as JSON text a second time but as
    /// `{"$cbor":"<hex of its CBOR encoding>"}`: JSON text embedded in JSON text is escaped once
    /// per level, so a map keyed by a map keyed by a map… doubled its rendering at every level
    /// (finding F-CBOR-KEYS in docs/fuzzing.md: a 187-byte capture took 4 s and 355 MB). The hex
    /// form has no character that needs escaping, keeps the key lossless, and keeps the rendering
    /// linear in the value's size.
    pub fn key_text(&self) -> String {
        self.key_text_in(false)
    }

    fn key_text_in(&self, in_key: bool) -> String {
        match self {
            Value::Text(s) => s.clone(),
            other if in_key && other.is_container() => {
                let mut encoded = Vec::new();
                super::writer::value(&mut encoded, other);
                format!("{{\"$cbor\":\"{}\"}}", hex(&encoded))
            }
            other => other.to_json_in(true).to_string(),
        }
    }

    /// A map or an array, under any number of tags.
    fn is_container(&self) -> bool {
        match self {
            Value::Map(_) | Value::Array(_) => true,
            Value::Tag(_, v) => v.is_container(),
            _ => false,
        }
    }

    /// `in_key`: this value is (part of) a map key being rendered as JSON text.
    fn to_json_in(&self, in_key: bool) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Uint(u) => J::from(*u),
            Value::Nint(n) => match i64::try_from(*n) {
                Ok(n) => J::from(-1 - n),
                Err(_) => J::String(format!("-{}", *n as u128 + 1)),
            },
            Value::Bytes(b) => {
                let mut m = serde_json::Map::new();
                m.insert("$bytes".into(), J::String(hex(b)));
                J::Object(m)
            }
            Value::Text(s) => J::String(s.clone()),
            Value::Array(a) => J::Array(a.iter().map(|v| v.to_json_in(in_key)).collect()),
            Value::Map(pairs) => {
                let mut m = serde_json::Map::new();
                for (k, v) in pairs {
                    m.insert(k.key_text_in(in_key), v.to_json_in(in_key));
                }
                J::Object(m)
            }
            Value::Bool(b) => J::Bool(*b),
            Value::Null | Value::Undefined => J::Null,
            Value::Float(f) => {
                serde_json::Number::from_f64(*f).map(J::Number).unwrap_or_else(|| J::String(f.to_string()))
            }
            Value::Tag(_, v) => v.to_json_in(in_key),
            Value::Simple(s) => J::from(*s),
        }
    }
}

pub fn hex(b: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(HEX[(x >> 4) as usize] as char);
        s.push(HEX[(x & 15) as usize] as char);
    }
    s
}

/// An item head: major type, additional info and argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub major: u8,
    pub info: u8,
    /// The argument; for indefinite-length heads (info 31) it is 0.
    pub arg: u64,
}

impl Head {
    pub fn indefinite(&self) -> bool {
        self.info == 31
    }
}

/// Maximum nesting depth (arrays, maps, tags) accepted, so a hostile file cannot overflow the
/// stack: the decoders recurse once per level. Capture entries nest two or three levels deep.
pub const MAX_DEPTH: u32 = 256;

/// Cursor over a CBOR byte slice. All offsets are absolute within `buf`.
pub struct Cursor<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8], pos: usize) -> Self {
        Cursor { buf, pos }
    }

    #[inline]
    pub fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    #[cold]
    #[inline(never)]
    fn eof(&self, what: &str) -> DecodeError {
        DecodeError { offset: self.pos, message: format!("input ends inside {what}"), eof: true }
    }

    #[cold]
    #[inline(never)]
    fn too_deep(&self, at: usize) -> DecodeError {
        self.err(at, format!("items nested more than {MAX_DEPTH} deep (arrays, maps or tags)"))
    }

    #[cold]
    #[inline(never)]
    pub fn err(&self, offset: usize, message: impl Into<String>) -> DecodeError {
        DecodeError { offset, message: message.into(), eof: false }
    }

    // The hot helpers below are `inline(always)` with their errors built in cold functions: the
    // entry decoder calls them a dozen times per entry, and returning a `Result` carrying a
    // `DecodeError` through memory from an out-of-line call was a third of reading time.

    #[inline(always)]
    fn take(&mut self, n: usize, what: &str) -> DResult<&'a [u8]> {
        match self.pos.checked_add(n).filter(|&e| e <= self.buf.len()) {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(self.past_end(what, n)),
        }
    }

    /// An item claiming more bytes than the input holds: a truncated tail, or (when more entries
    /// follow, which the reader checks) a damaged length.
    #[cold]
    #[inline(never)]
    fn past_end(&self, what: &str, n: usize) -> DecodeError {
        let left = self.buf.len().saturating_sub(self.pos);
        DecodeError {
            offset: self.pos,
            message: format!("{what} of {n} bytes, but only {left} bytes are left"),
            eof: true,
        }
    }

    #[inline]
    pub fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// The next item head, or `None` when the careful path must decide (end of input, reserved
    /// additional information, a misplaced indefinite length).
    #[inline(always)]
    fn head_fast(&mut self) -> Option<Head> {
        let at = self.pos;
        let b = *self.buf.get(at)?;
        let (major, info) = (b >> 5, b & 0x1f);
        let arg_at = at + 1;
        let (arg, len) = match info {
            0..=23 => (info as u64, 1),
            24 => (*self.buf.get(arg_at)? as u64, 2),
            25 => (u16::from_be_bytes(self.buf.get(arg_at..arg_at + 2)?.try_into().ok()?) as u64, 3),
            26 => (u32::from_be_bytes(self.buf.get(arg_at..arg_at + 4)?.try_into().ok()?) as u64, 5),
            27 => (u64::from_be_bytes(self.buf.get(arg_at..arg_at + 8)?.try_into().ok()?), 9),
            31 if !matches!(major, 0 | 1 | 6) => (0, 1),
            _ => return None,
        };
        self.pos = at + len;
        Some(Head { major, info, arg })
    }

    #[inline(always)]
    pub fn head(&mut self) -> DResult<Head> {
        match self.head_fast() {
            Some(h) => Ok(h),
            None => Err(self.head_error()),
        }
    }

    /// Why `head_fast` refused the head at `pos` (it never consumes on refusal).
    #[cold]
    #[inline(never)]
    fn head_error(&self) -> DecodeError {
        let Some(&b) = self.buf.get(self.pos) else { return self.eof("an item head") };
        let (major, info) = (b >> 5, b & 0x1f);
        match info {
            28..=30 => self.err(self.pos, format!("reserved additional information {info}")),
            31 => self.err(self.pos, format!("indefinite length not allowed for major type {major}")),
            _ => DecodeError { offset: self.buf.len(), message: "input ends inside an item head".into(), eof: true },
        }
    }

    #[inline]
    fn is_break(&self) -> bool {
        self.peek() == Some(0xff)
    }

    #[inline(always)]
    fn len_of(&self, h: Head, at: usize) -> DResult<usize> {
        usize::try_from(h.arg).map_err(|_| self.err(at, "length does not fit in memory"))
    }

    /// Concatenate the definite chunks of an indefinite byte/text string.
    #[cold]
    fn chunks(&mut self, major: u8, at: usize) -> DResult<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            if self.at_end() {
                return Err(self.eof("an indefinite-length string"));
            }
            if self.is_break() {
                self.pos += 1;
                return Ok(out);
            }
            let cat = self.pos;
            let h = self.head()?;
            if h.major != major || h.indefinite() {
                return Err(self.err(cat, "non-definite or mismatched chunk inside an indefinite string"));
            }
            let n = self.len_of(h, at)?;
            out.extend_from_slice(self.take(n, "a string chunk")?);
        }
    }

    /// A byte string (borrowed when definite).
    #[inline(always)]
    pub fn bytes_after(&mut self, h: Head, at: usize) -> DResult<Cow<'a, [u8]>> {
        if h.indefinite() {
            return Ok(Cow::Owned(self.chunks(2, at)?));
        }
        let n = self.len_of(h, at)?;
        Ok(Cow::Borrowed(self.take(n, "a byte string")?))
    }

    /// A text string (borrowed when definite); invalid UTF-8 is a decode error.
    #[inline(always)]
    pub fn text_after(&mut self, h: Head, at: usize) -> DResult<Cow<'a, str>> {
        if h.indefinite() {
            let v = self.chunks(3, at)?;
            return String::from_utf8(v).map(Cow::Owned).map_err(|_| self.err(at, "invalid UTF-8 in a text string"));
        }
        let n = self.len_of(h, at)?;
        let s = self.take(n, "a text string")?;
        // Capture metadata is nearly always ASCII; the word-at-a-time ASCII test inlines, where
        // the general validator is a call per value.
        if s.is_ascii() {
            // SAFETY: ASCII is valid UTF-8.
            return Ok(Cow::Borrowed(unsafe { std::str::from_utf8_unchecked(s) }));
        }
        std::str::from_utf8(s).map(Cow::Borrowed).map_err(|_| self.err(at, "invalid UTF-8 in a text string"))
    }

    /// A float from a major-7 head (f16/f32/f64), or an integer accepted where a float is expected.
    #[inline]
    pub fn number_after(&mut self, mut h: Head, at: usize) -> DResult<Option<f64>> {
        // Unknown tags pass the inner item through. A loop rather than a call per tag, and at most
        // MAX_DEPTH of them, as for every other nesting: 100,000 tags around a `ts` once took the
        // stack.
        let mut tags = 0;
        while h.major == 6 {
            tags += 1;
            if tags > MAX_DEPTH {
                return Err(self.err(at, format!("more than {MAX_DEPTH} nested tags; expected a number")));
            }
            h = self.head()?;
        }
        Ok(match (h.major, h.info) {
            (0, _) => Some(h.arg as f64),
            (1, _) => Some(-1.0 - h.arg as f64),
            (7, 25) => Some(f16_to_f64(h.arg as u16)),
            (7, 26) => Some(f32::from_bits(h.arg as u32) as f64),
            (7, 27) => Some(f64::from_bits(h.arg)),
            _ => {
                self.skip_after(h, at, tags)?;
                None
            }
        })
    }

    /// Skip the rest of an item whose head was already read.
    pub fn skip_after(&mut self, h: Head, at: usize, depth: u32) -> DResult<()> {
        if depth > MAX_DEPTH {
            return Err(self.too_deep(at));
        }
        match h.major {
            0 | 1 => Ok(()),
            2 | 3 => {
                if h.indefinite() {
                    self.chunks(h.major, at).map(|_| ())
                } else {
                    let n = self.len_of(h, at)?;
                    self.take(n, "a string").map(|_| ())
                }
            }
            4 | 5 => {
                let per = if h.major == 5 { 2 } else { 1 };
                if h.indefinite() {
                    loop {
                        if self.at_end() {
                            return Err(self.eof("an indefinite-length container"));
                        }
                        if self.is_break() {
                            self.pos += 1;
                            return Ok(());
                        }
                        for _ in 0..per {
                            self.skip(depth + 1)?;
                        }
                    }
                } else {
                    for _ in 0..h.arg.saturating_mul(per) {
                        self.skip(depth + 1)?;
                    }
                    Ok(())
                }
            }
            6 => self.skip(depth + 1),
            _ => {
                if h.info == 31 {
                    Err(self.err(at, "break outside an indefinite-length item"))
                } else {
                    Ok(())
                }
            }
        }
    }

    pub fn skip(&mut self, depth: u32) -> DResult<()> {
        let at = self.pos;
        let h = self.head()?;
        self.skip_after(h, at, depth)
    }

    /// Decode one whole generic value.
    pub fn value(&mut self) -> DResult<Value> {
        self.value_depth(0)
    }

    fn value_depth(&mut self, depth: u32) -> DResult<Value> {
        let at = self.pos;
        let h = self.head()?;
        self.value_after(h, at, depth)
    }

    pub fn value_after(&mut self, h: Head, at: usize, depth: u32) -> DResult<Value> {
        if depth > MAX_DEPTH {
            return Err(self.too_deep(at));
        }
        Ok(match h.major {
            0 => Value::Uint(h.arg),
            1 => Value::Nint(h.arg),
            2 => Value::Bytes(self.bytes_after(h, at)?.into_owned()),
            3 => Value::Text(self.text_after(h, at)?.into_owned()),
            4 | 5 => {
                let is_map = h.major == 5;
                let mut items = Vec::new();
                let mut pairs = Vec::new();
                let mut n = 0u64;
                loop {
                    if h.indefinite() {
                        if self.at_end() {
                            return Err(self.eof("an indefinite-length container"));
                        }
                        if self.is_break() {
                            self.pos += 1;
                            break;
                        }
                    } else if n == h.arg {
                        break;
                    }
                    n += 1;
                    if is_map {
                        let k = self.value_depth(depth + 1)?;
                        let v = self.value_depth(depth + 1)?;
                        pairs.push((k, v));
                    } else {
                        items.push(self.value_depth(depth + 1)?);
                    }
                }
                if is_map {
                    Value::Map(pairs)
                } else {
                    Value::Array(items)
                }
            }
            6 => Value::Tag(h.arg, Box::new(self.value_depth(depth + 1)?)),
            _ => match h.info {
                20 => Value::Bool(false),
                21 => Value::Bool(true),
                22 => Value::Null,
                23 => Value::Undefined,
                25 => Value::Float(f16_to_f64(h.arg as u16)),
                26 => Value::Float(f32::from_bits(h.arg as u32) as f64),
                27 => Value::Float(f64::from_bits(h.arg)),
                31 => return Err(self.err(at, "break outside an indefinite-length item")),
                _ => Value::Simple(h.arg as u8),
            },
        })
    }
}

/// IEEE 754 half precision to f64 (RFC 8949 Appendix D).
pub fn f16_to_f64(half: u16) -> f64 {
    let exp = (half >> 10) & 0x1f;
    let mant = (half & 0x3ff) as f64;
    let val = if exp == 0 {
        mant * 2f64.powi(-24)
    } else if exp != 31 {
        (mant + 1024.0) * 2f64.powi(exp as i32 - 25)
    } else if mant == 0.0 {
        f64::INFINITY
    } else {
        f64::NAN
    };
    if half & 0x8000 != 0 {
        -val
    } else {
        val
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_floats() {
        assert_eq!(f16_to_f64(0x3c00), 1.0);
        assert_eq!(f16_to_f64(0x7bff), 65504.0);
        assert_eq!(f16_to_f64(0x0001), 5.960464477539063e-8);
        assert!(f16_to_f64(0x7e00).is_nan());
        assert_eq!(f16_to_f64(0xfc00), f64::NEG_INFINITY);
    }

    #[test]
    fn reserved_info_is_an_error() {
        let mut c = Cursor::new(&[0x1c], 0);
        assert!(c.head().is_err());
    }

    #[test]
    fn indefinite_text_concatenates() {
        // (_ "strea", "ming")
        let b = [0x7f, 0x65, b's', b't', b'r', b'e', b'a', 0x64, b'm', b'i', b'n', b'g', 0xff];
        let mut c = Cursor::new(&b, 0);
        assert_eq!(c.value().unwrap(), Value::Text("streaming".into()));
    }

    fn json_text(cbor: &[u8]) -> String {
        Cursor::new(cbor, 0).value().unwrap().to_json().to_string()
    }

    #[test]
    fn ordinary_keys_render_as_before() {
        // {"a": 1, 2: "b", {"k": h'01'}: null, [1, "x"]: true, 1.5: 0}
        let b = [
            0xa5, 0x61, b'a', 0x01, 0x02, 0x61, b'b', 0xa1, 0x61, b'k', 0x41, 0x01, 0xf6, 0x82, 0x01, 0x61, b'x', 0xf5,
            0xf9, 0x3e, 0x00, 0x00,
        ];
        assert_eq!(json_text(&b), r#"{"a":1,"2":"b","{\"k\":{\"$bytes\":\"01\"}}":null,"[1,\"x\"]":true,"1.5":0}"#);
    }

    #[test]
    fn a_container_key_inside_a_key_renders_as_its_cbor_hex() {
        // {{{"a": 1}: 2}: 3}: the outer key is JSON text, the key inside it its CBOR in hex.
        let b = [0xa1, 0xa1, 0xa1, 0x61, b'a', 0x01, 0x02, 0x03];
        assert_eq!(json_text(&b), r#"{"{\"{\\\"$cbor\\\":\\\"a1616101\\\"}\":2}":3}"#);
        // A scalar key inside a key stays its JSON text.
        let b = [0xa1, 0xa1, 0x05, 0x02, 0x03];
        assert_eq!(json_text(&b), r#"{"{\"5\":2}":3}"#);
    }

    /// F-CBOR-KEYS (docs/fuzzing.md): maps keyed by maps keyed by maps… rendered in exponential
    /// size (each level re-escaped the one below); the rendering is now linear in the input.
    #[test]
    fn nested_map_keys_render_in_linear_size() {
        for depth in [26usize, 100, 250] {
            // depth map heads {K: 0}, then the innermost key 0 and depth values 0.
            let mut b = vec![0xa1; depth];
            b.extend(std::iter::repeat_n(0x00, depth + 1));
            let t = std::time::Instant::now();
            let text = json_text(&b);
            assert!(text.len() <= 16 * b.len(), "depth {depth}: {} bytes of JSON from {} of CBOR", text.len(), b.len());
            assert!(t.elapsed().as_secs_f64() < 1.0, "depth {depth}: {:?}", t.elapsed());
            serde_json::from_str::<serde_json::Value>(&text).expect("valid JSON");
        }
    }

    #[test]
    fn truncated_is_eof() {
        let b = [0x65, b'a', b'b'];
        let e = Cursor::new(&b, 0).value().unwrap_err();
        assert!(e.eof);
    }
}
