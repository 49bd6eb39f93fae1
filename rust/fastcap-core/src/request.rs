//! The identifying fields of LLM API requests: one row per request payload, read without building
//! the (often huge) JSON body.
//!
//! A payload is either an HTTP/1.x message (a start line such as `POST /v1/messages HTTP/1.1`,
//! header lines, a blank line, the body: how fastcap's CBOR captures store the forwarded request)
//! or the JSON body alone. Only the listed keys are read; every other value (the conversation's
//! messages, tools, system prompt) is skipped by the JSON scanner without being built, and strings
//! without escapes are borrowed from the payload ([`crate::loose_json`]).
//!
//! | column | type | source |
//! |---|---|---|
//! | `model` | utf8 | body: top-level `model` (also the Code Assist wrapper's `{"model", "request"}`), else top-level `modelId`, else kiro `conversationState.currentMessage.userInputMessage.modelId` |
//! | `user_id` | utf8 | body: Anthropic `metadata.user_id` (as sent; Claude Code embeds its session id there) |
//! | `conversation_id_body` | utf8 | body: kiro `conversationState.conversationId`, else Code Assist `request.session_id`, else OpenAI Responses `conversation` (a string, or the object's `id`) |
//! | `prompt_cache_key` | utf8 | body: top-level `prompt_cache_key` (OpenAI) |
//! | `previous_response_id` | utf8 | body: top-level `previous_response_id` (OpenAI Responses) |
//! | `session_header` | utf8 | head: the first non-empty of the headers `x-claude-code-session-id`, `session_id`, `session-id`, `x-session-id`, `conversation_id` (in that order) |
//! | `amz_target` | utf8 | head: header `x-amz-target` (the operation of AWS JSON APIs: kiro) |
//! | `agent_id` | utf8 | head: header `x-claude-code-agent-id` (Claude Code 2.1 marks a sub-agent's requests with its id) |
//! | `parent_agent_id` | utf8 | head: header `x-claude-code-parent-agent-id` (the agent that started the sub-agent) |
//! | `stream` | bool | body: top-level `stream` |
//!
//! Rules shared by every column:
//! * null when absent; a body value of another JSON type than the column's (a number where a
//!   string is expected, `"true"` for `stream`) reads as absent, as the Python dialects' `s()` /
//!   `isinstance` checks do. Repeated keys: the last wins.
//! * Header names match case-insensitively; the first occurrence of a name counts; values are
//!   trimmed, and an empty value counts as absent. Values are UTF-8, else read as Latin-1.
//! * A body that is not valid JSON gives nulls, except that keys read before the point where the
//!   JSON breaks are kept (a body cut short by a capture limit still names its model). A body
//!   whose top-level value is not an object gives nulls.
//! * **Content-Encoding is not undone here.** With a `content-encoding` header (other than
//!   `identity`) the body is read only if it is plain JSON already (starts with `{`: some captures
//!   store the decoded body under the original head); a compressed body gives nulls for the body
//!   columns, and the head columns are still filled.
//! * A `transfer-encoding: chunked` body is de-chunked first if it is still in chunked framing
//!   (most captures store the de-chunked body under the original head; that is read as is).

use std::borrow::Cow;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use memchr::memmem;
use serde::de::MapAccess;

use crate::arrow_util::Table;
use crate::error::Result;
use crate::loose_json::{fill_root, skip, Fill, LBool, LStr, ObjSeed};

/// Rows per record batch of the column builder.
const BATCH_ROWS: usize = 1 << 16;

/// The string columns, in table order (`stream` follows them).
pub const STR_COLUMNS: [&str; 9] = [
    "model",
    "user_id",
    "conversation_id_body",
    "prompt_cache_key",
    "previous_response_id",
    "session_header",
    "amz_target",
    "agent_id",
    "parent_agent_id",
];

/// Session headers, in order of preference.
const SESSION_HEADERS: [&str; 5] =
    ["x-claude-code-session-id", "session_id", "session-id", "x-session-id", "conversation_id"];

/// The schema of [`RequestFieldsBuilder`]'s table: the [`STR_COLUMNS`] (Utf8) and `stream`
/// (Boolean), all nullable.
pub fn schema() -> SchemaRef {
    let mut fields: Vec<Field> = STR_COLUMNS.iter().map(|n| Field::new(*n, DataType::Utf8, true)).collect();
    fields.push(Field::new("stream", DataType::Boolean, true));
    Arc::new(Schema::new(fields))
}

