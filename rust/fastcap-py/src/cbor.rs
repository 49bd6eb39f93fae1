//! Python face of the CBOR V2 reader and writer.

use std::path::PathBuf;
use std::sync::Mutex;

use fastcap_core::arrow_util::Table;
use fastcap_core::cbor::assemble::bodies_table;
use fastcap_core::cbor::decode::Value;
use fastcap_core::cbor::reader::{DEFAULT_MAX_ENTRY_INFLATED, DEFAULT_MAX_INFLATE_RATIO};
use fastcap_core::cbor::writer::{encode_entry, encode_header, order_meta};
use fastcap_core::cbor::{EntryReader, ReadOptions, Source};
use fastcap_core::error::Error;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};

use crate::arrow::ArrowTable;
use crate::errors::to_pyerr;

// The defaults are written out in the signature so that Python shows them (pyo3 shows a named
// constant as `...`); they must be the core's.
const _: () = assert!(DEFAULT_MAX_ENTRY_INFLATED == 268_435_456 && DEFAULT_MAX_INFLATE_RATIO == 32);

/// Streams the entries of a CBOR V2 capture as Arrow record batches (memory-mapped, GIL released
/// while decoding).
#[pyclass(module = "fastcap._native", name = "CaptureReader")]
pub struct CaptureReader {
    inner: Mutex<EntryReader>,
    path: String,
}

#[pymethods]
impl CaptureReader {
    /// `max_entry_inflated` (bytes) and `max_inflate_ratio` bound what `enc: "zlib"` payloads may
    /// inflate to, per payload and per file (see `docs/limits.md`); a payload past either is kept
    /// compressed and reported as an `inflate_limit` diagnostic.
    #[new]
    #[pyo3(signature = (
        path, *, recover=false, batch_rows=16384, decompress=true, decompress_dirs=None,
        max_entry_inflated=268_435_456, max_inflate_ratio=32,
    ))]
    #[allow(clippy::too_many_arguments)] // keyword arguments of a Python constructor
    fn new(
        py: Python<'_>,
        path: PathBuf,
        recover: bool,
        batch_rows: usize,
        decompress: bool,
        decompress_dirs: Option<Vec<u8>>,
        max_entry_inflated: usize,
        max_inflate_ratio: u32,
    ) -> PyResult<Self> {
        let shown = path.display().to_string();
        if batch_rows == 0 {
            return Err(PyValueError::new_err("batch_rows must be positive"));
        }
        let decompress_dirs = match decompress_dirs {
            None => u16::MAX,
            Some(dirs) => dirs.iter().try_fold(0u16, |mask, &d| {
                if d > 3 {
                    Err(PyValueError::new_err(format!("decompress_dirs: {d} is not a direction (0-3)")))
                } else {
                    Ok(mask | 1 << d)
                }
            })?,
        };
        let source = Source::open(&path).map_err(|e| to_pyerr(py, Error::Io(e), Some(&shown)))?;
        let opts =
            ReadOptions { recover, batch_rows, decompress, decompress_dirs, max_entry_inflated, max_inflate_ratio };
        let reader = EntryReader::new(source, opts).map_err(|e| to_pyerr(py, Error::Format(e), Some(&shown)))?;
        Ok(CaptureReader { inner: Mutex::new(reader), path: shown })
    }

    #[getter]
    fn path(&self) -> &str {
        &self.path
    }

    /// The header map, verbatim (magic, version, created_at, session_id, metadata, any extra keys).
    #[getter]
    fn header<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let r = self.inner.lock().unwrap();
        to_py(py, &r.header.raw)
    }

    /// Byte offset reached so far.
    #[getter]
    fn position(&self) -> usize {
        self.inner.lock().unwrap().position()
    }

    #[getter]
    fn size(&self) -> usize {
        self.inner.lock().unwrap().total_len()
    }

    /// Problems found so far: dicts with kind, offset, index, seq, bytes, message.
    #[getter]
    fn diagnostics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let r = self.inner.lock().unwrap();
        let out = PyList::empty(py);
        for d in &r.diagnostics {
            let dict = PyDict::new(py);
            dict.set_item("kind", d.kind)?;
            dict.set_item("offset", d.offset)?;
            dict.set_item("index", d.index)?;
            dict.set_item("seq", d.seq)?;
            dict.set_item("bytes", d.bytes)?;
            dict.set_item("message", &d.message)?;
            dict.set_item("fatal", d.is_fatal())?;
            out.append(dict)?;
        }
        Ok(out)
    }

    /// The next batch of entries, or None at the end of the file.
    fn next_batch(&self, py: Python<'_>) -> Option<ArrowTable> {
        let mut guard = self.inner.lock().unwrap();
        let r: &mut EntryReader = &mut guard;
        let schema = r.schema();
        let batch = py.allow_threads(|| r.next_batch());
        batch.map(|b| ArrowTable::new(Table::new(schema, vec![b])))
    }

    /// The entries of roughly the next `span_bytes` of the file as one table, decoded on two
    /// threads; None at the end.
    #[pyo3(signature = (span_bytes=67_108_864))]
    fn next_round(&self, py: Python<'_>, span_bytes: usize) -> Option<ArrowTable> {
        let mut guard = self.inner.lock().unwrap();
        let r: &mut EntryReader = &mut guard;
        let schema = r.schema();
        loop {
            if r.is_done() {
                return None;
            }
            let batches = py.allow_threads(|| r.next_round(span_bytes.max(1)));
            if !batches.is_empty() {
                return Some(ArrowTable::new(Table::new(schema, batches)));
            }
        }
    }

    /// Every remaining entry as one table, decoded on two threads in rounds of 64 MiB; checks
    /// for Ctrl-C between rounds.
    fn read_all(&self, py: Python<'_>) -> PyResult<ArrowTable> {
        let mut guard = self.inner.lock().unwrap();
        let r: &mut EntryReader = &mut guard;
        let schema = r.schema();
        let mut batches = Vec::new();
        while !r.is_done() {
            batches.extend(py.allow_threads(|| r.next_round(64 << 20)));
            py.check_signals()?;
        }
        Ok(ArrowTable::new(Table::new(schema, batches)))
    }
}

