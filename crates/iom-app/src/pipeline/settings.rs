//! The parts of an instance's `settings` the pipeline acts on (`x12`, `pull`, `delivery`, and
//! how a `csv` instance reads its files),
//! checked when the instance is PUT so that a mistake is answered with a 422 naming the field
//! instead of surfacing later as failed documents or a poller that never starts.

use iom_domain::FieldError;
use iom_providers::types::ProviderType;
use iom_providers::x12::writer::{EnvelopeSettings, WriteError};
use serde_json::{Map, Value};

use super::pull::PullSettings;

/// The documents an `x12` instance can send.
pub const X12_DOCUMENTS: &[&str] = &["855", "856", "810", "940"];

/// `settings.x12` without `documents`, read as the envelope.
pub fn envelope(x12: &Value) -> Result<EnvelopeSettings, String> {
    let mut settings = x12.clone();
    if let Some(map) = settings.as_object_mut() {
        map.remove("documents");
    }
    serde_json::from_value(settings).map_err(|e| e.to_string())
}

/// Every problem of the settings the pipeline reads, as field errors.
pub fn check(kind: &ProviderType, settings: &Map<String, Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if kind.name == "csv"
        && let Err(message) =
            iom_providers::csv::CsvOptions::from_settings(&Value::Object(settings.clone()))
    {
        // The message names the setting (`settings.columns.Qty: …`).
        let field = message
            .split([':', ' '])
            .next()
            .filter(|f| f.starts_with("settings."))
            .unwrap_or("settings");
        errors.push(FieldError::new(field, message.clone()));
    }
    if let Some(x12) = settings.get("x12").filter(|v| !v.is_null()) {
        if kind.name != "x12" {
            errors.push(FieldError::new(
                "settings.x12",
                format!("only an x12 instance sends X12; this is a {}", kind.name),
            ));
        } else {
            match envelope(x12) {
                Err(e) => errors.push(FieldError::new("settings.x12", e)),
                Ok(env) => {
                    if let Err(WriteError::Settings { field, message }) = env.check() {
                        errors.push(FieldError::new(format!("settings.x12.{field}"), message));
                    }
                }
            }
            match x12.get("documents") {
                None => {}
                Some(Value::Array(list))
                    if list
                        .iter()
                        .all(|d| d.as_str().is_some_and(|d| X12_DOCUMENTS.contains(&d))) => {}
                Some(_) => errors.push(FieldError::new(
                    "settings.x12.documents",
                    format!("a list of {}", X12_DOCUMENTS.join(", ")),
                )),
            }
        }
    }
    if matches!(kind.name, "payment" | "tax")
        && let Some(channels) = settings.get("channels").filter(|v| !v.is_null())
    {
        // Which orders the instance serves: a typo here would quietly serve none or all.
        let ok = channels.as_array().is_some_and(|list| {
            list.iter()
                .all(|c| c.as_str().is_some_and(|c| !c.trim().is_empty()))
        });
        if !ok {
            errors.push(FieldError::new(
                "settings.channels",
                "must be a list of channel names (all channels when absent)",
            ));
        }
    }
    if let Some(pull) = settings.get("pull").filter(|v| !v.is_null()) {
        if !matches!(kind.name, "rest" | "shopify" | "amazon") {
            errors.push(FieldError::new(
                "settings.pull",
                format!(
                    "a {} instance cannot be polled (rest, shopify and amazon can)",
                    kind.name
                ),
            ));
        } else if let Err(e) = PullSettings::parse(pull) {
            errors.push(FieldError::new("settings.pull", e));
        }
    }
    if let Some(delivery) = settings.get("delivery").filter(|v| !v.is_null()) {
        match delivery.as_object() {
            None => errors.push(FieldError::new("settings.delivery", "must be an object")),
            Some(map) => {
                for (field, value) in map {
                    let known = ["attempts", "timeout_ms", "backoff_ms", "max_backoff_ms"];
                    if !known.contains(&field.as_str()) {
                        errors.push(FieldError::new(
                            format!("settings.delivery.{field}"),
                            format!("is not a delivery setting ({})", known.join(", ")),
                        ));
                    } else if value.as_u64().is_none_or(|n| n == 0) {
                        errors.push(FieldError::new(
                            format!("settings.delivery.{field}"),
                            "must be a whole number of at least 1",
                        ));
                    }
                }
            }
        }
    }
    errors
}
