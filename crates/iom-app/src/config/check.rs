//! Checking a file before anything is written, with the same rules the API applies to each
//! object, and turning it into what the store takes. Every problem is named by its place in the
//! file (`flows[2].active: line 4, column 7: …`, `profiles[0].exclude_nodes[1]: …`), all at once.
//!
//! References are checked against what the target will hold after the import: the objects of
//! the file and those the target keeps. A profile or node group naming a node that is in
//! neither is refused (the API only warns about a profile, since it may be written before its
//! nodes; a file holds the nodes too).

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};
use iom_domain::{FieldError, ReturnPolicy};
use iom_flow::policy::Policy;
use iom_insights::AlertDefinition;
use iom_providers::notify::{self, Template};
use iom_providers::secrets::MasterKey;
use iom_providers::{Mappings, types};
use iom_sourcing::{Node, NodeGroup, Profile};
use iom_store::flows::NewVersion;
use iom_store::nodes::NodeRecord;
use iom_store::policies::NewPolicy;
use iom_store::providers::{ProviderRecord, SubscriptionRecord, subscription_consumer};
use serde_json::{Map, Value};

use super::current::{Current, object_without};
use super::diff::{Kind, SecretChanges};
use super::document::{
    ConnectionValue, FlowEntry, NamedEntry, NodeEntry, PolicyEntry, ProviderEntry, Setup,
    SubscriptionEntry,
};
use super::secrets;
use crate::pipeline::instance::{InstanceInput, instance_record};

/// One problem of a file, at its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub place: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.place, self.message)
    }
}

/// A flow's versions to store when they differ from the target's.
pub struct FlowPlan {
    pub name: String,
    pub active: Option<NewVersion>,
    pub draft: Option<NewVersion>,
}

/// A file that passed every check: its canonical form (compared with the target's) and what
/// the store takes for each object.
pub struct Checked {
    pub setup: Setup,
    pub nodes: BTreeMap<String, NodeRecord>,
    pub groups: BTreeMap<String, Value>,
    pub profiles: BTreeMap<String, Value>,
    pub policies: BTreeMap<String, (NewPolicy, Policy)>,
    pub flows: BTreeMap<String, FlowPlan>,
    pub providers: BTreeMap<String, ProviderRecord>,
    pub subscriptions: BTreeMap<String, SubscriptionRecord>,
    pub alerts: BTreeMap<String, AlertDefinition>,
    pub templates: BTreeMap<String, Template>,
    pub return_policy: Option<ReturnPolicy>,
    /// Secrets whose value from the environment differs from the stored one.
    pub secret_changes: SecretChanges,
    /// What the report should say besides the changes (secrets left as they are).
    pub notes: Vec<String>,
}

struct Cx {
    problems: Vec<Problem>,
}

impl Cx {
    fn add(&mut self, place: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            place: place.into(),
            message: message.into(),
        });
    }

    /// Field errors of the object at `place`, each under it.
    fn fields(&mut self, place: &str, errors: impl IntoIterator<Item = FieldError>) {
        for e in errors {
            let at = if e.field.is_empty() {
                place.to_owned()
            } else {
                format!("{place}.{}", e.field)
            };
            self.add(at, e.message);
        }
    }

    fn unique<'a>(&mut self, list: &str, names: impl Iterator<Item = &'a str>, key: &str) {
        let mut seen = HashSet::new();
        for (i, name) in names.enumerate() {
            if !seen.insert(name) {
                self.add(
                    format!("{list}[{i}].{key}"),
                    format!("{name:?} appears twice"),
                );
            }
        }
    }
}

fn typed<T: serde::de::DeserializeOwned>(
    cx: &mut Cx,
    place: &str,
    mut definition: Map<String, Value>,
    key: &str,
    name: &str,
) -> Option<T> {
    definition.insert(key.to_owned(), Value::String(name.to_owned()));
    match serde_json::from_value(Value::Object(definition)) {
        Ok(v) => Some(v),
        Err(e) => {
            cx.add(place, e.to_string());
            None
        }
    }
}

