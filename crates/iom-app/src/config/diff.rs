//! The difference between two setups, object by object: pure, so that what `--dry-run` shows is
//! exactly what an import does.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use super::document::Setup;

/// The kinds of object a setup holds, in the order they are shown and applied (what an object
/// names comes before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Node,
    NodeGroup,
    Profile,
    Policy,
    Flow,
    Provider,
    Subscription,
    Alert,
    NotificationTemplate,
    ReturnPolicy,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Node => "node",
            Kind::NodeGroup => "node group",
            Kind::Profile => "profile",
            Kind::Policy => "policy",
            Kind::Flow => "flow",
            Kind::Provider => "provider",
            Kind::Subscription => "subscription",
            Kind::Alert => "alert",
            Kind::NotificationTemplate => "notification template",
            Kind::ReturnPolicy => "return policy",
        }
    }
}

/// What becomes of one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status", content = "fields")]
pub enum Status {
    /// In the file, not in the target: created.
    Added,
    /// In both and different: replaced; the top-level fields that differ (a secret as
    /// `secret FIELD`).
    Changed(Vec<String>),
    Unchanged,
    /// In the target, not in the file: kept as it is (an import never removes).
    TargetOnly,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub kind: Kind,
    pub name: String,
    #[serde(flatten)]
    pub status: Status,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = self.kind.label();
        let name = &self.name;
        match &self.status {
            Status::Added => write!(f, "+ {what} {name}"),
            Status::Changed(fields) => write!(f, "~ {what} {name} ({})", fields.join(", ")),
            Status::Unchanged => write!(f, "= {what} {name}"),
            Status::TargetOnly => write!(
                f,
                "- {what} {name}: only in the target, kept (import never removes)"
            ),
        }
    }
}

/// Secret fields whose value in the importing environment differs from the stored one, by
/// object.
pub type SecretChanges = BTreeMap<(Kind, String), Vec<String>>;

/// Every object of `current` and `file`, each once, with what an import of `file` does to it.
pub fn diff(current: &Setup, file: &Setup, secrets: &SecretChanges) -> Vec<Change> {
    let now = objects(current);
    let wanted = objects(file);
    let mut out = Vec::new();
    let kinds: BTreeSet<Kind> = now.iter().chain(&wanted).map(|(k, _, _)| *k).collect();
    for kind in kinds {
        let in_file: Vec<&(Kind, String, Map<String, Value>)> =
            wanted.iter().filter(|(k, _, _)| *k == kind).collect();
        let find_now = |name: &str| now.iter().find(|(k, n, _)| *k == kind && n == name);
        for (_, name, object) in &in_file {
            let secret_fields: Vec<String> = secrets
                .get(&(kind, name.clone()))
                .into_iter()
                .flatten()
                .map(|f| format!("secret {f}"))
                .collect();
            let status = match find_now(name) {
                None => Status::Added,
                Some((_, _, existing)) => {
                    let mut existing = existing.clone();
                    // A file without a draft leaves the target's draft alone.
                    if kind == Kind::Flow && !object.contains_key("draft") {
                        existing.remove("draft");
                    }
                    let mut fields = changed_fields(&existing, object);
                    fields.extend(secret_fields);
                    if fields.is_empty() {
                        Status::Unchanged
                    } else {
                        Status::Changed(fields)
                    }
                }
            };
            out.push(Change {
                kind,
                name: name.clone(),
                status,
            });
        }
        // The return policy always exists; a file without one leaves it alone.
        if kind == Kind::ReturnPolicy && in_file.is_empty() {
            continue;
        }
        for (_, name, _) in now.iter().filter(|(k, _, _)| *k == kind) {
            if !in_file.iter().any(|(_, n, _)| n == name) {
                out.push(Change {
                    kind,
                    name: name.clone(),
                    status: Status::TargetOnly,
                });
            }
        }
    }
    out
}

fn changed_fields(a: &Map<String, Value>, b: &Map<String, Value>) -> Vec<String> {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k).unwrap_or(&Value::Null) != b.get(*k).unwrap_or(&Value::Null))
        .cloned()
        .collect()
}

