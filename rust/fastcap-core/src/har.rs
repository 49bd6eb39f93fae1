//! HAR 1.2 files as mitmproxy's `hardump` writes them (`docs/specs/mitmproxy.md` §6), read
//! without building a JSON value: the fast path of `fastcap.formats.har`. The document is parsed
//! once with serde_json, each entry into borrowed fields, and text bodies go back to bytes in the
//! charset mitmproxy inferred when it wrote them (UTF-8 for JSON, HTML, XML, JavaScript and CSS,
//! latin-1 for every other type).
//!
//! What this reader is not sure to read exactly as the Python reader does comes back for the
//! Python reader: the whole file ([`read`] gives `None`) when the document does not parse or was
//! written by a browser; one entry ([`Entry::Other`]) for base64 or declared-charset bodies,
//! WebSocket messages, `_error`, a value of an unexpected type.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::json_value::{integer, number};

/// A body as bytes, and how they were recovered.
#[derive(Debug, PartialEq)]
pub enum Body {
    /// No `text`.
    Absent,
    /// The exact bytes.
    Exact(Vec<u8>),
    /// Text not representable in the inferred charset, as UTF-8 (`recovered_from_text`).
    Lossy(Vec<u8>),
}

#[derive(Debug)]
pub struct Response<'a> {
    pub status: i64,
    pub reason: Cow<'a, str>,
    pub headers: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    pub body: Body,
    /// `content.size` is a positive integer (or `true`, as Python's `isinstance(x, int)` sees it).
    pub declared_size: bool,
}

/// One entry's fields, as `fastcap.formats.har.exchange_from_entry` reads them.
#[derive(Debug)]
pub struct Record<'a> {
    pub method: Cow<'a, str>,
    pub url: Cow<'a, str>,
    pub http_version: Cow<'a, str>,
    pub request_headers: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    pub request_body: Body,
    /// `request.bodySize` is a positive integer.
    pub request_declared_size: bool,
    /// `None`: no status in 1..=999.
    pub response: Option<Response<'a>>,
    pub started: Option<Cow<'a, str>>,
    /// `(send, wait, receive)` in ms when `timings` is a non-empty object.
    pub timings: Option<[Option<f64>; 3]>,
}

#[derive(Debug)]
pub enum Entry<'a> {
    Record(Box<Record<'a>>),
    /// Read this entry the Python way: its JSON text.
    Other(&'a str),
}

/// A HAR document: its creator's name and its entries, each still JSON text (read one at a
/// time with [`entry`], so that only one entry's bodies are held as bytes at once).
#[derive(Debug)]
pub struct Document<'a> {
    pub creator: String,
    pub entries: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct RawDoc<'a> {
    #[serde(borrow)]
    log: RawLog<'a>,
}

#[derive(Deserialize)]
struct RawLog<'a> {
    #[serde(borrow)]
    creator: Option<RawCreator<'a>>,
    #[serde(borrow)]
    entries: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct RawCreator<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawEntry<'a> {
    #[serde(borrow, rename = "startedDateTime")]
    started: Option<&'a RawValue>,
    #[serde(borrow)]
    request: Option<RawRequest<'a>>,
    #[serde(borrow)]
    response: Option<RawResponse<'a>>,
    #[serde(borrow)]
    timings: Option<HashMap<Cow<'a, str>, &'a RawValue>>,
    #[serde(borrow, rename = "_error")]
    error: Option<&'a RawValue>,
    #[serde(borrow, rename = "_webSocketMessages")]
    websocket: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct RawHeader<'a> {
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    value: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RawRequest<'a> {
    #[serde(borrow)]
    method: Option<Cow<'a, str>>,
    #[serde(borrow)]
    url: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "httpVersion")]
    http_version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    headers: Option<Vec<RawHeader<'a>>>,
    #[serde(borrow, rename = "postData")]
    post_data: Option<RawContent<'a>>,
    #[serde(borrow, rename = "bodySize")]
    body_size: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct RawResponse<'a> {
    #[serde(borrow)]
    status: Option<&'a RawValue>,
    #[serde(borrow, rename = "statusText")]
    status_text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    headers: Option<Vec<RawHeader<'a>>>,
    #[serde(borrow)]
    content: Option<RawContent<'a>>,
}

