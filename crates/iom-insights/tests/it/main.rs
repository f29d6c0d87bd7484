//! The KPI formulas at the crate's boundary: sums in, report out.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use iom_insights::KpiReport;
use iom_insights::kpi::{ChannelSums, DeliverySums, KpiInputs, NodeSums, OrderSums, PeriodSums};

fn inputs(channels: Vec<ChannelSums>) -> KpiInputs {
    let t = |d: u32| Utc.with_ymd_and_hms(2026, 11, d, 0, 0, 0).unwrap();
    KpiInputs {
        from: t(1),
        to: t(8),
        as_of: t(8),
        channels,
        nodes: vec![],
        regions: vec![],
        products: vec![],
        providers: vec![],
        deliveries: DeliverySums::default(),
        shipped_value_micros: BTreeMap::new(),
        past_due: 0,
        in_jeopardy: 0,
        previous: PeriodSums::default(),
        today: PeriodSums::default(),
        month_to_date: PeriodSums::default(),
        previous_month_to_date: PeriodSums::default(),
    }
}

fn sums(orders: i64, revenue: i64) -> OrderSums {
    OrderSums {
        orders,
        revenue_micros: revenue * 1_000_000,
        lines: orders * 2,
        units: orders * 3,
        ..OrderSums::default()
    }
}

#[test]
fn channels_add_up_and_rates_follow_their_formulas() {
    let mut web = sums(10, 500);
    web.cancelled_orders = 2;
    web.backordered_orders = 1;
    web.shipped_orders = 4;
    web.on_time_orders = 3;
    web.cycle_micros = 4 * 3_600_000_000 * 5; // 5 h each
    web.settled_units = 12;
    web.settled_shipped_units = 9;
    web.shipped_units = 10;
    web.returned_units = 1;
    let edi = sums(5, 1000);
    let report = KpiReport::compute(&inputs(vec![
        ChannelSums {
            channel: "web".into(),
            currency: "USD".into(),
            sums: web,
        },
        ChannelSums {
            channel: "edi".into(),
            currency: "USD".into(),
            sums: edi,
        },
    ]));
    assert_eq!(report.currency, "USD");
    assert_eq!(report.kpis.orders, 15);
    assert_eq!(report.kpis.revenue.to_string(), "1500.00");
    // 1500 over the 13 orders not cancelled.
    assert_eq!(
        report.kpis.average_order_value.unwrap().to_string(),
        "115.38"
    );
    assert_eq!(report.kpis.lines_per_order, Some(2.0));
    assert_eq!(report.kpis.fill_rate, Some(0.75));
    assert_eq!(report.kpis.on_time_ship_rate, Some(0.75));
    assert_eq!(report.kpis.cancellation_rate, Some(0.1333));
    assert_eq!(report.kpis.backorder_rate, Some(0.0667));
    assert_eq!(report.kpis.return_rate, Some(0.1));
    assert_eq!(report.kpis.cycle_time_hours, Some(5.0));
    assert_eq!(
        report.kpis.time_to_release_hours, None,
        "nothing released: no mean"
    );
    let channels: Vec<(&str, i64)> = report
        .by_channel
        .iter()
        .map(|c| (c.channel.as_str(), c.kpis.orders))
        .collect();
    assert_eq!(channels, [("edi", 5), ("web", 10)]);
}

#[test]
fn money_figures_are_in_the_currency_of_most_orders() {
    let report = KpiReport::compute(&inputs(vec![
        ChannelSums {
            channel: "web".into(),
            currency: "EUR".into(),
            sums: sums(2, 100),
        },
        ChannelSums {
            channel: "app".into(),
            currency: "USD".into(),
            sums: sums(3, 10),
        },
    ]));
    assert_eq!(report.currency, "USD");
    assert_eq!(report.kpis.revenue.to_string(), "10.00");
    assert_eq!(report.kpis.orders, 5, "counts span currencies");
    let by: Vec<String> = report
        .revenue_by_currency
        .iter()
        .map(|a| format!("{} {}", a.currency, a.amount))
        .collect();
    assert_eq!(by, ["EUR 100.00", "USD 10.00"]);
}

#[test]
fn empty_windows_have_no_rates_rather_than_zeros() {
    let report = KpiReport::compute(&inputs(vec![]));
    assert_eq!(report.kpis.orders, 0);
    assert_eq!(report.kpis.average_order_value, None);
    assert_eq!(report.kpis.fill_rate, None);
    assert_eq!(report.book_to_ship, None);
    assert_eq!(report.change.orders, None);
    assert_eq!(report.fulfillment_cost.to_string(), "0.00");
}

#[test]
fn node_costs_and_changes() {
    let mut i = inputs(vec![ChannelSums {
        channel: "web".into(),
        currency: "USD".into(),
        sums: sums(12, 120),
    }]);
    i.nodes = vec![NodeSums {
        node: "SEA".into(),
        shipments: 4,
        units: 10,
        cost_micros: 30_500_000,
        on_time_shipments: 3,
        cycle_micros: 4 * 7_200_000_000,
    }];
    i.previous = PeriodSums {
        orders: 8,
        revenue_micros: BTreeMap::from([("USD".into(), 100_000_000)]),
    };
    let report = KpiReport::compute(&i);
    assert_eq!(report.fulfillment_cost.to_string(), "30.50");
    assert_eq!(
        report.fulfillment_cost_per_shipment.unwrap().to_string(),
        "7.62"
    );
    assert_eq!(report.by_node[0].on_time_ship_rate, Some(0.75));
    assert_eq!(report.by_node[0].cycle_time_hours, Some(2.0));
    assert_eq!(report.change.orders, Some(0.5));
    assert_eq!(report.change.revenue, Some(0.2));
}

#[test]
fn late_deliveries_are_counted_against_deliveries_that_carried_a_promise() {
    let mut i = inputs(vec![]);
    let none = KpiReport::compute(&i);
    assert_eq!(
        (none.delivered_shipments, none.late_delivery_rate),
        (0, None)
    );
    i.deliveries = DeliverySums {
        delivered: 8,
        late: 3,
    };
    let r = KpiReport::compute(&i);
    assert_eq!((r.delivered_shipments, r.late_deliveries), (8, 3));
    assert_eq!(r.late_delivery_rate, Some(0.375));
}
