//! Every figure the inventory keeps equals a recomputation from its records: on-hand from the
//! ledger, reserved from active reservations, allocated from allocations. Random sequences of
//! operations, run against the real store (SQLite, and PostgreSQL when configured).

use std::collections::HashMap;

use iom_app::Inventory;
use iom_app::inventory::ReserveRequest;
use iom_inventory::{Change, ChangeKind};
use iom_store::inventory::{self as rows, AllocationRow};
use iom_store::nodes::NodeRecord;
use iom_store::{Store, StoreError};
use proptest::prelude::*;

const SKUS: [&str; 2] = ["A", "B"];
const NODES: [&str; 2] = ["N1", "N2"];

#[derive(Debug, Clone)]
enum Op {
    Delta(usize, usize, i64),
    Set(usize, usize, i64),
    Reserve(usize, usize, i64, bool),
    Release(usize),
    Allocate(usize, usize, i64),
    Replay,
}

fn op() -> impl Strategy<Value = Op> {
    let s = 0..SKUS.len();
    let n = 0..NODES.len();
    prop_oneof![
        (s.clone(), n.clone(), -6i64..12).prop_map(|(s, n, q)| Op::Delta(s, n, q)),
        (s.clone(), n.clone(), 0i64..15).prop_map(|(s, n, q)| Op::Set(s, n, q)),
        (s.clone(), n.clone(), 1i64..6, any::<bool>())
            .prop_map(|(s, n, q, g)| Op::Reserve(s, n, q, g)),
        (0usize..20).prop_map(Op::Release),
        (s, n, 0i64..6).prop_map(|(s, n, q)| Op::Allocate(s, n, q)),
        Just(Op::Replay),
    ]
}

/// A warehouse with this node-wide safety stock.
fn warehouse(code: &str, safety_stock: i64) -> NodeRecord {
    NodeRecord {
        code: code.into(),
        kind: "warehouse".into(),
        active: true,
        safety_stock,
        doc: serde_json::json!({}),
        updated_at: chrono::Utc::now(),
    }
}

async fn run(store: Store, ops: Vec<Op>) -> Result<(), StoreError> {
    let inventory = Inventory::new(store.clone());
    for (i, node) in NODES.iter().enumerate() {
        store.put_node(warehouse(node, i as i64)).await?;
    }
    let mut reservations = Vec::new();
    let mut last_batch: Vec<Change> = Vec::new();
    for (i, op) in ops.into_iter().enumerate() {
        let change = |s: usize, n: usize, kind, q| Change {
            id: format!("c{i}"),
            sku: SKUS[s].into(),
            node: NODES[n].into(),
            kind,
            quantity: q,
            reason: None,
            source: None,
        };
        // Refusals (a count below reserved, a reservation that does not fit) are part of the
        // sequence: they must change nothing.
        let _ = match op {
            Op::Delta(s, n, q) => {
                last_batch = vec![change(s, n, ChangeKind::Delta, q)];
                inventory
                    .apply_changes(last_batch.clone())
                    .await
                    .map(|_| ())
            }
            Op::Set(s, n, q) => {
                last_batch = vec![change(s, n, ChangeKind::Set, q)];
                inventory
                    .apply_changes(last_batch.clone())
                    .await
                    .map(|_| ())
            }
            Op::Replay => inventory
                .apply_changes(last_batch.clone())
                .await
                .map(|_| ()),
            Op::Reserve(s, n, q, grouped) => inventory
                .reserve(ReserveRequest {
                    sku: SKUS[s].into(),
                    node: NODES[n].into(),
                    quantity: q,
                    reference: None,
                    order_id: None,
                    line_no: None,
                    expires_at: None,
                    group: grouped.then(|| ("channel".to_owned(), "web".to_owned())),
                })
                .await
                .map(|r| reservations.push(r.id)),
            Op::Release(k) if !reservations.is_empty() => inventory
                .release(reservations[k % reservations.len()].clone())
                .await
                .map(|_| ()),
            Op::Release(_) => Ok(()),
            Op::Allocate(s, n, q) => inventory
                .put_allocation(AllocationRow {
                    id: format!("web-{s}-{n}"),
                    sku: SKUS[s].into(),
                    node: NODES[n].into(),
                    group_kind: "channel".into(),
                    group_value: "web".into(),
                    quantity: q,
                    consumed: 0,
                })
                .await
                .map(|_| ()),
        };
    }
    let skus: Vec<String> = SKUS.iter().map(|s| (*s).to_owned()).collect();
    let balances = store.balances(skus, vec![]).await?;
    store
        .read(move |c| {
            for b in &balances {
                let ledger = rows::ledger(c, &b.sku, &b.node)?;
                let from_ledger: i64 = ledger.iter().map(|l| l.delta).sum();
                assert_eq!(
                    b.on_hand, from_ledger,
                    "{}/{} on-hand vs ledger deltas",
                    b.sku, b.node
                );
                assert_eq!(b.on_hand, ledger.last().map_or(0, |l| l.on_hand_after));
                let reserved: i64 = rows::active_reservations(c, &b.sku, &b.node)?
                    .iter()
                    .map(|r| r.quantity)
                    .sum();
                assert_eq!(b.reserved, reserved, "{}/{} reserved", b.sku, b.node);
                let allocated: i64 = rows::allocations(c, &b.sku, Some(&b.node))?
                    .iter()
                    .map(|a| (a.quantity - a.consumed).max(0))
                    .sum();
                assert_eq!(b.allocated, allocated, "{}/{} allocated", b.sku, b.node);
                let safety: i64 = if b.node == "N2" { 1 } else { 0 };
                assert_eq!(b.available, b.on_hand - b.reserved - b.allocated - safety);
                let ids: HashMap<String, ()> =
                    ledger.iter().map(|l| (l.change_id.clone(), ())).collect();
                assert_eq!(ids.len(), ledger.len(), "no change applied twice");
            }
            Ok(())
        })
        .await
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn balances_equal_a_recomputation_from_the_records(ops in proptest::collection::vec(op(), 1..30)) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            for db in iom_store::testing::all() {
                let store = Store::open(&db.url).await.unwrap();
                run(store, ops.clone()).await.unwrap();
            }
        });
    }
}

