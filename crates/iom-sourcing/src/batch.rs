//! Brokering runs: many open orders planned against one availability, so that no unit and no unit of
//! capacity is promised twice.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::availability::{Availability, SkuId};
use crate::error::SourcingError;
use crate::exact;
use crate::network::{Network, NodeId};
use crate::node::CapacityUnit;
use crate::plan::{Plan, Solver};
use crate::planner::OrderPlanner;
use crate::profile::{Constraint, Profile};
use crate::request::PlanRequest;
use crate::solve::{ExactOptions, plan_with};

/// What a batch run did, to judge its answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BatchStats {
    pub orders: usize,
    /// Total cost when every order is solved exactly on its own, as if it had the stock to itself.
    /// With `independent_unassigned_units` it bounds the batch from below: no batch plan sources
    /// more units, and none sourcing as many costs less.
    pub independent_cost: Decimal,
    pub independent_unassigned_units: u64,
    /// Orders whose independent plans competed for the same stock or capacity.
    pub conflicted_orders: usize,
    /// Groups of competing orders, and how many of them were solved as one joint model.
    pub clusters: usize,
    pub joint_solves: usize,
    /// Orders re-planned one after another (profiles with several passes, or solver failures).
    pub sequential_orders: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchOutcome {
    /// One plan per request, in request order.
    pub plans: Vec<Plan>,
    pub stats: BatchStats,
}

/// A resource orders compete for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Resource {
    Stock(SkuId, NodeId),
    Capacity(NodeId),
}

/// What a plan consumes: units per (SKU, node), capacity per node.
fn usage(plan: &Plan, network: &Network, avail: &Availability) -> Vec<(Resource, u32)> {
    let mut out = Vec::with_capacity(plan.assignments.len() * 2);
    for a in &plan.assignments {
        let (Some(sku), Some(node)) = (avail.sku(&a.sku), network.id(&a.node)) else {
            continue;
        };
        out.push((Resource::Stock(sku, node), a.quantity));
        if network.node(node).capacity_unit == CapacityUnit::Lines {
            out.push((Resource::Capacity(node), 1));
        }
    }
    for s in &plan.shipment_plans {
        if let Some(node) = network.id(&s.node)
            && network.node(node).capacity_unit == CapacityUnit::Shipments
        {
            out.push((Resource::Capacity(node), 1));
        }
    }
    out
}

fn commit(plan: &Plan, network: &Network, avail: &mut Availability) {
    for (r, q) in usage(plan, network, avail) {
        match r {
            Resource::Stock(sku, node) => avail.take(sku, node, q),
            Resource::Capacity(node) => avail.use_capacity(node, q),
        }
    }
}

fn sequential(
    solver: Solver,
    requests: &[PlanRequest],
    network: &Network,
    availability: &Availability,
    profile: &Profile,
) -> Result<Vec<Plan>, SourcingError> {
    availability.check(network)?;
    let mut avail = availability.clone();
    let options = ExactOptions::default();
    let mut plans = Vec::with_capacity(requests.len());
    for r in requests {
        let plan = plan_with(solver, r, network, &avail, profile, &options)?;
        commit(&plan, network, &mut avail);
        plans.push(plan);
    }
    Ok(plans)
}

/// Plans the orders one after another with the heuristic, each against what the earlier ones left:
/// what happens when orders are planned as they arrive.
pub fn plan_batch(
    requests: &[PlanRequest],
    network: &Network,
    availability: &Availability,
    profile: &Profile,
) -> Result<Vec<Plan>, SourcingError> {
    sequential(Solver::Heuristic, requests, network, availability, profile)
}

/// The baseline batch: orders one after another, each line from the closest node with stock.
pub fn plan_batch_closest(
    requests: &[PlanRequest],
    network: &Network,
    availability: &Availability,
    profile: &Profile,
) -> Result<Vec<Plan>, SourcingError> {
    sequential(Solver::Closest, requests, network, availability, profile)
}

