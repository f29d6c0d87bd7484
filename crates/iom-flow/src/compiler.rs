//! Definition text → checked [`ExecutablePlan`], or every error with its line and column.
//!
//! The definition is read into a tree that remembers positions ([`crate::source`]), decoded by
//! hand rather than through serde so that one pass reports every bad key at once, then lowered
//! into plan nodes with explicit edges, and finally checked as a graph (unknown and misplaced
//! `goto` targets, steps that can never run, loops that never wait).

use std::collections::{HashMap, HashSet};

use crate::catalog::{self, ArgKind, FlowType, StepNature, StepSpec};
use crate::error::{CompileErrors, Errors};
use crate::expr::{self, Expression, Scope, Ty};
use crate::plan::{
    Backoff, ExecutablePlan, FailureAction, NodeKind, ParallelBranch, PlanNode, RetryPolicy,
    StepId, Target,
};
use crate::policy::{PolicyKind, PolicySet};
use crate::source::{Key, Node, NodeValue, Pos, parse_document};

/// Compiles flow definitions; optionally resolves policy names against a known set.
#[derive(Debug, Default, Clone, Copy)]
pub struct Compiler<'a> {
    policies: Option<&'a PolicySet>,
}

/// Compiles a YAML or JSON definition with no policies known (policy names are not resolved).
pub fn compile(text: &str) -> Result<ExecutablePlan, CompileErrors> {
    Compiler::default().compile(text)
}

impl<'a> Compiler<'a> {
    /// Policy names used by `filter` and `apply-policy` must exist in `policies`, with the right kind.
    pub fn with_policies(policies: &'a PolicySet) -> Self {
        Self {
            policies: Some(policies),
        }
    }

    pub fn compile(&self, text: &str) -> Result<ExecutablePlan, CompileErrors> {
        let root = parse_document(text).map_err(|e| CompileErrors(vec![e]))?;
        let mut cx = Cx::new(text);
        cx.policies = self.policies;
        let flow = cx.flow(&root);
        let plan = flow.and_then(|flow| cx.lower_and_check(flow));
        cx.finish(plan)
    }
}

const FLOW_KEYS: &[&str] = &[
    "name",
    "description",
    "type",
    "trigger",
    "when",
    "filter",
    "priority",
    "steps",
];
const COMMON_STEP_KEYS: &[&str] = &["id", "description", "when", "filter"];
const ACTION_KEYS: &[&str] = &[
    "uses",
    "with",
    "retry",
    "timeout",
    "on_failure",
    "on_timeout",
];
const RETRY_KEYS: &[&str] = &["max_attempts", "backoff", "initial", "max"];

struct Flow {
    name: String,
    flow_type: FlowType,
    triggers: Vec<String>,
    when: Option<Expression>,
    filters: Vec<String>,
    priority: i64,
    steps: Vec<StepDef>,
}

struct StepDef {
    id: String,
    id_pos: Pos,
    kind: DefKind,
    when: Option<Expression>,
    filters: Vec<String>,
}

enum DefKind {
    Step {
        uses: String,
        spec: &'static StepSpec,
        with: serde_json::Value,
        retry: RetryPolicy,
        timeout_ms: Option<u64>,
        on_failure: (FailureAction, Pos),
        on_timeout: Option<(FailureAction, Pos)>,
    },
    Branch {
        condition: Expression,
        then: Vec<StepDef>,
        otherwise: Vec<StepDef>,
    },
    Parallel {
        branches: Vec<(String, Vec<StepDef>)>,
    },
    Goto {
        target: String,
        pos: Pos,
    },
}

pub(crate) struct Cx<'s> {
    errors: Errors,
    source: &'s str,
    flow_type: FlowType,
    policies: Option<&'s PolicySet>,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

impl<'s> Cx<'s> {
    pub(crate) fn new(source: &'s str) -> Self {
        Cx {
            errors: Errors::default(),
            source,
            flow_type: FlowType::Order,
            policies: None,
        }
    }

    /// The value when nothing was wrong, else every error recorded.
    pub(crate) fn finish<T>(self, value: Option<T>) -> Result<T, CompileErrors> {
        let mut errors = self.errors;
        match value {
            Some(value) => errors.into_result(value),
            None => {
                if errors.is_empty() {
                    errors.push(Pos::new(1, 1), "", "the definition is incomplete");
                }
                errors
                    .into_result(())
                    .map(|()| unreachable!("errors were recorded"))
            }
        }
    }

    /// An expression of any type (a value to set).
    pub(crate) fn value_expression(
        &mut self,
        node: &Node,
        path: &str,
        scope: Scope,
    ) -> Option<Expression> {
        self.checked_expression(node, path, scope, false)
    }

    pub(crate) fn err(&mut self, pos: Pos, path: &str, message: impl Into<String>) {
        self.errors.push(pos, path, message);
    }