/// The fields of one request (see the module table). Strings borrow the payload when they can.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFields<'a> {
    pub model: Option<Cow<'a, str>>,
    pub user_id: Option<Cow<'a, str>>,
    pub conversation_id_body: Option<Cow<'a, str>>,
    pub prompt_cache_key: Option<Cow<'a, str>>,
    pub previous_response_id: Option<Cow<'a, str>>,
    pub session_header: Option<Cow<'a, str>>,
    pub amz_target: Option<Cow<'a, str>>,
    pub agent_id: Option<Cow<'a, str>>,
    pub parent_agent_id: Option<Cow<'a, str>>,
    pub stream: Option<bool>,
}

impl<'a> RequestFields<'a> {
    fn strs(&self) -> [Option<&str>; 9] {
        [
            self.model.as_deref(),
            self.user_id.as_deref(),
            self.conversation_id_body.as_deref(),
            self.prompt_cache_key.as_deref(),
            self.previous_response_id.as_deref(),
            self.session_header.as_deref(),
            self.amz_target.as_deref(),
            self.agent_id.as_deref(),
            self.parent_agent_id.as_deref(),
        ]
    }

    /// Detach from the payload (for fields read from a de-chunked copy of the body).
    fn into_owned(self) -> RequestFields<'static> {
        let own = |v: Option<Cow<'a, str>>| v.map(|c| Cow::Owned(c.into_owned()));
        RequestFields {
            model: own(self.model),
            user_id: own(self.user_id),
            conversation_id_body: own(self.conversation_id_body),
            prompt_cache_key: own(self.prompt_cache_key),
            previous_response_id: own(self.previous_response_id),
            session_header: own(self.session_header),
            amz_target: own(self.amz_target),
            agent_id: own(self.agent_id),
            parent_agent_id: own(self.parent_agent_id),
            stream: self.stream,
        }
    }
}

/// Read the fields of one request payload (an HTTP/1.x message or a JSON body alone).
pub fn request_fields(payload: &[u8]) -> RequestFields<'_> {
    let (head, body) = split_message(payload);
    let mut out = RequestFields::default();
    let mut body_readable = true;
    let mut chunked = false;
    if let Some(head) = head {
        let h = HeadValues::scan(head);
        out.session_header = h.session.into_iter().flatten().find(|v| !v.is_empty()).map(header_text);
        out.amz_target = h.amz_target.filter(|v| !v.is_empty()).map(header_text);
        out.agent_id = h.agent_id.filter(|v| !v.is_empty()).map(header_text);
        out.parent_agent_id = h.parent_agent_id.filter(|v| !v.is_empty()).map(header_text);
        if let Some(enc) = h.content_encoding {
            let enc = trim(enc);
            body_readable = enc.is_empty() || enc.eq_ignore_ascii_case(b"identity") || starts_json(body);
        }
        chunked = h.transfer_encoding.is_some_and(|v| memmem::find(&v.to_ascii_lowercase(), b"chunked").is_some());
    }
    if !body_readable {
        return out;
    }
    if chunked && !starts_json(body) {
        if let Some(plain) = dechunk(body) {
            let b = read_body(&plain).into_owned();
            return merge(out, b);
        }
    }
    merge(out, read_body(body))
}

fn merge<'a>(mut head: RequestFields<'a>, body: RequestFields<'a>) -> RequestFields<'a> {
    head.model = body.model;
    head.user_id = body.user_id;
    head.conversation_id_body = body.conversation_id_body;
    head.prompt_cache_key = body.prompt_cache_key;
    head.previous_response_id = body.previous_response_id;
    head.stream = body.stream;
    head
}

// ---------------------------------------------------------------------------------------------
// HTTP head

/// `(head, body)`: `head` is the header lines after the start line (without the blank line), or
/// `None` when the payload does not start with an HTTP/1.x start line (then all of it is body).
fn split_message(p: &[u8]) -> (Option<&[u8]>, &[u8]) {
    let first_end = memchr::memchr(b'\n', p).unwrap_or(p.len());
    let first = p[..first_end].strip_suffix(b"\r").unwrap_or(&p[..first_end]);
    if !is_start_line(first) {
        return (None, p);
    }
    let rest = &p[(first_end + 1).min(p.len())..];
    // The head ends at the first empty line (CRLF, or bare LF from hand-written payloads).
    let mut pos = 0;
    while pos < rest.len() {
        let end = memchr::memchr(b'\n', &rest[pos..]).map_or(rest.len(), |i| pos + i);
        let line = &rest[pos..end];
        if line.is_empty() || line == b"\r" {
            return (Some(&rest[..pos]), &rest[(end + 1).min(rest.len())..]);
        }
        pos = end + 1;
    }
    (Some(rest), &[])
}

