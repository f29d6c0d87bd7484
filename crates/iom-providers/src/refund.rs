//! The canonical refund notice: what a channel reports it refunded (Shopify's `refunds/create`
//! webhook, or `{"refund": …}` from its REST API). The returns service turns one into a return of
//! the order, received when the channel restocked the items, and refunded with what the channel
//! paid back.

use chrono::{DateTime, FixedOffset};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::inbound::InboundError;
use iom_domain::FieldError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefundNotice {
    /// The order as the channel knows it (its order id): the order's `external_id`.
    pub order_ref: String,
    /// The channel's id of the refund; a second notice with the same id changes nothing.
    pub refund_id: String,
    pub note: Option<String>,
    /// The channel put the items back in stock: they were received.
    pub restock: bool,
    pub lines: Vec<RefundNoticeLine>,
    /// What the channel paid back (successful refund transactions), when it says.
    pub amount: Option<Decimal>,
    pub currency: Option<String>,
    pub created_at: Option<DateTime<FixedOffset>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundNoticeLine {
    /// The channel's id of the order line (Shopify `line_item_id`), which the order transformation
    /// keeps as the line's `shopify_line_item_id` attribute.
    pub line_ref: Option<String>,
    pub sku: Option<String>,
    pub quantity: u32,
}

/// Is this Shopify document a refund (`{"refund": …}` or the bare refund of a webhook)?
pub fn is_shopify_refund(value: &Value) -> bool {
    value.get("refund").is_some_and(Value::is_object) || value.get("refund_line_items").is_some()
}

/// Reads a Shopify refund as Shopify sends it.
pub fn shopify_refund(value: &Value) -> Result<RefundNotice, InboundError> {
    let refund = value.get("refund").unwrap_or(value);
    // Errors name the JSON path in the document as sent: a webhook's bare refund or the API's
    // `{"refund": …}`.
    let base = if std::ptr::eq(refund, value) {
        "$"
    } else {
        "$.refund"
    };
    let mut errors = Vec::new();
    let text = |v: &Value| match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let order_ref = text(&refund["order_id"]);
    if order_ref.is_none() {
        errors.push(FieldError::new(format!("{base}.order_id"), "is required"));
    }
    let refund_id = text(&refund["id"]);
    if refund_id.is_none() {
        errors.push(FieldError::new(format!("{base}.id"), "is required"));
    }
    let mut lines = Vec::new();
    match refund["refund_line_items"].as_array() {
        None => errors.push(FieldError::new(
            format!("{base}.refund_line_items"),
            "is required (a refund of money alone is not a return)",
        )),
        Some(items) => {
            for (i, item) in items.iter().enumerate() {
                let quantity = item["quantity"]
                    .as_u64()
                    .and_then(|q| u32::try_from(q).ok());
                match quantity {
                    Some(q) if q > 0 => lines.push(RefundNoticeLine {
                        line_ref: text(&item["line_item_id"])
                            .or_else(|| text(&item["line_item"]["id"])),
                        sku: text(&item["line_item"]["sku"]),
                        quantity: q,
                    }),
                    _ => errors.push(FieldError::new(
                        format!("{base}.refund_line_items[{i}].quantity"),
                        "must be a whole number of at least 1",
                    )),
                }
            }
            if items.is_empty() {
                errors.push(FieldError::new(
                    format!("{base}.refund_line_items"),
                    "must have at least one line (a refund of money alone is not a return)",
                ));
            }
        }
    }
    let mut amount: Option<Decimal> = None;
    let mut currency = None;
    for (i, t) in refund["transactions"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let is_refund = t["kind"].as_str() == Some("refund");
        let succeeded = t["status"].as_str().is_none_or(|s| s == "success");
        if !(is_refund && succeeded) {
            continue;
        }
        match text(&t["amount"]).and_then(|a| Decimal::from_str_exact(&a).ok()) {
            Some(a) => *amount.get_or_insert(Decimal::ZERO) += a,
            None => errors.push(FieldError::new(
                format!("{base}.transactions[{i}].amount"),
                "is not a decimal amount",
            )),
        }
        currency = currency.or_else(|| text(&t["currency"]));
    }
    let created_at = refund["created_at"]
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok());
    if !errors.is_empty() {
        return Err(InboundError::Invalid(errors));
    }
    Ok(RefundNotice {
        order_ref: order_ref.unwrap_or_default(),
        refund_id: refund_id.unwrap_or_default(),
        note: text(&refund["note"]),
        // Older payloads say `restock` once; newer ones say `restock_type` per line.
        restock: refund["restock"].as_bool().unwrap_or(false)
            || refund["refund_line_items"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|item| item["restock_type"].as_str() == Some("return")),
        lines,
        amount,
        currency,
        created_at,
    })
}
