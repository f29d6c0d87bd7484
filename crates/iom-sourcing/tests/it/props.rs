//! Properties over random instances: no solver breaks a hard constraint, and the exact solver
//! matches brute force.

use std::collections::{BTreeMap, BTreeSet};

use iom_sourcing::{
    CapacityUnit, Constraint, ExactOptions, Plan, great_circle_km, plan, plan_closest, plan_exact,
};
use proptest::prelude::*;
use rust_decimal::Decimal;

use crate::brute;
use crate::instances::{Instance, Size};

/// Checks every constraint the profile holds hard (not listed as soft).
pub fn check_hard(inst: &Instance, plan: &Plan) -> Result<(), String> {
    let p = &inst.profile;
    let hard = |c: Constraint| !p.is_soft(c);
    let ship_to = inst.request.ship_to.unwrap();
    let node = |code: &str| inst.nodes.iter().find(|n| n.code == code).unwrap();

    // Quantities add up per line.
    for line in &inst.request.lines {
        let sourced: u32 = plan
            .assignments
            .iter()
            .filter(|a| a.line_no == line.line_no)
            .map(|a| a.quantity)
            .sum();
        let open: u32 = plan
            .unassigned
            .iter()
            .filter(|u| u.line_no == line.line_no)
            .map(|u| u.quantity)
            .sum();
        if sourced + open != line.quantity {
            return Err(format!(
                "line {}: {sourced} sourced + {open} open != {}",
                line.line_no, line.quantity
            ));
        }
        let nodes: BTreeSet<&str> = plan
            .assignments
            .iter()
            .filter(|a| a.line_no == line.line_no)
            .map(|a| a.node.as_str())
            .collect();
        if hard(Constraint::LineSplit)
            && !p.allow_line_split
            && (nodes.len() > 1 || (sourced != 0 && open != 0))
        {
            return Err(format!(
                "line {} split although splitting is not allowed",
                line.line_no
            ));
        }
        if hard(Constraint::MaxNodesPerLine)
            && p.max_nodes_per_line.is_some_and(|k| nodes.len() as u32 > k)
        {
            return Err(format!(
                "line {} ships from {} nodes",
                line.line_no,
                nodes.len()
            ));
        }
    }
    // Stock: never more than on hand; never into safety stock when that binds.
    let mut per: BTreeMap<(&str, &str), u32> = BTreeMap::new();
    for a in &plan.assignments {
        *per.entry((a.sku.as_str(), a.node.as_str())).or_default() += a.quantity;
    }
    for (&(sku, code), &q) in &per {
        let on_hand = inst.stock_of(sku, code);
        let hold = if p.respect_safety_stock && hard(Constraint::SafetyStock) {
            node(code).safety_stock
        } else {
            0
        };
        if q > on_hand.saturating_sub(hold) {
            return Err(format!(
                "{q} of {sku} at {code}, only {on_hand} on hand ({hold} held back)"
            ));
        }
    }
    // Node eligibility and capacity.
    let used: BTreeSet<&str> = plan.assignments.iter().map(|a| a.node.as_str()).collect();
    for code in &used {
        let n = node(code);
        if !n.active {
            return Err(format!("inactive node {code} ships"));
        }
        if hard(Constraint::NodeKinds)
            && !p.node_kinds.is_empty()
            && !p.node_kinds.contains(&n.kind)
        {
            return Err(format!("node {code} of a kind not allowed ships"));
        }
        if hard(Constraint::Exclusions) && p.exclude_nodes.contains(&n.code) {
            return Err(format!("excluded node {code} ships"));
        }
        let d = great_circle_km(n.location.unwrap(), ship_to);
        let limit = p
            .max_distance_km
            .unwrap_or(f64::INFINITY)
            .min(n.max_distance_km.unwrap_or(f64::INFINITY));
        if hard(Constraint::MaxDistance) && d > limit {
            return Err(format!("node {code} at {d:.1} km exceeds {limit} km"));
        }
        if p.respect_capacity
            && hard(Constraint::DailyCapacity)
            && let Some(left) = inst.capacity_left(n)
        {
            let need = match n.capacity_unit {
                CapacityUnit::Shipments => 1,
                CapacityUnit::Lines => {
                    plan.assignments.iter().filter(|a| a.node == n.code).count() as u32
                }
            };
            if need > left {
                return Err(format!("node {code} needs {need} capacity, {left} left"));
            }
        }
    }
    if hard(Constraint::MaxNodes) && p.max_nodes.is_some_and(|k| used.len() as u32 > k) {
        return Err(format!("order ships from {} nodes", used.len()));
    }
    let demand: u32 = inst.request.lines.iter().map(|l| l.quantity).sum();
    let sourced = plan.units_sourced();
    if hard(Constraint::ShipComplete) && !p.allow_partial && sourced != 0 && sourced != demand {
        return Err(format!(
            "ship complete, but {sourced} of {demand} units sourced"
        ));
    }
    if plan.shipments as usize != used.len() || plan.cost < Decimal::ZERO {
        return Err("shipments or cost inconsistent".into());
    }
    Ok(())
}

const WIDE: Size = Size {
    nodes: 8,
    skus: 3,
    lines: 5,
    qty: 5,
    stock: 6,
    passes: true,
};
const SMALL: Size = Size {
    nodes: 3,
    skus: 2,
    lines: 3,
    qty: 2,
    stock: 3,
    passes: false,
};

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn heuristic_never_breaks_a_hard_constraint(seed in any::<u64>()) {
        let inst = Instance::random(seed, WIDE);
        let net = inst.network();
        let avail = inst.availability(&net);
        let plan = plan(&inst.request, &net, &avail, &inst.profile).unwrap();
        prop_assert!(check_hard(&inst, &plan).is_ok(), "seed {seed}: {:?}\n{:#?}", check_hard(&inst, &plan), inst.profile);
        let closest = plan_closest(&inst.request, &net, &avail, &inst.profile).unwrap();
        prop_assert!(check_hard(&inst, &closest).is_ok(), "closest, seed {seed}: {:?}", check_hard(&inst, &closest));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn exact_matches_brute_force(seed in any::<u64>()) {
        let inst = Instance::random(seed, SMALL);
        let net = inst.network();
        let avail = inst.availability(&net);
        let exact = plan_exact(&inst.request, &net, &avail, &inst.profile, &ExactOptions::default()).unwrap();
        prop_assert!(check_hard(&inst, &exact).is_ok(), "seed {seed}: {:?}", check_hard(&inst, &exact));
        let (units, cost) = brute::optimum(&inst);
        prop_assert_eq!(exact.units_sourced(), units, "seed {}: units", seed);
        // The solver works in floating point and the plan rounds each shipment to the cent, so
        // two optima may differ by rounding.
        let tolerance = Decimal::new(2, 2);
        prop_assert!((exact.cost - cost).abs() <= tolerance, "seed {seed}: exact {} vs brute force {}", exact.cost, cost);
        // The heuristic is feasible and never better than the optimum.
        let h = plan(&inst.request, &net, &avail, &inst.profile).unwrap();
        prop_assert!(h.units_sourced() < units || (h.units_sourced() == units && h.cost + tolerance >= cost),
            "seed {seed}: heuristic {} units {} beats the optimum {} units {}", h.units_sourced(), h.cost, units, cost);
    }
}
