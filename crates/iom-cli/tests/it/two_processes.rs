use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{Server, TOKEN, order};

/// Two `iom serve` processes on one PostgreSQL database take orders at once, half of them sent to
/// both: each order exists once, every 201 and 409 names it, and a consumer paging the events of
/// one process sees every event of both.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_on_one_postgres_database() {
    let Some(db) = iom_store::testing::postgres() else {
        eprintln!("IOM_TEST_POSTGRES_URL is not set: skipping the PostgreSQL half");
        return;
    };
    // Orders stay as captured: the events counted below are theirs alone.
    let quiet = [("IOM_FLOWS", "off")];
    let servers = [
        Server::start_with(&db.url, &quiet).await,
        Server::start_with(&db.url, &quiet).await,
    ];
    let urls: Vec<String> = servers.iter().map(|s| s.url.clone()).collect();
    let client = reqwest::Client::new();

    let done = Arc::new(AtomicBool::new(false));
    let consumer = {
        let (client, url, done) = (client.clone(), urls[0].clone(), done.clone());
        tokio::spawn(async move {
            let (mut seen, mut after) = (Vec::new(), 0i64);
            loop {
                let finished = done.load(Ordering::SeqCst);
                let page: serde_json::Value = client
                    .get(format!("{url}/api/v1/events?after={after}&limit=1000"))
                    .bearer_auth(TOKEN)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let items = page["items"].as_array().unwrap();
                after = page["next_cursor"].as_str().unwrap().parse().unwrap();
                seen.extend(items.iter().map(|e| e["seq"].as_i64().unwrap()));
                if finished && items.is_empty() {
                    return seen;
                }
            }
        })
    };

    let mut tasks = Vec::new();
    for c in 0..16 {
        let (client, urls) = (client.clone(), urls.clone());
        tasks.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            for i in 0..40 {
                // Even orders go to both processes, odd ones to one.
                let external_id = format!("two-{c}-{i}");
                let targets: Vec<&String> = if i % 2 == 0 {
                    urls.iter().collect()
                } else {
                    vec![&urls[c % 2]]
                };
                for url in targets {
                    let resp = client
                        .post(format!("{url}/api/v1/orders"))
                        .bearer_auth(TOKEN)
                        .json(&order(&external_id))
                        .send()
                        .await
                        .unwrap();
                    let status = resp.status().as_u16();
                    let body: serde_json::Value = resp.json().await.unwrap();
                    let id = match status {
                        201 => body["id"].as_str().unwrap().to_owned(),
                        409 => body["existing_id"].as_str().unwrap().to_owned(),
                        other => panic!("unexpected {other}: {body}"),
                    };
                    answers.push((external_id.clone(), status, id));
                }
            }
            answers
        }));
    }
    let mut by_external: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut created = 0;
    for t in tasks {
        for (external_id, status, id) in t.await.unwrap() {
            created += usize::from(status == 201);
            by_external.entry(external_id).or_default().insert(id);
        }
    }
    assert_eq!(by_external.len(), 640);
    assert!(
        by_external.values().all(|ids| ids.len() == 1),
        "one order per external id"
    );
    assert_eq!(created, 640, "each order created exactly once");

    done.store(true, Ordering::SeqCst);
    let seen = consumer.await.unwrap();
    let all: serde_json::Value = client
        .get(format!("{}/api/v1/events?limit=1000", urls[1]))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let all: Vec<i64> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(all.len(), 640);
    assert_eq!(
        seen, all,
        "the consumer saw every event exactly once, in order"
    );
    for s in servers {
        s.kill().await;
    }
}

/// A hundred clients, spread over two processes on one PostgreSQL database, reserve one hot SKU:
/// no more is reserved than was available.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_processes_never_oversell_one_sku() {
    let Some(db) = iom_store::testing::postgres() else {
        eprintln!("IOM_TEST_POSTGRES_URL is not set: skipping the PostgreSQL half");
        return;
    };
    let store = iom_store::Store::open(&db.url).await.unwrap();
    store
        .put_node(iom_store::nodes::NodeRecord {
            code: "WH1".into(),
            kind: "warehouse".into(),
            active: true,
            safety_stock: 0,
            doc: serde_json::json!({}),
            updated_at: chrono::Utc::now(),
        })
        .await
        .unwrap();
    let servers = [Server::start(&db.url).await, Server::start(&db.url).await];
    let client = reqwest::Client::new();
    let set = client
        .post(format!("{}/api/v1/inventory/changes", servers[0].url))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"changes": [{"id": "count", "sku": "HOT", "node": "WH1", "kind": "set", "quantity": 57}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    let mut tasks = Vec::new();
    for i in 0..100 {
        let (client, url) = (client.clone(), servers[i % 2].url.clone());
        tasks.push(tokio::spawn(async move {
            client
                .post(format!("{url}/api/v1/inventory/reservations"))
                .bearer_auth(TOKEN)
                .json(&serde_json::json!({"sku": "HOT", "node": "WH1", "quantity": 2}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut created = 0;
    for t in tasks {
        match t.await.unwrap() {
            201 => created += 1,
            409 => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(created, 28, "57 units hold 28 reservations of 2");
    let balances = store.balances(vec!["HOT".into()], vec![]).await.unwrap();
    assert_eq!((balances[0].reserved, balances[0].available), (56, 1));
    for s in servers {
        s.kill().await;
    }
}
