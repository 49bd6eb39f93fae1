//! The LLMPROXY-CAPTURE-V2 reader: header validation, then entries decoded straight into Arrow
//! record batches (one row per entry, one typed column per metadata key).
//!
//! The file is a CBOR sequence with no framing (docs/specs/cbor-v2.md §1), so entries must be decoded in
//! order; every fault is reported with its byte offset and never discards earlier entries (§8).

use std::borrow::Cow;
use std::sync::Arc;

use std::panic::AssertUnwindSafe;
use std::ptr::NonNull;

use arrow_array::builder::{make_view, StringViewBuilder};
use arrow_array::types::{Float64Type, Int64Type, UInt64Type, UInt8Type};
use arrow_array::{ArrayRef, BooleanArray, RecordBatch, UInt64Array};
use arrow_buffer::Buffer;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use libdeflater::{DecompressionError, Decompressor};

use super::columns::{Arena, Flags, Sparse, Views};
use super::decode::{Cursor, DecodeError, Head, Value};
use super::meta::{index_of, Kind, META_KEYS};
use super::writer::MAGIC;
use crate::error::{Format, FormatError};

/// One problem found while reading, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// `truncated_tail`, `decode_error`, `schema_error`, `resync_skip`, `unknown_encoding`,
    /// `decompress_error`, `inflate_limit`, `duplicate_key`.
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

