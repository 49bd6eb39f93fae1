//! fastcap-core: the pure-Rust hot paths of fastcap. Capture files, mitmdump logs and streamed
//! LLM responses are decoded straight into Arrow record batches, mostly as views into the input.
//!
//! Nothing here depends on Python; `cargo test -p fastcap-core` exercises it all. The pyo3 binding
//! (`rust/fastcap-py`) is a thin layer that exports each [`arrow_util::Table`] through the Arrow C
//! stream interface.
//!
//! **Readers: files to Arrow.**
//! * [`cbor`]: LLMPROXY-CAPTURE-V2 captures (`docs/specs/cbor-v2.md`). The file is memory-mapped
//!   ([`cbor::Source`]) and [`cbor::EntryReader`] decodes the entries in order, one row per entry
//!   and one typed column per metadata key, payloads and strings as views into the map.
//!   [`cbor::assemble`] rejoins streamed response bodies; [`cbor::writer`] writes captures.
//! * [`mitmlog`]: mitmdump console logs (`docs/specs/mitmproxy.md` §3), mapped and scanned once
//!   into a table of flows ([`mitmlog::parse_file`]).
//!
//! **Decoders: response bodies to events.** Each works on one body, incrementally on chunks, or
//! on a whole column of bodies (e.g. a capture's `data`) into one events table.
//! * [`eventstream`]: AWS EventStream frames (`docs/specs/eventstream.md`).
//! * [`sse`]: Server-Sent Events with WHATWG semantics (`docs/specs/sse.md`); [`sse::column`]
//!   builds the events table and [`sse::extract`] reads the analysis fields (text, tool names,
//!   usage, errors) from each event's JSON.
//! * [`stream_events`]: EventStream bodies (kiro, Bedrock) into the same events table as SSE.
//!
//! **Requests.** [`request`]: the identifying fields of request payloads (model, session and
//! conversation ids, stream flag), one row per payload, without building the JSON body.
//!
//! **Secrets.** [`literals`]: which of a set of literals occur in a text, in one pass, and
//! [`b64scan`]: which base64 runs of a text may hide one (the pre-checks of redaction and the leak
//! scan).
//!
//! **Errors** live in [`error`]: an [`Error`] is I/O, Arrow, an interruption, or a [`FormatError`]
//! naming the [`error::Format`], a machine-readable `kind` and the byte offset. Faults a reader
//! recovers from are reported beside the data instead ([`cbor::Diagnostic`],
//! [`eventstream::BodyReport`]). The binding maps [`Error`] to Python exceptions in one place,
//! `rust/fastcap-py/src/errors.rs`.

pub mod arrow_util;
pub mod b64scan;
pub mod cbor;
pub mod error;
pub mod eventstream;
pub mod har;
pub(crate) mod json_value;
pub mod jsonl;
pub mod literals;
pub(crate) mod loose_json;
pub mod mitmlog;
pub mod request;
pub mod sse;
pub mod stream_events;

pub use error::{Error, FormatError, Result};
