//! fastcap._native: a thin pyo3 layer over `fastcap-core`.
//!
//! Each submodule registers its own functions and classes; errors are mapped to Python in
//! exactly one place (`errors.rs`), and tables leave through `arrow.rs`.

use pyo3::prelude::*;

mod arrow;
mod cbor;
mod errors;
mod eventstream;
mod mitmlog;
mod sse;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("build_profile", if cfg!(debug_assertions) { "debug" } else { "release" })?;
    errors::register(m)?;
    arrow::register(m)?;
    cbor::register(m)?;
    eventstream::register(m)?;
    sse::register(m)?;
    mitmlog::register(m)?;
    Ok(())
}
