//! The catalogue's steps against the real services. Each runs inside the executor's transaction
//! and is undone alone when it fails (`drive::guarded`): what it changes, the events it emits and
//! its step record commit together, so a step's effect happens exactly once however often the
//! process dies. Calls to
//! other systems are the exception: the step returns them as [`StepResult::External`], the
//! executor makes them outside the transaction under a lease with an idempotency key, and the
//! step finishes in [`after_external`].

use std::collections::BTreeMap;
use std::time::Duration;

use crate::inventory::{Lookups, order_effects, reserve_with};
use crate::orders::OrderAction;
use chrono::{DateTime, Utc};
use iom_domain::{
    DomainError, EventDraft, LineStatus, Order, OrderId, OrderStatus, RunStatus, TaskStatus,
};
use iom_store::flows::{self as rows, RunRow, TaskRow};
use iom_store::inventory::ReservationRow;
use iom_store::{StoreError, Tx};
use serde_json::{Value, json};

pub mod payments;
pub mod returns;
pub mod tax;

use super::state::{Call, RunState, Wait, WaitKind};
use crate::fulfillment::{self, Assigned, Commitment, setup as planning};
use iom_flow::expr::{EventInput, Expression, Input};
use iom_flow::plan::StepId;

/// How a step ended this time.
#[derive(Debug)]
pub enum StepResult {
    Done(Option<Value>),
    /// Waits (or goes on waiting) for an event, a task or a released hold.
    Wait(Wait),
    /// The wait's deadline passed.
    TimedOut,
    /// Calls to make outside the transaction.
    External(Vec<Call>),
}

/// A failed attempt: its changes are rolled back. A transient failure is retried under the step's
/// retry policy; a permanent one follows `on_failure` at once.
#[derive(Debug)]
pub struct StepFailure {
    pub error: String,
    pub transient: bool,
}

impl StepFailure {
    pub fn permanent(error: impl Into<String>) -> Self {
        StepFailure {
            error: error.into(),
            transient: false,
        }
    }

    pub fn transient(error: impl Into<String>) -> Self {
        StepFailure {
            error: error.into(),
            transient: true,
        }
    }
}

impl std::fmt::Display for StepFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.error)
    }
}

impl From<StoreError> for StepFailure {
    /// A business refusal (a conflict, invalid data) will not change by trying again; anything
    /// else (the database, a lost connection) may.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Domain(d) => StepFailure::permanent(d.to_string()),
            other => StepFailure::transient(other.to_string()),
        }
    }
}

impl From<DomainError> for StepFailure {
    fn from(e: DomainError) -> Self {
        StepFailure::permanent(e.to_string())
    }
}

/// Loaded once per executor pass: planning needs the whole network; policies are read once.
#[derive(Default)]
pub struct PassCache {
    network: Option<iom_sourcing::Network>,
    /// Fulfilment profiles by name, as planning reads them.
    profiles: std::collections::HashMap<String, iom_sourcing::Profile>,
    /// Each node's provider instance and the instance's type, as releases read them.
    providers: std::collections::HashMap<String, Option<(String, String)>>,
    pub policies: super::policies::PolicyCache,
    /// Each run and each step gets a savepoint of its own (see `drive::guarded`).
    pub careful: bool,
    /// The step records of the pass, written together at its end.
    pub records: Vec<rows::StepRow>,
    /// The run's order as its last step left it (loaded for update, or changed), while only
    /// this module's order changes have touched it: `drive` forgets it at each run's start and
    /// after a step that may change the order otherwise ([`keeps_order`]), and puts back what it
    /// was before a step that failed.
    pub order: Option<Order>,
    /// The run's order as stored, while [`PassCache::order`] holds changes not written yet. A
    /// run's steps change its order several times in one pass (validated, allocated, released):
    /// it is written once, by [`flush_order`], when the run's turn ends or before anything else
    /// reads or changes the order.
    pub stored: Option<Order>,
    /// The active reservations of the run's order, once a step of the run's turn has read them,
    /// with those its steps made since: planning reads them and releasing reads them again.
    /// Forgotten with [`PassCache::order`].
    reservations: Option<Vec<ReservationRow>>,
    /// The nodes and SKUs reservations look up, for the whole pass.
    lookups: Lookups,
    /// The run's flow plans fulfilment: the balances of its order's SKUs are read with the
    /// order (set by `drive` for each run).
    pub plans_fulfillment: bool,
    /// The balances of the SKUs of the run's order, read with it. Forgotten with
    /// [`PassCache::order`], and stale once the pass writes balances again.
    balances: Option<OrderBalances>,
    /// The `payment` and `tax` instances and the channels they serve, read once per pass.
    serving: Option<Vec<iom_store::payments::ServingInstance>>,
}

/// The balances of an order's SKUs, as read with the order.
struct OrderBalances {
    /// [`Tx::balance_writes`] when they were read.
    writes: u64,
    /// The SKUs whose balances were read (those of the order's stored lines).
    skus: std::collections::BTreeSet<String>,
    rows: Vec<iom_store::inventory::Balance>,
}

/// What a step may change of [`PassCache`], kept to put back when the step fails.
pub struct RunSnapshot {
    order: Option<Order>,
    stored: Option<Order>,
    reservations: Option<Vec<ReservationRow>>,
}

/// Writes the changes the run's steps made to its order ([`PassCache::stored`]).
pub fn flush_order(tx: &mut Tx<'_>, cache: &mut PassCache) -> Result<(), StoreError> {
    if let (Some(stored), Some(order)) = (cache.stored.take(), cache.order.as_ref()) {
        iom_store::orders::save(tx.conn(), &stored, order)?;
    }
    Ok(())
}

impl PassCache {
    pub fn new(careful: bool) -> Self {
        PassCache {
            careful,
            ..PassCache::default()
        }
    }

