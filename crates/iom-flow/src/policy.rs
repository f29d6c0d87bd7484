//! Policies: named, versioned CEL rules over an order, reused across flows.
//!
//! A **filter** policy says which orders a flow or step applies to:
//!
//! ```yaml
//! name: vip-orders
//! version: 2
//! kind: filter
//! rule: order.customer.group == "vip" || order.totals.total > 500.0
//! ```
//!
//! An **execution** policy checks an order and sets values on it. Each check has a criticality:
//! `info` is reported, `critical` makes the `apply-policy` step fail. Actions set an order
//! attribute, a line's node or a line attribute; a line action runs once per line, with that line
//! as `line`, for the lines its `when` accepts:
//!
//! ```yaml
//! name: bulky-goods
//! version: 1
//! kind: execution
//! when: order.channel != "pos"          # optional: orders the policy applies to
//! checks:
//!   - name: has-address
//!     rule: order.ship_to.country != null
//!     criticality: critical
//!     message: bulky goods need a ship-to address
//! actions:
//!   - set: line.node
//!     when: line.sku.startsWith("BULKY-")
//!     value: '"DC-BULK"'
//!   - set: order.attributes.bulky
//!     value: order.lines.exists(l, l.sku.startsWith("BULKY-"))
//! ```
//!
//! `rule`, `when` and `value` are CEL, type-checked against the order schema ([`crate::expr`]).
//!
//! # Stored versions
//!
//! `PUT /api/v1/policies/{name}` (YAML or JSON) stores a policy as the next version of its name;
//! the store numbers versions, and a `version` written in the document must be that number
//! (otherwise 409: someone else stored one meanwhile). A name keeps its kind across versions.
//! The newest version is in force. A run pins, when it starts, the newest version of every
//! policy its flow names, and keeps using those (`iom_app::flow::policies`).
//!
//! # How flows use them
//!
//! - `filter: NAME` or `filter: [NAME, …]` on a flow, beside its `when`: the flow applies to an
//!   order only when `when` holds and every filter policy accepts it; of the flows that apply,
//!   the highest `priority` runs, so an order that no filter accepts falls to another flow (the
//!   default one). A filter that cannot be applied to an order counts as not accepting it, and
//!   is logged.
//! - `filter:` on a step: the step runs only when every filter accepts the order, else it is
//!   skipped like a step whose `when` is false. A filter that cannot be applied (a policy that
//!   is gone, an expression that fails on this order) fails the step, and `on_failure` decides.
//! - the `apply-policy` step runs an execution policy (`with: {policy: NAME}`, optionally
//!   `version: N` to use that version rather than the pinned one). Checks run first: a failing
//!   `critical` check fails the step with the checks' messages and nothing is set; failing `info`
//!   checks are only reported. The values then commit with the step as one
//!   `order.policy_applied` event, and the step's output names the version used.
//!
//! The server compiles flows with the stored policies ([`crate::Compiler::with_policies`]), so
//! a name that is unknown or of the wrong kind is refused at its line and column when a flow is
//! stored and again when it is published; `iom flow validate` has no store and leaves names
//! unresolved.

use std::collections::BTreeMap;

use iom_domain::Order;
use serde::{Deserialize, Serialize};

use crate::compiler::Cx;
use crate::error::{CompileErrors, EvalError};
use crate::expr::{self, Expression, Input, Scope};
use crate::source::{NodeValue, parse_document};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    Filter,
    Execution,
}

