//! The AWS EventStream decoders: whole body (`decode_body`), incremental (`StreamDecoder`), the
//! column decoder (`decode_column`) and the events table of `stream_events`, in strict and resync
//! mode, on arbitrary bytes.
//!
//! Input: a 3-byte control header (`fastcap_fuzz::Control`: flags, chunking seed), then the body.
//! Flag bit 0 picks resync mode, bit 1 small limits (1 KiB headers, 4 KiB payload) so that the
//! limit checks are reached, bit 2 also runs the column decoder and the events table (they
//! cost as much as the rest together, so only the inputs that ask for them pay for them).
//!
//! Invariants:
//! * no panic;
//! * frames tile the body in order: each starts where the previous one (or a skipped range)
//!   ended, and ends within the body; every error offset and skipped range is within the body;
//! * fed in chunks (sizes drawn from the seed, and one byte at a time for bodies up to 1 KiB) the
//!   incremental decoder gives exactly the whole-body frames, and the same error, or the same
//!   errors, skipped counts and truncated tail in resync mode;
//! * the column decoder and the events table have one row per frame, at the frames' offsets, and
//!   validate as Arrow.
#![no_main]

use arrow_array::cast::AsArray;
use arrow_array::types::{UInt32Type, UInt64Type};
use fastcap_core::eventstream::{
    decode_body, decode_column, BodyReport, DecodeError, Limits, Mode, OwnedFrame, Options, StreamDecoder,
};
use fastcap_core::stream_events::eventstream_events;
use fastcap_fuzz::{chunk_sizes, chunks, validate_batch, Control};
use libfuzzer_sys::fuzz_target;

fn whole(body: &[u8], opts: &Options) -> (Vec<OwnedFrame>, BodyReport) {
    let mut frames = Vec::new();
    let report = decode_body(body, opts, |f| frames.push(f.to_owned_frame()));
    (frames, report)
}

/// Feeds the chunks; in strict mode returns the first error `feed` or `finish` returned.
fn incremental(parts: &[&[u8]], opts: &Options) -> (Vec<OwnedFrame>, StreamDecoder, Option<DecodeError>) {
    let mut dec = StreamDecoder::with_options(*opts);
    let mut frames = Vec::new();
    let mut error = None;
    for part in parts {
        if let Err(e) = dec.feed(part, |f| frames.push(f.to_owned_frame())) {
            assert_eq!(opts.mode, Mode::Strict, "resync feed failed: {e:?}");
            // After an error every later call returns it.
            let again = dec.feed(b"", |_| panic!("a frame after an error"));
            assert_eq!(again.as_ref().err(), Some(&e), "a strict decoder forgot its error");
            error = Some(e);
            break;
        }
    }
    if error.is_none() {
        if let Err(e) = dec.finish() {
            assert_eq!(opts.mode, Mode::Strict, "resync finish failed: {e:?}");
            error = Some(e);
        }
    }
    (frames, dec, error)
}

fn check_tiling(body: &[u8], frames: &[OwnedFrame], report: &BodyReport, opts: &Options) {
    let len = body.len() as u64;
    // Frames and skipped ranges, in body order, tile the body up to the truncated tail (or up to
    // the error that stopped a strict decode).
    let mut pieces: Vec<(u64, u64)> = frames.iter().map(|f| (f.offset, u64::from(f.total_length))).collect();
    for e in &report.errors {
        assert!(e.error.frame_offset <= e.error.offset, "error before its frame: {e:?}");
        assert!(e.error.offset <= len, "error offset past the body ({len}): {e:?}");
        if opts.mode == Mode::Resync {
            pieces.push((e.error.frame_offset, e.skipped));
        } else {
            assert_eq!(e.skipped, 0, "strict mode skipped bytes");
        }
    }
    pieces.sort_unstable();
    let mut at = 0u64;
    for (start, n) in pieces {
        assert_eq!(start, at, "frames and skipped ranges do not tile the body: gap or overlap at {at}");
        at = start.checked_add(n).expect("range end overflows");
        assert!(at <= len, "frame or skipped range ends past the body ({len})");
    }
    if let Some(t) = report.truncated {
        assert_eq!(t.offset, at, "truncated tail does not start where decoding stopped");
        assert_eq!(t.offset + t.have, len, "truncated tail does not run to the end of the body");
        assert!(t.have < t.need, "a tail with all the bytes it needs is not truncated: {t:?}");
    } else if opts.mode == Mode::Resync || report.errors.is_empty() {
        assert_eq!(at, len, "decoding stopped at {at} of {len} without an error or a truncated tail");
    }
    for f in frames {
        assert!(f.total_length >= 16, "frame shorter than the 16-byte minimum");
        assert!(f.payload.len() as u64 <= u64::from(opts.limits.max_payload_len), "payload over the limit");
    }
}

