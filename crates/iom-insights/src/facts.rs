//! The projection of an order that insights read: one narrow row per order, per line and per
//! shipment. The store writes it in the same transaction as the order (so figures never lag or
//! disagree with the orders), and aggregates it with SQL; the fields here say what each column is.

use chrono::{DateTime, Duration, Utc};
use iom_domain::{GeoPoint, LineStatus, Order, OrderStatus};
use rust_decimal::Decimal;
use serde_json::Value as Json;

/// When no requested delivery date says otherwise, an order is due to ship this long after it was
/// placed.
pub const SHIP_SLA: Duration = Duration::hours(48);
/// With a requested delivery date, an order must ship this long before it to arrive in time.
pub const TRANSIT_ALLOWANCE: Duration = Duration::hours(24);
/// An open order whose ship-by time is less than this far away is "in jeopardy".
pub const JEOPARDY_WINDOW: Duration = Duration::hours(24);

/// The ship-by time of an order: its requested delivery date less [`TRANSIT_ALLOWANCE`], or
/// [`SHIP_SLA`] after it was placed.
pub fn ship_by(order: &Order) -> DateTime<Utc> {
    match order.requested_delivery_at {
        Some(requested) => requested - TRANSIT_ALLOWANCE,
        None => order.placed_at + SHIP_SLA,
    }
}

/// One order's row.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderFacts {
    pub order_id: String,
    pub channel: String,
    pub currency: String,
    /// `COUNTRY-REGION` of the ship-to (`US-WA`), the country alone without a region, `""` without
    /// a ship-to.
    pub region: String,
    /// The node of the first shipment, else of the first line assigned to one, else `""`.
    pub node: String,
    pub status: String,
    pub placed_at: DateTime<Utc>,
    /// Intake: when iom captured the order. Cycle times start here.
    pub created_at: DateTime<Utc>,
    pub ship_by: DateTime<Utc>,
    pub requested_delivery_at: Option<DateTime<Utc>>,
    pub lines: i64,
    /// Units ordered.
    pub units: i64,
    pub cancelled_units: i64,
    pub shipped_units: i64,
    pub delivered_units: i64,
    /// The order's total now (after cancellations); zero when the whole order is cancelled.
    pub total: Decimal,
    /// The order's value as booked: every line at its full ordered quantity, with shipping.
    pub booked: Decimal,
    /// The order is backordered now. The store keeps a flag that, once set, stays set.
    pub backordered: bool,
    pub cancelled: bool,
    /// Set when the order is released or further along; the store keeps the first such time.
    pub released_at: Option<DateTime<Utc>>,
    pub first_shipped_at: Option<DateTime<Utc>>,
    /// When the last active unit shipped (the order is `shipped` or `delivered`).
    pub shipped_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub shipments: i64,
}

/// One line's row: product figures.
#[derive(Debug, Clone, PartialEq)]
pub struct LineFacts {
    pub line_no: i64,
    pub sku: String,
    pub units: i64,
    pub cancelled_units: i64,
    pub shipped_units: i64,
    /// Unit price × active (not cancelled) quantity: the line's revenue before discount and tax.
    pub revenue: Decimal,
}

/// What a node charges, as its definition says (`costs` and `location` of `PUT /nodes/{code}`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeCosts {
    pub per_shipment: Decimal,
    pub per_unit: Decimal,
    pub per_km: Decimal,
    pub location: Option<GeoPoint>,
}

impl NodeCosts {
    /// Reads a stored node definition; missing or unreadable amounts count as zero.
    pub fn from_node_doc(doc: &Json) -> NodeCosts {
        let amount = |key: &str| -> Decimal {
            match doc.get("costs").and_then(|c| c.get(key)) {
                Some(Json::String(s)) => s.parse().unwrap_or_default(),
                Some(Json::Number(n)) => n.to_string().parse().unwrap_or_default(),
                _ => Decimal::ZERO,
            }
        };
        let location = doc
            .get("location")
            .and_then(|l| GeoPoint::new(l.get("lat")?.as_f64()?, l.get("lon")?.as_f64()?));
        NodeCosts {
            per_shipment: amount("per_shipment"),
            per_unit: amount("per_unit"),
            per_km: amount("per_km"),
            location,
        }
    }
}

