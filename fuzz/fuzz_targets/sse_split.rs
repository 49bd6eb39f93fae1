//! The SSE splitter: the whole-body row path (`sse::split`), the incremental decoder
//! (`sse::split_chunked`) and the column path (`sse::column::SseColumnBuilder`, copied and
//! shared-buffer variants, with field extraction), on arbitrary bytes.
//!
//! Input: a 3-byte control header (`fastcap_fuzz::Control`: flags, chunking seed), then the body.
//! Flag bits 0-1 choose how the column path gets its bodies: 0 `push_body` (copies), 1
//! `push_shared` of one buffer per body, 2 `push_shared` of all bodies in one buffer (the path of
//! an Arrow binary column), 3 the same with the UTF-8 flag set when the body is valid UTF-8. Bit 2
//! cuts the body into three bodies (plus a missing one) at points drawn from the seed.
//!
//! Invariants:
//! * no panic;
//! * the incremental decoder, fed in chunks drawn from the seed (and one byte at a time for bodies
//!   up to 1 KiB), gives exactly the events and statistics of the whole-body split;
//! * events are in order with byte ranges inside the body; only the last may be unterminated;
//! * the column path equals the row path: one row per event with the same exchange index, event
//!   index, type, data, last event id, byte range, `terminated` and `is_done`, and the extracted
//!   fields equal `sse::extract::extract` of the event's data; every batch validates as Arrow.
#![no_main]

use std::borrow::Cow;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, UInt32Type, UInt64Type};
use arrow_array::{Array, BooleanArray, Int64Array, RecordBatch, StringArray};
use arrow_buffer::Buffer;
use fastcap_core::sse::column::SseColumnBuilder;
use fastcap_core::sse::extract::{extract, Extracted};
use fastcap_core::sse::{split, split_chunked, SseEvent};
use fastcap_fuzz::{chunk_sizes, validate_batch, Control};
use libfuzzer_sys::fuzz_target;

const STR_FIELDS: [&str; 11] = [
    "json_type",
    "text",
    "reasoning",
    "tool_name",
    "tool_id",
    "tool_args",
    "model",
    "stop_reason",
    "error_type",
    "error_code",
    "error_message",
];
const INT_FIELDS: [&str; 5] =
    ["input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens"];

/// The extracted fields as the column path stores them: `None` for a non-JSON event, else
/// `json_error`, the strings and the integers.
type Fields = Option<(bool, Vec<Option<String>>, Vec<Option<i64>>)>;

fn fields(x: Option<Extracted<'_>>) -> Fields {
    let own = |v: Option<Cow<'_, str>>| v.map(Cow::into_owned);
    x.map(|x| {
        (
            x.json_error,
            vec![
                own(x.json_type),
                own(x.text),
                own(x.reasoning),
                own(x.tool_name),
                own(x.tool_id),
                own(x.tool_args),
                own(x.model),
                own(x.stop_reason),
                own(x.error_type),
                own(x.error_code),
                own(x.error_message),
            ],
            vec![x.input_tokens, x.output_tokens, x.cache_read_tokens, x.cache_write_tokens, x.reasoning_tokens],
        )
    })
}

/// The extracted-field columns of a batch, looked up once.
struct FieldColumns<'a> {
    json_error: &'a BooleanArray,
    strs: Vec<&'a StringArray>,
    ints: Vec<&'a Int64Array>,
}

impl<'a> FieldColumns<'a> {
    fn new(b: &'a RecordBatch) -> Self {
        FieldColumns {
            json_error: b.column_by_name("json_error").unwrap().as_boolean(),
            strs: STR_FIELDS.iter().map(|n| b.column_by_name(n).unwrap().as_string::<i32>()).collect(),
            ints: INT_FIELDS.iter().map(|n| b.column_by_name(n).unwrap().as_primitive::<Int64Type>()).collect(),
        }
    }

    fn row(&self, r: usize) -> Fields {
        let strs: Vec<Option<String>> = self.strs.iter().map(|c| c.is_valid(r).then(|| c.value(r).to_owned())).collect();
        let ints: Vec<Option<i64>> = self.ints.iter().map(|c| c.is_valid(r).then(|| c.value(r))).collect();
        if self.json_error.is_null(r) {
            assert!(strs.iter().all(Option::is_none) && ints.iter().all(Option::is_none), "fields of a non-JSON event");
            None
        } else {
            Some((self.json_error.value(r), strs, ints))
        }
    }
}

