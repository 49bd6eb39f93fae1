//! The CBOR V2 capture reader (`fastcap_core::cbor::EntryReader`) and the body assembler the
//! Python reader feeds its batches to, on arbitrary bytes read as a capture file.
//!
//! Invariants:
//! * no panic, no stack overflow, no allocation over the `-malloc_limit_mb` given by the runner,
//!   peak RSS under `-rss_limit_mb` (decompression bombs);
//! * inflation stays within the limits of `docs/limits.md`: no payload inflated past
//!   `max_entry_inflated`, all of them together within `max_inflate_ratio` times the file size
//!   plus `max_entry_inflated` (the defaults, or 4 KiB and 2 when bit 2 of the last byte is set);
//! * a header error and every diagnostic carry an offset within the input (and a skipped range
//!   that ends within it);
//! * rows come in file order: `file_index` and `offset` strictly increasing, offsets inside the
//!   entries part of the file; `data_len` is the length of `data`;
//! * every batch passes Arrow's full validation (views, UTF-8, nullability);
//! * batching does not change the result: the same rows and diagnostics with 256 rows per batch
//!   and with 1 to 4 rows per batch (the pooled batch memory is reused between batches), for
//!   inputs up to 4 KiB and one larger input in four (`small_batch_read`);
//! * strict mode stops at its first fatal fault, and what it read before is a prefix of what
//!   `--recover` reads;
//! * the assembled bodies are consistent (chunk ends increasing up to the body length, one time
//!   per chunk) and their table validates.
#![no_main]

use arrow_array::cast::AsArray;
use arrow_array::types::UInt64Type;
use arrow_array::{Array, RecordBatch};
use arrow_select::concat::concat_batches;
use fastcap_core::cbor::assemble::{bodies_table, BodyAssembler};
use fastcap_core::cbor::{Diagnostic, EntryReader, ReadOptions};
use fastcap_fuzz::validate_batch;
use libfuzzer_sys::fuzz_target;

struct Read {
    batches: Vec<RecordBatch>,
    diagnostics: Vec<Diagnostic>,
    header_end: usize,
    opts: ReadOptions,
}

/// The inflate limits of a read: the defaults, or (bit 2 of the input's last byte) small ones, so
/// that fuzzed inputs reach them (a 16 KiB input inflates to 16 MiB at most).
fn limits(data: &[u8]) -> (usize, u32) {
    let d = ReadOptions::default();
    match data.last() {
        Some(b) if b & 4 != 0 => (4096, 2),
        _ => (d.max_entry_inflated, d.max_inflate_ratio),
    }
}

fn read(data: &[u8], recover: bool, batch_rows: usize) -> Option<Read> {
    let (max_entry_inflated, max_inflate_ratio) = limits(data);
    let opts = ReadOptions { recover, batch_rows, max_entry_inflated, max_inflate_ratio, ..ReadOptions::default() };
    let mut reader = match EntryReader::new(data.to_vec(), opts) {
        Ok(r) => r,
        Err(e) => {
            assert!(e.offset <= data.len() as u64, "header error offset {} past the input ({})", e.offset, data.len());
            assert!(!e.message.is_empty() && !e.kind.is_empty(), "header error without kind or message: {e:?}");
            return None;
        }
    };
    let header_end = reader.header.end;
    assert!(header_end <= data.len(), "header ends at {header_end}, past the input ({})", data.len());
    let mut batches = Vec::new();
    while let Some(b) = reader.next_batch() {
        assert!(b.num_rows() > 0, "empty batch");
        assert!(b.num_rows() <= batch_rows, "batch of {} rows, asked for {batch_rows}", b.num_rows());
        validate_batch("entries", &b);
        batches.push(b);
    }
    assert!(reader.is_done(), "next_batch returned None before the end");
    Some(Read { batches, diagnostics: std::mem::take(&mut reader.diagnostics), header_end, opts })
}

