//! Lists, alerts and live updates in the web UI over plain HTTP: counts, sorting, keyset paging
//! under any sort, CSV export at the list's own address, saved filters, acknowledging alert
//! firings (API and UI), the tasks list, the event stream, times in the reader's zone.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::header::COOKIE;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::ui::UiClient;
use super::{TestApp, apps, order_body};

/// Pulls the `href` of the link with `rel="next"`, unescaped.
fn next_link(html: &str) -> Option<String> {
    let marker = "rel=\"next\" href=\"";
    let start = html.find(marker)? + marker.len();
    Some(
        html[start..]
            .chars()
            .take_while(|c| *c != '"')
            .collect::<String>()
            .replace("&amp;", "&"),
    )
}

/// The external ids of the order rows on a list page, in order.
fn external_ids(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    let marker = "<tr><td><a href=\"/ui/orders/";
    while let Some(i) = rest.find(marker) {
        rest = &rest[i + marker.len()..];
        let close = rest.find('>').unwrap();
        let end = rest[close + 1..].find('<').unwrap();
        out.push(rest[close + 1..close + 1 + end].to_owned());
    }
    out
}

fn data_count(html: &str) -> i64 {
    let marker = "data-count=\"";
    let start = html.find(marker).expect("a count") + marker.len();
    html[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

/// Every row of a list, following its next links from `first`.
async fn all_pages(ui: &UiClient, first: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut next = Some(first.to_owned());
    while let Some(path) = next {
        let page = ui.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        ids.extend(external_ids(&page.body));
        next = next_link(&page.body);
    }
    ids
}

/// 57 orders: odd ones on the `store` channel; their statuses vary (some held, some cancelled)
/// so that a sort by status has long runs of ties across pages.
async fn orders(app: &TestApp) -> Vec<(String, String)> {
    let mut made = Vec::new();
    for i in 0..57 {
        let mut body = order_body(&format!("L-{:02}", (i * 37) % 57), &[1]);
        body["placed_at"] = json!(format!("2026-11-{:02}T10:00:00Z", 1 + i % 28));
        if i % 2 == 1 {
            body["channel"] = json!("store");
        }
        let (status, order) = app.post("/api/v1/orders", body).await;
        assert_eq!(status, StatusCode::CREATED, "{order}");
        let id = order["id"].as_str().unwrap().to_owned();
        if i % 5 == 0 {
            let (status, body) = app
                .post(
                    &format!("/api/v1/orders/{id}/hold"),
                    json!({"reason": "check"}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        } else if i % 7 == 0 {
            let (status, body) = app
                .post(
                    &format!("/api/v1/orders/{id}/cancel"),
                    json!({"reason": "test"}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        made.push((id, order["external_id"].as_str().unwrap().to_owned()));
    }
    made
}

#[tokio::test]
async fn lists_count_sort_page_export_and_save_filters() {
    for app in apps().await {
        let made = orders(&app).await;
        let ui = UiClient::sign_in(&app, "operator").await;

        let first = ui.get("/ui/orders").await;
        assert_eq!(data_count(&first.body), 57, "{}", app.backend);
        assert!(first.body.contains("57 orders"));
        let store = ui.get("/ui/orders?channel=store").await;
        assert_eq!(data_count(&store.body), 28);

        // Rows lead with the external id, linked to the order; no 36-character id shown.
        let (id, ext) = &made[56];
        assert!(
            first
                .body
                .contains(&format!("href=\"/ui/orders/{id}\" title=\"{id}\">{ext}<")),
            "{}",
            first.body
        );

        // Every sort pages through every order once, in the sort's order, ties and all.
        let mut by_external: Vec<String> = made.iter().map(|(_, e)| e.clone()).collect();
        by_external.sort();
        let ascending = all_pages(&ui, "/ui/orders?sort=external_id").await;
        assert_eq!(ascending, by_external, "{}", app.backend);
        let descending = all_pages(&ui, "/ui/orders?sort=-external_id").await;
        by_external.reverse();
        assert_eq!(descending, by_external);
        for sort in [
            "status",
            "-status",
            "placed_at",
            "-placed_at",
            "channel",
            "-id",
        ] {
            let rows = all_pages(&ui, &format!("/ui/orders?sort={sort}")).await;
            assert_eq!(rows.len(), 57, "{sort} on {}", app.backend);
            assert_eq!(rows.iter().collect::<BTreeSet<_>>().len(), 57, "{sort}");
        }
        // The header links sort, keeping the filter.
        assert!(
            store
                .body
                .contains("href=\"/ui/orders?channel=store&amp;sort=external_id\""),
            "{}",
            store.body
        );
        let sorted = ui.get("/ui/orders?channel=store&sort=-external_id").await;
        assert!(sorted.body.contains("aria-sort=\"descending\""));

        // A sort the list does not have is refused, naming the field.
        let bad = ui.get("/ui/orders?sort=colour").await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(bad.body.contains("sort"), "{}", bad.body);
        let (status, problem) = app.get("/api/v1/orders?sort=colour").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "sort");
        let (status, page) = app.get("/api/v1/orders?sort=external_id&limit=5").await;
        assert_eq!(status, StatusCode::OK);
        let cursor = page["next_cursor"].as_str().unwrap().to_owned();
        let (status, page) = app
            .get(&format!(
                "/api/v1/orders?sort=external_id&limit=5&cursor={}",
                urlencode(&cursor)
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["items"][0]["external_id"], "L-05");

        // The export: the same filter and sort, every row, at the list's own address.
        let csv = ui
            .get("/ui/orders?channel=store&sort=external_id&format=csv")
            .await;
        assert_eq!(csv.status, StatusCode::OK);
        let lines: Vec<&str> = csv.body.lines().collect();
        assert!(
            lines[0].starts_with("id,channel,external_id,status"),
            "{}",
            csv.body
        );
        assert_eq!(lines.len(), 1 + 28);
        let exported: Vec<&str> = lines[1..]
            .iter()
            .map(|l| l.split(',').nth(2).unwrap())
            .collect();
        let mut expected: Vec<&str> = made
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 2 == 1)
            .map(|(_, (_, e))| e.as_str())
            .collect();
        expected.sort();
        assert_eq!(exported, expected);
        assert!(lines[1].contains(",store,"));
        assert!(lines[1].contains(",USD,19.99,2026-11-"), "{}", lines[1]);
        let all = ui.get("/ui/orders?format=csv").await;
        assert_eq!(all.body.lines().count(), 1 + 57);

        // A saved filter is found again on the list, by its name, for this user only.
        let saved = ui
            .submit(
                "/ui/saved-filters",
                &[
                    ("csrf", ui.csrf.as_str()),
                    ("list", "orders"),
                    ("name", "Store, by id"),
                    ("query", "channel=store&sort=external_id&cursor=abc"),
                ],
            )
            .await;
        assert!(saved.body.contains("Filter saved"), "{}", saved.body);
        assert_eq!(data_count(&saved.body), 28);
        let list = ui.get("/ui/orders").await;
        assert!(
            list.body
                .contains("href=\"/ui/orders?channel=store&amp;sort=external_id\">Store, by id<"),
            "{}",
            list.body
        );
        let other = UiClient::sign_in(&app, "viewer").await;
        assert!(!other.get("/ui/orders").await.body.contains("Store, by id"));
        let unnamed = ui
            .submit(
                "/ui/saved-filters",
                &[
                    ("csrf", ui.csrf.as_str()),
                    ("list", "orders"),
                    ("name", " "),
                    ("query", "channel=web"),
                ],
            )
            .await;
        assert!(unnamed.body.contains("needs a name"), "{}", unnamed.body);
        let forgotten = ui
            .submit(
                "/ui/saved-filters/delete",
                &[
                    ("csrf", ui.csrf.as_str()),
                    ("list", "orders"),
                    ("name", "Store, by id"),
                ],
            )
            .await;
        assert!(forgotten.body.contains("forgotten"));
        assert!(!ui.get("/ui/orders").await.body.contains(">Store, by id<"));
    }
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)])
        .unwrap()
        .trim_start_matches('=')
        .to_owned()
}

/// Puts an alert that fires at once for every unreleased order and waits for `n` firings.
pub async fn firings(app: &TestApp, n: usize) -> Vec<Value> {
    let (status, body) = app
        .call(
            Method::PUT,
            "/api/v1/alerts/slow-release",
            Some(json!({"condition": {"type": "order_not_released", "hours": 0}})),
        )
        .await;
    assert!(status.is_success(), "{body}");
    for _ in 0..100 {
        let (_, page) = app.get("/api/v1/alerts/slow-release/firings").await;
        let items = page["items"].as_array().unwrap();
        if items.len() >= n {
            return items.clone();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the alert did not fire {n} times");
}

#[tokio::test]
async fn firings_are_acknowledged_through_the_api_and_the_ui() {
    for app in apps().await {
        app.create_order("A-1", &[1]).await;
        app.create_order("A-2", &[1]).await;
        let fired = firings(&app, 2).await;
        let (first, second) = (&fired[0], &fired[1]);
        assert!(first["acknowledged_at"].is_null());

        // Through the API: who and when are recorded; a second time changes nothing.
        let path = |f: &Value| {
            format!(
                "/api/v1/alerts/slow-release/firings/{}/acknowledge",
                f["id"].as_str().unwrap()
            )
        };
        let (status, acked) = app.post(&path(first), json!({})).await;
        assert_eq!(status, StatusCode::OK, "{acked}");
        assert!(
            acked["acknowledged_by"]
                .as_str()
                .unwrap()
                .starts_with("token:"),
            "{acked}"
        );
        assert!(acked["acknowledged_at"].is_string());
        let (status, again) = app.post(&path(first), json!({})).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(again["acknowledged_at"], acked["acknowledged_at"]);
        let (status, _) = app
            .post(
                "/api/v1/alerts/slow-release/firings/nope/acknowledge",
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (_, events) = app
            .get("/api/v1/events?type=alert.acknowledged&limit=10")
            .await;
        assert_eq!(events["items"].as_array().unwrap().len(), 1, "{events}");

        // In the UI: one firing is still open, on the alerts page and the dashboard.
        let ui = UiClient::sign_in(&app, "operator").await;
        let page = ui.get("/ui/alerts").await;
        assert_eq!(page.status, StatusCode::OK);
        let second_id = second["id"].as_str().unwrap();
        let action = format!("/ui/alerts/slow-release/firings/{second_id}/acknowledge");
        assert!(page.body.contains(&action), "{}", page.body);
        assert!(page.body.contains("1 firing waits for someone"));
        let dashboard = ui.get("/ui").await;
        assert!(dashboard.body.contains(&action), "{}", dashboard.body);
        let figures = super::ui::dashboard_figures(&dashboard.body);
        assert_eq!(figures["open_alerts"], 1);

        // A viewer sees no button and is refused.
        let viewer = UiClient::sign_in(&app, "viewer").await;
        assert!(!viewer.get("/ui/alerts").await.body.contains(&action));
        let refused = viewer
            .post(&action, &[("csrf", viewer.csrf.as_str()), ("back", "/ui")])
            .await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);

        let done = ui
            .submit(
                &action,
                &[("csrf", ui.csrf.as_str()), ("back", "/ui/alerts")],
            )
            .await;
        assert!(
            done.body.contains("Acknowledged the firing"),
            "{}",
            done.body
        );
        assert!(done.body.contains("0 firings wait for someone"));
        assert!(done.body.contains("user:operator@example.com"));
        let (_, page) = app.get("/api/v1/alerts/slow-release/firings").await;
        let by: BTreeSet<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["acknowledged_by"].as_str().unwrap())
            .collect();
        assert!(by.contains("user:operator@example.com"), "{page}");
        // Sent from another site: refused.
        let foreign = ui
            .send(
                Method::POST,
                &action,
                Some(&[("csrf", ui.csrf.as_str())]),
                Some("http://evil.example"),
            )
            .await;
        assert_eq!(foreign.status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn the_event_stream_carries_the_event_log_to_signed_in_sessions() {
    for app in apps().await {
        let anonymous = reqwest::Client::new()
            .get(app.url("/ui/events"))
            .send()
            .await
            .unwrap();
        assert!(
            anonymous.url().path().starts_with("/ui/sign-in"),
            "followed to the sign-in page"
        );
        let ui = UiClient::sign_in(&app, "viewer").await;
        let response = reqwest::Client::new()
            .get(app.url("/ui/events"))
            .header(COOKIE, &ui.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        let order = app.create_order("LIVE-1", &[1]).await;
        let id = order["id"].as_str().unwrap();
        let mut response = response;
        let mut seen = String::new();
        let found = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(chunk) = response.chunk().await.unwrap() {
                seen.push_str(&String::from_utf8_lossy(&chunk));
                if seen.contains("\"type\":\"order.received\"") && seen.contains(id) {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(found, Ok(true), "{seen}");
        let (_, events) = app.get("/api/v1/events?type=order.received").await;
        let seq = events["items"][0]["seq"].as_i64().unwrap();
        assert!(seen.contains(&format!("id: {seq}")), "{seen}");
    }
}

#[tokio::test]
async fn an_event_committed_while_a_page_loaded_is_still_pushed_to_it() {
    for app in apps().await {
        let order = app.create_order("LIVE-GAP", &[1]).await;
        let id = order["id"].as_str().unwrap();
        let ui = UiClient::sign_in(&app, "viewer").await;
        let page = ui.get(&format!("/ui/orders/{id}")).await;
        let after = page
            .body
            .split("data-after=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the page names the event it was read at");
        // Committed after the page was read and before its stream opened.
        let (status, _) = app
            .post(
                &format!("/api/v1/orders/{id}/hold"),
                json!({"reason": "checking the address"}),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        let mut response = reqwest::Client::new()
            .get(app.url(&format!("/ui/events?after={after}")))
            .header(COOKIE, &ui.cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let mut seen = String::new();
        let found = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(chunk) = response.chunk().await.unwrap() {
                seen.push_str(&String::from_utf8_lossy(&chunk));
                if seen.contains("\"type\":\"order.held\"") && seen.contains(id) {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(found, Ok(true), "{seen}");
    }
}

#[tokio::test]
async fn kpi_tiles_lead_to_the_orders_they_count() {
    for app in apps().await {
        let now = chrono::Utc::now();
        // Ship-by is 48 hours after placing: five days ago is past due, 36 hours ago is due
        // within the next 24 hours, now is neither.
        for (external, placed) in [
            ("DUE-PAST", now - chrono::Duration::days(5)),
            ("DUE-SOON", now - chrono::Duration::hours(36)),
            ("DUE-LATER", now),
        ] {
            let mut body = order_body(external, &[1]);
            body["placed_at"] = json!(placed.to_rfc3339());
            let (status, created) = app.post("/api/v1/orders", body).await;
            assert_eq!(status, StatusCode::CREATED, "{created}");
        }
        for (due, expected) in [("past", "DUE-PAST"), ("soon", "DUE-SOON")] {
            let (status, page) = app.get(&format!("/api/v1/orders?due={due}")).await;
            assert_eq!(status, StatusCode::OK, "{page}");
            let found: Vec<&str> = page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["external_id"].as_str().unwrap())
                .collect();
            assert_eq!(found, [expected], "due={due}");
        }
        let (status, problem) = app.get("/api/v1/orders?due=yesterday").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["errors"][0]["field"], "due", "{problem}");

        let ui = UiClient::sign_in(&app, "viewer").await;
        let dashboard = ui.get("/ui").await;
        for (kpi, expected) in [
            ("past_due", vec!["DUE-PAST"]),
            ("in_jeopardy", vec!["DUE-SOON"]),
            ("today_orders", vec!["DUE-LATER"]),
        ] {
            let tile = dashboard
                .body
                .split(&format!("data-kpi=\"{kpi}\""))
                .nth(1)
                .unwrap_or_else(|| panic!("a {kpi} tile"));
            let href = tile
                .split("href=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_else(|| panic!("the {kpi} tile links somewhere"))
                .replace("&amp;", "&");
            let list = ui.get(&href).await;
            assert_eq!(list.status, StatusCode::OK, "{href}");
            assert_eq!(external_ids(&list.body), expected, "{kpi}: {href}");
            assert!(
                list.body
                    .contains(&format!("data-count=\"{}\"", expected.len())),
                "{kpi}: {}",
                list.body
            );
        }
    }
}

#[tokio::test]
async fn pages_read_in_the_reader_time_zone_with_a_skip_link() {
    for app in apps().await {
        let mut body = order_body("TZ-1", &[1]);
        body["placed_at"] = json!("2026-11-26T10:00:00.123456789Z");
        let (status, _) = app.post("/api/v1/orders", body).await;
        assert_eq!(status, StatusCode::CREATED);
        let mut ui = UiClient::sign_in(&app, "viewer").await;
        let utc = ui.get("/ui/orders").await;
        assert!(
            utc.body.contains(">2026-11-26 10:00:00 UTC<"),
            "{}",
            utc.body
        );
        assert!(utc.body.contains("href=\"#main\""));
        ui.cookie = format!("{}; iom_tz=Asia%2FTokyo", ui.cookie);
        let tokyo = ui.get("/ui/orders").await;
        assert!(
            tokyo.body.contains(">2026-11-26 19:00:00 JST<"),
            "{}",
            tokyo.body
        );
        assert!(!tokyo.body.contains(".123456789"));
    }
}

#[tokio::test]
async fn tasks_page_past_any_size_with_their_order() {
    for app in super::apps_with_flows().await {
        // Each order the flow sends to manual review leaves one open task.
        let (status, body) = app
            .client
            .put(app.url("/api/v1/flows/review-all"))
            .bearer_auth(super::ADMIN)
            .header("content-type", "application/yaml")
            .body(
                "name: review-all\ntype: order\ntrigger: order.received\npriority: 10\nsteps:\n  \
                 - id: review\n    uses: manual-review\n    with: {queue: fraud, reason: check it}\n",
            )
            .send()
            .await
            .map(|r| (r.status(), r))
            .unwrap();
        assert!(status.is_success(), "{:?}", body.text().await);
        let (status, body) = app
            .post("/api/v1/flows/review-all/publish", json!({}))
            .await;
        assert!(status.is_success(), "{body}");
        let count = 53;
        for i in 0..count {
            let mut order = order_body(&format!("T-{i:02}"), &[1]);
            order["customer"]["name"] = json!(format!("Customer {i:02}"));
            let (status, body) = app.post("/api/v1/orders", order).await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
        }
        let mut tasks = Vec::new();
        for _ in 0..150 {
            let (_, page) = app.get("/api/v1/tasks?status=open&limit=500").await;
            tasks = page["items"].as_array().unwrap().clone();
            if tasks.len() == count {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(tasks.len(), count, "{}", app.backend);

        // The API pages by cursor.
        let (_, page) = app.get("/api/v1/tasks?status=open&limit=50").await;
        let cursor = page["next_cursor"]
            .as_str()
            .expect("a next page")
            .to_owned();
        let (status, rest) = app
            .get(&format!(
                "/api/v1/tasks?status=open&limit=50&cursor={}",
                urlencode(&cursor)
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{rest}");
        assert_eq!(rest["items"].as_array().unwrap().len(), count - 50);
        assert!(rest["next_cursor"].is_null());
        let (status, _) = app.get("/api/v1/tasks?cursor=nonsense").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

        // The page: a count, the order's customer, value and status, and every task once.
        let ui = UiClient::sign_in(&app, "operator").await;
        let first = ui.get("/ui/tasks").await;
        assert_eq!(data_count(&first.body), count as i64);
        assert!(first.body.contains("Customer 00"), "{}", first.body);
        assert!(first.body.contains("19.99 USD"));
        let rows = |html: &str| html.matches("action=\"/ui/tasks/").count();
        assert_eq!(rows(&first.body), 50);
        let second = ui.get(&next_link(&first.body).expect("a next page")).await;
        assert_eq!(rows(&second.body), count - 50);
        assert!(next_link(&second.body).is_none());
        let both = format!("{}{}", first.body, second.body);
        for i in 0..count {
            assert!(
                both.contains(&format!("Customer {i:02}")),
                "task of T-{i:02}"
            );
        }
    }
}
