//! The events of AWS EventStream response bodies (kiro / CodeWhisperer, Bedrock ConverseStream and
//! InvokeModelWithResponseStream) in the events table of [`crate::sse::column`], so that one
//! aggregation (Python's `fastcap.analysis.content.aggregate_events`) serves SSE and EventStream
//! bodies alike.
//!
//! Frames are decoded by [`crate::eventstream::decode_body`] in resync mode: a damaged body yields
//! the frames around the damage and a truncated tail is dropped (both are reported by
//! `eventstream_column`'s per-body table, not here). One row per verified frame:
//!
//! | column | value |
//! |---|---|
//! | `exchange_index` | the body's position in the input |
//! | `event_index` | the frame's position in its body |
//! | `event_type` | `:event-type`; for an `exception` message `:exception-type`; for an `error` message `:error-code` (else `error`); else `:message-type`, else empty |
//! | `data` | the payload as text (invalid UTF-8 replaced); a view into the body when it is valid |
//! | `last_event_id` | always empty (EventStream has no event ids) |
//! | `byte_start`, `byte_end` | the frame's offsets in the body (prelude to message CRC) |
//! | `terminated` | true (a frame is only emitted once its CRC verified) |
//! | `is_done` | false |
//! | `json_error` | the payload starts with `{` but is not valid JSON (for `chunk` frames: the decoded event); null when the payload is not a JSON object. The payload fields below are null when true |
//! | `json_type` | the `event_type` value; for a Bedrock `chunk` frame the decoded event's `type` (e.g. `message_stop`), else `chunk` |
//!
//! The extracted fields, by event type (names as on the wire; rules as the Python dialects
//! `fastcap.dialects.kiro` and `fastcap.dialects.bedrock` apply them):
//!
//! | event | fields |
//! |---|---|
//! | kiro `assistantResponseEvent` | `text` = `content`; `model` = `modelId` |
//! | kiro `reasoningContentEvent` | `reasoning` = `text` (a `signature` / `redactedContent` frame has none) |
//! | kiro `toolUseEvent` | `tool_id` = `toolUseId`; `tool_name` = `name`, only on the first frame that names each `toolUseId` in the body (every frame repeats the name; one call is one name); `tool_args` = `input` (a fragment) |
//! | kiro `metadataEvent`, `messageMetadataEvent` | `stop_reason` = `stopReason`; from `tokenUsage`: `input_tokens` = `uncachedInputTokens` + `cacheReadInputTokens` + `cacheWriteInputTokens` (the total prompt, as docs/metrics.md counts kiro; null when all three are absent; `inputTokens` is not read, as in the dialect), `output_tokens` = `outputTokens`, `cache_read_tokens` = `cacheReadInputTokens`, `cache_write_tokens` = `cacheWriteInputTokens` |
//! | kiro `invalidStateEvent` | `error_type` = `reason` (else the event type), `error_message` = `message` |
//! | kiro `meteringEvent` | `credits` = `usage` (a number of credits, not tokens) when `unit` is `credit`, absent or not a string (the dialect's default unit); another unit leaves it null |
//! | Bedrock Converse `contentBlockStart` | with `start.toolUse`: `tool_name` = `name` (`?` when missing), `tool_id` = `#` + `contentBlockIndex` |
//! | Bedrock Converse `contentBlockDelta` | `text` = `delta.text`; `reasoning` = `delta.reasoningContent.text`; with `delta.toolUse.input`: `tool_args` = it, `tool_id` = `#` + `contentBlockIndex` |
//! | Bedrock Converse `messageStop` | `stop_reason` = `stopReason` |
//! | Bedrock Converse `metadata` | from `usage`: `input_tokens` = `inputTokens` (uncached, as Anthropic's `input_tokens`), `output_tokens`, `cache_read_tokens` = `cacheReadInputTokens`, `cache_write_tokens` = `cacheWriteInputTokens` |
//! | Bedrock Invoke `chunk` | `{"bytes": <base64>}` is decoded and read by [`crate::sse::extract::extract`], exactly as an SSE event's data (Anthropic Messages events for Anthropic models; `tool_id` / `tool_args` as the extractor sets them) |
//! | `exception` message | `error_type` = `:exception-type`, `error_message` = payload `message` (else `Message`) |
//! | `error` message | `error_type` = `:error-code`, `error_message` = `:error-message` |
//!
//! Other events (`contextUsageEvent`, `messageStart`, `contentBlockStop`, `initial-response`, …)
//! have only the common columns. `reasoning_tokens`, `cache_write_1h_tokens` and `error_code` stay null. Columns of the SSE
//! schema this module does not know are null.
//!
//! The table is the SSE events table plus one column, `credits` (f64, nullable, last): what kiro
//! meters is credits, which are not tokens and have no column of their own in the SSE schema.
//! `fastcap.analysis.content.eventstream_events` sums it per body and drops it from the events.
//!
//! Not done here (per call, over the whole text): kiro's `<thinking>…</thinking>` at the start of
//! the assistant text, which the kiro dialect reports as reasoning.

use std::borrow::Cow;
use std::collections::HashSet;
use std::mem::take;
use std::ops::Range;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{new_null_array, ArrayRef, BooleanArray, RecordBatch, UInt32Array, UInt64Array};
use arrow_buffer::{BooleanBufferBuilder, Buffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};

use crate::arrow_util::Table;
use crate::error::Result;
use crate::eventstream::{decode_body, Frame, HeaderValue, Mode, Options};
use crate::loose_json::{fill_root, skip, Fill, LInt, LStr, ObjSeed};
use crate::sse::extract::{extract, Extracted};
use crate::sse::views::{string_view_array, ViewArena};

/// Rows per record batch (as the SSE events table).
const BATCH_ROWS: usize = 1 << 16;
/// A batch is also closed once this many bytes of values were copied.
const BATCH_OWNED_BYTES: usize = 256 << 20;

// The extracted fields, by column name: the SSE events table's (the two tables share one schema).
use crate::sse::column::{INT_FIELDS, STR_FIELDS};

/// The column of kiro's metered credits, after the SSE schema's columns.
pub const CREDITS: &str = "credits";

