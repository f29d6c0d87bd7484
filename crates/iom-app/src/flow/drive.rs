//! Driving runs, inside one write transaction per pass: the dispatcher turns committed events into
//! runs, then due runs are claimed and driven step by step until each ends, waits, retries later or
//! calls out. Every step's record, its effects and its events, and the run's new position commit
//! together; a pass that does not commit leaves no trace, and its runs are claimed again.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use iom_domain::{Actor, Order, OrderStatus, RunStatus, StepStatus, TaskStatus};
use iom_store::flows::{self as rows, RunRow, StepRow};
use iom_store::{StoreError, Tx};
use serde_json::Value;

use super::ExecutorConfig;
use super::policies::PolicyCache;
use super::state::{Call, Current, External, RunState, WaitKind};
use super::steps::{self, PassCache, StepCx, StepFailure, StepResult};
use crate::orders::OrderAction;
use iom_flow::catalog::FlowType;
use iom_flow::expr::{EventInput, Input};
use iom_flow::plan::{Ending, ExecutablePlan, Next, NodeKind, Outcome, StepId};

/// The dispatcher's cursor in the events log.
pub const CURSOR: &str = "flows";
/// Most steps one run takes in one pass, so a long flow does not hold a pass up.
const STEPS_PER_PASS: usize = 64;

/// What every pass of a process shares: its configuration, its lease name and the plans it has
/// loaded (a version never changes, so a plan is loaded once).
pub struct Engine {
    pub config: ExecutorConfig,
    pub owner: String,
    plans: Mutex<HashMap<(String, i64), Arc<ExecutablePlan>>>,
}

impl Engine {
    pub fn new(config: ExecutorConfig) -> Self {
        Engine {
            config,
            owner: uuid::Uuid::now_v7().to_string(),
            plans: Mutex::new(HashMap::new()),
        }
    }

    fn plan(
        &self,
        conn: &mut dyn iom_store::Conn,
        name: &str,
        version: i64,
    ) -> Result<Arc<ExecutablePlan>, StoreError> {
        let key = (name.to_owned(), version);
        if let Some(plan) = self.plans.lock().expect("plan cache").get(&key) {
            return Ok(plan.clone());
        }
        let text = rows::plan_of(conn, name, version)?
            .ok_or_else(|| StoreError::NotFound(format!("flow {name} version {version}")))?;
        let plan =
            Arc::new(ExecutablePlan::load(&text).map_err(|e| StoreError::Corrupt(e.to_string()))?);
        self.plans
            .lock()
            .expect("plan cache")
            .insert(key, plan.clone());
        Ok(plan)
    }
}

/// Calls to other systems a pass left to make.
#[derive(Debug, Clone)]
pub struct ExternalJob {
    pub run_id: String,
    pub n: i64,
    pub attempt: u32,
    pub calls: Vec<Call>,
    /// The idempotency key of these calls: the same for every try of this step execution.
    pub key: String,
}

/// What a pass did.
#[derive(Debug, Default)]
pub struct PassOutcome {
    /// Events read by the dispatcher.
    pub events: usize,
    /// Runs created (a run that existed already for its flow and event is counted too: the
    /// insert is not waited for).
    pub started: usize,
    /// Runs driven.
    pub advanced: usize,
    /// Step executions recorded.
    pub steps: usize,
    pub external: Vec<ExternalJob>,
}

impl PassOutcome {
    /// There may be more to do at once.
    pub fn busy(&self) -> bool {
        self.events > 0 || self.advanced > 0
    }
}

/// One pass: dispatch new events, then drive what is due. `careful` gives each run and each step
/// a savepoint of its own; without, a pass whose failed work left changes behind fails with
/// [`StoreError::RollBack`] and is to be made again carefully (see `guarded`).
pub fn pass(tx: &mut Tx<'_>, engine: &Engine, careful: bool) -> Result<PassOutcome, StoreError> {
    let mut out = PassOutcome::default();
    dispatch(tx, engine, &mut out)?;
    let now = tx.now();
    let due = rows::claim_due(tx.conn(), now, engine.config.batch)?;
    let mut cache = PassCache::new(careful);
    for run in due {
        out.advanced += 1;
        let id = run.id.clone();
        let (records, jobs) = (cache.records.len(), out.external.len());
        // One broken run must not stop the others: its changes are undone and it is tried again
        // a little later, with the error on the run.
        let result = guarded(tx, careful, |tx| {
            advance(tx, engine, &mut cache, run, None, &mut out)
        })?;
        if let Err(e) = result {
            cache.records.truncate(records);
            out.external.truncate(jobs);
            tracing::warn!(run = %id, error = %e, "a flow run could not advance");
            if let Some(mut run) = rows::get_run(tx.conn(), &id, false)? {
                run.error = Some(e.to_string());
                run.wake_at = Some(now + chrono::Duration::seconds(5));
                rows::save_run(tx.conn(), &run)?;
            }
        }
    }
    rows::put_steps(tx.conn(), &cache.records)?;
    Ok(out)
}

