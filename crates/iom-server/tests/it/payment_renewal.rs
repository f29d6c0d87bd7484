//! Authorisations that lapse, through a local Stripe: a capture that finds its authorisation
//! expired authorises what is still owed again and captures from the new one; a card without
//! multicapture is authorised again for the rest after its first capture; a renewal the card
//! refuses holds the order (hold `payment`) until an operator releases it; and an authorisation
//! about to lapse is renewed before it does, the old one let go.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::apps_with_flows;
use super::fake_stripe::FakeStripe;
use super::payments::{event_types, place, ship, stocked, stripe, wait_order};

fn reference(order: &Value) -> String {
    order["payment"]["reference"].as_str().unwrap().to_owned()
}

fn keys(fake: &FakeStripe) -> Vec<String> {
    fake.state
        .lock()
        .unwrap()
        .requests
        .iter()
        .map(|r| r.key.clone().unwrap())
        .collect()
}

#[tokio::test]
async fn payment_renewal_a_capture_finding_its_authorisation_expired_authorises_again_and_captures_from_the_new_one()
 {
    for app in apps_with_flows().await {
        let fake = FakeStripe::start().await;
        stripe(&app, &fake, json!({})).await;
        stocked(&app).await;
        let id = place(&app, "R-1").await;
        let order = wait_order(&app, &id, |o| o["status"] == "released").await;
        let first = reference(&order);
        // When the authorisation lapses is recorded: the charge's capture_before, about 7 days.
        let expires: chrono::DateTime<chrono::Utc> = order["payment"]["expires_at"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no expires_at in {order}", app.backend))
            .parse()
            .unwrap();
        let days = (expires - chrono::Utc::now()).num_hours() as f64 / 24.0;
        assert!((6.9..=7.0).contains(&days), "{days}");

        // Seven days pass: the capture of the first shipment is refused as expired.
        fake.expire(&first);
        ship(&app, &id, json!([{"line_no": 1, "quantity": 1}])).await;
        let order = wait_order(&app, &id, |o| o["payment"]["captured"] == "15.37").await;
        let second = reference(&order);
        assert_ne!(second, first, "{order}");
        let creates = fake.requests("/v1/payment_intents");
        let creates: Vec<_> = creates
            .iter()
            .filter(|r| r.path == "/v1/payment_intents")
            .collect();
        assert_eq!(creates.len(), 2, "{creates:?}");
        // What is owed, against the same payment method, under a key of its own.
        assert_eq!(creates[1].field("amount"), Some("4149"));
        assert_eq!(creates[1].field("payment_method"), Some("pm_card_visa"));
        assert_eq!(creates[1].field("capture_method"), Some("manual"));
        assert_eq!(creates[1].field("metadata[renews]"), Some(first.as_str()));
        assert_ne!(creates[0].key, creates[1].key);
        let captures = fake.requests(&format!("/v1/payment_intents/{second}/capture"));
        assert_eq!(captures.len(), 1, "{captures:?}");
        assert_eq!(captures[0].field("amount_to_capture"), Some("1537"));
        assert_eq!(fake.captured(), 1537);
        assert_eq!(order["payment"]["replaced"][0]["reference"], first.as_str());
        assert_eq!(order["payment"]["status"], "partially_captured");
        assert_eq!(
            order["payment"]["captures"][0]["reference"],
            second.as_str()
        );

        // The rest ships: captured from the new authorisation, to the cent, final.
        ship(
            &app,
            &id,
            json!([{"line_no": 1, "quantity": 2}, {"line_no": 2, "quantity": 1}]),
        )
        .await;
        let order = wait_order(&app, &id, |o| o["payment"]["status"] == "captured").await;
        assert_eq!(order["payment"]["captured"], "41.49", "{order}");
        assert_eq!(fake.captured(), 4149);
        assert_eq!(fake.acted("create"), 2);
        let types = event_types(&app, &id).await;
        assert!(types.contains(&"payment.renewed".to_owned()), "{types:?}");
        let all = keys(&fake);
        let unique: std::collections::HashSet<_> = all.iter().collect();
        // Only the capture refused as expired was a request of its own; none was sent twice
        // under another key.
        assert_eq!(unique.len(), all.len(), "{all:?}");
    }
}

#[tokio::test]
async fn payment_renewal_a_card_without_multicapture_is_authorised_again_for_the_rest() {
    for app in apps_with_flows().await {
        let fake = FakeStripe::start().await;
        fake.set(|f| f.no_multicapture = true);
        stripe(&app, &fake, json!({})).await;
        stocked(&app).await;
        let id = place(&app, "R-2").await;
        let order = wait_order(&app, &id, |o| o["status"] == "released").await;
        let first = reference(&order);
        ship(&app, &id, json!([{"line_no": 1, "quantity": 1}])).await;
        wait_order(&app, &id, |o| o["payment"]["captured"] == "15.37").await;
        // Stripe let the rest of the first authorisation go with that capture.
        assert_eq!(fake.intents()[0]["status"], "succeeded");
        ship(
            &app,
            &id,
            json!([{"line_no": 1, "quantity": 2}, {"line_no": 2, "quantity": 1}]),
        )
        .await;
        let order = wait_order(&app, &id, |o| o["payment"]["captured"] == "41.49").await;
        let second = reference(&order);
        assert_ne!(first, second);
        let intents = fake.intents();
        assert_eq!(intents.len(), 2);
        assert_eq!(intents[1]["amount"], 2612, "the rest: 41.49 - 15.37");
        assert_eq!(fake.captured(), 4149);
        assert_eq!(order["payment"]["status"], "captured", "{order}");
    }
}

#[tokio::test]
async fn payment_renewal_a_refused_renewal_holds_the_order_until_an_operator_releases_it() {
    for app in apps_with_flows().await {
        let fake = FakeStripe::start().await;
        stripe(&app, &fake, json!({})).await;
        stocked(&app).await;
        let id = place(&app, "R-3").await;
        let order = wait_order(&app, &id, |o| o["status"] == "released").await;
        fake.expire(&reference(&order));
        fake.set(|f| f.decline_all = true);
        ship(&app, &id, json!([{"line_no": 1, "quantity": 1}])).await;
        let order = wait_order(&app, &id, |o| {
            o["holds"]
                .as_array()
                .is_some_and(|h| h.iter().any(|h| h["code"] == "payment"))
        })
        .await;
        assert_eq!(order["payment"]["captured"], "0", "{order}");
        assert!(
            order["payment"]["failure"]
                .as_str()
                .unwrap()
                .contains("declined"),
            "{order}"
        );
        let types = event_types(&app, &id).await;
        assert!(types.contains(&"payment.failed".to_owned()), "{types:?}");
        // Held: nothing more is asked of the card.
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(
            fake.requests("/v1/payment_intents").len(),
            3,
            "authorise, capture, renew"
        );

        // The customer fixed the card; the operator releases the hold: renewed and captured.
        fake.set(|f| f.decline_all = false);
        let (status, body) = app
            .post(
                &format!("/api/v1/orders/{id}/release"),
                json!({"code": "payment"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let order = wait_order(&app, &id, |o| o["payment"]["captured"] == "15.37").await;
        assert!(order["holds"].as_array().unwrap().is_empty(), "{order}");
        assert!(order["payment"].get("failure").is_none(), "{order}");
        assert_eq!(
            fake.acted("create"),
            2,
            "the first and the renewal that passed"
        );
        assert_eq!(fake.captured(), 1537);
    }
}

#[tokio::test]
async fn payment_renewal_an_authorisation_about_to_lapse_is_renewed_before_it_does() {
    for app in apps_with_flows().await {
        let fake = FakeStripe::start().await;
        // This card's authorisation lapses within the hour.
        fake.set(|f| f.capture_window = Some(chrono::Duration::minutes(30)));
        stripe(&app, &fake, json!({})).await;
        stocked(&app).await;
        let id = place(&app, "R-4").await;
        let order = wait_order(&app, &id, |o| o["payment"]["status"] == "authorized").await;
        fake.set(|f| f.capture_window = None);
        let first = reference(&order);
        let deadline = Instant::now() + Duration::from_secs(20);
        let order = loop {
            let (_, order) = app.get(&format!("/api/v1/orders/{id}")).await;
            let expires = order["payment"]["expires_at"]
                .as_str()
                .and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok());
            if expires.is_some_and(|t| t > chrono::Utc::now() + chrono::Duration::days(6)) {
                break order;
            }
            assert!(Instant::now() < deadline, "{}: {order:#}", app.backend);
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let current = reference(&order);
        assert_ne!(current, first);
        // Every authorisation it replaced was let go at Stripe; the order owes the same.
        for intent in fake.intents() {
            let pi = intent["id"].as_str().unwrap();
            if pi != current {
                assert_eq!(intent["status"], "canceled", "{intent}");
            } else {
                assert_eq!(intent["status"], "requires_capture");
                assert_eq!(intent["amount"], 4149);
            }
        }
        assert_eq!(order["payment"]["status"], "authorized", "{order}");
        assert_eq!(order["payment"]["captured"], "0");
        // Shipping captures from the renewed one.
        ship(&app, &id, json!([{"line_no": 1, "quantity": 1}])).await;
        wait_order(&app, &id, |o| o["payment"]["captured"] == "15.37").await;
        assert_eq!(
            fake.requests(&format!("/v1/payment_intents/{current}/capture"))
                .len(),
            1
        );
        assert_eq!(fake.captured(), 1537);
    }
}
