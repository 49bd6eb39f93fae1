//! Batch memory reused across batch sizes (issue 11). A test binary of its own: the pool of batch
//! mappings is per process and holds four, taken by whichever batches drop first, so other tests
//! reading captures in parallel would decide what this one reuses.

use arrow_array::RecordBatch;
use fastcap_core::cbor::decode::Value;
use fastcap_core::cbor::writer::{encode_entry, encode_header};
use fastcap_core::cbor::{EntryReader, ReadOptions};

fn read(file: &[u8], rows: usize) -> Vec<RecordBatch> {
    let mut r = EntryReader::new(file.to_vec(), ReadOptions { batch_rows: rows, ..Default::default() }).unwrap();
    let mut out = Vec::new();
    while let Some(b) = r.next_batch() {
        out.push(b);
    }
    assert!(r.diagnostics.is_empty(), "{:?}", r.diagnostics);
    out
}

#[test]
fn a_larger_batch_reusing_a_smaller_ones_memory_passes_full_validation() {
    // Batches of 46 to 52 rows map the same length (36,864 bytes with the 44 metadata columns of
    // today), but the zeros region that unused columns are read from is 768 bytes up to 48 rows and
    // 832 from 49. A 49-row batch on a 46-row batch's mapping read the start of its columns (the
    // `ts` values) as the views of its null slots, and Arrow's full validation refused them.
    // (If the column layout changes, pick sizes that share a mapping length again.)
    let mut f = encode_header("pool", 1.0, None);
    for seq in 0..3000u64 {
        let meta = if seq % 7 == 0 { vec![("mod".to_owned(), Value::Text(format!("model-{seq:06}")))] } else { vec![] };
        let ts = 1_700_000_000.0 + seq as f64;
        f.extend(encode_entry(ts, (seq % 4) as u8, seq, format!("payload {seq:08}").as_bytes(), &meta, false));
    }
    for rows in [46, 52, 46, 49, 48, 51, 47, 50] {
        let batches = read(&f, rows);
        assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 3000);
        for b in &batches {
            for (field, c) in b.schema().fields().iter().zip(b.columns()) {
                c.to_data().validate_full().unwrap_or_else(|e| panic!("{rows} rows, column {}: {e}", field.name()));
            }
        }
    }
}
