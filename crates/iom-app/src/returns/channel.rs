//! Refunds a channel reports (a Shopify refund): the channel already decided and paid, so iom
//! records it as a return of the order, received at a node when the channel restocked the items,
//! refunded with what the channel paid back (never more than the policy's refund), and closed.
//! Run inside the transaction that logs the document, so the document and its effects commit
//! together.

use iom_domain::returns::{ReceiptIntake, ReceiptLineIntake, ReturnIntake, ReturnLineIntake};
use iom_domain::{DomainError, Order, OrderLine};
use iom_providers::RefundNotice;
use iom_store::providers::ApplyError;
use iom_store::{StoreError, Tx};
use serde_json::json;

use super::{self as service, Authorized};

/// The reason recorded for a channel's refund: the channel does not say one in the catalogue's
/// terms.
pub const CHANNEL_REASON: &str = "other";

fn business(message: String) -> ApplyError {
    ApplyError::Business(json!({ "message": message }))
}

fn domain(context: &str, e: StoreError) -> ApplyError {
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

/// The order line a refund line names: by the channel's line id, else by SKU.
fn order_line<'a>(
    order: &'a Order,
    line_ref: Option<&str>,
    sku: Option<&str>,
) -> Option<&'a OrderLine> {
    let by_ref = line_ref.and_then(|r| {
        order.lines.iter().find(|l| {
            l.attributes
                .get("shopify_line_item_id")
                .and_then(|v| v.as_str())
                == Some(r)
        })
    });
    by_ref.or_else(|| order.lines.iter().find(|l| Some(l.sku.as_str()) == sku))
}

/// Applies `notice` from the provider instance `channel`; `default_node` receives restocked items
/// when set, else the node the return was directed to. The same refund again changes nothing.
pub fn apply_refund(
    tx: &mut Tx<'_>,
    channel: &str,
    notice: &RefundNotice,
    default_node: Option<&str>,
) -> Result<Vec<String>, ApplyError> {
    let context = format!(
        "refund {} of order {:?}",
        notice.refund_id, notice.order_ref
    );
    let id = iom_store::orders::find_by_external_id(tx.conn(), channel, &notice.order_ref)?
        .ok_or_else(|| {
            business(format!(
                "{context}: no order of channel {channel:?} has this external_id"
            ))
        })?;
    let order = iom_store::orders::load(tx.conn(), id, false)?
        .ok_or_else(|| business(format!("{context}: the order vanished")))?;
    let mut lines = Vec::new();
    for (i, l) in notice.lines.iter().enumerate() {
        let Some(line) = order_line(&order, l.line_ref.as_deref(), l.sku.as_deref()) else {
            return Err(business(format!(
                "{context}: refund line {i} (line item {}, SKU {}) matches no line of the order",
                l.line_ref.as_deref().unwrap_or("?"),
                l.sku.as_deref().unwrap_or("?")
            )));
        };
        lines.push(ReturnLineIntake {
            line_no: Some(line.line_no.into()),
            quantity: Some(l.quantity.into()),
            reason: Some(CHANNEL_REASON.into()),
            note: None,
            exchange: None,
        });
    }
    let reference = format!("refund:{}", notice.refund_id);
    let intake = ReturnIntake {
        order_id: Some(order.id.to_string()),
        origin: Some("online".into()),
        lines: Some(lines.clone()),
        node: None,
        reference: Some(reference.clone()),
        note: notice.note.clone(),
    };
    let ret = match service::authorize_in(tx, intake).map_err(|e| domain(&context, e))? {
        Authorized::Created(ret) => *ret,
        // The refund was applied before (another document carrying it): nothing more to do.
        Authorized::Duplicate { .. } => return Ok(vec![order.id.to_string()]),
    };
    if notice.restock {
        let node = default_node
            .map(str::to_owned)
            .or_else(|| ret.return_to.as_ref().map(|r| r.node.clone()))
            .ok_or_else(|| {
                business(format!(
                    "{context}: the channel restocked the items but no node takes returns; set the provider's settings.default_node"
                ))
            })?;
        let receipt = ReceiptIntake {
            node: Some(node),
            lines: Some(
                lines
                    .iter()
                    .map(|l| ReceiptLineIntake {
                        line_no: l.line_no,
                        quantity: l.quantity,
                        condition: None,
                        disposition: Some("restock".into()),
                    })
                    .collect(),
            ),
        };
        service::receive_in(tx, &ret.id, receipt).map_err(|e| domain(&context, e))?;
    }
    service::refund_in(
        tx,
        &ret.id,
        notice.amount,
        Some(notice.refund_id.clone()),
        true,
    )
    .map_err(|e| domain(&context, e))?;
    service::close_in(tx, &ret.id).map_err(|e| domain(&context, e))?;
    Ok(vec![order.id.to_string()])
}
