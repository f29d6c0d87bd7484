//! Returns, the whole path: authorisation (eligibility judged by `iom-domain`), where to return
//! (the nearest node that accepts returns, by `iom-sourcing`'s great-circle distance), receipt with
//! disposition (restocked units go on-hand through the inventory ledger in the same transaction),
//! refund, close, cancel, exchanges, and refunds a channel reports (Shopify).
//!
//! Each operation is one store transaction: the return, its order's return figures, the stock put
//! back, the exchange order and the events announcing all of it commit together or not at all.
//! The `*_in` functions take the caller's transaction, so the provider pipeline applies a
//! channel's refund in the transaction that logs the document, and the return flow's steps call
//! the same functions as the HTTP API.

pub mod channel;
pub mod locate;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use iom_domain::returns::{
    AWAITING_RETURN, Disposition, Eligibility, ReceiptIntake, ReceiptLine, Restock, ReturnIntake,
    ReturnLine, ReturnLocation, ReturnRequest,
};
use iom_domain::{DomainError, FieldError, GeoPoint, Order, OrderId, ReturnOrder, ReturnPolicy};
use iom_inventory::{Change, ChangeKind};
use iom_sourcing::Node;
use iom_store::returns::{self as rows, NodeDoc};
use iom_store::{Store, StoreError, Tx, orders};
use rust_decimal::Decimal;

#[derive(Clone)]
pub struct Returns {
    store: Store,
}

/// What an authorisation did.
#[derive(Debug, Clone)]
pub enum Authorized {
    Created(Box<ReturnOrder>),
    /// The order already has a return with this reference.
    Duplicate {
        existing_id: String,
    },
}

/// `POST /api/v1/returns/{id}/refund`.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct RefundRequest {
    /// What the payment system actually paid back, when it is less than the computed refund
    /// (never more).
    #[serde(
        default,
        deserialize_with = "iom_domain::money::decimal::deserialize_option"
    )]
    #[schema(value_type = Option<String>)]
    pub amount: Option<Decimal>,
    /// The payment system's id of the refund.
    pub reference: Option<String>,
}

fn invalid(errors: Vec<FieldError>) -> StoreError {
    StoreError::Domain(DomainError::Invalid(errors))
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound(format!("return {id}"))
}

impl Returns {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Authorises a return: 422 naming every ineligible line, nothing changed.
    pub async fn authorize(&self, intake: ReturnIntake) -> Result<Authorized, StoreError> {
        self.store.write(move |tx| authorize_in(tx, intake)).await
    }

    /// Records the receipt; restocked units are on-hand at the node when this returns.
    pub async fn receive(
        &self,
        id: String,
        intake: ReceiptIntake,
    ) -> Result<ReturnOrder, StoreError> {
        self.store
            .write(move |tx| receive_in(tx, &id, intake))
            .await
    }

    pub async fn refund(
        &self,
        id: String,
        request: RefundRequest,
    ) -> Result<ReturnOrder, StoreError> {
        self.store
            .write(move |tx| refund_in(tx, &id, request.amount, request.reference, false))
            .await
    }

    pub async fn close(&self, id: String) -> Result<ReturnOrder, StoreError> {
        self.store.write(move |tx| close_in(tx, &id)).await
    }

    pub async fn cancel(&self, id: String, reason: String) -> Result<ReturnOrder, StoreError> {
        self.store.write(move |tx| cancel_in(tx, &id, reason)).await
    }
}

fn parse_nodes(docs: Vec<NodeDoc>) -> Vec<Node> {
    docs.into_iter()
        .filter_map(|d| {
            let mut node: Node = serde_json::from_value(d.doc).ok()?;
            node.code = d.code;
            node.active = d.active;
            Some(node)
        })
        .collect()
}

