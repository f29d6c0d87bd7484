//! Notification templates an operator saved, and the notifications derived from business events
//! (`notifications` table): recorded once per (event, template, recipient) with the cursor of the
//! consumer that derived them, then claimed, sent and marked by the sender
//! (`iom_app::notifications`).
//!
//! A claim is a compare-and-set on `next_attempt_at`: the row moves to `sending`, its attempt
//! is counted and its next look is pushed past the claim's expiry, all before the message is
//! handed over, so of several processes only one sends a given attempt and a process that died
//! leaves a visible `sending` row that is taken up again when the claim expires.
//!
//! An e-mail has one more step: right before its message goes to the server, the sender moves
//! the row from `sending` to `handing` (a compare-and-set on its claim, so a process whose claim
//! expired and was taken over cannot hand it over too). A claim that expires on a `sending` row
//! means the server holds nothing and the row is sent again; on a `handing` row it means the
//! server may hold the message, and the row becomes `unknown` instead: never sent twice, and
//! listed for an operator to look at.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::db::{Conn, Row, Value};
use crate::keyset::{After, Column, Conditions, Param, Sort};
use crate::{Store, StoreError, Tx, from_micros, micros};
use iom_domain::EventDraft;

/// Why a notification is `unknown` after its sender stopped.
pub const IN_DOUBT: &str = "the process sending it stopped while handing it to the server: \
     it may or may not have arrived, and is not sent again";

