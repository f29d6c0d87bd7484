//! The customer's money through a `payment` provider instance (Stripe's PaymentIntents API):
//! authorise the order's total before release, capture each shipment's amount as it ships, let
//! the rest of the authorisation go when nothing is left to ship, and pay out returns' refunds.
//!
//! An instance serves the channels its `settings.channels` names (all when absent); an order of
//! a channel that none serves has no `payment` and goes through everything as before.
//!
//! Money moves at most once per call, whatever dies when:
//! 1. the call is claimed in `payment_calls` under its idempotency key, with its amount, before
//!    the service is asked anything; a call found claimed is sent again as it was claimed;
//! 2. the service is called with that key as `Idempotency-Key`, so a call sent twice (a retry, a
//!    resume after a crash between the service's answer and iom's record) is answered with the
//!    first answer and moves nothing more;
//! 3. the answer is recorded on the order (with its `payment.*` event) and the call marked
//!    recorded in one transaction.
//!
//! A service that cannot be reached (or answers 5xx, 429, 409) is [`PaymentError::Unavailable`]:
//! the flow step retries it with backoff under the same key. A refused card is
//! [`PaymentError::Declined`] and recorded on the order as `failed`.
//!
//! Card authorisations lapse (Stripe: about seven days, the charge's `capture_before`, kept as
//! the payment's `expires_at` and on the call in `payment_calls`), and a card without
//! multicapture lets the rest go with a first partial capture. A capture that finds its
//! authorisation lapsed ([`PaymentError::Lapsed`]), a capture the standing authorisation no
//! longer covers, and the periodic check ([`renew_lapsing`], for authorisations about to lapse
//! with goods still to ship) authorise what is still owed again: a new PaymentIntent under a
//! new key, against the payment method the order carries. A renewal the service refuses puts the
//! order on the hold `payment` with `payment.failed`; captures wait until an operator releases
//! it, and the next renewal is asked under a new key.

pub mod client;

use chrono::Utc;
use iom_domain::intake::PAYMENT_METHOD;
use iom_domain::order::payment::PAYMENT_HOLD;
use iom_domain::{DomainError, Order, OrderId, ReturnOrder};
use iom_providers::stripe;
use iom_store::payments::{self as rows, Claim, PaymentCall};
use iom_store::{Store, StoreError};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::pipeline::{Loaded, Pipeline, PipelineError};
use crate::returns::RefundRequest;
use client::Client;

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The service cannot be reached or cannot answer now; the same call later may go through.
    #[error("{0}")]
    Unavailable(String),
    /// The customer's payment method was refused.
    #[error("{0}")]
    Declined(String),
    /// The service will never take this request (or the instance is not set up to send it).
    #[error("{0}")]
    Refused(String),
    /// Waits for something of iom's own first (a refund for a capture still to be made).
    #[error("{0}")]
    Pending(String),
    /// The authorisation can no longer be captured (it expired, or the service closed it);
    /// what is owed is authorised again.
    #[error("{0}")]
    Lapsed(String),
}

impl From<DomainError> for PaymentError {
    fn from(e: DomainError) -> Self {
        PaymentError::Store(StoreError::Domain(e))
    }
}

impl PaymentError {
    /// Trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            PaymentError::Unavailable(_) | PaymentError::Pending(_) => true,
            PaymentError::Store(StoreError::Domain(_)) => false,
            PaymentError::Store(_) => true,
            PaymentError::Pipeline(_)
            | PaymentError::Declined(_)
            | PaymentError::Refused(_)
            | PaymentError::Lapsed(_) => false,
        }
    }
}

/// The `payment` instance serving `channel`: the first by name whose `settings.channels` names
/// it or which names none.
pub fn instance_in(
    conn: &mut dyn iom_store::Conn,
    channel: &str,
) -> Result<Option<String>, StoreError> {
    rows::serving_instance_in(conn, "payment", channel)
}

async fn instance_for(store: &Store, channel: &str) -> Result<Option<String>, StoreError> {
    let channel = channel.to_owned();
    store.read(move |c| instance_in(c, &channel)).await
}

async fn load(store: &Store, id: OrderId) -> Result<Order, PaymentError> {
    Ok(store
        .get_order(id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("order {id}")))?)
}

