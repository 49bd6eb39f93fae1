//! Response bodies reassembled per request from decoded entry batches, for streaming analysis.
//!
//! A capture holds a stream as a start marker, chunks and an end marker sharing a `request_id`
//! (docs/specs/cbor-v2.md §5), interleaved with other requests and spread over any number of batches. The
//! assembler keeps each request's payloads until the response is complete, then hands the body
//! over with the arrival time of every piece, so a multi-GB capture is reassembled without a
//! Python object per chunk, holding only the bodies of streams still open.
//!
//! The writer flushes entries in batches that can reach the file out of order (§7), so file order
//! is not stream order:
//!
//! * the pieces of a body are put in stream order: `chunk_index` (null as 0), then `seq` (null as
//!   0), then file order, the order `fastcap.analysis.requests.response_bodies` uses;
//! * a payload with a `chunk_index` is a stream chunk even before its start marker was read;
//! * an end marker that announces more chunks (`total_chunks`) than were read keeps the body open
//!   until they arrive, or until [`LATE_WINDOW`] more entries were read without them; an end that
//!   announces no count (an `eos` entry, a marker without `total_chunks`) keeps it open for that
//!   window too, so chunks of a batch written after the end still join their body.
//!
//! [`bodies_table`] turns the bodies into the Arrow table the binding returns (see [`schema`]).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use arrow_array::builder::{BinaryViewBuilder, BooleanBuilder, StringViewBuilder};
use arrow_array::{
    Array, ArrayRef, BinaryViewArray, BooleanArray, Float64Array, Int64Array, ListArray, RecordBatch, StringViewArray,
    UInt64Array, UInt8Array,
};
use arrow_buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use crate::arrow_util::Table;
use crate::error::{Error, Result};

/// Entries (of any direction) read after an end marker before a body still missing announced
/// chunks is handed over anyway. Batches that land out of order are displaced by a few writer
/// batches of 50 entries; chunks that never came (or a count that does not match) only delay the
/// body by this much.
pub const LATE_WINDOW: u64 = 8192;

/// Bodies at least this long become a block of the `body` column as they are (no copy); shorter
/// ones are copied into shared blocks, so that many small bodies are not many tiny buffers.
const OWN_BLOCK: usize = 32 << 10;

/// One reassembled response body.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    pub request_id: String,
    /// The payload pieces joined in stream order.
    pub body: Vec<u8>,
    /// End offset in `body` of each piece, in order (the last one is `body.len()`).
    pub chunk_ends: Vec<u64>,
    /// The entry `ts` of each piece (`None` when the entry had none).
    pub chunk_times: Vec<Option<f64>>,
    /// Finished by a stream-end marker, an `eos` entry, or as a non-stream single entry; false
    /// for a body [`BodyAssembler::close`] hands over without any of these (a cut stream).
    pub ended: bool,
}

/// A payload piece of an open body: its sort key and where it sits in `Open::data`.
struct Piece {
    chunk_index: i64,
    seq: u64,
    ts: Option<f64>,
    end: usize,
}

/// A request whose body is not complete yet.
struct Open {
    /// Opening order, for a deterministic [`BodyAssembler::close`].
    opened: u64,
    /// A stream (start marker or chunk index seen): complete only at its end.
    streaming: bool,
    /// Payloads in file order.
    data: Vec<u8>,
    pieces: Vec<Piece>,
    /// The pieces arrived in stream order (the usual case: `data` is the body as it is).
    in_order: bool,
    /// The end was read: the number of chunks it announced (if any), and the entry count at
    /// which to stop waiting for them.
    end: Option<(Option<u64>, u64)>,
}

impl Open {
    fn new(opened: u64) -> Self {
        Open { opened, streaming: false, data: Vec::new(), pieces: Vec::new(), in_order: true, end: None }
    }

    /// Ended, and every chunk the end announced is here. An end that announces no count (an `eos`
    /// entry, a marker without `total_chunks`) is complete only when its late window has passed:
    /// a write batch that landed after it may still hold earlier chunks.
    fn complete(&self) -> bool {
        matches!(self.end, Some((Some(n), _)) if self.pieces.len() as u64 >= n)
    }

