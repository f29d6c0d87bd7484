//! The group-commit writer: one thread per process owns the write connection.
//!
//! Jobs queue on a channel. The writer takes every job waiting (up to [`MAX_BATCH`]), runs each in
//! its own savepoint inside one transaction, writes the events they emitted, commits once, and only
//! then answers each job. A job whose own work fails is rolled back to its savepoint alone. A solo
//! job (`Store::write_solo`) is never grouped: it runs alone in the bare transaction.
//!
//! Event order: events are inserted at the very end of the transaction. On PostgreSQL the writer
//! first takes a transaction-scoped advisory lock, held until commit, so sequence numbers are handed
//! out and committed in the same order across all processes: a reader that has seen event `n` can
//! never later see an event below `n` appear. SQLite has one writer, so the order holds by itself.
//!
//! Features that keep state per job (what a job read once and may trust until it ends, changes it
//! holds back to write once per transaction) keep it in a [`JobState`] the writer holds for each
//! job and never looks into: it calls the state's hooks when a savepoint rolls back, when a job
//! succeeds (its state joins the group's) and just before `COMMIT` (see [`crate::features`]). So
//! the writer stays the same whatever features there are.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use iom_domain::{Actor, EventDraft};
use tokio::sync::{mpsc, oneshot};

use crate::db::{Conn, Dialect, Row, Value};
use crate::features::{GroupState, JobState};
use crate::{PendingEvent, StoreError};

/// Most jobs committed in one transaction; bounds the latency one batch adds.
const MAX_BATCH: usize = 256;
/// Jobs that may wait for the writer before callers are slowed down.
const QUEUE: usize = 8192;
/// The advisory lock every write transaction of every process takes when it begins
/// (PostgreSQL). It orders event sequence numbers across processes, and it keeps two processes'
/// transactions from locking the same rows in opposite orders: some rows are counters that most
/// transactions update (sums per day, say), so two concurrent group commits would deadlock on
/// them. Taken first, before any row lock, it cannot be part of a deadlock itself. Readers never
/// take it.
const EVENT_LOCK: i64 = 0x10_0002;

type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
type Work = Box<dyn FnOnce(&mut Tx<'_>) -> (bool, Completion) + Send>;

/// A queued job. A `solo` job runs in a transaction of its own, never grouped (see
/// [`crate::Store::write_solo`]).
struct Job {
    work: Work,
    solo: bool,
}

/// What a job sees: the write connection inside the open transaction, the event outbox, and
/// the features' state for the job (kept by the connection, which hands it to work that holds
/// changes back through [`Conn::job_state`]).
pub struct Tx<'a> {
    conn: Counting<'a>,
    events: &'a mut Vec<PendingEvent>,
    now: DateTime<Utc>,
    /// Who the job acts for ([`crate::acting`]), taken from the caller when it was queued.
    actor: Arc<Actor>,
}

impl<'a> Tx<'a> {
    fn new(conn: &'a mut dyn Conn, events: &'a mut Vec<PendingEvent>, now: DateTime<Utc>) -> Self {
        Tx {
            conn: Counting {
                inner: conn,
                changes: 0,
                job: JobState::default(),
            },
            events,
            now,
            actor: Arc::new(Actor::system("iom")),
        }
    }

    /// The features' state for the job, once it ended.
    fn into_job_state(self) -> JobState {
        self.conn.job
    }
}

