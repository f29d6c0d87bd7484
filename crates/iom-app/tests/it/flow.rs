//! The executor against a real store (SQLite and PostgreSQL), driven pass by pass: what needs a
//! clock (a backorder that expires) without a server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use iom_app::flow::{Executor, ExecutorConfig, NoOutbound};
use iom_domain::{OrderId, OrderStatus, RunStatus};
use iom_store::Store;

async fn status_after_passes(
    executor: &Executor,
    store: &Store,
    id: OrderId,
    want: OrderStatus,
) -> iom_domain::Order {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        executor.run_once().await.unwrap();
        let order = store.get_order(id).await.unwrap().unwrap();
        if order.status == want {
            return order;
        }
        assert!(Instant::now() < deadline, "order is {:?}", order.status);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A store on `db` and its executor, with the default flows published.
async fn with_defaults(db: &iom_store::testing::TestDb) -> (Store, Executor) {
    let store = Store::open(&db.url).await.unwrap();
    let executor = Executor::new(
        store.clone(),
        Arc::new(NoOutbound),
        ExecutorConfig::default(),
    );
    executor.install_defaults().await.unwrap();
    (store, executor)
}

/// As [`with_defaults`], and `source` published as `name`.
async fn with_flow(db: &iom_store::testing::TestDb, name: &str, source: &str) -> (Store, Executor) {
    let (store, executor) = with_defaults(db).await;
    executor.put_flow(name, source, "yaml").await.unwrap();
    executor.publish(name, None).await.unwrap();
    (store, executor)
}

#[tokio::test]
async fn a_backorder_without_supply_is_cancelled_when_its_time_is_up() {
    for db in iom_store::testing::all() {
        let store = Store::open(&db.url).await.unwrap();
        seattle_with_stock(&store, 0).await;
        let executor = Executor::new(
            store.clone(),
            Arc::new(NoOutbound),
            ExecutorConfig {
                backorder_cancel_after: Some(Duration::from_millis(300)),
                ..ExecutorConfig::default()
            },
        );
        executor.install_defaults().await.unwrap();
        let id = capture_in_seattle(&store).await;

        let backordered =
            status_after_passes(&executor, &store, id, OrderStatus::Backordered).await;
        assert_eq!(backordered.status_reason.as_deref(), Some("no_inventory"));
        let cancelled = status_after_passes(&executor, &store, id, OrderStatus::Cancelled).await;
        assert_eq!(
            cancelled.status_reason.as_deref(),
            Some("backorder_expired")
        );
        let runs = store.order_runs(id.to_string()).await.unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].0.status, RunStatus::Cancelled);
        assert!(runs[0].0.wake_at.is_none());
    }
}

/// A step that fails after it changed the order (risk-score writes the score, then fails above
/// the threshold) leaves no change behind, in a pass that also drives a run whose steps succeed;
/// `on_failure: continue` goes on to the next step.
#[tokio::test]
async fn a_step_that_fails_after_changing_the_order_leaves_no_change() {
    const FLOW: &str = "name: risky
type: order
trigger: order.received
priority: 10
steps:
  - id: score
    uses: risk-score
    with: {fail_above: 0}
    on_failure: continue
  - id: mark
    uses: set-attribute
    with: {name: checked, value: true}
";
    for db in iom_store::testing::all() {
        let (store, executor) = with_flow(&db, "risky", FLOW).await;
        let safe = super::order(super::web_order());
        let mut intake = super::web_order();
        intake["external_id"] = "1002".into();
        // 2 × 899.00: above 1000, 30 points.
        intake["lines"][0]["quantity"] = 2.into();
        let risky = super::order(intake);
        for order in [&safe, &risky] {
            store
                .create_order(order.clone(), None, Box::new(|_| (201, String::new())))
                .await
                .unwrap();
        }

        let deadline = Instant::now() + Duration::from_secs(10);
        let runs = loop {
            executor.run_once().await.unwrap();
            let mut runs = Vec::new();
            for id in [safe.id, risky.id] {
                runs.extend(store.order_runs(id.to_string()).await.unwrap());
            }
            if runs.len() == 2 && runs.iter().all(|(r, _)| r.status == RunStatus::Completed) {
                break runs;
            }
            assert!(Instant::now() < deadline, "{}: {runs:?}", db.backend);
        };

        let safe_now = store.get_order(safe.id).await.unwrap().unwrap();
        assert_eq!(safe_now.attributes["risk_score"], 0, "{}", db.backend);
        assert_eq!(safe_now.attributes["checked"], true);
        let risky_now = store.get_order(risky.id).await.unwrap().unwrap();
        assert!(
            !risky_now.attributes.contains_key("risk_score"),
            "{}: the failed step's change stayed: {:?}",
            db.backend,
            risky_now.attributes
        );
        assert_eq!(risky_now.attributes["checked"], true);
        let (_, steps) = runs
            .iter()
            .find(|(r, _)| r.subject == risky.id.to_string())
            .unwrap();
        let statuses: Vec<(&str, &str)> = steps
            .iter()
            .map(|s| (s.step.as_str(), s.status.as_str()))
            .collect();
        assert_eq!(statuses, [("score", "failed"), ("mark", "succeeded")]);
        assert!(
            steps[0]
                .error
                .as_deref()
                .unwrap()
                .contains("risk score 30 is above 0"),
            "{:?}",
            steps[0].error
        );
        // Neither the attribute nor its event: the order's timeline has no risk score.
        let events = store.subject_events(risky.id.to_string()).await.unwrap();
        assert!(
            events
                .iter()
                .filter(|e| e.kind == "order.attributes_changed")
                .all(|e| e.data["attributes"].get("risk_score").is_none()),
            "{events:?}"
        );
    }
}

