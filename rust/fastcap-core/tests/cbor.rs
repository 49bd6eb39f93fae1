//! CBOR V2 reader/writer against the project fixtures and RFC 8949 Appendix A.

mod common;

use std::path::PathBuf;

use arrow_array::{Array, BinaryViewArray, BooleanArray, Float64Array, Int64Array, StringViewArray, UInt8Array};
use fastcap_core::cbor::decode::{Cursor, Value};
use fastcap_core::cbor::writer::{encode_entry, encode_header, order_meta, value};
use fastcap_core::cbor::{parse_header, EntryReader, ReadOptions};

fn data(rel: &str) -> PathBuf {
    common::test_data(rel)
}

fn sample() -> Vec<u8> {
    std::fs::read(data("cbor/sample_v2_generated.cbor")).expect("tests/data/cbor/sample_v2_generated.cbor")
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

#[test]
fn sample_reads_every_entry_with_typed_meta() {
    let buf = sample();
    let mut r = EntryReader::new(buf.clone(), ReadOptions::default()).unwrap();
    assert_eq!(r.header.session_id.as_deref(), Some("proxy-20240101"));
    assert_eq!(r.header.created_at, Some(1700000000.5));
    assert_eq!(r.header.end, 105);
    let b = r.next_batch().unwrap();
    assert!(r.next_batch().is_none());
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    assert_eq!(b.num_rows(), 6);
    let col = |n: &str| b.column_by_name(n).unwrap().clone();
    let offsets: Vec<u64> =
        col("offset").as_any().downcast_ref::<arrow_array::UInt64Array>().unwrap().values().to_vec();
    assert_eq!(offsets, [105, 399, 503, 634, 721, 875]);
    let dirs = col("dir");
    let dirs = dirs.as_any().downcast_ref::<UInt8Array>().unwrap();
    assert_eq!(dirs.values().to_vec(), [0, 3, 3, 3, 3, 3]);
    let data = col("data");
    let data = data.as_any().downcast_ref::<BinaryViewArray>().unwrap();
    assert_eq!(data.value(3), &[b'A'; 300][..], "zlib payload is decompressed");
    assert_eq!(data.value(2), &b"data: {\"choices\":[{\"delta\":{\"content\":\"hello\"}}]}\n\n"[..]);
    let compressed = col("compressed");
    let compressed = compressed.as_any().downcast_ref::<BooleanArray>().unwrap();
    assert!(compressed.value(3) && !compressed.value(2));
    let ttfb = col("ttfb_ms");
    let ttfb = ttfb.as_any().downcast_ref::<Float64Array>().unwrap();
    assert_eq!(ttfb.value(2), 400.0);
    assert!(ttfb.is_null(3));
    let tb = col("total_bytes");
    assert_eq!(tb.as_any().downcast_ref::<Int64Array>().unwrap().value(4), 352);
    let ss = col("is_stream_start");
    let ss = ss.as_any().downcast_ref::<BooleanArray>().unwrap();
    assert!(ss.value(1) && ss.is_null(2));
    let sig = col("eos_signal");
    assert_eq!(sig.as_any().downcast_ref::<StringViewArray>().unwrap().value(5), "done_sentinel");
    let url = col("url");
    assert_eq!(
        url.as_any().downcast_ref::<StringViewArray>().unwrap().value(0),
        "http://127.0.0.1:8000/v1/chat/completions"
    );
}

/// Decode every item generically and re-encode it: the reference writer's encoding is exactly
/// what our writer produces, so the bytes must come back identical.
#[test]
fn sample_reencodes_byte_identical_generically() {
    let buf = sample();
    let mut cur = Cursor::new(&buf, 0);
    let mut out = Vec::new();
    while !cur.at_end() {
        let v = cur.value().unwrap();
        value(&mut out, &v);
    }
    assert_eq!(out, buf);
}

/// Rebuild the file from decoded *values* through the entry writer (meta reordered, zlib rule
/// re-applied to the decompressed payload).
#[test]
fn sample_reencodes_byte_identical_through_entry_writer() {
    let buf = sample();
    let h = parse_header(&buf).unwrap();
    let mut out = encode_header(h.session_id.as_deref().unwrap(), h.created_at.unwrap(), Some(&h.metadata));
    let mut cur = Cursor::new(&buf, h.end);
    while !cur.at_end() {
        let v = cur.value().unwrap();
        let ts = v.get("ts").unwrap().as_f64().unwrap();
        let dir = v.get("dir").unwrap().as_i64().unwrap() as u8;
        let seq = v.get("seq").unwrap().as_i64().unwrap() as u64;
        let Value::Bytes(mut data) = v.get("data").unwrap().clone() else { panic!() };
        if v.get("enc").and_then(Value::as_text) == Some("zlib") {
            let mut d = Vec::new();
            flate2_read(&data, &mut d);
            data = d;
        }
        let meta = match v.get("meta") {
            Some(Value::Map(pairs)) => {
                pairs.iter().map(|(k, x)| (k.as_text().unwrap().to_owned(), x.clone())).collect()
            }
            _ => Vec::new(),
        };
        // Shuffle to prove the writer restores the reference order.
        let mut meta: Vec<(String, Value)> = meta;
        meta.reverse();
        out.extend(encode_entry(ts, dir, seq, &data, &order_meta(meta), true));
    }
    assert_eq!(out.len(), buf.len());
    assert_eq!(out, buf);
}

fn flate2_read(z: &[u8], out: &mut Vec<u8>) {
    use std::io::Read;
    flate2::read::ZlibDecoder::new(z).read_to_end(out).unwrap();
}

#[test]
fn truncated_tail_keeps_complete_entries() {
    let buf = sample();
    for cut in [buf.len() - 1, 880, 700, 400] {
        let mut r = EntryReader::new(buf[..cut].to_vec(), ReadOptions::default()).unwrap();
        let mut rows = 0;
        while let Some(b) = r.next_batch() {
            rows += b.num_rows();
        }
        let expected = [105usize, 399, 503, 634, 721, 875, 1043].iter().filter(|&&end| end <= cut).count() - 1;
        assert_eq!(rows, expected, "cut at {cut}");
        let d = r.diagnostics.last().unwrap();
        assert_eq!(d.kind, "truncated_tail");
        assert!(r.fatal().is_none());
    }
}

#[test]
fn corrupt_middle_stops_and_recover_resyncs() {
    let mut buf = sample();
    // Entry at 503 ("sid" text header byte at 503+..): make its first meta key's text invalid UTF-8.
    let pos = buf.windows(6).position(|w| w == b"sess-1").unwrap() + 200; // inside a later entry
    let at = buf[pos..].windows(6).position(|w| w == b"sess-1").unwrap() + pos;
    buf[at] = 0xff;
    let mut r = EntryReader::new(buf.clone(), ReadOptions::default()).unwrap();
    let mut rows = 0;
    while let Some(b) = r.next_batch() {
        rows += b.num_rows();
    }
    let fatal = r.fatal().expect("decode error reported").clone();
    assert!(fatal.message.contains("UTF-8"), "{}", fatal.message);
    assert!((1..6).contains(&rows));
    let mut r2 = EntryReader::new(buf.clone(), ReadOptions { recover: true, ..Default::default() }).unwrap();
    let mut rows2 = 0;
    while let Some(b) = r2.next_batch() {
        rows2 += b.num_rows();
    }
    assert_eq!(rows2, 5, "only the corrupt entry is lost: {:?}", r2.diagnostics);
    assert!(r2.diagnostics.iter().any(|d| d.kind == "resync_skip"));
}

#[test]
fn header_errors() {
    let e = parse_header(b"").unwrap_err();
    assert_eq!(e.kind, "missing_header");
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    let e = parse_header(png).unwrap_err();
    assert!(matches!(e.kind.as_str(), "bad_header" | "missing_header"), "{e:?}");
    let mut v1 = Vec::new();
    value(
        &mut v1,
        &Value::Map(vec![
            (Value::Text("magic".into()), Value::Text("LLMPROXY-CAPTURE-V1".into())),
            (Value::Text("version".into()), Value::Uint(1)),
        ]),
    );
    let e = parse_header(&v1).unwrap_err();
    assert_eq!(e.kind, "unsupported_version");
    assert!(e.message.contains("V1"));
    let mut v2_1 = Vec::new();
    value(
        &mut v2_1,
        &Value::Map(vec![
            (Value::Text("magic".into()), Value::Text("LLMPROXY-CAPTURE-V2".into())),
            (Value::Text("version".into()), Value::Uint(1)),
        ]),
    );
    let e = parse_header(&v2_1).unwrap_err();
    assert_eq!(e.kind, "unsupported_version");
    let e = parse_header(&sample()[..50]).unwrap_err();
    assert_eq!(e.kind, "missing_header");
}

#[test]
fn non_map_items_are_skipped_with_schema_error() {
    let mut buf = sample()[..105].to_vec();
    buf.extend_from_slice(&[0x83, 1, 2, 3]); // an array
    buf.extend_from_slice(&sample()[105..399]);
    let mut r = EntryReader::new(buf.clone(), ReadOptions::default()).unwrap();
    let b = r.next_batch().unwrap();
    assert_eq!(b.num_rows(), 1);
    assert_eq!(r.diagnostics[0].kind, "schema_error");
    assert_eq!(r.diagnostics[0].offset, 105);
}

#[test]
fn indefinite_items_and_any_key_order_and_unknown_keys() {
    let h = encode_header("s", 1.0, None);
    let mut e = vec![0xbf]; // indefinite map
    for (k, v) in [
        (
            "meta",
            vec![0xbf, 0x62, b'c', b'i', 0x01, 0x63, b'z', b'z', b'z', 0xf5, 0x62, b's', b'c', 0xf9, 0x5a, 0x40, 0xff],
        ),
        ("data", vec![0x5f, 0x42, b'a', b'b', 0x41, b'c', 0xff]),
        ("seq", vec![0x07]),
        ("dir", vec![0x03]),
        ("ts", vec![0xfa, 0x3f, 0xc0, 0x00, 0x00]),
        ("xtra", vec![0x01]),
    ] {
        e.push(0x60 | k.len() as u8);
        e.extend_from_slice(k.as_bytes());
        e.extend(v);
    }
    e.push(0xff);
    let mut buf = h;
    buf.extend(e);
    let mut r = EntryReader::new(buf.clone(), ReadOptions::default()).unwrap();
    let b = r.next_batch().unwrap();
    assert_eq!(b.num_rows(), 1);
    let data = b.column_by_name("data").unwrap();
    assert_eq!(data.as_any().downcast_ref::<BinaryViewArray>().unwrap().value(0), b"abc");
    let ts = b.column_by_name("ts").unwrap();
    assert_eq!(ts.as_any().downcast_ref::<Float64Array>().unwrap().value(0), 1.5);
    // status 200 written as a half float (0x5a40 = 200.0) is accepted as an int
    let sc = b.column_by_name("status_code").unwrap();
    assert_eq!(sc.as_any().downcast_ref::<Int64Array>().unwrap().value(0), 200);
    let extra = b.column_by_name("meta_extra").unwrap();
    assert_eq!(extra.as_any().downcast_ref::<StringViewArray>().unwrap().value(0), "{\"zzz\":true}");
    let extra = b.column_by_name("entry_extra").unwrap();
    assert_eq!(extra.as_any().downcast_ref::<StringViewArray>().unwrap().value(0), "{\"xtra\":1}");
}

#[test]
fn rfc8949_appendix_a() {
    let text = std::fs::read_to_string(data("cbor/test-vectors/appendix_a.json")).unwrap();
    let vectors: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut checked = 0;
    for v in vectors.as_array().unwrap() {
        let bytes = unhex(v["hex"].as_str().unwrap());
        let mut cur = Cursor::new(&bytes, 0);
        let decoded = cur.value().unwrap_or_else(|e| panic!("{}: {e:?}", v["hex"]));
        assert!(cur.at_end(), "{} fully consumed", v["hex"]);
        if let Some(expected) = v.get("decoded") {
            let got = decoded.to_json();
            let same = match (expected, &got) {
                (serde_json::Value::Number(a), serde_json::Value::Number(b)) => {
                    let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
                    a == b || (a - b).abs() <= 1e-12 * a.abs().max(b.abs())
                }
                _ => *expected == got,
            };
            // Bignums (tags 2/3) decode to their byte strings here; everything else must agree.
            let bignum = matches!(decoded, Value::Tag(2 | 3, _)) || expected.as_f64().is_some_and(|f| f.abs() > 1.8e19);
            if !bignum {
                assert!(same, "{}: expected {expected}, got {got}", v["hex"]);
                checked += 1;
            }
        }
        // Canonical vectors re-encode identically with our (cbor2-compatible) writer, except
        // floats (we always write float64, like cbor2) and indefinite items.
        if v["roundtrip"].as_bool() == Some(true) && !contains_float(&decoded) {
            let mut out = Vec::new();
            value(&mut out, &decoded);
            assert_eq!(out, bytes, "{} re-encodes", v["hex"]);
        }
    }
    assert!(checked > 50, "checked {checked}");
}

fn contains_float(v: &Value) -> bool {
    match v {
        Value::Float(_) => true,
        Value::Array(a) => a.iter().any(contains_float),
        Value::Map(m) => m.iter().any(|(k, x)| contains_float(k) || contains_float(x)),
        Value::Tag(_, x) => contains_float(x),
        _ => false,
    }
}

/// One row of a read: file index, offset, ts, payload, request id, problems.
type RowSummary = (u64, u64, f64, Vec<u8>, Option<String>, Option<String>);

/// Everything a read produced, row by row, for comparing read strategies.
fn rows_of(batches: &[arrow_array::RecordBatch]) -> Vec<RowSummary> {
    let mut out = Vec::new();
    for b in batches {
        let col = |n: &str| b.column_by_name(n).unwrap().clone();
        let (fi, off, ts, data, rid, problems) =
            (col("file_index"), col("offset"), col("ts"), col("data"), col("request_id"), col("problems"));
        let fi = fi.as_any().downcast_ref::<arrow_array::UInt64Array>().unwrap();
        let off = off.as_any().downcast_ref::<arrow_array::UInt64Array>().unwrap();
        let ts = ts.as_any().downcast_ref::<Float64Array>().unwrap();
        let data = data.as_any().downcast_ref::<BinaryViewArray>().unwrap();
        let rid = rid.as_any().downcast_ref::<StringViewArray>().unwrap();
        let problems = problems.as_any().downcast_ref::<StringViewArray>().unwrap();
        for i in 0..b.num_rows() {
            out.push((
                fi.value(i),
                off.value(i),
                ts.value(i),
                data.value(i).to_vec(),
                rid.is_valid(i).then(|| rid.value(i).to_owned()),
                problems.is_valid(i).then(|| problems.value(i).to_owned()),
            ));
        }
    }
    out
}

/// A capture of `n` small entries, with one large entry whose payload holds complete, plausible
/// entries (a capture of a capture) starting at byte `decoy_at` or so.
fn big_capture(n: usize, decoy_at: Option<usize>) -> Vec<u8> {
    let mut out = encode_header("par", 1.0, None);
    let meta = |i: usize| {
        vec![("rid".to_owned(), Value::Text(format!("req-{}", i / 50))), ("ci".to_owned(), Value::Uint(i as u64 % 50))]
    };
    let mut decoy_done = false;
    for i in 0..n {
        if let (Some(at), false) = (decoy_at, decoy_done) {
            if out.len() >= at.saturating_sub(100_000) {
                // 200 KB of back-to-back entries as one payload, stored uncompressed.
                let mut inner = Vec::new();
                for j in 0..1000 {
                    inner.extend(encode_entry(9.0, 1, j, &[b'y'; 150], &meta(j as usize), false));
                }
                out.extend(encode_entry(2.0, 3, 999_999, &inner, &[], false));
                decoy_done = true;
            }
        }
        let body = format!("data: {{\"i\":{i},\"pad\":\"{}\"}}\n\n", "x".repeat(40 + i % 300));
        // Every tenth payload compressed (the zlib path must also line up), the rest stored.
        out.extend(encode_entry(1.0 + i as f64, 3, i as u64, body.as_bytes(), &order_meta(meta(i)), i % 10 == 0));
    }
    out
}

fn read_sequential(buf: &[u8], opts: ReadOptions) -> (Vec<arrow_array::RecordBatch>, Vec<String>) {
    let mut r = EntryReader::new(buf.to_vec(), opts).unwrap();
    let mut batches = Vec::new();
    while let Some(b) = r.next_batch() {
        batches.push(b);
    }
    (batches, r.diagnostics.iter().map(|d| format!("{} {} {:?} {:?}", d.kind, d.offset, d.index, d.bytes)).collect())
}

fn read_rounds(buf: &[u8], opts: ReadOptions, span: usize) -> (Vec<arrow_array::RecordBatch>, Vec<String>, (u64, u64)) {
    let mut r = EntryReader::new(buf.to_vec(), opts).unwrap();
    let mut batches = Vec::new();
    while !r.is_done() {
        batches.extend(r.next_round(span));
    }
    (
        batches,
        r.diagnostics.iter().map(|d| format!("{} {} {:?} {:?}", d.kind, d.offset, d.index, d.bytes)).collect(),
        r.speculation,
    )
}

#[test]
fn two_thread_rounds_equal_a_sequential_read() {
    let plain = big_capture(30_000, None);
    assert!(plain.len() > 6 << 20, "big enough to be split: {}", plain.len());
    // A decoy payload right where the split lands, and entries damaged in each half.
    let decoy = big_capture(30_000, Some(plain.len() / 2));
    let mut damaged = plain.clone();
    for frac in [3, 7] {
        let at = damaged.len() * frac / 10;
        let at = damaged[at..].windows(4).position(|w| w == b"req-").unwrap() + at;
        damaged[at] = 0xff; // invalid UTF-8 in a request id
    }
    let mut truncated = plain.clone();
    truncated.truncate(plain.len() - 7);
    for (name, buf) in [("plain", &plain), ("decoy", &decoy), ("damaged", &damaged), ("truncated", &truncated)] {
        for recover in [false, true] {
            let opts = ReadOptions { recover, batch_rows: 4096, ..Default::default() };
            let (seq_batches, seq_diags) = read_sequential(buf, opts);
            for span in [usize::MAX, 5 << 20] {
                let (par_batches, par_diags, (kept, discarded)) = read_rounds(buf, opts, span);
                match (name, span) {
                    ("plain", _) => assert!(kept > 0 && discarded == 0, "{kept} {discarded}"),
                    ("decoy", usize::MAX) => assert_eq!(discarded, 1, "the decoy is rejected ({kept} kept)"),
                    ("damaged", _) if !recover => {
                        assert!(discarded > 0, "a fault before the split discards the speculation")
                    }
                    _ => {}
                }
                assert_eq!(par_diags, seq_diags, "{name} recover={recover} span={span}");
                let (a, b) = (rows_of(&seq_batches), rows_of(&par_batches));
                assert_eq!(a.len(), b.len(), "{name} recover={recover} span={span}");
                assert!(a == b, "{name} recover={recover} span={span}: rows differ");
            }
        }
    }
}

#[test]
fn body_assembler_joins_streams_across_batches_and_hands_cut_ones_over_at_close() {
    use fastcap_core::cbor::assemble::BodyAssembler;
    let m = |pairs: &[(&str, Value)]| order_meta(pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect());
    let t = |s: &str| Value::Text(s.to_owned());
    let mut file = encode_header("asm", 1.0, None);
    // Stream A: start marker, two chunks, end marker; B: a non-stream response; C: cut stream.
    type Meta = Vec<(String, Value)>;
    let entries: Vec<(u8, &[u8], Meta)> = vec![
        (3, b"", m(&[("rid", t("A")), ("ss", Value::Bool(true))])),
        (3, b"data: a1\n\n", m(&[("rid", t("A")), ("ci", Value::Uint(1))])),
        (2, b"POST /v1/messages", m(&[("rid", t("B"))])),
        (3, b"", m(&[("rid", t("C")), ("ss", Value::Bool(true))])),
        (3, b"data: c1\n\n", m(&[("rid", t("C")), ("ci", Value::Uint(1))])),
        (3, b"HTTP/1.1 200 OK\r\n\r\n{}", m(&[("rid", t("B"))])),
        (1, b"data: a1\n\n", m(&[("rid", t("A")), ("ci", Value::Uint(1))])),
        (3, b"data: a2\n\n", m(&[("rid", t("A")), ("ci", Value::Uint(2))])),
        // The end marker announces its chunk count, so A is complete as soon as it is read.
        (3, b"", m(&[("rid", t("A")), ("se", Value::Bool(true)), ("tc", Value::Uint(2))])),
    ];
    for (i, (dir, data, meta)) in entries.iter().enumerate() {
        file.extend(encode_entry(i as f64, *dir, i as u64, data, meta, true));
    }
    // Batches of two entries, so every stream spans batches.
    let mut r = EntryReader::new(file, ReadOptions { batch_rows: 2, ..Default::default() }).unwrap();
    let mut asm = BodyAssembler::new(3);
    let mut done = Vec::new();
    while let Some(b) = r.next_batch() {
        done.extend(asm.feed(&b));
    }
    let at_close = asm.close();
    let as_text = |v: &[fastcap_core::cbor::assemble::Body]| {
        v.iter()
            .map(|b| (b.request_id.clone(), String::from_utf8(b.body.clone()).unwrap(), b.ended))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        as_text(&done),
        [
            ("B".to_owned(), "HTTP/1.1 200 OK\r\n\r\n{}".to_owned(), true),
            ("A".to_owned(), "data: a1\n\ndata: a2\n\n".to_owned(), true)
        ]
    );
    assert_eq!(
        (done[1].chunk_ends.as_slice(), done[1].chunk_times.as_slice()),
        (&[10, 20][..], &[Some(1.0), Some(7.0)][..])
    );
    assert_eq!(as_text(&at_close), [("C".to_owned(), "data: c1\n\n".to_owned(), false)]);
}

/// Batch memory is pooled and reused: a later read must see none of an earlier read's values.
#[test]
fn reused_batch_memory_starts_clean() {
    // `every`: which entries carry metadata (the first read: all of them, densely).
    let capture = |every: u64| {
        let mut out = encode_header("pool", 1.0, None);
        for i in 0..3000u64 {
            let meta = if i % every == 0 {
                order_meta(vec![
                    ("sc".to_owned(), Value::Uint(429)),
                    ("ra".to_owned(), Value::Float(1.5)),
                    ("url".to_owned(), Value::Text(format!("https://api.example.test/v1/messages/{i}"))),
                ])
            } else {
                Vec::new()
            };
            out.extend(encode_entry(i as f64, 3, i, b"data: {}\n\n", &meta, false));
        }
        out
    };
    let opts = ReadOptions { batch_rows: 1000, ..Default::default() };
    for _ in 0..3 {
        let mut dense = EntryReader::new(capture(1), opts).unwrap();
        while dense.next_batch().is_some() {}
        // Same batch size, so the mappings the first read released are reused.
        let mut sparse = EntryReader::new(capture(7), opts).unwrap();
        let mut first_row = 0u64;
        while let Some(b) = sparse.next_batch() {
            let rows = b.num_rows() as u64;
            let expected = (first_row..first_row + rows).filter(|i| i % 7 == 0).count();
            for name in ["status_code", "retry_after_seconds", "url"] {
                let col = b.column_by_name(name).unwrap();
                assert_eq!(col.len() - col.null_count(), expected, "{name}: values leaked from an earlier batch");
            }
            let sc = b.column_by_name("status_code").unwrap();
            let sc = sc.as_any().downcast_ref::<Int64Array>().unwrap();
            assert!((0..sc.len()).all(|i| sc.is_valid(i) || sc.values()[i] == 0), "null slots are zero");
            first_row += rows;
        }
    }
}
