//! The LLMPROXY-CAPTURE-V2 writer: byte-identical to the reference writer (Python `cbor2`
//! defaults) for the same values (docs/specs/cbor-v2.md §1.1, §3, §3.2).

use std::io::Write;

use flate2::write::ZlibEncoder;
use flate2::Compression;

use super::decode::Value;
use super::meta::{index_of, META_KEYS};

pub const MAGIC: &str = "LLMPROXY-CAPTURE-V2";

/// Payloads longer than this are candidates for zlib (docs/specs/cbor-v2.md §3.2).
pub const COMPRESS_THRESHOLD: usize = 128;

fn head(out: &mut Vec<u8>, major: u8, arg: u64) {
    let m = major << 5;
    if arg < 24 {
        out.push(m | arg as u8);
    } else if arg <= u8::MAX as u64 {
        out.extend_from_slice(&[m | 24, arg as u8]);
    } else if arg <= u16::MAX as u64 {
        out.push(m | 25);
        out.extend_from_slice(&(arg as u16).to_be_bytes());
    } else if arg <= u32::MAX as u64 {
        out.push(m | 26);
        out.extend_from_slice(&(arg as u32).to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&arg.to_be_bytes());
    }
}

pub fn text(out: &mut Vec<u8>, s: &str) {
    head(out, 3, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

pub fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    head(out, 2, b.len() as u64);
    out.extend_from_slice(b);
}

/// Floats are always float64, even when integral (cbor2's default).
pub fn float(out: &mut Vec<u8>, f: f64) {
    out.push(0xfb);
    out.extend_from_slice(&f.to_bits().to_be_bytes());
}

pub fn int(out: &mut Vec<u8>, i: i64) {
    if i >= 0 {
        head(out, 0, i as u64);
    } else {
        head(out, 1, (-1 - i) as u64);
    }
}

/// Encode a generic value the way cbor2 does by default.
pub fn value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Uint(u) => head(out, 0, *u),
        Value::Nint(n) => head(out, 1, *n),
        Value::Bytes(b) => bytes(out, b),
        Value::Text(s) => text(out, s),
        Value::Array(a) => {
            head(out, 4, a.len() as u64);
            for x in a {
                value(out, x);
            }
        }
        Value::Map(pairs) => {
            head(out, 5, pairs.len() as u64);
            for (k, x) in pairs {
                value(out, k);
                value(out, x);
            }
        }
        Value::Bool(b) => out.push(if *b { 0xf5 } else { 0xf4 }),
        Value::Null => out.push(0xf6),
        Value::Undefined => out.push(0xf7),
        Value::Float(f) => float(out, *f),
        Value::Tag(t, x) => {
            head(out, 6, *t);
            value(out, x);
        }
        Value::Simple(s) => {
            if *s < 24 {
                out.push(0xe0 | s);
            } else {
                out.extend_from_slice(&[0xf8, *s]);
            }
        }
    }
}

/// The header item (docs/specs/cbor-v2.md §2). `metadata` defaults to `{"config_file": null}` like the
/// reference writer.
pub fn encode_header(session_id: &str, created_at: f64, metadata: Option<&Value>) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    head(&mut out, 5, 5);
    text(&mut out, "magic");
    text(&mut out, MAGIC);
    text(&mut out, "version");
    head(&mut out, 0, 2);
    text(&mut out, "created_at");
    float(&mut out, created_at);
    text(&mut out, "session_id");
    text(&mut out, session_id);
    text(&mut out, "metadata");
    match metadata {
        Some(m) => value(&mut out, m),
        None => {
            head(&mut out, 5, 1);
            text(&mut out, "config_file");
            out.push(0xf6);
        }
    }
    out
}

/// zlib at the default level, kept only when strictly shorter (docs/specs/cbor-v2.md §3.2).
pub fn maybe_compress(data: &[u8]) -> Option<Vec<u8>> {
    if data.len() <= COMPRESS_THRESHOLD {
        return None;
    }
    let mut enc = ZlibEncoder::new(Vec::with_capacity(data.len() / 2), Compression::new(6));
    enc.write_all(data).ok()?;
    let z = enc.finish().ok()?;
    (z.len() < data.len()).then_some(z)
}

