//! LLMPROXY-CAPTURE-V2: the CBOR wire-capture format (see `docs/specs/cbor-v2.md`).

pub mod assemble;
mod columns;
pub mod decode;
pub mod meta;
pub mod reader;
pub mod writer;

use std::fs::File;
use std::path::Path;

use memmap2::Mmap;

pub use reader::{parse_header, Diagnostic, EntryReader, Header, ReadOptions};

/// File bytes: memory-mapped, or owned when mapping is impossible (empty files, pipes).
pub enum Source {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl AsRef<[u8]> for Source {
    fn as_ref(&self) -> &[u8] {
        match self {
            Source::Mapped(m) => m,
            Source::Owned(v) => v,
        }
    }
}

impl From<Vec<u8>> for Source {
    fn from(v: Vec<u8>) -> Self {
        Source::Owned(v)
    }
}

/// Files above this size are not pre-faulted, and the pages of entries already decoded are
/// released as reading goes on, so memory stays flat however large the capture. At 256 MiB (the
/// first value) a 250 MB capture kept its whole file resident through `fastcap analyze` (615 MB
/// peak against 396 MB now, for about 10 % more time spent faulting pages in).
pub const LARGE_FILE: u64 = 32 << 20;

impl Source {
    /// Drop the pages of `[offset, offset + len)` from this process's resident set (large mapped
    /// files only). They stay valid: a later access re-reads them from the page cache.
    pub fn release(&self, offset: usize, len: usize) {
        #[cfg(unix)]
        if let Source::Mapped(m) = self {
            if m.len() as u64 >= LARGE_FILE && len > 0 {
                // Page-align the start; the range is clamped to the map.
                let page = 4096;
                let start = offset / page * page;
                let end = (offset + len).min(m.len());
                // SAFETY: the map is a read-only private file mapping: MADV_DONTNEED only drops
                // our copies of the pages; their content is re-read from the file on access.
                let _ = unsafe { m.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start) };
            }
        }
        let _ = (offset, len);
    }

    /// Map a file read-only. Mapping keeps memory flat: pages are file-backed and evictable.
    pub fn open(path: &Path) -> std::io::Result<Source> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Err(std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a directory"));
        }
        if meta.len() == 0 || !meta.is_file() {
            let mut v = Vec::new();
            std::io::Read::read_to_end(&mut &file, &mut v)?;
            return Ok(Source::Owned(v));
        }
        // Pre-fault small and medium files in one go (cheaper than a page fault per 4 KiB);
        // large ones rely on sequential read-ahead so memory stays flat.
        let mut opts = memmap2::MmapOptions::new();
        if meta.len() < LARGE_FILE {
            opts.populate();
        }
        // SAFETY: the map is read-only and nothing in this process writes the file. A capture
        // being written concurrently is only appended to, which leaves the mapped bytes as they
        // are, and the map's length is the one observed at map time, so nothing reads the growing
        // tail. (Another process truncating or rewriting the file is the usual mmap caveat.)
        let map = unsafe { opts.map(&file)? };
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(Source::Mapped(map))
    }
}