impl PolicyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyKind::Filter => "filter",
            PolicyKind::Execution => "execution",
        }
    }

    /// "a filter policy", "an execution policy".
    pub fn describe(self) -> &'static str {
        match self {
            PolicyKind::Filter => "a filter policy",
            PolicyKind::Execution => "an execution policy",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criticality {
    Info,
    Critical,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    pub name: String,
    pub version: u32,
    pub description: Option<String>,
    pub body: PolicyBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PolicyBody {
    Filter {
        rule: Expression,
    },
    Execution {
        when: Option<Expression>,
        checks: Vec<Check>,
        actions: Vec<Action>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub rule: Expression,
    pub criticality: Criticality,
    pub message: Option<String>,
}

/// What a set-value action writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "target", content = "name")]
pub enum SetTarget {
    OrderAttribute(String),
    LineNode,
    LineAttribute(String),
}

impl SetTarget {
    fn parse(text: &str) -> Option<Self> {
        if let Some(name) = text.strip_prefix("order.attributes.") {
            return valid_name(name).then(|| Self::OrderAttribute(name.to_owned()));
        }
        if text == "line.node" {
            return Some(Self::LineNode);
        }
        let name = text.strip_prefix("line.attributes.")?;
        valid_name(name).then(|| Self::LineAttribute(name.to_owned()))
    }

    fn per_line(&self) -> bool {
        !matches!(self, Self::OrderAttribute(_))
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub set: SetTarget,
    pub when: Option<Expression>,
    pub value: Expression,
}

/// The result of one check on one order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    pub criticality: Criticality,
    pub passed: bool,
    pub message: Option<String>,
}

/// A value to write into the order, computed by an action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SetValue {
    pub target: SetTarget,
    /// The line for line targets.
    pub line_no: Option<u32>,
    pub value: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyOutcome {
    /// The filter's verdict, or whether an execution policy's `when` accepted the order.
    pub applies: bool,
    pub checks: Vec<CheckResult>,
    pub actions: Vec<SetValue>,
}

impl PolicyOutcome {
    /// No critical check failed.
    pub fn passed(&self) -> bool {
        !self
            .checks
            .iter()
            .any(|c| !c.passed && c.criticality == Criticality::Critical)
    }

    pub fn failed_checks(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks.iter().filter(|c| !c.passed)
    }

    /// Writes the actions' values into `order`. The caller persists it with its event.
    pub fn apply_to(&self, order: &mut Order) -> Result<(), EvalError> {
        for action in &self.actions {
            match (&action.target, action.line_no) {
                (SetTarget::OrderAttribute(name), _) => {
                    order.attributes.insert(name.clone(), action.value.clone());
                }
                (target, Some(line_no)) => {
                    let line = order
                        .lines
                        .iter_mut()
                        .find(|l| l.line_no == line_no)
                        .ok_or_else(|| EvalError::Order(format!("no line {line_no}")))?;
                    match target {
                        SetTarget::LineNode => {
                            line.node = match &action.value {
                                serde_json::Value::Null => None,
                                serde_json::Value::String(s) => Some(s.clone()),
                                other => {
                                    return Err(EvalError::Order(format!(
                                        "a line's node must be a string, the policy computed {other}"
                                    )));
                                }
                            }
                        }
                        SetTarget::LineAttribute(name) => {
                            line.attributes.insert(name.clone(), action.value.clone());
                        }
                        SetTarget::OrderAttribute(_) => unreachable!("matched above"),
                    }
                }
                (target, None) => {
                    return Err(EvalError::Order(format!("{target:?} needs a line")));
                }
            }
        }
        Ok(())
    }
}

impl Policy {
    /// Reads a policy from YAML or JSON, with every error and its position.
    pub fn parse(text: &str) -> Result<Policy, CompileErrors> {
        let root = parse_document(text).map_err(|e| CompileErrors(vec![e]))?;
        let mut cx = Cx::new(text);
        let policy = cx.policy(&root);
        cx.finish(policy)
    }

    pub fn kind(&self) -> PolicyKind {
        match self.body {
            PolicyBody::Filter { .. } => PolicyKind::Filter,
            PolicyBody::Execution { .. } => PolicyKind::Execution,
        }
    }

    /// Evaluates the policy on `order`. Nothing is changed: the outcome lists what to set.
    pub fn evaluate(&self, order: &Order) -> Result<PolicyOutcome, EvalError> {
        let input = Input::order(order);
        match &self.body {
            PolicyBody::Filter { rule } => Ok(PolicyOutcome {
                applies: rule.evaluate_bool(&input)?,
                checks: Vec::new(),
                actions: Vec::new(),
            }),
            PolicyBody::Execution {
                when,
                checks,
                actions,
            } => {
                let applies = match when {
                    Some(when) => when.evaluate_bool(&input)?,
                    None => true,
                };
                let mut outcome = PolicyOutcome {
                    applies,
                    checks: Vec::new(),
                    actions: Vec::new(),
                };
                if !applies {
                    return Ok(outcome);
                }
                for check in checks {
                    outcome.checks.push(CheckResult {
                        name: check.name.clone(),
                        criticality: check.criticality,
                        passed: check.rule.evaluate_bool(&input)?,
                        message: check.message.clone(),
                    });
                }
                for action in actions {
                    if action.set.per_line() {
                        for line in &order.lines {
                            let input = Input {
                                line: Some(line),
                                ..input
                            };
                            if let Some(when) = &action.when
                                && !when.evaluate_bool(&input)?
                            {
                                continue;
                            }
                            outcome.actions.push(SetValue {
                                target: action.set.clone(),
                                line_no: Some(line.line_no),
                                value: expr::to_json(&action.value.evaluate(&input)?),
                            });
                        }
                    } else {
                        if let Some(when) = &action.when
                            && !when.evaluate_bool(&input)?
                        {
                            continue;
                        }
                        outcome.actions.push(SetValue {
                            target: action.set.clone(),
                            line_no: None,
                            value: expr::to_json(&action.value.evaluate(&input)?),
                        });
                    }
                }
                Ok(outcome)
            }
        }
    }
}

/// Policies by name; the highest version of each name is the one in force.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicySet {
    policies: BTreeMap<String, Policy>,
}

impl PolicySet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a policy; an older version than the one held is ignored. Returns whether it was taken.
    pub fn insert(&mut self, policy: Policy) -> bool {
        match self.policies.get(&policy.name) {
            Some(held) if held.version >= policy.version => false,
            _ => {
                self.policies.insert(policy.name.clone(), policy);
                true
            }
        }
    }

    pub fn get(&self, name: &str) -> Option<&Policy> {
        self.policies.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.policies.keys().map(String::as_str)
    }

    /// Whether `order` passes every filter policy named (unknown names are an error).
    pub fn filters_pass(&self, names: &[String], order: &Order) -> Result<bool, EvalError> {
        for name in names {
            let policy = self
                .get(name)
                .ok_or_else(|| EvalError::Order(format!("unknown policy `{name}`")))?;
            if !policy.evaluate(order)?.applies {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

const POLICY_KEYS: &[&str] = &[
    "name",
    "version",
    "description",
    "kind",
    "rule",
    "when",
    "checks",
    "actions",
];

impl Cx<'_> {
    fn policy(&mut self, root: &crate::source::Node) -> Option<Policy> {
        let entries = self.map(root, "", "a policy")?;
        self.check_keys(entries, "", &[POLICY_KEYS]);
        let name = self
            .required(entries, "name", root.pos, "name")
            .and_then(|(_, n)| self.text(n, "name"));
        let version = match root.get("version") {
            None => Some(1),
            Some((_, n)) => match n.value {
                NodeValue::Int(v) if v >= 1 => u32::try_from(v).ok(),
                _ => {
                    self.err(n.pos, "version", "version must be a positive integer");
                    None
                }
            },
        };
        let description = root
            .get("description")
            .and_then(|(_, n)| self.text(n, "description"));
        let kind = self
            .required(entries, "kind", root.pos, "kind")
            .and_then(|(_, n)| match n.as_str() {
                Some("filter") => Some(PolicyKind::Filter),
                Some("execution") => Some(PolicyKind::Execution),
                _ => {
                    self.err(n.pos, "kind", "kind must be `filter` or `execution`");
                    None
                }
            });
        let body = match kind? {
            PolicyKind::Filter => {
                for key in ["when", "checks", "actions"] {
                    if let Some((k, _)) = root.get(key) {
                        self.err(k.pos, key, format!("a filter policy has no `{key}`"));
                    }
                }
                let rule = self
                    .required(entries, "rule", root.pos, "rule")
                    .and_then(|(_, n)| self.expression(n, "rule", Scope::Order))?;
                PolicyBody::Filter { rule }
            }
            PolicyKind::Execution => {
                if let Some((k, _)) = root.get("rule") {
                    self.err(
                        k.pos,
                        "rule",
                        "an execution policy has `checks` and `actions`, not `rule`",
                    );
                }
                let when = root
                    .get("when")
                    .and_then(|(_, n)| self.expression(n, "when", Scope::Order));
                let checks = root
                    .get("checks")
                    .map(|(_, n)| self.checks(n))
                    .unwrap_or_default();
                let actions = root
                    .get("actions")
                    .map(|(_, n)| self.actions(n))
                    .unwrap_or_default();
                if root.get("checks").is_none() && root.get("actions").is_none() {
                    self.err(
                        root.pos,
                        "",
                        "an execution policy needs `checks` or `actions`",
                    );
                }
                PolicyBody::Execution {
                    when,
                    checks,
                    actions,
                }
            }
        };
        Some(Policy {
            name: name?,
            version: version?,
            description,
            body,
        })
    }

    fn list<'n>(&mut self, node: &'n crate::source::Node, path: &str) -> &'n [crate::source::Node] {
        match &node.value {
            NodeValue::List(items) => items,
            _ => {
                self.err(
                    node.pos,
                    path,
                    format!("expected a list, found {}", node.kind()),
                );
                &[]
            }
        }
    }

    fn checks(&mut self, node: &crate::source::Node) -> Vec<Check> {
        let mut out = Vec::new();
        for (i, item) in self.list(node, "checks").iter().enumerate() {
            let path = format!("checks[{i}]");
            let Some(entries) = self.map(item, &path, "a check") else {
                continue;
            };
            self.check_keys(
                entries,
                &path,
                &[&["name", "rule", "criticality", "message"]],
            );
            let name = self
                .required(entries, "name", item.pos, &format!("{path}.name"))
                .and_then(|(_, n)| self.text(n, &format!("{path}.name")));
            let rule = self
                .required(entries, "rule", item.pos, &format!("{path}.rule"))
                .and_then(|(_, n)| self.expression(n, &format!("{path}.rule"), Scope::Order));
            let criticality = match item.get("criticality") {
                None => Some(Criticality::Critical),
                Some((_, n)) => match n.as_str() {
                    Some("info") => Some(Criticality::Info),
                    Some("critical") => Some(Criticality::Critical),
                    _ => {
                        self.err(
                            n.pos,
                            &format!("{path}.criticality"),
                            "criticality must be `info` or `critical`",
                        );
                        None
                    }
                },
            };
            let message = item
                .get("message")
                .and_then(|(_, n)| self.text(n, &format!("{path}.message")));
            if let (Some(name), Some(rule), Some(criticality)) = (name, rule, criticality) {
                out.push(Check {
                    name,
                    rule,
                    criticality,
                    message,
                });
            }
        }
        out
    }

    fn actions(&mut self, node: &crate::source::Node) -> Vec<Action> {
        let mut out = Vec::new();
        for (i, item) in self.list(node, "actions").iter().enumerate() {
            let path = format!("actions[{i}]");
            let Some(entries) = self.map(item, &path, "an action") else {
                continue;
            };
            self.check_keys(entries, &path, &[&["set", "when", "value"]]);
            let set = self
                .required(entries, "set", item.pos, &format!("{path}.set"))
                .and_then(|(_, n)| {
                    let text = self.text(n, &format!("{path}.set"))?;
                    let target = SetTarget::parse(&text);
                    if target.is_none() {
                        self.err(
                            n.pos,
                            &format!("{path}.set"),
                            format!("cannot set `{text}` (order.attributes.NAME, line.node or line.attributes.NAME)"),
                        );
                    }
                    target
                });
            let scope = if set.as_ref().is_some_and(SetTarget::per_line) {
                Scope::Line
            } else {
                Scope::Order
            };
            let when = item
                .get("when")
                .and_then(|(_, n)| self.expression(n, &format!("{path}.when"), scope));
            let value = self
                .required(entries, "value", item.pos, &format!("{path}.value"))
                .and_then(|(_, n)| self.value_expression(n, &format!("{path}.value"), scope));
            if let (Some(set), Some(value)) = (set, value) {
                out.push(Action { set, when, value });
            }
        }
        out
    }
}