/// Reassembles response bodies per request from the reader's tables (see
/// `fastcap_core::cbor::assemble`).
#[pyclass(module = "fastcap._native", name = "BodyAssembler")]
pub struct BodyAssembler {
    inner: Mutex<fastcap_core::cbor::assemble::BodyAssembler>,
}

#[pymethods]
impl BodyAssembler {
    #[new]
    #[pyo3(signature = (direction=3))]
    fn new(direction: u8) -> PyResult<Self> {
        if direction > 3 {
            return Err(PyValueError::new_err(format!("direction {direction} is not 0-3")));
        }
        Ok(BodyAssembler { inner: Mutex::new(fastcap_core::cbor::assemble::BodyAssembler::new(direction)) })
    }

    /// Take in a table from `CaptureReader`; returns the bodies it completed as a table
    /// (`request_id`, `body`, `chunk_ends`, `chunk_times`, `ended`), in completion order.
    fn feed(&self, py: Python<'_>, table: PyRef<'_, ArrowTable>) -> PyResult<ArrowTable> {
        let batches = table.table().batches.clone();
        let mut guard = self.inner.lock().unwrap();
        let inner: &mut fastcap_core::cbor::assemble::BodyAssembler = &mut guard;
        let done = py.allow_threads(|| bodies_table(batches.iter().flat_map(|b| inner.feed(b)).collect()));
        done.map(ArrowTable::new).map_err(|e| to_pyerr(py, e, None))
    }

    /// The bodies still open (streams cut short, `ended` false; or ended but still missing
    /// announced chunks), in opening order, as a table like `feed`'s.
    fn close(&self, py: Python<'_>) -> PyResult<ArrowTable> {
        let done = self.inner.lock().unwrap().close();
        py.allow_threads(|| bodies_table(done)).map(ArrowTable::new).map_err(|e| to_pyerr(py, e, None))
    }
}

/// The header item of a new capture, byte-identical to the reference writer.
#[pyfunction]
#[pyo3(signature = (session_id, created_at, metadata=None))]
fn encode_capture_header<'py>(
    py: Python<'py>,
    session_id: &str,
    created_at: f64,
    metadata: Option<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyBytes>> {
    let meta = metadata.map(|m| from_py(&m)).transpose()?;
    Ok(PyBytes::new(py, &encode_header(session_id, created_at, meta.as_ref())))
}

/// One capture entry. `meta` uses the compact key names; known keys are emitted in the reference
/// writer's order (unknown keys after them), None values and false flags are omitted, and the
/// payload is zlib-compressed when longer than 128 bytes and compression shrinks it.
#[pyfunction]
#[pyo3(signature = (ts, direction, seq, data, meta=None, compress=true))]
fn encode_capture_entry<'py>(
    py: Python<'py>,
    ts: f64,
    direction: u8,
    seq: u64,
    data: &[u8],
    meta: Option<Bound<'py, PyDict>>,
    compress: bool,
) -> PyResult<Bound<'py, PyBytes>> {
    if direction > 3 {
        return Err(PyValueError::new_err(format!("direction must be 0..3, got {direction}")));
    }
    let mut pairs = Vec::new();
    if let Some(m) = meta {
        for (k, v) in m.iter() {
            let key: String = k.extract().map_err(|_| PyTypeError::new_err("meta keys must be str"))?;
            pairs.push((key, from_py(&v)?));
        }
    }
    let pairs = order_meta(pairs);
    let out = py.allow_threads(|| encode_entry(ts, direction, seq, data, &pairs, compress));
    Ok(PyBytes::new(py, &out))
}

