//! Fulfilment: where each line ships from. The engine (`iom-sourcing`) decides; this module feeds
//! it from the store and writes its decisions back.
//!
//! - [`setup`]: the engine's network, profiles and availability, from what is stored.
//! - [`locate`]: where a ship-to is, from its coordinates or its postal code's centroid.
//! - [`commit`]: what of an order is left to plan, and what committing a plan does to it.
//! - [`brokering`]: one order planned as a simulation, brokering runs, committing their plans.
//!
//! The `plan-fulfillment` and `reserve-inventory` flow steps call [`commit`] and [`locate`] inside
//! the flow's transaction; `POST /fulfillment/plan` and brokering runs call [`brokering`].

pub mod brokering;
pub mod commit;
pub mod locate;
pub mod setup;

pub use brokering::{
    BrokeringRequest, BrokeringRun, OrderPlan, brokering_run, commit_plan, plan_one,
};
pub use commit::{Assigned, Commitment, request_for};
pub use setup::{
    DEFAULT_PROFILE, SetupError, availability_of, group_of, load_availability, load_network,
    load_profile, network_in, network_of, node_of, profile_in, profile_of,
};
