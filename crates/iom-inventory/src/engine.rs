//! The inventory engine: pure functions over positions.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use iom_domain::FieldError;
use serde::Serialize;

/// Stock of one SKU at one node, with the safety stock that applies there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Position {
    pub on_hand: i64,
    pub reserved: i64,
    /// Ring-fenced for a channel or customer group and not yet consumed.
    pub allocated: i64,
    pub safety_stock: i64,
}

impl Position {
    /// What can still be promised to anyone: `on_hand − reserved − allocated − safety_stock`.
    pub fn available(&self) -> i64 {
        self.on_hand - self.reserved - self.allocated - self.safety_stock
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// Add (or remove, when negative) units: a receipt, damage, a correction.
    Delta,
    /// A physical count: on-hand becomes exactly `quantity`.
    Set,
}

/// One on-hand change as a feed sends it; `id` makes it idempotent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub id: String,
    pub sku: String,
    pub node: String,
    pub kind: ChangeKind,
    pub quantity: i64,
    pub reason: Option<String>,
    pub source: Option<String>,
}

pub type Key = (String, String);

/// What a batch of changes did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppliedChanges {
    /// Per applied change, in order: (change index, delta, on-hand after).
    pub applied: Vec<(usize, i64, i64)>,
    /// Ids already in the ledger, or repeated within the batch: skipped.
    pub duplicates: Vec<String>,
    /// The (sku, node) pairs whose on-hand changed, in first-touched order.
    pub touched: Vec<Key>,
}

/// Applies a batch to `positions` (which must hold every (sku, node) of the batch with a known
/// node). All or nothing: the first bad entry does not stop the check, every bad entry is reported,
/// and on error `positions` is left as it was.
///
/// Bad entries: an unknown node, a `set` below what is reserved at that node (the units are promised),
/// a `delta` that would take on-hand below zero.
pub fn apply_changes(
    positions: &mut HashMap<Key, Position>,
    changes: &[Change],
    known_nodes: &HashSet<String>,
    seen: &HashSet<String>,
) -> Result<AppliedChanges, Vec<FieldError>> {
    let mut next = positions.clone();
    let mut errors = Vec::new();
    let mut out = AppliedChanges::default();
    let mut in_batch = HashSet::new();
    // Membership of `out.touched`, which keeps first-touched order: a scan of the list per change
    // made a 1,000-change batch quadratic.
    let mut touched = HashSet::new();
    for (i, change) in changes.iter().enumerate() {
        if seen.contains(&change.id) || !in_batch.insert(change.id.as_str()) {
            out.duplicates.push(change.id.clone());
            continue;
        }
        if !known_nodes.contains(&change.node) {
            errors.push(FieldError::new(
                format!("changes[{i}].node"),
                format!("unknown node {:?}", change.node),
            ));
            continue;
        }
        let key = (change.sku.clone(), change.node.clone());
        let Some(position) = next.get_mut(&key) else {
            errors.push(FieldError::new(
                format!("changes[{i}]"),
                "no position loaded",
            ));
            continue;
        };
        let after = match change.kind {
            ChangeKind::Delta => position.on_hand + change.quantity,
            ChangeKind::Set => change.quantity,
        };
        if change.kind == ChangeKind::Set && after < position.reserved {
            errors.push(FieldError::new(
                format!("changes[{i}].quantity"),
                format!(
                    "a count of {after} is below the {} units reserved at {}",
                    position.reserved, change.node
                ),
            ));
            continue;
        }
        if after < 0 {
            errors.push(FieldError::new(
                format!("changes[{i}].quantity"),
                format!("on-hand would become {after}"),
            ));
            continue;
        }
        let delta = after - position.on_hand;
        position.on_hand = after;
        out.applied.push((i, delta, after));
        if touched.insert(key.clone()) {
            out.touched.push(key);
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    *positions = next;
    Ok(out)
}

/// An allocation's room: how much of it is still unconsumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocationRoom {
    pub quantity: i64,
    pub consumed: i64,
}

impl AllocationRoom {
    pub fn remaining(&self) -> i64 {
        (self.quantity - self.consumed).max(0)
    }
}

/// The reservation does not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortfall {
    /// What the caller could have reserved.
    pub available: i64,
}

