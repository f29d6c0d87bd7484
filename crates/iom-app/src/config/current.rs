//! What a database holds now, read in one transaction, and the same as a [`Setup`].
//!
//! Objects iom provides out of the box count as present: the built-in flows (installed when a
//! server first starts), the default notification templates and the default return policy. A
//! file that keeps them as they are therefore changes nothing, on a database a server has
//! opened or not.

use std::collections::BTreeMap;

use iom_domain::ReturnPolicy;
use iom_flow::policy::PolicySet;
use iom_providers::notify::{self, Template};
use iom_store::flows::{self as flow_rows, FlowVersion};
use iom_store::insights::{AlertRecord, alerts_in};
use iom_store::nodes::{DocKind, NamedDoc, NodeRecord, docs_in, nodes_in};
use iom_store::notifications::templates_in;
use iom_store::policies::{self as policy_rows, PolicyVersion};
use iom_store::providers::{ProviderRecord, SubscriptionRecord, providers_in, subscriptions_in};
use iom_store::{Conn, StoreError};
use serde::Serialize;
use serde_json::{Map, Value};

use super::document::{
    ConnectionValue, FlowEntry, NamedEntry, NodeEntry, PolicyEntry, ProviderEntry, Setup,
    SubscriptionEntry,
};
use super::secrets;

/// One flow's versions that a setup names.
#[derive(Debug, Clone)]
pub struct FlowState {
    pub name: String,
    pub published: Option<FlowVersion>,
    /// The newest version, when it is a draft.
    pub draft: Option<FlowVersion>,
    /// A built-in flow no server has installed here yet: `published` is its definition as
    /// shipped.
    pub builtin_pending: bool,
}

/// Everything a setup holds, as stored.
pub struct Current {
    pub nodes: Vec<NodeRecord>,
    pub groups: Vec<NamedDoc>,
    pub profiles: Vec<NamedDoc>,
    pub policies: Vec<PolicyVersion>,
    pub policy_set: PolicySet,
    pub flows: Vec<FlowState>,
    pub providers: Vec<ProviderRecord>,
    pub subscriptions: Vec<SubscriptionRecord>,
    pub alerts: Vec<AlertRecord>,
    /// The templates in effect: the defaults, replaced by those saved.
    pub templates: Vec<(String, Template)>,
    pub return_policy: ReturnPolicy,
}

/// Reads the current setup on one connection.
pub fn read(conn: &mut dyn Conn) -> Result<Current, StoreError> {
    let mut flows: BTreeMap<String, FlowState> = BTreeMap::new();
    for v in flow_rows::published(conn)? {
        flows.insert(
            v.name.clone(),
            FlowState {
                name: v.name.clone(),
                published: Some(v),
                draft: None,
                builtin_pending: false,
            },
        );
    }
    for v in flow_rows::latest_versions(conn)? {
        let state = flows.entry(v.name.clone()).or_insert_with(|| FlowState {
            name: v.name.clone(),
            published: None,
            draft: None,
            builtin_pending: false,
        });
        if v.status == "draft" {
            state.draft = Some(v);
        }
    }
    for source in iom_flow::DEFAULT_FLOWS {
        let plan = iom_flow::compile(source)
            .map_err(|e| StoreError::Corrupt(format!("a built-in flow: {e}")))?;
        flows.entry(plan.name.clone()).or_insert_with(|| FlowState {
            name: plan.name.clone(),
            published: Some(FlowVersion {
                name: plan.name.clone(),
                version: 0,
                flow_type: plan.flow_type.as_str().to_owned(),
                status: "published".into(),
                format: "yaml".into(),
                source: source.to_owned(),
                plan: String::new(),
                created_at: chrono::DateTime::default(),
                published_at: None,
                unpublished_at: None,
            }),
            draft: None,
            builtin_pending: true,
        });
    }
    let mut templates: BTreeMap<String, Template> = notify::defaults()
        .into_iter()
        .map(|(name, t)| (name.to_owned(), t))
        .collect();
    for record in templates_in(conn)? {
        templates.insert(record.name, serde_json::from_value(record.doc)?);
    }
    Ok(Current {
        nodes: nodes_in(conn)?,
        groups: docs_in(conn, DocKind::NodeGroup)?,
        profiles: docs_in(conn, DocKind::Profile)?,
        policies: policy_rows::latest_versions(conn)?,
        policy_set: crate::flow::policies::policy_set_in(conn)?,
        flows: flows.into_values().collect(),
        providers: providers_in(conn)?,
        subscriptions: subscriptions_in(conn)?,
        alerts: alerts_in(conn)?,
        templates: templates.into_iter().collect(),
        return_policy: iom_store::returns::policy(conn)?,
    })
}