    pub(crate) fn map<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        what: &str,
    ) -> Option<&'n [(Key, Node)]> {
        match node.as_map() {
            Some(entries) => Some(entries),
            None => {
                self.err(
                    node.pos,
                    path,
                    format!("{what} must be a mapping, found {}", node.kind()),
                );
                None
            }
        }
    }

    pub(crate) fn check_keys(&mut self, entries: &[(Key, Node)], path: &str, allowed: &[&[&str]]) {
        let known: Vec<&str> = allowed.iter().flat_map(|k| k.iter().copied()).collect();
        for (key, _) in entries {
            if !known.contains(&key.name.as_str()) {
                let hint = catalog::suggest(&key.name, known.iter().copied())
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                self.err(
                    key.pos,
                    &join(path, &key.name),
                    format!("unknown key `{}`{hint}", key.name),
                );
            }
        }
    }

    pub(crate) fn text(&mut self, node: &Node, path: &str) -> Option<String> {
        match node.as_str() {
            Some(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Some(_) => {
                self.err(node.pos, path, "must not be empty");
                None
            }
            None => {
                self.err(
                    node.pos,
                    path,
                    format!("expected a string, found {}", node.kind()),
                );
                None
            }
        }
    }

    /// A required key: missing is reported at `at` (the enclosing mapping).
    pub(crate) fn required<'n>(
        &mut self,
        entries: &'n [(Key, Node)],
        key: &str,
        at: Pos,
        path: &str,
    ) -> Option<(&'n Key, &'n Node)> {
        let found = entries
            .iter()
            .find(|(k, _)| k.name == key)
            .map(|(k, v)| (k, v));
        if found.is_none() {
            self.err(at, path, format!("`{key}` is required"));
        }
        found
    }

    /// A condition: a CEL expression of type bool.
    pub(crate) fn expression(
        &mut self,
        node: &Node,
        path: &str,
        scope: Scope,
    ) -> Option<Expression> {
        self.checked_expression(node, path, scope, true)
    }

    fn checked_expression(
        &mut self,
        node: &Node,
        path: &str,
        scope: Scope,
        condition: bool,
    ) -> Option<Expression> {
        let source = match &node.value {
            NodeValue::String(s) => s.clone(),
            // `when: true` is a YAML boolean; as a condition it means what it says.
            NodeValue::Bool(b) => b.to_string(),
            _ => {
                self.err(
                    node.pos,
                    path,
                    format!("expected a CEL expression, found {}", node.kind()),
                );
                return None;
            }
        };
        match expr::check(&source, scope) {
            Ok((_, ty)) => {
                if condition && !matches!(ty, Ty::Bool | Ty::Dyn) {
                    self.err(
                        node.pos,
                        path,
                        format!("a condition must be bool, this expression is {ty}"),
                    );
                    return None;
                }
                Some(Expression::new(source))
            }
            Err(errors) => {
                for e in errors {
                    let pos = self.expression_pos(node.pos, &source, e.offset);
                    self.err(pos, path, e.message);
                }
                None
            }
        }
    }

    /// The place in the document of byte `offset` of an expression written at `pos`. Exact for
    /// one-line plain and quoted scalars; block scalars point at the value.
    fn expression_pos(&self, pos: Pos, expression: &str, offset: Option<usize>) -> Pos {
        let Some(offset) = offset else { return pos };
        let before = &expression[..offset.min(expression.len())];
        if before.contains('\n') {
            return pos;
        }
        let line = self
            .source
            .lines()
            .nth(pos.line.saturating_sub(1))
            .unwrap_or("");
        let first = line.chars().nth(pos.column.saturating_sub(1));
        let shift = match first {
            Some('|' | '>') => return pos,
            Some('"' | '\'') => 1,
            _ => 0,
        };
        Pos::new(pos.line, pos.column + shift + before.chars().count())
    }

    fn filters(&mut self, node: &Node, path: &str) -> Vec<String> {
        if !self.flow_type.has_order() {
            self.err(
                node.pos,
                path,
                "filter policies judge an order, and an inventory flow has none",
            );
        }
        let names: Vec<(String, Pos)> = match &node.value {
            NodeValue::List(items) => items
                .iter()
                .enumerate()
                .filter_map(|(i, n)| {
                    self.text(n, &format!("{path}[{i}]"))
                        .map(|name| (name, n.pos))
                })
                .collect(),
            _ => self
                .text(node, path)
                .map(|n| (n, node.pos))
                .into_iter()
                .collect(),
        };
        for (name, pos) in &names {
            self.policy_ref(name, *pos, path, PolicyKind::Filter);
        }
        names.into_iter().map(|(n, _)| n).collect()
    }

    fn policy_ref(&mut self, name: &str, pos: Pos, path: &str, kind: PolicyKind) {
        let Some(policies) = self.policies else {
            return;
        };
        match policies.get(name) {
            None => {
                let hint = catalog::suggest(name, policies.names())
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                self.err(pos, path, format!("unknown policy `{name}`{hint}"));
            }
            Some(p) if p.kind() != kind => self.err(
                pos,
                path,
                format!(
                    "policy `{name}` is {}, expected {}",
                    p.kind().describe(),
                    kind.describe()
                ),
            ),
            Some(_) => {}
        }
    }

    fn scope(&self) -> Scope {
        if self.flow_type.has_order() {
            Scope::Order
        } else {
            Scope::Event
        }
    }

    fn flow(&mut self, root: &Node) -> Option<Flow> {
        let entries = self.map(root, "", "a flow definition")?;
        self.check_keys(entries, "", &[FLOW_KEYS]);
        let name = self
            .required(entries, "name", root.pos, "name")
            .and_then(|(_, n)| self.text(n, "name"));
        let flow_type = self
            .required(entries, "type", root.pos, "type")
            .and_then(|(_, n)| {
                let text = self.text(n, "type")?;
                let parsed = FlowType::parse(&text);
                if parsed.is_none() {
                    self.err(
                        n.pos,
                        "type",
                        format!("unknown flow type `{text}` (expected order, inventory or return)"),
                    );
                }
                parsed
            });
        // Later checks depend on the type; with a bad one they assume an order flow.
        self.flow_type = flow_type.unwrap_or(FlowType::Order);
        let triggers = self
            .required(entries, "trigger", root.pos, "trigger")
            .map(|(_, n)| self.triggers(n))
            .unwrap_or_default();
        let scope = self.scope();
        let when = root
            .get("when")
            .and_then(|(_, n)| self.expression(n, "when", scope));
        let filters = root
            .get("filter")
            .map(|(_, n)| self.filters(n, "filter"))
            .unwrap_or_default();
        let priority = match root.get("priority") {
            None => 0,
            Some((_, n)) => match n.value {
                NodeValue::Int(i) => i,
                _ => {
                    self.err(
                        n.pos,
                        "priority",
                        format!("expected an integer, found {}", n.kind()),
                    );
                    0
                }
            },
        };
        let steps = self
            .required(entries, "steps", root.pos, "steps")
            .map(|(_, n)| self.steps(n, "steps"))
            .unwrap_or_default();
        Some(Flow {
            name: name?,
            flow_type: flow_type?,
            triggers,
            when,
            filters,
            priority,
            steps,
        })
    }

    fn triggers(&mut self, node: &Node) -> Vec<String> {
        let items: Vec<(String, Pos, String)> = match &node.value {
            NodeValue::List(items) if !items.is_empty() => items
                .iter()
                .enumerate()
                .filter_map(|(i, n)| {
                    let path = format!("trigger[{i}]");
                    self.text(n, &path).map(|t| (t, n.pos, path))
                })
                .collect(),
            NodeValue::List(_) => {
                self.err(node.pos, "trigger", "needs at least one event type");
                Vec::new()
            }
            _ => self
                .text(node, "trigger")
                .map(|t| (t, node.pos, "trigger".to_owned()))
                .into_iter()
                .collect(),
        };
        let mut out = Vec::new();
        for (text, pos, path) in items {
            for part in text.split(',').map(str::trim) {
                if is_event_pattern(part) {
                    out.push(part.to_owned());
                } else {
                    self.err(
                        pos,
                        &path,
                        format!("`{part}` is not an event type (lower case and dotted, such as order.received)"),
                    );
                }
            }
        }
        out
    }

    fn steps(&mut self, node: &Node, path: &str) -> Vec<StepDef> {
        let NodeValue::List(items) = &node.value else {
            self.err(
                node.pos,
                path,
                format!("expected a list of steps, found {}", node.kind()),
            );
            return Vec::new();
        };
        if items.is_empty() {
            self.err(node.pos, path, "needs at least one step");
        }
        items
            .iter()
            .enumerate()
            .filter_map(|(i, n)| self.step(n, &format!("{path}[{i}]")))
            .collect()
    }

    fn step(&mut self, node: &Node, path: &str) -> Option<StepDef> {
        let entries = self.map(node, path, "a step")?;
        let id_entry = self.required(entries, "id", node.pos, &join(path, "id"));
        let id = id_entry.and_then(|(_, n)| {
            let id = self.text(n, &join(path, "id"))?;
            if !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                self.err(
                    n.pos,
                    &join(path, "id"),
                    format!("step id `{id}` may only have letters, digits, `-` and `_`"),
                );
            }
            Some((id, n.pos))
        });
        let kinds: Vec<&Key> = entries
            .iter()
            .filter(|(k, _)| matches!(k.name.as_str(), "uses" | "if" | "parallel" | "goto"))
            .map(|(k, _)| k)
            .collect();
        let scope = self.scope();
        let when = node
            .get("when")
            .and_then(|(_, n)| self.expression(n, &join(path, "when"), scope));
        let filters = node
            .get("filter")
            .map(|(_, n)| self.filters(n, &join(path, "filter")))
            .unwrap_or_default();
        let kind = match kinds.as_slice() {
            [] => {
                self.err(
                    node.pos,
                    path,
                    "a step needs one of `uses`, `if`, `parallel` or `goto`",
                );
                None
            }
            [_, second, ..] => {
                self.err(
                    second.pos,
                    &join(path, &second.name),
                    "a step has only one of `uses`, `if`, `parallel` or `goto`",
                );
                None
            }
            [key] => match key.name.as_str() {
                "uses" => {
                    self.check_keys(entries, path, &[COMMON_STEP_KEYS, ACTION_KEYS]);
                    self.action(node, path)
                }
                "if" => {
                    self.check_keys(entries, path, &[COMMON_STEP_KEYS, &["if", "then", "else"]]);
                    self.branch(node, path)
                }
                "parallel" => {
                    self.check_keys(entries, path, &[COMMON_STEP_KEYS, &["parallel"]]);
                    self.parallel(node, path)
                }
                _ => {
                    self.check_keys(entries, path, &[COMMON_STEP_KEYS, &["goto"]]);
                    let (_, target) = node.get("goto")?;
                    let name = self.text(target, &join(path, "goto"))?;
                    Some(DefKind::Goto {
                        target: name,
                        pos: target.pos,
                    })
                }
            },
        };
        let (id, id_pos) = id?;
        Some(StepDef {
            id,
            id_pos,
            kind: kind?,
            when,
            filters,
        })
    }

    fn branch(&mut self, node: &Node, path: &str) -> Option<DefKind> {
        let scope = self.scope();
        let (_, cond) = node.get("if")?;
        let condition = self.expression(cond, &join(path, "if"), scope);
        let then = match node.get("then") {
            Some((_, n)) => self.steps(n, &join(path, "then")),
            None => {
                self.err(
                    node.pos,
                    &join(path, "then"),
                    "`then` is required with `if`",
                );
                Vec::new()
            }
        };
        let otherwise = node
            .get("else")
            .map(|(_, n)| self.steps(n, &join(path, "else")))
            .unwrap_or_default();
        Some(DefKind::Branch {
            condition: condition?,
            then,
            otherwise,
        })
    }

    fn parallel(&mut self, node: &Node, path: &str) -> Option<DefKind> {
        let (_, branches) = node.get("parallel")?;
        let path = join(path, "parallel");
        let entries = self.map(branches, &path, "`parallel`")?;
        if entries.len() < 2 {
            self.err(
                branches.pos,
                &path,
                "`parallel` needs at least two branches",
            );
        }
        Some(DefKind::Parallel {
            branches: entries
                .iter()
                .map(|(k, v)| (k.name.clone(), self.steps(v, &join(&path, &k.name))))
                .collect(),
        })
    }

    fn action(&mut self, node: &Node, path: &str) -> Option<DefKind> {
        let (_, uses_node) = node.get("uses")?;
        let uses_path = join(path, "uses");
        let uses = self.text(uses_node, &uses_path)?;
        let Some(spec) = catalog::step(&uses) else {
            let hint = catalog::suggest(&uses, catalog::CATALOG.iter().map(|s| s.name))
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            self.err(
                uses_node.pos,
                &uses_path,
                format!("unknown step `{uses}`{hint}"),
            );
            return None;
        };
        if !spec.flow_types.contains(&self.flow_type) {
            self.err(
                uses_node.pos,
                &uses_path,
                format!(
                    "step `{uses}` cannot be used in {} {} flow",
                    if self.flow_type == FlowType::Return {
                        "a"
                    } else {
                        "an"
                    },
                    self.flow_type.as_str()
                ),
            );
        }
        let with = self.arguments(spec, node, path);
        let retry = match node.get("retry") {
            None => RetryPolicy::attempts(spec.default_attempts),
            Some((_, n)) => self.retry(n, &join(path, "retry")),
        };
        let timeout_ms = node
            .get("timeout")
            .and_then(|(_, n)| self.duration(n, &join(path, "timeout")));
        let on_failure = match node.get("on_failure") {
            None => (FailureAction::Fail, node.pos),
            Some((_, n)) => (
                self.failure_action(n, &join(path, "on_failure"))
                    .unwrap_or(FailureAction::Fail),
                n.pos,
            ),
        };
        let on_timeout = match node.get("on_timeout") {
            None => None,
            Some((key, n)) => {
                if node.get("timeout").is_none() {
                    self.err(
                        key.pos,
                        &join(path, "on_timeout"),
                        "`on_timeout` needs a `timeout`",
                    );
                }
                self.failure_action(n, &join(path, "on_timeout"))
                    .map(|a| (a, n.pos))
            }
        };
        Some(DefKind::Step {
            uses,
            spec,
            with: with?,
            retry,
            timeout_ms,
            on_failure,
            on_timeout,
        })
    }

    fn arguments(&mut self, spec: &StepSpec, node: &Node, path: &str) -> Option<serde_json::Value> {
        let with_path = join(path, "with");
        let (at, entries): (Pos, &[(Key, Node)]) = match node.get("with") {
            None => (node.get("uses").map_or(node.pos, |(k, _)| k.pos), &[]),
            Some((key, n)) if matches!(n.value, NodeValue::Null) => (key.pos, &[]),
            Some((key, n)) => (key.pos, self.map(n, &with_path, "`with`")?),
        };
        let mut out = serde_json::Map::new();
        let mut ok = true;
        for (key, value) in entries {
            let arg_path = join(&with_path, &key.name);
            let Some(arg) = spec.args.iter().find(|a| a.name == key.name) else {
                let hint = catalog::suggest(&key.name, spec.args.iter().map(|a| a.name))
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_else(|| {
                        if spec.args.is_empty() {
                            " (it takes no arguments)".to_owned()
                        } else {
                            format!(
                                " (arguments: {})",
                                spec.args
                                    .iter()
                                    .map(|a| a.name)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        }
                    });
                self.err(
                    key.pos,
                    &arg_path,
                    format!("step `{}` has no argument `{}`{hint}", spec.name, key.name),
                );
                ok = false;
                continue;
            };
            match self.argument(arg.kind, value, &arg_path) {
                Some(v) => {
                    out.insert(arg.name.to_owned(), v);
                }
                None => ok = false,
            }
            if arg.name == "policy"
                && spec.name == "apply-policy"
                && let Some(name) = value.as_str()
            {
                self.policy_ref(name, value.pos, &arg_path, PolicyKind::Execution);
            }
        }
        for arg in spec.args {
            if out.contains_key(arg.name) || entries.iter().any(|(k, _)| k.name == arg.name) {
                continue;
            }
            if arg.required {
                self.err(
                    at,
                    &join(&with_path, arg.name),
                    format!(
                        "step `{}` needs the argument `{}` ({})",
                        spec.name,
                        arg.name,
                        arg.kind.describe()
                    ),
                );
                ok = false;
            } else if let Some(default) = arg.default {
                out.insert(arg.name.to_owned(), default.to_json());
            }
        }
        if spec.name == "apply-policy"
            && let (Some(policies), Some(name), Some((_, pinned))) = (
                self.policies,
                out.get("policy").and_then(serde_json::Value::as_str),
                entries.iter().find(|(k, _)| k.name == "version"),
            )
            && let (Some(policy), NodeValue::Int(version)) = (policies.get(name), &pinned.value)
            && *version > i64::from(policy.version)
        {
            self.err(
                pinned.pos,
                &join(&with_path, "version"),
                format!(
                    "policy `{name}` has no version {version} (the newest is {})",
                    policy.version
                ),
            );
            ok = false;
        }
        if spec.name == "set-attribute" {
            let value = entries.iter().any(|(k, _)| k.name == "value");
            let expr = entries.iter().any(|(k, _)| k.name == "expr");
            if value == expr {
                self.err(
                    at,
                    &with_path,
                    "step `set-attribute` needs exactly one of `value` and `expr`",
                );
                ok = false;
            }
        }
        ok.then_some(serde_json::Value::Object(out))
    }

    fn argument(&mut self, kind: ArgKind, node: &Node, path: &str) -> Option<serde_json::Value> {
        let wrong = |cx: &mut Self| {
            cx.err(
                node.pos,
                path,
                format!("expected {}, found {}", kind.describe(), node.kind()),
            );
            None
        };
        match kind {
            ArgKind::Text => self.text(node, path).map(Into::into),
            ArgKind::Int { min, max } => match node.value {
                NodeValue::Int(i) if (min..=max).contains(&i) => Some(i.into()),
                NodeValue::Int(i) => {
                    self.err(
                        node.pos,
                        path,
                        format!("{i} is out of range ({min} to {max})"),
                    );
                    None
                }
                _ => wrong(self),
            },
            ArgKind::Bool => match node.value {
                NodeValue::Bool(b) => Some(b.into()),
                _ => wrong(self),
            },
            ArgKind::Duration => self.duration(node, path).map(|ms| format_ms(ms).into()),
            ArgKind::EventType => {
                let text = self.text(node, path)?;
                if is_event_pattern(&text) {
                    Some(text.into())
                } else {
                    self.err(
                        node.pos,
                        path,
                        format!("`{text}` is not an event type (lower case and dotted, such as order.released)"),
                    );
                    None
                }
            }
            ArgKind::Expression => {
                let scope = self.scope();
                let source = node.as_str().map(str::to_owned);
                let expression_node = node;
                match expr::check(source.as_deref().unwrap_or(""), scope) {
                    _ if source.is_none() => wrong(self),
                    Ok(_) => source.map(Into::into),
                    Err(errors) => {
                        let source = source.unwrap_or_default();
                        for e in errors {
                            let pos = self.expression_pos(expression_node.pos, &source, e.offset);
                            self.err(pos, path, e.message);
                        }
                        None
                    }
                }
            }
            ArgKind::Object => match node.value {
                NodeValue::Map(_) => Some(node.to_json()),
                _ => wrong(self),
            },
            ArgKind::Any => Some(node.to_json()),
            ArgKind::Choice(words) => {
                let text = self.text(node, path)?;
                self.choice(&text, words, node.pos, path)
                    .then(|| text.into())
            }
            ArgKind::ChoiceMap(words) => match &node.value {
                NodeValue::Map(entries) => {
                    let mut ok = true;
                    for (key, value) in entries {
                        let value_path = join(path, &key.name);
                        match self.text(value, &value_path) {
                            Some(text) => ok &= self.choice(&text, words, value.pos, &value_path),
                            None => ok = false,
                        }
                    }
                    ok.then(|| node.to_json())
                }
                _ => wrong(self),
            },
        }
    }

    fn choice(&mut self, text: &str, words: &[&str], pos: Pos, path: &str) -> bool {
        if words.contains(&text) {
            return true;
        }
        let hint = catalog::suggest(text, words.iter().copied())
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        self.err(
            pos,
            path,
            format!("`{text}` is not one of {}{hint}", words.join(", ")),
        );
        false
    }

    fn duration(&mut self, node: &Node, path: &str) -> Option<u64> {
        let text = match &node.value {
            NodeValue::String(s) => s,
            NodeValue::Int(_) => {
                self.err(
                    node.pos,
                    path,
                    "a duration needs a unit, such as 30s, 5m, 2h or 7d",
                );
                return None;
            }
            _ => {
                self.err(
                    node.pos,
                    path,
                    format!("expected a duration such as 30s, found {}", node.kind()),
                );
                return None;
            }
        };
        match parse_duration_ms(text) {
            Some(ms) if ms > 0 => Some(ms),
            _ => {
                self.err(
                    node.pos,
                    path,
                    format!("`{text}` is not a duration (such as 500ms, 30s, 5m, 2h, 7d or 1h30m)"),
                );
                None
            }
        }
    }

    fn retry(&mut self, node: &Node, path: &str) -> RetryPolicy {
        let mut retry = RetryPolicy::attempts(1);
        let attempts = |cx: &mut Self, n: &Node, path: &str| match n.value {
            NodeValue::Int(i) if (1..=100).contains(&i) => Some(i as u32),
            _ => {
                cx.err(n.pos, path, "max_attempts must be an integer from 1 to 100");
                None
            }
        };
        if let NodeValue::Int(_) = node.value {
            // `retry: 3` is short for `retry: {max_attempts: 3}`.
            retry.max_attempts = attempts(self, node, path).unwrap_or(1);
            return retry;
        }
        let Some(entries) = self.map(node, path, "`retry`") else {
            return retry;
        };
        self.check_keys(entries, path, &[RETRY_KEYS]);
        if let Some((_, n)) = node.get("max_attempts") {
            retry.max_attempts = attempts(self, n, &join(path, "max_attempts")).unwrap_or(1);
        }
        if let Some((_, n)) = node.get("backoff") {
            match n.as_str() {
                Some("fixed") => retry.backoff = Backoff::Fixed,
                Some("exponential") => retry.backoff = Backoff::Exponential,
                _ => self.err(
                    n.pos,
                    &join(path, "backoff"),
                    "backoff must be `fixed` or `exponential`",
                ),
            }
        }
        if let Some((_, n)) = node.get("initial") {
            retry.initial_ms = self
                .duration(n, &join(path, "initial"))
                .unwrap_or(retry.initial_ms);
        }
        if let Some((_, n)) = node.get("max") {
            retry.max_ms = self.duration(n, &join(path, "max")).unwrap_or(retry.max_ms);
        }
        if retry.max_ms < retry.initial_ms {
            self.err(node.pos, path, "`max` must not be less than `initial`");
        }
        retry
    }

    fn failure_action(&mut self, node: &Node, path: &str) -> Option<FailureAction> {
        let text = self.text(node, path)?;
        let mut words = text.split_whitespace();
        let verb = words.next().unwrap_or("");
        let rest: Vec<&str> = words.collect();
        let argument = (!rest.is_empty()).then(|| rest.join(" "));
        let action = match (verb, argument) {
            ("fail", None) => FailureAction::Fail,
            ("continue", None) => FailureAction::Continue,
            ("backorder", None) if self.flow_type == FlowType::Return => {
                self.err(
                    node.pos,
                    path,
                    "`backorder` is for order flows (a return flow can fail, continue, goto STEP, hold or cancel the return)",
                );
                return None;
            }
            ("backorder", None) => FailureAction::Backorder,
            ("hold", reason) => {
                FailureAction::Hold(reason.unwrap_or_else(|| "flow_failure".into()))
            }
            ("cancel", reason) => {
                FailureAction::Cancel(reason.unwrap_or_else(|| "flow_failure".into()))
            }
            ("goto", Some(step)) if rest.len() == 1 => FailureAction::Goto(StepId(step)),
            _ => {
                self.err(
                    node.pos,
                    path,
                    format!("`{text}` is not an action (fail, continue, goto STEP, hold [REASON], cancel [REASON] or backorder)"),
                );
                return None;
            }
        };
        Some(action)
    }
}

