//! Return orders (RMAs): authorisation with eligibility, receipt with disposition, refund, close,
//! cancel, and the exchange order a return may bring. Like [`Order`], every change works on a
//! copy, is checked against the status table ([`crate::status::RETURN_TRANSITIONS`]) and returns
//! the events announcing it. What a return does to its order (quantities claimed, received and
//! refunded) is [`Order::apply_return`], derived from the return itself so it cannot drift.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::address::non_empty;
use crate::refund::{RefundBreakdown, RefundLine, RefundRequestLine};
use crate::return_policy::{ExchangeRelease, ReturnPolicy, is_code};
use crate::{
    Currency, DomainError, EventDraft, FieldError, Order, OrderId, OrderIntake, ReturnStatus,
};

/// Where the return started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReturnOrigin {
    Store,
    Online,
    App,
    ServiceCenter,
}

impl ReturnOrigin {
    pub const ALL: [ReturnOrigin; 4] = [
        ReturnOrigin::Store,
        ReturnOrigin::Online,
        ReturnOrigin::App,
        ReturnOrigin::ServiceCenter,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReturnOrigin::Store => "store",
            ReturnOrigin::Online => "online",
            ReturnOrigin::App => "app",
            ReturnOrigin::ServiceCenter => "service_center",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// What happens to received units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// Back into sellable stock at the receiving node, at once.
    Restock,
    Scrap,
    Refurbish,
    ReturnToVendor,
}

impl Disposition {
    pub const ALL: [Disposition; 4] = [
        Disposition::Restock,
        Disposition::Scrap,
        Disposition::Refurbish,
        Disposition::ReturnToVendor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Restock => "restock",
            Disposition::Scrap => "scrap",
            Disposition::Refurbish => "refurbish",
            Disposition::ReturnToVendor => "return_to_vendor",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

/// The event types of returns.
pub struct ReturnEvent;

impl ReturnEvent {
    pub const AUTHORIZED: &'static str = "return.authorized";
    pub const RECEIVED: &'static str = "return.received";
    pub const REFUNDED: &'static str = "return.refunded";
    pub const CLOSED: &'static str = "return.closed";
    pub const CANCELLED: &'static str = "return.cancelled";
    /// The return flow decided the disposition of units received without one.
    pub const INSPECTED: &'static str = "return.inspected";
}

/// The hold an exchange order waits under until its return is received.
pub const AWAITING_RETURN: &str = "awaiting_return";

// ------------------------------------------------------------------------------------ wire forms

/// `POST /api/v1/returns`. Every field is optional here so that every bad field is reported at once.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct ReturnIntake {
    pub order_id: Option<String>,
    /// `store`, `online`, `app` or `service_center`.
    pub origin: Option<String>,
    pub lines: Option<Vec<ReturnLineIntake>>,
    /// Where the items will be brought (a store or service centre); when absent, the nearest node
    /// that accepts returns is proposed as `return_to`.
    pub node: Option<String>,
    /// The return's id in the source system (a channel's refund id): a second return with the
    /// same reference for the same order is refused with 409 naming the first.
    pub reference: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct ReturnLineIntake {
    pub line_no: Option<i64>,
    pub quantity: Option<i64>,
    /// A reason code of the policy's catalogue.
    pub reason: Option<String>,
    pub note: Option<String>,
    /// Exchange the units for the same quantity of this SKU (the line's own SKU when empty)
    /// instead of refunding them.
    pub exchange: Option<ExchangeIntake>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct ExchangeIntake {
    pub sku: Option<String>,
}

/// `POST /api/v1/returns/{id}/receive`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct ReceiptIntake {
    pub node: Option<String>,
    pub lines: Option<Vec<ReceiptLineIntake>>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct ReceiptLineIntake {
    pub line_no: Option<i64>,
    pub quantity: Option<i64>,
    /// How the units arrived (`new`, `opened`, `damaged`, …): a short code.
    pub condition: Option<String>,
    /// `restock`, `scrap`, `refurbish` or `return_to_vendor`. Left out, the units wait for
    /// inspection: the return flow's `inspect` step decides and its `disposition` step restocks.
    pub disposition: Option<String>,
}

// ------------------------------------------------------------------------------------ aggregate

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReturnOrder {
    pub id: String,
    pub order_id: OrderId,
    /// The order's channel and external id, for lists.
    pub channel: String,
    pub external_id: String,
    pub currency: Currency,
    pub origin: ReturnOrigin,
    pub status: ReturnStatus,
    pub status_reason: Option<String>,
    pub reference: Option<String>,
    pub note: Option<String>,
    pub lines: Vec<ReturnLine>,
    /// Where the items should go: the node named at authorisation, or the nearest that accepts
    /// returns.
    pub return_to: Option<ReturnLocation>,
    pub receipts: Vec<Receipt>,
    pub refund: Option<Refund>,
    /// The order that sends the exchanged items.
    pub exchange_order_id: Option<OrderId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReturnLine {
    pub line_no: u32,
    pub sku: String,
    /// Authorised.
    pub quantity: u32,
    pub reason: String,
    pub note: Option<String>,
    pub received_quantity: u32,
    /// Authorised but not brought back when the return was received: no longer claimed.
    pub released_quantity: u32,
    pub refunded_quantity: u32,
    #[schema(value_type = String)]
    pub refund_amount: Decimal,
    /// The SKU sent in exchange; such units are not refunded.
    pub exchange_sku: Option<String>,
}

impl ReturnLine {
    /// What this line claims of its order line's shipped quantity.
    fn claimed(&self, status: ReturnStatus) -> u32 {
        if status == ReturnStatus::Cancelled {
            0
        } else {
            self.quantity - self.released_quantity
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReturnLocation {
    pub node: String,
    /// Great-circle distance from the customer, when both places are known.
    pub distance_km: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Receipt {
    pub id: String,
    pub node: String,
    pub lines: Vec<ReceiptLine>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReceiptLine {
    pub line_no: u32,
    pub sku: String,
    pub quantity: u32,
    pub condition: String,
    /// `None` while the units wait for inspection (received without a disposition).
    pub disposition: Option<Disposition>,
    /// The disposition was decided by inspection after the receipt (the return flow), not
    /// given with the receipt: those units are restocked by the flow, not by the receipt.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inspected: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Refund {
    /// What was refunded: the computed amount, or less when the channel refunded less.
    #[schema(value_type = String)]
    pub amount: Decimal,
    /// What the customer was owed by the policy.
    #[schema(value_type = String)]
    pub computed: Decimal,
    #[schema(value_type = String)]
    pub shipping: Decimal,
    #[schema(value_type = String)]
    pub restocking_fee: Decimal,
    pub lines: Vec<RefundLine>,
    /// The payment system's id of the refund, when known.
    pub reference: Option<String>,
    pub at: DateTime<Utc>,
    /// The tax service's refund of the tax of the refunded lines, once the order's committed
    /// tax document was adjusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax: Option<RefundTax>,
}

/// The tax given back with a refund: the tax service's refund document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RefundTax {
    /// The `tax` provider instance.
    pub provider: String,
    /// The refund document's code at the tax service (AvaTax `refundTransactionCode`).
    pub code: String,
    /// The tax refunded (positive).
    #[schema(value_type = String)]
    pub amount: Decimal,
    pub at: DateTime<Utc>,
}

/// A receipt that restocks: what the inventory must take on-hand, with ids that make a retry of
/// the same receipt count once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restock {
    /// `return:{return id}:line:{line_no}`: one per return line, so a return restocks a line once.
    pub change_id: String,
    pub line_no: u32,
    pub sku: String,
    pub node: String,
    pub quantity: u32,
}

/// What eligibility needs besides the order and the policy: product categories by SKU (from the
/// SKU catalogue) and the time of the request.
#[derive(Debug, Clone, Default)]
pub struct Eligibility {
    pub categories: HashMap<String, String>,
    pub now: DateTime<Utc>,
}

/// A return request after its shape was checked, before the order was looked at.
#[derive(Debug, Clone, PartialEq)]
pub struct ReturnRequest {
    pub order_id: OrderId,
    pub origin: ReturnOrigin,
    pub lines: Vec<RequestedLine>,
    pub node: Option<String>,
    pub reference: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RequestedLine {
    /// Position in the request, for error paths.
    pub index: usize,
    pub line_no: u32,
    pub quantity: u32,
    pub reason: String,
    pub note: Option<String>,
    /// `Some("")` for an exchange to the line's own SKU.
    pub exchange: Option<String>,
}

const MAX_TEXT: usize = 500;

impl ReturnIntake {
    /// Checks the request's own shape (every bad field at once); the order is judged later by
    /// [`ReturnOrder::authorize`].
    pub fn parse(self, policy: &ReturnPolicy) -> Result<ReturnRequest, Vec<FieldError>> {
        let mut errors = Vec::new();
        let order_id = match non_empty(self.order_id) {
            None => {
                errors.push(FieldError::new("order_id", "is required"));
                None
            }
            Some(id) => match id.parse::<OrderId>() {
                Ok(id) => Some(id),
                Err(_) => {
                    errors.push(FieldError::new(
                        "order_id",
                        format!("order {id:?} does not exist"),
                    ));
                    None
                }
            },
        };
        let origin = match non_empty(self.origin) {
            None => {
                errors.push(FieldError::new("origin", "is required"));
                None
            }
            Some(o) => {
                let parsed = ReturnOrigin::parse(&o);
                if parsed.is_none() {
                    errors.push(FieldError::new(
                        "origin",
                        format!("{o:?} is not one of store, online, app, service_center"),
                    ));
                }
                parsed
            }
        };
        let mut lines = Vec::new();
        match self.lines {
            None => errors.push(FieldError::new("lines", "is required")),
            Some(l) if l.is_empty() => {
                errors.push(FieldError::new("lines", "must have at least one line"))
            }
            Some(l) if l.len() > crate::intake::MAX_LINES => errors.push(FieldError::new(
                "lines",
                format!("must have at most {} lines", crate::intake::MAX_LINES),
            )),
            Some(l) => {
                for (index, line) in l.into_iter().enumerate() {
                    if let Some(parsed) = parse_line(index, line, policy, &mut errors) {
                        if lines
                            .iter()
                            .any(|o: &RequestedLine| o.line_no == parsed.line_no)
                        {
                            errors.push(FieldError::new(
                                format!("lines[{index}].line_no"),
                                format!("line {} is named twice", parsed.line_no),
                            ));
                        } else {
                            lines.push(parsed);
                        }
                    }
                }
            }
        }
        let reference = non_empty(self.reference);
        if reference.as_ref().is_some_and(|r| r.len() > 200) {
            errors.push(FieldError::new(
                "reference",
                "must be at most 200 characters",
            ));
        }
        let note = non_empty(self.note);
        if note.as_ref().is_some_and(|n| n.len() > MAX_TEXT) {
            errors.push(FieldError::new(
                "note",
                format!("must be at most {MAX_TEXT} characters"),
            ));
        }
        match (order_id, origin) {
            (Some(order_id), Some(origin)) if errors.is_empty() => Ok(ReturnRequest {
                order_id,
                origin,
                lines,
                node: non_empty(self.node),
                reference,
                note,
            }),
            _ => Err(errors),
        }
    }
}

fn parse_line(
    index: usize,
    line: ReturnLineIntake,
    policy: &ReturnPolicy,
    errors: &mut Vec<FieldError>,
) -> Option<RequestedLine> {
    let before = errors.len();
    let path = |f: &str| format!("lines[{index}].{f}");
    let line_no = match line.line_no {
        None => {
            errors.push(FieldError::new(path("line_no"), "is required"));
            0
        }
        Some(n) if !(1..=i64::from(u32::MAX)).contains(&n) => {
            errors.push(FieldError::new(
                path("line_no"),
                format!("the order has no line {n}"),
            ));
            0
        }
        Some(n) => n as u32,
    };
    let quantity = match line.quantity {
        None => {
            errors.push(FieldError::new(path("quantity"), "is required"));
            0
        }
        Some(q) if !(1..=crate::intake::MAX_QUANTITY).contains(&q) => {
            errors.push(FieldError::new(path("quantity"), "must be at least 1"));
            0
        }
        Some(q) => q as u32,
    };
    let reason = match non_empty(line.reason) {
        None => {
            errors.push(FieldError::new(path("reason"), "is required"));
            String::new()
        }
        Some(r) if policy.reason(&r).is_none() => {
            let codes: Vec<&str> = policy.reasons.iter().map(|r| r.code.as_str()).collect();
            errors.push(FieldError::new(
                path("reason"),
                format!("{r:?} is not a return reason; one of {}", codes.join(", ")),
            ));
            String::new()
        }
        Some(r) => r,
    };
    let note = non_empty(line.note);
    if note.as_ref().is_some_and(|n| n.len() > MAX_TEXT) {
        errors.push(FieldError::new(
            path("note"),
            format!("must be at most {MAX_TEXT} characters"),
        ));
    }
    let exchange = line.exchange.map(|e| non_empty(e.sku).unwrap_or_default());
    (errors.len() == before).then_some(RequestedLine {
        index,
        line_no,
        quantity,
        reason,
        note,
        exchange,
    })
}

/// When the line's window starts: its last delivery, else its last shipment.
fn window_start(order: &Order, line_no: u32) -> Option<DateTime<Utc>> {
    let delivered = order
        .deliveries
        .iter()
        .filter(|d| d.lines.iter().any(|l| l.line_no == line_no))
        .map(|d| d.at)
        .max();
    delivered.or_else(|| {
        order
            .shipments
            .iter()
            .filter(|s| s.lines.iter().any(|l| l.line_no == line_no))
            .map(|s| s.at)
            .max()
    })
}

/// The category of an order line: its own `attributes.category`, else the SKU catalogue's.
pub fn line_category<'a>(
    order: &'a Order,
    line_no: u32,
    categories: &'a HashMap<String, String>,
) -> Option<&'a str> {
    let line = order.line(line_no)?;
    line.attributes
        .get("category")
        .and_then(Value::as_str)
        .or_else(|| categories.get(&line.sku).map(String::as_str))
}

impl ReturnOrder {
    /// Authorises a return of `order`, or names every line that is not eligible: a line the order
    /// does not have, a line never shipped, a quantity above what is shipped and not yet claimed
    /// by another return, a line outside its return window, a SKU or category that is not
    /// returnable.
    pub fn authorize(
        order: &Order,
        request: ReturnRequest,
        policy: &ReturnPolicy,
        context: &Eligibility,
        return_to: Option<ReturnLocation>,
    ) -> Result<(ReturnOrder, Vec<EventDraft>), DomainError> {
        let mut errors = Vec::new();
        let mut lines = Vec::with_capacity(request.lines.len());
        for r in &request.lines {
            let path = |f: &str| format!("lines[{}].{f}", r.index);
            let Some(line) = order.line(r.line_no) else {
                errors.push(FieldError::new(
                    path("line_no"),
                    format!("line {}: the order has no such line", r.line_no),
                ));
                continue;
            };
            let n = r.line_no;
            if line.shipped_quantity == 0 {
                errors.push(FieldError::new(
                    path("line_no"),
                    format!("line {n} ({}) was never shipped", line.sku),
                ));
                continue;
            }
            let eligible = line.returnable_quantity();
            if r.quantity > eligible {
                errors.push(FieldError::new(
                    path("quantity"),
                    format!(
                        "line {n}: {} requested but only {eligible} of {} shipped can still be returned ({} already claimed by returns)",
                        r.quantity, line.shipped_quantity, line.return_authorized_quantity
                    ),
                ));
            }
            let category = line_category(order, n, &context.categories);
            if let Some(why) = policy.not_returnable(&line.sku, category) {
                errors.push(FieldError::new(path("line_no"), format!("line {n}: {why}")));
            }
            let days = policy.window_days(&order.channel, category);
            if let Some(start) = window_start(order, n)
                && context.now > start + Duration::days(i64::from(days))
            {
                errors.push(FieldError::new(
                    path("line_no"),
                    format!(
                        "line {n}: the {days}-day return window ended on {}",
                        (start + Duration::days(i64::from(days))).format("%Y-%m-%d")
                    ),
                ));
            }
            lines.push(ReturnLine {
                line_no: n,
                sku: line.sku.clone(),
                quantity: r.quantity,
                reason: r.reason.clone(),
                note: r.note.clone(),
                received_quantity: 0,
                released_quantity: 0,
                refunded_quantity: 0,
                refund_amount: Decimal::ZERO,
                exchange_sku: r.exchange.as_ref().map(|s| {
                    if s.is_empty() {
                        line.sku.clone()
                    } else {
                        s.clone()
                    }
                }),
            });
        }
        if !errors.is_empty() {
            return Err(DomainError::Invalid(errors));
        }
        let now = context.now;
        let ret = ReturnOrder {
            id: uuid::Uuid::now_v7().to_string(),
            order_id: order.id,
            channel: order.channel.clone(),
            external_id: order.external_id.clone(),
            currency: order.currency,
            origin: request.origin,
            status: ReturnStatus::Authorized,
            status_reason: None,
            reference: request.reference,
            note: request.note,
            lines,
            return_to,
            receipts: Vec::new(),
            refund: None,
            exchange_order_id: None,
            created_at: now,
            updated_at: now,
            version: 1,
        };
        let event = ret.event(
            ReturnEvent::AUTHORIZED,
            json!({
                "origin": ret.origin,
                "return_to": ret.return_to,
                "reference": ret.reference,
                "lines": ret.lines.iter().map(|l| json!({
                    "line_no": l.line_no, "sku": l.sku, "quantity": l.quantity,
                    "reason": l.reason, "exchange_sku": l.exchange_sku,
                })).collect::<Vec<_>>(),
            }),
        );
        Ok((ret, vec![event]))
    }

    pub fn line(&self, line_no: u32) -> Option<&ReturnLine> {
        self.lines.iter().find(|l| l.line_no == line_no)
    }

    /// The order that sends the exchanged items, when any line asks for an exchange: same
    /// customer, address and channel, nothing to pay, linked to the return by its attributes.
    /// Under [`ExchangeRelease::OnReceipt`] it is held (`awaiting_return`) until the return is
    /// received.
    pub fn exchange_order(
        &self,
        order: &Order,
        policy: &ReturnPolicy,
        now: DateTime<Utc>,
    ) -> Result<Option<(Order, Vec<EventDraft>)>, DomainError> {
        let lines: Vec<Value> = self
            .lines
            .iter()
            .filter_map(|l| {
                let sku = l.exchange_sku.as_ref()?;
                Some(json!({
                    "sku": sku, "quantity": l.quantity, "unit_price": "0",
                    "attributes": {"exchange_for_return": self.id, "replaces_line": l.line_no},
                }))
            })
            .collect();
        if lines.is_empty() {
            return Ok(None);
        }
        let intake = OrderIntake {
            channel: Some(order.channel.clone()),
            external_id: Some(format!("{}/exchange/{}", order.external_id, self.id)),
            currency: Some(order.currency.code().to_owned()),
            lines: Some(
                serde_json::from_value(Value::Array(lines))
                    .map_err(|e| DomainError::conflict(e.to_string()))?,
            ),
            ship_method: order.ship_method.clone(),
            attributes: Some(
                json!({"exchange_for_return": self.id, "original_order_id": order.id})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            ),
            ..OrderIntake::default()
        };
        let mut exchange = intake.validate(now).map_err(DomainError::Invalid)?;
        exchange.customer = order.customer.clone();
        exchange.ship_to = order.ship_to.clone();
        exchange.bill_to = order.bill_to.clone();
        exchange.requested_delivery_at = None;
        let mut events = vec![exchange.received_event()];
        if policy.exchange_release == ExchangeRelease::OnReceipt {
            events.extend(exchange.hold(
                AWAITING_RETURN,
                Some(format!("exchange for return {}", self.id)),
                now,
            )?);
        }
        Ok(Some((exchange, events)))
    }

    /// Records what arrived at `node` and how each unit is disposed of. The receipt is final:
    /// authorised units not in it are released (they may be returned again by a new return).
    /// Returns the events and what must go back on-hand.
    pub fn receive(
        &mut self,
        intake: ReceiptIntake,
        now: DateTime<Utc>,
    ) -> Result<(Vec<EventDraft>, Vec<Restock>), DomainError> {
        // The status first: a second receipt of a received return is a conflict, whatever it says.
        self.require(ReturnStatus::Received)?;
        let mut errors = Vec::new();
        let node = non_empty(intake.node);
        if node.is_none() {
            errors.push(FieldError::new("node", "is required"));
        }
        let mut lines: Vec<ReceiptLine> = Vec::new();
        match intake.lines {
            None => errors.push(FieldError::new("lines", "is required")),
            Some(l) if l.is_empty() => {
                errors.push(FieldError::new("lines", "must have at least one line"))
            }
            Some(l) => {
                for (i, r) in l.into_iter().enumerate() {
                    let path = |f: &str| format!("lines[{i}].{f}");
                    let before = errors.len();
                    let line = match r.line_no {
                        None => {
                            errors.push(FieldError::new(path("line_no"), "is required"));
                            None
                        }
                        Some(n) => {
                            let found = u32::try_from(n).ok().and_then(|n| self.line(n));
                            if found.is_none() {
                                errors.push(FieldError::new(
                                    path("line_no"),
                                    format!("line {n}: the return has no such line"),
                                ));
                            }
                            found
                        }
                    };
                    let quantity = match r.quantity {
                        None => {
                            errors.push(FieldError::new(path("quantity"), "is required"));
                            0
                        }
                        Some(q) if q < 1 || q > i64::from(u32::MAX) => {
                            errors.push(FieldError::new(path("quantity"), "must be at least 1"));
                            0
                        }
                        Some(q) => q as u32,
                    };
                    let condition = non_empty(r.condition).unwrap_or_else(|| "unspecified".into());
                    if !is_code(&condition) {
                        errors.push(FieldError::new(
                            path("condition"),
                            "must be a short code of lower-case letters, digits or _",
                        ));
                    }
                    // Absent: decided later by inspection. Present but unknown: refused.
                    let disposition = match non_empty(r.disposition) {
                        None => Some(None),
                        Some(d) => {
                            let parsed = Disposition::parse(&d);
                            if parsed.is_none() {
                                errors.push(FieldError::new(
                                    path("disposition"),
                                    format!(
                                        "{d:?} is not one of restock, scrap, refurbish, return_to_vendor"
                                    ),
                                ));
                            }
                            parsed.map(Some)
                        }
                    };
                    if let (Some(line), Some(disposition), true) =
                        (line, disposition, errors.len() == before)
                    {
                        let so_far: u32 = lines
                            .iter()
                            .filter(|l| l.line_no == line.line_no)
                            .map(|l| l.quantity)
                            .sum();
                        let room = line.quantity - line.received_quantity;
                        if so_far + quantity > room {
                            errors.push(FieldError::new(
                                path("quantity"),
                                format!(
                                    "line {}: {} received but only {room} authorised",
                                    line.line_no,
                                    so_far + quantity
                                ),
                            ));
                        } else {
                            lines.push(ReceiptLine {
                                line_no: line.line_no,
                                sku: line.sku.clone(),
                                quantity,
                                condition,
                                disposition,
                                inspected: false,
                            });
                        }
                    }
                }
            }
        }
        if !errors.is_empty() {
            return Err(DomainError::Invalid(errors));
        }
        let node = node.unwrap_or_default();
        let receipt = Receipt {
            id: format!("{}:receipt:{}", self.id, self.receipts.len() + 1),
            node: node.clone(),
            lines,
            at: now,
        };
        let mut restock: Vec<Restock> = Vec::new();
        for l in &receipt.lines {
            if l.disposition == Some(Disposition::Restock) {
                match restock.iter_mut().find(|r| r.line_no == l.line_no) {
                    Some(r) => r.quantity += l.quantity,
                    None => restock.push(Restock {
                        line_no: l.line_no,
                        change_id: format!("return:{}:line:{}", self.id, l.line_no),
                        sku: l.sku.clone(),
                        node: node.clone(),
                        quantity: l.quantity,
                    }),
                }
            }
        }
        let mut next = self.clone();
        for line in &mut next.lines {
            let got: u32 = receipt
                .lines
                .iter()
                .filter(|r| r.line_no == line.line_no)
                .map(|r| r.quantity)
                .sum();
            line.received_quantity += got;
            line.released_quantity = line.quantity - line.received_quantity;
        }
        next.status = ReturnStatus::Received;
        next.touch(now);
        let event = next.event(
            ReturnEvent::RECEIVED,
            json!({"receipt": receipt, "restocked": restock.iter().map(|r| json!({
                "sku": r.sku, "node": r.node, "quantity": r.quantity,
            })).collect::<Vec<_>>()}),
        );
        next.receipts.push(receipt);
        *self = next;
        Ok((vec![event], restock))
    }

    /// Received units still waiting for a disposition (received without one).
    pub fn awaiting_inspection(&self) -> u32 {
        self.receipts
            .iter()
            .flat_map(|r| &r.lines)
            .filter(|l| l.disposition.is_none())
            .map(|l| l.quantity)
            .sum()
    }

    /// Decides the disposition of the received units that wait for inspection, with `decide`
    /// (the return flow's rules over the line's reason and the units' condition). Units that had a
    /// disposition at receipt keep it. Nothing waiting: nothing changes and no event.
    pub fn inspect(
        &mut self,
        decide: impl Fn(&ReturnLine, &ReceiptLine) -> Disposition,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        if !matches!(self.status, ReturnStatus::Received | ReturnStatus::Refunded) {
            return Err(DomainError::conflict(format!(
                "a return that is {} cannot be inspected",
                self.status
            )));
        }
        if self.awaiting_inspection() == 0 {
            return Ok(Vec::new());
        }
        let mut next = self.clone();
        let mut decisions = Vec::new();
        for receipt in &mut next.receipts {
            for l in receipt.lines.iter_mut().filter(|l| l.disposition.is_none()) {
                let line = self
                    .line(l.line_no)
                    .ok_or_else(|| DomainError::conflict("a receipt line the return has not"))?;
                let disposition = decide(line, l);
                l.disposition = Some(disposition);
                l.inspected = true;
                decisions.push(
                    json!({"line_no": l.line_no, "sku": l.sku, "quantity": l.quantity,
                    "condition": l.condition, "reason": line.reason, "disposition": disposition,
                    "node": receipt.node}),
                );
            }
        }
        next.touch(now);
        let event = next.event(ReturnEvent::INSPECTED, json!({"decisions": decisions}));
        *self = next;
        Ok(vec![event])
    }

    /// What inspection decided to restock, one change per return line with an id of its own
    /// (`return:{id}:line:{n}:inspected`), so units restocked at receipt and after inspection
    /// never share an id and the ledger counts each once.
    pub fn inspected_restocks(&self) -> Vec<Restock> {
        let mut restock: Vec<Restock> = Vec::new();
        for receipt in &self.receipts {
            for l in receipt
                .lines
                .iter()
                .filter(|l| l.inspected && l.disposition == Some(Disposition::Restock))
            {
                match restock.iter_mut().find(|r| r.line_no == l.line_no) {
                    Some(r) => r.quantity += l.quantity,
                    None => restock.push(Restock {
                        line_no: l.line_no,
                        change_id: format!("return:{}:line:{}:inspected", self.id, l.line_no),
                        sku: l.sku.clone(),
                        node: receipt.node.clone(),
                        quantity: l.quantity,
                    }),
                }
            }
        }
        restock
    }

    /// Computes and records the refund: the received units (or, before receipt, the authorised
    /// ones, when the policy refunds at once or `channel_refund` says the channel already paid it
    /// out), except exchanged ones. `amount` is what was actually paid back when the payment
    /// system says so: never more than the computed refund.
    pub fn refund(
        &mut self,
        order: &Order,
        policy: &ReturnPolicy,
        amount: Option<Decimal>,
        reference: Option<String>,
        channel_refund: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        if self.status == ReturnStatus::Authorized
            && !(policy.refund_before_receipt || channel_refund)
        {
            return Err(DomainError::conflict(
                "the return has not been received; the policy refunds after receipt",
            ));
        }
        self.require(ReturnStatus::Refunded)?;
        let requested: Vec<RefundRequestLine> = self
            .lines
            .iter()
            .filter(|l| l.exchange_sku.is_none())
            .map(|l| RefundRequestLine {
                line_no: l.line_no,
                quantity: if self.status == ReturnStatus::Authorized {
                    l.quantity.saturating_sub(l.refunded_quantity)
                } else {
                    l.received_quantity.saturating_sub(l.refunded_quantity)
                },
                reason: l.reason.clone(),
            })
            .filter(|l| l.quantity > 0)
            .collect();
        if requested.is_empty() {
            return Err(DomainError::conflict(
                "nothing of this return is to be refunded (nothing received, or only exchanges); close it instead",
            ));
        }
        let breakdown: RefundBreakdown = crate::refund::compute(order, &requested, policy);
        let paid = match amount {
            None => breakdown.amount,
            Some(a) if a < Decimal::ZERO => {
                return Err(DomainError::invalid("amount", "must not be negative"));
            }
            Some(a) if a > breakdown.amount => {
                return Err(DomainError::invalid(
                    "amount",
                    format!(
                        "{a} is more than the {} this return may refund",
                        breakdown.amount
                    ),
                ));
            }
            Some(a) => a,
        };
        let mut next = self.clone();
        for r in &breakdown.lines {
            let line = next
                .lines
                .iter_mut()
                .find(|l| l.line_no == r.line_no)
                .expect("refund lines come from the return");
            line.refunded_quantity += r.quantity;
            line.refund_amount += r.amount;
        }
        let refund = Refund {
            amount: crate::refund::rescale(paid, order.currency_scale()),
            computed: breakdown.amount,
            shipping: breakdown.shipping,
            restocking_fee: breakdown.restocking_fee,
            lines: breakdown.lines,
            reference,
            at: now,
            tax: None,
        };
        next.status = ReturnStatus::Refunded;
        next.touch(now);
        let event = next.event(ReturnEvent::REFUNDED, json!({"refund": refund}));
        next.refund = Some(refund);
        *self = next;
        Ok(vec![event])
    }

    /// The tax service gave back `tax` of the refund's tax; recorded once.
    pub fn record_tax_refund(
        &mut self,
        tax: RefundTax,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        let Some(refund) = self.refund.as_mut() else {
            return Err(DomainError::conflict("the return has not been refunded"));
        };
        if refund.tax.is_none() {
            refund.tax = Some(tax);
            self.touch(now);
        }
        Ok(())
    }

    /// Nothing more will happen: after the refund, or after a receipt with nothing to refund.
    pub fn close(&mut self, now: DateTime<Utc>) -> Result<Vec<EventDraft>, DomainError> {
        self.require(ReturnStatus::Closed)?;
        self.status = ReturnStatus::Closed;
        self.touch(now);
        Ok(vec![self.event(
            ReturnEvent::CLOSED,
            json!({"refund_amount": self.refund.as_ref().map(|r| r.amount)}),
        )])
    }

    /// Calls the return off before anything was received; its quantities are eligible again.
    pub fn cancel(
        &mut self,
        reason: String,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        self.require(ReturnStatus::Cancelled)?;
        self.status = ReturnStatus::Cancelled;
        self.status_reason = Some(reason.clone());
        self.touch(now);
        Ok(vec![
            self.event(ReturnEvent::CANCELLED, json!({"reason": reason})),
        ])
    }

    fn require(&self, to: ReturnStatus) -> Result<(), DomainError> {
        if self.status.can_become(to) {
            Ok(())
        } else {
            Err(DomainError::conflict(format!(
                "a return that is {} cannot become {to}",
                self.status
            )))
        }
    }

    fn touch(&mut self, now: DateTime<Utc>) {
        self.updated_at = now;
        self.version += 1;
    }

    fn event(&self, kind: &str, mut data: Value) -> EventDraft {
        if let Value::Object(map) = &mut data {
            map.insert("return_id".into(), json!(self.id));
            map.insert("order_id".into(), json!(self.order_id));
            map.insert("status".into(), json!(self.status));
            map.insert("channel".into(), json!(self.channel));
            map.insert("external_id".into(), json!(self.external_id));
        }
        // The order's id as subject: a return's events belong to its order's timeline.
        EventDraft::new(kind, self.order_id.to_string(), data)
    }
}

impl Order {
    /// Brings the order's return figures in line with a return that changed from `before`
    /// (`None` for a new return) to `after`: quantities claimed, received and refunded per line,
    /// amounts refunded, and the return's status in `returns`. Refused, leaving the order as it
    /// was, if the figures would break a promise: more claimed than shipped, more received than
    /// claimed, more refunded than paid.
    pub fn apply_return(
        &mut self,
        before: Option<&ReturnOrder>,
        after: &ReturnOrder,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        let mut next = self.clone();
        let figures = |r: &ReturnOrder, l: &ReturnLine| {
            (
                i64::from(l.claimed(r.status)),
                i64::from(l.received_quantity),
                i64::from(l.refunded_quantity),
                l.refund_amount,
            )
        };
        for line in &after.lines {
            let old = before
                .and_then(|b| b.line(line.line_no).map(|l| figures(b, l)))
                .unwrap_or((0, 0, 0, Decimal::ZERO));
            let new = figures(after, line);
            let Some(target) = next.lines.iter_mut().find(|l| l.line_no == line.line_no) else {
                return Err(DomainError::conflict(format!(
                    "the order has no line {}",
                    line.line_no
                )));
            };
            let adjust = |value: u32, delta: i64| u32::try_from(i64::from(value) + delta).ok();
            let (Some(claimed), Some(received), Some(refunded)) = (
                adjust(target.return_authorized_quantity, new.0 - old.0),
                adjust(target.returned_quantity, new.1 - old.1),
                adjust(target.refunded_quantity, new.2 - old.2),
            ) else {
                return Err(DomainError::conflict(format!(
                    "line {}: the return's quantities do not match the order's",
                    line.line_no
                )));
            };
            if claimed > target.shipped_quantity {
                return Err(DomainError::conflict(format!(
                    "line {}: {claimed} would be claimed by returns but {} shipped",
                    line.line_no, target.shipped_quantity
                )));
            }
            if refunded > target.shipped_quantity || received > target.shipped_quantity {
                return Err(DomainError::conflict(format!(
                    "line {}: more would be returned or refunded than shipped",
                    line.line_no
                )));
            }
            target.return_authorized_quantity = claimed;
            target.returned_quantity = received;
            target.refunded_quantity = refunded;
            target.refunded_amount += new.3 - old.3;
        }
        let paid_before = before.and_then(|b| b.refund.as_ref());
        if let (Some(refund), None) = (after.refund.as_ref(), paid_before) {
            next.refunded_amount += refund.amount;
            next.refunded_shipping += refund.shipping;
            if next.refunded_amount > next.totals.total {
                return Err(DomainError::conflict(format!(
                    "the refunds ({}) would exceed what was paid ({})",
                    next.refunded_amount, next.totals.total
                )));
            }
        }
        match next.returns.iter_mut().find(|r| r.id == after.id) {
            Some(r) => r.status = after.status,
            None => next.returns.push(crate::order::ReturnRef {
                id: after.id.clone(),
                status: after.status,
            }),
        }
        next.updated_at = now;
        next.version = self.version + 1;
        *self = next;
        Ok(())
    }
}
