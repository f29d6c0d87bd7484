//! Shipping through a carrier (`carrier` provider instances, EasyPost's v2 API): buying a label
//! for lines released to a node, and following the parcel with tracker webhooks ([`tracking`]).
//!
//! Where labels are bought: after release. A node that packs released lines gets its label from
//! the flow step `buy-label` (or by hand, `POST /orders/{id}/labels`); the bought label *is* the
//! shipment (see `iom_domain::order::carrier`), recorded with carrier, service, cost and tracking
//! code, and its file is kept to be printed (`GET /orders/{id}/shipments/{sid}/label`).
//!
//! A label is bought at most once per purchase, whatever dies when:
//! 1. the purchase is claimed in the store under a key made of (order, node, lines), so a retry,
//!    a repeated flow step and the same request by hand all name the same purchase;
//! 2. the carrier's shipment is created (rates) and its id stored *before* anything is bought;
//! 3. a purchase found with a stored shipment asks the carrier (`GET /v2/shipments/{id}`)
//!    whether it was bought, and buys only when it was not (EasyPost itself refuses to buy one
//!    shipment twice, which covers two processes racing);
//! 4. the label is fetched, and the shipment recorded with the purchase in one transaction.

pub mod client;
pub mod rates;
pub mod tracking;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use iom_domain::order::LineQuantityRequest;
use iom_domain::{
    DomainError, LineQuantity, LineStatus, Order, OrderId, ShipmentLabel, ShipmentRequest,
};
use iom_providers::easypost::{self, Parcel};
use iom_store::shipping::{self as rows, LabelRow};
use iom_store::{Store, StoreError};
use serde_json::Value;

use crate::orders::{OrderAction, act_in};
use crate::pipeline::{Loaded, Pipeline, PipelineError};
use client::Client;

#[derive(Debug, thiserror::Error)]
pub enum ShippingError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
    /// The carrier refused, failed or could not be reached; trying again may help.
    #[error("{0}")]
    Carrier(String),
}

impl From<DomainError> for ShippingError {
    fn from(e: DomainError) -> Self {
        ShippingError::Store(StoreError::Domain(e))
    }
}

/// What to buy a label for: `POST /orders/{id}/labels`, or the flow step for one node.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct LabelRequest {
    /// The carrier instance; optional when exactly one exists.
    pub provider: Option<String>,
    /// The node that ships; optional when the lines are released to one node.
    pub node: Option<String>,
    /// The lines and quantities in the parcel; all released, unshipped quantities of the node
    /// when absent.
    pub lines: Option<Vec<LineQuantityRequest>>,
    /// The carrier's service to buy (`Priority`, or `USPS Priority`); else the service the
    /// order's `ship_method` maps to in the instance's `settings.services`, else the cheapest
    /// rate that keeps the lines' promise.
    pub service: Option<String>,
}

/// A label bought (now or before) and the shipment it became.
#[derive(Debug, Clone)]
pub struct Bought {
    pub order: Order,
    pub shipment_id: String,
}

/// The carrier instance to use: the one named (which must be a `carrier`), else the only one.
pub async fn carrier(
    store: &Store,
    pipeline: &Pipeline,
    named: Option<&str>,
) -> Result<std::sync::Arc<Loaded>, ShippingError> {
    let name = match named.filter(|n| !n.is_empty()) {
        Some(n) => n.to_owned(),
        None => {
            let mut all: Vec<String> = store
                .read(rows::carriers)
                .await?
                .into_iter()
                .map(|(name, _)| name)
                .collect();
            match all.len() {
                1 => all.remove(0),
                0 => return Err(invalid("provider", "no carrier instance is set up")),
                _ => {
                    return Err(invalid(
                        "provider",
                        format!(
                            "several carrier instances exist ({}): name one",
                            all.join(", ")
                        ),
                    ));
                }
            }
        }
    };
    let loaded = pipeline.load(store, &name).await.map_err(|e| match e {
        PipelineError::UnknownProvider(p) => invalid("provider", format!("no provider {p}")),
        other => other.into(),
    })?;
    if loaded.kind.name != "carrier" {
        return Err(invalid(
            "provider",
            format!("{name} is a {} instance, not a carrier", loaded.kind.name),
        ));
    }
    Ok(loaded)
}

fn invalid(field: &str, message: impl Into<String>) -> ShippingError {
    DomainError::invalid(field, message).into()
}

