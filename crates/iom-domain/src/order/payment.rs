//! The customer's payment as the order holds it: what a payment service authorised for the
//! order, captured as its shipments left, let go of, and paid back for its returns.
//!
//! Amounts only ever grow, and each is bounded by the one before it: captures never exceed what
//! is still authorised, refunds never exceed what was captured. The status is derived from the
//! amounts, so it cannot disagree with them. Which amount a shipment captures is decided by the
//! application (the invoice's shares); the aggregate only checks the bounds and records.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::Order;
use crate::{DomainError, EventDraft};

pub const PAYMENT_AUTHORIZED: &str = "payment.authorized";
pub const PAYMENT_CAPTURED: &str = "payment.captured";
pub const PAYMENT_RELEASED: &str = "payment.released";
pub const PAYMENT_REFUNDED: &str = "payment.refunded";
pub const PAYMENT_FAILED: &str = "payment.failed";
pub const PAYMENT_RENEWED: &str = "payment.renewed";
/// The code of the order hold a payment problem puts on an order (`status_reason` `payment`).
pub const PAYMENT_HOLD: &str = "payment";

/// Where the order's payment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    /// Authorised; nothing captured yet.
    Authorized,
    /// Some captured, some still authorised.
    PartiallyCaptured,
    /// Everything owed captured; nothing is authorised any more.
    Captured,
    PartiallyRefunded,
    Refunded,
    /// The authorisation was let go with nothing captured (the order was cancelled).
    Released,
    /// The payment service refused the authorisation.
    Failed,
}

/// One capture: the amount a shipment charged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PaymentCapture {
    pub shipment_id: String,
    #[schema(value_type = String)]
    pub amount: Decimal,
    pub at: DateTime<Utc>,
    /// The authorisation it was captured from (Stripe's PaymentIntent `pi_…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// An authorisation that was replaced by a new one: it lapsed (the card's authorisation window
/// closed, or the service closed it after a partial capture) or was about to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReplacedAuthorization {
    /// The payment service's id of the replaced authorisation.
    pub reference: String,
    /// What it still held uncaptured when it was replaced (counted in `released`).
    #[schema(value_type = String)]
    pub uncaptured: Decimal,
    /// When it was replaced.
    pub at: DateTime<Utc>,
}

/// One refund paid out through the payment service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PaymentRefund {
    /// What the refund is for (`return:{id}`).
    pub reference: String,
    /// The payment service's id of the refund (Stripe `re_…`).
    pub refund_id: String,
    #[schema(value_type = String)]
    pub amount: Decimal,
    pub at: DateTime<Utc>,
    /// The authorisation whose captures it paid back (Stripe's PaymentIntent `pi_…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<String>,
}

/// The order's `payment`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Payment {
    pub status: PaymentStatus,
    /// The `payment` provider instance.
    pub provider: String,
    /// The payment service's id of the authorisation (Stripe's PaymentIntent `pi_…`).
    pub reference: Option<String>,
    /// The customer's payment method as the order named it (`attributes.payment_method`).
    pub method: Option<String>,
    #[schema(value_type = String)]
    pub authorized: Decimal,
    #[schema(value_type = String)]
    pub captured: Decimal,
    /// Authorised, never captured, and let go (at cancellation or with the last capture).
    #[serde(default)]
    #[schema(value_type = String)]
    pub released: Decimal,
    #[schema(value_type = String)]
    pub refunded: Decimal,
    #[serde(default)]
    pub captures: Vec<PaymentCapture>,
    #[serde(default)]
    pub refunds: Vec<PaymentRefund>,
    /// Why the service refused, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// When the standing authorisation lapses (Stripe's `capture_before` of its charge): a
    /// capture after it fails, so it is renewed before, or when a capture finds it lapsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Earlier authorisations, replaced by renewals, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaced: Vec<ReplacedAuthorization>,
}

