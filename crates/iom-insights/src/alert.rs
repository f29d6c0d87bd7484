//! Alert definitions: a condition over orders or inventory, and whom to notify. The evaluator (a
//! worker of the server) asks the store for the subjects that meet a condition now; each subject
//! fires once per alert, as an `alert.fired` business event, so webhooks and NATS carry it.

use chrono::{DateTime, Duration, Utc};
use iom_domain::FieldError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::InsightsError;

/// Longest delay a condition may name: a year.
const MAX_HOURS: i64 = 24 * 366;

/// What makes an alert fire, by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AlertCondition {
    /// An order (not cancelled) still not released to a node `hours` after intake. Fires once per
    /// order.
    OrderNotReleased { hours: i64 },
    /// An order with a requested delivery date, not cancelled and not shipped complete, when less
    /// than `hours` remain before that date. Fires once per order.
    OrderNotShipped { hours: i64 },
    /// Available units (`on_hand − reserved − allocated − safety stock`) of a SKU at a node below
    /// `threshold`; optionally only for one SKU or one node. Fires once per SKU and node.
    InventoryBelow {
        threshold: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sku: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        node: Option<String>,
    },
    /// A shipment whose carrier reported an exception (a failed delivery, a return to sender)
    /// and that has not been delivered since. Fires once per shipment.
    ShipmentException {},
}

impl AlertCondition {
    pub fn kind(&self) -> &'static str {
        match self {
            AlertCondition::OrderNotReleased { .. } => "order_not_released",
            AlertCondition::OrderNotShipped { .. } => "order_not_shipped",
            AlertCondition::InventoryBelow { .. } => "inventory_below",
            AlertCondition::ShipmentException {} => "shipment_exception",
        }
    }

    /// For `order_not_released`: orders taken in before this time and not yet released fire.
    /// For `order_not_shipped`: orders whose requested delivery date is before this time fire.
    pub fn cutoff(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            AlertCondition::OrderNotReleased { hours } => Some(now - Duration::hours(*hours)),
            AlertCondition::OrderNotShipped { hours } => Some(now + Duration::hours(*hours)),
            AlertCondition::InventoryBelow { .. } | AlertCondition::ShipmentException {} => None,
        }
    }
}

/// `PUT /api/v1/alerts/{name}`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AlertDefinition {
    pub condition: AlertCondition,
    /// Free-form routing for whoever receives the `alert.fired` event (`{"email": "ops@…"}`,
    /// `{"channel": "#ops"}`); copied into every firing's event.
    #[schema(value_type = Object)]
    pub notify: Map<String, Value>,
    /// A disabled alert is not evaluated.
    pub enabled: bool,
}

impl AlertDefinition {
    /// Reads a request body, naming every bad field.
    pub fn parse(body: &Value) -> Result<AlertDefinition, InsightsError> {
        let mut errors = Vec::new();
        let Some(object) = body.as_object() else {
            return Err(InsightsError::field("", "must be a JSON object"));
        };
        for key in object.keys() {
            if !["condition", "notify", "enabled"].contains(&key.as_str()) {
                errors.push(FieldError::new(key.as_str(), "is not a field of an alert"));
            }
        }
        let condition = match object.get("condition") {
            None | Some(Value::Null) => {
                errors.push(FieldError::new("condition", "is required"));
                None
            }
            Some(c) => match serde_json::from_value::<AlertCondition>(c.clone()) {
                Ok(c) => Some(c),
                Err(e) => {
                    errors.push(FieldError::new(
                        "condition",
                        format!(
                            "{e}; one of {{\"type\":\"order_not_released\",\"hours\"}}, {{\"type\":\"order_not_shipped\",\"hours\"}}, {{\"type\":\"inventory_below\",\"threshold\",\"sku\"?,\"node\"?}}, {{\"type\":\"shipment_exception\"}}"
                        ),
                    ));
                    None
                }
            },
        };
        match &condition {
            Some(AlertCondition::OrderNotReleased { hours })
            | Some(AlertCondition::OrderNotShipped { hours })
                if !(0..=MAX_HOURS).contains(hours) =>
            {
                errors.push(FieldError::new(
                    "condition.hours",
                    format!("must be between 0 and {MAX_HOURS}"),
                ));
            }
            Some(AlertCondition::InventoryBelow { sku, node, .. }) => {
                if sku.as_deref().is_some_and(|s| s.trim().is_empty()) {
                    errors.push(FieldError::new("condition.sku", "must not be empty"));
                }
                if node.as_deref().is_some_and(|s| s.trim().is_empty()) {
                    errors.push(FieldError::new("condition.node", "must not be empty"));
                }
            }
            _ => {}
        }
        let notify = match object.get("notify") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(_) => {
                errors.push(FieldError::new("notify", "must be an object"));
                Map::new()
            }
        };
        let enabled = match object.get("enabled") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                errors.push(FieldError::new("enabled", "must be true or false"));
                true
            }
        };
        match condition {
            Some(condition) if errors.is_empty() => Ok(AlertDefinition {
                condition,
                notify,
                enabled,
            }),
            _ => Err(InsightsError::Invalid(errors)),
        }
    }
}

/// A valid alert name: 1 to 64 letters, digits, `-`, `_` or `.`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_parse() {
        let d = AlertDefinition::parse(&json!({
            "condition": {"type": "order_not_released", "hours": 4},
            "notify": {"email": "ops@example.com"}
        }))
        .unwrap();
        assert_eq!(d.condition, AlertCondition::OrderNotReleased { hours: 4 });
        assert!(d.enabled);
        let d = AlertDefinition::parse(&json!({
            "condition": {"type": "inventory_below", "threshold": 5, "sku": "SKU-1"}
        }))
        .unwrap();
        assert_eq!(d.condition.kind(), "inventory_below");
    }

    #[test]
    fn every_bad_field_is_named() {
        let InsightsError::Invalid(errors) = AlertDefinition::parse(&json!({
            "condition": {"type": "order_not_released", "hours": -1},
            "notify": "ops",
            "colour": "red"
        }))
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["colour", "condition.hours", "notify"]);
        let InsightsError::Invalid(errors) =
            AlertDefinition::parse(&json!({"condition": {"type": "moon_phase"}})).unwrap_err();
        assert_eq!(errors[0].field, "condition");
    }
}
