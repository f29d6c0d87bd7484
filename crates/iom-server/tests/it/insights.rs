//! Insights over HTTP: KPIs against a recomputation from the raw orders, anomalies on a seeded
//! spike and none on a flat series, alerts that fire once per subject with their event.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::{Value, json};

use super::{TestApp, apps};

const NODES: [(&str, f64, f64, &str, &str, &str); 2] = [
    ("SEA", 47.61, -122.33, "5.00", "0.50", "0.01"),
    ("PDX", 45.52, -122.68, "4.00", "1.00", "0.00"),
];
const CHANNELS: [&str; 3] = ["web", "marketplace", "edi"];

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn dec(v: &Value) -> Decimal {
    Decimal::from_str(
        v.as_str()
            .unwrap_or_else(|| panic!("not a decimal string: {v}")),
    )
    .unwrap()
}

fn close(a: &Value, b: Option<f64>, what: &str) {
    match (a.as_f64(), b) {
        (None, None) => {}
        (Some(x), Some(y)) => assert!((x - y).abs() < 1e-3, "{what}: api {x}, recomputed {y}"),
        _ => panic!("{what}: api {a}, recomputed {b:?}"),
    }
}

async fn put(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    app.call(reqwest::Method::PUT, path, Some(body)).await
}

fn order(i: usize, placed_at: DateTime<Utc>) -> Value {
    let lines: Vec<Value> = (0..1 + i % 3)
        .map(|l| {
            json!({"line_no": l + 1, "sku": format!("SKU-{}", (i + l) % 5),
                   "quantity": 1 + (i + l) % 4, "unit_price": format!("{}.{:02}", 5 + i % 20, i * 7 % 100)})
        })
        .collect();
    let mut body = json!({
        "channel": CHANNELS[i % 3],
        "external_id": format!("kpi-{i}"),
        "currency": "USD",
        "placed_at": placed_at,
        "ship_to": {"name": "Ann", "line1": "1 Main St", "city": "Seattle", "region": if i.is_multiple_of(2) {"WA"} else {"OR"},
                    "postal_code": "98101", "country": "US", "lat": 47.61, "lon": -122.33},
        "lines": lines,
    });
    if i.is_multiple_of(4) {
        body["requested_delivery_at"] = json!(placed_at + chrono::Duration::hours(30));
    }
    body
}

