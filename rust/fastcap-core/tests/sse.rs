//! SSE splitter: the recorded fixtures against their expected.json, and the WHATWG edge cases
//! (chunk-split CR/LF, BOM, comments, id/retry, split and invalid UTF-8, EOF handling).

mod common;

use std::path::PathBuf;

use fastcap_core::sse::{split, split_chunked, SseDecoder, SseEvent, SseStats};
use serde_json::Value;

fn testdata() -> PathBuf {
    common::test_data("sse")
}

fn rle(types: &[&str]) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = Vec::new();
    for t in types {
        match out.last_mut() {
            Some((n, c)) if n == t => *c += 1,
            _ => out.push(((*t).to_owned(), 1)),
        }
    }
    out
}

/// Feed `body` in the given chunk sizes (cycled), collecting all events.
fn chunked(body: &[u8], sizes: &[usize]) -> (Vec<SseEvent>, SseStats) {
    let mut dec = SseDecoder::new();
    let mut out = Vec::new();
    let mut off = 0;
    let mut k = 0;
    while off < body.len() {
        let n = sizes[k % sizes.len()].max(1).min(body.len() - off);
        out.extend(dec.feed(&body[off..off + n], None).unwrap());
        off += n;
        k += 1;
    }
    out.extend(dec.finish());
    (out, dec.stats().clone())
}

fn check_fixture(dir: &str, file: &str, exp: &Value) -> usize {
    let body = std::fs::read(testdata().join(dir).join(file)).unwrap();
    let (events, stats) = split(&body);
    let w = &exp["whatwg"];
    let term: Vec<&SseEvent> = events.iter().filter(|e| e.terminated).collect();
    let pending: Vec<&SseEvent> = events.iter().filter(|e| !e.terminated).collect();
    assert_eq!(term.len() as u64, w["dispatched_events"].as_u64().unwrap(), "{dir}/{file}: event count");
    let types: Vec<&str> = term.iter().map(|e| e.event_type.as_str()).collect();
    let want: Vec<(String, u64)> = w["event_names_rle"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().to_owned(), p[1].as_u64().unwrap()))
        .collect();
    assert_eq!(rle(&types), want, "{dir}/{file}: RLE types");
    for key in ["comment_lines", "blank_lines", "blocks_without_data", "id_fields", "retry_fields", "unknown_fields"] {
        let got = match key {
            "comment_lines" => stats.comment_lines,
            "blank_lines" => stats.blank_lines,
            "blocks_without_data" => stats.blocks_without_data,
            "id_fields" => stats.id_fields,
            "retry_fields" => stats.retry_fields,
            _ => stats.unknown_fields,
        };
        assert_eq!(got, w[key].as_u64().unwrap(), "{dir}/{file}: {key}");
    }
    assert_eq!(stats.line_endings(), exp["line_endings"].as_str().unwrap(), "{dir}/{file}: line endings");
    assert_eq!(stats.ends_with_blank_line, exp["ends_with_blank_line"].as_bool().unwrap(), "{dir}/{file}");
    assert_eq!(stats.ends_with_newline, exp["ends_with_newline"].as_bool().unwrap(), "{dir}/{file}");
    match w.get("not_dispatched_at_eof") {
        Some(p) => {
            assert_eq!(pending.len(), 1, "{dir}/{file}: one pending event");
            assert_eq!(pending[0].event_type, p["type"].as_str().unwrap());
            assert_eq!(pending[0].data, p["data"].as_str().unwrap());
            assert_eq!(pending[0].byte_end, body.len() as u64);
            assert!(stats.pending_at_eof);
            assert_eq!(events.len() as u64, w["dispatched_if_flushed_at_eof"].as_u64().unwrap());
        }
        None => {
            assert!(pending.is_empty(), "{dir}/{file}: nothing pending");
            assert!(!stats.pending_at_eof);
        }
    }
    // Indices are sequential; byte ranges are ordered and inside the body.
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.index, i as u64);
        assert!(e.byte_start < e.byte_end && e.byte_end <= body.len() as u64);
        assert_eq!(e.is_done, e.data == "[DONE]");
    }
    // Chunking never changes anything.
    for sizes in [&[1usize][..], &[2], &[3, 7, 1], &[16384], &[5, 1, 1, 64]] {
        let (ev2, st2) = chunked(&body, sizes);
        assert_eq!(ev2, events, "{dir}/{file}: chunks {sizes:?}");
        assert_eq!(st2, stats, "{dir}/{file}: stats with chunks {sizes:?}");
    }
    events.len()
}

