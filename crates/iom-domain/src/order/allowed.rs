//! What the order allows now, asked before acting: each action's method checks the same
//! predicate first, so a screen that offers only the allowed actions and the action itself
//! cannot disagree. `Ok(())` when allowed, else the refusal the action would answer.

use super::Order;
use crate::{DomainError, LineStatus, OrderStatus};

impl Order {
    /// Whether the order can be put on hold: not once a node has begun shipping it, nor at
    /// its end.
    pub fn check_hold(&self) -> Result<(), DomainError> {
        if matches!(
            self.status,
            OrderStatus::Received
                | OrderStatus::Processing
                | OrderStatus::Backordered
                | OrderStatus::OnHold
        ) {
            Ok(())
        } else {
            Err(DomainError::conflict(format!(
                "an order that is {} cannot be put on hold",
                self.status
            )))
        }
    }

    /// Whether the order has holds to release.
    pub fn check_release_holds(&self) -> Result<(), DomainError> {
        if self.holds.is_empty() {
            Err(DomainError::conflict("the order is not on hold"))
        } else {
            Ok(())
        }
    }

    /// Whether the whole order can be cancelled: not when cancelled already, nor once any of
    /// it shipped.
    pub fn check_cancel(&self) -> Result<(), DomainError> {
        if self.status == OrderStatus::Cancelled {
            return Err(DomainError::conflict("the order is already cancelled"));
        }
        if self.lines.iter().any(|l| l.shipped_quantity > 0) {
            return Err(DomainError::conflict(
                "part of the order has shipped and a shipped quantity cannot be cancelled; cancel the open lines instead",
            ));
        }
        Ok(())
    }

    /// Whether line `line_no` has anything left to cancel.
    pub fn check_cancel_line(&self, line_no: u32) -> Result<(), DomainError> {
        let line = self.line(line_no).ok_or_else(|| {
            DomainError::invalid("line_no", format!("the order has no line {line_no}"))
        })?;
        if line.open_quantity() == 0 {
            return Err(DomainError::conflict(format!(
                "line {line_no} has nothing left to cancel: {} shipped, {} cancelled",
                line.shipped_quantity, line.cancelled_quantity
            )));
        }
        Ok(())
    }

    /// Whether the order can still be changed (ship-to, ship method, lines): only before any
    /// of it is released to a node, and not once cancelled.
    pub fn check_amend(&self) -> Result<(), DomainError> {
        let released = self.lines.iter().any(|l| {
            matches!(
                l.status,
                LineStatus::Released | LineStatus::Shipped | LineStatus::Delivered
            ) || l.shipped_quantity > 0
        });
        if self.status == OrderStatus::Cancelled || released {
            return Err(DomainError::conflict(format!(
                "the order is {}: it can be changed only before it is released to a node",
                self.status
            )));
        }
        Ok(())
    }
}
