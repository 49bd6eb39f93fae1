//! A hand-written reader of the extraction schema: fills the same borrowed structs ([`Root`] and
//! its members) that the serde derive fills, with the same results on every input, without
//! serde's visitor machinery (which profiles showed at most of the column path's time).
//!
//! "The same results" means serde_json's exact behaviour, which the differential tests check
//! against the serde reference (the test-only `super::reference`):
//!
//! * values at positions the schema reads (a known key of a known struct, or an element of an
//!   `LVec`) are parsed fully: strings are validated (control characters, escapes, paired
//!   surrogates), numbers must be finite; a known key given twice is an error, as serde's derive
//!   makes it;
//! * keys of objects the schema walks are parsed as validated strings; everything else (values of
//!   unknown keys, the contents of a wrongly typed container) is skipped by syntax only, like
//!   serde_json's `ignore_value`: escapes are checked for form but not decoded, numbers for
//!   grammar but not range, and nesting is unlimited (the skip is iterative, not recursive);
//! * numbers follow serde_json's classification and float conversion: an integer literal is `u64` (positive) or `i64`
//!   (negative; `-0` and magnitudes past `i64::MIN` are `f64`); one with a fraction or exponent, or
//!   beyond `u64`, is `f64`.
//!
//! Like serde_json, at most 127 containers may be open on the read path (`response` nests `Root`
//! recursively); skipped values may nest without limit.

use std::borrow::Cow;

use super::{
    Block, CacheCreation, Candidate, ChatDelta, ChatToolCall, Choice, Content, Delta, Details, ErrorObj, Func, Item,
    LBool, LInt, LObj, LStr, LVec, Message, Part, Root, StrOr, Usage, UsageMeta,
};

/// Not valid JSON (or not valid for the schema in the ways serde_json rejects).
#[derive(Debug)]
pub(super) struct Bad;

type R<T> = Result<T, Bad>;

/// A parsed number, classified as serde_json does.
#[derive(Debug, Clone, Copy)]
enum Num {
    U64(u64),
    I64(i64),
    F64(f64),
}

/// Parses `data` (one event's JSON text) into `root` (a default [`Root`]), in place.
pub(super) fn parse_root<'a>(data: &'a str, root: &mut Root<'a>) -> R<()> {
    let mut p = P { s: data.as_bytes(), src: data, i: 0, depth: 0 };
    p.ws();
    if p.peek() != Some(b'{') {
        return Err(Bad);
    }
    p.obj_into(root)?;
    p.ws();
    if p.i != p.s.len() {
        return Err(Bad);
    }
    Ok(())
}

struct P<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
    /// Read-path containers open (`response` nests `Root` recursively, so this is bounded by
    /// serde_json's limit rather than by the schema).
    depth: u32,
}

/// serde_json fails when a 128th container opens on its read path.
const MAX_DEPTH: u32 = 127;

/// Any byte below 0x20, eight at a time: `(w - 0x20…) & !w` flags the lowest such byte of a word
/// exactly (a false flag can only sit above a true one), which is all "any" needs.
#[inline(always)]
fn has_control(b: &[u8]) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut words = b.chunks_exact(8);
    let mut acc = 0u64;
    for c in &mut words {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        acc |= w.wrapping_sub(LO * 0x20) & !w;
    }
    acc & HI != 0 || words.remainder().iter().any(|&c| c < 0x20)
}

/// Index of the first byte at or after `i` that is `"`, `\` or a control character (< 0x20):
/// a vectorised search for the quote or backslash, then a (vectorisable) check of the bytes
/// before it for control characters, which valid strings never contain.
#[inline(always)]
fn find_special(s: &[u8], i: usize) -> Option<usize> {
    // Keys and most enum-like values are short: a plain loop beats the set-up of a vector search.
    let short = (i + 16).min(s.len());
    for (j, &c) in s[i..short].iter().enumerate() {
        if c == b'"' || c == b'\\' || c < 0x20 {
            return Some(i + j);
        }
    }
    let i = short;
    let rest = &s[i..];
    let k = memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
    let before = &rest[..k];
    if has_control(before) {
        return before.iter().position(|&c| c < 0x20).map(|j| i + j);
    }
    (k < rest.len()).then_some(i + k)
}

