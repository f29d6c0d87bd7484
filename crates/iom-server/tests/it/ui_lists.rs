//! Lists, alerts and live updates in the web UI over plain HTTP: counts, sorting, keyset paging
//! under any sort, CSV export at the list's own address, saved filters (orders, inventory,
//! notifications, provider messages, returns, tasks), acknowledging alert firings (API and UI),
//! the event stream, times in the reader's zone.

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

        // Oldest first (the usual order) or newest first, every task once, one the other's reverse.
        let marker = "<td>Customer ";
        let oldest = all_rows(&ui, "/ui/tasks", marker).await;
        assert_eq!(oldest.len(), count);
        assert_eq!(oldest.iter().collect::<BTreeSet<_>>().len(), count);
        let mut newest = all_rows(&ui, "/ui/tasks?sort=-created", marker).await;
        newest.reverse();
        assert_eq!(newest, oldest, "{}", app.backend);
        assert!(
            first.body.contains("href=\"/ui/tasks?sort=-created\""),
            "{}",
            first.body
        );
        let reversed = ui.get("/ui/tasks?sort=-created").await;
        assert!(reversed.body.contains("aria-sort=\"descending\""));
        refused(&ui, "/ui/tasks?sort=queue", "sort").await;

        // The export: every task, in the list's order, with its order's customer.
        assert!(first.body.contains("format=csv"), "{}", first.body);
        let lines = csv_lines(&ui, "/ui/tasks?format=csv").await;
        assert_eq!(
            lines[0],
            "id,order_id,external_id,customer,value,currency,order_status,queue,step,reason,\
             status,decision,note,created_at,completed_at"
        );
        let customers: Vec<String> = lines[1..]
            .iter()
            .map(|l| {
                l.split(',')
                    .nth(3)
                    .unwrap()
                    .trim_start_matches("Customer ")
                    .to_owned()
            })
            .collect();
        assert_eq!(customers, oldest, "{}", app.backend);
        let newest_csv = csv_lines(&ui, "/ui/tasks?format=csv&sort=-created").await;
        assert_eq!(newest_csv.len(), count + 1);
        assert_eq!(newest_csv[1], lines[count], "newest first");
    }
}

/// The text that follows each `marker` up to the next tag, in order.
fn texts_after(html: &str, marker: &str) -> Vec<String> {
    html.split(marker)
        .skip(1)
        .map(|rest| rest.chars().take_while(|c| *c != '<').collect())
        .collect()
}

/// Every row of a list (the text after `marker` in each), following its next links.
async fn all_rows(ui: &UiClient, first: &str, marker: &str) -> Vec<String> {
    let mut rows = Vec::new();
    let mut next = Some(first.to_owned());
    while let Some(path) = next {
        let page = ui.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        rows.extend(texts_after(&page.body, marker));
        next = next_link(&page.body);
    }
    rows
}

/// The CSV lines of an export, which must be a CSV download.
async fn csv_lines(ui: &UiClient, path: &str) -> Vec<String> {
    let csv = ui.get(path).await;
    assert_eq!(csv.status, StatusCode::OK, "{path}: {}", csv.body);
    csv.body.lines().map(str::to_owned).collect()
}

/// A bad parameter is refused with 422, naming it.
async fn refused(ui: &UiClient, path: &str, field: &str) {
    let page = ui.get(path).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}");
    assert!(page.body.contains(field), "{path}: {}", page.body);
}

