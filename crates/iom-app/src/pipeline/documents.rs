//! Outbound documents decided by business events: a consumer of the event log (cursor
//! `documents`) that turns
//!
//! - the first decision on an order from an `x12` instance (`order.released`,
//!   `order.backordered`, `order.cancelled`, or a shipment before any of them) into its 855
//!   acknowledgement, once per order: it says what iom did with each line, which is known only
//!   then,
//! - `order.shipment_created` of such an order into an 856 ship notice and an 810 invoice,
//! - `order.released` into an X12 940 for each node of the order run by an `x12` instance. A
//!   node run by a `webhook` instance is not released here: the flow step `release-to-nodes`
//!   calls it, under its lease and idempotency key, and records the attempts on the run; sending
//!   it here as well would release the lines twice.
//!
//! Why a consumer of events rather than the transaction that records the shipment: an event
//! exists only if its change committed, so nothing is announced that did not happen; and the
//! documents are logged in the same transaction that moves this consumer's cursor past the
//! event (`Store::commit_documents`, a compare-and-set on the cursor), so each event yields its
//! documents exactly once, whatever dies when. Every way of shipping (the API, an inbound 856 or
//! 945, a future flow step) causes the same documents without knowing of them, and a partner that
//! is down never slows down or fails the change itself. The cost is a delay of one poll.
//!
//! An instance sends only with `settings.x12` (its envelope); `settings.x12.documents` narrows
//! which (default all four). With a `url` in its connection the documents are posted by the
//! sender (`pending`), without one they wait in the message log for pick-up (`ready`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use chrono::{Timelike, Utc};
use iom_domain::order::LineQuantity;
use iom_domain::{LineStatus, Order, OrderId};
use iom_providers::x12::outbound::{
    Outgoing, Written, invoice_810, po_ack_855, ship_notice_856, shipping_order_940,
};
use iom_providers::x12::writer::{EnvelopeSettings, Partner};
use iom_store::nodes::NodeRecord;
use iom_store::outbound::{Built, OutboundDocument};
use serde_json::Value;
use tokio::task::JoinHandle;

use super::delivery::{Lease, backoff};
use super::{Loaded, PipelineError};
use crate::App as AppState;

/// The cursor of this consumer in `delivery_cursors`.
pub const CONSUMER: &str = "documents";
const TYPES: &str = "order.released,order.backordered,order.cancelled,order.shipment_created";
/// Events decided per transaction.
const BATCH: usize = 100;
/// Short, so that after a crash another process takes over within seconds; renewing costs a
/// write every second.
const LEASE: Duration = Duration::from_secs(3);
const POLL: Duration = Duration::from_millis(100);

/// Runs the consumer: one process at a time holds it (a lease), the others wait.
pub fn spawn(state: AppState) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut lease = Lease::with_ttl(CONSUMER, LEASE);
        let mut failures = 0u32;
        loop {
            lease.hold(&state).await;
            match round(&state).await {
                Ok(0) => tokio::time::sleep(POLL).await,
                Ok(_) => failures = 0,
                Err(error) => {
                    failures += 1;
                    tracing::warn!(%error, failures, "outbound documents: round failed");
                    let _ = state
                        .store
                        .cursor_failed(CONSUMER.to_owned(), error.clone())
                        .await;
                    tokio::time::sleep(backoff(failures, Duration::from_secs(30))).await;
                }
            }
        }
    })
}

/// Decides the documents of the next events and commits them with the cursor; the number of
/// events consumed.
pub async fn round(state: &AppState) -> Result<usize, String> {
    // A read on every poll; the cursor row is created (a write) only once.
    let cursor = match state
        .store
        .read_cursor(CONSUMER.to_owned())
        .await
        .map_err(|e| e.to_string())?
    {
        Some(c) => c,
        None => state
            .store
            .cursor(CONSUMER.to_owned(), 0)
            .await
            .map_err(|e| e.to_string())?,
    };
    let scan = state
        .store
        .scan_events(cursor.cursor, TYPES.to_owned(), BATCH)
        .await
        .map_err(|e| e.to_string())?;
    // Past the events of other types too, with the documents of these.
    let (events, last) = (scan.events, scan.read_to);
    if last <= cursor.cursor {
        return Ok(0);
    }
    // The instances that send X12 for their orders: most orders come from other channels and
    // are passed over without being read.
    let senders: HashSet<String> = state
        .store
        .list_providers()
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|p| p.kind == "x12" && !p.config["settings"]["x12"].is_null())
        .map(|p| p.name)
        .collect();
    let from_sender = |e: &iom_store::events::Event| {
        e.data["channel"]
            .as_str()
            .is_some_and(|c| senders.contains(c))
    };
    let relevant: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "order.released" || from_sender(e))
        .collect();
    // The orders of the whole batch in one read, and each node once.
    let ids: Vec<OrderId> = relevant
        .iter()
        .filter_map(|e| e.data["order_id"].as_str()?.parse().ok())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let orders: HashMap<String, Order> = state
        .store
        .get_orders(ids)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|o| (o.id.to_string(), o))
        .collect();
    let mut nodes = Nodes::default();
    let mut documents = Vec::new();
    for event in relevant {
        let Some(order) = event.data["order_id"]
            .as_str()
            .and_then(|id| orders.get(id))
        else {
            continue;
        };
        documents.extend(
            decide(
                state,
                &mut nodes,
                &event.kind,
                &event.data,
                order,
                from_sender(event),
            )
            .await
            .map_err(|e| format!("event {}: {e}", event.seq))?,
        );
    }
    let moved = state
        .store
        .commit_documents(CONSUMER.to_owned(), cursor.cursor, last, documents)
        .await
        .map_err(|e| e.to_string())?;
    Ok(if moved { events.len() } else { 0 })
}

