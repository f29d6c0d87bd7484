//! Cost of a shipment under a node's cost model. Solvers work on `f64` copies of the model
//! (`Prepared`); plans report money computed again in decimal from the chosen assignments.

use rust_decimal::{Decimal, RoundingStrategy};

use crate::node::{CostModel, RateTable};

/// A cost model in floating point, with the zone table already reduced for one distance where that
/// matters to the caller.
#[derive(Debug, Clone, Default)]
pub(crate) struct Prepared {
    pub per_shipment: f64,
    pub per_unit: f64,
    pub per_km: f64,
    /// (up_to_km, price, per_kg)
    pub zones: Vec<(f64, f64, f64)>,
    /// (up_to_kg, price)
    pub brackets: Vec<(f64, f64)>,
}

fn f(d: Decimal) -> f64 {
    use rust_decimal::prelude::ToPrimitive;
    d.to_f64().unwrap_or(0.0)
}

impl Prepared {
    pub fn new(model: &CostModel) -> Self {
        let mut p = Prepared {
            per_shipment: f(model.per_shipment),
            per_unit: f(model.per_unit),
            per_km: f(model.per_km),
            ..Prepared::default()
        };
        match &model.rate_table {
            Some(RateTable::Zone { zones }) => {
                p.zones = zones
                    .iter()
                    .map(|z| (z.up_to_km, f(z.price), f(z.per_kg)))
                    .collect();
                p.zones.sort_by(|a, b| a.0.total_cmp(&b.0));
            }
            Some(RateTable::Weight { brackets }) => {
                p.brackets = brackets.iter().map(|b| (b.up_to_kg, f(b.price))).collect();
                p.brackets.sort_by(|a, b| a.0.total_cmp(&b.0));
            }
            None => {}
        }
        p
    }

    /// (price, per_kg) of the zone that covers `km`.
    pub fn zone(&self, km: f64) -> (f64, f64) {
        pick(&self.zones, km, |z| z.0).map_or((0.0, 0.0), |z| (z.1, z.2))
    }

    /// Cost of opening a shipment at this distance, before units and weight brackets.
    pub fn fixed(&self, km: f64) -> f64 {
        self.per_shipment + self.per_km * km + self.zone(km).0
    }

    /// Cost of one unit weighing `kg` shipped over `km`.
    pub fn unit(&self, km: f64, kg: f64) -> f64 {
        self.per_unit + self.zone(km).1 * kg
    }
}

/// The first row whose bound holds `value`, else the last row.
fn pick<T>(rows: &[T], value: f64, bound: impl Fn(&T) -> f64) -> Option<&T> {
    rows.iter().find(|r| value <= bound(r)).or(rows.last())
}

fn dec(x: f64, dp: u32) -> Decimal {
    Decimal::try_from(x).unwrap_or_default().round_dp(dp)
}

/// The money cost of one shipment of `items` (quantity, kg per unit) over `km`, to the cent.
pub fn shipment_cost(model: &CostModel, km: f64, items: &[(u32, f64)]) -> Decimal {
    let km_d = dec(km, 3);
    let mut cost = model.per_shipment + model.per_km * km_d;
    let units: u32 = items.iter().map(|(q, _)| q).sum();
    let kg: f64 = items.iter().map(|&(q, w)| f64::from(q) * w).sum();
    cost += model.per_unit * Decimal::from(units);
    match &model.rate_table {
        Some(RateTable::Zone { zones }) => {
            let mut zones: Vec<_> = zones.iter().collect();
            zones.sort_by(|a, b| a.up_to_km.total_cmp(&b.up_to_km));
            if let Some(z) = pick(&zones, km, |z| z.up_to_km) {
                cost += z.price + z.per_kg * dec(kg, 3);
            }
        }
        Some(RateTable::Weight { brackets }) => {
            let mut brackets: Vec<_> = brackets.iter().collect();
            brackets.sort_by(|a, b| a.up_to_kg.total_cmp(&b.up_to_kg));
            if let Some(b) = pick(&brackets, kg, |b| b.up_to_kg) {
                cost += b.price;
            }
        }
        None => {}
    }
    let mut cost = cost.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    // Always two decimals, so money reads "6.00", not "6".
    cost.rescale(2);
    cost
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{WeightBracket, Zone};

    fn model(rate_table: Option<RateTable>) -> CostModel {
        CostModel {
            per_shipment: Decimal::new(500, 2),
            per_unit: Decimal::new(50, 2),
            per_km: Decimal::new(2, 3),
            rate_table,
        }
    }

    #[test]
    fn linear_cost_model() {
        // 5.00 + 0.002 * 1000 + 3 * 0.50 = 8.50
        assert_eq!(
            shipment_cost(&model(None), 1000.0, &[(2, 1.0), (1, 0.0)]),
            Decimal::new(850, 2)
        );
        let p = Prepared::new(&model(None));
        assert!((p.fixed(1000.0) + 3.0 * p.unit(1000.0, 1.0) - 8.5).abs() < 1e-9);
    }

    #[test]
    fn zone_and_weight_tables() {
        let zones = model(Some(RateTable::Zone {
            zones: vec![
                Zone {
                    up_to_km: 800.0,
                    price: Decimal::new(100, 2),
                    per_kg: Decimal::new(10, 2),
                },
                Zone {
                    up_to_km: 300.0,
                    price: Decimal::ZERO,
                    per_kg: Decimal::ZERO,
                },
            ],
        }));
        // 500 km falls in the 800 km zone: 5 + 1 + 0.5 + 1.00 + 0.10 * 2 kg = 7.70
        assert_eq!(
            shipment_cost(&zones, 500.0, &[(1, 2.0)]),
            Decimal::new(770, 2)
        );
        // Beyond every zone: the last one (800 km) applies.
        let p = Prepared::new(&zones);
        assert_eq!(p.zone(5000.0), (1.0, 0.1));
        assert_eq!(p.zone(100.0), (0.0, 0.0));

        let weights = model(Some(RateTable::Weight {
            brackets: vec![
                WeightBracket {
                    up_to_kg: 1.0,
                    price: Decimal::from(4),
                },
                WeightBracket {
                    up_to_kg: 5.0,
                    price: Decimal::from(9),
                },
            ],
        }));
        // 3 kg: bracket 5 kg, 9.00 + 5 + 0 + 1.50
        assert_eq!(
            shipment_cost(&weights, 0.0, &[(3, 1.0)]),
            Decimal::new(1550, 2)
        );
        assert_eq!(
            Prepared::new(&weights).brackets,
            vec![(1.0, 4.0), (5.0, 9.0)]
        );
    }
}
