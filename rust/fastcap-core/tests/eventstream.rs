//! EventStream decoder against the project fixtures (`tests/data/eventstream/`) and frames built
//! here with an independent test-side encoder.

mod common;

use std::path::PathBuf;

use fastcap_core::eventstream::{
    check_body, decode_body, decode_column, BodyReport, ErrorKind, Frame, HeaderValue, Limits, Mode, Options,
    OwnedFrame, StreamDecoder, Truncated,
};
use serde_json::Value;

fn data_dir() -> PathBuf {
    common::test_data("eventstream")
}

fn read(sub: &str, name: &str) -> Vec<u8> {
    std::fs::read(data_dir().join(sub).join(name)).unwrap_or_else(|e| panic!("{sub}/{name}: {e}"))
}

fn expected(sub: &str) -> Value {
    serde_json::from_slice(&read(sub, "expected.json")).unwrap()
}

fn strict() -> Options {
    Options::default()
}

fn resync() -> Options {
    Options { mode: Mode::Resync, limits: Limits::default() }
}

fn decode_all(body: &[u8], opts: &Options) -> (Vec<OwnedFrame>, BodyReport) {
    let mut frames = Vec::new();
    let r = decode_body(body, opts, |f| frames.push(f.to_owned_frame()));
    (frames, r)
}

/// Feeds `body` in chunks of the given sizes (cycled); returns frames and the first error
/// (a feed error, or the finish error).
fn decode_chunked(
    body: &[u8],
    sizes: &[usize],
    limits: Limits,
) -> (Vec<OwnedFrame>, Option<fastcap_core::eventstream::DecodeError>) {
    let mut d = StreamDecoder::new(limits);
    let mut frames = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    while pos < body.len() {
        let n = sizes[i % sizes.len()].min(body.len() - pos);
        i += 1;
        if let Err(e) = d.feed(&body[pos..pos + n], |f| frames.push(f.to_owned_frame())) {
            return (frames, Some(e));
        }
        pos += n;
    }
    (frames, d.finish().err())
}

/// Strict whole-body result in the shape of `decode_chunked`.
fn decode_strict(body: &[u8]) -> (Vec<OwnedFrame>, Option<fastcap_core::eventstream::DecodeError>) {
    let (frames, r) = decode_all(body, &strict());
    (frames, r.first_error())
}

// ------------------------------------------------------------------------------------------
// Test-side encoder: written from the spec (§2–§4), independent of the decoder.
// ------------------------------------------------------------------------------------------

