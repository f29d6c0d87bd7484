//! Checking a provider instance's definition and sealing its secrets: the one place that decides
//! what `PUT /api/v1/providers/{name}` and `iom config import` store.
//!
//! A connection field must be one of the type's; a secret one is sealed with the master key
//! (bound to the instance's name) and never stored in the clear. A secret left out keeps the
//! value the instance had (when its type did not change). Required fields must have a value,
//! except secrets the caller names in `unresolved` (a configuration file referring to a variable
//! that is not set): those stay as they were, and unset on a new instance.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use iom_domain::FieldError;
use iom_providers::Mappings;
use iom_providers::jq::{Transform, TransformError};
use iom_providers::secrets::MasterKey;
use iom_providers::types;
use iom_store::providers::ProviderRecord;
use serde_json::{Map, Value};

/// A definition as given: type, connection (secrets in the clear), mappings, settings and an
/// optional jq transformation.
#[derive(Debug, Clone)]
pub struct InstanceInput {
    pub kind: String,
    pub connection: Map<String, Value>,
    pub mappings: Mappings,
    pub settings: Map<String, Value>,
    pub transformation: Option<String>,
}

/// Whether `name` may name an instance (or a subscription): 1 to 64 letters, digits, `-`, `_`
/// or `.`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// The record to store for `input`, or every invalid field (named as in the request body:
/// `type`, `connection.shop`, `transformation`, `settings.…`).
pub fn instance_record(
    name: &str,
    input: &InstanceInput,
    existing: Option<&ProviderRecord>,
    key: Option<&MasterKey>,
    unresolved: &[String],
    now: DateTime<Utc>,
) -> Result<ProviderRecord, Vec<FieldError>> {
    let Some(kind) = types::find(&input.kind) else {
        let names: Vec<_> = types::builtin().iter().map(|t| t.name).collect();
        return Err(vec![FieldError::new(
            "type",
            format!("must be one of {}", names.join(", ")),
        )]);
    };
    let mut errors = Vec::new();
    let mut connection = Map::new();
    let mut secrets: BTreeMap<String, String> = existing
        .filter(|e| e.kind == input.kind)
        .map(|e| e.secrets.clone())
        .unwrap_or_default();
    for (field, value) in &input.connection {
        let Some(def) = kind.field(field) else {
            errors.push(FieldError::new(
                format!("connection.{field}"),
                format!("is not a connection field of {}", kind.name),
            ));
            continue;
        };
        let Some(text) = value.as_str() else {
            errors.push(FieldError::new(
                format!("connection.{field}"),
                "must be a string",
            ));
            continue;
        };
        if def.secret {
            match key {
                Some(key) => {
                    secrets.insert(field.clone(), key.seal(text.as_bytes(), name));
                }
                None => errors.push(FieldError::new(
                    format!("connection.{field}"),
                    "secrets cannot be stored: set IOM_MASTER_KEY",
                )),
            }
        } else {
            connection.insert(field.clone(), Value::String(text.to_owned()));
        }
    }
    for def in kind.connection.iter().filter(|f| f.required) {
        let present = connection.contains_key(def.name)
            || secrets.contains_key(def.name)
            || (def.secret && unresolved.iter().any(|u| u == def.name));
        let field = format!("connection.{}", def.name);
        if !present && !errors.iter().any(|e| e.field == field) {
            errors.push(FieldError::new(field, "is required"));
        }
    }
    if let Some(code) = &input.transformation
        && let Err(e) = Transform::compile(name, code)
    {
        let message = match e {
            TransformError::Compile {
                message,
                line,
                column,
                ..
            } => format!("{message} (line {line}, column {column})"),
            other => other.to_string(),
        };
        errors.push(FieldError::new("transformation", message));
    }
    errors.extend(super::settings::check(kind, &input.settings));
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ProviderRecord {
        name: name.to_owned(),
        kind: kind.name.to_owned(),
        config: serde_json::json!({
            "connection": connection,
            "mappings": input.mappings,
            "settings": input.settings,
            "transformation": input.transformation,
        }),
        secrets,
        created_at: existing.map_or(now, |e| e.created_at),
        updated_at: now,
    })
}
