//! The single place where core errors become Python exceptions.
//!
//! `FormatError` (a `ValueError`) is the base of every "this input is malformed" error; each
//! input format has its own subclass. Every instance carries `kind`, `offset` and `path`.

use fastcap_core::error::{Error, Format};
use pyo3::exceptions::{
    PyFileNotFoundError, PyKeyboardInterrupt, PyOSError, PyPermissionError, PyRuntimeError, PyValueError,
};
use pyo3::prelude::*;

pyo3::create_exception!(fastcap._native, FormatError, PyValueError, "Malformed input (base class).");
pyo3::create_exception!(fastcap._native, CaptureFormatError, FormatError, "Malformed CBOR V2 capture.");
pyo3::create_exception!(fastcap._native, EventStreamError, FormatError, "Malformed AWS EventStream body.");
pyo3::create_exception!(fastcap._native, SseError, FormatError, "Malformed SSE body.");
pyo3::create_exception!(fastcap._native, MitmLogError, FormatError, "Malformed mitmdump text log.");
pyo3::create_exception!(fastcap._native, FlowFileError, FormatError, "Malformed mitmproxy flow file.");

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("FormatError", py.get_type::<FormatError>())?;
    m.add("CaptureFormatError", py.get_type::<CaptureFormatError>())?;
    m.add("EventStreamError", py.get_type::<EventStreamError>())?;
    m.add("SseError", py.get_type::<SseError>())?;
    m.add("MitmLogError", py.get_type::<MitmLogError>())?;
    m.add("FlowFileError", py.get_type::<FlowFileError>())?;
    Ok(())
}

/// Convert a core error into the matching Python exception. `path` names the file, when there is one.
pub fn to_pyerr(py: Python<'_>, err: Error, path: Option<&str>) -> PyErr {
    match err {
        Error::Io(e) => {
            let msg = match path {
                Some(p) => format!("{p}: {e}"),
                None => e.to_string(),
            };
            match e.kind() {
                std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(msg),
                std::io::ErrorKind::PermissionDenied => PyPermissionError::new_err(msg),
                _ => PyOSError::new_err(msg),
            }
        }
        Error::Interrupted => PyKeyboardInterrupt::new_err("interrupted"),
        Error::Arrow(e) => PyRuntimeError::new_err(format!("arrow: {e}")),
        Error::Format(fe) => {
            let prefix = path.map(|p| format!("{p}: ")).unwrap_or_default();
            let msg = format!("{prefix}byte {}: {}", fe.offset, fe.message);
            let exc = match fe.format {
                Format::CborCapture => CaptureFormatError::new_err(msg),
                Format::EventStream => EventStreamError::new_err(msg),
                Format::Sse => SseError::new_err(msg),
                Format::MitmLog => MitmLogError::new_err(msg),
                Format::Tnetstring => FlowFileError::new_err(msg),
            };
            let value = exc.value(py);
            let _ = value.setattr("kind", fe.kind);
            let _ = value.setattr("offset", fe.offset);
            let _ = value.setattr("path", path);
            exc
        }
    }
}
