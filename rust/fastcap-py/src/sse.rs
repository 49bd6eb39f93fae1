//! Python binding of the SSE splitter (`fastcap_core::sse`).
//!
//! * `sse_events(body, *, chunk_sizes=None, chunk_times=None) -> {"events": [...], "stats": {...}}`
//! * `SseDecoder()` with `feed(data, t=None) -> list[dict]`, `finish() -> list[dict]`, `stats`, `finished`
//! * `sse_column(bodies, *, extract=True) -> ArrowTable` for a `Sequence[bytes | None]` or an Arrow
//!   binary/string array (anything with `__arrow_c_array__`, e.g. `pyarrow.Array`).
//!
//! Event dict keys: index, type, data, last_event_id, byte_start, byte_end, terminated, is_done,
//! t_first_byte, t_last_byte.

use arrow_array::ffi::{from_ffi, FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::{Array, ArrayRef, BinaryArray, LargeBinaryArray, LargeStringArray, StringArray};
use arrow_schema::DataType;
use fastcap_core::error::{Error, Format, FormatError};
use fastcap_core::sse::column::SseColumnBuilder;
use fastcap_core::sse::{self as core, EventRef, SseStats};
use pyo3::exceptions::PyTypeError;
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

/// Import an Arrow array through the PyCapsule interface (`__arrow_c_array__`).
fn import_arrow_array(obj: &Bound<'_, PyAny>) -> PyResult<ArrayRef> {
    let caps = obj.call_method0("__arrow_c_array__")?;
    let caps = caps.downcast::<PyTuple>()?;
    let schema_cap = caps.get_item(0)?;
    let array_cap = caps.get_item(1)?;
    let schema_cap = schema_cap.downcast::<PyCapsule>()?;
    let array_cap = array_cap.downcast::<PyCapsule>()?;
    // SAFETY: per the Arrow PyCapsule interface the capsules named "arrow_schema" /
    // "arrow_array" hold an ArrowSchema / ArrowArray. We move the array out (leaving a released
    // empty struct behind, as the protocol requires) and only borrow the schema.
    let data = unsafe {
        let schema = &*(schema_cap.pointer() as *const FFI_ArrowSchema);
        let array = std::ptr::replace(array_cap.pointer() as *mut FFI_ArrowArray, FFI_ArrowArray::empty());
        from_ffi(array, schema)
    }
    .map_err(|e| to_pyerr(obj.py(), Error::from(e), None))?;
    Ok(arrow_array::make_array(data))
}

fn arrow_bodies(arr: &ArrayRef) -> PyResult<Vec<Option<&[u8]>>> {
    fn col<'a, I: Iterator<Item = Option<&'a [u8]>>>(it: I) -> Vec<Option<&'a [u8]>> {
        it.collect()
    }
    Ok(match arr.data_type() {
        DataType::Binary => col(arr.as_any().downcast_ref::<BinaryArray>().into_iter().flatten()),
        DataType::LargeBinary => col(arr.as_any().downcast_ref::<LargeBinaryArray>().into_iter().flatten()),
        DataType::Utf8 => col(arr
            .as_any()
            .downcast_ref::<StringArray>()
            .into_iter()
            .flatten()
            .map(|s| s.map(str::as_bytes))),
        DataType::LargeUtf8 => col(arr
            .as_any()
            .downcast_ref::<LargeStringArray>()
            .into_iter()
            .flatten()
            .map(|s| s.map(str::as_bytes))),
        other => return Err(PyTypeError::new_err(format!("sse_column: expected a binary or string array, got {other}"))),
    })
}

/// Split many bodies into one Arrow events table (see `fastcap_core::sse::column` for the columns
/// and `fastcap_core::sse::extract` for what fills each extracted field). `None` bodies add no rows;
/// `exchange_index` is the body's position in `bodies`.
#[pyfunction]
#[pyo3(signature = (bodies, *, extract=true))]
fn sse_column(py: Python<'_>, bodies: &Bound<'_, PyAny>, extract: bool) -> PyResult<ArrowTable> {
    let arrow_arr;
    let owned: Vec<Option<Bound<'_, PyBytes>>>;
    let slices: Vec<Option<&[u8]>> = if bodies.hasattr("__arrow_c_array__")? {
        arrow_arr = import_arrow_array(bodies)?;
        arrow_bodies(&arrow_arr)?
    } else {
        let mut v = Vec::with_capacity(bodies.len().unwrap_or(0));
        for item in bodies.try_iter()? {
            let item = item?;
            if item.is_none() {
                v.push(None);
            } else {
                v.push(Some(item.downcast_into::<PyBytes>().map_err(|e| {
                    PyTypeError::new_err(format!("sse_column: bodies must be bytes or None, got {}", e.into_inner().get_type()))
                })?));
            }
        }
        owned = v;
        owned.iter().map(|b| b.as_ref().map(|b| b.as_bytes())).collect()
    };
    let mut builder = SseColumnBuilder::new(extract);
    let mut i = 0usize;
    while i < slices.len() {
        // One GIL-free batch of about COLUMN_BATCH_BYTES, then a chance for Ctrl-C.
        let mut j = i;
        let mut bytes = 0usize;
        while j < slices.len() && (j == i || bytes < COLUMN_BATCH_BYTES) {
            bytes += slices[j].map_or(0, <[u8]>::len);
            j += 1;
        }
        let batch = &slices[i..j];
        let start = i;
        py.allow_threads(|| -> fastcap_core::Result<()> {
            for (k, body) in batch.iter().enumerate() {
                builder.push_body(u32::try_from(start + k).unwrap_or(u32::MAX), *body)?;
            }
            Ok(())
        })
        .map_err(|e| to_pyerr(py, e, None))?;
        py.check_signals()?;
        i = j;
    }
    let table = py.allow_threads(|| builder.finish()).map_err(|e| to_pyerr(py, e, None))?;
    Ok(ArrowTable::new(table))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(sse_events, m)?)?;
    m.add_function(wrap_pyfunction!(sse_column, m)?)?;
    m.add_class::<PySseDecoder>()?;
    Ok(())
}
