use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use iom_store::{CreateOutcome, Store};

use super::{create, order, stores};

#[tokio::test]
async fn events_are_read_in_order_and_filtered_by_type() {
    for (store, db) in stores().await {
        let o = order("web", "1", &["A"]);
        create(&store, o.clone()).await;
        store
            .update_order(o.id, |o, now| o.hold("manual", None, now))
            .await
            .unwrap();
        store
            .update_order(o.id, |o, now| o.release_hold(None, now))
            .await
            .unwrap();
        store
            .update_order(o.id, |o, now| o.cancel("manual", now))
            .await
            .unwrap();

        let all = store.events_after(0, None, 100).await.unwrap();
        let kinds: Vec<&str> = all.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(
            kinds,
            vec![
                "order.received",
                "order.held",
                "order.hold_released",
                "order.cancelled"
            ],
            "{}",
            db.backend
        );
        assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));

        let after_first = store.events_after(all[0].seq, None, 100).await.unwrap();
        assert_eq!(after_first.len(), 3);
        let two = store.events_after(0, None, 2).await.unwrap();
        assert_eq!(two.len(), 2);

        let held = store
            .events_after(0, Some("order.held".into()), 100)
            .await
            .unwrap();
        assert_eq!(held.len(), 1);
        let hold_prefix = store
            .events_after(0, Some("order.h*".into()), 100)
            .await
            .unwrap();
        assert_eq!(hold_prefix.len(), 2);
        let several = store
            .events_after(0, Some("order.received, order.cancelled".into()), 100)
            .await
            .unwrap();
        assert_eq!(several.len(), 2);
        assert!(
            store
                .events_after(0, Some("inventory.*".into()), 100)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store
                .events_after(0, Some("*".into()), 100)
                .await
                .unwrap()
                .len(),
            4
        );
        assert_eq!(store.last_event_seq().await.unwrap(), all[3].seq);
    }
}

/// A consumer that pages with `after = last seen` while many writers commit must end up with every
/// event: none may become visible behind one it has already read. On PostgreSQL two stores stand
/// for two processes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_paging_consumer_never_skips_an_event() {
    for (store, db) in stores().await {
        let second = Store::open(&db.url).await.unwrap();
        let writers = [store.clone(), second];
        let done = Arc::new(AtomicBool::new(false));
        let consumer = {
            let store = store.clone();
            let done = done.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut after = 0;
                loop {
                    let finished = done.load(Ordering::SeqCst);
                    let page = store.events_after(after, None, 500).await.unwrap();
                    if let Some(last) = page.last() {
                        after = last.seq;
                    }
                    let empty = page.is_empty();
                    seen.extend(page.into_iter().map(|e| e.seq));
                    if finished && empty {
                        return seen;
                    }
                }
            })
        };
        let mut tasks = Vec::new();
        for w in 0..16 {
            let store = writers[w % 2].clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..40 {
                    let outcome = create(&store, order("web", &format!("{w}-{i}"), &["A"])).await;
                    assert!(matches!(outcome, CreateOutcome::Created(_)));
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        done.store(true, Ordering::SeqCst);
        let seen = consumer.await.unwrap();
        let all: Vec<i64> = store
            .events_after(0, None, 10_000)
            .await
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(all.len(), 640, "{}", db.backend);
        assert_eq!(
            seen.iter().copied().collect::<BTreeSet<_>>().len(),
            seen.len(),
            "no event twice"
        );
        assert_eq!(
            seen, all,
            "{}: the consumer saw every event, in order",
            db.backend
        );
    }
}

#[tokio::test]
async fn a_scan_reads_past_the_events_of_other_types() {
    for (store, _db) in stores().await {
        let orders: Vec<_> = (0..3)
            .map(|i| order("web", &format!("s{i}"), &["A"]))
            .collect();
        for o in &orders {
            create(&store, o.clone()).await;
        }
        store
            .update_order(orders[0].id, |o, now| o.hold("manual", None, now))
            .await
            .unwrap();
        let head = store.last_event_seq().await.unwrap();

        let none = store
            .scan_events(0, "order.cancelled".into(), 100)
            .await
            .unwrap();
        assert!(none.events.is_empty());
        assert_eq!(none.read_to, head, "past every event of other types");

        let held = store
            .scan_events(0, "order.held".into(), 100)
            .await
            .unwrap();
        assert_eq!(held.events.len(), 1);
        assert_eq!(held.read_to, head);

        let full = store
            .scan_events(0, "order.received".into(), 2)
            .await
            .unwrap();
        assert_eq!(full.events.len(), 2);
        assert_eq!(
            full.read_to, full.events[1].seq,
            "a full page ends at its last event"
        );

        let at_head = store
            .scan_events(head, "order.received".into(), 100)
            .await
            .unwrap();
        assert!(at_head.events.is_empty());
        assert_eq!(at_head.read_to, head);
    }
}
