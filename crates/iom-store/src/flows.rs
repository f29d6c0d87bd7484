//! Orchestration rows: flow versions, runs, step records, the dispatcher's cursor and manual tasks.
//! The executor (`iom-flow`) decides; these functions only read and write rows, on any connection,
//! so that a step's effect, its record and the run's new position commit in one transaction.

use chrono::{DateTime, Utc};
use serde::Serialize;

use iom_domain::{RunStatus, StepStatus, TaskStatus};

use crate::db::{Conn, Dialect, Row, Value};
use crate::{Store, StoreError, from_micros, micros};

// ---------------------------------------------------------------- flow versions

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowVersion {
    pub name: String,
    pub version: i64,
    #[serde(rename = "type")]
    pub flow_type: String,
    /// `draft`, `published`, `unpublished` or `superseded`.
    pub status: String,
    /// `yaml` or `json`.
    pub format: String,
    pub source: String,
    /// The compiled plan (JSON), as the executor runs it.
    #[serde(skip)]
    pub plan: String,
    pub created_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    pub unpublished_at: Option<DateTime<Utc>>,
}

const VERSION_COLUMNS: &str = "name, version, flow_type, status, format, source, plan, created_at, published_at, unpublished_at";

fn flow_version(row: Row) -> Result<FlowVersion, StoreError> {
    Ok(FlowVersion {
        name: row.text(0)?.to_owned(),
        version: row.int(1)?,
        flow_type: row.text(2)?.to_owned(),
        status: row.text(3)?.to_owned(),
        format: row.text(4)?.to_owned(),
        source: row.text(5)?.to_owned(),
        plan: row.text(6)?.to_owned(),
        created_at: from_micros(row.int(7)?),
        published_at: row.opt_int(8)?.map(from_micros),
        unpublished_at: row.opt_int(9)?.map(from_micros),
    })
}

/// A new version to store.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub name: String,
    pub flow_type: String,
    pub format: String,
    pub source: String,
    pub plan: String,
}

/// Stores a new draft version (the next number of the flow) and returns it.
pub fn insert_draft(
    conn: &mut dyn Conn,
    new: &NewVersion,
    now: DateTime<Utc>,
) -> Result<FlowVersion, StoreError> {
    // Locks the flow's newest row on PostgreSQL so two drafts at once get distinct numbers; the
    // primary key refuses a duplicate in any case.
    let version = conn
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM flow_versions WHERE name = $1",
            &[Value::Text(&new.name)],
        )?
        .map_or(Ok(0), |r| r.int(0))?
        + 1;
    conn.execute(
        "INSERT INTO flow_versions (name, version, flow_type, status, format, source, plan, created_at)
         VALUES ($1, $2, $3, 'draft', $4, $5, $6, $7)",
        &[
            Value::Text(&new.name),
            Value::Int(version),
            Value::Text(&new.flow_type),
            Value::Text(&new.format),
            Value::Text(&new.source),
            Value::Text(&new.plan),
            Value::Int(micros(now)),
        ],
    )?;
    get_version(conn, &new.name, version)?
        .ok_or_else(|| StoreError::Corrupt("a stored version vanished".into()))
}

/// A flow as the audit log keeps it: its versions with their statuses and the newest source;
/// none when it has no version.
pub fn audit_doc(conn: &mut dyn Conn, name: &str) -> Result<Option<serde_json::Value>, StoreError> {
    let versions = versions(conn, name)?;
    let Some(newest) = versions.first() else {
        return Ok(None);
    };
    let statuses: Vec<serde_json::Value> = versions
        .iter()
        .map(|v| serde_json::json!({"version": v.version, "status": v.status}))
        .collect();
    Ok(Some(serde_json::json!({
        "versions": statuses,
        "source": newest.source,
    })))
}

/// Stores a built-in flow as published version 1 unless the flow has any version already.
pub fn seed_published(
    conn: &mut dyn Conn,
    new: &NewVersion,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let inserted = conn.execute(
        "INSERT INTO flow_versions (name, version, flow_type, status, format, source, plan, created_at, published_at)
         VALUES ($1, 1, $2, 'published', $3, $4, $5, $6, $6) ON CONFLICT (name, version) DO NOTHING",
        &[
            Value::Text(&new.name),
            Value::Text(&new.flow_type),
            Value::Text(&new.format),
            Value::Text(&new.source),
            Value::Text(&new.plan),
            Value::Int(micros(now)),
        ],
    )?;
    Ok(inserted == 1)
}