/// Where the customer is: where the order's ship-to is located.
fn customer_point(
    conn: &mut dyn iom_store::Conn,
    order: &Order,
) -> Result<Option<GeoPoint>, StoreError> {
    match &order.ship_to {
        Some(address) => crate::fulfillment::locate::address_point_in(conn, address),
        None => Ok(None),
    }
}

/// Product categories of the order's SKUs, from the SKU catalogue's `category` attribute.
fn categories(
    conn: &mut dyn iom_store::Conn,
    order: &Order,
) -> Result<HashMap<String, String>, StoreError> {
    let mut skus: Vec<String> = order.lines.iter().map(|l| l.sku.clone()).collect();
    skus.sort();
    skus.dedup();
    Ok(iom_store::inventory::skus(conn, &skus)?
        .into_iter()
        .filter_map(|s| {
            let category = s.attributes.get("category")?.as_str()?.to_owned();
            Some((s.sku, category))
        })
        .collect())
}

fn load_return(tx: &mut Tx<'_>, id: &str) -> Result<ReturnOrder, StoreError> {
    rows::load(tx.conn(), id, true)?.ok_or_else(|| not_found(id))
}

fn load_order(tx: &mut Tx<'_>, id: OrderId) -> Result<Order, StoreError> {
    orders::load(tx.conn(), id, true)?
        .ok_or_else(|| StoreError::Corrupt(format!("the order {id} of a return vanished")))
}

/// Saves the return and its order's figures after a change from `before` to `after`.
fn save(
    tx: &mut Tx<'_>,
    before: &ReturnOrder,
    after: &ReturnOrder,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut order = load_order(tx, after.order_id)?;
    let previous = order.clone();
    order.apply_return(Some(before), after, now)?;
    orders::save(tx.conn(), &previous, &order)?;
    rows::save(tx.conn(), before, after)
}

pub fn authorize_in(tx: &mut Tx<'_>, intake: ReturnIntake) -> Result<Authorized, StoreError> {
    let now = tx.now();
    let policy = rows::policy(tx.conn())?;
    let request: ReturnRequest = intake.parse(&policy).map_err(invalid)?;
    let order = orders::load(tx.conn(), request.order_id, true)?.ok_or_else(|| {
        invalid(vec![FieldError::new(
            "order_id",
            format!("order {} does not exist", request.order_id),
        )])
    })?;
    if let Some(reference) = &request.reference
        && let Some(existing) = rows::by_reference(tx.conn(), order.id, reference)?
    {
        return Ok(Authorized::Duplicate {
            existing_id: existing.id,
        });
    }
    let nodes = parse_nodes(rows::nodes(tx.conn())?);
    let from = customer_point(tx.conn(), &order)?;
    let return_to = match &request.node {
        Some(code) => match nodes.iter().find(|n| &n.code == code) {
            None => {
                return Err(invalid(vec![FieldError::new(
                    "node",
                    format!("unknown node {code:?}"),
                )]));
            }
            Some(n) if !n.accepts_returns || !n.active => {
                return Err(invalid(vec![FieldError::new(
                    "node",
                    format!("node {code:?} does not accept returns"),
                )]));
            }
            Some(n) => Some(ReturnLocation {
                node: n.code.clone(),
                distance_km: locate::distance(n, from),
            }),
        },
        None => locate::nearest(&nodes, from),
    };
    let context = Eligibility {
        categories: categories(tx.conn(), &order)?,
        now,
    };
    let (mut ret, mut events) =
        ReturnOrder::authorize(&order, request, &policy, &context, return_to)?;
    if let Some((exchange, exchange_events)) = ret.exchange_order(&order, &policy, now)? {
        if !orders::insert(tx.conn(), &exchange)? {
            return Err(StoreError::Domain(DomainError::conflict(
                "the exchange order of this return exists already",
            )));
        }
        ret.exchange_order_id = Some(exchange.id);
        events.extend(exchange_events);
    }
    let mut updated = order.clone();
    updated.apply_return(None, &ret, now)?;
    orders::save(tx.conn(), &order, &updated)?;
    if let Err(existing_id) = rows::insert(tx.conn(), &ret)? {
        // Checked above under the order's lock; an error here undoes everything this job wrote.
        return Err(StoreError::Domain(DomainError::conflict(format!(
            "the order has a return with this reference: {existing_id}"
        ))));
    }
    tx.emit_all(events);
    Ok(Authorized::Created(Box::new(ret)))
}