#[inline]
fn hex(c: u8) -> Option<u16> {
    match c {
        b'0'..=b'9' => Some(u16::from(c - b'0')),
        b'a'..=b'f' => Some(u16::from(c - b'a' + 10)),
        b'A'..=b'F' => Some(u16::from(c - b'A' + 10)),
        _ => None,
    }
}

impl<'a> P<'a> {
    #[inline(always)]
    fn ws(&mut self) {
        while let Some(&c) = self.s.get(self.i) {
            if matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    #[inline(always)]
    fn eat(&mut self, c: u8) -> R<()> {
        self.ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(Bad)
        }
    }

    fn literal(&mut self, lit: &[u8]) -> R<()> {
        if self.s[self.i..].starts_with(lit) {
            self.i += lit.len();
            Ok(())
        } else {
            Err(Bad)
        }
    }

    fn hex4(&mut self) -> R<u16> {
        let b = self.s.get(self.i..self.i + 4).ok_or(Bad)?;
        let mut n = 0u16;
        for &c in b {
            n = (n << 4) | hex(c).ok_or(Bad)?;
        }
        self.i += 4;
        Ok(n)
    }

    // -- strings ---------------------------------------------------------------------------------

    /// Skips a string (the opening quote already consumed), checking its form only.
    fn skip_str(&mut self) -> R<()> {
        loop {
            let k = find_special(self.s, self.i).ok_or(Bad)?;
            match self.s[k] {
                b'"' => {
                    self.i = k + 1;
                    return Ok(());
                }
                b'\\' => {
                    self.i = k + 1;
                    match self.peek().ok_or(Bad)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 1,
                        b'u' => {
                            self.i += 1;
                            self.hex4()?;
                        }
                        _ => return Err(Bad),
                    }
                }
                _ => return Err(Bad),
            }
        }
    }

