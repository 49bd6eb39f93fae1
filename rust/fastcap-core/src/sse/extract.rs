//! Fast extraction of the analysis fields from one SSE event's JSON `data` (docs/specs/sse.md §4–§9).
//!
//! The JSON is read into small borrowed structs that name only the fields we read; every other
//! key is skipped without building a value, and strings without escapes are borrowed from the
//! event data. Every leaf is "loose": a field of an unexpected JSON type reads as absent instead
//! of failing the whole event, so `json_error` means "not valid JSON". The reader is hand-written
//! (`scan`); in test builds the same structs also derive serde's `Deserialize`, and `serde_json`
//! through them (`reference`) is the readable reference the reader is checked against.
//!
//! What fills each field (first rule that applies):
//!
//! | field | source |
//! |---|---|
//! | `json_type` | top-level `type` |
//! | `text` | Anthropic `content_block_delta` with `delta.type == "text_delta"`: `delta.text`; OpenAI Responses `response.output_text.delta`: `delta`; OpenAI Chat: `choices[i].delta.content` of the choice with `index` 0 (or no index); Gemini (also inside a Code Assist `{"response": …}` wrapper): concatenation of `candidates[0].content.parts[*].text` whose `thought` is not true |
//! | `reasoning` | Anthropic `thinking_delta`: `delta.thinking`; Responses `response.reasoning_summary_text.delta` and `response.reasoning_text.delta`: `delta`; Chat: `delta.reasoning_content`, else `delta.reasoning`; Gemini: `text` of parts with `thought: true` |
//! | `tool_name` | Anthropic `content_block_start` of a `tool_use` / `server_tool_use` / `mcp_tool_use` block: `content_block.name`; Responses `response.output_item.added`: `item.name`; Chat: `delta.tool_calls[*].function.name`; Gemini: `parts[*].functionCall.name`. Several starts in one event are joined with `,` |
//! | `tool_id` | The key of the tool call an event starts or continues, the same on its start and on its argument deltas within one response, so that a call's name and arguments can be merged by it. Anthropic: `#` + the content block `index` on the tool block's `content_block_start` and on its `input_json_delta` deltas (a block's `id` is on the start only). Responses: on `response.output_item.added` that sets `tool_name`, `item.id` (else `item.call_id`); on the argument deltas below, `item_id` (the item's `id`). Chat: `#` + `delta.tool_calls[*].index` (else the element's position in `tool_calls`) for every element, joined with `,` like `tool_name`; never the element's `id`, which real streams send on the first delta only while gateways repeat it on every one. Gemini: null (each `functionCall` part is a whole call) |
//! | `tool_args` | The argument text an event adds to its call: Anthropic `input_json_delta`: `delta.partial_json`; Responses `response.function_call_arguments.delta`, `response.custom_tool_call_input.delta`, `response.mcp_call_arguments.delta`: `delta`; Chat: `delta.tool_calls[*].function.arguments`, concatenated. Arguments given whole on a start (Anthropic `input`, Responses `item.arguments`, Gemini `functionCall.args`) are not read |
//! | `model` | Anthropic `message.model` (message_start); Chat top-level `model`; Responses `response.model`; Gemini `modelVersion` |
//! | `stop_reason` | Anthropic `delta.stop_reason` (message_delta) or `message.stop_reason`; Chat `finish_reason` of choice 0; Gemini `candidates[0].finishReason`; Responses `response.status` of `response.completed` / `.failed` / `.incomplete` |
//! | `error_type` | `error.type`, else `error.status` (Anthropic, OpenAI, Gemini error objects, also `response.error` of `response.failed`); for an OpenAI Responses top-level `{"type":"error","code",…}` event: its `code`, else `"error"` |
//! | `error_code` | `error.code` (string or number, as text); Responses error event: `code` |
//! | `error_message` | `error.message`; Responses error event: top-level `message` |
//! | `input_tokens` | Anthropic `usage.input_tokens` (message_start `message.usage` or message_delta `usage`; uncached input only); Responses `response.usage.input_tokens`; Chat `usage.prompt_tokens`; Gemini `usageMetadata.promptTokenCount` |
//! | `output_tokens` | Anthropic / Responses `output_tokens`; Chat `completion_tokens`; Gemini `candidatesTokenCount` (raw: excludes `thoughtsTokenCount`) |
//! | `cache_read_tokens` | Anthropic `cache_read_input_tokens`; Responses `input_tokens_details.cached_tokens`; Chat `prompt_tokens_details.cached_tokens`; Gemini `cachedContentTokenCount` |
//! | `cache_write_tokens` | Anthropic `cache_creation_input_tokens`; Responses `input_tokens_details.cache_write_tokens`; Chat `prompt_tokens_details.cache_write_tokens` (OpenAI and OpenAI-compatible gateways report it beside `cached_tokens`); Gemini: none |
//! | `cache_write_1h_tokens` | the part of `cache_write_tokens` written with the 1-hour TTL: Anthropic `usage.cache_creation.ephemeral_1h_input_tokens` (the rest is the 5-minute tier, `ephemeral_5m_input_tokens`); null for every other API |
//! | `reasoning_tokens` | Responses `output_tokens_details.reasoning_tokens`; Anthropic `output_tokens_details.thinking_tokens`; Chat `completion_tokens_details.reasoning_tokens`; Gemini `thoughtsTokenCount` |
//!
//! The usage numbers are the raw fields of this one event; the per-provider combination rules
//! (Anthropic key-by-key latest wins, Gemini last chunk wins, §9 normalisation) are the caller's.

