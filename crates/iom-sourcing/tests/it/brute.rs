//! A brute-force enumerator: every way to ship every line from every node, checked against the
//! profile from first principles. Slow, obvious, and the reference the exact solver must match.

use iom_sourcing::{Node, great_circle_km};
use rust_decimal::{Decimal, RoundingStrategy};

use crate::instances::Instance;

/// The best (units sourced, cost) over all feasible assignments: most units, then least cost.
pub fn optimum(inst: &Instance) -> (u32, Decimal) {
    let p = &inst.profile;
    let ship_to = inst.request.ship_to.unwrap();
    let nodes: Vec<&Node> = inst.nodes.iter().collect();
    let km: Vec<f64> = nodes
        .iter()
        .map(|n| great_circle_km(n.location.unwrap(), ship_to))
        .collect();
    let eligible: Vec<bool> = nodes
        .iter()
        .zip(&km)
        .map(|(n, &d)| {
            let limit = p
                .max_distance_km
                .unwrap_or(f64::INFINITY)
                .min(n.max_distance_km.unwrap_or(f64::INFINITY));
            n.active
                && (p.node_kinds.is_empty() || p.node_kinds.contains(&n.kind))
                && !p.exclude_nodes.contains(&n.code)
                && d <= limit
        })
        .collect();
    let lines = &inst.request.lines;
    let usable = |l: usize, n: usize| -> u32 {
        let hold = if p.respect_safety_stock {
            nodes[n].safety_stock
        } else {
            0
        };
        inst.stock_of(&lines[l].sku, &nodes[n].code)
            .saturating_sub(hold)
    };
    // x[l * nodes + n]
    let mut x = vec![0u32; lines.len() * nodes.len()];
    let mut best: Option<(u32, Decimal)> = None;
    enumerate(
        0,
        &mut x,
        lines.len(),
        nodes.len(),
        &|l, n| {
            if eligible[n] {
                usable(l, n).min(lines[l].quantity)
            } else {
                0
            }
        },
        &mut |x| {
            if let Some(value) = evaluate(inst, &nodes, &km, x, &usable) {
                let better = match best {
                    None => true,
                    Some((u, c)) => value.0 > u || (value.0 == u && value.1 < c),
                };
                if better {
                    best = Some(value);
                }
            }
        },
    );
    best.unwrap_or((0, Decimal::ZERO))
}

fn enumerate(
    i: usize,
    x: &mut Vec<u32>,
    n_lines: usize,
    n_nodes: usize,
    ub: &dyn Fn(usize, usize) -> u32,
    visit: &mut dyn FnMut(&[u32]),
) {
    if i == n_lines * n_nodes {
        visit(x);
        return;
    }
    let (l, n) = (i / n_nodes, i % n_nodes);
    for v in 0..=ub(l, n) {
        x[i] = v;
        enumerate(i + 1, x, n_lines, n_nodes, ub, visit);
    }
    x[i] = 0;
}

/// (units, cost) of one assignment, or `None` when it breaks a constraint.
fn evaluate(
    inst: &Instance,
    nodes: &[&Node],
    km: &[f64],
    x: &[u32],
    usable: &dyn Fn(usize, usize) -> u32,
) -> Option<(u32, Decimal)> {
    let p = &inst.profile;
    let lines = &inst.request.lines;
    let nn = nodes.len();
    let at = |l: usize, n: usize| x[l * nn + n];
    let mut units = 0;
    for (l, line) in lines.iter().enumerate() {
        let shipped: u32 = (0..nn).map(|n| at(l, n)).sum();
        if shipped > line.quantity {
            return None;
        }
        let served = (0..nn).filter(|&n| at(l, n) > 0).count() as u32;
        if !p.allow_line_split && (served > 1 || (shipped != 0 && shipped != line.quantity)) {
            return None;
        }
        if p.max_nodes_per_line.is_some_and(|k| served > k) {
            return None;
        }
        units += shipped;
    }
    let demand: u32 = lines.iter().map(|l| l.quantity).sum();
    if !p.allow_partial && units != 0 && units != demand {
        return None;
    }
    let mut used_nodes = 0;
    let mut cost = Decimal::ZERO;
    for n in 0..nn {
        let served: Vec<usize> = (0..lines.len()).filter(|&l| at(l, n) > 0).collect();
        if served.is_empty() {
            continue;
        }
        used_nodes += 1;
        // Stock per SKU at the node, lines of one SKU together.
        for l in &served {
            let sku = &lines[*l].sku;
            let same: u32 = (0..lines.len())
                .filter(|&m| lines[m].sku == *sku)
                .map(|m| at(m, n))
                .sum();
            if same > usable(*l, n) {
                return None;
            }
        }
        if p.respect_capacity
            && let Some(left) = inst.capacity_left(nodes[n])
        {
            let need = match nodes[n].capacity_unit {
                iom_sourcing::CapacityUnit::Shipments => 1,
                iom_sourcing::CapacityUnit::Lines => served.len() as u32,
            };
            if need > left {
                return None;
            }
        }
        let qty: u32 = served.iter().map(|&l| at(l, n)).sum();
        let c = &nodes[n].costs;
        let km3 = Decimal::try_from(km[n]).unwrap().round_dp(3);
        let ship = c.per_shipment + c.per_km * km3 + c.per_unit * Decimal::from(qty);
        cost += ship.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    }
    if p.max_nodes.is_some_and(|k| used_nodes > k) {
        return None;
    }
    Some((units, cost))
}
