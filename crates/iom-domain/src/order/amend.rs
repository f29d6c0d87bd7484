//! Changes to an order before it is released: a new ship-to, ship method or notes, and lines
//! changed, added or removed, as a sales channel edits an order its customer is still allowed to
//! change (Shopify's `orders/updated`), or as a person would through the API.
//!
//! Why only before release: once a node has the order (a pick list, an X12 940, a warehouse
//! API call), changing it here would make iom disagree with what is being picked and shipped.
//! A change after release is refused with a conflict that names what would have changed, so
//! the person who sees it can act in both systems; a message that changes nothing iom keeps is
//! not a conflict at all, because channels resend their orders for many reasons (tags, payment
//! status, their own fulfilments).
//!
//! A line whose SKU or quantity changes goes back to `open` and gives back what was reserved for
//! it (the `order.amended` event lists those lines and their former open quantity under
//! `released`), so that sourcing plans it again as it now is; a removed line is cancelled, which
//! releases its reservation like any cancellation.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::{Order, OrderLine};
use crate::{Address, DomainError, EventDraft, FieldError, LineQuantity, LineStatus};

/// The `order.amended` event.
pub const ORDER_AMENDED: &str = "order.amended";
/// The status reason of a line the channel removed from the order.
pub const REMOVED: &str = "removed";

/// The order as it should now be, for what may change before release. `None` leaves a part as
/// it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Amendment {
    pub ship_to: Option<Address>,
    pub ship_method: Option<String>,
    /// Order attributes to set (notes, tags …); attributes not named here are kept.
    pub attributes: Map<String, Value>,
    /// Every line the order should have: a line with `line_no` changes that line, one without
    /// is added, and a line of the order that is not listed is removed (cancelled).
    pub lines: Option<Vec<AmendedLine>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AmendedLine {
    /// The order's line this one is, or `None` for a new line.
    pub line_no: Option<u32>,
    pub sku: String,
    pub quantity: u32,
    pub unit_price: Decimal,
    pub discount: Decimal,
    pub tax: Decimal,
    pub uom: Option<String>,
    /// Set on the line; attributes not named here are kept.
    pub attributes: Map<String, Value>,
}

impl AmendedLine {
    fn differs(&self, line: &OrderLine) -> bool {
        self.sku != line.sku
            || self.quantity != line.quantity
            || self.unit_price != line.unit_price
            || self.discount != line.discount
            || self.tax != line.tax
            || (self.uom.is_some() && self.uom != line.uom)
            || self
                .attributes
                .iter()
                .any(|(k, v)| line.attributes.get(k) != Some(v))
    }
}

impl Order {
    /// What `amendment` would change, by field (`ship_to`, `ship_method`, `attributes.note`,
    /// `lines[2]`, `lines[+]` for an added line, …); empty when the order already is so.
    pub fn amendment_changes(&self, amendment: &Amendment) -> Vec<String> {
        let mut changes = Vec::new();
        if amendment
            .ship_to
            .as_ref()
            .is_some_and(|a| self.ship_to.as_ref() != Some(a))
        {
            changes.push("ship_to".to_owned());
        }
        if amendment.ship_method.is_some() && amendment.ship_method != self.ship_method {
            changes.push("ship_method".to_owned());
        }
        for (k, v) in &amendment.attributes {
            if self.attributes.get(k) != Some(v) {
                changes.push(format!("attributes.{k}"));
            }
        }
        if let Some(lines) = &amendment.lines {
            for l in lines {
                match l.line_no.and_then(|n| self.line(n)) {
                    Some(line) if !l.differs(line) => {}
                    Some(line) => changes.push(format!("lines[{}]", line.line_no)),
                    None => changes.push("lines[+]".to_owned()),
                }
            }
            for line in &self.lines {
                let kept = lines.iter().any(|l| l.line_no == Some(line.line_no));
                if !kept && line.active_quantity() > 0 {
                    changes.push(format!("lines[{}]", line.line_no));
                }
            }
        }
        changes
    }