/// A request line `METHOD SP target SP HTTP/x` or a status line `HTTP/x SP code …`.
fn is_start_line(line: &[u8]) -> bool {
    if line.starts_with(b"HTTP/") {
        return true;
    }
    let Some(sp) = memchr::memchr(b' ', line) else { return false };
    let method = &line[..sp];
    let is_method = (1..=24).contains(&method.len()) && method.iter().all(|c| c.is_ascii_uppercase() || *c == b'-');
    is_method && memmem::rfind(&line[sp..], b" HTTP/").is_some()
}

/// The raw values (untrimmed) of the headers this module reads: first occurrence of each name.
#[derive(Default)]
struct HeadValues<'a> {
    session: [Option<&'a [u8]>; 5],
    amz_target: Option<&'a [u8]>,
    agent_id: Option<&'a [u8]>,
    parent_agent_id: Option<&'a [u8]>,
    content_encoding: Option<&'a [u8]>,
    transfer_encoding: Option<&'a [u8]>,
}

impl<'a> HeadValues<'a> {
    fn scan(head: &'a [u8]) -> Self {
        let mut h = HeadValues::default();
        for line in head.split(|&c| c == b'\n') {
            let Some(colon) = memchr::memchr(b':', line) else { continue };
            let name = trim(&line[..colon]);
            let value = trim(&line[colon + 1..]);
            let slot = if let Some(i) = SESSION_HEADERS.iter().position(|n| name.eq_ignore_ascii_case(n.as_bytes())) {
                &mut h.session[i]
            } else if name.eq_ignore_ascii_case(b"x-amz-target") {
                &mut h.amz_target
            } else if name.eq_ignore_ascii_case(b"x-claude-code-agent-id") {
                &mut h.agent_id
            } else if name.eq_ignore_ascii_case(b"x-claude-code-parent-agent-id") {
                &mut h.parent_agent_id
            } else if name.eq_ignore_ascii_case(b"content-encoding") {
                &mut h.content_encoding
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                &mut h.transfer_encoding
            } else {
                continue;
            };
            if slot.is_none() {
                *slot = Some(value);
            }
        }
        h
    }
}

fn trim(v: &[u8]) -> &[u8] {
    let is_ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let start = v.iter().position(|c| !is_ws(c)).unwrap_or(v.len());
    let end = v.iter().rposition(|c| !is_ws(c)).map_or(start, |i| i + 1);
    &v[start..end]
}

/// A header value as text: UTF-8 when valid (borrowed), else Latin-1 (how Python's
/// `parse_http_head` decodes heads).
fn header_text(v: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(v) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => Cow::Owned(v.iter().map(|&c| c as char).collect()),
    }
}

fn starts_json(body: &[u8]) -> bool {
    body.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b'{')
}

/// The payload of a body in chunked transfer framing (`size[;ext]\r\n data \r\n … 0\r\n\r\n`);
/// `None` if it is not well-formed framing. A missing last chunk (a cut body) is accepted.
fn dechunk(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len());
    let mut pos = 0;
    while pos < body.len() {
        let eol = memchr::memchr(b'\n', &body[pos..])? + pos;
        let line = trim(&body[pos..eol]);
        let size_text = line.split(|&c| c == b';').next().unwrap_or(b"");
        let size_text = std::str::from_utf8(trim(size_text)).ok()?;
        let size = usize::from_str_radix(size_text, 16).ok()?;
        pos = eol + 1;
        if size == 0 {
            return Some(out);
        }
        let end = pos.checked_add(size)?;
        out.extend_from_slice(&body[pos..end.min(body.len())]);
        pos = end;
        // The CRLF after the chunk data.
        while pos < body.len() && matches!(body[pos], b'\r' | b'\n') {
            pos += 1;
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------------
// JSON body

#[derive(Default)]
struct Body<'a> {
    model: Option<Cow<'a, str>>,
    model_id: Option<Cow<'a, str>>,
    kiro_model: Option<Cow<'a, str>>,
    user_id: Option<Cow<'a, str>>,
    kiro_conversation: Option<Cow<'a, str>>,
    code_assist_session: Option<Cow<'a, str>>,
    responses_conversation: Option<Cow<'a, str>>,
    prompt_cache_key: Option<Cow<'a, str>>,
    previous_response_id: Option<Cow<'a, str>>,
    stream: Option<bool>,
}

fn read_body(body: &[u8]) -> RequestFields<'_> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let mut b = Body::default();
    // A syntax error keeps the fields read before it (see the module docs), so the result of the
    // parse is not needed.
    fill_root(body, &mut b);
    RequestFields {
        model: b.model.or(b.model_id).or(b.kiro_model),
        user_id: b.user_id,
        conversation_id_body: b.kiro_conversation.or(b.code_assist_session).or(b.responses_conversation),
        prompt_cache_key: b.prompt_cache_key,
        previous_response_id: b.previous_response_id,
        session_header: None,
        amz_target: None,
        agent_id: None,
        parent_agent_id: None,
        stream: b.stream,
    }
}