/// A value's JSON object without the key that names it (the file puts the name first).
pub(crate) fn object_without<T: Serialize>(
    value: &T,
    key: &str,
) -> Result<Map<String, Value>, StoreError> {
    match serde_json::to_value(value)? {
        Value::Object(mut map) => {
            map.remove(key);
            Ok(map)
        }
        _ => Err(StoreError::Corrupt(format!(
            "a stored {key} is not an object"
        ))),
    }
}

impl Current {
    /// The setup as a file states it, every object in its canonical form.
    pub fn setup(&self) -> Result<Setup, StoreError> {
        let corrupt = |e: crate::fulfillment::SetupError| StoreError::Corrupt(e.to_string());
        let mut setup = Setup::default();
        for record in &self.nodes {
            let node = crate::fulfillment::node_of(record).map_err(corrupt)?;
            setup.nodes.push(NodeEntry {
                code: record.code.clone(),
                definition: object_without(&node, "code")?,
            });
        }
        for doc in &self.groups {
            let group = crate::fulfillment::group_of(doc).map_err(corrupt)?;
            setup.node_groups.push(NamedEntry {
                name: doc.name.clone(),
                definition: object_without(&group, "name")?,
            });
        }
        for doc in &self.profiles {
            let profile = crate::fulfillment::profile_of(doc).map_err(corrupt)?;
            setup.profiles.push(NamedEntry {
                name: doc.name.clone(),
                definition: object_without(&profile, "name")?,
            });
        }
        for p in &self.policies {
            setup.policies.push(PolicyEntry {
                name: p.name.clone(),
                definition: p.source.clone(),
            });
        }
        for f in &self.flows {
            setup.flows.push(FlowEntry {
                name: f.name.clone(),
                active: f.published.as_ref().map(|v| v.source.clone()),
                draft: f.draft.as_ref().map(|v| v.source.clone()),
            });
        }
        for p in &self.providers {
            setup.providers.push(provider_entry(p));
        }
        for s in &self.subscriptions {
            setup.subscriptions.push(SubscriptionEntry {
                name: s.name.clone(),
                url: s.url.clone(),
                types: s.types.clone(),
                secret: secrets::subscription_ref(&s.name),
            });
        }
        for a in &self.alerts {
            setup.alerts.push(NamedEntry {
                name: a.name.clone(),
                definition: object_without(&a.definition, "name")?,
            });
        }
        for (name, template) in &self.templates {
            setup.notification_templates.push(NamedEntry {
                name: name.clone(),
                definition: object_without(template, "name")?,
            });
        }
        setup.return_policy = Some(object_without(&self.return_policy, "")?);
        Ok(setup)
    }
}

fn provider_entry(p: &ProviderRecord) -> ProviderEntry {
    let config = &p.config;
    let mut connection: BTreeMap<String, ConnectionValue> = config["connection"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), ConnectionValue::Value(v.as_str()?.to_owned()))))
        .collect();
    for field in p.secrets.keys() {
        connection.insert(
            field.clone(),
            ConnectionValue::Secret(secrets::provider_ref(&p.name, field)),
        );
    }
    let object = |key: &str| config[key].as_object().cloned().unwrap_or_default();
    ProviderEntry {
        name: p.name.clone(),
        kind: p.kind.clone(),
        connection,
        mappings: object("mappings"),
        settings: object("settings"),
        transformation: config["transformation"].as_str().map(str::to_owned),
    }
}