impl Payment {
    /// Authorised and neither captured nor let go: what a capture may still take.
    pub fn capturable(&self) -> Decimal {
        (self.authorized - self.captured - self.released).max(Decimal::ZERO)
    }

    /// Captured and not paid back: what a refund may still take.
    pub fn refundable(&self) -> Decimal {
        (self.captured - self.refunded).max(Decimal::ZERO)
    }

    /// The authorisations captures were made from, first to last.
    pub fn intents(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in &self.captures {
            let intent = self.intent_of(c);
            if !out.contains(&intent) {
                out.push(intent);
            }
        }
        out
    }

    fn intent_of(&self, capture: &PaymentCapture) -> String {
        // Captures recorded before they named their authorisation were all made from the first.
        capture.reference.clone().unwrap_or_else(|| {
            self.replaced
                .first()
                .map(|r| r.reference.clone())
                .or_else(|| self.reference.clone())
                .unwrap_or_default()
        })
    }

    /// Captured from the authorisation `intent` and not paid back: what a refund of it may take.
    pub fn refundable_from(&self, intent: &str) -> Decimal {
        let captured: Decimal = self
            .captures
            .iter()
            .filter(|c| self.intent_of(c) == intent)
            .map(|c| c.amount)
            .sum();
        let refunded: Decimal = self
            .refunds
            .iter()
            .filter(|r| r.intent.as_deref().unwrap_or(intent) == intent)
            .map(|r| r.amount)
            .sum();
        (captured - refunded).max(Decimal::ZERO)
    }

    pub fn captured_for(&self, shipment_id: &str) -> bool {
        self.captures.iter().any(|c| c.shipment_id == shipment_id)
    }

    fn derive_status(&mut self) {
        let zero = Decimal::ZERO;
        self.status = if self.failure.is_some() && self.authorized == zero {
            PaymentStatus::Failed
        } else if self.refunded > zero && self.refunded >= self.captured {
            PaymentStatus::Refunded
        } else if self.refunded > zero {
            PaymentStatus::PartiallyRefunded
        } else if self.captured > zero && self.capturable() == zero {
            PaymentStatus::Captured
        } else if self.captured > zero {
            PaymentStatus::PartiallyCaptured
        } else if self.authorized > zero && self.capturable() == zero {
            PaymentStatus::Released
        } else {
            PaymentStatus::Authorized
        };
    }
}

impl Order {
    fn payment_event(&self, kind: &str, mut data: serde_json::Value) -> EventDraft {
        data["order_id"] = json!(self.id);
        if let Some(p) = &self.payment {
            data["provider"] = json!(p.provider);
            data["reference"] = json!(p.reference);
            data["status"] = json!(p.status);
        }
        EventDraft::new(kind, self.id.to_string(), data)
    }

    fn touch(&mut self, now: DateTime<Utc>) {
        self.updated_at = now;
        self.version += 1;
    }

    /// The payment service authorised `amount` under `reference`. The same authorisation again
    /// changes nothing; another one while one stands is a conflict.
    pub fn authorize_payment(
        &mut self,
        provider: &str,
        reference: &str,
        method: Option<String>,
        amount: Decimal,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        if let Some(p) = &self.payment
            && p.authorized > Decimal::ZERO
        {
            if p.reference.as_deref() == Some(reference) {
                return Ok(Vec::new());
            }
            return Err(DomainError::conflict(
                "the order's payment is already authorised",
            ));
        }
        if amount <= Decimal::ZERO {
            return Err(DomainError::invalid("amount", "must be positive"));
        }
        let mut payment = Payment {
            status: PaymentStatus::Authorized,
            provider: provider.to_owned(),
            reference: Some(reference.to_owned()),
            method,
            authorized: amount,
            captured: Decimal::ZERO,
            released: Decimal::ZERO,
            refunded: Decimal::ZERO,
            captures: Vec::new(),
            refunds: Vec::new(),
            failure: None,
            expires_at,
            replaced: Vec::new(),
        };
        payment.derive_status();
        self.payment = Some(payment);
        self.touch(now);
        Ok(vec![self.payment_event(
            PAYMENT_AUTHORIZED,
            json!({"amount": amount}),
        )])
    }