/// The schema of the table: that of `sse_column` with extraction, then [`CREDITS`].
pub fn schema() -> SchemaRef {
    let sse = crate::sse::column::schema(true);
    let mut fields: Vec<Field> = sse.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new(CREDITS, DataType::Float64, true));
    Arc::new(Schema::new(fields))
}

/// The extracted fields of one frame, in [`STR_FIELDS`] / [`INT_FIELDS`] order.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct FrameFields<'a> {
    pub json_error: Option<bool>,
    pub strs: [Option<Cow<'a, str>>; 11],
    pub ints: [Option<i64>; 6],
    /// kiro `meteringEvent`: the credits it metered.
    pub credits: Option<f64>,
}

const JSON_TYPE: usize = 0;
const TEXT: usize = 1;
const REASONING: usize = 2;
const TOOL_NAME: usize = 3;
const TOOL_ID: usize = 4;
const TOOL_ARGS: usize = 5;
const MODEL: usize = 6;
const STOP_REASON: usize = 7;
const ERROR_TYPE: usize = 8;
const ERROR_CODE: usize = 9;
const ERROR_MESSAGE: usize = 10;
const INPUT: usize = 0;
const OUTPUT: usize = 1;
const CACHE_READ: usize = 2;
const CACHE_WRITE: usize = 3;
const REASONING_TOKENS: usize = 4;
const CACHE_WRITE_1H: usize = 5;

impl<'a> FrameFields<'a> {
    /// Look a field up by its column name (tests and callers that want one value).
    pub fn str(&self, name: &str) -> Option<&str> {
        STR_FIELDS.iter().position(|n| *n == name).and_then(|i| self.strs[i].as_deref())
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        INT_FIELDS.iter().position(|n| *n == name).and_then(|i| self.ints[i])
    }

    fn from_extracted(x: Extracted<'a>) -> Self {
        let mut f = FrameFields { json_error: Some(x.json_error), ..Default::default() };
        f.strs[JSON_TYPE] = x.json_type;
        f.strs[TEXT] = x.text;
        f.strs[REASONING] = x.reasoning;
        f.strs[TOOL_NAME] = x.tool_name;
        f.strs[TOOL_ID] = x.tool_id;
        f.strs[TOOL_ARGS] = x.tool_args;
        f.strs[MODEL] = x.model;
        f.strs[STOP_REASON] = x.stop_reason;
        f.strs[ERROR_TYPE] = x.error_type;
        f.strs[ERROR_CODE] = x.error_code;
        f.strs[ERROR_MESSAGE] = x.error_message;
        f.ints[INPUT] = x.input_tokens;
        f.ints[OUTPUT] = x.output_tokens;
        f.ints[CACHE_READ] = x.cache_read_tokens;
        f.ints[CACHE_WRITE] = x.cache_write_tokens;
        f.ints[REASONING_TOKENS] = x.reasoning_tokens;
        f.ints[CACHE_WRITE_1H] = x.cache_write_1h_tokens;
        f
    }
}

// ---------------------------------------------------------------------------------------------
// Payloads: one loose reader for the JSON of every kiro and Converse event (the event type says
// which keys mean what; they do not collide).

#[derive(Default)]
struct Payload<'a> {
    content: Option<Cow<'a, str>>,
    model_id: Option<Cow<'a, str>>,
    text: Option<Cow<'a, str>>,
    name: Option<Cow<'a, str>>,
    tool_use_id: Option<Cow<'a, str>>,
    input: Option<Cow<'a, str>>,
    stop_reason: Option<Cow<'a, str>>,
    message: Option<Cow<'a, str>>,
    message_upper: Option<Cow<'a, str>>,
    reason: Option<Cow<'a, str>>,
    bytes: Option<Cow<'a, str>>,
    /// kiro `tokenUsage` or Converse `usage`.
    usage: Option<Usage>,
    /// kiro `meteringEvent`: `usage` is a number (credits), with its `unit`.
    usage_number: Option<f64>,
    unit: Option<Cow<'a, str>>,
    delta_text: Option<Cow<'a, str>>,
    delta_reasoning: Option<Cow<'a, str>>,
    delta_tool_input: Option<Cow<'a, str>>,
    /// Converse `contentBlockDelta.delta.toolUse` had an `input`.
    delta_tool: bool,
    /// Converse `contentBlockIndex`.
    block_index: Option<i64>,
    /// Converse `contentBlockStart.start.toolUse` was an object.
    start_tool: bool,
    start_tool_name: Option<Cow<'a, str>>,
}

#[derive(Default, Clone, Copy)]
struct Usage {
    input: Option<i64>,
    uncached_input: Option<i64>,
    output: Option<i64>,
    cache_read: Option<i64>,
    cache_write: Option<i64>,
}

fn lstr<'de, A: MapAccess<'de>>(map: &mut A) -> std::result::Result<Option<Cow<'de, str>>, A::Error> {
    Ok(map.next_value::<LStr<'de>>()?.0)
}