    /// Reads a string (the opening quote already consumed), validated and decoded: borrowed when
    /// it has no escape.
    fn read_str(&mut self) -> R<Cow<'a, str>> {
        let start = self.i;
        let k = find_special(self.s, self.i).ok_or(Bad)?;
        if self.s[k] == b'"' {
            self.i = k + 1;
            // Both ends are ASCII bytes of a `str`, so this is a char boundary slice.
            return Ok(Cow::Borrowed(&self.src[start..k]));
        }
        let mut out = String::new();
        let mut seg = start;
        let mut k = k;
        loop {
            out.push_str(&self.src[seg..k]);
            match self.s[k] {
                b'"' => {
                    self.i = k + 1;
                    return Ok(Cow::Owned(out));
                }
                b'\\' => {
                    self.i = k + 1;
                    let c = self.peek().ok_or(Bad)?;
                    self.i += 1;
                    match c {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => out.push(self.unicode_escape()?),
                        _ => return Err(Bad),
                    }
                }
                _ => return Err(Bad),
            }
            seg = self.i;
            k = find_special(self.s, self.i).ok_or(Bad)?;
        }
    }

    /// The character of a `\u` escape (after `\u`); surrogates must come as a valid pair.
    fn unicode_escape(&mut self) -> R<char> {
        let n = self.hex4()?;
        match n {
            0xDC00..=0xDFFF => Err(Bad),
            0xD800..=0xDBFF => {
                if self.s.get(self.i..self.i + 2) != Some(b"\\u") {
                    return Err(Bad);
                }
                self.i += 2;
                let n2 = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&n2) {
                    return Err(Bad);
                }
                let c = ((u32::from(n - 0xD800) << 10) | u32::from(n2 - 0xDC00)) + 0x1_0000;
                char::from_u32(c).ok_or(Bad)
            }
            _ => char::from_u32(u32::from(n)).ok_or(Bad),
        }
    }

    // -- numbers ---------------------------------------------------------------------------------

    /// Checks the number grammar (`-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`) from
    /// the current position; returns whether it had a fraction or exponent.
    fn number_syntax(&mut self) -> R<bool> {
        let s = self.s;
        if s.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        match s.get(self.i) {
            Some(b'0') => {
                self.i += 1;
                if matches!(s.get(self.i), Some(b'0'..=b'9')) {
                    return Err(Bad);
                }
            }
            Some(b'1'..=b'9') => {
                while matches!(s.get(self.i), Some(b'0'..=b'9')) {
                    self.i += 1;
                }
            }
            _ => return Err(Bad),
        }
        let mut float = false;
        if s.get(self.i) == Some(&b'.') {
            float = true;
            self.i += 1;
            let d = self.i;
            while matches!(s.get(self.i), Some(b'0'..=b'9')) {
                self.i += 1;
            }
            if self.i == d {
                return Err(Bad);
            }
        }
        if matches!(s.get(self.i), Some(b'e' | b'E')) {
            float = true;
            self.i += 1;
            if matches!(s.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            let d = self.i;
            while matches!(s.get(self.i), Some(b'0'..=b'9')) {
                self.i += 1;
            }
            if self.i == d {
                return Err(Bad);
            }
        }
        Ok(float)
    }

    /// Parses a number at a read position: value and class as serde_json gives them; an infinite
    /// value is an error ("number out of range").
    fn read_num(&mut self) -> R<Num> {
        let start = self.i;
        let float = self.number_syntax()?;
        let text = &self.src[start..self.i];
        // serde_json's own float conversion (not always the correctly rounded value), so that a
        // float read as an integer field comes out the same; rare on this path.
        let as_f64 = || -> R<Num> { serde_json::from_str::<f64>(text).map(Num::F64).map_err(|_| Bad) };
        if float {
            return as_f64();
        }
        let (neg, digits) = match text.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, text),
        };
        let mut v: u64 = 0;
        for &c in digits.as_bytes() {
            v = match v.checked_mul(10).and_then(|x| x.checked_add(u64::from(c - b'0'))) {
                Some(x) => x,
                None => return as_f64(),
            };
        }
        if !neg {
            return Ok(Num::U64(v));
        }
        let n = (v as i64).wrapping_neg();
        Ok(if n >= 0 { Num::F64(-(v as f64)) } else { Num::I64(n) })
    }

    // -- skipping (serde_json's ignore_value) ------------------------------------------------------

    /// Skips one value by syntax only; iterative, so nesting depth is unlimited.
    fn skip_value(&mut self) -> R<()> {
        // Container kinds of the open levels, one bit each (1 = object), spilling to a Vec.
        let mut bits: u64 = 0;
        let mut depth: usize = 0;
        let mut spill: Vec<bool> = Vec::new();
        let top_is_obj = |bits: u64, depth: usize, spill: &Vec<bool>| -> bool {
            if depth > 64 {
                spill[depth - 65]
            } else {
                bits >> (depth - 1) & 1 == 1
            }
        };
        loop {
            // A value.
            self.ws();
            match self.peek().ok_or(Bad)? {
                b'"' => {
                    self.i += 1;
                    self.skip_str()?;
                }
                b'-' | b'0'..=b'9' => {
                    self.number_syntax()?;
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                c @ (b'[' | b'{') => {
                    self.i += 1;
                    self.ws();
                    let close = if c == b'[' { b']' } else { b'}' };
                    if self.peek() == Some(close) {
                        self.i += 1;
                    } else {
                        depth += 1;
                        if depth > 64 {
                            spill.push(c == b'{');
                        } else if c == b'{' {
                            bits |= 1 << (depth - 1);
                        } else {
                            bits &= !(1 << (depth - 1));
                        }
                        if c == b'{' {
                            self.eat(b'"')?;
                            self.skip_str()?;
                            self.eat(b':')?;
                        }
                        continue;
                    }
                }
                _ => return Err(Bad),
            }
            // After a complete value: commas and closing brackets.
            loop {
                if depth == 0 {
                    return Ok(());
                }
                let obj = top_is_obj(bits, depth, &spill);
                self.ws();
                match self.peek().ok_or(Bad)? {
                    b',' => {
                        self.i += 1;
                        if obj {
                            self.eat(b'"')?;
                            self.skip_str()?;
                            self.eat(b':')?;
                        }
                        break;
                    }
                    b']' if !obj => self.i += 1,
                    b'}' if obj => self.i += 1,
                    _ => return Err(Bad),
                }
                if depth > 64 {
                    spill.pop();
                }
                depth -= 1;
            }
        }
    }

    // -- read-path containers ----------------------------------------------------------------------

    /// Walks an object (at `{`): every key is read as a validated string and handed to `f` with
    /// the parser at its value; `f` returns false for a key it does not read (the value is then
    /// skipped).
    fn walk_obj(&mut self, mut f: impl FnMut(&mut Self, &str) -> R<bool>) -> R<()> {
        self.enter()?;
        self.i += 1;
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            self.eat(b'"')?;
            let key = self.read_str()?;
            self.eat(b':')?;
            if !f(self, &key)? {
                self.skip_value()?;
            }
            self.ws();
            match self.peek().ok_or(Bad)? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(Bad),
            }
        }
    }

    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            Err(Bad)
        } else {
            Ok(())
        }
    }

    /// Walks an array (at `[`), handing each element position to `f`, which must consume it.
    fn walk_arr(&mut self, mut f: impl FnMut(&mut Self) -> R<()>) -> R<()> {
        self.enter()?;
        self.i += 1;
        self.ws();
        if self.peek() == Some(b']') {
            self.i += 1;
            self.depth -= 1;
            return Ok(());
        }
        loop {
            f(self)?;
            self.ws();
            match self.peek().ok_or(Bad)? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    self.depth -= 1;
                    return Ok(());
                }
                _ => return Err(Bad),
            }
        }
    }

    /// A struct of the schema (at `{`).
    fn obj<T: Schema<'a>>(&mut self) -> R<T> {
        let mut t = T::default();
        self.obj_into(&mut t)?;
        Ok(t)
    }

    /// Reads a struct of the schema (at `{`) into `t`.
    fn obj_into<T: Schema<'a>>(&mut self, t: &mut T) -> R<()> {
        let mut seen = 0u32;
        self.walk_obj(|p, key| match T::index(key) {
            None => Ok(false),
            Some(k) => {
                if seen & (1 << k) != 0 {
                    return Err(Bad); // serde's derive: "duplicate field"
                }
                seen |= 1 << k;
                t.read(p, k)?;
                Ok(true)
            }
        })
    }

    // -- loose leaves (the Deserialize impls of extract.rs) --------------------------------------

    /// Reads any value at a read position, handing strings, numbers, booleans, objects and arrays
    /// to the matching arm; wrong-typed containers are walked with their contents skipped.
    #[inline]
    fn any<T>(&mut self, k: Kinds<'_, 'a, T>) -> R<T> {
        self.ws();
        match self.peek().ok_or(Bad)? {
            b'"' => {
                self.i += 1;
                let s = self.read_str()?;
                Ok((k.str)(s))
            }
            b'-' | b'0'..=b'9' => {
                let n = self.read_num()?;
                Ok((k.num)(n))
            }
            b't' => {
                self.literal(b"true")?;
                Ok((k.boolean)(Some(true)))
            }
            b'f' => {
                self.literal(b"false")?;
                Ok((k.boolean)(Some(false)))
            }
            b'n' => {
                self.literal(b"null")?;
                Ok((k.boolean)(None))
            }
            b'{' => match k.obj {
                Some(f) => f(self),
                None => {
                    self.walk_obj(|_, _| Ok(false))?;
                    Ok((k.boolean)(None))
                }
            },
            b'[' => match k.arr {
                Some(f) => f(self),
                None => {
                    self.walk_arr(|p| p.skip_value())?;
                    Ok((k.boolean)(None))
                }
            },
            _ => Err(Bad),
        }
    }

    fn lstr(&mut self) -> R<LStr<'a>> {
        self.any(Kinds {
            str: &|s| LStr(Some(s)),
            num: &|n| match n {
                Num::U64(v) => LStr(Some(Cow::Owned(v.to_string()))),
                Num::I64(v) => LStr(Some(Cow::Owned(v.to_string()))),
                Num::F64(_) => LStr(None),
            },
            boolean: &|_| LStr(None),
            obj: None,
            arr: None,
        })
    }

    fn lint(&mut self) -> R<LInt> {
        self.any(Kinds {
            str: &|_| LInt(None),
            num: &|n| match n {
                Num::U64(v) => LInt(i64::try_from(v).ok()),
                Num::I64(v) => LInt(Some(v)),
                Num::F64(v) => LInt((v.fract() == 0.0 && v.abs() < 9.0e15).then_some(v as i64)),
            },
            boolean: &|_| LInt(None),
            obj: None,
            arr: None,
        })
    }

    fn lbool(&mut self) -> R<LBool> {
        self.any(Kinds { str: &|_| LBool(None), num: &|_| LBool(None), boolean: &LBool, obj: None, arr: None })
    }

    fn str_or<T: Schema<'a>>(&mut self) -> R<StrOr<'a, T>> {
        self.any(Kinds {
            str: &StrOr::Str,
            num: &|_| StrOr::None,
            boolean: &|_| StrOr::None,
            obj: Some(&|p: &mut Self| p.obj::<T>().map(StrOr::Obj)),
            arr: None,
        })
    }

    fn lobj<T: Schema<'a>>(&mut self) -> R<LObj<T>> {
        self.any(Kinds {
            str: &|_| LObj(None),
            num: &|_| LObj(None),
            boolean: &|_| LObj(None),
            obj: Some(&|p: &mut Self| p.obj::<T>().map(|t| LObj(Some(t)))),
            arr: None,
        })
    }

    fn lvec<T: Schema<'a>>(&mut self) -> R<LVec<T>> {
        self.any(Kinds {
            str: &|_| LVec(Vec::new()),
            num: &|_| LVec(Vec::new()),
            boolean: &|_| LVec(Vec::new()),
            obj: Some(&|p: &mut Self| {
                p.walk_obj(|_, _| Ok(false))?;
                Ok(LVec(Vec::new()))
            }),
            arr: Some(&|p: &mut Self| {
                let mut out = Vec::new();
                p.walk_arr(|p| {
                    if let StrOr::Obj(t) = p.str_or::<T>()? {
                        out.push(t);
                    }
                    Ok(())
                })?;
                Ok(LVec(out))
            }),
        })
    }
}

