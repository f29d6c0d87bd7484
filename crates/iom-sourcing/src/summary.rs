//! Totals over many plans: what a brokering run or a simulation reports per profile.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::plan::{Plan, Sourcing};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Summary {
    pub orders: usize,
    pub fully_sourced: usize,
    pub partially_sourced: usize,
    pub not_sourced: usize,
    pub lines: usize,
    /// Lines with some quantity left unassigned.
    pub unfulfilled_lines: usize,
    pub units_sourced: u64,
    pub units_unassigned: u64,
    pub shipments: u64,
    /// Orders shipping from more than one node.
    pub split_orders: usize,
    pub cost: Decimal,
    /// Sum of the shipments' great-circle distances.
    pub distance_km: f64,
    /// Mean distance of a shipment; 0 without shipments.
    pub avg_shipment_km: f64,
}

impl Summary {
    pub fn of(plans: &[Plan]) -> Self {
        let mut s = Summary {
            orders: plans.len(),
            ..Summary::default()
        };
        for p in plans {
            match p.status {
                Sourcing::FullySourced => s.fully_sourced += 1,
                Sourcing::PartiallySourced => s.partially_sourced += 1,
                Sourcing::NotSourced => s.not_sourced += 1,
            }
            s.lines += p.lines.len();
            s.unfulfilled_lines += p.lines.iter().filter(|l| l.sourced < l.quantity).count();
            s.units_sourced += u64::from(p.units_sourced());
            s.units_unassigned += u64::from(p.units_unassigned());
            s.shipments += u64::from(p.shipments);
            s.split_orders += usize::from(p.shipments > 1);
            s.cost += p.cost;
            s.distance_km += p.distance_km;
        }
        if s.shipments > 0 {
            s.avg_shipment_km = s.distance_km / s.shipments as f64;
        }
        s
    }
}
