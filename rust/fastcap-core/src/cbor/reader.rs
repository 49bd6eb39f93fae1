//! The LLMPROXY-CAPTURE-V2 reader: header validation, then entries decoded straight into Arrow
//! record batches (one row per entry, one typed column per metadata key).
//!
//! The file is a CBOR sequence with no framing (cbor-v2.md §1), so entries must be decoded in
//! order; every fault is reported with its byte offset and never discards earlier entries (§8).

use std::borrow::Cow;
use std::sync::Arc;

use std::panic::AssertUnwindSafe;
use std::ptr::NonNull;

use arrow_array::builder::{
    make_view, BooleanBuilder, Float64Builder, Int64Builder, StringViewBuilder, UInt64Builder, UInt8Builder,
};
use arrow_array::{ArrayRef, BinaryViewArray, RecordBatch};
use arrow_buffer::{Buffer, NullBufferBuilder, ScalarBuffer};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use libdeflater::{DecompressionError, Decompressor};

use super::decode::{Cursor, DecodeError, Head, Value};
use super::meta::{index_of, Kind, META_KEYS};
use super::writer::MAGIC;
use crate::error::{Format, FormatError};

/// One problem found while reading, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// `truncated_tail`, `decode_error`, `schema_error`, `resync_skip`, `unknown_encoding`,
    /// `decompress_error`, `duplicate_key`.
    pub kind: &'static str,
    pub offset: u64,
    /// Index of the item in file order (0 = first entry after the header), when known.
    pub index: Option<u64>,
    pub seq: Option<u64>,
    /// Bytes concerned (left in a truncated tail, skipped by a resync).
    pub bytes: Option<u64>,
    pub message: String,
}

impl Diagnostic {
    /// True for faults that end or damage the read (as opposed to per-entry notes).
    pub fn is_fatal(&self) -> bool {
        self.kind == "decode_error"
    }
}

/// The validated header item.
#[derive(Debug, Clone)]
pub struct Header {
    pub session_id: Option<String>,
    pub created_at: Option<f64>,
    pub version: i64,
    pub metadata: Value,
    /// The whole header map, for verbatim export.
    pub raw: Value,
    /// Byte offset where the first entry starts.
    pub end: usize,
}

fn header_err(kind: &str, offset: usize, msg: String) -> FormatError {
    FormatError::new(Format::CborCapture, kind, offset as u64, msg)
}

/// Parse and validate the header (cbor-v2.md §2). V1 files get a distinct error.
pub fn parse_header(buf: &[u8]) -> Result<Header, FormatError> {
    if buf.is_empty() {
        return Err(header_err("missing_header", 0, "empty file; expected a CBOR map with magic \"LLMPROXY-CAPTURE-V2\"".into()));
    }
    if buf[0] >> 5 != 5 {
        // Not even a map: say what the file starts with rather than decoding arbitrary bytes.
        return Err(header_err("bad_header", 0, format!(
            "not a CBOR V2 capture: the file starts with byte 0x{:02x}, expected a CBOR map (0xa0-0xbf) with magic \"{MAGIC}\"",
            buf[0]
        )));
    }
    let mut cur = Cursor::new(buf, 0);
    let raw = cur.value().map_err(|e| {
        if e.eof {
            header_err("missing_header", 0, format!("file ends inside the header ({} bytes); expected a complete CBOR V2 header map", buf.len()))
        } else {
            header_err("bad_header", e.offset, format!("not a CBOR V2 capture: {}; expected a CBOR map header", e.message))
        }
    })?;
    if !matches!(raw, Value::Map(_)) {
        return Err(header_err("bad_header", 0, format!(
            "not a CBOR V2 capture: first item is {}, expected a map with magic \"{MAGIC}\"",
            kind_name(&raw)
        )));
    }
    let magic = raw.get("magic").and_then(Value::as_text);
    match magic {
        Some(MAGIC) => {}
        Some("LLMPROXY-CAPTURE-V1") => {
            return Err(header_err("unsupported_version", 0, "this is a V1 capture (magic \"LLMPROXY-CAPTURE-V1\"); fastcap reads V2 only".into()));
        }
        other => {
            return Err(header_err("bad_magic", 0, format!(
                "capture magic is {}, expected \"{MAGIC}\"",
                other.map(|m| format!("\"{m}\"")).unwrap_or_else(|| "missing".into())
            )));
        }
    }
    let version = raw.get("version").and_then(Value::as_i64);
    if version != Some(2) {
        return Err(header_err("unsupported_version", 0, format!(
            "capture version is {}, expected 2",
            version.map(|v| v.to_string()).unwrap_or_else(|| "missing".into())
        )));
    }
    Ok(Header {
        session_id: raw.get("session_id").and_then(Value::as_text).map(str::to_owned),
        created_at: raw.get("created_at").and_then(Value::as_f64),
        version: 2,
        metadata: raw.get("metadata").cloned().unwrap_or(Value::Null),
        end: cur.pos,
        raw,
    })
}

