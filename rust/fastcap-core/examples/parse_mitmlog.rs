//! Parse a mitmdump log with the core parser and print throughput (no Python involved), for
//! profiling with `perf`:
//!
//!     cargo run --release -p fastcap-core --example parse_mitmlog -- FILE [REPEAT]

use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(args.next().expect("usage: parse_mitmlog FILE [REPEAT]"));
    let repeat: usize = args.next().map(|s| s.parse().expect("REPEAT")).unwrap_or(20);
    let len = std::fs::metadata(&path).expect("stat").len() as f64;
    let mut best = f64::INFINITY;
    let mut total = 0.0;
    let mut rows = 0;
    // Keep the previous result alive while parsing the next, as a caller holding its table does:
    // otherwise the allocator hands back the pages just freed and page faults never show.
    let mut _prev = None;
    for _ in 0..repeat {
        let start = Instant::now();
        let parsed = fastcap_core::mitmlog::parse_file(&path).expect("parse");
        rows = parsed.table.num_rows();
        _prev = Some(parsed);
        let s = start.elapsed().as_secs_f64();
        best = best.min(s);
        total += s;
    }
    println!(
        "{rows} flows, best {:.0} MB/s, mean {:.0} MB/s over {repeat}",
        len / best / 1e6,
        len / (total / repeat as f64) / 1e6
    );
}
