//! UBL 2.1 Order (`urn:oasis:names:specification:ubl:schema:xsd:Order-2`) → [`OrderIntake`].
//!
//! UBL is what public-sector buyers and PEPPOL networks send. Elements are matched by namespace
//! and local name, never by prefix, because senders choose their own prefixes.
//!
//! | intake | from |
//! |---|---|
//! | `external_id` | `cbc:ID` |
//! | `placed_at` | `cbc:IssueDate` + `cbc:IssueTime` (UTC when the time has no offset) |
//! | `currency` | `cbc:DocumentCurrencyCode`, else the `currencyID` of the first price |
//! | `customer` | `cac:BuyerCustomerParty/cac:Party`: `PartyIdentification/ID` (else `CustomerAssignedAccountID`), `PartyName/Name` (else `PartyLegalEntity/RegistrationName`), `Contact/ElectronicMail`, `Contact/Telephone` |
//! | `bill_to` | `cac:AccountingCustomerParty/cac:Party/cac:PostalAddress`, else the buyer's postal address |
//! | `ship_to` | `cac:Delivery/cac:DeliveryLocation/cac:Address` (UBL 2.1) or `cac:Delivery/cac:DeliveryAddress` (UBL 2.0), named after `cac:DeliveryParty` or the buyer |
//! | `requested_delivery_at` | `cac:Delivery/cac:RequestedDeliveryPeriod/cbc:EndDate` (else `StartDate`) |
//! | `shipping_amount` | `cac:AllowanceCharge` with `ChargeIndicator` true and reason code `FC` (freight) |
//! | lines | `cac:OrderLine/cac:LineItem`: `cbc:Quantity` (+ `unitCode`), `cac:Price/cbc:PriceAmount` per `cbc:BaseQuantity` (else `LineExtensionAmount` ÷ quantity), `cbc:TotalTaxAmount` |
//!
//! The SKU is the seller's item id (`cac:Item/cac:SellersItemIdentification/cbc:ID`): the
//! order is addressed to us as the seller, so our own id is the most reliable. Then the buyer's
//! id, the standard id (GTIN) and the manufacturer's id; all are kept as line attributes.
//! Line numbers follow the same rule as for X12: `cbc:ID` when every line's is a distinct
//! positive number, positions otherwise. An address line is `StreetName`, followed by
//! `BuildingNumber` when given separately.

use chrono::{FixedOffset, NaiveDate, NaiveTime, Offset, Utc};
use iom_domain::address::AddressIntake;
use iom_domain::intake::{CustomerIntake, LineIntake, OrderIntake};
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use thiserror::Error;

pub const ORDER_NAMESPACE: &str = "urn:oasis:names:specification:ubl:schema:xsd:Order-2";
const CAC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2";
const CBC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2";

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UblError {
    #[error("not well-formed XML at byte {offset}: {message}")]
    Xml { offset: u64, message: String },
    #[error("the document is a {{{namespace}}}{name}, not a UBL 2.1 Order")]
    NotAnOrder { namespace: String, name: String },
    #[error("{path} is required")]
    Missing { path: String },
    #[error("{path} (byte {offset}): {value:?} {message}")]
    Invalid {
        path: String,
        offset: u64,
        value: String,
        message: String,
    },
}

/// An element: namespace, local name, attributes by local name, text, children.
#[derive(Debug, Default)]
struct Node {
    ns: String,
    name: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<Node>,
    offset: u64,
}

impl Node {
    fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    /// Children matching `step`, written `cac:Name` or `cbc:Name`.
    fn all<'n, 's>(&'n self, step: &'s str) -> impl Iterator<Item = &'n Node> + use<'n, 's> {
        let (ns, name) = match step.split_once(':') {
            Some(("cac", n)) => (CAC, n),
            Some(("cbc", n)) => (CBC, n),
            _ => ("", step),
        };
        self.children.iter().filter(move |c| c.is(ns, name))
    }

    /// The first element at a `/`-separated path below this one.
    fn at(&self, path: &str) -> Option<&Node> {
        path.split('/')
            .try_fold(self, |node, step| node.first(step))
    }

    fn first(&self, step: &str) -> Option<&Node> {
        self.all(step).next()
    }

    /// The trimmed text at `path`, when not blank.
    fn text(&self, path: &str) -> Option<&str> {
        let t = self.at(path)?.text.trim();
        (!t.is_empty()).then_some(t)
    }

    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }
}

