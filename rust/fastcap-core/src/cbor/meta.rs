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
pub fn index_of(compact: &[u8]) -> Option<usize> {
    Some(match compact {
        b"sid" => 0,
        b"asid" => 1,
        b"bsid" => 2,
        b"bseq" => 3,
        b"be" => 4,
        b"mod" => 5,
        b"key" => 6,
        b"host" => 7,
        b"ua" => 8,
        b"rid" => 9,
        b"ci" => 10,
        b"ss" => 11,
        b"se" => 12,
        b"tc" => 13,
        b"tb" => 14,
        b"cu" => 15,
        b"sc" => 16,
        b"ra" => 17,
        b"rat" => 18,
        b"rtry" => 19,
        b"acct" => 20,
        b"rts" => 21,
        b"pts" => 22,
        b"lat" => 23,
        b"ttfb" => 24,
        b"sdur" => 25,
        b"eos" => 26,
        b"eos_sig" => 27,
        b"eos_reason" => 28,
        b"eos_term" => 29,
        b"eos_err_cls" => 30,
        b"eos_err_code" => 31,
        b"wire_schema" => 32,
        b"transport" => 33,
        b"event" => 34,
        b"http_method" => 35,
        b"url" => 36,
        b"http_status" => 37,
        b"http_reason" => 38,
        b"http_version" => 39,
        b"ws_message_type" => 40,
        b"ccid" => 41,
        b"crc" => 42,
        b"cdb" => 43,
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
            assert_eq!(index_of(k.compact.as_bytes()), Some(i), "{}", k.compact);
        }
        assert_eq!(index_of(b"nope"), None);
    }
}