/// Runs `work` so that when it fails, what it changed and the events it emitted are undone and
/// the pass goes on: the outer `Err` means the whole transaction must be rolled back.
///
/// With `careful`, `work` runs in a savepoint. Without, it runs bare: a savepoint costs a
/// statement each way (a round trip each on PostgreSQL) and makes SQLite copy every page the work
/// changes into a statement journal, while most work either succeeds or fails before it changes
/// anything (a plan that finds no stock, a check that refuses the order). Work that failed after
/// changing something fails the pass with [`StoreError::RollBack`]; the executor then makes the
/// pass again, carefully.
fn guarded<T, E: From<StoreError> + std::fmt::Display>(
    tx: &mut Tx<'_>,
    careful: bool,
    work: impl FnOnce(&mut Tx<'_>) -> Result<T, E>,
) -> Result<Result<T, E>, StoreError> {
    if careful {
        return Ok(tx.savepoint(work));
    }
    let (changes, events) = (tx.changes(), tx.event_mark());
    let result = work(tx);
    if let Err(e) = &result {
        if tx.changes() != changes {
            return Err(StoreError::RollBack(e.to_string()));
        }
        tx.discard_events_since(events);
    }
    Ok(result)
}

// ---------------------------------------------------------------- dispatch

/// Reads the events committed since the cursor, starts a run for each flow they trigger (one per
/// flow type: of several matching flows the highest priority whose `when` holds), wakes runs that
/// wait for them, and moves the cursor, all in this transaction: a trigger that committed gets its
/// run, and only one, whatever crashes.
fn dispatch(tx: &mut Tx<'_>, engine: &Engine, out: &mut PassOutcome) -> Result<(), StoreError> {
    let Some(cursor) = rows::lock_cursor(tx.conn(), CURSOR)? else {
        // Another process is dispatching right now.
        return Ok(());
    };
    let events = iom_store::events::after_seq(tx.conn(), cursor, None, engine.config.batch * 4)?;
    let Some(last) = events.last().map(|e| e.seq) else {
        return Ok(());
    };
    out.events = events.len();
    let mut flows = Vec::new();
    for (name, version) in rows::published_keys(tx.conn())? {
        let plan = engine.plan(tx.conn(), &name, version)?;
        flows.push((name, version, plan));
    }
    // Highest priority first, then by name, so the choice is the same in every process.
    flows.sort_by(|a, b| b.2.priority.cmp(&a.2.priority).then(a.0.cmp(&b.0)));
    let waiting = rows::waiting_subjects(tx.conn())?;
    let now = tx.now();
    let mut policies = PolicyCache::default();
    for event in &events {
        // A return run's subject is the return; the return's events name it in `return_id`.
        let return_id = event.data.get("return_id").and_then(Value::as_str);
        for subject in std::iter::once(event.subject.as_str()).chain(return_id) {
            if !waiting.contains(subject) {
                continue;
            }
            for run in rows::waiting_for_event(tx.conn(), subject)? {
                let wakes = run
                    .wait_event
                    .as_deref()
                    .is_some_and(|p| iom_domain::event::type_matches(p, &event.kind));
                if wakes {
                    rows::set_wake(tx.conn(), &run.id, now)?;
                }
            }
        }
        // Most events start no flow: their data is copied only for those that may.
        let triggers = |p: &ExecutablePlan| {
            p.triggers
                .iter()
                .any(|t| iom_domain::event::type_matches(t, &event.kind))
        };
        if !flows.iter().any(|(_, _, p)| triggers(p)) {
            continue;
        }
        let input = EventInput {
            kind: event.kind.clone(),
            subject: event.subject.clone(),
            at: event.at,
            data: event.data.clone(),
        };
        for flow_type in [FlowType::Order, FlowType::Inventory, FlowType::Return] {
            let mut candidates = flows
                .iter()
                .filter(|(_, _, p)| p.flow_type == flow_type && triggers(p));
            let order_id = match flow_type {
                FlowType::Order => event
                    .subject
                    .parse::<iom_domain::OrderId>()
                    .ok()
                    .map(|id| id.to_string()),
                FlowType::Return => event
                    .data
                    .get("order_id")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                FlowType::Inventory => None,
            };
            if flow_type.has_order() && order_id.is_none() {
                continue;
            }
            let mut order: Option<Option<Order>> = None;
            let chosen = candidates.find(|(name, _, plan)| {
                if plan.when.is_none() && plan.filters.is_empty() {
                    return true;
                }
                let loaded = match (&order, &order_id) {
                    (Some(o), _) => o.clone(),
                    (None, Some(id)) => {
                        let loaded = id
                            .parse()
                            .ok()
                            .and_then(|id| iom_store::orders::load(tx.conn(), id, false).ok())
                            .flatten();
                        order = Some(loaded.clone());
                        loaded
                    }
                    (None, None) => None,
                };
                let input = Input {
                    order: loaded.as_ref(),
                    event: Some(&input),
                    line: None,
                };
                let holds = plan.when.as_ref().is_none_or(|when| {
                    when.evaluate_bool(&input).unwrap_or_else(|e| {
                        tracing::warn!(flow = %name, error = %e, "a flow's `when` could not be evaluated");
                        false
                    })
                });
                // Filter policies at their newest versions: those the run will pin.
                holds && policies
                    .filters_pass(tx.conn(), &plan.filters, &BTreeMap::new(), loaded.as_ref())
                    .unwrap_or_else(|e| Err(e.to_string()))
                    .unwrap_or_else(|e| {
                        tracing::warn!(flow = %name, error = %e, "a flow's filter policies could not be applied");
                        false
                    })
            });
            let Some((name, version, plan)) = chosen else {
                continue;
            };
            // A return run is about one return: its subject is the return's id, so each return
            // gets its run (unique per flow and trigger) and its waits match its own events.
            let subject = match flow_type {
                FlowType::Return => match return_id {
                    Some(id) => id.to_owned(),
                    None => continue,
                },
                _ => order_id.clone().unwrap_or_else(|| event.subject.clone()),
            };
            let mut state = RunState::new(plan.start(), input.clone());
            state.policies = policies.pins(tx.conn(), plan)?;
            let run = RunRow {
                id: uuid::Uuid::now_v7().to_string(),
                flow: name.clone(),
                version: *version,
                flow_type: flow_type.as_str().to_owned(),
                subject,
                order_id: order_id.clone(),
                trigger_seq: event.seq,
                trigger_type: event.kind.clone(),
                status: RunStatus::Runnable,
                current_step: state.current_step().map(ToString::to_string),
                wake_at: Some(now),
                wait_event: None,
                lease_owner: None,
                lease_until: None,
                state: serde_json::to_string(&state)?,
                error: None,
                created_at: now,
                updated_at: now,
                finished_at: None,
            };
            rows::insert_run(tx.conn(), &run)?;
            out.started += 1;
        }
    }
    rows::set_cursor(tx.conn(), CURSOR, last)
}

// ---------------------------------------------------------------- runs

/// The result of calls made outside the transaction: for step execution (n, attempt).
pub type ExternalResult = (i64, u32, Result<Vec<Value>, String>);

/// Drives `run` as far as it goes in this pass; what it changes names the run's flow as actor.
fn advance(
    tx: &mut Tx<'_>,
    engine: &Engine,
    cache: &mut PassCache,
    run: RunRow,
    external: Option<ExternalResult>,
    out: &mut PassOutcome,
) -> Result<(), StoreError> {
    tx.acting_as(Actor::flow(run.flow.clone()), |tx| {
        advance_run(tx, engine, cache, run, external, out)
    })
}

fn advance_run(
    tx: &mut Tx<'_>,
    engine: &Engine,
    cache: &mut PassCache,
    mut run: RunRow,
    external: Option<ExternalResult>,
    out: &mut PassOutcome,
) -> Result<(), StoreError> {
    let now = tx.now();
    cache.forget_order();
    cache.stored = None;
    let plan = engine.plan(tx.conn(), &run.flow, run.version)?;
    cache.plans_fulfillment = plan.uses("plan-fulfillment");
    let mut state: RunState = serde_json::from_str(&run.state)?;
    run.updated_at = now;
    match run.status {
        RunStatus::Completed | RunStatus::Failed | RunStatus::Held | RunStatus::Cancelled => {
            // Woken after it ended (a task decided late): nothing to do.
            run.wake_at = None;
            return rows::save_run(tx.conn(), &run);
        }
        RunStatus::Backordered => {
            expire_backorder(tx, &mut run)?;
            return rows::save_run(tx.conn(), &run);
        }
        RunStatus::External if external.is_none() => {
            // The lease ran out: the process making the calls died or hangs. The calls may have
            // been made; they are made again under the same idempotency key.
            if let Some(ext) = &state.external {
                lease(engine, &mut run, now);
                out.external.push(job(&run, ext));
                return rows::save_run(tx.conn(), &run);
            }
        }
        _ => {}
    }
    run.status = RunStatus::Runnable;
    run.lease_owner = None;
    run.lease_until = None;
    run.wait_event = None;
    run.wake_at = None;
    run.error = None;
    let ended = drive(
        tx, engine, cache, &plan, &mut run, &mut state, external, out,
    )?;
    steps::flush_order(tx, cache)?;
    if !ended {
        run.current_step = state.current_step().map(ToString::to_string);
    }
    run.state = serde_json::to_string(&state)?;
    rows::save_run(tx.conn(), &run)
}

fn lease(engine: &Engine, run: &mut RunRow, now: DateTime<Utc>) {
    let until = now + chrono::Duration::from_std(engine.config.lease).unwrap_or_default();
    run.status = RunStatus::External;
    run.lease_owner = Some(engine.owner.clone());
    run.lease_until = Some(until);
    run.wake_at = Some(until);
    run.updated_at = now;
}

fn job(run: &RunRow, ext: &External) -> ExternalJob {
    ExternalJob {
        run_id: run.id.clone(),
        n: ext.n,
        attempt: ext.attempt,
        calls: ext.calls.clone(),
        key: format!("{}:{}:{}", run.id, ext.step, ext.n),
    }
}

/// Drives the run until it ends (`true`), or waits, retries later or calls out (`false`).
#[allow(clippy::too_many_arguments)]
fn drive(
    tx: &mut Tx<'_>,
    engine: &Engine,
    cache: &mut PassCache,
    plan: &ExecutablePlan,
    run: &mut RunRow,
    state: &mut RunState,
    mut external: Option<ExternalResult>,
    out: &mut PassOutcome,
) -> Result<bool, StoreError> {
    let now = tx.now();
    for _ in 0..STEPS_PER_PASS {
        let Some(position) = state.pending.first().cloned() else {
            ending(tx, engine, cache, plan, run, state, Ending::Completed)?;
            return Ok(true);
        };
        match position {
            Next::End(end) => {
                ending(tx, engine, cache, plan, run, state, end)?;
                return Ok(true);
            }
            Next::Fork { parallel, branches } => {
                state.pending.remove(0);
                state.joined.insert(parallel.to_string(), 0);
                for branch in branches.into_iter().rev() {
                    state.pending.insert(0, branch);
                }
            }
            Next::Join { parallel } => {
                state.pending.remove(0);
                let total = match plan.node(&parallel).map(|n| &n.kind) {
                    Some(NodeKind::Parallel { branches }) => branches.len(),
                    _ => 1,
                };
                let joined = state.joined.entry(parallel.to_string()).or_insert(0);
                *joined += 1;
                if *joined >= total {
                    state.joined.remove(parallel.as_str());
                    let next = navigate(plan, &parallel, Outcome::Succeeded)?;
                    state.pending.insert(0, next);
                }
            }
            Next::Run(step) => {
                let Some(outcome) = run_node(
                    tx,
                    engine,
                    cache,
                    plan,
                    run,
                    state,
                    &step,
                    &mut external,
                    out,
                )?
                else {
                    return Ok(false);
                };
                let next = navigate(plan, &step, outcome)?;
                state.pending[0] = next;
            }
        }
    }
    // A long flow yields to the others and goes on in the next pass.
    run.wake_at = Some(now);
    Ok(false)
}

/// Ends the run ([`finish`]) once the changes its steps made to the order are written: an
/// ending reads the order as stored.
fn ending(
    tx: &mut Tx<'_>,
    engine: &Engine,
    cache: &mut PassCache,
    plan: &ExecutablePlan,
    run: &mut RunRow,
    state: &mut RunState,
    ending: Ending,
) -> Result<(), StoreError> {
    steps::flush_order(tx, cache)?;
    cache.forget_order();
    finish(tx, engine, plan, run, state, ending)
}

fn navigate(plan: &ExecutablePlan, step: &StepId, outcome: Outcome) -> Result<Next, StoreError> {
    plan.next(step, outcome)
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The run's order for a condition: as the run's last step left it, else as stored.
fn load_order(
    tx: &mut Tx<'_>,
    cache: &PassCache,
    run: &RunRow,
) -> Result<Option<Order>, StoreError> {
    let Some(id) = run.order_id.as_deref().and_then(|id| id.parse().ok()) else {
        return Ok(None);
    };
    match cache.order.as_ref().filter(|o| o.id == id) {
        Some(order) => Ok(Some(order.clone())),
        None => iom_store::orders::load(tx.conn(), id, false),
    }
}

/// Runs one node; `None` when the run pauses on it.
#[allow(clippy::too_many_arguments)]
fn run_node(
    tx: &mut Tx<'_>,
    engine: &Engine,
    cache: &mut PassCache,
    plan: &ExecutablePlan,
    run: &mut RunRow,
    state: &mut RunState,
    step: &StepId,
    external: &mut Option<ExternalResult>,
    out: &mut PassOutcome,
) -> Result<Option<Outcome>, StoreError> {
    let now = tx.now();
    let node = plan
        .node(step)
        .ok_or_else(|| StoreError::Corrupt(format!("the plan has no step {step}")))?;
    let in_progress = state.current.as_ref().is_some_and(|c| &c.step == step);
    // `when` decides whether a step runs at all; a step already under way is not asked again.
    if !in_progress && let Some(when) = &node.when {
        let order = load_order(tx, cache, run)?;
        let trigger = state.trigger.clone();
        let input = Input {
            order: order.as_ref(),
            event: Some(&trigger),
            line: None,
        };
        let holds = when.evaluate_bool(&input).unwrap_or_else(|e| {
            state.last_error = Some(e.to_string());
            false
        });
        if !holds {
            return skip(&mut cache.records, run, state, &node.kind, step, out, None);
        }
    }
    // Filter policies, at the versions the run pinned: a step of an order that does not pass
    // is skipped like one whose `when` is false. One that cannot be applied (a policy missing,
    // an expression failing on this order) fails the step, so `on_failure` decides.
    if !in_progress && !node.filters.is_empty() {
        let order = load_order(tx, cache, run)?;
        let verdict = cache.policies.filters_pass(
            tx.conn(),
            &node.filters,
            &state.policies,
            order.as_ref(),
        )?;
        match verdict {
            Ok(true) => {}
            Ok(false) => return skip(&mut cache.records, run, state, &node.kind, step, out, None),
            Err(error) => {
                state.last_error = Some(format!("{step}: {error}"));
                if !matches!(node.kind, NodeKind::Step { .. }) {
                    return Ok(Some(Outcome::Skipped));
                }
                return skip(
                    &mut cache.records,
                    run,
                    state,
                    &node.kind,
                    step,
                    out,
                    Some(error),
                );
            }
        }
    }
    // A payment (or tax) step of an order no instance of its type serves is passed over without
    // a record: the flow goes on exactly as one that does not name it.
    if !in_progress
        && let NodeKind::Step { uses, .. } = &node.kind
        && let Some(kind) = steps::served_by(uses)
    {
        let order = load_order(tx, cache, run)?;
        let instances = cache.serving_instances(tx)?;
        if let Some(order) = order
            && !instances
                .iter()
                .any(|i| i.kind == kind && i.serves(&order.channel))
        {
            return Ok(Some(Outcome::Skipped));
        }
    }
    match &node.kind {
        NodeKind::Branch { condition, .. } => {
            let order = load_order(tx, cache, run)?;
            let trigger = state.trigger.clone();
            let input = Input {
                order: order.as_ref(),
                event: Some(&trigger),
                line: None,
            };
            match condition.evaluate_bool(&input) {
                Ok(value) => Ok(Some(Outcome::Condition(value))),
                Err(e) => {
                    state.last_error = Some(format!("condition of {step}: {e}"));
                    Ok(Some(Outcome::Failed))
                }
            }
        }
        NodeKind::Goto { .. } | NodeKind::Parallel { .. } => Ok(Some(Outcome::Succeeded)),
        NodeKind::Step {
            uses,
            with,
            retry,
            timeout_ms,
            ..
        } => {
            let current = match state.current.clone() {
                Some(c) if &c.step == step => c,
                _ => {
                    state.n += 1;
                    Current {
                        step: step.clone(),
                        n: state.n,
                        attempt: 1,
                        started_at: now,
                    }
                }
            };
            let resume = state.wait.take().filter(|w| &w.step == step);
            let pending_external = state.external.take();
            let result = match external.take() {
                Some((n, attempt, result)) if n == current.n && attempt == current.attempt => {
                    Some(result)
                }
                _ => None,
            };
            // Step times are the clock's, not the transaction's: a pass drives many steps in
            // one transaction, and each step's duration is what the timeline shows.
            let started_at = if resume.is_some() || result.is_some() {
                current.started_at
            } else {
                Utc::now()
            };
            let current = Current {
                started_at,
                ..current
            };
            state.current = Some(current.clone());
            let timeout = timeout_ms.map(std::time::Duration::from_millis);
            let careful = cache.careful;
            // A step that may read or change the order otherwise sees it as stored.
            if !steps::keeps_order(uses) {
                steps::flush_order(tx, cache)?;
            }
            // A step that fails leaves the order as it found it, changes not written included:
            // its own writes are undone (by its savepoint, or by the pass failing whole).
            let before_step = cache.snapshot();
            let outcome = guarded(tx, careful, |tx| {
                let mut cx = StepCx {
                    tx,
                    run: &*run,
                    state: &mut *state,
                    cache: &mut *cache,
                    step,
                    uses,
                    with,
                    n: current.n,
                    attempt: current.attempt,
                    timeout,
                    now,
                    resume,
                };
                match result {
                    Some(Ok(values)) => steps::after_external(&mut cx, values),
                    Some(Err(error)) => Err(StepFailure::transient(error)),
                    None => steps::execute(&mut cx),
                }
            })?;
            drop(pending_external);
            if outcome.is_err() {
                cache.restore(before_step);
            } else if !steps::keeps_order(uses) {
                cache.forget_order();
            }
            out.steps += 1;
            let (n, attempt) = (current.n, current.attempt);
            let now = Utc::now();
            match outcome {
                Ok(StepResult::Done(output)) => {
                    record(
                        &mut cache.records,
                        run,
                        n,
                        attempt,
                        step,
                        uses,
                        StepStatus::Succeeded,
                        started_at,
                        Some(now),
                        None,
                        output,
                    )?;
                    state.current = None;
                    Ok(Some(Outcome::Succeeded))
                }
                Ok(StepResult::TimedOut) => {
                    state.last_error = Some(format!("{step} timed out"));
                    record(
                        &mut cache.records,
                        run,
                        n,
                        attempt,
                        step,
                        uses,
                        StepStatus::TimedOut,
                        started_at,
                        Some(now),
                        None,
                        None,
                    )?;
                    state.current = None;
                    Ok(Some(Outcome::TimedOut))
                }
                Ok(StepResult::Wait(wait)) => {
                    record(
                        &mut cache.records,
                        run,
                        n,
                        attempt,
                        step,
                        uses,
                        StepStatus::Waiting,
                        started_at,
                        None,
                        None,
                        None,
                    )?;
                    run.status = RunStatus::Waiting;
                    run.wait_event = wait.kind.wake_pattern();
                    // Checked again now and then even without a wake, so a wake that was missed
                    // (an event committed by another process mid-pass) only delays the run.
                    let recheck =
                        now + chrono::Duration::from_std(engine.config.recheck).unwrap_or_default();
                    run.wake_at = Some(wait.deadline.map_or(recheck, |d| d.min(recheck)));
                    state.wait = Some(wait);
                    Ok(None)
                }
                Ok(StepResult::External(calls)) => {
                    record(
                        &mut cache.records,
                        run,
                        n,
                        attempt,
                        step,
                        uses,
                        StepStatus::Started,
                        started_at,
                        None,
                        None,
                        None,
                    )?;
                    let ext = External {
                        step: step.clone(),
                        n,
                        attempt,
                        calls,
                    };
                    lease(engine, run, now);
                    out.external.push(job(run, &ext));
                    state.external = Some(ext);
                    Ok(None)
                }
                Err(failure) => {
                    record(
                        &mut cache.records,
                        run,
                        n,
                        attempt,
                        step,
                        uses,
                        StepStatus::Failed,
                        started_at,
                        Some(now),
                        Some(failure.error.clone()),
                        None,
                    )?;
                    state.last_error = Some(format!("{step}: {}", failure.error));
                    let delay = if failure.transient {
                        retry.delay_after(attempt)
                    } else {
                        None
                    };
                    match delay {
                        Some(delay) => {
                            state.current = Some(Current {
                                attempt: attempt + 1,
                                ..current
                            });
                            run.status = RunStatus::Runnable;
                            run.error = state.last_error.clone();
                            run.wake_at =
                                Some(now + chrono::Duration::from_std(delay).unwrap_or_default());
                            Ok(None)
                        }
                        None => {
                            state.current = None;
                            Ok(Some(Outcome::Failed))
                        }
                    }
                }
            }
        }
    }
}

/// Records a step that does not run: `skipped`, or `failed` with `error` (its filter policies
/// could not be applied). Other nodes leave no record.
fn skip(
    records: &mut Vec<StepRow>,
    run: &RunRow,
    state: &mut RunState,
    kind: &NodeKind,
    step: &StepId,
    out: &mut PassOutcome,
    error: Option<String>,
) -> Result<Option<Outcome>, StoreError> {
    if let NodeKind::Step { uses, .. } = kind {
        state.n += 1;
        let at = Utc::now();
        let status = if error.is_some() {
            StepStatus::Failed
        } else {
            StepStatus::Skipped
        };
        record(
            records,
            run,
            state.n,
            1,
            step,
            uses,
            status,
            at,
            Some(at),
            error.clone(),
            None,
        )?;
        out.steps += 1;
    }
    Ok(Some(if error.is_some() {
        Outcome::Failed
    } else {
        Outcome::Skipped
    }))
}

/// Queues a step's record; the pass writes its records together at its end (`flush_records`).
#[allow(clippy::too_many_arguments)]
fn record(
    records: &mut Vec<StepRow>,
    run: &RunRow,
    n: i64,
    attempt: u32,
    step: &StepId,
    uses: &str,
    status: StepStatus,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    error: Option<String>,
    output: Option<Value>,
) -> Result<(), StoreError> {
    let outcome = finished_at.map(|_| status.as_str().to_owned());
    records.push(StepRow {
        run_id: run.id.clone(),
        n,
        attempt: i64::from(attempt),
        step: step.to_string(),
        uses: uses.to_owned(),
        status,
        started_at,
        finished_at,
        outcome,
        error,
        output,
    });
    Ok(())
}

/// Ends the run as the plan says, doing to the order what the ending means.
fn finish(
    tx: &mut Tx<'_>,
    engine: &Engine,
    plan: &ExecutablePlan,
    run: &mut RunRow,
    state: &mut RunState,
    ending: Ending,
) -> Result<(), StoreError> {
    let now = tx.now();
    // The first position is the one that ended; the others are branches of open parallel
    // blocks that have not reached their join yet.
    let other_branches: Vec<Next> = state.pending.drain(..).skip(1).collect();
    state.current = None;
    run.wake_at = None;
    run.wait_event = None;
    run.finished_at = Some(now);
    let ending = if run.flow_type == FlowType::Return.as_str() {
        match ending {
            // A return has no holds: the run stops where it is until someone retries it.
            Ending::Held { step, .. } => {
                run.status = RunStatus::Held;
                run.error = state.last_error.clone();
                run.current_step = Some(step.to_string());
                return Ok(());
            }
            // The return, not its order, is what a return flow cancels.
            Ending::Cancelled { step, reason } => {
                steps::returns::cancel_return(tx, &run.subject, &reason);
                run.status = RunStatus::Cancelled;
                run.error = state.last_error.clone();
                run.current_step = Some(step.to_string());
                return Ok(());
            }
            // The compiler refuses `backorder` in return flows; a stored plan is taken as failed.
            Ending::Backordered { step } => Ending::Failed { step },
            other => other,
        }
    } else {
        ending
    };
    match ending {
        Ending::Completed => {
            run.status = RunStatus::Completed;
            run.current_step = None;
        }
        Ending::Failed { step } => {
            run.status = RunStatus::Failed;
            run.error = state.last_error.clone();
            run.current_step = Some(step.to_string());
        }
        Ending::Held { step, reason } => {
            let note = state.last_error.clone();
            change_order(tx, run, false, move |order, now| {
                if order.holds.iter().any(|h| h.code == reason) || order.status.is_terminal() {
                    return Ok(Vec::new());
                }
                OrderAction::Hold { code: reason, note }.apply(order, now)
            })?;
            run.status = RunStatus::Held;
            run.error = state.last_error.clone();
            run.current_step = Some(step.to_string());
        }
        Ending::Cancelled { step, reason } => {
            change_order(tx, run, true, move |order, now| {
                if order.status == OrderStatus::Cancelled {
                    return Ok(Vec::new());
                }
                OrderAction::Cancel { reason }.apply(order, now)
            })?;
            run.status = RunStatus::Cancelled;
            run.error = state.last_error.clone();
            run.current_step = Some(step.to_string());
        }
        Ending::Backordered { step } => {
            change_order(tx, run, false, |order, now| order.backorder_open_lines(now))?;
            // A resumed backorder plans again: a reservation that failed did so on a stale plan.
            let resume_at = state.plan_step.clone().unwrap_or_else(|| step.clone());
            state.pending = resume_positions(plan, &step, &resume_at, other_branches, state);
            state.plan = None;
            run.status = RunStatus::Backordered;
            run.error = state.last_error.clone();
            run.current_step = Some(resume_at.to_string());
            run.finished_at = None;
            // Waits for supply; cancelled when none came in time.
            run.wake_at = engine
                .config
                .backorder_cancel_after
                .and_then(|d| chrono::Duration::from_std(d).ok())
                .map(|d| now + d);
        }
    }
    Ok(())
}

/// Where a backordered run picks up when supply arrives: at `resume_at`, and, when that step is
/// in the same parallel branch as the step that backordered, with the other branches of the
/// block still where they were and its joins counted, so the run goes on past the block once
/// every branch is through. A plan step outside the block comes before it: the block runs anew.
fn resume_positions(
    plan: &ExecutablePlan,
    backordered_at: &StepId,
    resume_at: &StepId,
    other_branches: Vec<Next>,
    state: &mut RunState,
) -> Vec<Next> {
    let scope = |step: &StepId| plan.node(step).and_then(|n| n.parallel.clone());
    if scope(resume_at) == scope(backordered_at) {
        std::iter::once(Next::Run(resume_at.clone()))
            .chain(other_branches)
            .collect()
    } else {
        state.joined.clear();
        vec![Next::Run(resume_at.clone())]
    }
}

/// Applies a change to the run's order in a savepoint: an order that no longer allows it (say,
/// cancelled meanwhile) leaves the order as it is and the run still ends.
fn change_order(
    tx: &mut Tx<'_>,
    run: &RunRow,
    effects: bool,
    change: impl FnOnce(
        &mut Order,
        DateTime<Utc>,
    ) -> Result<Vec<iom_domain::EventDraft>, iom_domain::DomainError>,
) -> Result<(), StoreError> {
    let Some(id) = run.order_id.as_deref().and_then(|id| id.parse().ok()) else {
        return Ok(());
    };
    let now = tx.now();
    let result: Result<(), StoreError> = tx.savepoint(|tx| {
        let Some(mut order) = iom_store::orders::load(tx.conn(), id, true)? else {
            return Ok(());
        };
        let before = order.clone();
        let events = change(&mut order, now)?;
        if order.version != before.version {
            iom_store::orders::save(tx.conn(), &before, &order)?;
        }
        if effects {
            crate::inventory::order_effects(tx, &order, &events)?;
        }
        tx.emit_all(events);
        Ok(())
    });
    if let Err(e) = result {
        tracing::info!(run = %run.id, error = %e, "the run's ending left the order as it was");
    }
    Ok(())
}

/// A backorder whose time ran out: cancelled, its reservations released.
fn expire_backorder(tx: &mut Tx<'_>, run: &mut RunRow) -> Result<(), StoreError> {
    let now = tx.now();
    run.wake_at = None;
    // Nothing of this run is cached: it starts the run's turn in the pass.
    let order = load_order(tx, &PassCache::default(), run)?;
    if order.is_some_and(|o| o.status == OrderStatus::Backordered) {
        change_order(tx, run, true, |order, now| {
            order.cancel("backorder_expired", now)
        })?;
        run.status = RunStatus::Cancelled;
        run.error = Some("no supply arrived before the backorder expired".into());
        run.finished_at = Some(now);
    }
    Ok(())
}

/// Finishes a step whose calls outside were made (or failed), if the run is still this process's.
pub fn finish_external(
    tx: &mut Tx<'_>,
    engine: &Engine,
    job: ExternalJob,
    result: Result<Vec<Value>, String>,
) -> Result<PassOutcome, StoreError> {
    let mut out = PassOutcome::default();
    let Some(run) = rows::get_run(tx.conn(), &job.run_id, true)? else {
        return Ok(out);
    };
    if run.status != RunStatus::External
        || run.lease_owner.as_deref() != Some(engine.owner.as_str())
    {
        // The lease ran out and another pass took the run over; its result stands.
        return Ok(out);
    }
    let mut cache = PassCache::new(true);
    out.advanced = 1;
    advance(
        tx,
        engine,
        &mut cache,
        run,
        Some((job.n, job.attempt, result)),
        &mut out,
    )?;
    rows::put_steps(tx.conn(), &cache.records)?;
    Ok(out)
}

/// Runs a failed run again from the step that failed.
pub fn retry_failed(tx: &mut Tx<'_>, run_id: &str) -> Result<Option<RunRow>, StoreError> {
    let Some(mut run) = rows::get_run(tx.conn(), run_id, true)? else {
        return Ok(None);
    };
    if !matches!(run.status, RunStatus::Failed | RunStatus::Held) {
        return Err(StoreError::Domain(iom_domain::DomainError::conflict(
            format!(
                "run {run_id} is {}; only a failed or held run can be retried",
                run.status
            ),
        )));
    }
    let Some(step) = run.current_step.clone() else {
        return Err(StoreError::Domain(iom_domain::DomainError::conflict(
            "the run has no step to retry",
        )));
    };
    let now = tx.now();
    let mut state: RunState = serde_json::from_str(&run.state)?;
    state.pending = vec![Next::Run(StepId(step))];
    state.current = None;
    state.wait = None;
    state.external = None;
    run.state = serde_json::to_string(&state)?;
    run.status = RunStatus::Runnable;
    run.wake_at = Some(now);
    run.finished_at = None;
    run.updated_at = now;
    rows::save_run(tx.conn(), &run)?;
    Ok(Some(run))
}

/// Records a task's decision and wakes the run waiting for it.
pub fn complete_task(
    tx: &mut Tx<'_>,
    task_id: &str,
    decision: &str,
    note: Option<&str>,
) -> Result<Option<rows::TaskRow>, StoreError> {
    let Some(task) = rows::get_task(tx.conn(), task_id)? else {
        return Ok(None);
    };
    if task.status != TaskStatus::Open {
        return Err(StoreError::Domain(iom_domain::DomainError::conflict(
            format!("task {task_id} is already {}", task.status),
        )));
    }
    let now = tx.now();
    rows::complete_task(tx.conn(), task_id, decision, note, now)?;
    rows::set_wake(tx.conn(), &task.run_id, now)?;
    tx.emit(iom_domain::EventDraft::new(
        "task.completed",
        task.order_id.clone().unwrap_or_else(|| task.run_id.clone()),
        serde_json::json!({"task_id": task.id, "decision": decision, "note": note,
                           "order_id": task.order_id, "run_id": task.run_id}),
    ));
    rows::get_task(tx.conn(), task_id)
}

/// Sends the order's run back to planning after the order changed before release (an
/// amendment): a run waiting in its release step for held lines, or backordered, plans again
/// from its plan step now, so a changed or added line is planned and reserved as it now is. A
/// run that has not planned yet plans the order as it is when it gets there.
pub fn replan(tx: &mut Tx<'_>, order_id: &str) -> Result<usize, StoreError> {
    let now = tx.now();
    let mut woken = 0;
    for mut run in rows::order_runs(tx.conn(), order_id)? {
        let mut state: RunState = serde_json::from_str(&run.state)?;
        let Some(plan_step) = state.plan_step.clone() else {
            continue;
        };
        match run.status {
            RunStatus::Backordered => {}
            RunStatus::Waiting
                if state
                    .wait
                    .as_ref()
                    .is_some_and(|w| matches!(w.kind, WaitKind::LineHolds)) =>
            {
                state.pending = vec![Next::Run(plan_step.clone())];
                state.current = None;
                state.wait = None;
                state.plan = None;
                run.current_step = Some(plan_step.to_string());
                run.wait_event = None;
                run.state = serde_json::to_string(&state)?;
            }
            _ => continue,
        }
        run.status = RunStatus::Runnable;
        run.wake_at = Some(now);
        run.finished_at = None;
        run.updated_at = now;
        rows::save_run(tx.conn(), &run)?;
        woken += 1;
    }
    Ok(woken)
}