use std::borrow::Cow;

/// The fields extracted from one event. Strings borrow the event data when they can.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extracted<'a> {
    /// The data looked like JSON (started with `{`) but did not parse.
    pub json_error: bool,
    pub json_type: Option<Cow<'a, str>>,
    pub text: Option<Cow<'a, str>>,
    pub reasoning: Option<Cow<'a, str>>,
    pub tool_name: Option<Cow<'a, str>>,
    pub tool_id: Option<Cow<'a, str>>,
    pub tool_args: Option<Cow<'a, str>>,
    pub model: Option<Cow<'a, str>>,
    pub stop_reason: Option<Cow<'a, str>>,
    pub error_type: Option<Cow<'a, str>>,
    pub error_code: Option<Cow<'a, str>>,
    pub error_message: Option<Cow<'a, str>>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cache_read_tokens: Option<i64>,
    pub cache_write_tokens: Option<i64>,
    pub cache_write_1h_tokens: Option<i64>,
    pub reasoning_tokens: Option<i64>,
}

#[cfg(test)]
mod reference;
mod scan;

/// Extract the analysis fields of one event's data. `None` when the data is not a JSON object
/// (does not start with `{` after whitespace), e.g. `[DONE]`.
///
/// The JSON is read by a hand-written reader of the schema below (the private module `scan`); it
/// gives the same result as serde_json and the derived structs (the test-only module
/// `reference`) on every input, which the tests check on the fixtures and on generated and
/// mutated events.
pub fn extract(data: &str) -> Option<Extracted<'_>> {
    if !data.trim_start().starts_with('{') {
        return None;
    }
    let mut root = Root::default();
    match scan::parse_root(data, &mut root) {
        Ok(()) => Some(from_root(root)),
        Err(_) => Some(Extracted { json_error: true, ..Extracted::default() }),
    }
}

