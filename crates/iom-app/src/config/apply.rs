//! Writing the changes of an import in one transaction: all of them or, when anything fails,
//! none. Only objects that are added or changed are written, so an import that changes nothing
//! writes nothing (no new versions, no events, no `updated_at` moved).

use iom_store::flows as flow_rows;
use iom_store::nodes::{DocKind, put_doc_in, put_node_in};
use iom_store::{StoreError, Tx};

use super::check::Checked;
use super::diff::{Change, Kind, Status};
use crate::flow::policies::store_policy_in;
use crate::flow::{publish_in, unpublish_in};

/// Applies `changes` (the diff of `checked` against the target) inside `tx`. `Ok(Err(message))`
/// when the store refuses one (a policy changed its kind meanwhile): the caller rolls back.
pub fn apply(
    tx: &mut Tx<'_>,
    checked: &Checked,
    changes: &[Change],
    subscription_start: i64,
) -> Result<Result<(), String>, StoreError> {
    for change in changes {
        if !matches!(change.status, Status::Added | Status::Changed(_)) {
            continue;
        }
        let name = change.name.as_str();
        let missing =
            || StoreError::Corrupt(format!("{} {name} was not checked", change.kind.label()));
        match change.kind {
            Kind::Node => {
                put_node_in(tx, checked.nodes.get(name).ok_or_else(missing)?)?;
            }
            Kind::NodeGroup => {
                put_doc_in(
                    tx,
                    DocKind::NodeGroup,
                    name,
                    checked.groups.get(name).ok_or_else(missing)?,
                )?;
            }
            Kind::Profile => {
                put_doc_in(
                    tx,
                    DocKind::Profile,
                    name,
                    checked.profiles.get(name).ok_or_else(missing)?,
                )?;
            }
            Kind::Policy => {
                let (new, policy) = checked.policies.get(name).ok_or_else(missing)?;
                if let Err(e) = store_policy_in(tx, new, policy, None)? {
                    return Ok(Err(format!("policy {name}: {e}")));
                }
            }
            Kind::Flow => flow(tx, checked.flows.get(name).ok_or_else(missing)?)?,
            Kind::Provider => {
                iom_store::providers::put_provider_in(
                    tx,
                    checked.providers.get(name).ok_or_else(missing)?,
                )?;
            }
            Kind::Subscription => {
                iom_store::providers::put_subscription_in(
                    tx,
                    checked.subscriptions.get(name).ok_or_else(missing)?,
                    subscription_start,
                )?;
            }
            Kind::Alert => {
                iom_store::insights::put_alert_in(
                    tx,
                    name,
                    checked.alerts.get(name).ok_or_else(missing)?,
                )?;
            }
            Kind::NotificationTemplate => {
                let template = checked.templates.get(name).ok_or_else(missing)?;
                let doc = serde_json::to_value(template)?;
                iom_store::notifications::put_template_in(tx, name, &doc)?;
            }
            Kind::ReturnPolicy => {
                let policy = checked.return_policy.as_ref().ok_or_else(missing)?;
                iom_store::returns::put_policy_in(tx, policy)?;
            }
        }
    }
    Ok(Ok(()))
}

/// Makes a flow's active version and draft those of the file: a definition equal to a stored
/// version's is that version (published again, or left as it is), never a new one.
fn flow(tx: &mut Tx<'_>, plan: &super::check::FlowPlan) -> Result<(), StoreError> {
    crate::flow::audited_flow(tx, &plan.name.clone(), |tx| flow_versions(tx, plan))
}

fn flow_versions(tx: &mut Tx<'_>, plan: &super::check::FlowPlan) -> Result<(), StoreError> {
    let now = tx.now();
    let name = plan.name.as_str();
    let versions = flow_rows::versions(tx.conn(), name)?;
    let published = versions.iter().find(|v| v.status == "published");
    match &plan.active {
        Some(active) if published.is_none_or(|p| p.source != active.source) => {
            let version = match versions
                .first()
                .filter(|v| v.status == "draft" && v.source == active.source)
            {
                Some(draft) => draft.version,
                None => flow_rows::insert_draft(tx.conn(), active, now)?.version,
            };
            publish_in(tx, name, version, &active.flow_type, now)?;
        }
        None if published.is_some() => {
            unpublish_in(tx, name, now)?;
        }
        // A built-in flow no server installed yet is stored unpublished, or the next server
        // start would publish it.
        None if versions.is_empty() => {
            if let Some(builtin) = builtin(name)? {
                flow_rows::seed_published(tx.conn(), &builtin, now)?;
                unpublish_in(tx, name, now)?;
            }
        }
        _ => {}
    }
    if let Some(draft) = &plan.draft {
        let newest = flow_rows::versions(tx.conn(), name)?;
        let same = newest
            .first()
            .is_some_and(|v| v.status == "draft" && v.source == draft.source);
        if !same {
            flow_rows::insert_draft(tx.conn(), draft, now)?;
        }
    }
    Ok(())
}

/// The built-in flow named `name`, as the executor installs it.
fn builtin(name: &str) -> Result<Option<flow_rows::NewVersion>, StoreError> {
    for source in iom_flow::DEFAULT_FLOWS {
        let plan = iom_flow::compile(source)
            .map_err(|e| StoreError::Corrupt(format!("a built-in flow: {e}")))?;
        if plan.name == name {
            return Ok(Some(flow_rows::NewVersion {
                name: plan.name.clone(),
                flow_type: plan.flow_type.as_str().to_owned(),
                format: "yaml".into(),
                source: source.to_owned(),
                plan: serde_json::to_string(&plan)?,
            }));
        }
    }
    Ok(None)
}
