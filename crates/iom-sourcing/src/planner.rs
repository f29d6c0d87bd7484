//! The sourcing pipeline of one order: for each profile of the chain (the profile, then its
//! alternates), a strict pass and, when the profile has soft constraints, a relaxed pass; within a
//! pass, one stage per priority tier. Each stage is handed to a solver; what it picks is taken from
//! the order's view of availability before the next stage. The plan is assembled at the end.

use std::collections::BTreeMap;

use iom_domain::{CountryCode, GeoPoint};
use rust_decimal::Decimal;

use crate::availability::{Availability, SkuId};
use crate::cost::shipment_cost;
use crate::geo::great_circle_km;
use crate::network::{Network, NodeId};
use crate::node::CapacityUnit;
use crate::plan::{
    Assignment, Explanation, LinePlan, Plan, Reason, ShipmentPlan, Solver, Sourcing, Unassigned,
    Verdict,
};
use crate::profile::{Constraint, Profile};
use crate::request::PlanRequest;
use crate::stage::{Cand, Pick, Stage, StageLine, Weights};

/// Reasons a node cannot serve an order whatever its stock, as bits.
mod bits {
    pub const CLOSED: u16 = 1;
    pub const KIND: u16 = 1 << 1;
    pub const EXCLUDED: u16 = 1 << 2;
    pub const GROUP: u16 = 1 << 3;
    pub const NO_LOCATION: u16 = 1 << 4;
    pub const TOO_FAR: u16 = 1 << 5;
}

/// In order of precedence when one reason must be named.
const BIT_REASONS: [(u16, Reason); 6] = [
    (bits::CLOSED, Reason::Closed),
    (bits::EXCLUDED, Reason::Excluded),
    (bits::GROUP, Reason::NotInSourceGroup),
    (bits::KIND, Reason::KindNotAllowed),
    (bits::NO_LOCATION, Reason::NoLocation),
    (bits::TOO_FAR, Reason::TooFar),
];

/// The bits a relaxed pass still enforces.
fn hard_bits(profile: &Profile, relaxed: bool) -> u16 {
    let mut hard = bits::CLOSED | bits::NO_LOCATION;
    if profile.enforces(Constraint::NodeKinds, relaxed) {
        hard |= bits::KIND;
    }
    if profile.enforces(Constraint::Exclusions, relaxed) {
        hard |= bits::EXCLUDED | bits::GROUP;
    }
    if profile.enforces(Constraint::MaxDistance, relaxed) {
        hard |= bits::TOO_FAR;
    }
    hard
}

/// Per node shipping: (units, kg per unit) per line, and whether it spills into the next day.
type PerNode = BTreeMap<NodeId, (Vec<(u32, f64)>, bool)>;

#[derive(Debug, Clone)]
struct Raw {
    line: usize,
    node: NodeId,
    qty: u32,
    late: bool,
    profile: usize,
    relaxed: bool,
}

/// The state of one order while it is planned.
pub(crate) struct OrderPlanner<'a> {
    req: &'a PlanRequest,
    net: &'a Network,
    avail: &'a Availability,
    profiles: Vec<&'a Profile>,
    point: Option<GeoPoint>,
    /// Distance to each node; NaN when the node has no location.
    km: Vec<f64>,
    skus: Vec<Option<SkuId>>,
    remaining: Vec<u32>,
    taken: Vec<(SkuId, NodeId, u32)>,
    cap_used: Vec<(NodeId, u32)>,
    used: Vec<NodeId>,
    line_nodes: Vec<Vec<NodeId>>,
    raw: Vec<Raw>,
    /// Static rejection bits of the first profile, for the explanation.
    first_masks: Vec<u16>,
    last_profile: usize,
    pub notes: Vec<String>,
}

impl<'a> OrderPlanner<'a> {
    pub fn new(
        req: &'a PlanRequest,
        net: &'a Network,
        avail: &'a Availability,
        profile: &'a Profile,
    ) -> Self {
        let point = req.ship_to.or_else(|| {
            let country = CountryCode::parse(req.country.as_deref()?)?;
            net.centroids().get(country, req.postal_code.as_deref()?)
        });
        let km = match point {
            Some(p) => net
                .nodes()
                .iter()
                .map(|n| n.location.map_or(f64::NAN, |loc| great_circle_km(loc, p)))
                .collect(),
            None => vec![f64::NAN; net.len()],
        };
        let skus = req.lines.iter().map(|l| avail.sku(&l.sku)).collect();
        let n_lines = req.lines.len();
        Self {
            req,
            net,
            avail,
            profiles: profile.chain(),
            point,
            km,
            skus,
            remaining: req.lines.iter().map(|l| l.quantity).collect(),
            taken: Vec::new(),
            cap_used: Vec::new(),
            used: Vec::new(),
            line_nodes: vec![Vec::new(); n_lines],
            raw: Vec::new(),
            first_masks: Vec::new(),
            last_profile: 0,
            notes: Vec::new(),
        }
    }