    /// The payment service refused to authorise the order.
    pub fn fail_payment(
        &mut self,
        provider: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        if self
            .payment
            .as_ref()
            .is_some_and(|p| p.authorized > Decimal::ZERO)
        {
            return Err(DomainError::conflict(
                "the order's payment is already authorised",
            ));
        }
        let mut payment = Payment {
            status: PaymentStatus::Failed,
            provider: provider.to_owned(),
            reference: None,
            method: None,
            authorized: Decimal::ZERO,
            captured: Decimal::ZERO,
            released: Decimal::ZERO,
            refunded: Decimal::ZERO,
            captures: Vec::new(),
            refunds: Vec::new(),
            failure: Some(reason.to_owned()),
            expires_at: None,
            replaced: Vec::new(),
        };
        payment.derive_status();
        self.payment = Some(payment);
        self.touch(now);
        Ok(vec![
            self.payment_event(PAYMENT_FAILED, json!({"reason": reason})),
        ])
    }

    /// `amount` was captured for shipment `shipment_id`, and, with `release`, the rest of the
    /// authorisation let go. A shipment is captured once: the same capture again changes nothing.
    pub fn capture_payment(
        &mut self,
        shipment_id: &str,
        amount: Decimal,
        release: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        let Some(payment) = self.payment.as_mut() else {
            return Err(DomainError::conflict("the order has no authorised payment"));
        };
        if payment.captured_for(shipment_id) {
            return Ok(Vec::new());
        }
        if amount < Decimal::ZERO || amount > payment.capturable() {
            return Err(DomainError::conflict(format!(
                "{amount} is more than the {} still authorised",
                payment.capturable()
            )));
        }
        payment.captured += amount;
        payment.captures.push(PaymentCapture {
            shipment_id: shipment_id.to_owned(),
            amount,
            at: now,
            reference: payment.reference.clone(),
        });
        let released = if release {
            let rest = payment.capturable();
            payment.released += rest;
            rest
        } else {
            Decimal::ZERO
        };
        payment.derive_status();
        self.touch(now);
        let mut events = vec![self.payment_event(
            PAYMENT_CAPTURED,
            json!({"shipment_id": shipment_id, "amount": amount}),
        )];
        if released > Decimal::ZERO {
            events.push(self.payment_event(PAYMENT_RELEASED, json!({"amount": released})));
        }
        Ok(events)
    }

    /// What was still authorised is let go (the order was cancelled, or nothing is left to ship).
    pub fn release_payment(&mut self, now: DateTime<Utc>) -> Result<Vec<EventDraft>, DomainError> {
        let Some(payment) = self.payment.as_mut() else {
            return Ok(Vec::new());
        };
        let rest = payment.capturable();
        if rest == Decimal::ZERO {
            return Ok(Vec::new());
        }
        payment.released += rest;
        payment.derive_status();
        self.touch(now);
        Ok(vec![
            self.payment_event(PAYMENT_RELEASED, json!({"amount": rest})),
        ])
    }

    /// The standing authorisation can no longer be captured (it expired, or the service closed
    /// it after a partial capture): what it still held is let go, and nothing is capturable
    /// until it is renewed. The same lapse again changes nothing.
    pub fn lapse_payment(&mut self, now: DateTime<Utc>) -> Result<Vec<EventDraft>, DomainError> {
        let Some(payment) = self.payment.as_mut() else {
            return Ok(Vec::new());
        };
        let rest = payment.capturable();
        let Some(reference) = payment.reference.clone().filter(|_| rest > Decimal::ZERO) else {
            return Ok(Vec::new());
        };
        payment.released += rest;
        payment.expires_at = None;
        payment.replaced.push(ReplacedAuthorization {
            reference,
            uncaptured: rest,
            at: now,
        });
        payment.derive_status();
        self.touch(now);
        Ok(vec![self.payment_event(
            PAYMENT_RELEASED,
            json!({"amount": rest, "lapsed": true}),
        )])
    }

