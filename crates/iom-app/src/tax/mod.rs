//! Tax through a `tax` provider instance (Avalara AvaTax's REST API v2) for orders that arrived
//! without it: calculated before release (flow step `calculate-tax`: the lines' `tax` and the
//! totals become the service's), and the service's document committed once the order shipped,
//! adjusted to what shipped when the rest was cancelled, or voided when it was cancelled with
//! nothing shipped (flow step `commit-tax`).
//!
//! An instance serves the channels its `settings.channels` names (all when absent). The goods
//! leave from `settings.ship_from` (an address) when set, else from the node's location.
//! AvaTax knows the document by its code (iom's order id), so a call repeated after a crash
//! names the same document rather than making another.
//!
//! When a return's refund is recorded, the tax of the returned units goes back to AvaTax
//! ([`refund_return`]): a committed `ReturnInvoice` of those units, made with create-or-adjust
//! under a code made of the order's and the return's, so asking again makes no second one; the
//! tax it gave back is recorded on the return's refund and on the order's `tax_transaction`.
//!
//! Each call that changes a document (commit, adjust, void, refund) is claimed in
//! `payment_calls` before it is sent, like payments' calls: whoever settles the order (its flow
//! run, or the settlement of a cancellation without one) sends it once, and a claim found
//! recorded is not sent again.

pub mod client;

use iom_domain::order::tax::TaxStatus;
use iom_domain::returns::RefundTax;
use iom_domain::{DomainError, Order, OrderId, ReturnOrder};
use iom_providers::avatax::{self, ShipFrom, TaxLine};
use iom_store::payments::{self as rows, Claim};
use iom_store::{Store, StoreError};
use serde_json::{Value, json};

use crate::pipeline::{Loaded, Pipeline, PipelineError};
use client::Client;

#[derive(Debug, thiserror::Error)]
pub enum TaxError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The service cannot be reached or cannot answer now.
    #[error("{0}")]
    Unavailable(String),
    /// The service will not take this document (or the instance cannot send it).
    #[error("{0}")]
    Refused(String),
}

impl From<DomainError> for TaxError {
    fn from(e: DomainError) -> Self {
        TaxError::Store(StoreError::Domain(e))
    }
}

impl TaxError {
    pub fn is_transient(&self) -> bool {
        match self {
            TaxError::Unavailable(_) => true,
            TaxError::Store(StoreError::Domain(_)) => false,
            TaxError::Store(_) => true,
            TaxError::Pipeline(_) | TaxError::Refused(_) => false,
        }
    }
}

/// The `tax` instance serving `channel`, if any.
pub fn instance_in(
    conn: &mut dyn iom_store::Conn,
    channel: &str,
) -> Result<Option<String>, StoreError> {
    rows::serving_instance_in(conn, "tax", channel)
}

async fn load(store: &Store, id: OrderId) -> Result<Order, TaxError> {
    Ok(store
        .get_order(id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("order {id}")))?)
}

async fn loaded(
    store: &Store,
    pipeline: &Pipeline,
    name: &str,
) -> Result<std::sync::Arc<Loaded>, TaxError> {
    let loaded = pipeline.load(store, name).await?;
    loaded.of_kind("tax").map_err(TaxError::Refused)?;
    Ok(loaded)
}

/// Where the goods leave from: the instance's `settings.ship_from`, else the location of the
/// node the first line is sourced from.
async fn ship_from(store: &Store, loaded: &Loaded, order: &Order) -> Result<ShipFrom, TaxError> {
    let set = &loaded.record.config["settings"]["ship_from"];
    if set.is_object() {
        let intake: iom_domain::address::AddressIntake = serde_json::from_value(set.clone())
            .map_err(|e| TaxError::Refused(format!("settings.ship_from: {e}")))?;
        let mut errors = Vec::new();
        if let Some(a) = intake.validate("settings.ship_from", &mut errors) {
            return Ok(ShipFrom::Address(Box::new(a)));
        }
        return Err(DomainError::Invalid(errors).into());
    }
    let node = order.lines.iter().find_map(|l| l.node.clone());
    let doc = match node {
        Some(code) => {
            store
                .read(move |c| iom_store::nodes::node_doc_in(c, &code))
                .await?
        }
        None => None,
    };
    let point = doc.and_then(|d| {
        Some((
            d["location"]["lat"].as_f64()?,
            d["location"]["lon"].as_f64()?,
        ))
    });
    match point {
        Some((lat, lon)) => Ok(ShipFrom::Point { lat, lon }),
        None => Err(TaxError::Refused(
            "no ship-from: the order's node has no location and the tax instance no settings.ship_from"
                .into(),
        )),
    }
}