impl Tx<'_> {
    pub fn conn(&mut self) -> &mut dyn Conn {
        &mut self.conn
    }

    pub fn dialect(&self) -> Dialect {
        self.conn.dialect()
    }

    /// How many statements so far may have changed the database (anything but a `SELECT`, and
    /// any statement that failed: on PostgreSQL that aborts the transaction). Work that fails
    /// with the count unchanged left nothing to undo, so it needs no savepoint of its own.
    pub fn changes(&self) -> u64 {
        self.conn.changes
    }

    /// The features' state for this job. Unlike [`Conn::job_state`], asking counts as no change:
    /// for state that is only read, or kept in step with writes counted by themselves.
    pub(crate) fn job(&self) -> &JobState {
        &self.conn.job
    }

    /// As [`Tx::job`], to change it.
    pub(crate) fn job_mut(&mut self) -> &mut JobState {
        &mut self.conn.job
    }

    /// Who this job acts for.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// Runs `work` acting for `actor` (a flow pass acting for each run's flow in turn), then
    /// goes back to the job's own actor.
    pub fn acting_as<T>(&mut self, actor: Actor, work: impl FnOnce(&mut Tx<'_>) -> T) -> T {
        let own = std::mem::replace(&mut self.actor, Arc::new(actor));
        let result = work(self);
        self.actor = own;
        result
    }

    /// The time of this transaction, the same for every job of a batch.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Queues a business event; it commits with the job's changes or not at all.
    pub fn emit(&mut self, draft: EventDraft) {
        self.events.push(PendingEvent {
            draft,
            at: self.now,
            actor: self.actor.clone(),
        });
    }

    /// A mark to take back, with [`Tx::discard_events_since`], the events emitted after it: for
    /// work rolled back to a savepoint of its own while the job goes on.
    pub fn event_mark(&self) -> usize {
        self.events.len()
    }

    pub fn discard_events_since(&mut self, mark: usize) {
        self.events.truncate(mark);
    }

    pub fn emit_all(&mut self, drafts: impl IntoIterator<Item = EventDraft>) {
        for draft in drafts {
            self.emit(draft);
        }
    }

    /// Runs `f` inside a nested savepoint: when it fails, its changes and the events it emitted are
    /// undone and the rest of the job goes on (a flow step that failed leaves no trace but its
    /// record).
    pub fn savepoint<T, E: From<StoreError>>(
        &mut self,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        self.conn.batch("SAVEPOINT nested")?;
        let mark = self.events.len();
        let job = self.conn.job.mark();
        // Its writes held back are sent now, so that a failed one fails `f`, not what follows.
        let result = f(self);
        let flushed = self.conn.flush();
        let result = result.and_then(|value| Ok(flushed.map(|()| value)?));
        match &result {
            Ok(_) => self.conn.batch("RELEASE SAVEPOINT nested")?,
            Err(_) => {
                self.events.truncate(mark);
                self.conn.job.rolled_back(job);
                self.conn
                    .batch("ROLLBACK TO SAVEPOINT nested; RELEASE SAVEPOINT nested")?;
            }
        }
        result
    }
}

/// The write connection, counting what may have changed the database ([`Tx::changes`]), and
/// keeping the features' state for the job ([`Conn::job_state`]).
struct Counting<'a> {
    inner: &'a mut dyn Conn,
    changes: u64,
    job: JobState,
}

impl Counting<'_> {
    fn count<T>(&mut self, changes: bool, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if changes || result.is_err() {
            self.changes += 1;
        }
        result
    }
}

/// A `SELECT`, which changes nothing; any other statement may (an `INSERT … RETURNING` too).
fn is_read(sql: &str) -> bool {
    sql.trim_start()
        .get(..6)
        .is_some_and(|head| head.eq_ignore_ascii_case("SELECT"))
}

impl Conn for Counting<'_> {
    fn dialect(&self) -> Dialect {
        self.inner.dialect()
    }

    fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64, StoreError> {
        let result = self.inner.execute(sql, params);
        self.count(true, result)
    }

    fn query(&mut self, sql: &str, params: &[Value<'_>]) -> Result<Vec<Row>, StoreError> {
        let result = self.inner.query(sql, params);
        self.count(!is_read(sql), result)
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        let result = self.inner.batch(sql);
        self.count(true, result)
    }

    fn execute_deferred(&mut self, sql: &str, params: &[Value<'_>]) -> Result<(), StoreError> {
        let result = self.inner.execute_deferred(sql, params);
        self.count(true, result)
    }

    fn query_deferred(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
    ) -> Result<crate::DeferredRows, StoreError> {
        let result = self.inner.query_deferred(sql, params);
        self.count(!is_read(sql), result)
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        let result = self.inner.flush();
        self.count(false, result)
    }

    fn is_broken(&self) -> bool {
        self.inner.is_broken()
    }

    /// A change held back there is a change: work that fails after making one must be undone.
    fn job_state(&mut self) -> Option<&mut JobState> {
        self.changes += 1;
        Some(&mut self.job)
    }
}

pub(crate) struct WriterHandle {
    jobs: mpsc::Sender<Job>,
}

impl WriterHandle {
    pub async fn run<T: Send + 'static>(
        &self,
        solo: bool,
        f: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        // Shared by the job's events: one allocation per job, not one per event.
        let actor = Arc::new(crate::acting::current());
        let work: Work = Box::new(move |tx| {
            tx.actor = actor;
            // The job's writes held back are sent before it answers: a failed one fails the job.
            let result = f(tx);
            let flushed = tx.conn.flush();
            let result = result.and_then(|value| flushed.map(|()| value));
            let ok = result.is_ok();
            let completion: Completion = Box::new(move |commit| {
                let _ = reply.send(match commit {
                    Ok(()) => result,
                    Err(message) => Err(StoreError::Commit(message)),
                });
            });
            (ok, completion)
        });
        self.jobs
            .send(Job { work, solo })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

/// Opens a new write connection when the old one broke (PostgreSQL restarted, network cut).
pub(crate) type Connect<C> = Box<dyn Fn() -> Result<C, StoreError> + Send>;

/// `restart_log`, on SQLite: set by the checkpointer when the log has grown past its bound; the
/// writer then makes the log start over between two groups (see `open::Checkpointer`).
pub(crate) fn spawn<C: Conn + 'static>(
    conn: C,
    connect: Connect<C>,
    name: &str,
    restart_log: Option<Arc<AtomicBool>>,
) -> Result<WriterHandle, StoreError> {
    let (jobs, queue) = mpsc::channel(QUEUE);
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || run_writer(conn, connect, queue, restart_log))
        .map_err(|e| StoreError::Commit(e.to_string()))?;
    Ok(WriterHandle { jobs })
}

