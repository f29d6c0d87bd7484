//! Notifications: e-mails to customers and operators (and webhook calls) caused by business
//! events, through the outbox.
//!
//! - Templates ([`iom_providers::notify`]): the defaults, replaced or disabled by name with
//!   [`put_template`]; every part is checked when it is saved. [`preview`] renders one for an
//!   order without sending it.
//! - [`derive`]: a consumer of the event log (cursor `notifications`) renders the templates of
//!   each event and records one row per (event, template, recipient) in the transaction that
//!   moves its cursor, before anything is sent. A unique key on that triple, and the
//!   compare-and-set on the cursor, keep a business event from yielding two messages of one
//!   template whatever runs twice: a crash, a retry, a restart, several processes.
//! - [`send`]: claims due rows a batch per transaction (`sending`, the attempt counted), hands
//!   each to the SMTP server (or POSTs it) and records `sent` after the server's `250` (a batch's in one write), or
//!   the error and when to try again, with exponential backoff, `dead` after the last attempt.
//!
//! Opting out: a template named in the channel's provider instance
//! (`settings.notifications.opt_out: ["order-confirmation"]`, or `true` for all) or in the
//! order's `attributes.notifications_opt_out` (a list of names, or `true`) is recorded as
//! `opted_out` and not sent.
//!
//! What is guaranteed: an e-mail reaches the server once. Right before its message goes out
//! (after the server's `354`), the row moves from `sending` to `handing` in its own commit, a
//! compare-and-set on this sender's claim. A process that dies before that commit leaves a
//! `sending` row and a server transaction without its final dot, which the server discards:
//! the row is sent again when its claim expires, and that is the only copy. A process that
//! dies after it leaves a `handing` row, which is never sent again: when its claim expires it
//! becomes `unknown` ("may or may not have arrived"), listed at `GET /api/v1/notifications`.
//! Only a crash between that commit and the message's last byte (the time it takes to wake
//! the sender and write the message) can leave an `unknown` e-mail that did not arrive; the SIGKILL test (`iom-cli`, `notify.rs`)
//! kills `iom serve` while hundreds of e-mails a second flow and checks that none arrives
//! twice and that every one that is not `unknown` arrives. Every e-mail carries a `Message-ID`
//! derived from its row (`<notification id@iom>`). Webhooks have no such point: one whose
//! sender died mid-request is sent again, with the same `X-IOM-Notification-Id`.

pub mod derive;
pub mod send;
pub mod smtp;

use std::time::Duration;

use chrono::Utc;
use iom_domain::{FieldError, OrderId};
use iom_providers::notify::{self, Rendered, Template};
use iom_store::events::Event;
use iom_store::{Store, StoreError};
use serde_json::{Value, json};

/// How notifications are sent (`IOM_SMTP_URL` and friends).
#[derive(Debug, Clone)]
pub struct Settings {
    /// `smtp://host:port` (plain, or STARTTLS with `?tls=required`), `smtps://user:pass@host:port`
    /// (TLS). Without it e-mails are recorded and wait, `pending`, until one is set.
    pub smtp_url: Option<String>,
    /// The sender of every e-mail (`IOM_SMTP_FROM`).
    pub from: String,
    /// Attempts before a notification is `dead`.
    pub attempts: u32,
    /// The wait after the first failure, doubling up to `max_backoff`.
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    /// How long a claim holds: a row still `sending` after it belonged to a process that died.
    pub claim: Duration,
    /// SMTP connections kept open and used at once.
    pub connections: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            smtp_url: None,
            from: "iom <iom@localhost>".into(),
            attempts: 25,
            first_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(600),
            claim: Duration::from_secs(60),
            connections: 8,
        }
    }
}

impl Settings {
    /// The wait after the `attempt`-th failed attempt.
    pub fn backoff(&self, attempt: u32) -> Duration {
        self.first_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.max_backoff)
    }
}

/// A template by name, as in effect: the operator's, else the default.
#[derive(Debug, Clone)]
pub struct NamedTemplate {
    pub name: String,
    pub template: Template,
    /// false for a default nobody replaced.
    pub custom: bool,
    pub updated_at: Option<chrono::DateTime<Utc>>,
}

