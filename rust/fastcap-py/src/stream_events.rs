//! Python binding of `fastcap_core::stream_events`: `eventstream_events(bodies, *, column=None)`,
//! the frames of AWS EventStream bodies as a table with exactly `sse_column`'s columns.

use fastcap_core::stream_events::EventStreamEventsBuilder;
use pyo3::prelude::*;

use crate::arrow::ArrowTable;
use crate::errors::to_pyerr;
use crate::sse::import_bodies;

/// Body bytes per GIL-free batch (signals are checked between batches).
const BATCH_BYTES: usize = 8 << 20;

/// One events table for many EventStream bodies (inputs as `sse_column`); see
/// `fastcap_core::stream_events` for what fills each column. `None` bodies add no rows;
/// `exchange_index` is the body's position. Damaged bodies are decoded in resync mode.
#[pyfunction]
#[pyo3(signature = (bodies, *, column=None))]
fn eventstream_events(py: Python<'_>, bodies: &Bound<'_, PyAny>, column: Option<&str>) -> PyResult<ArrowTable> {
    let bodies = import_bodies(bodies, column, "eventstream_events")?;
    let mut builder = EventStreamEventsBuilder::new();
    let mut i = 0usize;
    while i < bodies.len() {
        let mut j = i;
        let mut bytes = 0usize;
        while j < bodies.len() && (j == i || bytes < BATCH_BYTES) {
            bytes += bodies[j].as_ref().map_or(0, |b| b.range.len());
            j += 1;
        }
        let batch = &bodies[i..j];
        let start = i;
        py.allow_threads(|| -> fastcap_core::Result<()> {
            for (k, body) in batch.iter().enumerate() {
                let idx = u32::try_from(start + k).unwrap_or(u32::MAX);
                if let Some(b) = body {
                    builder.push_shared(idx, &b.owner, b.range.clone())?;
                }
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
    m.add_function(wrap_pyfunction!(eventstream_events, m)?)?;
    Ok(())
}
