//! The generic CBOR decoder (`fastcap_core::cbor::decode::Cursor::value`, used for the header and
//! opaque metadata values) and the writer's generic encoder, on arbitrary bytes read as a CBOR
//! sequence.
//!
//! Invariants:
//! * no panic and no stack overflow, whatever the nesting (the decoder has a depth limit);
//! * every error carries an offset within the input, and an `eof` error is one the input's end
//!   caused (its offset is at or before the end);
//! * encoding is canonical after one pass: `encode(decode(encode(decode(x)))) == encode(decode(x))`
//!   (the first pass normalises what the writer spells differently: half and single floats,
//!   indefinite lengths, simple values below 24 written with a 1-byte argument);
//! * the JSON rendering of every value (`Value::to_json`) serialises, in a size linear in the
//!   input (map keys nested in map keys once rendered exponentially: F-CBOR-KEYS).
#![no_main]

use fastcap_core::cbor::decode::{Cursor, Value};
use fastcap_core::cbor::writer;
use libfuzzer_sys::fuzz_target;

/// Decodes `buf` as a CBOR sequence: the values before the first error, and the error.
fn decode_all(buf: &[u8]) -> (Vec<Value>, Option<fastcap_core::cbor::decode::DecodeError>) {
    let mut cur = Cursor::new(buf, 0);
    let mut out = Vec::new();
    while !cur.at_end() {
        let before = cur.pos;
        match cur.value() {
            Ok(v) => {
                assert!(cur.pos > before && cur.pos <= buf.len(), "cursor did not advance within the input");
                out.push(v);
            }
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

fn encode_all(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        writer::value(&mut out, v);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let (values, err) = decode_all(data);
    if let Some(e) = &err {
        assert!(e.offset <= data.len(), "error offset {} past the input ({}): {e:?}", e.offset, data.len());
        assert!(!e.message.is_empty());
    }
    // Linear: at most a few dozen JSON bytes per input byte (a half float is three bytes of CBOR
    // and up to 24 of JSON; a control character in a text inside a key, one byte and seven).
    let mut rendered = 0;
    for v in &values {
        rendered += serde_json::to_string(&v.to_json()).expect("the JSON rendering serialises").len();
    }
    assert!(rendered <= 64 * data.len() + 64, "{rendered} bytes of JSON from {} bytes of CBOR", data.len());
    let once = encode_all(&values);
    let (again, err2) = decode_all(&once);
    assert!(err2.is_none(), "the writer's encoding does not decode: {err2:?}");
    assert_eq!(again.len(), values.len(), "re-decoding changes the number of items");
    let twice = encode_all(&again);
    assert!(once == twice, "encoding is not canonical after one pass");
});
