//! KPIs from sums. The store aggregates the fact rows of a window with SQL (one group per channel
//! and currency, per node, region, product and provider) and hands the sums over as
//! [`KpiInputs`]; [`KpiReport::compute`] applies the formulas, each written in the doc comment of
//! the field it fills.
//!
//! Order figures are about the orders *placed* in `[from, to)` (a cohort: an order placed in the
//! window counts as shipped when it shipped later). Shipment and provider figures are about what
//! happened in the window. `past_due` and `in_jeopardy` are about every open order at `as_of`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::Serialize;
use utoipa::ToSchema;

use crate::money::from_micros;

/// Sums over the orders of one channel and currency placed in the window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderSums {
    pub orders: i64,
    pub cancelled_orders: i64,
    /// Orders that were backordered at some point.
    pub backordered_orders: i64,
    pub lines: i64,
    pub units: i64,
    pub cancelled_units: i64,
    pub shipped_units: i64,
    pub returned_units: i64,
    /// Σ total of the orders not cancelled, in millionths.
    pub revenue_micros: i64,
    /// Σ value as booked (full ordered quantities), in millionths.
    pub booked_micros: i64,
    /// Orders with nothing left to ship (fully shipped, cancelled, or both for different lines).
    pub settled_orders: i64,
    /// Units ordered by the settled orders.
    pub settled_units: i64,
    /// Units shipped by the settled orders.
    pub settled_shipped_units: i64,
    /// Orders whose every active unit shipped.
    pub shipped_orders: i64,
    /// Shipped orders whose last unit shipped by the ship-by time.
    pub on_time_orders: i64,
    /// Σ (shipped_at − created_at) over shipped orders, in microseconds.
    pub cycle_micros: i64,
    pub released_orders: i64,
    /// Σ (released_at − created_at) over released orders, in microseconds.
    pub release_micros: i64,
}

impl OrderSums {
    pub fn add(&mut self, o: &OrderSums) {
        self.orders += o.orders;
        self.cancelled_orders += o.cancelled_orders;
        self.backordered_orders += o.backordered_orders;
        self.lines += o.lines;
        self.units += o.units;
        self.cancelled_units += o.cancelled_units;
        self.shipped_units += o.shipped_units;
        self.returned_units += o.returned_units;
        self.revenue_micros += o.revenue_micros;
        self.booked_micros += o.booked_micros;
        self.settled_orders += o.settled_orders;
        self.settled_units += o.settled_units;
        self.settled_shipped_units += o.settled_shipped_units;
        self.shipped_orders += o.shipped_orders;
        self.on_time_orders += o.on_time_orders;
        self.cycle_micros += o.cycle_micros;
        self.released_orders += o.released_orders;
        self.release_micros += o.release_micros;
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSums {
    pub channel: String,
    pub currency: String,
    pub sums: OrderSums,
}

/// Shipments made by one node in the window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeSums {
    pub node: String,
    pub shipments: i64,
    pub units: i64,
    /// Σ shipment cost, in millionths.
    pub cost_micros: i64,
    /// Shipments made by their order's ship-by time.
    pub on_time_shipments: i64,
    /// Σ (shipment time − order intake), in microseconds.
    pub cycle_micros: i64,
}

/// Orders and revenue of one ship-to region (and currency) placed in the window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegionSums {
    pub region: String,
    pub currency: String,
    pub orders: i64,
    pub revenue_micros: i64,
}

/// One SKU's lines in orders placed in the window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProductSums {
    pub sku: String,
    /// Order lines of this SKU.
    pub lines: i64,
    pub units: i64,
    pub shipped_units: i64,
    /// Σ unit price × active quantity, in millionths (in each order's currency).
    pub revenue_micros: i64,
}

/// One provider's message log in the window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderSums {
    pub provider: String,
    /// Messages received from or sent to the provider.
    pub requests: i64,
    /// Messages left `failed` or `dead`.
    pub failures: i64,
    /// Σ (last update − creation) over finished messages, in microseconds.
    pub latency_micros: i64,
    pub finished: i64,
}

/// Orders placed in a period and their revenue per currency, in millionths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeriodSums {
    pub orders: i64,
    pub revenue_micros: BTreeMap<String, i64>,
}

/// The carrier-tracked shipments delivered in the window that carried a promise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliverySums {
    pub delivered: i64,
    /// Delivered after `promised_delivery_at`.
    pub late: i64,
}