async fn loaded(
    store: &Store,
    pipeline: &Pipeline,
    name: &str,
) -> Result<std::sync::Arc<Loaded>, PaymentError> {
    let loaded = pipeline.load(store, name).await?;
    loaded.of_kind("payment").map_err(PaymentError::Refused)?;
    Ok(loaded)
}

async fn claim(store: &Store, claim: Claim) -> Result<PaymentCall, PaymentError> {
    Ok(store
        .write(move |tx| {
            let now = tx.now();
            rows::claim(tx.conn(), &claim, now)
        })
        .await?)
}

/// What an authorisation came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Authorization {
    /// No `payment` instance serves the order's channel.
    NotServed,
    /// Authorised (now or before) under the service's id.
    Authorized { reference: String, amount: Decimal },
    /// Refused for good; the order's payment is `failed` with this reason.
    Failed(String),
}

/// Authorises the order's total with manual capture (flow step `authorize-payment`).
pub async fn authorize(
    store: &Store,
    pipeline: &Pipeline,
    order_id: OrderId,
) -> Result<Authorization, PaymentError> {
    let order = load(store, order_id).await?;
    if let Some(p) = &order.payment
        && p.authorized > Decimal::ZERO
    {
        return Ok(Authorization::Authorized {
            reference: p.reference.clone().unwrap_or_default(),
            amount: p.authorized,
        });
    }
    let Some(provider) = instance_for(store, &order.channel).await? else {
        return Ok(Authorization::NotServed);
    };
    let method = order
        .attributes
        .get(PAYMENT_METHOD)
        .and_then(Value::as_str)
        .map(str::to_owned);
    let Some(method) = method else {
        let reason = format!("the order has no attributes.{PAYMENT_METHOD} to authorise");
        fail(store, order_id, &provider, None, &reason).await?;
        return Ok(Authorization::Failed(reason));
    };
    // An authorisation refused before is asked again under a new key (the service would answer
    // a key it refused with the same refusal); one claimed and not finished, under its own.
    let id = order_id.to_string();
    let calls = {
        let id = id.clone();
        store.read(move |c| rows::of_order(c, &id)).await?
    };
    let attempts: Vec<&PaymentCall> = calls.iter().filter(|c| c.kind == "authorize").collect();
    let key = match attempts.iter().find(|c| c.status == "started") {
        Some(open) => open.key.clone(),
        None => format!("iom-{id}-authorize-{}", attempts.len() + 1),
    };
    let call = claim(
        store,
        Claim {
            key,
            order_id: id.clone(),
            provider: provider.clone(),
            kind: "authorize",
            reference: id.clone(),
            amount: stripe::order_amount(&order),
        },
    )
    .await?;
    let loaded = loaded(store, pipeline, &call.provider).await?;
    let client = Client::new(&pipeline.http, &loaded)?;
    let scale = order.currency_scale();
    let minor = stripe::minor_units(call.amount, scale).map_err(PaymentError::Refused)?;
    let answer = client
        .create_intent(&stripe::authorize(&order, minor, &method), &call.key)
        .await;
    let intent = match answer {
        Ok(intent) if intent.status == "requires_capture" => intent,
        Ok(intent) => {
            let reason = format!(
                "the payment service did not authorise the payment ({})",
                intent.status
            );
            fail(store, order_id, &call.provider, Some(&call.key), &reason).await?;
            return Ok(Authorization::Failed(reason));
        }
        Err(PaymentError::Declined(reason) | PaymentError::Refused(reason)) => {
            fail(store, order_id, &call.provider, Some(&call.key), &reason).await?;
            return Ok(Authorization::Failed(reason));
        }
        Err(other) => return Err(other),
    };
    let amount = stripe::from_minor(intent.amount, scale);
    let (key, provider, reference) = (call.key.clone(), call.provider.clone(), intent.id.clone());
    let authorized = intent.id.clone();
    let expires_at = intent.capture_before();
    store
        .update_order_with(
            order_id,
            move |order, now| {
                order.authorize_payment(
                    &provider,
                    &reference,
                    Some(method),
                    amount,
                    expires_at,
                    now,
                )
            },
            move |tx, _, _| {
                let now = tx.now();
                rows::finish(tx.conn(), &key, "recorded", Some(&intent.id), None, now)?;
                rows::watch(tx.conn(), &key, &id, expires_at)
            },
        )
        .await?;
    tracing::info!(order = %order_id, amount = %amount, "payment authorised");
    Ok(Authorization::Authorized {
        reference: authorized,
        amount,
    })
}

