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

pub mod client;

use iom_domain::intake::PAYMENT_METHOD;
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
            PaymentError::Pipeline(_) | PaymentError::Declined(_) | PaymentError::Refused(_) => {
                false
            }
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
    store
        .update_order_with(
            order_id,
            move |order, now| {
                order.authorize_payment(&provider, &reference, Some(method), amount, now)
            },
            move |tx, _, _| {
                let now = tx.now();
                rows::finish(tx.conn(), &key, "recorded", Some(&intent.id), None, now)
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

/// Captures every shipment of the order not captured yet (its share of the order, as its invoice
/// has it), and once nothing is left to ship, lets the rest of the authorisation go (flow step
/// `capture-payment`; a cancellation). Returns the order as it is after.
pub async fn settle(
    store: &Store,
    pipeline: &Pipeline,
    order_id: OrderId,
) -> Result<Order, PaymentError> {
    let mut order = load(store, order_id).await?;
    let Some(payment) = order.payment.clone() else {
        return Ok(order);
    };
    let Some(intent) = payment
        .reference
        .clone()
        .filter(|_| payment.authorized > Decimal::ZERO)
    else {
        return Ok(order);
    };
    let loaded = loaded(store, pipeline, &payment.provider).await?;
    let client = Client::new(&pipeline.http, &loaded)?;
    let scale = order.currency_scale();
    let id = order_id.to_string();
    let pending: Vec<usize> = (0..order.shipments.len())
        .filter(|i| !payment.captured_for(&order.shipments[*i].id))
        .collect();
    for (n, index) in pending.iter().enumerate() {
        let shipment_id = order.shipments[*index].id.clone();
        let share = stripe::shipment_amount(&order, *index).map_err(PaymentError::Refused)?;
        let capturable = order
            .payment
            .as_ref()
            .map_or(Decimal::ZERO, |p| p.capturable());
        let call = claim(
            store,
            Claim {
                key: format!("iom-{id}-capture-{shipment_id}"),
                order_id: id.clone(),
                provider: payment.provider.clone(),
                kind: "capture",
                reference: shipment_id.clone(),
                amount: share.min(capturable),
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
            Some(client.capture(&intent, &form, &call.key).await?.id)
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
    }
    let left = order
        .payment
        .as_ref()
        .map_or(Decimal::ZERO, |p| p.capturable());
    if nothing_open(&order) && left > Decimal::ZERO {
        order = release(store, &client, &order, &payment.provider, &intent).await?;
    }
    Ok(order)
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
    let answer = client.cancel(intent, &stripe::cancel(), &call.key).await?;
    let key = call.key.clone();
    let order = store
        .update_order_with(
            order.id,
            |order, now| order.release_payment(now),
            move |tx, _, _| {
                let now = tx.now();
                rows::finish(tx.conn(), &key, "recorded", Some(&answer.id), None, now)
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
    let intent = payment.reference.clone().unwrap_or_default();
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
            let events = order.refund_payment(&reference, &refunded.id, amount, now)?;
            iom_store::orders::save(tx.conn(), &before, &order)?;
            tx.emit_all(events);
            rows::finish(tx.conn(), &key, "recorded", Some(&refunded.id), None, now)?;
            Ok(ret)
        })
        .await?;
    tracing::info!(order = %order_id, amount = %amount, "refund paid out");
    Ok(ret)
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
