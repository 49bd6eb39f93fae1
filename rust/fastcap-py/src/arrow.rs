//! Export of core tables through the Arrow PyCapsule interface (`__arrow_c_stream__`), so
//! `polars.DataFrame(obj)` and `pyarrow.table(obj)` consume them without a Python object per row.

use std::ffi::CString;

use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use fastcap_core::arrow_util::Table;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;

/// An immutable Arrow table produced by the native core.
#[pyclass(module = "fastcap._native", name = "ArrowTable", frozen)]
pub struct ArrowTable {
    table: Table,
}

impl ArrowTable {
    pub fn new(table: Table) -> Self {
        ArrowTable { table }
    }

    pub fn table(&self) -> &Table {
        &self.table
    }
}

#[pymethods]
impl ArrowTable {
    #[getter]
    fn num_rows(&self) -> usize {
        self.table.num_rows()
    }

    #[getter]
    fn column_names(&self) -> Vec<String> {
        self.table.schema.fields().iter().map(|f| f.name().clone()).collect()
    }

    fn __len__(&self) -> usize {
        self.table.num_rows()
    }

    /// A table of only these columns, sharing their buffers. Exporting a projection (rather than
    /// selecting after import) matters for memory: a consumer that keeps one imported column
    /// alive keeps the whole exported batch alive, payload buffers included.
    fn select(&self, columns: Vec<String>) -> PyResult<ArrowTable> {
        let indices = columns
            .iter()
            .map(|c| {
                self.table
                    .schema
                    .index_of(c)
                    .map_err(|_| pyo3::exceptions::PyKeyError::new_err(format!("no column {c:?}")))
            })
            .collect::<PyResult<Vec<usize>>>()?;
        let schema = std::sync::Arc::new(
            self.table.schema.project(&indices).map_err(|e| PyRuntimeError::new_err(e.to_string()))?,
        );
        let batches = self
            .table
            .batches
            .iter()
            .map(|b| b.project(&indices).map_err(|e| PyRuntimeError::new_err(e.to_string())))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(ArrowTable::new(Table::new(schema, batches)))
    }

    /// Arrow PyCapsule stream export. `requested_schema` is accepted and ignored (we only
    /// ever offer our own schema, which consumers may cast).
    #[pyo3(signature = (requested_schema=None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let stream = FFI_ArrowArrayStream::new(self.table.clone().into_reader());
        let name = CString::new("arrow_array_stream").map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
        PyCapsule::new(py, stream, Some(name))
    }

    fn __repr__(&self) -> String {
        format!("<ArrowTable rows={} columns={:?}>", self.table.num_rows(), self.column_names())
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<ArrowTable>()?;
    Ok(())
}
