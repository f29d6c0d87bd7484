//! What the engine answers: per line how much is sourced and where, what it costs, when it ships,
//! and why each node was or was not used.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Which solver produced a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Solver {
    Heuristic,
    Exact,
    /// The baseline: each line from the closest node with stock.
    Closest,
}

/// Why a node was rejected or a line left unassigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The node is inactive.
    Closed,
    KindNotAllowed,
    Excluded,
    NotInSourceGroup,
    /// The node has no coordinates, so its distance is unknown.
    NoLocation,
    TooFar,
    OverCapacity,
    /// The node holds none of the SKUs in question.
    NoStock,
    /// The node's stock is all safety stock.
    SafetyStock,
    /// Eligible with stock, but a better combination of nodes was chosen.
    NotSelected,
    /// The order may not ship from more nodes.
    MaxNodes,
    /// The line may not be split and no eligible node holds all of it.
    NoSplit,
    /// Eligible nodes together hold less than the line needs.
    InsufficientStock,
    /// The order must ship complete and some line could not be fully sourced.
    ShipComplete,
    /// The ship-to has no coordinates, and neither its postal code, city nor country is known.
    NoShipToLocation,
}

impl Reason {
    /// The reason in plain words, as a person reads it on an order ("why backordered").
    pub fn describe(self) -> &'static str {
        match self {
            Reason::Closed => "the node is closed",
            Reason::KindNotAllowed => "the profile does not ship from this kind of node",
            Reason::Excluded => "the profile excludes the node",
            Reason::NotInSourceGroup => "the node is not in the profile's group",
            Reason::NoLocation => "the node has no location, so its distance is unknown",
            Reason::TooFar => "every node with stock is farther than the profile allows",
            Reason::OverCapacity => "the nodes with stock have no capacity left today",
            Reason::NoStock => "no node has the item in stock",
            Reason::SafetyStock => "the only stock left is safety stock",
            Reason::NotSelected => "a better combination of nodes was chosen",
            Reason::MaxNodes => "the order may not ship from more nodes",
            Reason::NoSplit => "no single node holds the whole line, and the line may not be split",
            Reason::InsufficientStock => "the nodes together hold less than the line needs",
            Reason::ShipComplete => "the order must ship complete and another line is short",
            Reason::NoShipToLocation => {
                "the ship-to address could not be located (no coordinates, and neither its postal code, city nor country is known), so no node can be chosen"
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Sourcing {
    FullySourced,
    PartiallySourced,
    NotSourced,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Chosen,
    Rejected,
    NotSelected,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Assignment {
    pub line_no: u32,
    pub sku: String,
    pub node: String,
    pub quantity: u32,
    pub ship_date: NaiveDate,
    /// When the line is promised to arrive: the end of the day `transit_days` of the profile
    /// after `ship_date` (the node's calendar and cut-off); a carrier's rate may say otherwise.
    pub promised_delivery_at: DateTime<Utc>,
    pub distance_km: f64,
    /// The profile whose pass made this assignment.
    pub profile: String,
    /// Made in the second pass, with soft constraints relaxed.
    pub relaxed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Unassigned {
    pub line_no: u32,
    pub sku: String,
    pub quantity: u32,
    pub reason: Reason,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LinePlan {
    pub line_no: u32,
    pub sku: String,
    pub quantity: u32,
    pub sourced: u32,
    pub status: Sourcing,
}

/// One shipment: everything the plan sends from one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ShipmentPlan {
    pub node: String,
    pub units: u32,
    pub distance_km: f64,
    pub ship_date: NaiveDate,
    pub cost: Decimal,
}

/// Why one node was chosen, rejected, or passed over.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Explanation {
    pub node: String,
    pub verdict: Verdict,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<Reason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distance_km: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A fulfilment plan for one order. A simulation: nothing is reserved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Plan {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_ref: Option<String>,
    pub solver: Solver,
    pub status: Sourcing,
    pub lines: Vec<LinePlan>,
    pub assignments: Vec<Assignment>,
    pub unassigned: Vec<Unassigned>,
    /// Number of shipments (distinct nodes).
    pub shipments: u32,
    pub shipment_plans: Vec<ShipmentPlan>,
    pub cost: Decimal,
    /// Sum of the shipments' great-circle distances.
    pub distance_km: f64,
    /// The latest ship date of the shipments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_date: Option<NaiveDate>,
    pub explanation: Vec<Explanation>,
    /// Things the caller should know, e.g. that the exact solver fell back to the heuristic.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Plan {
    pub fn units_sourced(&self) -> u32 {
        self.assignments.iter().map(|a| a.quantity).sum()
    }

    pub fn units_unassigned(&self) -> u32 {
        self.unassigned.iter().map(|u| u.quantity).sum()
    }
}
