//! A run's position, stored as JSON with the run: what is left to drive, the step in progress,
//! and what earlier steps handed on (the fulfilment plan).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use iom_flow::expr::EventInput;

use crate::fulfillment::Assigned;
use iom_flow::plan::{Next, StepId};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunState {
    /// Positions still to drive, the current one first. A parallel block puts its branches here
    /// one after another: they run in turn, each up to the join.
    pub pending: Vec<Next>,
    /// How many branches of each open parallel block have reached its join.
    #[serde(default)]
    pub joined: BTreeMap<String, usize>,
    /// Step executions so far: the next one is `n + 1`.
    #[serde(default)]
    pub n: i64,
    /// The step execution in progress (retried, waiting or calling out).
    #[serde(default)]
    pub current: Option<Current>,
    /// The event that started the run.
    pub trigger: EventInput,
    /// What `plan-fulfillment` chose, for `reserve-inventory`.
    #[serde(default)]
    pub plan: Option<Vec<Assigned>>,
    /// The last `plan-fulfillment` step, where a resumed backorder starts over.
    #[serde(default)]
    pub plan_step: Option<StepId>,
    #[serde(default)]
    pub wait: Option<Wait>,
    #[serde(default)]
    pub external: Option<External>,
    #[serde(default)]
    pub last_error: Option<String>,
    /// The version of each policy the flow names, as it was when the run started: the run keeps
    /// these, and a newer version applies to runs that start after it.
    #[serde(default)]
    pub policies: BTreeMap<String, i64>,
}

impl RunState {
    pub fn new(start: Next, trigger: EventInput) -> Self {
        RunState {
            pending: vec![start],
            joined: BTreeMap::new(),
            n: 0,
            current: None,
            trigger,
            plan: None,
            plan_step: None,
            wait: None,
            external: None,
            last_error: None,
            policies: BTreeMap::new(),
        }
    }

    /// The step the run is at, if it is at one.
    pub fn current_step(&self) -> Option<&StepId> {
        match self.pending.first() {
            Some(Next::Run(step)) => Some(step),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Current {
    pub step: StepId,
    pub n: i64,
    pub attempt: u32,
    pub started_at: DateTime<Utc>,
}

/// What a waiting step waits for, checked again whenever the run is woken (by a matching event,
/// a completed task, the deadline, or the periodic re-check that makes a missed wake harmless).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Wait {
    pub step: StepId,
    pub deadline: Option<DateTime<Utc>>,
    /// Only events after this sequence number count.
    pub since_seq: i64,
    pub kind: WaitKind,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "for")]
pub enum WaitKind {
    Event {
        pattern: String,
        matches: Option<String>,
    },
    Hold {
        code: String,
    },
    Task {
        task_id: String,
    },
    /// Lines held on their own (`Order::hold_line`) that the release step releases once
    /// their holds are released.
    LineHolds,
}

impl WaitKind {
    /// The event pattern that wakes the run early, if any.
    pub fn wake_pattern(&self) -> Option<String> {
        match self {
            WaitKind::Event { pattern, .. } => Some(pattern.clone()),
            WaitKind::Hold { .. } => Some("order.hold_released,order.cancelled".into()),
            WaitKind::Task { .. } => None,
            WaitKind::LineHolds => Some(
                "order.line_hold_released,order.hold_released,order.line_cancelled,order.cancelled,order.amended"
                    .into(),
            ),
        }
    }
}

/// Calls to other systems a step is making: done outside any transaction, under a lease.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct External {
    pub step: StepId,
    pub n: i64,
    pub attempt: u32,
    pub calls: Vec<Call>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "call")]
pub enum Call {
    /// A fulfilment request to a node through its provider.
    Release {
        provider: String,
        node: String,
        document: Value,
        /// Set on a release made after the step waited for held lines: the same step
        /// execution releases again, so the receiver needs another key for it (the key
        /// gets `:part`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        part: Option<i64>,
    },
    /// An outbound action of a provider instance.
    Action {
        provider: String,
        action: String,
        payload: Value,
    },
    /// Labels for the order's released lines from a carrier instance (the only one when
    /// `provider` is absent): `shipping::buy_released`.
    BuyLabel {
        provider: Option<String>,
        order_id: String,
    },
    /// Rates of the only carrier instance for the lanes of a plan request that the cache lacks
    /// (`shipping::rates::quotes`); the plan is made when they are in.
    CarrierRates { request: iom_sourcing::PlanRequest },
    /// Money through the order's payment instance (`payments`): `authorize`, or `settle`
    /// (capture what shipped, let go of what is left).
    Payment { op: String, order_id: String },
    /// The order's tax document at its tax instance (`tax`): `calculate` or `settle`.
    Tax { op: String, order_id: String },
}

impl Call {
    pub fn provider(&self) -> &str {
        match self {
            Call::Release { provider, .. } | Call::Action { provider, .. } => provider,
            Call::BuyLabel { provider, .. } => provider.as_deref().unwrap_or("carrier"),
            Call::CarrierRates { .. } => "carrier",
            Call::Payment { .. } => "payment",
            Call::Tax { .. } => "tax",
        }
    }
}
