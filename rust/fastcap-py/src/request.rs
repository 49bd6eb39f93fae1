//! Python binding of `fastcap_core::request`: `request_fields(payloads, *, column=None)`, one row
//! of identifying fields (model, session and conversation ids, stream flag) per request payload.

use fastcap_core::request::RequestFieldsBuilder;
use pyo3::prelude::*;

use crate::arrow::ArrowTable;
use crate::errors::to_pyerr;
use crate::sse::import_bodies;

/// Payload bytes per GIL-free batch (signals are checked between batches).
const BATCH_BYTES: usize = 8 << 20;

/// The fields of many request payloads (HTTP/1.x messages or JSON bodies; see
/// `fastcap_core::request` for the columns). Inputs as `sse_column`: a sequence of `bytes | None`
/// or an Arrow binary/string array or stream (`column` picks a table's column). One row per
/// input, a `None` input giving a row of nulls.
#[pyfunction]
#[pyo3(signature = (payloads, *, column=None))]
fn request_fields(py: Python<'_>, payloads: &Bound<'_, PyAny>, column: Option<&str>) -> PyResult<ArrowTable> {
    let payloads = import_bodies(payloads, column, "request_fields")?;
    let mut builder = RequestFieldsBuilder::new();
    let mut i = 0usize;
    while i < payloads.len() {
        let mut j = i;
        let mut bytes = 0usize;
        while j < payloads.len() && (j == i || bytes < BATCH_BYTES) {
            bytes += payloads[j].as_ref().map_or(0, |b| b.range.len());
            j += 1;
        }
        let batch = &payloads[i..j];
        py.allow_threads(|| -> fastcap_core::Result<()> {
            for p in batch {
                builder.push(p.as_ref().map(|b| b.bytes()))?;
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
    m.add_function(wrap_pyfunction!(request_fields, m)?)?;
    Ok(())
}
