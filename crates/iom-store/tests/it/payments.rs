use iom_store::payments::{self, Claim};
use rust_decimal::Decimal;

use super::stores;

fn claim(key: &str, amount: i64) -> Claim {
    Claim {
        key: key.into(),
        order_id: "o-1".into(),
        provider: "stripe".into(),
        kind: "capture",
        reference: "s-1".into(),
        amount: Decimal::new(amount, 2),
    }
}

#[tokio::test]
async fn payments_a_call_is_claimed_once_and_keeps_the_amount_it_was_claimed_with() {
    for (store, db) in stores().await {
        let first = store
            .write(|tx| {
                let now = tx.now();
                payments::claim(tx.conn(), &claim("k-1", 1537), now)
            })
            .await
            .unwrap();
        assert_eq!(first.status, "started", "{}", db.backend);
        assert_eq!(first.amount, Decimal::new(1537, 2));
        // Claimed again (a resume) with another amount: the call as first claimed.
        let again = store
            .write(|tx| {
                let now = tx.now();
                payments::claim(tx.conn(), &claim("k-1", 9999), now)
            })
            .await
            .unwrap();
        assert_eq!(again, first, "{}", db.backend);
        store
            .write(|tx| {
                let now = tx.now();
                payments::finish(tx.conn(), "k-1", "recorded", Some("pi_1"), None, now)
            })
            .await
            .unwrap();
        let calls = store.read(|c| payments::of_order(c, "o-1")).await.unwrap();
        assert_eq!(calls.len(), 1);
        assert!(calls[0].recorded());
        assert_eq!(calls[0].service_id.as_deref(), Some("pi_1"));
        assert_eq!(calls[0].amount.to_string(), "15.37");
    }
}