pub fn receive_in(
    tx: &mut Tx<'_>,
    id: &str,
    intake: ReceiptIntake,
) -> Result<ReturnOrder, StoreError> {
    let now = tx.now();
    let before = load_return(tx, id)?;
    // Lock the order before the stock positions, in the order a shipment takes them (order, then
    // positions), so that two processes cannot deadlock on PostgreSQL.
    load_order(tx, before.order_id)?;
    let mut ret = before.clone();
    let (mut events, restock) = ret.receive(intake, now)?;
    let node = ret
        .receipts
        .last()
        .map(|r| r.node.clone())
        .unwrap_or_default();
    let nodes = parse_nodes(rows::nodes(tx.conn())?);
    match nodes.iter().find(|n| n.code == node) {
        None => {
            return Err(invalid(vec![FieldError::new(
                "node",
                format!("unknown node {node:?}"),
            )]));
        }
        Some(n) if !n.accepts_returns => {
            return Err(invalid(vec![FieldError::new(
                "node",
                format!("node {node:?} does not accept returns"),
            )]));
        }
        Some(_) => {}
    }
    if !restock.is_empty() {
        let changes: Vec<Change> = restock
            .iter()
            .map(|r| Change {
                id: r.change_id.clone(),
                sku: r.sku.clone(),
                node: r.node.clone(),
                kind: ChangeKind::Delta,
                quantity: i64::from(r.quantity),
                reason: Some("return".into()),
                source: Some(ret.id.clone()),
            })
            .collect();
        let outcome = crate::inventory::apply_changes_in(tx, &changes)?;
        if outcome.duplicates > 0 {
            // The ledger already holds these units: the return was received before under another
            // copy of its record. Refuse rather than count them twice.
            return Err(StoreError::Domain(DomainError::conflict(
                "the return's units were restocked already",
            )));
        }
    }
    save(tx, &before, &ret, now)?;
    // The return rate counts units received back, whatever becomes of them, in the transaction
    // that records them (the return row is locked and must be `authorized`, so once per return).
    let units: i64 = ret
        .receipts
        .last()
        .map(|r| r.lines.iter().map(|l| i64::from(l.quantity)).sum())
        .unwrap_or_default();
    iom_store::insights::add_returned_units(tx.conn(), &ret.order_id.to_string(), units)?;
    if let Some(exchange_id) = ret.exchange_order_id {
        let mut exchange = load_order(tx, exchange_id)?;
        if exchange.holds.iter().any(|h| h.code == AWAITING_RETURN) {
            let previous = exchange.clone();
            events.extend(exchange.release_hold(Some(AWAITING_RETURN), now)?);
            orders::save(tx.conn(), &previous, &exchange)?;
        }
    }
    tx.emit_all(events);
    Ok(ret)
}

/// Decides the disposition of the units received without one (the return flow's `inspect`).
pub fn inspect_in(
    tx: &mut Tx<'_>,
    id: &str,
    decide: impl Fn(&ReturnLine, &ReceiptLine) -> Disposition,
) -> Result<ReturnOrder, StoreError> {
    let now = tx.now();
    let before = load_return(tx, id)?;
    let mut ret = before.clone();
    let events = ret.inspect(decide, now)?;
    if !events.is_empty() {
        rows::save(tx.conn(), &before, &ret)?;
    }
    tx.emit_all(events);
    Ok(ret)
}