impl<'de> Fill<'de> for Body<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> std::result::Result<(), A::Error> {
        match key {
            "model" => self.model = map.next_value::<LStr<'de>>()?.0,
            "modelId" => self.model_id = map.next_value::<LStr<'de>>()?.0,
            "stream" => self.stream = map.next_value::<LBool>()?.0,
            "prompt_cache_key" => self.prompt_cache_key = map.next_value::<LStr<'de>>()?.0,
            "previous_response_id" => self.previous_response_id = map.next_value::<LStr<'de>>()?.0,
            "metadata" => map.next_value_seed(ObjSeed(&mut Metadata(self)))?,
            "conversationState" => map.next_value_seed(ObjSeed(&mut ConversationState(self)))?,
            "request" => map.next_value_seed(ObjSeed(&mut CodeAssistRequest(self)))?,
            "conversation" => {
                // A later `conversation` replaces an earlier one, whatever its type.
                self.responses_conversation = None;
                map.next_value_seed(ObjSeed(&mut Conversation(self)))?
            }
            _ => skip(map)?,
        }
        Ok(())
    }
}

/// Anthropic `metadata`.
struct Metadata<'s, 'a>(&'s mut Body<'a>);

impl<'de> Fill<'de> for Metadata<'_, 'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> std::result::Result<(), A::Error> {
        match key {
            "user_id" => self.0.user_id = map.next_value::<LStr<'de>>()?.0,
            _ => skip(map)?,
        }
        Ok(())
    }
}

/// kiro `conversationState`.
struct ConversationState<'s, 'a>(&'s mut Body<'a>);

impl<'de> Fill<'de> for ConversationState<'_, 'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> std::result::Result<(), A::Error> {
        match key {
            "conversationId" => self.0.kiro_conversation = map.next_value::<LStr<'de>>()?.0,
            "currentMessage" => map.next_value_seed(ObjSeed(&mut CurrentMessage(self.0)))?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

/// kiro `conversationState.currentMessage`.
struct CurrentMessage<'s, 'a>(&'s mut Body<'a>);

impl<'de> Fill<'de> for CurrentMessage<'_, 'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> std::result::Result<(), A::Error> {
        match key {
            "userInputMessage" => map.next_value_seed(ObjSeed(&mut UserInputMessage(self.0)))?,
            _ => skip(map)?,
        }
        Ok(())
    }
}

/// kiro `conversationState.currentMessage.userInputMessage`.
struct UserInputMessage<'s, 'a>(&'s mut Body<'a>);

impl<'de> Fill<'de> for UserInputMessage<'_, 'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> std::result::Result<(), A::Error> {
        match key {
            "modelId" => self.0.kiro_model = map.next_value::<LStr<'de>>()?.0,
            _ => skip(map)?,
        }
        Ok(())
    }
}

/// The `request` of a Code Assist wrapper `{"model", "project", "request": {…}}`.
struct CodeAssistRequest<'s, 'a>(&'s mut Body<'a>);

impl<'de> Fill<'de> for CodeAssistRequest<'_, 'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> std::result::Result<(), A::Error> {
        match key {
            "session_id" => self.0.code_assist_session = map.next_value::<LStr<'de>>()?.0,
            _ => skip(map)?,
        }
        Ok(())
    }
}

/// OpenAI Responses `conversation`: a conversation id, or `{"id": …}`.
struct Conversation<'s, 'a>(&'s mut Body<'a>);