/// One shipment's row: node figures.
#[derive(Debug, Clone, PartialEq)]
pub struct ShipmentFacts {
    pub shipment_id: String,
    pub node: String,
    pub units: i64,
    pub at: DateTime<Utc>,
    /// Great-circle distance from the node to the ship-to, when both are located.
    pub km: Option<f64>,
    /// `per_shipment + per_unit × units + per_km × km` at the node's costs when it shipped (a
    /// later change of costs does not rewrite history). Without a known distance the distance
    /// part is zero.
    pub cost: Decimal,
}

impl OrderFacts {
    pub fn of(order: &Order) -> OrderFacts {
        let count = |f: fn(&iom_domain::OrderLine) -> u32| -> i64 {
            order.lines.iter().map(|l| i64::from(f(l))).sum()
        };
        let region = order.ship_to.as_ref().map_or_else(String::new, |a| {
            match a.region.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
                Some(region) => format!("{}-{}", a.country.as_str(), region.to_uppercase()),
                None => a.country.as_str().to_owned(),
            }
        });
        let node = order
            .shipments
            .first()
            .map(|s| s.node.clone())
            .or_else(|| order.lines.iter().find_map(|l| l.node.clone()))
            .unwrap_or_default();
        let cancelled = order.status == OrderStatus::Cancelled;
        let released = matches!(
            order.status,
            OrderStatus::Released
                | OrderStatus::PartiallyShipped
                | OrderStatus::Shipped
                | OrderStatus::Delivered
        );
        let fully_shipped = matches!(order.status, OrderStatus::Shipped | OrderStatus::Delivered);
        let booked = order
            .lines
            .iter()
            .map(|l| l.unit_price * Decimal::from(l.quantity) - l.discount + l.tax)
            .sum::<Decimal>()
            + order.shipping_amount;
        OrderFacts {
            order_id: order.id.to_string(),
            channel: order.channel.clone(),
            currency: order.currency.code().to_owned(),
            region,
            node,
            status: order.status.as_str().to_owned(),
            placed_at: order.placed_at,
            created_at: order.created_at,
            ship_by: ship_by(order),
            requested_delivery_at: order.requested_delivery_at,
            lines: order.lines.len() as i64,
            units: count(|l| l.quantity),
            cancelled_units: count(|l| l.cancelled_quantity),
            shipped_units: count(|l| l.shipped_quantity),
            delivered_units: count(|l| l.delivered_quantity),
            total: if cancelled {
                Decimal::ZERO
            } else {
                order.totals.total
            },
            booked,
            backordered: order.status == OrderStatus::Backordered
                || order
                    .lines
                    .iter()
                    .any(|l| l.status == LineStatus::Backordered),
            cancelled,
            released_at: released.then_some(order.updated_at),
            first_shipped_at: order.shipments.iter().map(|s| s.at).min(),
            shipped_at: if fully_shipped {
                order.shipments.iter().map(|s| s.at).max()
            } else {
                None
            },
            delivered_at: if order.status == OrderStatus::Delivered {
                order.deliveries.iter().map(|d| d.at).max()
            } else {
                None
            },
            shipments: order.shipments.len() as i64,
        }
    }
}

impl LineFacts {
    pub fn of(order: &Order) -> Vec<LineFacts> {
        order
            .lines
            .iter()
            .map(|l| LineFacts {
                line_no: i64::from(l.line_no),
                sku: l.sku.clone(),
                units: i64::from(l.quantity),
                cancelled_units: i64::from(l.cancelled_quantity),
                shipped_units: i64::from(l.shipped_quantity),
                revenue: l.unit_price * Decimal::from(l.active_quantity()),
            })
            .collect()
    }
}