#[tokio::test]
async fn the_inventory_list_counts_sorts_pages_and_exports_every_sku() {
    for app in apps().await {
        app.add_node("SEA", "warehouse", 0).await;
        app.add_node("MIA", "warehouse", 0).await;
        // More SKUs than one page of the export reads, so that it streams two.
        let count = 520;
        let mut changes: Vec<Value> = Vec::new();
        for i in 0..count {
            let sku = format!("INV-{i:03}");
            changes.push(json!({"id": format!("s{i}"), "sku": sku, "node": "SEA", "kind": "set", "quantity": i + 1, "reason": "count"}));
            if i % 3 == 0 {
                changes.push(json!({"id": format!("m{i}"), "sku": sku, "node": "MIA", "kind": "set", "quantity": 10, "reason": "count"}));
            }
        }
        changes.push(json!({"id": "other", "sku": "OTHER-1", "node": "SEA", "kind": "set", "quantity": 1, "reason": "count"}));
        let (status, body) = app
            .post("/api/v1/inventory/changes", json!({"changes": changes}))
            .await;
        assert!(status.is_success(), "{body}");
        let ui = UiClient::sign_in(&app, "viewer").await;

        let first = ui.get("/ui/inventory?q=INV-").await;
        assert_eq!(data_count(&first.body), count as i64, "{}", app.backend);
        assert!(first.body.contains("520 SKUs"), "{}", first.body);
        assert_eq!(data_count(&ui.get("/ui/inventory").await.body), 521);
        assert_eq!(data_count(&ui.get("/ui/inventory?q=INV-00").await.body), 10);

        // Both directions page through every SKU once, in order.
        let marker = "<td><a href=\"/ui/inventory/";
        let skus = |rows: Vec<String>| -> Vec<String> {
            rows.iter()
                .map(|r| r.split('"').next().unwrap().to_owned())
                .collect()
        };
        let mut expected: Vec<String> = (0..count).map(|i| format!("INV-{i:03}")).collect();
        let ascending = skus(all_rows(&ui, "/ui/inventory?q=INV-", marker).await);
        assert_eq!(ascending, expected, "{}", app.backend);
        let descending = skus(all_rows(&ui, "/ui/inventory?q=INV-&sort=-sku", marker).await);
        expected.reverse();
        assert_eq!(descending, expected);
        // The SKU header sorts, keeping the search; the other columns do not.
        assert!(
            first
                .body
                .contains("href=\"/ui/inventory?q=INV-&amp;sort=-sku\""),
            "{}",
            first.body
        );
        let reversed = ui.get("/ui/inventory?q=INV-&sort=-sku").await;
        assert!(reversed.body.contains("aria-sort=\"descending\""));
        refused(&ui, "/ui/inventory?sort=available", "sort").await;

        // The export: every SKU the search finds, in the sort, with its stock.
        let lines = csv_lines(&ui, "/ui/inventory?q=INV-&format=csv").await;
        assert_eq!(lines[0], "sku,on_hand,reserved,allocated,available,nodes");
        assert_eq!(lines.len(), 1 + count, "{}", app.backend);
        assert_eq!(lines[1], "INV-000,11,0,0,11,2");
        assert_eq!(lines[2], "INV-001,2,0,0,2,1");
        assert_eq!(lines[count], "INV-519,530,0,0,530,2");
        let reversed = csv_lines(&ui, "/ui/inventory?q=INV-&sort=-sku&format=csv").await;
        assert_eq!(reversed[1], "INV-519,530,0,0,530,2");
        assert_eq!(reversed.len(), 1 + count);

        // A search saved under a name comes back as a link on the list.
        let saved = ui
            .submit(
                "/ui/saved-filters",
                &[
                    ("csrf", ui.csrf.as_str()),
                    ("list", "inventory"),
                    ("name", "INV-00, last first"),
                    ("query", "q=INV-00&sort=-sku&cursor=INV-005"),
                ],
            )
            .await;
        assert!(saved.body.contains("Filter saved"), "{}", saved.body);
        assert_eq!(data_count(&saved.body), 10);
        assert!(
            ui.get("/ui/inventory")
                .await
                .body
                .contains("href=\"/ui/inventory?q=INV-00&amp;sort=-sku\">INV-00, last first<"),
            "{}",
            app.backend
        );
    }
}

/// Notifications recorded as the notifications consumer records them (under a consumer of the
/// test's own), of two orders, in three statuses; e-mails wait, no server being set up.
async fn record_notifications(app: &TestApp, n: i64) -> (String, String) {
    use iom_store::notifications::{NewNotification, Skip};
    let orders = (
        uuid::Uuid::now_v7().to_string(),
        uuid::Uuid::now_v7().to_string(),
    );
    let store = &app.server.state.store;
    store.cursor("test-notifications".into(), 0).await.unwrap();
    let rows = (0..n)
        .map(|i| NewNotification {
            event_seq: i + 1,
            event_type: "order.received".into(),
            template: "order-confirmation".into(),
            channel: "email".into(),
            recipient: format!("n-{i:02}@example.com"),
            order_id: Some(if i % 4 == 0 { &orders.0 } else { &orders.1 }.clone()),
            subject: format!("Subject {i:02}"),
            body: "body".into(),
            html: None,
            skipped: if i % 5 == 0 {
                Some(Skip::OptedOut("customer".into()))
            } else if i % 7 == 0 {
                Some(Skip::Failed("no address".into()))
            } else {
                None
            },
        })
        .collect();
    assert!(
        store
            .commit_notifications("test-notifications".into(), 0, n, rows)
            .await
            .unwrap()
    );
    orders
}

