//! Stripe's PaymentIntents API as iom speaks it: the form-encoded bodies of the calls
//! (authorise with manual capture, capture an amount, cancel, refund), the objects Stripe answers
//! with, and the amount a shipment captures. The calls themselves are `iom-app`'s.
//!
//! Captures follow Stripe's multicapture: the authorisation asks for it
//! (`payment_method_options[card][request_multicapture]=if_available`), every capture but the
//! last says `final_capture=false`, and the last one, or a cancellation, lets the rest of the
//! authorisation go. Amounts are integers of the currency's minor units, from decimals, never
//! floats.

use iom_domain::Order;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Deserialize;

use crate::x12::outbound::invoice_amounts;

/// A form body: pairs in the order they are sent.
pub type Form = Vec<(String, String)>;

fn pair(k: &str, v: impl ToString) -> (String, String) {
    (k.to_owned(), v.to_string())
}

/// `amount` in minor units of a currency with `scale` decimals (19.99 USD → 1999), rounded half
/// to even where the amount is more precise than the currency.
pub fn minor_units(amount: Decimal, scale: u32) -> Result<i64, String> {
    let rounded = amount.round_dp_with_strategy(scale, RoundingStrategy::MidpointNearestEven);
    let units = rounded * Decimal::from(10_i64.pow(scale));
    i64::try_from(units.trunc()).map_err(|_| format!("{amount} is too large to charge"))
}

/// Minor units back to a decimal with the currency's scale (1999 → 19.99).
pub fn from_minor(units: i64, scale: u32) -> Decimal {
    Decimal::new(units, scale)
}

/// What the `index`-th shipment of `order` captures: its lines, their share of the order's
/// discount and of tax, and the shipping charge on the first shipment, with the invoices' shares
/// (`x12::outbound::invoice_amounts`), so the captures of a fully shipped order add up to its
/// total. Rounded to the currency.
pub fn shipment_amount(order: &Order, index: usize) -> Result<Decimal, String> {
    let amounts = invoice_amounts(order, index).map_err(|e| e.to_string())?;
    Ok(amounts.total.round_dp_with_strategy(
        order.currency_scale(),
        RoundingStrategy::MidpointNearestEven,
    ))
}

/// What the order owes in all, rounded to the currency: the amount to authorise.
pub fn order_amount(order: &Order) -> Decimal {
    order.totals.total.round_dp_with_strategy(
        order.currency_scale(),
        RoundingStrategy::MidpointNearestEven,
    )
}

/// `POST /v1/payment_intents`: create and confirm an authorisation of `amount` (minor units)
/// with manual capture against the customer's `payment_method`.
pub fn authorize(order: &Order, amount: i64, payment_method: &str) -> Form {
    vec![
        pair("amount", amount),
        pair("currency", order.currency.code().to_ascii_lowercase()),
        pair("capture_method", "manual"),
        pair("confirm", "true"),
        pair("payment_method", payment_method),
        pair("payment_method_types[]", "card"),
        pair(
            "payment_method_options[card][request_multicapture]",
            "if_available",
        ),
        pair(
            "description",
            format!("Order {} ({})", order.external_id, order.channel),
        ),
        pair("metadata[order_id]", order.id),
        pair("metadata[channel]", &order.channel),
        pair("metadata[external_id]", &order.external_id),
        // The charge comes back with the answer: its card's `capture_before` is when the
        // authorisation lapses.
        pair("expand[]", "latest_charge"),
    ]
}

/// `POST /v1/payment_intents` renewing a lapsed (or lapsing) authorisation `previous`: what is
/// still owed, `amount` (minor units), authorised again against the same payment method.
pub fn renew(order: &Order, amount: i64, payment_method: &str, previous: &str) -> Form {
    let mut form = authorize(order, amount, payment_method);
    form.push(pair("metadata[renews]", previous));
    form
}

/// `POST /v1/payment_intents/{id}/capture` of `amount` (minor units); `last` lets the rest of
/// the authorisation go.
pub fn capture(amount: i64, last: bool) -> Form {
    let mut form = vec![pair("amount_to_capture", amount)];
    if !last {
        form.push(pair("final_capture", "false"));
    }
    form
}

/// `POST /v1/payment_intents/{id}/cancel`: the order was cancelled.
pub fn cancel() -> Form {
    vec![pair("cancellation_reason", "requested_by_customer")]
}

/// `POST /v1/refunds` of `amount` (minor units) of the PaymentIntent `intent`, for `reference`.
pub fn refund(intent: &str, amount: i64, reference: &str) -> Form {
    vec![
        pair("payment_intent", intent),
        pair("amount", amount),
        pair("reason", "requested_by_customer"),
        pair("metadata[reference]", reference),
    ]
}

