//! Read a CBOR V2 capture with the core reader and print throughput (no Python involved).
//!
//!     cargo run --release -p fastcap-core --example read_capture -- FILE [--no-decompress] [--sequential]

use std::path::PathBuf;
use std::time::Instant;

use fastcap_core::cbor::{EntryReader, ReadOptions, Source};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(args.next().expect("usage: read_capture FILE [--no-decompress] [--sequential]"));
    let flags: Vec<String> = args.collect();
    let decompress = !flags.iter().any(|f| f == "--no-decompress");
    let sequential = flags.iter().any(|f| f == "--sequential");
    let source = Source::open(&path).expect("open");
    let len = source.as_ref().len();
    let start = Instant::now();
    let mut reader = EntryReader::new(source, ReadOptions { decompress, ..Default::default() }).expect("header");
    let mut rows = 0;
    let mut kept = Vec::new();
    while !reader.is_done() {
        let batches = if sequential { reader.next_batch().into_iter().collect() } else { reader.next_round(64 << 20) };
        for batch in batches {
            rows += batch.num_rows();
            // Keep the batches, as a reader into a DataFrame does.
            kept.push(batch);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!("{rows} entries, {:.0} MB/s, {} diagnostics", len as f64 / secs / 1e6, reader.diagnostics.len());
}
