//! Response bodies reassembled per request from decoded entry batches, for streaming analysis.
//!
//! A capture holds a stream as a start marker, chunks and an end marker sharing a `request_id`
//! (docs/specs/cbor-v2.md §5), interleaved with other requests and spread over any number of batches. The
//! assembler appends each payload to its request's open body and hands the body over when the
//! response is complete, so a multi-GB capture is reassembled without a Python object per chunk.

use std::collections::{HashMap, HashSet};

use arrow_array::{Array, BinaryViewArray, BooleanArray, RecordBatch, StringViewArray, UInt8Array};

/// Reassembles the bodies of one direction (typically backend→proxy).
pub struct BodyAssembler {
    dir: u8,
    open: HashMap<String, Vec<u8>>,
    /// Keys in the order their bodies were opened, for a deterministic `close`.
    order: Vec<String>,
    streaming: HashSet<String>,
}

fn column<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> Option<&'a T> {
    batch.column_by_name(name)?.as_any().downcast_ref::<T>()
}

fn flag(col: Option<&BooleanArray>, row: usize) -> bool {
    col.is_some_and(|c| c.is_valid(row) && c.value(row))
}

impl BodyAssembler {
    pub fn new(dir: u8) -> Self {
        BodyAssembler { dir, open: HashMap::new(), order: Vec::new(), streaming: HashSet::new() }
    }

    /// Take in one batch of entries (the reader's schema); returns the bodies completed by it,
    /// as (request id, body) in completion order. A body is complete at its stream-end marker
    /// (`is_stream_end` or `eos`), or, for a request that never started a stream, as soon as its
    /// payload arrives (a non-stream response is a single entry).
    pub fn feed(&mut self, batch: &RecordBatch) -> Vec<(String, Vec<u8>)> {
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
        for row in 0..batch.num_rows() {
            if !dirs.is_valid(row) || dirs.value(row) != self.dir || !keys.is_valid(row) {
                continue;
            }
            let key = keys.value(row);
            if flag(starts, row) && !self.streaming.contains(key) {
                self.streaming.insert(key.to_owned());
            }
            let payload = if data.is_valid(row) { data.value(row) } else { &[][..] };
            if !payload.is_empty() {
                match self.open.get_mut(key) {
                    Some(body) => body.extend_from_slice(payload),
                    None => {
                        self.open.insert(key.to_owned(), payload.to_vec());
                        self.order.push(key.to_owned());
                    }
                }
                if !self.streaming.contains(key) {
                    self.finish(key, &mut done);
                    continue;
                }
            }
            if flag(ends, row) || flag(eos, row) {
                self.finish(key, &mut done);
                self.streaming.remove(key);
            }
        }
        // Forget the order of bodies already handed over, now and then.
        if self.order.len() > 2 * self.open.len() + 1024 {
            let open = &self.open;
            self.order.retain(|k| open.contains_key(k));
        }
        done
    }

    fn finish(&mut self, key: &str, done: &mut Vec<(String, Vec<u8>)>) {
        if let Some(body) = self.open.remove(key) {
            done.push((key.to_owned(), body));
        }
    }

    /// The bodies still open at the end of the capture (streams cut short), in opening order.
    pub fn close(&mut self) -> Vec<(String, Vec<u8>)> {
        let mut done = Vec::new();
        for key in std::mem::take(&mut self.order) {
            if let Some(body) = self.open.remove(&key) {
                done.push((key, body));
            }
        }
        self.streaming.clear();
        done
    }
}