/// Plans the orders together with the exact solver.
///
/// One MIP of every order is far too large for a pure-Rust solver, so the batch is decomposed:
/// 1. every order is solved exactly on its own, against all of the stock (this also gives the
///    lower bound reported in [`BatchStats`]);
/// 2. orders whose plans do not over-use any stock or capacity keep them: they are optimal;
/// 3. the others are grouped by the resources they compete for, and each group is solved as one
///    joint model (in chunks of `max_joint_orders`, in request order) against what is left.
///
/// Profiles with several passes (tiers, soft constraints, alternates) are re-planned order by order
/// in step 3 instead of jointly.
pub fn plan_batch_exact(
    requests: &[PlanRequest],
    network: &Network,
    availability: &Availability,
    profile: &Profile,
    options: &ExactOptions,
) -> Result<BatchOutcome, SourcingError> {
    availability.check(network)?;
    let mut stats = BatchStats {
        orders: requests.len(),
        ..BatchStats::default()
    };

    // 1. Independent optima.
    let mut plans = Vec::with_capacity(requests.len());
    for r in requests {
        plans.push(plan_with(
            Solver::Exact,
            r,
            network,
            availability,
            profile,
            options,
        )?);
    }
    stats.independent_cost = plans.iter().map(|p| p.cost).sum();
    stats.independent_unassigned_units =
        plans.iter().map(|p| u64::from(p.units_unassigned())).sum();

    // 2. Over-used resources and the orders involved.
    let hold_safety = profile.respect_safety_stock && !profile.is_soft(Constraint::SafetyStock);
    let hard_capacity = profile.respect_capacity && !profile.is_soft(Constraint::DailyCapacity);
    let usages: Vec<Vec<(Resource, u32)>> = plans
        .iter()
        .map(|p| usage(p, network, availability))
        .collect();
    let mut total: HashMap<Resource, u32> = HashMap::new();
    for u in &usages {
        for &(r, q) in u {
            *total.entry(r).or_insert(0) += q;
        }
    }
    let over = |r: &Resource, used: u32| match *r {
        Resource::Stock(sku, node) => {
            let hold = if hold_safety {
                network.node(node).safety_stock
            } else {
                0
            };
            // Even with safety stock relaxed, two orders must never share a unit.
            used > availability.stock(sku, node).saturating_sub(hold)
                || used > availability.stock(sku, node)
        }
        Resource::Capacity(node) => {
            hard_capacity && availability.capacity(node).is_some_and(|c| used > c)
        }
    };
    let conflicted: HashMap<Resource, ()> = total
        .iter()
        .filter(|(r, u)| over(r, **u))
        .map(|(r, _)| (*r, ()))
        .collect();

    // Union-find over orders sharing an over-used resource.
    let n = requests.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    let mut owner: HashMap<Resource, usize> = HashMap::new();
    let mut in_conflict = vec![false; n];
    for (o, u) in usages.iter().enumerate() {
        for (r, _) in u {
            if conflicted.contains_key(r) {
                in_conflict[o] = true;
                match owner.get(r) {
                    Some(&first) => {
                        let (a, b) = (find(&mut parent, first), find(&mut parent, o));
                        parent[a.max(b)] = a.min(b);
                    }
                    None => {
                        owner.insert(*r, o);
                    }
                }
            }
        }
    }
    stats.conflicted_orders = in_conflict.iter().filter(|c| **c).count();

    // Keep the plans that compete with nobody.
    let mut avail = availability.clone();
    for (o, plan) in plans.iter().enumerate() {
        if !in_conflict[o] {
            commit(plan, network, &mut avail);
        }
    }

    // 3. Solve each group of competing orders against what is left.
    let mut clusters: Vec<Vec<usize>> = Vec::new();
    let mut cluster_of: HashMap<usize, usize> = HashMap::new();
    for o in (0..n).filter(|&o| in_conflict[o]) {
        let root = find(&mut parent, o);
        let c = *cluster_of.entry(root).or_insert_with(|| {
            clusters.push(Vec::new());
            clusters.len() - 1
        });
        clusters[c].push(o);
    }
    stats.clusters = clusters.len();
    let joint_ok =
        profile.alternate.is_none() && profile.tiers.is_empty() && profile.soft.is_empty();
    let chunk = options.max_joint_orders.max(1);
    for cluster in &clusters {
        for part in cluster.chunks(chunk) {
            let solved = if joint_ok && part.len() > 1 {
                solve_jointly(part, requests, network, &avail, profile, options)
            } else {
                None
            };
            match solved {
                Some(joint) => {
                    stats.joint_solves += 1;
                    for (&o, plan) in part.iter().zip(joint) {
                        commit(&plan, network, &mut avail);
                        plans[o] = plan;
                    }
                }
                None => {
                    for &o in part {
                        stats.sequential_orders += 1;
                        let plan = plan_with(
                            Solver::Exact,
                            &requests[o],
                            network,
                            &avail,
                            profile,
                            options,
                        )?;
                        commit(&plan, network, &mut avail);
                        plans[o] = plan;
                    }
                }
            }
        }
    }
    Ok(BatchOutcome { plans, stats })
}

/// One model for a group of orders sharing stock and capacity; `None` when it cannot be built or
/// solved, and the caller plans the orders one by one.
fn solve_jointly(
    part: &[usize],
    requests: &[PlanRequest],
    network: &Network,
    avail: &Availability,
    profile: &Profile,
    options: &ExactOptions,
) -> Option<Vec<Plan>> {
    let mut planners: Vec<OrderPlanner> = part
        .iter()
        .map(|&o| OrderPlanner::new(&requests[o], network, avail, profile))
        .collect();
    let stages: Vec<_> = planners
        .iter()
        .map(OrderPlanner::primary_stage)
        .collect::<Option<Vec<_>>>()?;
    let refs: Vec<_> = stages.iter().collect();
    let picks = exact::solve(&refs, None, options.time_limit_secs).ok()?;
    let mut out = Vec::with_capacity(part.len());
    for ((mut planner, stage), picks) in planners.drain(..).zip(&stages).zip(picks) {
        planner.apply(stage, &picks, 0, false);
        out.push(planner.finish(Solver::Exact));
    }
    Some(out)
}
