//! The daily roll-ups are kept in the transaction that changes an order, and move only when what
//! they sum changes. Whatever the changes, every roll-up equals the same sums taken over the fact
//! rows.

use iom_domain::order::{LineQuantityRequest, ShipmentRequest};
use iom_domain::{LineStatus, OrderId};
use iom_store::{Conn, Row, Store};

use super::{create, order, stores};

/// The roll-up's rows next to the same sums computed from the fact rows, both ordered by key.
async fn compare(store: &Store, rollup: &'static str, facts: &'static str) -> (Vec<Row>, Vec<Row>) {
    store
        .read(move |c: &mut dyn Conn| Ok((c.query(rollup, &[])?, c.query(facts, &[])?)))
        .await
        .unwrap()
}

fn show(rows: &[Row]) -> Vec<String> {
    rows.iter().map(|r| format!("{:?}", r.0)).collect()
}

const ORDERS_ROLLUP: &str = "SELECT day, channel, currency, region, CAST(orders AS BIGINT),
        CAST(cancelled_orders AS BIGINT), CAST(backordered_orders AS BIGINT),
        CAST(lines AS BIGINT), CAST(units AS BIGINT), CAST(cancelled_units AS BIGINT),
        CAST(shipped_units AS BIGINT), CAST(returned_units AS BIGINT),
        CAST(revenue_micros AS BIGINT), CAST(booked_micros AS BIGINT),
        CAST(settled_orders AS BIGINT), CAST(settled_units AS BIGINT),
        CAST(settled_shipped_units AS BIGINT), CAST(shipped_orders AS BIGINT),
        CAST(on_time_orders AS BIGINT), CAST(cycle_micros AS BIGINT),
        CAST(released_orders AS BIGINT), CAST(release_micros AS BIGINT)
    FROM order_facts_daily WHERE orders <> 0 ORDER BY day, channel, currency, region";