/// 40 orders over five days in October 2026 (and two before): some backordered by a brokering
/// run with no stock, some cancelled, shipped (fully or partly, from two nodes), delivered.
async fn seed(app: &TestApp) {
    for (code, lat, lon, per_shipment, per_unit, per_km) in NODES {
        let (status, body) = put(
            app,
            &format!("/api/v1/nodes/{code}"),
            json!({"kind": "warehouse", "location": {"lat": lat, "lon": lon},
                   "costs": {"per_shipment": per_shipment, "per_unit": per_unit, "per_km": per_km}}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let start = t("2026-10-01T00:00:00Z");
    let mut ids = Vec::new();
    for i in 0..42usize {
        let placed = if i >= 40 {
            t("2026-09-29T12:00:00Z")
        } else {
            start + chrono::Duration::minutes(i as i64 * 173)
        };
        let (status, created) = app.post("/api/v1/orders", order(i, placed)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        ids.push(created);
        if i == 5 {
            // Nothing in stock anywhere: the open orders so far become backordered.
            let (status, run) = app
                .post(
                    "/api/v1/fulfillment/brokering-runs",
                    json!({"commit": true}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{run}");
        }
    }
    for (i, o) in ids.iter().enumerate() {
        let id = o["id"].as_str().unwrap();
        let lines: Vec<Value> = o["lines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| json!({"line_no": l["line_no"], "quantity": l["quantity"]}))
            .collect();
        let node = NODES[i % 2].0;
        if i % 5 == 1 {
            let (s, b) = app
                .post(
                    &format!("/api/v1/orders/{id}/cancel"),
                    json!({"reason": "customer"}),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{b}");
        } else if i % 3 == 0 {
            let (s, b) = app
                .post(
                    &format!("/api/v1/orders/{id}/shipments"),
                    json!({"node": node, "lines": lines}),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{b}");
            if i % 2 == 0 {
                let (s, b) = app
                    .post(
                        &format!("/api/v1/orders/{id}/deliveries"),
                        json!({"lines": lines}),
                    )
                    .await;
                assert_eq!(s, StatusCode::OK, "{b}");
            }
        } else if i % 7 == 2 {
            // One unit shipped from the first line, the rest of the order cancelled.
            let (s, b) = app
                .post(
                    &format!("/api/v1/orders/{id}/shipments"),
                    json!({"node": node, "lines": [{"line_no": 1, "quantity": 1}]}),
                )
                .await;
            assert_eq!(s, StatusCode::OK, "{b}");
            for l in o["lines"].as_array().unwrap() {
                let open = l["quantity"].as_i64().unwrap() - if l["line_no"] == 1 { 1 } else { 0 };
                if open > 0 {
                    let (s, b) = app
                        .post(
                            &format!("/api/v1/orders/{id}/lines/{}/cancel", l["line_no"]),
                            json!({"reason": "short"}),
                        )
                        .await;
                    assert_eq!(s, StatusCode::OK, "{b}");
                }
            }
        }
    }
}

fn haversine(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, la2) = (a.0.to_radians(), b.0.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2)
        + la1.cos() * la2.cos() * ((b.1 - a.1).to_radians() / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

#[tokio::test]
async fn kpis_equal_a_recomputation_from_the_raw_orders() {
    for app in apps().await {
        seed(&app).await;
        let (from, to) = (t("2026-10-01T00:00:00Z"), t("2026-10-06T00:00:00Z"));
        let (status, k) = app
            .get("/api/v1/insights/kpis?from=2026-10-01T00:00:00Z&to=2026-10-06T00:00:00Z")
            .await;
        assert_eq!(status, StatusCode::OK, "{k}");
        let now = Utc::now();

        let (_, page) = app.get("/api/v1/orders?limit=500").await;
        let all: Vec<Value> = page["items"].as_array().unwrap().clone();
        assert_eq!(all.len(), 42);
        let (_, events) = app
            .get("/api/v1/events?type=order.backordered&limit=1000")
            .await;
        let backordered: BTreeSet<String> = events["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["subject"].as_str().unwrap().to_owned())
            .collect();
        assert!(!backordered.is_empty(), "the seed backorders some orders");

        let placed = |o: &Value| t(o["placed_at"].as_str().unwrap());
        let in_window: Vec<&Value> = all
            .iter()
            .filter(|o| placed(o) >= from && placed(o) < to)
            .collect();
        let cancelled = |o: &Value| o["status"] == "cancelled";
        let shipped = |o: &Value| o["status"] == "shipped" || o["status"] == "delivered";
        let sum_lines = |o: &Value, key: &str| -> i64 {
            o["lines"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l[key].as_i64().unwrap())
                .sum()
        };
        let ship_by = |o: &Value| match o["requested_delivery_at"].as_str() {
            Some(r) => t(r) - chrono::Duration::hours(24),
            None => placed(o) + chrono::Duration::hours(48),
        };
        let last_shipment = |o: &Value| {
            o["shipments"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| t(s["at"].as_str().unwrap()))
                .max()
        };
        let hours = |d: chrono::Duration| d.num_microseconds().unwrap() as f64 / 3.6e9;

        let n = in_window.len() as i64;
        let paying: Vec<&&Value> = in_window.iter().filter(|o| !cancelled(o)).collect();
        let revenue: Decimal = paying.iter().map(|o| dec(&o["totals"]["total"])).sum();
        assert_eq!(k["orders"], n);
        assert_eq!(k["currency"], "USD");
        assert_eq!(dec(&k["revenue"]), revenue, "{}", app.backend);
        assert_eq!(
            dec(&k["average_order_value"]),
            (revenue / Decimal::from(paying.len())).round_dp(2)
        );
        let lines: i64 = in_window
            .iter()
            .map(|o| o["lines"].as_array().unwrap().len() as i64)
            .sum();
        close(
            &k["lines_per_order"],
            Some(lines as f64 / n as f64),
            "lines per order",
        );
        assert_eq!(
            k["units"],
            in_window
                .iter()
                .map(|o| sum_lines(o, "quantity"))
                .sum::<i64>()
        );
        let settled: Vec<&&Value> = in_window
            .iter()
            .filter(|o| {
                sum_lines(o, "quantity")
                    - sum_lines(o, "cancelled_quantity")
                    - sum_lines(o, "shipped_quantity")
                    == 0
            })
            .collect();
        let settled_units: i64 = settled.iter().map(|o| sum_lines(o, "quantity")).sum();
        let settled_shipped: i64 = settled
            .iter()
            .map(|o| sum_lines(o, "shipped_quantity"))
            .sum();
        close(
            &k["fill_rate"],
            Some(settled_shipped as f64 / settled_units as f64),
            "fill rate",
        );
        let done: Vec<&&Value> = in_window.iter().filter(|o| shipped(o)).collect();
        assert!(!done.is_empty());
        let on_time = done
            .iter()
            .filter(|o| last_shipment(o).unwrap() <= ship_by(o))
            .count();
        close(
            &k["on_time_ship_rate"],
            Some(on_time as f64 / done.len() as f64),
            "on time",
        );
        let cancelled_n = in_window.iter().filter(|o| cancelled(o)).count();
        close(
            &k["cancellation_rate"],
            Some(cancelled_n as f64 / n as f64),
            "cancellation",
        );
        let backordered_n = in_window
            .iter()
            .filter(|o| backordered.contains(o["id"].as_str().unwrap()))
            .count();
        assert!(backordered_n > 0);
        close(
            &k["backorder_rate"],
            Some(backordered_n as f64 / n as f64),
            "backorder rate",
        );
        close(&k["return_rate"], Some(0.0), "return rate");
        let cycle: f64 = done
            .iter()
            .map(|o| hours(last_shipment(o).unwrap() - t(o["created_at"].as_str().unwrap())))
            .sum::<f64>()
            / done.len() as f64;
        close(&k["cycle_time_hours"], Some(cycle), "cycle time");

        // Per channel: orders and revenue.
        let mut channels: BTreeMap<String, (i64, Decimal)> = BTreeMap::new();
        for o in &in_window {
            let e = channels
                .entry(o["channel"].as_str().unwrap().to_owned())
                .or_default();
            e.0 += 1;
            if !cancelled(o) {
                e.1 += dec(&o["totals"]["total"]);
            }
        }
        let api_channels: BTreeMap<String, (i64, Decimal)> = k["by_channel"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["channel"].as_str().unwrap().to_owned(),
                    (c["orders"].as_i64().unwrap(), dec(&c["revenue"])),
                )
            })
            .collect();
        assert_eq!(api_channels, channels, "{}", app.backend);

        // Per node: shipments, units and cost; every shipment of the seed happened just now,
        // so all of them fall in a window that ends now.
        let (_, recent) = app
            .get(&format!(
                "/api/v1/insights/kpis?from=2026-09-01T00:00:00Z&to={}",
                (now + chrono::Duration::minutes(1))
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ))
            .await;
        let mut nodes: BTreeMap<String, (i64, i64, f64)> = BTreeMap::new();
        for o in &all {
            for s in o["shipments"].as_array().unwrap() {
                let code = s["node"].as_str().unwrap();
                let (_, lat, lon, per_shipment, per_unit, per_km) =
                    NODES.iter().find(|n| n.0 == code).unwrap();
                let units: i64 = s["lines"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|l| l["quantity"].as_i64().unwrap())
                    .sum();
                let km = haversine((*lat, *lon), (47.61, -122.33));
                let cost = per_shipment.parse::<f64>().unwrap()
                    + per_unit.parse::<f64>().unwrap() * units as f64
                    + per_km.parse::<f64>().unwrap() * km;
                let e = nodes.entry(code.to_owned()).or_default();
                e.0 += 1;
                e.1 += units;
                e.2 += cost;
            }
        }
        let by_node = recent["by_node"].as_array().unwrap();
        assert_eq!(by_node.len(), nodes.len(), "{recent}");
        for n in by_node {
            let (shipments, units, cost) = nodes[n["node"].as_str().unwrap()];
            assert_eq!(n["shipments"], shipments);
            assert_eq!(n["units"], units);
            let api_cost: f64 = n["fulfillment_cost"].as_str().unwrap().parse().unwrap();
            assert!(
                (api_cost - cost).abs() < 0.01,
                "{}: api {api_cost}, recomputed {cost}",
                n["node"]
            );
        }

        // Top products by units, over the window.
        let mut units_by_sku: BTreeMap<String, i64> = BTreeMap::new();
        for o in &in_window {
            for l in o["lines"].as_array().unwrap() {
                *units_by_sku
                    .entry(l["sku"].as_str().unwrap().to_owned())
                    .or_default() += l["quantity"].as_i64().unwrap();
            }
        }
        for p in k["top_products"].as_array().unwrap() {
            assert_eq!(p["units"], units_by_sku[p["sku"].as_str().unwrap()]);
        }
        assert_eq!(
            k["top_products"].as_array().unwrap().len(),
            units_by_sku.len()
        );

        // Open orders anywhere: their ship-by passed long ago.
        let open = all
            .iter()
            .filter(|o| {
                sum_lines(o, "quantity")
                    - sum_lines(o, "cancelled_quantity")
                    - sum_lines(o, "shipped_quantity")
                    > 0
            })
            .count();
        assert_eq!(k["past_due"], open as i64);
        assert_eq!(k["in_jeopardy"], 0);
        // The two orders of September are the previous period's.
        assert_eq!(k["previous_period"]["orders"], 2);
        let regions: i64 = k["by_region"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["orders"].as_i64().unwrap())
            .sum();
        assert_eq!(regions, n);

        // Windows that start and end inside a day (whole days are read from the daily roll-ups,
        // the partial ones from the fact rows) add up exactly too, rolled-up updates included.
        for (a, b) in [
            ("2026-10-01T05:17:00Z", "2026-10-05T19:43:00Z"),
            ("2026-10-02T01:00:00Z", "2026-10-02T23:00:00Z"),
            ("2026-09-29T00:00:00Z", "2026-10-03T12:00:00Z"),
        ] {
            let (status, w) = app
                .get(&format!("/api/v1/insights/kpis?from={a}&to={b}"))
                .await;
            assert_eq!(status, StatusCode::OK, "{w}");
            let (a, b) = (t(a), t(b));
            let orders: Vec<&Value> = all
                .iter()
                .filter(|o| placed(o) >= a && placed(o) < b)
                .collect();
            assert!(!orders.is_empty());
            assert_eq!(w["orders"], orders.len() as i64, "{}", app.backend);
            let revenue: Decimal = orders
                .iter()
                .filter(|o| !cancelled(o))
                .map(|o| dec(&o["totals"]["total"]))
                .sum();
            assert_eq!(dec(&w["revenue"]), revenue, "{}", app.backend);
            let units: i64 = orders.iter().map(|o| sum_lines(o, "quantity")).sum();
            assert_eq!(w["units"], units);
            let cancelled_orders = orders.iter().filter(|o| cancelled(o)).count();
            close(
                &w["cancellation_rate"],
                Some(cancelled_orders as f64 / orders.len() as f64),
                "cancellation rate",
            );
            let mut units_by_sku: BTreeMap<String, i64> = BTreeMap::new();
            for o in &orders {
                for l in o["lines"].as_array().unwrap() {
                    *units_by_sku
                        .entry(l["sku"].as_str().unwrap().to_owned())
                        .or_default() += l["quantity"].as_i64().unwrap();
                }
            }
            for p in w["top_products"].as_array().unwrap() {
                assert_eq!(p["units"], units_by_sku[p["sku"].as_str().unwrap()]);
            }
        }
    }
}

#[tokio::test]
async fn a_new_order_shows_in_the_kpis_at_once_and_bad_windows_are_422() {
    for app in apps().await {
        let (_, before) = app.get("/api/v1/insights/kpis").await;
        assert_eq!(before["orders"], 0);
        assert_eq!(before["today"]["orders"], 0);
        app.create_order("now-1", &[2]).await;
        let mut body = super::order_body("now-2", &[1]);
        body["placed_at"] = json!(Utc::now());
        let (s, _) = app.post("/api/v1/orders", body).await;
        assert_eq!(s, StatusCode::CREATED);
        let (status, after) = app
            .get("/api/v1/insights/kpis?from=2026-11-01T00:00:00Z&to=2100-01-01T00:00:00Z")
            .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(after["orders"], 2, "{after}");
        assert_eq!(after["today"]["orders"], 1);
        assert_eq!(after["revenue"], "59.97");

        for (query, field) in [
            ("from=yesterday", "from"),
            ("to=2026-13-01T00:00:00Z", "to"),
            ("from=2026-11-02T00:00:00Z&to=2026-11-01T00:00:00Z", "to"),
        ] {
            let (status, problem) = app.get(&format!("/api/v1/insights/kpis?{query}")).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}");
            assert_eq!(problem["errors"][0]["field"], field, "{problem}");
        }
        let (status, problem) = app.get("/api/v1/insights/series?metric=weather").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "metric");
        let (status, _) = app
            .get("/api/v1/insights/series?metric=orders&interval=minute&from=2026-01-01T00:00:00Z&to=2026-11-01T00:00:00Z")
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (status, _) = app
            .call_as("wrong", reqwest::Method::GET, "/api/v1/insights/kpis", None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}

/// Orders placed per hour on the channel: `counts[i]` in the hour `hours_ago[i]` before the
/// current one.
async fn place(app: &TestApp, channel: &str, counts: &[usize]) {
    let hour = Utc::now().timestamp() / 3600 * 3600;
    let mut n = 0;
    for (i, count) in counts.iter().enumerate() {
        let start = hour - (counts.len() - i) as i64 * 3600;
        for k in 0..*count {
            let mut body = super::order_body(&format!("{channel}-{i}-{k}"), &[1]);
            body["channel"] = json!(channel);
            body["placed_at"] = json!(Utc.timestamp_opt(start + k as i64 * 60, 0).unwrap());
            let (s, b) = app.post("/api/v1/orders", body).await;
            assert_eq!(s, StatusCode::CREATED, "{b}");
            n += 1;
        }
    }
    assert!(n > 0);
}

#[tokio::test]
async fn a_spike_in_order_volume_is_an_anomaly_and_a_flat_channel_is_not() {
    for app in apps().await {
        let flat: Vec<usize> = (0..12).map(|i| 4 + i % 2).collect();
        let mut spike = flat.clone();
        *spike.last_mut().unwrap() = 30;
        place(&app, "web", &spike).await;
        place(&app, "marketplace", &flat).await;

        // The worker judges the last complete hour every two seconds.
        let mut found = Value::Null;
        for _ in 0..50 {
            let (status, list) = app.get("/api/v1/insights/anomalies").await;
            assert_eq!(status, StatusCode::OK);
            if !list.as_array().unwrap().is_empty() {
                found = list;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let list = found.as_array().expect("an anomaly is found");
        assert_eq!(list.len(), 1, "only the spiking channel: {found}");
        let a = &list[0];
        assert_eq!(a["metric"], "orders");
        assert_eq!(a["subject"], "web");
        // The worker may judge the hour while its last orders are still coming in (on a busy
        // machine): the value is what it counted then, already far above the band.
        let value = a["value"].as_f64().unwrap();
        assert!(value <= 30.0 && value > a["upper"].as_f64().unwrap(), "{a}");
        let expected = a["expected"].as_f64().unwrap();
        assert!((3.0..7.0).contains(&expected), "{a}");
        assert!(
            a["lower"].as_f64().unwrap() <= expected && expected <= a["upper"].as_f64().unwrap()
        );
        assert!(
            a["upper"].as_f64().unwrap() < 30.0 && a["score"].as_f64().unwrap() > 3.0,
            "{a}"
        );

        // Announced once, however many times the worker ran since.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        let (_, events) = app
            .get("/api/v1/events?type=insights.anomaly&limit=100")
            .await;
        let events = events["items"].as_array().unwrap();
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0]["data"]["subject"], "web");
        let (_, list) = app.get("/api/v1/insights/anomalies").await;
        assert_eq!(list.as_array().unwrap().len(), 1);

        let (status, series) = app
            .get("/api/v1/insights/series?metric=orders&interval=hour&group=web")
            .await;
        assert_eq!(status, StatusCode::OK, "{series}");
        let points = series["series"][0]["points"].as_array().unwrap();
        // 48 hours back from now: the hour of 48 hours ago up to the current hour.
        assert_eq!(points.len(), 49);
        assert_eq!(points[47]["value"], "30");
        assert_eq!(points[48]["value"], "0");
    }
}

#[tokio::test]
async fn an_alert_fires_once_per_order_with_its_event() {
    for app in apps().await {
        let (status, problem) = put(
            &app,
            "/api/v1/alerts/slow-release",
            json!({"condition": {"type": "order_not_released", "hours": -3}}),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "condition.hours");
        let (status, _) = put(
            &app,
            "/api/v1/alerts/bad%20name",
            json!({"condition": {"type": "inventory_below", "threshold": 1}}),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let (status, _) = app.get("/api/v1/alerts").await;
        assert_eq!(status, StatusCode::OK);

        // Two orders taken in; neither is released. Zero hours: due at once.
        let first = app.create_order("alert-1", &[1]).await;
        let second = app.create_order("alert-2", &[1]).await;
        let (status, alert) = put(
            &app,
            "/api/v1/alerts/slow-release",
            json!({"condition": {"type": "order_not_released", "hours": 0}, "notify": {"email": "ops@example.com"}}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{alert}");
        assert_eq!(alert["condition"]["hours"], 0);

        let mut firings = Value::Null;
        for _ in 0..50 {
            let (status, page) = app.get("/api/v1/alerts/slow-release/firings").await;
            assert_eq!(status, StatusCode::OK);
            if page["items"].as_array().unwrap().len() == 2 {
                firings = page;
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let subjects: BTreeSet<&str> = firings["items"]
            .as_array()
            .expect("both orders fire")
            .iter()
            .map(|f| f["subject"].as_str().unwrap())
            .collect();
        assert_eq!(
            subjects,
            BTreeSet::from([
                first["id"].as_str().unwrap(),
                second["id"].as_str().unwrap()
            ])
        );
        // Several evaluations later: still once each, and one event each.
        tokio::time::sleep(Duration::from_millis(4500)).await;
        let (_, page) = app.get("/api/v1/alerts/slow-release/firings").await;
        assert_eq!(page["items"].as_array().unwrap().len(), 2);
        let (_, events) = app.get("/api/v1/events?type=alert.fired&limit=100").await;
        let events = events["items"].as_array().unwrap();
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[0]["data"]["notify"]["email"], "ops@example.com");
        assert!(subjects.contains(events[0]["subject"].as_str().unwrap()));
        // It is in the order's timeline too.
        let id = first["id"].as_str().unwrap();
        let (_, timeline) = app.get(&format!("/api/v1/orders/{id}/timeline")).await;
        assert!(timeline.to_string().contains("alert.fired"), "{timeline}");

        let (status, _) = app.get("/api/v1/alerts/nope/firings").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