    fn into_body(self, request_id: String, ended: bool) -> Body {
        let Open { data, mut pieces, in_order, .. } = self;
        if in_order {
            let chunk_ends = pieces.iter().map(|p| p.end as u64).collect();
            let chunk_times = pieces.iter().map(|p| p.ts).collect();
            return Body { request_id, body: data, chunk_ends, chunk_times, ended };
        }
        // Stable: pieces with equal keys keep their file order.
        let mut starts = Vec::with_capacity(pieces.len());
        let mut prev = 0;
        for p in &pieces {
            starts.push(prev);
            prev = p.end;
        }
        let mut order: Vec<usize> = (0..pieces.len()).collect();
        order.sort_by_key(|&i| (pieces[i].chunk_index, pieces[i].seq));
        let mut body = Vec::with_capacity(data.len());
        let mut chunk_ends = Vec::with_capacity(pieces.len());
        let mut chunk_times = Vec::with_capacity(pieces.len());
        for i in order {
            body.extend_from_slice(&data[starts[i]..pieces[i].end]);
            chunk_ends.push(body.len() as u64);
            chunk_times.push(pieces[i].ts);
        }
        pieces.clear();
        Body { request_id, body, chunk_ends, chunk_times, ended }
    }
}

/// Reassembles the bodies of one direction (typically backend→proxy).
pub struct BodyAssembler {
    dir: u8,
    open: HashMap<String, Open>,
    /// Entries read so far (all directions): the clock of [`LATE_WINDOW`].
    entries: u64,
    /// Bodies opened so far, for `Open::opened`.
    opened: u64,
    /// (entry count to stop waiting at, key) of ended bodies still missing chunks, oldest first.
    waiting: VecDeque<(u64, String)>,
}

fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> Option<&'a T> {
    batch.column_by_name(name)?.as_any().downcast_ref::<T>()
}

fn flag(col: Option<&BooleanArray>, row: usize) -> bool {
    col.is_some_and(|c| c.is_valid(row) && c.value(row))
}

impl BodyAssembler {
    pub fn new(dir: u8) -> Self {
        BodyAssembler { dir, open: HashMap::new(), entries: 0, opened: 0, waiting: VecDeque::new() }
    }

    /// Take in one batch of entries (the reader's schema); returns the bodies completed by it, in
    /// completion order. A body is complete at its stream-end marker (`is_stream_end`) or `eos`
    /// entry once the chunks the marker announces are all read, or, for a request that is not a
    /// stream (no start marker, no chunk index), as soon as its payload arrives (a non-stream
    /// response is a single entry).
    pub fn feed(&mut self, batch: &RecordBatch) -> Vec<Body> {
        let mut done = Vec::new();
        let (Some(dirs), Some(keys), Some(data)) = (
            column::<UInt8Array>(batch, "dir"),
            column::<StringViewArray>(batch, "request_id"),
            column::<BinaryViewArray>(batch, "data"),
        ) else {
            return done;
        };
        let (starts, ends, eos) = (
            column::<BooleanArray>(batch, "is_stream_start"),
            column::<BooleanArray>(batch, "is_stream_end"),
            column::<BooleanArray>(batch, "eos"),
        );
        let (chunk_index, total_chunks) =
            (column::<Int64Array>(batch, "chunk_index"), column::<Int64Array>(batch, "total_chunks"));
        let (seqs, times) = (column::<UInt64Array>(batch, "seq"), column::<Float64Array>(batch, "ts"));
        for row in 0..batch.num_rows() {
            self.entries += 1;
            self.expire(&mut done);
            if !dirs.is_valid(row) || dirs.value(row) != self.dir || !keys.is_valid(row) {
                continue;
            }
            let key = keys.value(row);
            let payload = if data.is_valid(row) { data.value(row) } else { &[][..] };
            let ci = chunk_index.filter(|c| c.is_valid(row)).map(|c| c.value(row));
            let (start, end, is_eos) = (flag(starts, row), flag(ends, row), flag(eos, row));
            if !(start || end || is_eos || !payload.is_empty()) {
                continue;
            }
            if !self.open.contains_key(key) {
                // An `eos` without an open body closes nothing (its stream ended at the marker).
                if payload.is_empty() && !start && !end {
                    continue;
                }
                self.opened += 1;
                self.open.insert(key.to_owned(), Open::new(self.opened));
            }
            let open = self.open.get_mut(key).expect("opened above");
            open.streaming |= start || end || ci.is_some();
            if !payload.is_empty() {
                let piece = Piece {
                    chunk_index: ci.unwrap_or(0),
                    seq: seqs.filter(|c| c.is_valid(row)).map_or(0, |c| c.value(row)),
                    ts: times.filter(|c| c.is_valid(row)).map(|c| c.value(row)),
                    end: open.data.len() + payload.len(),
                };
                if let Some(last) = open.pieces.last() {
                    open.in_order &= (last.chunk_index, last.seq) <= (piece.chunk_index, piece.seq);
                }
                open.data.extend_from_slice(payload);
                open.pieces.push(piece);
            }
            if end || (is_eos && open.end.is_none()) {
                let due = if end {
                    total_chunks.filter(|c| c.is_valid(row)).map(|c| c.value(row)).and_then(|n| u64::try_from(n).ok())
                } else {
                    None
                };
                let deadline = self.entries + LATE_WINDOW;
                open.end = Some((due, deadline));
                if !open.complete() {
                    self.waiting.push_back((deadline, key.to_owned()));
                }
            }
            if !open.streaming || open.complete() {
                self.finish(key, true, &mut done);
            }
        }
        done
    }

