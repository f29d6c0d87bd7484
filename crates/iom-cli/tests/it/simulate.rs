use chrono::Utc;
use iom_store::Store;
use iom_store::Value as Sql;
use iom_store::nodes::{DocKind, NodeRecord};
use serde_json::{Value, json};
use tokio::process::Command;

async fn iom(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_iom"))
        .args(args)
        .env("IOM_LOG", "warn")
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// SEA stands in Seattle, PDX in Portland (about 233 km away); both charge 5.00 per shipment,
/// 0.50 per unit and 0.01 per km. SEA holds 3 of SKU-1, PDX 5.
async fn seed(url: &str) {
    let store = Store::open(url).await.unwrap();
    for (code, lat, lon) in [("SEA", 47.61, -122.33), ("PDX", 45.52, -122.68)] {
        let doc = json!({"code": code, "kind": "warehouse", "location": {"lat": lat, "lon": lon},
            "costs": {"per_shipment": "5.00", "per_unit": "0.50", "per_km": "0.01"}});
        store
            .put_node(NodeRecord {
                code: code.into(),
                kind: "warehouse".into(),
                active: true,
                safety_stock: 0,
                doc,
                updated_at: Utc::now(),
            })
            .await
            .unwrap();
    }
    store
        .put_doc(
            DocKind::Profile,
            "no-sea".into(),
            json!({"exclude_nodes": ["SEA"]}),
        )
        .await
        .unwrap();
    store
        .write(|tx| {
            for (node, q) in [("SEA", 3), ("PDX", 5)] {
                tx.conn().execute(
                    "INSERT INTO inventory_balances (sku, node, on_hand, reserved, allocated, safety_stock, updated_at)
                     VALUES ('SKU-1', $1, $2, 0, 0, NULL, 0)",
                    &[Sql::Text(node), Sql::Int(q)],
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();
}

fn order(external_id: &str) -> Value {
    json!({"channel": "web", "external_id": external_id, "currency": "USD",
           "ship_to": {"country": "US", "postal_code": "98101", "lat": 47.61, "lon": -122.33},
           "lines": [{"line_no": 1, "sku": "SKU-1", "quantity": 2, "unit_price": "9.99"}]})
}

fn by_profile(stdout: &str) -> Vec<Value> {
    serde_json::from_str::<Vec<Value>>(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn money(v: &Value) -> f64 {
    v.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn simulate_replays_orders_in_sequence_per_profile_from_the_database() {
    let db = iom_store::testing::sqlite();
    seed(&db.url).await;
    let dir = tempfile::tempdir().unwrap();
    let jsonl = dir.path().join("orders.jsonl");
    std::fs::write(&jsonl, format!("{}\n\n{}\n", order("h-1"), order("h-2"))).unwrap();
    let csv = dir.path().join("orders.csv");
    std::fs::write(
        &csv,
        "external_id,sku,quantity,unit_price,currency,ship_to_postal_code,ship_to_country,ship_to_lat,ship_to_lon\n\
         h-1,SKU-1,2,9.99,USD,98101,US,47.61,-122.33\n\
         h-2,SKU-1,2,9.99,USD,98101,US,47.61,-122.33\n",
    )
    .unwrap();

    for file in [&jsonl, &csv] {
        let (ok, stdout, stderr) = iom(&[
            "simulate",
            "--orders",
            file.to_str().unwrap(),
            "--profile",
            "default",
            "--profile",
            "no-sea",
            "--database",
            &db.url,
            "--json",
        ])
        .await;
        assert!(ok, "{stderr}");
        let results = by_profile(&stdout);
        assert_eq!(results.len(), 2);
        // The first order takes 2 of SEA's 3 units (5.00 + 1.00); the second cannot have 2 from
        // SEA any more and ships both from PDX (6.00 + 0.01 × 233 km) rather than split.
        let default = &results[0];
        assert_eq!(default["profile"], "default");
        assert_eq!(default["orders"], 2);
        assert_eq!(default["lines"], 2);
        assert_eq!(default["shipments"], 2);
        assert_eq!(default["split_orders"], 0);
        assert_eq!(default["unfulfilled_lines"], 0);
        let km = default["distance_km"].as_f64().unwrap();
        assert!((230.0..237.0).contains(&km), "{default}");
        assert!(
            (money(&default["cost"]) - (12.0 + 0.01 * km)).abs() < 0.011,
            "{default}"
        );
        // Without SEA both orders ship from PDX, and PDX's 5 units suffice.
        let no_sea = &results[1];
        assert_eq!(no_sea["profile"], "no-sea");
        assert_eq!(no_sea["shipments"], 2);
        assert!(
            (no_sea["avg_shipment_km"].as_f64().unwrap() - km).abs() < 0.01,
            "{no_sea}"
        );
        assert_eq!(no_sea["unfulfilled_lines"], 0);
    }

    let (ok, _, stderr) = iom(&[
        "simulate",
        "--orders",
        jsonl.to_str().unwrap(),
        "--profile",
        "nope",
        "--database",
        &db.url,
    ])
    .await;
    assert!(!ok);
    assert!(stderr.contains("no profile is called \"nope\""), "{stderr}");
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, r#"{"external_id":"x","lines":[]}"#).unwrap();
    let (ok, _, stderr) = iom(&[
        "simulate",
        "--orders",
        bad.to_str().unwrap(),
        "--profile",
        "default",
        "--database",
        &db.url,
    ])
    .await;
    assert!(!ok);
    assert!(
        stderr.contains("line 1") && stderr.contains("currency"),
        "{stderr}"
    );
}

#[tokio::test]
async fn simulate_compares_profiles_on_the_bench_network_without_a_database() {
    let (ok, stdout, stderr) = iom(&[
        "simulate",
        "--network",
        "bench",
        "--bench-orders",
        "200",
        "--profile",
        "default",
        "--profile",
        "single-node",
        "--json",
    ])
    .await;
    assert!(ok, "{stderr}");
    let results = by_profile(&stdout);
    let (default, single) = (&results[0], &results[1]);
    assert_eq!(default["orders"], 200);
    assert_eq!(single["orders"], 200);
    assert!(default["split_orders"].as_u64().unwrap() > 0, "{default}");
    assert_eq!(single["split_orders"], 0, "one node per order: {single}");
    assert_eq!(
        single["shipments"],
        200 - single["not_sourced"].as_u64().unwrap()
    );

    let (ok, stdout, _) = iom(&[
        "simulate",
        "--network",
        "bench",
        "--bench-orders",
        "20",
        "--profile",
        "distance",
    ])
    .await;
    assert!(ok);
    assert!(
        stdout.starts_with("profile") && stdout.contains("distance"),
        "{stdout}"
    );
    let (ok, _, stderr) = iom(&["simulate", "--network", "bench", "--profile", "fastest"]).await;
    assert!(!ok);
    assert!(stderr.contains("not a bench profile"), "{stderr}");
}
