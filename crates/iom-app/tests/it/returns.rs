//! The returns service against real databases: SQLite always, PostgreSQL when
//! `IOM_TEST_POSTGRES_URL` is set. Two `Store`s on one database stand for two processes.

use chrono::Utc;
use iom_app::Inventory;
use iom_app::returns::{Authorized, RefundRequest, Returns};
use iom_domain::order::{LineQuantityRequest, ShipmentRequest};
use iom_domain::returns::{ReceiptIntake, ReceiptLineIntake, ReturnIntake, ReturnLineIntake};
use iom_domain::{DomainError, Order, OrderIntake, ReturnStatus};
use iom_store::nodes::NodeRecord;
use iom_store::testing::TestDb;
use iom_store::{CreateOutcome, Store, StoreError};
use serde_json::json;

async fn stores() -> Vec<(Store, TestDb)> {
    let mut out = Vec::new();
    for db in iom_store::testing::all() {
        out.push((Store::open(&db.url).await.expect("open"), db));
    }
    out
}

async fn node(store: &Store, code: &str) {
    store
        .put_node(NodeRecord {
            code: code.into(),
            kind: "warehouse".into(),
            active: true,
            safety_stock: 0,
            doc: json!({"code": code, "kind": "warehouse", "location": {"lat": 47.6, "lon": -122.3}}),
            updated_at: Utc::now(),
        })
        .await
        .unwrap();
}

/// An order of `quantity` × SKU-1 at 25.00, tax 2.00 per unit, all shipped from DC.
async fn shipped_order(store: &Store, external_id: &str, quantity: u32) -> Order {
    let intake: OrderIntake = serde_json::from_value(json!({
        "channel": "web", "external_id": external_id, "currency": "USD",
        "lines": [{"line_no": 1, "sku": "SKU-1", "quantity": quantity, "unit_price": "25.00",
                   "tax": (quantity * 2).to_string()}],
        "shipping_amount": "5.00",
    }))
    .unwrap();
    let order = intake.validate(Utc::now()).unwrap();
    let id = order.id;
    let outcome = store
        .create_order(order, None, Box::new(|_| (201, String::new())))
        .await
        .unwrap();
    assert!(matches!(outcome, CreateOutcome::Created(_)));
    store
        .update_order_with(
            id,
            move |o, now| {
                o.record_shipment(
                    ShipmentRequest {
                        node: Some("DC".into()),
                        lines: Some(vec![LineQuantityRequest {
                            line_no: Some(1),
                            quantity: Some(quantity.into()),
                        }]),
                        ..Default::default()
                    },
                    now,
                )
            },
            iom_app::inventory::order_effects,
        )
        .await
        .unwrap()
}

fn return_of(order: &Order, quantity: i64) -> ReturnIntake {
    ReturnIntake {
        order_id: Some(order.id.to_string()),
        origin: Some("store".into()),
        lines: Some(vec![ReturnLineIntake {
            line_no: Some(1),
            quantity: Some(quantity),
            reason: Some("defective".into()),
            ..Default::default()
        }]),
        ..Default::default()
    }
}

fn receipt(quantity: i64) -> ReceiptIntake {
    ReceiptIntake {
        node: Some("DC".into()),
        lines: Some(vec![ReceiptLineIntake {
            line_no: Some(1),
            quantity: Some(quantity),
            condition: Some("new".into()),
            disposition: Some("restock".into()),
        }]),
    }
}

async fn on_hand(store: &Store) -> i64 {
    let views = Inventory::new(store.clone())
        .view(vec!["SKU-1".into()], Vec::new(), None)
        .await
        .unwrap();
    views.first().map_or(0, |v| v.on_hand)
}

#[tokio::test]
async fn concurrent_receipts_from_two_processes_restock_once() {
    for (store, db) in stores().await {
        let other = Store::open(&db.url).await.unwrap();
        node(&store, "DC").await;
        let mut ids = Vec::new();
        for n in 0..5 {
            let order = shipped_order(&store, &format!("C-{n}"), 3).await;
            let Authorized::Created(ret) = Returns::new(store.clone())
                .authorize(return_of(&order, 3))
                .await
                .unwrap()
            else {
                panic!("created")
            };
            ids.push(ret.id);
        }
        // 20 receipts of each return at once, half through each "process".
        let mut calls = Vec::new();
        for id in &ids {
            for i in 0..20 {
                let service = Returns::new(if i % 2 == 0 {
                    store.clone()
                } else {
                    other.clone()
                });
                let id = id.clone();
                calls.push(tokio::spawn(async move {
                    service.receive(id, receipt(3)).await
                }));
            }
        }
        let mut ok = 0;
        for call in calls {
            match call.await.unwrap() {
                Ok(ret) => {
                    assert_eq!(ret.status, ReturnStatus::Received);
                    ok += 1;
                }
                Err(StoreError::Domain(DomainError::Conflict(_))) => {}
                Err(e) => panic!("{}: {e}", db.backend),
            }
        }
        assert_eq!(ok, ids.len(), "{}: one receipt per return", db.backend);
        assert_eq!(
            on_hand(&store).await,
            15,
            "{}: 5 returns × 3 units, once",
            db.backend
        );
        drop(other);
    }
}

#[tokio::test]
async fn refunds_never_exceed_what_was_paid_across_returns() {
    for (store, db) in stores().await {
        node(&store, "DC").await;
        let order = shipped_order(&store, "P-1", 3).await;
        let service = Returns::new(store.clone());
        let mut refunded = rust_decimal::Decimal::ZERO;
        for _ in 0..3 {
            let Authorized::Created(ret) = service.authorize(return_of(&order, 1)).await.unwrap()
            else {
                panic!("created")
            };
            service.receive(ret.id.clone(), receipt(1)).await.unwrap();
            let ret = service
                .refund(ret.id.clone(), RefundRequest::default())
                .await
                .unwrap();
            refunded += ret.refund.unwrap().amount;
            service.close(ret.id).await.unwrap();
        }
        let order = store.get_order(order.id).await.unwrap().unwrap();
        // 3 × (25.00 + 2.00) and the shipping once everything is back.
        assert_eq!(refunded.to_string(), "86.00", "{}", db.backend);
        assert_eq!(order.refunded_amount, order.totals.total);
        let e = service.authorize(return_of(&order, 1)).await.unwrap_err();
        assert!(
            matches!(e, StoreError::Domain(DomainError::Invalid(_))),
            "{e}"
        );
        assert_eq!(on_hand(&store).await, 3);
    }
}

#[test]
fn the_return_flow_compiles_with_todays_flow_compiler() {
    let plan = iom_flow::compile(iom_flow::RETURN_FLOW).expect("the return flow compiles");
    assert_eq!(plan.flow_type, iom_flow::FlowType::Return);
    assert_eq!(plan.triggers, ["return.authorized"]);
}