fn run_writer<C: Conn>(
    mut conn: C,
    connect: Connect<C>,
    mut queue: mpsc::Receiver<Job>,
    restart_log: Option<Arc<AtomicBool>>,
) {
    let mut events = Vec::new();
    // A solo job met while gathering a group: it goes first next round, alone.
    let mut held: Option<Job> = None;
    while let Some(first) = held.take().or_else(|| queue.blocking_recv()) {
        let mut jobs = Vec::with_capacity(16);
        let solo = first.solo;
        jobs.push(first.work);
        while !solo && jobs.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) if job.solo => {
                    held = Some(job);
                    break;
                }
                Ok(job) => jobs.push(job.work),
                Err(_) => break,
            }
        }
        // In a group, every job runs under the savepoint `job`: a failed job rolls back to it, a
        // successful one releases it and opens the next in the same round trip, and COMMIT ends the
        // last. A job alone in its group needs no savepoint (the transaction is its own), and an
        // open savepoint is not free: SQLite then keeps a statement journal for every multi-row
        // statement, which is most of the extra cost of a large batch of multi-row writes.
        let alone = jobs.len() == 1;
        let begin = match (conn.dialect(), alone) {
            (Dialect::Sqlite, true) => "BEGIN IMMEDIATE".to_owned(),
            (Dialect::Sqlite, false) => "BEGIN IMMEDIATE; SAVEPOINT job".to_owned(),
            (Dialect::Postgres, true) => {
                format!("BEGIN; SELECT pg_advisory_xact_lock({EVENT_LOCK})")
            }
            (Dialect::Postgres, false) => {
                format!("BEGIN; SELECT pg_advisory_xact_lock({EVENT_LOCK}); SAVEPOINT job")
            }
        };
        let outcome = match conn.batch(&begin) {
            // Dropping the jobs unanswered tells each caller the store could not take it.
            Err(e) => Err(e),
            Ok(()) if alone => run_alone(&mut conn, jobs, &mut events),
            Ok(()) => {
                let mut group = GroupState::default();
                let completions = run_jobs(&mut conn, jobs, &mut events, &mut group);
                let outcome = finish(&mut conn, &mut events, group).inspect_err(|_| {
                    // A failed COMMIT can leave the session inside an aborted transaction.
                    let _ = conn.batch("ROLLBACK");
                });
                let answer = outcome.as_ref().map(|_| ()).map_err(|e| e.to_string());
                for complete in completions {
                    complete(answer.clone());
                }
                outcome
            }
        };
        events.clear();
        if restart_log
            .as_ref()
            .is_some_and(|flag| flag.swap(false, Ordering::AcqRel))
        {
            // Only the writer can: between its groups it holds no lock, and a checkpointer
            // asking for the write lock would lose it to the next group every time. The
            // queued writers wait the few milliseconds it takes; the passive checkpoints have
            // copied nearly every frame already.
            if let Err(e) = conn.batch("PRAGMA wal_checkpoint(RESTART)") {
                tracing::warn!(error = %e, "restarting the log failed");
            }
        }
        if let Err(e) = outcome {
            tracing::error!(error = %e, "write transaction failed");
            while conn.is_broken() {
                match connect() {
                    Ok(fresh) => conn = fresh,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot reconnect the writer");
                        std::thread::sleep(Duration::from_millis(500));
                    }
                }
            }
        }
    }
}

