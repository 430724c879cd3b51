//! Every shape that crosses a process boundary (the state machine's states, the run store): one
//! Rust type each, with a JSON fixture in tests/fixtures round-tripped through serde.

pub mod gate;
pub mod lister;
pub mod reduce;
pub mod review;
pub mod worker;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// A JSON value written with every object's keys in order, whatever serde_json's build keeps
/// (a dependency may switch on its `preserve_order`): equal values, equal text. For hashes of
/// inputs and for files that tests compare byte for byte.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Sorted<'a> {
    Object(BTreeMap<&'a str, Sorted<'a>>),
    Array(Vec<Sorted<'a>>),
    Other(&'a Value),
}

impl<'a> Sorted<'a> {
    pub fn of(value: &'a Value) -> Self {
        match value {
            Value::Object(fields) => Self::Object(
                fields
                    .iter()
                    .map(|(key, value)| (key.as_str(), Self::of(value)))
                    .collect(),
            ),
            Value::Array(items) => Self::Array(items.iter().map(Self::of).collect()),
            other => Self::Other(other),
        }
    }
}

/// `value` as pretty JSON with sorted keys and a final newline: the form of committed files.
pub fn pretty(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(&Sorted::of(value)).unwrap_or_default();
    text.push('\n');
    text
}
