//! Fulfilment profiles: the objective and the constraints a plan must respect.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::node::NodeKind;

/// What the solver minimises once it has sourced as many units as it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// Total shipping cost.
    #[default]
    Cost,
    /// Total shipment-kilometres (ties broken by cost).
    Distance,
    /// Number of shipments (ties broken by cost).
    Shipments,
}

/// The constraints a profile can declare soft. A soft constraint holds in the first pass; a second
/// pass ignores it for the lines the first pass could not source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Constraint {
    MaxDistance,
    MaxNodes,
    MaxNodesPerLine,
    LineSplit,
    ShipComplete,
    NodeKinds,
    Exclusions,
    DailyCapacity,
    SafetyStock,
}

/// Where a shipment's price and transit time come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Rates {
    /// The nodes' own cost models; transit takes the profile's `transit_days`.
    #[default]
    Table,
    /// The cheapest rate a carrier instance quotes for the parcel from each node replaces the
    /// node's shipping price, and its delivery days the transit time (see `iom_app::shipping`).
    Carrier,
}

impl Rates {
    pub fn is_table(&self) -> bool {
        *self == Rates::Table
    }
}

const DEFAULT_TRANSIT_DAYS: u32 = 3;

fn is_default_transit(days: &u32) -> bool {
    *days == DEFAULT_TRANSIT_DAYS
}

/// A sourcing strategy. Every field has a default, so `{}` is a working profile: lowest cost, any
/// node, partial shipments and line splits allowed, capacity and safety stock respected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct Profile {
    pub name: String,
    pub objective: Objective,
    /// The lowest of this, the node's own limit and its groups' limits applies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_distance_km: Option<f64>,
    /// Most nodes (shipments) an order may ship from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_nodes: Option<u32>,
    /// Most nodes a single line may ship from (when splitting is allowed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_nodes_per_line: Option<u32>,
    /// When false the order ships complete or not at all.
    pub allow_partial: bool,
    /// When false each line ships whole from a single node.
    pub allow_line_split: bool,
    /// Node kinds allowed to ship; empty allows all.
    pub node_kinds: Vec<NodeKind>,
    /// Node codes (or group names) never used.
    pub exclude_nodes: Vec<String>,
    /// When not empty, only members of these node groups ship.
    pub source_groups: Vec<String>,
    /// Priority tiers of node codes or group names: stock of the first tier is used before any of
    /// the second, and so on; nodes in no tier come last.
    pub tiers: Vec<Vec<String>>,
    /// Respect each node's remaining daily capacity.
    pub respect_capacity: bool,
    /// Hold back each node's safety stock.
    pub respect_safety_stock: bool,
    /// Constraints relaxed in a second pass for lines still unassigned.
    pub soft: Vec<Constraint>,
    /// Tried for whatever this profile leaves unassigned.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub alternate: Option<Box<Profile>>,
    /// Shipping prices and transit times from the nodes' cost models or a carrier's rates.
    #[serde(skip_serializing_if = "Rates::is_table")]
    pub rates: Rates,
    /// Days in transit a promise counts on when no carrier rate says otherwise (3 when absent).
    #[serde(skip_serializing_if = "is_default_transit")]
    pub transit_days: u32,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            name: "default".into(),
            objective: Objective::Cost,
            max_distance_km: None,
            max_nodes: None,
            max_nodes_per_line: None,
            allow_partial: true,
            allow_line_split: true,
            node_kinds: Vec::new(),
            exclude_nodes: Vec::new(),
            source_groups: Vec::new(),
            tiers: Vec::new(),
            respect_capacity: true,
            respect_safety_stock: true,
            soft: Vec::new(),
            alternate: None,
            rates: Rates::Table,
            transit_days: DEFAULT_TRANSIT_DAYS,
        }
    }
}

impl Profile {
    pub fn is_soft(&self, c: Constraint) -> bool {
        self.soft.contains(&c)
    }

    /// Whether constraint `c` binds in the given pass.
    pub(crate) fn enforces(&self, c: Constraint, relaxed: bool) -> bool {
        !(relaxed && self.is_soft(c))
    }

    /// The profile and its alternates, in the order they are tried. A chain longer than this is
    /// almost surely a configuration loop, so it is cut.
    pub(crate) fn chain(&self) -> Vec<&Profile> {
        const MAX_CHAIN: usize = 8;
        let mut out = vec![self];
        while let Some(next) = out.last().and_then(|p| p.alternate.as_deref()) {
            if out.len() == MAX_CHAIN {
                break;
            }
            out.push(next);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_json_is_the_default_profile() {
        let p: Profile = serde_json::from_str("{}").unwrap();
        assert_eq!(p, Profile::default());
        assert!(p.allow_partial && p.allow_line_split && p.respect_capacity);
    }

    #[test]
    fn contract_fields_parse() {
        let p: Profile = serde_json::from_str(
            r#"{"objective":"distance","max_distance_km":800,"max_nodes":2,"allow_partial":false,
                "allow_line_split":false,"node_kinds":["warehouse","3pl"],"exclude_nodes":["X"],
                "soft":["max_distance","daily_capacity"],"alternate":{"name":"wide","objective":"cost"}}"#,
        )
        .unwrap();
        assert_eq!(p.objective, Objective::Distance);
        assert_eq!(p.max_distance_km, Some(800.0));
        assert_eq!(
            p.node_kinds,
            vec![NodeKind::Warehouse, NodeKind::ThirdParty]
        );
        assert!(p.enforces(Constraint::MaxDistance, false));
        assert!(!p.enforces(Constraint::MaxDistance, true));
        assert!(p.enforces(Constraint::MaxNodes, true));
        assert_eq!(p.chain().len(), 2);
        assert_eq!(p.chain()[1].name, "wide");
    }
}
