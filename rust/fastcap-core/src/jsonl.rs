//! traffic.jsonl records (`docs/specs/reports.md` §3.1) read without building a JSON value: the
//! fast path of `fastcap.formats.jsonl`. Each line is parsed once with serde_json into borrowed
//! fields; bodies stay slices of the line (a JSON-value body is kept as its text when that text is
//! already what orjson would write for it).
//!
//! A line this reader is not sure to read exactly as the Python reader does (any fault, base64
//! bodies or chunks, trailers, WebSocket messages, a lossy text body, a value of an unexpected
//! type, nesting past serde_json's limit) comes back as [`Line::Other`]: the caller reads that
//! line the Python way, so both paths give the same exchanges and the same faults.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::json_value::{integer, is_canonical, number};

/// A body as the record holds it.
#[derive(Debug, PartialEq)]
pub enum Body<'a> {
    /// `null` or absent.
    Absent,
    /// A string without U+FFFD: its UTF-8 bytes are the exact body.
    Text(Cow<'a, str>),
    /// Any other JSON value, as written; `canonical`: the text is what orjson writes for it.
    Json { text: &'a str, canonical: bool },
}

/// One response chunk: arrival time and the slice of the response body it covers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chunk {
    pub t: Option<f64>,
    pub start: usize,
    pub end: usize,
}

/// The fields of one record the Python reader would turn into an `Exchange`.
#[derive(Debug)]
pub struct Record<'a> {
    pub method: Cow<'a, str>,
    pub url: Cow<'a, str>,
    pub request_headers: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    pub request_body: Body<'a>,
    /// `None`: no response (`null` or absent).
    pub response: Option<Response<'a>>,
    pub timestamp: Option<f64>,
    /// The `fastcap` extension (`None` when absent or null).
    pub ext: Option<Extension<'a>>,
}

#[derive(Debug)]
pub struct Response<'a> {
    pub status: Option<i64>,
    pub headers: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    pub body: Body<'a>,
}

#[derive(Debug, Default)]
pub struct Extension<'a> {
    pub started_at: Option<f64>,
    pub request_ended_at: Option<f64>,
    pub response_started_at: Option<f64>,
    pub ended_at: Option<f64>,
    /// `session_id`, `request_id`, `backend`, `model`, `error` when strings.
    pub strings: [Option<Cow<'a, str>>; 5],
    /// The declared body fidelities when strings (the caller checks them against its names).
    pub request_body_fidelity: Option<Cow<'a, str>>,
    pub response_body_fidelity: Option<Cow<'a, str>>,
    /// `None`: no `chunks` list. Offsets are into the response body's bytes.
    pub chunks: Option<Vec<Chunk>>,
}

/// The extension's string fields, in the order of [`Extension::strings`].
pub const EXTENSION_STRINGS: [&str; 5] = ["session_id", "request_id", "backend", "model", "error"];

/// One line of the file.
#[derive(Debug)]
pub enum Line<'a> {
    Record(Box<Record<'a>>),
    /// Read this line the Python way (module docs).
    Other,
}

#[derive(Deserialize)]
struct RawRecord<'a> {
    #[serde(borrow)]
    timestamp: Option<&'a RawValue>,
    // Nested structs, not raw values: each byte of the line is scanned once.
    #[serde(borrow)]
    request: RawRequest<'a>,
    #[serde(borrow)]
    response: Option<RawResponse<'a>>,
    #[serde(borrow)]
    fastcap: Option<RawExtension<'a>>,
}

#[derive(Deserialize)]
struct RawRequest<'a> {
    #[serde(borrow)]
    method: Cow<'a, str>,
    #[serde(borrow)]
    url: Cow<'a, str>,
    #[serde(borrow)]
    headers: Option<HashMapOrdered<'a>>,
    #[serde(borrow)]
    body: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct RawResponse<'a> {
    #[serde(borrow)]
    status_code: Option<&'a RawValue>,
    #[serde(borrow)]
    headers: Option<HashMapOrdered<'a>>,
    #[serde(borrow)]
    body: Option<&'a RawValue>,
}

