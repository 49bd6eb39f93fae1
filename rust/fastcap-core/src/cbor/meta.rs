//! The 44 compact metadata keys of LLMPROXY-CAPTURE-V2 (docs/specs/cbor-v2.md §4), in writer emission order.

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

/// A key of up to 15 bytes packed into one integer (bytes little-endian, length in the top
/// byte), so the lookup below compares integers instead of calling memcmp per candidate.
const fn pack(key: &[u8]) -> u128 {
    let mut v = (key.len() as u128) << 120;
    let mut i = 0;
    while i < key.len() && i < 15 {
        v |= (key[i] as u128) << (8 * i);
        i += 1;
    }
    v
}

const K_SID: u128 = pack(b"sid");
const K_ASID: u128 = pack(b"asid");
const K_BSID: u128 = pack(b"bsid");
const K_BSEQ: u128 = pack(b"bseq");
const K_BE: u128 = pack(b"be");
const K_MOD: u128 = pack(b"mod");
const K_KEY: u128 = pack(b"key");
const K_HOST: u128 = pack(b"host");
const K_UA: u128 = pack(b"ua");
const K_RID: u128 = pack(b"rid");
const K_CI: u128 = pack(b"ci");
const K_SS: u128 = pack(b"ss");
const K_SE: u128 = pack(b"se");
const K_TC: u128 = pack(b"tc");
const K_TB: u128 = pack(b"tb");
const K_CU: u128 = pack(b"cu");
const K_SC: u128 = pack(b"sc");
const K_RA: u128 = pack(b"ra");
const K_RAT: u128 = pack(b"rat");
const K_RTRY: u128 = pack(b"rtry");
const K_ACCT: u128 = pack(b"acct");
const K_RTS: u128 = pack(b"rts");
const K_PTS: u128 = pack(b"pts");
const K_LAT: u128 = pack(b"lat");
const K_TTFB: u128 = pack(b"ttfb");
const K_SDUR: u128 = pack(b"sdur");
const K_EOS: u128 = pack(b"eos");
const K_EOS_SIG: u128 = pack(b"eos_sig");
const K_EOS_REASON: u128 = pack(b"eos_reason");
const K_EOS_TERM: u128 = pack(b"eos_term");
const K_EOS_ERR_CLS: u128 = pack(b"eos_err_cls");
const K_EOS_ERR_CODE: u128 = pack(b"eos_err_code");
const K_WIRE_SCHEMA: u128 = pack(b"wire_schema");
const K_TRANSPORT: u128 = pack(b"transport");
const K_EVENT: u128 = pack(b"event");
const K_HTTP_METHOD: u128 = pack(b"http_method");
const K_URL: u128 = pack(b"url");
const K_HTTP_STATUS: u128 = pack(b"http_status");
const K_HTTP_REASON: u128 = pack(b"http_reason");
const K_HTTP_VERSION: u128 = pack(b"http_version");
const K_WS_MESSAGE_TYPE: u128 = pack(b"ws_message_type");
const K_CCID: u128 = pack(b"ccid");
const K_CRC: u128 = pack(b"crc");
const K_CDB: u128 = pack(b"cdb");

/// Index of a compact key in [`META_KEYS`] (the per-entry hot loop calls this for every key).
#[inline]
pub fn index_of(compact: &[u8]) -> Option<usize> {
    if compact.len() > 15 {
        return None;
    }
    Some(match pack(compact) {
        K_SID => 0,
        K_ASID => 1,
        K_BSID => 2,
        K_BSEQ => 3,
        K_BE => 4,
        K_MOD => 5,
        K_KEY => 6,
        K_HOST => 7,
        K_UA => 8,
        K_RID => 9,
        K_CI => 10,
        K_SS => 11,
        K_SE => 12,
        K_TC => 13,
        K_TB => 14,
        K_CU => 15,
        K_SC => 16,
        K_RA => 17,
        K_RAT => 18,
        K_RTRY => 19,
        K_ACCT => 20,
        K_RTS => 21,
        K_PTS => 22,
        K_LAT => 23,
        K_TTFB => 24,
        K_SDUR => 25,
        K_EOS => 26,
        K_EOS_SIG => 27,
        K_EOS_REASON => 28,
        K_EOS_TERM => 29,
        K_EOS_ERR_CLS => 30,
        K_EOS_ERR_CODE => 31,
        K_WIRE_SCHEMA => 32,
        K_TRANSPORT => 33,
        K_EVENT => 34,
        K_HTTP_METHOD => 35,
        K_URL => 36,
        K_HTTP_STATUS => 37,
        K_HTTP_REASON => 38,
        K_HTTP_VERSION => 39,
        K_WS_MESSAGE_TYPE => 40,
        K_CCID => 41,
        K_CRC => 42,
        K_CDB => 43,
        _ => return None,
    })
}

/// Directions (docs/specs/cbor-v2.md §3.1).
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