    fn done(&self) -> bool {
        self.remaining.iter().all(|&r| r == 0)
    }

    /// Static rejection bits of every node under `profile`.
    fn masks(&self, profile: &Profile) -> Vec<u16> {
        let mut masks = vec![0u16; self.net.len()];
        let mark = |names: &[String], masks: &mut Vec<u16>, bit: u16, inside: bool| {
            let mut hit = vec![false; masks.len()];
            for name in names {
                for id in self.net.resolve(name).unwrap_or_default() {
                    hit[id.index()] = true;
                }
            }
            for (m, h) in masks.iter_mut().zip(hit) {
                if h == inside {
                    *m |= bit;
                }
            }
        };
        mark(&profile.exclude_nodes, &mut masks, bits::EXCLUDED, true);
        if !profile.source_groups.is_empty() {
            mark(&profile.source_groups, &mut masks, bits::GROUP, false);
        }
        let limit = profile.max_distance_km.unwrap_or(f64::INFINITY);
        for (i, node) in self.net.nodes().iter().enumerate() {
            let m = &mut masks[i];
            if !node.active {
                *m |= bits::CLOSED;
            }
            if !profile.node_kinds.is_empty() && !profile.node_kinds.contains(&node.kind) {
                *m |= bits::KIND;
            }
            let km = self.km[i];
            if km.is_nan() {
                *m |= bits::NO_LOCATION;
            } else {
                let id = NodeId(i as u32);
                let node_limit = node.max_distance_km.unwrap_or(f64::INFINITY);
                if km > limit.min(node_limit).min(self.net.group_limit(id)) {
                    *m |= bits::TOO_FAR;
                }
            }
        }
        masks
    }

    /// Priority tier of every node: its first tier, or one past the last for nodes in none.
    fn tiers(&self, profile: &Profile) -> Vec<u8> {
        let last = profile.tiers.len().min(u8::MAX as usize) as u8;
        let mut tiers = vec![last; self.net.len()];
        for (t, names) in profile.tiers.iter().enumerate().take(last as usize) {
            for name in names {
                for id in self.net.resolve(name).unwrap_or_default() {
                    let slot = &mut tiers[id.index()];
                    *slot = (*slot).min(t as u8);
                }
            }
        }
        tiers
    }

    fn taken(&self, sku: SkuId, node: NodeId) -> u32 {
        self.taken
            .iter()
            .filter(|t| t.0 == sku && t.1 == node)
            .map(|t| t.2)
            .sum()
    }

    fn cap_left(&self, node: NodeId) -> Option<u32> {
        let used: u32 = self
            .cap_used
            .iter()
            .filter(|c| c.0 == node)
            .map(|c| c.1)
            .sum();
        self.avail.capacity(node).map(|c| c.saturating_sub(used))
    }

    /// Units of `sku` at `node` this order may still take, holding back safety stock if `safety`.
    fn net_stock(&self, sku: SkuId, node: NodeId, raw: u32, safety: bool) -> u32 {
        let hold = if safety {
            self.net.node(node).safety_stock
        } else {
            0
        };
        raw.saturating_sub(hold)
            .saturating_sub(self.taken(sku, node))
    }

    /// The sourcing problem of the remaining demand for one pass and tier.
    pub fn stage(
        &self,
        profile: &Profile,
        relaxed: bool,
        masks: &[u16],
        tier: Option<(&[u8], u8)>,
    ) -> Stage<'a> {
        let net = self.net;
        let weights = Weights::of(profile.objective);
        let hard = hard_bits(profile, relaxed);
        let safety =
            profile.respect_safety_stock && profile.enforces(Constraint::SafetyStock, relaxed);
        let capacity =
            profile.respect_capacity && profile.enforces(Constraint::DailyCapacity, relaxed);
        let whole = !profile.allow_line_split && profile.enforces(Constraint::LineSplit, relaxed);
        let per_line = profile
            .max_nodes_per_line
            .filter(|_| profile.enforces(Constraint::MaxNodesPerLine, relaxed));