/// Order meta pairs as the reference writer emits them: known compact keys in table order, then
/// unknown keys in the order given. Keys whose value is null are omitted, as are false flags.
pub fn order_meta(meta: Vec<(String, Value)>) -> Vec<(String, Value)> {
    let mut known: Vec<(usize, String, Value)> = Vec::new();
    let mut unknown = Vec::new();
    for (k, v) in meta {
        if matches!(v, Value::Null) {
            continue;
        }
        match index_of(k.as_bytes()) {
            Some(i) => {
                let kind = META_KEYS[i].kind;
                if kind == super::meta::Kind::Flag && v == Value::Bool(false) {
                    continue;
                }
                // Timing keys are floats in the reference writer even when integral (`1400.0`).
                let v = match (kind, v) {
                    (super::meta::Kind::Float, Value::Uint(u)) => Value::Float(u as f64),
                    (super::meta::Kind::Float, Value::Nint(n)) => Value::Float(-1.0 - n as f64),
                    (_, v) => v,
                };
                known.retain(|(j, _, _)| *j != i);
                known.push((i, k, v));
            }
            None => unknown.push((k, v)),
        }
    }
    known.sort_by_key(|(i, _, _)| *i);
    known.into_iter().map(|(_, k, v)| (k, v)).chain(unknown).collect()
}

/// One entry (docs/specs/cbor-v2.md §3): keys `ts, dir, seq, data, enc, meta` in that order.
/// `compress` applies the zlib rule; `meta` is emitted as given (call [`order_meta`] first to get
/// the reference writer's key order).
pub fn encode_entry(ts: f64, dir: u8, seq: u64, data: &[u8], meta: &[(String, Value)], compress: bool) -> Vec<u8> {
    let z = if compress { maybe_compress(data) } else { None };
    let payload = z.as_deref().unwrap_or(data);
    let mut out = Vec::with_capacity(payload.len() + 64 + meta.len() * 16);
    let n = 4 + usize::from(z.is_some()) + usize::from(!meta.is_empty());
    head(&mut out, 5, n as u64);
    text(&mut out, "ts");
    float(&mut out, ts);
    text(&mut out, "dir");
    head(&mut out, 0, dir as u64);
    text(&mut out, "seq");
    head(&mut out, 0, seq);
    text(&mut out, "data");
    bytes(&mut out, payload);
    if z.is_some() {
        text(&mut out, "enc");
        text(&mut out, "zlib");
    }
    if !meta.is_empty() {
        text(&mut out, "meta");
        head(&mut out, 5, meta.len() as u64);
        for (k, v) in meta {
            text(&mut out, k);
            value(&mut out, v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_matches_spec_bytes() {
        let h = encode_header("proxy-20240101", 1700000000.5, None);
        assert_eq!(h.len(), 105);
        assert_eq!(&h[..7], &[0xa5, 0x65, b'm', b'a', b'g', b'i', b'c']);
        assert_eq!(*h.last().unwrap(), 0xf6);
    }

    #[test]
    fn zlib_rule() {
        assert!(maybe_compress(&[b'A'; 128]).is_none());
        let z = maybe_compress(&[b'A'; 300]).unwrap();
        assert_eq!(decode_hex("789c73741c05c40200cb9e4c2d"), z);
        let random: Vec<u8> = (0..200u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        assert!(maybe_compress(&random).is_none() || maybe_compress(&random).unwrap().len() < 200);
    }

    #[test]
    fn meta_order_and_omissions() {
        let m = order_meta(vec![
            ("zz".into(), Value::Uint(1)),
            ("ci".into(), Value::Uint(1)),
            ("sid".into(), Value::Text("s".into())),
            ("se".into(), Value::Bool(false)),
            ("mod".into(), Value::Null),
            ("lat".into(), Value::Uint(1400)),
        ]);
        let keys: Vec<&str> = m.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["sid", "ci", "lat", "zz"]);
        assert_eq!(m[2].1, Value::Float(1400.0));
    }

    fn decode_hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }
}
