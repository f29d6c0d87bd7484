//! The executable plan: what the compiler produces and an executor drives.
//!
//! A plan is plain data (JSON through serde), so a published version is stored as it is and a run
//! keeps the version it began with. Every edge is explicit; the executor never has to look at the
//! definition again. It asks [`ExecutablePlan::start`] where to begin, runs what it is told, and
//! reports each result to [`ExecutablePlan::next`].

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::catalog::FlowType;
use crate::error::EvalError;
use crate::expr::Expression;

/// A step's id, unique in its flow.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StepId(pub String);

impl StepId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for StepId {
    fn from(s: &str) -> Self {
        StepId(s.to_owned())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutablePlan {
    pub name: String,
    #[serde(rename = "type")]
    pub flow_type: FlowType,
    /// Business event types (or patterns such as `inventory.*`) that start a run.
    pub triggers: Vec<String>,
    /// Which subjects the flow applies to.
    pub when: Option<Expression>,
    /// Filter policies the subject must pass as well.
    #[serde(default)]
    pub filters: Vec<String>,
    pub priority: i64,
    pub start: Target,
    /// In document order.
    pub nodes: Vec<PlanNode>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanNode {
    pub id: StepId,
    #[serde(flatten)]
    pub kind: NodeKind,
    /// When false, the node is skipped (outcome [`Outcome::Skipped`]).
    pub when: Option<Expression>,
    /// Filter policies that must pass, or the node is skipped.
    #[serde(default)]
    pub filters: Vec<String>,
    /// Where the run goes after this node.
    pub next: Target,
    /// The innermost parallel node this node runs in, if any.
    pub parallel: Option<StepId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "node", rename_all = "snake_case")]
pub enum NodeKind {
    /// A step of the catalogue.
    Step {
        uses: String,
        /// Validated arguments with defaults filled in.
        with: serde_json::Value,
        retry: RetryPolicy,
        timeout_ms: Option<u64>,
        on_failure: FailureAction,
        /// What a timeout leads to; `on_failure` when absent.
        on_timeout: Option<FailureAction>,
        /// The step ends the run when it succeeds (`cancel-order`).
        terminal: bool,
        /// The step waits for something outside the run.
        waits: bool,
    },
    /// Two paths: the executor evaluates `condition` and reports [`Outcome::Condition`].
    Branch {
        condition: Expression,
        then: Target,
        #[serde(rename = "else")]
        otherwise: Target,
    },
    /// Branches that run at the same time and join before `next`.
    Parallel { branches: Vec<ParallelBranch> },
    /// Jumps to another step.
    Goto { target: StepId },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParallelBranch {
    pub name: String,
    pub start: Target,
}

/// Where an edge leads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Step(StepId),
    /// The end of a branch of this parallel node.
    Join(StepId),
    /// The end of the flow.
    End,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureAction {
    /// End the run as failed.
    Fail,
    /// Go on with the next step as if this one had succeeded.
    Continue,
    Goto(StepId),
    /// Hold the order with this reason and end the run.
    Hold(String),
    /// Cancel the order with this reason and end the run.
    Cancel(String),
    /// Mark the order backordered and end the run; an inventory flow resumes it at this step.
    Backorder,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backoff {
    Fixed,
    Exponential,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 means no retry.
    pub max_attempts: u32,
    pub backoff: Backoff,
    pub initial_ms: u64,
    pub max_ms: u64,
}

impl RetryPolicy {
    pub const DEFAULT_INITIAL_MS: u64 = 1_000;
    pub const DEFAULT_MAX_MS: u64 = 300_000;

    pub fn attempts(max_attempts: u32) -> Self {
        Self {
            max_attempts,
            backoff: Backoff::Exponential,
            initial_ms: Self::DEFAULT_INITIAL_MS,
            max_ms: Self::DEFAULT_MAX_MS,
        }
    }

    /// How long to wait after failed attempt `attempt` (1-based) before the next one, or `None`
    /// when attempts are exhausted and the failure stands.
    pub fn delay_after(&self, attempt: u32) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let ms = match self.backoff {
            Backoff::Fixed => self.initial_ms,
            Backoff::Exponential => self
                .initial_ms
                .saturating_mul(1u64.checked_shl(attempt - 1).unwrap_or(u64::MAX)),
        };
        Some(Duration::from_millis(ms.min(self.max_ms)))
    }
}

/// What happened to the node the executor ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    /// Failed for good: retries, if any, are exhausted.
    Failed,
    /// The step's `timeout` passed (a wait that saw no event, a review nobody decided).
    TimedOut,
    /// The node's `when` (or filter) was false.
    Skipped,
    /// The value of a branch's condition.
    Condition(bool),
}

/// What the executor does next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Next {
    /// Run this node: a step (evaluate its `when` first), or a branch (evaluate its condition).
    Run(StepId),
    /// Start every branch; each is driven on its own until it reaches [`Next::Join`].
    Fork {
        parallel: StepId,
        branches: Vec<Next>,
    },
    /// A branch of `parallel` is done. When all are, report `next(parallel, Succeeded)`.
    Join {
        parallel: StepId,
    },
    End(Ending),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "ending")]
