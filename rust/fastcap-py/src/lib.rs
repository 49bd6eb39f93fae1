//! fastcap._native: the thin pyo3 binding of `fastcap-core`. Parsing and decoding live in the core;
//! this crate only converts arguments and results.
//!
//! Each submodule (`cbor`, `eventstream`, `sse`, `mitmlog`, `request`, `stream_events`,
//! `literals`) wraps the core module of the same name and registers its functions and classes
//! below. Tables leave through `arrow.rs` (the Arrow PyCapsule interface). Core errors are mapped
//! to Python exceptions in `errors.rs` only (`errors::to_pyerr`, with the `FormatError`
//! hierarchy); no other module builds them.

use pyo3::prelude::*;

mod arrow;
mod cbor;
mod errors;
mod eventstream;
mod har;
mod jsonl;
mod literals;
mod mitmlog;
mod request;
mod sse;
mod stream_events;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("build_profile", if cfg!(debug_assertions) { "debug" } else { "release" })?;
    errors::register(m)?;
    arrow::register(m)?;
    cbor::register(m)?;
    eventstream::register(m)?;
    har::register(m)?;
    jsonl::register(m)?;
    sse::register(m)?;
    mitmlog::register(m)?;
    request::register(m)?;
    literals::register(m)?;
    stream_events::register(m)?;
    Ok(())
}