/// Deepest nesting of lists and dicts [`from_py`] converts: well within what the reader accepts
/// back (256), and a self-containing list is an error instead of a stack overflow.
const MAX_DEPTH: usize = 128;

pub fn from_py(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    from_py_depth(obj, 0)
}

fn from_py_depth(obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err(format!("value nested more than {MAX_DEPTH} deep, cannot encode as CBOR")));
    }
    let from_py = |x: &Bound<'_, PyAny>| from_py_depth(x, depth + 1);
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.downcast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        let i: i128 = obj.extract()?;
        return Ok(if i >= 0 {
            Value::Uint(u64::try_from(i).map_err(|_| PyValueError::new_err("integer too large"))?)
        } else {
            Value::Nint(u64::try_from(-1 - i).map_err(|_| PyValueError::new_err("integer too small"))?)
        });
    }
    if let Ok(f) = obj.downcast::<PyFloat>() {
        return Ok(Value::Float(f.value()));
    }
    if let Ok(s) = obj.downcast::<PyString>() {
        return Ok(Value::Text(s.to_str()?.to_owned()));
    }
    if let Ok(b) = obj.downcast::<PyBytes>() {
        return Ok(Value::Bytes(b.as_bytes().to_vec()));
    }
    if let Ok(d) = obj.downcast::<PyDict>() {
        let mut pairs = Vec::with_capacity(d.len());
        for (k, v) in d.iter() {
            pairs.push((from_py(&k)?, from_py(&v)?));
        }
        return Ok(Value::Map(pairs));
    }
    if let Ok(l) = obj.downcast::<PyList>() {
        return l.iter().map(|x| from_py(&x)).collect::<PyResult<Vec<_>>>().map(Value::Array);
    }
    if let Ok(t) = obj.downcast::<PyTuple>() {
        return t.iter().map(|x| from_py(&x)).collect::<PyResult<Vec<_>>>().map(Value::Array);
    }
    Err(PyTypeError::new_err(format!("cannot encode {} as CBOR", obj.get_type().name()?)))
}

pub fn to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Uint(u) => u.into_pyobject(py)?.into_any(),
        Value::Nint(n) => (-1i128 - *n as i128).into_pyobject(py)?.into_any(),
        Value::Bytes(b) => PyBytes::new(py, b).into_any(),
        Value::Text(s) => PyString::new(py, s).into_any(),
        Value::Array(a) => {
            let l = PyList::empty(py);
            for x in a {
                l.append(to_py(py, x)?)?;
            }
            l.into_any()
        }
        Value::Map(pairs) => {
            let d = PyDict::new(py);
            for (k, x) in pairs {
                let key = match k {
                    Value::Map(_) | Value::Array(_) => PyString::new(py, &k.to_json().to_string()).into_any(),
                    _ => to_py(py, k)?,
                };
                d.set_item(key, to_py(py, x)?)?;
            }
            d.into_any()
        }
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Null | Value::Undefined => py.None().into_bound(py),
        Value::Float(f) => PyFloat::new(py, *f).into_any(),
        Value::Tag(_, x) => to_py(py, x)?,
        Value::Simple(s) => s.into_pyobject(py)?.into_any(),
    })
}

/// The 44 compact metadata keys in writer order: (compact, long name, kind).
#[pyfunction]
fn capture_meta_keys() -> Vec<(&'static str, &'static str, &'static str)> {
    use fastcap_core::cbor::meta::{Kind, META_KEYS};
    META_KEYS
        .iter()
        .map(|k| {
            let kind = match k.kind {
                Kind::Text => "text",
                Kind::Int => "int",
                Kind::Float => "float",
                Kind::Flag => "flag",
                Kind::Json => "json",
            };
            (k.compact, k.long, kind)
        })
        .collect()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<CaptureReader>()?;
    m.add_class::<BodyAssembler>()?;
    m.add_function(wrap_pyfunction!(capture_meta_keys, m)?)?;
    m.add_function(wrap_pyfunction!(encode_capture_header, m)?)?;
    m.add_function(wrap_pyfunction!(encode_capture_entry, m)?)?;
    Ok(())
}