fn format_of(text: &str) -> &'static str {
    if text.trim_start().starts_with('{') {
        "json"
    } else {
        "yaml"
    }
}

/// Checks `file` against the target `current`. `env` reads the importing process's
/// environment; `key` seals secrets and opens the stored ones to compare.
pub fn check(
    file: &Setup,
    current: &Current,
    key: Option<&MasterKey>,
    env: &dyn Fn(&str) -> Option<String>,
    now: DateTime<Utc>,
) -> Result<Checked, Vec<Problem>> {
    let mut cx = Cx {
        problems: Vec::new(),
    };
    cx.unique("nodes", file.nodes.iter().map(|n| n.code.as_str()), "code");
    for (list, entries) in [
        ("node_groups", &file.node_groups),
        ("profiles", &file.profiles),
        ("alerts", &file.alerts),
        ("notification_templates", &file.notification_templates),
    ] {
        cx.unique(list, entries.iter().map(|e| e.name.as_str()), "name");
    }
    cx.unique(
        "policies",
        file.policies.iter().map(|e| e.name.as_str()),
        "name",
    );
    cx.unique("flows", file.flows.iter().map(|e| e.name.as_str()), "name");
    cx.unique(
        "providers",
        file.providers.iter().map(|e| e.name.as_str()),
        "name",
    );
    cx.unique(
        "subscriptions",
        file.subscriptions.iter().map(|e| e.name.as_str()),
        "name",
    );

    let mut out = Checked {
        setup: Setup::default(),
        nodes: BTreeMap::new(),
        groups: BTreeMap::new(),
        profiles: BTreeMap::new(),
        policies: BTreeMap::new(),
        flows: BTreeMap::new(),
        providers: BTreeMap::new(),
        subscriptions: BTreeMap::new(),
        alerts: BTreeMap::new(),
        templates: BTreeMap::new(),
        return_policy: None,
        secret_changes: SecretChanges::new(),
        notes: Vec::new(),
    };

    // Nodes and groups: what profiles and groups may name after the import.
    let mut node_codes: HashSet<String> = current.nodes.iter().map(|n| n.code.clone()).collect();
    node_codes.extend(file.nodes.iter().map(|n| n.code.clone()));
    let mut group_names: HashSet<String> = current.groups.iter().map(|g| g.name.clone()).collect();
    group_names.extend(file.node_groups.iter().map(|g| g.name.clone()));

    for (i, entry) in file.nodes.iter().enumerate() {
        nodes(&mut cx, &mut out, i, entry);
    }
    for (i, entry) in file.node_groups.iter().enumerate() {
        let place = format!("node_groups[{i}]");
        let Some(group) = typed::<NodeGroup>(
            &mut cx,
            &place,
            entry.definition.clone(),
            "name",
            &entry.name,
        ) else {
            continue;
        };
        cx.fields(&place, group.validate());
        for (j, member) in group.nodes.iter().enumerate() {
            if !node_codes.contains(member) {
                cx.add(
                    format!("{place}.nodes[{j}]"),
                    format!("no node has the code {member:?}"),
                );
            }
        }
        named(
            &mut cx,
            &mut out.setup.node_groups,
            &place,
            &entry.name,
            &group,
        );
        if let Ok(doc) = serde_json::to_value(&group) {
            out.groups.insert(entry.name.clone(), doc);
        }
    }
    for (i, entry) in file.profiles.iter().enumerate() {
        let place = format!("profiles[{i}]");
        let Some(profile) = typed::<Profile>(
            &mut cx,
            &place,
            entry.definition.clone(),
            "name",
            &entry.name,
        ) else {
            continue;
        };
        cx.fields(&place, profile.validate());
        let known = |n: &str| node_codes.contains(n) || group_names.contains(n);
        cx.fields(&place, profile.unknown_references(&known));
        named(
            &mut cx,
            &mut out.setup.profiles,
            &place,
            &entry.name,
            &profile,
        );
        if let Ok(doc) = serde_json::to_value(&profile) {
            out.profiles.insert(entry.name.clone(), doc);
        }
    }

    // Policies, then the flows that name them (checked against the policies the target will
    // hold: its own, replaced by the file's).
    let mut policy_set = current.policy_set.clone();
    for (i, entry) in file.policies.iter().enumerate() {
        policies(&mut cx, &mut out, current, i, entry, &mut policy_set);
    }
    for (i, entry) in file.flows.iter().enumerate() {
        flows(&mut cx, &mut out, i, entry, &policy_set);
    }

    for (i, entry) in file.providers.iter().enumerate() {
        providers(&mut cx, &mut out, current, key, env, now, i, entry);
    }
    for (i, entry) in file.subscriptions.iter().enumerate() {
        subscriptions(&mut cx, &mut out, current, key, env, now, i, entry);
    }

    for (i, entry) in file.alerts.iter().enumerate() {
        let place = format!("alerts[{i}]");
        if !iom_insights::alert::valid_name(&entry.name) {
            cx.add(
                format!("{place}.name"),
                "1 to 64 letters, digits, '-', '_' or '.'",
            );
        }
        match AlertDefinition::parse(&Value::Object(entry.definition.clone())) {
            Ok(definition) => {
                named(
                    &mut cx,
                    &mut out.setup.alerts,
                    &place,
                    &entry.name,
                    &definition,
                );
                out.alerts.insert(entry.name.clone(), definition);
            }
            Err(iom_insights::InsightsError::Invalid(errors)) => cx.fields(&place, errors),
        }
    }
    for (i, entry) in file.notification_templates.iter().enumerate() {
        let place = format!("notification_templates[{i}]");
        if !notify::valid_name(&entry.name) {
            cx.add(
                format!("{place}.name"),
                "1 to 64 letters, digits, '-', '_' or '.'",
            );
        }
        match Template::parse(&Value::Object(entry.definition.clone())) {
            Ok(template) => {
                named(
                    &mut cx,
                    &mut out.setup.notification_templates,
                    &place,
                    &entry.name,
                    &template,
                );
                out.templates.insert(entry.name.clone(), template);
            }
            Err(errors) => cx.fields(&place, errors),
        }
    }
    if let Some(policy) = &file.return_policy {
        match serde_json::from_value::<ReturnPolicy>(Value::Object(policy.clone())) {
            Ok(policy) => {
                if let Err(errors) = policy.validate() {
                    cx.fields("return_policy", errors);
                }
                match object_without(&policy, "") {
                    Ok(map) => out.setup.return_policy = Some(map),
                    Err(e) => cx.add("return_policy", e.to_string()),
                }
                out.return_policy = Some(policy);
            }
            Err(e) => cx.add("return_policy", e.to_string()),
        }
    }
    if cx.problems.is_empty() {
        Ok(out)
    } else {
        Err(cx.problems)
    }
}

