//! Tracker webhooks of a `carrier` instance (`POST /api/v1/inbound/{carrier}`, EasyPost Events
//! signed with `X-Hmac-Signature`). Each is logged and applied in one transaction like every
//! inbound document: the shipment whose tracking code it names moves to its new status, and
//! `delivered` records the delivery. The same event again is the same document (a duplicate); a
//! different event with a status already known changes nothing (`Order::track_shipment`).

use iom_providers::easypost::{self, TrackerNotice};
use iom_store::StoreError;
use iom_store::providers::{Apply, ApplyError, ContentWork};
use serde_json::json;

use crate::orders::{OrderAction, act_in};

/// What a tracker webhook asks for.
pub fn apply(provider: &str, body: &[u8]) -> Apply {
    let notice = match easypost::tracker_event(body) {
        Ok(Some(notice)) => notice,
        Ok(None) => return Apply::Ignored(json!({"message": "not a tracker event"})),
        Err(message) => return Apply::Failed(json!({ "message": message })),
    };
    if notice.status.is_none() {
        return Apply::Ignored(json!({
            "message": format!("tracker status {:?} moves no shipment", notice.carrier_status)
        }));
    }
    Apply::Content {
        orders: Vec::new(),
        shipments: Vec::new(),
        work: vec![work(provider.to_owned(), notice)],
    }
}

fn work(provider: String, notice: TrackerNotice) -> ContentWork {
    Box::new(move |tx| {
        let label = iom_store::shipping::by_tracking(tx.conn(), &provider, &notice.tracking_code)?
            .ok_or_else(|| {
                ApplyError::Business(json!({"message": format!(
                    "no label bought through {provider} has tracking code {:?}",
                    notice.tracking_code
                )}))
            })?;
        let order_id = label
            .order_id
            .parse()
            .map_err(|_| StoreError::Corrupt("a label's order id".into()))?;
        let action = OrderAction::Track {
            shipment_id: label.shipment_id.clone().unwrap_or_default(),
            status: notice.status.expect("checked before"),
            detail: notice.detail.clone(),
        };
        match act_in(tx, order_id, action) {
            Ok(order) => Ok(vec![order.id.to_string()]),
            Err(StoreError::Domain(e)) => {
                Err(ApplyError::Business(json!({"message": e.to_string()})))
            }
            Err(e) => Err(e.into()),
        }
    })
}
