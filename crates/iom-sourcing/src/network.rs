//! The fulfilment network as the solvers see it: nodes indexed by position, groups resolved, cost
//! models converted once, the postal centroid table.

use std::collections::{BTreeMap, HashMap};

use rust_decimal::Decimal;

use iom_domain::GeoPoint;

use crate::cost::Prepared;
use crate::error::SourcingError;
use crate::geo::PostalCentroids;
use crate::node::{Node, NodeGroup};

/// A node's position in its [`Network`]. Availability and plans refer to nodes by this index so that
/// the hot path never hashes node codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub(crate) u32);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Nodes, node groups and postal centroids, validated and indexed. Build it once when the
/// configuration changes and share it between plans.
#[derive(Debug, Clone)]
pub struct Network {
    nodes: Vec<Node>,
    index: HashMap<String, NodeId>,
    groups: Vec<NodeGroup>,
    group_members: Vec<Vec<NodeId>>,
    group_index: HashMap<String, usize>,
    /// The lowest `max_distance_km` of the groups each node belongs to.
    group_limit: Vec<f64>,
    pub(crate) costs: Vec<Prepared>,
    centroids: PostalCentroids,
}

impl Network {
    pub fn new(nodes: Vec<Node>, groups: Vec<NodeGroup>) -> Result<Self, SourcingError> {
        let mut index = HashMap::with_capacity(nodes.len());
        for (i, node) in nodes.iter().enumerate() {
            if node.code.is_empty() {
                return Err(SourcingError::EmptyNodeCode);
            }
            if let Some(loc) = node.location
                && GeoPoint::new(loc.lat, loc.lon).is_none()
            {
                return Err(SourcingError::InvalidNode {
                    node: node.code.clone(),
                    message: "location out of range".into(),
                });
            }
            if node.max_distance_km.is_some_and(|d| d.is_nan() || d < 0.0) {
                return Err(SourcingError::InvalidNode {
                    node: node.code.clone(),
                    message: "max_distance_km must not be negative".into(),
                });
            }
            if index.insert(node.code.clone(), NodeId(i as u32)).is_some() {
                return Err(SourcingError::DuplicateNode(node.code.clone()));
            }
        }
        let mut group_index = HashMap::new();
        let mut group_members = Vec::with_capacity(groups.len());
        let mut group_limit = vec![f64::INFINITY; nodes.len()];
        for (g, group) in groups.iter().enumerate() {
            if group_index.insert(group.name.clone(), g).is_some() {
                return Err(SourcingError::DuplicateGroup(group.name.clone()));
            }
            let mut members = Vec::with_capacity(group.nodes.len());
            for code in &group.nodes {
                let id = *index
                    .get(code)
                    .ok_or_else(|| SourcingError::UnknownGroupMember {
                        group: group.name.clone(),
                        node: code.clone(),
                    })?;
                if let Some(limit) = group.max_distance_km {
                    let l = &mut group_limit[id.index()];
                    *l = l.min(limit);
                }
                members.push(id);
            }
            group_members.push(members);
        }
        let costs = nodes.iter().map(|n| Prepared::new(&n.costs)).collect();
        Ok(Self {
            nodes,
            index,
            groups,
            group_members,
            group_index,
            group_limit,
            costs,
            centroids: PostalCentroids::default(),
        })
    }

    pub fn with_centroids(mut self, centroids: PostalCentroids) -> Self {
        self.centroids = centroids;
        self
    }

    /// This network with the shipments of the nodes in `prices` priced by a carrier: the price
    /// per shipment becomes the quoted rate and distance and rate-table prices fall away; the
    /// price per unit (handling) stays.
    pub fn priced_by(&self, prices: &BTreeMap<String, Decimal>) -> Network {
        let mut next = self.clone();
        for (i, node) in next.nodes.iter_mut().enumerate() {
            if let Some(price) = prices.get(&node.code) {
                node.costs.per_shipment = *price;
                node.costs.per_km = Decimal::ZERO;
                node.costs.rate_table = None;
                next.costs[i] = Prepared::new(&node.costs);
            }
        }
        next
    }

    pub fn centroids(&self) -> &PostalCentroids {
        &self.centroids
    }

    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    pub fn groups(&self) -> &[NodeGroup] {
        &self.groups
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.index()]
    }

    pub fn id(&self, code: &str) -> Option<NodeId> {
        self.index.get(code).copied()
    }

    pub fn ids(&self) -> impl Iterator<Item = NodeId> + use<> {
        (0..self.nodes.len() as u32).map(NodeId)
    }

    /// Members of the group called `name`.
    pub fn group(&self, name: &str) -> Option<&[NodeId]> {
        self.group_index
            .get(name)
            .map(|&g| self.group_members[g].as_slice())
    }

    /// Nodes named by `name`: the node with that code, else the members of the group with that name.
    pub(crate) fn resolve(&self, name: &str) -> Option<Vec<NodeId>> {
        self.id(name)
            .map(|id| vec![id])
            .or_else(|| self.group(name).map(<[NodeId]>::to_vec))
    }

    pub(crate) fn group_limit(&self, id: NodeId) -> f64 {
        self.group_limit[id.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::NodeKind;

    fn node(code: &str) -> Node {
        Node::new(
            code,
            NodeKind::Warehouse,
            GeoPoint::new(40.0, -75.0).unwrap(),
        )
    }

    #[test]
    fn rejects_duplicates_and_unknown_members() {
        assert_eq!(
            Network::new(vec![node("A"), node("A")], vec![]).unwrap_err(),
            SourcingError::DuplicateNode("A".into())
        );
        let group = NodeGroup {
            name: "east".into(),
            nodes: vec!["B".into()],
            max_distance_km: None,
        };
        assert_eq!(
            Network::new(vec![node("A")], vec![group]).unwrap_err(),
            SourcingError::UnknownGroupMember {
                group: "east".into(),
                node: "B".into()
            }
        );
    }

    #[test]
    fn group_limit_is_the_lowest_of_the_groups() {
        let groups = vec![
            NodeGroup {
                name: "g1".into(),
                nodes: vec!["A".into()],
                max_distance_km: Some(500.0),
            },
            NodeGroup {
                name: "g2".into(),
                nodes: vec!["A".into(), "B".into()],
                max_distance_km: Some(300.0),
            },
        ];
        let net = Network::new(vec![node("A"), node("B"), node("C")], groups).unwrap();
        assert_eq!(net.group_limit(net.id("A").unwrap()), 300.0);
        assert_eq!(net.group_limit(net.id("C").unwrap()), f64::INFINITY);
        assert_eq!(net.resolve("g1"), Some(vec![net.id("A").unwrap()]));
        assert_eq!(net.resolve("C"), Some(vec![net.id("C").unwrap()]));
        assert_eq!(net.resolve("nope"), None);
    }
}