/// A header object in document order (strings only: anything else takes the Python path).
struct HashMapOrdered<'a>(Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'de: 'a, 'a> Deserialize<'de> for HashMapOrdered<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Visit<'a> {
            type Value = HashMapOrdered<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object of strings")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                let mut out: Vec<(Cow<'a, str>, Cow<'a, str>)> = Vec::new();
                let mut seen: HashMap<Cow<'a, str>, ()> = HashMap::new();
                while let Some((k, v)) = map.next_entry::<Cow<'a, str>, Cow<'a, str>>()? {
                    // orjson keeps the last of duplicate keys, in the first one's place.
                    if seen.insert(k.clone(), ()).is_some() {
                        return Err(serde::de::Error::custom("duplicate header"));
                    }
                    out.push((k, v));
                }
                Ok(HashMapOrdered(out))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
struct RawExtension<'a> {
    #[serde(borrow)]
    started_at: Option<&'a RawValue>,
    #[serde(borrow)]
    request_ended_at: Option<&'a RawValue>,
    #[serde(borrow)]
    response_started_at: Option<&'a RawValue>,
    #[serde(borrow)]
    ended_at: Option<&'a RawValue>,
    #[serde(borrow)]
    session_id: Option<&'a RawValue>,
    #[serde(borrow)]
    request_id: Option<&'a RawValue>,
    #[serde(borrow)]
    backend: Option<&'a RawValue>,
    #[serde(borrow)]
    model: Option<&'a RawValue>,
    #[serde(borrow)]
    error: Option<&'a RawValue>,
    #[serde(borrow)]
    request_body_fidelity: Option<&'a RawValue>,
    #[serde(borrow)]
    response_body_fidelity: Option<&'a RawValue>,
    #[serde(borrow)]
    chunks: Option<Vec<RawChunk<'a>>>,
    // Present at all: the Python path reads the record.
    #[serde(borrow)]
    request_body_b64: Option<&'a RawValue>,
    #[serde(borrow)]
    response_body_b64: Option<&'a RawValue>,
    #[serde(borrow)]
    request_trailers: Option<&'a RawValue>,
    #[serde(borrow)]
    response_trailers: Option<&'a RawValue>,
    #[serde(borrow)]
    websocket: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct RawChunk<'a> {
    #[serde(borrow)]
    t: Option<&'a RawValue>,
    #[serde(borrow)]
    len: Option<&'a RawValue>,
}

/// Whether a JSON value is `null` (serde gives `Some(raw "null")` for an explicit null).
fn is_null(raw: Option<&RawValue>) -> bool {
    raw.is_none_or(|r| r.get() == "null")
}

fn string(raw: Option<&RawValue>) -> Option<Cow<'_, str>> {
    let raw = raw?;
    if raw.get().starts_with('"') {
        serde_json::from_str::<Cow<'_, str>>(raw.get()).ok()
    } else {
        None
    }
}

fn body(raw: Option<&RawValue>) -> Option<Body<'_>> {
    if is_null(raw) {
        return Some(Body::Absent);
    }
    let text = raw?.get();
    if text.starts_with('"') {
        let value = serde_json::from_str::<Cow<'_, str>>(text).ok()?;
        // A replacement character marks a lossy text body: the Python path flags it.
        return (!value.contains('\u{fffd}')).then_some(Body::Text(value));
    }
    Some(Body::Json { text, canonical: is_canonical(text.as_bytes()) })
}

fn body_len(body: &Body) -> usize {
    match body {
        Body::Absent => 0,
        Body::Text(s) => s.len(),
        Body::Json { text, canonical: true } => text.len(),
        // Not known without writing it: chunks over such a body take the Python path.
        Body::Json { .. } => usize::MAX,
    }
}

fn chunks(items: Vec<RawChunk>, body_len: usize) -> Option<Vec<Chunk>> {
    let mut out = Vec::with_capacity(items.len());
    let mut pos = 0usize;
    for c in items {
        let n = usize::try_from(integer(c.len)?).ok()?; // data_b64 chunks: the Python path
        if body_len == usize::MAX {
            return None;
        }
        let start = pos.min(body_len);
        let end = pos.saturating_add(n).min(body_len);
        out.push(Chunk { t: number(c.t), start, end });
        pos += end - start;
    }
    Some(out)
}

fn extension(e: RawExtension<'_>, response_len: usize) -> Option<Extension<'_>> {
    let python_only = [e.request_body_b64, e.response_body_b64, e.request_trailers, e.response_trailers, e.websocket];
    if python_only.iter().any(|v| v.is_some()) {
        return None;
    }
    let chunks = match e.chunks {
        Some(items) => Some(chunks(items, response_len)?),
        None => None,
    };
    Some(Extension {
        started_at: number(e.started_at),
        request_ended_at: number(e.request_ended_at),
        response_started_at: number(e.response_started_at),
        ended_at: number(e.ended_at),
        strings: [string(e.session_id), string(e.request_id), string(e.backend), string(e.model), string(e.error)],
        request_body_fidelity: string(e.request_body_fidelity),
        response_body_fidelity: string(e.response_body_fidelity),
        chunks,
    })
}

/// One line (without its BOM; blank lines are the caller's), or [`Line::Other`].
pub fn parse_line(line: &[u8]) -> Line<'_> {
    record(line).map_or(Line::Other, |r| Line::Record(Box::new(r)))
}