fn kind_name(v: &Value) -> &'static str {
    match v {
        Value::Uint(_) | Value::Nint(_) => "an integer",
        Value::Bytes(_) => "a byte string",
        Value::Text(_) => "a text string",
        Value::Array(_) => "an array",
        Value::Map(_) => "a map",
        Value::Bool(_) => "a boolean",
        Value::Null | Value::Undefined => "null",
        Value::Float(_) => "a float",
        Value::Tag(..) => "a tagged item",
        Value::Simple(_) => "a simple value",
    }
}

/// The Arrow schema of the entries table.
pub fn schema() -> SchemaRef {
    let mut fields = vec![
        Field::new("file_index", DataType::UInt64, false),
        Field::new("offset", DataType::UInt64, false),
        Field::new("ts", DataType::Float64, true),
        Field::new("dir", DataType::UInt8, true),
        Field::new("seq", DataType::UInt64, true),
        Field::new("data", DataType::BinaryView, true),
        Field::new("data_len", DataType::UInt64, true),
        Field::new("compressed", DataType::Boolean, false),
        Field::new("enc", DataType::Utf8View, true),
    ];
    for k in META_KEYS {
        let dt = match k.kind {
            Kind::Text | Kind::Json => DataType::Utf8View,
            Kind::Int => DataType::Int64,
            Kind::Float => DataType::Float64,
            Kind::Flag => DataType::Boolean,
        };
        fields.push(Field::new(k.long, dt, true));
    }
    fields.push(Field::new("meta_extra", DataType::Utf8View, true));
    fields.push(Field::new("entry_extra", DataType::Utf8View, true));
    fields.push(Field::new("problems", DataType::Utf8View, true));
    Arc::new(Schema::new(fields))
}

#[derive(Default)]
enum Mv<'a> {
    #[default]
    None,
    Text(Cow<'a, str>),
    Int(i64),
    Float(f64),
    Flag(bool),
    Json(String),
}

const P_SCHEMA: u8 = 1;
const P_UNKNOWN_ENC: u8 = 2;
const P_DECOMPRESS: u8 = 4;
const P_DUPLICATE: u8 = 8;

struct Row<'a> {
    ts: Option<f64>,
    dir: Option<u64>,
    seq: Option<u64>,
    data: Option<Cow<'a, [u8]>>,
    enc: Option<Cow<'a, str>>,
    /// Only the keys present (typically 3–12 of 44): a dense 44-slot array made every entry
    /// cost a 1.6 KB zero-fill and copy, which dominated reading.
    meta: Vec<(u8, Mv<'a>)>,
    /// Bit i set when META_KEYS[i] is present.
    present: u64,
    meta_extra: serde_json::Map<String, serde_json::Value>,
    entry_extra: serde_json::Map<String, serde_json::Value>,
    problems: u8,
}

impl<'a> Row<'a> {
    fn new() -> Self {
        Row {
            ts: None,
            dir: None,
            seq: None,
            data: None,
            enc: None,
            meta: Vec::new(),
            present: 0,
            meta_extra: serde_json::Map::new(),
            entry_extra: serde_json::Map::new(),
            problems: 0,
        }
    }
}

