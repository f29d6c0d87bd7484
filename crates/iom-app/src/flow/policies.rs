//! Stored policies in the executor: storing new versions, the versions a run pins when it
//! starts, and filter policies applied when a flow is chosen and before a step runs.
//!
//! A policy's newest version is the one in force. A run records, when it starts, the newest
//! version of every policy its flow names (`filter` of the flow and of its steps, `apply-policy`
//! without a `version`), and keeps using those: like a flow's own version, a policy published
//! while a run is under way applies to the runs that start after it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use iom_domain::{EventDraft, Order};
use iom_store::policies::{self as rows, NewPolicy, PolicyVersion};
use iom_store::{Conn, StoreError};
use serde_json::json;

use super::{Executor, FlowError};
use iom_flow::plan::{ExecutablePlan, NodeKind};
use iom_flow::policy::{Policy, PolicySet};
use iom_flow::source::parse_document;

/// Policies read during one pass (or one dispatch). Versions never change, so a loaded version
/// is good for the whole pass; the newest versions are read once, in the pass's transaction.
#[derive(Default)]
pub struct PolicyCache {
    latest: Option<BTreeMap<String, i64>>,
    loaded: HashMap<(String, i64), Arc<Policy>>,
}

impl PolicyCache {
    /// The newest version of every stored policy.
    pub fn latest(&mut self, conn: &mut dyn Conn) -> Result<&BTreeMap<String, i64>, StoreError> {
        if self.latest.is_none() {
            self.latest = Some(rows::latest_keys(conn)?.into_iter().collect());
        }
        Ok(self.latest.get_or_insert_with(BTreeMap::new))
    }

    /// Version `version` of `name`, or the newest when `None`; `None` when there is no such
    /// version.
    pub fn get(
        &mut self,
        conn: &mut dyn Conn,
        name: &str,
        version: Option<i64>,
    ) -> Result<Option<Arc<Policy>>, StoreError> {
        let version = match version {
            Some(v) => v,
            None => match self.latest(conn)?.get(name) {
                Some(v) => *v,
                None => return Ok(None),
            },
        };
        let key = (name.to_owned(), version);
        if let Some(policy) = self.loaded.get(&key) {
            return Ok(Some(policy.clone()));
        }
        let Some(row) = rows::get(conn, name, version)? else {
            return Ok(None);
        };
        let policy = Arc::new(decode(&row)?);
        self.loaded.insert(key, policy.clone());
        Ok(Some(policy))
    }

    /// The versions a new run of `plan` keeps: the newest of every policy the plan names.
    pub fn pins(
        &mut self,
        conn: &mut dyn Conn,
        plan: &ExecutablePlan,
    ) -> Result<BTreeMap<String, i64>, StoreError> {
        let names = referenced(plan);
        if names.is_empty() {
            return Ok(BTreeMap::new());
        }
        let latest = self.latest(conn)?;
        Ok(names
            .into_iter()
            .filter_map(|name| latest.get(&name).map(|v| (name, *v)))
            .collect())
    }

    /// Whether `order` passes every filter policy in `names`, each at its pinned version (the
    /// newest when not pinned). `Ok(Err(message))` when a policy is missing, is not a filter, or
    /// cannot be evaluated on this order.
    pub fn filters_pass(
        &mut self,
        conn: &mut dyn Conn,
        names: &[String],
        pins: &BTreeMap<String, i64>,
        order: Option<&Order>,
    ) -> Result<Result<bool, String>, StoreError> {
        for name in names {
            let pinned = pins.get(name).copied();
            let Some(policy) = self.get(conn, name, pinned)? else {
                return Ok(Err(match pinned {
                    Some(v) => format!("filter policy `{name}` has no version {v}"),
                    None => format!("filter policy `{name}` does not exist"),
                }));
            };
            if policy.kind() != iom_flow::PolicyKind::Filter {
                return Ok(Err(format!(
                    "policy `{name}` is {}, not a filter policy",
                    policy.kind().describe()
                )));
            }
            let Some(order) = order else {
                return Ok(Err(format!(
                    "filter policy `{name}` needs an order, and there is none"
                )));
            };
            match policy.evaluate(order) {
                Ok(outcome) if outcome.applies => {}
                Ok(_) => return Ok(Ok(false)),
                Err(e) => {
                    return Ok(Err(format!(
                        "filter policy `{name}` version {}: {e}",
                        policy.version
                    )));
                }
            }
        }
        Ok(Ok(true))
    }
}

fn decode(row: &PolicyVersion) -> Result<Policy, StoreError> {
    serde_json::from_str(&row.policy).map_err(|e| {
        StoreError::Corrupt(format!("policy {} version {}: {e}", row.name, row.version))
    })
}

/// Names of the policies a plan uses: its filters, its steps' filters, and the policies of
/// `apply-policy` steps that do not pin a version themselves.
pub fn referenced(plan: &ExecutablePlan) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = plan.filters.iter().cloned().collect();
    for node in &plan.nodes {
        names.extend(node.filters.iter().cloned());
        if let NodeKind::Step { uses, with, .. } = &node.kind
            && uses == "apply-policy"
            && with.get("version").is_none()
            && let Some(name) = with.get("policy").and_then(|p| p.as_str())
        {
            names.insert(name.to_owned());
        }
    }
    names
}

