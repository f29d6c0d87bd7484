//! `/ui/audit` without JavaScript: the configuration's changes with who made them, filtered by
//! actor and subject, each shown as the fields that changed.

use reqwest::StatusCode;

use super::apps;
use super::ui::{UiClient, seed};

#[tokio::test]
async fn configuration_changes_are_listed_by_actor_and_subject_with_what_changed() {
    for app in apps().await {
        seed(&app).await;
        let ui = UiClient::sign_in(&app, "admin").await;
        let page = ui
            .submit(
                "/ui/nodes/SEA",
                &[
                    ("csrf", &ui.csrf),
                    ("name", "Seattle DC"),
                    ("kind", "warehouse"),
                    ("lat", "47.45"),
                    ("lon", "-122.3"),
                    ("safety_stock", "3"),
                    ("active", "true"),
                ],
            )
            .await;
        assert!(page.body.contains("Node SEA is saved."), "{}", page.body);

        let all = ui.get("/ui/audit").await;
        assert_eq!(all.status, StatusCode::OK);
        assert!(all.body.contains("node:SEA"), "{}", all.body);
        assert!(all.body.contains("node:MIA"));
        assert!(all.body.contains("provider:edi"));

        let mine = ui.get("/ui/audit?actor=admin%40example.com").await;
        assert!(mine.body.contains("node:SEA"), "{}", mine.body);
        assert!(
            !mine.body.contains("<code>node:MIA</code>"),
            "{}",
            mine.body
        );
        // The change reads as the field that changed, before and after.
        assert!(
            mine.body.contains("<code>safety_stock</code>"),
            "{}",
            mine.body
        );
        assert!(mine.body.contains("<del>0</del>"), "{}", mine.body);
        assert!(mine.body.contains("<ins>3</ins>"), "{}", mine.body);

        let subject = ui.get("/ui/audit?subject=provider%3A*").await;
        assert!(subject.body.contains("<code>provider:edi</code>"));
        assert!(
            !subject.body.contains("<code>node:SEA</code>"),
            "{}",
            subject.body
        );

        let bad = ui.get("/ui/audit?after=yesterday").await;
        assert_eq!(bad.status, StatusCode::OK);
        assert!(
            bad.body.contains("is not a cursor this list gave"),
            "{}",
            bad.body
        );
    }
}
