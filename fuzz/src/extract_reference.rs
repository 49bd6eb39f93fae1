//! The serde reference of `fastcap_core::sse::extract::extract`: `serde_json` deserialising
//! borrowed structs that name the fields the extractor reads, through "loose" leaves (a value of
//! the wrong JSON type reads as absent), then the rules that fill each field.
//!
//! The core keeps this reference test-only (`rust/fastcap-core/src/sse/extract/reference.rs`,
//! built under `cfg(test)`; the structs of `sse/extract.rs` derive `Deserialize` only there), so
//! a fuzz crate cannot call it. `build.rs` copies the core's structs, field rules and leaf impls
//! from those two files at build time, with the test-only attributes made unconditional: the
//! reference is always the core's own, and the `sse_extract` target checks the hand-written JSON
//! reader (`sse/extract/scan.rs`) against serde_json through it.

#![allow(clippy::all, dead_code)]

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use fastcap_core::sse::extract::Extracted;
use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// `extract` through `serde_json` and the derived structs.
pub fn extract_reference(data: &str) -> Option<Extracted<'_>> {
    if !data.trim_start().starts_with('{') {
        return None;
    }
    match serde_json::from_str::<Root<'_>>(data) {
        Ok(root) => Some(from_root(root)),
        Err(_) => Some(Extracted { json_error: true, ..Extracted::default() }),
    }
}

include!(concat!(env!("OUT_DIR"), "/extract_reference_body.rs"));