/// Runs the one job of a group inside the bare transaction: it commits when the job succeeds and
/// rolls back when it fails (its caller then gets the job's own error).
fn run_alone(
    conn: &mut dyn Conn,
    jobs: Vec<Work>,
    events: &mut Vec<PendingEvent>,
) -> Result<(), StoreError> {
    let now = Utc::now();
    let Some(job) = jobs.into_iter().next() else {
        return conn.batch("ROLLBACK");
    };
    let mut tx = Tx::new(&mut *conn, &mut *events, now);
    let (ok, completion) = job(&mut tx);
    let job = tx.into_job_state();
    let outcome = if ok {
        let mut group = GroupState::default();
        job.merge_into(&mut group);
        finish(conn, events, group).inspect_err(|_| {
            let _ = conn.batch("ROLLBACK");
        })
    } else {
        events.clear();
        conn.batch("ROLLBACK")
    };
    // A failed job answers with its own error whatever the rollback did; a successful one only
    // once its commit is known.
    let answer = match (&outcome, ok) {
        (Err(e), true) => Err(e.to_string()),
        _ => Ok(()),
    };
    completion(answer);
    outcome
}

fn run_jobs(
    conn: &mut dyn Conn,
    jobs: Vec<Work>,
    events: &mut Vec<PendingEvent>,
    group: &mut GroupState,
) -> Vec<Completion> {
    let now = Utc::now();
    let count = jobs.len();
    let mut completions = Vec::with_capacity(count);
    for (i, job) in jobs.into_iter().enumerate() {
        let mark = events.len();
        let (ok, completion) = {
            let mut tx = Tx::new(&mut *conn, &mut *events, now);
            let answer = job(&mut tx);
            if answer.0 {
                tx.into_job_state().merge_into(group);
            }
            answer
        };
        let last = i + 1 == count;
        let closed = if !ok {
            events.truncate(mark);
            // The savepoint stays in place for the next job.
            conn.batch("ROLLBACK TO SAVEPOINT job")
        } else if last {
            Ok(())
        } else {
            conn.batch("RELEASE SAVEPOINT job; SAVEPOINT job")
        };
        if let Err(e) = closed {
            tracing::error!(error = %e, "savepoint failed");
        }
        completions.push(completion);
    }
    completions
}

/// Most rows in one multi-row INSERT: large enough to save round trips, small enough that the few
/// statement shapes stay prepared.
const ROWS_PER_INSERT: usize = 32;

fn finish(
    conn: &mut dyn Conn,
    events: &mut [PendingEvent],
    group: GroupState,
) -> Result<(), StoreError> {
    group.before_commit(conn)?;
    if !events.is_empty() {
        let data: Vec<String> = events.iter().map(|e| e.draft.data.to_string()).collect();
        for (chunk, data) in events
            .chunks(ROWS_PER_INSERT)
            .zip(data.chunks(ROWS_PER_INSERT))
        {
            let mut params = Vec::with_capacity(chunk.len() * 6);
            for (event, data) in chunk.iter().zip(data) {
                params.push(Value::Text(&event.draft.kind));
                params.push(Value::Text(&event.draft.subject));
                params.push(Value::Int(crate::micros(event.at)));
                params.push(Value::Text(data));
                params.push(Value::Text(event.actor.kind.as_str()));
                params.push(Value::Text(&event.actor.id));
            }
            let sql = crate::db::multi_row_append(
                conn.dialect(),
                "events (type, subject, at, data, actor_kind, actor_id)",
                6,
                chunk.len(),
            );
            // Sent with the COMMIT, in one round trip on PostgreSQL.
            conn.execute_deferred(&sql, &params)?;
        }
    }
    conn.batch(match conn.dialect() {
        Dialect::Sqlite => "COMMIT",
        // PostgreSQL answers COMMIT in a transaction that a failed statement aborted with a
        // silent ROLLBACK. A statement ahead of it fails there instead, so work that swallowed
        // an error (its own, or that of a deferred write it did not wait for) is not taken
        // for committed.
        Dialect::Postgres => "SELECT 1; COMMIT",
    })
}