/// The settings an instance sends X12 with, or `None` when it sends none.
fn envelope(loaded: &Loaded) -> Result<Option<EnvelopeSettings>, String> {
    let value = &loaded.record.config["settings"]["x12"];
    if value.is_null() || loaded.kind.name != "x12" {
        return Ok(None);
    }
    super::settings::envelope(value)
        .map(Some)
        .map_err(|e| format!("provider {}: settings.x12: {e}", loaded.name()))
}

fn wants(loaded: &Loaded, kind: &str) -> bool {
    match loaded.record.config["settings"]["x12"]["documents"].as_array() {
        Some(list) => list.iter().any(|v| v.as_str() == Some(kind)),
        None => true,
    }
}

/// The instance named `name`, or `None` when there is none (an order of a channel that is no
/// provider instance).
async fn instance(state: &AppState, name: &str) -> Result<Option<std::sync::Arc<Loaded>>, String> {
    match state.pipeline.load(&state.store, name).await {
        Ok(l) => Ok(Some(l)),
        Err(PipelineError::UnknownProvider(_)) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// Nodes read during one round, each once.
#[derive(Default)]
struct Nodes(HashMap<String, Option<NodeRecord>>);

impl Nodes {
    async fn get(&mut self, state: &AppState, code: &str) -> Result<Option<NodeRecord>, String> {
        if let Some(node) = self.0.get(code) {
            return Ok(node.clone());
        }
        let node = state
            .store
            .get_node(code.to_owned())
            .await
            .map_err(|e| e.to_string())?;
        self.0.insert(code.to_owned(), node.clone());
        Ok(node)
    }
}

/// An X12 document of `loaded`, built with the control number the store hands out.
fn x12_document(
    loaded: &Loaded,
    envelope: EnvelopeSettings,
    learned: Option<Partner>,
    kind: &str,
    order_id: String,
    build: impl FnOnce(&Outgoing<'_>) -> Result<Written, String> + Send + 'static,
) -> OutboundDocument {
    let at = Utc::now().naive_utc();
    let at = at.with_nanosecond(0).unwrap_or(at);
    OutboundDocument {
        provider: loaded.name().to_owned(),
        kind: kind.to_owned(),
        order_ids: vec![order_id],
        deliver: loaded.connection("url").is_some(),
        numbered: true,
        once: None,
        build: Box::new(move |control| {
            build(&Outgoing {
                envelope: &envelope,
                control,
                at,
                learned: learned.as_ref(),
            })
            .map(|w| Built {
                payload: w.text.into_bytes(),
                references: w.references,
            })
        }),
    }
}

/// A document without references of its own.
fn plain(text: String) -> Written {
    Written {
        text,
        references: Vec::new(),
    }
}

/// A document the instance's configuration does not allow to write: logged `failed` with the
/// reason, so the operator sees it in the instance's message log instead of it vanishing.
fn unbuildable(loaded: &Loaded, kind: &str, order: &Order, error: String) -> OutboundDocument {
    let kind = kind.strip_prefix("order.").map_or(kind, |_| "x12");
    OutboundDocument {
        provider: loaded.name().to_owned(),
        kind: kind.to_owned(),
        order_ids: vec![order.id.to_string()],
        deliver: false,
        numbered: false,
        once: None,
        build: Box::new(move |_| Err(error)),
    }
}

/// The documents an event causes; `from_sender` when the order's channel is an instance that
/// sends X12.
async fn decide(
    state: &AppState,
    nodes: &mut Nodes,
    kind: &str,
    data: &Value,
    order: &Order,
    from_sender: bool,
) -> Result<Vec<OutboundDocument>, String> {
    let mut out = Vec::new();
    if from_sender && let Some(loaded) = instance(state, &order.channel).await? {
        out.extend(to_channel(nodes, state, &loaded, kind, data, order).await?);
    }
    if kind == "order.released" {
        out.extend(releases(state, nodes, order.clone()).await?);
    }
    Ok(out)
}

/// The documents to the `x12` instance an order came from: its 855 on the first decision, an
/// 856 and an 810 for each shipment.
async fn to_channel(
    nodes: &mut Nodes,
    state: &AppState,
    loaded: &Loaded,
    kind: &str,
    data: &Value,
    order: &Order,
) -> Result<Vec<OutboundDocument>, String> {
    let env = match envelope(loaded) {
        Ok(Some(env)) => env,
        Ok(None) => return Ok(Vec::new()),
        Err(e) => return Ok(vec![unbuildable(loaded, kind, order, e)]),
    };
    let order_id = order.id.to_string();
    let order = std::sync::Arc::new(order.clone());
    let mut out = Vec::new();
    if wants(loaded, "855") {
        let order = order.clone();
        let mut ack = x12_document(
            loaded,
            env.clone(),
            None,
            "855",
            order_id.clone(),
            move |o| po_ack_855(&order, o).map(plain).map_err(|e| e.to_string()),
        );
        ack.once = Some(format!("855:{order_id}"));
        out.push(ack);
    }
    if kind != "order.shipment_created" {
        return Ok(out);
    }
    let shipment_id = data["id"].as_str().unwrap_or_default();
    let Some(index) = order.shipments.iter().position(|s| s.id == shipment_id) else {
        tracing::warn!(order = %order_id, shipment = %shipment_id, "an announced shipment is not on its order");
        return Ok(out);
    };
    let node = &order.shipments[index].node;
    let ship_from = nodes
        .get(state, node)
        .await?
        .and_then(|n| n.doc["name"].as_str().map(str::to_owned))
        .filter(|n| !n.is_empty());
    if wants(loaded, "856") {
        let (order, env) = (order.clone(), env.clone());
        out.push(x12_document(
            loaded,
            env,
            None,
            "856",
            order_id.clone(),
            move |o| {
                ship_notice_856(&order, &order.shipments[index], ship_from.as_deref(), o)
                    .map(plain)
                    .map_err(|e| e.to_string())
            },
        ));
    }
    if wants(loaded, "810") {
        out.push(x12_document(loaded, env, None, "810", order_id, move |o| {
            invoice_810(&order, index, o).map_err(|e| e.to_string())
        }));
    }
    Ok(out)
}

/// One release per node of the order whose definition names a provider instance.
async fn releases(
    state: &AppState,
    nodes: &mut Nodes,
    order: Order,
) -> Result<Vec<OutboundDocument>, String> {
    let mut by_node: BTreeMap<String, Vec<LineQuantity>> = BTreeMap::new();
    for line in &order.lines {
        if line.status != LineStatus::Released || line.open_quantity() == 0 {
            continue;
        }
        if let Some(node) = &line.node {
            by_node.entry(node.clone()).or_default().push(LineQuantity {
                line_no: line.line_no,
                quantity: line.open_quantity(),
            });
        }
    }
    let order = std::sync::Arc::new(order);
    let mut out = Vec::new();
    for (node, lines) in by_node {
        let Some(record) = nodes.get(state, &node).await? else {
            continue;
        };
        let Some(provider) = record.doc["provider"].as_str() else {
            continue;
        };
        let Some(loaded) = instance(state, provider).await? else {
            tracing::warn!(%node, %provider, order = %order.id, "a released node names a provider that does not exist");
            continue;
        };
        let order_id = order.id.to_string();
        match loaded.kind.name {
            "x12" => {
                let env = match envelope(&loaded) {
                    Ok(Some(env)) => env,
                    Ok(None) => {
                        out.push(unbuildable(
                            &loaded,
                            "940",
                            &order,
                            format!("provider {provider} has no settings.x12 to send a 940 with"),
                        ));
                        continue;
                    }
                    Err(e) => {
                        out.push(unbuildable(&loaded, "940", &order, e));
                        continue;
                    }
                };
                if !wants(&loaded, "940") {
                    continue;
                }
                let order = order.clone();
                // What the warehouse's own interchanges (945s) told us of its envelope.
                let learned = match env.receiver_id.clone() {
                    Some(partner) => state
                        .store
                        .x12_partner(provider.to_owned(), partner)
                        .await
                        .map_err(|e| e.to_string())?
                        .and_then(|r| serde_json::from_value::<Partner>(r.profile).ok()),
                    None => None,
                };
                out.push(x12_document(
                    &loaded,
                    env,
                    learned,
                    "940",
                    order_id,
                    move |o| {
                        shipping_order_940(&order, &node, &lines, o).map_err(|e| e.to_string())
                    },
                ));
            }
            // Released by the flow step that called it (see the module comment).
            "webhook" => {}
            other => out.push(unbuildable(
                &loaded,
                "release",
                &order,
                format!("node {node}: provider {provider} is a {other}, which cannot release"),
            )),
        }
    }
    Ok(out)
}
