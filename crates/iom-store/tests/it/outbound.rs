//! Outbound documents and pull checkpoints: what keeps them exactly-once across processes.

use iom_store::Store;
use iom_store::outbound::{Attempt, Built, OutboundDocument};
use iom_store::providers::{Apply, Direction, NewMessage, Processed};

use super::{order, stores};

fn document(provider: &str, kind: &str, deliver: bool) -> OutboundDocument {
    let kind_text = kind.to_owned();
    OutboundDocument {
        provider: provider.into(),
        kind: kind.into(),
        order_ids: vec!["o-1".into()],
        deliver,
        numbered: true,
        once: None,
        build: Box::new(move |control| Ok(format!("{kind_text} #{control}").into_bytes().into())),
    }
}

#[tokio::test]
async fn a_one_of_a_kind_document_is_logged_once_and_its_references_find_the_order() {
    for (store, _db) in stores().await {
        store.cursor("documents".into(), 0).await.unwrap();
        let ack = |control_seen: std::sync::Arc<std::sync::Mutex<Vec<u64>>>| OutboundDocument {
            provider: "edi".into(),
            kind: "855".into(),
            order_ids: vec!["o-1".into()],
            deliver: false,
            numbered: true,
            once: Some("855:o-1".into()),
            build: Box::new(move |control| {
                control_seen.lock().unwrap().push(control);
                Ok(Built {
                    payload: b"855".to_vec(),
                    references: vec!["R-17".into()],
                })
            }),
        };
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        for (from, to) in [(0, 1), (1, 2)] {
            assert!(
                store
                    .commit_documents("documents".into(), from, to, vec![ack(seen.clone())])
                    .await
                    .unwrap()
            );
        }
        // Built (and numbered) the first time only: no control number is wasted.
        assert_eq!(*seen.lock().unwrap(), [1]);
        let logged = store
            .list_messages(iom_store::providers::MessageFilter {
                provider: "edi".into(),
                status: None,
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(logged.len(), 1);
        assert_eq!(
            store
                .order_of_reference("edi".into(), "R-17".into())
                .await
                .unwrap()
                .as_deref(),
            Some("o-1")
        );
        assert_eq!(
            store
                .order_of_reference("other".into(), "R-17".into())
                .await
                .unwrap(),
            None
        );
    }
}

#[tokio::test]
async fn control_numbers_never_repeat_across_processes() {
    for (store, db) in stores().await {
        // A second process on the same database.
        let other = Store::open(&db.url).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..40 {
            let s = if i % 2 == 0 {
                store.clone()
            } else {
                other.clone()
            };
            tasks.push(tokio::spawn(async move {
                s.next_control_number("edi".into()).await.unwrap()
            }));
        }
        let mut numbers = Vec::new();
        for t in tasks {
            numbers.push(t.await.unwrap());
        }
        numbers.sort_unstable();
        assert_eq!(numbers, (1..=40).collect::<Vec<u64>>(), "{}", db.backend);
        // Each instance counts on its own.
        assert_eq!(store.next_control_number("wh".into()).await.unwrap(), 1);
    }
}

#[tokio::test]
async fn documents_commit_with_the_cursor_once() {
    for (store, db) in stores().await {
        let cursor = store.cursor("documents".into(), 0).await.unwrap();
        assert_eq!(cursor.cursor, 0);
        let moved = store
            .commit_documents(
                "documents".into(),
                0,
                7,
                vec![document("edi", "855", true), document("edi", "856", false)],
            )
            .await
            .unwrap();
        assert!(moved);
        // A second process that read the same events is refused and writes nothing.
        let again = store
            .commit_documents("documents".into(), 0, 7, vec![document("edi", "855", true)])
            .await
            .unwrap();
        assert!(!again, "{}", db.backend);
        assert_eq!(
            store
                .read_cursor("documents".into())
                .await
                .unwrap()
                .unwrap()
                .cursor,
            7
        );
        let messages = store
            .list_messages(iom_store::providers::MessageFilter {
                provider: "edi".into(),
                limit: 50,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(messages.len(), 2);
        let sent = messages.iter().find(|m| m.kind == "855").unwrap();
        assert_eq!(sent.status, "pending");
        assert_eq!(sent.payload, b"855 #1");
        assert_eq!(sent.order_ids, ["o-1"]);
        let kept = messages.iter().find(|m| m.kind == "856").unwrap();
        assert_eq!(kept.status, "ready");
        assert_eq!(kept.payload, b"856 #2");
        assert_eq!(kept.next_attempt_at, None);

        // The sender: claimed once, failed, due again, dead, sent again from the API.
        let due = store.due_outbound(10).await.unwrap();
        assert_eq!(due.len(), 1);
        let at = due[0].next_attempt_at.unwrap();
        let until = at + 60_000_000;
        assert!(
            store
                .claim_outbound(sent.id.clone(), at, until)
                .await
                .unwrap()
        );
        assert!(
            !store
                .claim_outbound(sent.id.clone(), at, until)
                .await
                .unwrap()
        );
        assert!(store.due_outbound(10).await.unwrap().is_empty());
        store
            .outbound_attempt(
                sent.id.clone(),
                Attempt::Failed {
                    error: "503".into(),
                    retry_at: Some(0),
                },
            )
            .await
            .unwrap();
        let due = store.due_outbound(10).await.unwrap();
        assert_eq!((due[0].status.as_str(), due[0].attempts), ("failed", 1));
        assert!(
            store
                .claim_outbound(sent.id.clone(), 0, until)
                .await
                .unwrap()
        );
        store
            .outbound_attempt(
                sent.id.clone(),
                Attempt::Failed {
                    error: "503 again".into(),
                    retry_at: None,
                },
            )
            .await
            .unwrap();
        let dead = store
            .get_message("edi".into(), sent.id.clone())
            .await
            .unwrap()
            .unwrap();
        assert_eq!((dead.status.as_str(), dead.attempts), ("dead", 2));
        assert_eq!(dead.error.unwrap()["message"], "503 again");
        assert!(store.due_outbound(10).await.unwrap().is_empty());
        // A document kept for pick-up is not sent; a dead one is, once requeued.
        assert!(
            !store
                .requeue_outbound("edi".into(), kept.id.clone())
                .await
                .unwrap()
        );
        assert!(
            store
                .requeue_outbound("edi".into(), sent.id.clone())
                .await
                .unwrap()
        );
        let due = store.due_outbound(10).await.unwrap();
        assert_eq!((due[0].status.as_str(), due[0].attempts), ("pending", 0));
        assert!(
            store
                .claim_outbound(sent.id.clone(), due[0].next_attempt_at.unwrap(), until)
                .await
                .unwrap()
        );
        store
            .outbound_attempt(sent.id.clone(), Attempt::Delivered)
            .await
            .unwrap();
        let done = store
            .get_message("edi".into(), sent.id.clone())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (done.status.as_str(), done.attempts, done.error),
            ("processed", 1, None)
        );
    }
}

#[tokio::test]
async fn a_document_that_cannot_be_built_is_kept_as_failed() {
    for (store, _db) in stores().await {
        store.cursor("documents".into(), 0).await.unwrap();
        let broken = OutboundDocument {
            provider: "edi".into(),
            kind: "940".into(),
            order_ids: vec![],
            deliver: true,
            numbered: true,
            once: None,
            build: Box::new(|_| Err("settings.x12.sender_id: 1 to 15 characters".into())),
        };
        assert!(
            store
                .commit_documents("documents".into(), 0, 1, vec![broken])
                .await
                .unwrap()
        );
        let failed = store
            .list_messages(iom_store::providers::MessageFilter {
                provider: "edi".into(),
                limit: 5,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(failed[0].status, "failed");
        assert!(
            failed[0].error.as_ref().unwrap()["message"]
                .as_str()
                .unwrap()
                .contains("sender_id")
        );
        // Nothing to send, and nothing to requeue: the settings must be fixed.
        assert!(store.due_outbound(10).await.unwrap().is_empty());
        assert!(
            !store
                .requeue_outbound("edi".into(), failed[0].id.clone())
                .await
                .unwrap()
        );
    }
}

fn page(n: usize) -> NewMessage {
    NewMessage {
        provider: "shop".into(),
        direction: Direction::Inbound,
        kind: "orders".into(),
        status: "received",
        payload: format!("page {n}").into_bytes(),
    }
}

#[tokio::test]
async fn a_pulled_page_and_its_checkpoint_commit_together() {
    for (store, db) in stores().await {
        assert!(
            store
                .pull_checkpoint("shop".into())
                .await
                .unwrap()
                .is_none()
        );
        let orders = vec![order("shop", "P-1", &["A"]), order("shop", "P-2", &["B"])];
        let done = store
            .process_pulled_page(
                page(1),
                "orders".into(),
                Apply::Content {
                    orders,
                    shipments: vec![],
                    work: vec![],
                },
                None,
                "2026-01-01T00:00:02Z".into(),
            )
            .await
            .unwrap();
        assert!(
            matches!(done, Some(Processed::Done { created: 2, .. })),
            "{done:?}"
        );
        let cp = store.pull_checkpoint("shop".into()).await.unwrap().unwrap();
        assert_eq!(
            (cp.checkpoint.as_str(), cp.pages, cp.orders),
            ("2026-01-01T00:00:02Z", 1, 2)
        );
        // A process still at the old checkpoint writes nothing: no message, no order.
        let stale = store
            .process_pulled_page(
                page(2),
                "orders".into(),
                Apply::Content {
                    orders: vec![order("shop", "P-3", &["C"])],
                    shipments: vec![],
                    work: vec![],
                },
                None,
                "2026-01-01T00:00:03Z".into(),
            )
            .await
            .unwrap();
        assert!(stale.is_none(), "{}", db.backend);
        // The next page repeats P-2 (inclusive "since") and adds P-3: created once each.
        let next = store
            .process_pulled_page(
                page(3),
                "orders".into(),
                Apply::Content {
                    orders: vec![order("shop", "P-2", &["B"]), order("shop", "P-3", &["C"])],
                    shipments: vec![],
                    work: vec![],
                },
                Some("2026-01-01T00:00:02Z".into()),
                "2026-01-01T00:00:03Z".into(),
            )
            .await
            .unwrap();
        assert!(
            matches!(next, Some(Processed::Done { created: 1, .. })),
            "{next:?}"
        );
        let all = store
            .list_orders(iom_store::OrderFilter {
                limit: 50,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(all.len(), 3);
        let cp = store.pull_checkpoint("shop".into()).await.unwrap().unwrap();
        assert_eq!((cp.pages, cp.orders), (2, 3));
    }
}
