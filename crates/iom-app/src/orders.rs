//! Orders: capture one, and act on it. The HTTP API, the web UI and the flow steps that hold or
//! cancel an order all go through [`OrderAction`], so an action does the same whoever asks for it:
//! the aggregate decides (`iom_domain::Order`), and what the change does to inventory (a shipment
//! consumes its reservations, a cancellation releases them: [`crate::inventory::order_effects`])
//! commits in the same transaction as the order and its events.

use chrono::{DateTime, Utc};
use iom_domain::order::{Amendment, LineQuantityRequest, ShipmentRequest};
use iom_domain::{DomainError, EventDraft, Order, OrderId, ShipmentLabel, TrackingStatus};
use iom_store::orders::Render;
use iom_store::{CreateOutcome, Idempotency, Store, StoreError, Tx};

/// Something done to an order after it was captured.
#[derive(Debug, Clone)]
pub enum OrderAction {
    /// Cancel what is left of the order.
    Cancel { reason: String },
    /// Cancel a line, or `quantity` of it (all of its open quantity when `None`).
    CancelLine {
        line_no: u32,
        quantity: Option<u32>,
        reason: String,
    },
    /// Put the order on hold under `code`, with an optional note.
    Hold { code: String, note: Option<String> },
    /// Release the hold `code`, or every hold when `None`.
    Release { code: Option<String> },
    /// Hold one line: it is not released to a node until its hold is released.
    HoldLine { line_no: u32, note: Option<String> },
    /// Release the hold of one line; the flow's release step then releases it.
    ReleaseLine { line_no: u32 },
    /// Record a shipment from a node.
    Ship(ShipmentRequest),
    /// Record a delivery of shipped quantities (all that was shipped when `None`).
    Deliver(Option<Vec<LineQuantityRequest>>),
    /// Change the order before release: ship-to, ship method, notes, lines (see
    /// `iom_domain::order::Amendment`).
    Amend(Amendment),
    /// Record a shipment made elsewhere under that system's id for it: the same id again
    /// ships nothing more and only updates carrier and tracking.
    ShipReferenced {
        request: ShipmentRequest,
        reference: String,
    },
    /// Record a shipment whose label was bought from a carrier, once per purchase (`reference`).
    ShipLabelled {
        request: ShipmentRequest,
        label: ShipmentLabel,
        reference: String,
    },
    /// Apply what a carrier's tracker says of a shipment (`delivered` records the delivery).
    Track {
        shipment_id: String,
        status: TrackingStatus,
        detail: Option<String>,
    },
}

impl OrderAction {
    /// Applies the action to `order` (a copy until it succeeds) and returns the events that
    /// announce it.
    pub fn apply(
        self,
        order: &mut Order,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        match self {
            OrderAction::Cancel { reason } => order.cancel(&reason, now),
            OrderAction::CancelLine {
                line_no,
                quantity,
                reason,
            } => order.cancel_line(line_no, quantity, &reason, now),
            OrderAction::Hold { code, note } => order.hold(&code, note, now),
            OrderAction::Release { code } => order.release_hold(code.as_deref(), now),
            OrderAction::HoldLine { line_no, note } => order.hold_line(line_no, note, now),
            OrderAction::ReleaseLine { line_no } => order.release_line_hold(line_no, now),
            OrderAction::Ship(request) => order.record_shipment(request, now),
            OrderAction::Deliver(lines) => order.record_delivery(lines, now),
            OrderAction::Amend(amendment) => order.amend(amendment, now),
            OrderAction::ShipReferenced { request, reference } => {
                order.record_referenced_shipment(request, &reference, now)
            }
            OrderAction::ShipLabelled {
                request,
                label,
                reference,
            } => order.record_labelled_shipment(request, label, &reference, now),
            OrderAction::Track {
                shipment_id,
                status,
                detail,
            } => order.track_shipment(&shipment_id, status, detail, now),
        }
    }
}

