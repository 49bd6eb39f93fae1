//! Python binding of `fastcap_core::literals`: `LiteralSet(literals)`, whose `present(text)` gives
//! the indices of the literals that occur in a `str` or `bytes`, ASCII case-insensitively; and of
//! `fastcap_core::b64scan`: `b64_candidate_runs(data, first)` and `b64_decoded_texts(run)`.

use fastcap_core::{b64scan, literals};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

/// Runs `f` on the bytes of a `str` (its UTF-8) or `bytes` haystack, without the GIL.
fn on_haystack<R: Send>(text: &Bound<'_, PyAny>, f: impl FnOnce(&[u8]) -> R + Send) -> PyResult<R> {
    let py = text.py();
    if let Ok(s) = text.downcast::<PyString>() {
        let hay = s.to_str()?.as_bytes();
        Ok(py.allow_threads(|| f(hay)))
    } else if let Ok(b) = text.downcast::<PyBytes>() {
        let hay = b.as_bytes();
        Ok(py.allow_threads(|| f(hay)))
    } else {
        Err(PyTypeError::new_err("LiteralSet: expected str or bytes"))
    }
}

/// A fixed set of ASCII literals searched for in one pass (Aho-Corasick).
#[pyclass(frozen, module = "fastcap._native")]
struct LiteralSet {
    inner: literals::LiteralSet,
}

#[pymethods]
impl LiteralSet {
    #[new]
    fn new(literals: Vec<String>) -> PyResult<Self> {
        if let Some(bad) = literals.iter().find(|l| !l.is_ascii()) {
            return Err(PyValueError::new_err(format!("LiteralSet: literal {bad:?} is not ASCII")));
        }
        literals::LiteralSet::new(&literals)
            .map(|inner| Self { inner })
            .ok_or_else(|| PyValueError::new_err("LiteralSet: too many or too long literals"))
    }

    /// The indices of the literals found in `text`, ascending.
    fn present(&self, text: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
        on_haystack(text, |hay| self.inner.present(hay))
    }

    /// Whether any literal occurs in `text`.
    fn any_in(&self, text: &Bound<'_, PyAny>) -> PyResult<bool> {
        on_haystack(text, |hay| self.inner.any_in(hay))
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }
}

/// (start, end) of the base64 runs of `data` whose decoding may hold a secret (see
/// `fastcap_core::b64scan`); with `first`, at most one.
#[pyfunction]
#[pyo3(signature = (data, first=false))]
fn b64_candidate_runs(py: Python<'_>, data: &[u8], first: bool) -> Vec<(usize, usize)> {
    py.allow_threads(|| b64scan::candidate_runs(data, first))
}

/// The texts one base64 run decodes to where a secret may hide (see
/// `fastcap_core::b64scan::decoded_texts`).
#[pyfunction]
fn b64_decoded_texts(py: Python<'_>, run: &[u8]) -> Vec<String> {
    py.allow_threads(|| b64scan::decoded_texts(run))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<LiteralSet>()?;
    m.add_function(wrap_pyfunction!(b64_candidate_runs, m)?)?;
    m.add_function(wrap_pyfunction!(b64_decoded_texts, m)?)?;
    Ok(())
}