pub fn get_version(
    conn: &mut dyn Conn,
    name: &str,
    version: i64,
) -> Result<Option<FlowVersion>, StoreError> {
    conn.query_one(
        &format!("SELECT {VERSION_COLUMNS} FROM flow_versions WHERE name = $1 AND version = $2"),
        &[Value::Text(name), Value::Int(version)],
    )?
    .map(flow_version)
    .transpose()
}

/// Every version of a flow, newest first.
pub fn versions(conn: &mut dyn Conn, name: &str) -> Result<Vec<FlowVersion>, StoreError> {
    conn.query(
        &format!(
            "SELECT {VERSION_COLUMNS} FROM flow_versions WHERE name = $1 ORDER BY version DESC"
        ),
        &[Value::Text(name)],
    )?
    .into_iter()
    .map(flow_version)
    .collect()
}

/// The newest version of every flow, by name.
pub fn latest_versions(conn: &mut dyn Conn) -> Result<Vec<FlowVersion>, StoreError> {
    conn.query(
        &format!(
            "SELECT {VERSION_COLUMNS} FROM flow_versions v WHERE version =
               (SELECT MAX(version) FROM flow_versions w WHERE w.name = v.name) ORDER BY name"
        ),
        &[],
    )?
    .into_iter()
    .map(flow_version)
    .collect()
}

/// The published version of every flow.
pub fn published(conn: &mut dyn Conn) -> Result<Vec<FlowVersion>, StoreError> {
    conn.query(
        &format!(
            "SELECT {VERSION_COLUMNS} FROM flow_versions WHERE status = 'published' ORDER BY name"
        ),
        &[],
    )?
    .into_iter()
    .map(flow_version)
    .collect()
}

/// Makes `version` the published one of its flow; the version published before is superseded.
/// Runs keep the version they began with, so nothing else changes.
pub fn publish(
    conn: &mut dyn Conn,
    name: &str,
    version: i64,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE flow_versions SET status = 'superseded', unpublished_at = $3
         WHERE name = $1 AND status = 'published' AND version <> $2",
        &[
            Value::Text(name),
            Value::Int(version),
            Value::Int(micros(now)),
        ],
    )?;
    conn.execute(
        "UPDATE flow_versions SET status = 'published', published_at = $3, unpublished_at = NULL
         WHERE name = $1 AND version = $2",
        &[
            Value::Text(name),
            Value::Int(version),
            Value::Int(micros(now)),
        ],
    )?;
    Ok(())
}

/// No version of the flow starts runs any more; returns how many were published (0 or 1).
pub fn unpublish(conn: &mut dyn Conn, name: &str, now: DateTime<Utc>) -> Result<u64, StoreError> {
    conn.execute(
        "UPDATE flow_versions SET status = 'unpublished', unpublished_at = $2
         WHERE name = $1 AND status = 'published'",
        &[Value::Text(name), Value::Int(micros(now))],
    )
}

/// (name, version) of every published flow: what starts runs now. Cheap, so the executor asks
/// on every pass and loads a plan only when a new version appears.
pub fn published_keys(conn: &mut dyn Conn) -> Result<Vec<(String, i64)>, StoreError> {
    conn.query(
        "SELECT name, version FROM flow_versions WHERE status = 'published' ORDER BY name",
        &[],
    )?
    .into_iter()
    .map(|r| Ok((r.text(0)?.to_owned(), r.int(1)?)))
    .collect()
}

/// The compiled plan of one version.
pub fn plan_of(
    conn: &mut dyn Conn,
    name: &str,
    version: i64,
) -> Result<Option<String>, StoreError> {
    conn.query_one(
        "SELECT plan FROM flow_versions WHERE name = $1 AND version = $2",
        &[Value::Text(name), Value::Int(version)],
    )?
    .map(|mut r| r.take_text(0))
    .transpose()
}

