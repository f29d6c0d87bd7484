//! Counts of long lists stop past the cap rather than visit every row.

use iom_store::keyset::COUNT_CAP;
use iom_store::providers::{Direction, MessageFilter, NewMessage};

use super::stores;

#[tokio::test]
async fn a_count_stops_one_past_the_cap() {
    for (store, _db) in stores().await {
        let total = COUNT_CAP as usize + 500;
        let messages = (0..total)
            .map(|i| NewMessage {
                provider: "busy".into(),
                direction: Direction::Inbound,
                kind: "850".into(),
                status: if i == 0 { "failed" } else { "processed" },
                payload: format!("document {i}").into_bytes(),
            })
            .collect();
        store.log_messages(messages).await.unwrap();
        let all = MessageFilter {
            provider: "busy".into(),
            ..MessageFilter::default()
        };
        assert_eq!(
            store.count_messages(all.clone()).await.unwrap(),
            COUNT_CAP + 1
        );
        let failed = MessageFilter {
            status: Some("failed".into()),
            ..all
        };
        assert_eq!(store.count_messages(failed).await.unwrap(), 1);
    }
}