/// Parse and validate the header (docs/specs/cbor-v2.md §2). V1 files get a distinct error.
pub fn parse_header(buf: &[u8]) -> Result<Header, FormatError> {
    if buf.is_empty() {
        return Err(header_err(
            "missing_header",
            0,
            "empty file; expected a CBOR map with magic \"LLMPROXY-CAPTURE-V2\"".into(),
        ));
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
            header_err(
                "missing_header",
                0,
                format!("file ends inside the header ({} bytes); expected a complete CBOR V2 header map", buf.len()),
            )
        } else {
            header_err(
                "bad_header",
                e.offset,
                format!("not a CBOR V2 capture: {}; expected a CBOR map header", e.message),
            )
        }
    })?;
    if !matches!(raw, Value::Map(_)) {
        return Err(header_err(
            "bad_header",
            0,
            format!("not a CBOR V2 capture: first item is {}, expected a map with magic \"{MAGIC}\"", kind_name(&raw)),
        ));
    }
    let magic = raw.get("magic").and_then(Value::as_text);
    match magic {
        Some(MAGIC) => {}
        Some("LLMPROXY-CAPTURE-V1") => {
            return Err(header_err(
                "unsupported_version",
                0,
                "this is a V1 capture (magic \"LLMPROXY-CAPTURE-V1\"); fastcap reads V2 only".into(),
            ));
        }
        other => {
            return Err(header_err(
                "bad_magic",
                0,
                format!(
                    "capture magic is {}, expected \"{MAGIC}\"",
                    other.map(|m| format!("\"{m}\"")).unwrap_or_else(|| "missing".into())
                ),
            ));
        }
    }
    let version = raw.get("version").and_then(Value::as_i64);
    if version != Some(2) {
        return Err(header_err(
            "unsupported_version",
            0,
            format!(
                "capture version is {}, expected 2",
                version.map(|v| v.to_string()).unwrap_or_else(|| "missing".into())
            ),
        ));
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

const P_SCHEMA: u8 = 1;
const P_UNKNOWN_ENC: u8 = 2;
const P_DECOMPRESS: u8 = 4;
const P_DUPLICATE: u8 = 8;
const P_INFLATE_LIMIT: u8 = 16;

/// A metadata column of the kind its key declares.
enum MetaCol {
    Text(Views),
    Int(Sparse<i64>),
    Float(Sparse<f64>),
    Flag(Flags),
}

/// One batch of entries, decoded column by column (see `columns.rs` for why).
struct Batch {
    /// Address of the first byte of the batch window in memory; views are relative to it.
    base: usize,
    /// Absolute file offset of the window start.
    window_start: usize,
    /// Rows this batch has room for (its columns live in `arena`).
    cap: usize,
    rows: usize,
    file_index: Vec<u64>,
    offset: Vec<u64>,
    ts: Sparse<f64>,
    dir: Sparse<u8>,
    seq: Sparse<u64>,
    data: Views,
    data_len: Sparse<u64>,
    compressed: Vec<bool>,
    enc: Views,
    meta: Vec<MetaCol>,
    meta_extra: Views,
    entry_extra: Views,
    problems: Vec<u8>,
    /// Entries whose payload is `enc: "zlib"`: (row, absolute payload start, payload length).
    zlib: Vec<(usize, usize, usize)>,
    /// Directions whose zlib payloads are queued in `zlib` (see [`ReadOptions::decompress_dirs`]).
    decompress_dirs: u16,
}

/// Per-entry state while its keys are decoded.
#[derive(Default)]
struct EntryState {
    /// Bits 0–43: META_KEYS present; the entry-level keys use the bits above.
    seen: u64,
    problems: u8,
    dir: Option<u64>,
    /// Absolute start and length of a payload borrowed from the file (zlib needs it).
    data_at: Option<(usize, usize)>,
    enc_zlib: bool,
    enc_other: Option<String>,
    meta_extra: Option<serde_json::Map<String, serde_json::Value>>,
    entry_extra: Option<serde_json::Map<String, serde_json::Value>>,
}

const SEEN_TS: u64 = 1 << 50;
const SEEN_DIR: u64 = 1 << 51;
const SEEN_SEQ: u64 = 1 << 52;
const SEEN_DATA: u64 = 1 << 53;
const SEEN_ENC: u64 = 1 << 54;

impl EntryState {
    /// Record key `bit` as seen; a second occurrence flags a duplicate (the last value wins).
    #[inline]
    fn see(&mut self, bit: u64) {
        if self.seen & bit != 0 {
            self.problems |= P_DUPLICATE;
        }
        self.seen |= bit;
    }

    fn extra(map: &mut Option<serde_json::Map<String, serde_json::Value>>, key: String, v: serde_json::Value) {
        map.get_or_insert_with(serde_json::Map::new).insert(key, v);
    }
}

/// What parsing one item produced.
enum Parsed {
    /// An entry was appended at the batch's next row.
    Entry { enc_other: Option<String>, seq: Option<u64> },
    /// The item decoded but is not a map; nothing was appended.
    NotAMap(&'static str),
}

impl Batch {
    /// Arena bytes a batch of `cap` rows needs.
    fn footprint(cap: usize) -> usize {
        let meta: usize = META_KEYS
            .iter()
            .map(|k| match k.kind {
                Kind::Text | Kind::Json => Views::footprint(cap),
                Kind::Int => Sparse::<i64>::footprint(cap),
                Kind::Float => Sparse::<f64>::footprint(cap),
                Kind::Flag => Flags::footprint(cap),
            })
            .sum();
        meta + Sparse::<f64>::footprint(cap)
            + Sparse::<u8>::footprint(cap)
            + 2 * Sparse::<u64>::footprint(cap)
            + 4 * Views::footprint(cap)
    }

    fn new(cap: usize, buf: &[u8], window_start: usize) -> Self {
        let arena = Arena::new(Batch::footprint(cap), cap * 16);
        let a = &arena;
        Batch {
            base: buf[window_start..].as_ptr() as usize,
            window_start,
            cap,
            rows: 0,
            file_index: Vec::with_capacity(cap),
            offset: Vec::with_capacity(cap),
            ts: Sparse::new(a, cap),
            dir: Sparse::new(a, cap),
            seq: Sparse::new(a, cap),
            data: Views::new(a, cap),
            data_len: Sparse::new(a, cap),
            compressed: Vec::with_capacity(cap),
            enc: Views::new(a, cap),
            meta: META_KEYS
                .iter()
                .map(|k| match k.kind {
                    Kind::Text | Kind::Json => MetaCol::Text(Views::new(a, cap)),
                    Kind::Int => MetaCol::Int(Sparse::new(a, cap)),
                    Kind::Float => MetaCol::Float(Sparse::new(a, cap)),
                    Kind::Flag => MetaCol::Flag(Flags::new(a, cap)),
                })
                .collect(),
            meta_extra: Views::new(a, cap),
            entry_extra: Views::new(a, cap),
            problems: Vec::with_capacity(cap),
            zlib: Vec::new(),
            decompress_dirs: u16::MAX,
        }
    }

    /// Undo whatever a failed entry wrote at row `self.rows`.
    fn rollback(&mut self) {
        let r = self.rows;
        self.ts.clear(r);
        self.dir.clear(r);
        self.seq.clear(r);
        self.data.clear(r);
        self.data_len.clear(r);
        self.enc.clear(r);
        for m in &mut self.meta {
            match m {
                MetaCol::Text(c) => c.clear(r),
                MetaCol::Int(c) => c.clear(r),
                MetaCol::Float(c) => c.clear(r),
                MetaCol::Flag(c) => c.clear(r),
            }
        }
    }

    /// Decode the item at the cursor. On `Err` the caller must call [`Batch::rollback`].
    fn parse_entry(&mut self, cur: &mut Cursor<'_>, file_index: u64) -> Result<Parsed, DecodeError> {
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
        let row = self.rows;
        let mut st = EntryState::default();
        let mut n = 0u64;
        while let Some((key, kat)) = next_key(cur, h, &mut n, &mut st.entry_extra)? {
            let vat = cur.pos;
            let vh: Head = cur.head()?;
            match key.as_ref() {
                b"ts" => {
                    st.see(SEEN_TS);
                    match cur.number_after(vh, vat)? {
                        Some(t) => self.ts.put(row, t),
                        None => {
                            // The last value wins even when it is not a number.
                            self.ts.clear(row);
                            st.problems |= P_SCHEMA;
                        }
                    }
                }
                b"dir" | b"seq" => {
                    let v = if vh.major == 0 {
                        Some(vh.arg)
                    } else {
                        cur.pos = vat;
                        cur.value()?.as_i64().and_then(|i| u64::try_from(i).ok())
                    };
                    if key.as_ref() == b"dir" {
                        st.see(SEEN_DIR);
                        st.dir = v;
                        if let Some(d) = v {
                            self.dir.put(row, d.min(255) as u8);
                        }
                    } else {
                        st.see(SEEN_SEQ);
                        if let Some(s) = v {
                            self.seq.put(row, s);
                        }
                    }
                    if v.is_none() {
                        st.problems |= P_SCHEMA;
                    }
                }
                b"data" => {
                    st.see(SEEN_DATA);
                    let payload: Option<Cow<'_, [u8]>> = match vh.major {
                        2 => Some(cur.bytes_after(vh, vat)?),
                        // The reference writer coerces text to bytes; accept text as its UTF-8.
                        3 => Some(match cur.text_after(vh, vat)? {
                            Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
                            Cow::Owned(s) => Cow::Owned(s.into_bytes()),
                        }),
                        _ => {
                            cur.skip_after(vh, vat, 1)?;
                            st.problems |= P_SCHEMA;
                            None
                        }
                    };
                    st.data_at = None;
                    if let Some(p) = payload {
                        self.data_len.put(row, p.len() as u64);
                        if let Cow::Borrowed(b) = p {
                            st.data_at = Some((self.window_start + (b.as_ptr() as usize - self.base), b.len()));
                        }
                        self.data.put(row, p, self.base);
                    }
                }
                b"enc" => {
                    st.see(SEEN_ENC);
                    if vh.major == 3 {
                        let e = cur.text_after(vh, vat)?;
                        st.enc_zlib = e == "zlib";
                        st.enc_other = if st.enc_zlib { None } else { Some(e.to_string()) };
                        self.enc.put_str(row, e, self.base);
                    } else {
                        let v = cur.value_after(vh, vat, 1)?;
                        EntryState::extra(&mut st.entry_extra, "enc".into(), v.to_json());
                        st.problems |= P_UNKNOWN_ENC;
                    }
                }
                b"meta" => {
                    cur.pos = vat;
                    self.parse_meta(cur, &mut st)?;
                }
                _ => {
                    let v = cur.value_after(vh, vat, 1)?;
                    EntryState::extra(&mut st.entry_extra, utf8_key(cur, &key, kat)?, v.to_json());
                }
            }
        }
        // The entry is complete: write the per-row columns.
        let required = SEEN_TS | SEEN_DIR | SEEN_SEQ | SEEN_DATA;
        if st.seen & required != required
            || self.ts.get(row).is_none()
            || self.seq.get(row).is_none()
            || self.data_len.get(row).is_none()
            || st.dir.is_none_or(|d| d > 3)
        {
            st.problems |= P_SCHEMA;
        }
        let has_enc = self.enc.views.get(row).is_some();
        let dir_bit = 1u16 << st.dir.filter(|&d| d < 15).unwrap_or(15);
        if st.enc_zlib && self.decompress_dirs & dir_bit != 0 {
            if let (Some((start, len)), true) = (st.data_at, self.data_len.get(row).is_some()) {
                self.zlib.push((row, start, len));
            }
        }
        if st.enc_other.is_some() {
            st.problems |= P_UNKNOWN_ENC;
        }
        if let Some(m) = st.meta_extra {
            self.meta_extra.put_owned(row, serde_json::Value::Object(m).to_string().as_bytes());
        }
        if let Some(m) = st.entry_extra {
            self.entry_extra.put_owned(row, serde_json::Value::Object(m).to_string().as_bytes());
        }
        self.file_index.push(file_index);
        self.offset.push(at as u64);
        self.compressed.push(has_enc);
        self.problems.push(st.problems);
        self.rows += 1;
        Ok(Parsed::Entry { enc_other: st.enc_other, seq: self.seq.get(row) })
    }

    fn parse_meta(&mut self, cur: &mut Cursor<'_>, st: &mut EntryState) -> Result<(), DecodeError> {
        let row = self.rows;
        let at = cur.pos;
        let h = cur.head()?;
        if h.major != 5 {
            let v = cur.value_after(h, at, 1)?;
            EntryState::extra(&mut st.entry_extra, "meta".into(), v.to_json());
            st.problems |= P_SCHEMA;
            return Ok(());
        }
        let mut n = 0u64;
        while let Some((key, kat)) = next_key(cur, h, &mut n, &mut st.meta_extra)? {
            let Some(i) = index_of(&key) else {
                let v = cur.value()?;
                EntryState::extra(&mut st.meta_extra, utf8_key(cur, &key, kat)?, v.to_json());
                continue;
            };
            if st.seen & (1 << i) != 0 {
                // Duplicate key: the last value wins (docs/specs/cbor-v2.md §1.2); a later value of the
                // wrong type must not leave the earlier one standing.
                st.problems |= P_DUPLICATE;
                self.clear_meta(i, row);
            }
            let vat = cur.pos;
            let vh = cur.head()?;
            let base = self.base;
            let stored = match (&mut self.meta[i], META_KEYS[i].kind) {
                (MetaCol::Text(c), Kind::Text) if vh.major == 3 => {
                    c.put_str(row, cur.text_after(vh, vat)?, base);
                    true
                }
                (MetaCol::Text(c), Kind::Json) => {
                    c.put_owned(row, cur.value_after(vh, vat, 1)?.to_json().to_string().as_bytes());
                    true
                }
                (MetaCol::Int(c), _) if vh.major == 0 && vh.arg <= i64::MAX as u64 => {
                    c.put(row, vh.arg as i64);
                    true
                }
                (MetaCol::Int(c), _) if vh.major == 1 && vh.arg <= i64::MAX as u64 => {
                    c.put(row, -1 - vh.arg as i64);
                    true
                }
                (MetaCol::Float(c), _)
                    if matches!(vh.major, 0 | 1) || (vh.major == 7 && matches!(vh.info, 25..=27)) =>
                {
                    match cur.number_after(vh, vat)? {
                        Some(f) => {
                            c.put(row, f);
                            true
                        }
                        None => false,
                    }
                }
                (MetaCol::Flag(c), _) if vh.major == 7 && matches!(vh.info, 20 | 21) => {
                    c.put(row, vh.info == 21);
                    true
                }
                _ => false,
            };
            if stored {
                st.seen |= 1 << i;
                continue;
            }
            // Wrong type: an integral float where an int is expected is still a value; null is
            // absence; anything else is kept verbatim in meta_extra and flagged.
            cur.pos = vat;
            let v = cur.value()?;
            match (&mut self.meta[i], &v) {
                (MetaCol::Int(c), Value::Float(_)) if v.as_i64().is_some() => {
                    c.put(row, v.as_i64().unwrap_or_default());
                    st.seen |= 1 << i;
                }
                (_, Value::Null) => {}
                _ => {
                    st.problems |= P_SCHEMA;
                    EntryState::extra(&mut st.meta_extra, META_KEYS[i].compact.to_owned(), v.to_json());
                }
            }
        }
        Ok(())
    }

    /// Drop the value already written for meta key `i` at `row` (a duplicate key follows).
    fn clear_meta(&mut self, i: usize, row: usize) {
        match &mut self.meta[i] {
            MetaCol::Text(c) => c.clear(row),
            MetaCol::Int(c) => c.clear(row),
            MetaCol::Float(c) => c.clear(row),
            MetaCol::Flag(c) => c.clear(row),
        }
    }

    fn finish(mut self, schema: &SchemaRef, window: Buffer) -> RecordBatch {
        let rows = self.rows;
        let problems = problems_column(&self.problems);
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(UInt64Array::from(std::mem::take(&mut self.file_index))),
            Arc::new(UInt64Array::from(std::mem::take(&mut self.offset))),
            self.ts.primitive::<Float64Type>(rows),
            self.dir.primitive::<UInt8Type>(rows),
            self.seq.primitive::<UInt64Type>(rows),
            self.data.binary(rows, &window),
            self.data_len.primitive::<UInt64Type>(rows),
            Arc::new(BooleanArray::from(std::mem::take(&mut self.compressed))),
            self.enc.utf8(rows, &window),
        ];
        for m in self.meta.iter_mut() {
            cols.push(match m {
                MetaCol::Text(c) => c.utf8(rows, &window),
                MetaCol::Int(c) => c.primitive::<Int64Type>(rows),
                MetaCol::Float(c) => c.primitive::<Float64Type>(rows),
                MetaCol::Flag(c) => c.boolean(rows),
            });
        }
        cols.push(self.meta_extra.utf8(rows, &window));
        cols.push(self.entry_extra.utf8(rows, &window));
        cols.push(problems);
        RecordBatch::try_new(Arc::clone(schema), cols).expect("entries batch matches its schema")
    }
}

