//! fastcap-core: the pure-Rust hot paths of fastcap.
//!
//! Nothing here depends on Python; `cargo test -p fastcap-core` exercises it all.
//! The pyo3 binding (`rust/fastcap-py`) is a thin layer over these modules.

pub mod arrow_util;
pub mod cbor;
pub mod error;
pub mod eventstream;
pub mod mitmlog;
pub mod sse;

pub use error::{Error, FormatError, Result};