/// Reserves `quantity`, drawing first on the caller's allocation when it has one. Returns how much
/// came from the allocation. No sequence of calls makes reservations exceed what was available:
/// the general part must fit in `available()`, the rest in the allocation's remaining room.
pub fn reserve(
    position: &mut Position,
    quantity: i64,
    allocation: Option<&mut AllocationRoom>,
) -> Result<i64, Shortfall> {
    let room = allocation.as_ref().map_or(0, |a| a.remaining());
    let from_allocation = quantity.min(room);
    let general = quantity - from_allocation;
    let available = position.available();
    if quantity <= 0 || general > available.max(0) {
        return Err(Shortfall {
            available: available.max(0) + room,
        });
    }
    position.reserved += quantity;
    position.allocated -= from_allocation;
    if let Some(a) = allocation {
        a.consumed += from_allocation;
    }
    Ok(from_allocation)
}

/// Gives back `quantity` of a reservation of which `from_allocation` came from an allocation;
/// the ring-fence is restored first, but only up to its size: an allocation shrunk meanwhile takes
/// back no more than it now holds, and the rest becomes available to everyone. Returns the share
/// no longer drawn on the allocation.
pub fn release(
    position: &mut Position,
    quantity: i64,
    from_allocation: i64,
    allocation: Option<&mut AllocationRoom>,
) -> i64 {
    let back = match allocation {
        Some(a) => {
            let room_before = a.remaining();
            let back = quantity.min(from_allocation).min(a.consumed);
            a.consumed -= back;
            position.allocated += a.remaining() - room_before;
            back
        }
        None => 0,
    };
    position.reserved -= quantity;
    back
}

/// Takes `quantity` of a reservation out of the building (a shipment): on-hand and reserved both
/// drop, available does not move.
pub fn consume(position: &mut Position, quantity: i64) {
    position.on_hand -= quantity;
    position.reserved -= quantity;
}

/// One day of an available-to-promise projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct AtpDay {
    pub date: NaiveDate,
    /// Scheduled receipts due that day.
    pub supply: i64,
    /// Scheduled demand due that day.
    pub demand: i64,
    /// Available at the end of the day: today's available plus all supply less all demand so far.
    pub projected: i64,
    /// What can still be promised for that day without breaking any later commitment.
    pub atp: i64,
}