fn check_read(data: &[u8], r: &Read, recover: bool) {
    let len = data.len() as u64;
    for d in &r.diagnostics {
        assert!(d.offset <= len, "diagnostic offset past the input ({len}): {d:?}");
        assert!(d.offset >= r.header_end as u64, "diagnostic before the first entry ({}): {d:?}", r.header_end);
        if let Some(n) = d.bytes {
            assert!(d.offset.checked_add(n).is_some_and(|end| end <= len), "diagnostic range past the input: {d:?}");
        }
        assert!(!d.message.is_empty(), "diagnostic without message: {d:?}");
    }
    let fatal: Vec<_> = r.diagnostics.iter().filter(|d| d.is_fatal()).collect();
    if !recover {
        assert!(fatal.len() <= 1, "strict read went on after a fatal fault: {fatal:?}");
    }
    let mut last: Option<(u64, u64)> = None;
    let mut inflated_total = 0u64;
    for b in &r.batches {
        let compressed = b.column_by_name("compressed").unwrap().as_boolean();
        let problems = b.column_by_name("problems").unwrap().as_string_view();
        let idx = b.column_by_name("file_index").unwrap().as_primitive::<UInt64Type>();
        let off = b.column_by_name("offset").unwrap().as_primitive::<UInt64Type>();
        let payload = b.column_by_name("data").unwrap().as_binary_view();
        let data_len = b.column_by_name("data_len").unwrap().as_primitive::<UInt64Type>();
        for row in 0..b.num_rows() {
            let (i, o) = (idx.value(row), off.value(row));
            assert!(
                o >= r.header_end as u64 && o < len,
                "row offset {o} outside the entries [{}, {len})",
                r.header_end
            );
            if let Some((pi, po)) = last {
                assert!(i > pi && o > po, "rows out of file order: ({pi}, {po}) then ({i}, {o})");
            }
            if let (false, Some(f)) = (recover, fatal.first()) {
                assert!(o < f.offset, "strict read returned an entry at {o}, after its fatal fault at {}", f.offset);
            }
            last = Some((i, o));
            assert_eq!(payload.is_valid(row), data_len.is_valid(row), "data and data_len disagree on null");
            if payload.is_valid(row) {
                assert_eq!(payload.value(row).len() as u64, data_len.value(row), "data_len is not the payload length");
            }
            // Inflation is bounded per entry and per file (docs/limits.md).
            let kept_compressed = problems.is_valid(row)
                && problems.value(row).split(',').any(|p| p == "inflate_limit" || p == "decompress_error");
            if compressed.value(row) && !kept_compressed && data_len.is_valid(row) {
                let n = data_len.value(row);
                assert!(
                    n <= r.opts.max_entry_inflated as u64,
                    "entry at {o} inflated to {n} bytes, over the limit of {}",
                    r.opts.max_entry_inflated
                );
                inflated_total += n;
            }
        }
    }
    let budget = len * u64::from(r.opts.max_inflate_ratio) + r.opts.max_entry_inflated as u64;
    assert!(
        inflated_total <= budget,
        "payloads inflated to {inflated_total} bytes in all, over the file's budget of {budget}"
    );
}

/// All the rows of a read as one batch (none when the read returned no rows).
fn concat(r: &Read) -> Option<RecordBatch> {
    let first = r.batches.first()?;
    Some(concat_batches(&first.schema(), &r.batches).expect("batches of one schema concatenate"))
}

/// The first `n` rows of `a` and `b` are equal, column by column (Arrow's logical equality);
/// `what` names the comparison in the failure message, which points at the first differing row.
fn same_rows(a: &RecordBatch, b: &RecordBatch, n: usize, what: &str) {
    for (i, field) in a.schema().fields().iter().enumerate() {
        let (x, y) = (a.column(i), b.column(i));
        if x.slice(0, n).to_data() != y.slice(0, n).to_data() {
            let row = (0..n).find(|&r| x.slice(r, 1).to_data() != y.slice(r, 1).to_data()).unwrap_or(n);
            panic!(
                "{what}: column {} differs at row {row}: {:?} vs {:?}",
                field.name(),
                x.slice(row, 1),
                y.slice(row, 1)
            );
        }
    }
}

