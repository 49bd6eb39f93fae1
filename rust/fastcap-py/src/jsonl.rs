//! Python face of the traffic.jsonl fast path (`fastcap_core::jsonl`): `jsonl_records(path)`.

use std::path::PathBuf;

use fastcap_core::jsonl::{self, Body, Line, Record};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

use crate::errors::to_pyerr;

/// `(bytes | None, kind)`: 0 absent, 1 exact bytes of a text body, 2 a JSON value already as
/// orjson writes it, 3 a JSON value to be written again by the caller.
fn body<'py>(py: Python<'py>, b: &Body) -> (Option<Bound<'py, PyBytes>>, u8) {
    match b {
        Body::Absent => (None, 0),
        Body::Text(s) => (Some(PyBytes::new(py, s.as_bytes())), 1),
        Body::Json { text, canonical } => (Some(PyBytes::new(py, text.as_bytes())), if *canonical { 2 } else { 3 }),
    }
}

fn headers<'py>(py: Python<'py>, h: &[(std::borrow::Cow<str>, std::borrow::Cow<str>)]) -> PyResult<Bound<'py, PyList>> {
    PyList::new(py, h.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
}

fn record<'py>(py: Python<'py>, lineno: usize, offset: usize, r: &Record) -> PyResult<Bound<'py, PyTuple>> {
    let (req_body, req_kind) = body(py, &r.request_body);
    let mut response_bytes: &[u8] = b"";
    let response = match &r.response {
        None => py.None().into_bound(py),
        Some(resp) => {
            response_bytes = match &resp.body {
                Body::Text(s) => s.as_bytes(),
                Body::Json { text, .. } => text.as_bytes(),
                Body::Absent => b"",
            };
            let (b, kind) = body(py, &resp.body);
            (resp.status, headers(py, &resp.headers)?, b, kind).into_pyobject(py)?.into_any()
        }
    };
    let ext = match &r.ext {
        None => py.None().into_bound(py),
        Some(e) => {
            let (times, datas) = match &e.chunks {
                None => (None, None),
                Some(chunks) => (
                    Some(PyList::new(py, chunks.iter().map(|c| c.t))?),
                    Some(PyList::new(py, chunks.iter().map(|c| PyBytes::new(py, &response_bytes[c.start..c.end])))?),
                ),
            };
            let s = &e.strings;
            PyTuple::new(
                py,
                [
                    e.started_at.into_pyobject(py)?.into_any(),
                    e.request_ended_at.into_pyobject(py)?.into_any(),
                    e.response_started_at.into_pyobject(py)?.into_any(),
                    e.ended_at.into_pyobject(py)?.into_any(),
                    s[0].as_deref().into_pyobject(py)?.into_any(),
                    s[1].as_deref().into_pyobject(py)?.into_any(),
                    s[2].as_deref().into_pyobject(py)?.into_any(),
                    s[3].as_deref().into_pyobject(py)?.into_any(),
                    s[4].as_deref().into_pyobject(py)?.into_any(),
                    e.request_body_fidelity.as_deref().into_pyobject(py)?.into_any(),
                    e.response_body_fidelity.as_deref().into_pyobject(py)?.into_any(),
                    times.into_pyobject(py)?.into_any(),
                    datas.into_pyobject(py)?.into_any(),
                ],
            )?
            .into_any()
        }
    };
    PyTuple::new(
        py,
        [
            lineno.into_pyobject(py)?.into_any(),
            offset.into_pyobject(py)?.into_any(),
            r.method.as_ref().into_pyobject(py)?.into_any(),
            r.url.as_ref().into_pyobject(py)?.into_any(),
            headers(py, &r.request_headers)?.into_any(),
            req_body.into_pyobject(py)?.into_any(),
            req_kind.into_pyobject(py)?.into_any(),
            response,
            r.timestamp.into_pyobject(py)?.into_any(),
            ext,
        ],
    )
}

/// The records of a traffic.jsonl file in order, blank lines skipped: for each line a 10-tuple
/// `(line number, byte offset, method, url, request headers, request body, request body kind,
/// response, timestamp, extension)` (see `_native.pyi`), or `(line number, byte offset, start,
/// end)` for a line to be read the Python way. The file is memory-mapped.
#[pyfunction]
fn jsonl_records<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyList>> {
    let shown = path.display().to_string();
    let out = PyList::empty(py);
    let Some(map) = jsonl::map_file(&path).map_err(|e| to_pyerr(py, e, Some(&shown)))? else {
        return Ok(out);
    };
    let data: &[u8] = &map;
    // Each line is converted as soon as it is parsed, so that the bodies it had to unescape are
    // freed at once: a file's unescaped bodies are never all held beside their Python copies.
    for (lineno, offset, line) in jsonl::lines(data) {
        if jsonl::is_blank(line) {
            continue;
        }
        match jsonl::parse_line(line) {
            Line::Record(r) => out.append(record(py, lineno, offset, &r)?)?,
            Line::Other => out.append((lineno, offset, offset, offset + line.len()))?,
        }
    }
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(jsonl_records, m)?)?;
    Ok(())
}