/// Buys a label for every node with released lines not shipped yet (the flow step).
pub async fn buy_released(
    store: &Store,
    pipeline: &Pipeline,
    order_id: OrderId,
    provider: Option<String>,
) -> Result<Vec<Bought>, ShippingError> {
    let order = load(store, order_id).await?;
    let mut nodes: Vec<String> = order
        .lines
        .iter()
        .filter(|l| l.status == LineStatus::Released && l.open_quantity() > 0)
        .filter_map(|l| l.node.clone())
        .collect();
    nodes.sort();
    nodes.dedup();
    let mut out = Vec::new();
    for node in nodes {
        let request = LabelRequest {
            provider: provider.clone(),
            node: Some(node),
            ..LabelRequest::default()
        };
        out.push(buy_label(store, pipeline, order_id, request).await?);
    }
    Ok(out)
}

async fn load(store: &Store, id: OrderId) -> Result<Order, ShippingError> {
    store
        .get_order(id)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("order {id}")).into())
}

/// Buys one label: see the module documentation for why this never buys twice.
pub async fn buy_label(
    store: &Store,
    pipeline: &Pipeline,
    order_id: OrderId,
    request: LabelRequest,
) -> Result<Bought, ShippingError> {
    let order = load(store, order_id).await?;
    let loaded = carrier(store, pipeline, request.provider.as_deref()).await?;
    let (node, lines) = parcel_lines(&order, &request)?;
    let key = purchase_key(order_id, &node, &lines);
    let claim = {
        let (key, provider, node, lines) = (
            key.clone(),
            loaded.name().to_owned(),
            node.clone(),
            lines.clone(),
        );
        let order_id = order_id.to_string();
        store
            .write(move |tx| {
                let now = tx.now();
                rows::claim(tx.conn(), &key, &order_id, &provider, &node, &lines, now)
            })
            .await?
    };
    if claim.recorded() {
        return finished(store, order_id, &claim).await;
    }
    // Refused by the order (on hold, nothing left to ship) before the carrier is asked anything:
    // a purchase already under way is finished whatever the order says now.
    if claim.carrier_shipment_id.is_none() {
        order
            .clone()
            .record_shipment(shipment_request(&node, &lines, None, None), Utc::now())?;
    }
    let settings = &loaded.record.config["settings"];
    let client = Client::new(&pipeline.http, &loaded)?;
    let format = settings["label_format"]
        .as_str()
        .unwrap_or("PDF")
        .to_ascii_uppercase();
    let shipment = match &claim.carrier_shipment_id {
        Some(id) => client.retrieve(id).await?,
        None => {
            let from = from_address(settings, &node)?;
            let to = order
                .ship_to
                .as_ref()
                .ok_or_else(|| invalid("ship_to", "the order has no ship-to"))?;
            let email = order.customer.as_ref().and_then(|c| c.email.as_deref());
            let parcel = parcel(store, settings, &order, &lines).await?;
            let body = easypost::create_shipment(
                from,
                easypost::address(to, email),
                &parcel,
                &key,
                &format,
            );
            let created = client.create(&body).await?;
            let (k, id) = (key.clone(), created.id.clone());
            store
                .write(move |tx| {
                    let now = tx.now();
                    rows::created(tx.conn(), &k, &id, now)
                })
                .await?;
            created
        }
    };
    let promise = promise_of(&order, &lines);
    let shipment = if shipment.is_bought() {
        shipment
    } else {
        let service = request.service.clone().or_else(|| {
            order
                .ship_method
                .as_deref()
                .and_then(|m| settings["services"][m].as_str())
                .map(str::to_owned)
        });
        let max_days = promise.map(|p| days_until(Utc::now(), p));
        let choice = easypost::choose(&shipment.rates, service.as_deref(), max_days)
            .map_err(|m| invalid("service", m))?;
        if !choice.keeps_promise {
            tracing::warn!(order = %order_id, rate = %choice.rate.id, "no rate keeps the promise; buying the fastest");
        }
        match client
            .buy(&shipment.id, &easypost::buy(&choice.rate.id))
            .await
        {
            Ok(bought) => bought,
            // The answer was lost, or another process bought it first: the carrier knows.
            Err(e) => {
                let now = client.retrieve(&shipment.id).await?;
                if !now.is_bought() {
                    return Err(e);
                }
                now
            }
        }
    };
    record(store, &client, &claim, shipment, &format, promise).await
}