    /// The `payment` and `tax` instances, read once per pass.
    pub fn serving_instances(
        &mut self,
        tx: &mut Tx<'_>,
    ) -> Result<Vec<iom_store::payments::ServingInstance>, StoreError> {
        if self.serving.is_none() {
            self.serving = Some(iom_store::payments::serving_instances(tx.conn())?);
        }
        Ok(self.serving.clone().unwrap_or_default())
    }

    /// Forgets the run's order and what was read with it: the next step reads them as stored.
    pub fn forget_order(&mut self) {
        self.order = None;
        self.reservations = None;
        self.balances = None;
    }

    /// The balances of `skus` as read with the order, by sku then node, while no balance was
    /// written since (`writes` is [`Tx::balance_writes`] now) and they cover every one of `skus`.
    fn order_balances(
        &self,
        skus: &[String],
        writes: u64,
    ) -> Option<Vec<iom_store::inventory::Balance>> {
        let read = self.balances.as_ref()?;
        if read.writes != writes || !skus.iter().all(|s| read.skus.contains(s)) {
            return None;
        }
        Some(
            read.rows
                .iter()
                .filter(|b| skus.contains(&b.sku))
                .cloned()
                .collect(),
        )
    }

    /// What a step about to run may change here.
    pub fn snapshot(&self) -> RunSnapshot {
        RunSnapshot {
            order: self.order.clone(),
            stored: self.stored.clone(),
            reservations: self.reservations.clone(),
        }
    }

    /// Puts back what [`PassCache::snapshot`] kept: the step failed and its writes are undone.
    pub fn restore(&mut self, snapshot: RunSnapshot) {
        self.order = snapshot.order;
        self.stored = snapshot.stored;
        self.reservations = snapshot.reservations;
    }
}

/// The steps that change the run's order only through `StepCx::change_order`, so the order they
/// leave in [`PassCache::order`] is the stored one.
pub fn keeps_order(uses: &str) -> bool {
    matches!(
        uses,
        "validate-order"
            | "hold"
            | "risk-score"
            | "plan-fulfillment"
            | "reserve-inventory"
            | "release-to-nodes"
            | "emit-event"
            | "set-attribute"
            | "apply-policy"
    )
}

/// Everything a step sees.
pub struct StepCx<'a, 'b> {
    pub tx: &'a mut Tx<'b>,
    pub run: &'a RunRow,
    pub state: &'a mut RunState,
    pub cache: &'a mut PassCache,
    pub step: &'a StepId,
    pub uses: &'a str,
    pub with: &'a Value,
    pub n: i64,
    pub attempt: u32,
    pub timeout: Option<Duration>,
    pub now: DateTime<Utc>,
    /// The step waited and is checked again.
    pub resume: Option<Wait>,
}

type StepOutcome = Result<StepResult, StepFailure>;

impl StepCx<'_, '_> {
    fn order_id(&self) -> Result<OrderId, StepFailure> {
        self.run
            .order_id
            .as_deref()
            .and_then(|id| id.parse().ok())
            .ok_or_else(|| StepFailure::permanent("the run has no order"))
    }

    /// The run's order, locked for the rest of the pass on PostgreSQL; read once per run while
    /// its steps only change it through [`StepCx::change_order`].
    fn load_order(&mut self) -> Result<Order, StepFailure> {
        let id = self.order_id()?;
        if let Some(order) = self.cache.order.as_ref().filter(|o| o.id == id) {
            return Ok(order.clone());
        }
        // The fulfilment steps read the order's reservations too: they are read with the
        // order, in the same statement, unless already known.
        let order = match self.cache.reservations {
            None => {
                // Planning's balances go out in the same round trip, ahead of the order.
                let balances = match self.cache.plans_fulfillment {
                    true => Some(iom_store::inventory::order_balances_later(
                        self.tx.conn(),
                        &id.to_string(),
                    )?),
                    false => None,
                };
                let (order, reservations) =
                    iom_store::inventory::order_with_reservations(self.tx.conn(), id)?.ok_or_else(
                        || StepFailure::permanent(format!("order {id} does not exist")),
                    )?;
                self.cache.reservations = Some(reservations);
                if let Some(balances) = balances {
                    let (skus, rows) = balances.take()?;
                    self.cache.balances = Some(OrderBalances {
                        writes: self.tx.balance_writes(),
                        skus,
                        rows,
                    });
                }
                order
            }
            Some(_) => iom_store::orders::load(self.tx.conn(), id, true)?
                .ok_or_else(|| StepFailure::permanent(format!("order {id} does not exist")))?,
        };
        self.cache.order = Some(order.clone());
        Ok(order)
    }

    /// Loads the order, applies `change` and emits its events; the order is written by
    /// [`flush_order`]. With `effects`, it is written at once and what the change does to
    /// inventory (a cancellation releases reservations) commits with it.
    fn change_order(
        &mut self,
        effects: bool,
        change: impl FnOnce(&mut Order, DateTime<Utc>) -> Result<Vec<EventDraft>, StepFailure>,
    ) -> Result<Order, StepFailure> {
        let mut order = self.load_order()?;
        let version = order.version;
        // The stored order is kept only once, before the first change of the run's turn.
        let stored = self.cache.stored.is_none().then(|| order.clone());
        let events = change(&mut order, self.now)?;
        if order.version != version && self.cache.stored.is_none() {
            self.cache.stored = stored;
        }
        self.cache.order = Some(order.clone());
        if effects {
            // What the change does to inventory reads the order as stored, and may release its
            // reservations.
            flush_order(self.tx, self.cache)?;
            self.cache.reservations = None;
            order_effects(self.tx, &order, &events)?;
        }
        self.tx.emit_all(events);
        Ok(order)
    }

