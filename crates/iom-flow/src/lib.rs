//! Orchestration definitions for iom: flows, policies, the step catalogue, and the compiler that
//! turns a definition into a checked [`ExecutablePlan`]. The compiler does no I/O: text in, a plan
//! (or every error with its line and column) out. The durable executor that runs published plans
//! (`iom_app::flow`) drives them through [`ExecutablePlan::start`] and [`ExecutablePlan::next`].
//!
//! # Flow definitions
//!
//! A flow is YAML or JSON. A full example, with every construct:
//!
//! ```yaml
//! name: web-orders                  # unique name of the flow
//! description: Orders from the web shop
//! type: order                       # order | inventory | return
//! trigger: order.received           # an event type, a pattern (order.*) or a list of them
//! when: order.channel == "web"      # optional CEL: which orders the flow applies to
//! filter: [not-test-orders]         # optional filter policies the order must pass too
//! priority: 10                      # of several matching flows the highest runs (default 0)
//! steps:
//!   - id: validate                  # unique in the flow: letters, digits, - and _
//!     uses: validate-order          # a step of the catalogue
//!     on_failure: hold validation_failed
//!
//!   - id: big-order                 # a condition with two paths; both continue below
//!     if: order.totals.total > 1000.0
//!     then:
//!       - id: review
//!         uses: manual-review
//!         with: {queue: fraud, reason: large order}
//!         timeout: 2d
//!         on_timeout: cancel review_expired
//!         on_failure: cancel rejected
//!     else:
//!       - id: score
//!         uses: risk-score
//!         with: {fail_above: 90}
//!         on_failure: hold review
//!
//!   - id: prepare                   # branches that run at the same time and join
//!     parallel:
//!       plan:
//!         - id: plan
//!           uses: plan-fulfillment
//!           with: {profile: cheapest}
//!           on_failure: backorder
//!       notify:
//!         - id: tell-crm
//!           uses: call-provider
//!           with: {provider: crm, action: order-accepted}
//!           retry: {max_attempts: 5, backoff: exponential, initial: 2s, max: 1m}
//!           on_failure: continue
//!
//!   - id: reserve
//!     uses: reserve-inventory
//!     with: {expires_in: 1h}
//!     on_failure: goto wait-for-stock
//!
//!   - id: release
//!     uses: release-to-nodes
//!
//!   - id: done
//!     goto: finish
//!
//!   - id: wait-for-stock            # waits for an event, gives up after a timeout
//!     uses: wait-for-event
//!     with:
//!       event: inventory.changed
//!       match: event.data.quantity > 0
//!     timeout: 7d
//!     on_timeout: backorder
//!
//!   - id: retry-reserve
//!     goto: reserve                 # a loop is fine: it passes a waiting step
//!
//!   - id: finish
//!     uses: emit-event
//!     when: order.attributes.notify == true
//!     with: {type: order.accepted}
//! ```
//!
//! A step is one of:
//!
//! - **an action**: `uses` (a [`catalog::CATALOG`] step), `with` (its arguments, checked against
//!   the step's schema, defaults filled in), `retry` (`max_attempts`, `backoff` fixed or
//!   exponential, `initial`, `max`; or just a number of attempts), `timeout` (`30s`, `5m`, `2h`,
//!   `7d`, `1h30m`), `on_failure` and `on_timeout`: `fail` (the default), `continue`,
//!   `goto STEP`, `hold [REASON]`, `cancel [REASON]` or `backorder`;
//! - **a condition**: `if` (CEL) with `then` and optionally `else` step lists; both continue with
//!   the step after the condition;
//! - **a parallel block**: `parallel`, a mapping of branch names to step lists; the block is done
//!   when every branch is, and a `goto` cannot leave or enter a branch;
//! - **a jump**: `goto STEP`.
//!
//! Every step may have `when` (CEL; when false the step is skipped) and `filter` (names of
//! filter policies, one or a list; the step is skipped unless each accepts the order). A flow's
//! `filter` works beside its `when` in choosing the flow for an order. See [`policy`].
//! Expressions see `order` and the triggering `event` (inventory flows: only `event`); see
//! [`expr`] for the schema they are checked against.
//!
//! The compiler reports, all at once and each at its line and column: malformed YAML or JSON,
//! unknown keys, unknown steps, bad arguments, CEL syntax and type errors, duplicate ids, unknown
//! or misplaced `goto` targets, steps that can never run, and loops with no waiting step.
//!
//! ```
//! let plan = iom_flow::compile(iom_flow::DEFAULT_ORDER_FLOW).unwrap();
//! assert_eq!(plan.name, "default-order");
//! let errors = iom_flow::compile("name: x\ntype: order\ntrigger: order.received\nsteps:\n  - id: a\n    uses: nope\n")
//!     .unwrap_err();
//! assert_eq!((errors.0[0].line, errors.0[0].column), (6, 11));
//! ```
//!
//! # Policies
//!
//! See [`policy`]: named, versioned filter and execution policies, reused across flows.

pub mod catalog;
pub mod compiler;
pub mod error;
pub mod expr;
pub mod graph;
pub mod plan;
pub mod policy;
pub mod source;

pub use catalog::{CATALOG, FlowType, StepSpec};
pub use compiler::{Compiler, compile};
pub use error::{CompileError, CompileErrors, EvalError};
pub use expr::{EventInput, Expression, Input};
pub use plan::{
    Backoff, Ending, ExecutablePlan, FailureAction, NavigationError, Next, NodeKind, Outcome,
    PlanNode, RetryPolicy, StepId, Target,
};
pub use policy::{Criticality, Policy, PolicyKind, PolicyOutcome, PolicySet, SetTarget, SetValue};
pub use source::Pos;

/// The order flow active out of the box.
pub const DEFAULT_ORDER_FLOW: &str = include_str!("../flows/default-order.yaml");
/// The inventory flow that resumes backordered orders when supply arrives.
pub const RESUME_BACKORDERS_FLOW: &str = include_str!("../flows/resume-backorders.yaml");

/// The default return flow (type `return`).
pub const RETURN_FLOW: &str = include_str!("../flows/return.yaml");
/// The flows shipped with iom, published on a new database.
pub const DEFAULT_FLOWS: [&str; 3] = [DEFAULT_ORDER_FLOW, RESUME_BACKORDERS_FLOW, RETURN_FLOW];

/// The flows shipped with iom, compiled.
pub fn default_flows() -> Result<Vec<ExecutablePlan>, CompileErrors> {
    DEFAULT_FLOWS.into_iter().map(compile).collect()
}