/// Each object as compared: its fields without its name, secrets left out (they are compared
/// by value, see [`SecretChanges`]).
fn objects(setup: &Setup) -> Vec<(Kind, String, Map<String, Value>)> {
    fn fields<T: Serialize>(value: &T, name_key: &str) -> Map<String, Value> {
        match serde_json::to_value(value) {
            Ok(Value::Object(mut map)) => {
                map.remove(name_key);
                map
            }
            _ => Map::new(),
        }
    }
    let mut out = Vec::new();
    for n in &setup.nodes {
        out.push((Kind::Node, n.code.clone(), n.definition.clone()));
    }
    for g in &setup.node_groups {
        out.push((Kind::NodeGroup, g.name.clone(), g.definition.clone()));
    }
    for p in &setup.profiles {
        out.push((Kind::Profile, p.name.clone(), p.definition.clone()));
    }
    for p in &setup.policies {
        out.push((Kind::Policy, p.name.clone(), fields(p, "name")));
    }
    for f in &setup.flows {
        out.push((Kind::Flow, f.name.clone(), fields(f, "name")));
    }
    for p in &setup.providers {
        let mut map = fields(p, "name");
        if let Some(Value::Object(connection)) = map.get_mut("connection") {
            connection.retain(|_, v| !v.is_object());
        }
        out.push((Kind::Provider, p.name.clone(), map));
    }
    for s in &setup.subscriptions {
        let mut map = fields(s, "name");
        map.remove("secret");
        out.push((Kind::Subscription, s.name.clone(), map));
    }
    for a in &setup.alerts {
        out.push((Kind::Alert, a.name.clone(), a.definition.clone()));
    }
    for t in &setup.notification_templates {
        out.push((
            Kind::NotificationTemplate,
            t.name.clone(),
            t.definition.clone(),
        ));
    }
    if let Some(policy) = &setup.return_policy {
        out.push((Kind::ReturnPolicy, "default".into(), policy.clone()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::document::{FlowEntry, NodeEntry};
    use serde_json::json;

    fn node(code: &str, lat: f64) -> NodeEntry {
        NodeEntry {
            code: code.into(),
            definition: json!({"location": {"lat": lat, "lon": 0.0}})
                .as_object()
                .unwrap()
                .clone(),
        }
    }

    #[test]
    fn objects_are_added_changed_unchanged_or_only_in_the_target() {
        let current = Setup {
            nodes: vec![node("A", 1.0), node("B", 2.0), node("C", 3.0)],
            ..Setup::default()
        };
        let file = Setup {
            nodes: vec![node("A", 1.0), node("B", 5.0), node("D", 4.0)],
            ..Setup::default()
        };
        let changes = diff(&current, &file, &SecretChanges::new());
        let shown: Vec<String> = changes.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "= node A",
                "~ node B (location)",
                "+ node D",
                "- node C: only in the target, kept (import never removes)"
            ]
        );
    }

    #[test]
    fn a_flow_without_a_draft_in_the_file_leaves_the_targets_draft_alone() {
        let flow = |draft: Option<&str>| FlowEntry {
            name: "f".into(),
            active: Some("a".into()),
            draft: draft.map(str::to_owned),
        };
        let current = Setup {
            flows: vec![flow(Some("d"))],
            ..Setup::default()
        };
        let file = Setup {
            flows: vec![flow(None)],
            ..Setup::default()
        };
        assert_eq!(
            diff(&current, &file, &SecretChanges::new())[0].status,
            Status::Unchanged
        );
        let file = Setup {
            flows: vec![flow(Some("e"))],
            ..Setup::default()
        };
        assert_eq!(
            diff(&current, &file, &SecretChanges::new())[0].status,
            Status::Changed(vec!["draft".into()])
        );
    }

    #[test]
    fn a_secret_that_differs_changes_its_object() {
        let mut secrets = SecretChanges::new();
        secrets.insert((Kind::Node, "A".into()), vec!["token".into()]);
        let setup = Setup {
            nodes: vec![node("A", 1.0)],
            ..Setup::default()
        };
        assert_eq!(
            diff(&setup, &setup, &secrets)[0].to_string(),
            "~ node A (secret token)"
        );
    }
}
