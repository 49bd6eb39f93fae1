//! Small helpers shared by every module that hands columns to Python as Arrow.

use std::sync::Arc;

use arrow_array::{RecordBatch, RecordBatchIterator, RecordBatchReader};
use arrow_schema::{ArrowError, SchemaRef};

/// A finished set of record batches with their schema: what the binding exports through the
/// Arrow C stream interface (`__arrow_c_stream__`).
#[derive(Debug, Clone)]
pub struct Table {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

impl Table {
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> Self {
        Table { schema, batches }
    }

    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }

    /// A reader over the batches, for `FFI_ArrowArrayStream::new`.
    pub fn into_reader(self) -> Box<dyn RecordBatchReader + Send> {
        let schema = Arc::clone(&self.schema);
        Box::new(RecordBatchIterator::new(self.batches.into_iter().map(Ok::<_, ArrowError>), schema))
    }
}