/// Adds the canonical form of a checked object to the setup compared with the target.
fn named<T: serde::Serialize>(
    cx: &mut Cx,
    list: &mut Vec<NamedEntry>,
    place: &str,
    name: &str,
    value: &T,
) {
    match object_without(value, "name") {
        Ok(definition) => list.push(NamedEntry {
            name: name.to_owned(),
            definition,
        }),
        Err(e) => cx.add(place, e.to_string()),
    }
}

fn nodes(cx: &mut Cx, out: &mut Checked, i: usize, entry: &NodeEntry) {
    let place = format!("nodes[{i}]");
    let Some(mut node) = typed::<Node>(cx, &place, entry.definition.clone(), "code", &entry.code)
    else {
        return;
    };
    if node.name.trim().is_empty() {
        node.name.clone_from(&node.code);
    }
    cx.fields(&place, node.validate());
    let (Ok(doc), Ok(definition)) = (serde_json::to_value(&node), object_without(&node, "code"))
    else {
        cx.add(place, "cannot be stored");
        return;
    };
    out.setup.nodes.push(NodeEntry {
        code: entry.code.clone(),
        definition,
    });
    out.nodes.insert(
        entry.code.clone(),
        NodeRecord {
            code: node.code.clone(),
            kind: node.kind.as_str().to_owned(),
            active: node.active,
            safety_stock: i64::from(node.safety_stock),
            doc,
            updated_at: Utc::now(),
        },
    );
}