/// A run's order is written once when its turn ends: what its steps changed before a step that
/// failed is kept, and what the failed step changed is not.
#[tokio::test]
async fn changes_made_before_a_failed_step_are_written_when_the_run_stops() {
    const FLOW: &str = "name: checked-then-risky
type: order
trigger: order.received
priority: 10
steps:
  - id: mark
    uses: set-attribute
    with: {name: checked, value: true}
  - id: score
    uses: risk-score
    with: {fail_above: 0}
";
    for db in iom_store::testing::all() {
        let (store, executor) = with_flow(&db, "checked-then-risky", FLOW).await;
        let mut intake = super::web_order();
        // 2 × 899.00: above 1000, 30 points.
        intake["lines"][0]["quantity"] = 2.into();
        let order = super::order(intake);
        store
            .create_order(order.clone(), None, Box::new(|_| (201, String::new())))
            .await
            .unwrap();

        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            executor.run_once().await.unwrap();
            let runs = store.order_runs(order.id.to_string()).await.unwrap();
            if runs.iter().any(|(r, _)| r.status == RunStatus::Failed) {
                break;
            }
            assert!(Instant::now() < deadline, "{}: {runs:?}", db.backend);
        }
        let now = store.get_order(order.id).await.unwrap().unwrap();
        assert_eq!(
            now.attributes.get("checked"),
            Some(&serde_json::Value::Bool(true)),
            "{}: the change before the failed step was lost: {:?}",
            db.backend,
            now.attributes
        );
        assert!(
            !now.attributes.contains_key("risk_score"),
            "{}: the failed step's change stayed",
            db.backend
        );
        // The timeline agrees with the order: the mark announced, the score not.
        let events = store.subject_events(order.id.to_string()).await.unwrap();
        let changed: Vec<&serde_json::Value> = events
            .iter()
            .filter(|e| e.kind == "order.attributes_changed")
            .map(|e| &e.data["attributes"])
            .collect();
        assert!(
            changed.iter().any(|a| a.get("checked").is_some()),
            "{}: {events:?}",
            db.backend
        );
        assert!(
            changed.iter().all(|a| a.get("risk_score").is_none()),
            "{}: {events:?}",
            db.backend
        );
    }
}

