//! The readable reference of [`super::extract`]: `serde_json` deserialising the same borrowed
//! structs (their `Deserialize` derives exist only in test builds) through the loose-leaf impls
//! below, then the same `from_root`. The hand-written reader (`scan`) must give exactly its
//! result on every input; the tests here check that on the fixtures, on edge cases and on
//! randomly mutated events. Test-only: the release library carries neither serde nor this code.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::path::PathBuf;

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{extract, from_root, Extracted, LBool, LInt, LObj, LStr, LVec, Root, StrOr};
use crate::sse::split;

/// [`extract`] through `serde_json` and the derived structs: the readable reference the fast
/// reader is tested against.
pub fn extract_reference(data: &str) -> Option<Extracted<'_>> {
    if !data.trim_start().starts_with('{') {
        return None;
    }
    match serde_json::from_str::<Root<'_>>(data) {
        Ok(root) => Some(from_root(root)),
        Err(_) => Some(Extracted { json_error: true, ..Extracted::default() }),
    }
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

impl<'de: 'a, 'a> Deserialize<'de> for LStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = LStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(LStr(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(LStr(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(LStr(Some(Cow::Owned(v))))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
                Ok(LStr(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(LStr(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(LStr(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(LStr(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(LStr(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                drain_map(map).map(|_| LStr(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                drain_seq(seq).map(|_| LStr(None))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

impl<'de> Deserialize<'de> for LInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LInt;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_i64<E>(self, v: i64) -> Result<LInt, E> {
                Ok(LInt(Some(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<LInt, E> {
                Ok(LInt(i64::try_from(v).ok()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<LInt, E> {
                let ok = v.fract() == 0.0 && v.abs() < 9.0e15;
                Ok(LInt(ok.then_some(v as i64)))
            }
            fn visit_str<E>(self, _: &str) -> Result<LInt, E> {
                Ok(LInt(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<LInt, E> {
                Ok(LInt(None))
            }
            fn visit_unit<E>(self) -> Result<LInt, E> {
                Ok(LInt(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<LInt, A::Error> {
                drain_map(map).map(|_| LInt(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<LInt, A::Error> {
                drain_seq(seq).map(|_| LInt(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for LBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LBool;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<LBool, E> {
                Ok(LBool(Some(v)))
            }
            fn visit_i64<E>(self, _: i64) -> Result<LBool, E> {
                Ok(LBool(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<LBool, E> {
                Ok(LBool(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<LBool, E> {
                Ok(LBool(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<LBool, E> {
                Ok(LBool(None))
            }
            fn visit_unit<E>(self) -> Result<LBool, E> {
                Ok(LBool(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<LBool, A::Error> {
                drain_map(map).map(|_| LBool(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<LBool, A::Error> {
                drain_seq(seq).map(|_| LBool(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de: 'a, 'a, T: Deserialize<'de>> Deserialize<'de> for StrOr<'a, T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a, T>(PhantomData<(&'a (), T)>);
        impl<'de: 'a, 'a, T: Deserialize<'de>> Visitor<'de> for V<'a, T> {
            type Value = StrOr<'a, T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(StrOr::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(StrOr::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(StrOr::None)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(StrOr::None)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(StrOr::None)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(StrOr::None)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(StrOr::None)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(StrOr::Obj)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                drain_seq(seq).map(|_| StrOr::None)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for LObj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = LObj<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<LObj<T>, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(|t| LObj(Some(t)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<LObj<T>, A::Error> {
                drain_seq(seq).map(|_| LObj(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<LObj<T>, E> {
                Ok(LObj(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<LObj<T>, E> {
                Ok(LObj(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<LObj<T>, E> {
                Ok(LObj(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<LObj<T>, E> {
                Ok(LObj(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<LObj<T>, E> {
                Ok(LObj(None))
            }
            fn visit_unit<E>(self) -> Result<LObj<T>, E> {
                Ok(LObj(None))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for LVec<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = LVec<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LVec<T>, A::Error> {
                let mut out = Vec::new();
                while let Some(e) = seq.next_element::<StrOr<'de, T>>()? {
                    if let StrOr::Obj(t) = e {
                        out.push(t);
                    }
                }
                Ok(LVec(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<LVec<T>, A::Error> {
                drain_map(map).map(|_| LVec(Vec::new()))
            }
            fn visit_str<E>(self, _: &str) -> Result<LVec<T>, E> {
                Ok(LVec(Vec::new()))
            }
            fn visit_i64<E>(self, _: i64) -> Result<LVec<T>, E> {
                Ok(LVec(Vec::new()))
            }
            fn visit_u64<E>(self, _: u64) -> Result<LVec<T>, E> {
                Ok(LVec(Vec::new()))
            }
            fn visit_f64<E>(self, _: f64) -> Result<LVec<T>, E> {
                Ok(LVec(Vec::new()))
            }
            fn visit_bool<E>(self, _: bool) -> Result<LVec<T>, E> {
                Ok(LVec(Vec::new()))
            }
            fn visit_unit<E>(self) -> Result<LVec<T>, E> {
                Ok(LVec(Vec::new()))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

// ---------------------------------------------------------------------------------------------
// The differential tests.

/// `tests/data/sse` of the repository.
fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/sse")
}

/// Small deterministic generator (no dev-dependency needed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The fast JSON reader of `extract` against the serde reference on one input.
fn same_extraction(data: &str) {
    assert_eq!(extract(data), extract_reference(data), "{data:?}");
}

fn fixture_event_data() -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["anthropic", "openai-chat", "openai-responses", "gemini"] {
        for entry in std::fs::read_dir(testdata().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                continue;
            }
            let body = std::fs::read(&path).unwrap();
            out.extend(split(&body).0.into_iter().map(|e| e.data));
        }
    }
    out
}

#[test]
fn fast_extraction_equals_serde_reference_on_fixtures_and_edge_cases() {
    let events = fixture_event_data();
    assert!(events.len() > 1000);
    for d in &events {
        same_extraction(d);
    }
    for c in &edge_cases() {
        same_extraction(c);
    }
}

fn edge_cases() -> Vec<String> {
    let deep_ignored = format!("{{\"x\":{}1{},\"type\":\"t\"}}", "[".repeat(5000), "]".repeat(5000));
    let deep_read = |n: usize| format!("{}{{}}{}", "{\"response\":".repeat(n), "}".repeat(n));
    let cases: Vec<String> = vec![
        // numbers: classes, ranges, grammar, read vs ignored positions
        r#"{"usage":{"input_tokens":-0,"output_tokens":3.0,"prompt_tokens":1e3,"completion_tokens":18446744073709551615}}"#.into(),
        r#"{"usage":{"input_tokens":9223372036854775808,"output_tokens":-9223372036854775808,"cache_read_input_tokens":-9223372036854775809}}"#.into(),
        r#"{"usage":{"input_tokens":99999999999999999999,"output_tokens":8999999999999999.0,"prompt_tokens":1.5}}"#.into(),
        r#"{"usage":{"input_tokens":1e400}}"#.into(),
        r#"{"unknown":1e400,"type":"x"}"#.into(),
        r#"{"code":-0,"type":"error","message":5}"#.into(),
        r#"{"code":12,"type":"error"}"#.into(),
        r#"{"code":1.0,"type":"error"}"#.into(),
        r#"{"code":-7,"error":{"code":007}}"#.into(),
        r#"{"x":01}"#.into(),
        r#"{"x":1.}"#.into(),
        r#"{"x":.5}"#.into(),
        r#"{"x":1e}"#.into(),
        r#"{"x":-}"#.into(),
        r#"{"x":1E+2,"y":-0.0e-0}"#.into(),
        // strings: escapes, surrogates (read vs ignored), control characters
        r#"{"type":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00"}"#.into(),
        r#"{"type":"\ud83d"}"#.into(),
        r#"{"type":"\ude00"}"#.into(),
        r#"{"type":"\ud83dx"}"#.into(),
        r#"{"type":"\ud83d\u0041"}"#.into(),
        r#"{"ignored":"\ud83d","type":"ok"}"#.into(),
        r#"{"type":"\x"}"#.into(),
        r#"{"type":"\u12"}"#.into(),
        "{\"type\":\"tab\there\"}".into(),
        "{\"ignored\":\"ctl\u{1}\"}".into(),
        "{\"type\":\"caf\u{e9} \u{1F600}\"}".into(),
        // keys: escaped names of known fields, duplicates of known and unknown keys
        r#"{"ty\u0070e":"escaped key","t\u00e9":1}"#.into(),
        r#"{"type":"a","type":"b"}"#.into(),
        r#"{"x":1,"x":2,"type":"dup unknown is fine"}"#.into(),
        r#"{"delta":{"text":"a","text":"b"}}"#.into(),
        r#"{"\ud800":1}"#.into(),
        // loose types: every JSON type at every kind of field
        r#"{"type":5,"delta":"str","content_block":[1],"message":true,"usage":"x","error":null,"choices":{"a":1},"item":1.5,"response":"r","candidates":"c","usageMetadata":[],"modelVersion":{"a":[1]}}"#.into(),
        r#"{"choices":[1,"a",null,[2,{"x":1}],{"index":"0","delta":{"content":7,"tool_calls":[{"function":{"name":3}},{"function":"f"},5]},"finish_reason":false}]}"#.into(),
        r#"{"candidates":[{"index":1,"content":{"parts":[{"text":"no"}]}},{"content":{"parts":[{"text":"a","thought":"yes"},{"text":"b","thought":1},{"text":"c","thought":true},{"functionCall":{"name":"f"}},{"functionCall":{"name":"g"}}]},"finishReason":"STOP"}]}"#.into(),
        r#"{"type":"response.completed","response":{"model":"m","status":"completed","usage":{"input_tokens":5,"input_tokens_details":{"cached_tokens":2},"output_tokens_details":{"reasoning_tokens":"x"}},"error":{"code":1,"message":"m"}}}"#.into(),
        r#"{"response":{"candidates":[{"content":{"parts":[{"text":"x"}]}}],"usageMetadata":{"promptTokenCount":4},"error":"e"}}"#.into(),
        // tool keys and arguments: loose types, duplicates, out-of-range indices
        r#"{"type":"content_block_delta","index":"2","delta":{"type":"input_json_delta","partial_json":5}}"#.into(),
        r#"{"type":"content_block_start","index":1.0,"content_block":{"type":"tool_use","name":"n"}}"#.into(),
        r#"{"type":"content_block_start","index":-3,"content_block":{"type":"mcp_tool_use"},"index":4}"#.into(),
        r#"{"type":"content_block_delta","index":1e400,"delta":{"type":"input_json_delta","partial_json":"{"}}"#.into(),
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"a","partial_json":"b"}}"#.into(),
        r#"{"type":"response.function_call_arguments.delta","item_id":7,"delta":"x"}"#.into(),
        r#"{"type":"response.custom_tool_call_input.delta","item_id":["a"],"delta":{"x":1}}"#.into(),
        r#"{"type":"response.output_item.added","item":{"name":"f","id":null,"call_id":12}}"#.into(),
        r#"{"type":"response.output_item.added","item":{"id":"fc","call_id":"c"}}"#.into(),
        r#"{"choices":[{"delta":{"tool_calls":[{"index":9223372036854775808},{"index":-1,"function":{"arguments":"é"}},{"index":2.5}]}}]}"#.into(),
        r#"{"choices":[{"delta":{"tool_calls":[{"index":2,"index":3}]}}]}"#.into(),
        r#"{"choices":[{"delta":{"tool_calls":[7,{"function":{"name":"f","arguments":null}},{"function":"s"}]}}]}"#.into(),
        r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"g","arguments":"a","arguments":"b"}}]}}]}"#.into(),
        // structure
        "{}".into(),
        " \t\r\n{ \"type\" : \"x\" , \"y\" : [ ] , \"z\" : { } } \n".into(),
        r#"{"type":"x"} trailing"#.into(),
        r#"{"type":"x",}"#.into(),
        r#"{"a":[1,]}"#.into(),
        r#"{"a":[1 2]}"#.into(),
        r#"{"a":{"b" 1}}"#.into(),
        r#"{"a":{1:2}}"#.into(),
        r#"{"a":tru}"#.into(),
        r#"{"a":nul,"b":1}"#.into(),
        r#"{"a":"unterminated}"#.into(),
        r#"{"type""#.into(),
        "{".into(),
        "\u{a0}{}".into(),
        r#"{"a":[[[{"b":[{}]}]]],"type":"deep but fine"}"#.into(),
        deep_ignored,
        deep_read(126),
        deep_read(127),
        deep_read(128),
        deep_read(3000),
    ];
    cases
}

#[test]
fn fast_extraction_equals_serde_reference_on_mutated_events() {
    let mut events = fixture_event_data();
    events.extend(edge_cases().into_iter().filter(|c| c.len() < 1000));
    const INSERTS: &[&str] = &[
        "\"",
        "\\",
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "0",
        "-",
        "e",
        ".",
        " ",
        "\u{1}",
        "n",
        "\\u",
        "\\ud800",
        "\\udc00",
        "1e999",
        "\"type\":",
        "null",
        "true",
        "é",
        "\"x\":\"y\",",
        "{\"a\":[]}",
    ];
    let mut rng = Lcg(2024);
    let mut errors = 0;
    for round in 0..100 {
        for d in &events {
            let mut s = d.clone();
            for _ in 0..1 + rng.below(3) {
                let mut at = rng.below(s.len() + 1);
                while !s.is_char_boundary(at) {
                    at -= 1;
                }
                match rng.below(3) {
                    0 => s.insert_str(at, INSERTS[rng.below(INSERTS.len())]),
                    1 => {
                        let mut end = (at + 1 + rng.below(6)).min(s.len());
                        while !s.is_char_boundary(end) {
                            end += 1;
                        }
                        s.replace_range(at..end, "");
                    }
                    _ => {
                        // Duplicate a slice elsewhere (repeats keys, values, brackets).
                        let mut end = (at + rng.below(20)).min(s.len());
                        while !s.is_char_boundary(end) {
                            end += 1;
                        }
                        let piece = s[at..end].to_owned();
                        let mut to = rng.below(s.len() + 1);
                        while !s.is_char_boundary(to) {
                            to -= 1;
                        }
                        s.insert_str(to, &piece);
                    }
                }
            }
            same_extraction(&s);
            if extract(&s).is_some_and(|x| x.json_error) {
                errors += 1;
            }
        }
        let _ = round;
    }
    // Both outcomes were exercised many times.
    assert!(errors > 20_000 && errors < 100 * events.len() - 20_000, "{errors}");
}
