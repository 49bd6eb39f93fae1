//! Python binding of the SSE splitter (`fastcap_core::sse`).
//!
//! * `sse_events(body, *, chunk_sizes=None, chunk_times=None) -> {"events": [...], "stats": {...}}`
//! * `SseDecoder()` with `feed(data, t=None) -> list[dict]`, `finish() -> list[dict]`, `stats`, `finished`
//! * `sse_column(bodies, *, extract=True, column=None) -> ArrowTable` for a `Sequence[bytes | None]`,
//!   an Arrow binary/string array (`__arrow_c_array__`) or stream (`__arrow_c_stream__`); see
//!   [`import_bodies`], which `eventstream_column` shares.
//!
//! Event dict keys: index, type, data, last_event_id, byte_start, byte_end, terminated, is_done,
//! t_first_byte, t_last_byte.

use std::ops::Range;
use std::ptr::NonNull;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::ffi::{from_ffi, FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::ffi_stream::{ArrayStreamReader, FFI_ArrowArrayStream};
use arrow_array::{make_array, Array, ArrayRef, OffsetSizeTrait};
use arrow_buffer::Buffer;
use arrow_schema::DataType;
use fastcap_core::error::{Error, Format, FormatError};
use fastcap_core::sse::column::SseColumnBuilder;
use fastcap_core::sse::{self as core, EventRef, SseStats};
use pyo3::exceptions::{PyKeyError, PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCapsule, PyDict, PyList, PyTuple};

use crate::arrow::ArrowTable;
use crate::errors::to_pyerr;

/// Bodies per GIL-free batch of `sse_column` (signals are checked between batches).
const COLUMN_BATCH_BYTES: usize = 8 << 20;

fn event_dict<'py>(py: Python<'py>, e: &EventRef<'_>) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("index", e.index)?;
    d.set_item("type", e.event_type)?;
    d.set_item("data", e.data)?;
    d.set_item("last_event_id", e.last_event_id)?;
    d.set_item("byte_start", e.byte_start)?;
    d.set_item("byte_end", e.byte_end)?;
    d.set_item("terminated", e.terminated)?;
    d.set_item("is_done", e.is_done)?;
    d.set_item("t_first_byte", e.t_first_byte)?;
    d.set_item("t_last_byte", e.t_last_byte)?;
    Ok(d)
}

fn owned_event_dict<'py>(py: Python<'py>, e: &core::SseEvent) -> PyResult<Bound<'py, PyDict>> {
    event_dict(
        py,
        &EventRef {
            index: e.index,
            event_type: &e.event_type,
            data: &e.data,
            last_event_id: &e.last_event_id,
            byte_start: e.byte_start,
            byte_end: e.byte_end,
            terminated: e.terminated,
            is_done: e.is_done,
            t_first_byte: e.t_first_byte,
            t_last_byte: e.t_last_byte,
        },
    )
}

fn stats_dict<'py>(py: Python<'py>, s: &SseStats) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("bytes", s.bytes)?;
    d.set_item("lines", s.lines)?;
    d.set_item("events", s.events)?;
    d.set_item("blank_lines", s.blank_lines)?;
    d.set_item("comment_lines", s.comment_lines)?;
    d.set_item("blocks_without_data", s.blocks_without_data)?;
    d.set_item("id_fields", s.id_fields)?;
    d.set_item("retry_fields", s.retry_fields)?;
    d.set_item("unknown_fields", s.unknown_fields)?;
    d.set_item("lf", s.lf)?;
    d.set_item("crlf", s.crlf)?;
    d.set_item("cr", s.cr)?;
    d.set_item("line_endings", s.line_endings())?;
    d.set_item("bom", s.bom)?;
    d.set_item("ends_with_newline", s.ends_with_newline)?;
    d.set_item("ends_with_blank_line", s.ends_with_blank_line)?;
    d.set_item("partial_last_line", s.partial_last_line)?;
    d.set_item("pending_at_eof", s.pending_at_eof)?;
    d.set_item("retry", s.retry)?;
    Ok(d)
}