/// Fetches the label and records the shipment with the purchase, in one transaction.
async fn record(
    store: &Store,
    client: &Client<'_>,
    claim: &LabelRow,
    shipment: easypost::Shipment,
    format: &str,
    promise: Option<DateTime<Utc>>,
) -> Result<Bought, ShippingError> {
    let rate = shipment
        .selected_rate
        .clone()
        .ok_or_else(|| ShippingError::Carrier("the bought shipment names no rate".into()))?;
    let (url, kind) = shipment
        .postage_label
        .as_ref()
        .and_then(|l| l.url(format))
        .ok_or_else(|| ShippingError::Carrier("the bought shipment has no label URL".into()))?;
    let file = client.label(&url).await?;
    let label = ShipmentLabel {
        provider: claim.provider.clone(),
        carrier_shipment_id: shipment.id.clone(),
        service: rate.service.clone(),
        cost: rate.rate,
        currency: rate.currency.clone(),
        delivery_days: rate.delivery_days,
        format: kind.clone(),
        promised_delivery_at: promise,
    };
    let request = shipment_request(
        &claim.node,
        &claim.lines,
        Some(rate.carrier.clone()),
        shipment.tracking_code.clone(),
    );
    let order_id: OrderId = claim
        .order_id
        .parse()
        .map_err(|_| StoreError::Corrupt("a label's order id".into()))?;
    let key = claim.key.clone();
    let tracking = shipment.tracking_code.clone();
    let encoded = base64::engine::general_purpose::STANDARD.encode(&file);
    let (order, shipment_id) = store
        .write(move |tx| {
            let now = tx.now();
            let action = OrderAction::ShipLabelled {
                request,
                label,
                reference: key.clone(),
            };
            let order = act_in(tx, order_id, action)?;
            let shipment_id = order
                .shipment_by_reference(&key)
                .map(|s| s.id.clone())
                .ok_or_else(|| StoreError::Corrupt("a recorded label has no shipment".into()))?;
            rows::recorded(
                tx.conn(),
                &key,
                &shipment_id,
                tracking.as_deref(),
                &kind,
                &encoded,
                now,
            )?;
            Ok((order, shipment_id))
        })
        .await?;
    tracing::info!(order = %order_id, shipment = %shipment_id, carrier = %rate.carrier, service = %rate.service, cost = %rate.rate, "label bought");
    Ok(Bought { order, shipment_id })
}

async fn finished(
    store: &Store,
    order_id: OrderId,
    claim: &LabelRow,
) -> Result<Bought, ShippingError> {
    Ok(Bought {
        order: load(store, order_id).await?,
        shipment_id: claim.shipment_id.clone().unwrap_or_default(),
    })
}

fn shipment_request(
    node: &str,
    lines: &[LineQuantity],
    carrier: Option<String>,
    tracking: Option<String>,
) -> ShipmentRequest {
    ShipmentRequest {
        node: Some(node.to_owned()),
        lines: Some(
            lines
                .iter()
                .map(|l| LineQuantityRequest {
                    line_no: Some(i64::from(l.line_no)),
                    quantity: Some(i64::from(l.quantity)),
                })
                .collect(),
        ),
        carrier,
        tracking,
    }
}

/// The node and the lines of the parcel: as requested, or every released line of the node with
/// what is left to ship of it.
fn parcel_lines(
    order: &Order,
    request: &LabelRequest,
) -> Result<(String, Vec<LineQuantity>), ShippingError> {
    let node = request.node.clone().filter(|n| !n.is_empty());
    let lines: Vec<LineQuantity> = match &request.lines {
        Some(asked) => {
            let mut out = Vec::new();
            for (i, l) in asked.iter().enumerate() {
                let line_no = l
                    .line_no
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|n| order.line(*n).is_some())
                    .ok_or_else(|| invalid(&format!("lines[{i}].line_no"), "no such line"))?;
                let quantity = match l.quantity {
                    None => order.line(line_no).map_or(0, |l| l.open_quantity()),
                    Some(q) => u32::try_from(q).ok().filter(|q| *q > 0).ok_or_else(|| {
                        invalid(&format!("lines[{i}].quantity"), "must be positive")
                    })?,
                };
                out.push(LineQuantity { line_no, quantity });
            }
            out
        }
        None => order
            .lines
            .iter()
            .filter(|l| l.status == LineStatus::Released && l.open_quantity() > 0)
            .filter(|l| node.is_none() || l.node == node)
            .map(|l| LineQuantity {
                line_no: l.line_no,
                quantity: l.open_quantity(),
            })
            .collect(),
    };
    if lines.is_empty() {
        return Err(DomainError::conflict("no released line is left to ship").into());
    }
    let node = match node {
        Some(n) => n,
        None => {
            let mut at: Vec<&String> = lines
                .iter()
                .filter_map(|l| order.line(l.line_no).and_then(|l| l.node.as_ref()))
                .collect();
            at.sort();
            at.dedup();
            match at.as_slice() {
                [one] => (*one).clone(),
                [] => return Err(invalid("node", "is required: the lines have no node")),
                _ => {
                    return Err(invalid(
                        "node",
                        "is required: the lines ship from several nodes",
                    ));
                }
            }
        }
    };
    let mut lines = lines;
    lines.sort_by_key(|l| l.line_no);
    Ok((node, lines))
}