/// A trigger met again (the dispatcher's cursor set back by hand) finds its run and starts no
/// second one, so the flow's steps do not run twice.
#[tokio::test]
async fn a_trigger_met_again_starts_no_second_run() {
    const FLOW: &str = "name: announce
type: order
trigger: order.received
steps:
  - id: announce
    uses: emit-event
    with: {type: order.announced}
";
    for db in iom_store::testing::all() {
        // Of the two order flows (this one and the default), the first by name runs.
        let (store, executor) = with_flow(&db, "announce", FLOW).await;
        let order = super::order(super::web_order());
        let id = order.id;
        store
            .create_order(order, None, Box::new(|_| (201, String::new())))
            .await
            .unwrap();
        let announced = || async {
            let events = store.subject_events(id.to_string()).await.unwrap();
            events
                .iter()
                .filter(|e| e.kind == "order.announced")
                .count()
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while announced().await == 0 {
            executor.run_once().await.unwrap();
            assert!(Instant::now() < deadline, "{}: never announced", db.backend);
        }
        let runs = store.order_runs(id.to_string()).await.unwrap();
        assert_eq!(runs.len(), 1, "{}", db.backend);
        assert_eq!(runs[0].0.status, RunStatus::Completed, "{}", db.backend);

        store
            .write(|tx| {
                tx.conn()
                    .execute("UPDATE flow_cursors SET seq = 0 WHERE name = 'flows'", &[])?;
                Ok(())
            })
            .await
            .unwrap();
        for _ in 0..3 {
            executor.run_once().await.unwrap();
        }
        assert_eq!(announced().await, 1, "{}", db.backend);
        assert_eq!(
            store.order_runs(id.to_string()).await.unwrap().len(),
            1,
            "{}",
            db.backend
        );
    }
}

/// Captures `super::web_order()` with its ship-to in Seattle; its id.
async fn capture_in_seattle(store: &Store) -> OrderId {
    let mut intake = super::web_order();
    intake["ship_to"]["lat"] = 47.61.into();
    intake["ship_to"]["lon"] = (-122.33).into();
    let order = super::order(intake);
    let id = order.id;
    store
        .create_order(order, None, Box::new(|_| (201, String::new())))
        .await
        .unwrap();
    id
}

/// A warehouse in Seattle, with `stock` units of each SKU of `super::web_order()` (none: no
/// balance at all).
async fn seattle_with_stock(store: &Store, stock: i64) {
    store
        .put_node(iom_store::nodes::NodeRecord {
            code: "SEA".into(),
            kind: "warehouse".into(),
            active: true,
            safety_stock: 0,
            doc: serde_json::json!({"kind": "warehouse", "location": {"lat": 47.61, "lon": -122.33}}),
            updated_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    if stock > 0 {
        receive(store, "initial", stock).await;
    }
}

/// `quantity` units of each SKU of `super::web_order()` arrive at SEA.
async fn receive(store: &Store, id: &str, quantity: i64) {
    let changes = ["BULKY-SOFA", "LAMP"]
        .into_iter()
        .map(|sku| iom_inventory::Change {
            id: format!("{id}-{sku}"),
            sku: sku.into(),
            node: "SEA".into(),
            kind: iom_inventory::ChangeKind::Delta,
            quantity,
            reason: Some("receipt".into()),
            source: None,
        })
        .collect();
    iom_app::Inventory::new(store.clone())
        .apply_changes(changes)
        .await
        .unwrap();
}

/// Planning inside a parallel block backorders the order; when supply arrives the run goes back
/// to that branch with the other branch's progress kept, and goes on past the block: it reserves
/// and releases, and the other branch's step ran once.
#[tokio::test]
async fn a_backorder_inside_a_parallel_block_resumes_reserves_and_releases() {
    const FLOW: &str = "name: parallel-plan
type: order
trigger: order.received
priority: 10
steps:
  - id: both
    parallel:
      sourcing:
        - id: plan
          uses: plan-fulfillment
          on_failure: backorder
      marking:
        - id: mark
          uses: set-attribute
          with: {name: marked, value: true}
  - id: reserve
    uses: reserve-inventory
    on_failure: backorder
  - id: release
    uses: release-to-nodes
";
    for db in iom_store::testing::all() {
        let (store, executor) = with_flow(&db, "parallel-plan", FLOW).await;
        seattle_with_stock(&store, 0).await;
        let id = capture_in_seattle(&store).await;
        status_after_passes(&executor, &store, id, OrderStatus::Backordered).await;

        receive(&store, "arrived", 5).await;
        let released = status_after_passes(&executor, &store, id, OrderStatus::Released).await;
        assert_eq!(released.attributes["marked"], true, "{}", db.backend);
        let reservations = iom_app::Inventory::new(store.clone())
            .order_reservations(id.to_string())
            .await
            .unwrap();
        assert_eq!(reservations.len(), 2, "{}: {reservations:?}", db.backend);
        let runs = store.order_runs(id.to_string()).await.unwrap();
        let (run, steps) = runs
            .iter()
            .find(|(r, _)| r.flow == "parallel-plan")
            .expect("the flow ran");
        assert_eq!(run.status, RunStatus::Completed, "{}", db.backend);
        let marks = steps.iter().filter(|s| s.step == "mark").count();
        assert_eq!(marks, 1, "{}: the other branch ran once", db.backend);
    }
}

/// The default flow locates a ship-to without coordinates by its postal code's stored centroid,
/// as `POST /fulfillment/plan` does, instead of backordering it as unlocatable.
#[tokio::test]
async fn the_default_flow_locates_a_ship_to_by_its_postal_code() {
    for db in iom_store::testing::all() {
        let (store, executor) = with_defaults(&db).await;
        seattle_with_stock(&store, 5).await;
        store
            .put_postal_centroids(vec![("US".into(), "98101".into(), 47.61, -122.33)])
            .await
            .unwrap();
        // The ship-to has a postal code and no coordinates, as an EDI 850's N4 gives it.
        let order = super::order(super::web_order());
        assert!(order.ship_to.as_ref().unwrap().geo().is_none());
        let id = order.id;
        store
            .create_order(order, None, Box::new(|_| (201, String::new())))
            .await
            .unwrap();
        let released = status_after_passes(&executor, &store, id, OrderStatus::Released).await;
        assert!(
            released
                .lines
                .iter()
                .all(|l| l.node.as_deref() == Some("SEA")),
            "{}: {:?}",
            db.backend,
            released.lines
        );
    }
}

/// One shipment of every line, two of them of the same SKU at the same node: each reservation is
/// consumed, the balance drops by the whole shipment, and the ledger's on-hand after each line
/// follows the one before.
#[tokio::test]
async fn a_shipment_of_several_lines_consumes_each_reservation_in_turn() {
    use iom_app::orders::{OrderAction, act};
    use iom_domain::ShipmentRequest;
    for db in iom_store::testing::all() {
        let store = Store::open(&db.url).await.unwrap();
        seattle_with_stock(&store, 10).await;
        let mut intake = super::web_order();
        intake["lines"].as_array_mut().unwrap().push(
            serde_json::json!({"line_no": 3, "sku": "LAMP", "quantity": 1, "unit_price": "19.99"}),
        );
        let order = super::order(intake);
        let id = order.id;
        store
            .create_order(order.clone(), None, Box::new(|_| (201, String::new())))
            .await
            .unwrap();
        let inventory = iom_app::Inventory::new(store.clone());
        for line in &order.lines {
            inventory
                .reserve(iom_app::inventory::ReserveRequest {
                    sku: line.sku.clone(),
                    node: "SEA".into(),
                    quantity: i64::from(line.quantity),
                    reference: None,
                    order_id: Some(id.to_string()),
                    line_no: Some(i64::from(line.line_no)),
                    expires_at: None,
                    group: None,
                })
                .await
                .unwrap();
        }
        let shipment = ShipmentRequest {
            node: Some("SEA".into()),
            lines: Some(
                order
                    .lines
                    .iter()
                    .map(|l| iom_domain::order::LineQuantityRequest {
                        line_no: Some(i64::from(l.line_no)),
                        quantity: Some(i64::from(l.quantity)),
                    })
                    .collect(),
            ),
            ..ShipmentRequest::default()
        };
        act(&store, id, OrderAction::Ship(shipment)).await.unwrap();

        let lamp = store
            .balances(vec!["LAMP".into()], vec!["SEA".into()])
            .await
            .unwrap();
        assert_eq!(
            (lamp[0].on_hand, lamp[0].reserved),
            (7, 0),
            "{}",
            db.backend
        );
        assert!(
            inventory
                .order_reservations(id.to_string())
                .await
                .unwrap()
                .is_empty()
        );
        let after: Vec<i64> = store
            .read(|c| {
                c.query(
                    "SELECT on_hand_after FROM inventory_ledger WHERE sku = 'LAMP' AND kind = 'consume' ORDER BY seq",
                    &[],
                )?
                .into_iter()
                .map(|r| r.int(0))
                .collect()
            })
            .await
            .unwrap();
        assert_eq!(after, vec![8, 7], "{}", db.backend);
    }
}