#[test]
fn fixtures_match_expected() {
    let mut files = 0;
    let mut events = 0;
    for dir in ["anthropic", "openai-chat", "openai-responses", "gemini"] {
        let text = std::fs::read_to_string(testdata().join(dir).join("expected.json")).unwrap();
        let exp: Value = serde_json::from_str(&text).unwrap();
        for (file, e) in exp["files"].as_object().unwrap() {
            events += check_fixture(dir, file, e);
            files += 1;
        }
    }
    assert_eq!(files, 32);
    assert!(events > 1000);
}

fn ev(body: &[u8]) -> Vec<(String, String, bool)> {
    split(body).0.into_iter().map(|e| (e.event_type, e.data, e.terminated)).collect()
}

fn s(t: &str, d: &str, term: bool) -> (String, String, bool) {
    (t.to_owned(), d.to_owned(), term)
}

#[test]
fn line_endings_cr_lf_crlf_and_mixed() {
    for (body, style) in [
        (&b"data: a\n\ndata: b\n\n"[..], "LF"),
        (b"data: a\r\n\r\ndata: b\r\n\r\n", "CRLF"),
        (b"data: a\r\rdata: b\r\r", "CR"),
        (b"data: a\r\n\ndata: b\r\r", "mixed"),
    ] {
        let (events, stats) = split(body);
        let got: Vec<_> = events.iter().map(|e| e.data.as_str()).collect();
        assert_eq!(got, ["a", "b"], "{body:?}");
        assert_eq!(stats.line_endings(), style);
        assert!(stats.ends_with_blank_line);
    }
    assert_eq!(split(b"data: a").1.line_endings(), "none");
}

#[test]
fn cr_and_lf_split_across_chunks_is_one_line_break() {
    // "data: a\r" | "\n" | "\r" | "\n": two CRLFs, one blank line, one event.
    let mut dec = SseDecoder::new();
    let mut out = dec.feed(b"data: a\r", None).unwrap();
    out.extend(dec.feed(b"\n", None).unwrap());
    assert!(out.is_empty());
    out.extend(dec.feed(b"\r", None).unwrap());
    assert_eq!(out.len(), 1, "dispatched at the CR of the blank line");
    out.extend(dec.feed(b"\ndata: b\n\n", None).unwrap());
    out.extend(dec.finish());
    assert_eq!(out.iter().map(|e| e.data.as_str()).collect::<Vec<_>>(), ["a", "b"]);
    assert_eq!(dec.stats().blank_lines, 2, "the LF after a chunk-final CR is not a blank line");
    assert_eq!((dec.stats().crlf, dec.stats().lf, dec.stats().cr), (2, 2, 0));
    // A lone CR at a chunk end followed by a non-LF: still a CR line break.
    let (e, st) = split_chunked(b"data: a\r\rdata: b\r\r", &[8, 1, 8, 1], None).unwrap();
    assert_eq!(e.len(), 2);
    assert_eq!(st.cr, 4);
}

#[test]
fn bom_stripped_once_even_when_split() {
    let body = b"\xEF\xBB\xBFdata: x\n\n";
    for sizes in [&[1usize][..], &[2], &[3], &[100]] {
        let (e, st) = chunked(body, sizes);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].data, "x");
        assert_eq!(e[0].byte_start, 3);
        assert!(st.bom);
    }
    // A second BOM is content: "\u{FEFF}data" is an unknown field name.
    let (e, st) = split(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\n");
    assert!(e.is_empty());
    assert_eq!(st.unknown_fields, 1);
    // A BOM not at the start is data.
    assert_eq!(ev(b"data: \xEF\xBB\xBFx\n\n"), [s("message", "\u{FEFF}x", true)]);
}

#[test]
fn comments_fields_and_multiline_data() {
    let body = b": keep-alive\n:\nevent: e1\ndata\ndata:\ndata:  two spaces\ndata:x\nfoo: bar\nnocolon\n\n";
    let (e, st) = split(body);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].event_type, "e1");
    assert_eq!(e[0].data, "\n\n two spaces\nx");
    assert_eq!(e[0].byte_start, 0);
    assert_eq!(&body[e[0].byte_start as usize..e[0].byte_end as usize], &body[..body.len() - 1]);
    assert_eq!((st.comment_lines, st.unknown_fields, st.blank_lines), (2, 2, 1));
    // Field names are case-sensitive; "Data" is unknown.
    assert_eq!(ev(b"Data: x\n\n"), []);
    // A block with only event/id/retry is never dispatched, and is counted.
    let (e, st) = split(b"event: ping\n\nid: 1\n\nretry: 5\n\n: c\n\n\n");
    assert!(e.is_empty());
    assert_eq!(st.blocks_without_data, 3);
    // An event type does not leak into the next event.
    assert_eq!(ev(b"event: a\n\ndata: x\n\n"), [s("message", "x", true)]);
    // Empty data value still dispatches (data buffer holds "\n").
    assert_eq!(ev(b"data\n\n"), [s("message", "", true)]);
}

