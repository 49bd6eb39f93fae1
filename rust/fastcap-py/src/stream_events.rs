//! Python binding of `fastcap_core::stream_events`: `eventstream_events(bodies, *, column=None)`,
//! the frames of AWS EventStream bodies as a table with `sse_column`'s columns and then `credits`.

use fastcap_core::stream_events::EventStreamEventsBuilder;
use pyo3::prelude::*;

use crate::arrow::ArrowTable;
use crate::errors::to_pyerr;
use crate::sse::{for_each_body, import_bodies};

/// One events table for many EventStream bodies (inputs as `sse_column`); see
/// `fastcap_core::stream_events` for what fills each column. `None` bodies add no rows;
/// `exchange_index` is the body's position. Damaged bodies are decoded in resync mode.
#[pyfunction]
#[pyo3(signature = (bodies, *, column=None))]
fn eventstream_events(py: Python<'_>, bodies: &Bound<'_, PyAny>, column: Option<&str>) -> PyResult<ArrowTable> {
    let bodies = import_bodies(bodies, column, "eventstream_events")?;
    let mut builder = EventStreamEventsBuilder::new();
    for_each_body(py, &bodies, |idx, body| match body {
        Some(b) => builder.push_shared(idx, &b.owner, b.range.clone()),
        None => Ok(()),
    })?;
    let table = py.allow_threads(|| builder.finish()).map_err(|e| to_pyerr(py, e, None))?;
    Ok(ArrowTable::new(table))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(eventstream_events, m)?)?;
    Ok(())
}
