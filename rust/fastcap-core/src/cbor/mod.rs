//! LLMPROXY-CAPTURE-V2: the CBOR wire-capture format (see `shared/specs/cbor-v2.md`).

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

impl Source {
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
        // SAFETY: the map is read-only; a capture being appended to concurrently only grows,
        // and we never read past the length observed at map time.
        // Pre-fault small and medium files in one go (cheaper than a page fault per 4 KiB);
        // large ones rely on sequential read-ahead so memory stays flat.
        let mut opts = memmap2::MmapOptions::new();
        if meta.len() <= (256 << 20) {
            opts.populate();
        }
        let map = unsafe { opts.map(&file)? };
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Sequential);
        Ok(Source::Mapped(map))
    }
}