    /// The active reservations of the run's order.
    fn order_reservations(&mut self) -> Result<Vec<ReservationRow>, StepFailure> {
        if let Some(cached) = &self.cache.reservations {
            return Ok(cached.clone());
        }
        let id = self.order_id()?.to_string();
        let found = iom_store::inventory::order_reservations(self.tx.conn(), &id, None)?;
        self.cache.reservations = Some(found.clone());
        Ok(found)
    }

    fn arg_str(&self, name: &str) -> Option<&str> {
        self.with.get(name).and_then(Value::as_str)
    }

    fn deadline(&self) -> Option<DateTime<Utc>> {
        self.timeout
            .and_then(|t| chrono::Duration::from_std(t).ok())
            .map(|t| self.now + t)
    }

    /// A reference that names this step execution: reservations and releases carry it, so every
    /// effect can be traced to (run, step) and a repeated call recognised.
    fn reference(&self) -> String {
        format!("flow:{}:{}:{}", self.run.id, self.step, self.n)
    }

    fn trigger(&self) -> &EventInput {
        &self.state.trigger
    }
}

/// The provider type a step works through, for the steps that run only where an instance of
/// it serves the order's channel (and are passed over without a record elsewhere).
pub fn served_by(uses: &str) -> Option<&'static str> {
    match uses {
        "authorize-payment" | "capture-payment" => Some("payment"),
        "calculate-tax" | "commit-tax" => Some("tax"),
        _ => None,
    }
}

pub fn execute(cx: &mut StepCx<'_, '_>) -> StepOutcome {
    match cx.uses {
        uses if returns::handles(uses) => returns::execute(cx),
        uses if payments::handles(uses) => payments::execute(cx),
        uses if tax::handles(uses) => tax::execute(cx),
        "validate-order" => validate_order(cx),
        "hold" => hold(cx),
        "risk-score" => risk_score(cx),
        "manual-review" => manual_review(cx),
        "plan-fulfillment" => plan_fulfillment(cx),
        "reserve-inventory" => reserve_inventory(cx),
        "release-to-nodes" => release_to_nodes(cx),
        "wait-for-event" => wait_for_event(cx),
        "emit-event" => emit_event(cx),
        "call-provider" => call_provider(cx),
        "buy-label" => buy_label(cx),
        "set-attribute" => set_attribute(cx),
        "cancel-order" => cancel_order(cx),
        "resume-backorders" => resume_backorders(cx),
        "apply-policy" => apply_policy(cx),
        other => Err(StepFailure::permanent(format!(
            "step {other:?} is not in the catalogue"
        ))),
    }
}

// ---------------------------------------------------------------- order checks

fn validate_order(cx: &mut StepCx<'_, '_>) -> StepOutcome {
    let require_ship_to = cx
        .with
        .get("require_ship_to")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let order = cx.change_order(false, |order, now| {
        let mut problems = Vec::new();
        if order.status == OrderStatus::Cancelled {
            problems.push("the order is cancelled".to_owned());
        }
        if order.lines.iter().all(|l| l.active_quantity() == 0) {
            problems.push("the order has no quantity to fulfil".to_owned());
        }
        if require_ship_to && order.ship_to.is_none() {
            problems.push("the order has no ship-to address".to_owned());
        }
        for line in &order.lines {
            if line.sku.trim().is_empty() {
                problems.push(format!("line {} has no SKU", line.line_no));
            }
        }
        if !problems.is_empty() {
            return Err(StepFailure::permanent(problems.join("; ")));
        }
        // From here on the order is being orchestrated: `processing` rather than `received`.
        if order.processing {
            Ok(Vec::new())
        } else {
            Ok(order.start_processing(now)?)
        }
    })?;
    Ok(StepResult::Done(Some(
        json!({"status": order.status, "lines": order.lines.len()}),
    )))
}

fn hold(cx: &mut StepCx<'_, '_>) -> StepOutcome {
    let code = cx.arg_str("reason").unwrap_or("manual").to_owned();
    let wait = cx.with.get("wait").and_then(Value::as_bool).unwrap_or(true);
    if let Some(waiting) = cx.resume.clone() {
        let order = cx.load_order()?;
        if order.status == OrderStatus::Cancelled {
            return Err(StepFailure::permanent(
                "the order was cancelled while on hold",
            ));
        }
        if !order.holds.iter().any(|h| h.code == code) {
            return Ok(StepResult::Done(Some(json!({"released": true}))));
        }
        if waiting.deadline.is_some_and(|d| d <= cx.now) {
            return Ok(StepResult::TimedOut);
        }
        return Ok(StepResult::Wait(waiting));
    }
    let note = cx.arg_str("note").map(str::to_owned);
    let already = cx.load_order()?.holds.iter().any(|h| h.code == code);
    if !already {
        let code = code.clone();
        let action = OrderAction::Hold { code, note };
        cx.change_order(false, move |order, now| Ok(action.apply(order, now)?))?;
    }
    if !wait {
        return Ok(StepResult::Done(Some(json!({"hold": code}))));
    }
    let since_seq = rows::max_seq(cx.tx.conn())?;
    Ok(StepResult::Wait(Wait {
        step: cx.step.clone(),
        deadline: cx.deadline(),
        since_seq,
        kind: WaitKind::Hold { code },
    }))
}

