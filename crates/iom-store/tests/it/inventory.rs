//! Reads of inventory that go with an order.

use std::collections::BTreeSet;

use iom_store::inventory::{self, Key, StoredPosition};

use super::{add_node, create, order, stores};

/// The balances read with an order for planning are the ones `balances_in` reads for its SKUs,
/// and the answer names every SKU it covered, one with no balance too.
#[tokio::test]
async fn an_orders_balances_read_with_it_are_those_of_its_skus() {
    for (store, db) in stores().await {
        let o = order("web", "1", &["A", "B", "A"]);
        create(&store, o.clone()).await;
        let (skus, read, direct) = store
            .write(move |tx| {
                add_node(tx, "N1")?;
                add_node(tx, "N2")?;
                let keys: Vec<Key> = [("A", "N2"), ("A", "N1"), ("C", "N1")]
                    .into_iter()
                    .map(|(s, n)| (s.to_owned(), n.to_owned()))
                    .collect();
                inventory::lock_positions(tx, &keys)?;
                let p = StoredPosition {
                    on_hand: 10,
                    reserved: 2,
                    ..StoredPosition::default()
                };
                let rows: Vec<(&Key, &StoredPosition)> = keys.iter().map(|k| (k, &p)).collect();
                inventory::save_positions(tx, &rows)?;
                let later = inventory::order_balances_later(tx.conn(), &o.id.to_string())?;
                let (loaded, _) =
                    inventory::order_with_reservations(tx.conn(), o.id)?.expect("the order");
                assert_eq!(loaded.id, o.id);
                let (skus, read) = later.take()?;
                let direct = inventory::balances_in(tx.conn(), &["A".into(), "B".into()], &[])?;
                Ok((skus, read, direct))
            })
            .await
            .unwrap();
        assert_eq!(
            skus,
            BTreeSet::from(["A".to_owned(), "B".to_owned()]),
            "{}",
            db.backend
        );
        let nodes: Vec<(&str, &str, i64)> = read
            .iter()
            .map(|b| (b.sku.as_str(), b.node.as_str(), b.available))
            .collect();
        assert_eq!(nodes, [("A", "N1", 8), ("A", "N2", 8)], "{}", db.backend);
        assert_eq!(read, direct, "{}", db.backend);
    }
}