    /// Hand over the ended bodies that waited [`LATE_WINDOW`] entries for missing chunks.
    fn expire(&mut self, done: &mut Vec<Body>) {
        while let Some((deadline, _)) = self.waiting.front() {
            if *deadline > self.entries {
                break;
            }
            let (deadline, key) = self.waiting.pop_front().expect("front exists");
            // Stale when the body completed meanwhile (or the key was reopened and ended later).
            if self.open.get(&key).is_some_and(|o| matches!(o.end, Some((_, d)) if d == deadline)) {
                self.finish(&key, true, done);
            }
        }
    }

    fn finish(&mut self, key: &str, ended: bool, done: &mut Vec<Body>) {
        if let Some((key, open)) = self.open.remove_entry(key) {
            // A stream without payload (markers only) has no body to hand over.
            if !open.pieces.is_empty() {
                done.push(open.into_body(key, ended));
            }
        }
    }

    /// The bodies still open at the end of the capture, in opening order: streams cut short
    /// (`ended` false), and ended ones still waiting for announced chunks (`ended` true).
    pub fn close(&mut self) -> Vec<Body> {
        let mut open: Vec<(String, Open)> = self.open.drain().collect();
        open.sort_by_key(|(_, o)| o.opened);
        self.waiting.clear();
        open.into_iter()
            .filter(|(_, o)| !o.pieces.is_empty())
            .map(|(key, o)| {
                let ended = o.end.is_some();
                o.into_body(key, ended)
            })
            .collect()
    }
}

/// The schema of [`bodies_table`]: `request_id` Utf8View, `body` BinaryView (what Polars holds
/// strings and binaries as, so both import without a copy), `chunk_ends` `List<UInt64>`,
/// `chunk_times` `List<Float64>` (null items for entries without `ts`), `ended` Boolean.
pub fn schema() -> SchemaRef {
    let list =
        |name: &str, dt: DataType| Field::new(name, DataType::List(Arc::new(Field::new("item", dt, true))), false);
    Arc::new(Schema::new(vec![
        Field::new("request_id", DataType::Utf8View, false),
        Field::new("body", DataType::BinaryView, false),
        list("chunk_ends", DataType::UInt64),
        list("chunk_times", DataType::Float64),
        Field::new("ended", DataType::Boolean, false),
    ]))
}

