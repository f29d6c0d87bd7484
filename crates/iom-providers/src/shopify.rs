//! Shopify webhooks by topic. Shopify says what a webhook means in its `X-Shopify-Topic` header,
//! not in the body (the body of `orders/updated` is the same order object as `orders/create`),
//! so the server passes the header here and this module turns each topic into what iom should
//! do; a message kept in the log keeps its topic as its kind, so a retry means the same again.
//!
//! - `orders/create`: a new order (the default Shopify program).
//! - `orders/updated`: the order as Shopify now has it. The order of the same Shopify id is
//!   amended to it while it is not released (ship-to, ship method, notes, lines changed, added
//!   or removed: [`plan_amendment`]); there is none yet, it is created. After release a change
//!   fails the message with the reason (a person has to settle it with the node that has the
//!   order), while an update that changes nothing iom keeps (payment status, tags, Shopify's own
//!   fulfilment progress) is processed without effect, because Shopify sends one for each of
//!   those.
//! - `orders/cancelled`: the order is cancelled (`OrderAction::Cancel` in iom-app) with
//!   Shopify's `cancel_reason`; an `orders/updated` of a cancelled order (`cancelled_at` set),
//!   which Shopify sends alongside, is taken as the same cancellation. An order cancelled
//!   already stays as it is.
//! - `refunds/create`: a refund ([`crate::refund`]).
//! - `fulfillments/create` and `fulfillments/update`: a shipment Shopify made, recorded under the
//!   fulfilment's id, so an update (a new tracking number) or a resend never ships twice. A
//!   fulfilment's location is an iom node through the instance's node mapping; without an entry
//!   for it, `settings.default_node`. Fulfilments that are not done (`pending`, `open`) or that
//!   failed (`cancelled`, `error`, `failure`) ship nothing and are ignored with the reason.
//! - any other topic: nothing to do; the message is kept as `ignored`.

use chrono::{DateTime, Utc};
use iom_domain::order::{AmendedLine, Amendment};
use iom_domain::{FieldError, Order};
use serde_json::Value;

use crate::inbound::{Content, InboundError, Instance, Interpretation, json_orders, parse_json};
use crate::shipment::{ShipmentLine, ShipmentNotice};

/// The topics iom acts on.
pub const TOPICS: &[&str] = &[
    "orders/create",
    "orders/updated",
    "orders/cancelled",
    "refunds/create",
    "fulfillments/create",
    "fulfillments/update",
];

/// Order attributes an `orders/updated` may change: the notes. Others the program keeps
/// (financial status, tags …) describe Shopify's side and change after release all the time.
const AMENDABLE_ATTRIBUTES: &[&str] = &["note", "note_attributes"];

/// The line attribute that holds Shopify's line item id (see `transforms/shopify.jq`).
const LINE_ID: &str = "shopify_line_item_id";

/// An order the channel cancelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelNotice {
    /// The order's `external_id`.
    pub order_ref: String,
    /// Why, as a short code (Shopify's `cancel_reason`: `customer`, `fraud`, `inventory`, …).
    pub reason: String,
}

/// The topic as Shopify spells it, or `None` when the header is missing or blank (then the
/// body alone decides, as before topics were read).
pub fn topic(header: Option<&str>) -> Option<String> {
    header
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
}

/// Is `kind` (a logged message's kind) a topic, i.e. was the message received with one?
pub fn is_topic(kind: &str) -> bool {
    kind.contains('/')
}