fn is_event_pattern(text: &str) -> bool {
    text == "*"
        || (!text.is_empty()
            && text.split('.').enumerate().all(|(i, part)| {
                !part.is_empty()
                    && (part == "*"
                        || part
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                            && (i > 0 || part.starts_with(|c: char| c.is_ascii_lowercase())))
            }))
}

/// `500ms`, `30s`, `5m`, `2h`, `7d`, or several of them run together (`1h30m`).
pub fn parse_duration_ms(text: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        if digits == 0 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return None,
        };
        total = total.checked_add(number.checked_mul(factor)?)?;
        rest = &rest[unit_len..];
    }
    Some(total)
}

/// The shortest exact spelling of a duration, for validated arguments.
pub fn format_ms(ms: u64) -> String {
    for (unit, factor) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms.is_multiple_of(factor) {
            return format!("{}{unit}", ms / factor);
        }
    }
    format!("{ms}ms")
}

// ---------------------------------------------------------------------------------------------
// Lowering and graph checks

/// Positions of what graph checks report on.
struct Places {
    id: HashMap<String, Pos>,
    /// (source, target, position of the jump) for every goto and `goto` failure action.
    jumps: Vec<(StepId, StepId, Pos)>,
    /// The sibling before a node in its list, for reporting only the first step that cannot run.
    previous: HashMap<StepId, StepId>,
}