#[tokio::test]
async fn the_notifications_list_counts_sorts_pages_exports_and_saves_filters() {
    for app in apps().await {
        let (first_order, _) = record_notifications(&app, 57).await;
        let ui = UiClient::sign_in(&app, "operator").await;

        let first = ui.get("/ui/notifications").await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.body);
        assert_eq!(data_count(&first.body), 57, "{}", app.backend);
        assert!(first.body.contains("57 notifications"));
        let of_order = ui
            .get(&format!("/ui/notifications?order_id={first_order}"))
            .await;
        assert_eq!(data_count(&of_order.body), 15);
        let opted_out = ui.get("/ui/notifications?status=opted_out").await;
        assert_eq!(data_count(&opted_out.body), 12);

        // Newest first, oldest first and by status each page through every notification once.
        let marker = "<td>n-";
        let (_, api) = app.get("/api/v1/notifications?limit=500").await;
        let newest: Vec<String> = api["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                n["recipient"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("n-")
                    .to_owned()
            })
            .collect();
        assert_eq!(newest.len(), 57);
        assert_eq!(all_rows(&ui, "/ui/notifications", marker).await, newest);
        let mut oldest = newest.clone();
        oldest.reverse();
        assert_eq!(
            all_rows(&ui, "/ui/notifications?sort=created", marker).await,
            oldest
        );
        let status_of = |i: &str| {
            let i: i64 = i[..2].parse().unwrap();
            if i % 5 == 0 {
                "opted_out"
            } else if i % 7 == 0 {
                "dead"
            } else {
                "pending"
            }
        };
        let mut by_status = oldest.clone();
        by_status.sort_by_key(|i| status_of(i));
        assert_eq!(
            all_rows(&ui, "/ui/notifications?sort=status", marker).await,
            by_status
        );
        let mut by_status_descending = newest.clone();
        by_status_descending.sort_by_key(|i| std::cmp::Reverse(status_of(i)));
        assert_eq!(
            all_rows(&ui, "/ui/notifications?sort=-status", marker).await,
            by_status_descending
        );
        // Headers sort, keeping the filter; bad parameters are named.
        assert!(
            opted_out
                .body
                .contains("href=\"/ui/notifications?status=opted_out&amp;sort=status\""),
            "{}",
            opted_out.body
        );
        refused(&ui, "/ui/notifications?sort=recipient", "sort").await;
        refused(&ui, "/ui/notifications?status=lost", "status").await;
        refused(&ui, "/ui/notifications?order_id=nope", "order_id").await;
        refused(&ui, "/ui/notifications?sort=status&cursor=nope", "cursor").await;

        // The export: the filter, in the sort, every row.
        let lines = csv_lines(
            &ui,
            "/ui/notifications?status=pending&sort=-created&format=csv",
        )
        .await;
        assert!(
            lines[0].starts_with("id,created_at,order_id,event_type,event_seq,template"),
            "{}",
            lines[0]
        );
        let pending: Vec<&String> = oldest
            .iter()
            .filter(|i| status_of(i) == "pending")
            .collect();
        assert_eq!(lines.len(), 1 + pending.len());
        let last = pending.last().unwrap();
        assert!(lines[1].contains(&format!(",n-{last},")), "{}", lines[1]);
        assert!(lines[1].contains(",pending,0,,"), "{}", lines[1]);
        assert_eq!(
            csv_lines(&ui, "/ui/notifications?format=csv").await.len(),
            1 + 57
        );

        // A saved filter comes back by name.
        let saved = ui
            .submit(
                "/ui/saved-filters",
                &[
                    ("csrf", ui.csrf.as_str()),
                    ("list", "notifications"),
                    ("name", "Opted out"),
                    ("query", "status=opted_out&sort=status&cursor=abc"),
                ],
            )
            .await;
        assert!(saved.body.contains("Filter saved"), "{}", saved.body);
        assert_eq!(data_count(&saved.body), 12);
        assert!(
            ui.get("/ui/notifications")
                .await
                .body
                .contains("href=\"/ui/notifications?status=opted_out&amp;sort=status\">Opted out<")
        );
    }
}