    /// A new authorisation `reference` of `amount` replaces the standing one (which lapsed, or
    /// was about to and was let go): what the old one still held is released, and captures
    /// go to the new one. The same renewal again changes nothing.
    pub fn renew_payment(
        &mut self,
        reference: &str,
        amount: Decimal,
        expires_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        let Some(payment) = self.payment.as_mut() else {
            return Err(DomainError::conflict("the order has no payment to renew"));
        };
        if payment.reference.as_deref() == Some(reference) {
            return Ok(Vec::new());
        }
        if amount <= Decimal::ZERO {
            return Err(DomainError::invalid("amount", "must be positive"));
        }
        let rest = payment.capturable();
        let previous = payment.reference.clone();
        if let Some(old) = previous.clone().filter(|_| rest > Decimal::ZERO) {
            payment.released += rest;
            payment.replaced.push(ReplacedAuthorization {
                reference: old,
                uncaptured: rest,
                at: now,
            });
        }
        payment.authorized += amount;
        payment.reference = Some(reference.to_owned());
        payment.expires_at = expires_at;
        payment.failure = None;
        payment.derive_status();
        self.touch(now);
        Ok(vec![self.payment_event(
            PAYMENT_RENEWED,
            json!({"amount": amount, "previous": previous, "released": rest}),
        )])
    }

    /// The payment service refused what the order needs to go on (a renewal of its
    /// authorisation): the order is held with the hold `payment` until an operator releases it,
    /// and `payment.failed` says why. Works at any stage before the order is complete; an order
    /// that a node started shipping keeps its status and shows the hold.
    pub fn hold_for_payment(
        &mut self,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        if self.status.is_terminal() {
            return Err(DomainError::conflict(format!(
                "an order that is {} cannot be held for its payment",
                self.status
            )));
        }
        if let Some(p) = self.payment.as_mut() {
            p.failure = Some(reason.to_owned());
            p.derive_status();
        }
        let mut events = if self.holds.iter().any(|h| h.code == PAYMENT_HOLD) {
            self.touch(now);
            Vec::new()
        } else {
            self.change(now, |order, events| {
                order.holds.push(super::Hold {
                    code: PAYMENT_HOLD.to_owned(),
                    reason: Some(reason.to_owned()),
                    at: now,
                });
                events.push(order.event(
                    crate::EventType::ORDER_HELD,
                    json!({"code": PAYMENT_HOLD, "reason": reason}),
                ));
                Ok(())
            })?
        };
        events.push(self.payment_event(PAYMENT_FAILED, json!({"reason": reason})));
        Ok(events)
    }