fn xml_error(offset: u64, e: impl std::fmt::Display) -> UblError {
    UblError::Xml {
        offset,
        message: e.to_string(),
    }
}

fn parse_tree(xml: &str) -> Result<Node, UblError> {
    let mut reader = quick_xml::NsReader::from_str(xml);
    let mut stack: Vec<Node> = vec![Node::default()];
    loop {
        let offset = reader.buffer_position();
        // The namespace borrows the reader; it is copied out before the reader is used again.
        let step = reader.read_resolved_event().map(|(ns, event)| {
            let ns = match ns {
                ResolveResult::Bound(n) => Ok(n.0.to_owned()),
                ResolveResult::Unbound => Ok(String::new()),
                ResolveResult::Unknown(prefix) => Err(prefix),
            };
            (ns, event)
        });
        let (ns, event) = step.map_err(|e| xml_error(reader.error_position(), e))?;
        let ns = ns.map_err(|prefix| {
            xml_error(offset, format!("undeclared namespace prefix {prefix:?}"))
        })?;
        match event {
            Event::Start(e) => {
                stack.push(element(&e, ns, offset)?);
            }
            Event::Empty(e) => {
                let node = element(&e, ns, offset)?;
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(node);
                }
            }
            Event::End(_) => {
                let node = stack
                    .pop()
                    .ok_or_else(|| xml_error(offset, "unexpected end tag"))?;
                let parent = stack
                    .last_mut()
                    .ok_or_else(|| xml_error(offset, "unexpected end tag"))?;
                parent.children.push(node);
            }
            Event::Text(t) => {
                if let Some(node) = stack.last_mut() {
                    node.text.push_str(&t.xml10_content());
                }
            }
            Event::CData(t) => {
                if let Some(node) = stack.last_mut() {
                    node.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().map_err(|e| xml_error(offset, e))? {
                    Some(c) => c,
                    None => match r.xml10_content().as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        other => {
                            return Err(xml_error(offset, format!("unknown entity &{other};")));
                        }
                    },
                };
                if let Some(node) = stack.last_mut() {
                    node.text.push(c);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let mut document = stack.pop().ok_or_else(|| xml_error(0, "empty document"))?;
    if !stack.is_empty() {
        return Err(xml_error(
            xml.len() as u64,
            "the document ends inside an element",
        ));
    }
    document
        .children
        .pop()
        .filter(|_| document.children.is_empty())
        .ok_or_else(|| xml_error(0, "the document must have exactly one root element"))
}

fn element(
    e: &quick_xml::events::BytesStart<'_>,
    ns: String,
    offset: u64,
) -> Result<Node, UblError> {
    let mut attrs = Vec::new();
    for attr in e.attributes() {
        let attr = attr.map_err(|err| xml_error(offset, err))?;
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|err| xml_error(offset, err))?;
        attrs.push((
            attr.key.local_name().as_ref().to_owned(),
            value.into_owned(),
        ));
    }
    Ok(Node {
        ns,
        name: e.local_name().as_ref().to_owned(),
        attrs,
        offset,
        ..Node::default()
    })
}

/// Reads a UBL 2.1 Order document as it arrives (bytes, with or without a byte-order mark).
/// UBL documents are UTF-8 (PEPPOL requires it); anything else is refused with the offset of the
/// first bad byte.
pub fn parse_order_bytes(xml: &[u8], channel: &str) -> Result<OrderIntake, UblError> {
    let bom = if xml.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let text = std::str::from_utf8(&xml[bom..]).map_err(|e| UblError::Xml {
        offset: (bom + e.valid_up_to()) as u64,
        message: "the document is not UTF-8".into(),
    })?;
    parse_order(text, channel)
}

/// Reads a UBL 2.1 Order document as an order of `channel`.
pub fn parse_order(xml: &str, channel: &str) -> Result<OrderIntake, UblError> {
    let root = parse_tree(xml)?;
    if !root.is(ORDER_NAMESPACE, "Order") {
        return Err(UblError::NotAnOrder {
            namespace: root.ns,
            name: root.name,
        });
    }
    let missing = |path: &str| UblError::Missing {
        path: format!("Order/{path}"),
    };
    let invalid = |path: &str, node: &Node, value: &str, message: &str| UblError::Invalid {
        path: format!("Order/{path}"),
        offset: node.offset,
        value: value.to_owned(),
        message: message.to_owned(),
    };

    let id = root.text("cbc:ID").ok_or_else(|| missing("cbc:ID"))?;
    let placed_at = match root.at("cbc:IssueDate") {
        None => None,
        Some(node) => {
            let raw = node.text.trim();
            let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .map_err(|_| invalid("cbc:IssueDate", node, raw, "is not a date (YYYY-MM-DD)"))?;
            let time = match root.at("cbc:IssueTime") {
                None => None,
                Some(t) => Some(issue_time(t.text.trim()).ok_or_else(|| {
                    invalid(
                        "cbc:IssueTime",
                        t,
                        t.text.trim(),
                        "is not a time (hh:mm:ss)",
                    )
                })?),
            };
            let (time, offset) = time.unwrap_or((NaiveTime::MIN, None));
            let offset = offset.unwrap_or_else(utc);
            Some(
                date.and_time(time)
                    .and_local_timezone(offset)
                    .single()
                    .ok_or_else(|| {
                        invalid(
                            "cbc:IssueTime",
                            &root,
                            "",
                            "does not exist in its time zone",
                        )
                    })?,
            )
        }
    };

    let buyer = root.at("cac:BuyerCustomerParty/cac:Party");
    let customer = buyer.map(|p| CustomerIntake {
        id: p
            .text("cac:PartyIdentification/cbc:ID")
            .or_else(|| root.text("cac:BuyerCustomerParty/cbc:CustomerAssignedAccountID"))
            .map(str::to_owned),
        email: p.text("cac:Contact/cbc:ElectronicMail").map(str::to_owned),
        name: party_name(p).map(str::to_owned),
        phone: p.text("cac:Contact/cbc:Telephone").map(str::to_owned),
        group: None,
    });
    let bill_to = root
        .at("cac:AccountingCustomerParty/cac:Party")
        .and_then(|p| Some((p.at("cac:PostalAddress")?, party_name(p))))
        .or_else(|| buyer.and_then(|p| Some((p.at("cac:PostalAddress")?, party_name(p)))))
        .map(|(a, name)| address(a, name));
    let delivery = root.at("cac:Delivery");
    let ship_to = delivery.and_then(|d| {
        let addr = d
            .at("cac:DeliveryLocation/cac:Address")
            .or(d.at("cac:DeliveryAddress"))?;
        let name = d
            .at("cac:DeliveryParty")
            .and_then(party_name)
            .or_else(|| buyer.and_then(party_name));
        Some(address(addr, name))
    });
    let requested_delivery_at = match delivery.and_then(|d| {
        d.at("cac:RequestedDeliveryPeriod/cbc:EndDate")
            .or(d.at("cac:RequestedDeliveryPeriod/cbc:StartDate"))
    }) {
        None => None,
        Some(node) => {
            let raw = node.text.trim();
            let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| {
                invalid(
                    "cac:Delivery/cac:RequestedDeliveryPeriod",
                    node,
                    raw,
                    "is not a date (YYYY-MM-DD)",
                )
            })?;
            Some(date.and_time(NaiveTime::MIN).and_utc().fixed_offset())
        }
    };

    let mut shipping = Vec::new();
    for charge in root.all("cac:AllowanceCharge") {
        if charge.text("cbc:ChargeIndicator") == Some("true")
            && charge.text("cbc:AllowanceChargeReasonCode") == Some("FC")
            && let Some(node) = charge.at("cbc:Amount")
        {
            let raw = node.text.trim();
            shipping.push(raw.parse::<Decimal>().map_err(|_| {
                invalid(
                    "cac:AllowanceCharge/cbc:Amount",
                    node,
                    raw,
                    "is not a decimal amount",
                )
            })?);
        }
    }
    let shipping_amount = (!shipping.is_empty()).then(|| shipping.iter().sum());

    let items: Vec<&Node> = root
        .all("cac:OrderLine")
        .filter_map(|l| l.at("cac:LineItem"))
        .collect();
    if items.is_empty() {
        return Err(missing("cac:OrderLine/cac:LineItem"));
    }
    let numbers: Vec<Option<i64>> = items
        .iter()
        .map(|i| {
            i.text("cbc:ID")
                .and_then(|v| v.parse::<i64>().ok())
                .filter(|n| (1..=i64::from(u32::MAX)).contains(n))
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    let use_numbers = numbers.iter().all(|n| n.is_some_and(|n| seen.insert(n)));

    let mut lines = Vec::with_capacity(items.len());
    let mut first_currency = None;
    for (i, item) in items.iter().enumerate() {
        let path = format!("cac:OrderLine[{}]/cac:LineItem", i + 1);
        let qty_node = item
            .at("cbc:Quantity")
            .ok_or_else(|| missing(&format!("{path}/cbc:Quantity")))?;
        let qty_raw = qty_node.text.trim();
        let quantity = crate::x12::parse_quantity(qty_raw).ok_or_else(|| {
            invalid(
                &format!("{path}/cbc:Quantity"),
                qty_node,
                qty_raw,
                "is not a whole quantity",
            )
        })?;
        let decimal_at = |p: &str| -> Result<Option<Decimal>, UblError> {
            match item.at(p) {
                None => Ok(None),
                Some(node) => {
                    let raw = node.text.trim();
                    raw.parse::<Decimal>().map(Some).map_err(|_| {
                        invalid(&format!("{path}/{p}"), node, raw, "is not a decimal number")
                    })
                }
            }
        };
        let price = decimal_at("cac:Price/cbc:PriceAmount")?;
        let base = decimal_at("cac:Price/cbc:BaseQuantity")?.filter(|b| !b.is_zero());
        let extension = decimal_at("cbc:LineExtensionAmount")?;
        let unit_price = match (price, extension) {
            (Some(p), _) => Some(base.map_or(p, |b| p / b)),
            (None, Some(total)) if quantity > 0 => Some(total / Decimal::from(quantity)),
            _ => None,
        };
        if first_currency.is_none() {
            first_currency = item
                .at("cac:Price/cbc:PriceAmount")
                .or(item.at("cbc:LineExtensionAmount"))
                .and_then(|n| n.attr("currencyID"))
                .map(str::to_owned);
        }
        let ids = [
            (
                "sellers_item_id",
                item.text("cac:Item/cac:SellersItemIdentification/cbc:ID"),
            ),
            (
                "buyers_item_id",
                item.text("cac:Item/cac:BuyersItemIdentification/cbc:ID"),
            ),
            (
                "standard_item_id",
                item.text("cac:Item/cac:StandardItemIdentification/cbc:ID"),
            ),
            (
                "manufacturers_item_id",
                item.text("cac:Item/cac:ManufacturersItemIdentification/cbc:ID"),
            ),
        ];
        let sku = ids.iter().find_map(|(_, v)| *v);
        let mut attributes = Map::new();
        for (key, value) in ids {
            if let Some(v) = value {
                attributes.insert(key.to_owned(), Value::from(v));
            }
        }
        if let Some(name) = item.text("cac:Item/cbc:Name") {
            attributes.insert("description".into(), Value::from(name));
        }
        if let Some(line_id) = item.text("cbc:ID") {
            attributes.insert("ubl_line_id".into(), Value::from(line_id));
        }
        lines.push(LineIntake {
            line_no: Some(if use_numbers {
                numbers[i].unwrap_or(i as i64 + 1)
            } else {
                i as i64 + 1
            }),
            sku: sku.map(str::to_owned),
            quantity: Some(quantity),
            unit_price,
            discount: None,
            tax: decimal_at("cbc:TotalTaxAmount")?,
            uom: qty_node.attr("unitCode").map(str::to_owned),
            attributes: Some(attributes),
        });
    }

    let mut attributes = Map::new();
    for (key, path) in [
        ("note", "cbc:Note"),
        ("customer_reference", "cbc:CustomerReference"),
        ("sales_order_id", "cbc:SalesOrderID"),
        ("ubl_profile", "cbc:ProfileID"),
    ] {
        if let Some(v) = root.text(path) {
            attributes.insert(key.to_owned(), Value::from(v));
        }
    }
    if let Some(seller) = root
        .at("cac:SellerSupplierParty/cac:Party")
        .and_then(party_name)
    {
        attributes.insert("seller".into(), Value::from(seller));
    }

    Ok(OrderIntake {
        channel: Some(channel.to_owned()),
        external_id: Some(id.to_owned()),
        currency: root
            .text("cbc:DocumentCurrencyCode")
            .map(str::to_owned)
            .or(first_currency),
        placed_at,
        customer,
        ship_to,
        bill_to,
        lines: Some(lines),
        ship_method: None,
        shipping_amount,
        discount_amount: None,
        requested_delivery_at,
        attributes: Some(attributes),
    })
}

fn utc() -> FixedOffset {
    Utc.fix()
}

/// `hh:mm:ss[.fff][Z|±hh:mm]` → time and, when given, its offset.
fn issue_time(raw: &str) -> Option<(NaiveTime, Option<FixedOffset>)> {
    let (time, zone) = if let Some(t) = raw.strip_suffix('Z') {
        (t, Some(utc()))
    } else if raw.len() > 6 && matches!(raw.as_bytes()[raw.len() - 6], b'+' | b'-') {
        let (t, z) = raw.split_at(raw.len() - 6);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let hours: i32 = z.get(1..3)?.parse().ok()?;
        let minutes: i32 = z.get(4..6)?.parse().ok()?;
        (
            t,
            FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60)),
        )
    } else {
        (raw, None)
    };
    let time = NaiveTime::parse_from_str(time, "%H:%M:%S%.f")
        .or_else(|_| NaiveTime::parse_from_str(time, "%H:%M:%S"))
        .ok()?;
    Some((time, zone))
}

fn party_name(party: &Node) -> Option<&str> {
    party
        .text("cac:PartyName/cbc:Name")
        .or_else(|| party.text("cac:PartyLegalEntity/cbc:RegistrationName"))
}

fn address(a: &Node, name: Option<&str>) -> AddressIntake {
    let street = a.text("cbc:StreetName");
    let line1 = match (street, a.text("cbc:BuildingNumber")) {
        (Some(s), Some(n)) => Some(format!("{s} {n}")),
        (Some(s), None) => Some(s.to_owned()),
        (None, _) => a.text("cac:AddressLine/cbc:Line").map(str::to_owned),
    };
    let mut extra: Vec<&str> = Vec::new();
    if let Some(s) = a.text("cbc:AdditionalStreetName") {
        extra.push(s);
    }
    if street.is_some() {
        extra.extend(a.all("cac:AddressLine").filter_map(|l| l.text("cbc:Line")));
    }
    AddressIntake {
        name: name.map(str::to_owned),
        company: None,
        line1,
        line2: (!extra.is_empty()).then(|| extra.join(", ")),
        city: a.text("cbc:CityName").map(str::to_owned),
        region: a
            .text("cbc:CountrySubentity")
            .or_else(|| a.text("cbc:CountrySubentityCode"))
            .map(str::to_owned),
        postal_code: a.text("cbc:PostalZone").map(str::to_owned),
        country: a
            .text("cac:Country/cbc:IdentificationCode")
            .map(str::to_owned),
        phone: None,
        lat: None,
        lon: None,
    }
}