struct Builders {
    file_index: UInt64Builder,
    offset: UInt64Builder,
    ts: Float64Builder,
    dir: UInt8Builder,
    seq: UInt64Builder,
    // `data` is a BinaryView column built by hand: values stored raw in the file are views into
    // the memory map itself (buffer 0, zero-copy); decompressed payloads go to buffer 1.
    data_views: Vec<u128>,
    data_nulls: NullBufferBuilder,
    owned: Vec<u8>,
    data_len: UInt64Builder,
    compressed: BooleanBuilder,
    enc: StringViewBuilder,
    meta: Vec<MetaBuilder>,
    meta_extra: StringViewBuilder,
    entry_extra: StringViewBuilder,
    problems: StringViewBuilder,
    rows: usize,
}

enum MetaBuilder {
    Text(StringViewBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
    Flag(BooleanBuilder),
}

impl Builders {
    fn new(cap: usize) -> Self {
        Builders {
            file_index: UInt64Builder::with_capacity(cap),
            offset: UInt64Builder::with_capacity(cap),
            ts: Float64Builder::with_capacity(cap),
            dir: UInt8Builder::with_capacity(cap),
            seq: UInt64Builder::with_capacity(cap),
            data_views: Vec::with_capacity(cap),
            data_nulls: NullBufferBuilder::new(cap),
            owned: Vec::new(),
            data_len: UInt64Builder::with_capacity(cap),
            compressed: BooleanBuilder::with_capacity(cap),
            enc: StringViewBuilder::with_capacity(cap),
            meta: META_KEYS
                .iter()
                .map(|k| match k.kind {
                    Kind::Text | Kind::Json => MetaBuilder::Text(StringViewBuilder::with_capacity(cap)),
                    Kind::Int => MetaBuilder::Int(Int64Builder::with_capacity(cap)),
                    Kind::Float => MetaBuilder::Float(Float64Builder::with_capacity(cap)),
                    Kind::Flag => MetaBuilder::Flag(BooleanBuilder::with_capacity(cap)),
                })
                .collect(),
            meta_extra: StringViewBuilder::new(),
            entry_extra: StringViewBuilder::new(),
            problems: StringViewBuilder::new(),
            rows: 0,
        }
    }

    /// `window` is the file region buffer 0 will expose for this batch.
    fn push(&mut self, window: &[u8], file_index: u64, offset: u64, row: Row<'_>, compressed: bool) {
        self.file_index.append_value(file_index);
        self.offset.append_value(offset);
        self.ts.append_option(row.ts);
        self.dir.append_option(row.dir.map(|d| d.min(255) as u8));
        self.seq.append_option(row.seq);
        match &row.data {
            Some(d) => {
                let view = match d {
                    Cow::Borrowed(b) if b.len() > 12 => {
                        // Offset of the payload inside this batch's window of the file.
                        let off = b.as_ptr() as usize - window.as_ptr() as usize;
                        make_view(b, 0, u32::try_from(off).expect("batch window under 4 GiB"))
                    }
                    _ if d.len() <= 12 => make_view(d, 0, 0),
                    _ => {
                        let off = self.owned.len();
                        self.owned.extend_from_slice(d);
                        make_view(d, 1, u32::try_from(off).expect("owned payloads under 4 GiB per batch"))
                    }
                };
                self.data_views.push(view);
                self.data_nulls.append_non_null();
                self.data_len.append_value(d.len() as u64);
            }
            None => {
                self.data_views.push(0);
                self.data_nulls.append_null();
                self.data_len.append_null();
            }
        }
        self.compressed.append_value(compressed);
        self.enc.append_option(row.enc.as_deref());
        for (i, v) in row.meta {
            match (&mut self.meta[i as usize], v) {
                (MetaBuilder::Text(b), Mv::Text(s)) => b.append_value(s.as_ref()),
                (MetaBuilder::Text(b), Mv::Json(s)) => b.append_value(&s),
                (MetaBuilder::Text(b), _) => b.append_null(),
                (MetaBuilder::Int(b), Mv::Int(i)) => b.append_value(i),
                (MetaBuilder::Int(b), _) => b.append_null(),
                (MetaBuilder::Float(b), Mv::Float(f)) => b.append_value(f),
                (MetaBuilder::Float(b), _) => b.append_null(),
                (MetaBuilder::Flag(b), Mv::Flag(f)) => b.append_value(f),
                (MetaBuilder::Flag(b), _) => b.append_null(),
            }
        }
        let mut missing = !row.present & ((1u64 << META_KEYS.len()) - 1);
        while missing != 0 {
            let i = missing.trailing_zeros() as usize;
            missing &= missing - 1;
            match &mut self.meta[i] {
                MetaBuilder::Text(b) => b.append_null(),
                MetaBuilder::Int(b) => b.append_null(),
                MetaBuilder::Float(b) => b.append_null(),
                MetaBuilder::Flag(b) => b.append_null(),
            }
        }
        if row.meta_extra.is_empty() {
            self.meta_extra.append_null();
        } else {
            self.meta_extra.append_value(serde_json::Value::Object(row.meta_extra).to_string());
        }
        if row.entry_extra.is_empty() {
            self.entry_extra.append_null();
        } else {
            self.entry_extra.append_value(serde_json::Value::Object(row.entry_extra).to_string());
        }
        if row.problems == 0 {
            self.problems.append_null();
        } else {
            let mut names = Vec::new();
            for (bit, name) in [
                (P_SCHEMA, "schema_error"),
                (P_UNKNOWN_ENC, "unknown_encoding"),
                (P_DECOMPRESS, "decompress_error"),
                (P_DUPLICATE, "duplicate_key"),
            ] {
                if row.problems & bit != 0 {
                    names.push(name);
                }
            }
            self.problems.append_value(names.join(","));
        }
        self.rows += 1;
    }

