use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Mutex;

use super::{Server, TOKEN, order};

/// Clients keep sending orders; the server is killed with SIGKILL the moment the 100th `201`
/// arrives. After a restart every order that was answered `201` is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_order_answered_201_survives_sigkill() {
    for db in iom_store::testing::all() {
        let server = Server::start(&db.url).await;
        let client = reqwest::Client::new();
        let accepted = Arc::new(Mutex::new(Vec::<String>::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for c in 0..8 {
            let (client, url) = (client.clone(), format!("{}/api/v1/orders", server.url));
            let (accepted, stop) = (accepted.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    i += 1;
                    let sent = client
                        .post(&url)
                        .bearer_auth(TOKEN)
                        .json(&order(&format!("crash-{c}-{i}")))
                        .send()
                        .await;
                    let Ok(resp) = sent else { break };
                    if resp.status() != 201 {
                        break;
                    }
                    let Ok(body) = resp.json::<serde_json::Value>().await else { break };
                    let mut accepted = accepted.lock().await;
                    accepted.push(body["id"].as_str().unwrap().to_owned());
                    if accepted.len() >= 100 {
                        stop.store(true, Ordering::SeqCst);
                    }
                }
            }));
        }
        while !stop.load(Ordering::SeqCst) {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        server.kill().await;
        for t in tasks {
            t.await.unwrap();
        }
        let accepted = accepted.lock().await.clone();
        assert!(accepted.len() >= 100);

        let server = Server::start(&db.url).await;
        for id in &accepted {
            let resp = client
                .get(format!("{}/api/v1/orders/{id}", server.url))
                .bearer_auth(TOKEN)
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200, "{}: order {id} was answered 201 and is gone", db.backend);
        }
        let events: serde_json::Value = client
            .get(format!("{}/api/v1/events?type=order.received&limit=1000", server.url))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let announced: Vec<&str> = events["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["subject"].as_str().unwrap())
            .collect();
        for id in &accepted {
            assert!(announced.contains(&id.as_str()), "order {id} was never announced");
        }
        server.kill().await;
    }
}