/// The purchase's key: the same parcel asked for again is the same purchase.
fn purchase_key(order_id: OrderId, node: &str, lines: &[LineQuantity]) -> String {
    let parts: Vec<String> = lines
        .iter()
        .map(|l| format!("{}x{}", l.line_no, l.quantity))
        .collect();
    format!("label:{order_id}:{node}:{}", parts.join(","))
}

/// The sender: `settings.nodes.{node}.from_address`, else `settings.from_address`.
fn from_address(settings: &Value, node: &str) -> Result<Value, ShippingError> {
    let own = &settings["nodes"][node]["from_address"];
    let any = if own.is_object() {
        own
    } else {
        &settings["from_address"]
    };
    let intake: iom_domain::address::AddressIntake =
        serde_json::from_value(any.clone()).map_err(|_| {
            invalid(
                "settings.from_address",
                format!("the carrier instance has no sender address for node {node}"),
            )
        })?;
    let mut errors = Vec::new();
    let address = intake
        .validate("settings.from_address", &mut errors)
        .ok_or_else(|| ShippingError::from(DomainError::Invalid(errors)))?;
    Ok(easypost::address(&address, None))
}

/// The parcel: weights from the SKUs' attributes (`weight_oz`, or `weight_kg`), times the
/// quantities, in a box as large as the largest item (`length_in`, `width_in`, `height_in`);
/// `settings.parcel` where a SKU says nothing.
async fn parcel(
    store: &Store,
    settings: &Value,
    order: &Order,
    lines: &[LineQuantity],
) -> Result<Parcel, ShippingError> {
    let default: Option<Parcel> = serde_json::from_value(settings["parcel"].clone()).ok();
    let skus: Vec<String> = lines
        .iter()
        .filter_map(|l| order.line(l.line_no).map(|l| l.sku.clone()))
        .collect();
    let rows = store
        .read(move |c| iom_store::inventory::skus(c, &skus))
        .await?;
    let mut weight = 0.0;
    let mut dims = [None::<f64>; 3];
    for l in lines {
        let Some(line) = order.line(l.line_no) else {
            continue;
        };
        let attrs = rows
            .iter()
            .find(|r| r.sku == line.sku)
            .map(|r| &r.attributes);
        let num = |k: &str| attrs.and_then(|a| a.get(k)).and_then(Value::as_f64);
        let each = num("weight_oz")
            .or_else(|| num("weight_kg").map(|kg| kg * 35.274))
            .or_else(|| default.map(|p| p.weight))
            .ok_or_else(|| {
                invalid(
                    "settings.parcel",
                    format!(
                        "SKU {} has no weight_oz and the carrier instance no default parcel",
                        line.sku
                    ),
                )
            })?;
        weight += each * f64::from(l.quantity);
        for (i, k) in ["length_in", "width_in", "height_in"].iter().enumerate() {
            if let Some(v) = num(k) {
                dims[i] = Some(dims[i].map_or(v, |d: f64| d.max(v)));
            }
        }
    }
    let or_default = |i: usize, d: Option<f64>| dims[i].or(d);
    Ok(Parcel {
        length: or_default(0, default.and_then(|p| p.length)),
        width: or_default(1, default.and_then(|p| p.width)),
        height: or_default(2, default.and_then(|p| p.height)),
        weight: (weight * 10.0).round() / 10.0,
    })
}

/// The earliest promise among the parcel's lines, else the delivery date the order asked for.
fn promise_of(order: &Order, lines: &[LineQuantity]) -> Option<DateTime<Utc>> {
    lines
        .iter()
        .filter_map(|l| order.line(l.line_no).and_then(|l| l.promised_delivery_at))
        .min()
        .or(order.requested_delivery_at)
}

/// Whole days from `now` to `promise`, a promise already past counting as none left.
fn days_until(now: DateTime<Utc>, promise: DateTime<Utc>) -> u32 {
    let days = (promise.date_naive() - now.date_naive()).num_days();
    u32::try_from(days).unwrap_or(0)
}

/// The label file of a shipment: its format and bytes.
pub async fn label_file(
    store: &Store,
    order_id: OrderId,
    shipment_id: String,
) -> Result<Option<(String, Vec<u8>)>, StoreError> {
    let order = order_id.to_string();
    let Some((format, encoded)) = store
        .read(move |c| rows::label_file(c, &order, &shipment_id))
        .await?
    else {
        return Ok(None);
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| StoreError::Corrupt("a label is not base64".into()))?;
    Ok(Some((format, bytes)))
}
