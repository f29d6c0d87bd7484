use reqwest::StatusCode;
use serde_json::json;

use super::apps;

#[tokio::test]
async fn events_page_in_commit_order_with_a_type_filter() {
    for app in apps().await {
        for i in 0..3 {
            let order = app.create_order(&format!("ev-{i}"), &[1]).await;
            let hold = format!("/api/v1/orders/{}/hold", order["id"].as_str().unwrap());
            app.post(&hold, json!({})).await;
        }
        let (status, page) = app.get("/api/v1/events?limit=4").await;
        assert_eq!(status, StatusCode::OK);
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 4);
        assert_eq!(items[0]["type"], "order.received");
        assert_eq!(items[1]["type"], "order.held");
        let seqs: Vec<i64> = items.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]));
        let cursor = page["next_cursor"].as_str().unwrap();
        let (_, rest) = app.get(&format!("/api/v1/events?after={cursor}")).await;
        assert_eq!(rest["items"].as_array().unwrap().len(), 2);
        let (_, none) = app.get(&format!("/api/v1/events?after={}", rest["next_cursor"].as_str().unwrap())).await;
        assert!(none["items"].as_array().unwrap().is_empty());
        assert_eq!(none["next_cursor"], rest["next_cursor"]);

        let (_, held) = app.get("/api/v1/events?type=order.held").await;
        assert_eq!(held["items"].as_array().unwrap().len(), 3);
        let (_, orders) = app.get("/api/v1/events?type=order.*").await;
        assert_eq!(orders["items"].as_array().unwrap().len(), 6);
        assert!(orders["items"][0]["at"].as_str().unwrap().ends_with('Z'));
        let (status, _) = app.get("/api/v1/events?after=-1").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{}", app.backend);
    }
}