fuzz_target!(|data: &[u8]| {
    let ctl = Control::parse(data);
    let body = ctl.body;
    let mode = if ctl.flags & 1 == 0 { Mode::Strict } else { Mode::Resync };
    let limits =
        if ctl.flags & 2 == 0 { Limits::default() } else { Limits { max_headers_len: 1024, max_payload_len: 4096 } };
    let opts = Options { mode, limits };

    let (frames, report) = whole(body, &opts);
    assert_eq!(report.frames, frames.len() as u64);
    check_tiling(body, &frames, &report, &opts);

    let mut chunkings = vec![chunk_sizes(body.len(), ctl.seed)];
    if body.len() <= 1024 {
        chunkings.push(vec![1; body.len()]);
    }
    for sizes in &chunkings {
        let parts = chunks(body, sizes);
        let (inc, dec, error) = incremental(&parts, &opts);
        assert!(inc == frames, "incremental frames differ from whole-body frames (chunks {sizes:?})");
        match mode {
            Mode::Strict => {
                assert_eq!(error, report.first_error(), "incremental error differs (chunks {sizes:?})");
            }
            Mode::Resync => {
                assert_eq!(dec.report(), report, "incremental report differs (chunks {sizes:?})");
            }
        }
    }

    if ctl.flags & 4 == 0 {
        return;
    }
    // The column decoder: one events row per frame, and the body summary.
    let (events, bodies) = decode_column([Some(body), None], &opts).expect("column decode");
    let mut offsets = Vec::new();
    for b in &events.batches {
        validate_batch("eventstream events", b);
        let off = b.column_by_name("offset").unwrap().as_primitive::<UInt64Type>();
        let ex = b.column_by_name("exchange_index").unwrap().as_primitive::<UInt32Type>();
        let payload = b.column_by_name("payload").unwrap().as_binary_view();
        for r in 0..b.num_rows() {
            assert_eq!(ex.value(r), 0, "a frame for the missing body");
            offsets.push((off.value(r), payload.value(r).to_vec()));
        }
    }
    let want: Vec<(u64, Vec<u8>)> = frames.iter().map(|f| (f.offset, f.payload.clone())).collect();
    assert!(offsets == want, "column decoder frames differ from decode_body");
    for b in &bodies.batches {
        validate_batch("eventstream bodies", b);
        assert_eq!(b.num_rows(), 2, "one summary row per body");
    }

    // The events table (always resync mode, default limits).
    let resync = Options { mode: Mode::Resync, limits: Limits::default() };
    let (rframes, _) = if opts == resync { (frames, report) } else { whole(body, &resync) };
    let table = eventstream_events(&[Some(body)]).expect("events table");
    let mut spans = Vec::new();
    for b in &table.batches {
        validate_batch("stream events", b);
        let s = b.column_by_name("byte_start").unwrap().as_primitive::<UInt64Type>();
        let e = b.column_by_name("byte_end").unwrap().as_primitive::<UInt64Type>();
        for r in 0..b.num_rows() {
            spans.push((s.value(r), e.value(r)));
        }
    }
    let want: Vec<(u64, u64)> = rframes.iter().map(|f| (f.offset, f.offset + u64::from(f.total_length))).collect();
    assert_eq!(spans, want, "events table rows are not the frames");
});