// ---------------------------------------------------------------- runs

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRow {
    pub id: String,
    pub flow: String,
    pub version: i64,
    pub flow_type: String,
    pub subject: String,
    pub order_id: Option<String>,
    pub trigger_seq: i64,
    pub trigger_type: String,
    pub status: RunStatus,
    pub current_step: Option<String>,
    pub wake_at: Option<DateTime<Utc>>,
    pub wait_event: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    /// The executor's position (JSON).
    #[serde(skip)]
    pub state: String,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

const RUN_COLUMNS: &str =
    "id, flow, version, flow_type, subject, order_id, trigger_seq, trigger_type,
    status, current_step, wake_at, wait_event, lease_owner, lease_until, state, error, created_at,
    updated_at, finished_at";

/// A stored status, read back as its enum.
fn parse_status<T>(name: &str, parse: fn(&str) -> Option<T>) -> Result<T, StoreError> {
    parse(name).ok_or_else(|| StoreError::Corrupt(format!("unknown status {name:?}")))
}

fn run(mut row: Row) -> Result<RunRow, StoreError> {
    let state = row.take_text(14)?;
    Ok(RunRow {
        id: row.text(0)?.to_owned(),
        flow: row.text(1)?.to_owned(),
        version: row.int(2)?,
        flow_type: row.text(3)?.to_owned(),
        subject: row.text(4)?.to_owned(),
        order_id: row.opt_text(5)?.map(str::to_owned),
        trigger_seq: row.int(6)?,
        trigger_type: row.text(7)?.to_owned(),
        status: parse_status(row.text(8)?, RunStatus::parse)?,
        current_step: row.opt_text(9)?.map(str::to_owned),
        wake_at: row.opt_int(10)?.map(from_micros),
        wait_event: row.opt_text(11)?.map(str::to_owned),
        lease_owner: row.opt_text(12)?.map(str::to_owned),
        lease_until: row.opt_int(13)?.map(from_micros),
        state,
        error: row.opt_text(15)?.map(str::to_owned),
        created_at: from_micros(row.int(16)?),
        updated_at: from_micros(row.int(17)?),
        finished_at: row.opt_int(18)?.map(from_micros),
    })
}

/// Creates a run unless one exists for the same (flow, trigger seq). Deferred: sent with the
/// next statement (`Conn::execute_deferred`).
pub fn insert_run(conn: &mut dyn Conn, r: &RunRow) -> Result<(), StoreError> {
    conn.execute_deferred(
        "INSERT INTO flow_runs (id, flow, version, flow_type, subject, order_id, trigger_seq,
             trigger_type, status, current_step, wake_at, wait_event, lease_owner, lease_until,
             state, error, created_at, updated_at, finished_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
         ON CONFLICT (flow, trigger_seq) DO NOTHING",
        &[
            Value::Text(&r.id),
            Value::Text(&r.flow),
            Value::Int(r.version),
            Value::Text(&r.flow_type),
            Value::Text(&r.subject),
            r.order_id.as_ref().into(),
            Value::Int(r.trigger_seq),
            Value::Text(&r.trigger_type),
            Value::Text(r.status.as_str()),
            r.current_step.as_ref().into(),
            r.wake_at.map(micros).into(),
            r.wait_event.as_ref().into(),
            r.lease_owner.as_ref().into(),
            r.lease_until.map(micros).into(),
            Value::Text(&r.state),
            r.error.as_ref().into(),
            Value::Int(micros(r.created_at)),
            Value::Int(micros(r.updated_at)),
            r.finished_at.map(micros).into(),
        ],
    )
}

/// Writes a run's changing columns back. Deferred: sent with the next statement.
pub fn save_run(conn: &mut dyn Conn, r: &RunRow) -> Result<(), StoreError> {
    conn.execute_deferred(
        "UPDATE flow_runs SET status = $2, current_step = $3, wake_at = $4, wait_event = $5,
             lease_owner = $6, lease_until = $7, state = $8, error = $9, updated_at = $10,
             finished_at = $11
         WHERE id = $1",
        &[
            Value::Text(&r.id),
            Value::Text(r.status.as_str()),
            r.current_step.as_ref().into(),
            r.wake_at.map(micros).into(),
            r.wait_event.as_ref().into(),
            r.lease_owner.as_ref().into(),
            r.lease_until.map(micros).into(),
            Value::Text(&r.state),
            r.error.as_ref().into(),
            Value::Int(micros(r.updated_at)),
            r.finished_at.map(micros).into(),
        ],
    )?;
    Ok(())
}

/// Takes up to `limit` runs that have something to do by `now`, oldest due first. On PostgreSQL
/// the rows stay locked until the transaction ends and rows another process holds are skipped, so
/// several processes share the work and no run is driven twice at once. SQLite has one writer.
pub fn claim_due(
    conn: &mut dyn Conn,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<RunRow>, StoreError> {
    let lock = match conn.dialect() {
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        Dialect::Sqlite => "",
    };
    conn.query(
        &format!(
            "SELECT {RUN_COLUMNS} FROM flow_runs WHERE wake_at IS NOT NULL AND wake_at <= $1
             ORDER BY wake_at LIMIT {}{lock}",
            limit.clamp(1, 10_000)
        ),
        &[Value::Int(micros(now))],
    )?
    .into_iter()
    .map(run)
    .collect()
}

/// The earliest time a run is due, if any.
pub fn next_due(conn: &mut dyn Conn) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(conn
        .query_one(
            "SELECT MIN(wake_at) FROM flow_runs WHERE wake_at IS NOT NULL",
            &[],
        )?
        .and_then(|r| r.opt_int(0).ok().flatten())
        .map(from_micros))
}

/// A run, locked for the rest of the transaction on PostgreSQL when `for_update`.
pub fn get_run(
    conn: &mut dyn Conn,
    id: &str,
    for_update: bool,
) -> Result<Option<RunRow>, StoreError> {
    let lock = if for_update && conn.dialect() == Dialect::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    conn.query_one(
        &format!("SELECT {RUN_COLUMNS} FROM flow_runs WHERE id = $1{lock}"),
        &[Value::Text(id)],
    )?
    .map(run)
    .transpose()
}

/// Runs of `subject` waiting for an event, locked (PostgreSQL) so an event and a timeout cannot
/// both wake one.
pub fn waiting_for_event(conn: &mut dyn Conn, subject: &str) -> Result<Vec<RunRow>, StoreError> {
    let lock = match conn.dialect() {
        Dialect::Postgres => " FOR UPDATE",
        Dialect::Sqlite => "",
    };
    conn.query(
        &format!(
            "SELECT {RUN_COLUMNS} FROM flow_runs WHERE subject = $1 AND wait_event IS NOT NULL{lock}"
        ),
        &[Value::Text(subject)],
    )?
    .into_iter()
    .map(run)
    .collect()
}

/// The runs of an order, oldest first.
pub fn order_runs(conn: &mut dyn Conn, order_id: &str) -> Result<Vec<RunRow>, StoreError> {
    conn.query(
        &format!("SELECT {RUN_COLUMNS} FROM flow_runs WHERE order_id = $1 ORDER BY created_at, id"),
        &[Value::Text(order_id)],
    )?
    .into_iter()
    .map(run)
    .collect()
}

/// The order's run that ended backordered, most recent first, locked on PostgreSQL.
pub fn backordered_run(conn: &mut dyn Conn, order_id: &str) -> Result<Option<RunRow>, StoreError> {
    let lock = match conn.dialect() {
        Dialect::Postgres => " FOR UPDATE",
        Dialect::Sqlite => "",
    };
    conn.query_one(
        &format!(
            "SELECT {RUN_COLUMNS} FROM flow_runs WHERE order_id = $1 AND status = 'backordered'
             ORDER BY created_at DESC LIMIT 1{lock}"
        ),
        &[Value::Text(order_id)],
    )?
    .map(run)
    .transpose()
}

/// Runs newest first, optionally of one status, after the id `cursor` (exclusive).
pub fn list_runs(
    conn: &mut dyn Conn,
    status: Option<RunStatus>,
    cursor: Option<&str>,
    limit: usize,
) -> Result<Vec<RunRow>, StoreError> {
    let mut sql = format!("SELECT {RUN_COLUMNS} FROM flow_runs WHERE 1 = 1");
    let mut params: Vec<Value<'_>> = Vec::new();
    if let Some(status) = status {
        params.push(Value::Text(status.as_str()));
        sql.push_str(&format!(" AND status = ${}", params.len()));
    }
    if let Some(cursor) = cursor {
        params.push(Value::Text(cursor));
        sql.push_str(&format!(" AND id < ${}", params.len()));
    }
    sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", limit.clamp(1, 500)));
    conn.query(&sql, &params)?.into_iter().map(run).collect()
}

/// How many runs are in each status.
pub fn run_counts(conn: &mut dyn Conn) -> Result<Vec<(String, i64)>, StoreError> {
    conn.query(
        "SELECT status, COUNT(*) FROM flow_runs GROUP BY status ORDER BY status",
        &[],
    )?
    .into_iter()
    .map(|r| Ok((r.text(0)?.to_owned(), r.int(1)?)))
    .collect()
}

/// Orders that are backordered and have a line of `sku`, oldest first.
pub fn backordered_orders_with_sku(
    conn: &mut dyn Conn,
    sku: &str,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    conn.query(
        &format!(
            "SELECT DISTINCT o.id FROM order_lines l JOIN orders o ON o.id = l.order_id
             WHERE l.sku = $1 AND o.status = 'backordered' ORDER BY o.id LIMIT {}",
            limit.clamp(1, 10_000)
        ),
        &[Value::Text(sku)],
    )?
    .into_iter()
    .map(|r| Ok(r.text(0)?.to_owned()))
    .collect()
}

// ---------------------------------------------------------------- steps

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRow {
    pub run_id: String,
    /// The step's place in the run: the n-th step executed.
    pub n: i64,
    pub attempt: i64,
    pub step: String,
    pub uses: String,
    pub status: StepStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub error: Option<String>,
    pub output: Option<serde_json::Value>,
}

/// Most step records in one statement.
const STEPS_PER_INSERT: usize = 32;

/// Inserts or replaces step records (the same (run, n, attempt) moves from started to finished),
/// a multi-row statement per 32: a pass records every step it drove at its end. A record named
/// twice keeps the later one.
pub fn put_steps(conn: &mut dyn Conn, steps: &[StepRow]) -> Result<(), StoreError> {
    let mut last: std::collections::HashMap<(&str, i64, i64), usize> = Default::default();
    for (i, s) in steps.iter().enumerate() {
        last.insert((s.run_id.as_str(), s.n, s.attempt), i);
    }
    let steps: Vec<&StepRow> = steps
        .iter()
        .enumerate()
        .filter(|(i, s)| last[&(s.run_id.as_str(), s.n, s.attempt)] == *i)
        .map(|(_, s)| s)
        .collect();
    for chunk in steps.chunks(STEPS_PER_INSERT) {
        let outputs: Vec<Option<String>> = chunk
            .iter()
            .map(|s| s.output.as_ref().map(|o| o.to_string()))
            .collect();
        let mut params = Vec::with_capacity(chunk.len() * 11);
        for (s, output) in chunk.iter().zip(&outputs) {
            params.extend([
                Value::Text(&s.run_id),
                Value::Int(s.n),
                Value::Int(s.attempt),
                Value::Text(&s.step),
                Value::Text(&s.uses),
                Value::Text(s.status.as_str()),
                Value::Int(micros(s.started_at)),
                s.finished_at.map(micros).into(),
                s.outcome.as_ref().into(),
                s.error.as_ref().into(),
                output.as_ref().into(),
            ]);
        }
        let sql = crate::db::multi_row_statement(
            "flow_steps (run_id, n, attempt, step, uses, status, started_at, finished_at,
                 outcome, error, output)",
            11,
            chunk.len(),
            "ON CONFLICT (run_id, n, attempt) DO UPDATE SET status = excluded.status,
               finished_at = excluded.finished_at, outcome = excluded.outcome,
               error = excluded.error, output = excluded.output",
        );
        conn.execute_deferred(&sql, &params)?;
    }
    Ok(())
}