async fn fail(
    store: &Store,
    order_id: OrderId,
    provider: &str,
    key: Option<&str>,
    reason: &str,
) -> Result<(), PaymentError> {
    let (provider, key, reason) = (
        provider.to_owned(),
        key.map(str::to_owned),
        reason.to_owned(),
    );
    let why = reason.clone();
    store
        .update_order_with(
            order_id,
            move |order, now| order.fail_payment(&provider, &why, now),
            move |tx, _, _| match key {
                Some(key) => {
                    let now = tx.now();
                    rows::finish(tx.conn(), &key, "failed", None, Some(&reason), now)
                }
                None => Ok(()),
            },
        )
        .await?;
    Ok(())
}

/// Nothing of the order is left to ship: every active unit shipped, or cancelled.
pub fn nothing_open(order: &Order) -> bool {
    order.lines.iter().all(|l| l.open_quantity() == 0)
}

/// The order's payment has something to settle: a shipment not captured, or an authorisation
/// left over once nothing is left to ship.
pub fn unsettled(order: &Order) -> bool {
    let Some(p) = &order.payment else {
        return false;
    };
    if p.authorized == Decimal::ZERO {
        return false;
    }
    order.shipments.iter().any(|s| !p.captured_for(&s.id))
        || (nothing_open(order) && p.capturable() > Decimal::ZERO)
}

/// The order is held until an operator releases it because of its payment.
pub fn on_payment_hold(order: &Order) -> bool {
    order.holds.iter().any(|h| h.code == PAYMENT_HOLD)
}

/// How many times one settlement renews a lapsed authorisation before it gives up: a renewal
/// that lapses at once again is the service's fault, not something to try forever.
const RENEWALS_PER_SETTLEMENT: usize = 2;

/// Captures every shipment of the order not captured yet (its share of the order, as its invoice
/// has it), and once nothing is left to ship, lets the rest of the authorisation go (flow step
/// `capture-payment`; a cancellation). An authorisation that lapsed, or no longer covers a
/// shipment, is renewed first; while the order is on the hold `payment` nothing is renewed and
/// the captures that need it wait. Returns the order as it is after.
pub async fn settle(
    store: &Store,
    pipeline: &Pipeline,
    order_id: OrderId,
) -> Result<Order, PaymentError> {
    let mut order = load(store, order_id).await?;
    let Some(payment) = order.payment.clone() else {
        return Ok(order);
    };
    if payment.reference.is_none() || payment.authorized == Decimal::ZERO {
        return Ok(order);
    }
    let loaded = loaded(store, pipeline, &payment.provider).await?;
    let client = Client::new(&pipeline.http, &loaded)?;
    let scale = order.currency_scale();
    let id = order_id.to_string();
    let pending: Vec<String> = order
        .shipments
        .iter()
        .filter(|s| !payment.captured_for(&s.id))
        .map(|s| s.id.clone())
        .collect();
    let mut renewals = 0;
    let mut n = 0;
    while n < pending.len() {
        let shipment_id = pending[n].clone();
        let index = order
            .shipments
            .iter()
            .position(|s| s.id == shipment_id)
            .ok_or_else(|| StoreError::Corrupt(format!("shipment {shipment_id} vanished")))?;
        let share = stripe::shipment_amount(&order, index).map_err(PaymentError::Refused)?;
        let p = order.payment.clone().unwrap_or(payment.clone());
        let lapsed = p.expires_at.is_some_and(|at| at <= Utc::now());
        if share > Decimal::ZERO && (lapsed || p.capturable() == Decimal::ZERO) {
            if on_payment_hold(&order) {
                // An operator decides first (a renewal was refused).
                break;
            }
            if renewals == RENEWALS_PER_SETTLEMENT {
                return Err(PaymentError::Unavailable(
                    "the renewed authorisation lapsed again at once; trying later".into(),
                ));
            }
            renewals += 1;
            match renew(store, &client, &order, !lapsed).await? {
                Renewal::Renewed(o) => order = o,
                Renewal::Held(o) => {
                    order = o;
                    break;
                }
            }
            continue;
        }
        let intent = p.reference.clone().unwrap_or_default();
        // Captures from a renewed authorisation are keyed by it: the key of a capture the
        // lapsed one refused is answered with that refusal for good.
        let key = if p.replaced.is_empty() {
            format!("iom-{id}-capture-{shipment_id}")
        } else {
            format!("iom-{id}-capture-{shipment_id}-{intent}")
        };
        let call = claim(
            store,
            Claim {
                key,
                order_id: id.clone(),
                provider: payment.provider.clone(),
                kind: "capture",
                reference: shipment_id.clone(),
                amount: share.min(p.capturable()),
            },
        )
        .await?;
        // The last capture is final when nothing is left to ship: Stripe lets the rest go.
        let last = nothing_open(&order) && n + 1 == pending.len();
        let minor = stripe::minor_units(call.amount, scale).map_err(PaymentError::Refused)?;
        let service_id = if minor == 0 {
            // Nothing to charge for this shipment (all discounted): nothing is sent.
            None
        } else {
            let form = stripe::capture(minor, last);
            match client.capture(&intent, &form, &call.key).await {
                Ok(answer) => Some(answer.id),
                Err(PaymentError::Lapsed(reason)) => {
                    order = lapse(store, order_id, &call.key, &reason).await?;
                    tracing::info!(order = %order_id, intent = %intent, "authorisation lapsed");
                    continue;
                }
                Err(other) => return Err(other),
            }
        };
        let (key, amount, sid) = (call.key.clone(), call.amount, shipment_id.clone());
        let release = last && minor > 0;
        order = store
            .update_order_with(
                order_id,
                move |order, now| order.capture_payment(&sid, amount, release, now),
                move |tx, _, _| {
                    let now = tx.now();
                    rows::finish(
                        tx.conn(),
                        &key,
                        "recorded",
                        service_id.as_deref(),
                        None,
                        now,
                    )
                },
            )
            .await?;
        tracing::info!(order = %order_id, shipment = %shipment_id, amount = %amount, "payment captured");
        n += 1;
    }
    let current = order.payment.clone().unwrap_or(payment);
    let left = current.capturable();
    if nothing_open(&order) && left > Decimal::ZERO {
        let intent = current.reference.clone().unwrap_or_default();
        order = release(store, &client, &order, &current.provider, &intent).await?;
    }
    if nothing_open(&order) {
        let id = id.clone();
        store.write(move |tx| rows::unwatch(tx.conn(), &id)).await?;
    }
    Ok(order)
}