/// Taxes an order that arrived without tax (flow step `calculate-tax`). `None` when no `tax`
/// instance serves its channel, or it carries tax already.
pub async fn calculate(
    store: &Store,
    pipeline: &Pipeline,
    order_id: OrderId,
) -> Result<Option<Order>, TaxError> {
    let order = load(store, order_id).await?;
    if order.tax_transaction.is_some() || !order.untaxed() {
        return Ok(None);
    }
    let channel = order.channel.clone();
    let Some(provider) = store.read(move |c| instance_in(c, &channel)).await? else {
        return Ok(None);
    };
    let loaded = loaded(store, pipeline, &provider).await?;
    let client = Client::new(&pipeline.http, &loaded)?;
    let from = ship_from(store, &loaded, &order).await?;
    let lines: Vec<TaxLine> = order
        .lines
        .iter()
        .filter(|l| l.active_quantity() > 0)
        .map(|l| TaxLine {
            line_no: l.line_no,
            quantity: l.quantity,
        })
        .collect();
    let body = avatax::create_transaction(&order, &client.company_code, &from, &lines, false);
    let answer = client.create(&body).await?;
    let code = if answer.code.is_empty() {
        avatax::transaction_code(&order)
    } else {
        answer.code.clone()
    };
    let order = store
        .update_order(order_id, move |order, now| {
            order.apply_tax(&provider, &code, &answer.lines, now)
        })
        .await?;
    tracing::info!(order = %order_id, tax = %order.totals.tax, "tax calculated");
    Ok(Some(order))
}

/// Once nothing is left to ship, commits the order's tax document (adjusted to what shipped),
/// or voids it when nothing shipped (flow step `commit-tax`).
pub async fn settle(
    store: &Store,
    pipeline: &Pipeline,
    order_id: OrderId,
) -> Result<Order, TaxError> {
    let order = load(store, order_id).await?;
    let Some(t) = order.tax_transaction.clone() else {
        return Ok(order);
    };
    if t.status != TaxStatus::Calculated || !crate::payments::nothing_open(&order) {
        return Ok(order);
    }
    let loaded = loaded(store, pipeline, &t.provider).await?;
    let client = Client::new(&pipeline.http, &loaded)?;
    let shipped: Vec<TaxLine> = order
        .lines
        .iter()
        .filter(|l| l.shipped_quantity > 0)
        .map(|l| TaxLine {
            line_no: l.line_no,
            quantity: l.shipped_quantity,
        })
        .collect();
    let everything = order.lines.iter().all(|l| l.shipped_quantity == l.quantity);
    let (action, status) = if shipped.is_empty() {
        ("void", TaxStatus::Voided)
    } else if everything {
        ("commit", TaxStatus::Committed)
    } else {
        ("adjust", TaxStatus::Committed)
    };
    let call = claim(
        store,
        Claim {
            key: format!("iom-{order_id}-tax-{action}"),
            order_id: order_id.to_string(),
            provider: t.provider.clone(),
            kind: match action {
                "void" => "tax-void",
                "commit" => "tax-commit",
                _ => "tax-adjust",
            },
            reference: t.code.clone(),
            amount: t.total_tax,
        },
    )
    .await?;
    if !call.recorded() {
        let body = match action {
            "void" => avatax::void(),
            "commit" => avatax::commit(),
            _ => {
                let from = ship_from(store, &loaded, &order).await?;
                let new =
                    avatax::create_transaction(&order, &client.company_code, &from, &shipped, true);
                avatax::adjust(new)
            }
        };
        client.act(&t.code, action, &body).await?;
    }
    let key = call.key.clone();
    let order = store
        .update_order_with(
            order_id,
            move |order, now| order.settle_tax(status, now),
            move |tx, _, _| {
                let now = tx.now();
                rows::finish(tx.conn(), &key, "recorded", None, None, now)
            },
        )
        .await?;
    tracing::info!(order = %order_id, status = status.as_str(), "tax document settled");
    Ok(order)
}