#[derive(Debug, Clone, PartialEq)]
pub struct TemplateRecord {
    pub name: String,
    /// The template as the API takes it (`iom_providers::notify::Template`).
    pub doc: serde_json::Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A notification to record, as the consumer derived it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNotification {
    pub event_seq: i64,
    pub event_type: String,
    pub template: String,
    pub channel: String,
    pub recipient: String,
    pub order_id: Option<String>,
    pub subject: String,
    pub body: String,
    pub html: Option<String>,
    /// Recorded but not to be sent: the customer or the channel opted out of the template, or it
    /// could not be rendered (the error says why).
    pub skipped: Option<Skip>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Skip {
    OptedOut(String),
    Failed(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct NotificationRecord {
    pub id: String,
    pub event_seq: i64,
    pub event_type: String,
    pub template: String,
    pub channel: String,
    pub recipient: String,
    pub order_id: Option<String>,
    pub subject: String,
    pub body: String,
    pub html: Option<String>,
    /// `pending`, `sending`, `handing` (its message on the way to the server), `sent`, `failed`
    /// (retried at `next_attempt_at`), `dead` (no more attempts), `unknown` (the process sending
    /// it stopped while the message was on its way; not sent again) or `opted_out`.
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// A claimed notification may be taken again after its claim expired (the claimant died).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Claim {
    pub until: DateTime<Utc>,
}

const COLUMNS: &str = "id, event_seq, event_type, template, channel, recipient, order_id, subject,
    body, html, status, attempts, last_error, next_attempt_at, created_at, updated_at, sent_at";

fn record(mut r: Row) -> Result<NotificationRecord, StoreError> {
    Ok(NotificationRecord {
        id: r.text(0)?.to_owned(),
        event_seq: r.int(1)?,
        event_type: r.text(2)?.to_owned(),
        template: r.text(3)?.to_owned(),
        channel: r.text(4)?.to_owned(),
        recipient: r.text(5)?.to_owned(),
        order_id: r.opt_text(6)?.map(str::to_owned),
        subject: r.take_text(7)?,
        body: r.take_text(8)?,
        html: r.take_opt_text(9)?,
        status: r.text(10)?.to_owned(),
        attempts: r.int(11)?,
        last_error: r.take_opt_text(12)?,
        next_attempt_at: r.opt_int(13)?.map(from_micros),
        created_at: from_micros(r.int(14)?),
        updated_at: from_micros(r.int(15)?),
        sent_at: r.opt_int(16)?.map(from_micros),
    })
}

fn template_record(mut r: Row) -> Result<TemplateRecord, StoreError> {
    let doc = r.take_text(1)?;
    Ok(TemplateRecord {
        name: r.text(0)?.to_owned(),
        doc: serde_json::from_str(&doc)?,
        created_at: from_micros(r.int(2)?),
        updated_at: from_micros(r.int(3)?),
    })
}

impl Store {
    /// Saves a template (checked by the caller); true when it is new. A configuration event
    /// records the change.
    pub async fn put_notification_template(
        &self,
        name: String,
        doc: serde_json::Value,
    ) -> Result<bool, StoreError> {
        self.write(move |tx| put_template_in(tx, &name, &doc)).await
    }

    pub async fn list_notification_templates(&self) -> Result<Vec<TemplateRecord>, StoreError> {
        self.read(|c| {
            c.query(
                "SELECT name, doc, created_at, updated_at FROM notification_templates ORDER BY name",
                &[],
            )?
            .into_iter()
            .map(template_record)
            .collect()
        })
        .await
    }

    /// Records the notifications derived from the events in `(from, to]` and moves `consumer`'s
    /// cursor to `to`, in one transaction; false (and nothing written) when the cursor was not
    /// at `from` any more (another process got there first). A (event, template, recipient)
    /// recorded before is left as it is.
    pub async fn commit_notifications(
        &self,
        consumer: String,
        from: i64,
        to: i64,
        rows: Vec<NewNotification>,
    ) -> Result<bool, StoreError> {
        self.write(move |tx| {
            let now = micros(tx.now());
            let moved = tx.conn().execute(
                "UPDATE delivery_cursors SET cursor = $3, delivered = delivered + 1, attempts = 0,
                     last_error = NULL, last_attempt_at = $4, last_success_at = $4
                 WHERE consumer = $1 AND cursor = $2",
                &[
                    Value::Text(&consumer),
                    Value::Int(from),
                    Value::Int(to),
                    Value::Int(now),
                ],
            )?;
            if moved != 1 {
                return Ok(false);
            }
            for n in rows {
                let id = uuid::Uuid::now_v7().to_string();
                let (status, error, next) = match &n.skipped {
                    None => ("pending", None, Value::Int(now)),
                    Some(Skip::OptedOut(why)) => ("opted_out", Some(why.as_str()), Value::Null),
                    Some(Skip::Failed(why)) => ("dead", Some(why.as_str()), Value::Null),
                };
                tx.conn().execute(
                    "INSERT INTO notifications (id, event_seq, event_type, template, channel,
                         recipient, order_id, subject, body, html, status, attempts, last_error,
                         next_attempt_at, created_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 0, $12, $13, $14, $14)
                     ON CONFLICT (event_seq, template, recipient) DO NOTHING",
                    &[
                        Value::Text(&id),
                        Value::Int(n.event_seq),
                        Value::Text(&n.event_type),
                        Value::Text(&n.template),
                        Value::Text(&n.channel),
                        Value::Text(&n.recipient),
                        n.order_id.as_deref().map_or(Value::Null, Value::Text),
                        Value::Text(&n.subject),
                        Value::Text(&n.body),
                        n.html.as_deref().map_or(Value::Null, Value::Text),
                        Value::Text(status),
                        error.map_or(Value::Null, Value::Text),
                        next,
                        Value::Int(now),
                    ],
                )?;
            }
            Ok(true)
        })
        .await
    }

    /// Notifications whose next attempt is due at `now` (pending, failed and due again, or
    /// claimed by a process whose claim expired), oldest due first. Without `email` (no SMTP
    /// server is set up) e-mails are left waiting.
    pub async fn due_notifications(
        &self,
        now: DateTime<Utc>,
        limit: usize,
        email: bool,
    ) -> Result<Vec<NotificationRecord>, StoreError> {
        self.read(move |c| {
            c.query(
                &format!(
                    "SELECT {COLUMNS} FROM notifications
                     WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= $1{}
                     ORDER BY next_attempt_at, id LIMIT {}",
                    if email { "" } else { " AND channel <> 'email'" },
                    limit.clamp(1, 10_000)
                ),
                &[Value::Int(micros(now))],
            )?
            .into_iter()
            .map(record)
            .collect()
        })
        .await
    }

    /// Claims the given notifications (each with the `next_attempt_at` it was read with) in one
    /// transaction: `sending`, one more attempt, not looked at again before `claim.until`. The
    /// ids claimed; one another process claimed first is left out.
    pub async fn claim_notifications(
        &self,
        due: Vec<(String, DateTime<Utc>)>,
        claim: Claim,
    ) -> Result<Vec<String>, StoreError> {
        self.write(move |tx| {
            let now = micros(tx.now());
            let mut claimed = Vec::with_capacity(due.len());
            for (id, at) in due {
                // A hand-over that was under way when its sender stopped.
                let in_doubt = tx.conn().execute(
                    "UPDATE notifications SET status = 'unknown', next_attempt_at = NULL,
                         last_error = $3, updated_at = $4
                     WHERE id = $1 AND next_attempt_at = $2 AND status = 'handing'",
                    &[
                        Value::Text(&id),
                        Value::Int(micros(at)),
                        Value::Text(IN_DOUBT),
                        Value::Int(now),
                    ],
                )?;
                if in_doubt == 1 {
                    continue;
                }
                let n = tx.conn().execute(
                    "UPDATE notifications SET status = 'sending', attempts = attempts + 1,
                         next_attempt_at = $3, updated_at = $4
                     WHERE id = $1 AND next_attempt_at = $2",
                    &[
                        Value::Text(&id),
                        Value::Int(micros(at)),
                        Value::Int(micros(claim.until)),
                        Value::Int(now),
                    ],
                )?;
                if n == 1 {
                    claimed.push(id);
                }
            }
            Ok(claimed)
        })
        .await
    }

    /// The message of a claimed notification is about to go to the server: `handing`, if the
    /// claim (`until`) is still this sender's. false when it is not (the claim expired and
    /// another process took the row), and then the message must not be sent.
    pub async fn notification_handing(
        &self,
        id: String,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.write(move |tx| {
            let now = micros(tx.now());
            let n = tx.conn().execute(
                "UPDATE notifications SET status = 'handing', updated_at = $3
                 WHERE id = $1 AND status = 'sending' AND next_attempt_at = $2",
                &[Value::Text(&id), Value::Int(micros(until)), Value::Int(now)],
            )?;
            Ok(n == 1)
        })
        .await
    }

    /// The message went out but no reply came: `unknown`, not sent again.
    pub async fn notification_in_doubt(&self, id: String, error: String) -> Result<(), StoreError> {
        self.write(move |tx| {
            let now = micros(tx.now());
            tx.conn().execute(
                "UPDATE notifications SET status = 'unknown', next_attempt_at = NULL,
                     last_error = $2, updated_at = $3
                 WHERE id = $1 AND status = 'handing'",
                &[Value::Text(&id), Value::Text(&error), Value::Int(now)],
            )?;
            Ok(())
        })
        .await
    }

    /// An `unknown` or `dead` notification sent again at once, on an operator's word (an
    /// `unknown` one may then arrive twice). `Err(status)` when it is in another status; `None`
    /// when there is no such notification.
    pub async fn resend_notification(
        &self,
        id: String,
    ) -> Result<Option<Result<NotificationRecord, String>>, StoreError> {
        self.write(move |tx| {
            let now = micros(tx.now());
            let n = tx.conn().execute(
                "UPDATE notifications SET status = 'pending', next_attempt_at = $2, updated_at = $2
                 WHERE id = $1 AND status IN ('unknown', 'dead')",
                &[Value::Text(&id), Value::Int(now)],
            )?;
            let Some(row) = tx.conn().query_one(
                &format!("SELECT {COLUMNS} FROM notifications WHERE id = $1"),
                &[Value::Text(&id)],
            )?
            else {
                return Ok(None);
            };
            let record = record(row)?;
            Ok(Some(if n == 1 {
                Ok(record)
            } else {
                Err(record.status)
            }))
        })
        .await
    }

    /// The server accepted these notifications: one write for a round's e-mails.
    pub async fn notifications_sent(&self, ids: Vec<String>) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        self.write(move |tx| {
            let now = micros(tx.now());
            // Deferred: sent together with the COMMIT (one round trip on PostgreSQL).
            for id in &ids {
                tx.conn().execute_deferred(
                    "UPDATE notifications SET status = 'sent', next_attempt_at = NULL, last_error = NULL,
                         sent_at = $2, updated_at = $2
                     WHERE id = $1 AND status IN ('sending', 'handing')",
                    &[Value::Text(id), Value::Int(now)],
                )?;
            }
            Ok(())
        })
        .await
    }

    /// An attempt failed: tried again at `retry_at`, or `dead` without one.
    pub async fn notification_failed(
        &self,
        id: String,
        error: String,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            let now = micros(tx.now());
            tx.conn().execute(
                "UPDATE notifications SET status = $2, last_error = $3, next_attempt_at = $4,
                     updated_at = $5
                 WHERE id = $1 AND status IN ('sending', 'handing')",
                &[
                    Value::Text(&id),
                    Value::Text(if retry_at.is_some() { "failed" } else { "dead" }),
                    Value::Text(&error),
                    retry_at.map_or(Value::Null, |t| Value::Int(micros(t))),
                    Value::Int(now),
                ],
            )?;
            Ok(())
        })
        .await
    }

