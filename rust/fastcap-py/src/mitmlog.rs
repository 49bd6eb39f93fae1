//! Python face of the mitmdump text-log parser (`fastcap_core::mitmlog`).

use std::path::PathBuf;

use fastcap_core::mitmlog::{self, LogInfo, ParsedLog};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};

use crate::arrow::ArrowTable;
use crate::errors::to_pyerr;

fn info_dict<'py>(py: Python<'py>, info: &LogInfo) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("flows", info.flows)?;
    d.set_item("lines", info.lines)?;
    d.set_item("other_lines", info.other_lines)?;
    d.set_item("first_other_offset", info.first_other_offset)?;
    d.set_item("version", info.version)?;
    d.set_item("version_certain", info.version_certain)?;
    d.set_item("evidence_11", info.evidence_11.clone())?;
    d.set_item("evidence_12", info.evidence_12.clone())?;
    d.set_item("had_ansi", info.had_ansi)?;
    d.set_item("lossy_utf8", info.lossy_utf8)?;
    d.set_item("trailing_log", info.trailing_log.clone())?;
    let msgs = PyList::empty(py);
    for m in &info.messages {
        let md = PyDict::new(py);
        md.set_item("flow_index", m.flow_index)?;
        md.set_item("offset", m.offset)?;
        md.set_item("client", &m.client)?;
        md.set_item("from_client", m.from_client)?;
        md.set_item("kind", &m.kind)?;
        md.set_item("target", &m.target)?;
        match &m.body {
            Some(b) => {
                md.set_item("text", &b.text)?;
                md.set_item("flags", b.flags)?;
                md.set_item("bytes", b.bytes.as_ref().map(|x| PyBytes::new(py, x)))?;
            }
            None => {
                md.set_item("text", py.None())?;
                md.set_item("flags", 0)?;
                md.set_item("bytes", py.None())?;
            }
        }
        msgs.append(md)?;
    }
    d.set_item("messages", msgs)?;
    Ok(d)
}

fn output<'py>(py: Python<'py>, parsed: ParsedLog) -> PyResult<(ArrowTable, Bound<'py, PyDict>)> {
    let info = info_dict(py, &parsed.info)?;
    Ok((ArrowTable::new(parsed.table), info))
}

/// Parse a mitmdump `flow_detail` log file (memory-mapped; the GIL is released while parsing).
/// Returns `(flows table, info dict)`. String columns are `Utf8View`/`BinaryView` whose values
/// mostly point into the mapped file, which the table keeps open.
#[pyfunction]
fn parse_mitmlog<'py>(py: Python<'py>, path: PathBuf) -> PyResult<(ArrowTable, Bound<'py, PyDict>)> {
    let shown = path.display().to_string();
    let parsed = py.allow_threads(|| mitmlog::parse_file(&path)).map_err(|e| to_pyerr(py, e, Some(&shown)))?;
    output(py, parsed)
}

/// Parse a mitmdump log held in memory (bytes). Same result as `parse_mitmlog`.
#[pyfunction]
fn parse_mitmlog_bytes<'py>(py: Python<'py>, data: &[u8]) -> PyResult<(ArrowTable, Bound<'py, PyDict>)> {
    let parsed = py.allow_threads(|| mitmlog::parse_bytes(data)).map_err(|e| to_pyerr(py, e, None))?;
    output(py, parsed)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(parse_mitmlog, m)?)?;
    m.add_function(wrap_pyfunction!(parse_mitmlog_bytes, m)?)?;
    let flags = PyDict::new(m.py());
    flags.set_item("cut_off", mitmlog::BODY_CUT_OFF)?;
    flags.set_item("missing_12", mitmlog::BODY_MISSING_12)?;
    flags.set_item("missing_11", mitmlog::BODY_MISSING_11)?;
    flags.set_item("hexdump", mitmlog::BODY_HEXDUMP)?;
    flags.set_item("has_escape", mitmlog::BODY_HAS_ESCAPE)?;
    flags.set_item("has_replacement", mitmlog::BODY_HAS_REPLACEMENT)?;
    flags.set_item("crlf", mitmlog::BODY_CRLF)?;
    flags.set_item("blank_run", mitmlog::BODY_BLANK_RUN)?;
    m.add("MITMLOG_BODY_FLAGS", flags)?;
    Ok(())
}