/// Puts back on-hand what inspection decided to restock (the return flow's `disposition`). The
/// ledger's change ids (`return:{id}:line:{n}:inspected`) make a repeat restock nothing more;
/// returns the changes applied this time.
pub fn restock_inspected_in(tx: &mut Tx<'_>, id: &str) -> Result<Vec<Restock>, StoreError> {
    let ret = load_return(tx, id)?;
    let restock = ret.inspected_restocks();
    if restock.is_empty() {
        return Ok(restock);
    }
    let changes: Vec<Change> = restock
        .iter()
        .map(|r| Change {
            id: r.change_id.clone(),
            sku: r.sku.clone(),
            node: r.node.clone(),
            kind: ChangeKind::Delta,
            quantity: i64::from(r.quantity),
            reason: Some("return".into()),
            source: Some(ret.id.clone()),
        })
        .collect();
    let outcome = crate::inventory::apply_changes_in(tx, &changes)?;
    if outcome.duplicates == changes.len() {
        return Ok(Vec::new());
    }
    Ok(restock)
}

pub fn refund_in(
    tx: &mut Tx<'_>,
    id: &str,
    amount: Option<Decimal>,
    reference: Option<String>,
    channel_refund: bool,
) -> Result<ReturnOrder, StoreError> {
    let now = tx.now();
    let policy: ReturnPolicy = rows::policy(tx.conn())?;
    let before = load_return(tx, id)?;
    let order = load_order(tx, before.order_id)?;
    let mut ret = before.clone();
    let events = ret.refund(&order, &policy, amount, reference, channel_refund, now)?;
    save(tx, &before, &ret, now)?;
    tx.emit_all(events);
    Ok(ret)
}

/// Records the tax the tax service gave back with the return's refund (once), on the return
/// and on its order's tax document.
pub fn record_tax_refund_in(
    tx: &mut Tx<'_>,
    id: &str,
    tax: iom_domain::returns::RefundTax,
) -> Result<ReturnOrder, StoreError> {
    let now = tx.now();
    let before = load_return(tx, id)?;
    if before.refund.as_ref().is_none_or(|r| r.tax.is_some()) {
        return Ok(before);
    }
    let mut ret = before.clone();
    let amount = tax.amount;
    ret.record_tax_refund(tax, now)?;
    save(tx, &before, &ret, now)?;
    let mut order = load_order(tx, ret.order_id)?;
    let previous = order.clone();
    order.refund_tax(amount, now)?;
    orders::save(tx.conn(), &previous, &order)?;
    Ok(ret)
}

pub fn close_in(tx: &mut Tx<'_>, id: &str) -> Result<ReturnOrder, StoreError> {
    let now = tx.now();
    let before = load_return(tx, id)?;
    let mut ret = before.clone();
    let events = ret.close(now)?;
    save(tx, &before, &ret, now)?;
    tx.emit_all(events);
    Ok(ret)
}

/// Cancels the return and, with it, its exchange order while nothing of that has shipped.
pub fn cancel_in(tx: &mut Tx<'_>, id: &str, reason: String) -> Result<ReturnOrder, StoreError> {
    let now = tx.now();
    let before = load_return(tx, id)?;
    let mut ret = before.clone();
    let mut events = ret.cancel(reason, now)?;
    save(tx, &before, &ret, now)?;
    if let Some(exchange_id) = ret.exchange_order_id {
        let mut exchange = load_order(tx, exchange_id)?;
        if exchange.status != iom_domain::OrderStatus::Cancelled {
            let previous = exchange.clone();
            let cancelled = exchange.cancel("return_cancelled", now).map_err(|e| {
                DomainError::conflict(format!(
                    "the exchange order {exchange_id} cannot be cancelled with the return: {e}"
                ))
            })?;
            orders::save(tx.conn(), &previous, &exchange)?;
            crate::inventory::order_effects(tx, &exchange, &cancelled)?;
            events.extend(cancelled);
        }
    }
    tx.emit_all(events);
    Ok(ret)
}
