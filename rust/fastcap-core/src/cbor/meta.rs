//! The 44 compact metadata keys of LLMPROXY-CAPTURE-V2 (cbor-v2.md §4), in writer emission order.

/// How a metadata value is typed as a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
    Float,
    /// Boolean flag (only ever written as `true`).
    Flag,
    /// A nested map kept as JSON text (`cu`, `cdb`).
    Json,
}

pub struct MetaKey {
    pub compact: &'static str,
    pub long: &'static str,
    pub kind: Kind,
}

macro_rules! keys {
    ($(($c:literal, $l:literal, $k:ident)),* $(,)?) => {
        pub const META_KEYS: &[MetaKey] = &[$(MetaKey { compact: $c, long: $l, kind: Kind::$k }),*];
    };
}

keys![
    ("sid", "session_id", Text),
    ("asid", "a_session_id", Text),
    ("bsid", "b_session_id", Text),
    ("bseq", "b_seq", Int),
    ("be", "backend", Text),
    ("mod", "model", Text),
    ("key", "key_name", Text),
    ("host", "client_host", Text),
    ("ua", "user_agent", Text),
    ("rid", "request_id", Text),
    ("ci", "chunk_index", Int),
    ("ss", "is_stream_start", Flag),
    ("se", "is_stream_end", Flag),
    ("tc", "total_chunks", Int),
    ("tb", "total_bytes", Int),
    ("cu", "canonical_usage", Json),
    ("sc", "status_code", Int),
    ("ra", "retry_after_seconds", Float),
    ("rat", "retry_attempt", Int),
    ("rtry", "is_retry", Flag),
    ("acct", "account_id", Text),
    ("rts", "request_timestamp", Float),
    ("pts", "response_timestamp", Float),
    ("lat", "latency_ms", Float),
    ("ttfb", "ttfb_ms", Float),
    ("sdur", "stream_duration_ms", Float),
    ("eos", "eos", Flag),
    ("eos_sig", "eos_signal", Text),
    ("eos_reason", "eos_reason", Text),
    ("eos_term", "eos_termination_category", Text),
    ("eos_err_cls", "eos_error_classification", Text),
    ("eos_err_code", "eos_error_status_code", Int),
    ("wire_schema", "wire_schema", Text),
    ("transport", "transport", Text),
    ("event", "protocol_event", Text),
    ("http_method", "http_method", Text),
    ("url", "url", Text),
    ("http_status", "http_status_code", Int),
    ("http_reason", "http_reason_phrase", Text),
    ("http_version", "http_version", Text),
    ("ws_message_type", "websocket_message_type", Text),
    ("ccid", "compression_correlation_id", Text),
    ("crc", "compression_records_count", Int),
    ("cdb", "capture_debug", Json),
];

/// Index of a compact key in [`META_KEYS`]. A match compiles to length-then-bytes comparisons,
/// which is what the per-entry hot loop needs.
#[inline]
pub fn index_of(compact: &str) -> Option<usize> {
    Some(match compact {
        "sid" => 0,
        "asid" => 1,
        "bsid" => 2,
        "bseq" => 3,
        "be" => 4,
        "mod" => 5,
        "key" => 6,
        "host" => 7,
        "ua" => 8,
        "rid" => 9,
        "ci" => 10,
        "ss" => 11,
        "se" => 12,
        "tc" => 13,
        "tb" => 14,
        "cu" => 15,
        "sc" => 16,
        "ra" => 17,
        "rat" => 18,
        "rtry" => 19,
        "acct" => 20,
        "rts" => 21,
        "pts" => 22,
        "lat" => 23,
        "ttfb" => 24,
        "sdur" => 25,
        "eos" => 26,
        "eos_sig" => 27,
        "eos_reason" => 28,
        "eos_term" => 29,
        "eos_err_cls" => 30,
        "eos_err_code" => 31,
        "wire_schema" => 32,
        "transport" => 33,
        "event" => 34,
        "http_method" => 35,
        "url" => 36,
        "http_status" => 37,
        "http_reason" => 38,
        "http_version" => 39,
        "ws_message_type" => 40,
        "ccid" => 41,
        "crc" => 42,
        "cdb" => 43,
        _ => return None,
    })
}

/// Directions (cbor-v2.md §3.1).
pub const DIRECTION_NAMES: [&str; 4] = ["CLIENT_TO_PROXY", "PROXY_TO_CLIENT", "PROXY_TO_BACKEND", "BACKEND_TO_PROXY"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_and_index_agree() {
        assert_eq!(META_KEYS.len(), 44);
        for (i, k) in META_KEYS.iter().enumerate() {
            assert_eq!(index_of(k.compact), Some(i), "{}", k.compact);
        }
        assert_eq!(index_of("nope"), None);
    }
}
