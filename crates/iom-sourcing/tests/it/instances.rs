//! Small random instances for the property tests, drawn from a seed so a failure names the seed
//! that reproduces it.

use iom_domain::GeoPoint;
use iom_sourcing::{
    Availability, CapacityUnit, Constraint, CostModel, Network, Node, NodeKind, Objective,
    PlanLine, PlanRequest, Profile, StockRecord,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub nodes: usize,
    pub skus: usize,
    pub lines: usize,
    pub qty: u32,
    pub stock: u32,
    /// Draw soft constraints and priority tiers too.
    pub passes: bool,
}

#[derive(Debug, Clone)]
pub struct Instance {
    pub nodes: Vec<Node>,
    pub stock: Vec<StockRecord>,
    pub cap_used: Vec<(String, u32)>,
    pub profile: Profile,
    pub request: PlanRequest,
}

const KINDS: [NodeKind; 4] = [
    NodeKind::Warehouse,
    NodeKind::Store,
    NodeKind::ThirdParty,
    NodeKind::Dropship,
];
const SOFTABLE: [Constraint; 9] = [
    Constraint::MaxDistance,
    Constraint::MaxNodes,
    Constraint::MaxNodesPerLine,
    Constraint::LineSplit,
    Constraint::ShipComplete,
    Constraint::NodeKinds,
    Constraint::Exclusions,
    Constraint::DailyCapacity,
    Constraint::SafetyStock,
];

fn point(rng: &mut ChaCha8Rng, spread: f64) -> GeoPoint {
    GeoPoint::new(
        (rng.random::<f64>() - 0.5) * spread,
        (rng.random::<f64>() - 0.5) * spread,
    )
    .unwrap()
}

pub fn sku(i: usize) -> String {
    format!("S{i}")
}

impl Instance {
    pub fn random(seed: u64, size: Size) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n_nodes = rng.random_range((size.nodes / 2).max(1)..=size.nodes);
        let mut nodes = Vec::with_capacity(n_nodes);
        let mut cap_used = Vec::new();
        for i in 0..n_nodes {
            let mut n = Node::new(
                format!("N{i}"),
                KINDS[rng.random_range(0..4)],
                point(&mut rng, 5.0),
            );
            n.active = rng.random_bool(0.9);
            if rng.random_bool(0.5) {
                let cap = rng.random_range(0..=3);
                n.daily_capacity = Some(cap);
                if rng.random_bool(0.3) {
                    cap_used.push((n.code.clone(), rng.random_range(0..=cap)));
                }
            }
            n.capacity_unit = if rng.random_bool(0.5) {
                CapacityUnit::Shipments
            } else {
                CapacityUnit::Lines
            };
            n.safety_stock = if rng.random_bool(0.3) { 1 } else { 0 };
            n.costs = CostModel {
                per_shipment: Decimal::new(rng.random_range(0..1000), 2),
                per_unit: Decimal::new(rng.random_range(0..300), 2),
                per_km: Decimal::new(rng.random_range(0..=20), 3),
                rate_table: None,
            };
            if rng.random_bool(0.2) {
                n.max_distance_km = Some(f64::from(rng.random_range(100..400)));
            }
            nodes.push(n);
        }
        let n_skus = rng.random_range(1..=size.skus);
        let mut stock = Vec::new();
        for s in 0..n_skus {
            for n in &nodes {
                let q = rng.random_range(0..=size.stock);
                if q > 0 {
                    stock.push(StockRecord {
                        sku: sku(s),
                        node: n.code.clone(),
                        quantity: q,
                    });
                }
            }
        }
        let mut profile = Profile {
            objective: Objective::Cost,
            ..Profile::default()
        };
        if rng.random_bool(0.3) {
            profile.max_distance_km = Some(f64::from(rng.random_range(150..400)));
        }
        if rng.random_bool(0.4) {
            profile.max_nodes = Some(rng.random_range(1..=2));
        }
        if rng.random_bool(0.4) {
            profile.max_nodes_per_line = Some(rng.random_range(1..=2));
        }
        profile.allow_partial = rng.random_bool(0.75);
        profile.allow_line_split = rng.random_bool(0.7);
        if rng.random_bool(0.3) {
            profile.node_kinds = KINDS
                .iter()
                .copied()
                .filter(|_| rng.random_bool(0.6))
                .collect();
        }
        if rng.random_bool(0.2) {
            profile.exclude_nodes = vec![format!("N{}", rng.random_range(0..n_nodes))];
        }
        profile.respect_capacity = rng.random_bool(0.8);
        profile.respect_safety_stock = rng.random_bool(0.8);
        if size.passes {
            profile.soft = SOFTABLE
                .iter()
                .copied()
                .filter(|_| rng.random_bool(0.25))
                .collect();
            if rng.random_bool(0.3) {
                profile.tiers = vec![vec![format!("N{}", rng.random_range(0..n_nodes))]];
            }
            profile.objective = [Objective::Cost, Objective::Distance, Objective::Shipments]
                [rng.random_range(0..3)];
        }
        let n_lines = rng.random_range(1..=size.lines);
        let lines = (0..n_lines)
            .map(|l| PlanLine {
                line_no: l as u32 + 1,
                // One SKU past the catalogue now and then: a line nobody stocks.
                sku: sku(rng.random_range(0..=n_skus)),
                quantity: rng.random_range(1..=size.qty),
                weight_kg: None,
            })
            .collect();
        let request = PlanRequest {
            order_ref: Some(format!("seed-{seed}")),
            lines,
            ship_to: Some(point(&mut rng, 1.0)),
            postal_code: None,
            city: None,
            country: None,
            now: "2026-11-26T10:00:00Z".parse().unwrap(),
        };
        Instance {
            nodes,
            stock,
            cap_used,
            profile,
            request,
        }
    }

    pub fn network(&self) -> Network {
        Network::new(self.nodes.clone(), Vec::new()).unwrap()
    }

    pub fn availability(&self, network: &Network) -> Availability {
        let mut a = Availability::from_records(network, &self.stock).unwrap();
        for (node, used) in &self.cap_used {
            a.set_capacity_used(network, node, *used).unwrap();
        }
        a
    }

    pub fn stock_of(&self, sku: &str, node: &str) -> u32 {
        self.stock
            .iter()
            .find(|r| r.sku == sku && r.node == node)
            .map_or(0, |r| r.quantity)
    }

    pub fn capacity_left(&self, node: &Node) -> Option<u32> {
        let used = self
            .cap_used
            .iter()
            .find(|(n, _)| *n == node.code)
            .map_or(0, |c| c.1);
        node.daily_capacity.map(|c| c.saturating_sub(used))
    }
}