fn from_root(root: Root<'_>) -> Extracted<'_> {
    let mut x = Extracted::default();
    let ty = root.ty.0;
    let t: &str = ty.as_deref().unwrap_or("");

    // Errors: an `error` object anywhere at top level (Anthropic, OpenAI, Gemini, Chat mid-stream).
    match root.error {
        StrOr::Obj(e) => set_error(&mut x, *e),
        StrOr::Str(s) => x.error_message = Some(s),
        StrOr::None => {
            if t == "error" {
                // OpenAI Responses top-level error event: {type:"error", code, message, param}.
                x.error_code = root.code.0.clone();
                x.error_type = Some(root.code.0.unwrap_or(Cow::Borrowed("error")));
                if let StrOr::Str(m) = &root.message {
                    x.error_message = Some(m.clone());
                }
            }
        }
    }

    // Anthropic.
    if let StrOr::Obj(d) = root.delta {
        match d.ty.0.as_deref() {
            Some("text_delta") => x.text = d.text.0,
            Some("thinking_delta") => x.reasoning = d.thinking.0,
            Some("input_json_delta") => {
                x.tool_id = root.index.0.map(index_key);
                x.tool_args = d.partial_json.0;
            }
            _ => {}
        }
        if d.stop_reason.0.is_some() {
            x.stop_reason = d.stop_reason.0;
        }
    } else if let StrOr::Str(s) = root.delta {
        // OpenAI Responses deltas are plain strings.
        match t {
            "response.output_text.delta" => x.text = Some(s),
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => x.reasoning = Some(s),
            "response.function_call_arguments.delta"
            | "response.custom_tool_call_input.delta"
            | "response.mcp_call_arguments.delta" => {
                x.tool_id = root.item_id.0;
                x.tool_args = Some(s);
            }
            _ => {}
        }
    }
    if let StrOr::Obj(b) = root.content_block {
        if t == "content_block_start"
            && matches!(b.ty.0.as_deref(), Some("tool_use" | "server_tool_use" | "mcp_tool_use"))
        {
            x.tool_name = b.name.0;
            x.tool_id = root.index.0.map(index_key);
        }
    }
    if let StrOr::Obj(m) = root.message {
        x.model = m.model.0;
        if m.stop_reason.0.is_some() && x.stop_reason.is_none() {
            x.stop_reason = m.stop_reason.0;
        }
        if let LObj(Some(u)) = m.usage {
            set_usage(&mut x, &u);
        }
    }
    if let LObj(Some(u)) = &root.usage {
        set_usage(&mut x, u);
    }

    // OpenAI Responses: output items and the `response` object.
    if let StrOr::Obj(item) = root.item {
        if t == "response.output_item.added" {
            x.tool_name = item.name.0;
            // The deltas of the call's arguments name the item by its `id`.
            if x.tool_name.is_some() {
                x.tool_id = item.id.0.or(item.call_id.0);
            }
        }
    }

    // OpenAI Chat.
    if let Some(c) = root.choices.0.into_iter().find(|c| c.index.0.unwrap_or(0) == 0) {
        if let StrOr::Obj(d) = c.delta {
            x.text = d.content.0;
            x.reasoning = d.reasoning_content.0.or(d.reasoning.0);
            let (mut names, mut keys, mut args) = (Vec::new(), Vec::new(), None);
            for (pos, tc) in d.tool_calls.0.into_iter().enumerate() {
                keys.push(index_key(tc.index.0.unwrap_or(pos as i64)));
                if let StrOr::Obj(f) = tc.function {
                    names.extend(f.name.0);
                    if let Some(a) = f.arguments.0 {
                        append(&mut args, a);
                    }
                }
            }
            x.tool_name = join_names(names.into_iter());
            x.tool_id = join_names(keys.into_iter());
            x.tool_args = args;
        }
        x.stop_reason = c.finish_reason.0;
    }
    if root.model.0.is_some() {
        x.model = root.model.0;
    }

    // The nested `response`: OpenAI Responses lifecycle events, or the Code Assist wrapper of a
    // Gemini chunk (no top-level `type`).
    let mut gemini =
        Gemini { candidates: root.candidates, usage_metadata: root.usage_metadata, model_version: root.model_version };
    if let StrOr::Obj(r) = root.response {
        let r = *r;
        if t.starts_with("response.") {
            if r.model.0.is_some() {
                x.model = r.model.0;
            }
            if let LObj(Some(u)) = &r.usage {
                set_usage(&mut x, u);
            }
            if matches!(t, "response.completed" | "response.failed" | "response.incomplete") {
                x.stop_reason = r.status.0;
            }
            if let StrOr::Obj(e) = r.error {
                set_error(&mut x, *e);
            }
        } else if ty.is_none() {
            gemini =
                Gemini { candidates: r.candidates, usage_metadata: r.usage_metadata, model_version: r.model_version };
            if let StrOr::Obj(e) = r.error {
                set_error(&mut x, *e);
            }
        }
    }

    // Gemini.
    if gemini.model_version.0.is_some() {
        x.model = gemini.model_version.0;
    }
    if let Some(c) = gemini.candidates.0.into_iter().find(|c| c.index.0.unwrap_or(0) == 0) {
        if let StrOr::Obj(content) = c.content {
            let mut text: Option<Cow<'_, str>> = None;
            let mut thought: Option<Cow<'_, str>> = None;
            let mut names = Vec::new();
            for p in content.parts.0 {
                if let Some(s) = p.text.0 {
                    let slot = if p.thought.0 == Some(true) { &mut thought } else { &mut text };
                    append(slot, s);
                }
                if let StrOr::Obj(f) = p.function_call {
                    if let Some(n) = f.name.0 {
                        names.push(n);
                    }
                }
            }
            x.text = text;
            x.reasoning = thought;
            x.tool_name = join_names(names.into_iter());
            x.tool_id = None;
            x.tool_args = None;
        }
        if c.finish_reason.0.is_some() {
            x.stop_reason = c.finish_reason.0;
        }
    }
    if let LObj(Some(u)) = gemini.usage_metadata {
        x.input_tokens = u.prompt.0;
        x.output_tokens = u.candidates.0;
        x.cache_read_tokens = u.cached.0;
        x.reasoning_tokens = u.thoughts.0;
    }
    x.json_type = ty;
    x
}

struct Gemini<'a> {
    candidates: LVec<Candidate<'a>>,
    usage_metadata: LObj<UsageMeta>,
    model_version: LStr<'a>,
}

