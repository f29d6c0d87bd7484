//! Definitions as a tree of values that remember where they were written.
//!
//! YAML and JSON are both read with `saphyr` (JSON is YAML 1.2), so every key and value carries the
//! line and column it came from and every compiler error can point at it. JSON input is first
//! checked with `serde_json`, whose syntax errors are more precise for JSON than a YAML parser's.

use saphyr::{LoadableYamlNode, MarkedYamlOwned, ScalarOwned, YamlDataOwned};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::error::CompileError;

/// A place in the source text: line and column, both starting at 1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    pub fn new(line: usize, column: usize) -> Self {
        Self { line, column }
    }
}

/// A value of the source document with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: NodeValue,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    List(Vec<Node>),
    /// Keys keep their own positions (an unknown key is reported where the key is), and their order.
    Map(Vec<(Key, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub pos: Pos,
    pub name: String,
}

impl Node {
    /// The name of the value's kind, for messages ("expected a string, found a list").
    pub fn kind(&self) -> &'static str {
        match &self.value {
            NodeValue::Null => "null",
            NodeValue::Bool(_) => "a boolean",
            NodeValue::Int(_) => "an integer",
            NodeValue::Float(_) => "a number",
            NodeValue::String(_) => "a string",
            NodeValue::List(_) => "a list",
            NodeValue::Map(_) => "a mapping",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Key, Node)]> {
        match &self.value {
            NodeValue::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<(&Key, &Node)> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(k, v)| (k, v))
    }

    /// The value as JSON, positions dropped: what a validated argument becomes in the plan.
    pub fn to_json(&self) -> Json {
        match &self.value {
            NodeValue::Null => Json::Null,
            NodeValue::Bool(b) => Json::Bool(*b),
            NodeValue::Int(i) => Json::from(*i),
            NodeValue::Float(f) => {
                serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number)
            }
            NodeValue::String(s) => Json::String(s.clone()),
            NodeValue::List(items) => Json::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Map(entries) => Json::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// Reads a YAML or JSON document. A document whose first non-blank character is `{` is JSON.
pub fn parse_document(text: &str) -> Result<Node, CompileError> {
    if text.trim_start().starts_with('{')
        && let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(text)
    {
        return Err(CompileError::new(
            Pos::new(e.line(), e.column()),
            "",
            format!("invalid JSON: {}", strip_position(&e.to_string())),
        ));
    }
    let docs = MarkedYamlOwned::load_from_str(text).map_err(|e| {
        let marker = e.marker();
        CompileError::new(
            Pos::new(marker.line(), marker.col() + 1),
            "",
            format!("invalid YAML: {}", e.info()),
        )
    })?;
    let mut docs = docs.into_iter();
    let Some(doc) = docs.next() else {
        return Err(CompileError::new(
            Pos::new(1, 1),
            "",
            "the document is empty",
        ));
    };
    if let Some(second) = docs.next() {
        return Err(CompileError::new(
            pos_of(&second),
            "",
            "expected one document, found several",
        ));
    }
    convert(doc)
}

/// serde_json appends " at line L column C"; the position is reported separately.
fn strip_position(message: &str) -> &str {
    message
        .rfind(" at line ")
        .map_or(message, |i| &message[..i])
}

fn pos_of(node: &MarkedYamlOwned) -> Pos {
    Pos::new(node.span.start.line(), node.span.start.col() + 1)
}

fn convert(node: MarkedYamlOwned) -> Result<Node, CompileError> {
    let pos = pos_of(&node);
    let value = match node.data {
        YamlDataOwned::Value(scalar) => scalar_value(scalar),
        YamlDataOwned::Representation(text, _, _) => NodeValue::String(text),
        YamlDataOwned::Tagged(_, inner) => return convert(*inner),
        YamlDataOwned::Sequence(items) => {
            NodeValue::List(items.into_iter().map(convert).collect::<Result<_, _>>()?)
        }
        YamlDataOwned::Mapping(entries) => {
            let mut out = Vec::with_capacity(entries.len());
            for (key, value) in entries {
                let key_pos = pos_of(&key);
                let name = match convert(key)?.value {
                    NodeValue::String(s) => s,
                    NodeValue::Int(i) => i.to_string(),
                    NodeValue::Bool(b) => b.to_string(),
                    _ => {
                        return Err(CompileError::new(key_pos, "", "a key must be a string"));
                    }
                };
                out.push((Key { pos: key_pos, name }, convert(value)?));
            }
            NodeValue::Map(out)
        }
        YamlDataOwned::Alias(_) => {
            return Err(CompileError::new(
                pos,
                "",
                "YAML aliases are not supported in definitions",
            ));
        }
        YamlDataOwned::BadValue => {
            return Err(CompileError::new(pos, "", "invalid value"));
        }
    };
    Ok(Node { pos, value })
}

fn scalar_value(scalar: ScalarOwned) -> NodeValue {
    match scalar {
        ScalarOwned::Null => NodeValue::Null,
        ScalarOwned::Boolean(b) => NodeValue::Bool(b),
        ScalarOwned::Integer(i) => NodeValue::Int(i),
        ScalarOwned::FloatingPoint(f) => NodeValue::Float(f.into_inner()),
        ScalarOwned::String(s) => NodeValue::String(s),
    }
}
