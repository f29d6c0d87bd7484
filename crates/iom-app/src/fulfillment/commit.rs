//! From an order to a plan and back: what of an order is still to be planned, and what committing
//! a plan does (reserve every assignment, allocate or backorder the lines). A brokering run with
//! `commit` and the flow steps `plan-fulfillment` and `reserve-inventory` both go through here.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use iom_domain::{LineSourcing, LineStatus, Order, OrderId};
use iom_sourcing::{Plan, PlanRequest};
use iom_store::inventory::ReservationRow;
use serde::{Deserialize, Serialize};

use crate::inventory::ReserveRequest;

/// What is left to plan of `order`: the open quantity of its `open` and `backordered` lines, less
/// what its active `reservations` already hold for them. Lines allocated or released hold their
/// stock, and a partly sourced line is not planned twice.
pub fn request_for(
    order: &Order,
    reservations: &[ReservationRow],
    now: DateTime<Utc>,
) -> PlanRequest {
    let mut request = PlanRequest::from_order(order, now);
    let mut held: BTreeMap<i64, i64> = BTreeMap::new();
    for r in reservations {
        *held.entry(r.line_no.unwrap_or_default()).or_default() += r.quantity;
    }
    request.lines.retain_mut(|l| {
        let open = order
            .line(l.line_no)
            .is_some_and(|ol| matches!(ol.status, LineStatus::Open | LineStatus::Backordered));
        let held = held.get(&i64::from(l.line_no)).copied().unwrap_or(0);
        l.quantity = l
            .quantity
            .saturating_sub(u32::try_from(held).unwrap_or(u32::MAX));
        open && l.quantity > 0
    });
    request
}

/// One assignment of a plan: `quantity` of a line from `node`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assigned {
    pub line_no: u32,
    pub sku: String,
    pub node: String,
    pub quantity: u32,
    /// The plan's promise for these units (see `iom_sourcing::Assignment`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promised_delivery_at: Option<DateTime<Utc>>,
}

impl Assigned {
    pub fn all_of(plan: &Plan) -> Vec<Assigned> {
        plan.assignments
            .iter()
            .map(|a| Assigned {
                line_no: a.line_no,
                sku: a.sku.clone(),
                node: a.node.clone(),
                quantity: a.quantity,
                promised_delivery_at: Some(a.promised_delivery_at),
            })
            .collect()
    }
}

/// A plan about to be committed to an order.
#[derive(Debug, Clone)]
pub struct Commitment {
    pub order_id: OrderId,
    pub assignments: Vec<Assigned>,
    /// Quantities of lines that could not be sourced, by line.
    pub unsourced: BTreeMap<u32, u32>,
    /// Names who reserved: kept on every reservation.
    pub reference: String,
    /// Reservations lapse then, when set.
    pub expires_at: Option<DateTime<Utc>>,
}

impl Commitment {
    /// The whole of an engine's plan, unsourced lines included (they become backordered).
    pub fn of_plan(order_id: OrderId, plan: &Plan, reference: String) -> Self {
        let mut unsourced = BTreeMap::new();
        for u in &plan.unassigned {
            *unsourced.entry(u.line_no).or_default() += u.quantity;
        }
        Commitment {
            order_id,
            assignments: Assigned::all_of(plan),
            unsourced,
            reference,
            expires_at: None,
        }
    }

    /// One reservation per assignment, naming the order and its line.
    pub fn reservations(&self) -> Vec<ReserveRequest> {
        self.assignments
            .iter()
            .map(|a| ReserveRequest {
                sku: a.sku.clone(),
                node: a.node.clone(),
                quantity: i64::from(a.quantity),
                reference: Some(self.reference.clone()),
                order_id: Some(self.order_id.to_string()),
                line_no: Some(i64::from(a.line_no)),
                expires_at: self.expires_at,
                group: None,
            })
            .collect()
    }

    /// What the plan sourced for each line it covers, for [`Order::apply_sourcing`].
    pub fn line_sourcing(&self) -> Vec<LineSourcing> {
        fn line(lines: &mut BTreeMap<u32, LineSourcing>, line_no: u32) -> &mut LineSourcing {
            lines.entry(line_no).or_insert_with(|| LineSourcing {
                line_no,
                ..LineSourcing::default()
            })
        }
        let mut lines = BTreeMap::new();
        for a in &self.assignments {
            let sourcing = line(&mut lines, a.line_no);
            sourcing.nodes.push(a.node.clone());
            // A line split over nodes is promised when its last part arrives.
            sourcing.promised_delivery_at =
                sourcing.promised_delivery_at.max(a.promised_delivery_at);
        }
        for (&line_no, &quantity) in &self.unsourced {
            line(&mut lines, line_no).unsourced += quantity;
        }
        lines.into_values().collect()
    }
}
