//! The store-to-engine glue: builds the engine's [`Network`], a [`Profile`] and the
//! [`Availability`] of some SKUs from what is stored, on a connection (inside a flow pass) or
//! through the store's readers (a plan, a brokering run, `iom simulate`).
//!
//! Availability of a (SKU, node) is `on_hand − reserved − allocated`, less the part of a per-SKU
//! safety stock override that exceeds the node's own safety stock. The engine itself holds back
//! the node's safety stock (and may relax it when a profile makes safety stock soft), so with
//! safety stock respected a plan never uses more than the inventory's `available`; with it relaxed
//! it uses at most what is on hand and not promised. An override *below* the node's safety stock
//! does not lower what planning holds back.

use std::collections::HashSet;

use iom_sourcing::{Availability, Network, Node, NodeGroup, Profile, SourcingError};
use iom_store::inventory::Balance;
use iom_store::nodes::{DocKind, NamedDoc, NodeRecord};
use iom_store::{Conn, Store, StoreError};
use thiserror::Error;

/// The name of the profile used when a request names none (if it is stored).
pub const DEFAULT_PROFILE: &str = "default";

#[derive(Debug, Error)]
pub enum SetupError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored definition no longer reads as the engine's type.
    #[error("stored {what} {name:?} is not readable: {message}")]
    Stored {
        what: &'static str,
        name: String,
        message: String,
    },
    #[error(transparent)]
    Engine(#[from] SourcingError),
    /// The planning task stopped before it answered (the process is shutting down).
    #[error("planning was interrupted: {0}")]
    Interrupted(String),
}

pub fn node_of(record: &NodeRecord) -> Result<Node, SetupError> {
    let mut node: Node =
        serde_json::from_value(record.doc.clone()).map_err(|e| SetupError::Stored {
            what: "node",
            name: record.code.clone(),
            message: e.to_string(),
        })?;
    node.code.clone_from(&record.code);
    Ok(node)
}

pub fn group_of(doc: &NamedDoc) -> Result<NodeGroup, SetupError> {
    let mut group: NodeGroup =
        serde_json::from_value(doc.doc.clone()).map_err(|e| SetupError::Stored {
            what: "node group",
            name: doc.name.clone(),
            message: e.to_string(),
        })?;
    group.name.clone_from(&doc.name);
    Ok(group)
}

pub fn profile_of(doc: &NamedDoc) -> Result<Profile, SetupError> {
    let mut profile: Profile =
        serde_json::from_value(doc.doc.clone()).map_err(|e| SetupError::Stored {
            what: "profile",
            name: doc.name.clone(),
            message: e.to_string(),
        })?;
    profile.name.clone_from(&doc.name);
    Ok(profile)
}

/// Nodes and node groups as one network. Group members are checked when a group is stored and
/// nodes are never deleted; dropping unknown members only keeps a hand-edited database from
/// stopping all planning.
pub fn network_of(records: &[NodeRecord], groups: &[NamedDoc]) -> Result<Network, SetupError> {
    let nodes = records.iter().map(node_of).collect::<Result<Vec<_>, _>>()?;
    let codes: HashSet<&str> = nodes.iter().map(|n| n.code.as_str()).collect();
    let mut out = Vec::new();
    for doc in groups {
        let mut group = group_of(doc)?;
        group.nodes.retain(|c| codes.contains(c.as_str()));
        out.push(group);
    }
    Ok(Network::new(nodes, out)?)
}

/// All stored nodes and node groups, on any connection (inside a write as well).
pub fn network_in(conn: &mut dyn Conn) -> Result<Network, SetupError> {
    let records = iom_store::nodes::nodes_in(conn)?;
    let groups = iom_store::nodes::docs_in(conn, DocKind::NodeGroup)?;
    network_of(&records, &groups)
}