impl ShipmentFacts {
    /// The shipments of `order` that `before` did not have, costed by `costs` (the node's costs,
    /// `None` for a node iom does not know: then the cost is zero).
    pub fn new_shipments(
        before: Option<&Order>,
        order: &Order,
        costs: impl Fn(&str) -> Option<NodeCosts>,
    ) -> Vec<ShipmentFacts> {
        let known = before.map_or(0, |b| b.shipments.len());
        let to = order.ship_to.as_ref().and_then(|a| a.geo());
        order
            .shipments
            .iter()
            .skip(known)
            .map(|s| {
                let units: i64 = s.lines.iter().map(|l| i64::from(l.quantity)).sum();
                let node = costs(&s.node).unwrap_or_default();
                let km = match (node.location, to) {
                    (Some(a), Some(b)) => Some(haversine_km(a, b)),
                    _ => None,
                };
                let km_part = km
                    .and_then(|k| Decimal::try_from(k).ok())
                    .map_or(Decimal::ZERO, |k| node.per_km * k);
                ShipmentFacts {
                    shipment_id: s.id.clone(),
                    node: s.node.clone(),
                    units,
                    at: s.at,
                    km,
                    cost: node.per_shipment + node.per_unit * Decimal::from(units) + km_part,
                }
            })
            .collect()
    }
}

/// Shipments of `order` whose carrier reported an exception since `before`, with the time.
pub fn new_exceptions(before: Option<&Order>, order: &Order) -> Vec<(String, DateTime<Utc>)> {
    use iom_domain::TrackingStatus::Exception;
    order
        .shipments
        .iter()
        .filter(|s| s.tracking_status == Some(Exception))
        .filter(|s| {
            !before
                .and_then(|b| b.shipments.iter().find(|o| o.id == s.id))
                .is_some_and(|o| o.tracking_status == Some(Exception))
        })
        .map(|s| (s.id.clone(), order.updated_at))
        .collect()
}

/// A shipment the carrier's tracker reported delivered, with the promise it carried.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryFacts {
    pub shipment_id: String,
    pub delivered_at: DateTime<Utc>,
    /// The label's promise, else the earliest promise among the shipment's lines.
    pub promised_at: Option<DateTime<Utc>>,
}

impl DeliveryFacts {
    /// The shipments of `order` that became delivered since `before`.
    pub fn new_deliveries(before: Option<&Order>, order: &Order) -> Vec<DeliveryFacts> {
        order
            .shipments
            .iter()
            .filter_map(|s| {
                let delivered_at = s.delivered_at?;
                let was_delivered = before
                    .and_then(|b| b.shipments.iter().find(|o| o.id == s.id))
                    .is_some_and(|o| o.delivered_at.is_some());
                if was_delivered {
                    return None;
                }
                let promised_at = s
                    .label
                    .as_ref()
                    .and_then(|l| l.promised_delivery_at)
                    .or_else(|| {
                        s.lines
                            .iter()
                            .filter_map(|l| order.line(l.line_no)?.promised_delivery_at)
                            .min()
                    });
                Some(DeliveryFacts {
                    shipment_id: s.id.clone(),
                    delivered_at,
                    promised_at,
                })
            })
            .collect()
    }
}

/// Great-circle distance in kilometres (mean earth radius 6,371 km). Written here because the
/// engine crates may depend on the domain only; `iom-sourcing` uses the same formula for planning.
pub fn haversine_km(a: GeoPoint, b: GeoPoint) -> f64 {
    let (lat1, lat2) = (a.lat.to_radians(), b.lat.to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.lon - a.lon).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seattle_to_portland_is_about_234_km() {
        let km = haversine_km(
            GeoPoint::new(47.61, -122.33).unwrap(),
            GeoPoint::new(45.52, -122.68).unwrap(),
        );
        assert!((km - 234.0).abs() < 3.0, "{km}");
    }

    #[test]
    fn node_costs_read_strings_and_numbers() {
        let costs = NodeCosts::from_node_doc(&serde_json::json!({
            "costs": {"per_shipment": "5.00", "per_unit": 0.5},
            "location": {"lat": 47.6, "lon": -122.3}
        }));
        assert_eq!(costs.per_shipment, Decimal::new(500, 2));
        assert_eq!(costs.per_unit, Decimal::new(5, 1));
        assert_eq!(costs.per_km, Decimal::ZERO);
        assert!(costs.location.is_some());
    }
}
