//! Profiling driver for the SSE whole-body paths (`perf record` on a pure-Rust binary).
//!
//! `cargo run --release --example sse_split -- BODIES_FILE [ITERATIONS] [split|column|extract|json]`,
//! where BODIES_FILE holds bodies as (u32 little-endian length, bytes) records, e.g. dumped from
//! `benches/bench_sse.py`'s `make_bodies`.

use std::time::Instant;

use arrow_buffer::Buffer;
use fastcap_core::sse::column::SseColumnBuilder;
use fastcap_core::sse::split_raw_with;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let raw = std::fs::read(&args[1]).expect("bodies file");
    let iters: usize = args.get(2).map_or(200, |s| s.parse().expect("iterations"));
    let mode = args.get(3).map_or("column", String::as_str);
    let mut bodies = Vec::new();
    let mut p = 0;
    while p + 4 <= raw.len() {
        let n = u32::from_le_bytes([raw[p], raw[p + 1], raw[p + 2], raw[p + 3]]) as usize;
        bodies.push(Buffer::from_vec(raw[p + 4..p + 4 + n].to_vec()));
        p += 4 + n;
    }
    let total: usize = bodies.iter().map(Buffer::len).sum();
    let datas: Vec<String> = if mode == "json" {
        bodies.iter().flat_map(|b| fastcap_core::sse::split(b).0.into_iter().map(|e| e.data)).collect()
    } else {
        Vec::new()
    };
    let mut best = f64::INFINITY;
    let mut rows = 0;
    for _ in 0..iters {
        let t = Instant::now();
        rows = match mode {
            "json" => datas
                .iter()
                .filter(|d| fastcap_core::sse::extract::extract(d).is_some_and(|x| x.text.is_some()))
                .count(),
            "split" => {
                let mut n = 0;
                for b in &bodies {
                    split_raw_with(b, &mut |_| n += 1);
                }
                n
            }
            _ => {
                let mut c = SseColumnBuilder::with_capacity(mode == "extract", total);
                for (i, b) in bodies.iter().enumerate() {
                    c.push_shared(i as u32, b, 0..b.len(), false).expect("push");
                }
                c.finish().expect("finish").num_rows()
            }
        };
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!(
        "{mode}: {} bodies, {:.1} MB, {rows} events, best {:.2} ms, {:.0} MB/s",
        bodies.len(),
        total as f64 / 1e6,
        best * 1e3,
        total as f64 / best / 1e6
    );
}
