//! What a sales channel does to its own orders after sending them, applied in the transaction
//! of the message that says so: an order changed before release, an order cancelled, a
//! shipment the channel made. Each goes through the same [`OrderAction`] the API uses, so an
//! order changes the same way whoever asks; the interpretation of the channel's documents is
//! in `iom_providers::shopify`.

use iom_domain::{DomainError, Order, OrderId};
use iom_providers::RefundNotice;
use iom_providers::ShipmentNotice;
use iom_providers::inbound::plan_shipment;
use iom_providers::shopify::{CancelNotice, plan_amendment};
use iom_store::providers::{ApplyError, ContentWork};
use iom_store::{StoreError, Tx};
use serde_json::json;

use crate::orders::{OrderAction, act_in};

fn business(message: String) -> ApplyError {
    ApplyError::Business(json!({ "message": message }))
}

/// A refused change fails the message with the reason; the database's errors stay errors.
fn refused(context: &str, e: StoreError) -> ApplyError {
    match e {
        StoreError::Domain(DomainError::Invalid(errors)) => ApplyError::Business(json!({
            "message": format!("{context}: {} field(s) are invalid", errors.len()),
            "errors": errors,
        })),
        StoreError::Domain(DomainError::Conflict(message)) | StoreError::NotFound(message) => {
            business(format!("{context}: {message}"))
        }
        other => ApplyError::Store(other),
    }
}

fn find(tx: &mut Tx<'_>, channel: &str, external_id: &str) -> Result<Option<OrderId>, ApplyError> {
    Ok(iom_store::orders::find_by_external_id(
        tx.conn(),
        channel,
        external_id,
    )?)
}

/// The order as the channel has it now: the existing order is amended to it (refused once
/// released). The message also carries it as a new order, so that it is created when the
/// channel's create never arrived; an order just created from it has nothing to amend.
pub fn revision(channel: String, revised: Order) -> ContentWork {
    Box::new(move |tx| {
        let context = format!("order {:?}", revised.external_id);
        let id = find(tx, &channel, &revised.external_id)?
            .ok_or_else(|| business(format!("{context}: the order vanished")))?;
        let existing = iom_store::orders::load(tx.conn(), id, false)?
            .ok_or_else(|| business(format!("{context}: the order vanished")))?;
        let amendment = plan_amendment(&revised, &existing);
        crate::orders::amend_in(tx, id, amendment).map_err(|e| refused(&context, e))?;
        Ok(vec![id.to_string()])
    })
}

/// The channel cancelled the order. An order cancelled already is left as it is, so a resend
/// changes nothing.
pub fn cancellation(channel: String, notice: CancelNotice) -> ContentWork {
    Box::new(move |tx| {
        let context = format!("cancellation of order {:?}", notice.order_ref);
        let id = find(tx, &channel, &notice.order_ref)?.ok_or_else(|| {
            business(format!(
                "{context}: no order of channel {channel:?} has this external_id"
            ))
        })?;
        let order = iom_store::orders::load(tx.conn(), id, false)?
            .ok_or_else(|| business(format!("{context}: the order vanished")))?;
        if order.status != iom_domain::OrderStatus::Cancelled {
            act_in(
                tx,
                id,
                OrderAction::Cancel {
                    reason: notice.reason.clone(),
                },
            )
            .map_err(|e| refused(&context, e))?;
        }
        Ok(vec![id.to_string()])
    })
}

/// A shipment the channel made, recorded under its id: the first notice ships, later ones
/// (an update, a resend) only bring a new carrier or tracking number.
pub fn shipment(
    channel: String,
    notice: ShipmentNotice,
    default_node: Option<String>,
) -> ContentWork {
    Box::new(move |tx| {
        let reference = notice.shipment_id.clone().unwrap_or_default();
        let context = format!("shipment {reference} of order {:?}", notice.order_ref);
        let id = find(tx, &channel, &notice.order_ref)?.ok_or_else(|| {
            business(format!(
                "{context}: no order of channel {channel:?} has this external_id"
            ))
        })?;
        let order = iom_store::orders::load(tx.conn(), id, false)?
            .ok_or_else(|| business(format!("{context}: the order vanished")))?;
        let request = if order.shipment_by_reference(&reference).is_some() {
            iom_domain::ShipmentRequest {
                carrier: notice.carrier.clone(),
                tracking: notice.tracking.clone(),
                ..Default::default()
            }
        } else {
            plan_shipment(&notice, &order, default_node.as_deref())
                .map_err(|m| business(format!("{context}: {m}")))?
        };
        act_in(tx, id, OrderAction::ShipReferenced { request, reference })
            .map_err(|e| refused(&context, e))?;
        Ok(vec![id.to_string()])
    })
}

/// A channel's refund becomes a return received and refunded (`crate::returns::channel`).
pub fn refund(channel: String, notice: RefundNotice, default_node: Option<String>) -> ContentWork {
    Box::new(move |tx| {
        crate::returns::channel::apply_refund(tx, &channel, &notice, default_node.as_deref())
    })
}