fn append<'a>(slot: &mut Option<Cow<'a, str>>, s: Cow<'a, str>) {
    match slot {
        None => *slot = Some(s),
        Some(prev) => prev.to_mut().push_str(&s),
    }
}

/// The key `#<index>` of a tool call known by its position (content block or `tool_calls` index).
fn index_key<'a>(index: i64) -> Cow<'a, str> {
    Cow::Owned(format!("#{index}"))
}

fn join_names<'a>(mut it: impl Iterator<Item = Cow<'a, str>>) -> Option<Cow<'a, str>> {
    let mut out = it.next()?;
    for n in it {
        let o = out.to_mut();
        o.push(',');
        o.push_str(&n);
    }
    Some(out)
}

fn set_error<'a>(x: &mut Extracted<'a>, e: ErrorObj<'a>) {
    x.error_type = e.ty.0.or(e.status.0);
    x.error_code = e.code.0;
    x.error_message = e.message.0;
}

fn set_usage(x: &mut Extracted<'_>, u: &Usage) {
    let det = |d: &LObj<Details>| d.0;
    let (itd, ptd, otd, ctd) = (
        det(&u.input_tokens_details),
        det(&u.prompt_tokens_details),
        det(&u.output_tokens_details),
        det(&u.completion_tokens_details),
    );
    x.input_tokens = u.input_tokens.0.or(u.prompt_tokens.0);
    x.output_tokens = u.output_tokens.0.or(u.completion_tokens.0);
    x.cache_read_tokens =
        u.cache_read_input_tokens.0.or(itd.and_then(|d| d.cached_tokens.0)).or(ptd.and_then(|d| d.cached_tokens.0));
    x.cache_write_tokens = u
        .cache_creation_input_tokens
        .0
        .or(itd.and_then(|d| d.cache_write_tokens.0))
        .or(ptd.and_then(|d| d.cache_write_tokens.0));
    x.cache_write_1h_tokens = u.cache_creation.0.and_then(|c| c.ephemeral_1h_input_tokens.0);
    x.reasoning_tokens =
        otd.and_then(|d| d.reasoning_tokens.0.or(d.thinking_tokens.0)).or(ctd.and_then(|d| d.reasoning_tokens.0));
}

// ---------------------------------------------------------------------------------------------
// Typed, borrowed views of the JSON. Only the named keys are materialised. The serde attributes
// exist for the test-only reference; release builds read these structs with `scan` alone.

#[derive(Default)]
#[cfg_attr(test, derive(serde::Deserialize))]
#[cfg_attr(test, serde(default))]
struct Root<'a> {
    #[cfg_attr(test, serde(borrow, rename = "type"))]
    ty: LStr<'a>,
    #[cfg_attr(test, serde(borrow))]
    delta: StrOr<'a, Delta<'a>>,
    #[cfg_attr(test, serde(borrow))]
    content_block: StrOr<'a, Block<'a>>,
    // Rare, large members are boxed, so that the struct built for every event stays small.
    #[cfg_attr(test, serde(borrow))]
    message: StrOr<'a, Box<Message<'a>>>,
    usage: LObj<Box<Usage>>,
    #[cfg_attr(test, serde(borrow))]
    error: StrOr<'a, Box<ErrorObj<'a>>>,
    #[cfg_attr(test, serde(borrow))]
    code: LStr<'a>,
    #[cfg_attr(test, serde(borrow))]
    model: LStr<'a>,
    #[cfg_attr(test, serde(borrow))]
    status: LStr<'a>,
    #[cfg_attr(test, serde(borrow))]
    choices: LVec<Choice<'a>>,
    #[cfg_attr(test, serde(borrow))]
    item: StrOr<'a, Item<'a>>,
    #[cfg_attr(test, serde(borrow))]
    response: StrOr<'a, Box<Root<'a>>>,
    #[cfg_attr(test, serde(borrow))]
    candidates: LVec<Candidate<'a>>,
    #[cfg_attr(test, serde(rename = "usageMetadata"))]
    usage_metadata: LObj<UsageMeta>,
    #[cfg_attr(test, serde(borrow, rename = "modelVersion"))]
    model_version: LStr<'a>,
    /// Anthropic: the content block an event belongs to.
    index: LInt,
    /// OpenAI Responses: the output item an event belongs to.
    #[cfg_attr(test, serde(borrow))]
    item_id: LStr<'a>,
}