impl<'de> Fill<'de> for Conversation<'_, 'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> std::result::Result<(), A::Error> {
        match key {
            "id" => self.0.responses_conversation = map.next_value::<LStr<'de>>()?.0,
            _ => skip(map)?,
        }
        Ok(())
    }

    fn string(&mut self, s: Cow<'de, str>) {
        self.0.responses_conversation = Some(s);
    }
}

// ---------------------------------------------------------------------------------------------
// Column

/// Accumulates one row per payload; push payloads, then [`finish`](Self::finish).
pub struct RequestFieldsBuilder {
    schema: SchemaRef,
    strs: [StringBuilder; 9],
    stream: BooleanBuilder,
    rows: usize,
    batches: Vec<RecordBatch>,
}

impl Default for RequestFieldsBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestFieldsBuilder {
    pub fn new() -> Self {
        RequestFieldsBuilder {
            schema: schema(),
            strs: std::array::from_fn(|_| StringBuilder::new()),
            stream: BooleanBuilder::new(),
            rows: 0,
            batches: Vec::new(),
        }
    }

    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// Append the row of one payload; `None` (no request recorded) is a row of nulls.
    pub fn push(&mut self, payload: Option<&[u8]>) -> Result<()> {
        let f = payload.map(request_fields).unwrap_or_default();
        for (b, v) in self.strs.iter_mut().zip(f.strs()) {
            b.append_option(v);
        }
        self.stream.append_option(f.stream);
        self.rows += 1;
        if self.rows >= BATCH_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    /// Close the current record batch (no-op when empty).
    pub fn flush(&mut self) -> Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let mut cols: Vec<ArrayRef> = self.strs.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
        cols.push(Arc::new(self.stream.finish()));
        self.batches.push(RecordBatch::try_new(Arc::clone(&self.schema), cols)?);
        self.rows = 0;
        Ok(())
    }

    pub fn finish(mut self) -> Result<Table> {
        self.flush()?;
        Ok(Table::new(self.schema, self.batches))
    }
}

