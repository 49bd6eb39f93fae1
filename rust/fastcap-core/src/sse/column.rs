//! Many SSE bodies at once into one Arrow events table (one row per event, the event pending at
//! EOF included with `terminated == false`), optionally with the fields of [`super::extract`].
//!
//! Columns: `exchange_index` u32 (position of the body in the input), `event_index` u32,
//! `event_type`, `data`, `last_event_id` (utf8 views, see [`schema`]), `byte_start`, `byte_end` (u64), `terminated`,
//! `is_done` (bool); with extraction also `json_error` (bool, null when the data is not a JSON
//! object), `json_type`, `text`, `reasoning`, `tool_name`, `tool_id`, `tool_args`, `model`,
//! `stop_reason`, `error_type`, `error_code`, `error_message` (utf8, nullable) and `input_tokens`, `output_tokens`,
//! `cache_read_tokens`, `cache_write_tokens`, `reasoning_tokens`, `cache_write_1h_tokens` (i64, nullable).

use std::borrow::Cow;
use std::mem::take;
use std::ops::Range;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, BooleanArray, RecordBatch, UInt32Array, UInt64Array};
use arrow_buffer::{BooleanBufferBuilder, Buffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::extract::extract;
use super::raw::{split_raw_with, RawEvent};
use super::text;
use super::views::{inline_view, string_view_array, ViewArena};
use crate::arrow_util::Table;
use crate::error::Result;

/// Rows per record batch (a batch is also flushed by [`SseColumnBuilder::flush`]).
const BATCH_ROWS: usize = 1 << 16;
/// A batch is also closed once this many bytes of values were copied (bodies given as plain slices).
const BATCH_OWNED_BYTES: usize = 256 << 20;

pub(crate) const STR_FIELDS: [&str; 11] = [
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
pub(crate) const INT_FIELDS: [&str; 6] = [
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "cache_write_1h_tokens",
];

/// The view of the default event type `message` (inline: no block).
const MESSAGE_VIEW: u128 = inline_view(b"message");

/// The events table schema. `event_type`, `data` and `last_event_id` are `Utf8View`: their values
/// point into the input bodies when the builder is given the bodies' buffers
/// ([`SseColumnBuilder::push_shared`]); the extracted fields are plain `Utf8` with their own
/// buffers, so keeping them (e.g. after a group-by) never keeps the bodies alive.
pub fn schema(extract: bool) -> SchemaRef {
    let mut fields = vec![
        Field::new("exchange_index", DataType::UInt32, false),
        Field::new("event_index", DataType::UInt32, false),
        Field::new("event_type", DataType::Utf8View, false),
        Field::new("data", DataType::Utf8View, false),
        Field::new("last_event_id", DataType::Utf8View, false),
        Field::new("byte_start", DataType::UInt64, false),
        Field::new("byte_end", DataType::UInt64, false),
        Field::new("terminated", DataType::Boolean, false),
        Field::new("is_done", DataType::Boolean, false),
    ];
    if extract {
        fields.push(Field::new("json_error", DataType::Boolean, true));
        fields.extend(STR_FIELDS.iter().map(|n| Field::new(*n, DataType::Utf8, true)));
        fields.extend(INT_FIELDS.iter().map(|n| Field::new(*n, DataType::Int64, true)));
    }
    Arc::new(Schema::new(fields))
}

/// Accumulates events of many bodies; push bodies, then [`finish`](Self::finish).
pub struct SseColumnBuilder {
    extract: bool,
    schema: SchemaRef,
    arena: ViewArena,
    exchange_index: Vec<u32>,
    event_index: Vec<u32>,
    event_type: Vec<u128>,
    data: Vec<u128>,
    /// Views of `last_event_id`, materialised only once a batch has a non-empty one (most streams
    /// have no `id` field): until then the column is all empty strings, i.e. all-zero views,
    /// allocated zeroed at flush.
    last_event_id: Vec<u128>,
    byte_start: Vec<u64>,
    byte_end: Vec<u64>,
    terminated: BooleanBufferBuilder,
    is_done: BooleanBufferBuilder,
    /// The last event type and its view, when values are copied: consecutive events mostly share
    /// their type, which is then stored once.
    last_type: Vec<u8>,
    last_type_view: Option<u128>,
    /// Body bytes announced by [`with_capacity`](Self::with_capacity) and not pushed yet.
    bytes_left: usize,
    json_error: BooleanBuilder,
    strs: [StringBuilder; 11],
    ints: [Int64Builder; 6],
    batches: Vec<RecordBatch>,
}

impl SseColumnBuilder {
    pub fn new(extract: bool) -> Self {
        Self::with_capacity(extract, 0)
    }

    /// `total_bytes` (the summed body lengths, if known) sizes the row vectors of the first batch
    /// up front: regrowing them showed as copies and page faults in profiles. Untouched capacity is
    /// only reserved address space.
    pub fn with_capacity(extract: bool, total_bytes: usize) -> Self {
        let mut b = Self::empty(extract);
        b.bytes_left = total_bytes;
        b.size_batch();
        b
    }

    /// Sizes the columns of a new batch for the bytes still announced (at most a full batch).
    fn size_batch(&mut self) {
        let rows = (self.bytes_left / 96).min(BATCH_ROWS);
        if rows == 0 {
            return;
        }
        self.reserve(rows);
        if self.extract {
            // The text column holds most of the extracted bytes; the others are short or sparse.
            let text = (rows * 96 / 4).min(self.bytes_left / 4);
            self.json_error = BooleanBuilder::with_capacity(rows);
            self.strs = std::array::from_fn(|i| StringBuilder::with_capacity(rows, if i == 1 { text } else { rows }));
            self.ints = std::array::from_fn(|_| Int64Builder::with_capacity(rows));
        }
    }

    fn empty(extract: bool) -> Self {
        SseColumnBuilder {
            extract,
            schema: schema(extract),
            arena: ViewArena::new(),
            exchange_index: Vec::new(),
            event_index: Vec::new(),
            event_type: Vec::new(),
            data: Vec::new(),
            last_event_id: Vec::new(),
            byte_start: Vec::new(),
            byte_end: Vec::new(),
            terminated: BooleanBufferBuilder::new(0),
            is_done: BooleanBufferBuilder::new(0),
            last_type: Vec::new(),
            last_type_view: None,
            bytes_left: 0,
            json_error: BooleanBuilder::new(),
            strs: std::array::from_fn(|_| StringBuilder::new()),
            ints: std::array::from_fn(|_| Int64Builder::new()),
            batches: Vec::new(),
        }
    }

    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn rows(&self) -> usize {
        self.exchange_index.len()
    }

    /// Split one body and append its events, copying the values. `None` bodies contribute no rows.
    pub fn push_body(&mut self, exchange_index: u32, body: Option<&[u8]>) -> Result<()> {
        match body {
            Some(b) => self.push_in(exchange_index, b, None, false),
            None => Ok(()),
        }
    }

    /// Split the body `owner[range]` and append its events; values found in the body are views
    /// into `owner` (which the table then keeps alive) instead of copies. `utf8` says the body is
    /// known to be valid UTF-8 (e.g. a value of an Arrow string array); otherwise it is checked.
    pub fn push_shared(&mut self, exchange_index: u32, owner: &Buffer, range: Range<usize>, utf8: bool) -> Result<()> {
        let body = &owner.as_slice()[range];
        self.push_in(exchange_index, body, Some(owner), utf8)
    }

    fn push_in(&mut self, exchange_index: u32, body: &[u8], owner: Option<&Buffer>, utf8: bool) -> Result<()> {
        // One validation of the whole body; then every value (a slice at ASCII boundaries, or
        // such slices joined with LF) is known valid and needs no decoding.
        let valid = utf8 || simdutf8::basic::from_utf8(body).is_ok();
        self.arena.set_source(owner, body);
        // Room for the body's events up front (an event takes at least 8 bytes; real ones ~100+),
        // so the row vectors are not regrown (and copied) repeatedly.
        self.reserve(body.len() / 96 + 1);
        split_raw_with(body, &mut |e: RawEvent<'_>| self.push_event(exchange_index, &e, valid));
        self.bytes_left = self.bytes_left.saturating_sub(body.len());
        if self.rows() >= BATCH_ROWS || self.arena.owned_bytes() >= BATCH_OWNED_BYTES {
            self.flush()?;
            self.size_batch();
        }
        Ok(())
    }

    fn reserve(&mut self, rows: usize) {
        if self.data.capacity() - self.data.len() >= rows {
            return;
        }
        let rows = rows.max(self.data.len());
        self.exchange_index.reserve(rows);
        self.event_index.reserve(rows);
        self.event_type.reserve(rows);
        self.data.reserve(rows);
        self.byte_start.reserve(rows);
        self.byte_end.reserve(rows);
    }

    /// The view of a value; with invalid UTF-8 in the body, of its lossy decoding.
    #[inline(always)]
    fn text_view(arena: &mut ViewArena, v: &[u8], in_body: bool, valid: bool) -> u128 {
        if valid {
            return arena.view(v, in_body);
        }
        match text(v, false) {
            Cow::Borrowed(s) => arena.view(s.as_bytes(), in_body),
            Cow::Owned(s) => arena.copy(s.as_bytes()),
        }
    }

    #[inline(always)]
    fn push_event(&mut self, exchange_index: u32, e: &RawEvent<'_>, valid: bool) {
        self.exchange_index.push(exchange_index);
        self.event_index.push(u32::try_from(e.index).unwrap_or(u32::MAX));
        let ty = e.event_type;
        let tv = match self.last_type_view {
            _ if ty.is_empty() => MESSAGE_VIEW,
            _ if self.arena.has_source() && valid => self.arena.view(ty, true),
            Some(v) if valid && self.last_type.as_slice() == ty => v,
            _ => {
                let v = Self::text_view(&mut self.arena, ty, true, valid);
                if valid {
                    self.last_type.clear();
                    self.last_type.extend_from_slice(ty);
                    self.last_type_view = Some(v);
                }
                v
            }
        };
        self.event_type.push(tv);
        self.data.push(Self::text_view(&mut self.arena, e.data, e.data_in_body, valid));
        if !e.last_event_id.is_empty() || !self.last_event_id.is_empty() {
            let n = self.rows() - 1;
            self.last_event_id.resize(n, 0);
            self.last_event_id.push(Self::text_view(&mut self.arena, e.last_event_id, true, valid));
        }
        self.byte_start.push(e.byte_start);
        self.byte_end.push(e.byte_end);
        self.terminated.append(e.terminated);
        self.is_done.append(e.is_done());
        if self.extract {
            self.push_extracted(&text(e.data, valid));
        }
    }

    fn push_extracted(&mut self, data: &str) {
        match extract(data) {
            None => {
                self.json_error.append_null();
                self.strs.iter_mut().for_each(|b| b.append_null());
                self.ints.iter_mut().for_each(|b| b.append_null());
            }
            Some(x) => {
                self.json_error.append_value(x.json_error);
                let strs = [
                    x.json_type,
                    x.text,
                    x.reasoning,
                    x.tool_name,
                    x.tool_id,
                    x.tool_args,
                    x.model,
                    x.stop_reason,
                    x.error_type,
                    x.error_code,
                    x.error_message,
                ];
                for (b, v) in self.strs.iter_mut().zip(strs) {
                    b.append_option(v);
                }
                let ints = [
                    x.input_tokens,
                    x.output_tokens,
                    x.cache_read_tokens,
                    x.cache_write_tokens,
                    x.reasoning_tokens,
                    x.cache_write_1h_tokens,
                ];
                for (b, v) in self.ints.iter_mut().zip(ints) {
                    b.append_option(v);
                }
            }
        }
    }

    /// Close the current record batch (no-op when empty).
    pub fn flush(&mut self) -> Result<()> {
        if self.rows() == 0 {
            return Ok(());
        }
        let blocks = self.arena.take_blocks();
        self.last_type_view = None;
        let ids = if self.last_event_id.is_empty() { vec![0u128; self.rows()] } else { take(&mut self.last_event_id) };
        // SAFETY: every view of this batch is inline (`MESSAGE_VIEW`, short values, the all-zero
        // empty strings of `ids`) or was made by `self.arena` since its last `take_blocks`, so it
        // points into `blocks` (`last_type_view`, which could outlive a batch, is reset above).
        // Every value is UTF-8: a slice at ASCII boundaries of a body that passed the UTF-8 check
        // (or such slices joined with LF), or the lossy decoding of one that did not (`text_view`).
        let (event_type, data, last_event_id) = unsafe {
            (
                string_view_array(take(&mut self.event_type), Arc::clone(&blocks), None),
                string_view_array(take(&mut self.data), Arc::clone(&blocks), None),
                string_view_array(ids, blocks, None),
            )
        };
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(UInt32Array::new(ScalarBuffer::from(take(&mut self.exchange_index)), None)),
            Arc::new(UInt32Array::new(ScalarBuffer::from(take(&mut self.event_index)), None)),
            Arc::new(event_type),
            Arc::new(data),
            Arc::new(last_event_id),
            Arc::new(UInt64Array::new(ScalarBuffer::from(take(&mut self.byte_start)), None)),
            Arc::new(UInt64Array::new(ScalarBuffer::from(take(&mut self.byte_end)), None)),
            Arc::new(BooleanArray::new(self.terminated.finish(), None)),
            Arc::new(BooleanArray::new(self.is_done.finish(), None)),
        ];
        if self.extract {
            cols.push(Arc::new(self.json_error.finish()));
            cols.extend(self.strs.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
            cols.extend(self.ints.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        }
        self.batches.push(RecordBatch::try_new(Arc::clone(&self.schema), cols)?);
        Ok(())
    }

    pub fn finish(mut self) -> Result<Table> {
        self.flush()?;
        Ok(Table::new(self.schema, self.batches))
    }
}

/// Split a column of bodies (`None` = no body) into one events table.
pub fn split_column(bodies: &[Option<&[u8]>], extract: bool) -> Result<Table> {
    let mut b = SseColumnBuilder::new(extract);
    for (i, body) in bodies.iter().enumerate() {
        b.push_body(u32::try_from(i).unwrap_or(u32::MAX), *body)?;
    }
    b.finish()
}