fn policies(
    cx: &mut Cx,
    out: &mut Checked,
    current: &Current,
    i: usize,
    entry: &PolicyEntry,
    set: &mut iom_flow::policy::PolicySet,
) {
    let place = format!("policies[{i}].definition");
    let policy = match Policy::parse(&entry.definition) {
        Ok(p) => p,
        Err(errors) => {
            for e in errors.iter() {
                cx.add(&place, e.to_string());
            }
            return;
        }
    };
    if policy.name != entry.name {
        cx.add(
            format!("policies[{i}].name"),
            format!("the definition is named {:?}", policy.name),
        );
        return;
    }
    let kind = policy.kind().as_str().to_owned();
    if let Some(stored) = current.policies.iter().find(|p| p.name == entry.name)
        && stored.kind != kind
        && stored.source != entry.definition
    {
        cx.add(
            &place,
            format!(
                "policy {} is a {} policy; a new version cannot be a {kind} policy",
                entry.name, stored.kind
            ),
        );
    }
    out.setup.policies.push(entry.clone());
    set.insert(policy.clone());
    out.policies.insert(
        entry.name.clone(),
        (
            NewPolicy {
                name: entry.name.clone(),
                kind,
                format: format_of(&entry.definition).into(),
                source: entry.definition.clone(),
            },
            policy,
        ),
    );
}

fn flows(
    cx: &mut Cx,
    out: &mut Checked,
    i: usize,
    entry: &FlowEntry,
    set: &iom_flow::policy::PolicySet,
) {
    let mut compile = |which: &str, text: &str| -> Option<NewVersion> {
        let place = format!("flows[{i}].{which}");
        match iom_flow::Compiler::with_policies(set).compile(text) {
            Err(errors) => {
                for e in errors.iter() {
                    cx.add(&place, e.to_string());
                }
                None
            }
            Ok(plan) if plan.name != entry.name => {
                cx.add(
                    place,
                    format!(
                        "the definition is named {:?}, not {:?}",
                        plan.name, entry.name
                    ),
                );
                None
            }
            Ok(plan) => Some(NewVersion {
                name: entry.name.clone(),
                flow_type: plan.flow_type.as_str().to_owned(),
                format: format_of(text).into(),
                source: text.to_owned(),
                plan: serde_json::to_string(&plan).ok()?,
            }),
        }
    };
    let active = entry.active.as_deref().and_then(|t| compile("active", t));
    let draft = entry.draft.as_deref().and_then(|t| compile("draft", t));
    out.setup.flows.push(entry.clone());
    out.flows.insert(
        entry.name.clone(),
        FlowPlan {
            name: entry.name.clone(),
            active,
            draft,
        },
    );
}