    fn finish(mut self, schema: &SchemaRef, window: Buffer) -> RecordBatch {
        let owned = Buffer::from_vec(std::mem::take(&mut self.owned));
        let data = BinaryViewArray::try_new(ScalarBuffer::from(std::mem::take(&mut self.data_views)), vec![window, owned], self.data_nulls.finish())
            .expect("payload views are within their buffers");
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(self.file_index.finish()),
            Arc::new(self.offset.finish()),
            Arc::new(self.ts.finish()),
            Arc::new(self.dir.finish()),
            Arc::new(self.seq.finish()),
            Arc::new(data),
            Arc::new(self.data_len.finish()),
            Arc::new(self.compressed.finish()),
            Arc::new(self.enc.finish()),
        ];
        for b in self.meta.iter_mut() {
            cols.push(match b {
                MetaBuilder::Text(b) => Arc::new(b.finish()),
                MetaBuilder::Int(b) => Arc::new(b.finish()),
                MetaBuilder::Float(b) => Arc::new(b.finish()),
                MetaBuilder::Flag(b) => Arc::new(b.finish()),
            });
        }
        cols.push(Arc::new(self.meta_extra.finish()));
        cols.push(Arc::new(self.entry_extra.finish()));
        cols.push(Arc::new(self.problems.finish()));
        RecordBatch::try_new(Arc::clone(schema), cols).expect("entries batch matches its schema")
    }
}