    /// `amount` was paid back for `reference` as the service's refund `refund_id`; the same
    /// refund again changes nothing, and a refund never exceeds what was captured.
    pub fn refund_payment(
        &mut self,
        reference: &str,
        refund_id: &str,
        amount: Decimal,
        intent: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Vec<EventDraft>, DomainError> {
        let Some(payment) = self.payment.as_mut() else {
            return Err(DomainError::conflict("the order has no payment to refund"));
        };
        if payment.refunds.iter().any(|r| r.reference == reference) {
            return Ok(Vec::new());
        }
        if amount <= Decimal::ZERO || amount > payment.refundable() {
            return Err(DomainError::conflict(format!(
                "{amount} is more than the {} captured and not refunded",
                payment.refundable()
            )));
        }
        payment.refunded += amount;
        payment.refunds.push(PaymentRefund {
            reference: reference.to_owned(),
            refund_id: refund_id.to_owned(),
            amount,
            at: now,
            intent,
        });
        payment.derive_status();
        self.touch(now);
        Ok(vec![self.payment_event(
            PAYMENT_REFUNDED,
            json!({"amount": amount, "refund_id": refund_id, "for": reference}),
        )])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> Order {
        crate::OrderIntake {
            channel: Some("web".into()),
            external_id: Some("1".into()),
            currency: Some("USD".into()),
            lines: Some(vec![crate::LineIntake {
                line_no: Some(1),
                sku: Some("A".into()),
                quantity: Some(2),
                unit_price: Some(rust_decimal::Decimal::new(1000, 2)),
                ..Default::default()
            }]),
            ..Default::default()
        }
        .validate(Utc::now())
        .unwrap()
    }

    #[test]
    fn amounts_stay_within_each_other_and_the_status_follows_them() {
        let now = Utc::now();
        let mut o = order();
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        o.authorize_payment("stripe", "pi_1", None, d("20.00"), None, now)
            .unwrap();
        assert_eq!(
            o.payment.as_ref().unwrap().status,
            PaymentStatus::Authorized
        );
        assert!(o.capture_payment("s1", d("20.01"), false, now).is_err());
        o.capture_payment("s1", d("12.00"), false, now).unwrap();
        assert!(
            o.capture_payment("s1", d("12.00"), false, now)
                .unwrap()
                .is_empty()
        );
        let p = o.payment.clone().unwrap();
        assert_eq!(p.status, PaymentStatus::PartiallyCaptured);
        assert_eq!(p.captured, d("12.00"));
        let events = o.release_payment(now).unwrap();
        assert_eq!(events[0].data["amount"], json!(d("8.00")));
        assert_eq!(o.payment.as_ref().unwrap().status, PaymentStatus::Captured);
        assert!(
            o.refund_payment("r1", "re_1", d("12.01"), None, now)
                .is_err()
        );
        o.refund_payment("r1", "re_1", d("2.00"), None, now)
            .unwrap();
        assert_eq!(
            o.payment.as_ref().unwrap().status,
            PaymentStatus::PartiallyRefunded
        );
        o.refund_payment("r2", "re_2", d("10.00"), None, now)
            .unwrap();
        assert_eq!(o.payment.as_ref().unwrap().status, PaymentStatus::Refunded);
    }

    #[test]
    fn a_renewal_replaces_the_lapsed_authorisation_and_captures_go_to_it() {
        let now = Utc::now();
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        let mut o = order();
        o.authorize_payment("stripe", "pi_1", Some("pm".into()), d("20.00"), None, now)
            .unwrap();
        o.capture_payment("s1", d("5.00"), false, now).unwrap();
        let events = o.lapse_payment(now).unwrap();
        assert_eq!(events[0].data["amount"], json!(d("15.00")));
        assert_eq!(o.payment.as_ref().unwrap().capturable(), Decimal::ZERO);
        assert!(o.lapse_payment(now).unwrap().is_empty());
        let events = o.renew_payment("pi_2", d("15.00"), None, now).unwrap();
        assert_eq!(events[0].kind, PAYMENT_RENEWED);
        assert!(
            o.renew_payment("pi_2", d("15.00"), None, now)
                .unwrap()
                .is_empty()
        );
        o.capture_payment("s2", d("15.00"), false, now).unwrap();
        let p = o.payment.clone().unwrap();
        assert_eq!(p.status, PaymentStatus::Captured);
        assert_eq!(p.intents(), ["pi_1", "pi_2"]);
        assert_eq!(p.refundable_from("pi_1"), d("5.00"));
        assert_eq!(p.refundable_from("pi_2"), d("15.00"));
        assert_eq!(p.replaced[0].reference, "pi_1");

        let events = o.hold_for_payment("declined", now).unwrap();
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["order.held", PAYMENT_FAILED]);
        assert!(o.holds.iter().any(|h| h.code == PAYMENT_HOLD));
    }
}
