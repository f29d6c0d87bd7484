//! Business events to NATS JetStream, subject `iom.<event type>`, when `IOM_NATS_URL` is set.
//!
//! The publisher keeps its own cursor (`nats`) in the database and moves it only after JetStream
//! acknowledged the event, so it is at least once; each message carries `Nats-Msg-Id` = the
//! event's sequence number and commit time, so JetStream's duplicate window drops a resend after a crash.

use std::time::Duration;

use async_nats::jetstream;
use tokio::task::JoinHandle;

use crate::App as AppState;

pub const STREAM: &str = "IOM";
pub const CONSUMER: &str = "nats";

pub fn spawn(state: AppState, url: String) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut failures = 0u32;
        loop {
            match run(&state, &url).await {
                Ok(()) => return,
                Err(error) => {
                    failures += 1;
                    tracing::warn!(%error, failures, "NATS publisher failed");
                    let _ = state
                        .store
                        .cursor_failed(CONSUMER.into(), error.clone())
                        .await;
                    tokio::time::sleep(super::delivery::backoff(failures, Duration::from_secs(30)))
                        .await;
                }
            }
        }
    })
}

async fn run(state: &AppState, url: &str) -> Result<(), String> {
    let client = async_nats::connect(url).await.map_err(|e| e.to_string())?;
    let js = jetstream::new(client);
    js.get_or_create_stream(jetstream::stream::Config {
        name: STREAM.into(),
        subjects: vec!["iom.>".into()],
        ..Default::default()
    })
    .await
    .map_err(|e| e.to_string())?;
    let mut lease = super::delivery::Lease::new(CONSUMER);
    loop {
        lease.hold(state).await;
        let cursor = state
            .store
            .cursor(CONSUMER.into(), 0)
            .await
            .map_err(|e| e.to_string())?;
        let events = state
            .store
            .events_after(cursor.cursor, None, 500)
            .await
            .map_err(|e| e.to_string())?;
        if events.is_empty() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        // Publish the batch, then wait for every acknowledgement; JetStream keeps them in order.
        let mut acks = Vec::with_capacity(events.len());
        for event in &events {
            let mut headers = async_nats::HeaderMap::new();
            // The commit time makes the id unique across databases that share one stream.
            let id = format!("{}-{}", event.seq, event.at.timestamp_micros());
            headers.insert("Nats-Msg-Id", id.as_str());
            let body = serde_json::to_vec(event).map_err(|e| e.to_string())?;
            let ack = js
                .publish_with_headers(format!("iom.{}", event.kind), headers, body.into())
                .await
                .map_err(|e| e.to_string())?;
            acks.push(ack);
        }
        let mut last = cursor.cursor;
        let mut sent = 0i64;
        let mut failure = None;
        for (ack, event) in acks.into_iter().zip(&events) {
            match ack.await {
                Ok(_) => {
                    last = event.seq;
                    sent += 1;
                }
                Err(e) => {
                    failure = Some(e.to_string());
                    break;
                }
            }
        }
        if sent > 0 {
            state
                .store
                .advance_cursor(CONSUMER.into(), last, sent)
                .await
                .map_err(|e| e.to_string())?;
        }
        if let Some(e) = failure {
            return Err(e);
        }
    }
}