#[derive(Default)]
#[cfg_attr(test, derive(serde::Deserialize))]
#[cfg_attr(test, serde(default))]
struct Delta<'a> {
    #[cfg_attr(test, serde(borrow, rename = "type"))]
    ty: LStr<'a>,
    #[cfg_attr(test, serde(borrow))]
    text: LStr<'a>,
    #[cfg_attr(test, serde(borrow))]
    thinking: LStr<'a>,
    #[cfg_attr(test, serde(borrow))]
    stop_reason: LStr<'a>,
    #[cfg_attr(test, serde(borrow))]
    partial_json: LStr<'a>,
}

#[derive(Default)]
#[cfg_attr(test, derive(serde::Deserialize))]
#[cfg_attr(test, serde(default))]
struct Block<'a> {
    #[cfg_attr(test, serde(borrow, rename = "type"))]
    ty: LStr<'a>,
    #[cfg_attr(test, serde(borrow))]
    name: LStr<'a>,
}

#[derive(Default)]
#[cfg_attr(test, derive(serde::Deserialize))]
#[cfg_attr(test, serde(default))]
struct Message<'a> {
    #[cfg_attr(test, serde(borrow))]
    model: LStr<'a>,
    #[cfg_attr(test, serde(borrow))]
    stop_reason: LStr<'a>,
    usage: LObj<Box<Usage>>,
}

#[derive(Default)]
#[cfg_attr(test, derive(serde::Deserialize))]
#[cfg_attr(test, serde(default))]
struct Usage {
    input_tokens: LInt,
    output_tokens: LInt,
    cache_read_input_tokens: LInt,
    cache_creation_input_tokens: LInt,
    cache_creation: LObj<CacheCreation>,
    prompt_tokens: LInt,
    completion_tokens: LInt,
    input_tokens_details: LObj<Details>,
    prompt_tokens_details: LObj<Details>,
    output_tokens_details: LObj<Details>,
    completion_tokens_details: LObj<Details>,
}

/// Anthropic's `usage.cache_creation`: the cache writes by TTL tier.
#[derive(Default, Clone, Copy)]
#[cfg_attr(test, derive(serde::Deserialize))]
#[cfg_attr(test, serde(default))]
struct CacheCreation {
    ephemeral_1h_input_tokens: LInt,
}

#[derive(Default, Clone, Copy)]
#[cfg_attr(test, derive(serde::Deserialize))]
#[cfg_attr(test, serde(default))]
struct Details {
    cached_tokens: LInt,
    cache_write_tokens: LInt,
    reasoning_tokens: LInt,
    thinking_tokens: LInt,
}

#[derive(Default)]
#[cfg_attr(test, derive(serde::Deserialize))]
#[cfg_attr(test, serde(default))]
struct UsageMeta {
    #[cfg_attr(test, serde(rename = "promptTokenCount"))]
    prompt: LInt,
    #[cfg_attr(test, serde(rename = "candidatesTokenCount"))]
    candidates: LInt,
    #[cfg_attr(test, serde(rename = "cachedContentTokenCount"))]
    cached: LInt,
    #[cfg_attr(test, serde(rename = "thoughtsTokenCount"))]
    thoughts: LInt,
}

#[derive(Default)]
#[cfg_attr(test, derive(serde::Deserialize))]
#[cfg_attr(test, serde(default))]
struct ErrorObj<'a> {
    #[cfg_attr(test, serde(borrow, rename = "type"))]
    ty: LStr<'a>,
    #[cfg_attr(test, serde(borrow))]
    message: LStr<'a>,
    #[cfg_attr(test, serde(borrow))]
    code: LStr<'a>,
    #[cfg_attr(test, serde(borrow))]
    status: LStr<'a>,
}

