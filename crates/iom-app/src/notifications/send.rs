//! Sends the notifications that are due: e-mails over SMTP connections kept open
//! ([`super::smtp`]), webhooks as POSTs. Each round claims a batch in one transaction
//! (`Store::claim_notifications`: `sending`, the attempt counted, a claim that expires), then
//! sends the batch over up to `Settings::connections` connections at once, records each failure
//! as soon as it is known and the batch's accepted e-mails together when the batch is done.
//!
//! An e-mail is recorded `handing` between the server's `354` and its message, then `sent`
//! once the server's `250` came (with the rest of the batch), or the error with the time of the next attempt. A permanent refusal
//! (an SMTP 5xx, a webhook 4xx other than 408 and 429) is `dead` at once; anything else (the
//! server not listening, a timeout, a 4xx reply) is tried again with exponential backoff until
//! `Settings::attempts`. A message that went out with no reply is `unknown`, as is one whose
//! sender died while it was `handing`: see the module above.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use iom_store::notifications::{Claim, NotificationRecord};
use lettre::Message;
use lettre::message::{Mailbox, MultiPart, SinglePart, header::ContentType};
use tokio::task::JoinHandle;

use super::Settings;
use super::smtp::{Handover, Server, Smtp};
use crate::App;

/// Rows claimed per transaction.
const BATCH: usize = 200;
const POLL: Duration = Duration::from_millis(50);

/// The SMTP server of `IOM_SMTP_URL`, when one is set.
pub fn server(settings: &Settings) -> anyhow::Result<Option<Server>> {
    let Some(url) = settings.smtp_url.as_deref().filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    Server::parse(url)
        .map(Some)
        .map_err(|e| anyhow::anyhow!("IOM_SMTP_URL {}: {e}", crate::redact(url)))
}

/// Starts the sender.
pub fn spawn(app: App, settings: Settings) -> anyhow::Result<JoinHandle<()>> {
    let smtp = server(&settings)?.map(Smtp::new);
    if smtp.is_none() {
        tracing::info!("IOM_SMTP_URL is not set: e-mail notifications wait until it is");
    }
    let from: Mailbox = settings
        .from
        .parse()
        .map_err(|e| anyhow::anyhow!("IOM_SMTP_FROM {:?}: {e}", settings.from))?;
    let sender = Arc::new(Sender {
        app,
        smtp,
        from,
        settings,
    });
    Ok(tokio::spawn(async move {
        loop {
            match sender.round().await {
                Ok(0) => tokio::time::sleep(POLL).await,
                // Less than a batch: wait a little so that the next claim takes many rows in
                // one transaction rather than one each (see `derive`).
                Ok(n) if n < BATCH => tokio::time::sleep(super::derive::PACE).await,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "notifications: cannot read or claim");
                    tokio::time::sleep(POLL * 20).await;
                }
            }
        }
    }))
}

struct Sender {
    app: App,
    smtp: Option<Smtp>,
    from: Mailbox,
    settings: Settings,
}

enum Outcome {
    Sent,
    Failed {
        error: String,
        permanent: bool,
    },
    /// Another process holds the notification now; it records the outcome.
    Withdrawn,
    /// The message went out and no reply came.
    InDoubt {
        error: String,
    },
}

impl Sender {
    /// Claims and sends one batch; the number claimed.
    async fn round(&self) -> Result<usize, iom_store::StoreError> {
        let now = Utc::now();
        let due = self
            .app
            .store
            .due_notifications(now, BATCH, self.smtp.is_some())
            .await?;
        if due.is_empty() {
            return Ok(0);
        }
        let claim = Claim {
            until: now + chrono::Duration::from_std(self.settings.claim).unwrap_or_default(),
        };
        let keys = due
            .iter()
            .filter_map(|n| Some((n.id.clone(), n.next_attempt_at?)))
            .collect();
        let claimed = self.app.store.claim_notifications(keys, claim).await?;
        let mut batch: Vec<NotificationRecord> = due
            .into_iter()
            .filter(|n| claimed.contains(&n.id))
            .collect();
        for n in &mut batch {
            n.attempts += 1;
        }
        let count = batch.len();
        let sent: Vec<String> = futures_util::stream::iter(batch)
            .map(|n| self.one(n, claim.until))
            .buffer_unordered(self.settings.connections.max(1) as usize)
            .filter_map(|sent| async move { sent })
            .collect()
            .await;
        // The round's accepted e-mails recorded in one write rather than one each: they are
        // `handing` until then, so a process that dies first leaves them `unknown`, never
        // sent again.
        if let Err(e) = self.app.store.notifications_sent(sent).await {
            // The claims expire and the rows become `unknown`: never sent twice.
            tracing::warn!(error = %e, "cannot record sent notifications");
        }
        Ok(count)
    }

