//! Crafted and hostile inputs (issue 11): nesting deep enough to take the stack, decompression
//! bombs, entries with impossible lengths, resynchronisation over decoys (pooled batch memory
//! reused across batch sizes is in `batch_pool.rs`). Each test failed, crashed or took minutes
//! before its fix, except the guards marked as such.
//!
//! Timing bounds are generous (release builds finish each in well under a tenth of them); the
//! ratio checks compare sizes ten times apart, where linear work gives about 10 and quadratic
//! work about 100.

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use arrow_array::{Array, RecordBatch};
use fastcap_core::cbor::writer::{encode_entry, encode_header};
use fastcap_core::cbor::{Diagnostic, EntryReader, ReadOptions};
use fastcap_core::eventstream::{decode_body, BodyReport, Limits, Mode, Options, OwnedFrame, StreamDecoder};

// ------------------------------------------------------------------------------------------------
// Helpers

fn header() -> Vec<u8> {
    encode_header("hostile", 1_700_000_000.0, None)
}

fn entry(seq: u64, data: &[u8]) -> Vec<u8> {
    encode_entry(1_700_000_000.0 + seq as f64, 3, seq, data, &[], false)
}

/// An entry whose payload is `zlib` as stored (`enc: "zlib"`), however large it inflates.
fn zlib_entry(seq: u64, zlib: &[u8]) -> Vec<u8> {
    let mut out = vec![0xa5];
    for (k, v) in [("ts", None), ("dir", Some(3u8)), ("seq", None)] {
        out.push(0x60 | k.len() as u8);
        out.extend_from_slice(k.as_bytes());
        match (k, v) {
            ("ts", _) => {
                out.push(0xfb);
                out.extend_from_slice(&(1_700_000_000.0 + seq as f64).to_bits().to_be_bytes());
            }
            ("dir", Some(d)) => out.push(d),
            _ => {
                out.push(0x1b);
                out.extend_from_slice(&seq.to_be_bytes());
            }
        }
    }
    out.extend_from_slice(b"\x64data\x5a");
    out.extend_from_slice(&(zlib.len() as u32).to_be_bytes());
    out.extend_from_slice(zlib);
    out.extend_from_slice(b"\x63enc\x64zlib");
    out
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A zlib stream of `n` zero bytes (about a thousandth of that), built without holding them.
fn zlib_zeros(n: usize) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![0u8; 1 << 20];
    let mut left = n;
    while left > 0 {
        let k = left.min(block.len());
        e.write_all(&block[..k]).unwrap();
        left -= k;
    }
    e.finish().unwrap()
}

/// Per row, the inflated length of its payload (`None` when it was not inflated).
fn inflated(batches: &[RecordBatch]) -> Vec<Option<u64>> {
    let mut out = Vec::new();
    for b in batches {
        let len = b.column_by_name("data_len").unwrap().as_primitive::<UInt64Type>();
        let compressed = b.column_by_name("compressed").unwrap().as_boolean();
        let problems = b.column_by_name("problems").unwrap().as_string_view();
        out.extend((0..b.num_rows()).map(|i| (compressed.value(i) && problems.is_null(i)).then(|| len.value(i))));
    }
    out
}

struct Read {
    batches: Vec<RecordBatch>,
    diagnostics: Vec<Diagnostic>,
}

fn read_with(file: &[u8], opts: ReadOptions) -> Read {
    let mut r = EntryReader::new(file.to_vec(), opts).expect("header");
    let mut batches = Vec::new();
    while let Some(b) = r.next_batch() {
        batches.push(b);
    }
    Read { batches, diagnostics: std::mem::take(&mut r.diagnostics) }
}

fn read(file: &[u8], recover: bool) -> Read {
    read_with(file, ReadOptions { recover, ..Default::default() })
}