/// Available-to-promise per day over `days` days from `today`.
///
/// `projected[d] = available_now + Σ supply[t ≤ d] − Σ demand[t ≤ d]`, and
/// `atp[d] = max(0, min over t ≥ d of projected[t])`: a unit promised on day `d` must still be there
/// on every later day, or a later commitment breaks. Supply or demand dated before today counts on
/// today (late receipts are still expected); anything past the horizon is ignored.
pub fn atp(
    available_now: i64,
    today: NaiveDate,
    days: u32,
    supply: &[(NaiveDate, i64)],
    demand: &[(NaiveDate, i64)],
) -> Vec<AtpDay> {
    let days = days.max(1) as usize;
    let mut by_day = vec![(0i64, 0i64); days];
    let index = |date: NaiveDate| -> Option<usize> {
        let offset = (date - today).num_days().max(0) as usize;
        (offset < days).then_some(offset)
    };
    for (date, q) in supply {
        if let Some(i) = index(*date) {
            by_day[i].0 += q;
        }
    }
    for (date, q) in demand {
        if let Some(i) = index(*date) {
            by_day[i].1 += q;
        }
    }
    let mut out = Vec::with_capacity(days);
    let mut projected = available_now;
    for (i, (s, d)) in by_day.into_iter().enumerate() {
        projected += s - d;
        out.push(AtpDay {
            date: today + chrono::Days::new(i as u64),
            supply: s,
            demand: d,
            projected,
            atp: 0,
        });
    }
    let mut floor = i64::MAX;
    for day in out.iter_mut().rev() {
        floor = floor.min(day.projected);
        day.atp = floor.max(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
    }

    #[test]
    fn atp_protects_later_demand() {
        // 10 now, 5 arrive on day 2, 12 are due on day 3.
        let days = atp(10, date(1), 5, &[(date(3), 5)], &[(date(4), 12)]);
        let projected: Vec<i64> = days.iter().map(|d| d.projected).collect();
        let promisable: Vec<i64> = days.iter().map(|d| d.atp).collect();
        assert_eq!(projected, vec![10, 10, 15, 3, 3]);
        assert_eq!(promisable, vec![3, 3, 3, 3, 3]);
        let short = atp_days(atp(2, date(1), 3, &[(date(3), 10)], &[(date(2), 5)]));
        assert_eq!(short, vec![(2, 0), (-3, 0), (7, 7)]);
    }

    fn atp_days(days: Vec<AtpDay>) -> Vec<(i64, i64)> {
        days.iter().map(|d| (d.projected, d.atp)).collect()
    }

    #[test]
    fn late_supply_counts_today_and_far_supply_not_at_all() {
        let days = atp(0, date(10), 2, &[(date(1), 4), (date(25), 100)], &[]);
        assert_eq!(days[0].supply, 4);
        assert_eq!(days[1].atp, 4);
    }

    #[test]
    fn reservations_never_exceed_what_is_available() {
        let mut p = Position {
            on_hand: 10,
            reserved: 0,
            allocated: 3,
            safety_stock: 2,
        };
        assert_eq!(p.available(), 5);
        assert_eq!(reserve(&mut p, 6, None), Err(Shortfall { available: 5 }));
        let mut room = AllocationRoom {
            quantity: 3,
            consumed: 0,
        };
        assert_eq!(reserve(&mut p, 6, Some(&mut room)), Ok(3));
        assert_eq!(
            (p.reserved, p.allocated, p.available(), room.consumed),
            (6, 0, 2, 3)
        );
        assert_eq!(release(&mut p, 4, 3, Some(&mut room)), 3);
        assert_eq!((p.reserved, p.allocated, room.consumed), (2, 3, 0));
        // An allocation shrunk to nothing while its units were reserved takes none of them back.
        let mut shrunk = AllocationRoom {
            quantity: 0,
            consumed: 2,
        };
        let mut q = Position {
            on_hand: 4,
            reserved: 2,
            allocated: 0,
            safety_stock: 0,
        };
        assert_eq!(release(&mut q, 2, 2, Some(&mut shrunk)), 2);
        assert_eq!(
            (q.reserved, q.allocated, q.available(), shrunk.consumed),
            (0, 0, 4, 0)
        );
        consume(&mut p, 2);
        assert_eq!((p.on_hand, p.reserved, p.available()), (8, 0, 3));
        assert!(reserve(&mut p, 0, None).is_err());
    }

    #[test]
    fn a_batch_is_all_or_nothing_and_reports_every_bad_entry() {
        let key = |s: &str, n: &str| (s.to_owned(), n.to_owned());
        let mut positions = HashMap::from([
            (
                key("A", "N1"),
                Position {
                    on_hand: 5,
                    reserved: 4,
                    ..Default::default()
                },
            ),
            (key("B", "N1"), Position::default()),
        ]);
        let before = positions.clone();
        let nodes = HashSet::from(["N1".to_owned()]);
        let change = |id: &str, sku: &str, node: &str, kind, q| Change {
            id: id.into(),
            sku: sku.into(),
            node: node.into(),
            kind,
            quantity: q,
            reason: None,
            source: None,
        };
        let batch = vec![
            change("1", "A", "N1", ChangeKind::Delta, 3),
            change("2", "A", "N1", ChangeKind::Set, 3),
            change("3", "B", "N9", ChangeKind::Delta, 1),
            change("4", "B", "N1", ChangeKind::Delta, -1),
        ];
        let errors = apply_changes(&mut positions, &batch, &nodes, &HashSet::new()).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "changes[1].quantity",
                "changes[2].node",
                "changes[3].quantity"
            ]
        );
        assert_eq!(positions, before);

        let good = vec![
            change("1", "A", "N1", ChangeKind::Delta, 3),
            change("1", "A", "N1", ChangeKind::Delta, 3),
            change("2", "A", "N1", ChangeKind::Set, 6),
            change("old", "B", "N1", ChangeKind::Delta, 9),
        ];
        let seen = HashSet::from(["old".to_owned()]);
        let out = apply_changes(&mut positions, &good, &nodes, &seen).unwrap();
        assert_eq!(out.applied, vec![(0, 3, 8), (2, -2, 6)]);
        assert_eq!(out.duplicates, vec!["1".to_owned(), "old".to_owned()]);
        assert_eq!(positions[&key("A", "N1")].on_hand, 6);
    }
}