/// Rules for now; a model can take their place behind the same step. Each rule adds to the score
/// (0–100), stored in the order attribute `risk_score`.
fn risk_score(cx: &mut StepCx<'_, '_>) -> StepOutcome {
    let fail_above = cx
        .with
        .get("fail_above")
        .and_then(Value::as_i64)
        .unwrap_or(80);
    let mut reasons = Vec::new();
    let order = cx.change_order(false, |order, now| {
        let mut score = 0i64;
        let mut add = |points: i64, reason: &str| {
            score += points;
            reasons.push(reason.to_owned());
        };
        if order.totals.total > rust_decimal::Decimal::from(1000) {
            add(30, "total above 1000");
        }
        if order.totals.total > rust_decimal::Decimal::from(5000) {
            add(30, "total above 5000");
        }
        if order
            .customer
            .as_ref()
            .and_then(|c| c.email.as_ref())
            .is_none()
        {
            add(20, "no customer e-mail");
        }
        match (&order.ship_to, &order.bill_to) {
            (None, _) => add(20, "no ship-to address"),
            (Some(s), Some(b)) if s.country != b.country => {
                add(25, "ship-to and bill-to in different countries")
            }
            _ => {}
        }
        if order.lines.iter().any(|l| l.quantity > 20) {
            add(15, "a line of more than 20 units");
        }
        let score = score.min(100);
        order.attributes.insert("risk_score".into(), json!(score));
        order.updated_at = now;
        order.version += 1;
        Ok(vec![EventDraft::new(
            "order.attributes_changed",
            order.id.to_string(),
            json!({"order_id": order.id, "attributes": {"risk_score": score}}),
        )])
    })?;
    let score = order.attributes["risk_score"].as_i64().unwrap_or_default();
    if score > fail_above {
        // The attribute stays only when the step succeeds; the failure carries the score.
        return Err(StepFailure::permanent(format!(
            "risk score {score} is above {fail_above}: {}",
            reasons.join(", ")
        )));
    }
    Ok(StepResult::Done(Some(
        json!({"score": score, "reasons": reasons}),
    )))
}

fn manual_review(cx: &mut StepCx<'_, '_>) -> StepOutcome {
    if let Some(waiting) = cx.resume.clone() {
        let WaitKind::Task { task_id } = &waiting.kind else {
            return Err(StepFailure::permanent("the review waits for no task"));
        };
        let task = rows::get_task(cx.tx.conn(), task_id)?
            .ok_or_else(|| StepFailure::permanent(format!("task {task_id} vanished")))?;
        return match (task.status, task.decision.as_deref()) {
            (TaskStatus::Completed, Some("approve" | "approved")) => Ok(StepResult::Done(Some(
                json!({"task": task.id, "decision": task.decision, "note": task.note}),
            ))),
            (TaskStatus::Completed, decision) => Err(StepFailure::permanent(format!(
                "review {} decided {}{}",
                task.id,
                decision.unwrap_or("reject"),
                task.note.map(|n| format!(": {n}")).unwrap_or_default()
            ))),
            _ if waiting.deadline.is_some_and(|d| d <= cx.now) => Ok(StepResult::TimedOut),
            _ => Ok(StepResult::Wait(waiting)),
        };
    }
    let queue = cx.arg_str("queue").unwrap_or("review").to_owned();
    let reason = cx.arg_str("reason").map(str::to_owned);
    let task = rows::open_task(
        cx.tx.conn(),
        &TaskRow {
            id: uuid::Uuid::now_v7().to_string(),
            run_id: cx.run.id.clone(),
            n: cx.n,
            step: cx.step.to_string(),
            order_id: cx.run.order_id.clone(),
            queue,
            reason,
            status: TaskStatus::Open,
            decision: None,
            note: None,
            created_at: cx.now,
            completed_at: None,
        },
    )?;
    cx.tx.emit(EventDraft::new(
        "task.created",
        cx.run
            .order_id
            .clone()
            .unwrap_or_else(|| cx.run.subject.clone()),
        json!({"task_id": task.id, "queue": task.queue, "reason": task.reason,
               "order_id": task.order_id, "run_id": task.run_id, "step": task.step}),
    ));
    Ok(StepResult::Wait(Wait {
        step: cx.step.clone(),
        deadline: cx.deadline(),
        since_seq: 0,
        kind: WaitKind::Task { task_id: task.id },
    }))
}

// ---------------------------------------------------------------- fulfilment

fn plan_fulfillment(cx: &mut StepCx<'_, '_>) -> StepOutcome {
    plan_fulfillment_with(cx, RatesAsked::No)
}

/// Whether a `plan-fulfillment` step priced by carrier rates has asked the carrier yet.
enum RatesAsked {
    No,
    /// Asked; the carrier's answer (`{"lanes"}`, or `{"error"}` when it was down).
    Answered(Value),
}

