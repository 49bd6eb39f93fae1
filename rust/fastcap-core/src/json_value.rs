//! Reading single JSON values the way the Python readers of HAR and traffic.jsonl read them (with
//! orjson), so that the native fast paths (`jsonl`, `har`) give the same answers: numbers as
//! Python's `float(v)` for an int or float, and whether a JSON text is byte for byte what
//! `orjson.dumps(orjson.loads(text))` writes (then it can be kept as it is, unparsed).

use serde_json::value::RawValue;

/// A JSON number token (not a bool, string or null) as `float(v)` would give it.
pub fn number(raw: Option<&RawValue>) -> Option<f64> {
    let text = raw?.get();
    let first = *text.as_bytes().first()?;
    if first == b'-' || first.is_ascii_digit() {
        text.parse::<f64>().ok().filter(|v| v.is_finite())
    } else {
        None
    }
}

/// A JSON integer token (no fraction, no exponent) that fits an `i64`.
pub fn integer(raw: Option<&RawValue>) -> Option<i64> {
    let text = raw?.get();
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        text.parse::<i64>().ok()
    } else {
        None
    }
}

/// Whether `text` (one valid JSON value) is exactly what orjson writes for the value it parses to:
/// compact, strings escaped only where orjson escapes them, integers within 64 bits and floats in
/// the plain notation orjson uses. A `false` costs the caller a parse and a write, never a wrong
/// byte. (Duplicate object keys, which orjson would collapse, are not looked for.)
pub fn is_canonical(text: &[u8]) -> bool {
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'"' => match canonical_string_end(text, i + 1) {
                Some(end) => i = end,
                None => return false,
            },
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < text.len() && matches!(text[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9') {
                    i += 1;
                }
                if !canonical_number(&text[start..i]) {
                    return false;
                }
            }
            b' ' | b'\t' | b'\n' | b'\r' => return false,
            _ => i += 1,
        }
    }
    true
}

/// The position after the closing quote of the string whose body starts at `i`, when every escape
/// in it is one orjson writes (`\"`, `\\`, the short control escapes, `\u00XX` below 0x20).
fn canonical_string_end(text: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let at = i + memchr::memchr2(b'"', b'\\', text.get(i..)?)?;
        if text[at] == b'"' {
            return Some(at + 1);
        }
        match *text.get(at + 1)? {
            b'"' | b'\\' | b'n' | b'r' | b't' | b'b' | b'f' => i = at + 2,
            b'u' => {
                let hex = text.get(at + 2..at + 6)?;
                let code = u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?;
                let short = matches!(code, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d);
                if code >= 0x20 || short || hex.iter().any(|b| b.is_ascii_uppercase()) {
                    return None;
                }
                i = at + 6;
            }
            _ => return None,
        }
    }
}

fn canonical_number(token: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(token) else { return false };
    if !token.iter().any(|b| matches!(b, b'.' | b'e' | b'E')) {
        // orjson reads integers of up to 64 bits (signed or unsigned); "-0" comes back as "0".
        return text != "-0" && (text.parse::<i64>().is_ok() || text.parse::<u64>().is_ok());
    }
    if token.iter().any(|b| matches!(b, b'e' | b'E')) {
        return false;
    }
    let Ok(value) = text.parse::<f64>() else { return false };
    let magnitude = value.abs();
    if !(value == 0.0 || (1e-4..1e15).contains(&magnitude)) {
        return false; // orjson switches to an exponent somewhere out there: let it write it
    }
    let mut shortest = format!("{value}");
    if !shortest.contains('.') {
        shortest.push_str(".0");
    }
    shortest == text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_texts() {
        assert!(is_canonical(br#"{"a":[1,2.5,-0.0,"x\"\\\n\u001f"],"b":null,"c":true}"#));
        assert!(is_canonical("\"k\u{e4}se \u{2028}/\"".as_bytes()));
        for text in [
            r#"{"a": 1}"#,
            r#"{"a":1.50}"#,
            r#"{"a":1e5}"#,
            r#"{"a":-0}"#,
            r#""\/""#,
            r#""\u00e4""#,
            r#""\u000A""#,
            r#""\u001F""#,
            "[1,\n2]",
            "123456789012345678901234567890",
        ] {
            assert!(!is_canonical(text.as_bytes()), "{text}");
        }
    }

    #[test]
    fn numbers_as_python_float() {
        fn raw(s: &str) -> &RawValue {
            serde_json::from_str(s).unwrap()
        }
        assert_eq!(number(Some(raw("1"))), Some(1.0));
        assert_eq!(number(Some(raw("-2.5e1"))), Some(-25.0));
        assert_eq!(number(Some(raw("true"))), None);
        assert_eq!(number(Some(raw("\"1\""))), None);
        assert_eq!(integer(Some(raw("200"))), Some(200));
        assert_eq!(integer(Some(raw("200.0"))), None);
    }
}