pub enum Ending {
    Completed,
    Failed { step: StepId },
    Held { step: StepId, reason: String },
    Cancelled { step: StepId, reason: String },
    Backordered { step: StepId },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NavigationError {
    #[error("the plan has no step `{0}`")]
    UnknownStep(StepId),
    #[error("outcome {outcome:?} does not apply to step `{step}`")]
    Outcome { step: StepId, outcome: Outcome },
}

impl ExecutablePlan {
    pub fn node(&self, id: &StepId) -> Option<&PlanNode> {
        self.nodes.iter().find(|n| &n.id == id)
    }

    /// Whether any step of the flow runs the step type `uses`.
    pub fn uses(&self, uses: &str) -> bool {
        self.nodes
            .iter()
            .any(|n| matches!(&n.kind, NodeKind::Step { uses: u, .. } if u == uses))
    }

    /// Where a new run begins.
    pub fn start(&self) -> Next {
        self.resolve(&self.start)
    }

    /// Where the run goes after `after` had `outcome`.
    pub fn next(&self, after: &StepId, outcome: Outcome) -> Result<Next, NavigationError> {
        let node = self
            .node(after)
            .ok_or_else(|| NavigationError::UnknownStep(after.clone()))?;
        let wrong = || NavigationError::Outcome {
            step: after.clone(),
            outcome,
        };
        Ok(match (&node.kind, outcome) {
            (_, Outcome::Skipped) => self.resolve(&node.next),
            (
                NodeKind::Step {
                    terminal: true,
                    with,
                    ..
                },
                Outcome::Succeeded,
            ) => Next::End(Ending::Cancelled {
                step: after.clone(),
                reason: with
                    .get("reason")
                    .and_then(|r| r.as_str())
                    .unwrap_or("flow")
                    .to_owned(),
            }),
            (NodeKind::Step { .. }, Outcome::Succeeded) => self.resolve(&node.next),
            (NodeKind::Step { on_failure, .. }, Outcome::Failed) => {
                self.apply(after, node, on_failure)
            }
            (
                NodeKind::Step {
                    on_failure,
                    on_timeout,
                    ..
                },
                Outcome::TimedOut,
            ) => self.apply(after, node, on_timeout.as_ref().unwrap_or(on_failure)),
            (
                NodeKind::Branch {
                    then, otherwise, ..
                },
                Outcome::Condition(value),
            ) => self.resolve(if value { then } else { otherwise }),
            (NodeKind::Parallel { .. }, Outcome::Succeeded) => self.resolve(&node.next),
            (NodeKind::Goto { target }, Outcome::Succeeded) => {
                self.resolve(&Target::Step(target.clone()))
            }
            _ => return Err(wrong()),
        })
    }

    fn apply(&self, step: &StepId, node: &PlanNode, action: &FailureAction) -> Next {
        let step = step.clone();
        match action {
            FailureAction::Fail => Next::End(Ending::Failed { step }),
            FailureAction::Continue => self.resolve(&node.next),
            FailureAction::Goto(target) => self.resolve(&Target::Step(target.clone())),
            FailureAction::Hold(reason) => Next::End(Ending::Held {
                step,
                reason: reason.clone(),
            }),
            FailureAction::Cancel(reason) => Next::End(Ending::Cancelled {
                step,
                reason: reason.clone(),
            }),
            FailureAction::Backorder => Next::End(Ending::Backordered { step }),
        }
    }

    /// Turns an edge into an instruction: entering a parallel node forks at once.
    fn resolve(&self, target: &Target) -> Next {
        match target {
            Target::End => Next::End(Ending::Completed),
            Target::Join(parallel) => Next::Join {
                parallel: parallel.clone(),
            },
            Target::Step(id) => match self.node(id).map(|n| &n.kind) {
                Some(NodeKind::Parallel { branches }) => Next::Fork {
                    parallel: id.clone(),
                    branches: branches.iter().map(|b| self.resolve(&b.start)).collect(),
                },
                _ => Next::Run(id.clone()),
            },
        }
    }

    /// Parses every expression of the plan: a stored plan that no longer compiles is refused
    /// when it is loaded rather than in the middle of a run.
    pub fn load(json: &str) -> Result<Self, PlanLoadError> {
        let plan: ExecutablePlan = serde_json::from_str(json).map_err(PlanLoadError::Json)?;
        if let Some(when) = &plan.when {
            when.compile().map_err(PlanLoadError::Expression)?;
        }
        for node in &plan.nodes {
            if let Some(when) = &node.when {
                when.compile().map_err(PlanLoadError::Expression)?;
            }
            if let NodeKind::Branch { condition, .. } = &node.kind {
                condition.compile().map_err(PlanLoadError::Expression)?;
            }
        }
        Ok(plan)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanLoadError {
    #[error("the stored plan is not valid JSON of a plan: {0}")]
    Json(serde_json::Error),
    #[error(transparent)]
    Expression(EvalError),
}