/// The standing authorisation was found lapsed by the capture `key`: what it held is let go on
/// the order, and the capture is marked failed (the next one goes to the renewal, under its own
/// key).
async fn lapse(
    store: &Store,
    order_id: OrderId,
    key: &str,
    reason: &str,
) -> Result<Order, PaymentError> {
    let (key, reason) = (key.to_owned(), reason.to_owned());
    Ok(store
        .update_order_with(
            order_id,
            |order, now| order.lapse_payment(now),
            move |tx, _, _| {
                let now = tx.now();
                rows::finish(tx.conn(), &key, "failed", None, Some(&reason), now)
            },
        )
        .await?)
}

/// What a renewal came to.
pub enum Renewal {
    /// A new authorisation stands (or there was nothing left to authorise).
    Renewed(Order),
    /// The service refused it: the order is on the hold `payment`.
    Held(Order),
}

/// Authorises what the order still owes (its total less what was captured) again, as a new
/// PaymentIntent against the payment method the order carries, and makes it the standing
/// authorisation; `cancel_previous` lets the one it replaces go at the service (it has not
/// lapsed yet). Refused: the order goes on the hold `payment` with `payment.failed`.
async fn renew(
    store: &Store,
    client: &Client<'_>,
    order: &Order,
    cancel_previous: bool,
) -> Result<Renewal, PaymentError> {
    let Some(payment) = order.payment.clone() else {
        return Ok(Renewal::Renewed(order.clone()));
    };
    let owed = (stripe::order_amount(order) - payment.captured).max(Decimal::ZERO);
    if owed == Decimal::ZERO {
        return Ok(Renewal::Renewed(order.clone()));
    }
    let id = order.id.to_string();
    let previous = payment.reference.clone().unwrap_or_default();
    let method = payment.method.clone().or_else(|| {
        order
            .attributes
            .get(PAYMENT_METHOD)
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    let Some(method) = method else {
        let reason = format!(
            "the authorisation lapsed and the order has no attributes.{PAYMENT_METHOD} to authorise again"
        );
        return Ok(Renewal::Held(hold(store, order.id, None, &reason).await?));
    };
    // A renewal refused before is asked again under a new key; one claimed and not finished,
    // under its own.
    let calls = {
        let id = id.clone();
        store.read(move |c| rows::of_order(c, &id)).await?
    };
    let attempts: Vec<&PaymentCall> = calls.iter().filter(|c| c.kind == "renew").collect();
    let key = match attempts.iter().find(|c| c.status == "started") {
        Some(open) => open.key.clone(),
        None => format!("iom-{id}-renew-{}", attempts.len() + 1),
    };
    let call = claim(
        store,
        Claim {
            key,
            order_id: id.clone(),
            provider: payment.provider.clone(),
            kind: "renew",
            reference: previous.clone(),
            amount: owed,
        },
    )
    .await?;
    let scale = order.currency_scale();
    let minor = stripe::minor_units(call.amount, scale).map_err(PaymentError::Refused)?;
    let answer = client
        .create_intent(&stripe::renew(order, minor, &method, &previous), &call.key)
        .await;
    let intent = match answer {
        Ok(intent) if intent.status == "requires_capture" => intent,
        Ok(intent) => {
            let reason = format!(
                "the payment service did not renew the authorisation ({})",
                intent.status
            );
            return Ok(Renewal::Held(
                hold(store, order.id, Some(&call.key), &reason).await?,
            ));
        }
        Err(PaymentError::Declined(reason) | PaymentError::Refused(reason)) => {
            let reason = format!("renewing the authorisation: {reason}");
            return Ok(Renewal::Held(
                hold(store, order.id, Some(&call.key), &reason).await?,
            ));
        }
        Err(other) => return Err(other),
    };
    // The one replaced still holds the customer's funds until it lapses: let it go now.
    let released = if cancel_previous && !previous.is_empty() {
        let release = claim(
            store,
            Claim {
                key: format!("iom-{id}-release-{previous}"),
                order_id: id.clone(),
                provider: payment.provider.clone(),
                kind: "release",
                reference: previous.clone(),
                amount: payment.capturable(),
            },
        )
        .await?;
        match client
            .cancel(&previous, &stripe::cancel(), &release.key)
            .await
        {
            Ok(_) | Err(PaymentError::Lapsed(_) | PaymentError::Refused(_)) => Some(release.key),
            Err(other) => return Err(other),
        }
    } else {
        None
    };
    let amount = stripe::from_minor(intent.amount, scale);
    let expires_at = intent.capture_before();
    let (key, reference) = (call.key.clone(), intent.id.clone());
    let order = store
        .update_order_with(
            order.id,
            move |order, now| order.renew_payment(&reference, amount, expires_at, now),
            move |tx, _, _| {
                let now = tx.now();
                rows::finish(tx.conn(), &key, "recorded", Some(&intent.id), None, now)?;
                if let Some(released) = released {
                    rows::finish(tx.conn(), &released, "recorded", None, None, now)?;
                }
                rows::watch(tx.conn(), &key, &id, expires_at)
            },
        )
        .await?;
    tracing::info!(order = %order.id, amount = %amount, "payment authorisation renewed");
    Ok(Renewal::Renewed(order))
}

/// The order goes on the hold `payment` (with `payment.failed`), the call `key` marked failed.
async fn hold(
    store: &Store,
    order_id: OrderId,
    key: Option<&str>,
    reason: &str,
) -> Result<Order, PaymentError> {
    let (key, reason) = (key.map(str::to_owned), reason.to_owned());
    let why = reason.clone();
    let order = store
        .update_order_with(
            order_id,
            move |order, now| order.hold_for_payment(&why, now),
            move |tx, order, _| {
                // Held orders wait for an operator, not for the periodic check; a renewal
                // after the release watches the new authorisation.
                rows::unwatch(tx.conn(), &order.id.to_string())?;
                match key {
                    Some(key) => {
                        let now = tx.now();
                        rows::finish(tx.conn(), &key, "failed", None, Some(&reason), now)
                    }
                    None => Ok(()),
                }
            },
        )
        .await?;
    tracing::warn!(order = %order_id, "payment renewal refused; the order is on hold");
    Ok(order)
}

/// Renews the authorisations that lapse within `within` of orders with goods still to ship (a
/// periodic check); returns how many were looked at. An order with nothing left to capture, or
/// on the hold `payment` (it waits for its operator; the capture after the release renews), is
/// no longer watched.
pub async fn renew_lapsing(
    store: &Store,
    pipeline: &Pipeline,
    within: chrono::Duration,
) -> Result<usize, PaymentError> {
    let before = Utc::now() + within;
    let due = store.read(move |c| rows::lapsing(c, before, 50)).await?;
    let mut seen = 0;
    for id in due {
        let Ok(order_id) = id.parse::<OrderId>() else {
            continue;
        };
        let order = load(store, order_id).await?;
        let Some(payment) = order.payment.clone() else {
            continue;
        };
        seen += 1;
        if nothing_open(&order) || order.status.is_terminal() || on_payment_hold(&order) {
            let id = id.clone();
            store.write(move |tx| rows::unwatch(tx.conn(), &id)).await?;
            continue;
        }
        let lapsed = payment.expires_at.is_some_and(|at| at <= Utc::now());
        let renewed = async {
            let loaded = loaded(store, pipeline, &payment.provider).await?;
            let client = Client::new(&pipeline.http, &loaded)?;
            renew(store, &client, &order, !lapsed).await
        };
        match renewed.await {
            Ok(_) => {}
            Err(e) if e.is_transient() => return Err(e),
            // The instance cannot send it (removed, misconfigured): the order's next capture
            // says so in its run; the check does not ask again.
            Err(e) => {
                tracing::warn!(order = %order_id, error = %e, "cannot renew the authorisation");
                let id = id.clone();
                store.write(move |tx| rows::unwatch(tx.conn(), &id)).await?;
            }
        }
    }
    Ok(seen)
}

/// Lets the rest of the authorisation go (`POST /v1/payment_intents/{id}/cancel`).
async fn release(
    store: &Store,
    client: &Client<'_>,
    order: &Order,
    provider: &str,
    intent: &str,
) -> Result<Order, PaymentError> {
    let id = order.id.to_string();
    let left = order
        .payment
        .as_ref()
        .map_or(Decimal::ZERO, |p| p.capturable());
    let call = claim(
        store,
        Claim {
            key: format!("iom-{id}-release"),
            order_id: id.clone(),
            provider: provider.to_owned(),
            kind: "release",
            reference: id,
            amount: left,
        },
    )
    .await?;
    // An authorisation that lapsed meanwhile has nothing left to let go.
    let answer = match client.cancel(intent, &stripe::cancel(), &call.key).await {
        Ok(answer) => Some(answer.id),
        Err(PaymentError::Lapsed(_)) => None,
        Err(other) => return Err(other),
    };
    let key = call.key.clone();
    let order = store
        .update_order_with(
            order.id,
            |order, now| order.release_payment(now),
            move |tx, _, _| {
                let now = tx.now();
                rows::finish(tx.conn(), &key, "recorded", answer.as_deref(), None, now)
            },
        )
        .await?;
    tracing::info!(order = %order.id, amount = %left, "payment authorisation released");
    Ok(order)
}

/// Refunds a return (`POST /returns/{id}/refund`): through the payment instance that took the
/// order's payment, never more than was captured and not refunded yet, recording the service's
/// refund id on the return; as before (recorded only) for an order without one.
pub async fn refund_return(
    store: &Store,
    pipeline: &Pipeline,
    return_id: String,
    request: RefundRequest,
) -> Result<ReturnOrder, PaymentError> {
    let id = return_id.clone();
    let ret = store
        .read(move |c| iom_store::returns::load(c, &id, false))
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("return {return_id}")))?;
    let order = load(store, ret.order_id).await?;
    let paid_through = order
        .payment
        .clone()
        .filter(|p| p.reference.is_some() && p.authorized > Decimal::ZERO);
    let Some(payment) = paid_through else {
        let returns = crate::returns::Returns::new(store.clone());
        return Ok(returns.refund(return_id, request).await?);
    };
    let reference = format!("return:{return_id}");
    if let Some(done) = payment.refunds.iter().find(|r| r.reference == reference) {
        return Err(DomainError::conflict(format!(
            "the return was refunded already ({})",
            done.refund_id
        ))
        .into());
    }
    // What the return may refund, computed as the refund itself will be (on a copy).
    let policy = { store.read(iom_store::returns::policy).await? };
    let mut probe = ret.clone();
    probe.refund(
        &order,
        &policy,
        request.amount,
        None,
        false,
        chrono::Utc::now(),
    )?;
    let computed = probe.refund.as_ref().map_or(Decimal::ZERO, |r| r.amount);
    let room = payment.refundable();
    if room < computed && unsettled(&order) {
        return Err(PaymentError::Pending(
            "the order's shipments are not all captured yet; the refund waits for them".into(),
        ));
    }
    if room == Decimal::ZERO {
        return Err(DomainError::conflict("nothing captured is left to refund").into());
    }
    // A refund pays back captures of one authorisation (after a renewal there are several):
    // never more than that one captured and was not paid back yet.
    let wanted = computed.min(room);
    let room = wanted.min(payment.refundable_from(&refund_intent(&payment, wanted)));
    let call = claim(
        store,
        Claim {
            key: format!("iom-{}-refund-{return_id}", order.id),
            order_id: order.id.to_string(),
            provider: payment.provider.clone(),
            kind: "refund",
            reference: reference.clone(),
            // A refund never exceeds what was captured and not refunded yet.
            amount: computed.min(room),
        },
    )
    .await?;
    let loaded = loaded(store, pipeline, &call.provider).await?;
    let client = Client::new(&pipeline.http, &loaded)?;
    let intent = refund_intent(&payment, call.amount);
    let minor =
        stripe::minor_units(call.amount, order.currency_scale()).map_err(PaymentError::Refused)?;
    let refunded = client
        .refund(&stripe::refund(&intent, minor, &reference), &call.key)
        .await?;
    let (key, amount, order_id) = (call.key.clone(), call.amount, order.id);
    let ret = store
        .write(move |tx| {
            let now = tx.now();
            let ret = crate::returns::refund_in(
                tx,
                &return_id,
                Some(amount),
                Some(refunded.id.clone()),
                false,
            )?;
            let mut order = iom_store::orders::load(tx.conn(), order_id, true)?
                .ok_or_else(|| StoreError::NotFound(format!("order {order_id}")))?;
            let before = order.clone();
            let events =
                order.refund_payment(&reference, &refunded.id, amount, Some(intent), now)?;
            iom_store::orders::save(tx.conn(), &before, &order)?;
            tx.emit_all(events);
            rows::finish(tx.conn(), &key, "recorded", Some(&refunded.id), None, now)?;
            Ok(ret)
        })
        .await?;
    tracing::info!(order = %order_id, amount = %amount, "refund paid out");
    Ok(ret)
}