/// What an entry parse produced.
// Boxing the row would cost an allocation per entry in the hot loop; the enum lives on the stack.
#[allow(clippy::large_enum_variant)]
enum Parsed<'a> {
    Entry(Row<'a>),
    /// The item decoded but is not a map.
    NotAMap(&'static str),
}

fn parse_meta<'a>(cur: &mut Cursor<'a>, row: &mut Row<'a>) -> Result<(), DecodeError> {
    let at = cur.pos;
    let h = cur.head()?;
    if h.major != 5 {
        let v = cur.value_after(h, at, 1)?;
        row.entry_extra.insert("meta".into(), v.to_json());
        row.problems |= P_SCHEMA;
        return Ok(());
    }
    let mut n = 0u64;
    loop {
        if h.indefinite() {
            if cur.peek() == Some(0xff) {
                cur.pos += 1;
                break;
            }
        } else if n == h.arg {
            break;
        }
        n += 1;
        let kat = cur.pos;
        let kh = cur.head()?;
        if kh.major != 3 {
            let k = cur.value_after(kh, kat, 1)?;
            let v = cur.value()?;
            row.meta_extra.insert(k.to_json().to_string(), v.to_json());
            continue;
        }
        let key = cur.text_after(kh, kat)?;
        match index_of(&key) {
            Some(i) => {
                if row.present & (1 << i) != 0 {
                    // Duplicate key: the last value wins (cbor-v2.md §1.2).
                    row.problems |= P_DUPLICATE;
                    row.meta.retain(|(j, _)| *j as usize != i);
                    row.present &= !(1 << i);
                }
                let vat = cur.pos;
                let vh = cur.head()?;
                let parsed = match META_KEYS[i].kind {
                    Kind::Text if vh.major == 3 => Some(Mv::Text(cur.text_after(vh, vat)?)),
                    Kind::Int if vh.major == 0 => i64::try_from(vh.arg).ok().map(Mv::Int),
                    Kind::Int if vh.major == 1 => i64::try_from(vh.arg).ok().map(|n| Mv::Int(-1 - n)),
                    Kind::Float if matches!(vh.major, 0 | 1) || (vh.major == 7 && matches!(vh.info, 25..=27)) => {
                        cur.number_after(vh, vat)?.map(Mv::Float)
                    }
                    Kind::Flag if vh.major == 7 && matches!(vh.info, 20 | 21) => Some(Mv::Flag(vh.info == 21)),
                    Kind::Json => Some(Mv::Json(cur.value_after(vh, vat, 1)?.to_json().to_string())),
                    _ => None,
                };
                match parsed {
                    Some(v) => {
                        row.meta.push((i as u8, v));
                        row.present |= 1 << i;
                    }
                    None => {
                        // Wrong type: an integral float where an int is expected is still a value.
                        cur.pos = vat;
                        let v = cur.value()?;
                        match (META_KEYS[i].kind, &v) {
                            (Kind::Int, Value::Float(_)) if v.as_i64().is_some() => {
                                row.meta.push((i as u8, Mv::Int(v.as_i64().unwrap())));
                                row.present |= 1 << i;
                            }
                            (Kind::Flag, Value::Null) | (_, Value::Null) => {}
                            _ => {
                                row.problems |= P_SCHEMA;
                                row.meta_extra.insert(key.into_owned(), v.to_json());
                            }
                        }
                    }
                }
            }
            None => {
                let v = cur.value()?;
                row.meta_extra.insert(key.into_owned(), v.to_json());
            }
        }
    }
    Ok(())
}

fn parse_entry<'a>(cur: &mut Cursor<'a>) -> Result<Parsed<'a>, DecodeError> {
    let at = cur.pos;
    let h = cur.head()?;
    if h.major != 5 {
        cur.skip_after(h, at, 0)?;
        return Ok(Parsed::NotAMap(match h.major {
            0 | 1 => "an integer",
            2 => "a byte string",
            3 => "a text string",
            4 => "an array",
            6 => "a tagged item",
            _ => "a simple value",
        }));
    }
    let mut row = Row::new();
    let mut n = 0u64;
    loop {
        if h.indefinite() {
            match cur.peek() {
                Some(0xff) => {
                    cur.pos += 1;
                    break;
                }
                None => return Err(DecodeError { offset: cur.pos, message: "input ends inside an entry".into(), eof: true }),
                _ => {}
            }
        } else if n == h.arg {
            break;
        }
        n += 1;
        let kat = cur.pos;
        let kh = cur.head()?;
        let key: Cow<'a, str> = if kh.major == 3 {
            cur.text_after(kh, kat)?
        } else {
            let k = cur.value_after(kh, kat, 1)?;
            let v = cur.value()?;
            row.entry_extra.insert(k.to_json().to_string(), v.to_json());
            continue;
        };
        let vat = cur.pos;
        let vh: Head = cur.head()?;
        match key.as_ref() {
            "ts" => {
                dup(&mut row.problems, row.ts.is_some());
                row.ts = cur.number_after(vh, vat)?;
                if row.ts.is_none() {
                    row.problems |= P_SCHEMA;
                }
            }
            "dir" | "seq" => {
                let v = if vh.major == 0 {
                    Some(vh.arg)
                } else {
                    cur.pos = vat;
                    cur.value()?.as_i64().and_then(|i| u64::try_from(i).ok())
                };
                if v.is_none() {
                    row.problems |= P_SCHEMA;
                }
                if key == "dir" {
                    dup(&mut row.problems, row.dir.is_some());
                    row.dir = v;
                } else {
                    dup(&mut row.problems, row.seq.is_some());
                    row.seq = v;
                }
            }
            "data" => {
                dup(&mut row.problems, row.data.is_some());
                row.data = match vh.major {
                    2 => Some(cur.bytes_after(vh, vat)?),
                    // The reference writer coerces text to bytes; accept text as its UTF-8.
                    3 => Some(match cur.text_after(vh, vat)? {
                        Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
                        Cow::Owned(s) => Cow::Owned(s.into_bytes()),
                    }),
                    _ => {
                        cur.skip_after(vh, vat, 1)?;
                        row.problems |= P_SCHEMA;
                        None
                    }
                };
            }
            "enc" => {
                if vh.major == 3 {
                    row.enc = Some(cur.text_after(vh, vat)?);
                } else {
                    let v = cur.value_after(vh, vat, 1)?;
                    row.entry_extra.insert("enc".into(), v.to_json());
                    row.problems |= P_UNKNOWN_ENC;
                }
            }
            "meta" => {
                cur.pos = vat;
                parse_meta(cur, &mut row)?;
            }
            _ => {
                let v = cur.value_after(vh, vat, 1)?;
                row.entry_extra.insert(key.into_owned(), v.to_json());
            }
        }
    }
    if row.ts.is_none() || row.dir.is_none() || row.seq.is_none() || row.data.is_none() || row.dir.is_some_and(|d| d > 3) {
        row.problems |= P_SCHEMA;
    }
    Ok(Parsed::Entry(row))
}

