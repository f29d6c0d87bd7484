//! Fulfilment optimisation ("distributed order management"): given an order, the fulfilment nodes,
//! what each node can promise and a profile of constraints, decide which nodes ship which lines.
//!
//! No I/O: data in, decision out. The pieces:
//! - [`Node`], [`NodeGroup`] and [`PostalCentroids`] form a [`Network`];
//! - [`Availability`] holds units per (SKU, node) and capacity left per node;
//! - a [`Profile`] holds the objective and constraints, hard or soft, and an alternate profile;
//! - [`plan`] (heuristic), [`plan_exact`] (MIP) and [`plan_closest`] (baseline) plan one
//!   [`PlanRequest`]; [`plan_batch`] and [`plan_batch_exact`] plan many orders competing for the
//!   same stock and capacity, never promising a unit twice;
//! - [`bench`] generates a benchmark network and orders and measures the solvers.

pub mod availability;
pub mod batch;
pub mod bench;
pub mod calendar;
mod closest;
pub mod cost;
pub mod error;
mod exact;
pub mod geo;
mod heuristic;
pub mod network;
pub mod node;
pub mod plan;
mod planner;
pub mod profile;
pub mod request;
mod solve;
mod stage;
pub mod summary;
pub mod validate;

pub use availability::{Availability, SkuId, StockRecord};
pub use batch::{BatchOutcome, BatchStats, plan_batch, plan_batch_closest, plan_batch_exact};
pub use calendar::Calendar;
pub use error::SourcingError;
pub use geo::{PostalCentroids, great_circle_km};
pub use network::{Network, NodeId};
pub use node::{
    CapacityUnit, CostModel, Node, NodeGroup, NodeKind, RateTable, WeightBracket, Zone,
};
pub use plan::{
    Assignment, Explanation, LinePlan, Plan, Reason, ShipmentPlan, Solver, Sourcing, Unassigned,
    Verdict,
};
pub use profile::{Constraint, Objective, Profile, Rates};
pub use request::{PlanLine, PlanRequest};
pub use solve::{ExactOptions, plan, plan_closest, plan_exact};
pub use summary::Summary;