/// Split a whole SSE body. With `chunk_sizes` (and optionally `chunk_times`, one arrival time per
/// chunk) the body is fed chunk by chunk and events carry `t_first_byte` / `t_last_byte`.
#[pyfunction]
#[pyo3(signature = (body, *, chunk_sizes=None, chunk_times=None))]
fn sse_events<'py>(
    py: Python<'py>,
    body: &[u8],
    chunk_sizes: Option<Vec<usize>>,
    chunk_times: Option<Vec<f64>>,
) -> PyResult<Bound<'py, PyDict>> {
    let result = py.allow_threads(|| match (&chunk_sizes, &chunk_times) {
        (None, None) => Ok(core::split(body)),
        (Some(sizes), times) => core::split_chunked(body, sizes, times.as_deref()),
        (None, Some(_)) => Err(Error::Format(FormatError::new(
            Format::Sse,
            "bad_chunking",
            0,
            "chunk_times given without chunk_sizes",
        ))),
    });
    let (events, stats) = result.map_err(|e| to_pyerr(py, e, None))?;
    let list = PyList::empty(py);
    for e in &events {
        list.append(owned_event_dict(py, e)?)?;
    }
    let out = PyDict::new(py);
    out.set_item("events", list)?;
    out.set_item("stats", stats_dict(py, &stats)?)?;
    Ok(out)
}

/// Incremental WHATWG decoder: `feed(data, t)` any chunking, then `finish()` (returns the event
/// pending at EOF, if any, with `terminated=False`).
#[pyclass(module = "fastcap._native", name = "SseDecoder")]
struct PySseDecoder {
    inner: core::SseDecoder,
}

#[pymethods]
impl PySseDecoder {
    #[new]
    fn new() -> Self {
        PySseDecoder { inner: core::SseDecoder::new() }
    }

    #[pyo3(signature = (data, t=None))]
    fn feed<'py>(&mut self, py: Python<'py>, data: &[u8], t: Option<f64>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        let mut err: Option<PyErr> = None;
        let res = self.inner.feed_with(data, t, &mut |e| {
            if err.is_none() {
                if let Err(x) = event_dict(py, &e).and_then(|d| list.append(d)) {
                    err = Some(x);
                }
            }
        });
        res.map_err(|e| to_pyerr(py, e, None))?;
        match err {
            Some(e) => Err(e),
            None => Ok(list),
        }
    }

    fn finish<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let list = PyList::empty(py);
        let mut err: Option<PyErr> = None;
        self.inner.finish_with(&mut |e| {
            if let Err(x) = event_dict(py, &e).and_then(|d| list.append(d)) {
                err = Some(x);
            }
        });
        match err {
            Some(e) => Err(e),
            None => Ok(list),
        }
    }

    #[getter]
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        stats_dict(py, self.inner.stats())
    }

    #[getter]
    fn finished(&self) -> bool {
        self.inner.is_finished()
    }
}

// ------------------------------------------------------------------------------------------------
// Body columns (shared with `eventstream_column`)

/// One input body: `owner[range]`. `owner` keeps the memory alive (a Python `bytes` object or an
/// imported Arrow buffer), so the decoders can hand out views into it instead of copies.
pub(crate) struct InBody {
    pub owner: Buffer,
    pub range: Range<usize>,
    /// Known to be valid UTF-8 (a value of an Arrow string array).
    pub utf8: bool,
}

impl InBody {
    pub fn bytes(&self) -> &[u8] {
        &self.owner.as_slice()[self.range.clone()]
    }
}