fn step_row(row: Row) -> Result<StepRow, StoreError> {
    Ok(StepRow {
        run_id: row.text(0)?.to_owned(),
        n: row.int(1)?,
        attempt: row.int(2)?,
        step: row.text(3)?.to_owned(),
        uses: row.text(4)?.to_owned(),
        status: parse_status(row.text(5)?, StepStatus::parse)?,
        started_at: from_micros(row.int(6)?),
        finished_at: row.opt_int(7)?.map(from_micros),
        outcome: row.opt_text(8)?.map(str::to_owned),
        error: row.opt_text(9)?.map(str::to_owned),
        output: row.opt_text(10)?.map(serde_json::from_str).transpose()?,
    })
}

/// The step records of a run in the order they ran.
pub fn run_steps(conn: &mut dyn Conn, run_id: &str) -> Result<Vec<StepRow>, StoreError> {
    conn.query(
        "SELECT run_id, n, attempt, step, uses, status, started_at, finished_at, outcome, error, output
         FROM flow_steps WHERE run_id = $1 ORDER BY n, attempt",
        &[Value::Text(run_id)],
    )?
    .into_iter()
    .map(step_row)
    .collect()
}

// ---------------------------------------------------------------- cursor

/// Creates the dispatcher's cursor at 0 unless it exists. Done once at start in a transaction of
/// its own: inserting it in every pass would make two processes wait on each other's row.
pub fn ensure_cursor(conn: &mut dyn Conn, name: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO flow_cursors (name, seq) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING",
        &[Value::Text(name)],
    )?;
    Ok(())
}