/// Everything the store aggregates for one report.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiInputs {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub as_of: DateTime<Utc>,
    pub channels: Vec<ChannelSums>,
    pub nodes: Vec<NodeSums>,
    pub regions: Vec<RegionSums>,
    /// The top products by units, most first.
    pub products: Vec<ProductSums>,
    pub providers: Vec<ProviderSums>,
    pub deliveries: DeliverySums,
    /// Σ total of the orders whose last unit shipped in the window, per currency, in millionths.
    pub shipped_value_micros: BTreeMap<String, i64>,
    /// Open orders whose ship-by time has passed at `as_of`.
    pub past_due: i64,
    /// Open orders due to ship within [`crate::facts::JEOPARDY_WINDOW`] of `as_of`.
    pub in_jeopardy: i64,
    /// The window of the same length just before `[from, to)`.
    pub previous: PeriodSums,
    /// The UTC day of `as_of` up to `as_of`.
    pub today: PeriodSums,
    /// The UTC month of `as_of` up to `as_of`.
    pub month_to_date: PeriodSums,
    /// The previous month from its first day up to the same day and time of month as `as_of`.
    pub previous_month_to_date: PeriodSums,
}

/// Order figures of a set of orders (all in the window, or one channel's).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct OrderKpis {
    /// Orders placed in the window, cancelled ones included.
    pub orders: i64,
    /// Σ total (after cancellations) of the orders placed in the window and not cancelled, in the
    /// report's `currency`.
    #[schema(value_type = String)]
    pub revenue: Decimal,
    /// revenue ÷ orders not cancelled (of the report's currency); null without such orders.
    #[schema(value_type = Option<String>)]
    pub average_order_value: Option<Decimal>,
    /// Order lines ÷ orders.
    pub lines_per_order: Option<f64>,
    /// Units ordered.
    pub units: i64,
    /// Units shipped ÷ units ordered, over the settled orders (nothing left to ship: every unit
    /// shipped or cancelled). A cancelled unit is a unit not filled.
    pub fill_rate: Option<f64>,
    /// Orders shipped complete by their ship-by time ÷ orders shipped complete. Ship-by is the
    /// requested delivery date less 24 h, or 48 h after the order was placed.
    pub on_time_ship_rate: Option<f64>,
    /// Orders cancelled ÷ orders.
    pub cancellation_rate: Option<f64>,
    /// Orders that were backordered at some point ÷ orders.
    pub backorder_rate: Option<f64>,
    /// Units returned ÷ units shipped.
    pub return_rate: Option<f64>,
    /// Internal cycle time: mean hours from intake to the last unit shipped, over orders shipped
    /// complete.
    pub cycle_time_hours: Option<f64>,
    /// Mean hours from intake to release to a node, over released orders.
    pub time_to_release_hours: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ChannelKpis {
    pub channel: String,
    #[serde(flatten)]
    pub kpis: OrderKpis,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct NodeKpis {
    pub node: String,
    /// Shipments the node made in the window.
    pub shipments: i64,
    pub units: i64,
    /// Σ shipment cost: per shipment + per unit × units + per km × distance to the ship-to, at the
    /// node's costs when it shipped.
    #[schema(value_type = String)]
    pub fulfillment_cost: Decimal,
    /// Shipments made by their order's ship-by time ÷ shipments.
    pub on_time_ship_rate: Option<f64>,
    /// Mean hours from order intake to this node's shipment.
    pub cycle_time_hours: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RegionKpis {
    /// `COUNTRY-REGION` of the ship-to (`US-WA`), or the country alone.
    pub region: String,
    pub orders: i64,
    /// In the report's currency.
    #[schema(value_type = String)]
    pub revenue: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ProductKpis {
    pub sku: String,
    /// Order lines of this SKU.
    pub lines: i64,
    pub units: i64,
    pub shipped_units: i64,
    /// Σ unit price × active quantity of its lines.
    #[schema(value_type = String)]
    pub revenue: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ProviderKpis {
    pub provider: String,
    /// Messages received from or sent to the provider in the window.
    pub requests: i64,
    /// Messages left `failed` or `dead`.
    pub failures: i64,
    /// failures ÷ requests.
    pub failure_rate: Option<f64>,
    /// Mean milliseconds from receiving (or queueing) a message to its last status change.
    pub latency_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Amount {
    pub currency: String,
    #[schema(value_type = String)]
    pub amount: Decimal,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PeriodKpis {
    pub orders: i64,
    /// In the report's currency.
    #[schema(value_type = String)]
    pub revenue: Decimal,
}

/// Relative change: (this − before) ÷ before; null when before is zero.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Change {
    pub orders: Option<f64>,
    pub revenue: Option<f64>,
}

/// `GET /api/v1/insights/kpis`.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct KpiReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// When the figures were computed; they include every order committed before.
    pub as_of: DateTime<Utc>,
    /// The currency of the money figures: the one most orders of the window are in.
    pub currency: String,
    #[serde(flatten)]
    pub kpis: OrderKpis,
    /// Revenue in every currency of the window.
    pub revenue_by_currency: Vec<Amount>,
    /// Book-to-ship: Σ total of the orders whose last unit shipped in the window ÷ Σ value
    /// booked by the orders placed in the window (both in `currency`).
    pub book_to_ship: Option<f64>,
    /// Σ cost of the shipments made in the window (see `by_node`).
    #[schema(value_type = String)]
    pub fulfillment_cost: Decimal,
    /// fulfillment_cost ÷ orders that shipped anything in the window; null without shipments.
    #[schema(value_type = Option<String>)]
    pub fulfillment_cost_per_shipment: Option<Decimal>,
    /// Open orders (not cancelled, not shipped complete, placed at any time) whose ship-by time
    /// has passed.
    pub past_due: i64,
    /// Open orders due to ship within the next 24 hours.
    pub in_jeopardy: i64,
    /// Shipments the carrier's tracker reported delivered in the window, of those that carried a
    /// promised delivery date (a label iom bought).
    pub delivered_shipments: i64,
    /// Of `delivered_shipments`, those delivered after their promise.
    pub late_deliveries: i64,
    /// late_deliveries ÷ delivered_shipments; null without deliveries.
    pub late_delivery_rate: Option<f64>,
    /// The window of the same length just before this one.
    pub previous_period: PeriodKpis,
    /// This window against `previous_period`.
    pub change: Change,
    /// The UTC day of `as_of` so far.
    pub today: PeriodKpis,
    /// The UTC month of `as_of` so far.
    pub month_to_date: PeriodKpis,
    /// Month to date against the previous month up to the same day and time.
    pub month_over_month: Change,
    pub by_channel: Vec<ChannelKpis>,
    pub by_node: Vec<NodeKpis>,
    /// Most orders first.
    pub by_region: Vec<RegionKpis>,
    /// Most units first.
    pub top_products: Vec<ProductKpis>,
    pub providers: Vec<ProviderKpis>,
}

/// `part ÷ whole`, rounded to 4 decimals; `None` when `whole` is zero.
pub fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole != 0).then(|| round4(part as f64 / whole as f64))
}

fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

/// Mean hours of `total_micros` over `count`, rounded to 4 decimals.
fn mean_hours(total_micros: i64, count: i64) -> Option<f64> {
    (count != 0).then(|| round4(total_micros as f64 / count as f64 / 3_600_000_000.0))
}

fn change(now: i64, before: i64) -> Option<f64> {
    (before != 0).then(|| round4((now - before) as f64 / before as f64))
}

impl OrderKpis {
    /// `sums` of every currency, and of the report's currency alone for the money figures.
    pub fn of(all: &OrderSums, in_currency: &OrderSums) -> OrderKpis {
        let paying = in_currency.orders - in_currency.cancelled_orders;
        OrderKpis {
            orders: all.orders,
            revenue: from_micros(in_currency.revenue_micros),
            average_order_value: (paying > 0)
                .then(|| from_micros(in_currency.revenue_micros / paying).round_dp(2)),
            lines_per_order: ratio(all.lines, all.orders),
            units: all.units,
            fill_rate: ratio(all.settled_shipped_units, all.settled_units),
            on_time_ship_rate: ratio(all.on_time_orders, all.shipped_orders),
            cancellation_rate: ratio(all.cancelled_orders, all.orders),
            backorder_rate: ratio(all.backordered_orders, all.orders),
            return_rate: ratio(all.returned_units, all.shipped_units),
            cycle_time_hours: mean_hours(all.cycle_micros, all.shipped_orders),
            time_to_release_hours: mean_hours(all.release_micros, all.released_orders),
        }
    }
}

impl KpiReport {
    pub fn compute(inputs: &KpiInputs) -> KpiReport {
        // The report's currency: most orders in the window, else this month, else USD.
        let mut orders_by_currency: BTreeMap<&str, i64> = BTreeMap::new();
        for c in &inputs.channels {
            *orders_by_currency.entry(&c.currency).or_default() += c.sums.orders;
        }
        let currency = orders_by_currency
            .iter()
            .max_by_key(|(code, n)| (**n, std::cmp::Reverse(**code)))
            .map(|(c, _)| (*c).to_owned())
            .or_else(|| inputs.month_to_date.revenue_micros.keys().next().cloned())
            .unwrap_or_else(|| "USD".to_owned());

        let mut all = OrderSums::default();
        let mut all_in_currency = OrderSums::default();
        let mut channels: BTreeMap<&str, (OrderSums, OrderSums)> = BTreeMap::new();
        let mut revenue_by_currency: BTreeMap<&str, i64> = BTreeMap::new();
        for c in &inputs.channels {
            all.add(&c.sums);
            let entry = channels.entry(&c.channel).or_default();
            entry.0.add(&c.sums);
            if c.currency == currency {
                all_in_currency.add(&c.sums);
                entry.1.add(&c.sums);
            }
            *revenue_by_currency.entry(&c.currency).or_default() += c.sums.revenue_micros;
        }

        let cost_micros: i64 = inputs.nodes.iter().map(|n| n.cost_micros).sum();
        let shipments: i64 = inputs.nodes.iter().map(|n| n.shipments).sum();
        let shipped_value = inputs
            .shipped_value_micros
            .get(&currency)
            .copied()
            .unwrap_or(0);
        let period = |p: &PeriodSums| PeriodKpis {
            orders: p.orders,
            revenue: from_micros(p.revenue_micros.get(&currency).copied().unwrap_or(0)),
        };
        let revenue_of = |p: &PeriodSums| p.revenue_micros.get(&currency).copied().unwrap_or(0);

        let mut regions: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
        for r in &inputs.regions {
            let entry = regions.entry(&r.region).or_default();
            entry.0 += r.orders;
            if r.currency == currency {
                entry.1 += r.revenue_micros;
            }
        }
        let mut by_region: Vec<RegionKpis> = regions
            .into_iter()
            .map(|(region, (orders, revenue))| RegionKpis {
                region: region.to_owned(),
                orders,
                revenue: from_micros(revenue),
            })
            .collect();
        by_region.sort_by(|a, b| b.orders.cmp(&a.orders).then(a.region.cmp(&b.region)));

        KpiReport {
            from: inputs.from,
            to: inputs.to,
            as_of: inputs.as_of,
            kpis: OrderKpis::of(&all, &all_in_currency),
            revenue_by_currency: revenue_by_currency
                .into_iter()
                .map(|(c, micros)| Amount {
                    currency: c.to_owned(),
                    amount: from_micros(micros),
                })
                .collect(),
            book_to_ship: ratio(shipped_value, all_in_currency.booked_micros),
            fulfillment_cost: from_micros(cost_micros),
            fulfillment_cost_per_shipment: (shipments > 0)
                .then(|| from_micros(cost_micros / shipments).round_dp(2)),
            past_due: inputs.past_due,
            in_jeopardy: inputs.in_jeopardy,
            delivered_shipments: inputs.deliveries.delivered,
            late_deliveries: inputs.deliveries.late,
            late_delivery_rate: ratio(inputs.deliveries.late, inputs.deliveries.delivered),
            previous_period: period(&inputs.previous),
            change: Change {
                orders: change(all.orders, inputs.previous.orders),
                revenue: change(all_in_currency.revenue_micros, revenue_of(&inputs.previous)),
            },
            today: period(&inputs.today),
            month_to_date: period(&inputs.month_to_date),
            month_over_month: Change {
                orders: change(
                    inputs.month_to_date.orders,
                    inputs.previous_month_to_date.orders,
                ),
                revenue: change(
                    revenue_of(&inputs.month_to_date),
                    revenue_of(&inputs.previous_month_to_date),
                ),
            },
            by_channel: channels
                .into_iter()
                .map(|(channel, (sums, in_currency))| ChannelKpis {
                    channel: channel.to_owned(),
                    kpis: OrderKpis::of(&sums, &in_currency),
                })
                .collect(),
            by_node: inputs
                .nodes
                .iter()
                .map(|n| NodeKpis {
                    node: n.node.clone(),
                    shipments: n.shipments,
                    units: n.units,
                    fulfillment_cost: from_micros(n.cost_micros),
                    on_time_ship_rate: ratio(n.on_time_shipments, n.shipments),
                    cycle_time_hours: mean_hours(n.cycle_micros, n.shipments),
                })
                .collect(),
            by_region,
            top_products: inputs
                .products
                .iter()
                .map(|p| ProductKpis {
                    sku: p.sku.clone(),
                    lines: p.lines,
                    units: p.units,
                    shipped_units: p.shipped_units,
                    revenue: from_micros(p.revenue_micros),
                })
                .collect(),
            providers: inputs
                .providers
                .iter()
                .map(|p| ProviderKpis {
                    provider: p.provider.clone(),
                    requests: p.requests,
                    failures: p.failures,
                    failure_rate: ratio(p.failures, p.requests),
                    latency_ms: (p.finished > 0)
                        .then(|| round4(p.latency_micros as f64 / p.finished as f64 / 1000.0)),
                })
                .collect(),
            currency,
        }
    }
}