async fn claim(store: &Store, claim: Claim) -> Result<rows::PaymentCall, TaxError> {
    Ok(store
        .write(move |tx| {
            let now = tx.now();
            rows::claim(tx.conn(), &claim, now)
        })
        .await?)
}

/// Gives back the tax of a refunded return's units (a `ReturnInvoice` through
/// `POST /api/v2/transactions/createoradjust`), once the order's document is committed; records the tax
/// refunded on the return's refund and on the order. `None` when there is nothing to adjust
/// (no tax document of iom's, not committed, no refund yet, or adjusted already).
pub async fn refund_return(
    store: &Store,
    pipeline: &Pipeline,
    return_id: &str,
) -> Result<Option<ReturnOrder>, TaxError> {
    let id = return_id.to_owned();
    let Some(ret) = store
        .read(move |c| iom_store::returns::load(c, &id, false))
        .await?
    else {
        return Ok(None);
    };
    let Some(refund) = ret.refund.clone().filter(|r| r.tax.is_none()) else {
        return Ok(None);
    };
    let order = load(store, ret.order_id).await?;
    let Some(t) = order
        .tax_transaction
        .clone()
        .filter(|t| t.status == TaxStatus::Committed)
    else {
        return Ok(None);
    };
    let lines: Vec<avatax::TaxLine> = refund
        .lines
        .iter()
        .filter(|l| l.quantity > 0)
        .map(|l| avatax::TaxLine {
            line_no: l.line_no,
            quantity: l.quantity,
        })
        .collect();
    if lines.is_empty() {
        return Ok(None);
    }
    let code = avatax::refund_code(&t.code, return_id);
    let call = claim(
        store,
        Claim {
            key: format!("iom-{}-tax-refund-{return_id}", order.id),
            order_id: order.id.to_string(),
            provider: t.provider.clone(),
            kind: "tax-refund",
            reference: format!("return:{return_id}"),
            amount: refund.amount,
        },
    )
    .await?;
    let loaded = loaded(store, pipeline, &t.provider).await?;
    let client = Client::new(&pipeline.http, &loaded)?;
    let from = ship_from(store, &loaded, &order).await?;
    let body = avatax::return_invoice(
        &order,
        &client.company_code,
        &from,
        &lines,
        &code,
        refund.at.date_naive(),
    );
    let answer = client.create_or_adjust(&body).await?;
    let tax = RefundTax {
        provider: t.provider.clone(),
        code: if answer.code.is_empty() {
            code
        } else {
            answer.code.clone()
        },
        amount: {
            let scale = order.currency_scale();
            let mut amount = answer.total_tax.abs().round_dp(scale);
            if amount.scale() < scale {
                amount.rescale(scale);
            }
            amount
        },
        at: chrono::Utc::now(),
    };
    let (key, return_id, order_id) = (call.key.clone(), return_id.to_owned(), order.id);
    let ret = store
        .write(move |tx| {
            let ret = crate::returns::record_tax_refund_in(tx, &return_id, tax)?;
            let now = tx.now();
            rows::finish(tx.conn(), &key, "recorded", None, None, now)?;
            Ok(ret)
        })
        .await?;
    tracing::info!(order = %order_id, "tax refunded with the return");
    Ok(Some(ret))
}

/// A flow step's call (`flow::Call::Tax`): `calculate` or `settle`; refusals come back as
/// `{"error"}`, which fails the step at once, the rest as `Err`, which it retries.
pub async fn flow_call(
    store: &Store,
    pipeline: &Pipeline,
    op: &str,
    order_id: OrderId,
) -> Result<Value, String> {
    let result = match op {
        "calculate" => calculate(store, pipeline, order_id).await.map(|o| match o {
            None => json!({"skipped": "not taxed here"}),
            Some(order) => json!({"tax": order.totals.tax, "total": order.totals.total,
                                  "transaction": order.tax_transaction}),
        }),
        "settle" => settle(store, pipeline, order_id)
            .await
            .map(|o| json!({"transaction": o.tax_transaction})),
        other => return Err(format!("{other:?} is not a tax call")),
    };
    match result {
        Ok(v) => Ok(v),
        Err(e) if e.is_transient() => Err(e.to_string()),
        Err(e) => Ok(json!({"error": e.to_string()})),
    }
}
