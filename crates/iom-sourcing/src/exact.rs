//! The exact solver: a mixed-integer model of one or more stages (orders) that share stock and node
//! capacity, solved with good_lp's pure-Rust `microlp` backend.
//!
//! Per order o, line l, candidate c: `x` units shipped (integer), `z` whether c serves l (binary,
//! only where a limit needs it), `y` whether o ships from c (binary), `u` units left unsourced, `b`
//! the weight bracket of a shipment, `f` whether a ship-complete order is sourced at all.

use std::collections::HashMap;

use good_lp::{
    Expression, ProblemVariables, SolverModel, Variable, WithInitialSolution, WithTimeLimit,
    constraint, microlp, variable,
};

use crate::availability::SkuId;
use crate::error::SourcingError;
use crate::network::NodeId;
use crate::stage::{Pick, Stage, UNFILLED};

/// A bound on the weight of one shipment, standing in for "no limit" in the last bracket.
const HEAVIEST_KG: f64 = 1.0e7;

enum Flow {
    /// Integer units.
    Units(Variable),
    /// The whole line or nothing: units = qty * z.
    Whole(Variable),
}

struct Arc {
    line: usize,
    cand: usize,
    flow: Flow,
    /// Serves-the-line indicator when a limit counts it (for `Whole` it is the flow variable).
    z: Option<Variable>,
    ub: f64,
}

struct OrderVars {
    arcs: Vec<Arc>,
    y: Vec<Option<Variable>>,
    u: Vec<Variable>,
    f: Option<Variable>,
    brackets: Vec<Vec<Variable>>,
}

impl Arc {
    fn units(&self, qty: u32) -> Expression {
        match self.flow {
            Flow::Units(x) => x.into(),
            Flow::Whole(z) => f64::from(qty) * z,
        }
    }
    fn indicator(&self) -> Option<Variable> {
        match self.flow {
            Flow::Whole(z) => Some(z),
            Flow::Units(_) => self.z,
        }
    }
}

