//! What to plan: the open lines of one order and where they go.

use chrono::{DateTime, Utc};
use iom_domain::{GeoPoint, Order};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanLine {
    pub line_no: u32,
    pub sku: String,
    pub quantity: u32,
    /// Weight of one unit, for weight-based rates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_kg: Option<f64>,
}

/// One order to plan. The ship-to is located by `ship_to` coordinates, else by `postal_code` and
/// `country` in the network's centroid table. A caller with place data fills `ship_to` from the
/// postal code, `city` or `country` before planning (`iom_app::fulfillment::locate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanRequest {
    /// The caller's reference (an order id), echoed in the plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_ref: Option<String>,
    pub lines: Vec<PlanLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_to: Option<GeoPoint>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// The ship-to's city: where it is when neither coordinates nor a postal code place it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// The moment of planning: drives cut-offs and ship dates.
    pub now: DateTime<Utc>,
}

impl PlanRequest {
    /// The open quantity of each line of `order` (ordered, less shipped and cancelled).
    pub fn from_order(order: &Order, now: DateTime<Utc>) -> Self {
        let ship_to = order.ship_to.as_ref();
        Self {
            order_ref: Some(order.id.to_string()),
            lines: order
                .lines
                .iter()
                .filter(|l| l.open_quantity() > 0)
                .map(|l| PlanLine {
                    line_no: l.line_no,
                    sku: l.sku.clone(),
                    quantity: l.open_quantity(),
                    weight_kg: None,
                })
                .collect(),
            ship_to: ship_to.and_then(|a| a.geo()),
            postal_code: ship_to.and_then(|a| a.postal_code.clone()),
            country: ship_to.map(|a| a.country.as_str().to_owned()),
            city: ship_to.and_then(|a| a.city.clone()),
            now,
        }
    }
}
