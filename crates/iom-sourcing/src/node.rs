//! Fulfilment nodes, their cost models and node groups, as users configure them.

use iom_domain::GeoPoint;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::calendar::Calendar;

/// What kind of place ships the goods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    #[default]
    Warehouse,
    Store,
    #[serde(rename = "3pl")]
    ThirdParty,
    Dropship,
}

impl NodeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NodeKind::Warehouse => "warehouse",
            NodeKind::Store => "store",
            NodeKind::ThirdParty => "3pl",
            NodeKind::Dropship => "dropship",
        }
    }
}

/// What a node's daily capacity counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CapacityUnit {
    /// Each order that ships from the node uses one.
    #[default]
    Shipments,
    /// Each order line (or part of one) picked at the node uses one.
    Lines,
}

/// What it costs to ship from a node: a fixed amount per shipment, an amount per unit, an amount per
/// kilometre of great-circle distance, and optionally a carrier rate table.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, ToSchema)]
pub struct CostModel {
    #[serde(default)]
    pub per_shipment: Decimal,
    #[serde(default)]
    pub per_unit: Decimal,
    #[serde(default)]
    pub per_km: Decimal,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_table: Option<RateTable>,
}

/// A carrier rate table added to the cost model of a shipment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "by", rename_all = "lowercase")]
pub enum RateTable {
    /// A price per shipment by total shipment weight: the first bracket whose `up_to_kg` holds the
    /// weight applies; heavier shipments pay the last bracket.
    Weight { brackets: Vec<WeightBracket> },
    /// A price per shipment and per kilogram by distance zone: the first zone whose `up_to_km` holds
    /// the distance applies; farther shipments pay the last zone.
    Zone { zones: Vec<Zone> },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WeightBracket {
    pub up_to_kg: f64,
    pub price: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Zone {
    pub up_to_km: f64,
    #[serde(default)]
    pub price: Decimal,
    #[serde(default)]
    pub per_kg: Decimal,
}

/// A place that fulfils orders: a warehouse, a store, a 3PL or a drop-ship vendor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Node {
    /// The node's code; the HTTP layer takes it from the path.
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub kind: NodeKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<GeoPoint>,
    #[serde(default = "yes")]
    pub active: bool,
    /// Shipments (or lines, see `capacity_unit`) the node can handle per day; none means unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_capacity: Option<u32>,
    #[serde(default)]
    pub capacity_unit: CapacityUnit,
    /// Units of each SKU the node keeps back from online orders (e.g. for walk-in customers).
    #[serde(default)]
    pub safety_stock: u32,
    #[serde(default)]
    pub costs: CostModel,
    /// The node does not ship farther than this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_distance_km: Option<f64>,
    #[serde(default)]
    pub calendar: Calendar,
    /// The provider instance that receives release requests for this node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Customers may bring or send returns here; the nearest such node is proposed for a return.
    #[serde(default = "yes")]
    pub accepts_returns: bool,
}

fn yes() -> bool {
    true
}

impl Node {
    /// An active warehouse with no costs, unlimited capacity and the default calendar.
    pub fn new(code: impl Into<String>, kind: NodeKind, location: GeoPoint) -> Self {
        let code = code.into();
        Self {
            name: code.clone(),
            code,
            kind,
            location: Some(location),
            active: true,
            daily_capacity: None,
            capacity_unit: CapacityUnit::Shipments,
            safety_stock: 0,
            costs: CostModel::default(),
            max_distance_km: None,
            calendar: Calendar::default(),
            provider: None,
            accepts_returns: true,
        }
    }
}

/// A named set of nodes (a source list). Profiles restrict sourcing to groups and rank them in
/// tiers; a group's distance limit applies to its members.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NodeGroup {
    /// The group's name; the HTTP layer takes it from the path.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub nodes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_distance_km: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_json_uses_contract_names_and_defaults() {
        let node: Node = serde_json::from_str(
            r#"{"name":"Seattle DC","kind":"3pl","location":{"lat":47.6,"lon":-122.3},
                "daily_capacity":100,"safety_stock":2,
                "costs":{"per_shipment":"5.00","per_unit":"0.25","per_km":"0.002"}}"#,
        )
        .unwrap();
        assert_eq!(node.kind, NodeKind::ThirdParty);
        assert!(node.active);
        assert_eq!(node.daily_capacity, Some(100));
        assert_eq!(node.costs.per_unit, Decimal::new(25, 2));
        assert_eq!(node.calendar.working_days.len(), 5);
        let back = serde_json::to_value(&node).unwrap();
        assert_eq!(back["kind"], "3pl");
        assert_eq!(back["costs"]["per_shipment"], "5.00");
    }

    #[test]
    fn rate_tables_are_tagged_by_kind() {
        let table: RateTable = serde_json::from_str(
            r#"{"by":"weight","brackets":[{"up_to_kg":1.0,"price":"4.5"},{"up_to_kg":5.0,"price":"9"}]}"#,
        )
        .unwrap();
        let RateTable::Weight { brackets } = table else {
            panic!("weight table expected")
        };
        assert_eq!(brackets[1].price, Decimal::from(9));
    }
}