impl Cx<'_> {
    fn lower_and_check(&mut self, flow: Flow) -> Option<ExecutablePlan> {
        let mut places = Places {
            id: HashMap::new(),
            jumps: Vec::new(),
            previous: HashMap::new(),
        };
        let mut nodes = Vec::new();
        self.lower(&flow.steps, &Target::End, None, &mut nodes, &mut places);
        let start = flow
            .steps
            .first()
            .map_or(Target::End, |s| Target::Step(StepId(s.id.clone())));
        let plan = ExecutablePlan {
            name: flow.name,
            flow_type: flow.flow_type,
            triggers: flow.triggers,
            when: flow.when,
            filters: flow.filters,
            priority: flow.priority,
            start,
            nodes,
        };
        self.check_jumps(&plan, &places);
        if self.errors.is_empty() {
            self.check_reachable(&plan, &places);
            self.check_loops(&plan, &places);
        }
        Some(plan)
    }

    fn lower(
        &mut self,
        steps: &[StepDef],
        follow: &Target,
        parallel: Option<&StepId>,
        out: &mut Vec<PlanNode>,
        places: &mut Places,
    ) {
        for (i, step) in steps.iter().enumerate() {
            let id = StepId(step.id.clone());
            if let Some(first) = places.id.get(&step.id) {
                self.err(
                    step.id_pos,
                    "",
                    format!(
                        "duplicate step id `{}` (first used at line {}, column {})",
                        step.id, first.line, first.column
                    ),
                );
                continue;
            }
            places.id.insert(step.id.clone(), step.id_pos);
            if i > 0 {
                places
                    .previous
                    .insert(id.clone(), StepId(steps[i - 1].id.clone()));
            }
            let next = steps
                .get(i + 1)
                .map_or_else(|| follow.clone(), |s| Target::Step(StepId(s.id.clone())));
            let first_of = |list: &[StepDef]| {
                list.first()
                    .map_or_else(|| next.clone(), |s| Target::Step(StepId(s.id.clone())))
            };
            let kind = match &step.kind {
                DefKind::Step {
                    uses,
                    spec,
                    with,
                    retry,
                    timeout_ms,
                    on_failure,
                    on_timeout,
                } => {
                    for (action, pos) in std::iter::once(on_failure).chain(on_timeout.as_ref()) {
                        if let FailureAction::Goto(target) = action {
                            places.jumps.push((id.clone(), target.clone(), *pos));
                        }
                    }
                    let waits = match spec.nature {
                        StepNature::Waits => {
                            with.get("wait").and_then(|w| w.as_bool()) != Some(false)
                        }
                        _ => false,
                    };
                    NodeKind::Step {
                        uses: uses.clone(),
                        with: with.clone(),
                        retry: retry.clone(),
                        timeout_ms: *timeout_ms,
                        on_failure: on_failure.0.clone(),
                        on_timeout: on_timeout.as_ref().map(|(a, _)| a.clone()),
                        terminal: spec.nature == StepNature::Terminal,
                        waits,
                    }
                }
                DefKind::Branch {
                    condition,
                    then,
                    otherwise,
                } => NodeKind::Branch {
                    condition: condition.clone(),
                    then: first_of(then),
                    otherwise: first_of(otherwise),
                },
                DefKind::Parallel { branches } => NodeKind::Parallel {
                    branches: branches
                        .iter()
                        .map(|(name, steps)| ParallelBranch {
                            name: name.clone(),
                            start: steps.first().map_or_else(
                                || Target::Join(id.clone()),
                                |s| Target::Step(StepId(s.id.clone())),
                            ),
                        })
                        .collect(),
                },
                DefKind::Goto { target, pos } => {
                    places
                        .jumps
                        .push((id.clone(), StepId(target.clone()), *pos));
                    NodeKind::Goto {
                        target: StepId(target.clone()),
                    }
                }
            };
            out.push(PlanNode {
                id: id.clone(),
                kind,
                when: step.when.clone(),
                filters: step.filters.clone(),
                next: next.clone(),
                parallel: parallel.cloned(),
            });
            match &step.kind {
                DefKind::Branch {
                    then, otherwise, ..
                } => {
                    self.lower(then, &next, parallel, out, places);
                    self.lower(otherwise, &next, parallel, out, places);
                }
                DefKind::Parallel { branches } => {
                    for (_, steps) in branches {
                        self.lower(steps, &Target::Join(id.clone()), Some(&id), out, places);
                    }
                }
                _ => {}
            }
        }
    }

    fn check_jumps(&mut self, plan: &ExecutablePlan, places: &Places) {
        for (source, target, pos) in &places.jumps {
            let Some(to) = plan.node(target) else {
                let hint =
                    catalog::suggest(target.as_str(), plan.nodes.iter().map(|n| n.id.as_str()))
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                self.err(*pos, "", format!("unknown step `{target}`{hint}"));
                continue;
            };
            let from = plan.node(source).expect("jumps come from lowered nodes");
            if from.parallel != to.parallel {
                self.err(
                    *pos,
                    "",
                    format!("`goto {target}` would leave or enter a parallel branch; a jump stays within its branch"),
                );
            }
        }
    }

    fn check_reachable(&mut self, plan: &ExecutablePlan, places: &Places) {
        let mut seen: HashSet<&StepId> = HashSet::new();
        let mut stack: Vec<&StepId> = match &plan.start {
            Target::Step(id) => vec![id],
            _ => vec![],
        };
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            if let Some(node) = plan.node(id) {
                stack.extend(successors(node));
            }
        }
        for node in &plan.nodes {
            let previous_runs = places
                .previous
                .get(&node.id)
                .is_some_and(|p| seen.contains(p));
            if !seen.contains(&node.id) && previous_runs {
                let previous = &places.previous[&node.id];
                self.err(
                    places.id[node.id.as_str()],
                    "",
                    format!("step `{}` can never run: `{previous}` before it always ends the run or jumps elsewhere", node.id),
                );
            }
        }
    }

    fn check_loops(&mut self, plan: &ExecutablePlan, places: &Places) {
        let waits = |id: &StepId| {
            plan.node(id)
                .is_some_and(|n| matches!(n.kind, NodeKind::Step { waits: true, .. }))
        };
        for (source, target, pos) in &places.jumps {
            if waits(source) {
                continue;
            }
            // Is there a way from the target back to the jump that passes no waiting step?
            let mut seen: HashSet<&StepId> = HashSet::new();
            let mut stack = vec![target];
            let mut found = false;
            while let Some(id) = stack.pop() {
                if waits(id) || !seen.insert(id) {
                    continue;
                }
                if id == source {
                    found = true;
                    break;
                }
                if let Some(node) = plan.node(id) {
                    stack.extend(successors(node));
                }
            }
            if found {
                self.err(
                    *pos,
                    "",
                    format!("`goto {target}` makes a loop with no waiting step (wait-for-event, manual-review or hold) in it"),
                );
            }
        }
    }
}

