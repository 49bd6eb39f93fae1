//! Many SSE bodies at once into one Arrow events table (one row per event, the event pending at
//! EOF included with `terminated == false`), optionally with the fields of [`super::extract`].
//!
//! Columns: `exchange_index` u32 (position of the body in the input), `event_index` u32,
//! `event_type`, `data`, `last_event_id` (utf8), `byte_start`, `byte_end` (u64), `terminated`,
//! `is_done` (bool); with extraction also `json_error` (bool, null when the data is not a JSON
//! object), `json_type`, `text`, `reasoning`, `tool_name`, `model`, `stop_reason`, `error_type`,
//! `error_code`, `error_message` (utf8, nullable) and `input_tokens`, `output_tokens`,
//! `cache_read_tokens`, `cache_write_tokens`, `reasoning_tokens` (i64, nullable).

use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Int64Builder, StringBuilder, UInt32Builder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::extract::extract;
use super::{split_with, EventRef};
use crate::arrow_util::Table;
use crate::error::Result;

/// Rows per record batch (a batch is also flushed by [`SseColumnBuilder::flush`]).
const BATCH_ROWS: usize = 1 << 16;

const STR_FIELDS: [&str; 9] =
    ["json_type", "text", "reasoning", "tool_name", "model", "stop_reason", "error_type", "error_code", "error_message"];
const INT_FIELDS: [&str; 5] = ["input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens"];

/// The events table schema.
pub fn schema(extract: bool) -> SchemaRef {
    let mut fields = vec![
        Field::new("exchange_index", DataType::UInt32, false),
        Field::new("event_index", DataType::UInt32, false),
        Field::new("event_type", DataType::Utf8, false),
        Field::new("data", DataType::Utf8, false),
        Field::new("last_event_id", DataType::Utf8, false),
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
    exchange_index: UInt32Builder,
    event_index: UInt32Builder,
    event_type: StringBuilder,
    data: StringBuilder,
    last_event_id: StringBuilder,
    byte_start: UInt64Builder,
    byte_end: UInt64Builder,
    terminated: BooleanBuilder,
    is_done: BooleanBuilder,
    json_error: BooleanBuilder,
    strs: [StringBuilder; 9],
    ints: [Int64Builder; 5],
    rows: usize,
    batches: Vec<RecordBatch>,
}

impl SseColumnBuilder {
    pub fn new(extract: bool) -> Self {
        SseColumnBuilder {
            extract,
            schema: schema(extract),
            exchange_index: UInt32Builder::new(),
            event_index: UInt32Builder::new(),
            event_type: StringBuilder::new(),
            data: StringBuilder::new(),
            last_event_id: StringBuilder::new(),
            byte_start: UInt64Builder::new(),
            byte_end: UInt64Builder::new(),
            terminated: BooleanBuilder::new(),
            is_done: BooleanBuilder::new(),
            json_error: BooleanBuilder::new(),
            strs: std::array::from_fn(|_| StringBuilder::new()),
            ints: std::array::from_fn(|_| Int64Builder::new()),
            rows: 0,
            batches: Vec::new(),
        }
    }

    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// Split one body and append its events. `None` bodies contribute no rows.
    pub fn push_body(&mut self, exchange_index: u32, body: Option<&[u8]>) -> Result<()> {
        let Some(body) = body else { return Ok(()) };
        split_with(body, &mut |e: EventRef<'_>| self.push_event(exchange_index, &e));
        if self.rows >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn push_event(&mut self, exchange_index: u32, e: &EventRef<'_>) {
        self.exchange_index.append_value(exchange_index);
        self.event_index.append_value(u32::try_from(e.index).unwrap_or(u32::MAX));
        self.event_type.append_value(e.event_type);
        self.data.append_value(e.data);
        self.last_event_id.append_value(e.last_event_id);
        self.byte_start.append_value(e.byte_start);
        self.byte_end.append_value(e.byte_end);
        self.terminated.append_value(e.terminated);
        self.is_done.append_value(e.is_done);
        self.rows += 1;
        if !self.extract {
            return;
        }
        match extract(e.data) {
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
                    x.model,
                    x.stop_reason,
                    x.error_type,
                    x.error_code,
                    x.error_message,
                ];
                for (b, v) in self.strs.iter_mut().zip(strs) {
                    b.append_option(v);
                }
                let ints = [x.input_tokens, x.output_tokens, x.cache_read_tokens, x.cache_write_tokens, x.reasoning_tokens];
                for (b, v) in self.ints.iter_mut().zip(ints) {
                    b.append_option(v);
                }
            }
        }
    }

    /// Close the current record batch (no-op when empty).
    pub fn flush(&mut self) -> Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(self.exchange_index.finish()),
            Arc::new(self.event_index.finish()),
            Arc::new(self.event_type.finish()),
            Arc::new(self.data.finish()),
            Arc::new(self.last_event_id.finish()),
            Arc::new(self.byte_start.finish()),
            Arc::new(self.byte_end.finish()),
            Arc::new(self.terminated.finish()),
            Arc::new(self.is_done.finish()),
        ];
        if self.extract {
            cols.push(Arc::new(self.json_error.finish()));
            cols.extend(self.strs.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
            cols.extend(self.ints.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        }
        self.batches.push(RecordBatch::try_new(Arc::clone(&self.schema), cols)?);
        self.rows = 0;
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
