//! The durable executor: runs published flows for the business events that trigger them.
//!
//! Unlike the compiler (`iom-flow`), this part does I/O: it drives runs through the store, and its
//! steps call the application's use cases (orders, fulfilment, inventory, returns) inside the
//! pass's transaction. Calls to provider instances come in through [`Outbound`]
//! (`pipeline::flow_calls` in a running server, [`NoOutbound`] in tests).
//!
//! How it holds up:
//! - **No trigger lost, no run twice.** The dispatcher reads the events log after a stored cursor
//!   and creates runs (unique per flow and trigger event) in the transaction that moves the cursor.
//! - **Each step exactly once in effect.** A pass claims due runs and drives them in one write
//!   transaction; a step's record, its changes and its events commit together, and a step that
//!   fails leaves only its record (undone by a savepoint, or by making the pass again with one:
//!   `drive::guarded`). A crash before the commit leaves no trace and the runs are claimed again.
//! - **Several processes.** On PostgreSQL runs are claimed with `FOR UPDATE SKIP LOCKED` and the
//!   cursor row is locked the same way, so processes share the work and a run is driven by one at
//!   a time. SQLite has one writer.
//! - **Calls outside.** A step that calls another system records its start, takes a lease and
//!   makes the calls after the commit with an idempotency key of (run, step, execution); the
//!   result commits with the step's effects. A lease that runs out (the process died) makes
//!   another pass call again with the same key.
//! - **Time.** Retries with backoff, waits with deadlines and expiring backorders are a `wake_at`
//!   on the run, so they survive restarts.

pub mod drive;
pub mod policies;
pub mod state;
pub mod steps;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use iom_store::flows::{self as rows, FlowVersion, NewVersion, RunRow, TaskRow};
use iom_store::{Store, StoreError};
use serde_json::Value;
use tokio::sync::Notify;

pub use drive::{Engine, ExternalJob, PassOutcome};
use iom_flow::ExecutablePlan;
use iom_flow::error::CompileErrors;
pub use state::Call;

#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    /// Most runs driven in one pass (and four times as many events dispatched).
    pub batch: usize,
    /// How long an idle executor waits before looking again (new events, due timers).
    pub idle_poll: Duration,
    /// How long calls to other systems may take before another pass takes the run over.
    pub lease: Duration,
    /// How often a waiting run is checked even without a wake.
    pub recheck: Duration,
    /// Backordered orders are cancelled when no supply arrived within this; `None` keeps them.
    pub backorder_cancel_after: Option<Duration>,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        ExecutorConfig {
            batch: 256,
            idle_poll: Duration::from_millis(20),
            lease: Duration::from_secs(60),
            recheck: Duration::from_secs(30),
            backorder_cancel_after: Some(Duration::from_secs(30 * 86_400)),
        }
    }
}

/// A future as [`Outbound`] returns it.
pub type CallFuture = Pin<Box<dyn Future<Output = Result<Value, String>> + Send>>;

/// Calls to other systems, injected by whoever runs the executor (`pipeline::flow_calls`:
/// provider instances over HTTP). `key` is the same for every try of one step execution, so the receiver can tell a
/// repeat from a new request.
pub trait Outbound: Send + Sync + 'static {
    fn call(&self, call: Call, key: String) -> CallFuture;
}

/// For processes without provider instances: every call fails, visibly, on the run.
pub struct NoOutbound;