/// The dispatcher's position in the events log. On PostgreSQL the row is locked for the
/// transaction, or `None` is returned when another process holds it (it is dispatching now) or
/// the cursor was not created yet.
pub fn lock_cursor(conn: &mut dyn Conn, name: &str) -> Result<Option<i64>, StoreError> {
    let lock = match conn.dialect() {
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        Dialect::Sqlite => "",
    };
    conn.query_one(
        &format!("SELECT seq FROM flow_cursors WHERE name = $1{lock}"),
        &[Value::Text(name)],
    )?
    .map(|r| r.int(0))
    .transpose()
}

pub fn set_cursor(conn: &mut dyn Conn, name: &str, seq: i64) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE flow_cursors SET seq = $2 WHERE name = $1",
        &[Value::Text(name), Value::Int(seq)],
    )?;
    Ok(())
}

// ---------------------------------------------------------------- tasks

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskRow {
    pub id: String,
    pub run_id: String,
    #[serde(skip)]
    pub n: i64,
    pub step: String,
    pub order_id: Option<String>,
    pub queue: String,
    pub reason: Option<String>,
    pub status: TaskStatus,
    pub decision: Option<String>,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// The order a task is about, as a list shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskOrder {
    pub external_id: String,
    pub customer_name: Option<String>,
    pub customer_email: Option<String>,
    /// A decimal string.
    pub total: String,
    pub currency: String,
    pub status: String,
}