/// A map key's bytes and the offset where it starts.
type KeyAt<'a> = (Cow<'a, [u8]>, usize);

/// The next text key of the map whose head is `h` (`n`: keys read so far) and where it starts, or
/// `None` after the last one. Keys that are not text are kept, with their values, in `extra`.
#[inline(always)]
fn next_key<'a>(
    cur: &mut Cursor<'a>,
    h: Head,
    n: &mut u64,
    extra: &mut Option<serde_json::Map<String, serde_json::Value>>,
) -> Result<Option<KeyAt<'a>>, DecodeError> {
    loop {
        if h.indefinite() {
            match cur.peek() {
                Some(0xff) => {
                    cur.pos += 1;
                    return Ok(None);
                }
                None => {
                    return Err(DecodeError { offset: cur.pos, message: "input ends inside a map".into(), eof: true })
                }
                _ => {}
            }
        } else if *n == h.arg {
            return Ok(None);
        }
        *n += 1;
        let kat = cur.pos;
        let kh = cur.head()?;
        if kh.major == 3 {
            return Ok(Some((key_after(cur, kh, kat)?, kat)));
        }
        let k = cur.value_after(kh, kat, 1)?;
        let v = cur.value()?;
        EntryState::extra(extra, k.key_text(), v.to_json());
    }
}