#[tokio::test]
async fn provider_messages_count_sort_page_and_export_without_raw_bodies() {
    use iom_store::providers::{Direction, NewMessage};
    for app in apps().await {
        let (status, body) = app
            .call(
                Method::PUT,
                "/api/v1/providers/edi",
                Some(json!({"type": "x12"})),
            )
            .await;
        assert!(status.is_success(), "{body}");
        let long = format!("MSG-57 {}", "x".repeat(400));
        let messages = (0..58)
            .map(|i| NewMessage {
                provider: "edi".into(),
                direction: Direction::Inbound,
                kind: "850".into(),
                status: if i % 3 == 0 { "failed" } else { "processed" },
                payload: if i == 57 {
                    long.clone().into_bytes()
                } else {
                    format!("MSG-{i:02}").into_bytes()
                },
            })
            .collect();
        app.server.state.store.log_messages(messages).await.unwrap();
        let ui = UiClient::sign_in(&app, "viewer").await;

        let first = ui.get("/ui/providers/edi").await;
        assert_eq!(data_count(&first.body), 58, "{}", app.backend);
        assert!(first.body.contains("58 messages"));
        let failed = ui.get("/ui/providers/edi?status=failed").await;
        assert_eq!(data_count(&failed.body), 20);

        let marker = "<td><code>MSG-";
        let (_, api) = app.get("/api/v1/providers/edi/messages?limit=500").await;
        let newest: Vec<String> = api["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(newest.len(), 58, "{api}");
        let rows = all_rows(&ui, "/ui/providers/edi", marker).await;
        assert_eq!(rows.len(), 58);
        assert_eq!(rows.iter().collect::<BTreeSet<_>>().len(), 58);
        let mut oldest = rows.clone();
        oldest.reverse();
        assert_eq!(
            all_rows(&ui, "/ui/providers/edi?sort=created", marker).await,
            oldest
        );
        assert_eq!(
            all_rows(&ui, "/ui/providers/edi?status=failed&sort=created", marker)
                .await
                .len(),
            20
        );
        // Newest first is the usual order: its header offers oldest first, keeping the filter.
        assert!(
            failed
                .body
                .contains("href=\"/ui/providers/edi?status=failed&amp;sort=created\""),
            "{}",
            failed.body
        );
        refused(&ui, "/ui/providers/edi?sort=kind", "sort").await;
        refused(&ui, "/ui/providers/edi?status=lost", "status").await;

        // The export: what the page shows of each message, the payload cut as the page cuts it.
        let lines = csv_lines(&ui, "/ui/providers/edi?format=csv").await;
        assert_eq!(
            lines[0],
            "id,direction,kind,status,attempts,error,order_ids,payload_preview,created_at,updated_at"
        );
        assert_eq!(lines.len(), 1 + 58);
        let ids: Vec<&str> = lines[1..]
            .iter()
            .map(|l| l.split(',').next().unwrap())
            .collect();
        assert_eq!(ids, newest);
        let long_row = lines.iter().find(|l| l.contains("MSG-57")).unwrap();
        assert!(long_row.contains('…'), "{long_row}");
        assert!(!long_row.contains(&"x".repeat(200)), "{long_row}");
        let failed_csv = csv_lines(
            &ui,
            "/ui/providers/edi?status=failed&sort=created&format=csv",
        )
        .await;
        assert_eq!(failed_csv.len(), 1 + 20);
        assert!(
            failed_csv[1].contains(",inbound,850,failed,"),
            "{}",
            failed_csv[1]
        );
    }
}

#[tokio::test]
async fn returns_sort_by_each_column_and_page_through_every_return() {
    for app in apps().await {
        super::returns::setup(&app).await;
        let mut orders = Vec::new();
        for o in 0..3 {
            let order = super::returns::shipped_order(&app, &format!("RS-{o}"), &[20], &[20]).await;
            orders.push(order["id"].as_str().unwrap().to_owned());
        }
        let count = 55;
        let mut made = Vec::new();
        for i in 0..count {
            let (status, ret) = app
                .post(
                    "/api/v1/returns",
                    json!({"order_id": orders[i % 3], "origin": "store",
                           "lines": [{"line_no": 1, "quantity": 1, "reason": "damaged"}]}),
                )
                .await;
            assert_eq!(status, StatusCode::CREATED, "{ret}");
            made.push(ret["id"].as_str().unwrap().to_owned());
        }
        // Cancelled out of order, so that the last changed is not the last created.
        for i in (0..count).filter(|i| i % 4 == 1).rev() {
            let (status, body) = app
                .post(&format!("/api/v1/returns/{}/cancel", made[i]), json!({}))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        let ui = UiClient::sign_in(&app, "operator").await;
        let marker = "<td><a href=\"/ui/returns/";
        let first = ui.get("/ui/returns").await;
        assert_eq!(data_count(&first.body), count as i64);

        // Each sort, both ways, gives every return once, in the sort's order.
        let (_, api) = app.get("/api/v1/returns?limit=500").await;
        let docs: Vec<Value> = api["items"].as_array().unwrap().clone();
        assert_eq!(docs.len(), count);
        let rows_of = |html_rows: Vec<String>| -> Vec<String> {
            html_rows
                .into_iter()
                .map(|r| r.split('"').next().unwrap().to_owned())
                .collect()
        };
        for (sort, key) in [
            ("created", "id"),
            ("updated", "updated_at"),
            ("status", "status"),
            ("order", "order_id"),
        ] {
            for descending in [false, true] {
                let param = if descending {
                    format!("-{sort}")
                } else {
                    sort.to_owned()
                };
                let rows =
                    rows_of(all_rows(&ui, &format!("/ui/returns?sort={param}"), marker).await);
                let mut expected: Vec<(String, String)> = docs
                    .iter()
                    .map(|d| {
                        let k = d[key].as_str().unwrap();
                        // A time compares as the instant it is (in microseconds, as stored),
                        // not as its text.
                        let k = match chrono::DateTime::parse_from_rfc3339(k) {
                            Ok(t) if key == "updated_at" => format!("{:020}", t.timestamp_micros()),
                            _ => k.to_owned(),
                        };
                        (k, d["id"].as_str().unwrap().to_owned())
                    })
                    .collect();
                expected.sort();
                if descending {
                    expected.reverse();
                }
                let expected: Vec<String> = expected.into_iter().map(|(_, id)| id).collect();
                assert_eq!(rows, expected, "sort={param} on {}", app.backend);
            }
        }
        // The headers sort, keeping the filter; the default is newest first.
        let cancelled = ui.get("/ui/returns?status=cancelled").await;
        assert_eq!(data_count(&cancelled.body), 14);
        assert!(
            cancelled
                .body
                .contains("href=\"/ui/returns?status=cancelled&amp;sort=created\""),
            "{}",
            cancelled.body
        );
        assert!(
            cancelled
                .body
                .contains("href=\"/ui/returns?status=cancelled&amp;sort=updated\""),
        );
        let by_update =
            rows_of(all_rows(&ui, "/ui/returns?status=cancelled&sort=-updated", marker).await);
        assert_eq!(by_update.len(), 14);
        // Cancelled from the last backwards: the latest change is the earliest of them.
        assert_eq!(by_update[0], made[1]);
        refused(&ui, "/ui/returns?sort=refund", "sort").await;
        refused(&ui, "/ui/returns?sort=updated&cursor=nope", "cursor").await;

        // The export follows the sort.
        let lines = csv_lines(&ui, "/ui/returns?status=cancelled&sort=-updated&format=csv").await;
        assert_eq!(lines.len(), 1 + 14);
        let exported: Vec<&str> = lines[1..]
            .iter()
            .map(|l| l.split(',').next().unwrap())
            .collect();
        assert_eq!(exported, by_update);
    }
}
