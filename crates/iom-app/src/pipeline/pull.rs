//! Pull mode: for sources that must be polled (a REST, Shopify or Amazon-like "orders updated
//! since" endpoint), a worker per instance with `settings.pull` fetches page after page and
//! imports each through the instance's transformation and mappings, like a pushed document.
//!
//! The checkpoint is the newest "updated" time among the orders of the last stored page. It
//! moves in the transaction that stores the page's message and orders
//! (`Store::process_pulled_page`), so a process that dies mid-import starts again after the last
//! page it committed: nothing is skipped. The next request asks for orders updated at or after
//! the checkpoint, so the orders at that instant come again; they are recognised by their
//! (channel, external id) and not created twice.
//!
//! `settings.pull`:
//!
//! | field | default | |
//! |---|---|---|
//! | `url` | required | the endpoint |
//! | `since_param` | `updated_at_min` | query parameter carrying the checkpoint |
//! | `limit_param` | `limit` | query parameter carrying the page size |
//! | `limit` | 50 | orders per page |
//! | `items` | `orders` | the array of orders in the response (the response itself when it is an array) |
//! | `updated_field` | `updated_at` | each order's RFC 3339 "updated" time |
//! | `start` | `1970-01-01T00:00:00Z` | the first checkpoint |
//! | `interval_ms` | 60000 | the wait between polls once the source has nothing new |
//!
//! The connection's `access_token`, when set, is sent as `X-Shopify-Access-Token` to a `shopify`
//! instance and as a bearer token to any other.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use iom_providers::inbound;
use iom_store::providers::Apply;
use serde::Deserialize;
use serde_json::Value;
use tokio::task::JoinHandle;

use super::delivery::{Lease, backoff};
use super::{Loaded, content_apply, inbound_message};
use crate::App as AppState;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PullSettings {
    pub url: String,
    #[serde(default = "since_param")]
    pub since_param: String,
    #[serde(default = "limit_param")]
    pub limit_param: String,
    #[serde(default = "limit")]
    pub limit: usize,
    #[serde(default = "items")]
    pub items: String,
    #[serde(default = "updated_field")]
    pub updated_field: String,
    #[serde(default = "start")]
    pub start: String,
    #[serde(default = "interval_ms")]
    pub interval_ms: u64,
}

fn since_param() -> String {
    "updated_at_min".into()
}
fn limit_param() -> String {
    "limit".into()
}
fn limit() -> usize {
    50
}
fn items() -> String {
    "orders".into()
}
fn updated_field() -> String {
    "updated_at".into()
}
fn start() -> String {
    "1970-01-01T00:00:00Z".into()
}
fn interval_ms() -> u64 {
    60_000
}

impl PullSettings {
    /// The instance's pull settings; `None` when it is not polled.
    pub fn of(loaded: &Loaded) -> Option<Result<PullSettings, String>> {
        let value = &loaded.record.config["settings"]["pull"];
        if value.is_null() {
            return None;
        }
        Some(PullSettings::parse(value).map_err(|e| format!("settings.pull: {e}")))
    }

    /// Reads and checks `settings.pull`.
    pub fn parse(value: &Value) -> Result<PullSettings, String> {
        let s = serde_json::from_value::<PullSettings>(value.clone()).map_err(|e| e.to_string())?;
        if s.limit == 0 {
            Err("limit must be at least 1".into())
        } else if DateTime::parse_from_rfc3339(&s.start).is_err() {
            Err("start must be an RFC 3339 time".into())
        } else if !(s.url.starts_with("http://") || s.url.starts_with("https://")) {
            Err("url must be an http:// or https:// URL".into())
        } else {
            Ok(s)
        }
    }
}

/// Short, so that after a crash another process goes on with the import within seconds.
const LEASE: Duration = Duration::from_secs(3);
/// How often the supervisor looks for instances that started or stopped being polled.
const SUPERVISE: Duration = Duration::from_secs(1);

