//! The SSE JSON field extractor (`fastcap_core::sse::extract::extract`, a hand-written JSON
//! reader) against its serde reference (`fastcap_fuzz::extract_reference`: serde_json through
//! derived structs, then the same field rules), on arbitrary text read as one event's `data`.
//!
//! Invariants:
//! * no panic, no stack overflow (deep nesting in read and in skipped values);
//! * the two give the same result on every input: the same fields, the same integers, the same
//!   `json_error` (serde_json's grammar, recursion limit and duplicate-field rule included).
#![no_main]

use fastcap_core::sse::extract::extract;
use fastcap_fuzz::extract_reference::extract_reference;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Event data is text: the splitter decodes it (lossily) before extraction.
    let text = String::from_utf8_lossy(data);
    let fast = extract(&text);
    let reference = extract_reference(&text);
    assert!(fast == reference, "extract differs from the serde reference on {text:?}:\n fast      {fast:?}\n reference {reference:?}");
});