/// The authorisation a refund of `amount` goes to: the last one whose captures not paid back
/// cover it, else the one with the most of them.
fn refund_intent(payment: &iom_domain::Payment, amount: Decimal) -> String {
    let intents = payment.intents();
    intents
        .iter()
        .rev()
        .find(|i| payment.refundable_from(i) >= amount)
        .or_else(|| intents.iter().max_by_key(|i| payment.refundable_from(i)))
        .cloned()
        .or_else(|| payment.reference.clone())
        .unwrap_or_default()
}

/// What the flow's call returns to its step.
pub fn outcome_json(order: &Order) -> Value {
    json!({"payment": order.payment, "settled": !unsettled(order), "nothing_open": nothing_open(order)})
}

/// A flow step's call (`flow::Call::Payment`): `authorize`, `settle`, or `refund:{return id}`.
/// What the service refused for good comes back as `{"error"}`, which fails the step at once; what
/// may pass later is an `Err`, which the step retries with backoff.
pub async fn flow_call(
    store: &Store,
    pipeline: &Pipeline,
    op: &str,
    order_id: OrderId,
) -> Result<Value, String> {
    let result = match op {
        "authorize" => authorize(store, pipeline, order_id).await.map(|a| match a {
            Authorization::NotServed => json!({"outcome": "not_served"}),
            Authorization::Authorized { reference, amount } => {
                json!({"outcome": "authorized", "reference": reference, "amount": amount})
            }
            Authorization::Failed(reason) => json!({"outcome": "failed", "reason": reason}),
        }),
        "settle" => settle(store, pipeline, order_id)
            .await
            .map(|order| outcome_json(&order)),
        other => match other.strip_prefix("refund:") {
            Some(return_id) => refund_return(
                store,
                pipeline,
                return_id.to_owned(),
                RefundRequest::default(),
            )
            .await
            .map(|ret| json!({"refund": ret.refund})),
            None => return Err(format!("{other:?} is not a payment call")),
        },
    };
    match result {
        Ok(value) => Ok(value),
        Err(e) if e.is_transient() => Err(e.to_string()),
        Err(e) => Ok(json!({"error": e.to_string()})),
    }
}