#[derive(Deserialize)]
struct RawContent<'a> {
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    encoding: Option<&'a RawValue>,
    #[serde(borrow, rename = "mimeType")]
    mime_type: Option<&'a RawValue>,
    #[serde(borrow)]
    size: Option<&'a RawValue>,
}

const UTF8_HINTS: [&str; 5] = ["json", "html", "xml", "javascript", "css"];

fn declared_size(raw: Option<&RawValue>) -> bool {
    raw.is_some_and(|r| r.get() == "true") || integer(raw).is_some_and(|n| n > 0)
}

fn headers<'a>(raw: Option<Vec<RawHeader<'a>>>) -> Vec<(Cow<'a, str>, Cow<'a, str>)> {
    raw.unwrap_or_default().into_iter().map(|h| (h.name.unwrap_or_default(), h.value.unwrap_or_default())).collect()
}

/// The media type a body's charset is inferred from: the declared `mimeType` when a non-empty
/// string, else the first Content-Type header.
fn mime<'a>(declared: Option<&'a RawValue>, headers: &'a [(Cow<'a, str>, Cow<'a, str>)]) -> Option<Cow<'a, str>> {
    if let Some(raw) = declared {
        if raw.get().starts_with('"') {
            let text: Cow<str> = serde_json::from_str(raw.get()).ok()?;
            if !text.is_empty() {
                return Some(text);
            }
        }
    }
    let found = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-type"));
    Some(found.map_or(Cow::Borrowed(""), |(_, v)| Cow::Borrowed(v.as_ref())))
}

/// `None`: the Python reader's (base64, a declared charset, a non-string field).
fn body(content: Option<&RawContent>, headers: &[(Cow<str>, Cow<str>)]) -> Option<Body> {
    let Some(content) = content else { return Some(Body::Absent) };
    let Some(text) = &content.text else { return Some(Body::Absent) };
    if content.encoding.is_some_and(|e| e.get() != "null") {
        return None; // base64 (or an encoding Python would read as text: rare, left to it)
    }
    let mime = mime(content.mime_type, headers)?.to_ascii_lowercase();
    if mime.contains("charset=") {
        return None;
    }
    if UTF8_HINTS.iter().any(|h| mime.contains(h)) {
        return Some(Body::Exact(text.as_bytes().to_vec()));
    }
    // latin-1: each character below 256 is that byte.
    if text.is_ascii() {
        return Some(Body::Exact(text.as_bytes().to_vec()));
    }
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        match u8::try_from(u32::from(c)) {
            Ok(b) => out.push(b),
            Err(_) => return Some(Body::Lossy(text.as_bytes().to_vec())),
        }
    }
    Some(Body::Exact(out))
}

/// One entry of a [`Document`], or [`Entry::Other`].
pub fn entry(raw: &RawValue) -> Entry<'_> {
    record(raw).map_or(Entry::Other(raw.get()), |r| Entry::Record(Box::new(r)))
}

fn record(raw: &RawValue) -> Option<Record<'_>> {
    let e: RawEntry = serde_json::from_str(raw.get()).ok()?;
    if e.error.is_some() || e.websocket.is_some() {
        return None;
    }
    let req = e.request?;
    let request_headers = headers(req.headers);
    let request_body = body(req.post_data.as_ref(), &request_headers)?;
    let response = match e.response {
        None => None,
        Some(resp) => match integer(resp.status).filter(|s| (1..1000).contains(s)) {
            None => None,
            Some(status) => {
                let resp_headers = headers(resp.headers);
                let body = body(resp.content.as_ref(), &resp_headers)?;
                Some(Response {
                    status,
                    reason: resp.status_text.unwrap_or_default(),
                    headers: resp_headers,
                    body,
                    declared_size: declared_size(resp.content.as_ref().and_then(|c| c.size)),
                })
            }
        },
    };
    let timings =
        e.timings.filter(|t| !t.is_empty()).map(|t| ["send", "wait", "receive"].map(|k| number(t.get(k).copied())));
    let started = match e.started {
        Some(raw) if raw.get().starts_with('"') => Some(serde_json::from_str::<Cow<str>>(raw.get()).ok()?),
        _ => None,
    };
    Some(Record {
        method: req.method.unwrap_or_default(),
        url: req.url.unwrap_or_default(),
        http_version: req.http_version.unwrap_or_default(),
        request_headers,
        request_body,
        request_declared_size: declared_size(req.body_size),
        response,
        started,
        timings,
    })
}

