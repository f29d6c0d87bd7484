//! Avalara AvaTax's REST API v2 as iom speaks it: the transaction an order's tax is calculated
//! with, and what AvaTax answers. The calls are `iom-app`'s.
//!
//! An order is one AvaTax document whose `code` is iom's order id: created uncommitted
//! (`SalesInvoice`, `commit: false`) when the order is taxed before release, committed
//! (`…/transactions/{code}/commit`) when it has shipped, adjusted to what shipped and committed
//! when the rest was cancelled, voided (`…/void`) when it was cancelled with nothing shipped.
//! Amounts are decimals written as JSON numbers, as AvaTax takes them; answers are read back
//! into decimals through their text, never through floats.

use iom_domain::{Address, Order};
use rust_decimal::Decimal;
use serde_json::{Value, json};

/// Where the goods leave from: an address, or a point.
#[derive(Debug, Clone, PartialEq)]
pub enum ShipFrom {
    Address(Box<Address>),
    Point { lat: f64, lon: f64 },
}

fn address(a: &Address) -> Value {
    json!({
        "line1": a.line1, "line2": a.line2, "city": a.city, "region": a.region,
        "postalCode": a.postal_code, "country": a.country.to_string(),
    })
}

fn number(d: Decimal) -> Value {
    // A JSON number with exactly the decimal's digits.
    serde_json::from_str(&d.normalize().to_string()).unwrap_or(Value::Null)
}

/// One line of the document: iom's line number, the quantity, and its amount after its own
/// discount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaxLine {
    pub line_no: u32,
    pub quantity: u32,
}

/// `POST /api/v2/transactions/create`: the order's lines at `quantities` (all active units when
/// the order is taxed; what shipped when it is adjusted).
pub fn create_transaction(
    order: &Order,
    company_code: &str,
    from: &ShipFrom,
    lines: &[TaxLine],
    commit: bool,
) -> Value {
    document(order, company_code, from, lines, commit, Decimal::ONE)
}

/// `POST /api/v2/transactions/createoradjust`: a committed `ReturnInvoice` `refund_code` giving
/// back the tax of the returned units (`lines` at their returned quantities; amounts negative),
/// taxed as of the order's date. AvaTax's refund API gives back whole lines only, which would
/// give back the tax of units a partial return kept; and create-or-adjust under one code makes
/// the same document again rather than a second one when a call is repeated.
pub fn return_invoice(
    order: &Order,
    company_code: &str,
    from: &ShipFrom,
    lines: &[TaxLine],
    refund_code: &str,
    date: chrono::NaiveDate,
) -> Value {
    let mut doc = document(
        order,
        company_code,
        from,
        lines,
        true,
        Decimal::NEGATIVE_ONE,
    );
    doc["type"] = json!("ReturnInvoice");
    doc["code"] = json!(refund_code);
    doc["date"] = json!(date.to_string());
    doc["referenceCode"] = json!(transaction_code(order));
    doc["taxOverride"] = json!({"type": "TaxDate", "reason": "Return",
        "taxDate": order.placed_at.date_naive().to_string()});
    json!({"createTransactionModel": doc})
}

/// The document of `lines`, amounts multiplied by `sign` (1, or -1 for a return).
fn document(
    order: &Order,
    company_code: &str,
    from: &ShipFrom,
    lines: &[TaxLine],
    commit: bool,
    sign: Decimal,
) -> Value {
    let to = order.ship_to.as_ref().map(address).unwrap_or(Value::Null);
    let from = match from {
        ShipFrom::Address(a) => address(a),
        ShipFrom::Point { lat, lon } => json!({"latitude": lat, "longitude": lon}),
    };
    let mut discounted = Decimal::ZERO;
    let lines: Vec<Value> = lines
        .iter()
        .filter_map(|tl| {
            let line = order.line(tl.line_no)?;
            let share = iom_domain::refund::portion(
                line.discount,
                tl.quantity,
                line.quantity,
                order.currency_scale(),
            );
            let amount = line.unit_price * Decimal::from(tl.quantity) - share;
            discounted += amount;
            Some(json!({
                "number": line.line_no.to_string(), "quantity": tl.quantity,
                "amount": number(amount * sign), "itemCode": line.sku, "discounted": true,
            }))
        })
        .collect();
    let customer = order
        .customer
        .as_ref()
        .and_then(|c| c.id.clone().or_else(|| c.email.clone()))
        .unwrap_or_else(|| format!("{}:{}", order.channel, order.external_id));
    // The order's discount in proportion to the lines taxed, as the order shares it.
    let order_discount = if discounted > Decimal::ZERO {
        let all: Decimal = order
            .lines
            .iter()
            .map(|l| l.unit_price * Decimal::from(l.quantity) - l.discount)
            .sum();
        if all > Decimal::ZERO {
            (order.discount_amount * discounted / all).round_dp(order.currency_scale())
        } else {
            Decimal::ZERO
        }
    } else {
        Decimal::ZERO
    };
    json!({
        "type": "SalesInvoice",
        "code": transaction_code(order),
        "companyCode": company_code,
        "date": order.placed_at.date_naive().to_string(),
        "customerCode": customer,
        "currencyCode": order.currency.code(),
        "purchaseOrderNo": order.external_id,
        "discount": number(order_discount * sign),
        "commit": commit,
        "addresses": {"shipFrom": from, "shipTo": to},
        "lines": lines,
    })
}