/// Owner of a `bytes` object's memory inside an Arrow buffer. `bytes` are immutable, so the buffer
/// can be read without the GIL while the reference is held. Dropped without the GIL (e.g. by a
/// consumer thread), pyo3 defers the decref until the GIL is next taken.
struct PyBytesOwner(#[allow(dead_code)] Py<PyBytes>);

impl std::panic::RefUnwindSafe for PyBytesOwner {}

fn bytes_body(b: &Bound<'_, PyBytes>) -> InBody {
    let data = b.as_bytes();
    let len = data.len();
    // SAFETY: `data` is the bytes object's buffer, valid and unchanged as long as the object
    // lives; the owner keeps a strong reference to it for as long as the Buffer exists.
    let owner = unsafe {
        Buffer::from_custom_allocation(
            NonNull::new(data.as_ptr() as *mut u8).unwrap_or(NonNull::dangling()),
            len,
            Arc::new(PyBytesOwner(b.clone().unbind())),
        )
    };
    InBody { owner, range: 0..len, utf8: false }
}

/// Bodies of an Arrow array: binary, large_binary, binary_view, or the string variants.
fn array_bodies(arr: &ArrayRef, who: &str, out: &mut Vec<Option<InBody>>) -> PyResult<()> {
    fn offsets<O: OffsetSizeTrait>(
        offsets: &[O],
        values: &Buffer,
        valid: impl Fn(usize) -> bool,
        utf8: bool,
        out: &mut Vec<Option<InBody>>,
    ) {
        for (i, w) in offsets.windows(2).enumerate() {
            out.push(valid(i).then(|| InBody { owner: values.clone(), range: w[0].as_usize()..w[1].as_usize(), utf8 }));
        }
    }
    fn views(
        views: &[u128],
        blocks: &[Buffer],
        valid: impl Fn(usize) -> bool,
        utf8: bool,
        out: &mut Vec<Option<InBody>>,
    ) {
        for (i, &v) in views.iter().enumerate() {
            if !valid(i) {
                out.push(None);
                continue;
            }
            let len = v as u32 as usize;
            out.push(Some(if len <= 12 {
                let b = v.to_le_bytes();
                InBody { owner: Buffer::from_slice_ref(&b[4..4 + len]), range: 0..len, utf8 }
            } else {
                let block = (v >> 64) as u32 as usize;
                let off = (v >> 96) as u32 as usize;
                InBody { owner: blocks[block].clone(), range: off..off + len, utf8 }
            }));
        }
    }
    let valid = |i: usize| arr.is_valid(i);
    match arr.data_type() {
        DataType::Binary => {
            let a = arr.as_binary::<i32>();
            offsets(a.value_offsets(), a.values(), valid, false, out);
        }
        DataType::LargeBinary => {
            let a = arr.as_binary::<i64>();
            offsets(a.value_offsets(), a.values(), valid, false, out);
        }
        DataType::Utf8 => {
            let a = arr.as_string::<i32>();
            offsets(a.value_offsets(), a.values(), valid, true, out);
        }
        DataType::LargeUtf8 => {
            let a = arr.as_string::<i64>();
            offsets(a.value_offsets(), a.values(), valid, true, out);
        }
        DataType::BinaryView => {
            let a = arr.as_binary_view();
            views(a.views(), a.data_buffers(), valid, false, out);
        }
        DataType::Utf8View => {
            let a = arr.as_string_view();
            views(a.views(), a.data_buffers(), valid, true, out);
        }
        other => {
            return Err(PyTypeError::new_err(format!("{who}: expected a binary or string Arrow array, got {other}")));
        }
    }
    Ok(())
}

/// The body column of a struct array (a record batch): `column`, or the only column.
fn struct_column(arr: &ArrayRef, column: Option<&str>, who: &str) -> PyResult<ArrayRef> {
    let DataType::Struct(fields) = arr.data_type() else { return Ok(Arc::clone(arr)) };
    let s = arr.as_struct();
    let idx = match column {
        Some(c) => fields
            .iter()
            .position(|f| f.name() == c)
            .ok_or_else(|| PyKeyError::new_err(format!("{who}: no column {c:?}")))?,
        None if fields.len() == 1 => 0,
        None => {
            let names: Vec<&str> = fields.iter().map(|f| f.name().as_str()).collect();
            return Err(PyTypeError::new_err(format!(
                "{who}: a table of {} columns {names:?}; pass column= to choose the bodies",
                names.len()
            )));
        }
    };
    Ok(Arc::clone(s.column(idx)))
}

fn capsule_ptr<T>(cap: &Bound<'_, PyCapsule>, name: &str) -> PyResult<*mut T> {
    let ok = cap.name()?.map(|n| n.to_bytes() == name.as_bytes()).unwrap_or(false);
    if !ok {
        return Err(PyTypeError::new_err(format!("expected a PyCapsule named {name:?}")));
    }
    Ok(cap.pointer() as *mut T)
}

fn arrow_err(who: &str, e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("{who}: arrow import: {e}"))
}

/// The bodies of `obj`: an Arrow array (`__arrow_c_array__`, e.g. `pyarrow.Array`), an Arrow
/// stream (`__arrow_c_stream__`: `pyarrow.ChunkedArray`, a Polars `Series` or `DataFrame`,
/// `pyarrow.Table`, fastcap's own `ArrowTable`), or a sequence of `bytes | None`. A table (struct
/// array or stream of record batches) contributes its column `column`, or its only column.
/// Feed imported bodies to `push(index, body)` in GIL-free batches of about
/// `COLUMN_BATCH_BYTES`, checking for Ctrl-C between batches: every column builder of the
/// binding (`sse_column`, `eventstream_events`, `request_fields`) runs its input this way.
pub(crate) fn for_each_body(
    py: Python<'_>,
    bodies: &[Option<InBody>],
    mut push: impl FnMut(u32, Option<&InBody>) -> fastcap_core::Result<()> + Send,
) -> PyResult<()> {
    let mut i = 0usize;
    while i < bodies.len() {
        let mut j = i;
        let mut bytes = 0usize;
        while j < bodies.len() && (j == i || bytes < COLUMN_BATCH_BYTES) {
            bytes += bodies[j].as_ref().map_or(0, |b| b.range.len());
            j += 1;
        }
        let (batch, start) = (&bodies[i..j], i);
        py.allow_threads(|| -> fastcap_core::Result<()> {
            for (k, body) in batch.iter().enumerate() {
                push(u32::try_from(start + k).unwrap_or(u32::MAX), body.as_ref())?;
            }
            Ok(())
        })
        .map_err(|e| to_pyerr(py, e, None))?;
        py.check_signals()?;
        i = j;
    }
    Ok(())
}