/// The profile called `name`; the stored profile `default`, else the engine's default, when the
/// name is `default` and none is stored. `Ok(None)` when another named profile does not exist.
pub fn profile_in(conn: &mut dyn Conn, name: &str) -> Result<Option<Profile>, SetupError> {
    match iom_store::nodes::doc_in(conn, DocKind::Profile, name)? {
        Some(doc) => Ok(Some(profile_of(&doc)?)),
        None if name == DEFAULT_PROFILE => Ok(Some(Profile::default())),
        None => Ok(None),
    }
}

/// See the module documentation for how a balance becomes units the engine may plan with.
/// Balances at nodes the network does not know are skipped: nothing can ship from there.
pub fn availability_of(network: &Network, balances: &[Balance]) -> Availability {
    let mut availability = Availability::new(network);
    for b in balances {
        let Some(id) = network.id(&b.node) else {
            continue;
        };
        let node_safety = i64::from(network.node(id).safety_stock);
        let extra_safety = (b.safety_stock - node_safety).max(0);
        let units = b.on_hand - b.reserved - b.allocated - extra_safety;
        let units = u32::try_from(units.max(0)).unwrap_or(u32::MAX);
        availability.set(&b.sku, id, units);
    }
    availability
}

/// All stored nodes and node groups as one network.
pub async fn load_network(store: &Store) -> Result<Network, SetupError> {
    let nodes = store.list_nodes().await?;
    let groups = store.list_docs(DocKind::NodeGroup).await?;
    network_of(&nodes, &groups)
}

/// The profile called `name`; without a name the stored profile `default`, else the engine's
/// default. `Ok(None)` when a named profile does not exist.
pub async fn load_profile(
    store: &Store,
    name: Option<&str>,
) -> Result<Option<Profile>, SetupError> {
    let wanted = name.unwrap_or(DEFAULT_PROFILE);
    match store.get_doc(DocKind::Profile, wanted.to_owned()).await? {
        Some(doc) => Ok(Some(profile_of(&doc)?)),
        None if name.is_none() => Ok(Some(Profile::default())),
        None => Ok(None),
    }
}

/// What can be promised of `skus` at every node of `network`, from the stored balances.
pub async fn load_availability(
    store: &Store,
    network: &Network,
    skus: Vec<String>,
) -> Result<Availability, SetupError> {
    let balances = if skus.is_empty() {
        Vec::new()
    } else {
        store.balances(skus, Vec::new()).await?
    };
    Ok(availability_of(network, &balances))
}

#[cfg(test)]
mod tests {
    use iom_domain::GeoPoint;
    use iom_sourcing::NodeKind;

    use super::*;

    fn balance(node: &str, on_hand: i64, reserved: i64, allocated: i64, safety: i64) -> Balance {
        Balance {
            sku: "S".into(),
            node: node.into(),
            on_hand,
            reserved,
            allocated,
            safety_stock: safety,
            available: on_hand - reserved - allocated - safety,
            node_kind: None,
        }
    }

    #[test]
    fn balances_become_units_less_promises_and_extra_safety_stock() {
        let p = GeoPoint::new(0.0, 0.0).unwrap();
        let mut b = Node::new("B", NodeKind::Store, p);
        b.safety_stock = 2;
        let net = Network::new(vec![Node::new("A", NodeKind::Warehouse, p), b], vec![]).unwrap();
        let a = availability_of(
            &net,
            &[
                // No override: the node's own safety stock (0) is all there is.
                balance("A", 10, 3, 1, 0),
                // An override of 5 above the node's 2: 3 more are held back here, 2 by the engine.
                balance("B", 10, 0, 0, 5),
                balance("GONE", 50, 0, 0, 0),
            ],
        );
        assert_eq!(a.stock_of(&net, "S", "A"), 6);
        assert_eq!(a.stock_of(&net, "S", "B"), 7);
        let over = availability_of(&net, &[balance("A", 2, 5, 0, 0)]);
        assert_eq!(over.stock_of(&net, "S", "A"), 0);
    }
}
