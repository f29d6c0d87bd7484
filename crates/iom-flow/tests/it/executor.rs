//! The executor against a real store (SQLite and PostgreSQL), driven pass by pass: what needs a
//! clock (a backorder that expires) without a server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use iom_domain::{OrderId, OrderStatus};
use iom_flow::executor::{Executor, ExecutorConfig, NoOutbound};
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

#[tokio::test]
async fn a_backorder_without_supply_is_cancelled_when_its_time_is_up() {
    for db in iom_store::testing::all() {
        let store = Store::open(&db.url).await.unwrap();
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
        let executor = Executor::new(
            store.clone(),
            Arc::new(NoOutbound),
            ExecutorConfig {
                backorder_cancel_after: Some(Duration::from_millis(300)),
                ..ExecutorConfig::default()
            },
        );
        executor.install_defaults().await.unwrap();
        let mut intake = super::web_order();
        intake["ship_to"]["lat"] = 47.61.into();
        intake["ship_to"]["lon"] = (-122.33).into();
        let order = super::order(intake);
        let id = order.id;
        store
            .create_order(order, None, Box::new(|_| (201, String::new())))
            .await
            .unwrap();

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
        assert_eq!(runs[0].0.status, "cancelled");
        assert!(runs[0].0.wake_at.is_none());
    }
}