/// A map key as raw bytes: borrowed when definite, so known keys are matched without a UTF-8
/// check (they are ASCII); unknown keys are validated by [`utf8_key`] before being kept.
#[inline(always)]
fn key_after<'a>(cur: &mut Cursor<'a>, kh: Head, kat: usize) -> Result<Cow<'a, [u8]>, DecodeError> {
    if kh.indefinite() {
        return Ok(Cow::Owned(cur.text_after(kh, kat)?.into_owned().into_bytes()));
    }
    cur.bytes_after(kh, kat)
}

fn utf8_key(cur: &Cursor<'_>, key: &[u8], kat: usize) -> Result<String, DecodeError> {
    std::str::from_utf8(key).map(str::to_owned).map_err(|_| cur.err(kat, "invalid UTF-8 in a text string"))
}

fn problems_column(problems: &[u8]) -> ArrayRef {
    let mut b = StringViewBuilder::new();
    for &p in problems {
        if p == 0 {
            b.append_null();
            continue;
        }
        let mut names = Vec::new();
        for (bit, name) in [
            (P_SCHEMA, "schema_error"),
            (P_UNKNOWN_ENC, "unknown_encoding"),
            (P_DECOMPRESS, "decompress_error"),
            (P_DUPLICATE, "duplicate_key"),
            (P_INFLATE_LIMIT, "inflate_limit"),
        ] {
            if p & bit != 0 {
                names.push(name);
            }
        }
        b.append_value(names.join(","));
    }
    Arc::new(b.finish())
}

/// Options for [`EntryReader`].
#[derive(Debug, Clone, Copy)]
pub struct ReadOptions {
    /// Resynchronise on the next plausible entry after a decode error instead of stopping.
    pub recover: bool,
    /// Rows per record batch (at most 65,536). A batch's columns share one arena of about
    /// 600 bytes per row, so this bounds the memory one batch holds.
    pub batch_rows: usize,
    /// Decompress `enc: "zlib"` payloads.
    pub decompress: bool,
    /// With `decompress`, only the payloads of these directions (bit `d` for `dir == d`; entries
    /// without a valid `dir` follow bit 15). Analysis that reads only the backend's responses
    /// skips inflating the client leg, which in gateway captures repeats the same bytes.
    pub decompress_dirs: u16,
    /// Largest size one payload may inflate to; a payload that would inflate further is kept
    /// compressed and reported (`inflate_limit`). See `docs/limits.md`.
    pub max_entry_inflated: usize,
    /// The payloads of a file may inflate to this many times the file's size, plus
    /// `max_entry_inflated`, in total; payloads past that are kept compressed and reported.
    pub max_inflate_ratio: u32,
}

/// Default [`ReadOptions::max_entry_inflated`]: 256 MiB, ten times the largest body an
/// EventStream frame may carry (24 MiB) and far beyond any captured HTTP body we have seen, while
/// a 1 MB entry inflating to 1 GiB (a decompression bomb) is refused.
pub const DEFAULT_MAX_ENTRY_INFLATED: usize = 256 << 20;

/// Default [`ReadOptions::max_inflate_ratio`]. Whole captures inflate to about 1.5 times their
/// size (the writer compresses each payload on its own, at 3 to 7 times); 32 leaves room for very
/// repetitive traffic and bounds a hostile file to 32 times its size plus one maximal entry.
pub const DEFAULT_MAX_INFLATE_RATIO: u32 = 32;

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            recover: false,
            batch_rows: 16_384,
            decompress: true,
            decompress_dirs: u16::MAX,
            max_entry_inflated: DEFAULT_MAX_ENTRY_INFLATED,
            max_inflate_ratio: DEFAULT_MAX_INFLATE_RATIO,
        }
    }
}

impl ReadOptions {
    /// Bytes the payloads of a file of `file_len` bytes may inflate to in total. The per-entry
    /// limit is added (not a floor) so that, however much of the budget a file has used, as long
    /// as it is within the ratio one more maximal entry still fits; this keeps the two-thread
    /// rounds of [`EntryReader::next_round`] exact (see there) for every file within the ratio.
    pub fn inflate_budget(&self, file_len: usize) -> u64 {
        (self.max_inflate_ratio as u64).saturating_mul(file_len as u64).saturating_add(self.max_entry_inflated as u64)
    }
}

/// Bytes shared between the reader and the Arrow buffers that point into them.
type Shared = Arc<super::Source>;

/// Streams the entries of a capture held in memory (typically a memory map) as record batches.
/// Payloads and strings stored definite-length are not copied: the batches reference the file.
pub struct EntryReader {
    buf: Shared,
    pub header: Header,
    pub diagnostics: Vec<Diagnostic>,
    opts: ReadOptions,
    schema: SchemaRef,
    scan: Scan,
    /// Two-thread rounds whose speculative half was kept / discarded (see [`EntryReader::next_round`]).
    pub speculation: (u64, u64),
    /// Start of the bytes handed out by the last call; released from memory at the next one.
    handed_out: usize,
}

/// Where a sequential decode stands: one per reader, plus one per speculative worker.
struct Scan {
    pos: usize,
    /// Index of the next item in file order (relative to the scan's start for a worker).
    file_index: u64,
    diagnostics: Vec<Diagnostic>,
    done: bool,
    /// Bytes the payloads still to be read may inflate to (see [`ReadOptions::inflate_budget`]).
    budget: u64,
}