enum V<'a> {
    True,
    False,
    Byte(i8),
    Short(i16),
    Int(i32),
    Long(i64),
    Bytes(&'a [u8]),
    Str(&'a str),
    Ts(i64),
    Uuid([u8; 16]),
}

fn header_bytes(name: &[u8], v: &V<'_>) -> Vec<u8> {
    let mut o = vec![name.len() as u8];
    o.extend_from_slice(name);
    match v {
        V::True => o.push(0),
        V::False => o.push(1),
        V::Byte(x) => {
            o.push(2);
            o.push(*x as u8)
        }
        V::Short(x) => {
            o.push(3);
            o.extend_from_slice(&x.to_be_bytes())
        }
        V::Int(x) => {
            o.push(4);
            o.extend_from_slice(&x.to_be_bytes())
        }
        V::Long(x) => {
            o.push(5);
            o.extend_from_slice(&x.to_be_bytes())
        }
        V::Bytes(b) => {
            o.push(6);
            o.extend_from_slice(&(b.len() as u16).to_be_bytes());
            o.extend_from_slice(b)
        }
        V::Str(s) => {
            o.push(7);
            o.extend_from_slice(&(s.len() as u16).to_be_bytes());
            o.extend_from_slice(s.as_bytes())
        }
        V::Ts(x) => {
            o.push(8);
            o.extend_from_slice(&x.to_be_bytes())
        }
        V::Uuid(u) => {
            o.push(9);
            o.extend_from_slice(u)
        }
    }
    o
}

/// A frame around a raw header block, with correct CRCs whatever the block holds.
fn frame_raw(header_block: &[u8], payload: &[u8]) -> Vec<u8> {
    let total = (16 + header_block.len() + payload.len()) as u32;
    let mut o = Vec::new();
    o.extend_from_slice(&total.to_be_bytes());
    o.extend_from_slice(&(header_block.len() as u32).to_be_bytes());
    let pc = crc32fast::hash(&o);
    o.extend_from_slice(&pc.to_be_bytes());
    o.extend_from_slice(header_block);
    o.extend_from_slice(payload);
    let mc = crc32fast::hash(&o);
    o.extend_from_slice(&mc.to_be_bytes());
    o
}

fn frame(headers: &[(&str, V<'_>)], payload: &[u8]) -> Vec<u8> {
    let block: Vec<u8> = headers.iter().flat_map(|(n, v)| header_bytes(n.as_bytes(), v)).collect();
    frame_raw(&block, payload)
}

fn cw_event(event_type: &str, payload: &str) -> Vec<u8> {
    frame(
        &[
            (":event-type", V::Str(event_type)),
            (":content-type", V::Str("application/json")),
            (":message-type", V::Str("event")),
        ],
        payload.as_bytes(),
    )
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

// ------------------------------------------------------------------------------------------
// Spec examples
// ------------------------------------------------------------------------------------------

#[test]
fn worked_frame_of_spec_2_1_is_byte_exact() {
    let wire = hex("00 00 00 7f 00 00 00 5c 7c 7d b5 a8 0b 3a 65 76 65 6e 74 2d 74 79 70 65 07 00 16 61 73 73 69 73
         74 61 6e 74 52 65 73 70 6f 6e 73 65 45 76 65 6e 74 0d 3a 63 6f 6e 74 65 6e 74 2d 74 79 70 65 07
         00 10 61 70 70 6c 69 63 61 74 69 6f 6e 2f 6a 73 6f 6e 0d 3a 6d 65 73 73 61 67 65 2d 74 79 70 65
         07 00 05 65 76 65 6e 74 7b 22 63 6f 6e 74 65 6e 74 22 3a 22 48 65 6c 6c 6f 22 7d 9b 5d 06 35");
    assert_eq!(wire.len(), 127);
    assert_eq!(cw_event("assistantResponseEvent", r#"{"content":"Hello"}"#), wire);
    let (frames, r) = decode_all(&wire, &strict());
    assert_eq!(r, BodyReport { frames: 1, ..Default::default() });
    let f = &frames[0];
    assert_eq!(f.total_length, 127);
    assert_eq!(f.payload, br#"{"content":"Hello"}"#);
    assert_eq!(f.headers.len(), 3);
    assert_eq!(f.headers[0].name, ":event-type");
}

#[test]
fn empty_message_bytes() {
    assert_eq!(frame(&[], b""), hex("00000010 00000000 05c248eb 7d98c8ff"));
    assert_eq!(check_body(&hex("00000010 00000000 05c248eb 7d98c8ff"), &Limits::default()), Ok(1));
}

// ------------------------------------------------------------------------------------------
// smithy-rs vectors
// ------------------------------------------------------------------------------------------

fn check_header(h: &fastcap_core::eventstream::OwnedHeader, exp: &Value) {
    use fastcap_core::eventstream::OwnedHeaderValue as O;
    assert_eq!(h.name, exp["name"].as_str().unwrap());
    let ok = match (&h.value, exp["type_code"].as_u64().unwrap()) {
        (O::Bool(true), 0) | (O::Bool(false), 1) => true,
        (O::Byte(v), 2) => *v as i64 == exp["value"].as_i64().unwrap(),
        (O::Short(v), 3) => *v as i64 == exp["value"].as_i64().unwrap(),
        (O::Int(v), 4) => *v as i64 == exp["value"].as_i64().unwrap(),
        (O::Long(v), 5) | (O::Timestamp(v), 8) => *v == exp["value"].as_i64().unwrap(),
        (O::Bytes(b), 6) => *b == hex(exp["value_hex"].as_str().unwrap()),
        (O::String(s), 7) => s == exp["value"].as_str().unwrap(),
        (O::Uuid(u), 9) => {
            fastcap_core::eventstream::uuid_string(*u) == exp["value"].as_str().unwrap()
                && u.to_be_bytes().to_vec() == hex(exp["value_hex"].as_str().unwrap())
        }
        _ => false,
    };
    assert!(ok, "{h:?} vs {exp}");
}

#[test]
fn smithy_vectors() {
    let exp = expected("smithy-rs");
    let files = exp["files"].as_object().unwrap();
    assert_eq!(files.len(), 11);
    for (name, e) in files {
        let body = read("smithy-rs", name);
        let (frames, r) = decode_all(&body, &strict());
        if e["valid"].as_bool().unwrap() {
            assert_eq!(r.first_error(), None, "{name}");
            assert_eq!(frames.len(), 1, "{name}");
            let f = &frames[0];
            let hs = e["headers"].as_array().unwrap();
            assert_eq!(f.headers.len(), hs.len(), "{name}");
            for (h, x) in f.headers.iter().zip(hs) {
                check_header(h, x);
            }
            assert_eq!(f.payload.len() as u64, e["payload_len"].as_u64().unwrap());
            assert_eq!(f.payload, e["payload_utf8"].as_str().unwrap().as_bytes());
        } else {
            let want = e["crc_first_error"].as_str().unwrap();
            assert!(frames.is_empty(), "{name}");
            let err = r.first_error().unwrap_or_else(|| panic!("{name}: no error"));
            assert_eq!(err.kind.name(), want, "{name}");
            assert_eq!(err.offset, 0, "{name}");
            assert_eq!(check_body(&body, &Limits::default()).unwrap_err().kind.name(), want);
            let stored = |k: &str| u32::from_str_radix(e[k].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
            match err.kind {
                ErrorKind::PreludeChecksumMismatch { expected, computed } => {
                    assert_eq!((expected, computed), (stored("prelude_crc_stored"), stored("prelude_crc_computed")))
                }
                ErrorKind::MessageChecksumMismatch { expected, computed } => {
                    assert_eq!((expected, computed), (stored("message_crc_stored"), stored("message_crc_computed")))
                }
                _ => {}
            }
        }
    }
}

#[test]
fn smithy_concatenation_in_chunks_of_1_to_11() {
    let exp = expected("smithy-rs");
    let mut body = Vec::new();
    for f in exp["multiple_streaming_messages"]["files"].as_array().unwrap() {
        body.extend(read("smithy-rs", f.as_str().unwrap()));
    }
    assert_eq!(body.len(), 217);
    let (whole, err) = decode_strict(&body);
    assert_eq!(err, None);
    assert_eq!(whole.len(), 3);
    assert_eq!(whole.iter().map(|f| f.offset).collect::<Vec<_>>(), [0, 150, 181]);
    for n in 1..=11 {
        let (frames, err) = decode_chunked(&body, &[n], Limits::default());
        assert_eq!(err, None, "chunk {n}");
        assert_eq!(frames, whole, "chunk {n}");
    }
}

#[test]
fn every_fixture_split_at_every_position_matches_whole_body() {
    let mut bodies = Vec::new();
    for sub in ["smithy-rs", "codewhisperer-shaped", "bedrock-real"] {
        for ent in std::fs::read_dir(data_dir().join(sub)).unwrap() {
            let p = ent.unwrap().path();
            if p.extension().is_none_or(|x| x != "json") {
                bodies.push(std::fs::read(p).unwrap());
            }
        }
    }
    assert_eq!(bodies.len(), 11 + 5 + 4);
    for body in &bodies {
        let want = decode_strict(body);
        for cut in 0..=body.len() {
            assert_eq!(decode_chunked(body, &[cut.max(1), body.len()], Limits::default()), want, "cut {cut}");
        }
        for sizes in [&[1usize][..], &[3, 7, 1, 16384], &[13, 2], &[127]] {
            assert_eq!(decode_chunked(body, sizes, Limits::default()), want);
        }
    }
}

// ------------------------------------------------------------------------------------------
// CodeWhisperer-shaped and Bedrock bodies
// ------------------------------------------------------------------------------------------

fn type_of(f: &OwnedFrame) -> (String, String) {
    let get = |n: &str| {
        f.headers.iter().find(|h| h.name == n).map(|h| match &h.value {
            fastcap_core::eventstream::OwnedHeaderValue::String(s) => s.clone(),
            v => panic!("{v:?}"),
        })
    };
    let mt = get(":message-type").unwrap();
    let ty = if mt == "exception" { get(":exception-type") } else { get(":event-type") };
    (mt, ty.unwrap())
}

#[test]
fn codewhisperer_shaped_bodies() {
    let exp = expected("codewhisperer-shaped");
    for (name, e) in exp["files"].as_object().unwrap() {
        let body = read("codewhisperer-shaped", name);
        let (frames, r) = decode_all(&body, &strict());
        assert_eq!(frames.len() as u64, e["frames"].as_u64().unwrap(), "{name}");
        assert!(r.errors.is_empty(), "{name}");
        let types: Vec<_> = frames.iter().map(type_of).collect();
        let want: Vec<_> = e["message_types"]
            .as_array()
            .unwrap()
            .iter()
            .zip(e["types"].as_array().unwrap())
            .map(|(m, t)| (m.as_str().unwrap().to_owned(), t.as_str().unwrap().to_owned()))
            .collect();
        assert_eq!(types, want, "{name}");
        let mut text = String::new();
        for f in &frames {
            if type_of(f).1 == "assistantResponseEvent" {
                let v: Value = serde_json::from_slice(&f.payload).unwrap();
                text.push_str(v["content"].as_str().unwrap());
            }
        }
        assert_eq!(text, e["text"].as_str().unwrap(), "{name}");
        let trailing = e["trailing_bytes"].as_u64().unwrap();
        if trailing == 0 {
            assert_eq!(r.truncated, None);
        } else {
            let off = body.len() as u64 - trailing;
            let need = u32::from_be_bytes(body[off as usize..off as usize + 4].try_into().unwrap()) as u64;
            assert!(need > trailing);
            assert_eq!(r.truncated, Some(Truncated { offset: off, have: trailing, need }), "{name}");
            let err = check_body(&body, &Limits::default()).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Truncated { have: trailing, need });
            assert_eq!(err.offset, off);
            // Also in resync mode the tail is reported, not dropped.
            let (rf, rr) = decode_all(&body, &resync());
            assert_eq!(rf.len(), frames.len());
            assert_eq!(rr.truncated, r.truncated);
        }
    }
}

#[test]
fn truncated_tail_inside_prelude_needs_12() {
    let mut body = cw_event("assistantResponseEvent", r#"{"content":"a"}"#);
    let n = body.len() as u64;
    body.extend_from_slice(&[0, 0, 0, 50, 0]);
    let (_, r) = decode_all(&body, &strict());
    assert_eq!(r.truncated, Some(Truncated { offset: n, have: 5, need: 12 }));
    let (frames, err) = decode_chunked(&body, &[2], Limits::default());
    assert_eq!(frames.len(), 1);
    assert_eq!(err.unwrap().kind, ErrorKind::Truncated { have: 5, need: 12 });
}

#[test]
fn bedrock_real_bodies() {
    let exp = expected("bedrock-real");
    for (name, e) in exp["files"].as_object().unwrap() {
        let body = read("bedrock-real", name);
        let (frames, r) = decode_all(&body, &strict());
        assert_eq!(r, BodyReport { frames: frames.len() as u64, ..Default::default() }, "{name}");
        assert_eq!(frames.len() as u64, e["frame_count"].as_u64().unwrap(), "{name}");
        for (f, x) in frames.iter().zip(e["frames"].as_array().unwrap()) {
            assert_eq!(f.offset, x["offset"].as_u64().unwrap());
            assert_eq!(f.total_length as u64, x["total_length"].as_u64().unwrap());
            let names: Vec<_> = f.headers.iter().map(|h| h.name.as_str()).collect();
            let want: Vec<_> = x["header_names"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
            assert_eq!(names, want);
            assert_eq!(type_of(f).1, x["event_type"].as_str().unwrap());
            let v: Value = serde_json::from_slice(&f.payload).unwrap();
            assert!(v.is_object());
        }
    }
}

// ------------------------------------------------------------------------------------------
// Header parser through frames with a bad header and a CORRECT CRC
// ------------------------------------------------------------------------------------------

fn first_err(body: &[u8]) -> fastcap_core::eventstream::DecodeError {
    check_body(body, &Limits::default()).unwrap_err()
}

#[test]
fn header_errors_with_valid_crcs() {
    let ok = header_bytes(b"ok", &V::Int(1));
    assert_eq!(ok.len(), 8);
    let cases: Vec<(Vec<u8>, ErrorKind)> = vec![
        ([&ok[..], &[0u8, 0]].concat(), ErrorKind::InvalidHeaderNameLength),
        ([&ok[..], &[9u8, b'a', b'b']].concat(), ErrorKind::InvalidHeaderNameLength),
        ([&ok[..], &[1u8, b'x', 10]].concat(), ErrorKind::InvalidHeaderValueType(10)),
        ([&ok[..], &[1u8, b'x', 0x60]].concat(), ErrorKind::InvalidHeaderValueType(0x60)),
        ([&ok[..], &[1u8, b'x', 7, 0xff, 0xff, b'a']].concat(), ErrorKind::InvalidHeaderValue),
        ([&ok[..], &[1u8, b'x', 5, 0, 0, 0]].concat(), ErrorKind::InvalidHeaderValue),
        ([&ok[..], &[1u8, b'x', 9, 1, 2, 3]].concat(), ErrorKind::InvalidHeaderValue),
        ([&ok[..], &[1u8, b'x', 6, 0]].concat(), ErrorKind::InvalidHeaderValue),
        ([&ok[..], &[1u8, b'x', 7, 0, 2, 0xc3, 0x28]].concat(), ErrorKind::InvalidUtf8String),
        ([&ok[..], &[2u8, 0xff, b'x', 0]].concat(), ErrorKind::InvalidUtf8String),
        ([&ok[..], &header_bytes(b"ok", &V::False)[..]].concat(), ErrorKind::DuplicateHeader("ok".into())),
    ];
    for (block, kind) in cases {
        let body = [cw_event("assistantResponseEvent", "{}"), frame_raw(&block, b"payload")].concat();
        let f2 = cw_event("assistantResponseEvent", "{}").len() as u64;
        let err = first_err(&body);
        assert_eq!(err.kind, kind, "{block:?}");
        assert_eq!(err.frame_offset, f2);
        assert_eq!(err.offset, f2 + 12 + 8, "offset of the bad header");
        // Strict keeps the earlier frame; chunked decoding agrees.
        let (frames, e2) = decode_chunked(&body, &[5], Limits::default());
        assert_eq!(frames.len(), 1);
        assert_eq!(e2, Some(err.clone()));
        // Resync skips exactly the bad frame (its prelude is trustworthy) and carries on.
        let with_tail = [&body[..], &cw_event("metadataEvent", "{}")[..]].concat();
        let (rf, rr) = decode_all(&with_tail, &resync());
        assert_eq!(rf.len(), 2);
        assert_eq!(rr.errors.len(), 1);
        assert_eq!(rr.errors[0].skipped, (12 + block.len() + 7 + 4) as u64);
        assert!(rr.corrupt());
    }
}

#[test]
fn all_header_types_round_trip() {
    let uuid = *b"\xb7\x9b\xc9\x14\xde\x21\x4e\x13\xb8\xb2\xbc\x47\xe8\x5b\x7f\x0b";
    let body = frame(
        &[
            ("t", V::True),
            ("f", V::False),
            ("b", V::Byte(-5)),
            ("s", V::Short(-20000)),
            ("i", V::Int(i32::MIN)),
            ("l", V::Long(-50_000_000_000)),
            ("y", V::Bytes(b"\x00\xff")),
            ("z", V::Str("héllo ✓")),
            ("ts", V::Ts(-1)),
            ("u", V::Uuid(uuid)),
        ],
        b"pl",
    );
    let mut seen = Vec::new();
    let r = decode_body(&body, &strict(), |f: Frame<'_>| seen.extend(f.headers().map(|h| h.value)));
    assert_eq!(r.frames, 1);
    assert_eq!(
        seen,
        vec![
            HeaderValue::Bool(true),
            HeaderValue::Bool(false),
            HeaderValue::Byte(-5),
            HeaderValue::Short(-20000),
            HeaderValue::Int(i32::MIN),
            HeaderValue::Long(-50_000_000_000),
            HeaderValue::Bytes(b"\x00\xff"),
            HeaderValue::String("héllo ✓"),
            HeaderValue::Timestamp(-1),
            HeaderValue::Uuid(u128::from_be_bytes(uuid)),
        ]
    );
}

// ------------------------------------------------------------------------------------------
// Limits before allocation
// ------------------------------------------------------------------------------------------

fn prelude(total: u32, hl: u32) -> Vec<u8> {
    let mut p = [total.to_be_bytes(), hl.to_be_bytes()].concat();
    let c = crc32fast::hash(&p);
    p.extend_from_slice(&c.to_be_bytes());
    p
}

#[test]
fn four_gigabyte_prelude_errors_without_waiting() {
    let p = prelude(0xFFFF_FFF0, 0);
    // Whole body: error right after the prelude, not a "need 4 GB" truncation.
    let err = first_err(&p);
    assert_eq!(err.kind.name(), "PayloadTooLong");
    // Push decoder: the 12 prelude bytes alone trigger the error.
    let mut d = StreamDecoder::new(Limits::default());
    let e = d.feed(&p, |_| panic!("no frame")).unwrap_err();
    assert_eq!(e.kind.name(), "PayloadTooLong");
    assert!(d.pending_capacity() < 64);
    // Header limit and headers_length > total-16 are caught the same way.
    assert_eq!(first_err(&prelude(200_000, 150_000)).kind.name(), "InvalidHeadersLength");
    assert_eq!(first_err(&prelude(100, 90)).kind.name(), "InvalidHeadersLength");
    assert_eq!(first_err(&prelude(15, 0)).kind.name(), "InvalidMessageLength");
    let lim = Limits { max_headers_len: 8, max_payload_len: 4 };
    assert_eq!(check_body(&cw_event("x", ""), &lim).unwrap_err().kind.name(), "InvalidHeadersLength");
    assert_eq!(check_body(&frame(&[], b"12345"), &lim).unwrap_err().kind.name(), "PayloadTooLong");
    assert_eq!(check_body(&frame(&[], b"1234"), &lim), Ok(1));
}

#[test]
fn four_gigabyte_prelude_within_raised_limits_waits_without_allocating() {
    let lim = Limits { max_headers_len: u32::MAX, max_payload_len: u32::MAX };
    let p = prelude(0xFFFF_FFF0, 0);
    let mut d = StreamDecoder::new(lim);
    for b in p.iter().chain(&[1u8; 100]) {
        d.feed(std::slice::from_ref(b), |_| panic!("no frame")).unwrap();
    }
    assert_eq!(d.pending_len(), 112);
    assert!(d.pending_capacity() < 4096, "capacity {}", d.pending_capacity());
    let e = d.finish().unwrap_err();
    assert_eq!(e.kind, ErrorKind::Truncated { have: 112, need: 0xFFFF_FFF0 });
    let (_, r) = decode_all(&p, &Options { mode: Mode::Strict, limits: lim });
    assert_eq!(r.truncated, Some(Truncated { offset: 0, have: 12, need: 0xFFFF_FFF0 }));
}

// ------------------------------------------------------------------------------------------
// Resync
// ------------------------------------------------------------------------------------------

#[test]
fn resync_over_injected_garbage() {
    let a = cw_event("assistantResponseEvent", r#"{"content":"A"}"#);
    let b = cw_event("assistantResponseEvent", r#"{"content":"B"}"#);
    let c = cw_event("toolUseEvent", r#"{"toolUseId":"t","name":"n","stop":true}"#);
    let d = cw_event("metadataEvent", r#"{}"#);
    let garbage: Vec<u8> = (0..37u8).map(|i| i.wrapping_mul(97).wrapping_add(13)).collect();
    let mut bad_crc = cw_event("assistantResponseEvent", r#"{"content":"X"}"#);
    let l = bad_crc.len();
    bad_crc[l - 1] ^= 0x55;
    // A decoy: valid prelude, plausible lengths, but body bytes that fail the message CRC.
    let mut decoy = prelude(40, 0);
    decoy.extend_from_slice(&[0xAB; 28]);

    let parts: Vec<&[u8]> = vec![&a, &garbage, &b, &bad_crc, &c, &decoy, &d];
    let body = parts.concat();
    let off = |i: usize| parts[..i].iter().map(|p| p.len()).sum::<usize>() as u64;

    let (frames, r) = decode_all(&body, &resync());
    let offs: Vec<_> = frames.iter().map(|f| f.offset).collect();
    assert_eq!(offs, [off(0), off(2), off(4), off(6)]);
    assert_eq!(r.errors.len(), 3, "{:?}", r.errors);
    assert_eq!(r.errors[0].error.offset, off(1));
    assert_eq!(r.errors[0].skipped, garbage.len() as u64);
    assert_eq!(r.errors[1].error.kind.name(), "MessageChecksumMismatch");
    assert_eq!((r.errors[1].error.offset, r.errors[1].skipped), (off(3), bad_crc.len() as u64));
    // The decoy's prelude is fine, so it fails on its message CRC and is skipped by total_length.
    assert_eq!(r.errors[2].error.kind.name(), "MessageChecksumMismatch");
    assert_eq!((r.errors[2].error.offset, r.errors[2].skipped), (off(5), 40));
    assert!(r.corrupt());
    assert_eq!(r.truncated, None);

    // Strict stops at the garbage, keeping frame A.
    let (sf, sr) = decode_all(&body, &strict());
    assert_eq!(sf.len(), 1);
    assert_eq!(sr.errors.len(), 1);
    assert_eq!(sr.errors[0].skipped, 0);

    // Garbage at the very end: one skipped range to the end, nothing truncated.
    let tail = [&a[..], &garbage[..]].concat();
    let (tf, tr) = decode_all(&tail, &resync());
    assert_eq!(tf.len(), 1);
    assert_eq!(tr.errors.len(), 1);
    assert_eq!(tr.errors[0].skipped, garbage.len() as u64);

    // Garbage that hides a decoy prelude inside it: the rescan rejects the decoy by its CRC.
    let mut g2 = garbage.clone();
    g2.splice(10..10, prelude(40, 0));
    let body2 = [&g2[..], &b[..]].concat();
    let (f2, r2) = decode_all(&body2, &resync());
    assert_eq!(f2.len(), 1);
    assert_eq!(f2[0].offset, g2.len() as u64);
    assert_eq!(r2.errors.len(), 1);
    assert_eq!(r2.errors[0].skipped, g2.len() as u64);
}

#[test]
fn resync_after_cut_frame_reports_truncated_tail() {
    let a = cw_event("assistantResponseEvent", r#"{"content":"A"}"#);
    let b = cw_event("assistantResponseEvent", r#"{"content":"B"}"#);
    let body = [&b"junk"[..], &a[..], &b[..b.len() - 3]].concat();
    let (frames, r) = decode_all(&body, &resync());
    assert_eq!(frames.len(), 1);
    assert_eq!(r.errors[0].skipped, 4);
    assert_eq!(
        r.truncated,
        Some(Truncated { offset: 4 + a.len() as u64, have: b.len() as u64 - 3, need: b.len() as u64 })
    );
}

/// Feeds `body` to a resync-mode incremental decoder in chunks of the given sizes (cycled).
fn resync_chunked(body: &[u8], sizes: &[usize]) -> (Vec<OwnedFrame>, BodyReport) {
    let mut d = StreamDecoder::with_options(resync());
    let mut frames = Vec::new();
    let (mut pos, mut i) = (0, 0);
    while pos < body.len() {
        let n = sizes[i % sizes.len()].max(1).min(body.len() - pos);
        i += 1;
        d.feed(&body[pos..pos + n], |f| frames.push(f.to_owned_frame())).unwrap();
        pos += n;
    }
    d.finish().unwrap();
    (frames, d.report())
}

struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// A random mix of good frames, frames with a bad message CRC or a bad header, raw garbage,
/// decoy preludes (valid prelude CRC, wrong message CRC), and a cut frame or garbage at the end.
fn damaged_body(rng: &mut Lcg) -> Vec<u8> {
    let good = [
        cw_event("assistantResponseEvent", r#"{"content":"Hello"}"#),
        cw_event("toolUseEvent", r#"{"toolUseId":"t","name":"n","input":"{\"a\":1}","stop":true}"#),
        cw_event("metadataEvent", r#"{"tokenUsage":{"outputTokens":3}}"#),
        frame(&[], b""),
    ];
    let mut body = Vec::new();
    for _ in 0..rng.below(12) {
        let g = &good[rng.below(good.len())];
        match rng.below(8) {
            0 => {
                let mut f = g.clone();
                let l = f.len();
                f[l - 1 - rng.below(4)] ^= 0x5A;
                body.extend(f);
            }
            1 => body.extend((0..1 + rng.below(40)).map(|_| rng.below(256) as u8)),
            2 => {
                let mut d = prelude(16 + rng.below(60) as u32, 0);
                d.extend((0..rng.below(70)).map(|_| rng.below(256) as u8));
                body.extend(d);
            }
            3 => {
                // A valid frame whose header block is malformed (zero-length name).
                body.extend(frame_raw(&[0, 1], b"{}"));
            }
            _ => body.extend_from_slice(g),
        }
    }
    match rng.below(4) {
        0 => body.extend_from_slice(&good[0][..rng.below(good[0].len())]),
        1 => body.extend((0..rng.below(15)).map(|_| rng.below(256) as u8)),
        _ => {}
    }
    body
}

#[test]
fn resync_incremental_equals_whole_body_in_any_chunking() {
    let mut rng = Lcg(99);
    let mut seen_errors = 0;
    let mut seen_truncated = 0;
    for case in 0..1500 {
        let body = damaged_body(&mut rng);
        let (want_frames, want) = decode_all(&body, &resync());
        seen_errors += want.errors.len();
        seen_truncated += usize::from(want.truncated.is_some());
        let fixed: &[&[usize]] = &[&[1], &[2], &[3, 1, 7], &[11], &[64], &[16384]];
        let random = [1 + rng.below(8), 1 + rng.below(30), 1 + rng.below(200)];
        for sizes in fixed.iter().copied().chain(std::iter::once(&random[..])) {
            let (frames, got) = resync_chunked(&body, sizes);
            assert_eq!(frames, want_frames, "case {case}, chunks {sizes:?}");
            assert_eq!(got, want, "case {case}, chunks {sizes:?}");
        }
    }
    assert!(seen_errors > 1000 && seen_truncated > 100, "{seen_errors} errors, {seen_truncated} truncated");
}

#[test]
fn resync_incremental_on_fixtures_and_injected_garbage() {
    let a = cw_event("assistantResponseEvent", r#"{"content":"A"}"#);
    let mut files: Vec<Vec<u8>> = Vec::new();
    for (sub, names) in [
        (
            "codewhisperer-shaped",
            &["text_only.bin", "tool_calls.bin", "truncated_last_frame.bin", "exception_mid_stream.bin"][..],
        ),
        (
            "smithy-rs",
            &["invalid_prelude_checksum", "invalid_message_checksum", "invalid_header_value_type", "valid_no_headers"]
                [..],
        ),
    ] {
        for n in names {
            files.push(read(sub, n));
        }
    }
    let body: Vec<u8> = files.iter().flat_map(|f| [&f[..], &b"\x00\xffjunk"[..], &a[..]].concat()).collect();
    let (want_frames, want) = decode_all(&body, &resync());
    assert!(want.errors.len() >= 4);
    for sizes in [&[1usize][..], &[5], &[13, 2], &[100], &[4096]] {
        let (frames, got) = resync_chunked(&body, sizes);
        assert_eq!(frames, want_frames, "chunks {sizes:?}");
        assert_eq!(got, want, "chunks {sizes:?}");
    }
    // Strict incremental is unchanged: it stops at the first error.
    let (sf, se) = decode_chunked(&body, &[7], Limits::default());
    assert_eq!((sf, se), decode_strict(&body));
}

// ------------------------------------------------------------------------------------------
// Column decoding
// ------------------------------------------------------------------------------------------

#[test]
fn column_matches_per_body() {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{UInt32Type, UInt64Type};
    use arrow_array::Array;
    let tool = read("codewhisperer-shaped", "tool_calls.bin");
    let trunc = read("codewhisperer-shaped", "truncated_last_frame.bin");
    let bad = read("smithy-rs", "invalid_prelude_checksum");
    let bodies: Vec<Option<&[u8]>> = vec![Some(&tool), None, Some(&trunc), Some(&bad), Some(b"")];
    let (ev, bo) = decode_column(bodies.iter().copied(), &strict()).unwrap();
    assert_eq!(ev.num_rows(), 10 + 3);
    assert_eq!(bo.num_rows(), 5);
    let e = &ev.batches[0];
    let ex = e.column_by_name("exchange_index").unwrap().as_primitive::<UInt32Type>();
    let fi = e.column_by_name("frame_index").unwrap().as_primitive::<UInt32Type>();
    assert_eq!(ex.value(10), 2);
    assert_eq!(fi.value(9), 9);
    assert_eq!(fi.value(10), 0);
    let payload = e.column_by_name("payload").unwrap().as_binary_view();
    let (frames, _) = decode_all(&tool, &strict());
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(payload.value(i), &f.payload[..]);
    }
    let hj = e.column_by_name("headers_json").unwrap().as_string_view();
    let v: Value = serde_json::from_str(hj.value(0)).unwrap();
    assert_eq!(v[":event-type"], "assistantResponseEvent");
    let b = &bo.batches[0];
    let kind = b.column_by_name("error_kind").unwrap().as_string::<i32>();
    assert!(kind.is_null(0) && kind.is_null(1) && kind.is_null(2));
    assert_eq!(kind.value(3), "PreludeChecksumMismatch");
    let tn = b.column_by_name("truncated_have").unwrap().as_primitive::<UInt64Type>();
    assert_eq!(tn.value(2), 120);
    assert!(tn.is_null(0));
    let isnull = b.column_by_name("is_null").unwrap().as_boolean();
    assert!(isnull.value(1) && !isnull.value(4));
}

#[test]
fn column_with_shared_buffers_views_payloads_in_place() {
    use arrow_array::cast::AsArray;
    use arrow_array::Array;
    use arrow_buffer::Buffer;
    use fastcap_core::eventstream::ColumnDecoder;
    let tool = read("codewhisperer-shaped", "tool_calls.bin");
    // Enough frames that the body is registered as a shared block.
    let body: Vec<u8> = tool.repeat(8);
    let owner = Buffer::from_vec(body.clone());
    let mut copied = ColumnDecoder::new(strict());
    let mut shared = ColumnDecoder::new(strict());
    for _ in 0..2 {
        copied.push(Some(&body));
        shared.push_shared(&owner, 0..body.len());
    }
    let (a, sa) = copied.finish().unwrap();
    let (b, sb) = shared.finish().unwrap();
    assert_eq!(a.batches, b.batches);
    assert_eq!(sa.batches, sb.batches);
    let e = &b.batches[0];
    e.columns().iter().for_each(|c| c.to_data().validate_full().unwrap());
    let payload = e.column_by_name("payload").unwrap().as_binary_view();
    assert!(payload.data_buffers().iter().any(|x| x.as_ptr() == owner.as_ptr()));
    // A run of frames with identical headers (the six toolUseEvent frames) shares one stored JSON.
    let hj = e.column_by_name("headers_json").unwrap().as_string_view();
    assert_eq!(hj.len(), 160);
    assert!(hj.views()[1..7].iter().all(|v| *v == hj.views()[1]));
    assert!(hj.value(1).contains("toolUseEvent"));
}
