//! Python face of the HAR fast path (`fastcap_core::har`): `har_entries(path)`.

use std::borrow::Cow;
use std::path::PathBuf;

use fastcap_core::har::{self, Body, Entry, Record};
use fastcap_core::jsonl::map_file;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

use crate::errors::to_pyerr;

/// `(bytes | None, kind)`: 0 absent, 1 exact bytes, 2 text recovered as UTF-8.
fn body<'py>(py: Python<'py>, b: &Body) -> (Option<Bound<'py, PyBytes>>, u8) {
    match b {
        Body::Absent => (None, 0),
        Body::Exact(v) => (Some(PyBytes::new(py, v)), 1),
        Body::Lossy(v) => (Some(PyBytes::new(py, v)), 2),
    }
}

fn headers<'py>(py: Python<'py>, h: &[(Cow<str>, Cow<str>)]) -> PyResult<Bound<'py, PyList>> {
    PyList::new(py, h.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
}

fn record<'py>(py: Python<'py>, r: &Record) -> PyResult<Bound<'py, PyTuple>> {
    let (req_body, req_kind) = body(py, &r.request_body);
    let response = match &r.response {
        None => py.None().into_bound(py),
        Some(resp) => {
            let (b, kind) = body(py, &resp.body);
            (resp.status, resp.reason.as_ref(), headers(py, &resp.headers)?, b, kind, resp.declared_size)
                .into_pyobject(py)?
                .into_any()
        }
    };
    PyTuple::new(
        py,
        [
            r.method.as_ref().into_pyobject(py)?.into_any(),
            r.url.as_ref().into_pyobject(py)?.into_any(),
            r.http_version.as_ref().into_pyobject(py)?.into_any(),
            headers(py, &r.request_headers)?.into_any(),
            req_body.into_pyobject(py)?.into_any(),
            req_kind.into_pyobject(py)?.into_any(),
            r.request_declared_size.into_pyobject(py)?.to_owned().into_any(),
            response,
            r.started.as_deref().into_pyobject(py)?.into_any(),
            r.timings.map(|t| (t[0], t[1], t[2])).into_pyobject(py)?.into_any(),
        ],
    )
}

/// The entries of a HAR file written by mitmproxy (or without a creator): `(creator, entries)`,
/// each entry a 10-tuple `(method, url, http version, request headers, request body, request body
/// kind, request bodySize declared, response, startedDateTime, timings)` (see `_native.pyi`) or a
/// 2-tuple `(start, end)`: the byte range of an entry the caller reads itself. `None` when the
/// whole file is the caller's (it does not parse, or a browser wrote it). The file is
/// memory-mapped; the GIL is released while the document is parsed.
#[pyfunction]
fn har_entries<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Option<(String, Bound<'py, PyList>)>> {
    let shown = path.display().to_string();
    let Some(map) = map_file(&path).map_err(|e| to_pyerr(py, e, Some(&shown)))? else {
        return Ok(None);
    };
    let data: &[u8] = &map;
    let start = if data.starts_with(b"\xef\xbb\xbf") { 3 } else { 0 };
    let Some(doc) = py.allow_threads(|| har::read(&data[start..])) else {
        return Ok(None);
    };
    let out = PyList::empty(py);
    for raw in doc.entries {
        match har::entry(raw) {
            Entry::Record(r) => out.append(record(py, &r)?)?,
            Entry::Other(text) => {
                let offset = text.as_ptr() as usize - data.as_ptr() as usize;
                out.append((offset, offset + text.len()))?;
            }
        }
    }
    Ok(Some((doc.creator, out)))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(har_entries, m)?)?;
    Ok(())
}