/// Largest span of the file one batch may reference (view offsets are 32-bit).
const MAX_WINDOW: usize = 1 << 31;

/// Smallest stretch of file worth decoding on two threads.
const MIN_PARALLEL: usize = 2 << 20;

impl EntryReader {
    pub fn new(buf: impl Into<super::Source>, opts: ReadOptions) -> Result<Self, FormatError> {
        let buf: super::Source = buf.into();
        let header = parse_header(buf.as_ref())?;
        let start = header.end;
        let budget = opts.inflate_budget(buf.as_ref().len());
        Ok(EntryReader {
            scan: Scan::new(start, budget),
            buf: Arc::new(buf),
            header,
            diagnostics: Vec::new(),
            opts,
            schema: schema(),
            speculation: (0, 0),
            handed_out: start,
        })
    }

    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// Bytes consumed so far (for progress reporting).
    pub fn position(&self) -> usize {
        self.scan.pos
    }

    pub fn total_len(&self) -> usize {
        (*self.buf).as_ref().len()
    }

    /// True once every entry has been returned (or a fault ended the read).
    pub fn is_done(&self) -> bool {
        self.scan.done
    }

    /// The first diagnostic that ended or damaged the read, if any.
    pub fn fatal(&self) -> Option<&Diagnostic> {
        self.diagnostics.iter().find(|d| d.is_fatal())
    }

    /// The caller is done with what the previous call returned (it asks for more): drop those
    /// file pages from memory (large files only). Releasing them any earlier, while decoding,
    /// only made the caller's reads of the payloads fault them back in; never releasing them
    /// would leave a multi-GB capture resident page by page.
    fn release_handed_out(&mut self) {
        let pos = self.scan.pos;
        if pos > self.handed_out {
            self.buf.release(self.handed_out, pos - self.handed_out);
        }
        self.handed_out = pos;
    }

    /// Decode up to `batch_rows` entries. Returns `None` at the end.
    pub fn next_batch(&mut self) -> Option<RecordBatch> {
        self.release_handed_out();
        let shared = Arc::clone(&self.buf);
        let batch = self.scan.batch(&shared, &self.opts, &self.schema, usize::MAX);
        self.diagnostics.append(&mut self.scan.diagnostics);
        batch
    }

    /// Decode the entries of roughly the next `span` bytes (possibly none, at the end), on two
    /// threads when the stretch is large enough.
    ///
    /// CBOR sequences have no framing, so the second thread *speculates*: it starts at the first
    /// plausible entry after the middle (see [`resync`]) while this thread decodes up to that
    /// point. The speculation is kept only if this thread's last entry ends exactly where the
    /// second one started, which proves the start was a real entry boundary; otherwise (a payload
    /// that happens to contain an entry, a fault before the middle) its work is discarded and
    /// decoding continues sequentially. The result is always what a sequential read gives.
    pub fn next_round(&mut self, span: usize) -> Vec<RecordBatch> {
        self.release_handed_out();
        let shared = Arc::clone(&self.buf);
        let buf: &[u8] = (*shared).as_ref();
        let (opts, schema) = (&self.opts, &self.schema);
        let start = self.scan.pos;
        let end = start.saturating_add(span).min(buf.len());
        let mut out = Vec::new();
        let split = if end - start >= MIN_PARALLEL && !self.scan.done {
            resync_within(buf, start + (end - start) / 2, end)
        } else {
            None
        };
        match split {
            None => {
                while !self.scan.done && self.scan.pos < end {
                    out.extend(self.scan.batch(&shared, opts, schema, end));
                }
            }
            Some(split) => {
                // The second thread may inflate up to the budget left at the start of the round;
                // whether that matches a sequential read is checked below.
                let budget = self.scan.budget;
                let mut ahead = Scan::new(split, budget);
                let behind = &mut self.scan;
                let ahead_batches = std::thread::scope(|scope| {
                    let worker = scope.spawn(|| {
                        let mut batches = Vec::new();
                        while !ahead.done && ahead.pos < end {
                            batches.extend(ahead.batch(&shared, opts, schema, end));
                        }
                        batches
                    });
                    while !behind.done && behind.pos < split {
                        out.extend(behind.batch(&shared, opts, schema, split));
                    }
                    worker.join().expect("decode thread")
                });
                // Inflation is charged to the budget in file order. The ahead half decided with the
                // whole budget left at the start of the round, a sequential read would have had
                // less left at the split. If a maximal entry still fits after both halves, every
                // payload of the ahead half was tried against the per-entry limit alone in both
                // cases, so its decisions are the sequential ones; otherwise the round is redone
                // sequentially (only files past their inflate ratio get there).
                let used = (budget - self.scan.budget).saturating_add(budget - ahead.budget);
                let exact = used.saturating_add(opts.max_entry_inflated as u64) <= budget;
                if self.scan.done || self.scan.pos != split || !exact {
                    self.speculation.1 += 1;
                } else {
                    self.speculation.0 += 1;
                    let shift = self.scan.file_index;
                    out.extend(ahead_batches.into_iter().map(|b| shift_file_index(b, shift)));
                    self.scan.diagnostics.extend(ahead.diagnostics.into_iter().map(|mut d| {
                        d.index = d.index.map(|i| i + shift);
                        d
                    }));
                    self.scan.pos = ahead.pos;
                    self.scan.file_index += ahead.file_index;
                    self.scan.done = ahead.done;
                    self.scan.budget = budget - used;
                }
            }
        }
        if self.scan.pos >= buf.len() {
            self.scan.done = true;
        }
        self.diagnostics.append(&mut self.scan.diagnostics);
        out
    }
}

/// `batch` with its file_index column offset by `shift` (a speculative worker counts from 0).
fn shift_file_index(batch: RecordBatch, shift: u64) -> RecordBatch {
    if shift == 0 {
        return batch;
    }
    let mut cols = batch.columns().to_vec();
    let old = cols[0].as_any().downcast_ref::<UInt64Array>().expect("file_index is UInt64");
    cols[0] = Arc::new(UInt64Array::from_iter_values(old.values().iter().map(|i| i + shift)));
    RecordBatch::try_new(batch.schema(), cols).expect("same schema")
}

impl Scan {
    fn new(pos: usize, budget: u64) -> Self {
        Scan { pos, file_index: 0, diagnostics: Vec::new(), done: false, budget }
    }