        let mut skus: Vec<SkuId> = Vec::new();
        let mut lines = Vec::new();
        for (i, line) in self.req.lines.iter().enumerate() {
            let (Some(sku), rem) = (self.skus[i], self.remaining[i]) else {
                continue;
            };
            if rem == 0 {
                continue;
            }
            let slot = skus.iter().position(|&s| s == sku).unwrap_or_else(|| {
                skus.push(sku);
                skus.len() - 1
            });
            let prior = self.line_nodes[i].len() as u32;
            let mut new_nodes = per_line.map(|k| k.saturating_sub(prior));
            if whole {
                new_nodes = Some(new_nodes.unwrap_or(1).min(1));
            }
            lines.push(StageLine {
                line: i,
                slot,
                qty: rem,
                kg: line.weight_kg.unwrap_or(0.0).max(0.0),
                whole,
                new_nodes,
            });
        }

        let n_slots = skus.len();
        let mut cands: Vec<Cand> = Vec::new();
        let mut stock: Vec<u32> = Vec::new();
        let mut index = vec![u32::MAX; net.len()];
        for (s, &sku) in skus.iter().enumerate() {
            for &(node, raw) in self.avail.holdings(sku) {
                let i = node.index();
                if masks[i] & hard != 0 || tier.is_some_and(|(t, max)| t[i] > max) {
                    continue;
                }
                let q = self.net_stock(sku, node, raw, safety);
                if q == 0 {
                    continue;
                }
                if index[i] == u32::MAX {
                    let open = self.used.contains(&node);
                    let n = net.node(node);
                    let lines_cap = n.capacity_unit == CapacityUnit::Lines;
                    let left = self.cap_left(node);
                    let exhausted = left == Some(0) && (lines_cap || !open);
                    if capacity && exhausted {
                        continue;
                    }
                    let km = self.km[i];
                    let fixed = if open {
                        0.0
                    } else {
                        weights.cost * net.costs[i].fixed(km) + weights.km * km + weights.shipment
                    };
                    index[i] = cands.len() as u32;
                    cands.push(Cand {
                        node,
                        km,
                        open,
                        cap: if capacity && (lines_cap || !open) {
                            left
                        } else {
                            None
                        },
                        lines_cap,
                        fixed,
                        late: exhausted,
                    });
                    stock.resize(stock.len() + n_slots, 0);
                }
                stock[index[i] as usize * n_slots + s] = q;
            }
        }