/// The entries of a HAR text (no BOM), or `None` for the Python reader (module docs).
pub fn read(text: &[u8]) -> Option<Document<'_>> {
    let text = std::str::from_utf8(text).ok()?;
    let doc: RawDoc = serde_json::from_str(text).ok()?;
    let creator = match doc.log.creator {
        Some(c) => c.name.map(Cow::into_owned).unwrap_or_default(),
        None => String::new(),
    };
    // A browser's HAR holds the text it decoded, not mitmproxy's latin-1 (the Python reader's).
    if !creator.is_empty() && !creator.to_lowercase().starts_with("mitmproxy") {
        return None;
    }
    Some(Document { creator, entries: doc.log.entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mitmproxy_entry() {
        let text = r#"{"log":{"creator":{"name":"mitmproxy"},"entries":[
            {"startedDateTime":"2025-01-01T00:00:00Z","request":{"method":"POST","url":"https://x","httpVersion":"HTTP/2",
             "headers":[{"name":"Content-Type","value":"application/json"}],"postData":{"mimeType":"application/json","text":"{\"a\":\"\u00e4\"}"}},
             "response":{"status":200,"statusText":"OK","headers":[],"content":{"mimeType":"application/octet-stream","text":"\u00ff\u0001","size":2}},
             "timings":{"send":1,"wait":2.5,"receive":-1}},
            {"request":{"method":"GET","url":"u"},"response":{"status":0,"content":{"size":3}},"timings":{}},
            {"request":{"method":"GET","url":"u","postData":{"text":"x","encoding":"base64"}}}
        ]}}"#;
        let doc = read(text.as_bytes()).unwrap();
        assert_eq!(doc.creator, "mitmproxy");
        let entries: Vec<_> = doc.entries.iter().map(|e| entry(e)).collect();
        let Entry::Record(r) = &entries[0] else { panic!() };
        assert_eq!(r.request_body, Body::Exact("{\"a\":\"\u{e4}\"}".as_bytes().to_vec()));
        let resp = r.response.as_ref().unwrap();
        assert_eq!(resp.body, Body::Exact(vec![0xff, 0x01]));
        assert!(resp.declared_size);
        assert_eq!(r.timings, Some([Some(1.0), Some(2.5), Some(-1.0)]));
        let Entry::Record(r) = &entries[1] else { panic!() };
        assert!(r.response.is_none() && r.timings.is_none());
        assert!(matches!(entries[2], Entry::Other(_)));
    }

    #[test]
    fn what_python_reads() {
        assert!(read(br#"{"log":{"creator":{"name":"WebInspector"},"entries":[]}}"#).is_none());
        assert!(read(br#"{"log":{"entries":{}}}"#).is_none());
        assert!(read(br#"{"log":{"entries":[]"#).is_none());
        let doc = read(br#"{"log":{"entries":[{"request":{"method":"GET","url":"u"},"response":{"status":200,"content":{"text":"\u0100","mimeType":"text/plain"}}}]}}"#).unwrap();
        let Entry::Record(r) = entry(doc.entries[0]) else { panic!() };
        assert_eq!(r.response.as_ref().unwrap().body, Body::Lossy("\u{100}".as_bytes().to_vec()));
    }
}