/// The nodes a run can go to from `node`.
fn successors(node: &PlanNode) -> Vec<&StepId> {
    let mut out: Vec<&Target> = Vec::new();
    let conditional = node.when.is_some() || !node.filters.is_empty();
    match &node.kind {
        NodeKind::Step {
            terminal,
            on_failure,
            on_timeout,
            ..
        } => {
            if !terminal || conditional {
                out.push(&node.next);
            }
            for action in std::iter::once(on_failure).chain(on_timeout) {
                if *action == FailureAction::Continue {
                    out.push(&node.next);
                }
            }
            let mut jumps: Vec<&StepId> = std::iter::once(on_failure)
                .chain(on_timeout)
                .filter_map(|a| match a {
                    FailureAction::Goto(t) => Some(t),
                    _ => None,
                })
                .collect();
            let mut ids: Vec<&StepId> = out.iter().filter_map(|t| step_of(t)).collect();
            ids.append(&mut jumps);
            return ids;
        }
        NodeKind::Branch {
            then, otherwise, ..
        } => {
            out.push(then);
            out.push(otherwise);
            if conditional {
                out.push(&node.next);
            }
        }
        NodeKind::Parallel { branches } => {
            out.extend(branches.iter().map(|b| &b.start));
            out.push(&node.next);
        }
        NodeKind::Goto { target } => {
            let mut ids = vec![target];
            if conditional {
                ids.extend(step_of(&node.next));
            }
            return ids;
        }
    }
    out.into_iter().filter_map(step_of).collect()
}

fn step_of(target: &Target) -> Option<&StepId> {
    match target {
        Target::Step(id) => Some(id),
        _ => None,
    }
}