impl Read {
    fn seqs(&self) -> Vec<u64> {
        let mut out = Vec::new();
        for b in &self.batches {
            let c = b.column_by_name("seq").unwrap().as_primitive::<UInt64Type>();
            out.extend((0..b.num_rows()).map(|i| c.value(i)));
        }
        out
    }

    fn kinds(&self) -> Vec<&'static str> {
        self.diagnostics.iter().map(|d| d.kind).collect()
    }
}

/// Every column of `b` through Arrow's full validation (what strict consumers run).
fn validate_full(b: &RecordBatch) {
    for (f, c) in b.schema().fields().iter().zip(b.columns()) {
        c.to_data().validate_full().unwrap_or_else(|e| panic!("column {}: {e}", f.name()));
    }
}

// ------------------------------------------------------------------------------------------------
// 1. Nesting: every recursive parser has a depth limit

/// Header, a good entry, `bad`, a good entry.
fn around(bad: &[u8]) -> (Vec<u8>, u64) {
    let mut f = header();
    f.extend(entry(0, b"first"));
    let at = f.len() as u64;
    f.extend_from_slice(bad);
    f.extend(entry(2, b"last"));
    (f, at)
}

fn check_refused_and_skipped(bad: &[u8], what: &str) {
    let (file, at) = around(bad);
    let strict = read(&file, false);
    assert_eq!(strict.seqs(), [0], "{what}");
    let d = &strict.diagnostics[0];
    assert_eq!((d.kind, d.offset), ("decode_error", at), "{what}: {d:?}");
    assert!(d.message.contains("deep") || d.message.contains("nested"), "{what}: {}", d.message);
    let recovered = read(&file, true);
    assert_eq!(recovered.seqs(), [0, 2], "{what}: {:?}", recovered.diagnostics);
}

#[test]
fn a_hundred_thousand_tags_around_ts_are_an_error_not_a_crash() {
    // The probe's file: `ts` wrapped in 100,000 tags (1 byte each: tag 6) around a float.
    let mut bad = vec![0xa4, 0x62, b't', b's'];
    bad.extend(std::iter::repeat_n(0xc6, 100_000));
    bad.push(0xfb);
    bad.extend_from_slice(&1.0f64.to_bits().to_be_bytes());
    bad.extend_from_slice(b"\x63dir\x03\x63seq\x01\x64data\x41x");
    check_refused_and_skipped(&bad, "tags around ts");
}

#[test]
fn deep_arrays_maps_and_tags_in_any_value_are_an_error_not_a_crash() {
    let depth = 100_000;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("arrays", std::iter::repeat_n(0x81u8, depth).chain([0x00]).collect()),
        ("indefinite arrays", std::iter::repeat_n(0x9fu8, depth).chain([0x00]).collect()),
        ("maps", std::iter::repeat_n([0xa1u8, 0x60], depth).flatten().chain([0x00]).collect()),
        ("tags", std::iter::repeat_n(0xc6u8, depth).chain([0x00]).collect()),
    ];
    for (what, value) in cases {
        // As an unknown entry key, as a metadata value, and as a key.
        let mut unknown = vec![0xa5];
        unknown.extend_from_slice(b"\x62ts\xfb");
        unknown.extend_from_slice(&1.0f64.to_bits().to_be_bytes());
        unknown.extend_from_slice(b"\x63dir\x03\x63seq\x01\x64data\x41x\x62zz");
        unknown.extend_from_slice(&value);
        check_refused_and_skipped(&unknown, &format!("{what} under an unknown key"));

        let mut meta = unknown[..unknown.len() - value.len() - 3].to_vec();
        meta.extend_from_slice(b"\x64meta\xa1\x63sid");
        meta.extend_from_slice(&value);
        check_refused_and_skipped(&meta, &format!("{what} as a metadata value"));

        let mut key = unknown[..unknown.len() - value.len() - 3].to_vec();
        key.extend_from_slice(&value);
        key.push(0x00);
        check_refused_and_skipped(&key, &format!("{what} as a key"));
    }
}

