//! Shared by the fuzz targets in `fuzz_targets/`: how an input chooses its chunking, the Arrow
//! checks every table goes through, and the serde reference of the SSE field extractor.
//!
//! Targets that feed a decoder incrementally read a 3-byte control header (see [`Control`]) and
//! take the rest of the input as the body; the seeds in `fuzz/seeds/` and the corpora that
//! `fuzz/seed.py` builds carry that header.

use arrow_array::{Array, RecordBatch};

pub mod extract_reference;

/// The 3-byte header of the chunked targets: `flags`, then a 16-bit seed for the chunk sizes.
/// Inputs shorter than 3 bytes have no header (flags 0, seed 0) and are all body.
pub struct Control<'a> {
    pub flags: u8,
    pub seed: u16,
    pub body: &'a [u8],
}

impl<'a> Control<'a> {
    pub fn parse(data: &'a [u8]) -> Self {
        match data {
            [flags, lo, hi, body @ ..] => Control { flags: *flags, seed: u16::from_le_bytes([*lo, *hi]), body },
            _ => Control { flags: 0, seed: 0, body: data },
        }
    }
}

/// Chunk sizes (each ≥ 1, summing to `len`) drawn from `seed`: runs of 1-byte chunks, small
/// chunks around the 12-byte EventStream prelude and the 2-byte CRLF, and larger ones, so that
/// every kind of boundary (inside a prelude, a CRC, a UTF-8 sequence, a CR LF pair) is hit.
pub fn chunk_sizes(len: usize, seed: u16) -> Vec<usize> {
    let mut state = u64::from(seed) ^ 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let mut sizes = Vec::new();
    let mut left = len;
    while left > 0 {
        let r = next();
        let size = match r % 8 {
            0..=2 => 1,
            3 | 4 => 1 + (r >> 8) as usize % 16,
            5 | 6 => 1 + (r >> 8) as usize % 128,
            _ => 1 + (r >> 8) as usize % 4096,
        };
        let size = size.min(left);
        sizes.push(size);
        left -= size;
    }
    sizes
}

/// Splits `body` at the given sizes.
pub fn chunks<'a>(body: &'a [u8], sizes: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::with_capacity(sizes.len());
    let mut at = 0;
    for &s in sizes {
        out.push(&body[at..at + s]);
        at += s;
    }
    out
}

/// Every column of `batch` passes Arrow's full validation (offsets and views within their
/// buffers, UTF-8 of string columns, null slots consistent): what pyarrow and Polars rely on when
/// they import the batch through the C interface.
pub fn validate_batch(what: &str, batch: &RecordBatch) {
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        assert_eq!(column.len(), batch.num_rows(), "{what}: column {} length", field.name());
        if let Err(e) = column.to_data().validate_full() {
            panic!("{what}: column {} fails Arrow validation: {e}", field.name());
        }
        if !field.is_nullable() {
            assert_eq!(column.null_count(), 0, "{what}: non-nullable column {} has nulls", field.name());
        }
    }
}

/// Known open findings: defects the targets have found that are not fixed yet. So that fuzzing
/// goes on past them, a target steps around the inputs that show one (or relaxes the one check it
/// breaks) unless `FASTCAP_FUZZ_STRICT=1` is set; each step-around names its finding, and goes
/// when the fix lands. The regression inputs of open findings are listed in
/// `fuzz/regressions/known-open.txt`, and `fuzz/run.sh` replays them in strict mode, expecting
/// them to fail until fixed.
pub fn strict() -> bool {
    static STRICT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *STRICT.get_or_init(|| std::env::var_os("FASTCAP_FUZZ_STRICT").is_some_and(|v| v == "1"))
}