    /// Notifications newest first, of one order when `order_id` is given; `cursor` is the last
    /// id of the previous page.
    pub async fn list_notifications(
        &self,
        order_id: Option<String>,
        cursor: Option<String>,
        limit: usize,
    ) -> Result<Vec<NotificationRecord>, StoreError> {
        self.notification_page(NotificationFilter {
            order_id,
            after: cursor.map(|id| After { key: None, id }),
            limit,
            ..NotificationFilter::default()
        })
        .await
    }

    /// A page of the notifications `filter` finds, in its sort, after its cursor.
    pub async fn notification_page(
        &self,
        filter: NotificationFilter,
    ) -> Result<Vec<NotificationRecord>, StoreError> {
        self.read(move |c| list(c, &filter)).await
    }

    /// How many notifications `filter` finds (its cursor aside), counted up to one past
    /// [`COUNT_CAP`](crate::keyset::COUNT_CAP).
    pub async fn count_notifications(&self, filter: NotificationFilter) -> Result<i64, StoreError> {
        self.read(move |c| conditions(&filter, false).count_capped(c, "notifications"))
            .await
    }

    /// How many notifications are in each status (for the bench and the UI).
    pub async fn notification_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.read(|c| {
            c.query(
                "SELECT status, COUNT(*) FROM notifications GROUP BY status ORDER BY status",
                &[],
            )?
            .into_iter()
            .map(|r| Ok((r.text(0)?.to_owned(), r.int(1)?)))
            .collect()
        })
        .await
    }
}

