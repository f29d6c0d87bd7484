//! One sourcing problem as every solver sees it: the remaining demand of an order, the candidate
//! nodes with their stock and capacity, and the objective as linear scores. The planner builds one
//! stage per pass (profile, strict or relaxed, priority tier); the solvers return picks.

use crate::availability::SkuId;
use crate::network::{Network, NodeId};
use crate::profile::Objective;

/// Score of one unit left unsourced. Larger than any shipping cost, so every solver sources as
/// many units as it can before it looks at cost.
pub(crate) const UNFILLED: f64 = 1.0e6;

/// How cost, distance and shipments weigh in the score of each objective. The secondary terms
/// break ties by cost without overriding the primary one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Weights {
    /// Per unit of money.
    pub cost: f64,
    /// Per kilometre of each shipment.
    pub km: f64,
    /// Per shipment.
    pub shipment: f64,
}

impl Weights {
    pub fn of(objective: Objective) -> Self {
        match objective {
            Objective::Cost => Weights {
                cost: 1.0,
                km: 0.0,
                shipment: 0.0,
            },
            Objective::Distance => Weights {
                cost: 1.0e-3,
                km: 1.0,
                shipment: 0.0,
            },
            Objective::Shipments => Weights {
                cost: 1.0,
                km: 0.0,
                shipment: 1.0e4,
            },
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct StageLine {
    /// Index of the line in the request.
    pub line: usize,
    /// Index into `Stage::skus`.
    pub slot: usize,
    pub qty: u32,
    /// Kilograms per unit.
    pub kg: f64,
    /// The line must come whole from one node.
    pub whole: bool,
    /// How many more nodes (besides those already serving it) the line may use.
    pub new_nodes: Option<u32>,
}

#[derive(Debug, Clone)]
pub(crate) struct Cand {
    pub node: NodeId,
    pub km: f64,
    /// The order already ships from this node: no new shipment, no fixed score.
    pub open: bool,
    /// Capacity left, in shipments or in lines (`lines_cap`); `None` when not enforced.
    pub cap: Option<u32>,
    pub lines_cap: bool,
    /// Score of opening a shipment here (0 when `open`).
    pub fixed: f64,
    /// The node is over capacity and only used because the capacity constraint is relaxed: the
    /// work spills into the next working day.
    pub late: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Stage<'a> {
    pub net: &'a Network,
    pub weights: Weights,
    pub skus: Vec<SkuId>,
    pub lines: Vec<StageLine>,
    pub cands: Vec<Cand>,
    /// Units per candidate and SKU slot: `stock[c * skus.len() + s]`.
    pub stock: Vec<u32>,
    /// Score per unit per candidate and line: `unit[c * lines.len() + l]`.
    pub unit: Vec<f64>,
    /// The candidate already ships part of the line: `serving[c * lines.len() + l]`.
    pub serving: Vec<bool>,
    /// How many more nodes the order may ship from.
    pub max_new_nodes: Option<u32>,
    /// Source all of the demand or none of it.
    pub complete_only: bool,
}

/// `qty` units of stage line `line` from candidate `cand`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pick {
    pub line: usize,
    pub cand: usize,
    pub qty: u32,
}

impl Stage<'_> {
    pub fn stock(&self, c: usize, slot: usize) -> u32 {
        self.stock[c * self.skus.len() + slot]
    }

    pub fn unit(&self, c: usize, l: usize) -> f64 {
        self.unit[c * self.lines.len() + l]
    }

    pub fn serving(&self, c: usize, l: usize) -> bool {
        self.serving[c * self.lines.len() + l]
    }

    /// Weight brackets of the candidate as (up_to_kg, score); empty when the node has none or the
    /// shipment is already open (its bracket is then treated as paid).
    pub fn brackets(&self, c: usize) -> &[(f64, f64)] {
        let cand = &self.cands[c];
        if cand.open {
            &[]
        } else {
            &self.net.costs[cand.node.index()].brackets
        }
    }

    pub fn bracket_score(&self, c: usize, kg: f64) -> f64 {
        let b = self.brackets(c);
        if b.is_empty() {
            return 0.0;
        }
        let price = b
            .iter()
            .find(|r| kg <= r.0)
            .or(b.last())
            .map_or(0.0, |r| r.1);
        price * self.weights.cost
    }

    pub fn demand(&self) -> u32 {
        self.lines.iter().map(|l| l.qty).sum()
    }

    /// The score of a set of picks, as the exact model counts it.
    pub fn score(&self, picks: &[Pick]) -> f64 {
        let mut total = f64::from(self.demand()) * UNFILLED;
        let mut kg = vec![0.0; self.cands.len()];
        let mut used = vec![false; self.cands.len()];
        for p in picks {
            total += f64::from(p.qty) * (self.unit(p.cand, p.line) - UNFILLED);
            kg[p.cand] += f64::from(p.qty) * self.lines[p.line].kg;
            used[p.cand] = true;
        }
        for c in 0..self.cands.len() {
            if used[c] {
                total += self.cands[c].fixed + self.bracket_score(c, kg[c]);
            }
        }
        total
    }
}