/// Captures a validated order: its ship-to located (`located_by`), stored with `order.received`,
/// once per (channel, external id) and per idempotency key. `render` is the response a retry with
/// the same key gets again.
pub async fn capture(
    store: &Store,
    order: Order,
    idempotency: Option<Idempotency>,
    render: Render,
) -> Result<CreateOutcome, StoreError> {
    let mut order = order;
    crate::fulfillment::locate::label_orders(store, std::slice::from_mut(&mut order)).await?;
    let outcome = store.create_order(order, idempotency, render).await?;
    if let CreateOutcome::Created(order) = &outcome {
        metrics::counter!("iom_orders_created_total", "channel" => order.channel.clone())
            .increment(1);
    }
    Ok(outcome)
}

/// The stored order `id`. One captured before capture recorded `located_by` gets it as capture
/// would now (not stored: reading changes nothing).
pub async fn get(store: &Store, id: OrderId) -> Result<Option<Order>, StoreError> {
    let Some(mut order) = store.get_order(id).await? else {
        return Ok(None);
    };
    crate::fulfillment::locate::label_orders(store, std::slice::from_mut(&mut order)).await?;
    Ok(Some(order))
}

/// Applies `action` to the stored order `id`, with its inventory effects, in one transaction.
pub async fn act(store: &Store, id: OrderId, action: OrderAction) -> Result<Order, StoreError> {
    store
        .update_order_with(
            id,
            move |order, now| action.apply(order, now),
            crate::inventory::order_effects,
        )
        .await
}

/// As [`act`], inside a transaction that does more (an inbound document's): the order is locked,
/// changed, saved with its inventory effects, and its events are emitted with the transaction.
pub fn act_in(tx: &mut Tx<'_>, id: OrderId, action: OrderAction) -> Result<Order, StoreError> {
    act_in_changed(tx, id, action).map(|(order, _)| order)
}

/// As [`act_in`], saying whether the action changed the order.
fn act_in_changed(
    tx: &mut Tx<'_>,
    id: OrderId,
    action: OrderAction,
) -> Result<(Order, bool), StoreError> {
    let now = tx.now();
    let mut order = iom_store::orders::load(tx.conn(), id, true)?
        .ok_or_else(|| StoreError::NotFound(format!("order {id}")))?;
    let before = order.clone();
    let events = action.apply(&mut order, now)?;
    if events.is_empty() && order == before {
        return Ok((order, false));
    }
    iom_store::orders::save(tx.conn(), &before, &order)?;
    crate::inventory::order_effects(tx, &order, &events)?;
    tx.emit_all(events);
    Ok((order, true))
}

/// Changes the order before it is released (ship-to, ship method, lines: `Order::amend`
/// decides what is allowed and announces it with `order.amended`): in one transaction the
/// reservations of the lines that changed are given back and the order's flow run, when it had
/// planned already, plans again ([`crate::flow::drive::replan`]), so nothing stays reserved for
/// a line as it was and nothing changed is released unplanned.
pub async fn amend(
    store: &Store,
    id: OrderId,
    mut amendment: Amendment,
) -> Result<Order, StoreError> {
    // A new ship-to is located as capture locates one (`located_by`).
    if let Some(ship_to) = amendment.ship_to.take()
        && let Some(mut probe) = store.get_order(id).await?
    {
        probe.ship_to = Some(ship_to);
        crate::fulfillment::locate::label_orders(store, std::slice::from_mut(&mut probe)).await?;
        amendment.ship_to = probe.ship_to;
    }
    store.write(move |tx| amend_in(tx, id, amendment)).await
}

/// As [`amend`] inside a transaction that does more (a channel's revision of the order); the
/// ship-to is taken as it is.
pub fn amend_in(tx: &mut Tx<'_>, id: OrderId, amendment: Amendment) -> Result<Order, StoreError> {
    let (order, changed) = act_in_changed(tx, id, OrderAction::Amend(amendment))?;
    if changed {
        crate::flow::drive::replan(tx, &id.to_string())?;
    }
    Ok(order)
}