const TASK_COLUMNS: &str = "id, run_id, n, step, order_id, queue, reason, status, decision, note, created_at, completed_at";

fn task(row: Row) -> Result<TaskRow, StoreError> {
    Ok(TaskRow {
        id: row.text(0)?.to_owned(),
        run_id: row.text(1)?.to_owned(),
        n: row.int(2)?,
        step: row.text(3)?.to_owned(),
        order_id: row.opt_text(4)?.map(str::to_owned),
        queue: row.text(5)?.to_owned(),
        reason: row.opt_text(6)?.map(str::to_owned),
        status: parse_status(row.text(7)?, TaskStatus::parse)?,
        decision: row.opt_text(8)?.map(str::to_owned),
        note: row.opt_text(9)?.map(str::to_owned),
        created_at: from_micros(row.int(10)?),
        completed_at: row.opt_int(11)?.map(from_micros),
    })
}

/// Opens a task unless the same step execution has one; returns the task either way.
pub fn open_task(conn: &mut dyn Conn, t: &TaskRow) -> Result<TaskRow, StoreError> {
    conn.execute(
        "INSERT INTO flow_tasks (id, run_id, n, step, order_id, queue, reason, status, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'open', $8) ON CONFLICT (run_id, n) DO NOTHING",
        &[
            Value::Text(&t.id),
            Value::Text(&t.run_id),
            Value::Int(t.n),
            Value::Text(&t.step),
            t.order_id.as_ref().into(),
            Value::Text(&t.queue),
            t.reason.as_ref().into(),
            Value::Int(micros(t.created_at)),
        ],
    )?;
    conn.query_one(
        &format!("SELECT {TASK_COLUMNS} FROM flow_tasks WHERE run_id = $1 AND n = $2"),
        &[Value::Text(&t.run_id), Value::Int(t.n)],
    )?
    .map(task)
    .transpose()?
    .ok_or_else(|| StoreError::Corrupt("a task vanished".into()))
}

pub fn get_task(conn: &mut dyn Conn, id: &str) -> Result<Option<TaskRow>, StoreError> {
    let lock = match conn.dialect() {
        Dialect::Postgres => " FOR UPDATE",
        Dialect::Sqlite => "",
    };
    conn.query_one(
        &format!("SELECT {TASK_COLUMNS} FROM flow_tasks WHERE id = $1{lock}"),
        &[Value::Text(id)],
    )?
    .map(task)
    .transpose()
}

pub fn task_of(conn: &mut dyn Conn, run_id: &str, n: i64) -> Result<Option<TaskRow>, StoreError> {
    conn.query_one(
        &format!("SELECT {TASK_COLUMNS} FROM flow_tasks WHERE run_id = $1 AND n = $2"),
        &[Value::Text(run_id), Value::Int(n)],
    )?
    .map(task)
    .transpose()
}