/// What a loose leaf makes of each JSON type (`boolean(None)` is null, and also the value of a
/// wrongly typed container).
struct Kinds<'k, 'a, T> {
    str: &'k dyn Fn(Cow<'a, str>) -> T,
    num: &'k dyn Fn(Num) -> T,
    boolean: &'k dyn Fn(Option<bool>) -> T,
    obj: Option<Container<'k, 'a, T>>,
    arr: Option<Container<'k, 'a, T>>,
}

/// Reads a container value in place of the default walk-and-skip.
type Container<'k, 'a, T> = &'k dyn Fn(&mut P<'a>) -> R<T>;

/// A struct of the schema: its field names (index = bit in the duplicate check) and readers.
trait Schema<'a>: Default + Sized {
    fn index(key: &str) -> Option<u32>;
    fn read(&mut self, p: &mut P<'a>, k: u32) -> R<()>;
}

/// `impl Schema` from a list of `"json name" => field: reader` entries.
macro_rules! schema {
    ($ty:ty, $($name:literal => $field:ident : $reader:ident $(::<$t:ty>)?),+ $(,)?) => {
        impl<'a> Schema<'a> for $ty {
            #[inline]
            fn index(key: &str) -> Option<u32> {
                let names: &[&str] = &[$($name),+];
                names.iter().position(|n| *n == key).map(|i| i as u32)
            }
            fn read(&mut self, p: &mut P<'a>, k: u32) -> R<()> {
                let mut i = 0u32;
                $(
                    if k == i {
                        self.$field = p.$reader$(::<$t>)?()?;
                        return Ok(());
                    }
                    i += 1;
                )+
                let _ = i;
                Err(Bad)
            }
        }
    };
}

