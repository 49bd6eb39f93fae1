//! The mitmdump console-log parser (`fastcap_core::mitmlog::parse_bytes`) on arbitrary bytes.
//!
//! Invariants:
//! * no panic;
//! * an error carries an offset within the input;
//! * every offset the result reports (each flow's `offset` and `line`, the first unclassified
//!   line, each WebSocket/TCP message line) is within the input, at the start of a line, and a
//!   flow's `offset` on its `line`, even when the log is not valid UTF-8 and was parsed after
//!   repair (F-MITMLOG-OFFSET); flows in input order;
//! * the flows table validates as Arrow (its strings are views into the input and an arena).
#![no_main]

use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use fastcap_core::error::Error;
use fastcap_core::mitmlog::parse_bytes;
use fastcap_fuzz::validate_batch;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let len = data.len() as u64;
    let starts = line_starts(data);
    let parsed = match parse_bytes(data) {
        Ok(p) => p,
        Err(Error::Format(e)) => {
            assert!(e.offset <= len, "error offset {} past the input ({} bytes)", e.offset, data.len());
            return;
        }
        Err(e) => panic!("not a format error: {e}"),
    };
    let info = &parsed.info;
    let lines = bytecount_lines(data);
    assert!(info.lines <= lines + 1, "{} lines counted in a log of {} line breaks", info.lines, lines);
    if let Some(o) = info.first_other_offset {
        assert!(o < len, "first unclassified line at {o}, past the input ({len})");
        line_of(&starts, o).unwrap_or_else(|| panic!("first unclassified line at {o}, not a line start"));
    }
    for m in &info.messages {
        assert!(m.offset < len, "message line at {}, past the input ({len})", m.offset);
        line_of(&starts, m.offset).unwrap_or_else(|| panic!("message line at {}, not a line start", m.offset));
        if let Some(f) = m.flow_index {
            assert!(u64::from(f) < info.flows, "message of flow {f}, of {} flows", info.flows);
        }
    }
    let mut rows = 0u64;
    let mut last: Option<(u64, u64)> = None;
    for b in &parsed.table.batches {
        validate_batch("mitmlog flows", b);
        let off = b.column_by_name("offset").unwrap().as_primitive::<UInt64Type>();
        let line = b.column_by_name("line").unwrap().as_primitive::<UInt64Type>();
        for r in 0..b.num_rows() {
            let (o, l) = (off.value(r), line.value(r));
            assert!(o < len, "flow at {o}, past the input ({len})");
            assert!(l <= lines + 1, "flow on line {l} of a log of {lines} line breaks");
            assert_eq!(line_of(&starts, o), Some(l), "flow at byte {o} said to be on line {l}");
            if let Some((po, pl)) = last {
                assert!(o > po && l > pl, "flows out of order: ({po}, line {pl}) then ({o}, line {l})");
            }
            last = Some((o, l));
            rows += 1;
        }
    }
    assert_eq!(rows, info.flows, "the table has {rows} flows, the log info {}", info.flows);
});

/// The offset of the start of each line: 0, and each byte after a line feed.
fn line_starts(data: &[u8]) -> Vec<u64> {
    std::iter::once(0).chain(data.iter().enumerate().filter(|(_, &b)| b == b'\n').map(|(i, _)| i as u64 + 1)).collect()
}

/// The number (from 1) of the line starting at `offset`; `None` when no line starts there.
fn line_of(starts: &[u64], offset: u64) -> Option<u64> {
    starts.binary_search(&offset).ok().map(|i| i as u64 + 1)
}

fn bytecount_lines(data: &[u8]) -> u64 {
    data.iter().filter(|&&b| b == b'\n').count() as u64
}
