//! The order aggregate and every change it allows. Each change works on a copy and replaces the
//! order only when the whole change is valid, so a refused change leaves the order as it was.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

mod allowed;
mod amend;
mod carrier;
mod line_hold;
pub mod payment;
pub mod tax;
pub use amend::{AmendedLine, Amendment, ORDER_AMENDED, REMOVED};
pub use carrier::{ShipmentLabel, TrackingStatus};
pub use line_hold::{ORDER_LINE_HELD, ORDER_LINE_HOLD_RELEASED};
pub use payment::{Payment, PaymentStatus};
pub use tax::{TaxStatus, TaxTransaction};

use crate::{
    Address, Currency, DomainError, EventDraft, EventType, FieldError, LineStatus, OrderId,
    OrderStatus,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Order {
    pub id: OrderId,
    pub channel: String,
    pub external_id: String,
    pub status: OrderStatus,
    /// Why the order is in its status, where one applies (`manual`, `credit`, `no_inventory`, …).
    pub status_reason: Option<String>,
    pub currency: Currency,
    pub placed_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub customer: Option<Customer>,
    pub ship_to: Option<Address>,
    pub bill_to: Option<Address>,
    pub ship_method: Option<String>,
    pub requested_delivery_at: Option<DateTime<Utc>>,
    #[schema(value_type = String)]
    pub shipping_amount: Decimal,
    /// A discount on the whole order (a coupon), on top of the lines' own discounts; each line
    /// carries a share of it in proportion to its net value (`refund::paid_lines`).
    #[serde(default)]
    #[schema(value_type = String)]
    pub discount_amount: Decimal,
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
    pub lines: Vec<OrderLine>,
    /// Active holds; the order is `on_hold` while there is one.
    pub holds: Vec<Hold>,
    pub shipments: Vec<Shipment>,
    pub deliveries: Vec<Delivery>,
    pub totals: Totals,
    /// Orchestration has begun: before fulfilment the order is `processing` rather than `received`.
    pub processing: bool,
    /// The order's returns (RMAs) and where each stands.
    #[serde(default)]
    pub returns: Vec<ReturnRef>,
    /// Refunded so far by returns: merchandise, tax and shipping, less restocking fees.
    #[serde(default)]
    #[schema(value_type = String)]
    pub refunded_amount: Decimal,
    /// The part of `refunded_amount` that is shipping; shipping is refunded at most once.
    #[serde(default)]
    #[schema(value_type = String)]
    pub refunded_shipping: Decimal,
    /// The customer's payment, when a `payment` provider instance serves the order's channel:
    /// authorised before release, captured per shipment, refunded per return.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<Payment>,
    /// The tax service's document, when a `tax` provider instance taxed the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_transaction: Option<TaxTransaction>,
    /// Increases with every change; lets clients detect that the order moved on.
    pub version: i64,
}

/// A return of this order, as the order shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReturnRef {
    pub id: String,
    pub status: crate::ReturnStatus,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Customer {
    pub id: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub group: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OrderLine {
    pub line_no: u32,
    pub sku: String,
    /// Quantity ordered.
    pub quantity: u32,
    #[schema(value_type = String)]
    pub unit_price: Decimal,
    #[schema(value_type = String)]
    pub discount: Decimal,
    #[schema(value_type = String)]
    pub tax: Decimal,
    pub uom: Option<String>,
    pub status: LineStatus,
    pub status_reason: Option<String>,
    pub cancelled_quantity: u32,
    pub shipped_quantity: u32,
    pub delivered_quantity: u32,
    /// The node this line is assigned to, once fulfilment is planned.
    pub node: Option<String>,
    #[schema(value_type = Object)]
    pub attributes: Map<String, Value>,
    /// Claimed by returns that are not cancelled (authorised, received or refunded): a shipped
    /// unit can be claimed once.
    #[serde(default)]
    pub return_authorized_quantity: u32,
    /// Received back at a node.
    #[serde(default)]
    pub returned_quantity: u32,
    /// Units refunded by returns, and how much was refunded for them (tax included, restocking
    /// fees deducted); later refunds of the line continue from here.
    #[serde(default)]
    pub refunded_quantity: u32,
    #[serde(default)]
    #[schema(value_type = String)]
    pub refunded_amount: Decimal,
    /// When the line is promised to arrive: its node's ship date (calendar and cut-off) plus the
    /// transit days of the service planned for it; set when fulfilment is committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promised_delivery_at: Option<DateTime<Utc>>,
    /// A hold on this line alone: it is planned and reserved like the others but not released
    /// to a node until the hold is released.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<Hold>,
}

impl OrderLine {
    /// Ordered less cancelled.
    pub fn active_quantity(&self) -> u32 {
        self.quantity - self.cancelled_quantity
    }

    /// Neither shipped nor cancelled: what can still be shipped or cancelled.
    pub fn open_quantity(&self) -> u32 {
        self.active_quantity() - self.shipped_quantity
    }

    /// Shipped and not claimed by a return yet: what a new return may take.
    pub fn returnable_quantity(&self) -> u32 {
        self.shipped_quantity
            .saturating_sub(self.return_authorized_quantity)
    }

    /// The status the quantities dictate, or the current fulfilment stage when they dictate none.
    fn derived_status(&self) -> LineStatus {
        let active = self.active_quantity();
        if active == 0 {
            LineStatus::Cancelled
        } else if self.delivered_quantity == active {
            LineStatus::Delivered
        } else if self.shipped_quantity == active {
            LineStatus::Shipped
        } else {
            self.status
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Hold {
    /// A short code (`manual`, `credit`, `review`, `preorder`, …): the order's `status_reason`.
    pub code: String,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LineQuantity {
    pub line_no: u32,
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Shipment {
    pub id: String,
    pub node: String,
    pub carrier: Option<String>,
    pub tracking: Option<String>,
    pub lines: Vec<LineQuantity>,
    pub at: DateTime<Utc>,
    /// The id the shipment has where it was made (a channel's fulfilment id), so that a
    /// resend or an update of it is recognised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The carrier's service and what the label cost, when iom bought the label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<ShipmentLabel>,
    /// Where the carrier says the parcel is (tracker webhooks), once it has said anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_status: Option<TrackingStatus>,
    /// When the carrier said it delivered the parcel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Delivery {
    pub lines: Vec<LineQuantity>,
    pub at: DateTime<Utc>,
}

/// What a node reports as shipped: `POST /orders/{id}/shipments`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct ShipmentRequest {
    pub node: Option<String>,
    pub lines: Option<Vec<LineQuantityRequest>>,
    pub carrier: Option<String>,
    pub tracking: Option<String>,
}

/// A line and a quantity as a request sends them; checked against the order.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct LineQuantityRequest {
    pub line_no: Option<i64>,
    pub quantity: Option<i64>,
}

/// Money totals of the active (not cancelled) quantities.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Totals {
    /// Sum of quantity × unit price.
    #[schema(value_type = String)]
    pub subtotal: Decimal,
    #[schema(value_type = String)]
    pub discount: Decimal,
    #[schema(value_type = String)]
    pub tax: Decimal,
    #[schema(value_type = String)]
    pub shipping: Decimal,
    /// subtotal − discount + tax + shipping.
    #[schema(value_type = String)]
    pub total: Decimal,
}

impl Totals {
    /// Discount and tax of a partly cancelled line count in proportion to what is still active.
    pub fn of(order: &Order) -> Self {
        let scale = order.currency_scale();
        let mut totals = Totals {
            shipping: order.shipping_amount,
            ..Totals::default()
        };
        // The same shares and the same rounding as refunds, so that refunding every active unit
        // gives back exactly this total.
        for (line, paid) in order.lines.iter().zip(crate::refund::paid_lines(order)) {
            let active = line.active_quantity();
            totals.subtotal += line.unit_price * Decimal::from(active);
            totals.discount += crate::refund::portion(paid.discount, active, line.quantity, scale);
            totals.tax += crate::refund::portion(paid.tax, active, line.quantity, scale);
        }
        totals.total = totals.subtotal - totals.discount + totals.tax + totals.shipping;
        // Amounts show at least the currency's minor units ("0.00", not "0"); more precision, as
        // in B2B unit prices, is kept.
        for amount in [
            &mut totals.subtotal,
            &mut totals.discount,
            &mut totals.tax,
            &mut totals.shipping,
            &mut totals.total,
        ] {
            if amount.scale() < scale {
                amount.rescale(scale);
            }
        }
        totals
    }
}

/// The status reason of a line backordered because nothing could be sourced.
pub const NO_INVENTORY: &str = "no_inventory";

/// What a fulfilment plan sourced for one line: the nodes it ships from (empty when none) and the
/// quantity left unsourced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineSourcing {
    pub line_no: u32,
    pub nodes: Vec<String>,
    pub unsourced: u32,
    /// When the plan promises the line arrives (see [`OrderLine::promised_delivery_at`]).
    pub promised_delivery_at: Option<DateTime<Utc>>,
}

impl Order {
    /// Decimal places of the order's currency (2 for USD, 0 for JPY, 3 for KWD).
    pub fn currency_scale(&self) -> u32 {
        self.currency.decimals()
    }

    pub fn line(&self, line_no: u32) -> Option<&OrderLine> {
        self.lines.iter().find(|l| l.line_no == line_no)
    }

    /// The `order.received` event that announces a newly captured order.
    pub fn received_event(&self) -> EventDraft {
        EventDraft::new(
            EventType::ORDER_RECEIVED,
            self.id.to_string(),
            json!({
                "order_id": self.id,
                "channel": self.channel,
                "external_id": self.external_id,
                "currency": self.currency,
                "total": self.totals.total,
                "lines": self.lines.iter().map(|l| json!({
                    "line_no": l.line_no, "sku": l.sku, "quantity": l.quantity,
                })).collect::<Vec<_>>(),
            }),
        )
    }

    /// Puts the order on hold. `code` becomes the order's `status_reason`.
    pub fn hold(
        &mut self,
        code: &str,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        self.check_hold()?;
        let code = code.to_owned();
        self.change(now, |order, events| {
            order.holds.push(Hold {
                code: code.clone(),
                reason: reason.clone(),
                at: now,
            });
            events.push(order.event(
                EventType::ORDER_HELD,
                json!({"code": code, "reason": reason}),
            ));
            Ok(())
        })
    }

    /// Lifts the holds with `code`, or every hold when `code` is `None`.
    pub fn release_hold(
        &mut self,
        code: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        self.check_release_holds()?;
        if let Some(code) = code
            && !self.holds.iter().any(|h| h.code == code)
        {
            return Err(DomainError::conflict(format!(
                "the order has no hold with code {code:?}"
            )));
        }
        self.change(now, |order, events| {
            let (released, kept): (Vec<Hold>, Vec<Hold>) = std::mem::take(&mut order.holds)
                .into_iter()
                .partition(|h| code.is_none_or(|c| h.code == c));
            order.holds = kept;
            let codes: Vec<&str> = released.iter().map(|h| h.code.as_str()).collect();
            events.push(order.event(EventType::ORDER_HOLD_RELEASED, json!({"codes": codes})));
            Ok(())
        })
    }

    /// Cancels the whole order. Refused once any quantity has shipped: cancel the open lines instead.
    pub fn cancel(
        &mut self,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        self.check_cancel()?;
        self.change(now, |order, _| {
            for line in &mut order.lines {
                line.cancelled_quantity += line.open_quantity();
                line.status_reason = Some(reason.to_owned());
                line.hold = None;
            }
            order.holds.clear();
            order.status_reason = Some(reason.to_owned());
            Ok(())
        })
    }

    /// Cancels `quantity` of a line (all of its open quantity when `None`).
    pub fn cancel_line(
        &mut self,
        line_no: u32,
        quantity: Option<u32>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        let line = self.line(line_no).ok_or_else(|| {
            DomainError::invalid("line_no", format!("the order has no line {line_no}"))
        })?;
        let open = line.open_quantity();
        if open == 0 {
            return Err(DomainError::conflict(format!(
                "line {line_no} has nothing left to cancel: {} shipped, {} cancelled",
                line.shipped_quantity, line.cancelled_quantity
            )));
        }
        let quantity = quantity.unwrap_or(open);
        if quantity == 0 {
            return Err(DomainError::invalid("quantity", "must be at least 1"));
        }
        if quantity > open {
            return Err(DomainError::conflict(format!(
                "only {open} of line {line_no} can be cancelled: {} shipped, {} cancelled",
                line.shipped_quantity, line.cancelled_quantity
            )));
        }
        self.change(now, |order, _| {
            let line = order.line_mut(line_no);
            line.cancelled_quantity += quantity;
            if line.active_quantity() == 0 {
                line.status_reason = Some(reason.to_owned());
                line.hold = None;
            }
            if order.lines.iter().all(|l| l.active_quantity() == 0) {
                order.holds.clear();
                order.status_reason = Some(reason.to_owned());
            }
            Ok(())
        })
    }

    /// Records what a node shipped.
    pub fn record_shipment(
        &mut self,
        request: ShipmentRequest,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        self.record_shipment_as(request, None, None, now)
    }

    /// The shipment with `reference` (see [`Shipment::reference`]), when there is one.
    pub fn shipment_by_reference(&self, reference: &str) -> Option<&Shipment> {
        self.shipments
            .iter()
            .find(|s| s.reference.as_deref() == Some(reference))
    }

    /// Records a shipment made elsewhere under that system's id for it. The same reference again
    /// ships nothing more: a new carrier or tracking number replaces the old one
    /// (`order.shipment_updated`), and the same values change nothing.
    pub fn record_referenced_shipment(
        &mut self,
        request: ShipmentRequest,
        reference: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        let Some(index) = self
            .shipments
            .iter()
            .position(|s| s.reference.as_deref() == Some(reference))
        else {
            return self.record_shipment_as(request, Some(reference.to_owned()), None, now);
        };
        let carrier = crate::address::non_empty(request.carrier);
        let tracking = crate::address::non_empty(request.tracking);
        let existing = &self.shipments[index];
        let carrier_changed = carrier.is_some() && carrier != existing.carrier;
        let tracking_changed = tracking.is_some() && tracking != existing.tracking;
        if !carrier_changed && !tracking_changed {
            return Ok(Vec::new());
        }
        self.change(now, |order, events| {
            let shipment = &mut order.shipments[index];
            if carrier_changed {
                shipment.carrier = carrier;
            }
            if tracking_changed {
                shipment.tracking = tracking;
            }
            let data = json!(shipment);
            events.push(order.event(EventType::ORDER_SHIPMENT_UPDATED, data));
            Ok(())
        })
    }

    fn record_shipment_as(
        &mut self,
        request: ShipmentRequest,
        reference: Option<String>,
        label: Option<ShipmentLabel>,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        let mut errors = Vec::new();
        let node = crate::address::non_empty(request.node);
        if node.is_none() {
            errors.push(FieldError::new("node", "is required"));
        }
        let lines = self.check_line_quantities(request.lines, &mut errors);
        if !errors.is_empty() {
            return Err(DomainError::Invalid(errors));
        }
        if self.status == OrderStatus::OnHold {
            return Err(DomainError::conflict(
                "the order is on hold; release it before shipping",
            ));
        }
        for lq in &lines {
            let line = self.line(lq.line_no).expect("checked above");
            if lq.quantity > line.open_quantity() {
                return Err(DomainError::conflict(format!(
                    "line {} has {} left to ship, not {}",
                    lq.line_no,
                    line.open_quantity(),
                    lq.quantity
                )));
            }
        }
        let shipment = Shipment {
            id: uuid::Uuid::now_v7().to_string(),
            node: node.unwrap_or_default(),
            carrier: crate::address::non_empty(request.carrier),
            tracking: crate::address::non_empty(request.tracking),
            lines,
            at: now,
            reference,
            label,
            tracking_status: None,
            delivered_at: None,
        };
        self.change(now, |order, events| {
            for lq in &shipment.lines {
                order.line_mut(lq.line_no).shipped_quantity += lq.quantity;
            }
            events.push(order.event(EventType::ORDER_SHIPMENT_CREATED, json!(shipment)));
            order.shipments.push(shipment);
            Ok(())
        })
    }

    /// Records what the carrier delivered.
    pub fn record_delivery(
        &mut self,
        lines: Option<Vec<LineQuantityRequest>>,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        let mut errors = Vec::new();
        let lines = self.check_line_quantities(lines, &mut errors);
        if !errors.is_empty() {
            return Err(DomainError::Invalid(errors));
        }
        for lq in &lines {
            let line = self.line(lq.line_no).expect("checked above");
            let undelivered = line.shipped_quantity - line.delivered_quantity;
            if lq.quantity > undelivered {
                return Err(DomainError::conflict(format!(
                    "line {} has {undelivered} shipped and not yet delivered, not {}",
                    lq.line_no, lq.quantity
                )));
            }
        }
        let delivery = Delivery { lines, at: now };
        self.change(now, |order, events| {
            for lq in &delivery.lines {
                order.line_mut(lq.line_no).delivered_quantity += lq.quantity;
            }
            events.push(order.event(EventType::ORDER_DELIVERY_RECORDED, json!(delivery)));
            order.deliveries.push(delivery);
            Ok(())
        })
    }

    /// Moves a line to a fulfilment stage (`open`, `allocated`, `backordered`, `released`), as
    /// orchestration does, optionally assigning it to a node.
    pub fn set_line_stage(
        &mut self,
        line_no: u32,
        stage: LineStatus,
        node: Option<String>,
        reason: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        if !stage.is_stage() {
            return Err(DomainError::invalid(
                "status",
                format!("{stage} follows from quantities and cannot be set"),
            ));
        }
        let current = self
            .line(line_no)
            .ok_or_else(|| {
                DomainError::invalid("line_no", format!("the order has no line {line_no}"))
            })?
            .status;
        if !current.can_become(stage) {
            return Err(DomainError::conflict(format!(
                "line {line_no} cannot go from {current} to {stage}"
            )));
        }
        if self.status == OrderStatus::OnHold && stage == LineStatus::Released {
            return Err(DomainError::conflict("the order is on hold"));
        }
        if stage == LineStatus::Released && self.line(line_no).is_some_and(|l| l.hold.is_some()) {
            return Err(DomainError::conflict(format!("line {line_no} is on hold")));
        }
        self.change(now, |order, _| {
            order.processing = true;
            let line = order.line_mut(line_no);
            line.status = stage;
            line.status_reason = reason;
            if node.is_some() {
                line.node = node;
            }
            Ok(())
        })
    }

    /// Commits a fulfilment plan to the lines it covers: a line whose quantity was all sourced
    /// becomes `allocated` (at its node, when it ships from one), a line of which nothing could
    /// be sourced becomes `backordered` (`no_inventory`); a partly sourced line keeps its status.
    /// Lines already in the stage they would move to are left alone.
    pub fn apply_sourcing(
        &mut self,
        lines: &[LineSourcing],
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        let mut events = Vec::new();
        for sourcing in lines {
            let Some(line) = self.line(sourcing.line_no) else {
                continue;
            };
            let (stage, node, reason) = match (sourcing.nodes.is_empty(), sourcing.unsourced) {
                (false, 0) => {
                    let mut at = sourcing.nodes.clone();
                    at.sort();
                    at.dedup();
                    let node = (at.len() == 1).then(|| at.remove(0));
                    (LineStatus::Allocated, node, None)
                }
                (true, missing) if missing > 0 => {
                    (LineStatus::Backordered, None, Some(NO_INVENTORY.to_owned()))
                }
                _ => continue,
            };
            let promise = sourcing.promised_delivery_at;
            let promise_changed = promise.is_some() && line.promised_delivery_at != promise;
            if line.status != stage {
                events.extend(self.set_line_stage(sourcing.line_no, stage, node, reason, now)?);
            }
            if promise_changed {
                let line_no = sourcing.line_no;
                events.extend(self.change(now, |order, _| {
                    order.line_mut(line_no).promised_delivery_at = promise;
                    Ok(())
                })?);
            }
        }
        Ok(events)
    }

    /// Backorders every `open` line (`no_inventory`): nothing could be sourced for them.
    pub fn backorder_open_lines(
        &mut self,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        let open: Vec<u32> = self
            .lines
            .iter()
            .filter(|l| l.status == LineStatus::Open)
            .map(|l| l.line_no)
            .collect();
        let mut events = Vec::new();
        for line_no in open {
            events.extend(self.set_line_stage(
                line_no,
                LineStatus::Backordered,
                None,
                Some(NO_INVENTORY.to_owned()),
                now,
            )?);
        }
        Ok(events)
    }

    /// Releases every `allocated` line to its node.
    pub fn release_allocated_lines(
        &mut self,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        let allocated: Vec<u32> = self
            .lines
            .iter()
            .filter(|l| l.status == LineStatus::Allocated && l.hold.is_none())
            .map(|l| l.line_no)
            .collect();
        let mut events = Vec::new();
        for line_no in allocated {
            events.extend(self.set_line_stage(line_no, LineStatus::Released, None, None, now)?);
        }
        Ok(events)
    }

    /// Marks the start of orchestration: the order is `processing` from now on.
    pub fn start_processing(&mut self, now: DateTime<Utc>) -> Result<Vec<EventDraft>, DomainError> {
        self.change(now, |order, _| {
            order.processing = true;
            Ok(())
        })
    }

    fn line_mut(&mut self, line_no: u32) -> &mut OrderLine {
        self.lines
            .iter_mut()
            .find(|l| l.line_no == line_no)
            .expect("line numbers are checked before a change")
    }

    /// Checks `[{line_no, quantity}]` against the order's lines; a line named twice counts once with
    /// the sum of its quantities.
    fn check_line_quantities(
        &self,
        lines: Option<Vec<LineQuantityRequest>>,
        errors: &mut Vec<FieldError>,
    ) -> Vec<LineQuantity> {
        let lines = match lines {
            Some(lines) if !lines.is_empty() => lines,
            _ => {
                errors.push(FieldError::new("lines", "must have at least one line"));
                return Vec::new();
            }
        };
        let mut result: Vec<LineQuantity> = Vec::new();
        for (index, lq) in lines.into_iter().enumerate() {
            let line_no = match lq.line_no {
                None => {
                    errors.push(FieldError::new(
                        format!("lines[{index}].line_no"),
                        "is required",
                    ));
                    None
                }
                Some(n) => match u32::try_from(n).ok().filter(|n| self.line(*n).is_some()) {
                    None => {
                        errors.push(FieldError::new(
                            format!("lines[{index}].line_no"),
                            format!("the order has no line {n}"),
                        ));
                        None
                    }
                    found => found,
                },
            };
            let quantity = match lq.quantity {
                None => {
                    errors.push(FieldError::new(
                        format!("lines[{index}].quantity"),
                        "is required",
                    ));
                    None
                }
                Some(q) if q < 1 || q > i64::from(u32::MAX) => {
                    errors.push(FieldError::new(
                        format!("lines[{index}].quantity"),
                        "must be at least 1",
                    ));
                    None
                }
                Some(q) => Some(q as u32),
            };
            if let (Some(line_no), Some(quantity)) = (line_no, quantity) {
                match result.iter_mut().find(|r| r.line_no == line_no) {
                    Some(existing) => {
                        existing.quantity = existing.quantity.saturating_add(quantity)
                    }
                    None => result.push(LineQuantity { line_no, quantity }),
                }
            }
        }
        result
    }

    fn event(&self, kind: &str, mut data: Value) -> EventDraft {
        if let Value::Object(map) = &mut data {
            map.insert("order_id".into(), json!(self.id));
            map.insert("channel".into(), json!(self.channel));
            map.insert("external_id".into(), json!(self.external_id));
        }
        EventDraft::new(kind, self.id.to_string(), data)
    }

    /// Applies `edit` to a copy, derives statuses and totals, checks every status change against the
    /// transition tables, and only then replaces `self`.
    fn change(
        &mut self,
        now: DateTime<Utc>,
        edit: impl FnOnce(&mut Order, &mut Vec<EventDraft>) -> Result<(), DomainError>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        let mut next = self.clone();
        let mut events = Vec::new();
        edit(&mut next, &mut events)?;
        next.derive(self, &mut events)?;
        next.updated_at = now;
        next.version = self.version + 1;
        *self = next;
        Ok(events)
    }

    fn derive(&mut self, before: &Order, events: &mut Vec<EventDraft>) -> Result<(), DomainError> {
        for line in &mut self.lines {
            let derived = line.derived_status();
            let old = before
                .line(line.line_no)
                .map_or(LineStatus::Open, |l| l.status);
            if !old.can_become(derived) {
                return Err(DomainError::conflict(format!(
                    "line {} cannot go from {old} to {derived}",
                    line.line_no
                )));
            }
            if derived != line.status && !derived.is_stage() && derived != LineStatus::Cancelled {
                line.status_reason = None;
            }
            line.status = derived;
        }
        let status = self.derived_status();
        if !before.status.can_become(status) {
            return Err(DomainError::conflict(format!(
                "an order that is {} cannot become {status}",
                before.status
            )));
        }
        self.status = status;
        self.status_reason = match status {
            OrderStatus::OnHold => self.holds.first().map(|h| h.code.clone()),
            OrderStatus::Cancelled => self.status_reason.take(),
            OrderStatus::Backordered => {
                let from_line = self
                    .lines
                    .iter()
                    .find(|l| l.status == LineStatus::Backordered)
                    .and_then(|l| l.status_reason.clone());
                Some(from_line.unwrap_or_else(|| "no_inventory".into()))
            }
            _ => None,
        };
        self.totals = Totals::of(self);

        let cancelled: Vec<LineQuantity> = self
            .lines
            .iter()
            .filter_map(|l| {
                let was = before.line(l.line_no).map_or(0, |b| b.cancelled_quantity);
                (l.cancelled_quantity > was).then_some(LineQuantity {
                    line_no: l.line_no,
                    quantity: l.cancelled_quantity - was,
                })
            })
            .collect();
        if status == before.status {
            if !cancelled.is_empty() {
                events.push(self.event(
                    EventType::ORDER_LINE_CANCELLED,
                    json!({"lines": cancelled, "status": status}),
                ));
            }
            return Ok(());
        }
        let kind = match status {
            OrderStatus::Cancelled => Some(EventType::ORDER_CANCELLED),
            OrderStatus::Released => Some("order.released"),
            OrderStatus::Backordered => Some("order.backordered"),
            OrderStatus::PartiallyShipped => Some(EventType::ORDER_PARTIALLY_SHIPPED),
            OrderStatus::Shipped => Some(EventType::ORDER_SHIPPED),
            OrderStatus::Delivered => Some(EventType::ORDER_DELIVERED),
            OrderStatus::Processing => Some(EventType::ORDER_STATUS_CHANGED),
            // `order.held` and `order.hold_released` announce these already.
            OrderStatus::Received | OrderStatus::OnHold => None,
        };
        if !cancelled.is_empty() && status != OrderStatus::Cancelled {
            events.push(self.event(
                EventType::ORDER_LINE_CANCELLED,
                json!({"lines": cancelled, "status": status}),
            ));
        }
        if let Some(kind) = kind {
            let mut data = json!({"from": before.status, "status": status, "status_reason": self.status_reason});
            if status == OrderStatus::Cancelled {
                data["lines"] = json!(cancelled);
            }
            events.push(self.event(kind, data));
        }
        Ok(())
    }

    /// The order status that the lines and holds dictate.
    fn derived_status(&self) -> OrderStatus {
        let active: Vec<&OrderLine> = self
            .lines
            .iter()
            .filter(|l| l.status != LineStatus::Cancelled)
            .collect();
        let all = |pred: fn(&OrderLine) -> bool| active.iter().all(|l| pred(l));
        let any = |pred: fn(&OrderLine) -> bool| active.iter().any(|l| pred(l));
        if active.is_empty() {
            OrderStatus::Cancelled
        } else if all(|l| l.status == LineStatus::Delivered) {
            OrderStatus::Delivered
        } else if all(|l| matches!(l.status, LineStatus::Shipped | LineStatus::Delivered)) {
            OrderStatus::Shipped
        } else if any(|l| l.shipped_quantity > 0) {
            OrderStatus::PartiallyShipped
        } else if !self.holds.is_empty() && self.status != OrderStatus::Released {
            // A released order is at its nodes: a hold put on it then (its payment's) is shown
            // on the order and stops what iom does next, not the nodes.
            OrderStatus::OnHold
        } else if all(|l| l.status == LineStatus::Released) {
            OrderStatus::Released
        } else if any(|l| l.status == LineStatus::Backordered) {
            OrderStatus::Backordered
        } else if self.processing || any(|l| l.status != LineStatus::Open) {
            OrderStatus::Processing
        } else {
            OrderStatus::Received
        }
    }
}