/// A pair's first figures are written with the change or allocation that creates them (on
/// SQLite no empty row is written first): the row carries the node's safety stock, a safety
/// stock override alone creates it too, and a refused reservation leaves no row behind.
#[tokio::test]
async fn a_new_pair_gets_its_row_with_the_change_that_creates_it() {
    for db in iom_store::testing::all() {
        let store = Store::open(&db.url).await.unwrap();
        let inventory = Inventory::new(store.clone());
        store.put_node(warehouse("N1", 2)).await.unwrap();
        let outcome = inventory
            .apply_changes(vec![Change {
                id: "first".into(),
                sku: "NEW".into(),
                node: "N1".into(),
                kind: ChangeKind::Delta,
                quantity: 7,
                reason: None,
                source: None,
            }])
            .await
            .unwrap();
        assert_eq!(outcome.applied, 1);
        assert_eq!(
            (outcome.balances[0].on_hand, outcome.balances[0].available),
            (7, 5)
        );
        let refused = inventory
            .reserve(ReserveRequest {
                sku: "NEVER".into(),
                node: "N1".into(),
                quantity: 1,
                reference: None,
                order_id: None,
                line_no: None,
                expires_at: None,
                group: None,
            })
            .await;
        assert!(matches!(refused, Err(StoreError::Domain(_))), "{refused:?}");
        inventory
            .set_safety_stock("GUARDED".into(), "N1".into(), Some(3))
            .await
            .unwrap();
        let balances = store
            .balances(vec!["NEW".into(), "NEVER".into(), "GUARDED".into()], vec![])
            .await
            .unwrap();
        let figures: Vec<(&str, i64, i64, i64)> = balances
            .iter()
            .map(|b| (b.sku.as_str(), b.on_hand, b.safety_stock, b.available))
            .collect();
        assert_eq!(
            figures,
            vec![("GUARDED", 0, 3, -3), ("NEW", 7, 2, 5)],
            "{}",
            db.url
        );
        let ledger = store.read(|c| rows::ledger(c, "NEW", "N1")).await.unwrap();
        assert_eq!(ledger.len(), 1);
        assert_eq!(ledger[0].on_hand_after, 7);
    }
}