        let n_lines = lines.len();
        let mut unit = Vec::with_capacity(cands.len() * n_lines);
        let mut serving = Vec::with_capacity(cands.len() * n_lines);
        for c in &cands {
            let cost = &net.costs[c.node.index()];
            for l in &lines {
                unit.push(weights.cost * cost.unit(c.km, l.kg));
                serving.push(self.line_nodes[l.line].contains(&c.node));
            }
        }
        let max_new_nodes = profile
            .max_nodes
            .filter(|_| profile.enforces(Constraint::MaxNodes, relaxed))
            .map(|k| k.saturating_sub(self.used.len() as u32));
        let complete_only = !profile.allow_partial
            && !profile.is_soft(Constraint::ShipComplete)
            && self.profiles.len() == 1
            && profile.tiers.is_empty()
            && profile.soft.is_empty();
        Stage {
            net,
            weights,
            skus,
            lines,
            cands,
            stock,
            unit,
            serving,
            max_new_nodes,
            complete_only,
        }
    }

    /// Takes the picks of a stage from the order's view of availability.
    pub fn apply(&mut self, stage: &Stage, picks: &[Pick], profile: usize, relaxed: bool) {
        for p in picks.iter().filter(|p| p.qty > 0) {
            let line = stage.lines[p.line].line;
            let cand = &stage.cands[p.cand];
            let node = cand.node;
            let qty = p.qty.min(self.remaining[line]);
            if qty == 0 {
                continue;
            }
            let Some(sku) = self.skus[line] else { continue };
            self.remaining[line] -= qty;
            self.taken.push((sku, node, qty));
            if !self.line_nodes[line].contains(&node) {
                self.line_nodes[line].push(node);
                if cand.lines_cap {
                    self.cap_used.push((node, 1));
                }
            }
            if !self.used.contains(&node) {
                self.used.push(node);
                if !cand.lines_cap {
                    self.cap_used.push((node, 1));
                }
            }
            self.raw.push(Raw {
                line,
                node,
                qty,
                late: cand.late,
                profile,
                relaxed,
            });
        }
    }

    /// The first stage of the primary profile, for profiles that have only one (no tiers, no soft
    /// constraints, no alternate); `None` when the ship-to cannot be located.
    pub fn primary_stage(&self) -> Option<Stage<'a>> {
        self.point?;
        let profile = self.profiles[0];
        let masks = self.masks(profile);
        Some(self.stage(profile, false, &masks, None))
    }

    /// Runs every pass with `solve` as the stage solver.
    pub fn run(&mut self, solve: &mut dyn FnMut(&Stage) -> Vec<Pick>) {
        if self.point.is_none() {
            return;
        }
        let profiles = self.profiles.clone();
        for (pi, profile) in profiles.iter().enumerate() {
            if self.done() {
                break;
            }
            self.last_profile = pi;
            let masks = self.masks(profile);
            let tiers = (!profile.tiers.is_empty()).then(|| self.tiers(profile));
            let passes: &[bool] = if profile.soft.is_empty() {
                &[false]
            } else {
                &[false, true]
            };
            for &relaxed in passes {
                let top = tiers
                    .as_ref()
                    .map_or(0, |_| profile.tiers.len().min(u8::MAX as usize) as u8);
                for t in 0..=top {
                    if self.done() {
                        break;
                    }
                    let stage =
                        self.stage(profile, relaxed, &masks, tiers.as_deref().map(|v| (v, t)));
                    if stage.cands.is_empty() || stage.lines.is_empty() {
                        continue;
                    }
                    let picks = solve(&stage);
                    self.apply(&stage, &picks, pi, relaxed);
                }
            }
            if pi == 0 {
                self.first_masks = masks;
            }
        }
    }

    /// Assembles the plan, enforcing ship-complete and naming the reason for every shortfall.
    pub fn finish(mut self, solver: Solver) -> Plan {
        let last = self.profiles[self.last_profile];
        let complete = self.done();
        let partial_ok = last.allow_partial || last.is_soft(Constraint::ShipComplete);
        let ship_complete_failed = !complete && !partial_ok;
        if ship_complete_failed {
            for r in std::mem::take(&mut self.raw) {
                self.remaining[r.line] += r.qty;
            }
            self.taken.clear();
            self.cap_used.clear();
            self.used.clear();
        }
        if self.first_masks.is_empty() {
            self.first_masks = self.masks(self.profiles[0]);
        }

        // Merge picks of the same line and node made in different stages.
        let mut merged: BTreeMap<(usize, NodeId), Raw> = BTreeMap::new();
        for r in &self.raw {
            merged
                .entry((r.line, r.node))
                .and_modify(|m| {
                    m.qty += r.qty;
                    m.late |= r.late;
                })
                .or_insert_with(|| r.clone());
        }
        let mut assignments = Vec::with_capacity(merged.len());
        let mut per_node: PerNode = BTreeMap::new();
        for r in merged.values() {
            let node = self.net.node(r.node);
            let line = &self.req.lines[r.line];
            let km = self.km[r.node.index()];
            let entry = per_node.entry(r.node).or_default();
            entry
                .0
                .push((r.qty, line.weight_kg.unwrap_or(0.0).max(0.0)));
            entry.1 |= r.late;
            assignments.push(Assignment {
                line_no: line.line_no,
                sku: line.sku.clone(),
                node: node.code.clone(),
                quantity: r.qty,
                ship_date: node.calendar.ship_date(self.req.now, 0),
                promised_delivery_at: self.req.now,
                distance_km: round1(km),
                profile: self.profiles[r.profile].name.clone(),
                relaxed: r.relaxed,
            });
        }
        let mut shipment_plans = Vec::with_capacity(per_node.len());
        let mut cost = Decimal::ZERO;
        let mut distance = 0.0;
        for (&id, (items, late)) in &per_node {
            let node = self.net.node(id);
            let km = self.km[id.index()];
            let c = shipment_cost(&node.costs, km, items);
            let date = node.calendar.ship_date(self.req.now, u32::from(*late));
            for a in assignments.iter_mut().filter(|a| a.node == node.code) {
                a.ship_date = date;
                let transit = self
                    .profiles
                    .iter()
                    .find(|p| p.name == a.profile)
                    .map_or(self.profiles[0].transit_days, |p| p.transit_days);
                a.promised_delivery_at = crate::calendar::promised_delivery(date, transit);
            }
            cost += c;
            distance += km;
            shipment_plans.push(ShipmentPlan {
                node: node.code.clone(),
                units: items.iter().map(|i| i.0).sum(),
                distance_km: round1(km),
                ship_date: date,
                cost: c,
            });
        }

        let mut lines = Vec::with_capacity(self.req.lines.len());
        let mut unassigned = Vec::new();
        for (i, line) in self.req.lines.iter().enumerate() {
            let rem = self.remaining[i];
            let sourced = line.quantity - rem;
            let status = match (sourced, rem) {
                (_, 0) => Sourcing::FullySourced,
                (0, _) => Sourcing::NotSourced,
                _ => Sourcing::PartiallySourced,
            };
            lines.push(LinePlan {
                line_no: line.line_no,
                sku: line.sku.clone(),
                quantity: line.quantity,
                sourced,
                status,
            });
            if rem > 0 {
                let (reason, detail) = if ship_complete_failed && self.line_sourceable(i) {
                    (
                        Reason::ShipComplete,
                        "the order must ship complete and another line could not be fully sourced"
                            .to_owned(),
                    )
                } else {
                    self.why(i, last)
                };
                unassigned.push(Unassigned {
                    line_no: line.line_no,
                    sku: line.sku.clone(),
                    quantity: rem,
                    reason,
                    detail,
                });
            }
        }
        cost.rescale(2);
        let status = if unassigned.is_empty() {
            Sourcing::FullySourced
        } else if assignments.is_empty() {
            Sourcing::NotSourced
        } else {
            Sourcing::PartiallySourced
        };
        let explanation = self.explain(&per_node);
        Plan {
            order_ref: self.req.order_ref.clone(),
            solver,
            status,
            lines,
            assignments,
            unassigned,
            shipments: shipment_plans.len() as u32,
            ship_date: shipment_plans.iter().map(|s| s.ship_date).max(),
            shipment_plans,
            cost,
            distance_km: round1(distance),
            explanation,
            notes: self.notes,
        }
    }

    /// Whether some eligible node held stock for line `i` (so a ship-complete failure, not a
    /// shortage of its own, is what left it unassigned).
    fn line_sourceable(&self, i: usize) -> bool {
        let Some(sku) = self.skus[i] else {
            return false;
        };
        let hard = hard_bits(self.profiles[self.last_profile], false);
        self.avail.holdings(sku).iter().any(|&(n, q)| {
            self.first_masks[n.index()] & hard == 0 && q >= self.req.lines[i].quantity
        })
    }

    /// Why line `i` kept `remaining[i]` units unassigned.
    fn why(&self, i: usize, profile: &Profile) -> (Reason, String) {
        let line = &self.req.lines[i];
        if self.point.is_none() {
            let detail = match (&self.req.postal_code, &self.req.country) {
                (Some(p), Some(c)) => {
                    format!(
                        "the ship-to has no coordinates, and neither postal code {p} nor country {c} is known"
                    )
                }
                (None, Some(c)) => {
                    format!("the ship-to has no coordinates, and country {c} is not known")
                }
                _ => "the ship-to has neither coordinates nor a country".to_owned(),
            };
            return (Reason::NoShipToLocation, detail);
        }
        let Some(sku) = self.skus[i] else {
            return (Reason::NoStock, format!("no node holds SKU {}", line.sku));
        };
        let holders: Vec<(NodeId, u32)> = self
            .avail
            .holdings(sku)
            .iter()
            .map(|&(n, q)| (n, q.saturating_sub(self.taken(sku, n))))
            .filter(|&(_, q)| q > 0)
            .collect();
        if holders.is_empty() {
            return (
                Reason::NoStock,
                format!("no node has SKU {} left", line.sku),
            );
        }
        let masks = self.masks(profile);
        let relaxed = !profile.soft.is_empty();
        let hard = hard_bits(profile, relaxed);
        let eligible: Vec<(NodeId, u32)> = holders
            .iter()
            .copied()
            .filter(|(n, _)| masks[n.index()] & hard == 0)
            .collect();
        if eligible.is_empty() {
            // Name the reason that blocks the node holding the most.
            let &(node, _) = holders.iter().max_by_key(|h| h.1).unwrap_or(&holders[0]);
            let m = masks[node.index()] & hard;
            let reason = BIT_REASONS
                .iter()
                .find(|(b, _)| m & b != 0)
                .map_or(Reason::NoStock, |r| r.1);
            let code = &self.net.node(node).code;
            let detail = match reason {
                Reason::TooFar => format!(
                    "every node holding {} is beyond the distance limit (nearest candidate {code} at {:.0} km)",
                    line.sku,
                    self.km[node.index()]
                ),
                _ => format!(
                    "every node holding {} is ruled out ({code}: {reason:?})",
                    line.sku
                ),
            };
            return (reason, detail);
        }
        let safety =
            profile.respect_safety_stock && profile.enforces(Constraint::SafetyStock, relaxed);
        if safety
            && eligible
                .iter()
                .all(|&(n, q)| q <= self.net.node(n).safety_stock)
        {
            return (
                Reason::SafetyStock,
                format!("eligible stock of {} is all safety stock", line.sku),
            );
        }
        let capacity =
            profile.respect_capacity && profile.enforces(Constraint::DailyCapacity, relaxed);
        if capacity
            && eligible
                .iter()
                .all(|&(n, _)| self.cap_left(n) == Some(0) && !self.line_nodes[i].contains(&n))
        {
            return (
                Reason::OverCapacity,
                format!(
                    "every eligible node holding {} is at its daily capacity",
                    line.sku
                ),
            );
        }
        if !profile.allow_line_split && profile.enforces(Constraint::LineSplit, relaxed) {
            return (
                Reason::NoSplit,
                format!(
                    "the line may not be split and no eligible node holds {} units",
                    self.remaining[i]
                ),
            );
        }
        let at_limit = |limit: Option<u32>, c: Constraint, used: usize| {
            limit.is_some_and(|k| profile.enforces(c, relaxed) && used as u32 >= k)
        };
        if at_limit(profile.max_nodes, Constraint::MaxNodes, self.used.len())
            || at_limit(
                profile.max_nodes_per_line,
                Constraint::MaxNodesPerLine,
                self.line_nodes[i].len(),
            )
        {
            return (
                Reason::MaxNodes,
                "the order may not ship from more nodes".to_owned(),
            );
        }
        (
            Reason::InsufficientStock,
            format!("eligible nodes hold too few units of {}", line.sku),
        )
    }

    fn explain(&self, per_node: &PerNode) -> Vec<Explanation> {
        let first = self.profiles[0];
        let safety = first.respect_safety_stock;
        // 0: no SKU of the order, 1: only safety stock, 2: usable stock.
        let mut holds = vec![0u8; self.net.len()];
        for sku in self.skus.iter().flatten() {
            for &(n, q) in self.avail.holdings(*sku) {
                let level = if safety && q <= self.net.node(n).safety_stock {
                    1
                } else {
                    2
                };
                let h = &mut holds[n.index()];
                *h = (*h).max(level);
            }
        }
        let mut out = Vec::with_capacity(self.net.len());
        for (i, node) in self.net.nodes().iter().enumerate() {
            let id = NodeId(i as u32);
            let km = self.km[i];
            let distance_km = (!km.is_nan()).then(|| round1(km));
            if let Some((items, late)) = per_node.get(&id) {
                let units: u32 = items.iter().map(|x| x.0).sum();
                let mut detail = format!("ships {units} unit(s) over {:.0} km", km);
                if *late {
                    detail.push_str(", over today's capacity: ships a working day later");
                }
                out.push(Explanation {
                    node: node.code.clone(),
                    verdict: Verdict::Chosen,
                    reasons: Vec::new(),
                    distance_km,
                    detail: Some(detail),
                });
                continue;
            }
            let m = self.first_masks.get(i).copied().unwrap_or(0);
            let mut reasons: Vec<Reason> = BIT_REASONS
                .iter()
                .filter(|(b, _)| m & b != 0)
                .map(|r| r.1)
                .collect();
            match holds[i] {
                0 => reasons.push(Reason::NoStock),
                1 => reasons.push(Reason::SafetyStock),
                _ => {}
            }
            if first.respect_capacity && self.avail.capacity(id) == Some(0) {
                reasons.push(Reason::OverCapacity);
            }
            let verdict = if reasons.is_empty() {
                Verdict::NotSelected
            } else {
                Verdict::Rejected
            };
            if reasons.is_empty() {
                reasons.push(Reason::NotSelected);
            }
            out.push(Explanation {
                node: node.code.clone(),
                verdict,
                reasons,
                distance_km,
                detail: None,
            });
        }
        out
    }
}

fn round1(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        (x * 10.0).round() / 10.0
    }
}