#[test]
fn id_and_retry_rules() {
    let body = b"id: 1\ndata: a\n\ndata: b\n\nid: x\0y\ndata: c\n\nid\ndata: d\n\nretry: 1500\nretry: 1a\nretry: +5\nretry:\ndata: e\n\n";
    let (e, st) = split(body);
    let ids: Vec<_> = e.iter().map(|e| e.last_event_id.as_str()).collect();
    assert_eq!(ids, ["1", "1", "1", "", ""], "persistence, NUL ignored, empty resets");
    assert_eq!(st.retry, Some(1500));
    assert_eq!((st.id_fields, st.retry_fields), (3, 4));
}

#[test]
fn utf8_split_across_chunks_and_invalid_bytes() {
    let body = "data: h\u{e9}llo \u{1F600} \u{4e16}\n\n".as_bytes();
    for sizes in [&[1usize][..], &[2], &[7, 1, 1, 1, 1]] {
        let (e, _) = chunked(body, sizes);
        assert_eq!(e[0].data, "h\u{e9}llo \u{1F600} \u{4e16}");
    }
    // Invalid sequences become U+FFFD (maximal subpart), whatever the chunking.
    let bad = b"data: a\xFFb\xE2\x82c\xF0\x9F\n\n";
    let want = "a\u{FFFD}b\u{FFFD}c\u{FFFD}";
    assert_eq!(split(bad).0[0].data, want);
    for sizes in [&[1usize][..], &[9], &[10]] {
        assert_eq!(chunked(bad, sizes).0[0].data, want);
    }
    // A truncated sequence at a line end does not swallow the newline.
    assert_eq!(ev(b"data: \xE2\x82\ndata: z\n\n"), [s("message", "\u{FFFD}\nz", true)]);
}

#[test]
fn eof_pending_event_is_flagged_not_dropped() {
    // Final event without its blank line, and a partial last line without any terminator.
    assert_eq!(ev(b"data: a\n\ndata: b\n"), [s("message", "a", true), s("message", "b", false)]);
    let (e, st) = split(b"data: a\n\nevent: x\ndata: b");
    assert_eq!(
        e[1],
        SseEvent {
            index: 1,
            event_type: "x".into(),
            data: "b".into(),
            last_event_id: String::new(),
            byte_start: 9,
            byte_end: 25,
            terminated: false,
            is_done: false,
            t_first_byte: None,
            t_last_byte: None
        }
    );
    assert!(st.partial_last_line && st.pending_at_eof && !st.ends_with_newline && !st.ends_with_blank_line);
    // Pending without data is not an event.
    let (e, st) = split(b"data: a\n\nevent: x\n");
    assert_eq!(e.len(), 1);
    assert!(!st.pending_at_eof);
    // [DONE] sentinel; finish is idempotent; feed after finish is an error.
    let mut dec = SseDecoder::new();
    let e = dec.feed(b"data: [DONE]\n\n", None).unwrap();
    assert!(e[0].is_done);
    assert!(dec.finish().is_empty() && dec.finish().is_empty());
    assert!(dec.feed(b"x", None).is_err());
    assert_eq!(split(b"").0, []);
    assert_eq!(split(b"\xEF\xBB\xBF").1.lines, 0);
}

#[test]
fn chunk_times_give_first_and_last_byte_times() {
    let body = b"data: a\n\ndata: b\ndata: c\n\ndata: d";
    let (e, _) = split_chunked(body, &[4, 10, 6, 13], Some(&[1.0, 2.0, 3.0, 4.0])).unwrap();
    let t: Vec<_> = e.iter().map(|e| (e.t_first_byte, e.t_last_byte)).collect();
    assert_eq!(t, [(Some(1.0), Some(2.0)), (Some(2.0), Some(4.0)), (Some(4.0), Some(4.0))]);
    // CRLF split across chunks: the LF is the event's last byte.
    let (e, _) = split_chunked(b"data: a\r\n\r\n", &[8, 3], Some(&[1.0, 2.0])).unwrap();
    assert_eq!((e[0].t_first_byte, e[0].t_last_byte, e[0].byte_end), (Some(1.0), Some(2.0), 9));
    assert!(split_chunked(b"abc", &[1, 1], None).is_err());
    assert!(split_chunked(b"abc", &[3], Some(&[1.0, 2.0])).is_err());
}

