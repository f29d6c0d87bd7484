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

/// An X12 document as one message: every transaction set in it, taken together (a message
/// logged from a receipt holds one set, see [`x12_receipt`]), and the acknowledgement of it.
fn x12_document(
    instance: &Instance,
    body: &[u8],
    now: DateTime<Utc>,
    control: u32,
) -> Interpretation {
    let mut receipt = match x12_receipt(instance, body, now) {
        Ok(receipt) => receipt,
        Err(e) => {
            return Interpretation {
                kind: "x12".into(),
                result: Err(e),
                ack: None,
                x12_partner: None,
            };
        }
    };
    let parts = std::mem::take(&mut receipt.parts);
    let succeeded: Vec<bool> = parts.iter().map(|p| p.result.is_ok()).collect();
    let controls = vec![control; receipt.acknowledgements_needed()];
    let ack = receipt
        .acknowledgements(&succeeded, &controls, now)
        .into_iter()
        .map(|(_, text)| text)
        .reduce(|a, b| a + &b);
    let mut kinds: Vec<String> = Vec::new();
    let mut content = Content::default();
    let mut first_error = None;
    let mut x12_partner = None;
    for part in parts {
        if !kinds.contains(&part.kind) {
            kinds.push(part.kind);
        }
        x12_partner = x12_partner.or(part.x12_partner);
        match part.result {
            Ok(c) => {
                content.orders.extend(c.orders);
                content.shipments.extend(c.shipments);
                content.refunds.extend(c.refunds);
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    Interpretation {
        kind: kinds.join(","),
        result: match first_error {
            Some(e) => Err(e),
            None => Ok(content),
        },
        ack,
        x12_partner,
    }
}

/// One document of an X12 receipt: a transaction set, or an interchange that could not be read.
/// Each is logged and processed on its own, so one that fails never drops another.
#[derive(Debug)]
pub struct X12Part {
    /// The transaction set id (`850`), or `x12` for an interchange that could not be read.
    pub kind: String,
    /// The set in the envelope it came in, alone (the interchange as received when it holds
    /// nothing else): what the message log keeps, retries and recognises when it is sent again.
    pub payload: Vec<u8>,
    pub result: Result<Content, InboundError>,
    /// What the envelope says about its sender's translator.
    pub x12_partner: Option<x12::writer::Partner>,
}

/// An X12 body as partners send it: any number of interchanges, groups and transaction sets,
/// cut into [`X12Part`]s, and what is needed to acknowledge each interchange once the parts
/// were processed.
pub struct X12Receipt<'a> {
    received: Vec<x12::Received<'a>>,
    /// Per part, in order: how the acknowledgement reports it when it was not processed.
    rejections: Vec<x12::ack997::SetOutcome>,
    pub parts: Vec<X12Part>,
}

/// Reads an X12 body into its parts; fails only when nothing in it is X12.
pub fn x12_receipt<'a>(
    instance: &Instance,
    body: &'a [u8],
    now: DateTime<Utc>,
) -> Result<X12Receipt<'a>, InboundError> {
    let received = x12::read(body)?;
    let mut parts = Vec::new();
    let mut rejections = Vec::new();
    for item in &received {
        match item {
            x12::Received::Interchange(ix) => {
                let alone = ix.transaction_sets().count() == 1;
                for set in ix.transaction_sets() {
                    let (result, rejection) = x12_set(instance, &set, now);
                    parts.push(X12Part {
                        kind: set.id().to_owned(),
                        payload: if alone {
                            ix.text().as_bytes().to_vec()
                        } else {
                            enveloped_alone(ix, &set).into_bytes()
                        },
                        result,
                        x12_partner: Some(x12::partner_of(ix, Some(set.group()))),
                    });
                    rejections.push(rejection);
                }
            }
            x12::Received::Broken(broken) => {
                parts.push(X12Part {
                    kind: "x12".into(),
                    payload: broken.text.as_bytes().to_vec(),
                    result: Err(broken.error.clone().into()),
                    x12_partner: None,
                });
                rejections.push(x12::ack997::SetOutcome::Rejected(Vec::new()));
            }
        }
    }
    Ok(X12Receipt {
        received,
        rejections,
        parts,
    })
}