/// Solves the stages jointly. Stages must have been built against the same availability, so that a
/// (SKU, node) pair shows the same stock in each. `warm` is a feasible starting point (one pick list
/// per stage), e.g. the heuristic's answer.
pub(crate) fn solve(
    stages: &[&Stage],
    warm: Option<&[Vec<Pick>]>,
    time_limit_secs: Option<f64>,
) -> Result<Vec<Vec<Pick>>, SourcingError> {
    let mut vars = ProblemVariables::new();
    let mut objective = Expression::with_capacity(256);
    let mut orders = Vec::with_capacity(stages.len());
    let mut initial: Vec<(Variable, f64)> = Vec::new();

    for (o, stage) in stages.iter().enumerate() {
        let n_lines = stage.lines.len();
        let warm_x: HashMap<(usize, usize), u32> = warm
            .map(|w| {
                let mut m = HashMap::new();
                for p in &w[o] {
                    *m.entry((p.line, p.cand)).or_insert(0) += p.qty;
                }
                m
            })
            .unwrap_or_default();
        let warm_complete = stage.lines.iter().enumerate().all(|(l, line)| {
            warm_x
                .iter()
                .filter(|((wl, _), _)| *wl == l)
                .map(|(_, q)| *q)
                .sum::<u32>()
                == line.qty
        });
        let keep_warm = !stage.complete_only || warm_complete;
        let warm_of = |l: usize, c: usize| {
            if keep_warm {
                warm_x.get(&(l, c)).copied().unwrap_or(0)
            } else {
                0
            }
        };

        let mut y = Vec::with_capacity(stage.cands.len());
        for (c, cand) in stage.cands.iter().enumerate() {
            if cand.open {
                y.push(None);
            } else {
                let v = vars.add(variable().binary());
                objective.add_mul(cand.fixed, v);
                let used = (0..n_lines).any(|l| warm_of(l, c) > 0);
                initial.push((v, f64::from(u8::from(used))));
                y.push(Some(v));
            }
        }
        let mut arcs = Vec::new();
        for (c, cand) in stage.cands.iter().enumerate() {
            for (l, line) in stage.lines.iter().enumerate() {
                let avail = stage.stock(c, line.slot);
                let serving = stage.serving(c, l);
                if avail == 0
                    || (!serving && line.new_nodes == Some(0))
                    || (line.whole && avail < line.qty)
                {
                    continue;
                }
                let ub = f64::from(line.qty.min(avail));
                let w = warm_of(l, c);
                let needs_z =
                    !serving && (line.new_nodes.is_some() || cand.lines_cap && cand.cap.is_some());
                let arc = if line.whole {
                    let z = vars.add(variable().binary());
                    objective.add_mul(f64::from(line.qty) * stage.unit(c, l), z);
                    initial.push((z, f64::from(u8::from(w > 0))));
                    Arc {
                        line: l,
                        cand: c,
                        flow: Flow::Whole(z),
                        z: None,
                        ub,
                    }
                } else {
                    let x = vars.add(variable().integer().min(0).max(ub));
                    objective.add_mul(stage.unit(c, l), x);
                    initial.push((x, f64::from(w)));
                    let z = needs_z.then(|| {
                        let z = vars.add(variable().binary());
                        initial.push((z, f64::from(u8::from(w > 0))));
                        z
                    });
                    Arc {
                        line: l,
                        cand: c,
                        flow: Flow::Units(x),
                        z,
                        ub,
                    }
                };
                arcs.push(arc);
            }
        }
        let mut u = Vec::with_capacity(n_lines);
        for (l, line) in stage.lines.iter().enumerate() {
            let v = vars.add(variable().min(0).max(f64::from(line.qty)));
            objective.add_mul(UNFILLED, v);
            let shipped: u32 = (0..stage.cands.len()).map(|c| warm_of(l, c)).sum();
            initial.push((v, f64::from(line.qty - shipped.min(line.qty))));
            u.push(v);
        }
        let f = stage.complete_only.then(|| {
            let v = vars.add(variable().binary());
            initial.push((v, f64::from(u8::from(keep_warm && warm_complete))));
            v
        });
        let mut brackets = vec![Vec::new(); stage.cands.len()];
        for (c, slot) in brackets.iter_mut().enumerate() {
            let table = stage.brackets(c);
            if table.is_empty() {
                continue;
            }
            let kg: f64 = (0..n_lines)
                .map(|l| f64::from(warm_of(l, c)) * stage.lines[l].kg)
                .sum();
            let used = (0..n_lines).any(|l| warm_of(l, c) > 0);
            let chosen = table
                .iter()
                .position(|r| kg <= r.0)
                .unwrap_or(table.len() - 1);
            for (k, &(_, price)) in table.iter().enumerate() {
                let v = vars.add(variable().binary());
                objective.add_mul(price * stage.weights.cost, v);
                initial.push((v, f64::from(u8::from(used && k == chosen))));
                slot.push(v);
            }
        }
        orders.push(OrderVars {
            arcs,
            y,
            u,
            f,
            brackets,
        });
    }

    let mut model = vars.minimise(objective).using(microlp);
    if let Some(limit) = time_limit_secs {
        model = model.with_time_limit(limit);
    }
    if warm.is_some() {
        model = model.with_initial_solution(initial);
    }

    // Shared resources across orders: stock per (SKU, node), capacity per node.
    let mut stock_use: HashMap<(SkuId, NodeId), (u32, Expression)> = HashMap::new();
    let mut cap_use: HashMap<NodeId, (u32, Expression)> = HashMap::new();

    for (stage, ov) in stages.iter().zip(&orders) {
        // Demand: shipped + unsourced = quantity; a ship-complete order sources all or nothing.
        for (l, line) in stage.lines.iter().enumerate() {
            let mut shipped = Expression::from(ov.u[l]);
            for a in ov.arcs.iter().filter(|a| a.line == l) {
                shipped += a.units(line.qty);
            }
            model = model.with(constraint!(shipped == f64::from(line.qty)));
            if let Some(f) = ov.f {
                model = model.with(constraint!(
                    ov.u[l] + f64::from(line.qty) * f == f64::from(line.qty)
                ));
            }
        }
        // Links: no units from a node the order does not ship from, none on a line the node does
        // not serve.
        for a in &ov.arcs {
            if let (Flow::Units(x), Some(z)) = (&a.flow, a.z) {
                model = model.with(constraint!(*x <= a.ub * z));
            }
            if let Some(y) = ov.y[a.cand] {
                match (&a.flow, a.indicator()) {
                    (_, Some(z)) => model = model.with(constraint!(z <= y)),
                    (Flow::Units(x), None) => model = model.with(constraint!(*x <= a.ub * y)),
                    (Flow::Whole(_), None) => {}
                }
            }
        }
        // Stock per slot at each candidate, for this order (tight, scaled by y) and shared.
        for (c, cand) in stage.cands.iter().enumerate() {
            for (s, &sku) in stage.skus.iter().enumerate() {
                let mut used = Expression::default();
                let mut any = false;
                for a in ov
                    .arcs
                    .iter()
                    .filter(|a| a.cand == c && stage.lines[a.line].slot == s)
                {
                    used += a.units(stage.lines[a.line].qty);
                    any = true;
                }
                if !any {
                    continue;
                }
                let avail = stage.stock(c, s);
                if let Some(y) = ov.y[c] {
                    model = model.with(constraint!(used.clone() <= f64::from(avail) * y));
                }
                let entry = stock_use
                    .entry((sku, cand.node))
                    .or_insert((avail, Expression::default()));
                entry.0 = entry.0.min(avail);
                entry.1 += used;
            }
        }
        // Nodes per line and per order.
        for (l, line) in stage.lines.iter().enumerate() {
            if let Some(k) = line.new_nodes {
                let mut count = Expression::default();
                for a in ov
                    .arcs
                    .iter()
                    .filter(|a| a.line == l && !stage.serving(a.cand, l))
                {
                    if let Some(z) = a.indicator() {
                        count += z;
                    }
                }
                model = model.with(constraint!(count <= f64::from(k)));
            }
        }
        if let Some(k) = stage.max_new_nodes {
            let mut count = Expression::default();
            for y in ov.y.iter().flatten() {
                count += *y;
            }
            model = model.with(constraint!(count <= f64::from(k)));
        }
        // Capacity: a shipment uses one of a node's shipments, a newly served line one of its lines.
        for (c, cand) in stage.cands.iter().enumerate() {
            let Some(cap) = cand.cap else { continue };
            let entry = cap_use
                .entry(cand.node)
                .or_insert((cap, Expression::default()));
            entry.0 = entry.0.min(cap);
            if cand.lines_cap {
                for a in ov
                    .arcs
                    .iter()
                    .filter(|a| a.cand == c && !stage.serving(c, a.line))
                {
                    if let Some(z) = a.indicator() {
                        entry.1 += z;
                    }
                }
            } else if let Some(y) = ov.y[c] {
                entry.1 += y;
            }
        }
        // Weight brackets: exactly one when the node ships, and it must hold the shipment.
        for (c, bs) in ov.brackets.iter().enumerate() {
            if bs.is_empty() {
                continue;
            }
            let Some(y) = ov.y[c] else { continue };
            let table = stage.brackets(c);
            let mut one = Expression::default();
            let mut room = Expression::default();
            for (k, &b) in bs.iter().enumerate() {
                one += b;
                let up = if k + 1 == bs.len() {
                    HEAVIEST_KG
                } else {
                    table[k].0
                };
                room.add_mul(up, b);
            }
            model = model.with(constraint!(one == y));
            let mut kg = Expression::default();
            for a in ov.arcs.iter().filter(|a| a.cand == c) {
                kg.add_mul(stage.lines[a.line].kg, a.units(stage.lines[a.line].qty));
            }
            model = model.with(constraint!(kg <= room));
        }
    }
    if stages.len() > 1 {
        for (_, (avail, used)) in stock_use {
            model = model.with(constraint!(used <= f64::from(avail)));
        }
    }
    for (_, (cap, used)) in cap_use {
        model = model.with(constraint!(used <= f64::from(cap)));
    }

    let solution = model
        .solve()
        .map_err(|e| SourcingError::Solver(e.to_string()))?;
    use good_lp::Solution;
    let mut out = Vec::with_capacity(stages.len());
    for (stage, ov) in stages.iter().zip(&orders) {
        let mut picks = Vec::new();
        for a in &ov.arcs {
            let qty = match a.flow {
                Flow::Units(x) => solution.value(x).round(),
                Flow::Whole(z) => solution.value(z).round() * f64::from(stage.lines[a.line].qty),
            };
            if qty >= 1.0 {
                picks.push(Pick {
                    line: a.line,
                    cand: a.cand,
                    qty: qty as u32,
                });
            }
        }
        out.push(picks);
    }
    Ok(out)
}