impl Outbound for NoOutbound {
    fn call(&self, call: Call, _key: String) -> CallFuture {
        let provider = call.provider().to_owned();
        Box::pin(async move { Err(format!("no provider {provider:?} can be called here")) })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error(transparent)]
    Invalid(#[from] CompileErrors),
    #[error("the definition is named {found:?} but is stored as {expected:?}")]
    NameMismatch {
        expected: String,
        found: String,
        /// Where the document states its name.
        at: Option<iom_flow::Pos>,
    },
    #[error("not found: {0}")]
    NotFound(String),
    /// The request contradicts what is stored (a policy changing its kind, a stale version).
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The executor of one process. Cheap to clone.
#[derive(Clone)]
pub struct Executor {
    store: Store,
    engine: Arc<Engine>,
    outbound: Arc<dyn Outbound>,
    wake: Arc<Notify>,
}

impl Executor {
    pub fn new(store: Store, outbound: Arc<dyn Outbound>, config: ExecutorConfig) -> Self {
        Executor {
            store,
            engine: Arc::new(Engine::new(config)),
            outbound,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Publishes the flows shipped with iom (version 1) unless a flow of that name exists: a new
    /// database orchestrates orders and returns out of the box, and a flow changed or unpublished by its
    /// users stays as they left it.
    pub async fn install_defaults(&self) -> Result<(), FlowError> {
        let mut versions = Vec::new();
        for source in iom_flow::DEFAULT_FLOWS {
            let plan = iom_flow::compile(source)?;
            versions.push(NewVersion {
                name: plan.name.clone(),
                flow_type: plan.flow_type.as_str().to_owned(),
                format: "yaml".into(),
                source: source.to_owned(),
                plan: serde_json::to_string(&plan).map_err(StoreError::from)?,
            });
        }
        self.store
            .write(move |tx| {
                let now = tx.now();
                for v in &versions {
                    rows::seed_published(tx.conn(), v, now)?;
                }
                rows::ensure_cursor(tx.conn(), drive::CURSOR)
            })
            .await?;
        Ok(())
    }

    /// Drives runs until the process ends: a pass whenever there was work, else after
    /// [`ExecutorConfig::idle_poll`] or a [`Executor::notify`].
    pub fn spawn(&self) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move { this.run_forever().await })
    }

    /// Something happened (an order was captured): look now rather than after the idle wait.
    pub fn notify(&self) {
        self.wake.notify_one();
    }

    async fn run_forever(self) {
        loop {
            let busy = match self.run_once().await {
                Ok(out) => out.busy(),
                Err(e) => {
                    tracing::warn!(error = ?e, "a flow pass failed");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    false
                }
            };
            if !busy {
                tokio::select! {
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(self.engine.config.idle_poll) => {}
                }
            }
        }
    }

    /// One pass (dispatch, then drive what is due); calls to other systems it leaves are made in
    /// the background.
    pub async fn run_once(&self) -> Result<PassOutcome, StoreError> {
        let engine = self.engine.clone();
        let first = self
            .store
            .write_solo(move |tx| drive::pass(tx, &engine, false))
            .await;
        let mut out = match first {
            // Work that failed left changes behind: the pass was rolled back whole and is made
            // again with a savepoint for each run and step.
            Err(StoreError::RollBack(why)) => {
                tracing::debug!(%why, "a flow pass is made again with savepoints");
                let engine = self.engine.clone();
                self.store
                    .write_solo(move |tx| drive::pass(tx, &engine, true))
                    .await?
            }
            other => other?,
        };
        for job in std::mem::take(&mut out.external) {
            let this = self.clone();
            tokio::spawn(this.call_out(job));
        }
        Ok(out)
    }

    /// Boxed: finishing a step may start the next call, so the future refers to itself.
    fn call_out(self, job: ExternalJob) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move {
            let mut results = Vec::with_capacity(job.calls.len());
            let mut failure = None;
            for (i, call) in job.calls.iter().enumerate() {
                let key = if job.calls.len() == 1 {
                    job.key.clone()
                } else {
                    format!("{}:{i}", job.key)
                };
                match self.outbound.call(call.clone(), key).await {
                    Ok(v) => results.push(v),
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            let result = failure.map_or(Ok(results), Err);
            let engine = self.engine.clone();
            match self
                .store
                .write(move |tx| drive::finish_external(tx, &engine, job, result))
                .await
            {
                Ok(out) => {
                    for job in out.external {
                        let this = self.clone();
                        tokio::spawn(this.call_out(job));
                    }
                    self.notify();
                }
                // The lease runs out and the calls are made again.
                Err(e) => tracing::warn!(error = %e, "cannot record the result of a provider call"),
            }
        })
    }

    // ------------------------------------------------------------ definitions

    /// Checks a definition as [`Executor::put_flow`] does before it stores it, writing nothing:
    /// compiled against the policies stored now, and named `name`. The editor checks with this
    /// as one types, so what it accepts is what saving accepts.
    pub async fn check_flow(&self, name: &str, text: &str) -> Result<ExecutablePlan, FlowError> {
        let known = self.store.read(policies::policy_set_in).await?;
        let plan = iom_flow::Compiler::with_policies(&known).compile(text)?;
        if plan.name != name {
            return Err(FlowError::NameMismatch {
                expected: name.to_owned(),
                at: name_position(text),
                found: plan.name,
            });
        }
        Ok(plan)
    }

    /// Compiles a definition and stores it as a new draft version of `name`. The policies it
    /// names must be stored, each of the kind its use needs.
    pub async fn put_flow(
        &self,
        name: &str,
        text: &str,
        format: &str,
    ) -> Result<FlowVersion, FlowError> {
        let plan = self.check_flow(name, text).await?;
        let new = NewVersion {
            name: name.to_owned(),
            flow_type: plan.flow_type.as_str().to_owned(),
            format: format.to_owned(),
            source: text.to_owned(),
            plan: serde_json::to_string(&plan).map_err(StoreError::from)?,
        };
        Ok(self
            .store
            .write(move |tx| {
                let now = tx.now();
                audited_flow(tx, &new.name.clone(), |tx| {
                    rows::insert_draft(tx.conn(), &new, now)
                })
            })
            .await?)
    }

    /// Publishes `version` (the newest when `None`): it starts the runs from now on; runs already
    /// started finish on their own version. The policies it names are checked again against
    /// those stored now (a draft may be older than the policies it names).
    pub async fn publish(
        &self,
        name: &str,
        version: Option<i64>,
    ) -> Result<FlowVersion, FlowError> {
        let label = match version {
            Some(v) => format!("flow {name} version {v}"),
            None => format!("flow {name}"),
        };
        let name = name.to_owned();
        let found = self
            .store
            .write(move |tx| {
                let now = tx.now();
                let version = match version {
                    Some(v) => v,
                    None => match rows::versions(tx.conn(), &name)?.first() {
                        Some(v) => v.version,
                        None => return Ok(None),
                    },
                };
                let Some(found) = rows::get_version(tx.conn(), &name, version)? else {
                    return Ok(None);
                };
                let known = policies::policy_set_in(tx.conn())?;
                if let Err(errors) =
                    iom_flow::Compiler::with_policies(&known).compile(&found.source)
                {
                    return Ok(Some(Err(errors)));
                }
                audited_flow(tx, &name, |tx| {
                    publish_in(tx, &name, version, &found.flow_type, now)
                })?;
                Ok(rows::get_version(tx.conn(), &name, version)?.map(Ok))
            })
            .await?;
        Ok(found.ok_or(FlowError::NotFound(label))??)
    }

    /// No version of the flow starts runs any more; running ones finish.
    pub async fn unpublish(&self, name: &str) -> Result<Vec<FlowVersion>, FlowError> {
        let name = name.to_owned();
        let versions = self
            .store
            .write(move |tx| {
                let now = tx.now();
                let versions = rows::versions(tx.conn(), &name)?;
                if versions.is_empty() {
                    return Ok(versions);
                }
                audited_flow(tx, &name, |tx| unpublish_in(tx, &name, now))?;
                rows::versions(tx.conn(), &name)
            })
            .await?;
        if versions.is_empty() {
            return Err(FlowError::NotFound("flow".into()));
        }
        Ok(versions)
    }

    // ------------------------------------------------------------ runs and tasks

    /// Runs a failed (or held) run again from the step where it stopped.
    pub async fn retry_run(&self, run_id: &str) -> Result<RunRow, FlowError> {
        let id = run_id.to_owned();
        let run = self
            .store
            .write(move |tx| drive::retry_failed(tx, &id))
            .await?;
        self.notify();
        run.ok_or_else(|| FlowError::NotFound(format!("run {run_id}")))
    }

    /// Decides a manual task; the run waiting for it goes on.
    pub async fn complete_task(
        &self,
        task_id: &str,
        decision: String,
        note: Option<String>,
    ) -> Result<TaskRow, FlowError> {
        let id = task_id.to_owned();
        let task = self
            .store
            .write(move |tx| drive::complete_task(tx, &id, &decision, note.as_deref()))
            .await?;
        self.notify();
        task.ok_or_else(|| FlowError::NotFound(format!("task {task_id}")))
    }
}

/// Runs `change` on flow `name` and logs it in the audit log with the flow before and after
/// (a flow's document there is its versions with their statuses and its newest source).
pub fn audited_flow<T>(
    tx: &mut iom_store::Tx<'_>,
    name: &str,
    change: impl FnOnce(&mut iom_store::Tx<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let before = rows::audit_doc(tx.conn(), name)?;
    let result = change(tx)?;
    let after = rows::audit_doc(tx.conn(), name)?;
    tx.audit(&format!("flow:{name}"), before.as_ref(), after.as_ref())?;
    Ok(result)
}

/// Makes `version` of `name` the published one inside a write and announces `flow.published`.
pub fn publish_in(
    tx: &mut iom_store::Tx<'_>,
    name: &str,
    version: i64,
    flow_type: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), StoreError> {
    rows::publish(tx.conn(), name, version, now)?;
    tx.emit(iom_domain::EventDraft::new(
        "flow.published",
        format!("flow:{name}"),
        serde_json::json!({"name": name, "version": version, "type": flow_type}),
    ));
    Ok(())
}

/// No version of `name` starts runs any more, inside a write; announces `flow.unpublished`
/// when one was published.
pub fn unpublish_in(
    tx: &mut iom_store::Tx<'_>,
    name: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<bool, StoreError> {
    if rows::unpublish(tx.conn(), name, now)? > 0 {
        tx.emit(iom_domain::EventDraft::new(
            "flow.unpublished",
            format!("flow:{name}"),
            serde_json::json!({"name": name}),
        ));
        return Ok(true);
    }
    Ok(false)
}

/// Where a definition (flow or policy) states its `name`, for an error about it.
pub fn name_position(text: &str) -> Option<iom_flow::Pos> {
    let root = iom_flow::source::parse_document(text).ok()?;
    root.get("name").map(|(_, value)| value.pos)
}
