//! Planning one order with a chosen solver.

use crate::availability::Availability;
use crate::error::SourcingError;
use crate::network::Network;
use crate::plan::{Plan, Solver};
use crate::planner::OrderPlanner;
use crate::profile::Profile;
use crate::request::PlanRequest;
use crate::stage::{Pick, Stage};
use crate::{closest, exact, heuristic};

/// Settings of the exact solver.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ExactOptions {
    /// Stop a single MIP after this long and keep the best answer known (the heuristic's at worst).
    pub time_limit_secs: Option<f64>,
    /// Largest group of competing orders solved as one model in a batch; larger groups are cut
    /// into consecutive chunks of this size (a rolling horizon).
    pub max_joint_orders: usize,
}

impl Default for ExactOptions {
    fn default() -> Self {
        Self {
            time_limit_secs: Some(5.0),
            max_joint_orders: 12,
        }
    }
}

/// The exact answer to one stage, never worse than the heuristic's: the heuristic seeds the search
/// and stands in when the solver fails.
pub(crate) fn exact_stage(
    stage: &Stage,
    options: &ExactOptions,
    notes: &mut Vec<String>,
) -> Vec<Pick> {
    let warm = heuristic::solve(stage);
    match exact::solve(
        &[stage],
        Some(std::slice::from_ref(&warm)),
        options.time_limit_secs,
    ) {
        Ok(mut picks) => {
            let picks = picks.pop().unwrap_or_default();
            if stage.score(&picks) <= stage.score(&warm) + 1e-6 {
                picks
            } else {
                warm
            }
        }
        Err(e) => {
            notes.push(format!("exact solver failed, heuristic answer used: {e}"));
            warm
        }
    }
}

pub(crate) fn plan_with(
    solver: Solver,
    request: &PlanRequest,
    network: &Network,
    availability: &Availability,
    profile: &Profile,
    options: &ExactOptions,
) -> Result<Plan, SourcingError> {
    availability.check(network)?;
    let mut planner = OrderPlanner::new(request, network, availability, profile);
    match solver {
        Solver::Heuristic => planner.run(&mut heuristic::solve),
        Solver::Closest => planner.run(&mut closest::solve),
        Solver::Exact => {
            let mut notes = Vec::new();
            planner.run(&mut |stage| exact_stage(stage, options, &mut notes));
            planner.notes.extend(notes);
        }
    }
    Ok(planner.finish(solver))
}

/// Plans one order with the fast heuristic: the solver for orders as they arrive.
pub fn plan(
    request: &PlanRequest,
    network: &Network,
    availability: &Availability,
    profile: &Profile,
) -> Result<Plan, SourcingError> {
    plan_with(
        Solver::Heuristic,
        request,
        network,
        availability,
        profile,
        &ExactOptions::default(),
    )
}

/// Plans one order with the exact MIP solver.
pub fn plan_exact(
    request: &PlanRequest,
    network: &Network,
    availability: &Availability,
    profile: &Profile,
    options: &ExactOptions,
) -> Result<Plan, SourcingError> {
    plan_with(
        Solver::Exact,
        request,
        network,
        availability,
        profile,
        options,
    )
}

/// Plans one order the naive way, each line from the closest node with stock: the baseline.
pub fn plan_closest(
    request: &PlanRequest,
    network: &Network,
    availability: &Availability,
    profile: &Profile,
) -> Result<Plan, SourcingError> {
    plan_with(
        Solver::Closest,
        request,
        network,
        availability,
        profile,
        &ExactOptions::default(),
    )
}