#[inline]
fn dup(p: &mut u8, seen: bool) {
    if seen {
        *p |= P_DUPLICATE;
    }
}

/// Options for [`EntryReader`].
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions {
    /// Resynchronise on the next plausible entry after a decode error instead of stopping.
    pub recover: bool,
    /// Rows per record batch. Kept moderate so each column buffer stays below the allocator's
    /// mmap threshold and is recycled between batches instead of page-faulted in afresh.
    pub batch_rows: usize,
    /// Decompress `enc: "zlib"` payloads.
    pub decompress: bool,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions { recover: false, batch_rows: 16_384, decompress: true }
    }
}

/// Bytes shared between the reader and the Arrow buffers that point into them.
type Shared = Arc<super::Source>;

/// Streams the entries of a capture held in memory (typically a memory map) as record batches.
/// Payloads stored uncompressed are not copied: the batches reference the mapped file.
pub struct EntryReader {
    buf: Shared,
    pos: usize,
    file_index: u64,
    pub header: Header,
    pub diagnostics: Vec<Diagnostic>,
    opts: ReadOptions,
    schema: SchemaRef,
    done: bool,
    last_window: Option<(usize, usize)>,
}

/// Largest span of the file one batch may reference (view offsets are 32-bit).
const MAX_WINDOW: usize = 1 << 31;

impl EntryReader {
    pub fn new(buf: impl Into<super::Source>, opts: ReadOptions) -> Result<Self, FormatError> {
        let buf: super::Source = buf.into();
        let header = parse_header(buf.as_ref())?;
        Ok(EntryReader {
            pos: header.end,
            buf: Arc::new(buf),
            file_index: 0,
            header,
            diagnostics: Vec::new(),
            opts,
            schema: schema(),
            done: false,
            last_window: None,
        })
    }

    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// Bytes consumed so far (for progress reporting).
    pub fn position(&self) -> usize {
        self.pos
    }

    pub fn total_len(&self) -> usize {
        (*self.buf).as_ref().len()
    }

    /// The first diagnostic that ended or damaged the read, if any.
    pub fn fatal(&self) -> Option<&Diagnostic> {
        self.diagnostics.iter().find(|d| d.is_fatal())
    }