pub(crate) fn import_bodies(obj: &Bound<'_, PyAny>, column: Option<&str>, who: &str) -> PyResult<Vec<Option<InBody>>> {
    let py = obj.py();
    let mut out = Vec::new();
    if obj.hasattr(intern!(py, "__arrow_c_array__"))? {
        let pair = obj.call_method0(intern!(py, "__arrow_c_array__"))?;
        let pair = pair.downcast::<PyTuple>()?;
        let schema_cap = pair.get_item(0)?.downcast_into::<PyCapsule>()?;
        let array_cap = pair.get_item(1)?.downcast_into::<PyCapsule>()?;
        let schema_ptr = capsule_ptr::<FFI_ArrowSchema>(&schema_cap, "arrow_schema")?;
        let array_ptr = capsule_ptr::<FFI_ArrowArray>(&array_cap, "arrow_array")?;
        // SAFETY: per the Arrow PyCapsule interface the capsules hold an ArrowSchema and an
        // ArrowArray. The array is moved out (a released struct is left for the capsule's
        // destructor); the schema is only borrowed while the capsule is alive.
        let data = unsafe {
            let array = std::ptr::replace(array_ptr, FFI_ArrowArray::empty());
            from_ffi(array, &*schema_ptr)
        }
        .map_err(|e| arrow_err(who, e))?;
        let arr = struct_column(&make_array(data), column, who)?;
        array_bodies(&arr, who, &mut out)?;
    } else if obj.hasattr(intern!(py, "__arrow_c_stream__"))? {
        let cap = obj.call_method0(intern!(py, "__arrow_c_stream__"))?;
        let cap = cap.downcast_into::<PyCapsule>()?;
        let ptr = capsule_ptr::<FFI_ArrowArrayStream>(&cap, "arrow_array_stream")?;
        // SAFETY: the capsule holds an ArrowArrayStream; `from_raw` moves it out and leaves a
        // released stream for the capsule's destructor.
        let reader = unsafe { ArrayStreamReader::from_raw(ptr) }.map_err(|e| arrow_err(who, e))?;
        for arr in reader {
            let arr = arr.map_err(|e| arrow_err(who, e))?;
            array_bodies(&struct_column(&arr, column, who)?, who, &mut out)?;
        }
    } else {
        if obj.is_instance_of::<PyBytes>() {
            return Err(PyTypeError::new_err(format!(
                "{who}: bodies must be a sequence of bytes, not a single bytes object"
            )));
        }
        for item in obj.try_iter()? {
            let item = item?;
            if item.is_none() {
                out.push(None);
            } else {
                let b = item.downcast_into::<PyBytes>().map_err(|e| {
                    PyTypeError::new_err(format!(
                        "{who}: bodies must be bytes or None, got {}",
                        e.into_inner().get_type()
                    ))
                })?;
                out.push(Some(bytes_body(&b)));
            }
        }
    }
    Ok(out)
}

/// Split many bodies into one Arrow events table (see `fastcap_core::sse::column` for the columns
/// and `fastcap_core::sse::extract` for what fills each extracted field). `None` bodies add no rows;
/// `exchange_index` is the body's position in `bodies`. `event_type`, `data` and `last_event_id`
/// point into the input bodies (which the table keeps alive) wherever the value is one slice.
#[pyfunction]
#[pyo3(signature = (bodies, *, extract=true, column=None))]
fn sse_column(py: Python<'_>, bodies: &Bound<'_, PyAny>, extract: bool, column: Option<&str>) -> PyResult<ArrowTable> {
    let bodies = import_bodies(bodies, column, "sse_column")?;
    let total = bodies.iter().map(|b| b.as_ref().map_or(0, |b| b.range.len())).sum();
    let mut builder = SseColumnBuilder::with_capacity(extract, total);
    for_each_body(py, &bodies, |idx, body| match body {
        Some(b) => builder.push_shared(idx, &b.owner, b.range.clone(), b.utf8),
        None => Ok(()),
    })?;
    let table = py.allow_threads(|| builder.finish()).map_err(|e| to_pyerr(py, e, None))?;
    Ok(ArrowTable::new(table))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sse_events, m)?)?;
    m.add_function(wrap_pyfunction!(sse_column, m)?)?;
    m.add_class::<PySseDecoder>()?;
    Ok(())
}
