use reqwest::StatusCode;
use serde_json::{Value, json};

use super::nodes::put;
use super::{TestApp, apps, apps_with_flows, order_body};

/// The ship-to of `order_body` is Seattle (47.61, -122.33). SEA stands on it; PDX is Portland,
/// about 233 km away. Both charge 5.00 per shipment, 0.50 per unit and 0.01 per km.
async fn network(app: &TestApp) {
    let costs = json!({"per_shipment": "5.00", "per_unit": "0.50", "per_km": "0.01"});
    for (code, lat, lon) in [("SEA", 47.61, -122.33), ("PDX", 45.52, -122.68)] {
        let (status, body) = put(
            app,
            &format!("/api/v1/nodes/{code}"),
            json!({"kind": "warehouse", "location": {"lat": lat, "lon": lon}, "costs": costs}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
}

/// Counts `on_hand` units of `sku` at `node`, through the inventory API.
async fn stock(app: &TestApp, sku: &str, node: &str, on_hand: i64) {
    let id = format!("count-{sku}-{node}-{}", uuid::Uuid::now_v7());
    let (status, body) = app
        .post(
            "/api/v1/inventory/changes",
            json!({"changes": [{"id": id, "sku": sku, "node": node, "kind": "set", "quantity": on_hand}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn plan(app: &TestApp, body: Value) -> Value {
    let (status, plan) = app.post("/api/v1/fulfillment/plan", body).await;
    assert_eq!(status, StatusCode::OK, "{}: {plan}", app.backend);
    plan
}

fn money(v: &Value) -> f64 {
    v.as_str()
        .unwrap_or_else(|| panic!("{v} is not a decimal string"))
        .parse()
        .unwrap()
}

/// (node, quantity) of each assignment.
fn picks(plan: &Value) -> Vec<(String, u64)> {
    plan["assignments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["node"].as_str().unwrap().to_owned(),
                a["quantity"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Everything a plan could have changed: events, orders and balances.
async fn state_of(app: &TestApp) -> (usize, usize, Vec<iom_store::inventory::Balance>) {
    let (orders, events) = app.counts().await;
    let balances = app
        .server
        .state
        .store
        .balances(vec!["SKU-1".into(), "SKU-2".into()], vec![])
        .await
        .unwrap();
    (orders, events, balances)
}

#[tokio::test]
async fn the_plan_ships_from_the_node_with_stock_and_changes_nothing() {
    for app in apps().await {
        network(&app).await;
        stock(&app, "SKU-1", "PDX", 5).await;
        let before = state_of(&app).await;
        let plan = plan(&app, json!({"order": order_body("p-1", &[2])})).await;
        assert_eq!(picks(&plan), [("PDX".to_owned(), 2)], "{plan}");
        assert_eq!(plan["status"], "fully_sourced");
        assert_eq!(plan["profile"], "default");
        assert_eq!(plan["order_ref"], "p-1");
        assert_eq!(plan["shipments"], 1);
        let km = plan["distance_km"].as_f64().unwrap();
        assert!(
            (230.0..237.0).contains(&km),
            "Seattle to Portland is about 233 km, not {km}"
        );
        // 5.00 + 2 × 0.50 + 0.01 per km.
        assert!(
            (money(&plan["cost"]) - (6.0 + 0.01 * km)).abs() < 0.011,
            "{plan}"
        );
        let sea = plan["explanation"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["node"] == "SEA")
            .unwrap();
        assert_eq!(sea["verdict"], "rejected");
        assert_eq!(sea["reasons"], json!(["no_stock"]));
        assert_eq!(
            state_of(&app).await,
            before,
            "{}: planning is a simulation",
            app.backend
        );
    }
}

#[tokio::test]
async fn the_nearer_node_wins_and_a_profile_excluding_it_changes_the_answer() {
    for app in apps().await {
        network(&app).await;
        stock(&app, "SKU-1", "SEA", 5).await;
        stock(&app, "SKU-1", "PDX", 5).await;
        let plan_default = plan(&app, json!({"order": order_body("p-2", &[2])})).await;
        assert_eq!(picks(&plan_default), [("SEA".to_owned(), 2)]);
        assert_eq!(
            money(&plan_default["cost"]),
            6.0,
            "no distance: 5.00 + 2 × 0.50"
        );

        let (status, profile) = put(
            &app,
            "/api/v1/fulfillment/profiles/no-sea",
            json!({"objective": "cost", "exclude_nodes": ["SEA"]}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{profile}");
        let other = plan(
            &app,
            json!({"order": order_body("p-2", &[2]), "profile": "no-sea"}),
        )
        .await;
        assert_eq!(picks(&other), [("PDX".to_owned(), 2)], "{other}");
        assert_eq!(other["profile"], "no-sea");
        let sea = other["explanation"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["node"] == "SEA")
            .unwrap();
        assert_eq!(sea["reasons"], json!(["excluded"]));

        // A stored profile called `default` is used when the request names none.
        put(
            &app,
            "/api/v1/fulfillment/profiles/default",
            json!({"exclude_nodes": ["SEA"]}),
        )
        .await;
        let now_default = plan(&app, json!({"order": order_body("p-2", &[2])})).await;
        assert_eq!(picks(&now_default), [("PDX".to_owned(), 2)]);

        for solver in ["exact", "closest"] {
            let p = plan(
                &app,
                json!({"order": order_body("p-2", &[2]), "profile": "no-sea", "solver": solver}),
            )
            .await;
            assert_eq!(picks(&p), [("PDX".to_owned(), 2)], "{solver}");
            assert_eq!(p["solver"], solver);
        }
    }
}

#[tokio::test]
async fn distance_and_capacity_limits_leave_lines_unassigned_with_a_reason() {
    for app in apps().await {
        network(&app).await;
        stock(&app, "SKU-1", "PDX", 5).await;
        put(
            &app,
            "/api/v1/fulfillment/profiles/near",
            json!({"max_distance_km": 100}),
        )
        .await;
        let near = plan(
            &app,
            json!({"order": order_body("p-3", &[2]), "profile": "near"}),
        )
        .await;
        assert_eq!(picks(&near), []);
        assert_eq!(near["status"], "not_sourced");
        assert_eq!(near["unassigned"][0]["line_no"], 1);
        assert_eq!(near["unassigned"][0]["quantity"], 2);
        assert_eq!(near["unassigned"][0]["reason"], "too_far", "{near}");

        // PDX can ship nothing more today.
        put(
            &app,
            "/api/v1/nodes/PDX",
            json!({"location": {"lat": 45.52, "lon": -122.68}, "daily_capacity": 0}),
        )
        .await;
        let full = plan(&app, json!({"order": order_body("p-3", &[2])})).await;
        assert_eq!(picks(&full), [], "{full}");
        assert_eq!(full["unassigned"][0]["reason"], "over_capacity", "{full}");
    }
}

#[tokio::test]
async fn a_stored_order_is_planned_by_id_and_bad_requests_are_refused() {
    for app in apps().await {
        network(&app).await;
        stock(&app, "SKU-1", "SEA", 1).await;
        stock(&app, "SKU-2", "PDX", 4).await;
        let order = app.create_order("p-4", &[1, 3]).await;
        let id = order["id"].as_str().unwrap();
        let plan = plan(&app, json!({"order_id": id})).await;
        assert_eq!(plan["order_ref"], id);
        assert_eq!(
            picks(&plan),
            [("SEA".to_owned(), 1), ("PDX".to_owned(), 3)],
            "{plan}"
        );
        assert_eq!(plan["shipments"], 2);

        let bad = [
            (
                json!({"order_id": "01912345-0000-7000-8000-000000000000"}),
                StatusCode::NOT_FOUND,
                None,
            ),
            (json!({"order_id": "nope"}), StatusCode::NOT_FOUND, None),
            (
                json!({"order_id": id, "profile": "missing"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("profile"),
            ),
            (json!({}), StatusCode::UNPROCESSABLE_ENTITY, Some("order")),
            (
                json!({"order_id": id, "order": order_body("x", &[1])}),
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("order_id"),
            ),
            (
                json!({"order_id": id, "solver": "magic"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("solver"),
            ),
            (
                json!({"order": {"channel": "web", "lines": []}}),
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("order.external_id"),
            ),
        ];
        for (body, status, field) in bad {
            let (got, problem) = app.post("/api/v1/fulfillment/plan", body.clone()).await;
            assert_eq!(got, status, "{body}: {problem}");
            if let Some(field) = field {
                assert_eq!(problem["errors"][0]["field"], field, "{problem}");
            }
        }

        app.post(
            &format!("/api/v1/orders/{id}/cancel"),
            json!({"reason": "test"}),
        )
        .await;
        let (status, problem) = app
            .post("/api/v1/fulfillment/plan", json!({"order_id": id}))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    }
}

#[tokio::test]
async fn profiles_are_validated_and_unknown_names_are_warned_about() {
    for app in apps().await {
        network(&app).await;
        let (status, problem) = put(
            &app,
            "/api/v1/fulfillment/profiles/p",
            json!({"objective": "speed"}),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "objective");
        let (status, problem) = put(
            &app,
            "/api/v1/fulfillment/profiles/p",
            json!({"max_distance_km": -5, "max_nodes": 0, "name": "q"}),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["name", "max_distance_km", "max_nodes"]);

        let (status, profile) = put(
            &app,
            "/api/v1/fulfillment/profiles/p",
            json!({"objective": "shipments", "exclude_nodes": ["SEA", "GHOST"], "allow_partial": false}),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{profile}");
        assert_eq!(profile["name"], "p");
        assert_eq!(profile["objective"], "shipments");
        assert_eq!(profile["allow_line_split"], true, "defaults are filled in");
        assert_eq!(profile["warnings"][0]["field"], "exclude_nodes[1]");
        assert_eq!(profile["warnings"].as_array().unwrap().len(), 1);

        let (status, _) = put(&app, "/api/v1/fulfillment/profiles/p", json!({})).await;
        assert_eq!(status, StatusCode::OK);
        let (status, read) = app.get("/api/v1/fulfillment/profiles/p").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(read["objective"], "cost");
        assert!(read.get("warnings").is_none());
        let (_, list) = app.get("/api/v1/fulfillment/profiles").await;
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
        let (status, _) = app.get("/api/v1/fulfillment/profiles/none").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn a_brokering_run_never_promises_a_unit_twice_and_changes_nothing() {
    for app in apps().await {
        network(&app).await;
        stock(&app, "SKU-1", "SEA", 3).await;
        let first = app.create_order("b-1", &[2]).await;
        let second = app.create_order("b-2", &[2]).await;
        let cancelled = app.create_order("b-3", &[2]).await;
        let cid = cancelled["id"].as_str().unwrap();
        app.post(&format!("/api/v1/orders/{cid}/cancel"), json!({}))
            .await;
        let before = state_of(&app).await;

        let (status, run) = app
            .post("/api/v1/fulfillment/brokering-runs", json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{run}");
        assert_eq!(run["dry_run"], true);
        let plans = run["plans"].as_array().unwrap();
        assert_eq!(plans.len(), 2, "the cancelled order is not open: {run}");
        // Oldest first: the first order takes two of SEA's three units, the second the last one.
        assert_eq!(plans[0]["order_id"], first["id"]);
        assert_eq!(picks(&plans[0]["plan"]), [("SEA".to_owned(), 2)]);
        assert_eq!(plans[1]["order_id"], second["id"]);
        assert_eq!(picks(&plans[1]["plan"]), [("SEA".to_owned(), 1)]);
        assert_eq!(plans[1]["plan"]["unassigned"][0]["quantity"], 1);
        // Nothing is left anywhere for the second unit.
        assert_eq!(plans[1]["plan"]["unassigned"][0]["reason"], "no_stock");
        let totals = &run["totals"];
        assert_eq!(totals["orders"], 2);
        assert_eq!(totals["units_sourced"], 3);
        assert_eq!(totals["units_unassigned"], 1);
        assert_eq!(totals["partially_sourced"], 1);
        assert_eq!(totals["unfulfilled_lines"], 1);
        // 5.00 + 2 × 0.50, and 5.00 + 0.50.
        assert_eq!(money(&totals["cost"]), 11.5);
        assert_eq!(
            state_of(&app).await,
            before,
            "{}: a dry run changes nothing",
            app.backend
        );

        let (status, run) = app
            .post(
                "/api/v1/fulfillment/brokering-runs",
                json!({"statuses": ["cancelled"], "solver": "exact"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{run}");
        assert_eq!(
            run["plans"].as_array().unwrap().len(),
            0,
            "a cancelled order has nothing open"
        );
        let (status, problem) = app
            .post(
                "/api/v1/fulfillment/brokering-runs",
                json!({"statuses": ["open", "received"], "limit": 0}),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["statuses[0]", "limit"]);
    }
}

#[tokio::test]
async fn a_committed_brokering_run_reserves_allocates_and_never_reserves_twice() {
    for app in apps().await {
        network(&app).await;
        stock(&app, "SKU-1", "SEA", 3).await;
        let first = app.create_order("c-1", &[2]).await;
        let second = app.create_order("c-2", &[2]).await;
        let (status, run) = app
            .post(
                "/api/v1/fulfillment/brokering-runs",
                json!({"commit": true}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{run}");
        assert_eq!(run["dry_run"], false);
        assert_eq!(run["plans"][0]["committed"], true, "{run}");
        assert_eq!(run["plans"][1]["committed"], true, "{run}");
        let get = |o: &Value| format!("/api/v1/orders/{}", o["id"].as_str().unwrap());
        let (_, one) = app.get(&get(&first)).await;
        assert_eq!(one["lines"][0]["status"], "allocated", "{}", app.backend);
        assert_eq!(one["lines"][0]["node"], "SEA");
        assert_eq!(one["status"], "processing");
        let (_, two) = app.get(&get(&second)).await;
        assert_eq!(
            two["lines"][0]["status"], "open",
            "partly sourced: one of two held"
        );
        let (_, sea) = app.get("/api/v1/inventory/SKU-1").await;
        assert_eq!(
            (sea["reserved"].as_i64(), sea["available"].as_i64()),
            (Some(3), Some(0))
        );

        // Stock arrives: the next run sources only the second order's missing unit.
        stock(&app, "SKU-1", "SEA", 7).await;
        let (_, run) = app
            .post(
                "/api/v1/fulfillment/brokering-runs",
                json!({"commit": true}),
            )
            .await;
        let plans = run["plans"].as_array().unwrap();
        assert_eq!(
            plans.len(),
            1,
            "the allocated order is not planned again: {run}"
        );
        assert_eq!(picks(&plans[0]["plan"]), [("SEA".to_owned(), 1)]);
        let (_, sea) = app.get("/api/v1/inventory/SKU-1").await;
        assert_eq!(sea["reserved"], 4, "two per order, never more");
        let (_, two) = app.get(&get(&second)).await;
        assert_eq!(two["lines"][0]["status"], "allocated");
        let (_, again) = app
            .post(
                "/api/v1/fulfillment/brokering-runs",
                json!({"commit": true}),
            )
            .await;
        assert!(again["plans"].as_array().unwrap().is_empty(), "{again}");
    }
}

/// `order_body` as an EDI purchase order or a CSV import brings it: an address without
/// coordinates.
fn without_coordinates(external_id: &str, postal_code: Option<&str>, city: Option<&str>) -> Value {
    let mut order = order_body(external_id, &[1]);
    let ship_to = &mut order["ship_to"];
    ship_to["lat"] = Value::Null;
    ship_to["lon"] = Value::Null;
    ship_to["postal_code"] = json!(postal_code);
    ship_to["city"] = json!(city);
    order
}

async fn put_centroids(app: &TestApp, csv: &'static str) -> reqwest::Response {
    app.client
        .put(app.url("/api/v1/fulfillment/postal-centroids"))
        .bearer_auth(super::ADMIN)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_ship_to_without_coordinates_is_located_by_its_postal_code_and_an_operator_overrides_it()
{
    for app in apps().await {
        network(&app).await;
        stock(&app, "SKU-1", "SEA", 3).await;
        stock(&app, "SKU-1", "PDX", 3).await;
        // Downtown Seattle, from the postal codes that ship with iom.
        let order = without_coordinates("zip-1", Some("98101-2345"), None);
        let shipped = plan(&app, json!({"order": order.clone()})).await;
        assert_eq!(
            picks(&shipped),
            [("SEA".to_owned(), 1)],
            "{}: {shipped}",
            app.backend
        );
        assert!(shipped["distance_km"].as_f64().unwrap() < 5.0, "{shipped}");

        let bad = put_centroids(
            &app,
            "country,postal_code,lat,lon\nUS,98101,47.61,-122.33\nUS,99999,north,0\n",
        )
        .await;
        assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let problem: Value = bad.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], "line 3", "{problem}");
        // The operator puts 98101 in Portland: their centroid wins over the shipped one.
        let good = put_centroids(
            &app,
            "country,postal_code,lat,lon\nUS,98101,45.51,-122.69\nUS,97201,45.51,-122.69\n",
        )
        .await;
        assert_eq!(good.status(), StatusCode::OK);
        assert_eq!(good.json::<Value>().await.unwrap()["loaded"], 2);
        let overridden = plan(&app, json!({"order": order})).await;
        assert_eq!(
            picks(&overridden),
            [("PDX".to_owned(), 1)],
            "{}: {overridden}",
            app.backend
        );
    }
}

#[tokio::test]
async fn without_a_known_postal_code_the_city_then_the_country_places_the_ship_to() {
    for app in apps().await {
        network(&app).await;
        stock(&app, "SKU-1", "SEA", 3).await;
        stock(&app, "SKU-1", "PDX", 3).await;
        let by_city = plan(
            &app,
            json!({"order": without_coordinates("city-1", Some("00000"), Some("PORTLAND"))}),
        )
        .await;
        assert_eq!(picks(&by_city), [("PDX".to_owned(), 1)], "{by_city}");
        assert!(by_city["distance_km"].as_f64().unwrap() < 10.0, "{by_city}");

        // The US as a whole is far from both, but it is somewhere: the order is placed.
        let by_country = plan(
            &app,
            json!({"order": without_coordinates("country-1", None, None)}),
        )
        .await;
        assert_eq!(by_country["status"], "fully_sourced", "{by_country}");
        assert!(by_country["distance_km"].as_f64().unwrap() > 1000.0);

        // Bouvet Island has no postal codes, no cities and no one living there.
        let mut nowhere = without_coordinates("none-1", None, None);
        nowhere["ship_to"]["country"] = json!("BV");
        let unlocated = plan(&app, json!({"order": nowhere})).await;
        assert!(
            unlocated["assignments"].as_array().unwrap().is_empty(),
            "{unlocated}"
        );
        assert_eq!(
            unlocated["unassigned"][0]["reason"], "no_ship_to_location",
            "{unlocated}"
        );
    }
}

#[tokio::test]
async fn every_captured_order_says_how_its_ship_to_is_located() {
    for app in apps().await {
        let loaded = put_centroids(
            &app,
            "country,postal_code,lat,lon\nUS,00001,47.61,-122.33\n",
        )
        .await;
        assert_eq!(loaded.status(), StatusCode::OK);
        let mut berlin = without_coordinates("loc-city", None, Some("Berlin"));
        berlin["ship_to"]["country"] = json!("DE");
        let mut bouvet = without_coordinates("loc-none", None, None);
        bouvet["ship_to"]["country"] = json!("BV");
        for (body, located_by) in [
            (order_body("loc-coords", &[1]), "coordinates"),
            (
                without_coordinates("loc-zip", Some("98101"), None),
                "postal_code",
            ),
            // Known only to the operator's centroids.
            (
                without_coordinates("loc-operator", Some("00001"), None),
                "postal_code",
            ),
            (berlin, "city"),
            (
                without_coordinates("loc-country", Some("00000"), Some("Nowhere Special")),
                "country",
            ),
            (bouvet, "none"),
        ] {
            let external_id = body["external_id"].clone();
            let (status, created) = app.post("/api/v1/orders", body).await;
            assert_eq!(status, StatusCode::CREATED, "{created}");
            let (_, order) = app
                .get(&format!(
                    "/api/v1/orders/{}",
                    created["id"].as_str().unwrap()
                ))
                .await;
            assert_eq!(
                order["ship_to"]["located_by"], located_by,
                "{}: {external_id}: {order}",
                app.backend
            );
        }
        let (_, doc) = app.get("/api/v1/openapi.json").await;
        let schemas = &doc["components"]["schemas"];
        assert!(
            schemas["Address"]["properties"]["located_by"].is_object(),
            "{}",
            schemas["Address"]
        );
        assert!(
            schemas["LocatedBy"].to_string().contains("postal_code"),
            "{}",
            schemas["LocatedBy"]
        );
    }
}

#[tokio::test]
async fn an_order_stored_without_located_by_says_it_when_read() {
    for app in apps().await {
        // As stored before capture recorded it: straight into the store, not through capture.
        let intake: iom_domain::OrderIntake =
            serde_json::from_value(without_coordinates("old-1", Some("98101"), None)).unwrap();
        let order = intake.validate(chrono::Utc::now()).unwrap();
        assert_eq!(order.ship_to.as_ref().unwrap().located_by, None);
        let id = order.id;
        app.server
            .state
            .store
            .create_order(order, None, Box::new(|_| (201, String::new())))
            .await
            .unwrap();
        let (_, read) = app.get(&format!("/api/v1/orders/{id}")).await;
        assert_eq!(read["ship_to"]["located_by"], "postal_code", "{read}");
    }
}

/// Polls the order until `done` says yes; panics with the order and its runs after 15 s.
async fn wait_order(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let (_, order) = app.get(&format!("/api/v1/orders/{id}")).await;
        if done(&order) {
            return order;
        }
        if std::time::Instant::now() > deadline {
            let (_, runs) = app.get(&format!("/api/v1/orders/{id}/runs")).await;
            panic!("{}: order {id} is {order}\nruns: {runs:#}", app.backend);
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn an_order_without_coordinates_is_placed_by_the_flow_as_the_plan_places_it() {
    for app in apps_with_flows().await {
        network(&app).await;
        stock(&app, "SKU-1", "SEA", 3).await;
        stock(&app, "SKU-1", "PDX", 3).await;
        // As an EDI 850 brings it: a Portland ZIP+4 and no coordinates.
        let order = without_coordinates("edi-1", Some("97201-1234"), Some("Portland"));
        let planned = plan(&app, json!({"order": order.clone()})).await;
        assert_eq!(picks(&planned), [("PDX".to_owned(), 1)], "{planned}");

        let (status, created) = app.post("/api/v1/orders", order).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let id = created["id"].as_str().unwrap();
        let done = wait_order(&app, id, |o| {
            o["status"] == "released" || o["status"] == "backordered"
        })
        .await;
        assert_eq!(done["status"], "released", "{}: {done}", app.backend);
        assert_eq!(done["lines"][0]["node"], "PDX", "{done}");
        assert_eq!(done["ship_to"]["located_by"], "postal_code");
    }
}