/// Interprets a Shopify webhook of `topic`.
pub fn interpret(
    instance: &Instance,
    topic: &str,
    body: &[u8],
    now: DateTime<Utc>,
) -> Interpretation {
    let result = match topic {
        "orders/create" => parse_json(body).and_then(|v| json_orders(instance, &v, now)),
        "orders/updated" => parse_json(body).and_then(|v| {
            // Shopify announces a cancellation with an update too, whose lines may all be at
            // quantity 0 by then: it is the cancellation.
            let order = v.get("order").filter(|o| o.is_object()).unwrap_or(&v);
            if order["cancelled_at"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
            {
                return cancellation(&v).map(|notice| Content {
                    cancellations: vec![notice],
                    ..Content::default()
                });
            }
            json_orders(instance, &current_quantities(v), now).map(|c| Content {
                revisions: c.orders,
                ..Content::default()
            })
        }),
        "orders/cancelled" => parse_json(body).and_then(|v| {
            cancellation(&v).map(|notice| Content {
                cancellations: vec![notice],
                ..Content::default()
            })
        }),
        "refunds/create" => parse_json(body).and_then(|v| {
            crate::refund::shopify_refund(&v).map(|notice| Content {
                refunds: vec![notice],
                ..Content::default()
            })
        }),
        "fulfillments/create" | "fulfillments/update" => {
            parse_json(body).and_then(|v| fulfillment(instance, &v))
        }
        other => Ok(Content {
            ignored: Some(format!("iom does not act on the Shopify topic {other:?}")),
            ..Content::default()
        }),
    };
    Interpretation {
        kind: topic.to_owned(),
        result,
        ack: None,
        x12_partner: None,
    }
}

/// Shopify keeps a line's ordered `quantity` after an order edit and says what is left in
/// `current_quantity` (0 for a removed line): the order as it now is has the current quantities.
fn current_quantities(mut value: Value) -> Value {
    let order = if value.get("order").is_some_and(Value::is_object) {
        &mut value["order"]
    } else {
        &mut value
    };
    if let Some(items) = order.get_mut("line_items").and_then(Value::as_array_mut) {
        for item in items.iter_mut() {
            if let Some(current) = item.get("current_quantity").filter(|q| q.is_u64()).cloned() {
                item["quantity"] = current;
            }
        }
        items.retain(|item| item["quantity"].as_u64() != Some(0));
    }
    value
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn cancellation(value: &Value) -> Result<CancelNotice, InboundError> {
    let order = value
        .get("order")
        .filter(|o| o.is_object())
        .unwrap_or(value);
    let order_ref = text(&order["id"]).ok_or_else(|| {
        InboundError::Invalid(vec![FieldError::new("$.id", "the order's id is required")])
    })?;
    Ok(CancelNotice {
        order_ref,
        reason: text(&order["cancel_reason"]).unwrap_or_else(|| "channel".to_owned()),
    })
}

fn fulfillment(instance: &Instance, value: &Value) -> Result<Content, InboundError> {
    let f = value
        .get("fulfillment")
        .filter(|o| o.is_object())
        .unwrap_or(value);
    let path = if std::ptr::eq(f, value) {
        "$"
    } else {
        "$.fulfillment"
    };
    let mut errors = Vec::new();
    let order_ref = text(&f["order_id"]);
    if order_ref.is_none() {
        errors.push(FieldError::new(format!("{path}.order_id"), "is required"));
    }
    let id = text(&f["id"]);
    if id.is_none() {
        errors.push(FieldError::new(format!("{path}.id"), "is required"));
    }
    let status = f["status"].as_str().unwrap_or("success");
    if status != "success" {
        if !errors.is_empty() {
            return Err(InboundError::Invalid(errors));
        }
        return Ok(Content {
            ignored: Some(format!(
                "Shopify fulfillment {} is {status}: only a successful fulfillment is a shipment",
                id.unwrap_or_default()
            )),
            ..Content::default()
        });
    }
    let mut lines = Vec::new();
    match f["line_items"].as_array() {
        None => errors.push(FieldError::new(
            format!("{path}.line_items"),
            "is required (the items shipped)",
        )),
        Some(items) if items.is_empty() => errors.push(FieldError::new(
            format!("{path}.line_items"),
            "must have at least one item",
        )),
        Some(items) => {
            for (i, item) in items.iter().enumerate() {
                let quantity = item["quantity"]
                    .as_u64()
                    .and_then(|q| u32::try_from(q).ok());
                let sku = text(&item["sku"]).or_else(|| text(&item["variant_id"]));
                if sku.is_none() {
                    errors.push(FieldError::new(
                        format!("{path}.line_items[{i}].sku"),
                        "is required (or variant_id)",
                    ));
                }
                match quantity {
                    Some(q) if q > 0 => lines.push(ShipmentLine {
                        line_no: None,
                        sku,
                        quantity: q,
                        uom: None,
                    }),
                    _ => errors.push(FieldError::new(
                        format!("{path}.line_items[{i}].quantity"),
                        format!(
                            "must be a whole number of at least 1, found {}",
                            item["quantity"]
                        ),
                    )),
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(InboundError::Invalid(errors));
    }
    // A location is a node only through the node mapping (Shopify's location ids mean nothing
    // to iom); otherwise the instance's default node.
    let node = text(&f["location_id"]).filter(|l| instance.mappings.node.contains_key(l));
    let tracking = text(&f["tracking_number"]).or_else(|| {
        let all: Vec<String> = f["tracking_numbers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(text)
            .collect();
        (!all.is_empty()).then(|| all.join(", "))
    });
    let mut attributes = serde_json::Map::new();
    for key in ["name", "tracking_url", "shipment_status"] {
        if let Some(v) = text(&f[key]) {
            attributes.insert(format!("shopify_{key}"), Value::String(v));
        }
    }
    let notice = ShipmentNotice {
        order_ref: order_ref.unwrap_or_default(),
        purchase_order: None,
        shipment_id: id,
        node,
        lines,
        carrier: text(&f["tracking_company"]),
        tracking,
        ship_date: f["created_at"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.date_naive()),
        attributes,
    };
    let notice = instance.mappings.apply_to_shipment(notice)?;
    Ok(Content {
        channel_shipments: vec![notice],
        ..Content::default()
    })
}

/// The amendment that makes `existing` what `revised` (the order as Shopify now sends it) says:
/// lines are matched by Shopify's line item id, else by line number and SKU; the notes are the
/// only attributes taken.
pub fn plan_amendment(revised: &Order, existing: &Order) -> Amendment {
    let line_id =
        |attributes: &serde_json::Map<String, Value>| attributes.get(LINE_ID).and_then(text);
    let mut taken: Vec<u32> = Vec::new();
    let lines = revised
        .lines
        .iter()
        .map(|l| {
            let id = line_id(&l.attributes);
            let matched = existing
                .lines
                .iter()
                .filter(|e| !taken.contains(&e.line_no))
                .find(|e| match (&id, line_id(&e.attributes)) {
                    (Some(a), Some(b)) => *a == b,
                    _ => e.line_no == l.line_no && e.sku == l.sku,
                })
                .map(|e| e.line_no);
            if let Some(n) = matched {
                taken.push(n);
            }
            AmendedLine {
                line_no: matched,
                sku: l.sku.clone(),
                quantity: l.quantity,
                unit_price: l.unit_price,
                discount: l.discount,
                tax: l.tax,
                uom: l.uom.clone(),
                attributes: l.attributes.clone(),
            }
        })
        .collect();
    Amendment {
        ship_to: revised.ship_to.clone(),
        ship_method: revised.ship_method.clone(),
        attributes: revised
            .attributes
            .iter()
            .filter(|(k, _)| AMENDABLE_ATTRIBUTES.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        lines: Some(lines),
    }
}