fn plan_fulfillment_with(cx: &mut StepCx<'_, '_>, asked: RatesAsked) -> StepOutcome {
    let profile_name = cx.arg_str("profile").unwrap_or("default").to_owned();
    let allow_partial = cx
        .with
        .get("allow_partial")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let order = cx.load_order()?;
    cx.state.plan_step = Some(cx.step.clone());
    let reservations = cx.order_reservations()?;
    let mut request = fulfillment::request_for(&order, &reservations, cx.now);
    if request.lines.is_empty() {
        cx.state.plan = Some(Vec::new());
        return Ok(StepResult::Done(Some(
            json!({"assignments": [], "note": "nothing left to plan"}),
        )));
    }
    if cx.cache.network.is_none() {
        cx.cache.network = Some(planning::network_in(cx.tx.conn()).map_err(setup)?);
    }
    if !cx.cache.profiles.contains_key(&profile_name) {
        let profile = planning::profile_in(cx.tx.conn(), &profile_name)
            .map_err(setup)?
            .ok_or_else(|| {
                StepFailure::permanent(format!("no fulfilment profile {profile_name:?}"))
            })?;
        cx.cache.profiles.insert(profile_name.clone(), profile);
    }
    fulfillment::locate::locate_request_in(cx.tx.conn(), &mut request)?;
    let network = cx.cache.network.as_ref().expect("loaded above");
    let profile = &cx.cache.profiles[&profile_name];
    let mut skus: Vec<String> = request.lines.iter().map(|l| l.sku.clone()).collect();
    skus.sort();
    skus.dedup();
    let writes = cx.tx.balance_writes();
    let balances = match cx.cache.order_balances(&skus, writes) {
        Some(balances) => balances,
        None => iom_store::inventory::balances_in(cx.tx.conn(), &skus, &[])?,
    };
    let availability = planning::availability_of(network, &balances);
    // Carrier rates: no call can leave from inside the pass's transaction, so lanes the cache
    // lacks are asked for outside it (`Call::CarrierRates`) and the step plans again when they
    // are in, from the cache.
    let carrier_priced = profile.rates == iom_sourcing::Rates::Carrier;
    if carrier_priced
        && matches!(asked, RatesAsked::No)
        && crate::shipping::rates::lanes_missing_in(cx.tx.conn(), network, &request)?
    {
        return Ok(StepResult::External(vec![Call::CarrierRates { request }]));
    }
    let quotes = if carrier_priced {
        crate::shipping::rates::cached_in(cx.tx.conn(), network, &request)?
    } else {
        Default::default()
    };
    let priced;
    let network = if quotes.is_empty() {
        network
    } else {
        priced = crate::shipping::rates::priced(network, &quotes);
        &priced
    };
    let mut plan = iom_sourcing::plan(&request, network, &availability, profile)
        .map_err(|e| StepFailure::permanent(e.to_string()))?;
    crate::shipping::rates::annotate(&mut plan, &quotes);
    if let RatesAsked::Answered(answer) = &asked
        && let Some(error) = answer["error"].as_str()
    {
        plan.notes.push(format!(
            "carrier rates unavailable ({error}); node cost models used"
        ));
    }
    let assigned = Assigned::all_of(&plan);
    let unassigned: Vec<Value> = plan
        .unassigned
        .iter()
        .map(|u| json!({"line_no": u.line_no, "quantity": u.quantity, "reason": u.reason}))
        .collect();
    // In words, for the person who reads the run: "line 1 (2 × SKU-1): no node has …".
    let why = plan
        .unassigned
        .iter()
        .map(|u| {
            format!(
                "line {} ({} × {}): {}",
                u.line_no,
                u.quantity,
                u.sku,
                u.reason.describe()
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    if assigned.is_empty() {
        return Err(StepFailure::permanent(format!(
            "nothing can be sourced: {why}"
        )));
    }
    if !unassigned.is_empty() && !allow_partial {
        return Err(StepFailure::permanent(format!(
            "not every line can be sourced: {why}"
        )));
    }
    let mut output = json!({"assignments": assigned.iter().map(|a| json!({
        "line_no": a.line_no, "sku": a.sku, "node": a.node, "quantity": a.quantity,
        "promised_delivery_at": a.promised_delivery_at})).collect::<Vec<_>>(),
        "unassigned": unassigned, "cost": plan.cost, "shipments": plan.shipments});
    if !plan.notes.is_empty() {
        output["notes"] = json!(plan.notes);
    }
    cx.state.plan = Some(assigned);
    Ok(StepResult::Done(Some(output)))
}

fn setup(e: planning::SetupError) -> StepFailure {
    match e {
        planning::SetupError::Store(e) => e.into(),
        other => StepFailure::permanent(other.to_string()),
    }
}

fn reserve_inventory(cx: &mut StepCx<'_, '_>) -> StepOutcome {
    let Some(plan) = cx.state.plan.clone() else {
        return Err(StepFailure::permanent(
            "nothing was planned: reserve-inventory needs a plan-fulfillment step before it",
        ));
    };
    if plan.is_empty() {
        return Ok(StepResult::Done(Some(json!({"reservations": []}))));
    }
    let order_id = cx.order_id()?;
    let expires_at = cx
        .arg_str("expires_in")
        .and_then(iom_flow::compiler::parse_duration_ms)
        .and_then(|ms| chrono::Duration::try_milliseconds(i64::try_from(ms).ok()?))
        .map(|d| cx.now + d);
    let commitment = Commitment {
        order_id,
        assignments: plan,
        unsourced: BTreeMap::new(),
        reference: cx.reference(),
        expires_at,
    };
    let requests = commitment.reservations();
    let made = reserve_with(cx.tx, &requests, &mut cx.cache.lookups).map_err(|e| match e {
        // Stock taken since planning: it may come back (a cancellation, a receipt), so retry.
        StoreError::Domain(DomainError::Conflict(m)) => StepFailure::transient(m),
        other => other.into(),
    })?;
    if let Some(cached) = &mut cx.cache.reservations {
        cached.extend(made.iter().cloned());
    }
    let lines = commitment.line_sourcing();
    cx.change_order(false, move |order, now| {
        Ok(order.apply_sourcing(&lines, now)?)
    })?;
    Ok(StepResult::Done(Some(
        json!({"reservations": made.iter().map(|r| json!({
        "id": r.id, "sku": r.sku, "node": r.node, "quantity": r.quantity, "line_no": r.line_no
    })).collect::<Vec<_>>()}),
    )))
}

/// One fulfilment request per node: the active reservations of the order say which lines ship
/// from where. A node run by a `webhook` instance gets it through that instance (outside the
/// transaction); a node run by another kind of instance (an `x12` one) gets the document its kind
/// writes (a 940) from the outbound documents consumer, which reacts to `order.released`; for a
/// node without a provider the request is the business event `fulfillment.requested`.
///
/// A line on hold of its own is left out while the others are released, and the step waits
/// ([`WaitKind::LineHolds`]) until its hold is released (then it is released as it would have
/// been), it is cancelled, or the order is.
fn release_to_nodes(cx: &mut StepCx<'_, '_>) -> StepOutcome {
    // After a wait, a release of the lines whose holds were released is another request to
    // the same node: it gets a key of its own.
    let part = match cx.resume.clone() {
        Some(waiting) => {
            let order = cx.load_order()?;
            if order.status == OrderStatus::Cancelled {
                return Ok(StepResult::Done(Some(json!({"cancelled": true}))));
            }
            // The whole order held meanwhile: nothing more goes out until that hold is lifted.
            if order.status == OrderStatus::OnHold {
                return Ok(StepResult::Wait(waiting));
            }
            let releasable = order
                .lines
                .iter()
                .any(|l| l.status == LineStatus::Allocated && l.hold.is_none());
            if !releasable {
                return match order.held_allocated_lines().is_empty() {
                    true => Ok(StepResult::Done(Some(json!({"held_lines": []})))),
                    false => Ok(StepResult::Wait(waiting)),
                };
            }
            Some(rows::max_seq(cx.tx.conn())?)
        }
        None => None,
    };
    let requests = release_requests(cx)?;
    let mut calls = Vec::new();
    for (node, provider, document) in &requests {
        if let Some((provider, kind)) = provider
            && kind == "webhook"
        {
            calls.push(Call::Release {
                provider: provider.clone(),
                node: node.clone(),
                document: document.clone(),
                part,
            });
        }
    }
    if calls.is_empty() {
        finish_release(cx, &requests)
    } else {
        Ok(StepResult::External(calls))
    }
}

/// A node, its provider instance with the instance's type when it has one, and the request.
type NodeRequest = (String, Option<(String, String)>, Value);

fn release_requests(cx: &mut StepCx<'_, '_>) -> Result<Vec<NodeRequest>, StepFailure> {
    let order = cx.load_order()?;
    if order.status == OrderStatus::OnHold {
        return Err(StepFailure::permanent("the order is on hold"));
    }
    let mut by_node: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut covered = std::collections::BTreeSet::new();
    for r in cx.order_reservations()? {
        let Some(line_no) = r.line_no.and_then(|n| u32::try_from(n).ok()) else {
            continue;
        };
        if order
            .line(line_no)
            .is_none_or(|l| l.status != LineStatus::Allocated || l.hold.is_some())
        {
            continue;
        }
        covered.insert(line_no);
        by_node.entry(r.node.clone()).or_default().push(
            json!({"line_no": line_no, "sku": r.sku, "quantity": r.quantity, "reservation_id": r.id}),
        );
    }
    for line in &order.lines {
        if line.status == LineStatus::Allocated
            && line.hold.is_none()
            && !covered.contains(&line.line_no)
            && let Some(node) = &line.node
        {
            by_node.entry(node.clone()).or_default().push(
                json!({"line_no": line.line_no, "sku": line.sku, "quantity": line.open_quantity()}),
            );
        }
    }
    let reference = cx.reference();
    let mut out = Vec::new();
    for (node, lines) in by_node {
        let provider = match cx.cache.providers.get(&node) {
            Some(known) => known.clone(),
            None => {
                let provider = node_provider(cx.tx.conn(), &node)?;
                cx.cache.providers.insert(node.clone(), provider.clone());
                provider
            }
        };
        let document = json!({
            "order_id": order.id, "channel": order.channel, "external_id": order.external_id,
            "node": node, "reference": reference, "ship_to": order.ship_to,
            "ship_method": order.ship_method, "lines": lines,
        });
        out.push((node, provider, document));
    }
    Ok(out)
}

/// The node's provider instance and the instance's type, if the node has one.
fn node_provider(
    conn: &mut dyn iom_store::Conn,
    node: &str,
) -> Result<Option<(String, String)>, StoreError> {
    let provider = iom_store::nodes::node_doc_in(conn, node)?
        .and_then(|doc| {
            doc.get("provider")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .filter(|p| !p.is_empty());
    Ok(match provider {
        Some(name) => {
            let kind = iom_store::providers::provider_type_in(conn, &name)?.unwrap_or_default();
            Some((name, kind))
        }
        None => None,
    })
}

fn finish_release(cx: &mut StepCx<'_, '_>, requests: &[NodeRequest]) -> StepOutcome {
    let order_id = cx.order_id()?.to_string();
    let mut released = Vec::new();
    for (node, provider, document) in requests {
        if provider.is_none() {
            cx.tx.emit(EventDraft::new(
                "fulfillment.requested",
                order_id.clone(),
                document.clone(),
            ));
        }
        released.push(json!({"node": node, "provider": provider.as_ref().map(|(name, _)| name)}));
    }
    let order = cx.change_order(false, |order, now| Ok(order.release_allocated_lines(now)?))?;
    let held = order.held_allocated_lines();
    if !held.is_empty() {
        return Ok(StepResult::Wait(Wait {
            step: cx.step.clone(),
            deadline: None,
            since_seq: rows::max_seq(cx.tx.conn())?,
            kind: WaitKind::LineHolds,
        }));
    }
    Ok(StepResult::Done(Some(json!({"nodes": released}))))
}

/// Finishes a step whose calls to other systems succeeded.
pub fn after_external(cx: &mut StepCx<'_, '_>, results: Vec<Value>) -> StepOutcome {
    match cx.uses {
        "release-to-nodes" => {
            let requests = release_requests(cx)?;
            finish_release(cx, &requests)
        }
        "create-return-label" | "refund" => returns::after_external(cx, results),
        "plan-fulfillment" => plan_fulfillment_with(
            cx,
            RatesAsked::Answered(results.into_iter().next().unwrap_or_default()),
        ),
        uses if payments::handles(uses) => payments::after_external(cx, results),
        uses if tax::handles(uses) => tax::after_external(results),
        "buy-label" => Ok(StepResult::Done(Some(
            json!({"labels": results.into_iter().next().unwrap_or_default()}),
        ))),
        _ => Ok(StepResult::Done(Some(json!({"responses": results})))),
    }
}

// ---------------------------------------------------------------- events and attributes

fn wait_for_event(cx: &mut StepCx<'_, '_>) -> StepOutcome {
    let waiting = match cx.resume.clone() {
        Some(w) => w,
        None => {
            let pattern = cx.arg_str("event").unwrap_or("*").to_owned();
            let matches = cx.arg_str("match").map(str::to_owned);
            // A return run waits for what happens to its return since it was authorised: the
            // receipt may well commit before the run gets to its wait.
            let since_seq = if is_return_run(cx) {
                cx.run.trigger_seq
            } else {
                rows::max_seq(cx.tx.conn())?
            };
            Wait {
                step: cx.step.clone(),
                deadline: cx.deadline(),
                since_seq,
                kind: WaitKind::Event { pattern, matches },
            }
        }
    };
    let WaitKind::Event { pattern, matches } = &waiting.kind else {
        return Err(StepFailure::permanent("the step waits for no event"));
    };
    let order = if cx.run.order_id.is_some() {
        Some(cx.load_order()?)
    } else {
        None
    };
    // A return's events have its order as subject (they belong to the order's timeline) and
    // name the return in `return_id`, the subject of a return run.
    let (subject, return_id) = match (is_return_run(cx), &cx.run.order_id) {
        (true, Some(order_id)) => (order_id.clone(), Some(cx.run.subject.as_str())),
        _ => (cx.run.subject.clone(), None),
    };
    for event in rows::subject_events_after(cx.tx.conn(), &subject, waiting.since_seq)? {
        if !iom_domain::event::type_matches(pattern, &event.kind) {
            continue;
        }
        if return_id.is_some() && event.data.get("return_id").and_then(Value::as_str) != return_id {
            continue;
        }
        let input = EventInput {
            kind: event.kind.clone(),
            subject: event.subject.clone(),
            at: event.at,
            data: event.data.clone(),
        };
        let matched = match matches {
            None => true,
            Some(expr) => Expression::new(expr.clone())
                .evaluate_bool(&Input {
                    order: order.as_ref(),
                    event: Some(&input),
                    line: None,
                })
                .map_err(|e| StepFailure::permanent(e.to_string()))?,
        };
        if matched {
            return Ok(StepResult::Done(Some(
                json!({"event": {"seq": event.seq, "type": event.kind}}),
            )));
        }
    }
    if waiting.deadline.is_some_and(|d| d <= cx.now) {
        return Ok(StepResult::TimedOut);
    }
    Ok(StepResult::Wait(waiting))
}

fn is_return_run(cx: &StepCx<'_, '_>) -> bool {
    cx.run.flow_type == iom_flow::FlowType::Return.as_str()
}

fn emit_event(cx: &mut StepCx<'_, '_>) -> StepOutcome {
    let kind = cx.arg_str("type").unwrap_or_default().to_owned();
    let mut data = match cx.with.get("data") {
        Some(Value::Object(map)) => Value::Object(map.clone()),
        _ => json!({}),
    };
    data["run_id"] = json!(cx.run.id);
    if let Some(order_id) = &cx.run.order_id {
        data["order_id"] = json!(order_id);
    }
    if is_return_run(cx) {
        data["return_id"] = json!(cx.run.subject);
    }
    let subject = cx
        .run
        .order_id
        .clone()
        .unwrap_or_else(|| cx.run.subject.clone());
    cx.tx.emit(EventDraft::new(kind.clone(), subject, data));
    Ok(StepResult::Done(Some(json!({"type": kind}))))
}

fn call_provider(cx: &mut StepCx<'_, '_>) -> StepOutcome {
    let provider = cx.arg_str("provider").unwrap_or_default().to_owned();
    let action = cx.arg_str("action").unwrap_or_default().to_owned();
    let mut payload = cx.with.get("payload").cloned().unwrap_or_else(|| json!({}));
    if let (Some(order_id), Value::Object(map)) = (&cx.run.order_id, &mut payload) {
        map.entry("order_id").or_insert_with(|| json!(order_id));
    }
    Ok(StepResult::External(vec![Call::Action {
        provider,
        action,
        payload,
    }]))
}

/// Labels are bought outside the transaction (`shipping::buy_released`, which records each as
/// a shipment in a transaction of its own, once per purchase however often it is called).
fn buy_label(cx: &mut StepCx<'_, '_>) -> StepOutcome {
    let order_id = cx.order_id()?.to_string();
    let provider = cx.arg_str("provider").map(str::to_owned);
    Ok(StepResult::External(vec![Call::BuyLabel {
        provider,
        order_id,
    }]))
}

fn set_attribute(cx: &mut StepCx<'_, '_>) -> StepOutcome {
    let name = cx.arg_str("name").unwrap_or_default().to_owned();
    let expr = cx.arg_str("expr").map(str::to_owned);
    let value = match (cx.with.get("value").cloned(), expr) {
        (_, Some(expr)) => {
            let order = cx.load_order()?;
            let trigger = cx.trigger().clone();
            let value = Expression::new(expr)
                .evaluate(&Input::order(&order).with_event(&trigger))
                .map_err(|e| StepFailure::permanent(e.to_string()))?;
            iom_flow::expr::to_json(&value)
        }
        (Some(v), None) => v,
        (None, None) => return Err(StepFailure::permanent("set-attribute needs value or expr")),
    };
    let stored = value.clone();
    let key = name.clone();
    cx.change_order(false, move |order, now| {
        order.attributes.insert(key.clone(), stored.clone());
        order.updated_at = now;
        order.version += 1;
        Ok(vec![EventDraft::new(
            "order.attributes_changed",
            order.id.to_string(),
            json!({"order_id": order.id, "attributes": {key: stored}}),
        )])
    })?;
    Ok(StepResult::Done(Some(
        json!({"name": name, "value": value}),
    )))
}

/// Runs an execution policy at the version the run pinned (or the step's `version`): checks,
/// then set-value actions written into the order with one `order.policy_applied` event. A critical
/// check that fails fails the step with the checks' messages and changes nothing; failed `info`
/// checks are only reported. The output names the version used.
fn apply_policy(cx: &mut StepCx<'_, '_>) -> StepOutcome {
    let name = cx.arg_str("policy").unwrap_or_default().to_owned();
    let version = cx
        .with
        .get("version")
        .and_then(Value::as_i64)
        .or_else(|| cx.state.policies.get(&name).copied());
    let policy = cx
        .cache
        .policies
        .get(cx.tx.conn(), &name, version)?
        .ok_or_else(|| {
            StepFailure::permanent(match version {
                Some(v) => format!("policy {name:?} has no version {v}"),
                None => format!("no policy {name:?} is stored"),
            })
        })?;
    if policy.kind() != iom_flow::PolicyKind::Execution {
        return Err(StepFailure::permanent(format!(
            "policy {name:?} is {}; apply-policy runs an execution policy",
            policy.kind().describe()
        )));
    }
    let label = format!("policy {name} version {}", policy.version);
    let order = cx.load_order()?;
    let outcome = policy
        .evaluate(&order)
        .map_err(|e| StepFailure::permanent(format!("{label}: {e}")))?;
    if !outcome.passed() {
        let failed: Vec<String> = outcome
            .failed_checks()
            .filter(|c| c.criticality == iom_flow::Criticality::Critical)
            .map(|c| match &c.message {
                Some(m) => format!("{}: {m}", c.name),
                None => c.name.clone(),
            })
            .collect();
        return Err(StepFailure::permanent(format!(
            "{label}: critical check failed: {}",
            failed.join("; ")
        )));
    }
    let mut changed = false;
    if !outcome.actions.is_empty() {
        let (event_label, version) = (name.clone(), policy.version);
        let actions = outcome.actions.clone();
        cx.change_order(false, |order, now| {
            let before = order.clone();
            outcome
                .apply_to(order)
                .map_err(|e| StepFailure::permanent(format!("{label}: {e}")))?;
            // Applied again (a retried run) the same values change nothing and announce nothing.
            if *order == before {
                return Ok(Vec::new());
            }
            changed = true;
            order.updated_at = now;
            order.version += 1;
            Ok(vec![EventDraft::new(
                "order.policy_applied",
                order.id.to_string(),
                json!({"order_id": order.id, "policy": event_label, "version": version,
                       "set": actions}),
            )])
        })?;
    }
    Ok(StepResult::Done(Some(json!({
        "policy": name,
        "version": policy.version,
        "applies": outcome.applies,
        "checks": outcome.checks,
        "actions": outcome.actions,
        "changed": changed,
    }))))
}

fn cancel_order(cx: &mut StepCx<'_, '_>) -> StepOutcome {
    let reason = cx.arg_str("reason").unwrap_or("flow").to_owned();
    let order = cx.change_order(true, |order, now| {
        if order.status == OrderStatus::Cancelled {
            return Ok(Vec::new());
        }
        Ok(OrderAction::Cancel { reason }.apply(order, now)?)
    })?;
    Ok(StepResult::Done(Some(json!({"status": order.status}))))
}

/// Inventory flows: backordered orders with a line of the event's SKU go back to where they were
/// backordered, oldest first.
fn resume_backorders(cx: &mut StepCx<'_, '_>) -> StepOutcome {
    let limit = cx.with.get("limit").and_then(Value::as_u64).unwrap_or(100) as usize;
    let sku = cx
        .trigger()
        .data
        .get("sku")
        .and_then(Value::as_str)
        .map_or_else(|| cx.run.subject.clone(), str::to_owned);
    let mut resumed = Vec::new();
    for order_id in rows::backordered_orders_with_sku(cx.tx.conn(), &sku, limit)? {
        if resume_backordered(cx.tx, &order_id, cx.now)? {
            resumed.push(order_id);
        }
    }
    Ok(StepResult::Done(Some(
        json!({"sku": sku, "resumed": resumed}),
    )))
}

/// Sends a backordered order's run back to where it was backordered; `false` when it has none.
fn resume_backordered(
    tx: &mut Tx<'_>,
    order_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let Some(mut run) = rows::backordered_run(tx.conn(), order_id)? else {
        return Ok(false);
    };
    run.status = RunStatus::Runnable;
    run.wake_at = Some(now);
    run.finished_at = None;
    run.updated_at = now;
    rows::save_run(tx.conn(), &run)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use iom_store::inventory::Balance;

    use super::*;

    fn balance(sku: &str, node: &str) -> Balance {
        Balance {
            sku: sku.into(),
            node: node.into(),
            on_hand: 5,
            reserved: 0,
            allocated: 0,
            safety_stock: 0,
            available: 5,
            node_kind: None,
        }
    }

    #[test]
    fn balances_read_with_the_order_serve_planning_only_while_nothing_wrote_balances() {
        let mut cache = PassCache::new(false);
        cache.balances = Some(OrderBalances {
            writes: 3,
            skus: ["A".to_owned(), "B".to_owned()].into(),
            rows: vec![balance("A", "N1"), balance("A", "N2"), balance("B", "N1")],
        });
        let a = cache.order_balances(&["A".to_owned()], 3).expect("fresh");
        assert_eq!(
            a.iter()
                .map(|b| (b.sku.as_str(), b.node.as_str()))
                .collect::<Vec<_>>(),
            [("A", "N1"), ("A", "N2")]
        );
        assert!(
            cache.order_balances(&["A".to_owned()], 4).is_none(),
            "a balance was written since"
        );
        assert!(
            cache.order_balances(&["C".to_owned()], 3).is_none(),
            "a SKU the order did not have when read"
        );
        cache.forget_order();
        assert!(cache.order_balances(&["A".to_owned()], 3).is_none());
    }
}