impl<'de> Fill<'de> for Payload<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> std::result::Result<(), A::Error> {
        match key {
            "content" => self.content = lstr(map)?,
            "modelId" => self.model_id = lstr(map)?,
            "text" => self.text = lstr(map)?,
            "name" => self.name = lstr(map)?,
            "toolUseId" => self.tool_use_id = lstr(map)?,
            "input" => self.input = lstr(map)?,
            "stopReason" => self.stop_reason = lstr(map)?,
            "message" => self.message = lstr(map)?,
            "Message" => self.message_upper = lstr(map)?,
            "reason" => self.reason = lstr(map)?,
            "bytes" => self.bytes = lstr(map)?,
            "contentBlockIndex" => self.block_index = map.next_value::<LInt>()?.0,
            "tokenUsage" => {
                let mut u = Usage::default();
                map.next_value_seed(ObjSeed(&mut u))?;
                self.usage = Some(u);
            }
            // Converse `usage` is an object; kiro `meteringEvent.usage` a number of credits.
            "usage" => {
                let mut u = Usage::default();
                self.usage_number = map.next_value_seed(UsageSeed(&mut u))?;
                self.usage = Some(u);
            }
            "unit" => self.unit = lstr(map)?,
            "delta" => map.next_value_seed(ObjSeed(&mut Delta(self)))?,
            "start" => map.next_value_seed(ObjSeed(&mut Start(self)))?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

impl<'de> Fill<'de> for Usage {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> std::result::Result<(), A::Error> {
        let slot = match key {
            "inputTokens" => &mut self.input,
            "uncachedInputTokens" => &mut self.uncached_input,
            "outputTokens" => &mut self.output,
            "cacheReadInputTokens" => &mut self.cache_read,
            "cacheWriteInputTokens" => &mut self.cache_write,
            _ => return skip(map),
        };
        *slot = map.next_value::<LInt>()?.0;
        Ok(())
    }
}

/// A `usage` value: an object fills the [`Usage`] (as [`ObjSeed`] does); a number is returned
/// (as the dialects' `num()` reads it: integers and floats, not booleans); anything else is absent.
struct UsageSeed<'s>(&'s mut Usage);

impl<'de> serde::de::DeserializeSeed<'de> for UsageSeed<'_> {
    type Value = Option<f64>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Option<f64>, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UsageSeed<'_> {
    type Value = Option<f64>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> std::result::Result<Option<f64>, A::Error> {
        ObjSeed(self.0).visit_map(map)?;
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Option<f64>, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<Option<f64>, E> {
        Ok(Some(v))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Option<f64>, E> {
        Ok(Some(v as f64))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Option<f64>, E> {
        Ok(Some(v as f64))
    }
    fn visit_bool<E>(self, _: bool) -> std::result::Result<Option<f64>, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> std::result::Result<Option<f64>, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> std::result::Result<Option<f64>, E> {
        Ok(None)
    }
}

/// Converse `contentBlockDelta.delta`.
struct Delta<'s, 'a>(&'s mut Payload<'a>);

impl<'de> Fill<'de> for Delta<'_, 'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> std::result::Result<(), A::Error> {
        match key {
            "text" => self.0.delta_text = lstr(map)?,
            "reasoningContent" => map.next_value_seed(ObjSeed(&mut ReasoningContent(self.0)))?,
            "toolUse" => map.next_value_seed(ObjSeed(&mut DeltaToolUse(self.0)))?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

struct ReasoningContent<'s, 'a>(&'s mut Payload<'a>);

impl<'de> Fill<'de> for ReasoningContent<'_, 'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> std::result::Result<(), A::Error> {
        match key {
            "text" => self.0.delta_reasoning = lstr(map)?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

struct DeltaToolUse<'s, 'a>(&'s mut Payload<'a>);

impl<'de> Fill<'de> for DeltaToolUse<'_, 'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> std::result::Result<(), A::Error> {
        match key {
            "input" => {
                self.0.delta_tool = true;
                self.0.delta_tool_input = lstr(map)?
            }
            _ => skip(map)?,
        }
        Ok(())
    }
}

/// Converse `contentBlockStart.start`.
struct Start<'s, 'a>(&'s mut Payload<'a>);

impl<'de> Fill<'de> for Start<'_, 'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> std::result::Result<(), A::Error> {
        match key {
            "toolUse" => map.next_value_seed(ObjSeed(&mut StartToolUse(self.0)))?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

struct StartToolUse<'s, 'a>(&'s mut Payload<'a>);

impl<'de> Fill<'de> for StartToolUse<'_, 'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> std::result::Result<(), A::Error> {
        // Any key marks the toolUse object as present (an empty `{}` is not a tool start).
        self.0.start_tool = true;
        match key {
            "name" => self.0.start_tool_name = lstr(map)?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

fn looks_like_object(payload: &[u8]) -> bool {
    payload.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'{')
}

/// The payload read as JSON: `(json_error, payload)`; `json_error` is `None` when the payload is
/// not an object, and the payload is empty when it is `Some(true)`.
fn read_payload(payload: &[u8]) -> (Option<bool>, Payload<'_>) {
    if !looks_like_object(payload) {
        return (None, Payload::default());
    }
    let mut p = Payload::default();
    if fill_root(payload, &mut p) {
        (Some(false), p)
    } else {
        // As for SSE events, a payload that does not parse contributes no fields.
        (Some(true), Payload::default())
    }
}

// ---------------------------------------------------------------------------------------------
// Base64 (Bedrock `chunk` payloads)

/// Standard base64 into `out`. Characters outside the alphabet (line breaks, padding) are skipped,
/// as Python's `base64.b64decode(validate=False)` does; a dangling single character fails.
fn base64_decode(s: &[u8], out: &mut Vec<u8>) -> bool {
    const INVALID: u8 = 0xff;
    const TABLE: [u8; 256] = {
        let mut t = [INVALID; 256];
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut i = 0;
        while i < 64 {
            t[alphabet[i] as usize] = i as u8;
            i += 1;
        }
        t
    };
    out.clear();
    out.reserve(s.len() / 4 * 3 + 3);
    let mut acc: u32 = 0;
    let mut n = 0u32;
    for &c in s {
        let v = TABLE[c as usize];
        if v == INVALID {
            continue;
        }
        acc = acc << 6 | u32::from(v);
        n += 1;
        if n == 4 {
            out.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
            acc = 0;
            n = 0;
        }
    }
    match n {
        0 => true,
        2 => {
            out.push((acc >> 4) as u8);
            true
        }
        3 => {
            out.extend_from_slice(&[(acc >> 10) as u8, (acc >> 2) as u8]);
            true
        }
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Frames

/// What is kept across the frames of one body.
#[derive(Default)]
struct BodyState {
    /// kiro `toolUseId`s whose name was already emitted.
    named_tools: HashSet<String>,
}

fn header_str<'a>(f: &Frame<'a>, name: &str) -> Option<&'a str> {
    f.headers().find(|h| h.name == name).and_then(|h| match h.value {
        HeaderValue::String(s) => Some(s),
        _ => None,
    })
}

/// The `event_type` value of a frame (see the module table).
fn frame_type<'a>(f: &Frame<'a>) -> &'a str {
    match f.message_type {
        Some("exception") => f.exception_type.or(f.event_type).unwrap_or("exception"),
        Some("error") => header_str(f, ":error-code").unwrap_or("error"),
        mt => f.event_type.or(mt).unwrap_or(""),
    }
}

/// The fields of one frame. `scratch` holds the decoded event of a Bedrock `chunk` frame (the
/// result may borrow it).
fn frame_fields<'a>(f: &Frame<'a>, state: &mut BodyState, scratch: &'a mut Vec<u8>) -> FrameFields<'a> {
    let ty = frame_type(f);
    match f.message_type {
        Some("exception") => {
            let (json_error, p) = read_payload(f.payload);
            let mut out = FrameFields { json_error, ..Default::default() };
            out.strs[JSON_TYPE] = Some(Cow::Borrowed(ty));
            out.strs[ERROR_TYPE] = Some(Cow::Borrowed(ty));
            out.strs[ERROR_MESSAGE] = p.message.or(p.message_upper);
            return out;
        }
        Some("error") => {
            let mut out = FrameFields::default();
            out.strs[JSON_TYPE] = Some(Cow::Borrowed(ty));
            out.strs[ERROR_TYPE] = Some(Cow::Borrowed(ty));
            out.strs[ERROR_MESSAGE] = header_str(f, ":error-message").map(Cow::Borrowed);
            return out;
        }
        _ => {}
    }
    if ty == "chunk" {
        return chunk_fields(f.payload, scratch);
    }
    let (json_error, p) = read_payload(f.payload);
    let mut out = FrameFields { json_error, ..Default::default() };
    out.strs[JSON_TYPE] = Some(Cow::Borrowed(ty));
    match ty {
        // kiro / CodeWhisperer.
        "assistantResponseEvent" => {
            out.strs[TEXT] = p.content;
            out.strs[MODEL] = p.model_id;
        }
        "reasoningContentEvent" => out.strs[REASONING] = p.text,
        "toolUseEvent" => {
            // The dialect keys tool uses without an id as "?": one call for all of them.
            let key = p.tool_use_id.as_deref().unwrap_or("?");
            if p.name.is_some() && !state.named_tools.contains(key) {
                state.named_tools.insert(key.to_owned());
                out.strs[TOOL_NAME] = p.name;
            }
            out.strs[TOOL_ID] = p.tool_use_id;
            out.strs[TOOL_ARGS] = p.input;
        }
        "metadataEvent" | "messageMetadataEvent" => {
            out.strs[STOP_REASON] = p.stop_reason;
            if let Some(u) = p.usage {
                // `usage_aws(…, uncached_key="uncachedInputTokens")`: the total prompt.
                let parts = [u.uncached_input, u.cache_read, u.cache_write];
                if parts.iter().any(Option::is_some) {
                    out.ints[INPUT] = Some(parts.iter().map(|v| v.unwrap_or(0)).sum());
                }
                out.ints[OUTPUT] = u.output;
                out.ints[CACHE_READ] = u.cache_read;
                out.ints[CACHE_WRITE] = u.cache_write;
            }
        }
        "invalidStateEvent" => {
            out.strs[ERROR_TYPE] = Some(p.reason.unwrap_or(Cow::Borrowed(ty)));
            out.strs[ERROR_MESSAGE] = p.message;
        }
        // The dialect counts a missing or empty unit as `credit`.
        "meteringEvent" if matches!(p.unit.as_deref(), None | Some("" | "credit")) => out.credits = p.usage_number,
        // Bedrock ConverseStream.
        "contentBlockStart" if p.start_tool => {
            out.strs[TOOL_NAME] = Some(p.start_tool_name.unwrap_or(Cow::Borrowed("?")));
            out.strs[TOOL_ID] = Some(block_key(p.block_index));
        }
        "contentBlockDelta" => {
            out.strs[TEXT] = p.delta_text;
            out.strs[REASONING] = p.delta_reasoning;
            if p.delta_tool {
                out.strs[TOOL_ID] = Some(block_key(p.block_index));
                out.strs[TOOL_ARGS] = p.delta_tool_input;
            }
        }
        "messageStop" => out.strs[STOP_REASON] = p.stop_reason,
        "metadata" => {
            if let Some(u) = p.usage {
                // `usage_aws(…, uncached_key="inputTokens")`: Bedrock's inputTokens is the
                // uncached part, like Anthropic's input_tokens (the engine adds the cache parts).
                out.ints[INPUT] = u.input;
                out.ints[OUTPUT] = u.output;
                out.ints[CACHE_READ] = u.cache_read;
                out.ints[CACHE_WRITE] = u.cache_write;
            }
        }
        _ => {}
    }
    out
}

/// The `tool_id` of a Converse tool block: `#` + its `contentBlockIndex` (0 when missing, as the
/// dialect counts it), on the start and on every argument delta alike, as the SSE extractor keys
/// Anthropic's tool blocks. The `toolUseId` is on the start only, so it cannot key the deltas.
fn block_key(index: Option<i64>) -> Cow<'static, str> {
    Cow::Owned(format!("#{}", index.unwrap_or(0)))
}

/// A Bedrock InvokeModelWithResponseStream `chunk`: the base64 `bytes` decoded into `scratch` and
/// read like an SSE event's data.
fn chunk_fields<'a>(payload: &[u8], scratch: &'a mut Vec<u8>) -> FrameFields<'a> {
    let (json_error, p) = read_payload(payload);
    let decoded = p.bytes.is_some_and(|b| base64_decode(b.as_bytes(), scratch));
    if !decoded {
        let mut out = FrameFields { json_error, ..Default::default() };
        out.strs[JSON_TYPE] = Some(Cow::Borrowed("chunk"));
        return out;
    }
    // Lossy: the event is JSON text; an invalid byte can only sit inside a string value.
    if simdutf8::basic::from_utf8(scratch).is_err() {
        let fixed = String::from_utf8_lossy(scratch).into_owned();
        *scratch = fixed.into_bytes();
    }
    let scratch: &'a Vec<u8> = scratch;
    let text = std::str::from_utf8(scratch).unwrap_or("");
    let mut out = match extract(text) {
        Some(x) => FrameFields::from_extracted(x),
        // The decoded bytes are not a JSON object.
        None => FrameFields::default(),
    };
    if out.strs[JSON_TYPE].is_none() {
        out.strs[JSON_TYPE] = Some(Cow::Borrowed("chunk"));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Column

/// Accumulates the frames of many bodies; push bodies, then [`finish`](Self::finish).
pub struct EventStreamEventsBuilder {
    schema: SchemaRef,
    opts: Options,
    arena: ViewArena,
    exchange_index: Vec<u32>,
    event_index: Vec<u32>,
    event_type: Vec<u128>,
    data: Vec<u128>,
    byte_start: Vec<u64>,
    byte_end: Vec<u64>,
    json_error: BooleanBuilder,
    strs: [StringBuilder; 11],
    ints: [Int64Builder; 6],
    credits: Float64Builder,
    scratch: Vec<u8>,
    batches: Vec<RecordBatch>,
}

impl Default for EventStreamEventsBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl EventStreamEventsBuilder {
    pub fn new() -> Self {
        EventStreamEventsBuilder {
            schema: schema(),
            opts: Options { mode: Mode::Resync, ..Options::default() },
            arena: ViewArena::new(),
            exchange_index: Vec::new(),
            event_index: Vec::new(),
            event_type: Vec::new(),
            data: Vec::new(),
            byte_start: Vec::new(),
            byte_end: Vec::new(),
            json_error: BooleanBuilder::new(),
            strs: std::array::from_fn(|_| StringBuilder::new()),
            ints: std::array::from_fn(|_| Int64Builder::new()),
            credits: Float64Builder::new(),
            scratch: Vec::new(),
            batches: Vec::new(),
        }
    }

    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn rows(&self) -> usize {
        self.exchange_index.len()
    }

    /// Decode one body and append its frames, copying the values. `None` bodies add no rows.
    pub fn push_body(&mut self, exchange_index: u32, body: Option<&[u8]>) -> Result<()> {
        match body {
            Some(b) => self.push_in(exchange_index, b, None),
            None => Ok(()),
        }
    }

    /// Decode the body `owner[range]`; `event_type` and `data` values become views into `owner`
    /// (which the table then keeps alive) instead of copies.
    pub fn push_shared(&mut self, exchange_index: u32, owner: &Buffer, range: Range<usize>) -> Result<()> {
        let body = &owner.as_slice()[range];
        self.push_in(exchange_index, body, Some(owner))
    }

    fn push_in(&mut self, exchange_index: u32, body: &[u8], owner: Option<&Buffer>) -> Result<()> {
        self.arena.set_source(owner, body);
        let mut state = BodyState::default();
        let mut index = 0u32;
        let mut scratch = take(&mut self.scratch);
        let opts = self.opts;
        decode_body(body, &opts, |f| {
            self.push_frame(exchange_index, index, &f, &mut state, &mut scratch);
            index = index.saturating_add(1);
        });
        self.scratch = scratch;
        if self.rows() >= BATCH_ROWS || self.arena.owned_bytes() >= BATCH_OWNED_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn push_frame(
        &mut self,
        exchange_index: u32,
        index: u32,
        f: &Frame<'_>,
        state: &mut BodyState,
        scratch: &mut Vec<u8>,
    ) {
        self.exchange_index.push(exchange_index);
        self.event_index.push(index);
        // Header strings and payloads are slices of the body: views when it is shared.
        let ty = frame_type(f);
        self.event_type.push(self.arena.view(ty.as_bytes(), true));
        let data = match simdutf8::basic::from_utf8(f.payload) {
            Ok(_) => self.arena.view(f.payload, true),
            Err(_) => self.arena.copy(String::from_utf8_lossy(f.payload).as_bytes()),
        };
        self.data.push(data);
        self.byte_start.push(f.offset);
        self.byte_end.push(f.offset + u64::from(f.total_length));
        let x = frame_fields(f, state, scratch);
        self.json_error.append_option(x.json_error);
        for (b, v) in self.strs.iter_mut().zip(&x.strs) {
            b.append_option(v.as_deref());
        }
        for (b, v) in self.ints.iter_mut().zip(x.ints) {
            b.append_option(v);
        }
        self.credits.append_option(x.credits);
    }

    /// Close the current record batch (no-op when empty).
    pub fn flush(&mut self) -> Result<()> {
        let rows = self.rows();
        if rows == 0 {
            return Ok(());
        }
        let blocks = self.arena.take_blocks();
        // SAFETY: every view of this batch was made by `self.arena` since its last `take_blocks`
        // (or is inline), so it points into `blocks`; every value is UTF-8: a header string
        // (validated by the frame decoder), a payload that passed the UTF-8 check, or the lossy
        // decoding of one that did not. The all-zero views of `last_event_id` are empty strings.
        let (event_type, data, last_event_id) = unsafe {
            (
                string_view_array(take(&mut self.event_type), Arc::clone(&blocks), None),
                string_view_array(take(&mut self.data), Arc::clone(&blocks), None),
                string_view_array(vec![0u128; rows], blocks, None),
            )
        };
        let mut strs: Vec<Option<ArrayRef>> =
            self.strs.iter_mut().map(|b| Some(Arc::new(b.finish()) as ArrayRef)).collect();
        let mut ints: Vec<Option<ArrayRef>> =
            self.ints.iter_mut().map(|b| Some(Arc::new(b.finish()) as ArrayRef)).collect();
        let mut fixed: Vec<(&str, ArrayRef)> = vec![
            ("exchange_index", Arc::new(UInt32Array::new(ScalarBuffer::from(take(&mut self.exchange_index)), None))),
            ("event_index", Arc::new(UInt32Array::new(ScalarBuffer::from(take(&mut self.event_index)), None))),
            ("event_type", Arc::new(event_type)),
            ("data", Arc::new(data)),
            ("last_event_id", Arc::new(last_event_id)),
            ("byte_start", Arc::new(UInt64Array::new(ScalarBuffer::from(take(&mut self.byte_start)), None))),
            ("byte_end", Arc::new(UInt64Array::new(ScalarBuffer::from(take(&mut self.byte_end)), None))),
            ("terminated", Arc::new(BooleanArray::new(bool_buffer(rows, true), None))),
            ("is_done", Arc::new(BooleanArray::new(bool_buffer(rows, false), None))),
            ("json_error", Arc::new(self.json_error.finish())),
            (CREDITS, Arc::new(self.credits.finish())),
        ];
        // Columns in the schema's order, by name; a column this module does not fill (or of
        // another type than it builds) is all null.
        let cols = self
            .schema
            .fields()
            .iter()
            .map(|field| {
                let name = field.name().as_str();
                let mine = if let Some(i) = fixed.iter().position(|(n, _)| *n == name) {
                    Some(fixed.swap_remove(i).1)
                } else if let Some(i) = STR_FIELDS.iter().position(|n| *n == name) {
                    strs[i].take()
                } else if let Some(i) = INT_FIELDS.iter().position(|n| *n == name) {
                    ints[i].take()
                } else {
                    None
                };
                match mine {
                    Some(a) if a.data_type() == field.data_type() => a,
                    _ => new_null_array(field.data_type(), rows),
                }
            })
            .collect();
        self.batches.push(RecordBatch::try_new(Arc::clone(&self.schema), cols)?);
        Ok(())
    }

    pub fn finish(mut self) -> Result<Table> {
        self.flush()?;
        Ok(Table::new(self.schema, self.batches))
    }
}

fn bool_buffer(rows: usize, value: bool) -> arrow_buffer::BooleanBuffer {
    let mut b = BooleanBufferBuilder::new(rows);
    b.append_n(rows, value);
    b.finish()
}

/// The events of many EventStream bodies (`None` = no body) as one table.
pub fn eventstream_events(bodies: &[Option<&[u8]>]) -> Result<Table> {
    let mut b = EventStreamEventsBuilder::new();
    for (i, body) in bodies.iter().enumerate() {
        b.push_body(u32::try_from(i).unwrap_or(u32::MAX), *body)?;
    }
    b.finish()
}

/// The types this module builds for the columns it fills, for the schema check in the tests.
#[cfg(test)]
fn built_type(name: &str) -> Option<arrow_schema::DataType> {
    use arrow_schema::DataType;
    match name {
        "exchange_index" | "event_index" => Some(DataType::UInt32),
        "event_type" | "data" | "last_event_id" => Some(DataType::Utf8View),
        "byte_start" | "byte_end" => Some(DataType::UInt64),
        "terminated" | "is_done" | "json_error" => Some(DataType::Boolean),
        CREDITS => Some(DataType::Float64),
        n if STR_FIELDS.contains(&n) => Some(DataType::Utf8),
        n if INT_FIELDS.contains(&n) => Some(DataType::Int64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{UInt32Type, UInt64Type};
    use arrow_array::Array;

    /// One frame with string headers (an independent encoder: prelude, headers, payload, CRCs).
    fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
        let mut hb = Vec::new();
        for (n, v) in headers {
            hb.push(n.len() as u8);
            hb.extend_from_slice(n.as_bytes());
            hb.push(7);
            hb.extend_from_slice(&(v.len() as u16).to_be_bytes());
            hb.extend_from_slice(v.as_bytes());
        }
        let total = 12 + hb.len() + payload.len() + 4;
        let mut out = Vec::with_capacity(total);
        out.extend_from_slice(&(total as u32).to_be_bytes());
        out.extend_from_slice(&(hb.len() as u32).to_be_bytes());
        let pc = crc32fast::hash(&out);
        out.extend_from_slice(&pc.to_be_bytes());
        out.extend_from_slice(&hb);
        out.extend_from_slice(payload);
        let mc = crc32fast::hash(&out);
        out.extend_from_slice(&mc.to_be_bytes());
        out
    }

    fn event(ty: &str, payload: &str) -> Vec<u8> {
        frame(
            &[(":event-type", ty), (":content-type", "application/json"), (":message-type", "event")],
            payload.as_bytes(),
        )
    }

    fn b64(data: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut s = String::new();
        for c in data.chunks(3) {
            let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
            let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
            s.push(A[(n >> 18) as usize & 63] as char);
            s.push(A[(n >> 12) as usize & 63] as char);
            s.push(if c.len() > 1 { A[(n >> 6) as usize & 63] as char } else { '=' });
            s.push(if c.len() > 2 { A[n as usize & 63] as char } else { '=' });
        }
        s
    }

    fn chunk(inner: &str) -> Vec<u8> {
        event("chunk", &format!(r#"{{"bytes":"{}","p":"abc"}}"#, b64(inner.as_bytes())))
    }

    /// Fields of every frame of one body.
    fn fields(body: &[u8]) -> Vec<FrameFields<'static>> {
        let mut state = BodyState::default();
        let mut out = Vec::new();
        decode_body(body, &Options { mode: Mode::Resync, ..Options::default() }, |f| {
            let mut scratch = Vec::new();
            let x = frame_fields(&f, &mut state, &mut scratch);
            out.push(FrameFields {
                json_error: x.json_error,
                strs: x.strs.map(|s| s.map(|c| Cow::Owned(c.into_owned()))),
                ints: x.ints,
                credits: x.credits,
            });
        });
        out
    }

    #[test]
    fn schema_is_the_sse_schema_and_every_column_is_built() {
        let sse = crate::sse::column::schema(true);
        assert_eq!(schema().fields()[..sse.fields().len()], sse.fields()[..]);
        assert_eq!(schema().fields().last().map(|f| f.name().as_str()), Some(CREDITS));
        for f in schema().fields() {
            assert_eq!(built_type(f.name()).as_ref(), Some(f.data_type()), "column {} is not filled", f.name());
        }
    }

    #[test]
    fn base64() {
        let mut out = Vec::new();
        for s in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar", b"\xff\x00\xfe"] {
            assert!(base64_decode(b64(s).as_bytes(), &mut out));
            assert_eq!(out, s);
        }
        assert!(base64_decode(b"Zm9v\nYmFy", &mut out));
        assert_eq!(out, b"foobar");
        assert!(!base64_decode(b"Zm9vY", &mut out));
    }

    #[test]
    fn kiro_events() {
        let body = [
            event("assistantResponseEvent", r#"{"content":"Hi","modelId":"claude-x"}"#),
            event("reasoningContentEvent", r#"{"text":"think"}"#),
            event("reasoningContentEvent", r#"{"signature":"sig"}"#),
            event("toolUseEvent", r#"{"name":"fs_read","toolUseId":"t1"}"#),
            event("toolUseEvent", r#"{"name":"fs_read","toolUseId":"t1","input":"{\"a\":"}"#),
            event("toolUseEvent", r#"{"name":"other","toolUseId":"t2","input":"{}","stop":true}"#),
            event("toolUseEvent", r#"{"toolUseId":"t1","input":"1}","stop":true}"#),
            event("metadataEvent", r#"{"stopReason":"END_TURN","tokenUsage":{"uncachedInputTokens":1200,"outputTokens":35,"totalTokens":15235,"cacheReadInputTokens":14000,"cacheWriteInputTokens":0}}"#),
            event("meteringEvent", r#"{"unit":"credit","usage":0.05}"#),
            event("invalidStateEvent", r#"{"reason":"INVALID_TASK","message":"bad"}"#),
            event("messageMetadataEvent", r#"{"conversationId":"c","utteranceId":"u"}"#),
        ]
        .concat();
        let f = fields(&body);
        assert_eq!(f.len(), 11);
        assert_eq!((f[0].str("text"), f[0].str("model")), (Some("Hi"), Some("claude-x")));
        assert_eq!((f[1].str("reasoning"), f[2].str("reasoning")), (Some("think"), None));
        let tools: Vec<_> =
            f[3..7].iter().map(|x| (x.str("tool_name"), x.str("tool_id"), x.str("tool_args"))).collect();
        assert_eq!(
            tools,
            [
                (Some("fs_read"), Some("t1"), None),
                (None, Some("t1"), Some("{\"a\":")),
                (Some("other"), Some("t2"), Some("{}")),
                (None, Some("t1"), Some("1}"))
            ]
        );
        let m = &f[7];
        assert_eq!(m.str("stop_reason"), Some("END_TURN"));
        assert_eq!(m.ints, [Some(15200), Some(35), Some(14000), Some(0), None, None]);
        assert_eq!(f[8].str("json_type"), Some("meteringEvent"));
        assert_eq!((f[8].ints, f[8].credits), ([None; 6], Some(0.05)));
        assert!(f.iter().enumerate().all(|(i, x)| i == 8 || x.credits.is_none()));
        assert_eq!((f[9].str("error_type"), f[9].str("error_message")), (Some("INVALID_TASK"), Some("bad")));
        assert!(f.iter().all(|x| x.json_error == Some(false)));
        assert_eq!(f[10].str("json_type"), Some("messageMetadataEvent"));
    }

    #[test]
    fn metering_is_credits_in_their_own_column() {
        let body = [
            // KiroRuntimeService (kiro-cli 2): usage is a number of credits.
            event("meteringEvent", r#"{"unit":"credit","unitPlural":"credits","usage":0.17618616013267}"#),
            event("meteringEvent", r#"{"usage":2}"#),
            event("meteringEvent", r#"{"unit":"","usage":1e-3}"#),
            event("meteringEvent", r#"{"unit":"request","usage":1}"#),
            event("meteringEvent", r#"{"unit":"credit","usage":true}"#),
            event("meteringEvent", r#"{"unit":"credit","usage":"0.5"}"#),
            event("meteringEvent", r#"{"unit":"credit","usage":{"inputTokens":3}}"#),
            // Converse's `usage` object still fills the token columns.
            event("metadata", r#"{"usage":{"inputTokens":4,"outputTokens":2}}"#),
        ]
        .concat();
        let f = fields(&body);
        let credits: Vec<_> = f.iter().map(|x| x.credits).collect();
        assert_eq!(credits, [Some(0.17618616013267), Some(2.0), Some(0.001), None, None, None, None, None]);
        assert!(f[..7].iter().all(|x| x.ints == [None; 6] && x.json_error == Some(false)));
        assert_eq!(f[7].ints[..2], [Some(4), Some(2)]);
        let t = eventstream_events(&[Some(&body)]).unwrap();
        assert_eq!(t.schema, schema());
        let col = t.batches[0].column(t.schema.index_of(CREDITS).unwrap());
        assert_eq!(col.as_primitive::<arrow_array::types::Float64Type>().iter().collect::<Vec<_>>(), credits);
    }

    #[test]
    fn exceptions_and_errors() {
        let body = [
            frame(
                &[
                    (":exception-type", "ThrottlingException"),
                    (":content-type", "application/json"),
                    (":message-type", "exception"),
                ],
                br#"{"message":"Too many requests"}"#,
            ),
            frame(&[(":exception-type", "x"), (":message-type", "exception")], br#"{"Message":"upper"}"#),
            frame(&[(":error-code", "InternalFailure"), (":error-message", "boom"), (":message-type", "error")], b""),
        ]
        .concat();
        let f = fields(&body);
        assert_eq!(f[0].str("error_type"), Some("ThrottlingException"));
        assert_eq!(f[0].str("json_type"), Some("ThrottlingException"));
        assert_eq!(f[0].str("error_message"), Some("Too many requests"));
        assert_eq!(f[1].str("error_message"), Some("upper"));
        assert_eq!((f[2].str("error_type"), f[2].str("error_message")), (Some("InternalFailure"), Some("boom")));
        assert_eq!(f[2].json_error, None);
    }

    #[test]
    fn converse_events() {
        let body = [
            event("messageStart", r#"{"role":"assistant","p":"abc"}"#),
            event("contentBlockDelta", r#"{"contentBlockIndex":0,"delta":{"reasoningContent":{"text":"hmm"}}}"#),
            event("contentBlockDelta", r#"{"contentBlockIndex":0,"delta":{"reasoningContent":{"signature":"s"}}}"#),
            event("contentBlockDelta", r#"{"contentBlockIndex":1,"delta":{"text":"Paris"}}"#),
            event("contentBlockStart", r#"{"contentBlockIndex":2,"start":{"toolUse":{"name":"get_temp","toolUseId":"tu_1"}}}"#),
            event("contentBlockDelta", r#"{"contentBlockIndex":2,"delta":{"toolUse":{"input":"{\"city\":1}"}}}"#),
            event("contentBlockStop", r#"{"contentBlockIndex":2}"#),
            event("messageStop", r#"{"stopReason":"tool_use"}"#),
            event("metadata", r#"{"usage":{"inputTokens":471,"outputTokens":91,"totalTokens":562,"cacheReadInputTokens":5},"metrics":{"latencyMs":422}}"#),
        ]
        .concat();
        let f = fields(&body);
        assert_eq!(f[0].str("json_type"), Some("messageStart"));
        assert_eq!((f[1].str("reasoning"), f[2].str("reasoning")), (Some("hmm"), None));
        assert_eq!(f[3].str("text"), Some("Paris"));
        assert_eq!((f[4].str("tool_name"), f[4].str("tool_id")), (Some("get_temp"), Some("#2")));
        assert_eq!((f[5].str("tool_args"), f[5].str("tool_id")), (Some("{\"city\":1}"), Some("#2")));
        assert_eq!(f[3].str("tool_id"), None);
        assert_eq!(f[7].str("stop_reason"), Some("tool_use"));
        assert_eq!(f[8].ints, [Some(471), Some(91), Some(5), None, None, None]);
    }

    #[test]
    fn bedrock_invoke_chunks_read_as_anthropic_events() {
        let inner = [
            r#"{"type":"message_start","message":{"model":"claude-sonnet-4","usage":{"input_tokens":10,"cache_read_input_tokens":90,"output_tokens":1}}}"#,
            r#"{"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"Read","input":{}}}"#,
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi é"}}"#,
            r#"{"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"a\":1}"}}"#,
            r#"{"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":20}}"#,
            r#"{"type":"message_stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":10}}"#,
        ];
        let mut body: Vec<u8> = inner.iter().flat_map(|e| chunk(e)).collect();
        body.extend(event("chunk", r#"{"bytes":"!!!"}"#));
        body.extend(event("chunk", r#"{"bytes":"bm90IGpzb24="}"#));
        let f = fields(&body);
        // Every field exactly as the SSE extractor reads the decoded event.
        for (i, e) in inner.iter().enumerate() {
            assert_eq!(f[i], FrameFields::from_extracted(extract(e).unwrap()), "{e}");
        }
        assert_eq!((f[0].str("json_type"), f[0].str("model")), (Some("message_start"), Some("claude-sonnet-4")));
        assert_eq!(f[0].ints[..3], [Some(10), Some(1), Some(90)]);
        assert_eq!(f[1].str("tool_name"), Some("Read"));
        assert_eq!(f[2].str("text"), Some("Hi é"));
        assert_eq!(f[4].str("stop_reason"), Some("tool_use"));
        assert_eq!(f[5].str("json_type"), Some("message_stop"));
        // Undecodable or non-JSON bytes: only the frame's type.
        assert_eq!((f[6].str("json_type"), f[6].str("text")), (Some("chunk"), None));
        assert_eq!((f[7].str("json_type"), f[7].json_error), (Some("chunk"), None));
    }

    #[test]
    fn loose_payloads() {
        let body = [
            event("assistantResponseEvent", r#"{"content":5}"#),
            event("assistantResponseEvent", r#"{"content":"cut"#),
            event("assistantResponseEvent", "not json"),
            event("metadataEvent", r#"{"tokenUsage":{"outputTokens":"7"}}"#),
        ]
        .concat();
        let f = fields(&body);
        assert_eq!((f[0].str("text"), f[0].json_error), (None, Some(false)));
        assert_eq!((f[1].str("text"), f[1].json_error), (None, Some(true)));
        assert_eq!((f[1].str("json_type"), f[2].json_error), (Some("assistantResponseEvent"), None));
        assert_eq!(f[3].ints, [None; 6]);
    }

    #[test]
    fn table_columns_and_damaged_bodies() {
        let a = [event("assistantResponseEvent", r#"{"content":"Hello there, a long enough text"}"#), event("x", "{}")]
            .concat();
        // A damaged body: garbage between frames, and a truncated tail.
        let mut b = event("assistantResponseEvent", r#"{"content":"one"}"#);
        b.extend_from_slice(b"garbage!");
        let second = event("assistantResponseEvent", r#"{"content":"two"}"#);
        b.extend_from_slice(&second);
        b.extend_from_slice(&second[..10]);
        let t = eventstream_events(&[Some(&a), None, Some(&b)]).unwrap();
        assert_eq!(t.schema, schema());
        let batch = &t.batches[0];
        for c in batch.columns() {
            c.to_data().validate_full().unwrap();
        }
        let col = |n: &str| Arc::clone(batch.column(t.schema.index_of(n).unwrap()));
        let ex = col("exchange_index");
        assert_eq!(ex.as_primitive::<UInt32Type>().values().to_vec(), [0, 0, 2, 2]);
        let idx = col("event_index");
        assert_eq!(idx.as_primitive::<UInt32Type>().values().to_vec(), [0, 1, 0, 1]);
        let text = col("text");
        let text = text.as_string::<i32>();
        assert_eq!(
            (text.value(0), text.is_null(1), text.value(2), text.value(3)),
            ("Hello there, a long enough text", true, "one", "two")
        );
        let data = col("data");
        assert_eq!(data.as_string_view().value(0), r#"{"content":"Hello there, a long enough text"}"#);
        assert_eq!(col("event_type").as_string_view().value(1), "x");
        let (start, end) = (col("byte_start"), col("byte_end"));
        let (s, e) = (start.as_primitive::<UInt64Type>(), end.as_primitive::<UInt64Type>());
        let first = (a.len() - event("x", "{}").len()) as u64;
        assert_eq!((s.value(0), e.value(0), s.value(1), e.value(1)), (0, first, first, a.len() as u64));
        // The second frame of `b` starts after the skipped garbage.
        assert_eq!(s.value(3) as usize, b.len() - 10 - second.len());
        assert!(col("terminated").as_boolean().iter().all(|v| v == Some(true)));
        assert!(col("is_done").as_boolean().iter().all(|v| v == Some(false)));
        assert_eq!(col("last_event_id").as_string_view().value(2), "");
    }

    #[test]
    fn shared_bodies_are_views() {
        let text = "x".repeat(5000);
        let body = event("assistantResponseEvent", &format!(r#"{{"content":"{text}"}}"#));
        let owner = Buffer::from_vec(body.clone());
        let mut b = EventStreamEventsBuilder::new();
        b.push_shared(0, &owner, 0..owner.len()).unwrap();
        let t = b.finish().unwrap();
        let data = t.batches[0].column(3).as_string_view().clone();
        data.to_data().validate_full().unwrap();
        assert_eq!(data.data_buffers()[0].as_ptr(), owner.as_ptr());
        assert!(data.value(0).ends_with(&format!("{text}\"}}")));
    }
}
