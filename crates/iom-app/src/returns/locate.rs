//! Where to return: the nearest active node that accepts returns, by the same great-circle
//! distance fulfilment uses. No I/O.

use iom_domain::GeoPoint;
use iom_domain::returns::ReturnLocation;
use iom_sourcing::Node;
use iom_sourcing::geo::great_circle_km;

/// The nearest node to `from` that is active and accepts returns; without a point to measure
/// from, or among nodes without a location, the first such node by code (so a return always has
/// somewhere to go when any node takes returns).
pub fn nearest(nodes: &[Node], from: Option<GeoPoint>) -> Option<ReturnLocation> {
    let mut candidates: Vec<&Node> = nodes
        .iter()
        .filter(|n| n.active && n.accepts_returns)
        .collect();
    candidates.sort_by(|a, b| a.code.cmp(&b.code));
    let measured = from.and_then(|from| {
        candidates
            .iter()
            .filter_map(|n| n.location.map(|at| (n, great_circle_km(from, at))))
            .min_by(|a, b| a.1.total_cmp(&b.1))
    });
    match measured {
        Some((node, km)) => Some(ReturnLocation {
            node: node.code.clone(),
            distance_km: Some((km * 10.0).round() / 10.0),
        }),
        None => candidates.first().map(|n| ReturnLocation {
            node: n.code.clone(),
            distance_km: None,
        }),
    }
}

/// The distance from `from` to `node`, when both are known.
pub fn distance(node: &Node, from: Option<GeoPoint>) -> Option<f64> {
    Some((great_circle_km(from?, node.location?) * 10.0).round() / 10.0)
}