#[derive(Default)]
#[cfg_attr(test, derive(serde::Deserialize))]
#[cfg_attr(test, serde(default))]
struct Choice<'a> {
    index: LInt,
    #[cfg_attr(test, serde(borrow))]
    delta: StrOr<'a, ChatDelta<'a>>,
    #[cfg_attr(test, serde(borrow))]
    finish_reason: LStr<'a>,
}

#[derive(Default)]
#[cfg_attr(test, derive(serde::Deserialize))]
#[cfg_attr(test, serde(default))]
struct ChatDelta<'a> {
    #[cfg_attr(test, serde(borrow))]
    content: LStr<'a>,
    #[cfg_attr(test, serde(borrow))]
    reasoning_content: LStr<'a>,
    #[cfg_attr(test, serde(borrow))]
    reasoning: LStr<'a>,
    #[cfg_attr(test, serde(borrow))]
    tool_calls: LVec<ChatToolCall<'a>>,
}

#[derive(Default)]
#[cfg_attr(test, derive(serde::Deserialize))]
#[cfg_attr(test, serde(default))]
struct ChatToolCall<'a> {
    index: LInt,
    #[cfg_attr(test, serde(borrow))]
    function: StrOr<'a, Func<'a>>,
}

#[derive(Default)]
#[cfg_attr(test, derive(serde::Deserialize))]
#[cfg_attr(test, serde(default))]
struct Func<'a> {
    #[cfg_attr(test, serde(borrow))]
    name: LStr<'a>,
    /// Chat only (Gemini's `functionCall` has an `args` object instead).
    #[cfg_attr(test, serde(borrow))]
    arguments: LStr<'a>,
}

#[derive(Default)]
#[cfg_attr(test, derive(serde::Deserialize))]
#[cfg_attr(test, serde(default))]
struct Item<'a> {
    #[cfg_attr(test, serde(borrow))]
    name: LStr<'a>,
    #[cfg_attr(test, serde(borrow))]
    id: LStr<'a>,
    #[cfg_attr(test, serde(borrow))]
    call_id: LStr<'a>,
}

#[derive(Default)]
#[cfg_attr(test, derive(serde::Deserialize))]
#[cfg_attr(test, serde(default))]
struct Candidate<'a> {
    index: LInt,
    #[cfg_attr(test, serde(borrow))]
    content: StrOr<'a, Content<'a>>,
    #[cfg_attr(test, serde(borrow, rename = "finishReason"))]
    finish_reason: LStr<'a>,
}

#[derive(Default)]
#[cfg_attr(test, derive(serde::Deserialize))]
#[cfg_attr(test, serde(default))]
struct Content<'a> {
    #[cfg_attr(test, serde(borrow))]
    parts: LVec<Part<'a>>,
}

#[derive(Default)]
#[cfg_attr(test, derive(serde::Deserialize))]
#[cfg_attr(test, serde(default))]
struct Part<'a> {
    #[cfg_attr(test, serde(borrow))]
    text: LStr<'a>,
    thought: LBool,
    #[cfg_attr(test, serde(borrow, rename = "functionCall"))]
    function_call: StrOr<'a, Func<'a>>,
}

// ---------------------------------------------------------------------------------------------
// Loose leaves: any JSON type is accepted; the wrong type reads as absent (and is skipped). Their
// `Deserialize` impls are in the test-only `reference`.

/// A string; numbers read as their decimal text (error codes may be either); other types: absent.
#[derive(Default, Debug)]
struct LStr<'a>(Option<Cow<'a, str>>);

/// An integer (an integral float is accepted); other types: absent.
#[derive(Default, Debug, Clone, Copy)]
struct LInt(Option<i64>);

/// A boolean; other types: absent.
#[derive(Default, Debug, Clone, Copy)]
struct LBool(Option<bool>);

/// A string or an object `T`; other types (null, numbers, arrays): absent.
#[derive(Debug, Default)]
enum StrOr<'a, T> {
    #[default]
    None,
    Str(Cow<'a, str>),
    Obj(T),
}

/// An object `T`; other types: absent.
#[derive(Debug)]
struct LObj<T>(Option<T>);

impl<T> Default for LObj<T> {
    fn default() -> Self {
        LObj(None)
    }
}

/// An array of objects `T` (non-object elements skipped); other types: empty.
#[derive(Debug)]
struct LVec<T>(Vec<T>);