/// The bodies as one table (one record batch, possibly empty) of [`schema`]. Long bodies move
/// into the table as they are; a body must be under 2 GiB (an Arrow view's length).
pub fn bodies_table(bodies: Vec<Body>) -> Result<Table> {
    let n = bodies.len();
    let pieces: usize = bodies.iter().map(|b| b.chunk_ends.len()).sum();
    let mut ids = StringViewBuilder::with_capacity(n);
    let mut data = BinaryViewBuilder::with_capacity(n);
    let mut ended = BooleanBuilder::with_capacity(n);
    let mut offsets = Vec::with_capacity(n + 1);
    offsets.push(0i32);
    let mut ends = Vec::with_capacity(pieces);
    let mut times = Vec::with_capacity(pieces);
    let mut valid = Vec::with_capacity(pieces);
    for b in bodies {
        let len = b.body.len();
        if len > i32::MAX as usize {
            return Err(Error::Arrow(format!("body of request {} is {len} bytes, over 2 GiB", b.request_id)));
        }
        ids.append_value(&b.request_id);
        if len >= OWN_BLOCK {
            let block = data.append_block(Buffer::from_vec(b.body));
            data.try_append_view(block, 0, len as u32)?;
        } else {
            data.append_value(&b.body);
        }
        ended.append_value(b.ended);
        ends.extend_from_slice(&b.chunk_ends);
        times.extend(b.chunk_times.iter().map(|t| t.unwrap_or(0.0)));
        valid.extend(b.chunk_times.iter().map(Option::is_some));
        let total = i32::try_from(ends.len()).map_err(|_| Error::Arrow("over 2^31 chunks in one table".into()))?;
        offsets.push(total);
    }
    let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
    let item = |dt: DataType| Arc::new(Field::new("item", dt, true));
    let nulls = NullBuffer::from(valid);
    let times = Float64Array::new(ScalarBuffer::from(times), (nulls.null_count() > 0).then_some(nulls));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(ids.finish()),
        Arc::new(data.finish()),
        Arc::new(ListArray::try_new(item(DataType::UInt64), offsets.clone(), Arc::new(UInt64Array::from(ends)), None)?),
        Arc::new(ListArray::try_new(item(DataType::Float64), offsets, Arc::new(times), None)?),
        Arc::new(ended.finish()),
    ];
    let schema = schema();
    let batch = RecordBatch::try_new(Arc::clone(&schema), cols)?;
    Ok(Table::new(schema, vec![batch]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cbor::decode::Value;
    use crate::cbor::writer::{encode_entry, encode_header, order_meta};
    use crate::cbor::{EntryReader, ReadOptions};
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Float64Type, UInt64Type};

    /// (dir, payload, compact metadata) of one entry; its `ts` and `seq` are given separately.
    type Entry<'a> = (u8, &'a [u8], Vec<(&'static str, Value)>);

    fn t(s: &str) -> Value {
        Value::Text(s.to_owned())
    }

    /// Writes the entries (entry `i` with the given `ts` and `seq`) and feeds them in batches of
    /// `batch_rows`; returns the bodies fed and the bodies closed.
    fn assemble(entries: &[(f64, u64, Entry<'_>)], batch_rows: usize) -> (Vec<Body>, Vec<Body>) {
        let mut file = encode_header("asm", 1.0, None);
        for (ts, seq, (dir, data, meta)) in entries {
            let meta = order_meta(meta.iter().map(|(k, v)| (k.to_string(), v.clone())).collect());
            file.extend(encode_entry(*ts, *dir, *seq, data, &meta, true));
        }
        let mut r = EntryReader::new(file, ReadOptions { batch_rows, ..Default::default() }).unwrap();
        let mut asm = BodyAssembler::new(3);
        let mut fed = Vec::new();
        while let Some(b) = r.next_batch() {
            fed.extend(asm.feed(&b));
        }
        (fed, asm.close())
    }

    fn text(b: &Body) -> (&str, &str, bool) {
        (&b.request_id, std::str::from_utf8(&b.body).unwrap(), b.ended)
    }

    #[test]
    fn out_of_order_pieces_are_put_in_stream_order() {
        // Chunk 3 lands first (a later write batch reached the file first), then 1 and 2; the
        // two pieces without `ci` sort as chunk 0, by `seq`.
        let entries = [
            (1.0, 0, (3, &b""[..], vec![("rid", t("A")), ("ss", Value::Bool(true))])),
            (1.3, 5, (3, &b"c3,"[..], vec![("rid", t("A")), ("ci", Value::Uint(3))])),
            (1.1, 3, (3, &b"c1,"[..], vec![("rid", t("A")), ("ci", Value::Uint(1))])),
            (1.2, 4, (3, &b"c2,"[..], vec![("rid", t("A")), ("ci", Value::Uint(2))])),
            (0.9, 2, (3, &b"z2,"[..], vec![("rid", t("A"))])),
            (0.8, 1, (3, &b"z1,"[..], vec![("rid", t("A"))])),
            (1.4, 6, (3, &b""[..], vec![("rid", t("A")), ("se", Value::Bool(true)), ("tc", Value::Uint(5))])),
        ];
        for batch_rows in [1, 2, 100] {
            let (fed, closed) = assemble(&entries, batch_rows);
            assert!(closed.is_empty());
            assert_eq!(fed.len(), 1);
            let b = &fed[0];
            assert_eq!(text(b), ("A", "z1,z2,c1,c2,c3,", true));
            assert_eq!(b.chunk_ends, [3, 6, 9, 12, 15]);
            assert_eq!(b.chunk_times, [Some(0.8), Some(0.9), Some(1.1), Some(1.2), Some(1.3)]);
        }
    }

    #[test]
    fn ended_by_marker_eos_or_single_entry_and_cut_at_close() {
        let entries = [
            // A: ended by its marker; B: non-stream; C: cut; D: ended by `eos` only.
            (1.0, 0, (3, &b""[..], vec![("rid", t("A")), ("ss", Value::Bool(true))])),
            (1.1, 1, (3, &b"a1"[..], vec![("rid", t("A")), ("ci", Value::Uint(1))])),
            (1.2, 2, (2, &b"POST /v1/messages"[..], vec![("rid", t("B"))])),
            (1.3, 3, (3, &b""[..], vec![("rid", t("C")), ("ss", Value::Bool(true))])),
            (1.4, 4, (3, &b"c1"[..], vec![("rid", t("C")), ("ci", Value::Uint(1))])),
            (1.5, 5, (3, &b"HTTP/1.1 200 OK\r\n\r\n{}"[..], vec![("rid", t("B"))])),
            (1.6, 6, (1, &b"a1"[..], vec![("rid", t("A")), ("ci", Value::Uint(1))])),
            (1.7, 7, (3, &b"a2"[..], vec![("rid", t("A")), ("ci", Value::Uint(2))])),
            (1.8, 8, (3, &b""[..], vec![("rid", t("A")), ("se", Value::Bool(true)), ("tc", Value::Uint(2))])),
            (1.9, 9, (3, &b""[..], vec![("rid", t("A")), ("eos", Value::Bool(true))])),
            (2.0, 10, (3, &b""[..], vec![("rid", t("D")), ("ss", Value::Bool(true))])),
            (2.1, 11, (3, &b"d1"[..], vec![("rid", t("D")), ("ci", Value::Uint(1))])),
            (2.2, 12, (3, &b""[..], vec![("rid", t("D")), ("eos", Value::Bool(true))])),
            // E: markers only, no body.
            (2.3, 13, (3, &b""[..], vec![("rid", t("E")), ("ss", Value::Bool(true))])),
            (2.4, 14, (3, &b""[..], vec![("rid", t("E")), ("se", Value::Bool(true))])),
        ];
        let (fed, closed) = assemble(&entries, 2);
        assert_eq!(
            fed.iter().map(text).collect::<Vec<_>>(),
            [("B", "HTTP/1.1 200 OK\r\n\r\n{}", true), ("A", "a1a2", true)]
        );
        assert_eq!(fed[0].chunk_ends, [21]);
        assert_eq!(fed[0].chunk_times, [Some(1.5)]);
        // D announced no chunk count: it waits its late window, here past the end of the capture.
        assert_eq!(closed.iter().map(text).collect::<Vec<_>>(), [("C", "c1", false), ("D", "d1", true)]);
        assert_eq!(closed[0].chunk_times, [Some(1.4)]);
    }

    #[test]
    fn chunks_before_their_start_marker_or_after_their_end_marker_join_the_body() {
        let entries = [
            // Chunks read before the start marker are still stream chunks (not bodies each).
            (1.1, 1, (3, &b"a1"[..], vec![("rid", t("A")), ("ci", Value::Uint(1))])),
            (1.0, 0, (3, &b""[..], vec![("rid", t("A")), ("ss", Value::Bool(true))])),
            (1.2, 2, (3, &b"a2"[..], vec![("rid", t("A")), ("ci", Value::Uint(2))])),
            // The end marker announces 3 chunks: the body waits for the third.
            (1.4, 4, (3, &b""[..], vec![("rid", t("A")), ("se", Value::Bool(true)), ("tc", Value::Uint(3))])),
            (1.5, 5, (3, &b"HTTP/1.1 200 OK\r\n\r\nx"[..], vec![("rid", t("B"))])),
            (1.3, 3, (3, &b"a3"[..], vec![("rid", t("A")), ("ci", Value::Uint(3))])),
            // C announces a chunk that never comes: handed over at close, as ended.
            (2.0, 6, (3, &b"c1"[..], vec![("rid", t("C")), ("ci", Value::Uint(1))])),
            (2.1, 7, (3, &b""[..], vec![("rid", t("C")), ("se", Value::Bool(true)), ("tc", Value::Uint(2))])),
        ];
        let (fed, closed) = assemble(&entries, 3);
        assert_eq!(
            fed.iter().map(text).collect::<Vec<_>>(),
            [("B", "HTTP/1.1 200 OK\r\n\r\nx", true), ("A", "a1a2a3", true)]
        );
        assert_eq!(fed[1].chunk_times, [Some(1.1), Some(1.2), Some(1.3)]);
        assert_eq!(closed.iter().map(text).collect::<Vec<_>>(), [("C", "c1", true)]);
    }

    #[test]
    fn chunks_of_a_batch_written_after_an_uncounted_end_join_their_body() {
        // A gateway batch holding chunks 1-2 landed after the next one (chunk 3 and the `eos`).
        let mut entries = vec![
            (1.0, 0, (3, &b""[..], vec![("rid", t("A")), ("ss", Value::Bool(true))])),
            (1.3, 3, (3, &b"a3"[..], vec![("rid", t("A")), ("ci", Value::Uint(3))])),
            (1.4, 4, (3, &b""[..], vec![("rid", t("A")), ("eos", Value::Bool(true))])),
            (1.1, 1, (3, &b"a1"[..], vec![("rid", t("A")), ("ci", Value::Uint(1))])),
            (1.2, 2, (3, &b"a2"[..], vec![("rid", t("A")), ("ci", Value::Uint(2))])),
        ];
        let filler: Vec<String> = (0..LATE_WINDOW).map(|i| format!("r{i}")).collect();
        for (i, k) in filler.iter().enumerate() {
            entries.push((2.0, 5 + i as u64, (2, &b"POST /"[..], vec![("rid", t(k))])));
        }
        let (fed, closed) = assemble(&entries, 2);
        assert_eq!(fed.iter().map(text).collect::<Vec<_>>(), [("A", "a1a2a3", true)]);
        assert_eq!(fed[0].chunk_times, [Some(1.1), Some(1.2), Some(1.3)]);
        assert!(closed.is_empty());
    }

    #[test]
    fn a_body_missing_announced_chunks_is_handed_over_after_the_late_window() {
        let mut entries = vec![
            (1.0, 0, (3, &b"a1"[..], vec![("rid", t("A")), ("ci", Value::Uint(1))])),
            (1.1, 1, (3, &b""[..], vec![("rid", t("A")), ("se", Value::Bool(true)), ("tc", Value::Uint(9))])),
        ];
        let filler: Vec<String> = (0..LATE_WINDOW).map(|i| format!("r{i}")).collect();
        for (i, k) in filler.iter().enumerate() {
            entries.push((2.0, 2 + i as u64, (2, &b"POST /"[..], vec![("rid", t(k))])));
        }
        let (fed, closed) = assemble(&entries, 1000);
        assert_eq!(fed.iter().map(text).collect::<Vec<_>>(), [("A", "a1", true)]);
        assert!(closed.is_empty());
    }

    #[test]
    fn the_table_has_one_row_per_body() {
        let bodies = vec![
            Body {
                request_id: "short".into(),
                body: b"ab".to_vec(),
                chunk_ends: vec![1, 2],
                chunk_times: vec![Some(1.0), None],
                ended: true,
            },
            Body {
                request_id: "long-request-id-over-12".into(),
                body: vec![7; OWN_BLOCK + 1],
                chunk_ends: vec![OWN_BLOCK as u64 + 1],
                chunk_times: vec![Some(2.0)],
                ended: false,
            },
        ];
        let t = bodies_table(bodies.clone()).unwrap();
        assert_eq!(t.schema, schema());
        let b = &t.batches[0];
        assert_eq!(b.num_rows(), 2);
        let ids = b.column(0).as_string_view();
        let data = b.column(1).as_binary_view();
        let ends = b.column(2).as_list::<i32>();
        let times = b.column(3).as_list::<i32>();
        let ended = b.column(4).as_boolean();
        for (i, body) in bodies.iter().enumerate() {
            assert_eq!(ids.value(i), body.request_id);
            assert_eq!(data.value(i), body.body);
            assert_eq!(ends.value(i).as_primitive::<UInt64Type>().values().to_vec(), body.chunk_ends);
            let ts = times.value(i);
            let ts = ts.as_primitive::<Float64Type>();
            assert_eq!(
                (0..ts.len()).map(|j| ts.is_valid(j).then(|| ts.value(j))).collect::<Vec<_>>(),
                body.chunk_times
            );
            assert_eq!(ended.value(i), body.ended);
        }
        assert_eq!(bodies_table(Vec::new()).unwrap().batches[0].num_rows(), 0);
    }
}
