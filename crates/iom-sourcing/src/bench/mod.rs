//! The benchmark: generated network and orders, and the figures the solvers reach on them. A bench
//! program calls [`run`] and prints the [`BenchReport`]; nothing here asserts on time.

mod cities;
mod generate;

use std::time::Instant;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

pub use cities::US_CITIES;
pub use generate::{NetworkSpec, OrderSpec, network, orders, sku_code};

use crate::error::SourcingError;
use crate::plan::Plan;
use crate::profile::Profile;
use crate::solve::{ExactOptions, plan};
use crate::{plan_batch, plan_batch_closest, plan_batch_exact};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchConfig {
    /// Network for the latency figure (the heuristic on one order at a time).
    pub latency_network: NetworkSpec,
    /// Orders timed one by one; all have `latency_lines` lines.
    pub latency_orders: usize,
    pub latency_lines: usize,
    /// Network and orders of the batch comparison (heuristic, exact, closest).
    pub batch_network: NetworkSpec,
    pub batch_orders: OrderSpec,
    pub exact: ExactOptions,
    pub profile: Profile,
    pub now: DateTime<Utc>,
}

impl Default for BenchConfig {
    fn default() -> Self {
        Self {
            latency_network: NetworkSpec {
                nodes: 500,
                skus: 2000,
                ..NetworkSpec::default()
            },
            latency_orders: 2000,
            latency_lines: 5,
            batch_network: NetworkSpec::default(),
            batch_orders: OrderSpec::default(),
            exact: ExactOptions::default(),
            profile: Profile::default(),
            now: DateTime::parse_from_rfc3339("2026-11-26T10:00:00Z")
                .map(|t| t.to_utc())
                .unwrap_or_default(),
        }
    }
}

/// Totals of one solver over the batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SolverTotals {
    pub cost: Decimal,
    pub units_sourced: u64,
    pub units_unassigned: u64,
    pub shipments: u64,
    pub distance_km: f64,
    pub secs: f64,
}

impl SolverTotals {
    fn of(plans: &[Plan], secs: f64) -> Self {
        Self {
            cost: plans.iter().map(|p| p.cost).sum(),
            units_sourced: plans.iter().map(|p| u64::from(p.units_sourced())).sum(),
            units_unassigned: plans.iter().map(|p| u64::from(p.units_unassigned())).sum(),
            shipments: plans.iter().map(|p| u64::from(p.shipments)).sum(),
            distance_km: plans.iter().map(|p| p.distance_km).sum(),
            secs,
        }
    }

    fn cost_f64(&self) -> f64 {
        self.cost.to_f64().unwrap_or(0.0)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchReport {
    pub heuristic_p50_us: f64,
    pub heuristic_p99_us: f64,
    pub heuristic_max_us: f64,
    /// Wall time of the exact batch run.
    pub exact_batch_secs: f64,
    pub heuristic: SolverTotals,
    pub exact: SolverTotals,
    pub closest: SolverTotals,
    /// (heuristic cost − exact cost) / exact cost, batch totals, in percent. Only meaningful when
    /// both source the same units; compare `units_sourced`.
    pub heuristic_gap_pct: f64,
    /// The same gap order by order, each order alone against all of the stock; `None` when the two
    /// solvers source different numbers of units (cost alone would then mislead).
    pub heuristic_order_gap_pct: Option<f64>,
    /// (exact batch cost − independent optimum) / independent optimum. When the batch sources as
    /// many units as the independent plans, this bounds how far it is from the true batch optimum;
    /// when stock is short the batch sources fewer units and the figure can be negative.
    pub exact_vs_bound_pct: f64,
    pub heuristic_saving_vs_closest_pct: f64,
    pub exact_saving_vs_closest_pct: f64,
    pub batch_stats: crate::batch::BatchStats,
}

fn pct(part: f64, base: f64) -> f64 {
    if base == 0.0 {
        0.0
    } else {
        100.0 * part / base
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Heuristic latency: each order planned alone, timed; microseconds, sorted.
pub fn heuristic_latencies(config: &BenchConfig) -> Result<Vec<f64>, SourcingError> {
    let (net, avail) = network(&config.latency_network);
    let spec = OrderSpec {
        seed: config.batch_orders.seed + 1,
        orders: config.latency_orders,
        min_lines: config.latency_lines,
        max_lines: config.latency_lines,
        max_quantity: config.batch_orders.max_quantity,
    };
    let reqs = orders(&spec, config.latency_network.skus, config.now);
    // Warm caches and the allocator before timing.
    for r in reqs.iter().take(50) {
        plan(r, &net, &avail, &config.profile)?;
    }
    let mut us = Vec::with_capacity(reqs.len());
    for r in &reqs {
        let t = Instant::now();
        let p = plan(r, &net, &avail, &config.profile)?;
        us.push(t.elapsed().as_secs_f64() * 1e6);
        std::hint::black_box(p);
    }
    us.sort_by(f64::total_cmp);
    Ok(us)
}

/// Runs the whole scenario and returns the figures.
pub fn run(config: &BenchConfig) -> Result<BenchReport, SourcingError> {
    let us = heuristic_latencies(config)?;

    let (net, avail) = network(&config.batch_network);
    let reqs = orders(&config.batch_orders, config.batch_network.skus, config.now);
    let profile = &config.profile;

    let t = Instant::now();
    let heuristic = plan_batch(&reqs, &net, &avail, profile)?;
    let heuristic = SolverTotals::of(&heuristic, t.elapsed().as_secs_f64());

    let t = Instant::now();
    let closest = plan_batch_closest(&reqs, &net, &avail, profile)?;
    let closest = SolverTotals::of(&closest, t.elapsed().as_secs_f64());

    let t = Instant::now();
    let exact_out = plan_batch_exact(&reqs, &net, &avail, profile, &config.exact)?;
    let exact_secs = t.elapsed().as_secs_f64();
    let exact = SolverTotals::of(&exact_out.plans, exact_secs);

    // Order by order, against all of the stock: the heuristic's own quality, free of batch effects.
    // The exact side is the batch's first step (each order solved alone).
    let mut h_alone = Decimal::ZERO;
    let mut h_alone_unassigned = 0u64;
    for r in &reqs {
        let h = plan(r, &net, &avail, profile)?;
        h_alone += h.cost;
        h_alone_unassigned += u64::from(h.units_unassigned());
    }
    let e_alone = exact_out.stats.independent_cost;
    let order_gap =
        (h_alone_unassigned == exact_out.stats.independent_unassigned_units).then(|| {
            let (h, e) = (
                h_alone.to_f64().unwrap_or(0.0),
                e_alone.to_f64().unwrap_or(0.0),
            );
            pct(h - e, e)
        });

    let (hc, ec, cc) = (heuristic.cost_f64(), exact.cost_f64(), closest.cost_f64());
    let bound = exact_out.stats.independent_cost.to_f64().unwrap_or(0.0);
    Ok(BenchReport {
        heuristic_p50_us: percentile(&us, 50.0),
        heuristic_p99_us: percentile(&us, 99.0),
        heuristic_max_us: us.last().copied().unwrap_or(0.0),
        exact_batch_secs: exact_secs,
        heuristic_gap_pct: pct(hc - ec, ec),
        heuristic_order_gap_pct: order_gap,
        exact_vs_bound_pct: pct(ec - bound, bound),
        heuristic_saving_vs_closest_pct: pct(cc - hc, cc),
        exact_saving_vs_closest_pct: pct(cc - ec, cc),
        heuristic,
        exact,
        closest,
        batch_stats: exact_out.stats,
    })
}