const ORDERS_FROM_FACTS: &str = "SELECT placed_at - placed_at % 86400000000 AS day, channel,
        currency, region, CAST(COUNT(*) AS BIGINT), CAST(SUM(cancelled) AS BIGINT),
        CAST(SUM(backordered) AS BIGINT), CAST(SUM(lines) AS BIGINT), CAST(SUM(units) AS BIGINT),
        CAST(SUM(cancelled_units) AS BIGINT), CAST(SUM(shipped_units) AS BIGINT),
        CAST(SUM(returned_units) AS BIGINT), CAST(SUM(total_micros) AS BIGINT),
        CAST(SUM(booked_micros) AS BIGINT),
        CAST(SUM(CASE WHEN open = 0 THEN 1 ELSE 0 END) AS BIGINT),
        CAST(SUM(CASE WHEN open = 0 THEN units ELSE 0 END) AS BIGINT),
        CAST(SUM(CASE WHEN open = 0 THEN shipped_units ELSE 0 END) AS BIGINT),
        CAST(SUM(CASE WHEN shipped_at IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT),
        CAST(SUM(CASE WHEN shipped_at <= ship_by THEN 1 ELSE 0 END) AS BIGINT),
        CAST(SUM(CASE WHEN shipped_at IS NOT NULL THEN shipped_at - created_at ELSE 0 END) AS BIGINT),
        CAST(SUM(CASE WHEN released_at IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT),
        CAST(SUM(CASE WHEN released_at IS NOT NULL THEN released_at - created_at ELSE 0 END) AS BIGINT)
    FROM order_facts GROUP BY 1, channel, currency, region ORDER BY 1, channel, currency, region";

const SHIPPED_ROLLUP: &str = "SELECT day, currency, CAST(value_micros AS BIGINT)
    FROM order_shipped_daily WHERE value_micros <> 0 ORDER BY day, currency";

const SHIPPED_FROM_FACTS: &str = "SELECT shipped_at - shipped_at % 86400000000 AS day, currency,
        CAST(SUM(total_micros) AS BIGINT)
    FROM order_facts WHERE shipped_at IS NOT NULL GROUP BY 1, currency ORDER BY 1, currency";

const LINES_ROLLUP: &str = "SELECT day, sku, CAST(lines AS BIGINT), CAST(units AS BIGINT),
        CAST(shipped_units AS BIGINT), CAST(revenue_micros AS BIGINT)
    FROM line_facts_daily WHERE lines <> 0 ORDER BY day, sku";

const LINES_FROM_FACTS: &str = "SELECT placed_at - placed_at % 86400000000 AS day, sku,
        CAST(COUNT(*) AS BIGINT), CAST(SUM(units) AS BIGINT), CAST(SUM(shipped_units) AS BIGINT),
        CAST(SUM(revenue_micros) AS BIGINT)
    FROM line_facts GROUP BY 1, sku ORDER BY 1, sku";

fn ship(line_no: i64, quantity: i64) -> ShipmentRequest {
    ShipmentRequest {
        node: Some("SEA".into()),
        lines: Some(vec![LineQuantityRequest {
            line_no: Some(line_no),
            quantity: Some(quantity),
        }]),
        carrier: None,
        tracking: None,
    }
}

/// Walks `id` through one of several histories, chosen by `k`: each change is one transaction,
/// as the API and the flows make them.
async fn walk(store: &Store, id: OrderId, k: usize) {
    let stage = |line_no: u32, stage: LineStatus| {
        move |o: &mut iom_domain::Order, now| {
            o.set_line_stage(line_no, stage, Some("SEA".into()), None, now)
        }
    };
    store
        .update_order(id, |o, now| o.start_processing(now))
        .await
        .unwrap();
    if k.is_multiple_of(5) {
        store
            .update_order(id, |o, now| o.hold("fraud", None, now))
            .await
            .unwrap();
        store
            .update_order(id, |o, now| o.release_hold(None, now))
            .await
            .unwrap();
    }
    if k % 7 == 3 {
        store
            .update_order(id, stage(1, LineStatus::Backordered))
            .await
            .unwrap();
    }
    store
        .update_order(id, stage(1, LineStatus::Allocated))
        .await
        .unwrap();
    if k % 4 == 1 {
        store
            .update_order(id, |o, now| o.cancel("customer", now))
            .await
            .unwrap();
        return;
    }
    store
        .update_order(id, stage(1, LineStatus::Released))
        .await
        .unwrap();
    if k % 3 == 1 {
        store
            .update_order(id, |o, now| o.cancel_line(2, Some(1), "out of stock", now))
            .await
            .unwrap();
    }
    if k.is_multiple_of(2) {
        store
            .update_order(id, move |o, now| o.record_shipment(ship(1, 1), now))
            .await
            .unwrap();
    }
    if k.is_multiple_of(6) {
        store
            .update_order(id, move |o, now| o.record_shipment(ship(1, 1), now))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn the_daily_rollups_equal_the_sums_over_the_fact_rows_whatever_the_changes() {
    for (store, db) in stores().await {
        let mut ids = Vec::new();
        for k in 0..24 {
            let channel = ["web", "app", "edi"][k % 3];
            let o = order(channel, &format!("R-{k}"), &["A", "B", "C"][..1 + k % 3]);
            ids.push(o.id);
            create(&store, o).await;
        }
        for (k, id) in ids.iter().enumerate() {
            walk(&store, *id, k).await;
        }
        let (rollup, facts) = compare(&store, ORDERS_ROLLUP, ORDERS_FROM_FACTS).await;
        assert!(!facts.is_empty());
        assert_eq!(show(&rollup), show(&facts), "{}: orders", db.backend);
        let (rollup, facts) = compare(&store, SHIPPED_ROLLUP, SHIPPED_FROM_FACTS).await;
        assert!(!facts.is_empty());
        assert_eq!(show(&rollup), show(&facts), "{}: shipped", db.backend);
        let (rollup, facts) = compare(&store, LINES_ROLLUP, LINES_FROM_FACTS).await;
        assert!(!facts.is_empty());
        assert_eq!(show(&rollup), show(&facts), "{}: lines", db.backend);
    }
}

/// A shipment the carrier reports delivered counts for the late-delivery KPI by the time of
/// delivery, late when after the promise it carried (here its line's).
#[tokio::test]
async fn deliveries_after_their_promise_are_counted_late() {
    for (store, db) in stores().await {
        let now = chrono::Utc::now();
        for (external_id, promise) in [
            ("LATE", now - chrono::Duration::days(1)),
            ("ON-TIME", now + chrono::Duration::days(1)),
            ("UNTRACKED", now - chrono::Duration::days(1)),
        ] {
            let o = order("web", external_id, &["A"]);
            let id = o.id;
            create(&store, o).await;
            let stage = |stage: LineStatus| {
                move |o: &mut iom_domain::Order, now| {
                    o.set_line_stage(1, stage, Some("SEA".into()), None, now)
                }
            };
            store
                .update_order(id, |o, now| o.start_processing(now))
                .await
                .unwrap();
            store
                .update_order(id, stage(LineStatus::Allocated))
                .await
                .unwrap();
            store
                .update_order(id, stage(LineStatus::Released))
                .await
                .unwrap();
            let shipped = store
                .update_order(id, move |o, now| {
                    o.lines[0].promised_delivery_at = Some(promise);
                    o.record_shipment(ship(1, 2), now)
                })
                .await
                .unwrap();
            let shipment = shipped.shipments[0].id.clone();
            if external_id != "UNTRACKED" {
                store
                    .update_order(id, move |o, now| {
                        o.track_shipment(
                            &shipment,
                            iom_domain::TrackingStatus::Delivered,
                            None,
                            now,
                        )
                    })
                    .await
                    .unwrap();
            }
        }
        let window = |from, to| store.kpi_inputs(from, to, now);
        let day = chrono::Duration::days(1);
        let inputs = window(now - day, now + day).await.unwrap();
        assert_eq!(
            (inputs.deliveries.delivered, inputs.deliveries.late),
            (2, 1),
            "{}",
            db.backend
        );
        // Counted where they were delivered, not before.
        let earlier = window(now - day * 3, now - day).await.unwrap();
        assert_eq!(earlier.deliveries.delivered, 0);
    }
}