schema!(Root<'a>,
    "type" => ty: lstr,
    "delta" => delta: str_or::<Delta<'a>>,
    "content_block" => content_block: str_or::<Block<'a>>,
    "message" => message: str_or::<Box<Message<'a>>>,
    "usage" => usage: lobj::<Box<Usage>>,
    "error" => error: str_or::<Box<ErrorObj<'a>>>,
    "code" => code: lstr,
    "model" => model: lstr,
    "status" => status: lstr,
    "choices" => choices: lvec::<Choice<'a>>,
    "item" => item: str_or::<Item<'a>>,
    "response" => response: str_or::<Box<Root<'a>>>,
    "candidates" => candidates: lvec::<Candidate<'a>>,
    "usageMetadata" => usage_metadata: lobj::<UsageMeta>,
    "modelVersion" => model_version: lstr,
    "index" => index: lint,
    "item_id" => item_id: lstr,
);

impl<'a, T: Schema<'a>> Schema<'a> for Box<T> {
    fn index(key: &str) -> Option<u32> {
        T::index(key)
    }
    fn read(&mut self, p: &mut P<'a>, k: u32) -> R<()> {
        (**self).read(p, k)
    }
}

schema!(Delta<'a>,
    "type" => ty: lstr,
    "text" => text: lstr,
    "thinking" => thinking: lstr,
    "stop_reason" => stop_reason: lstr,
    "partial_json" => partial_json: lstr,
);
schema!(Block<'a>, "type" => ty: lstr, "name" => name: lstr);
schema!(Message<'a>, "model" => model: lstr, "stop_reason" => stop_reason: lstr, "usage" => usage: lobj::<Box<Usage>>);
schema!(Usage,
    "input_tokens" => input_tokens: lint,
    "output_tokens" => output_tokens: lint,
    "cache_read_input_tokens" => cache_read_input_tokens: lint,
    "cache_creation_input_tokens" => cache_creation_input_tokens: lint,
    "cache_creation" => cache_creation: lobj::<CacheCreation>,
    "prompt_tokens" => prompt_tokens: lint,
    "completion_tokens" => completion_tokens: lint,
    "input_tokens_details" => input_tokens_details: lobj::<Details>,
    "prompt_tokens_details" => prompt_tokens_details: lobj::<Details>,
    "output_tokens_details" => output_tokens_details: lobj::<Details>,
    "completion_tokens_details" => completion_tokens_details: lobj::<Details>,
);
schema!(Details,
    "cached_tokens" => cached_tokens: lint,
    "cache_write_tokens" => cache_write_tokens: lint,
    "reasoning_tokens" => reasoning_tokens: lint,
    "thinking_tokens" => thinking_tokens: lint,
);
schema!(CacheCreation, "ephemeral_1h_input_tokens" => ephemeral_1h_input_tokens: lint);
schema!(UsageMeta,
    "promptTokenCount" => prompt: lint,
    "candidatesTokenCount" => candidates: lint,
    "cachedContentTokenCount" => cached: lint,
    "thoughtsTokenCount" => thoughts: lint,
);
schema!(ErrorObj<'a>, "type" => ty: lstr, "message" => message: lstr, "code" => code: lstr, "status" => status: lstr);
schema!(Choice<'a>, "index" => index: lint, "delta" => delta: str_or::<ChatDelta<'a>>, "finish_reason" => finish_reason: lstr);
schema!(ChatDelta<'a>,
    "content" => content: lstr,
    "reasoning_content" => reasoning_content: lstr,
    "reasoning" => reasoning: lstr,
    "tool_calls" => tool_calls: lvec::<ChatToolCall<'a>>,
);
schema!(ChatToolCall<'a>, "index" => index: lint, "function" => function: str_or::<Func<'a>>);
schema!(Func<'a>, "name" => name: lstr, "arguments" => arguments: lstr);
schema!(Item<'a>, "name" => name: lstr, "id" => id: lstr, "call_id" => call_id: lstr);
schema!(Candidate<'a>, "index" => index: lint, "content" => content: str_or::<Content<'a>>, "finishReason" => finish_reason: lstr);
schema!(Content<'a>, "parts" => parts: lvec::<Part<'a>>);
schema!(Part<'a>, "text" => text: lstr, "thought" => thought: lbool, "functionCall" => function_call: str_or::<Func<'a>>);