impl<T> Default for LVec<T> {
    fn default() -> Self {
        LVec(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_cache_write_tiers() {
        let start = r#"{"type":"message_start","message":{"model":"m","usage":{"input_tokens":5,"cache_creation_input_tokens":300,"cache_creation":{"ephemeral_5m_input_tokens":100,"ephemeral_1h_input_tokens":200},"output_tokens":1}}}"#;
        let x = extract(start).unwrap();
        assert_eq!((x.cache_write_tokens, x.cache_write_1h_tokens), (Some(300), Some(200)));
        let delta = r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":9,"cache_creation":{"ephemeral_1h_input_tokens":"x"}}}"#;
        assert_eq!(extract(delta).unwrap().cache_write_1h_tokens, None);
        let body = r#"{"type":"message","usage":{"input_tokens":1,"cache_creation_input_tokens":4,"cache_creation":{"ephemeral_1h_input_tokens":4}}}"#;
        assert_eq!(extract(body).unwrap().cache_write_1h_tokens, Some(4));
    }

    #[test]
    fn anthropic_text_and_usage() {
        let x =
            extract(r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#).unwrap();
        assert_eq!(x.text.as_deref(), Some("Hi"));
        assert_eq!(x.json_type.as_deref(), Some("content_block_delta"));
        let x = extract(r#"{"type":"message_start","message":{"model":"m","usage":{"input_tokens":5,"cache_read_input_tokens":7,"cache_creation_input_tokens":3,"output_tokens":1}}}"#).unwrap();
        assert_eq!(
            (x.model.as_deref(), x.input_tokens, x.cache_read_tokens, x.cache_write_tokens),
            (Some("m"), Some(5), Some(7), Some(3))
        );
    }

    #[test]
    fn loose_types_and_errors() {
        let x = extract(r#"{"error":{"code":429,"message":"slow","status":"RESOURCE_EXHAUSTED"}}"#).unwrap();
        assert_eq!(x.error_type.as_deref(), Some("RESOURCE_EXHAUSTED"));
        assert_eq!(x.error_code.as_deref(), Some("429"));
        let x = extract(r#"{"type":"error","code":"rate_limit_exceeded","message":"m","param":null}"#).unwrap();
        assert_eq!(x.error_type.as_deref(), Some("rate_limit_exceeded"));
        assert_eq!(x.error_message.as_deref(), Some("m"));
        let x = extract(r#"{"choices":5,"usage":"x","delta":[1,2]}"#).unwrap();
        assert!(!x.json_error);
        assert!(extract("{nope").unwrap().json_error);
        assert!(extract("[DONE]").is_none());
    }

    fn tool(data: &str) -> (Option<String>, Option<String>, Option<String>) {
        let x = extract(data).unwrap();
        let own = |v: Option<Cow<'_, str>>| v.map(|s| s.into_owned());
        (own(x.tool_name), own(x.tool_id), own(x.tool_args))
    }

    fn some(name: Option<&str>, id: &str, args: Option<&str>) -> (Option<String>, Option<String>, Option<String>) {
        (name.map(str::to_owned), Some(id.to_owned()), args.map(str::to_owned))
    }

    #[test]
    fn tool_keys_match_on_start_and_deltas() {
        // Anthropic: the content block index, on the start and on the input_json_delta deltas.
        let start = r#"{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_1","name":"Read","input":{}}}"#;
        assert_eq!(tool(start), some(Some("Read"), "#2", None));
        let delta =
            r#"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"a\":"}}"#;
        assert_eq!(tool(delta), some(None, "#2", Some("{\"a\":")));
        let text = r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#;
        assert_eq!(tool(text), (None, None, None));
        // Responses: the item id on the start; item_id on the argument deltas.
        let added = r#"{"type":"response.output_item.added","output_index":1,"item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":"f","arguments":""}}"#;
        assert_eq!(tool(added), some(Some("f"), "fc_1", None));
        let no_id =
            r#"{"type":"response.output_item.added","item":{"type":"function_call","call_id":"call_1","name":"f"}}"#;
        assert_eq!(tool(no_id), some(Some("f"), "call_1", None));
        let message = r#"{"type":"response.output_item.added","item":{"type":"message","id":"msg_1"}}"#;
        assert_eq!(tool(message), (None, None, None));
        for ty in [
            "response.function_call_arguments.delta",
            "response.custom_tool_call_input.delta",
            "response.mcp_call_arguments.delta",
        ] {
            let d = format!(r#"{{"type":"{ty}","item_id":"fc_1","output_index":1,"delta":"{{}}"}}"#);
            assert_eq!(tool(&d), some(None, "fc_1", Some("{}")), "{ty}");
        }
        let done = r#"{"type":"response.function_call_arguments.done","item_id":"fc_1","arguments":"{}"}"#;
        assert_eq!(tool(done), (None, None, None));
        // Chat: `#index` whether or not the id is repeated (a gateway repeats id and name on
        // every delta; the name then counts once per key, not once per delta).
        let first = r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"f","arguments":""}}]}}]}"#;
        assert_eq!(tool(first), some(Some("f"), "#0", Some("")));
        let cont = r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}}]}"#;
        assert_eq!(tool(cont), some(None, "#0", Some("{}")));
        let gateway = r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","function":{"name":"f","arguments":"{}"}}]}}]}"#;
        assert_eq!(tool(gateway), some(Some("f"), "#0", Some("{}")));
        let two = r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"name":"a","arguments":"x"}},{"function":{"name":"b","arguments":"y"}}]}}]}"#;
        assert_eq!(tool(two), some(Some("a,b"), "#0,#1", Some("xy")));
        let none = r#"{"choices":[{"index":0,"delta":{"content":"hi","tool_calls":[]}}]}"#;
        assert_eq!(tool(none), (None, None, None));
        // Gemini: no key; every functionCall part is a whole call.
        let gemini = r#"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"g","args":{"a":1}}}]}}]}"#;
        assert_eq!(tool(gemini), (Some("g".to_owned()), None, None));
    }

    #[test]
    fn openai_cache_writes() {
        // Chat Completions and Responses report cache writes beside cache reads.
        let chat = r#"{"choices":[],"usage":{"prompt_tokens":4020,"completion_tokens":12,"prompt_tokens_details":{"cached_tokens":0,"cache_write_tokens":4012}}}"#;
        let x = extract(chat).unwrap();
        assert_eq!((x.input_tokens, x.cache_read_tokens, x.cache_write_tokens), (Some(4020), Some(0), Some(4012)));
        let responses = r#"{"type":"response.completed","response":{"status":"completed","usage":{"input_tokens":4020,"input_tokens_details":{"cached_tokens":0,"cache_write_tokens":4012},"output_tokens":12}}}"#;
        let x = extract(responses).unwrap();
        assert_eq!((x.input_tokens, x.cache_read_tokens, x.cache_write_tokens), (Some(4020), Some(0), Some(4012)));
        // Anthropic's own field wins where both are present.
        let both = r#"{"usage":{"input_tokens":1,"cache_creation_input_tokens":7,"input_tokens_details":{"cache_write_tokens":9}}}"#;
        assert_eq!(extract(both).unwrap().cache_write_tokens, Some(7));
    }

    #[test]
    fn chunk_with_error_finish_reason_and_usage_keeps_all_three() {
        // An OpenAI-compatible router's last chunk: the error does not hide the rest of the chunk.
        let x = extract(r#"{"id":"gen-1","error":{"code":502,"message":"upstream failed"},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}],"usage":{"prompt_tokens":100,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":64}}}"#).unwrap();
        assert_eq!((x.error_code.as_deref(), x.error_message.as_deref()), (Some("502"), Some("upstream failed")));
        assert_eq!(x.stop_reason.as_deref(), Some("error"));
        assert_eq!((x.input_tokens, x.output_tokens, x.cache_read_tokens), (Some(100), Some(3), Some(64)));
    }

    #[test]
    fn gemini_code_assist() {
        let x = extract(r#"{"response":{"candidates":[{"content":{"parts":[{"text":"a","thought":true},{"text":"b"},{"text":"c"},{"functionCall":{"name":"f","args":{}}}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":3,"thoughtsTokenCount":2},"modelVersion":"g"},"traceId":"t"}"#).unwrap();
        assert_eq!(x.text.as_deref(), Some("bc"));
        assert_eq!(x.reasoning.as_deref(), Some("a"));
        assert_eq!(x.tool_name.as_deref(), Some("f"));
        assert_eq!(x.stop_reason.as_deref(), Some("STOP"));
        assert_eq!((x.input_tokens, x.reasoning_tokens), (Some(3), Some(2)));
        assert_eq!(x.model.as_deref(), Some("g"));
    }
}