/// Starts a worker for every instance with `settings.pull`, now and whenever one is added.
pub fn spawn(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut set = tokio::task::JoinSet::new();
        let mut workers: HashMap<String, tokio::task::AbortHandle> = HashMap::new();
        loop {
            while set.try_join_next().is_some() {}
            match state.store.list_providers().await {
                Ok(providers) => {
                    for p in providers {
                        if p.config["settings"]["pull"].is_null() || p.kind == "bigcommerce" {
                            continue;
                        }
                        let running = workers.get(&p.name).is_some_and(|h| !h.is_finished());
                        if !running {
                            let state = state.clone();
                            let name = p.name.clone();
                            workers.insert(p.name, set.spawn(poll(state, name)));
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot list providers to poll"),
            }
            tokio::time::sleep(SUPERVISE).await;
        }
    })
}

/// The consumer name of an instance's lease.
fn consumer(name: &str) -> String {
    format!("pull:{name}")
}

async fn poll(state: AppState, name: String) {
    let mut lease = Lease::with_ttl(&consumer(&name), LEASE);
    let mut failures = 0u32;
    loop {
        lease.hold(&state).await;
        let loaded = match state.pipeline.load(&state.store, &name).await {
            Ok(l) => l,
            Err(super::PipelineError::UnknownProvider(_)) => return,
            Err(e) => {
                tracing::warn!(provider = %name, error = %e, "cannot load a polled provider");
                tokio::time::sleep(backoff(failures.max(1), Duration::from_secs(60))).await;
                continue;
            }
        };
        let Some(settings) = PullSettings::of(&loaded) else {
            return;
        };
        let wait = match settings {
            Err(e) => {
                tracing::warn!(provider = %name, error = %e, "pull settings");
                Duration::from_secs(60)
            }
            Ok(settings) => match pull(&state, &loaded, &settings).await {
                Ok(_) => {
                    failures = 0;
                    Duration::from_millis(settings.interval_ms)
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(provider = %name, error = %e, failures, "pull failed");
                    let _ = state.store.cursor_failed(consumer(&name), e).await;
                    backoff(
                        failures,
                        Duration::from_millis(settings.interval_ms.max(100)),
                    )
                }
            },
        };
        tokio::time::sleep(wait).await;
    }
}

/// Imports every page the source has after the checkpoint; the number of pages stored.
pub async fn pull(
    state: &AppState,
    loaded: &Loaded,
    settings: &PullSettings,
) -> Result<usize, String> {
    let mut pages = 0;
    loop {
        let stored = state
            .store
            .pull_checkpoint(loaded.name().to_owned())
            .await
            .map_err(|e| e.to_string())?
            .map(|c| c.checkpoint);
        let since = stored.clone().unwrap_or_else(|| settings.start.clone());
        let body = fetch(state, loaded, settings, &since).await?;
        let value = inbound::parse_json(&body).map_err(|e| e.to_string())?;
        let items = match &value {
            Value::Array(items) => items,
            other => other[settings.items.as_str()]
                .as_array()
                .ok_or_else(|| format!("the response has no {:?} array", settings.items))?,
        };
        let count = items.len();
        let since_time = parse_time(&since)?;
        let mut newest: Option<(DateTime<chrono::FixedOffset>, String)> = None;
        for (i, item) in items.iter().enumerate() {
            let text = item[settings.updated_field.as_str()]
                .as_str()
                .ok_or_else(|| {
                    format!(
                        "{}[{i}] has no {:?}",
                        settings.items, settings.updated_field
                    )
                })?;
            let time = parse_time(text)?;
            if newest.as_ref().is_none_or(|(t, _)| time > *t) {
                newest = Some((time, text.to_owned()));
            }
        }
        let Some((newest_time, newest_text)) = newest else {
            break;
        };
        if newest_time <= since_time {
            if count >= settings.limit {
                return Err(format!(
                    "a whole page of {count} orders has {:?} {since}: raise settings.pull.limit",
                    settings.updated_field
                ));
            }
            // Only orders already imported (those at the checkpoint itself).
            break;
        }
        let document = if loaded.instance.transform.is_some() {
            value.clone()
        } else {
            Value::Array(items.clone())
        };
        let apply = match inbound::json_orders(&loaded.instance, &document, Utc::now()) {
            Ok(content) => content_apply(loaded, content),
            Err(e) => Apply::Failed(e.to_json()),
        };
        let stored = state
            .store
            .process_pulled_page(
                inbound_message(loaded, "orders", body),
                "orders".into(),
                apply,
                stored,
                newest_text,
            )
            .await
            .map_err(|e| e.to_string())?;
        if stored.is_none() {
            // Another process moved the checkpoint: start again from where it is.
            continue;
        }
        pages += 1;
        if count < settings.limit {
            break;
        }
    }
    Ok(pages)
}

fn parse_time(text: &str) -> Result<DateTime<chrono::FixedOffset>, String> {
    DateTime::parse_from_rfc3339(text).map_err(|e| format!("{text:?} is not an RFC 3339 time: {e}"))
}

async fn fetch(
    state: &AppState,
    loaded: &Loaded,
    settings: &PullSettings,
    since: &str,
) -> Result<Vec<u8>, String> {
    let limit = settings.limit.to_string();
    let mut request = state
        .pipeline
        .http
        .get(&settings.url)
        .query(&[
            (settings.since_param.as_str(), since),
            (settings.limit_param.as_str(), limit.as_str()),
        ])
        .header("Accept", "application/json");
    if let Some(token) = loaded.connection("access_token") {
        request = if loaded.kind.name == "shopify" {
            request.header("X-Shopify-Access-Token", token)
        } else {
            request.bearer_auth(token)
        };
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("{}: {e}", settings.url))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{} answered {status}", settings.url));
    }
    response
        .bytes()
        .await
        .map(|b| b.to_vec())
        .map_err(|e| format!("{}: {e}", settings.url))
}