/// The fields of many payloads (`None` = no request) as one table, a row per payload.
pub fn request_fields_column(payloads: &[Option<&[u8]>]) -> Result<Table> {
    let mut b = RequestFieldsBuilder::new();
    for p in payloads {
        b.push(*p)?;
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::Array;

    fn f(p: &[u8]) -> RequestFields<'_> {
        request_fields(p)
    }

    #[test]
    fn head_and_body() {
        let p = b"POST /v1/messages?beta=true HTTP/1.1\r\nHost: api.anthropic.com\r\nX-Claude-Code-Session-Id: sess-1\r\nsession_id: other\r\ncontent-type: application/json\r\n\r\n{\"model\":\"claude-sonnet-4\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"metadata\":{\"user_id\":\"user_abc_account_x_session_123\"},\"stream\":true}";
        let r = f(p);
        assert_eq!(r.model.as_deref(), Some("claude-sonnet-4"));
        assert_eq!(r.user_id.as_deref(), Some("user_abc_account_x_session_123"));
        assert_eq!(r.session_header.as_deref(), Some("sess-1"));
        assert_eq!(r.stream, Some(true));
        assert_eq!((r.amz_target, r.conversation_id_body, r.prompt_cache_key), (None, None, None));
        // Values borrow the payload.
        assert!(matches!(r.model, Some(Cow::Borrowed(_))));
    }

    #[test]
    fn claude_code_sub_agent_headers() {
        let p = b"POST /v1/messages?beta=true HTTP/1.1\r\nx-claude-code-session-id: s\r\nX-Claude-Code-Agent-Id: agent-b7\r\nx-claude-code-parent-agent-id: \r\n\r\n{}";
        let r = f(p);
        assert_eq!((r.agent_id.as_deref(), r.parent_agent_id), (Some("agent-b7"), None));
        let p = b"POST /v1/messages HTTP/1.1\nx-claude-code-parent-agent-id: main\nx-claude-code-agent-id: sub-1\n\n";
        let r = f(p);
        assert_eq!((r.agent_id.as_deref(), r.parent_agent_id.as_deref()), (Some("sub-1"), Some("main")));
        assert_eq!(f(br#"{"model":"m"}"#).agent_id, None);
    }

    #[test]
    fn session_header_order_and_empty_values() {
        let p = b"POST /v1/responses HTTP/1.1\r\nconversation_id: c\r\nsession-id:  \r\nsession_id: s\r\nx-session-id: x\r\n\r\n";
        assert_eq!(f(p).session_header.as_deref(), Some("s"));
        let p = b"POST /v1/responses HTTP/1.1\r\nconversation_id: c\r\nSession-Id:\r\n\r\n{}";
        assert_eq!(f(p).session_header.as_deref(), Some("c"));
        // First occurrence of a name counts, even when a later one differs.
        let p = b"POST / HTTP/1.1\nx-session-id: first\nx-session-id: second\n\n{}";
        assert_eq!(f(p).session_header.as_deref(), Some("first"));
    }

    #[test]
    fn body_only() {
        let r = f(br#"  {"model":"gpt-5","prompt_cache_key":"pck","previous_response_id":"resp_1","conversation":{"id":"conv_9"},"stream":false}"#);
        assert_eq!(r.model.as_deref(), Some("gpt-5"));
        assert_eq!(r.prompt_cache_key.as_deref(), Some("pck"));
        assert_eq!(r.previous_response_id.as_deref(), Some("resp_1"));
        assert_eq!(r.conversation_id_body.as_deref(), Some("conv_9"));
        assert_eq!(r.stream, Some(false));
        assert_eq!(r.session_header, None);
    }

    #[test]
    fn responses_conversation_string() {
        let r = f(br#"{"conversation":"conv_s","input":[{"type":"message","content":"x"}]}"#);
        assert_eq!(r.conversation_id_body.as_deref(), Some("conv_s"));
        let r = f(br#"{"conversation":"conv_s","conversation":null}"#);
        assert_eq!(r.conversation_id_body, None);
    }

    #[test]
    fn kiro() {
        let p = br#"POST / HTTP/1.1
x-amz-target: AmazonCodeWhispererStreamingService.GenerateAssistantResponse
content-type: application/x-amz-json-1.0

{"conversationState":{"chatTriggerType":"MANUAL","conversationId":"6f1c2f8e","history":[{"userInputMessage":{"content":"a","modelId":"old"}}],"currentMessage":{"userInputMessage":{"content":"hello","modelId":"claude-sonnet-4.5","origin":"AI_EDITOR"}}},"profileArn":"arn:x"}"#;
        let r = f(p);
        assert_eq!(r.amz_target.as_deref(), Some("AmazonCodeWhispererStreamingService.GenerateAssistantResponse"));
        assert_eq!(r.model.as_deref(), Some("claude-sonnet-4.5"));
        assert_eq!(r.conversation_id_body.as_deref(), Some("6f1c2f8e"));
        assert_eq!(r.stream, None);
        // A top-level modelId comes before the kiro one.
        let r = f(br#"{"modelId":"top","conversationState":{"currentMessage":{"userInputMessage":{"modelId":"k"}}}}"#);
        assert_eq!(r.model.as_deref(), Some("top"));
    }

    #[test]
    fn code_assist() {
        let r = f(br#"{"model":"gemini-2.5-pro","project":"p","user_prompt_id":"u","request":{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"session_id":"sess-ca","model":"inner"}}"#);
        assert_eq!(r.model.as_deref(), Some("gemini-2.5-pro"));
        assert_eq!(r.conversation_id_body.as_deref(), Some("sess-ca"));
    }

    #[test]
    fn invalid_json_gives_nulls() {
        for p in [&b"{nope"[..], b"not json at all", b"", b"[1,2,3]", b"\"model\"", b"{\"model\": nope}"] {
            let r = f(p);
            assert_eq!(r, RequestFields::default(), "{:?}", String::from_utf8_lossy(p));
        }
        // Wrong types read as absent.
        let r = f(br#"{"model":5,"stream":"true","metadata":{"user_id":7},"prompt_cache_key":null}"#);
        assert_eq!(r, RequestFields::default());
        // A head with a broken body keeps its head columns.
        let r = f(b"POST / HTTP/1.1\r\nsession_id: s\r\n\r\n{\"model\" 1}");
        assert_eq!((r.session_header.as_deref(), r.model), (Some("s"), None));
    }

    #[test]
    fn truncated_body_keeps_what_was_read() {
        let r = f(br#"{"model":"m","stream":true,"messages":[{"role":"user","content":"a very long conv"#);
        assert_eq!((r.model.as_deref(), r.stream), (Some("m"), Some(true)));
    }

    #[test]
    fn content_encoding_is_not_decoded() {
        let gz =
            b"POST /v1/messages HTTP/1.1\r\ncontent-encoding: gzip\r\nsession_id: s\r\n\r\n\x1f\x8b\x08\x00\x00\x00";
        let r = f(gz);
        assert_eq!((r.session_header.as_deref(), r.model), (Some("s"), None));
        // The head still says gzip but the stored body is plain JSON: it is read.
        let plain = b"POST /v1/messages HTTP/1.1\r\nContent-Encoding: zstd\r\n\r\n{\"model\":\"m\"}";
        assert_eq!(f(plain).model.as_deref(), Some("m"));
        let identity = b"POST / HTTP/1.1\r\ncontent-encoding: identity\r\n\r\n{\"model\":\"m\"}";
        assert_eq!(f(identity).model.as_deref(), Some("m"));
    }

    #[test]
    fn chunked_bodies() {
        let p = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n{\"mode\r\n9;x=1\r\nl\":\"m\",\"s\r\nb\r\ntream\":true\r\n1\r\n}\r\n0\r\n\r\n";
        let r = f(p);
        assert_eq!((r.model.as_deref(), r.stream), (Some("m"), Some(true)));
        // Already de-chunked under the original head: read as is.
        let p = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n{\"model\":\"m\"}";
        assert_eq!(f(p).model.as_deref(), Some("m"));
    }

    #[test]
    fn escapes_and_latin1_headers() {
        let r = f(b"POST / HTTP/1.1\r\nsession_id: caf\xe9\r\n\r\n{\"model\":\"a\\u00e9\\\"b\"}");
        assert_eq!(r.session_header.as_deref(), Some("café"));
        assert_eq!(r.model.as_deref(), Some("aé\"b"));
    }

    #[test]
    fn not_a_head() {
        // A body whose first line merely contains "HTTP/" is not a head.
        let r = f(b"{\"model\":\"HTTP/1.1 m\"}");
        assert_eq!(r.model.as_deref(), Some("HTTP/1.1 m"));
        let (head, body) = split_message(b"GET /x HTTP/1.1\r\nhost: h");
        assert_eq!((head, body), (Some(&b"host: h"[..]), &b""[..]));
    }

    #[test]
    fn megabyte_body() {
        let filler = "lorem \\\"ipsum\\\" dolor ".repeat(50_000);
        let body = format!(
            r#"{{"model":"claude-opus-4","max_tokens":32000,"messages":[{{"role":"user","content":[{{"type":"text","text":"{filler}"}}]}},{{"role":"assistant","content":"ok"}}],"tools":[{{"name":"Read","input_schema":{{"type":"object"}}}}],"metadata":{{"user_id":"u1"}},"stream":true}}"#
        );
        assert!(body.len() > 1_000_000);
        let payload =
            [b"POST /v1/messages HTTP/1.1\r\nx-claude-code-session-id: s1\r\n\r\n".as_slice(), body.as_bytes()]
                .concat();
        let t = std::time::Instant::now();
        let r = f(&payload);
        let took = t.elapsed();
        assert_eq!(r.model.as_deref(), Some("claude-opus-4"));
        assert_eq!(r.user_id.as_deref(), Some("u1"));
        assert_eq!(r.stream, Some(true));
        assert_eq!(r.session_header.as_deref(), Some("s1"));
        // Generous: a debug build skips 1 MB well within this; a release build in about a millisecond.
        assert!(took.as_secs_f64() < 2.0, "{took:?}");
    }

    #[test]
    fn column() {
        let a = b"POST / HTTP/1.1\r\nx-amz-target: T\r\n\r\n{\"model\":\"m\",\"stream\":true}".to_vec();
        let t = request_fields_column(&[Some(&a), None, Some(b"{}")]).unwrap();
        assert_eq!(t.schema, schema());
        assert_eq!(t.num_rows(), 3);
        let b = &t.batches[0];
        let model = b.column(0).as_string::<i32>();
        assert_eq!((model.value(0), model.is_null(1), model.is_null(2)), ("m", true, true));
        let col = |name: &str| b.column(t.schema.index_of(name).unwrap());
        assert_eq!(col("amz_target").as_string::<i32>().value(0), "T");
        assert!(col("agent_id").is_null(0) && col("parent_agent_id").is_null(0));
        let stream = col("stream").as_boolean();
        assert!(stream.value(0) && stream.is_null(1) && stream.is_null(2));
    }
}