#[test]
fn deep_header_metadata_is_a_header_error() {
    let mut f = vec![0xa3, 0x65];
    f.extend_from_slice(b"magic\x73LLMPROXY-CAPTURE-V2\x67version\x02\x68metadata");
    f.extend(std::iter::repeat_n(0x81, 100_000));
    f.push(0x00);
    let e = EntryReader::new(f, ReadOptions::default()).err().expect("refused");
    assert_eq!(e.kind, "bad_header");
    assert!(e.message.contains("deep"), "{}", e.message);
}

#[test]
fn deep_json_in_request_and_event_payloads_is_read_as_absent() {
    use fastcap_core::request::request_fields;
    let depth = 200_000;
    let open = "[".repeat(depth);
    // Deep where the reader skips (a message), and deep where it reads (metadata is an object
    // read key by key; a deep array there is a wrong type, read as absent).
    for body in [
        format!(r#"{{"model":"m","messages":{open}"#),
        format!(r#"{{"model":"m","metadata":{open}"#),
        format!(r#"{{"model":"m","conversation":{}"#, r#"{"id":"#.repeat(depth)),
    ] {
        let r = request_fields(body.as_bytes());
        assert_eq!(r.model.as_deref(), Some("m"));
        assert_eq!(r.user_id, None);
    }

    // EventStream payloads (kiro and Bedrock events) and SSE event data.
    let payload = format!(r#"{{"content":"hi","x":{open}"#);
    let body = frame(&[(":event-type", "assistantResponseEvent"), (":message-type", "event")], payload.as_bytes());
    let deep_obj = format!(r#"{{"delta":{}"#, r#"{"delta":"#.repeat(depth));
    let body2 = frame(&[(":event-type", "contentBlockDelta"), (":message-type", "event")], deep_obj.as_bytes());
    let t = fastcap_core::stream_events::eventstream_events(&[Some(&body), Some(&body2)]).unwrap();
    assert_eq!(t.num_rows(), 2);
    let sse = format!("data: {{\"type\":\"content_block_delta\",\"delta\":{open}\n\n");
    let t = fastcap_core::sse::column::split_column(&[Some(sse.as_bytes())], true).unwrap();
    assert_eq!(t.num_rows(), 1);
}

// ------------------------------------------------------------------------------------------------
// 2. Decompression bombs

#[test]
fn an_entry_over_the_entry_limit_stays_compressed_and_is_reported() {
    let bomb = zlib_zeros(8 << 20);
    let small = zlib(&b"data: {\"x\":1}\n\n".repeat(40));
    let mut f = header();
    f.extend(zlib_entry(0, &small));
    let at = f.len() as u64;
    f.extend(zlib_entry(1, &bomb));
    f.extend(zlib_entry(2, &small));
    let opts = ReadOptions { max_entry_inflated: 1 << 20, ..Default::default() };
    let r = read_with(&f, opts);
    assert_eq!(r.seqs(), [0, 1, 2]);
    assert_eq!(r.kinds(), ["inflate_limit"]);
    let d = &r.diagnostics[0];
    assert_eq!((d.offset, d.index, d.seq), (at, Some(1), Some(1)));
    assert!(d.message.contains("per-entry limit of 1 MiB"), "{}", d.message);
    let b = &r.batches[0];
    let data = b.column_by_name("data").unwrap().as_binary_view();
    assert_eq!(data.value(0).len(), 600);
    assert_eq!(data.value(1), &bomb[..], "the payload is kept as stored");
    assert_eq!(data.value(2).len(), 600);
    let problems = b.column_by_name("problems").unwrap().as_string_view();
    assert_eq!(problems.value(1), "inflate_limit");
    assert!(problems.is_null(0) && problems.is_null(2));
    validate_full(b);
}

#[test]
fn the_file_budget_is_charged_in_file_order_whatever_the_batching() {
    // 40 entries of 600 KB each, under a kilobyte compressed: the budget (ratio 1: the file's
    // size, about 30 KB, plus one maximal entry of 1.5 MB) admits the first two.
    let payload = zlib_zeros(600_000);
    let mut f = header();
    for seq in 0..40 {
        f.extend(zlib_entry(seq, &payload));
        f.extend(entry(1000 + seq, b"plain"));
    }
    let opts = ReadOptions { max_entry_inflated: 1_500_000, max_inflate_ratio: 1, ..Default::default() };
    let budget = opts.inflate_budget(f.len());
    let whole = read_with(&f, opts);
    let inflated: u64 = whole
        .batches
        .iter()
        .map(|b| {
            let c = b.column_by_name("data_len").unwrap().as_primitive::<UInt64Type>();
            c.iter().flatten().filter(|&n| n == 600_000).sum::<u64>()
        })
        .sum();
    assert_eq!(inflated, 1_200_000, "{budget}");
    assert_eq!(whole.kinds(), vec!["inflate_limit"; 38]);
    assert!(whole.diagnostics[0].message.contains("1x the file size plus the per-entry limit"));
    for b in &whole.batches {
        validate_full(b);
    }
    for rows in [1, 3, 7] {
        let small = read_with(&f, ReadOptions { batch_rows: rows, ..opts });
        assert_eq!(small.diagnostics, whole.diagnostics, "{rows} rows per batch");
        assert_eq!(small.seqs(), whole.seqs());
    }
    // The two-thread rounds and the two-thread inflation of a batch give the same result.
    let mut r = EntryReader::new(f.clone(), opts).unwrap();
    let mut rounds = Vec::new();
    while !r.is_done() {
        rounds.extend(r.next_round(1 << 10));
    }
    assert_eq!(r.diagnostics, whole.diagnostics);
    assert_eq!(rounds.iter().map(RecordBatch::num_rows).sum::<usize>(), 80);
}

#[test]
fn two_thread_rounds_read_as_a_sequential_read_under_the_budget() {
    // A 6 MB capture (rounds of 4 MiB split in two) of plain 2 KB entries with a 2 MB zeros
    // payload every 50 entries: a tight budget refuses most of them, a loose one none.
    let zeros = zlib_zeros(2 << 20);
    let mut f = header();
    for seq in 0..3000u64 {
        if seq % 50 == 25 {
            f.extend(zlib_entry(seq, &zeros));
        } else {
            f.extend(entry(seq, format!("{seq:02000}").as_bytes()));
        }
    }
    for ratio in [1, 2, 32] {
        let opts = ReadOptions {
            max_entry_inflated: 4 << 20,
            max_inflate_ratio: ratio,
            batch_rows: 500,
            ..Default::default()
        };
        let seq = read_with(&f, opts);
        let admitted = (opts.inflate_budget(f.len()) / (2 << 20)).min(60) as usize;
        assert_eq!(seq.kinds(), vec!["inflate_limit"; 60 - admitted], "ratio {ratio}");
        let mut r = EntryReader::new(f.clone(), opts).unwrap();
        let mut rounds = Vec::new();
        while !r.is_done() {
            rounds.extend(r.next_round(4 << 20));
        }
        assert_eq!(r.diagnostics, seq.diagnostics, "ratio {ratio}");
        assert_eq!(inflated(&rounds), inflated(&seq.batches), "ratio {ratio}");
        if ratio == 32 {
            assert!(r.speculation.0 > 0, "{:?}", r.speculation);
        }
    }
}

#[test]
fn the_budget_holds_when_a_batch_is_inflated_on_two_threads() {
    // Over 64 payloads and 512 KiB compressed: the batch is split across two threads. Payloads
    // of 64 KiB random bytes (incompressible, so each is 64 KiB compressed) and 200 KB of zeros.
    let mut rng = 0x9e3779b97f4a7c15u64;
    let mut random = vec![0u8; 64 << 10];
    for b in random.iter_mut() {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        *b = rng as u8;
    }
    let big = zlib(&random);
    let zeros = zlib_zeros(200_000);
    let mut f = header();
    for seq in 0..200u64 {
        f.extend(zlib_entry(seq, if seq % 3 == 0 { &big } else { &zeros }));
    }
    for (entry_limit, ratio) in [(1usize << 20, 2u32), (150_000, 32), (1 << 20, 3)] {
        let opts = ReadOptions { max_entry_inflated: entry_limit, max_inflate_ratio: ratio, ..Default::default() };
        let whole = read_with(&f, opts);
        let one = read_with(&f, ReadOptions { batch_rows: 1, ..opts });
        assert!(!whole.diagnostics.is_empty());
        assert_eq!(whole.diagnostics, one.diagnostics, "limits {entry_limit} / {ratio}");
        for (a, b) in whole.batches.iter().zip(&one.batches) {
            validate_full(a);
            validate_full(b);
        }
        assert_eq!(inflated(&whole.batches), inflated(&one.batches), "limits {entry_limit} / {ratio}");
        let total: u64 = inflated(&whole.batches).iter().flatten().sum();
        assert!(total <= opts.inflate_budget(f.len()), "limits {entry_limit} / {ratio}");
    }
}

#[test]
fn five_gibibyte_bombs_with_the_default_limits() {
    // The probe's capture: entries of about 1 MB that inflate to 1 GiB each. Refused one by one
    // (the per-entry limit is 256 MiB), the entries between them read normally.
    let bomb = zlib_zeros(1 << 30);
    assert!(bomb.len() < 2 << 20);
    let mut f = header();
    for seq in 0..5 {
        f.extend(zlib_entry(seq * 2, &bomb));
        f.extend(entry(seq * 2 + 1, b"fine"));
    }
    let t = Instant::now();
    let r = read(&f, false);
    let took = t.elapsed();
    assert_eq!(r.seqs(), (0..10).collect::<Vec<_>>());
    assert_eq!(r.kinds(), vec!["inflate_limit"; 5]);
    assert!(took < Duration::from_secs(20), "{took:?}");
}

// ------------------------------------------------------------------------------------------------
// 4. Impossible lengths

#[test]
fn an_impossible_length_is_damage_not_a_truncated_tail() {
    let mut f = header();
    f.extend(entry(0, b"before"));
    let at = f.len() as u64;
    // An entry whose payload claims 1 GiB (the file holds a few hundred bytes).
    let mut bad = entry(1, b"damaged");
    let p = bad.len() - 8;
    assert_eq!(bad[p], 0x47); // a 7-byte byte string
    bad.splice(p..p + 1, [0x5a, 0x40, 0x00, 0x00, 0x00]);
    f.extend(bad);
    for seq in 2..5 {
        f.extend(entry(seq, b"after"));
    }
    let strict = read(&f, false);
    assert_eq!(strict.seqs(), [0]);
    assert_eq!(strict.kinds(), ["decode_error"]);
    let d = &strict.diagnostics[0];
    assert_eq!(d.offset, at);
    assert!(d.message.contains("1073741824 bytes") && d.message.contains("impossible"), "{}", d.message);

    let recovered = read(&f, true);
    assert_eq!(recovered.seqs(), [0, 2, 3, 4]);
    assert_eq!(recovered.kinds(), ["decode_error", "resync_skip"]);

    // A real truncated tail is still one.
    let cut = &f[..f.len() - 3];
    let r = read(cut, true);
    assert_eq!(r.seqs(), [0, 2, 3]);
    assert_eq!(r.kinds(), ["decode_error", "resync_skip", "truncated_tail"]);
}

// 5. Pooled batch memory: in `tests/batch_pool.rs` (a process of its own, see there).

// ------------------------------------------------------------------------------------------------
// 3. EventStream resynchronisation is linear

fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut block = Vec::new();
    for (n, v) in headers {
        block.push(n.len() as u8);
        block.extend_from_slice(n.as_bytes());
        block.push(7);
        block.extend_from_slice(&(v.len() as u16).to_be_bytes());
        block.extend_from_slice(v.as_bytes());
    }
    raw_frame(&block, payload)
}

fn raw_frame(block: &[u8], payload: &[u8]) -> Vec<u8> {
    let total = (16 + block.len() + payload.len()) as u32;
    let mut o = total.to_be_bytes().to_vec();
    o.extend_from_slice(&(block.len() as u32).to_be_bytes());
    let pc = crc32fast::hash(&o);
    o.extend_from_slice(&pc.to_be_bytes());
    o.extend_from_slice(block);
    o.extend_from_slice(payload);
    let mc = crc32fast::hash(&o);
    o.extend_from_slice(&mc.to_be_bytes());
    o
}

fn prelude(total: u32) -> Vec<u8> {
    let mut p = total.to_be_bytes().to_vec();
    p.extend_from_slice(&0u32.to_be_bytes());
    let c = crc32fast::hash(&p);
    p.extend_from_slice(&c.to_be_bytes());
    p
}

/// A frame, garbage, then decoy preludes every 16 bytes to the end: each has a valid CRC and
/// claims a frame a quarter of the body long, whose message CRC fails. One resync scan runs over
/// them all, to the first decoy whose claim runs past the end (the truncated tail).
fn decoy_body(n: usize) -> Vec<u8> {
    let mut b = frame(&[(":event-type", "assistantResponseEvent")], br#"{"content":"x"}"#);
    b.extend_from_slice(b"junk");
    let decoy = prelude((n / 4) as u32);
    while b.len() < n {
        b.extend_from_slice(&decoy);
        b.extend_from_slice(&[0x5a; 4]);
    }
    b.truncate(n);
    b
}

/// A long valid stream of real-shaped frames with every 1000th byte flipped.
fn flipped_body(n: usize) -> Vec<u8> {
    let frames = [
        frame(
            &[(":event-type", "assistantResponseEvent"), (":message-type", "event")],
            br#"{"content":"Hello there"}"#,
        ),
        frame(&[(":event-type", "toolUseEvent"), (":message-type", "event")], &[b'a'; 700]),
    ];
    let mut b = Vec::with_capacity(n);
    let mut i = 0;
    while b.len() < n {
        b.extend_from_slice(&frames[i % 2]);
        i += 1;
    }
    b.truncate(n);
    for x in b.iter_mut().step_by(1000) {
        *x ^= 0xff;
    }
    b
}

fn resync() -> Options {
    Options { mode: Mode::Resync, limits: Limits::default() }
}

fn whole(body: &[u8]) -> (Vec<OwnedFrame>, BodyReport) {
    let mut frames = Vec::new();
    let r = decode_body(body, &resync(), |f| frames.push(f.to_owned_frame()));
    (frames, r)
}

fn chunked(body: &[u8], size: usize) -> (Vec<OwnedFrame>, BodyReport) {
    let mut d = StreamDecoder::with_options(resync());
    let mut frames = Vec::new();
    for c in body.chunks(size) {
        d.feed(c, |f| frames.push(f.to_owned_frame())).unwrap();
    }
    d.finish().unwrap();
    (frames, d.report())
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let r = f();
    (r, t.elapsed())
}

#[test]
fn resync_over_decoys_is_linear() {
    let small = decoy_body(1 << 20);
    let big = decoy_body(10 << 20);
    let ((_, r_small), t_small) = timed(|| whole(&small));
    let ((frames, r_big), t_big) = timed(|| whole(&big));
    assert_eq!((frames.len(), r_big.errors.len(), r_small.errors.len()), (1, 1, 1));
    assert!(r_big.truncated.is_some_and(|t| t.offset > 7 << 20), "{r_big:?}");
    assert!(t_big < Duration::from_secs(3), "10 MB of decoys: {t_big:?}");
    let ratio = t_big.as_secs_f64() / t_small.as_secs_f64().max(1e-4);
    assert!(ratio < 30.0, "10 MB took {ratio:.0}x as long as 1 MB ({t_big:?} / {t_small:?})");
    // The incremental decoder, fed 4 KiB and 64 KiB at a time.
    for size in [4 << 10, 64 << 10] {
        let (got, t) = timed(|| chunked(&big, size));
        assert!(t < Duration::from_secs(3), "10 MB of decoys in {size}-byte chunks: {t:?}");
        assert_eq!(got.1, r_big, "chunks of {size}");
        assert_eq!(got.0, frames, "chunks of {size}");
    }
}

#[test]
fn resync_over_a_flipped_stream_is_linear() {
    let body = flipped_body(10 << 20);
    let ((frames, r), t) = timed(|| whole(&body));
    assert!(frames.len() > 10_000 && r.errors.len() > 1000, "{} frames, {} errors", frames.len(), r.errors.len());
    assert!(t < Duration::from_secs(3), "{t:?}");
    let (got, t) = timed(|| chunked(&body, 1500));
    assert!(t < Duration::from_secs(3), "{t:?}");
    assert_eq!(got, (frames, r));
}

#[test]
fn incremental_equals_whole_body_with_long_decoys_in_any_chunking() {
    // Decoys that claim frames longer than the short-frame path, some ending exactly where a real
    // frame ends, some past the end of the body, between real frames and garbage.
    let good = frame(&[(":event-type", "assistantResponseEvent")], &[b'p'; 400]);
    let mut rng = 7u64;
    let mut next = |n: usize| {
        rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((rng >> 33) % n as u64) as usize
    };
    for case in 0..300 {
        let mut b = Vec::new();
        for _ in 0..next(10) {
            match next(5) {
                0 => b.extend_from_slice(&good),
                1 => b.extend((0..next(300)).map(|i| (i * 31 + case) as u8)),
                2 => b.extend(prelude(257 + next(2000) as u32)),
                3 => {
                    // A decoy whose claimed frame ends on a real frame's message CRC.
                    let mut d = prelude(good.len() as u32 + 12);
                    d.extend_from_slice(&good);
                    b.extend(d);
                }
                _ => b.extend(prelude(300 + next(3000) as u32)),
            }
        }
        let want = whole(&b);
        for size in [1, 2, 13, 64, 257, 4096] {
            assert_eq!(chunked(&b, size), want, "case {case}, chunks of {size}");
        }
    }
}

#[test]
fn many_headers_in_one_frame_are_linear() {
    // Frames with a 128 KiB header block: 26,000 distinct three-letter names.
    let mut block = Vec::new();
    'fill: for a in b'a'..=b'z' {
        for c in b'A'..=b'Z' {
            for d in b'!'..=b'~' {
                if block.len() + 5 > 128 * 1024 {
                    break 'fill;
                }
                block.extend_from_slice(&[3, a, c, d, 0]);
            }
        }
    }
    assert!(block.len() > 120 * 1024);
    let f = raw_frame(&block, b"{}");
    let body: Vec<u8> = f.iter().copied().cycle().take(f.len() * 20).collect();
    let ((frames, r), t) = timed(|| whole(&body));
    assert_eq!((frames.len(), r.errors.len()), (20, 0));
    assert!(t < Duration::from_secs(3), "{t:?}");
}

// ------------------------------------------------------------------------------------------------
// 6. mitmdump logs

#[test]
fn a_nul_byte_is_reported_at_its_offset() {
    let text = std::fs::read(common::test_data("mitmproxy/mitmdump_replay_flow_detail1.txt")).unwrap();
    for at in [0, 5, 300] {
        let mut b = text.clone();
        b.insert(at, 0);
        let e = match fastcap_core::mitmlog::parse_bytes(&b) {
            Err(fastcap_core::Error::Format(e)) => e,
            other => panic!("{:?}", other.map(|_| ())),
        };
        assert_eq!((e.kind.as_str(), e.offset), ("binary", at as u64));
    }
}
