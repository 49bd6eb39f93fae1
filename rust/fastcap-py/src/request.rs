//! Python binding of `fastcap_core::request`: `request_fields(payloads, *, column=None)`, one row
//! of identifying fields (model, session and conversation ids, stream flag) per request payload.

use fastcap_core::request::RequestFieldsBuilder;
use pyo3::prelude::*;

use crate::arrow::ArrowTable;
use crate::errors::to_pyerr;
use crate::sse::{for_each_body, import_bodies};

/// The fields of many request payloads (HTTP/1.x messages or JSON bodies; see
/// `fastcap_core::request` for the columns). Inputs as `sse_column`: a sequence of `bytes | None`
/// or an Arrow binary/string array or stream (`column` picks a table's column). One row per
/// input, a `None` input giving a row of nulls.
#[pyfunction]
#[pyo3(signature = (payloads, *, column=None))]
fn request_fields(py: Python<'_>, payloads: &Bound<'_, PyAny>, column: Option<&str>) -> PyResult<ArrowTable> {
    let payloads = import_bodies(payloads, column, "request_fields")?;
    let mut builder = RequestFieldsBuilder::new();
    for_each_body(py, &payloads, |_, payload| builder.push(payload.map(|b| b.bytes())))?;
    let table = py.allow_threads(|| builder.finish()).map_err(|e| to_pyerr(py, e, None))?;
    Ok(ArrowTable::new(table))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(request_fields, m)?)?;
    Ok(())
}