fn check_events(body: &[u8], events: &[SseEvent]) {
    let len = body.len() as u64;
    let mut last_end = 0u64;
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.index, i as u64, "event indices are not 0, 1, 2, …");
        assert!(e.byte_start <= e.byte_end && e.byte_end <= len, "event range outside the body: {e:?}");
        assert!(e.byte_start >= last_end, "events overlap: {e:?}");
        last_end = e.byte_end;
        assert!(e.terminated || i + 1 == events.len(), "an unterminated event that is not the last");
        assert_eq!(e.is_done, e.data == "[DONE]");
    }
}

fuzz_target!(|data: &[u8]| {
    let ctl = Control::parse(data);
    let body = ctl.body;

    // Row path, whole body.
    let (events, stats) = split(body);
    check_events(body, &events);
    assert_eq!(stats.events, events.len() as u64);
    assert_eq!(stats.bytes, body.len() as u64);

    // Incremental decoder in chunks.
    let mut chunkings = vec![chunk_sizes(body.len(), ctl.seed)];
    if body.len() <= 1024 {
        chunkings.push(vec![1; body.len()]);
    }
    for sizes in &chunkings {
        let (inc, inc_stats) = split_chunked(body, sizes, None).expect("sizes sum to the body length");
        assert!(inc == events, "incremental events differ from the whole-body split (chunks {sizes:?})");
        assert_eq!(inc_stats, stats, "incremental statistics differ (chunks {sizes:?})");
    }

    // The bodies of the column path: the whole body, or three pieces and a missing body.
    let mut bodies: Vec<Option<&[u8]>> = Vec::new();
    if ctl.flags & 4 == 0 {
        bodies.push(Some(body));
    } else {
        let a = usize::from(ctl.seed & 0xff) * body.len() / 256;
        let b = a + usize::from(ctl.seed >> 8) * (body.len() - a) / 256;
        bodies.extend([Some(&body[..a]), None, Some(&body[a..b]), Some(&body[b..])]);
    }
    let mut want: Vec<(u32, SseEvent, Fields)> = Vec::new();
    for (i, b) in bodies.iter().enumerate() {
        if let Some(b) = b {
            let (evs, _) = if bodies.len() == 1 { (events.clone(), stats.clone()) } else { split(b) };
            for e in evs {
                let f = fields(extract(&e.data));
                want.push((i as u32, e, f));
            }
        }
    }

    let joined = Buffer::from(body);
    let mut builder = SseColumnBuilder::with_capacity(true, body.len());
    let mut at = 0usize;
    for (i, b) in bodies.iter().enumerate() {
        let i = i as u32;
        match (ctl.flags & 3, b) {
            (_, None) => builder.push_body(i, None).unwrap(),
            (0, Some(b)) => builder.push_body(i, Some(b)).unwrap(),
            (1, Some(b)) => builder.push_shared(i, &Buffer::from(*b), 0..b.len(), false).unwrap(),
            (mode, Some(b)) => {
                let utf8 = mode == 3 && std::str::from_utf8(b).is_ok();
                builder.push_shared(i, &joined, at..at + b.len(), utf8).unwrap();
            }
        }
        at += b.map_or(0, <[u8]>::len);
    }
    let table = builder.finish().expect("column table");

    let mut got: Vec<(u32, SseEvent, Fields)> = Vec::new();
    for b in &table.batches {
        validate_batch("sse events", b);
        let col = |n: &str| b.column_by_name(n).unwrap().clone();
        let (ex, ei, et, da, id) =
            (col("exchange_index"), col("event_index"), col("event_type"), col("data"), col("last_event_id"));
        let (bs, be, te, dn) = (col("byte_start"), col("byte_end"), col("terminated"), col("is_done"));
        let fields = FieldColumns::new(b);
        for r in 0..b.num_rows() {
            let e = SseEvent {
                index: u64::from(ei.as_primitive::<UInt32Type>().value(r)),
                event_type: et.as_string_view().value(r).to_owned(),
                data: da.as_string_view().value(r).to_owned(),
                last_event_id: id.as_string_view().value(r).to_owned(),
                byte_start: bs.as_primitive::<UInt64Type>().value(r),
                byte_end: be.as_primitive::<UInt64Type>().value(r),
                terminated: te.as_boolean().value(r),
                is_done: dn.as_boolean().value(r),
                t_first_byte: None,
                t_last_byte: None,
            };
            got.push((ex.as_primitive::<UInt32Type>().value(r), e, fields.row(r)));
        }
    }
    assert_eq!(got.len(), want.len(), "the column path has {} rows, the row path {} events", got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert!(g == w, "column row differs from the row path:\n column {g:?}\n row    {w:?}");
    }
});