pub fn complete_task(
    conn: &mut dyn Conn,
    id: &str,
    decision: &str,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE flow_tasks SET status = 'completed', decision = $2, note = $3, completed_at = $4
         WHERE id = $1",
        &[
            Value::Text(id),
            Value::Text(decision),
            note.into(),
            Value::Int(micros(now)),
        ],
    )?;
    Ok(())
}

pub fn list_tasks(
    conn: &mut dyn Conn,
    status: Option<TaskStatus>,
    limit: usize,
) -> Result<Vec<TaskRow>, StoreError> {
    let (filter, params): (&str, Vec<Value<'_>>) = match status {
        Some(s) => (" WHERE status = $1", vec![Value::Text(s.as_str())]),
        None => ("", Vec::new()),
    };
    conn.query(
        &format!(
            "SELECT {TASK_COLUMNS} FROM flow_tasks{filter} ORDER BY created_at, id LIMIT {}",
            limit.clamp(1, 500)
        ),
        &params,
    )?
    .into_iter()
    .map(task)
    .collect()
}

impl Store {
    /// Every version of a flow, newest first.
    pub async fn flow_versions(&self, name: String) -> Result<Vec<FlowVersion>, StoreError> {
        self.read(move |c| versions(c, &name)).await
    }

    /// The newest version of every flow.
    pub async fn latest_flow_versions(&self) -> Result<Vec<FlowVersion>, StoreError> {
        self.read(latest_versions).await
    }

    /// The published version of every flow.
    pub async fn published_flows(&self) -> Result<Vec<FlowVersion>, StoreError> {
        self.read(published).await
    }

    /// An order's runs with their step records, oldest first.
    pub async fn order_runs(
        &self,
        order_id: String,
    ) -> Result<Vec<(RunRow, Vec<StepRow>)>, StoreError> {
        self.read(move |c| {
            let runs = order_runs(c, &order_id)?;
            runs.into_iter()
                .map(|r| {
                    let steps = run_steps(c, &r.id)?;
                    Ok((r, steps))
                })
                .collect()
        })
        .await
    }

    pub async fn run(&self, id: String) -> Result<Option<(RunRow, Vec<StepRow>)>, StoreError> {
        self.read(move |c| match get_run(c, &id, false)? {
            None => Ok(None),
            Some(r) => {
                let steps = run_steps(c, &r.id)?;
                Ok(Some((r, steps)))
            }
        })
        .await
    }

    pub async fn list_runs(
        &self,
        status: Option<RunStatus>,
        cursor: Option<String>,
        limit: usize,
    ) -> Result<Vec<RunRow>, StoreError> {
        self.read(move |c| list_runs(c, status, cursor.as_deref(), limit))
            .await
    }

