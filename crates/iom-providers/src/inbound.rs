//! From a raw inbound document to what iom should do with it: orders to create, shipments to
//! record, and for X12 the 997 to send back. The server calls [`interpret`] for each message
//! (and again on a retry, with the instance's current mappings), then stores the result; this
//! module decides nothing about storage, so every rule here is tested on documents alone.
//!
//! A document is taken whole or not at all: when one order of a batch does not map or validate,
//! the message fails and names every problem, because half an EDI file applied is harder to
//! repair than none.

use std::sync::Arc;

use chrono::{DateTime, Timelike, Utc};
use iom_domain::order::{LineQuantityRequest, ShipmentRequest};
use iom_domain::{FieldError, Order, OrderIntake};
use serde::Serialize;
use serde_json::{Value, json};
use thiserror::Error;

use crate::jq::{Transform, TransformError};
use crate::mapping::{Mappings, UnmappedValues};
use crate::refund::RefundNotice;
use crate::shipment::ShipmentNotice;
use crate::types::ProviderType;
use crate::x12::{self, MappingError, X12Error};

/// A provider instance as processing needs it.
pub struct Instance {
    pub name: String,
    pub kind: &'static ProviderType,
    pub mappings: Mappings,
    /// The instance's own program, or the type's default; `None` for types that parse natively.
    pub transform: Option<Arc<Transform>>,
    /// Where goods left from when a shipment notice does not say (`settings.default_node`).
    pub default_node: Option<String>,
    /// How a `csv` instance reads its files (`settings.columns`, `settings.preset`, …).
    pub csv: crate::csv::CsvOptions,
}

/// Everything a document asks for.
#[derive(Debug, Default)]
pub struct Content {
    pub orders: Vec<Order>,
    pub shipments: Vec<ShipmentNotice>,
    /// Refunds the channel made (Shopify refunds): returns to receive and refund.
    pub refunds: Vec<RefundNotice>,
    /// Orders as the channel has them now (Shopify `orders/updated`): each amends the order of
    /// its external id, or is created when there is none.
    pub revisions: Vec<Order>,
    /// Orders the channel cancelled.
    pub cancellations: Vec<crate::shopify::CancelNotice>,
    /// Shipments the channel made itself, each under the channel's id for it (`shipment_id`),
    /// so that a resend or an update does not ship twice.
    pub channel_shipments: Vec<ShipmentNotice>,
    /// Why the document asks for nothing at all (a topic iom does not act on).
    pub ignored: Option<String>,
}

#[derive(Debug)]
pub struct Interpretation {
    /// `order`, `orders`, or the X12 transaction set ids (`850`, `856,945`).
    pub kind: String,
    pub result: Result<Content, InboundError>,
    /// The 997 answering an X12 interchange, whatever the result.
    pub ack: Option<String>,
    /// What the envelope of an X12 interchange says about its sender's translator.
    pub x12_partner: Option<x12::writer::Partner>,
}

