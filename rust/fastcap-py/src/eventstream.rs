//! Python surface of the AWS EventStream decoder (`fastcap_core::eventstream`).
//!
//! Data errors are values in `decode_eventstream` and `eventstream_column` (they never raise for
//! malformed input) and `EventStreamError` exceptions in `check_eventstream` and
//! `EventStreamDecoder`, always built by `errors::to_pyerr`.

use fastcap_core::error::Error;
use fastcap_core::eventstream::{
    self as es, BodyError, BodyReport, ColumnDecoder, DecodeError, Frame, HeaderValue, Limits, Mode, Options,
    StreamDecoder, Truncated,
};
use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use crate::arrow::ArrowTable;
use crate::errors::to_pyerr;
use crate::sse::{import_bodies, InBody};

fn limits(max_headers_len: u32, max_payload_len: u32) -> Limits {
    Limits { max_headers_len, max_payload_len }
}

fn options(mode: &str, max_headers_len: u32, max_payload_len: u32) -> PyResult<Options> {
    let mode = Mode::parse(mode)
        .ok_or_else(|| PyValueError::new_err(format!("mode must be 'strict' or 'resync', not {mode:?}")))?;
    Ok(Options { mode, limits: limits(max_headers_len, max_payload_len) })
}

fn pyerr(py: Python<'_>, e: DecodeError) -> PyErr {
    to_pyerr(py, Error::from(e), None)
}

fn header_value<'py>(py: Python<'py>, v: HeaderValue<'_>) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        HeaderValue::Bool(b) => b.into_pyobject(py)?.to_owned().into_any(),
        HeaderValue::Byte(x) => x.into_pyobject(py)?.into_any(),
        HeaderValue::Short(x) => x.into_pyobject(py)?.into_any(),
        HeaderValue::Int(x) => x.into_pyobject(py)?.into_any(),
        HeaderValue::Long(x) | HeaderValue::Timestamp(x) => x.into_pyobject(py)?.into_any(),
        HeaderValue::Bytes(b) => PyBytes::new(py, b).into_any(),
        HeaderValue::String(s) => s.into_pyobject(py)?.into_any(),
        HeaderValue::Uuid(u) => es::uuid_string(u).into_pyobject(py)?.into_any(),
    })
}

fn frame_dict<'py>(py: Python<'py>, f: &Frame<'_>) -> PyResult<Bound<'py, PyDict>> {
    let headers = PyDict::new(py);
    for h in f.headers() {
        headers.set_item(h.name, header_value(py, h.value)?)?;
    }
    let d = PyDict::new(py);
    d.set_item(intern!(py, "offset"), f.offset)?;
    d.set_item(intern!(py, "total_length"), f.total_length)?;
    d.set_item(intern!(py, "headers"), headers)?;
    d.set_item(intern!(py, "payload"), PyBytes::new(py, f.payload))?;
    d.set_item(intern!(py, "message_type"), f.message_type)?;
    d.set_item(intern!(py, "event_type"), f.event_type)?;
    d.set_item(intern!(py, "exception_type"), f.exception_type)?;
    d.set_item(intern!(py, "content_type"), f.content_type)?;
    Ok(d)
}

fn errors_list<'py>(py: Python<'py>, errors: &[BodyError]) -> PyResult<Bound<'py, PyList>> {
    let out = PyList::empty(py);
    for e in errors {
        let x = PyDict::new(py);
        x.set_item("kind", e.error.kind.name())?;
        x.set_item("offset", e.error.offset)?;
        x.set_item("frame_offset", e.error.frame_offset)?;
        x.set_item("message", e.error.kind.to_string())?;
        x.set_item("skipped", e.skipped)?;
        out.append(x)?;
    }
    Ok(out)
}

fn truncated_dict<'py>(py: Python<'py>, t: Option<Truncated>) -> PyResult<Option<Bound<'py, PyDict>>> {
    let Some(t) = t else { return Ok(None) };
    let x = PyDict::new(py);
    x.set_item("offset", t.offset)?;
    x.set_item("have", t.have)?;
    x.set_item("need", t.need)?;
    Ok(Some(x))
}