    pub async fn run_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        self.read(run_counts).await
    }

    pub async fn list_tasks(
        &self,
        status: Option<TaskStatus>,
        limit: usize,
    ) -> Result<Vec<TaskRow>, StoreError> {
        self.read(move |c| list_tasks(c, status, limit)).await
    }

    /// A page of tasks, oldest first (or `newest_first`), each with what its order is
    /// (customer, value, status), after the task `after` (its `created_at` and id); also how many
    /// there are in all. Both directions read the index on (status, created_at, id).
    pub async fn task_page(
        &self,
        status: Option<TaskStatus>,
        after: Option<(DateTime<Utc>, String)>,
        limit: usize,
        newest_first: bool,
    ) -> Result<(Vec<(TaskRow, Option<TaskOrder>)>, i64), StoreError> {
        let (op, dir) = if newest_first {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        self.read(move |c| {
            let mut conditions = String::from("1 = 1");
            let mut texts: Vec<String> = Vec::new();
            if let Some(s) = status {
                texts.push(s.as_str().to_owned());
                conditions.push_str(&format!(" AND t.status = ${}", texts.len()));
            }
            let counted = {
                let params: Vec<Value<'_>> = texts.iter().map(|t| Value::Text(t)).collect();
                c.query_one(
                    &format!("SELECT COUNT(*) FROM flow_tasks t WHERE {conditions}"),
                    &params,
                )?
                .map_or(Ok(0), |r| r.int(0))?
            };
            let mut at = None;
            if let Some((created, id)) = &after {
                texts.push(id.clone());
                let id = texts.len();
                at = Some(micros(*created));
                let k = texts.len() + 1;
                conditions.push_str(&format!(
                    " AND t.created_at {op}= ${k} AND (t.created_at {op} ${k} OR t.id {op} ${id})"
                ));
            }
            let mut params: Vec<Value<'_>> = texts.iter().map(|t| Value::Text(t)).collect();
            if let Some(at) = at {
                params.push(Value::Int(at));
            }
            let columns = TASK_COLUMNS
                .split(", ")
                .map(|c| format!("t.{c}"))
                .collect::<Vec<_>>()
                .join(", ");
            let rows = c.query(
                &format!(
                    "SELECT {columns}, o.external_id, o.customer_name, o.customer_email,
                            o.total, o.currency, o.status
                     FROM flow_tasks t LEFT JOIN orders o ON o.id = t.order_id
                     WHERE {conditions} ORDER BY t.created_at {dir}, t.id {dir} LIMIT {}",
                    limit.clamp(1, 500)
                ),
                &params,
            )?;
            let n = TASK_COLUMNS.split(", ").count();
            let items = rows
                .into_iter()
                .map(|row| {
                    let order = match row.opt_text(n)? {
                        None => None,
                        Some(external_id) => Some(TaskOrder {
                            external_id: external_id.to_owned(),
                            customer_name: row.opt_text(n + 1)?.map(str::to_owned),
                            customer_email: row.opt_text(n + 2)?.map(str::to_owned),
                            total: row.text(n + 3)?.to_owned(),
                            currency: row.text(n + 4)?.to_owned(),
                            status: row.text(n + 5)?.to_owned(),
                        }),
                    };
                    Ok((task(row)?, order))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            Ok((items, counted))
        })
        .await
    }

    pub async fn get_task(&self, id: String) -> Result<Option<TaskRow>, StoreError> {
        self.read(move |c| get_task(c, &id)).await
    }
}

/// Events of one subject after `after`, oldest first: what a waiting run looks for.
pub fn subject_events_after(
    conn: &mut dyn Conn,
    subject: &str,
    after: i64,
) -> Result<Vec<crate::Event>, StoreError> {
    conn.query(
        &format!(
            "SELECT {} FROM events WHERE subject = $1 AND seq > $2 ORDER BY seq",
            crate::events::EVENT_COLUMNS
        ),
        &[Value::Text(subject), Value::Int(after)],
    )?
    .into_iter()
    .map(crate::events::event)
    .collect()
}

/// The highest event sequence number this transaction sees.
pub fn max_seq(conn: &mut dyn Conn) -> Result<i64, StoreError> {
    conn.query_one("SELECT COALESCE(MAX(seq), 0) FROM events", &[])?
        .map_or(Ok(0), |r| r.int(0))
}

/// Subjects that have a run waiting for an event: the dispatcher looks closer only at those.
pub fn waiting_subjects(
    conn: &mut dyn Conn,
) -> Result<std::collections::HashSet<String>, StoreError> {
    conn.query(
        "SELECT DISTINCT subject FROM flow_runs WHERE wait_event IS NOT NULL",
        &[],
    )?
    .into_iter()
    .map(|r| Ok(r.text(0)?.to_owned()))
    .collect()
}

/// Makes a run due at `at` (a matching event arrived, a task was decided).
pub fn set_wake(conn: &mut dyn Conn, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE flow_runs SET wake_at = $2 WHERE id = $1",
        &[Value::Text(id), Value::Int(micros(at))],
    )?;
    Ok(())
}

impl Store {
    /// How many orders are in `status` (benchmarks and tests watch a backlog drain).
    pub async fn count_orders_with_status(&self, status: String) -> Result<i64, StoreError> {
        self.read(move |c| {
            c.query_one(
                "SELECT COUNT(*) FROM orders WHERE status = $1",
                &[Value::Text(&status)],
            )?
            .map_or(Ok(0), |r| r.int(0))
        })
        .await
    }

    /// The wall time of every finished step execution, in microseconds.
    pub async fn step_durations(&self) -> Result<Vec<i64>, StoreError> {
        self.read(|c| {
            c.query(
                "SELECT finished_at - started_at FROM flow_steps WHERE finished_at IS NOT NULL",
                &[],
            )?
            .into_iter()
            .map(|r| r.int(0))
            .collect()
        })
        .await
    }
}
