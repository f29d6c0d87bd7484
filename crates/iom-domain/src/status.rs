//! The order and line status machines. Every allowed transition of each is in one table below;
//! anything not in the table is forbidden, and `Order` refuses to make such a change.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Received,
    Processing,
    OnHold,
    Backordered,
    Released,
    PartiallyShipped,
    Shipped,
    Delivered,
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LineStatus {
    Open,
    Allocated,
    Backordered,
    Released,
    Shipped,
    Delivered,
    Cancelled,
}

use LineStatus as L;
use OrderStatus as O;

/// Every allowed change of an order's status. A shipment or a delivery reported by a node is a fact,
/// so an order can move to (partially) shipped from any state before it; a hold can only be put on
/// an order that no node has started to ship.
pub const ORDER_TRANSITIONS: &[(OrderStatus, OrderStatus)] = &[
    (O::Received, O::Processing),
    (O::Received, O::OnHold),
    (O::Received, O::Backordered),
    (O::Received, O::Released),
    (O::Received, O::PartiallyShipped),
    (O::Received, O::Shipped),
    (O::Received, O::Cancelled),
    (O::Processing, O::OnHold),
    (O::Processing, O::Backordered),
    (O::Processing, O::Released),
    (O::Processing, O::PartiallyShipped),
    (O::Processing, O::Shipped),
    (O::Processing, O::Cancelled),
    (O::OnHold, O::Received),
    (O::OnHold, O::Processing),
    (O::OnHold, O::Backordered),
    (O::OnHold, O::Released),
    (O::OnHold, O::Cancelled),
    (O::Backordered, O::Processing),
    (O::Backordered, O::OnHold),
    (O::Backordered, O::Released),
    (O::Backordered, O::PartiallyShipped),
    (O::Backordered, O::Shipped),
    (O::Backordered, O::Cancelled),
    (O::Released, O::Processing),
    (O::Released, O::Backordered),
    (O::Released, O::PartiallyShipped),
    (O::Released, O::Shipped),
    (O::Released, O::Cancelled),
    (O::PartiallyShipped, O::Shipped),
    (O::PartiallyShipped, O::Delivered),
    (O::Shipped, O::Delivered),
];

/// Every allowed change of a line's status. `open`, `allocated`, `backordered` and `released` are
/// stages of fulfilment set by orchestration; `shipped`, `delivered` and `cancelled` follow from the
/// line's quantities.
pub const LINE_TRANSITIONS: &[(LineStatus, LineStatus)] = &[
    (L::Open, L::Allocated),
    (L::Open, L::Backordered),
    (L::Open, L::Released),
    (L::Open, L::Shipped),
    (L::Open, L::Cancelled),
    (L::Allocated, L::Open),
    (L::Allocated, L::Backordered),
    (L::Allocated, L::Released),
    (L::Allocated, L::Shipped),
    (L::Allocated, L::Cancelled),
    (L::Backordered, L::Open),
    (L::Backordered, L::Allocated),
    (L::Backordered, L::Released),
    (L::Backordered, L::Shipped),
    (L::Backordered, L::Cancelled),
    (L::Released, L::Open),
    (L::Released, L::Backordered),
    (L::Released, L::Shipped),
    (L::Released, L::Cancelled),
    (L::Shipped, L::Delivered),
];

impl OrderStatus {
    pub const ALL: [OrderStatus; 9] = [
        O::Received,
        O::Processing,
        O::OnHold,
        O::Backordered,
        O::Released,
        O::PartiallyShipped,
        O::Shipped,
        O::Delivered,
        O::Cancelled,
    ];

    pub fn can_become(self, to: OrderStatus) -> bool {
        self == to || ORDER_TRANSITIONS.contains(&(self, to))
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, O::Delivered | O::Cancelled)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            O::Received => "received",
            O::Processing => "processing",
            O::OnHold => "on_hold",
            O::Backordered => "backordered",
            O::Released => "released",
            O::PartiallyShipped => "partially_shipped",
            O::Shipped => "shipped",
            O::Delivered => "delivered",
            O::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl LineStatus {
    pub const ALL: [LineStatus; 7] = [
        L::Open,
        L::Allocated,
        L::Backordered,
        L::Released,
        L::Shipped,
        L::Delivered,
        L::Cancelled,
    ];

    pub fn can_become(self, to: LineStatus) -> bool {
        self == to || LINE_TRANSITIONS.contains(&(self, to))
    }

    /// A stage that orchestration sets, as opposed to one that follows from quantities.
    pub fn is_stage(self) -> bool {
        matches!(self, L::Open | L::Allocated | L::Backordered | L::Released)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            L::Open => "open",
            L::Allocated => "allocated",
            L::Backordered => "backordered",
            L::Released => "released",
            L::Shipped => "shipped",
            L::Delivered => "delivered",
            L::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for LineStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status of a return order (RMA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReturnStatus {
    /// Eligible and accepted: the customer may bring or send the items back.
    Authorized,
    /// The items arrived at a node and were inspected and disposed of.
    Received,
    /// The refund was computed and recorded.
    Refunded,
    /// Nothing more will happen to the return.
    Closed,
    /// Called off before anything was received; its quantities are eligible again.
    Cancelled,
}

use ReturnStatus as R;

/// Every allowed change of a return's status. A refund before receipt (`authorized → refunded`)
/// happens when the policy says so or when the channel reports a refund it already made (the
/// items are then not expected back); a return received with nothing to refund (an exchange)
/// closes without one.
pub const RETURN_TRANSITIONS: &[(ReturnStatus, ReturnStatus)] = &[
    (R::Authorized, R::Received),
    (R::Authorized, R::Refunded),
    (R::Authorized, R::Cancelled),
    (R::Received, R::Refunded),
    (R::Received, R::Closed),
    (R::Refunded, R::Closed),
];

impl ReturnStatus {
    pub const ALL: [ReturnStatus; 5] = [
        R::Authorized,
        R::Received,
        R::Refunded,
        R::Closed,
        R::Cancelled,
    ];

    pub fn can_become(self, to: ReturnStatus) -> bool {
        RETURN_TRANSITIONS.contains(&(self, to))
    }

    /// Still counts against what the order can have returned.
    pub fn is_open(self) -> bool {
        matches!(self, R::Authorized | R::Received | R::Refunded)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            R::Authorized => "authorized",
            R::Received => "received",
            R::Refunded => "refunded",
            R::Closed => "closed",
            R::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for ReturnStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