#[test]
fn column_table_matches_per_body_split() {
    use arrow_array::cast::AsArray;
    use arrow_array::Array;
    let bodies: Vec<Option<&[u8]>> =
        vec![Some(b"data: a\n\ndata: b"), None, Some(b""), Some(b"event: e\ndata: {\"type\":\"e\"}\n\n")];
    let t = fastcap_core::sse::column::split_column(&bodies, true).unwrap();
    assert_eq!(t.num_rows(), 3);
    let b = &t.batches[0];
    let idx = b.column_by_name("exchange_index").unwrap().as_primitive::<arrow_array::types::UInt32Type>();
    assert_eq!(idx.values().to_vec(), [0, 0, 3]);
    let jt = b.column_by_name("json_type").unwrap().as_string::<i32>();
    assert!(jt.is_null(0));
    assert_eq!(jt.value(2), "e");
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

/// A random body made of the pieces that matter to the rules: field names with and without colon
/// and space, every line ending, BOMs, comments, NUL, valid and invalid UTF-8, long values.
fn random_body(rng: &mut Lcg) -> Vec<u8> {
    const PIECES: &[&[u8]] = &[
        b"data:",
        b"data: ",
        b"data",
        b"event:",
        b"event: ",
        b"id: ",
        b"id:",
        b"retry: ",
        b"retry:12",
        b":",
        b": ping",
        b"foo: ",
        b"x",
        b"{\"type\":\"content_block_delta\",\"text\":\"a longer value over twelve bytes\"}",
        b"[DONE]",
        b"\n",
        b"\n",
        b"\n",
        b"\r",
        b"\r\n",
        b"\n\n",
        b"\r\n\r\n",
        b"\xEF\xBB\xBF",
        b"\0",
        b"\xC3\xA9",
        b"\xF0\x9F\x98\x80",
        b"\xFF",
        b"\xE2\x82",
        b"message",
        b"  ",
    ];
    let mut body = Vec::new();
    if rng.below(4) == 0 {
        body.extend_from_slice(b"\xEF\xBB\xBF");
    }
    for _ in 0..rng.below(60) {
        body.extend_from_slice(PIECES[rng.below(PIECES.len())]);
    }
    body
}

#[test]
fn whole_body_split_equals_incremental_decoder_on_random_bodies() {
    let mut rng = Lcg(42);
    for _ in 0..4000 {
        let body = random_body(&mut rng);
        let (events, stats) = split(&body);
        let mut dec = SseDecoder::new();
        let mut inc = dec.feed(&body, None).unwrap();
        inc.extend(dec.finish());
        assert_eq!(inc, events, "{body:?}");
        assert_eq!(dec.stats(), &stats, "{body:?}");
        let sizes = [1 + rng.below(5), 1 + rng.below(13), 1 + rng.below(40)];
        let (ev2, st2) = chunked(&body, &sizes);
        assert_eq!(ev2, events, "{body:?} in chunks {sizes:?}");
        assert_eq!(st2, stats, "{body:?} in chunks {sizes:?}");
    }
}

#[test]
fn column_views_equal_split_copied_and_shared() {
    use arrow_array::cast::AsArray;
    use arrow_array::Array;
    use arrow_buffer::Buffer;
    use fastcap_core::sse::column::SseColumnBuilder;

    let mut rng = Lcg(7);
    let mut bodies: Vec<Vec<u8>> = (0..600).map(|_| random_body(&mut rng)).collect();
    // Bodies over the shared-block threshold, so that views into them are exercised.
    for _ in 0..20 {
        let mut big = Vec::new();
        while big.len() < 6000 {
            big.extend(random_body(&mut rng));
        }
        bodies.push(big);
    }
    // One Arrow-like buffer holding all bodies back to back (the path of an Arrow binary array).
    let joined = Buffer::from_vec(bodies.concat());
    let owned: Vec<Buffer> = bodies.iter().map(|b| Buffer::from_vec(b.clone())).collect();
    for mode in 0..3 {
        let mut b = SseColumnBuilder::new(false);
        let mut off = 0;
        for (i, body) in bodies.iter().enumerate() {
            match mode {
                0 => b.push_body(i as u32, Some(body)).unwrap(),
                1 => b.push_shared(i as u32, &owned[i], 0..body.len(), false).unwrap(),
                _ => b.push_shared(i as u32, &joined, off..off + body.len(), false).unwrap(),
            }
            off += body.len();
        }
        let t = b.finish().unwrap();
        let mut rows = Vec::new();
        for batch in &t.batches {
            batch.columns().iter().for_each(|c| c.to_data().validate_full().unwrap());
            let col = |n: &str| batch.column_by_name(n).unwrap().clone();
            let (ex, et, da, id) = (col("exchange_index"), col("event_type"), col("data"), col("last_event_id"));
            let (bs, be, te, dn) = (col("byte_start"), col("byte_end"), col("terminated"), col("is_done"));
            for r in 0..batch.num_rows() {
                rows.push((
                    ex.as_primitive::<arrow_array::types::UInt32Type>().value(r),
                    SseEvent {
                        index: u64::from(col("event_index").as_primitive::<arrow_array::types::UInt32Type>().value(r)),
                        event_type: et.as_string_view().value(r).to_owned(),
                        data: da.as_string_view().value(r).to_owned(),
                        last_event_id: id.as_string_view().value(r).to_owned(),
                        byte_start: bs.as_primitive::<arrow_array::types::UInt64Type>().value(r),
                        byte_end: be.as_primitive::<arrow_array::types::UInt64Type>().value(r),
                        terminated: te.as_boolean().value(r),
                        is_done: dn.as_boolean().value(r),
                        t_first_byte: None,
                        t_last_byte: None,
                    },
                ));
            }
        }
        let mut want = Vec::new();
        for (i, body) in bodies.iter().enumerate() {
            for e in split(body).0 {
                want.push((i as u32, e));
            }
        }
        assert_eq!(rows.len(), want.len(), "mode {mode}");
        for (g, w) in rows.iter().zip(&want) {
            assert_eq!(g, w, "mode {mode}");
        }
        if mode > 0 {
            // Single-line data of a large body is a view into the input, not a copy.
            let batch = &t.batches[0];
            let data = batch.column_by_name("data").unwrap().as_string_view();
            let src = if mode == 1 { owned.last().unwrap().as_ptr() } else { joined.as_ptr() };
            assert!(data.data_buffers().iter().any(|b| b.as_ptr() == src), "mode {mode}");
        }
    }
}

/// Tool calls merged by `tool_id` (first name of each key, its `tool_args` concatenated, keys in
/// order of first appearance) give each fixture's expected calls: the key is the same on a call's
/// start and on all its argument deltas, for Anthropic, OpenAI Chat and OpenAI Responses.
#[test]
fn tool_calls_merge_by_tool_id_on_the_fixtures() {
    use fastcap_core::sse::extract::extract;
    let mut checked = 0;
    for dir in ["anthropic", "openai-chat", "openai-responses"] {
        let exp: Value =
            serde_json::from_slice(&std::fs::read(testdata().join(dir).join("expected.json")).unwrap()).unwrap();
        for (file, e) in exp["files"].as_object().unwrap() {
            let Some(want) = e["reconstruction"]["tool_calls"].as_array() else { continue };
            let want: Vec<(String, String)> = want
                .iter()
                .map(|c| {
                    let args = c.get("arguments_raw").unwrap_or(&c["arguments"]);
                    (c["name"].as_str().unwrap().to_owned(), args.as_str().unwrap().to_owned())
                })
                .collect();
            let body = std::fs::read(testdata().join(dir).join(file)).unwrap();
            // (key, name, args) in order of first appearance.
            let mut calls: Vec<(String, Option<String>, String)> = Vec::new();
            for ev in split(&body).0 {
                let Some(x) = extract(&ev.data) else { continue };
                let Some(ids) = x.tool_id.as_deref() else {
                    assert!(x.tool_name.is_none() && x.tool_args.is_none(), "{dir}/{file}: {:?}", ev.data);
                    continue;
                };
                let keys: Vec<&str> = ids.split(',').collect();
                let names: Vec<&str> = x.tool_name.as_deref().map_or(Vec::new(), |n| n.split(',').collect());
                assert!(keys.len() == 1 || names.is_empty() || names.len() == keys.len(), "{dir}/{file}");
                for (i, key) in keys.iter().enumerate() {
                    let at = match calls.iter().position(|c| c.0 == *key) {
                        Some(at) => at,
                        None => {
                            calls.push((key.to_string(), None, String::new()));
                            calls.len() - 1
                        }
                    };
                    let call = &mut calls[at];
                    if call.1.is_none() {
                        call.1 = names.get(i).map(|n| n.to_string());
                    }
                    if keys.len() == 1 {
                        call.2.push_str(x.tool_args.as_deref().unwrap_or(""));
                    }
                }
            }
            let got: Vec<(String, String)> = calls.into_iter().map(|(_, n, a)| (n.unwrap_or_default(), a)).collect();
            assert_eq!(got, want, "{dir}/{file}");
            checked += 1;
        }
    }
    assert!(checked >= 9, "{checked}");
}