/// The document's code at AvaTax: iom's order id.
pub fn transaction_code(order: &Order) -> String {
    order.id.to_string()
}

/// `POST /api/v2/companies/{companyCode}/transactions/{code}/commit`.
pub fn commit() -> Value {
    json!({"commit": true})
}

/// `POST /api/v2/companies/{companyCode}/transactions/{code}/void`.
pub fn void() -> Value {
    json!({"code": "DocVoided"})
}

/// `POST /api/v2/companies/{companyCode}/transactions/{code}/adjust`: the document replaced by
/// `transaction` (what shipped), committed.
pub fn adjust(transaction: Value) -> Value {
    json!({"adjustmentReason": "PriceAdjusted", "adjustmentDescription": "Lines cancelled before shipping", "newTransaction": transaction})
}

/// The code of the refund document of a return: the order's document code and the return.
pub fn refund_code(document: &str, return_id: &str) -> String {
    format!("{document}-refund-{return_id}")
}

/// What AvaTax answered: the document's code and status, and the tax of each line.
#[derive(Debug, Clone, PartialEq)]
pub struct Transaction {
    pub code: String,
    pub id: Option<i64>,
    pub status: String,
    pub total_tax: Decimal,
    /// By iom line number.
    pub lines: Vec<(u32, Decimal)>,
}

fn decimal(v: &Value) -> Option<Decimal> {
    match v {
        Value::Number(n) => n.to_string().parse().ok(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

impl Transaction {
    pub fn parse(body: &[u8]) -> Result<Transaction, String> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| format!("AvaTax's answer is not JSON: {e}"))?;
        let lines = v["lines"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| {
                let number = l["lineNumber"]
                    .as_str()
                    .and_then(|n| n.parse::<u32>().ok())
                    .ok_or("a line of AvaTax's answer has no lineNumber")?;
                let tax = decimal(&l["tax"]).ok_or("a line of AvaTax's answer has no tax")?;
                Ok((number, tax))
            })
            .collect::<Result<Vec<_>, &str>>()?;
        Ok(Transaction {
            code: v["code"].as_str().unwrap_or_default().to_owned(),
            id: v["id"].as_i64(),
            status: v["status"].as_str().unwrap_or_default().to_owned(),
            total_tax: decimal(&v["totalTax"]).unwrap_or_default(),
            lines,
        })
    }
}

/// AvaTax's error (`{"error": {"code", "message", "details": [...]}}`) as one sentence.
pub fn error_message(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| {
            let e = &v["error"];
            let message = e["message"].as_str()?;
            Some(match e["code"].as_str() {
                Some(code) => format!("{message} ({code})"),
                None => message.to_owned(),
            })
        })
        .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_exactly() {
        let t = Transaction::parse(
            br#"{"id": 7, "code": "o1", "status": "Saved", "totalTax": 2.51,
                 "lines": [{"lineNumber": "1", "tax": 2.01}, {"lineNumber": "2", "tax": 0.5}]}"#,
        )
        .unwrap();
        assert_eq!(t.total_tax, Decimal::new(251, 2));
        assert_eq!(
            t.lines,
            vec![(1, Decimal::new(201, 2)), (2, Decimal::new(5, 1))]
        );
        assert_eq!(
            error_message(br#"{"error": {"code": "AuthenticationException", "message": "Authentication failed."}}"#),
            "Authentication failed. (AuthenticationException)"
        );
    }
}
