//! A reproducible benchmark: a network of warehouses, 3PLs and stores at US cities, stock for a
//! catalogue of SKUs, and orders shipping to those cities. Everything is drawn from one seeded
//! ChaCha generator, so a seed always gives the same data on every platform.

use chrono::{DateTime, Utc};
use iom_domain::GeoPoint;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::cities::US_CITIES;
use crate::availability::Availability;
use crate::network::Network;
use crate::node::{CostModel, Node, NodeKind};
use crate::request::{PlanLine, PlanRequest};

/// Shape of a generated network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkSpec {
    pub seed: u64,
    pub nodes: usize,
    pub skus: usize,
    /// Shipments per day a store can handle; warehouses and 3PLs handle far more.
    pub store_capacity: u32,
}

impl Default for NetworkSpec {
    fn default() -> Self {
        Self {
            seed: 7,
            nodes: 50,
            skus: 200,
            store_capacity: 12,
        }
    }
}

/// Shape of generated orders.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderSpec {
    pub seed: u64,
    pub orders: usize,
    pub min_lines: usize,
    pub max_lines: usize,
    pub max_quantity: u32,
}

impl Default for OrderSpec {
    fn default() -> Self {
        Self {
            seed: 11,
            orders: 1000,
            min_lines: 1,
            max_lines: 5,
            max_quantity: 3,
        }
    }
}

fn money(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

/// A point near a city: nodes and customers are spread over its metropolitan area.
fn near(rng: &mut ChaCha8Rng, city: usize, spread_deg: f64) -> GeoPoint {
    let (_, _, lat, lon) = US_CITIES[city % US_CITIES.len()];
    let dlat = (rng.random::<f64>() - 0.5) * spread_deg;
    let dlon = (rng.random::<f64>() - 0.5) * spread_deg;
    GeoPoint::new(
        (lat + dlat).clamp(-90.0, 90.0),
        (lon + dlon).clamp(-180.0, 180.0),
    )
    .unwrap_or(GeoPoint { lat, lon })
}

/// The cities of the 48 contiguous states, where nodes go.
fn contiguous() -> Vec<usize> {
    (0..US_CITIES.len())
        .filter(|&i| !matches!(US_CITIES[i].1, "AK" | "HI"))
        .collect()
}

/// Warehouses (one node in ten) at the largest cities, 3PLs (one in ten) at the next, stores
/// everywhere. Stores are close to customers but dear to pick from; warehouses are cheap per unit
/// but ship farther.
pub fn network(spec: &NetworkSpec) -> (Network, Availability) {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let cities = contiguous();
    let n_wh = (spec.nodes / 10).max(1);
    let n_3pl = spec.nodes / 10;
    let mut nodes = Vec::with_capacity(spec.nodes);
    for i in 0..spec.nodes {
        let (kind, city, prefix) = if i < n_wh {
            (NodeKind::Warehouse, cities[(i * 3) % cities.len()], "WH")
        } else if i < n_wh + n_3pl {
            (
                NodeKind::ThirdParty,
                cities[(i * 5 + 1) % cities.len()],
                "TPL",
            )
        } else {
            (NodeKind::Store, cities[(i * 7 + 2) % cities.len()], "ST")
        };
        let mut node = Node::new(format!("{prefix}-{i:03}"), kind, near(&mut rng, city, 0.4));
        node.name = format!("{} {}", US_CITIES[city].0, kind.as_str());
        let (per_shipment, per_unit, capacity, safety) = match kind {
            NodeKind::Warehouse => (500, 35, 2000, 0),
            NodeKind::ThirdParty => (650, 30, 800, 0),
            _ => (300, 150, spec.store_capacity, 1),
        };
        node.costs = CostModel {
            per_shipment: money(per_shipment),
            per_unit: money(per_unit),
            per_km: Decimal::new(25, 4),
            rate_table: None,
        };
        node.daily_capacity = Some(capacity);
        node.safety_stock = safety;
        nodes.push(node);
    }
    let network = Network::new(nodes, Vec::new()).expect("generated node codes are unique");
    let mut avail = Availability::new(&network);
    for s in 0..spec.skus {
        let sku = sku_code(s);
        for id in network.ids() {
            let (p, lo, hi) = match network.node(id).kind {
                NodeKind::Warehouse => (0.7, 4, 40),
                NodeKind::ThirdParty => (0.4, 2, 20),
                _ => (0.35, 1, 6),
            };
            if rng.random_bool(p) {
                avail.set(&sku, id, rng.random_range(lo..=hi));
            }
        }
    }
    (network, avail)
}

pub fn sku_code(i: usize) -> String {
    format!("SKU-{i:05}")
}

/// Orders to the cities of the table (larger cities more often), SKUs skewed toward the head of
/// the catalogue as sales are.
pub fn orders(spec: &OrderSpec, skus: usize, now: DateTime<Utc>) -> Vec<PlanRequest> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed);
    let skus = skus.max(1);
    (0..spec.orders)
        .map(|o| {
            let r: f64 = rng.random();
            let city = ((r * r) * US_CITIES.len() as f64) as usize;
            let ship_to = near(&mut rng, city, 0.6);
            let n_lines =
                rng.random_range(spec.min_lines.max(1)..=spec.max_lines.max(spec.min_lines.max(1)));
            let mut lines: Vec<PlanLine> = Vec::with_capacity(n_lines);
            while lines.len() < n_lines {
                let r: f64 = rng.random();
                let sku = sku_code(((r * r) * skus as f64) as usize);
                if lines.iter().any(|l| l.sku == sku) {
                    continue;
                }
                lines.push(PlanLine {
                    line_no: lines.len() as u32 + 1,
                    sku,
                    quantity: rng.random_range(1..=spec.max_quantity.max(1)),
                    weight_kg: Some(f64::from(rng.random_range(1..=40u32)) / 10.0),
                });
            }
            PlanRequest {
                order_ref: Some(format!("BENCH-{o:05}")),
                lines,
                ship_to: Some(ship_to),
                postal_code: None,
                city: None,
                country: Some("US".into()),
                now,
            }
        })
        .collect()
}
