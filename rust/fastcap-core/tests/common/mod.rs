//! Shared by the integration tests: where the repository's test data lives (`tests/data/` at the
//! repository root, origins in its `SOURCES.md`), found from this crate's manifest directory.

use std::path::PathBuf;

/// `tests/data/<sub>` of the repository.
pub fn test_data(sub: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data").join(sub)
}
