//! Returns in the web UI without JavaScript: started from an order, refused at the line that is
//! not eligible (nothing created), received per line with a disposition (restocked at once),
//! refunded; a viewer sees no forms and is refused when posting anyway. Both backends.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::ui::{UiClient, seed};
use super::{TestApp, apps};

/// Ships both lines of the seeded order (2 × SKU-1, 1 × SKU-2) from SEA.
pub async fn ship_seeded(app: &TestApp, order_id: &str) {
    let (status, order) = app
        .post(
            &format!("/api/v1/orders/{order_id}/shipments"),
            json!({"node": "SEA", "lines": [{"line_no": 1, "quantity": 2}, {"line_no": 2, "quantity": 1}],
                   "carrier": "UPS", "tracking": "1Z999"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{order}");
}

async fn returns_of(app: &TestApp, order_id: &str) -> Vec<Value> {
    let (status, page) = app
        .get(&format!("/api/v1/returns?order_id={order_id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().unwrap().clone()
}

pub async fn on_hand(app: &TestApp, sku: &str, node: &str) -> i64 {
    let (_, view) = app.get(&format!("/api/v1/inventory/{sku}")).await;
    view["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|n| n["node"] == node)
        .map_or(0, |n| n["on_hand"].as_i64().unwrap())
}

/// The id in a `/ui/returns/{id}` address.
fn return_id(html: &str) -> String {
    let marker = "/ui/returns/";
    html.match_indices(marker)
        .map(|(i, _)| &html[i + marker.len()..])
        .map(|rest| {
            rest.chars()
                .take_while(|c| *c != '"' && *c != '/')
                .collect::<String>()
        })
        .find(|id| !id.is_empty() && id != "new" && !id.starts_with('?'))
        .expect("a link to a return")
}

#[tokio::test]
async fn a_return_is_started_received_and_refunded_through_forms() {
    for app in apps().await {
        let seeded = seed(&app).await;
        ship_seeded(&app, &seeded.order_id).await;
        let ui = UiClient::sign_in(&app, "admin").await;

        let order_page = ui.get(&format!("/ui/orders/{}", seeded.order_id)).await;
        let start = format!("/ui/returns/new?order_id={}", seeded.order_id);
        assert!(order_page.body.contains(&start), "{}", order_page.body);
        let form = ui.get(&start).await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        assert!(form.body.contains("name=\"quantity_1\""), "{}", form.body);
        assert!(form.body.contains("name=\"reason_2\""), "{}", form.body);

        // More than shipped: refused at that line, nothing created.
        let order_id = seeded.order_id.as_str();
        let refused = ui
            .post(
                "/ui/returns/new",
                &[
                    ("csrf", &ui.csrf),
                    ("order_id", order_id),
                    ("quantity_1", "5"),
                    ("reason_1", "damaged"),
                    ("quantity_2", "0"),
                    ("reason_2", "damaged"),
                    ("origin", "store"),
                    ("node", ""),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            refused.body.contains("data-field=\"line1.quantity\""),
            "{}",
            refused.body
        );
        assert!(
            refused
                .body
                .contains("only 2 of 2 shipped can still be returned"),
            "{}",
            refused.body
        );
        // What was typed is still there.
        assert!(refused.body.contains("value=\"5\""), "{}", refused.body);
        assert!(returns_of(&app, order_id).await.is_empty());

        // Not a number: named at the line too, before anything is asked of the API.
        let refused = ui
            .post(
                "/ui/returns/new",
                &[
                    ("csrf", &ui.csrf),
                    ("order_id", order_id),
                    ("quantity_2", "one"),
                    ("origin", "store"),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.body.contains("data-field=\"line2.quantity\""));
        assert!(returns_of(&app, order_id).await.is_empty());

        let page = ui
            .submit(
                "/ui/returns/new",
                &[
                    ("csrf", &ui.csrf),
                    ("order_id", order_id),
                    ("quantity_1", "2"),
                    ("reason_1", "damaged"),
                    ("quantity_2", "0"),
                    ("origin", "store"),
                    ("node", "SEA"),
                ],
            )
            .await;
        assert!(page.body.contains("is authorised."), "{}", page.body);
        let listed = returns_of(&app, order_id).await;
        assert_eq!(listed.len(), 1);
        let id = listed[0]["id"].as_str().unwrap().to_owned();
        assert_eq!(listed[0]["origin"], "store");
        assert_eq!(listed[0]["lines"][0]["quantity"], 2);
        assert_eq!(return_id(&page.body), id);
        assert!(page.body.contains("id=\"receive-form\""), "{}", page.body);
        assert!(page.body.contains("Bring or send the items to"));

        // The list and the order link to it.
        let list = ui.get("/ui/returns").await;
        assert!(list.body.contains(&format!("/ui/returns/{id}")));

        // Received: more than authorised is refused at its line, and nothing is restocked.
        let before = on_hand(&app, "SKU-1", "SEA").await;
        let base = format!("/ui/returns/{id}");
        let refused = ui
            .post(
                &format!("{base}/receive"),
                &[
                    ("csrf", &ui.csrf),
                    ("node", "SEA"),
                    ("quantity_1", "3"),
                    ("condition_1", "new"),
                    ("disposition_1", "restock"),
                ],
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.body
        );
        assert!(
            refused.body.contains("data-field=\"line1.quantity\""),
            "{}",
            refused.body
        );
        let (_, ret) = app.get(&format!("/api/v1/returns/{id}")).await;
        assert_eq!(ret["status"], "authorized");
        assert_eq!(on_hand(&app, "SKU-1", "SEA").await, before);

        let page = ui
            .submit(
                &format!("{base}/receive"),
                &[
                    ("csrf", &ui.csrf),
                    ("node", "SEA"),
                    ("quantity_1", "2"),
                    ("condition_1", "new"),
                    ("disposition_1", "restock"),
                ],
            )
            .await;
        assert!(
            page.body.contains("Received 2 unit(s) at SEA."),
            "{}",
            page.body
        );
        let (_, ret) = app.get(&format!("/api/v1/returns/{id}")).await;
        assert_eq!(ret["status"], "received", "{ret}");
        assert_eq!(ret["receipts"][0]["lines"][0]["disposition"], "restock");
        assert_eq!(on_hand(&app, "SKU-1", "SEA").await, before + 2);
        assert!(!page.body.contains("id=\"receive-form\""));

        let page = ui
            .submit(&format!("{base}/refund"), &[("csrf", &ui.csrf)])
            .await;
        assert!(page.body.contains("Refunded "), "{}", page.body);
        let (_, ret) = app.get(&format!("/api/v1/returns/{id}")).await;
        assert_eq!(ret["status"], "refunded", "{ret}");
        assert!(page.body.contains("id=\"return-refund\""));
        // A second refund is refused by the API and shown as an error, not done twice.
        let again = ui
            .submit(&format!("{base}/refund"), &[("csrf", &ui.csrf)])
            .await;
        assert!(again.body.contains("flash error"), "{}", again.body);
    }
}

#[tokio::test]
async fn a_viewer_sees_returns_but_no_forms_and_is_refused_when_posting() {
    for app in apps().await {
        let seeded = seed(&app).await;
        ship_seeded(&app, &seeded.order_id).await;
        let (status, ret) = app
            .post(
                "/api/v1/returns",
                json!({"order_id": seeded.order_id, "origin": "online",
                       "lines": [{"line_no": 1, "quantity": 1, "reason": "damaged"}]}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{ret}");
        let id = ret["id"].as_str().unwrap();
        let ui = UiClient::sign_in(&app, "viewer").await;
        let page = ui.get(&format!("/ui/returns/{id}")).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(!page.body.contains("receive-form"), "{}", page.body);
        assert!(
            !page
                .body
                .contains(&format!("action=\"/ui/returns/{id}/refund\""))
        );
        let page = ui
            .get(&format!("/ui/returns/new?order_id={}", seeded.order_id))
            .await;
        assert!(!page.body.contains("return-form"), "{}", page.body);
        let order_page = ui.get(&format!("/ui/orders/{}", seeded.order_id)).await;
        assert!(!order_page.body.contains("/ui/returns/new?order_id="));

        let refused = ui
            .post(
                "/ui/returns/new",
                &[
                    ("csrf", &ui.csrf),
                    ("order_id", &seeded.order_id),
                    ("quantity_2", "1"),
                    ("reason_2", "damaged"),
                    ("origin", "online"),
                ],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
        let refused = ui
            .post(
                &format!("/ui/returns/{id}/receive"),
                &[("csrf", &ui.csrf), ("node", "SEA"), ("quantity_1", "1")],
            )
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let refused = ui
            .post(&format!("/ui/returns/{id}/refund"), &[("csrf", &ui.csrf)])
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(returns_of(&app, &seeded.order_id).await.len(), 1);
        let (_, ret) = app.get(&format!("/api/v1/returns/{id}")).await;
        assert_eq!(ret["status"], "authorized");
    }
}