/// A PaymentIntent as Stripe answers it (the fields iom reads).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PaymentIntent {
    pub id: String,
    /// `requires_capture` once authorised, `succeeded` when captured in full or finally,
    /// `canceled`, `requires_payment_method` when the card was declined.
    pub status: String,
    pub amount: i64,
    #[serde(default)]
    pub amount_capturable: i64,
    #[serde(default)]
    pub amount_received: i64,
    pub currency: String,
    /// The charge, expanded (`expand[]=latest_charge`), or its id.
    #[serde(default)]
    pub latest_charge: Option<serde_json::Value>,
}

impl PaymentIntent {
    /// When the card's authorisation lapses: the charge's
    /// `payment_method_details.card.capture_before` (Unix seconds), when Stripe said.
    pub fn capture_before(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        let seconds =
            self.latest_charge.as_ref()?["payment_method_details"]["card"]["capture_before"]
                .as_i64()?;
        chrono::DateTime::from_timestamp(seconds, 0)
    }
}

/// A refund as Stripe answers it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Refund {
    pub id: String,
    pub amount: i64,
    /// `succeeded`, `pending`, `failed`, `canceled`.
    pub status: String,
}

/// Stripe's error object (`{"error": {...}}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ApiError {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub decline_code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub param: Option<String>,
}

impl ApiError {
    /// Reads Stripe's error body; anything else becomes its first characters as the message.
    pub fn parse(body: &[u8]) -> ApiError {
        #[derive(Deserialize)]
        struct Wrapper {
            error: ApiError,
        }
        serde_json::from_slice::<Wrapper>(body)
            .map(|w| w.error)
            .unwrap_or_else(|_| ApiError {
                message: Some(String::from_utf8_lossy(body).chars().take(200).collect()),
                ..ApiError::default()
            })
    }

    /// The customer's card was refused: trying again will not help.
    pub fn is_decline(&self) -> bool {
        self.kind == "card_error"
    }

    /// The authorisation can no longer be captured: it expired (`charge_expired_for_capture`),
    /// or Stripe closed it (a partial capture on a card without multicapture lets the rest go,
    /// and the next capture finds the PaymentIntent no longer `requires_capture`).
    pub fn is_lapsed(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some("charge_expired_for_capture" | "payment_intent_unexpected_state")
        )
    }

    pub fn describe(&self) -> String {
        let mut out = self.message.clone().unwrap_or_else(|| self.kind.clone());
        if let Some(code) = self.decline_code.as_ref().or(self.code.as_ref()) {
            out.push_str(&format!(" ({code})"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_become_minor_units_exactly() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(minor_units(d("19.99"), 2), Ok(1999));
        assert_eq!(minor_units(d("0.1"), 2), Ok(10));
        assert_eq!(minor_units(d("1.005"), 2), Ok(100));
        assert_eq!(minor_units(d("1.015"), 2), Ok(102));
        assert_eq!(minor_units(d("500"), 0), Ok(500));
        assert_eq!(from_minor(1999, 2), d("19.99"));
    }

    #[test]
    fn only_the_last_capture_is_final() {
        assert_eq!(
            capture(1234, false),
            vec![
                ("amount_to_capture".to_owned(), "1234".to_owned()),
                ("final_capture".to_owned(), "false".to_owned())
            ]
        );
        assert_eq!(capture(1, true).len(), 1);
    }

    #[test]
    fn errors_are_read_from_stripes_envelope() {
        let e = ApiError::parse(
            br#"{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds."}}"#,
        );
        assert!(e.is_decline());
        assert_eq!(
            e.describe(),
            "Your card has insufficient funds. (insufficient_funds)"
        );
        assert!(!ApiError::parse(b"<html>bad gateway</html>").is_decline());
        let e = ApiError::parse(
            br#"{"error":{"type":"invalid_request_error","code":"charge_expired_for_capture"}}"#,
        );
        assert!(e.is_lapsed() && !e.is_decline());
    }

    #[test]
    fn the_authorisations_end_is_read_from_the_expanded_charge() {
        let intent: PaymentIntent = serde_json::from_str(
            r#"{"id":"pi_1","status":"requires_capture","amount":100,"currency":"usd",
                "latest_charge":{"id":"ch_1","payment_method_details":{"card":{"capture_before":1700000000}}}}"#,
        )
        .unwrap();
        assert_eq!(intent.capture_before().unwrap().timestamp(), 1_700_000_000);
        let unexpanded: PaymentIntent = serde_json::from_str(
            r#"{"id":"pi_1","status":"requires_capture","amount":100,"currency":"usd","latest_charge":"ch_1"}"#,
        )
        .unwrap();
        assert_eq!(unexpanded.capture_before(), None);
    }
}
