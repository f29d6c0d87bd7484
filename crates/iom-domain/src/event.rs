use serde::Serialize;
use serde_json::Value;

/// Business event types. Dotted and lower case; subscribers match them with `order.*` patterns.
pub struct EventType;

impl EventType {
    pub const ORDER_RECEIVED: &'static str = "order.received";
    pub const ORDER_HELD: &'static str = "order.held";
    pub const ORDER_HOLD_RELEASED: &'static str = "order.hold_released";
    pub const ORDER_CANCELLED: &'static str = "order.cancelled";
    pub const ORDER_LINE_CANCELLED: &'static str = "order.line_cancelled";
    pub const ORDER_SHIPMENT_CREATED: &'static str = "order.shipment_created";
    /// A shipment's carrier or tracking number changed after it was recorded.
    pub const ORDER_SHIPMENT_UPDATED: &'static str = "order.shipment_updated";
    pub const ORDER_PARTIALLY_SHIPPED: &'static str = "order.partially_shipped";
    pub const ORDER_SHIPPED: &'static str = "order.shipped";
    pub const ORDER_DELIVERY_RECORDED: &'static str = "order.delivery_recorded";
    pub const ORDER_DELIVERED: &'static str = "order.delivered";
    pub const ORDER_STATUS_CHANGED: &'static str = "order.status_changed";
}

/// A business event about to be written in the same transaction as the change it announces.
/// The store gives it its global sequence number and commit time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventDraft {
    #[serde(rename = "type")]
    pub kind: String,
    /// What the event is about, e.g. the order id; the timeline of a subject is its events.
    pub subject: String,
    pub data: Value,
}

impl EventDraft {
    pub fn new(kind: impl Into<String>, subject: impl Into<String>, data: Value) -> Self {
        Self {
            kind: kind.into(),
            subject: subject.into(),
            data,
        }
    }
}

/// Does `kind` match `pattern`? A pattern is a type (`order.shipped`), a prefix with `*`
/// (`order.*`), or `*` for everything. Several patterns may be given separated by commas.
pub fn type_matches(pattern: &str, kind: &str) -> bool {
    pattern.split(',').map(str::trim).any(|p| {
        if p == "*" {
            true
        } else if let Some(prefix) = p.strip_suffix('*') {
            kind.starts_with(prefix)
        } else {
            p == kind
        }
    })
}

#[cfg(test)]
mod tests {
    use super::type_matches;

    #[test]
    fn patterns() {
        assert!(type_matches("order.*", "order.shipped"));
        assert!(!type_matches("order.*", "inventory.changed"));
        assert!(type_matches("*", "inventory.changed"));
        assert!(type_matches(
            "order.shipped, inventory.*",
            "inventory.changed"
        ));
        assert!(!type_matches("order.shipped", "order.shipped_late"));
    }
}