#[allow(clippy::too_many_arguments)]
fn providers(
    cx: &mut Cx,
    out: &mut Checked,
    current: &Current,
    key: Option<&MasterKey>,
    env: &dyn Fn(&str) -> Option<String>,
    now: DateTime<Utc>,
    i: usize,
    entry: &ProviderEntry,
) {
    let place = format!("providers[{i}]");
    if !crate::pipeline::instance::valid_name(&entry.name) {
        cx.add(
            format!("{place}.name"),
            "1 to 64 letters, digits, '-', '_' or '.'",
        );
        return;
    }
    let Some(kind) = types::find(&entry.kind) else {
        let names: Vec<_> = types::builtin().iter().map(|t| t.name).collect();
        cx.add(
            format!("{place}.type"),
            format!("must be one of {}", names.join(", ")),
        );
        return;
    };
    let existing = current
        .providers
        .iter()
        .find(|p| p.name == entry.name && p.kind == entry.kind);
    let mut connection = Map::new();
    let mut unresolved = Vec::new();
    let mut changed = Vec::new();
    for (field, value) in &entry.connection {
        let secret = kind.field(field).is_some_and(|f| f.secret);
        let at = format!("{place}.connection.{field}");
        match (value, secret) {
            (ConnectionValue::Value(text), false) => {
                connection.insert(field.clone(), Value::String(text.clone()));
            }
            (ConnectionValue::Value(_), true) => cx.add(
                at,
                "is a secret: write a reference such as {\"env\": \"VARIABLE\"}, never the value",
            ),
            (ConnectionValue::Secret(_), false) => cx.add(
                at,
                "is not a secret field: write its value, not a reference",
            ),
            (ConnectionValue::Secret(r), true) => match env(&r.env) {
                Some(value) => {
                    let stored = existing.and_then(|e| e.secrets.get(field));
                    if !secrets::same(key, stored.map(String::as_str), &entry.name, &value) {
                        changed.push(field.clone());
                    }
                    connection.insert(field.clone(), Value::String(value));
                }
                None => {
                    let state = match existing.and_then(|e| e.secrets.get(field)) {
                        Some(_) => "kept as the target has it",
                        None => "left unset, as the target has none",
                    };
                    out.notes.push(format!(
                        "provider {}: {} is not set, so secret {field} is {state}",
                        entry.name, r.env
                    ));
                    unresolved.push(field.clone());
                }
            },
        }
    }
    let mappings: Mappings = match serde_json::from_value(Value::Object(entry.mappings.clone())) {
        Ok(m) => m,
        Err(e) => {
            cx.add(format!("{place}.mappings"), e.to_string());
            return;
        }
    };
    let input = InstanceInput {
        kind: entry.kind.clone(),
        connection,
        mappings,
        settings: entry.settings.clone(),
        transformation: entry.transformation.clone(),
    };
    match instance_record(&entry.name, &input, existing, key, &unresolved, now) {
        Ok(record) => {
            let mut canonical = entry.clone();
            canonical.mappings = record.config["mappings"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            out.setup.providers.push(canonical);
            out.providers.insert(entry.name.clone(), record);
            if !changed.is_empty() {
                out.secret_changes
                    .insert((Kind::Provider, entry.name.clone()), changed);
            }
        }
        Err(errors) => cx.fields(&place, errors),
    }
}

#[allow(clippy::too_many_arguments)]
fn subscriptions(
    cx: &mut Cx,
    out: &mut Checked,
    current: &Current,
    key: Option<&MasterKey>,
    env: &dyn Fn(&str) -> Option<String>,
    now: DateTime<Utc>,
    i: usize,
    entry: &SubscriptionEntry,
) {
    let place = format!("subscriptions[{i}]");
    let value = env(&entry.secret.env);
    let types: Vec<String> = entry.types.iter().map(|t| t.trim().to_owned()).collect();
    cx.fields(
        &place,
        crate::pipeline::subscription::check(&entry.name, &entry.url, &types, value.as_deref()),
    );
    let context = subscription_consumer(&entry.name);
    let existing = current.subscriptions.iter().find(|s| s.name == entry.name);
    let sealed = match (&value, existing) {
        (Some(value), existing) => {
            if !secrets::same(key, existing.map(|s| s.secret.as_str()), &context, value) {
                out.secret_changes.insert(
                    (Kind::Subscription, entry.name.clone()),
                    vec!["secret".into()],
                );
            }
            match key {
                Some(key) => key.seal(value.as_bytes(), &context),
                None => {
                    cx.add(
                        format!("{place}.secret"),
                        "secrets cannot be stored: set IOM_MASTER_KEY",
                    );
                    return;
                }
            }
        }
        (None, Some(existing)) => {
            out.notes.push(format!(
                "subscription {}: {} is not set, so its secret is kept as the target has it",
                entry.name, entry.secret.env
            ));
            existing.secret.clone()
        }
        (None, None) => {
            cx.add(
                format!("{place}.secret"),
                format!(
                    "{} is not set, and a new subscription needs its signing secret",
                    entry.secret.env
                ),
            );
            return;
        }
    };
    let mut canonical = entry.clone();
    canonical.types.clone_from(&types);
    out.setup.subscriptions.push(canonical);
    out.subscriptions.insert(
        entry.name.clone(),
        SubscriptionRecord {
            name: entry.name.clone(),
            url: entry.url.clone(),
            types,
            secret: sealed,
            created_at: existing.map_or(now, |e| e.created_at),
            updated_at: now,
        },
    );
}