    /// Decode up to `batch_rows` entries, stopping at the first entry that starts at or after
    /// `limit`. Returns `None` when there was nothing to decode.
    fn batch(&mut self, shared: &Shared, opts: &ReadOptions, schema: &SchemaRef, limit: usize) -> Option<RecordBatch> {
        if self.done {
            return None;
        }
        let buf: &[u8] = (**shared).as_ref();
        let window_start = self.pos;
        let first_diagnostic = self.diagnostics.len();
        // Size the columns for the rows the rest of the file can plausibly hold, so the last, short
        // batch of a file does not map a full batch of columns (a batch also ends when full).
        let cap = opts.batch_rows.clamp(1, 1 << 16).min(buf.len().saturating_sub(window_start) / 16 + 1);
        let mut batch = Batch::new(cap, buf, window_start.min(buf.len()));
        batch.decompress_dirs = opts.decompress_dirs;
        while batch.rows < batch.cap && self.pos < limit && self.pos - window_start < MAX_WINDOW {
            if self.pos >= buf.len() {
                self.done = true;
                break;
            }
            let start = self.pos;
            let mut cur = Cursor::new(buf, start);
            match batch.parse_entry(&mut cur, self.file_index) {
                Ok(Parsed::Entry { enc_other, seq }) => {
                    if let Some(enc) = enc_other {
                        self.diagnostics.push(Diagnostic {
                            kind: "unknown_encoding",
                            offset: start as u64,
                            index: Some(self.file_index),
                            seq,
                            bytes: None,
                            message: format!("unknown enc \"{enc}\"; payload kept as stored"),
                        });
                    }
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
                Err(e) => {
                    batch.rollback();
                    // Running out of input inside an entry is a truncated tail only if nothing
                    // valid follows: an entry whose length claims more than the rest of the file
                    // is damage, and the entries after it are still there.
                    let next = if e.eof || opts.recover { resync(buf, start + 1) } else { None };
                    if e.eof && next.is_none() {
                        self.diagnostics.push(Diagnostic {
                            kind: "truncated_tail",
                            offset: start as u64,
                            index: Some(self.file_index),
                            seq: None,
                            bytes: Some((buf.len() - start) as u64),
                            message: format!(
                                "file ends inside entry {} ({} bytes left); the partial entry was dropped",
                                self.file_index,
                                buf.len() - start
                            ),
                        });
                        self.done = true;
                        break;
                    }
                    let message = match next {
                        Some(next) if e.eof => format!(
                            "entry {} is damaged at byte {}: {}; a valid entry follows at byte {next}, so the length \
                             is impossible (not a truncated tail)",
                            self.file_index, e.offset, e.message
                        ),
                        _ => format!("entry {} is not valid CBOR: {} at byte {}", self.file_index, e.message, e.offset),
                    };
                    self.diagnostics.push(Diagnostic {
                        kind: "decode_error",
                        offset: start as u64,
                        index: Some(self.file_index),
                        seq: None,
                        bytes: None,
                        message,
                    });
                    if !opts.recover {
                        self.done = true;
                        break;
                    }
                    match next {
                        Some(next) => {
                            self.diagnostics.push(Diagnostic {
                                kind: "resync_skip",
                                offset: start as u64,
                                index: Some(self.file_index),
                                seq: None,
                                bytes: Some((next - start) as u64),
                                message: format!(
                                    "skipped {} bytes to the next plausible entry at byte {next}",
                                    next - start
                                ),
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
                                message: format!(
                                    "no further entry found; skipped the last {} bytes",
                                    buf.len() - start
                                ),
                            });
                            self.done = true;
                            break;
                        }
                    }
                }
            }
        }
        if self.pos >= buf.len() {
            self.done = true;
        }
        if batch.rows == 0 {
            return None;
        }
        if opts.decompress && !batch.zlib.is_empty() {
            let limits = InflateLimits {
                entry: opts.max_entry_inflated,
                file: opts.inflate_budget(buf.len()),
                ratio: opts.max_inflate_ratio,
            };
            inflate_batch(&mut batch, buf, &mut self.diagnostics, &limits, &mut self.budget);
            // Inflation runs once the batch is scanned, so its diagnostics come after the scan's
            // (a truncated tail, a resync) even when their entries come first: put them in file
            // order, or the list would depend on where batches end (finding F-CBOR-ORDER in
            // docs/fuzzing.md). Stable, so the diagnostics of one offset keep their order.
            self.diagnostics[first_diagnostic..].sort_by_key(|d| d.offset);
        }
        // A resync may have moved past bytes it skipped; the window still spans them.
        let window = &buf[window_start.min(buf.len())..self.pos.max(window_start).min(buf.len())];
        let owner = AssertUnwindSafe(Arc::clone(shared));
        let ptr = NonNull::new(window.as_ptr() as *mut u8).unwrap_or(NonNull::dangling());
        // SAFETY: `window` lies inside the bytes `owner` keeps alive (and never mutates) for as
        // long as the buffer exists.
        let window_buf = unsafe { Buffer::from_custom_allocation(ptr, window.len(), Arc::new(owner)) };
        Some(batch.finish(schema, window_buf))
    }
}

/// The inflation limits of one read (see [`ReadOptions::max_entry_inflated`] and
/// [`ReadOptions::inflate_budget`]).
struct InflateLimits {
    entry: usize,
    /// The budget of the whole file, for messages.
    file: u64,
    ratio: u32,
}

/// One queued payload: (row, absolute payload start, payload length).
type Job = (usize, usize, usize);

/// What became of one payload in a worker.
enum Outcome {
    /// Inflated to `len` bytes at `at` in the worker's output.
    Done { at: usize, len: usize },
    /// Not zlib data (the message says why).
    Bad(&'static str),
    /// Inflates beyond the limit the worker tried it with.
    TooLarge,
    /// Not tried: the worker's share of the budget ran out before it (see [`inflate_batch`]).
    Deferred,
}

/// Inflate the batch's `enc: "zlib"` payloads and point their views at the results.
///
/// Captures from the reference writer compress most stream chunks (anything over 128 bytes that
/// shrinks), so inflating thousands of small buffers dominates loading. libdeflate's one-shot
/// decompressor has far less per-call cost than a streaming zlib state; each worker inflates
/// straight into one growing buffer that becomes an extra Arrow buffer of the payload column,
/// and large batches are split across two threads (the machines this runs on have two cores).
///
/// Decompression bombs: a payload inflates to at most `limits.entry` bytes, and the payloads of
/// the file to at most `budget` more bytes, charged in file order so that the result does not
/// depend on batching or threads. A payload over either limit is kept compressed and reported with
/// its offset. With two threads, the first half is charged exactly as it goes; the second half
/// inflates at most half the budget and defers the rest, and its results are then charged in file
/// order after the first half's (deferred payloads inflated then), so the threads never hold more
/// than 1.5 times the budget, and what is kept is what a sequential read keeps.
fn inflate_batch(batch: &mut Batch, buf: &[u8], diags: &mut Vec<Diagnostic>, limits: &InflateLimits, budget: &mut u64) {
    let jobs = std::mem::take(&mut batch.zlib);
    let work: usize = jobs.iter().map(|j| j.2).sum();
    let first_buffer = 2 + batch.data.extra.len() as u32;
    // A budget past the address space is as good as none.
    let room = usize::try_from(*budget).unwrap_or(usize::MAX);
    let parts: Vec<(&[Job], Inflated)> = if work > (512 << 10) && jobs.len() > 64 {
        let (left, right) = jobs.split_at(jobs.len() / 2);
        std::thread::scope(|scope| {
            let handle = scope.spawn(|| inflate_jobs(right, buf, limits.entry, room / 2, false));
            let a = inflate_jobs(left, buf, limits.entry, room, true);
            vec![(left, a), (right, handle.join().expect("decompression thread"))]
        })
    } else {
        vec![(&jobs[..], inflate_jobs(&jobs, buf, limits.entry, room, true))]
    };
    // Deferred payloads are inflated here, in file order, into one more buffer.
    let late_buffer = first_buffer + parts.len() as u32;
    let mut late = Inflated { out: Vec::new(), rows: Vec::new() };
    let mut late_used = 0;
    let mut inflater = Decompressor::new();
    let mut charged = 0usize;
    for (i, (jobs, part)) in parts.into_iter().enumerate() {
        let Inflated { out, rows } = part;
        let buffer = first_buffer + i as u32;
        for (&(row, start, len), outcome) in jobs.iter().zip(rows) {
            let left = room - charged;
            let retry = match outcome {
                Outcome::Deferred => true,
                // The second thread may have tried it with more room than is left now, and bad
                // data past that room is, sequentially, a payload too large: try it again.
                Outcome::Bad(_) => i > 0 && left < limits.entry,
                _ => false,
            };
            let outcome = match outcome {
                _ if retry => {
                    let data = &buf[start..start + len];
                    match inflate_into(&mut inflater, data, &mut late.out, &mut late_used, limits.entry.min(left)) {
                        Ok((at, n)) => {
                            batch.data.views.put(row, make_view(&late.out[at..at + n], late_buffer, view_offset(at)));
                            Outcome::Done { at, len: n }
                        }
                        Err(o) => o,
                    }
                }
                Outcome::Done { at, len: n } if n <= left => {
                    batch.data.views.put(row, make_view(&out[at..at + n], buffer, view_offset(at)));
                    Outcome::Done { at, len: n }
                }
                // Inflated by the second thread, but the first half used the budget up.
                Outcome::Done { .. } => Outcome::TooLarge,
                o => o,
            };
            match outcome {
                Outcome::Done { len: n, .. } => {
                    charged += n;
                    batch.data_len.put(row, n as u64);
                }
                Outcome::Bad(why) => {
                    batch.problems[row] |= P_DECOMPRESS;
                    diags.push(Diagnostic {
                        kind: "decompress_error",
                        offset: batch.offset[row],
                        index: Some(batch.file_index[row]),
                        seq: batch.seq.get(row),
                        bytes: None,
                        message: format!("zlib payload does not decompress ({why}); compressed bytes kept"),
                    });
                }
                Outcome::TooLarge | Outcome::Deferred => {
                    batch.problems[row] |= P_INFLATE_LIMIT;
                    // Which limit refused it is decided from the budget left here, so that the
                    // message is the same however the batch was split.
                    let message = if limits.entry <= left {
                        format!(
                            "zlib payload of {len} bytes inflates beyond the per-entry limit of {}; compressed bytes \
                             kept (docs/limits.md: max_entry_inflated)",
                            size(limits.entry as u64)
                        )
                    } else {
                        format!(
                            "zlib payload of {len} bytes would take the file's inflated payloads past {} ({}x the \
                             file size plus the per-entry limit); compressed bytes kept (docs/limits.md: \
                             max_inflate_ratio)",
                            size(limits.file),
                            limits.ratio
                        )
                    };
                    diags.push(Diagnostic {
                        kind: "inflate_limit",
                        offset: batch.offset[row],
                        index: Some(batch.file_index[row]),
                        seq: batch.seq.get(row),
                        bytes: None,
                        message,
                    });
                }
            }
        }
        batch.data.extra.push(Buffer::from_vec(trimmed(out)));
    }
    if late_used > 0 {
        late.out.truncate(late_used);
        batch.data.extra.push(Buffer::from_vec(trimmed(late.out)));
    }
    *budget -= charged as u64;
}

/// A byte count as people read limits: whole MiB as such, anything else in bytes.
fn size(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else {
        format!("{n} bytes")
    }
}

fn view_offset(at: usize) -> u32 {
    u32::try_from(at).expect("inflated payloads under 4 GiB per batch")
}

/// `out` without the spare capacity a growing buffer or a refused payload left behind, when that
/// is worth a reallocation.
fn trimmed(mut out: Vec<u8>) -> Vec<u8> {
    if out.capacity() - out.len() > (out.len() / 4).max(1 << 20) {
        out.shrink_to_fit();
    }
    out
}

/// One worker's output: the inflated bytes, and per job its outcome.
struct Inflated {
    out: Vec<u8>,
    rows: Vec<Outcome>,
}

/// Inflate `jobs` in order, each to at most `entry` bytes, all together to at most `share` bytes.
/// `exact`: the jobs are the first of the batch, so `share` is the budget left and a payload that
/// does not fit is refused; otherwise the worker stops at the first payload that does not fit in
/// its share and defers it and the rest.
fn inflate_jobs(jobs: &[Job], buf: &[u8], entry: usize, share: usize, exact: bool) -> Inflated {
    let mut inflater = Decompressor::new();
    let mut out = Vec::new();
    let mut used = 0;
    let mut stopped = false;
    let rows = jobs
        .iter()
        .map(|&(_, start, len)| {
            if stopped {
                return Outcome::Deferred;
            }
            let limit = entry.min(share - used);
            match inflate_into(&mut inflater, &buf[start..start + len], &mut out, &mut used, limit) {
                Ok((at, n)) => Outcome::Done { at, len: n },
                // Over its own limit, or (exact) over the budget left: refused either way.
                Err(Outcome::TooLarge) if exact || limit == entry => Outcome::TooLarge,
                Err(Outcome::TooLarge) => {
                    stopped = true;
                    Outcome::Deferred
                }
                Err(o) => o,
            }
        })
        .collect();
    out.truncate(used);
    Inflated { out, rows }
}

/// Inflate `data` into `out` at `*used`, to at most `limit` bytes; returns the offset and length
/// of the result, or why it failed ([`Outcome::Bad`] or [`Outcome::TooLarge`]).
///
/// `out` only ever grows, and the bytes past `*used` are scratch the decompressor overwrites:
/// zero-filling a fresh output window for every small payload cost more than a tenth of loading.
/// It grows into fresh zeroed allocations (calloc'd pages cost no memory until written), so a
/// refused payload holds only what the decompressor wrote before it ran out of room.
fn inflate_into(
    inflater: &mut Decompressor,
    data: &[u8],
    out: &mut Vec<u8>,
    used: &mut usize,
    limit: usize,
) -> Result<(usize, usize), Outcome> {
    let start = *used;
    let mut cap = data.len().saturating_mul(4).max(512).min(limit);
    loop {
        if out.len() < start + cap {
            let mut grown = vec![0u8; (start + cap).max(out.len().saturating_mul(2))];
            grown[..start].copy_from_slice(&out[..start]);
            *out = grown;
        }
        match inflater.zlib_decompress(data, &mut out[start..start + cap]) {
            Ok(n) => {
                *used = start + n;
                return Ok((start, n));
            }
            Err(DecompressionError::InsufficientSpace) if cap < limit => cap = cap.saturating_mul(4).min(limit),
            Err(DecompressionError::InsufficientSpace) => return Err(Outcome::TooLarge),
            Err(DecompressionError::BadData) => return Err(Outcome::Bad("invalid zlib data")),
        }
    }
}

/// Find the next offset at or after `from` where a complete, plausible entry decodes: a map whose
/// first key is `ts` (how every writer we know starts an entry), with a numeric `ts` and a valid
/// `dir`.
pub fn resync(buf: &[u8], from: usize) -> Option<usize> {
    resync_within(buf, from, buf.len())
}

/// [`resync`] for an entry starting before `until`.
fn resync_within(buf: &[u8], from: usize, until: usize) -> Option<usize> {
    let finder = memchr::memmem::Finder::new(b"\x62ts");
    let until = until.min(buf.len());
    let mut at = from;
    while at < until {
        let hit = finder.find(&buf[at..until])? + at;
        if hit >= 1 {
            let start = hit - 1;
            let b = buf[start];
            if start >= from && ((0xa1..=0xb7).contains(&b) || b == 0xbf) {
                let mut cur = Cursor::new(buf, start);
                if let Ok(v) = cur.value() {
                    let ts_ok = v.get("ts").and_then(Value::as_f64).is_some();
                    let dir_ok = v.get("dir").and_then(Value::as_i64).is_some_and(|d| (0..=3).contains(&d));
                    if ts_ok && dir_ok {
                        return Some(start);
                    }
                }
            }
        }
        at = hit + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::writer::{bytes, encode_entry, encode_header, float, text};
    use super::*;

    /// An entry that claims `enc: "zlib"` but whose payload is not zlib (`decompress_error`).
    fn bad_zlib_entry(seq: u64) -> Vec<u8> {
        let mut out = vec![0xa5];
        text(&mut out, "ts");
        float(&mut out, 1_700_000_000.0 + seq as f64);
        text(&mut out, "dir");
        out.push(0x03);
        text(&mut out, "seq");
        out.push(seq as u8);
        text(&mut out, "data");
        bytes(&mut out, b"this is not a zlib stream");
        text(&mut out, "enc");
        text(&mut out, "zlib");
        out
    }

    fn good_entry(seq: u64) -> Vec<u8> {
        encode_entry(1_700_000_000.0 + seq as f64, 3, seq, b"hello", &[], false)
    }

    /// Inflation failures between and around scan faults: a damaged stretch (resync, in recovery)
    /// and a truncated tail.
    fn capture() -> Vec<u8> {
        let mut f = encode_header("order", 1_700_000_000.0, None);
        for seq in 0..20 {
            f.extend(if seq % 3 == 1 { bad_zlib_entry(seq) } else { good_entry(seq) });
            if seq == 10 {
                f.extend_from_slice(&[0xff, 0xff, 0xff]);
            }
        }
        let last = bad_zlib_entry(20);
        f.extend_from_slice(&last[..last.len() / 2]);
        f
    }

    fn diagnostics(file: &[u8], recover: bool, batch_rows: usize) -> Vec<Diagnostic> {
        let opts = ReadOptions { recover, batch_rows, ..ReadOptions::default() };
        let mut r = EntryReader::new(file.to_vec(), opts).unwrap();
        while r.next_batch().is_some() {}
        r.diagnostics
    }

    /// F-CBOR-ORDER (docs/fuzzing.md): a batch's inflation diagnostics came after its scan faults,
    /// so the list depended on where batches ended.
    #[test]
    fn diagnostics_are_in_file_order_whatever_the_batch_size() {
        let file = capture();
        for recover in [false, true] {
            let reference = diagnostics(&file, recover, ReadOptions::default().batch_rows);
            let kinds: Vec<&str> = reference.iter().map(|d| d.kind).collect();
            assert!(kinds.contains(&"decompress_error") && kinds.contains(&"decode_error"), "{kinds:?}");
            if recover {
                assert!(kinds.contains(&"resync_skip") && kinds.contains(&"truncated_tail"), "{kinds:?}");
            }
            let offsets: Vec<u64> = reference.iter().map(|d| d.offset).collect();
            assert!(offsets.windows(2).all(|w| w[0] <= w[1]), "not in file order: {kinds:?} at {offsets:?}");
            for rows in [1, 7, 256] {
                assert_eq!(diagnostics(&file, recover, rows), reference, "{rows} rows per batch, recover {recover}");
            }
        }
    }
}