fn report_parts<'py>(py: Python<'py>, r: &BodyReport, d: &Bound<'py, PyDict>) -> PyResult<()> {
    d.set_item("errors", errors_list(py, &r.errors)?)?;
    d.set_item("truncated", truncated_dict(py, r.truncated)?)?;
    d.set_item("corrupt", r.corrupt())?;
    Ok(())
}

/// Decode a whole EventStream body. Never raises for malformed data: problems are in `errors`
/// (each `{kind, offset, frame_offset, message, skipped}`) and `truncated` (`{offset, have, need}`).
#[pyfunction]
#[pyo3(signature = (body, *, mode = "strict", max_headers_len = 131072, max_payload_len = 25165824))]
fn decode_eventstream<'py>(
    py: Python<'py>,
    body: &[u8],
    mode: &str,
    max_headers_len: u32,
    max_payload_len: u32,
) -> PyResult<Bound<'py, PyDict>> {
    let opts = options(mode, max_headers_len, max_payload_len)?;
    // Frames borrow `body` (immutable bytes); decode without the GIL, then build objects.
    let (frames, report) = py.allow_threads(|| {
        let mut frames = Vec::new();
        let r = es::decode_body(body, &opts, |f| frames.push(f));
        (frames, r)
    });
    let list = PyList::empty(py);
    for f in &frames {
        list.append(frame_dict(py, f)?)?;
    }
    let d = PyDict::new(py);
    d.set_item("frames", list)?;
    report_parts(py, &report, &d)?;
    Ok(d)
}

/// Validate a whole body (both CRCs, all headers); return the frame count or raise
/// `EventStreamError` for the first problem, including a truncated tail.
#[pyfunction]
#[pyo3(signature = (body, *, max_headers_len = 131072, max_payload_len = 25165824))]
fn check_eventstream(py: Python<'_>, body: &[u8], max_headers_len: u32, max_payload_len: u32) -> PyResult<u64> {
    let lim = limits(max_headers_len, max_payload_len);
    py.allow_threads(|| es::check_body(body, &lim)).map_err(|e| pyerr(py, e))
}

/// Push decoder: `feed` returns the frames completed by each chunk.
///
/// `mode="strict"` (default): on a data error `feed` raises `EventStreamError` whose `frames`
/// attribute holds the frames that chunk completed before the error; the decoder then stays
/// failed, and `finish` raises for a truncated tail.
///
/// `mode="resync"`: the recovery of `decode_eventstream(mode="resync")`, with the same frames,
/// `errors` (each with its `skipped` byte count, listed once decoding resumed or the input ended)
/// and `truncated` tail whatever the chunking; `feed` and `finish` never raise for bad data.
#[pyclass(module = "fastcap._native", name = "EventStreamDecoder")]
struct PyEventStreamDecoder {
    inner: StreamDecoder,
}

#[pymethods]
impl PyEventStreamDecoder {
    #[new]
    #[pyo3(
        signature = (*, mode = "strict", max_headers_len = 131072, max_payload_len = 25165824),
        text_signature = "(*, mode='strict', max_headers_len=131072, max_payload_len=25165824)"
    )]
    fn new(mode: &str, max_headers_len: u32, max_payload_len: u32) -> PyResult<Self> {
        Ok(PyEventStreamDecoder {
            inner: StreamDecoder::with_options(options(mode, max_headers_len, max_payload_len)?),
        })
    }

    /// `"strict"` or `"resync"`.
    #[getter]
    fn mode(&self) -> &'static str {
        match self.inner.mode() {
            Mode::Strict => "strict",
            Mode::Resync => "resync",
        }
    }

    /// Resync mode: errors passed over so far (`{kind, offset, frame_offset, message, skipped}`).
    #[getter]
    fn errors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        errors_list(py, self.inner.errors())
    }

    /// Resync mode: the partial frame at the end (`{offset, have, need}`), known after `finish`.
    #[getter]
    fn truncated<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        truncated_dict(py, self.inner.truncated())
    }

    /// Resync mode: an error was passed over.
    #[getter]
    fn corrupt(&self) -> bool {
        !self.inner.errors().is_empty()
    }

    fn feed<'py>(&mut self, py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        let mut build_err: Option<PyErr> = None;
        let r = self.inner.feed(data, |f| {
            if build_err.is_none() {
                if let Err(e) = frame_dict(py, &f).and_then(|d| out.append(d)) {
                    build_err = Some(e);
                }
            }
        });
        if let Some(e) = build_err {
            return Err(e);
        }
        match r {
            Ok(()) => Ok(out),
            Err(e) => {
                let err = pyerr(py, e);
                err.value(py).setattr("frames", out)?;
                Err(err)
            }
        }
    }

    /// End of input. Strict: raises `EventStreamError` (kind `Truncated`) if a partial frame is
    /// pending. Resync: never raises; see `truncated` and `errors`.
    fn finish(&mut self, py: Python<'_>) -> PyResult<()> {
        self.inner.finish().map_err(|e| pyerr(py, e))
    }

    /// Body offset of the first byte not yet part of a complete frame.
    #[getter]
    fn offset(&self) -> u64 {
        self.inner.offset()
    }

    /// Bytes buffered for the incomplete frame.
    #[getter]
    fn pending(&self) -> usize {
        self.inner.pending_len()
    }

    /// Frames emitted so far.
    #[getter]
    fn frames(&self) -> u64 {
        self.inner.frames()
    }
}

