//! `stream_events` against the project's EventStream fixtures (`tests/data/eventstream/`): the
//! text, reasoning, tool names, stop reason and usage read from the events table equal the
//! fixtures' `expected.json` (made with botocore, independently of this crate).

mod common;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, RecordBatch};
use fastcap_core::stream_events::{eventstream_events, schema};
use serde_json::Value;

fn read(sub: &str, name: &str) -> Vec<u8> {
    std::fs::read(common::test_data("eventstream").join(sub).join(name)).unwrap()
}

fn expected(sub: &str) -> Value {
    serde_json::from_slice(&read(sub, "expected.json")).unwrap()
}

/// The one batch of a single body's events.
fn events(body: &[u8]) -> RecordBatch {
    let t = eventstream_events(&[Some(body)]).unwrap();
    assert_eq!(t.schema, schema());
    assert_eq!(t.batches.len(), 1);
    t.batches.into_iter().next().unwrap()
}

fn strs(b: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let c = b.column_by_name(name).unwrap();
    c.as_string::<i32>().iter().map(|v| v.map(str::to_owned)).collect()
}

fn joined(b: &RecordBatch, name: &str) -> String {
    strs(b, name).into_iter().flatten().collect()
}

fn last_int(b: &RecordBatch, name: &str) -> Option<i64> {
    let c = b.column_by_name(name).unwrap();
    let a = c.as_primitive::<Int64Type>();
    (0..a.len()).rev().find(|&i| a.is_valid(i)).map(|i| a.value(i))
}

#[test]
fn codewhisperer_fixtures() {
    let exp = expected("codewhisperer-shaped");
    for (name, want) in exp["files"].as_object().unwrap() {
        let body = read("codewhisperer-shaped", name);
        let b = events(&body);
        let types: Vec<Option<String>> =
            b.column_by_name("event_type").unwrap().as_string_view().iter().map(|v| v.map(str::to_owned)).collect();
        let want_types: Vec<Option<String>> =
            want["types"].as_array().unwrap().iter().map(|t| t.as_str().map(str::to_owned)).collect();
        assert_eq!(types, want_types, "{name}");
        assert_eq!(joined(&b, "text"), want["text"].as_str().unwrap(), "{name}");
        let names: Vec<String> = strs(&b, "tool_name").into_iter().flatten().collect();
        let want_names: Vec<&str> =
            want["tool_calls"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(names, want_names, "{name}");
        // The frames end where the complete frames end; a truncated tail adds no row.
        let end =
            b.column_by_name("byte_end").unwrap().as_primitive::<arrow_array::types::UInt64Type>().values().to_vec();
        let trailing = want["trailing_bytes"].as_u64().unwrap();
        assert_eq!(end.last().copied().unwrap_or(0), body.len() as u64 - trailing, "{name}");
    }
    let b = events(&read("codewhisperer-shaped", "reasoning_and_metadata.bin"));
    assert_eq!(joined(&b, "reasoning"), "Let me think about the request.");
    // kiro counts its prompt as the total: uncached 1200 + cache read 14000 + cache write 0.
    assert_eq!(
        ["input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"].map(|c| last_int(&b, c)),
        [Some(15200), Some(35), Some(14000), Some(0)]
    );
    let b = events(&read("codewhisperer-shaped", "exception_mid_stream.bin"));
    assert_eq!(strs(&b, "error_type")[1].as_deref(), Some("ThrottlingException"));
    assert_eq!(strs(&b, "error_message")[1].as_deref(), Some("Too many requests, please wait before trying again."));
}

#[test]
fn bedrock_converse_fixtures() {
    let exp = expected("bedrock-real");
    for (name, want) in exp["files"].as_object().unwrap() {
        let b = events(&read("bedrock-real", name));
        assert_eq!(b.num_rows() as u64, want["frame_count"].as_u64().unwrap(), "{name}");
        let blocks = want["content_blocks"].as_array().unwrap();
        assert_eq!(joined(&b, "text"), want["text"].as_str().unwrap(), "{name}");
        let reasoning: String = blocks.iter().filter_map(|x| x["reasoning_text"].as_str()).collect();
        assert_eq!(joined(&b, "reasoning"), reasoning, "{name}");
        let tools: Vec<&str> =
            blocks.iter().filter(|x| x["type"] == "toolUse").map(|x| x["name"].as_str().unwrap()).collect();
        assert_eq!(strs(&b, "tool_name").into_iter().flatten().collect::<Vec<_>>(), tools, "{name}");
        let args: String = blocks.iter().filter_map(|x| x["input"].as_str()).collect();
        if b.schema().index_of("tool_args").is_ok() {
            assert_eq!(joined(&b, "tool_args"), args, "{name}");
        }
        assert_eq!(
            strs(&b, "stop_reason").into_iter().flatten().last().as_deref(),
            want["stop_reason"].as_str(),
            "{name}"
        );
        let usage = &want["usage"];
        assert_eq!(last_int(&b, "input_tokens"), usage["inputTokens"].as_i64(), "{name}");
        assert_eq!(last_int(&b, "output_tokens"), usage["outputTokens"].as_i64(), "{name}");
        assert_eq!(
            strs(&b, "json_type"),
            b.column_by_name("event_type")
                .unwrap()
                .as_string_view()
                .iter()
                .map(|v| v.map(str::to_owned))
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn many_bodies_one_table() {
    let a = read("codewhisperer-shaped", "tool_calls.bin");
    let c = read("bedrock-real", "test_bedrock_model_stream.bin");
    let t = eventstream_events(&[Some(&a), None, Some(&c), Some(b"not an eventstream body")]).unwrap();
    assert_eq!(t.num_rows(), 10 + 33);
    let ex = t.batches[0]
        .column_by_name("exchange_index")
        .unwrap()
        .as_primitive::<arrow_array::types::UInt32Type>()
        .values()
        .to_vec();
    assert!(ex[..10].iter().all(|&i| i == 0) && ex[10..].iter().all(|&i| i == 2));
}