/// Every template in effect, by name.
pub async fn templates(store: &Store) -> Result<Vec<NamedTemplate>, StoreError> {
    let mut out: Vec<NamedTemplate> = notify::defaults()
        .into_iter()
        .map(|(name, template)| NamedTemplate {
            name: name.to_owned(),
            template,
            custom: false,
            updated_at: None,
        })
        .collect();
    for record in store.list_notification_templates().await? {
        let template: Template = serde_json::from_value(record.doc)?;
        let named = NamedTemplate {
            name: record.name.clone(),
            template,
            custom: true,
            updated_at: Some(record.updated_at),
        };
        match out.iter_mut().find(|t| t.name == record.name) {
            Some(slot) => *slot = named,
            None => out.push(named),
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

pub async fn template(store: &Store, name: &str) -> Result<Option<NamedTemplate>, StoreError> {
    Ok(templates(store).await?.into_iter().find(|t| t.name == name))
}

/// Why a template was not saved or a preview not rendered.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("invalid")]
    Invalid(Vec<FieldError>),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks and saves a template; true when no template had the name (a default replaced is not
/// new).
pub async fn put_template(store: &Store, name: &str, body: &Value) -> Result<bool, NotifyError> {
    let parsed = Template::parse(body);
    let mut errors = Vec::new();
    if !notify::valid_name(name) {
        errors.push(FieldError::new(
            "name",
            "1 to 64 letters, digits, '-', '_' or '.'",
        ));
    }
    match parsed {
        Ok(template) if errors.is_empty() => {
            let doc = serde_json::to_value(&template).map_err(StoreError::from)?;
            let existed = self::template(store, name).await?.is_some();
            store
                .put_notification_template(name.to_owned(), doc)
                .await?;
            Ok(!existed)
        }
        Ok(_) => Err(NotifyError::Invalid(errors)),
        Err(more) => {
            errors.extend(more);
            Err(NotifyError::Invalid(errors))
        }
    }
}

/// Renders template `name` for an order as its event would, sending nothing. The event is the
/// order's latest of the template's type when it had one, else one made up from the order.
pub async fn preview(
    store: &Store,
    name: &str,
    order_id: OrderId,
) -> Result<Rendered, NotifyError> {
    let named = template(store, name).await?.ok_or_else(|| {
        NotifyError::NotFound(format!("notification template {name} does not exist"))
    })?;
    let order = store
        .get_order(order_id)
        .await?
        .ok_or_else(|| NotifyError::NotFound(format!("order {order_id} does not exist")))?;
    let event = store
        .subject_events(order_id.to_string())
        .await?
        .into_iter()
        .rfind(|e| e.kind == named.template.event)
        .unwrap_or_else(|| Event {
            seq: 0,
            kind: named.template.event.clone(),
            subject: order_id.to_string(),
            at: Utc::now(),
            data: json!({"order_id": order_id, "external_id": order.external_id}),
            actor: None,
        });
    let order = serde_json::to_value(&order).map_err(StoreError::from)?;
    let scope = scope(store, &event, Some(order)).await;
    named
        .template
        .render(&scope)
        .map_err(|e| NotifyError::Invalid(vec![e]))
}

/// What a template sees for `event`: see [`iom_providers::notify`].
pub async fn scope(store: &Store, event: &Event, order: Option<Value>) -> Value {
    let data = &event.data;
    let mut shipment = match event.kind.as_str() {
        "order.shipment_created" | "order.shipment_updated" => data.clone(),
        // Any other event of a shipped order sees its latest shipment.
        _ => order
            .as_ref()
            .and_then(|o| o["shipments"].as_array()?.last().cloned())
            .unwrap_or(Value::Null),
    };
    if shipment.is_object() && shipment["tracking_url"].is_null() {
        shipment["tracking_url"] = json!(notify::tracking_url(
            shipment["carrier"].as_str(),
            shipment["tracking"].as_str()
        ));
    }
    let mut ret = if event.kind.starts_with("return.") {
        data.clone()
    } else {
        Value::Null
    };
    // Where to send a return: the node's address, when the node has one.
    if let Some(node) = ret["return_to"]["node"].as_str()
        && let Ok(Some(record)) = store.get_node(node.to_owned()).await
    {
        ret["return_to"]["address"] = record.doc["address"].clone();
    }
    json!({
        "order": order,
        "event": {"type": event.kind, "seq": event.seq, "at": event.at, "data": data},
        "shipment": shipment,
        "return": ret,
        "refund": data.get("refund").cloned().unwrap_or(Value::Null),
        "alert": if event.kind == "alert.fired" { data.clone() } else { Value::Null },
    })
}
