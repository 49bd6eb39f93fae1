//! Compare inflating many small zlib streams: libdeflate vs zlib (flate2, reset per stream).
//!
//!     cargo run --release -p fastcap-core --example inflate_small -- FILE

use std::time::Instant;

use fastcap_core::cbor::decode::{Cursor, Value};
use fastcap_core::cbor::parse_header;

fn main() {
    let path = std::env::args().nth(1).expect("usage: inflate_small FILE");
    let buf = std::fs::read(path).expect("read");
    let h = parse_header(&buf).expect("header");
    let mut cur = Cursor::new(&buf, h.end);
    let mut streams = Vec::new();
    while !cur.at_end() {
        let v = cur.value().expect("entry");
        if v.get("enc").and_then(Value::as_text) == Some("zlib") {
            if let Some(Value::Bytes(b)) = v.get("data") {
                streams.push(b.clone());
            }
        }
    }
    let total: usize = streams.iter().map(Vec::len).sum();
    println!("{} streams, {} compressed bytes", streams.len(), total);
    let mut out = vec![0u8; 1 << 20];
    for round in 0..3 {
        let t = Instant::now();
        let mut d = libdeflater::Decompressor::new();
        let mut n = 0;
        for s in &streams {
            n += d.zlib_decompress(s, &mut out).expect("libdeflate");
        }
        let a = t.elapsed();
        let t = Instant::now();
        let mut z = flate2::Decompress::new(true);
        let mut m = 0;
        for s in &streams {
            z.reset(true);
            z.decompress(s, &mut out, flate2::FlushDecompress::Finish).expect("zlib");
            m += z.total_out() as usize;
        }
        let b = t.elapsed();
        println!("round {round}: libdeflate {:?} ({n} out), zlib {:?} ({m} out)", a, b);
    }
}