    /// Applies `amendment` (see the module documentation). Nothing to change is no change: no
    /// event, no new version.
    pub fn amend(
        &mut self,
        amendment: Amendment,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        let changes = self.amendment_changes(&amendment);
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        if let Err(refusal) = self.check_amend() {
            return Err(DomainError::conflict(format!(
                "{refusal} (this change would set {})",
                changes.join(", ")
            )));
        }
        let mut errors = Vec::new();
        if let Some(lines) = &amendment.lines {
            for (i, l) in lines.iter().enumerate() {
                if l.quantity == 0 {
                    errors.push(FieldError::new(
                        format!("lines[{i}].quantity"),
                        "must be at least 1",
                    ));
                }
                if let Some(n) = l.line_no {
                    match self.line(n) {
                        None => errors.push(FieldError::new(
                            format!("lines[{i}].line_no"),
                            format!("the order has no line {n}"),
                        )),
                        Some(line) if l.quantity < line.cancelled_quantity => {
                            errors.push(FieldError::new(
                                format!("lines[{i}].quantity"),
                                format!(
                                    "{} of line {n} are cancelled already; the quantity cannot be less",
                                    line.cancelled_quantity
                                ),
                            ))
                        }
                        Some(_) => {}
                    }
                    if lines.iter().filter(|o| o.line_no == Some(n)).count() > 1 {
                        errors.push(FieldError::new(
                            format!("lines[{i}].line_no"),
                            format!("line {n} is named twice"),
                        ));
                    }
                }
            }
            if lines.is_empty() {
                errors.push(FieldError::new("lines", "must have at least one line"));
            }
        }
        if !errors.is_empty() {
            return Err(DomainError::Invalid(errors));
        }
        self.change(now, |order, events| {
            if let Some(ship_to) = amendment.ship_to {
                order.ship_to = Some(ship_to);
            }
            if amendment.ship_method.is_some() {
                order.ship_method = amendment.ship_method;
            }
            order.attributes.extend(amendment.attributes);
            let mut released = Vec::new();
            if let Some(lines) = amendment.lines {
                let kept: Vec<u32> = lines.iter().filter_map(|l| l.line_no).collect();
                for line in &mut order.lines {
                    if !kept.contains(&line.line_no) && line.open_quantity() > 0 {
                        line.cancelled_quantity += line.open_quantity();
                        line.status_reason = Some(REMOVED.to_owned());
                    }
                }
                let mut next_no = order.lines.iter().map(|l| l.line_no).max().unwrap_or(0);
                for l in lines {
                    match l.line_no {
                        Some(n) => {
                            let line = order.line_mut(n);
                            let sourced_again = l.sku != line.sku || l.quantity != line.quantity;
                            // Whatever is reserved for the line as it was (by sourcing, or by
                            // a reservation naming the line) is given back.
                            if sourced_again && line.open_quantity() > 0 {
                                released.push(LineQuantity {
                                    line_no: n,
                                    quantity: line.open_quantity(),
                                });
                            }
                            if sourced_again && line.status.is_stage() {
                                line.status = LineStatus::Open;
                                line.status_reason = None;
                                line.node = None;
                            }
                            line.sku = l.sku;
                            line.quantity = l.quantity;
                            line.unit_price = l.unit_price;
                            line.discount = l.discount;
                            line.tax = l.tax;
                            if l.uom.is_some() {
                                line.uom = l.uom;
                            }
                            line.attributes.extend(l.attributes);
                        }
                        None => {
                            next_no += 1;
                            order.lines.push(OrderLine {
                                line_no: next_no,
                                sku: l.sku,
                                quantity: l.quantity,
                                unit_price: l.unit_price,
                                discount: l.discount,
                                tax: l.tax,
                                uom: l.uom,
                                status: LineStatus::Open,
                                status_reason: None,
                                cancelled_quantity: 0,
                                shipped_quantity: 0,
                                delivered_quantity: 0,
                                node: None,
                                attributes: l.attributes,
                                return_authorized_quantity: 0,
                                returned_quantity: 0,
                                refunded_quantity: 0,
                                refunded_amount: Decimal::ZERO,
                                promised_delivery_at: None,
                                hold: None,
                            });
                        }
                    }
                }
            }
            if order.lines.iter().all(|l| l.active_quantity() == 0) {
                return Err(DomainError::invalid(
                    "lines",
                    "the change leaves the order without a line; cancel the order instead",
                ));
            }
            events.push(order.event(
                ORDER_AMENDED,
                json!({"changes": changes, "released": released}),
            ));
            Ok(())
        })
    }
}
