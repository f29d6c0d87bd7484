//! Notifications: one row per (event, template, recipient) whatever derives it twice, a claim
//! that only one process wins, and the statuses an attempt leaves.

use chrono::{Duration, Utc};
use iom_store::notifications::{Claim, NewNotification, Skip};

use super::stores;

fn new(seq: i64, template: &str, to: &str) -> NewNotification {
    NewNotification {
        event_seq: seq,
        event_type: "order.received".into(),
        template: template.into(),
        channel: "email".into(),
        recipient: to.into(),
        order_id: Some("o-1".into()),
        subject: "s".into(),
        body: "b".into(),
        html: None,
        skipped: None,
    }
}

#[tokio::test]
async fn an_event_yields_one_notification_per_template_and_recipient() {
    for (store, _db) in stores().await {
        store.cursor("notifications".into(), 0).await.unwrap();
        let rows = vec![new(1, "a", "x@example.com"), new(1, "a", "y@example.com")];
        assert!(
            store
                .commit_notifications("notifications".into(), 0, 1, rows.clone())
                .await
                .unwrap()
        );
        // A second process that read the same events finds the cursor moved: nothing written.
        assert!(
            !store
                .commit_notifications("notifications".into(), 0, 1, rows.clone())
                .await
                .unwrap()
        );
        // The same keys derived again past the cursor are still not doubled.
        let mut again = rows.clone();
        let mut skipped = new(2, "b", "x@example.com");
        skipped.skipped = Some(Skip::OptedOut("customer".into()));
        again.push(skipped);
        assert!(
            store
                .commit_notifications("notifications".into(), 1, 2, again)
                .await
                .unwrap()
        );
        let all = store
            .list_notifications(Some("o-1".into()), None, 10)
            .await
            .unwrap();
        assert_eq!(all.len(), 3, "{all:?}");
        assert_eq!(all[0].status, "opted_out");
        assert!(all[0].next_attempt_at.is_none());
        let page = store
            .list_notifications(None, Some(all[0].id.clone()), 1)
            .await
            .unwrap();
        assert_eq!(page[0].id, all[1].id);
    }
}

#[tokio::test]
async fn a_claim_is_won_once_and_an_attempt_leaves_its_status() {
    for (store, _db) in stores().await {
        store.cursor("notifications".into(), 0).await.unwrap();
        store
            .commit_notifications(
                "notifications".into(),
                0,
                1,
                vec![new(1, "a", "x@example.com"), new(1, "b", "x@example.com")],
            )
            .await
            .unwrap();
        let now = Utc::now() + Duration::seconds(1);
        let due = store.due_notifications(now, 10, true).await.unwrap();
        assert_eq!(due.len(), 2);
        assert!(
            store
                .due_notifications(now, 10, false)
                .await
                .unwrap()
                .is_empty()
        );
        let keys: Vec<_> = due
            .iter()
            .map(|n| (n.id.clone(), n.next_attempt_at.unwrap()))
            .collect();
        let claim = Claim {
            until: now + Duration::seconds(30),
        };
        assert_eq!(
            store
                .claim_notifications(keys.clone(), claim)
                .await
                .unwrap()
                .len(),
            2
        );
        // Another process that read the same rows claims none of them.
        assert!(
            store
                .claim_notifications(keys, claim)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .due_notifications(now, 10, true)
                .await
                .unwrap()
                .is_empty()
        );
        store
            .notifications_sent(vec![due[0].id.clone()])
            .await
            .unwrap();
        store
            .notification_failed(due[1].id.clone(), "connection refused".into(), Some(now))
            .await
            .unwrap();
        let listed = store.list_notifications(None, None, 10).await.unwrap();
        let by_id = |id: &str| listed.iter().find(|n| n.id == id).unwrap();
        assert_eq!(by_id(&due[0].id).status, "sent");
        assert_eq!(by_id(&due[0].id).attempts, 1);
        assert!(by_id(&due[0].id).sent_at.is_some());
        let failed = by_id(&due[1].id);
        assert_eq!((failed.status.as_str(), failed.attempts), ("failed", 1));
        assert_eq!(failed.last_error.as_deref(), Some("connection refused"));
        // Due again, and a claim that expired (its process died) is due as well.
        assert_eq!(
            store.due_notifications(now, 10, true).await.unwrap().len(),
            1
        );
        let later = now + Duration::seconds(31);
        let due = store.due_notifications(later, 10, true).await.unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].id, failed.id);
        store
            .notification_failed(due[0].id.clone(), "late".into(), None)
            .await
            .unwrap();
        // Only a claimed row changes: the failure of an unclaimed row is ignored.
        assert_eq!(
            store
                .list_notifications(None, None, 10)
                .await
                .unwrap()
                .iter()
                .find(|n| n.id == failed.id)
                .unwrap()
                .status,
            "failed"
        );
        let counts = store.notification_counts().await.unwrap();
        assert_eq!(counts, [("failed".to_owned(), 1), ("sent".to_owned(), 1)]);
    }
}