fn assemble(r: &Read, dir: u8) {
    let mut asm = BodyAssembler::new(dir);
    let mut bodies = Vec::new();
    for b in &r.batches {
        bodies.extend(asm.feed(b));
    }
    bodies.extend(asm.close());
    for body in &bodies {
        assert_eq!(body.chunk_ends.len(), body.chunk_times.len(), "one time per chunk");
        assert!(body.chunk_ends.windows(2).all(|w| w[0] <= w[1]), "chunk ends decrease: {:?}", body.chunk_ends);
        assert_eq!(body.chunk_ends.last().copied(), Some(body.body.len() as u64), "last chunk end is the body length");
    }
    let table = bodies_table(bodies).expect("bodies table");
    for b in &table.batches {
        validate_batch("bodies", b);
    }
}

/// Whether this input also gets the third read, at 1 to 4 rows per batch (compared with the read
/// at 256): every input up to 4 KiB, and one larger input in four (those whose length is a
/// multiple of 4). That read, hundreds of tiny batches each through Arrow's full validation, cost
/// as much as the rest of the target together; the choice depends on the input alone, so that a
/// failing input fails again when replayed, and libFuzzer reaches both sides by changing lengths.
fn small_batch_read(data: &[u8]) -> bool {
    data.len() <= 4096 || data.len() % 4 == 0
}

fuzz_target!(|data: &[u8]| {
    // Batches of 256 rows: the batch memory is sized by the batch, and at the default 16,384 rows
    // every read of a fuzzed input set up ~10 MB (a third of the speed). Large regression inputs
    // read with the default.
    let rows = if data.len() > 64 << 10 { ReadOptions::default().batch_rows } else { 256 };
    let strict_read = read(data, false, rows);
    let recovered = read(data, true, rows);
    let (plain, recovered) = match (strict_read, recovered) {
        (None, None) => return,
        (Some(s), Some(r)) => (s, r),
        _ => panic!("the header is accepted in one mode and refused in the other"),
    };
    check_read(data, &plain, false);
    check_read(data, &recovered, true);

    // The large regression inputs (bombs) stop here: the checks below are for fuzzed inputs.
    if data.len() > 64 << 10 {
        assemble(&plain, 3);
        return;
    }
    let a = concat(&plain);
    let rows = a.as_ref().map_or(0, RecordBatch::num_rows);
    if small_batch_read(data) {
        let small = 1 + data.last().map_or(0, |b| usize::from(b % 4));
        let strict_small = read(data, false, small).expect("header accepted above");
        check_read(data, &strict_small, false);
        let b = concat(&strict_small);
        assert_eq!(rows, b.as_ref().map_or(0, RecordBatch::num_rows), "batch size {small} changes the number of rows");
        if let (Some(a), Some(b)) = (&a, &b) {
            same_rows(a, b, rows, &format!("batch size {small}"));
        }
        // F-CBOR-ORDER: a batch's inflation diagnostics came after the faults found scanning it.
        assert_eq!(plain.diagnostics, strict_small.diagnostics, "batch size {small} changes the diagnostics");
    }
    // In file order, whatever the batch size (F-CBOR-ORDER).
    for r in [&plain, &recovered] {
        let offsets: Vec<u64> = r.diagnostics.iter().map(|d| d.offset).collect();
        assert!(offsets.windows(2).all(|w| w[0] <= w[1]), "diagnostics not in file order: {:?}", r.diagnostics);
    }

    // What strict mode read is what recovery reads up to the same point.
    let c = concat(&recovered);
    let recovered_rows = c.as_ref().map_or(0, RecordBatch::num_rows);
    assert!(recovered_rows >= rows, "recovery read fewer rows ({recovered_rows}) than strict mode ({rows})");
    if let (Some(a), Some(c)) = (&a, &c) {
        same_rows(a, c, rows, "strict mode against recovery");
    }

    assemble(&plain, 3);
    assemble(&recovered, 1);
});