#[derive(Debug, Error)]
pub enum InboundError {
    #[error(transparent)]
    X12(#[from] X12Error),
    #[error(transparent)]
    X12Mapping(#[from] MappingError),
    #[error("transaction set {id} (segment index {segment}) is not one this provider receives")]
    X12Unsupported { id: String, segment: usize },
    #[error("the document is not valid JSON: {message} (line {line}, column {column})")]
    Json {
        message: String,
        line: usize,
        column: usize,
    },
    #[error(transparent)]
    Transform(#[from] TransformError),
    #[error(transparent)]
    Csv(#[from] crate::csv::CsvErrors),
    #[error(transparent)]
    Ubl(#[from] crate::ubl::UblError),
    #[error(transparent)]
    Unmapped(#[from] UnmappedValues),
    #[error("{}", invalid_summary(.0))]
    Invalid(Vec<FieldError>),
    #[error("the document holds no order")]
    Empty,
    #[error("provider type {0} receives no documents")]
    NotReceiving(&'static str),
}

/// The first problems with their places, so that the log's one-line message already says where.
fn invalid_summary(errors: &[FieldError]) -> String {
    let mut out = format!("{} field(s) are invalid", errors.len());
    for (i, e) in errors.iter().take(5).enumerate() {
        out.push_str(if i == 0 { ": " } else { "; " });
        out.push_str(&format!("{} {}", e.field, e.message));
    }
    if errors.len() > 5 {
        out.push_str("; …");
    }
    out
}

#[derive(Serialize)]
struct Position {
    #[serde(skip_serializing_if = "Option::is_none")]
    segment: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offset: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    segment_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    element: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    column: Option<usize>,
}

const NO_POSITION: Position = Position {
    segment: None,
    offset: None,
    segment_id: None,
    element: None,
    line: None,
    column: None,
};

impl InboundError {
    /// The error as it is kept in the message log: a message, where in the document, and the
    /// details a person needs to fix it (every unmapped value, every invalid field).
    pub fn to_json(&self) -> Value {
        let mut out = json!({"message": self.to_string()});
        let position = match self {
            InboundError::X12(e) => Some(Position {
                segment: Some(e.segment),
                offset: Some(e.offset),
                ..NO_POSITION
            }),
            InboundError::X12Mapping(e) => Some(Position {
                segment: Some(e.segment),
                offset: Some(e.offset),
                segment_id: Some(e.segment_id.clone()),
                element: e.element,
                ..NO_POSITION
            }),
            InboundError::X12Unsupported { segment, id } => Some(Position {
                segment: Some(*segment),
                segment_id: Some(format!("ST ({id})")),
                ..NO_POSITION
            }),
            InboundError::Json { line, column, .. } => Some(Position {
                line: Some(*line),
                column: Some(*column),
                ..NO_POSITION
            }),
            InboundError::Ubl(
                crate::ubl::UblError::Xml { offset, .. }
                | crate::ubl::UblError::Invalid { offset, .. },
            ) => Some(Position {
                offset: usize::try_from(*offset).ok(),
                ..NO_POSITION
            }),
            _ => None,
        };
        if let Some(p) = position {
            out["position"] = serde_json::to_value(p).unwrap_or(Value::Null);
        }
        match self {
            InboundError::Unmapped(u) => {
                out["unmapped"] = serde_json::to_value(&u.0).unwrap_or(Value::Null);
            }
            InboundError::Invalid(errors) => {
                out["errors"] = serde_json::to_value(errors).unwrap_or(Value::Null);
            }
            InboundError::Csv(e) => {
                out["errors"] =
                    e.0.iter()
                        .map(|e| json!({"row": e.row, "column": e.column, "message": e.message}))
                        .collect();
            }
            _ => {}
        }
        out
    }
}

/// Interprets `body` as the instance's type receives it. `now` validates orders and dates the 997;
/// `ack_control` is the interchange and group control number of that 997 (X12 only: other types
/// ignore it), which the caller takes from the instance's sequence in the store, so that every
/// acknowledgement a partner receives has a number of its own, increasing, across restarts and
/// processes.
pub fn interpret(
    instance: &Instance,
    body: &[u8],
    now: DateTime<Utc>,
    ack_control: u32,
) -> Interpretation {
    interpret_topic(instance, body, now, ack_control, None)
}

/// As [`interpret`], for a document whose sender said what it is: a Shopify webhook's
/// `X-Shopify-Topic` (see [`crate::shopify`]). Without a topic, or for other types, the body
/// alone decides.
pub fn interpret_topic(
    instance: &Instance,
    body: &[u8],
    now: DateTime<Utc>,
    ack_control: u32,
    topic: Option<&str>,
) -> Interpretation {
    if let (Some(topic), "shopify") = (topic, instance.kind.name) {
        return crate::shopify::interpret(instance, topic, body, now);
    }
    match instance.kind.name {
        "x12" => x12_document(instance, body, now, ack_control),
        "csv" => single(
            "orders",
            crate::csv::parse_orders_with(body, &instance.name, &instance.csv)
                .map_err(InboundError::from)
                .and_then(|intakes| finish_orders(instance, intakes, now)),
        ),
        "ubl" => single(
            "order",
            crate::ubl::parse_order_bytes(body, &instance.name)
                .map_err(InboundError::from)
                .and_then(|intake| finish_orders(instance, vec![intake], now)),
        ),
        name if !instance.kind.receives() => single("order", Err(InboundError::NotReceiving(name))),
        _ => match parse_json(body) {
            Ok(value)
                if instance.kind.name == "shopify" && crate::refund::is_shopify_refund(&value) =>
            {
                single(
                    "refund",
                    crate::refund::shopify_refund(&value).map(|notice| Content {
                        refunds: vec![notice],
                        ..Content::default()
                    }),
                )
            }
            parsed => single(
                "order",
                parsed.and_then(|value| json_orders(instance, &value, now)),
            ),
        },
    }
}

fn single(kind: &str, result: Result<Content, InboundError>) -> Interpretation {
    Interpretation {
        kind: kind.to_owned(),
        result,
        ack: None,
        x12_partner: None,
    }
}

pub fn parse_json(body: &[u8]) -> Result<Value, InboundError> {
    serde_json::from_slice(body).map_err(|e| InboundError::Json {
        message: e.to_string(),
        line: e.line(),
        column: e.column(),
    })
}

/// Orders from a JSON document: through the instance's transformation, or read as order
/// intakes (one object or an array) when there is none.
pub fn json_orders(
    instance: &Instance,
    value: &Value,
    now: DateTime<Utc>,
) -> Result<Content, InboundError> {
    // Errors name the document's own place: a JSON path in what the sender sent.
    let intakes = match &instance.transform {
        Some(t) => t.run_intakes(value, &instance.name).map_err(|e| match e {
            TransformError::NotAnOrder {
                index,
                field,
                message,
                ..
            } => InboundError::Invalid(vec![FieldError::new(
                t.source_path(value, index, &field)
                    .unwrap_or_else(|| format!("output[{index}].{field}")),
                message,
            )]),
            other => other.into(),
        })?,
        None => {
            let (items, array) = match value {
                Value::Array(items) => (items.clone(), true),
                other => (vec![other.clone()], false),
            };
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    serde_path_to_error::deserialize::<_, OrderIntake>(v).map_err(|e| {
                        let base = if array { format!("$[{i}]") } else { "$".into() };
                        let path = e.path().to_string();
                        let field = if path == "." {
                            base
                        } else {
                            format!("{base}.{path}")
                        };
                        InboundError::Invalid(vec![FieldError::new(
                            field,
                            crate::jq::paths::plain(&e.inner().to_string()),
                        )])
                    })
                })
                .collect::<Result<_, _>>()?
        }
    };
    let result = finish_orders(instance, intakes, now);
    match (result, &instance.transform) {
        // Validation speaks of the order iom made; name the document's fields where known.
        (Err(InboundError::Invalid(errors)), Some(t)) => Err(InboundError::Invalid(
            errors
                .into_iter()
                .map(|e| {
                    let (index, field) = match e
                        .field
                        .strip_prefix("orders[")
                        .and_then(|r| r.split_once("]."))
                    {
                        Some((i, f)) => (i.parse().unwrap_or(0), f.to_owned()),
                        None => (0, e.field.clone()),
                    };
                    match t.source_path(value, index, &field) {
                        Some(path) => FieldError::new(path, e.message),
                        None => e,
                    }
                })
                .collect(),
        )),
        (result, _) => result,
    }
}

/// Applies the value mappings and validates; every problem of every order at once.
fn finish_orders(
    instance: &Instance,
    intakes: Vec<OrderIntake>,
    now: DateTime<Utc>,
) -> Result<Content, InboundError> {
    if intakes.is_empty() {
        return Err(InboundError::Empty);
    }
    let many = intakes.len() > 1;
    let mut unmapped = Vec::new();
    let mut invalid = Vec::new();
    let mut orders = Vec::with_capacity(intakes.len());
    for (i, mut intake) in intakes.into_iter().enumerate() {
        // Orders an instance creates belong to it, whatever the document claims.
        intake.channel = Some(instance.name.clone());
        let intake = match instance.mappings.apply(intake) {
            Ok(intake) => intake,
            Err(UnmappedValues(missing)) => {
                for m in missing {
                    if !unmapped
                        .iter()
                        .any(|u: &crate::mapping::Unmapped| u.kind == m.kind && u.value == m.value)
                    {
                        unmapped.push(m);
                    }
                }
                continue;
            }
        };
        match intake.validate(now) {
            Ok(order) => orders.push(order),
            Err(errors) => invalid.extend(errors.into_iter().map(|e| {
                if many {
                    FieldError::new(format!("orders[{i}].{}", e.field), e.message)
                } else {
                    e
                }
            })),
        }
    }
    if !unmapped.is_empty() {
        return Err(UnmappedValues(unmapped).into());
    }
    if !invalid.is_empty() {
        return Err(InboundError::Invalid(invalid));
    }
    Ok(Content {
        orders,
        ..Content::default()
    })
}

fn x12_document(
    instance: &Instance,
    body: &[u8],
    now: DateTime<Utc>,
    control: u32,
) -> Interpretation {
    let ix = match x12::parse(body) {
        Ok(ix) => ix,
        Err(e) => {
            return Interpretation {
                kind: "x12".into(),
                result: Err(e.into()),
                ack: None,
                x12_partner: None,
            };
        }
    };
    let mut ids: Vec<&str> = Vec::new();
    let mut outcomes = Vec::new();
    let mut intakes = Vec::new();
    let mut notices = Vec::new();
    let mut first_error: Option<InboundError> = None;
    for set in ix.transaction_sets() {
        if !ids.contains(&set.id()) {
            ids.push(set.id());
        }
        let mapped = match set.id() {
            "850" => x12::po850::order(&set, &instance.name).map(|o| intakes.push(o)),
            "856" => x12::ship856::from_set(&set).map(|n| notices.extend(n)),
            "945" => x12::ship945::from_set(&set).map(|n| notices.push(n)),
            other => {
                outcomes.push(x12::ack997::SetOutcome::Rejected(Vec::new()));
                first_error.get_or_insert(InboundError::X12Unsupported {
                    id: other.to_owned(),
                    segment: set.st().index(),
                });
                continue;
            }
        };
        match mapped {
            Ok(()) => outcomes.push(x12::ack997::SetOutcome::Accepted),
            Err(e) => {
                outcomes.push(x12::ack997::SetOutcome::Rejected(vec![(&e).into()]));
                first_error.get_or_insert(e.into());
            }
        }
    }
    let kind = ids.join(",");
    let ack = {
        let mut next = outcomes.iter().cloned();
        let envelope = x12::ack997::AckEnvelope {
            interchange_control_number: control,
            group_control_number: control,
            first_set_control_number: 1,
            at: now
                .naive_utc()
                .with_nanosecond(0)
                .unwrap_or_else(|| now.naive_utc()),
            delimiters: None,
            line_breaks: true,
        };
        x12::ack997::build(&ix, &envelope, |_| {
            next.next().unwrap_or(x12::ack997::SetOutcome::Accepted)
        })
        .ok()
    };
    let result = match first_error {
        Some(e) => Err(e),
        None => (|| {
            let mut content = if intakes.is_empty() {
                Content::default()
            } else {
                finish_orders(instance, intakes, now)?
            };
            let mut unmapped = Vec::new();
            for notice in notices {
                match instance.mappings.apply_to_shipment(notice) {
                    Ok(n) => content.shipments.push(n),
                    Err(UnmappedValues(m)) => unmapped.extend(m),
                }
            }
            if !unmapped.is_empty() {
                return Err(UnmappedValues(unmapped).into());
            }
            if content.orders.is_empty() && content.shipments.is_empty() {
                return Err(InboundError::Empty);
            }
            Ok(content)
        })(),
    };
    let x12_partner = Some(x12::partner_of(&ix, ix.groups().next()));
    Interpretation {
        kind,
        result,
        ack,
        x12_partner,
    }
}

/// The shipment of `order` that `notice` reports: each notice line is matched to the order line
/// it names (`line_no` when the partner echoes it and the SKU agrees), otherwise to the first
/// line of that SKU with quantity left to ship.
pub fn plan_shipment(
    notice: &ShipmentNotice,
    order: &Order,
    default_node: Option<&str>,
) -> Result<ShipmentRequest, String> {
    let node = notice
        .node
        .clone()
        .or_else(|| default_node.map(str::to_owned))
        .ok_or_else(|| {
            "the notice names no ship-from node and the provider has no settings.default_node"
                .to_owned()
        })?;
    let mut planned: Vec<(u32, u32)> = Vec::new();
    let left = |line_no: u32, planned: &[(u32, u32)]| {
        let line = order.line(line_no).expect("a line of the order");
        let taken: u32 = planned
            .iter()
            .filter(|(n, _)| *n == line_no)
            .map(|(_, q)| q)
            .sum();
        line.open_quantity().saturating_sub(taken)
    };
    for (i, nl) in notice.lines.iter().enumerate() {
        let by_number = nl.line_no.and_then(|n| order.line(n)).filter(|l| {
            nl.sku.as_deref().is_none_or(|s| s == l.sku) && left(l.line_no, &planned) >= nl.quantity
        });
        let line = by_number.or_else(|| {
            order.lines.iter().find(|l| {
                nl.sku.as_deref() == Some(l.sku.as_str())
                    && left(l.line_no, &planned) >= nl.quantity
            })
        });
        let Some(line) = line else {
            return Err(format!(
                "lines[{i}]: no line of order {} has {} of {} left to ship",
                order.external_id,
                nl.quantity,
                nl.sku.as_deref().unwrap_or("(no sku)")
            ));
        };
        planned.push((line.line_no, nl.quantity));
    }
    Ok(ShipmentRequest {
        node: Some(node),
        lines: Some(
            planned
                .into_iter()
                .filter(|(_, q)| *q > 0)
                .map(|(line_no, quantity)| LineQuantityRequest {
                    line_no: Some(line_no.into()),
                    quantity: Some(quantity.into()),
                })
                .collect(),
        ),
        carrier: notice.carrier.clone(),
        tracking: notice.tracking.clone(),
    })
}