/// The newest version of every stored policy, as the compiler checks names against.
pub fn policy_set_in(conn: &mut dyn Conn) -> Result<PolicySet, StoreError> {
    let mut set = PolicySet::new();
    for row in rows::latest_versions(conn)? {
        set.insert(decode(&row)?);
    }
    Ok(set)
}

/// The `version` a policy document states, if it states one.
fn declared_version(text: &str) -> Option<i64> {
    let root = parse_document(text).ok()?;
    let (_, node) = root.get("version")?;
    match node.value {
        iom_flow::source::NodeValue::Int(v) => Some(v),
        _ => None,
    }
}

impl Executor {
    /// Checks a policy (YAML or JSON) and stores it as the next version of `name`, in force from
    /// now on for runs that start. The store numbers versions; a document that states a
    /// `version` must state the one it gets, so two people editing the same version do not
    /// silently replace each other's rules. A policy keeps its kind across versions, since flows
    /// name it for one use.
    pub async fn put_policy(
        &self,
        name: &str,
        text: &str,
        format: &str,
    ) -> Result<PolicyVersion, FlowError> {
        let policy = parse_named(name, text)?;
        let declared = declared_version(text);
        let new = NewPolicy {
            name: name.to_owned(),
            kind: policy.kind().as_str().to_owned(),
            format: format.to_owned(),
            source: text.to_owned(),
        };
        self.store
            .write(move |tx| store_policy_in(tx, &new, &policy, declared))
            .await?
    }

    /// Checks a policy as [`Executor::put_policy`] does before it stores it, writing nothing:
    /// parsed and type-checked, named `name`, of the kind of the stored versions, and stating
    /// (if at all) the version it would get. Answers the policy and that version. The editor
    /// checks with this as one types.
    pub async fn check_policy(&self, name: &str, text: &str) -> Result<(Policy, i64), FlowError> {
        let policy = parse_named(name, text)?;
        let declared = declared_version(text);
        let owned = name.to_owned();
        let latest = self
            .store
            .read(move |conn| rows::latest(conn, &owned))
            .await?;
        let kind = policy.kind().as_str();
        let next = next_version(name, kind, latest.as_ref(), declared)?;
        Ok((policy, next))
    }
}

/// Parses a policy stored as `name`.
fn parse_named(name: &str, text: &str) -> Result<Policy, FlowError> {
    let policy = Policy::parse(text)?;
    if policy.name != name {
        return Err(FlowError::NameMismatch {
            expected: name.to_owned(),
            at: super::name_position(text),
            found: policy.name,
        });
    }
    Ok(policy)
}

/// The number the next version of policy `name` gets after `latest`, or why it cannot be
/// stored: a policy keeps its kind, and a `declared` version must be that number.
fn next_version(
    name: &str,
    kind: &str,
    latest: Option<&PolicyVersion>,
    declared: Option<i64>,
) -> Result<i64, FlowError> {
    if let Some(latest) = latest
        && latest.kind != kind
    {
        return Err(FlowError::Conflict(format!(
            "policy {name} is a {} policy; a new version cannot be a {kind} policy",
            latest.kind
        )));
    }
    let next = latest.map_or(1, |v| v.version + 1);
    if let Some(declared) = declared
        && declared != next
    {
        return Err(FlowError::Conflict(format!(
            "the document states version {declared}, but this version of policy {name} \
             is {next}: leave `version` out or state {next}"
        )));
    }
    Ok(next)
}

/// Stores `policy` (parsed from `new.source`) as the next version of its name inside a write.
/// `declared` is the version the document states, if any, which must be the one it gets; a
/// policy keeps its kind across versions. `Ok(Err(..))` when it is refused, with nothing written.
pub fn store_policy_in(
    tx: &mut iom_store::Tx<'_>,
    new: &NewPolicy,
    policy: &Policy,
    declared: Option<i64>,
) -> Result<Result<PolicyVersion, FlowError>, StoreError> {
    let now = tx.now();
    let latest = rows::latest(tx.conn(), &new.name)?;
    if let Err(refused) = next_version(&new.name, &new.kind, latest.as_ref(), declared) {
        return Ok(Err(refused));
    }
    let before = rows::audit_doc(tx.conn(), &new.name)?;
    let stored = rows::insert(tx.conn(), new, now, |version| {
        let mut policy = policy.clone();
        policy.version = u32::try_from(version)
            .map_err(|_| StoreError::Corrupt("too many policy versions".into()))?;
        Ok(serde_json::to_string(&policy)?)
    })?;
    let after = rows::audit_doc(tx.conn(), &stored.name)?;
    tx.audit(
        &format!("policy:{}", stored.name),
        before.as_ref(),
        after.as_ref(),
    )?;
    tx.emit(EventDraft::new(
        "policy.published",
        format!("policy:{}", stored.name),
        json!({"name": stored.name, "version": stored.version, "kind": stored.kind}),
    ));
    Ok(Ok(stored))
}
