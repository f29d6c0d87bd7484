//! Holds on a single line. A held line is planned and reserved with the others, but it is not
//! released to a node while the others go on; when its hold is released it is released as it
//! would have been (the flow's release step waits for it). A line can be held only until it is
//! released: after that a node has it, and stopping it is the node's business (cancel instead).

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Hold, Order};
use crate::{DomainError, EventDraft, LineStatus};

/// The `order.line_held` event.
pub const ORDER_LINE_HELD: &str = "order.line_held";
/// The `order.line_hold_released` event.
pub const ORDER_LINE_HOLD_RELEASED: &str = "order.line_hold_released";

impl Order {
    /// Why line `line_no` cannot be put on hold now, if it cannot.
    pub fn check_hold_line(&self, line_no: u32) -> Result<(), DomainError> {
        let line = self.line(line_no).ok_or_else(|| {
            DomainError::invalid("line_no", format!("the order has no line {line_no}"))
        })?;
        if line.hold.is_some() {
            return Err(DomainError::conflict(format!(
                "line {line_no} is already on hold"
            )));
        }
        if self.status.is_terminal() || line.open_quantity() == 0 {
            return Err(DomainError::conflict(format!(
                "line {line_no} is {} and cannot be put on hold",
                line.status
            )));
        }
        if !matches!(
            line.status,
            LineStatus::Open | LineStatus::Allocated | LineStatus::Backordered
        ) || line.shipped_quantity > 0
        {
            return Err(DomainError::conflict(format!(
                "line {line_no} is {} at its node and can no longer be held; cancel it instead",
                line.status
            )));
        }
        Ok(())
    }

    /// Why the hold of line `line_no` cannot be released now, if it cannot.
    pub fn check_release_line_hold(&self, line_no: u32) -> Result<(), DomainError> {
        let line = self.line(line_no).ok_or_else(|| {
            DomainError::invalid("line_no", format!("the order has no line {line_no}"))
        })?;
        if line.hold.is_none() {
            return Err(DomainError::conflict(format!(
                "line {line_no} is not on hold"
            )));
        }
        Ok(())
    }

    /// Puts line `line_no` on hold (`order.line_held`).
    pub fn hold_line(
        &mut self,
        line_no: u32,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        self.check_hold_line(line_no)?;
        self.change(now, |order, events| {
            order.line_mut(line_no).hold = Some(Hold {
                code: "manual".to_owned(),
                reason: reason.clone(),
                at: now,
            });
            events.push(order.event(
                ORDER_LINE_HELD,
                json!({"line_no": line_no, "reason": reason}),
            ));
            Ok(())
        })
    }

    /// Releases the hold of line `line_no` (`order.line_hold_released`): the line goes on
    /// where it stopped.
    pub fn release_line_hold(
        &mut self,
        line_no: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        self.check_release_line_hold(line_no)?;
        self.change(now, |order, events| {
            order.line_mut(line_no).hold = None;
            events.push(order.event(ORDER_LINE_HOLD_RELEASED, json!({"line_no": line_no})));
            Ok(())
        })
    }

    /// Lines that are allocated and wait only for their hold to be released.
    pub fn held_allocated_lines(&self) -> Vec<u32> {
        self.lines
            .iter()
            .filter(|l| l.status == LineStatus::Allocated && l.hold.is_some())
            .map(|l| l.line_no)
            .collect()
    }
}