/// Bodies per GIL-free batch; `check_signals` runs between batches.
const BATCH_BODIES: usize = 512;
/// Or fewer bodies when they are large, so Ctrl-C is seen within a few milliseconds.
const BATCH_BYTES: usize = 8 << 20;

fn run_batches(py: Python<'_>, dec: &mut ColumnDecoder, bodies: &[Option<InBody>]) -> PyResult<()> {
    let mut i = 0;
    while i < bodies.len() {
        let mut j = i;
        let mut bytes = 0usize;
        while j < bodies.len() && j - i < BATCH_BODIES && bytes < BATCH_BYTES {
            bytes += bodies[j].as_ref().map_or(0, |b| b.range.len());
            j += 1;
        }
        let batch = &bodies[i..j];
        py.allow_threads(|| {
            for b in batch {
                match b {
                    Some(b) => dec.push_shared(&b.owner, b.range.clone()),
                    None => dec.push(None),
                }
            }
        });
        py.check_signals()?;
        i = j;
    }
    Ok(())
}

/// Decode a column of bodies into `(events, bodies)` Arrow tables. `bodies` is a sequence of
/// `bytes | None`, an Arrow binary array (`__arrow_c_array__`) or an Arrow stream
/// (`__arrow_c_stream__`: a Polars Series or DataFrame, a pyarrow ChunkedArray or Table, an
/// `ArrowTable`; a table contributes its column `column`, or its only column). `events` has one row
/// per verified frame (payloads are views into the bodies, which it keeps alive); `bodies` one row
/// per input with the frame count, the first error, skipped bytes and the truncated tail.
#[pyfunction]
#[pyo3(signature = (bodies, *, mode = "strict", max_headers_len = 131072, max_payload_len = 25165824, column = None))]
fn eventstream_column(
    py: Python<'_>,
    bodies: &Bound<'_, PyAny>,
    mode: &str,
    max_headers_len: u32,
    max_payload_len: u32,
    column: Option<&str>,
) -> PyResult<(ArrowTable, ArrowTable)> {
    let opts = options(mode, max_headers_len, max_payload_len)?;
    let bodies = import_bodies(bodies, column, "eventstream_column")?;
    let total = bodies.iter().map(|b| b.as_ref().map_or(0, |b| b.bytes().len())).sum();
    let mut dec = ColumnDecoder::with_capacity(opts, total);
    run_batches(py, &mut dec, &bodies)?;
    let (events, summary) = py.allow_threads(|| dec.finish()).map_err(|e| to_pyerr(py, e, None))?;
    Ok((ArrowTable::new(events), ArrowTable::new(summary)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(decode_eventstream, m)?)?;
    m.add_function(wrap_pyfunction!(check_eventstream, m)?)?;
    m.add_function(wrap_pyfunction!(eventstream_column, m)?)?;
    m.add_class::<PyEventStreamDecoder>()?;
    Ok(())
}

// The Python-visible defaults are literals (pyo3 shows only literals in `__text_signature__`,
// which stubtest compares); keep them equal to the core's defaults.
const _: () = assert!(es::DEFAULT_MAX_HEADERS_LEN == 131072 && es::DEFAULT_MAX_PAYLOAD_LEN == 25165824);