impl X12Receipt<'_> {
    /// How many acknowledgement interchanges [`Self::acknowledgements`] writes, each needing a
    /// control number: one per received interchange with a readable ISA.
    pub fn acknowledgements_needed(&self) -> usize {
        self.received
            .iter()
            .filter(|r| match r {
                x12::Received::Interchange(ix) => ix.isa().is_some(),
                x12::Received::Broken(b) => b.isa.is_some(),
            })
            .count()
    }

    /// The acknowledgements, as (kind, interchange text): per received interchange a 997 (999
    /// for 5010 implementation guides) telling for each set whether it was processed
    /// (`succeeded`, one per part), and a TA1 when its envelope calls for one; an interchange
    /// that could not be read gets a TA1 rejecting it. `controls` are their control numbers.
    pub fn acknowledgements(
        &self,
        succeeded: &[bool],
        controls: &[u32],
        now: DateTime<Utc>,
    ) -> Vec<(&'static str, String)> {
        let at = now
            .naive_utc()
            .with_nanosecond(0)
            .unwrap_or_else(|| now.naive_utc());
        let envelope = |control: u32| x12::ack997::AckEnvelope {
            interchange_control_number: control,
            group_control_number: control,
            first_set_control_number: 1,
            at,
            delimiters: None,
            line_breaks: true,
        };
        let mut controls = controls.iter().copied();
        let mut part = 0;
        let mut out = Vec::new();
        for item in &self.received {
            match item {
                x12::Received::Interchange(ix) => {
                    let first = part;
                    part += ix.transaction_sets().count();
                    if ix.isa().is_none() {
                        continue;
                    }
                    let Some(control) = controls.next() else {
                        break;
                    };
                    let mut n = first;
                    let note = x12::ack997::InterchangeNote::for_interchange(ix);
                    if note.is_none() && ix.groups().next().is_none() {
                        continue;
                    }
                    let ack = x12::ack997::build(ix, &envelope(control), note.as_ref(), |_| {
                        let outcome = if succeeded.get(n).copied().unwrap_or(false) {
                            x12::ack997::SetOutcome::Accepted
                        } else {
                            self.rejections[n].clone()
                        };
                        n += 1;
                        outcome
                    });
                    let kind = if ix.groups().any(|g| {
                        g.gs()
                            .and_then(|gs| gs.get(8))
                            .is_some_and(|v| v.starts_with("005010X"))
                    }) {
                        "999"
                    } else if ix.groups().next().is_none() {
                        "TA1"
                    } else {
                        "997"
                    };
                    // An interchange without functional groups (bare sets under an ISA) or with
                    // ISA ids too long to echo cannot be acknowledged; its sets are processed
                    // and logged all the same.
                    if let Ok(text) = ack {
                        out.push((kind, text));
                    }
                }
                x12::Received::Broken(broken) => {
                    part += 1;
                    let Some(isa) = &broken.isa else { continue };
                    let Some(control) = controls.next() else {
                        break;
                    };
                    let note = x12::ack997::InterchangeNote::rejecting(&broken.error);
                    if let Ok(text) =
                        x12::ack997::reject_interchange(isa, &envelope(control), &note)
                    {
                        out.push(("TA1", text));
                    }
                }
            }
        }
        out
    }
}

/// One transaction set, mapped: its content, and how the acknowledgement reports it should it
/// not be processed.
fn x12_set(
    instance: &Instance,
    set: &x12::TransactionSet<'_>,
    now: DateTime<Utc>,
) -> (Result<Content, InboundError>, x12::ack997::SetOutcome) {
    use x12::ack997::{SegmentError, SetOutcome};
    if let Some(fault) = set.fault() {
        let outcome = match &fault.kind {
            x12::X12ErrorKind::InvalidSegmentId { id }
            | x12::X12ErrorKind::LineBreakInSegment { id, .. } => {
                SetOutcome::Rejected(vec![SegmentError {
                    segment_id: id.chars().take(3).collect(),
                    position: (fault.segment + 1).saturating_sub(set.st().index()),
                    loop_id: None,
                    code: Some(
                        if matches!(fault.kind, x12::X12ErrorKind::InvalidSegmentId { .. }) {
                            "1"
                        } else {
                            "8"
                        }
                        .to_owned(),
                    ),
                    elements: Vec::new(),
                }])
            }
            _ => SetOutcome::TrailerMissing,
        };
        return (Err(fault.clone().into()), outcome);
    }
    let rejected = |e: &MappingError| SetOutcome::Rejected(vec![e.into()]);
    let shipments = |notices: Vec<ShipmentNotice>| -> Result<Content, InboundError> {
        let mut content = Content::default();
        for notice in notices {
            content
                .shipments
                .push(instance.mappings.apply_to_shipment(notice)?);
        }
        if content.shipments.is_empty() {
            return Err(InboundError::Empty);
        }
        Ok(content)
    };
    match set.id() {
        "850" => match x12::po850::order(set, &instance.name) {
            Ok(intake) => (
                finish_orders(instance, vec![intake], now),
                SetOutcome::Rejected(Vec::new()),
            ),
            Err(e) => (Err(e.clone().into()), rejected(&e)),
        },
        "856" => match x12::ship856::from_set(set) {
            Ok(notices) => (shipments(notices), SetOutcome::Rejected(Vec::new())),
            Err(e) => (Err(e.clone().into()), rejected(&e)),
        },
        "945" => match x12::ship945::from_set(set) {
            Ok(notice) => (shipments(vec![notice]), SetOutcome::Rejected(Vec::new())),
            Err(e) => (Err(e.clone().into()), rejected(&e)),
        },
        other => (
            Err(InboundError::X12Unsupported {
                id: other.to_owned(),
                segment: set.st().index(),
            }),
            SetOutcome::NotSupported,
        ),
    }
}

/// The set in an envelope of its own: the ISA and GS it came in, the set, and trailers that count
/// it alone, so that it can be logged, read and retried by itself.
fn enveloped_alone(ix: &x12::Interchange<'_>, set: &x12::TransactionSet<'_>) -> String {
    use std::fmt::Write;
    let d = ix.delimiters();
    let (e, t) = (char::from(d.element), char::from(d.segment));
    let text = set.text();
    let line = if t != '\n' && text.ends_with('\n') {
        "\n"
    } else {
        ""
    };
    let mut out = String::with_capacity(text.len() + 256);
    if let Some(isa) = ix.isa() {
        out.push_str(ix.segment_text(isa.index()).unwrap_or(""));
    }
    let gs = set.group().gs();
    if let Some(gs) = gs {
        out.push_str(ix.segment_text(gs.index()).unwrap_or(""));
    }
    out.push_str(text);
    if text.ends_with(|c: char| c != t && !c.is_whitespace()) {
        out.push(t);
    }
    if let Some(gs) = gs {
        let _ = write!(out, "GE{e}1{e}{}{t}{line}", gs.element(6));
    }
    if let Some(isa) = ix.isa() {
        let _ = write!(out, "IEA{e}1{e}{}{t}{line}", isa.element(13));
    }
    out
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