    /// Decode up to `batch_rows` entries. Returns `None` at the end.
    pub fn next_batch(&mut self) -> Option<RecordBatch> {
        if self.done {
            return None;
        }
        let shared = Arc::clone(&self.buf);
        let buf: &[u8] = (*shared).as_ref();
        let window_start = self.pos;
        // The previous batch's pages are no longer needed by the reader.
        if let Some((start, len)) = self.last_window.take() {
            shared.release(start, len);
        }
        let mut rows: Vec<(u64, usize, Row<'_>)> = Vec::with_capacity(self.opts.batch_rows.min(1 << 16));
        while rows.len() < self.opts.batch_rows && self.pos - window_start < MAX_WINDOW {
            if self.pos >= buf.len() {
                self.done = true;
                break;
            }
            let start = self.pos;
            let mut cur = Cursor::new(buf, start);
            match parse_entry(&mut cur) {
                Ok(Parsed::Entry(row)) => {
                    rows.push((self.file_index, start, row));
                    self.file_index += 1;
                    self.pos = cur.pos;
                }
                Ok(Parsed::NotAMap(what)) => {
                    self.diagnostics.push(Diagnostic {
                        kind: "schema_error",
                        offset: start as u64,
                        index: Some(self.file_index),
                        seq: None,
                        bytes: Some((cur.pos - start) as u64),
                        message: format!("item is {what}, expected an entry map; skipped"),
                    });
                    self.file_index += 1;
                    self.pos = cur.pos;
                }
                Err(e) if e.eof => {
                    self.diagnostics.push(Diagnostic {
                        kind: "truncated_tail",
                        offset: start as u64,
                        index: Some(self.file_index),
                        seq: None,
                        bytes: Some((buf.len() - start) as u64),
                        message: format!("file ends inside entry {} ({} bytes left); the partial entry was dropped", self.file_index, buf.len() - start),
                    });
                    self.done = true;
                    break;
                }
                Err(e) => {
                    self.diagnostics.push(Diagnostic {
                        kind: "decode_error",
                        offset: start as u64,
                        index: Some(self.file_index),
                        seq: None,
                        bytes: None,
                        message: format!("entry {} is not valid CBOR: {} at byte {}", self.file_index, e.message, e.offset),
                    });
                    if self.opts.recover {
                        match resync(buf, start + 1) {
                            Some(next) => {
                                self.diagnostics.push(Diagnostic {
                                    kind: "resync_skip",
                                    offset: start as u64,
                                    index: Some(self.file_index),
                                    seq: None,
                                    bytes: Some((next - start) as u64),
                                    message: format!("skipped {} bytes to the next plausible entry at byte {next}", next - start),
                                });
                                self.pos = next;
                            }
                            None => {
                                self.diagnostics.push(Diagnostic {
                                    kind: "resync_skip",
                                    offset: start as u64,
                                    index: Some(self.file_index),
                                    seq: None,
                                    bytes: Some((buf.len() - start) as u64),
                                    message: format!("no further entry found; skipped the last {} bytes", buf.len() - start),
                                });
                                self.done = true;
                                break;
                            }
                        }
                    } else {
                        self.done = true;
                        break;
                    }
                }
            }
        }
        if rows.is_empty() && self.done {
            return None;
        }
        let compressed = decompress_rows(&self.opts, &mut rows, &mut self.diagnostics);
        let window = &buf[window_start..self.pos];
        let mut b = Builders::new(rows.len());
        for ((index, start, row), was_compressed) in rows.into_iter().zip(compressed) {
            b.push(window, index, start as u64, row, was_compressed);
        }
        let owner = AssertUnwindSafe(Arc::clone(&shared));
        let ptr = NonNull::new(window.as_ptr() as *mut u8).unwrap_or(NonNull::dangling());
        // SAFETY: `window` lies inside the bytes `owner` keeps alive (and never mutates) for as
        // long as the buffer exists.
        let window_buf = unsafe { Buffer::from_custom_allocation(ptr, window.len(), Arc::new(owner)) };
        self.last_window = Some((window_start, self.pos - window_start));
        Some(b.finish(&self.schema, window_buf))
    }
}

/// Apply the zlib rule to a batch; returns, per row, whether its stored payload was compressed.
///
/// Captures from the reference writer compress most stream chunks (anything over 128 bytes that
/// shrinks), so inflating thousands of small buffers dominates reading. libdeflate's one-shot
/// decompressor has far less per-call cost than a streaming zlib state, and large batches are
/// split across two threads (the machines this runs on have two cores).
fn decompress_rows(opts: &ReadOptions, rows: &mut [(u64, usize, Row<'_>)], diags: &mut Vec<Diagnostic>) -> Vec<bool> {
    let compressed: Vec<bool> = rows.iter().map(|(_, _, r)| r.enc.is_some()).collect();
    if !compressed.iter().any(|&c| c) {
        return compressed;
    }
    let work: usize = rows
        .iter()
        .filter(|(_, _, r)| r.enc.as_deref() == Some("zlib"))
        .map(|(_, _, r)| r.data.as_ref().map_or(0, |d| d.len()))
        .sum();
    let mut found: Vec<Diagnostic> = if opts.decompress && work > (512 << 10) && rows.len() > 64 {
        let mid = rows.len() / 2;
        let (left, right) = rows.split_at_mut(mid);
        std::thread::scope(|scope| {
            let handle = scope.spawn(|| inflate_rows(opts, right));
            let mut out = inflate_rows(opts, left);
            out.extend(handle.join().expect("decompression thread"));
            out
        })
    } else {
        inflate_rows(opts, rows)
    };
    diags.append(&mut found);
    compressed
}

fn inflate_rows(opts: &ReadOptions, rows: &mut [(u64, usize, Row<'_>)]) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let mut inflater = Decompressor::new();
    for (index, start, row) in rows.iter_mut() {
        let Some(enc) = row.enc.as_deref() else { continue };
        let mut note = |kind: &'static str, message: String| {
            diags.push(Diagnostic { kind, offset: *start as u64, index: Some(*index), seq: row.seq, bytes: None, message });
        };
        if enc != "zlib" {
            note("unknown_encoding", format!("unknown enc \"{enc}\"; payload kept as stored"));
            row.problems |= P_UNKNOWN_ENC;
            continue;
        }
        if !opts.decompress {
            continue;
        }
        let Some(data) = row.data.as_deref() else { continue };
        match inflate(&mut inflater, data) {
            Ok(out) => row.data = Some(Cow::Owned(out)),
            Err(e) => {
                note("decompress_error", format!("zlib payload does not decompress ({e}); compressed bytes kept"));
                row.problems |= P_DECOMPRESS;
            }
        }
    }
    diags
}

/// Largest payload we will inflate one entry to; a guard against decompression bombs.
const MAX_INFLATED: usize = 1 << 30;

fn inflate(inflater: &mut Decompressor, data: &[u8]) -> Result<Vec<u8>, String> {
    let mut cap = data.len().saturating_mul(4).max(512);
    loop {
        let mut out = vec![0u8; cap];
        match inflater.zlib_decompress(data, &mut out) {
            Ok(n) => {
                out.truncate(n);
                return Ok(out);
            }
            Err(DecompressionError::InsufficientSpace) if cap < MAX_INFLATED => cap = cap.saturating_mul(4).min(MAX_INFLATED),
            Err(DecompressionError::InsufficientSpace) => return Err("payload inflates beyond 1 GiB".into()),
            Err(DecompressionError::BadData) => return Err("invalid zlib data".into()),
        }
    }
}

/// Find the next offset at or after `from` where a complete, plausible entry decodes: a map whose
/// first key is `ts` (how every writer we know starts an entry) and that parses with a valid `dir`.
pub fn resync(buf: &[u8], from: usize) -> Option<usize> {
    let finder = memchr::memmem::Finder::new(b"\x62ts");
    let mut at = from;
    while at < buf.len() {
        let hit = finder.find(&buf[at..])? + at;
        if hit >= 1 {
            let start = hit - 1;
            let b = buf[start];
            if start >= from && ((0xa1..=0xb7).contains(&b) || b == 0xbf) {
                let mut cur = Cursor::new(buf, start);
                if let Ok(Parsed::Entry(row)) = parse_entry(&mut cur) {
                    if row.dir.is_some_and(|d| d <= 3) && row.ts.is_some() {
                        return Some(start);
                    }
                }
            }
        }
        at = hit + 1;
    }
    None
}