    /// Sends one notification and records what happened, except a success, whose id it
    /// returns for the round to record with the others.
    async fn one(&self, n: NotificationRecord, claimed_until: DateTime<Utc>) -> Option<String> {
        let started = Instant::now();
        let outcome = match n.channel.as_str() {
            "email" => self.email(&n, claimed_until).await,
            "webhook" => self.webhook(&n).await,
            other => Outcome::Failed {
                error: format!("unknown channel {other}"),
                permanent: true,
            },
        };
        let store = &self.app.store;
        let result = match outcome {
            Outcome::Sent => {
                metrics::counter!("iom_notifications_sent_total", "channel" => n.channel.clone())
                    .increment(1);
                tracing::trace!(notification = %n.id, elapsed = ?started.elapsed(), "notification sent");
                return Some(n.id);
            }
            Outcome::Failed { error, permanent } => {
                let attempt = u32::try_from(n.attempts).unwrap_or(u32::MAX);
                let retry_at = (!permanent && attempt < self.settings.attempts).then(|| {
                    Utc::now()
                        + chrono::Duration::from_std(self.settings.backoff(attempt))
                            .unwrap_or_default()
                });
                tracing::info!(notification = %n.id, attempt, %error, retry = retry_at.is_some(),
                    "notification not delivered");
                metrics::counter!("iom_notifications_failed_total", "channel" => n.channel.clone())
                    .increment(1);
                store
                    .notification_failed(n.id.clone(), error, retry_at)
                    .await
            }
            Outcome::Withdrawn => Ok(()),
            Outcome::InDoubt { error } => {
                tracing::warn!(notification = %n.id, %error, "notification handed over without a reply");
                metrics::counter!("iom_notifications_unknown_total", "channel" => n.channel.clone())
                    .increment(1);
                store.notification_in_doubt(n.id.clone(), error).await
            }
        };
        if let Err(e) = result {
            // The claim expires and the row is taken up again: at least once.
            tracing::warn!(notification = %n.id, error = %e, "cannot record a notification's outcome");
        }
        tracing::trace!(notification = %n.id, elapsed = ?started.elapsed(), "notification attempt");
        None
    }

    async fn email(&self, n: &NotificationRecord, claimed_until: DateTime<Utc>) -> Outcome {
        let Some(smtp) = &self.smtp else {
            return Outcome::Failed {
                error: "IOM_SMTP_URL is not set".into(),
                permanent: false,
            };
        };
        let message = match message(&self.from, n) {
            Ok(m) => m,
            Err(error) => {
                return Outcome::Failed {
                    error,
                    permanent: true,
                };
            }
        };
        let handing = || async {
            match self
                .app
                .store
                .notification_handing(n.id.clone(), claimed_until)
                .await
            {
                Ok(ours) => ours,
                Err(e) => {
                    // Not recorded, so not sent: the claim expires and the row is tried again.
                    tracing::warn!(notification = %n.id, error = %e, "cannot record a hand-over");
                    false
                }
            }
        };
        match smtp
            .send(message.envelope(), &message.formatted(), handing)
            .await
        {
            Handover::Accepted => Outcome::Sent,
            Handover::NotDelivered { error, permanent } => Outcome::Failed { error, permanent },
            Handover::Withdrawn => Outcome::Withdrawn,
            Handover::InDoubt { error } => Outcome::InDoubt { error },
        }
    }

    async fn webhook(&self, n: &NotificationRecord) -> Outcome {
        let json = serde_json::from_str::<serde_json::Value>(&n.body).is_ok();
        let result = self
            .app
            .pipeline
            .http
            .post(&n.recipient)
            .timeout(Duration::from_secs(30))
            .header(
                "Content-Type",
                if json {
                    "application/json"
                } else {
                    "text/plain; charset=utf-8"
                },
            )
            .header("X-IOM-Notification-Id", &n.id)
            .header("X-IOM-Event-Seq", n.event_seq.to_string())
            .header("X-IOM-Template", &n.template)
            .body(n.body.clone())
            .send()
            .await;
        match result {
            Ok(r) if r.status().is_success() => Outcome::Sent,
            Ok(r) => {
                let s = r.status();
                Outcome::Failed {
                    error: format!("{} answered {s}", n.recipient),
                    permanent: s.is_client_error() && s.as_u16() != 408 && s.as_u16() != 429,
                }
            }
            Err(e) => Outcome::Failed {
                error: format!("{}: {e}", n.recipient),
                permanent: false,
            },
        }
    }
}

/// The e-mail of a notification: plain text, with an HTML alternative when the template has
/// one. Its `Message-ID` is derived from the notification's id, so a resend is recognisable.
pub fn message(from: &Mailbox, n: &NotificationRecord) -> Result<Message, String> {
    let to: Mailbox = n
        .recipient
        .parse()
        .map_err(|e| format!("{:?} is not an e-mail address: {e}", n.recipient))?;
    let builder = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(n.subject.clone())
        .message_id(Some(message_id(&n.id)));
    let built = match &n.html {
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(
            n.body.clone(),
            html.clone(),
        )),
        None => builder.singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(n.body.clone()),
        ),
    };
    built.map_err(|e| e.to_string())
}

/// `<ID@iom>`: the same for every attempt at one notification.
pub fn message_id(id: &str) -> String {
    format!("<{id}@iom>")
}