fn record(line: &[u8]) -> Option<Record<'_>> {
    let text = std::str::from_utf8(line).ok()?;
    let rec: RawRecord = serde_json::from_str(text).ok()?;
    let req = rec.request;
    let request_body = body(req.body)?;
    let response = match rec.response {
        None => None,
        Some(resp) => Some(Response {
            status: integer(resp.status_code),
            headers: resp.headers.map(|h| h.0).unwrap_or_default(),
            body: body(resp.body)?,
        }),
    };
    let response_len = response.as_ref().map_or(0, |r| body_len(&r.body));
    let ext = match rec.fastcap {
        Some(e) => Some(extension(e, response_len)?),
        None => None,
    };
    Some(Record {
        method: req.method,
        url: req.url,
        request_headers: req.headers.map(|h| h.0).unwrap_or_default(),
        request_body,
        response,
        timestamp: number(rec.timestamp),
        ext,
    })
}

/// The file's bytes, memory-mapped (`None` for an empty file, which cannot be mapped).
pub fn map_file(path: &std::path::Path) -> crate::Result<Option<memmap2::Mmap>> {
    let file = std::fs::File::open(path)?;
    if file.metadata()?.len() == 0 {
        return Ok(None);
    }
    // SAFETY: the map is read-only; a file truncated underneath us by another process is the
    // usual mmap caveat, as for every mapped reader here.
    Ok(Some(unsafe { memmap2::MmapOptions::new().map(&file)? }))
}

/// Each line of a traffic.jsonl text: `(line number, byte offset, line with its newline)`, the
/// BOM skipped, as `fastcap.formats.jsonl` numbers them.
pub fn lines(data: &[u8]) -> impl Iterator<Item = (usize, usize, &[u8])> {
    let mut pos = if data.starts_with(b"\xef\xbb\xbf") { 3 } else { 0 };
    let mut lineno = 0;
    std::iter::from_fn(move || {
        if pos >= data.len() {
            return None;
        }
        let end = memchr::memchr(b'\n', &data[pos..]).map_or(data.len(), |n| pos + n + 1);
        lineno += 1;
        let item = (lineno, pos, &data[pos..end]);
        pos = end;
        Some(item)
    })
}

/// Python's `bytes.isspace()` of a line (blank lines are skipped); an empty line is not blank.
pub fn is_blank(line: &[u8]) -> bool {
    !line.is_empty() && line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(line: &str) -> Record<'_> {
        match parse_line(line.as_bytes()) {
            Line::Record(r) => *r,
            Line::Other => panic!("expected a record: {line}"),
        }
    }

    #[test]
    fn a_streamed_record() {
        let r = rec(concat!(
            r#"{"timestamp":2,"request":{"method":"POST","url":"https://x/v1","headers":{"a":"1"},"body":{"model":"m"}},"#,
            r#""response":{"status_code":200,"headers":{"content-type":"text/event-stream"},"body":"data: 1\n\ndata: 2\n\n"},"#,
            r#""fastcap":{"started_at":1.5,"model":"m","chunks":[{"t":1.6,"len":9},{"t":1.7,"len":99}],"error":3}}"#,
            "\n"
        ));
        assert_eq!(r.method, "POST");
        assert_eq!(r.request_body, Body::Json { text: r#"{"model":"m"}"#, canonical: true });
        let resp = r.response.unwrap();
        assert_eq!(resp.status, Some(200));
        assert_eq!(resp.body, Body::Text("data: 1\n\ndata: 2\n\n".into()));
        let ext = r.ext.unwrap();
        assert_eq!(ext.started_at, Some(1.5));
        assert_eq!(ext.strings[3].as_deref(), Some("m"));
        assert_eq!(ext.strings[4], None);
        let chunks = ext.chunks.unwrap();
        assert_eq!((chunks[0].start, chunks[0].end, chunks[1].start, chunks[1].end), (0, 9, 9, 18));
        assert_eq!(r.timestamp, Some(2.0));
    }

    #[test]
    fn what_python_reads() {
        for line in [
            "[1]",
            r#"{"request":{"method":"GET","url":"u"},"fastcap":"not an object"}"#,
            r#"{"request":{"method":"GET"}}"#,
            r#"{"request":{"method":"GET","url":"u","headers":{"a":1}}}"#,
            r#"{"request":{"method":"GET","url":"u","body":"bad \ufffd"}}"#,
            r#"{"request":{"method":"GET","url":"u"},"fastcap":{"websocket":[]}}"#,
            r#"{"request":{"method":"GET","url":"u"},"response":{"body":"x"},"fastcap":{"chunks":[{"t":1,"data_b64":"eA=="}]}}"#,
            r#"{"request":{"method":"GET","url":"u","url":"v"}}"#,
            "{\"request\":{\"method\":\"GET\",\"url\":\"\\ud800\"}}",
        ] {
            assert!(matches!(parse_line(line.as_bytes()), Line::Other), "{line}");
        }
    }

    #[test]
    fn line_numbers_and_blanks() {
        let data = b"\xef\xbb\xbf{}\n \n{}";
        let got: Vec<_> = lines(data).collect();
        assert_eq!(got, vec![(1, 3, &b"{}\n"[..]), (2, 6, &b" \n"[..]), (3, 8, &b"{}"[..])]);
        assert!(is_blank(b" \n") && !is_blank(b"{}\n"));
    }
}