/// What a notification list is sorted by; ties are broken by the id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationColumn {
    /// By id: ids are time-ordered, so this is the order they were recorded in.
    Created,
    Status,
}

impl Column for NotificationColumn {
    const ALL: &'static [Self] = &[NotificationColumn::Created, NotificationColumn::Status];

    fn as_str(self) -> &'static str {
        match self {
            NotificationColumn::Created => "created",
            NotificationColumn::Status => "status",
        }
    }

    fn sql(self) -> Option<&'static str> {
        match self {
            NotificationColumn::Created => None,
            NotificationColumn::Status => Some("status"),
        }
    }

    fn is_integer(self) -> bool {
        false
    }
}

/// Every status a notification can be in.
pub const STATUSES: &[&str] = &[
    "pending",
    "sending",
    "handing",
    "sent",
    "failed",
    "dead",
    "unknown",
    "opted_out",
];

/// Which notifications a list shows, in what order, from where.
#[derive(Debug, Clone)]
pub struct NotificationFilter {
    pub order_id: Option<String>,
    pub status: Option<String>,
    pub sort: Sort<NotificationColumn>,
    /// The end of the previous page.
    pub after: Option<After>,
    pub limit: usize,
}

impl Default for NotificationFilter {
    /// Every notification, newest first.
    fn default() -> Self {
        NotificationFilter {
            order_id: None,
            status: None,
            sort: Sort {
                column: NotificationColumn::Created,
                descending: true,
            },
            after: None,
            limit: 100,
        }
    }
}

fn conditions(filter: &NotificationFilter, paged: bool) -> Conditions {
    let mut conditions = Conditions::new();
    if let Some(o) = &filter.order_id {
        conditions.and("order_id = ?", Param::Text(o.clone()));
    }
    if let Some(s) = &filter.status {
        conditions.and("status = ?", Param::Text(s.clone()));
    }
    if paged && let Some(after) = &filter.after {
        conditions.after(filter.sort, "id", after);
    }
    conditions
}

fn list(
    c: &mut dyn Conn,
    filter: &NotificationFilter,
) -> Result<Vec<NotificationRecord>, StoreError> {
    let conditions = conditions(filter, true);
    let sql = format!(
        "SELECT {COLUMNS} FROM notifications WHERE {} ORDER BY {} LIMIT {}",
        conditions.sql,
        filter.sort.order_by("id"),
        filter.limit.clamp(1, 1000)
    );
    c.query(&sql, &conditions.values())?
        .into_iter()
        .map(record)
        .collect()
}

/// Saves a template inside a write (see [`Store::put_notification_template`]).
pub fn put_template_in(
    tx: &mut Tx<'_>,
    name: &str,
    doc: &serde_json::Value,
) -> Result<bool, StoreError> {
    let now = micros(tx.now());
    let text = doc.to_string();
    let before = crate::audit::stored_doc(tx.conn(), "notification_templates", name)?;
    let existed = before.is_some();
    tx.audit(
        &format!("notification-template:{name}"),
        before.as_ref(),
        Some(doc),
    )?;
    tx.conn().execute(
        "INSERT INTO notification_templates (name, doc, created_at, updated_at)
         VALUES ($1, $2, $3, $3)
         ON CONFLICT (name) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at",
        &[Value::Text(name), Value::Text(&text), Value::Int(now)],
    )?;
    tx.emit(EventDraft::new(
        "notification_template.saved",
        format!("notification-template:{name}"),
        json!({"name": name, "template": doc}),
    ));
    Ok(!existed)
}

/// Every saved template (not the defaults), by name, on any connection.
pub fn templates_in(conn: &mut dyn Conn) -> Result<Vec<TemplateRecord>, StoreError> {
    conn.query(
        "SELECT name, doc, created_at, updated_at FROM notification_templates ORDER BY name",
        &[],
    )?
    .into_iter()
    .map(template_record)
    .collect()
}
