//! The X12 documents iom sends: 855 purchase order acknowledgement, 856 ship notice and 810
//! invoice for orders that came in as 850s, and the 940 warehouse shipping order that releases
//! lines to a node run by a partner. Each function takes the order as iom holds it and returns a
//! whole, validated interchange (see [`super::writer`]); nothing here reads a clock or a
//! counter, so the same input gives the same bytes.
//!
//! What the partner sent is echoed where X12 expects it: the PO number (BEG03) is the order's
//! `external_id`, a line is identified by the PO101 it came with (`x12_line_id`) and by the
//! product ids of its PO1 (`product_ids`), so the partner matches our documents to its own
//! records without knowing iom's SKUs. Lines of orders from other channels carry their SKU as a
//! vendor part number (`VP`).
//!
//! iom's own ids do not fit X12's elements (a UUID has 36 characters; BAK08 and N902 allow 30,
//! W0502 and BIG02 22). They are mapped, never cut: an order or shipment UUID is written in base
//! 36 (25 characters, [`reference`], read back with [`order_of_reference`]); a depositor order
//! number or an invoice number that would not fit is the document's control number, which is
//! unique per instance, and the caller records it ([`Written::references`]) so that a reply
//! quoting it finds the order.
//!
//! Money is decimal throughout: line amounts of a partial shipment take their share of the
//! line's discount, of the order's discount and of tax by cumulative rounding (what was
//! invoiced before is subtracted from the share of everything shipped so far), with the same
//! shares as the order's totals, so the invoices of an order add up to its total.

use chrono::NaiveDateTime;
use iom_domain::order::{LineQuantity, OrderLine, Shipment};
use iom_domain::refund::{paid_lines, portion};
use iom_domain::{Address, LineStatus, Order};
use rust_decimal::{Decimal, RoundingStrategy};

use super::PRODUCT_ID_PREFERENCE;
use super::carriers;
use super::writer::{Envelope, EnvelopeSettings, Partner, WriteError, interchange, seg};

/// What every outbound document needs besides its content.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub envelope: &'a EnvelopeSettings,
    /// From the store's counter for this instance: ISA13, GS06 and ST02.
    pub control: u64,
    pub at: NaiveDateTime,
    /// What the instance's configured partner (a warehouse's 945s) told us of its envelope.
    pub learned: Option<&'a Partner>,
}

/// A written document and the references in it that stand for the order (a depositor order
/// number, an invoice number), which the caller records so that a reply quoting one of them
/// finds the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub text: String,
    pub references: Vec<String>,
}

impl Outgoing<'_> {
    /// The envelope to the partner an order came from: what its 850 told us (`x12_partner`;
    /// `x12_sender` on orders taken before it was kept), under what the settings say.
    fn envelope_to_sender_of(&self, order: &Order) -> Result<Envelope, WriteError> {
        let learned = order
            .attributes
            .get("x12_partner")
            .and_then(|v| serde_json::from_value::<Partner>(v.clone()).ok())
            .or_else(|| {
                order
                    .attributes
                    .get("x12_sender")
                    .and_then(|v| v.as_str())
                    .map(|id| Partner {
                        id: Some(id.trim().to_owned()),
                        ..Partner::default()
                    })
            });
        self.envelope.envelope(learned.as_ref())
    }

    /// The envelope to the instance's configured partner (a warehouse).
    fn envelope_to_configured(&self) -> Result<Envelope, WriteError> {
        self.envelope.envelope(self.learned)
    }

    fn write(
        &self,
        env: &Envelope,
        functional_id: &str,
        set_id: &str,
        body: &[Vec<String>],
    ) -> Result<String, WriteError> {
        interchange(env, functional_id, set_id, self.control, self.at, body)
    }
}

/// An id of iom's as X12 carries it: a UUID in base 36 (at most 25 upper-case letters and
/// digits), anything else as it is.
pub fn reference(id: &str) -> String {
    match uuid::Uuid::parse_str(id) {
        Ok(uuid) => {
            let mut n = uuid.as_u128();
            let mut digits = Vec::with_capacity(25);
            loop {
                let d = (n % 36) as u8;
                digits.push(if d < 10 { b'0' + d } else { b'A' + d - 10 });
                n /= 36;
                if n == 0 {
                    break;
                }
            }
            digits.reverse();
            String::from_utf8(digits).unwrap_or_default()
        }
        Err(_) => id.to_owned(),
    }
}

