//! The configuration file: one YAML document, each kind of object a list sorted by name, each
//! object as the API reads and answers it (with the defaults filled in), so that a file
//! exported from one database and imported into another says exactly what it holds.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A whole setup.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    #[serde(default)]
    pub nodes: Vec<NodeEntry>,
    #[serde(default)]
    pub node_groups: Vec<NamedEntry>,
    #[serde(default)]
    pub profiles: Vec<NamedEntry>,
    #[serde(default)]
    pub policies: Vec<PolicyEntry>,
    #[serde(default)]
    pub flows: Vec<FlowEntry>,
    #[serde(default)]
    pub providers: Vec<ProviderEntry>,
    #[serde(default)]
    pub subscriptions: Vec<SubscriptionEntry>,
    #[serde(default)]
    pub alerts: Vec<NamedEntry>,
    #[serde(default)]
    pub notification_templates: Vec<NamedEntry>,
    /// Left out: the target's return policy is not compared or changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_policy: Option<Map<String, Value>>,
}

/// A fulfilment node: its code, then the rest of its definition (`PUT /api/v1/nodes/{code}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeEntry {
    pub code: String,
    #[serde(flatten)]
    pub definition: Map<String, Value>,
}

/// An object known by its name: a node group, a profile, an alert, a notification template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamedEntry {
    pub name: String,
    #[serde(flatten)]
    pub definition: Map<String, Value>,
}

/// A policy: its newest version's definition (YAML or JSON text, as written).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyEntry {
    pub name: String,
    pub definition: String,
}

/// A flow: the definition of its active (published) version and of a draft newer than it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlowEntry {
    pub name: String,
    /// None: no version starts runs.
    #[serde(default)]
    pub active: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft: Option<String>,
}

/// A provider instance; secret connection fields are references, never values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderEntry {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub connection: BTreeMap<String, ConnectionValue>,
    #[serde(default)]
    pub mappings: Map<String, Value>,
    #[serde(default)]
    pub settings: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transformation: Option<String>,
}

/// A connection field: a value, or (for a secret) a reference to where the value is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ConnectionValue {
    Secret(SecretRef),
    Value(String),
}

/// `{"env": "SHOPIFY_TOKEN"}`: the value is in that environment variable of the importing
/// process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    pub env: String,
}

/// A webhook subscription; its signing secret is a reference.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionEntry {
    pub name: String,
    pub url: String,
    pub types: Vec<String>,
    pub secret: SecretRef,
}

/// Reads a file; a structural error names its place (`nodes[2]: missing field ...`).
pub fn parse(text: &str) -> Result<Setup, String> {
    serde_norway::from_str(text).map_err(|e| e.to_string())
}

/// The file for a setup.
pub fn render(setup: &Setup) -> Result<String, String> {
    let body = serde_norway::to_string(setup).map_err(|e| e.to_string())?;
    Ok(format!(
        "# iom configuration: `iom config import FILE` makes a database match it.\n\
         # Secrets are references to environment variables of the importing process.\n{body}"
    ))
}
