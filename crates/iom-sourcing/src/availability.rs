//! Units available per (SKU, node) and capacity left per node, held compactly: SKUs are interned and
//! each SKU keeps a short list of the nodes that hold it, so planning a line touches only those.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::SourcingError;
use crate::network::{Network, NodeId};

/// An interned SKU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SkuId(u32);

/// One (SKU, node, quantity) fact, as it arrives from inventory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockRecord {
    pub sku: String,
    pub node: String,
    pub quantity: u32,
}

/// What can be promised right now. Quantities are on hand less reserved: the engine itself holds back
/// each node's safety stock when the profile says so. Capacity starts at each node's daily capacity;
/// set what is already used today with [`Availability::set_capacity_used`].
#[derive(Debug, Clone)]
pub struct Availability {
    sku_index: HashMap<String, SkuId>,
    skus: Vec<String>,
    /// Per SKU, (node, units) sorted by node.
    stock: Vec<Vec<(NodeId, u32)>>,
    /// Per node, what is left of today's capacity; `None` is unlimited.
    capacity: Vec<Option<u32>>,
}

impl Availability {
    pub fn new(network: &Network) -> Self {
        Self {
            sku_index: HashMap::new(),
            skus: Vec::new(),
            stock: Vec::new(),
            capacity: network.nodes().iter().map(|n| n.daily_capacity).collect(),
        }
    }

    pub fn from_records(network: &Network, records: &[StockRecord]) -> Result<Self, SourcingError> {
        let mut a = Self::new(network);
        for r in records {
            a.set_stock(network, &r.sku, &r.node, r.quantity)?;
        }
        Ok(a)
    }

    fn intern(&mut self, sku: &str) -> SkuId {
        if let Some(&id) = self.sku_index.get(sku) {
            return id;
        }
        let id = SkuId(self.skus.len() as u32);
        self.sku_index.insert(sku.to_owned(), id);
        self.skus.push(sku.to_owned());
        self.stock.push(Vec::new());
        id
    }

    /// Sets the units of `sku` available at the node with code `node`.
    pub fn set_stock(
        &mut self,
        network: &Network,
        sku: &str,
        node: &str,
        quantity: u32,
    ) -> Result<(), SourcingError> {
        let id = network
            .id(node)
            .ok_or_else(|| SourcingError::UnknownNode(node.to_owned()))?;
        self.set(sku, id, quantity);
        Ok(())
    }

    /// Sets the units of `sku` available at `node`.
    pub fn set(&mut self, sku: &str, node: NodeId, quantity: u32) {
        let sku = self.intern(sku);
        let list = &mut self.stock[sku.0 as usize];
        match list.binary_search_by_key(&node, |e| e.0) {
            Ok(i) if quantity == 0 => {
                list.remove(i);
            }
            Ok(i) => list[i].1 = quantity,
            Err(_) if quantity == 0 => {}
            Err(i) => list.insert(i, (node, quantity)),
        }
    }

    /// Records that the node with code `node` has already used `used` of today's capacity.
    pub fn set_capacity_used(
        &mut self,
        network: &Network,
        node: &str,
        used: u32,
    ) -> Result<(), SourcingError> {
        let id = network
            .id(node)
            .ok_or_else(|| SourcingError::UnknownNode(node.to_owned()))?;
        self.capacity[id.index()] = network
            .node(id)
            .daily_capacity
            .map(|c| c.saturating_sub(used));
        Ok(())
    }

    pub fn sku(&self, sku: &str) -> Option<SkuId> {
        self.sku_index.get(sku).copied()
    }

    pub fn sku_name(&self, sku: SkuId) -> &str {
        &self.skus[sku.0 as usize]
    }

    /// The nodes holding `sku`, with their units, in node order.
    pub fn holdings(&self, sku: SkuId) -> &[(NodeId, u32)] {
        &self.stock[sku.0 as usize]
    }

    pub fn stock(&self, sku: SkuId, node: NodeId) -> u32 {
        let list = &self.stock[sku.0 as usize];
        list.binary_search_by_key(&node, |e| e.0)
            .map_or(0, |i| list[i].1)
    }

    /// Units of `sku` at the node with code `node`, for callers that think in codes.
    pub fn stock_of(&self, network: &Network, sku: &str, node: &str) -> u32 {
        match (self.sku(sku), network.id(node)) {
            (Some(s), Some(n)) => self.stock(s, n),
            _ => 0,
        }
    }

    /// Capacity left today at `node`; `None` is unlimited.
    pub fn capacity(&self, node: NodeId) -> Option<u32> {
        self.capacity[node.index()]
    }

    pub(crate) fn node_count(&self) -> usize {
        self.capacity.len()
    }

    pub(crate) fn check(&self, network: &Network) -> Result<(), SourcingError> {
        if self.node_count() == network.len() {
            Ok(())
        } else {
            Err(SourcingError::NetworkMismatch {
                expected: network.len(),
                actual: self.node_count(),
            })
        }
    }

    /// Removes promised units; never goes below zero.
    pub(crate) fn take(&mut self, sku: SkuId, node: NodeId, quantity: u32) {
        let list = &mut self.stock[sku.0 as usize];
        if let Ok(i) = list.binary_search_by_key(&node, |e| e.0) {
            list[i].1 = list[i].1.saturating_sub(quantity);
        }
    }

    pub(crate) fn use_capacity(&mut self, node: NodeId, amount: u32) {
        if let Some(c) = &mut self.capacity[node.index()] {
            *c = c.saturating_sub(amount);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{Node, NodeKind};
    use iom_domain::GeoPoint;

    #[test]
    fn set_take_and_capacity() {
        let p = GeoPoint::new(0.0, 0.0).unwrap();
        let mut b = Node::new("B", NodeKind::Store, p);
        b.daily_capacity = Some(10);
        let net = Network::new(vec![Node::new("A", NodeKind::Warehouse, p), b], vec![]).unwrap();
        let mut a = Availability::new(&net);
        a.set_stock(&net, "SKU", "B", 5).unwrap();
        a.set_stock(&net, "SKU", "A", 3).unwrap();
        let sku = a.sku("SKU").unwrap();
        let (na, nb) = (net.id("A").unwrap(), net.id("B").unwrap());
        assert_eq!(a.holdings(sku), &[(na, 3), (nb, 5)]);
        a.take(sku, nb, 7);
        assert_eq!(a.stock(sku, nb), 0);
        a.set_capacity_used(&net, "B", 4).unwrap();
        assert_eq!(a.capacity(nb), Some(6));
        assert_eq!(a.capacity(na), None);
        a.set("SKU", na, 0);
        assert_eq!(a.holdings(sku), &[(nb, 0)]);
        assert!(a.set_stock(&net, "SKU", "Z", 1).is_err());
    }
}