/// The order id a [`reference`] stands for, when it is one.
pub fn order_of_reference(reference: &str) -> Option<uuid::Uuid> {
    if reference.is_empty() || reference.len() > 25 {
        return None;
    }
    let mut n: u128 = 0;
    for c in reference.chars() {
        let d = c.to_digit(36)?;
        n = n.checked_mul(36)?.checked_add(u128::from(d))?;
    }
    Some(uuid::Uuid::from_u128(n))
}

/// PO101 as the partner sent it, else iom's line number.
fn line_id(line: &OrderLine) -> String {
    line.attributes
        .get("x12_line_id")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .unwrap_or_else(|| line.line_no.to_string())
}

/// The product id pairs of a line, preferred first, at most `max`.
fn product_ids(line: &OrderLine, max: usize) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = line
        .attributes
        .get("product_ids")
        .and_then(|v| v.as_object())
        .map(|m| {
            m.iter()
                .filter_map(|(q, v)| v.as_str().map(|v| (q.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let rank = |q: &str| {
        PRODUCT_ID_PREFERENCE
            .iter()
            .position(|p| *p == q)
            .unwrap_or(PRODUCT_ID_PREFERENCE.len())
    };
    pairs.sort_by_key(|(q, _)| rank(q));
    if pairs.is_empty() {
        pairs.push(("VP".into(), line.sku.clone()));
    }
    pairs.truncate(max);
    pairs
}

fn uom(line: &OrderLine) -> String {
    line.uom.clone().unwrap_or_else(|| "EA".into())
}

fn date(at: NaiveDateTime) -> String {
    at.format("%Y%m%d").to_string()
}

fn decimal(d: Decimal) -> String {
    d.normalize().to_string()
}

/// Appends a line's product id pairs to a PO1, IT1 or LIN.
fn push_ids(env: &Envelope, segment: &mut Vec<String>, line: &OrderLine) {
    for (q, v) in product_ids(line, 3) {
        segment.push(env.value(&q));
        segment.push(env.value(&v));
    }
}

/// N1 (with N3 and N4) for an address.
fn party(env: &Envelope, entity: &str, address: &Address, id: Option<&str>) -> Vec<Vec<String>> {
    let name = address
        .name
        .as_deref()
        .or(address.company.as_deref())
        .unwrap_or("");
    let name = env.text(name, 60);
    let mut out = vec![match id {
        Some(id) => seg(["N1", entity, &name, "92", &env.value(id)]),
        None => seg(["N1", entity, &name]),
    }];
    let streets: Vec<String> = [&address.line1, &address.line2]
        .into_iter()
        .flatten()
        .map(|s| env.text(s, 55))
        .filter(|s| !s.is_empty())
        .collect();
    if !streets.is_empty() {
        let mut n3 = vec!["N3".to_owned()];
        n3.extend(streets);
        out.push(n3);
    }
    // Codes only where they are codes: a region spelled out or a short postal code is left
    // out rather than sent as something the partner would misread.
    let code = |v: Option<&str>, min: usize, max: usize| {
        let v = env.value(v.unwrap_or("")).to_ascii_uppercase();
        if (min..=max).contains(&v.chars().count()) {
            v
        } else {
            String::new()
        }
    };
    let city = env.text(address.city.as_deref().unwrap_or(""), 30);
    out.push(seg([
        "N4",
        if city.chars().count() >= 2 { &city } else { "" },
        &code(address.region.as_deref(), 2, 2),
        &code(address.postal_code.as_deref(), 3, 15),
        &code(Some(address.country.as_str()), 2, 3),
    ]));
    out
}

fn po_date(order: &Order) -> String {
    date(order.placed_at.naive_utc())
}

/// Whether iom priced a line the partner sent without a price (from its catalogue or a
/// policy): then the 855 says the price changed.
fn priced_by_iom(line: &OrderLine) -> bool {
    line.attributes
        .get("unit_price_missing")
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// The 855 acknowledging an order as iom decided it, line by line: the quantity accepted
/// (ACK `IA`, or `IP` when iom priced a line that came without a price), backordered (`IB`) and
/// rejected (`IR`, cancelled). BAK02 is `AD` when every line is accepted as sent, `AC` when
/// anything changed, `RD` when nothing is accepted. BAK08 is iom's order id as a
/// [`reference`].
pub fn po_ack_855(order: &Order, out: &Outgoing<'_>) -> Result<String, WriteError> {
    let env = out.envelope_to_sender_of(order)?;
    let mut lines = Vec::new();
    let (mut changed, mut any_accepted) = (false, false);
    for line in &order.lines {
        let mut po1 = vec![
            "PO1".to_owned(),
            env.value(&line_id(line)),
            line.quantity.to_string(),
            env.value(&uom(line)),
        ];
        let priced = priced_by_iom(line);
        if priced && line.unit_price.is_zero() {
            // Sent without a price and still without one: nothing to echo.
            po1.extend([String::new(), String::new()]);
        } else {
            po1.push(decimal(line.unit_price));
            po1.push(
                line.attributes
                    .get("price_basis")
                    .and_then(|v| v.as_str())
                    .map(|b| env.value(b))
                    .unwrap_or_default(),
            );
        }
        push_ids(&env, &mut po1, line);
        lines.push(po1);
        let active = line.active_quantity();
        let backordered = if line.status == LineStatus::Backordered {
            active
        } else {
            0
        };
        let accepted = active - backordered;
        if accepted > 0 {
            any_accepted = true;
            let code = if priced && !line.unit_price.is_zero() {
                changed = true;
                "IP"
            } else {
                "IA"
            };
            lines.push(seg([
                "ACK",
                code,
                &accepted.to_string(),
                &env.value(&uom(line)),
                "068",
                &date(out.at),
            ]));
        }
        if backordered > 0 {
            any_accepted = true;
            changed = true;
            lines.push(seg([
                "ACK",
                "IB",
                &backordered.to_string(),
                &env.value(&uom(line)),
            ]));
        }
        if line.cancelled_quantity > 0 {
            changed = true;
            lines.push(seg([
                "ACK",
                "IR",
                &line.cancelled_quantity.to_string(),
                &env.value(&uom(line)),
            ]));
        }
    }
    let kind = if !any_accepted {
        "RD"
    } else if changed {
        "AC"
    } else {
        "AD"
    };
    let mut body = vec![seg([
        "BAK",
        "00",
        kind,
        &env.value(&order.external_id),
        &po_date(order),
        "",
        "",
        "",
        &reference(&order.id.to_string()),
        &date(out.at),
    ])];
    body.push(seg(["CUR", "SE", order.currency.code()]));
    if let Some(ship_to) = &order.ship_to {
        body.extend(party(&env, "ST", ship_to, None));
    }
    body.extend(lines);
    let quantity_total: u64 = order.lines.iter().map(|l| u64::from(l.quantity)).sum();
    body.push(seg([
        "CTT",
        &order.lines.len().to_string(),
        &quantity_total.to_string(),
    ]));
    out.write(&env, "PR", "855", &body)
}

/// The carrier of a shipment as TD5 names it: its SCAC when known (TD502 `2`, TD503), else
/// the name as routing text (TD505); the order's ship method is the service (TD505 as well,
/// when the SCAC took TD503).
fn td5(
    env: &Envelope,
    settings: &EnvelopeSettings,
    carrier: &str,
    method: Option<&str>,
) -> Vec<String> {
    match carriers::scac(carrier, &settings.scac) {
        Some(scac) => seg([
            "TD5",
            "B",
            "2",
            &scac,
            "",
            &method.map(|m| env.text(m, 35)).unwrap_or_default(),
        ]),
        None => seg(["TD5", "B", "", "", "", &env.text(carrier, 35)]),
    }
}

/// The 856 for one shipment of an order, shaped shipment / order / item (BSN05 `0004`): the
/// order level names the PO, each item level the line and quantity shipped. `ship_from` is the
/// node's name.
pub fn ship_notice_856(
    order: &Order,
    shipment: &Shipment,
    ship_from: Option<&str>,
    out: &Outgoing<'_>,
) -> Result<String, WriteError> {
    let env = out.envelope_to_sender_of(order)?;
    let shipped = shipment.at.naive_utc();
    let mut body = vec![seg([
        "BSN",
        "00",
        &env.value(&reference(&shipment.id)),
        &date(shipped),
        &shipped.format("%H%M").to_string(),
        "0004",
    ])];
    body.push(seg(["HL", "1", "", "S"]));
    if let Some(carrier) = &shipment.carrier {
        body.push(td5(
            &env,
            out.envelope,
            carrier,
            order.ship_method.as_deref(),
        ));
    }
    if let Some(tracking) = &shipment.tracking {
        let tracking = env.value(tracking);
        // REF02 holds 30 characters; a longer tracking number goes whole into REF03.
        body.push(if tracking.chars().count() <= 30 {
            seg(["REF", "CN", &tracking])
        } else {
            seg(["REF", "CN", "", &env.text(&tracking, 80)])
        });
    }
    body.push(seg(["DTM", "011", &date(shipped)]));
    if let Some(ship_to) = &order.ship_to {
        // Only the name: the partner has the address from its own PO.
        let mut n1 = party(&env, "ST", ship_to, None);
        n1.truncate(1);
        body.extend(n1);
    }
    body.push(seg([
        "N1",
        "SF",
        &env.text(ship_from.unwrap_or(&shipment.node), 60),
        "92",
        &env.value(&shipment.node),
    ]));
    body.push(seg(["HL", "2", "1", "O"]));
    body.push(seg([
        "PRF",
        &env.value(&order.external_id),
        "",
        "",
        &po_date(order),
    ]));
    let mut hl = 2;
    for lq in &shipment.lines {
        let line = order_line(order, lq)?;
        hl += 1;
        body.push(seg(["HL", &hl.to_string(), "2", "I"]));
        let mut lin = vec!["LIN".to_owned(), env.value(&line_id(line))];
        push_ids(&env, &mut lin, line);
        body.push(lin);
        body.push(seg([
            "SN1",
            &env.value(&line_id(line)),
            &lq.quantity.to_string(),
            &env.value(&uom(line)),
        ]));
    }
    body.push(seg(["CTT", &hl.to_string()]));
    out.write(&env, "SH", "856", &body)
}

fn order_line<'o>(order: &'o Order, lq: &LineQuantity) -> Result<&'o OrderLine, WriteError> {
    order.line(lq.line_no).ok_or_else(|| {
        WriteError::Document(format!(
            "the shipment names line {} that order {} does not have",
            lq.line_no, order.id
        ))
    })
}

/// One invoiced line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceLine {
    pub line_no: u32,
    pub quantity: u32,
    pub unit_price: Decimal,
    /// The share of the line's own discount.
    pub line_discount: Decimal,
    /// The share of the order's discount.
    pub order_discount: Decimal,
    pub tax: Decimal,
}

/// What an invoice charges for one shipment, computed exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceAmounts {
    pub lines: Vec<InvoiceLine>,
    pub merchandise: Decimal,
    /// Line discounts and the order's discount.
    pub discount: Decimal,
    /// The part of `discount` that is the order's discount.
    pub order_discount: Decimal,
    pub tax: Decimal,
    /// The order's shipping charge, on the invoice of its first shipment.
    pub shipping: Decimal,
    pub total: Decimal,
}

/// The amounts of the invoice for `shipment`, the `index`-th shipment of `order`.
pub fn invoice_amounts(order: &Order, index: usize) -> Result<InvoiceAmounts, WriteError> {
    let shipment = order.shipments.get(index).ok_or_else(|| {
        WriteError::Document(format!("order {} has no shipment {index}", order.id))
    })?;
    let scale = order.currency_scale();
    let paid = paid_lines(order);
    let mut amounts = InvoiceAmounts {
        lines: Vec::new(),
        merchandise: Decimal::ZERO,
        discount: Decimal::ZERO,
        order_discount: Decimal::ZERO,
        tax: Decimal::ZERO,
        shipping: if index == 0 {
            order.shipping_amount
        } else {
            Decimal::ZERO
        },
        total: Decimal::ZERO,
    };
    for lq in &shipment.lines {
        let line = order_line(order, lq)?;
        let position = order
            .lines
            .iter()
            .position(|l| l.line_no == line.line_no)
            .unwrap_or_default();
        let before: u32 = order.shipments[..index]
            .iter()
            .flat_map(|s| &s.lines)
            .filter(|l| l.line_no == lq.line_no)
            .map(|l| l.quantity)
            .sum();
        // Cumulative shares, as the order's totals and refunds take them.
        let share = |amount: Decimal| {
            portion(amount, before + lq.quantity, line.quantity, scale)
                - portion(amount, before, line.quantity, scale)
        };
        let discount = share(paid[position].discount);
        let line_discount = share(line.discount).min(discount);
        let tax = share(line.tax);
        amounts.merchandise += line.unit_price * Decimal::from(lq.quantity);
        amounts.discount += discount;
        amounts.order_discount += discount - line_discount;
        amounts.tax += tax;
        amounts.lines.push(InvoiceLine {
            line_no: lq.line_no,
            quantity: lq.quantity,
            unit_price: line.unit_price,
            line_discount,
            order_discount: discount - line_discount,
            tax,
        });
    }
    amounts.total = amounts.merchandise - amounts.discount + amounts.tax + amounts.shipping;
    Ok(amounts)
}

/// An amount as X12 type N2 (two implied decimals), which TDS and SAC use: exact when the
/// amount has at most two decimals, rounded half to even otherwise.
fn n2(d: Decimal) -> String {
    let cents =
        (d * Decimal::from(100)).round_dp_with_strategy(0, RoundingStrategy::MidpointNearestEven);
    cents.normalize().to_string()
}

/// BIG02 of the `index`-th invoice of an order: the PO number and the invoice's rank
/// (`4600000406-2`) when that fits 22 characters, else the document's control number. Unique
/// per instance either way: the first form always ends in `-` and digits, the second never
/// holds a `-`.
pub fn invoice_number(env: &Envelope, order: &Order, index: usize, control: u64) -> String {
    let readable = format!("{}-{}", order.external_id.trim(), index + 1);
    if readable.chars().count() <= 22 && env.value(&readable) == readable {
        readable
    } else {
        control.to_string()
    }
}

/// The 810 invoicing the `index`-th shipment of an order: one IT1 per line shipped at the
/// order's unit price with its own discount as an allowance (SAC `A` `C310`), then the
/// order's discount, the freight (on the first invoice) and the tax, and the total in TDS.
pub fn invoice_810(order: &Order, index: usize, out: &Outgoing<'_>) -> Result<Written, WriteError> {
    let env = out.envelope_to_sender_of(order)?;
    let amounts = invoice_amounts(order, index)?;
    let shipment = &order.shipments[index];
    let number = invoice_number(&env, order, index, out.control);
    let mut body = vec![seg([
        "BIG",
        &date(out.at),
        &number,
        &po_date(order),
        &env.value(&order.external_id),
        "",
        "",
        "DI",
        "00",
    ])];
    body.push(seg(["CUR", "SE", order.currency.code()]));
    if let Some(bill_to) = &order.bill_to {
        body.extend(party(&env, "BT", bill_to, None));
    }
    if let Some(ship_to) = &order.ship_to {
        body.extend(party(&env, "ST", ship_to, None));
    }
    body.push(seg(["DTM", "011", &date(shipment.at.naive_utc())]));
    for invoiced in &amounts.lines {
        let line = order
            .line(invoiced.line_no)
            .ok_or_else(|| WriteError::Document(format!("no line {}", invoiced.line_no)))?;
        let mut it1 = vec![
            "IT1".to_owned(),
            env.value(&line_id(line)),
            invoiced.quantity.to_string(),
            env.value(&uom(line)),
            decimal(invoiced.unit_price),
            String::new(),
        ];
        push_ids(&env, &mut it1, line);
        body.push(it1);
        if !invoiced.line_discount.is_zero() {
            body.push(seg([
                "SAC",
                "A",
                "C310",
                "",
                "",
                &n2(invoiced.line_discount),
            ]));
        }
    }
    body.push(seg(["TDS", &n2(amounts.total)]));
    if !amounts.tax.is_zero() {
        body.push(seg(["TXI", "TX", &decimal(amounts.tax)]));
    }
    if !amounts.order_discount.is_zero() {
        body.push(seg([
            "SAC",
            "A",
            "C310",
            "",
            "",
            &n2(amounts.order_discount),
        ]));
    }
    if !amounts.shipping.is_zero() {
        body.push(seg(["SAC", "C", "G830", "", "", &n2(amounts.shipping)]));
    }
    body.push(seg(["CTT", &amounts.lines.len().to_string()]));
    let text = out.write(&env, "IN", "810", &body)?;
    Ok(Written {
        text,
        references: vec![number],
    })
}

/// W0502 of a 940: the order's `external_id` when it fits 22 characters of the partner's set,
/// else the document's control number.
pub fn depositor_order_number(env: &Envelope, order: &Order, control: u64) -> String {
    let id = order.external_id.trim();
    if id.chars().count() <= 22 && !id.is_empty() && env.value(id) == id {
        id.to_owned()
    } else {
        control.to_string()
    }
}

/// The 940 asking the warehouse `node` to ship `lines` of an order. W0502 is the
/// [`depositor_order_number`], which the warehouse echoes in its 945 (W0602); N9 `CO` carries
/// iom's order id as a [`reference`]. Each line is an LX numbered 1, 2, 3 … with a W01 (the
/// quantity and the SKU as vendor item number, whole) and an N9 `LI` with iom's line number.
pub fn shipping_order_940(
    order: &Order,
    node: &str,
    lines: &[LineQuantity],
    out: &Outgoing<'_>,
) -> Result<Written, WriteError> {
    if lines.is_empty() {
        return Err(WriteError::Document(
            "a shipping order needs at least one line".into(),
        ));
    }
    let env = out.envelope_to_configured()?;
    let depositor = depositor_order_number(&env, order, out.control);
    let po = env.value(order.external_id.trim());
    let mut body = vec![seg([
        "W05",
        "N",
        &depositor,
        if po.chars().count() <= 22 { &po } else { "" },
    ])];
    if let Some(ship_to) = &order.ship_to {
        body.extend(party(&env, "ST", ship_to, None));
    }
    body.push(seg([
        "N1",
        "WH",
        &env.text(node, 60),
        "92",
        &env.value(node),
    ]));
    body.push(seg(["N9", "CO", &reference(&order.id.to_string())]));
    body.push(seg(["G62", "10", &date(out.at)]));
    if let Some(method) = &order.ship_method {
        let scac = order
            .attributes
            .get("carrier")
            .and_then(|v| v.as_str())
            .and_then(|c| carriers::scac(c, &out.envelope.scac))
            .unwrap_or_default();
        body.push(seg([
            "W66",
            "PP",
            "M",
            "",
            "",
            &env.text(method, 35),
            "",
            "",
            "",
            "",
            &scac,
        ]));
    }
    let mut total: u64 = 0;
    for (n, lq) in lines.iter().enumerate() {
        let line = order_line(order, lq)?;
        body.push(seg(["LX", &(n + 1).to_string()]));
        body.push(seg([
            "W01",
            &lq.quantity.to_string(),
            &env.value(&uom(line)),
            "",
            "VN",
            &env.value(&line.sku),
        ]));
        if let Some(title) = line
            .attributes
            .get("title")
            .or_else(|| line.attributes.get("description"))
            .and_then(|v| v.as_str())
        {
            let title = env.text(title, 45);
            if !title.is_empty() {
                body.push(seg(["G69", &title]));
            }
        }
        body.push(seg(["N9", "LI", &line.line_no.to_string()]));
        total += u64::from(lq.quantity);
    }
    body.push(seg(["W76", &total.to_string()]));
    let text = out.write(&env, "OW", "940", &body)?;
    Ok(Written {
        text,
        references: vec![depositor],
    })
}
