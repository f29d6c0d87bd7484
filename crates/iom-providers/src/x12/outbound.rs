//! The X12 documents iom sends: 855 purchase order acknowledgement, 856 ship notice and 810
//! invoice for orders that came in as 850s, and the 940 warehouse shipping order that releases
//! lines to a node run by a partner. Each function takes the order as iom holds it and returns a
//! whole interchange (see [`super::writer`]); nothing here reads a clock or a counter, so the same
//! input gives the same bytes.
//!
//! What the partner sent is echoed where X12 expects it: the PO number (BEG03) is the order's
//! `external_id`, a line is identified by the PO101 it came with (`x12_line_id`) and by the
//! product ids of its PO1 (`product_ids`), so the partner matches our documents to its own
//! records without knowing iom's SKUs. Lines of orders from other channels carry their SKU as a
//! vendor part number (`VP`).
//!
//! Money is decimal throughout: line amounts of a partial shipment take their share of the
//! line's discount and tax by cumulative rounding (what was invoiced before is subtracted from
//! the share of everything shipped so far), so the invoices of an order add up to its total.

use chrono::NaiveDateTime;
use iom_domain::order::{LineQuantity, OrderLine, Shipment};
use iom_domain::{Address, Order};
use rust_decimal::{Decimal, RoundingStrategy};

use super::PRODUCT_ID_PREFERENCE;
use super::writer::{EnvelopeSettings, WriteError, interchange, seg, text};

/// What every outbound document needs besides its content.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub envelope: &'a EnvelopeSettings,
    /// From the store's counter for this instance: ISA13, GS06 and ST02.
    pub control: u64,
    pub at: NaiveDateTime,
}

impl Outgoing<'_> {
    /// ISA08: the configured partner id, else the sender of the 850 the order came from.
    fn receiver(&self, order: Option<&Order>) -> Result<String, WriteError> {
        self.envelope
            .receiver_id
            .clone()
            .or_else(|| {
                order
                    .and_then(|o| o.attributes.get("x12_sender"))
                    .and_then(|v| v.as_str())
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
            })
            .ok_or(WriteError::Settings {
                field: "receiver_id",
                message: "is required for orders that did not come from an 850".into(),
            })
    }

    fn write(
        &self,
        order: Option<&Order>,
        functional_id: &str,
        set_id: &str,
        body: &[Vec<String>],
    ) -> Result<String, WriteError> {
        let receiver = self.receiver(order)?;
        interchange(
            self.envelope,
            &receiver,
            functional_id,
            set_id,
            self.control,
            self.at,
            body,
        )
    }
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

/// N1 (with N3 and N4) for an address.
fn party(entity: &str, address: &Address, id: Option<&str>) -> Vec<Vec<String>> {
    let name = address
        .name
        .as_deref()
        .or(address.company.as_deref())
        .unwrap_or("");
    let mut out = vec![match id {
        Some(id) => seg(["N1", entity, &text(name, 60), "92", &text(id, 80)]),
        None => seg(["N1", entity, &text(name, 60)]),
    }];
    let streets: Vec<String> = [&address.line1, &address.line2]
        .into_iter()
        .flatten()
        .map(|s| text(s, 55))
        .collect();
    if !streets.is_empty() {
        let mut n3 = vec!["N3".to_owned()];
        n3.extend(streets);
        out.push(n3);
    }
    out.push(seg([
        "N4",
        &text(address.city.as_deref().unwrap_or(""), 30),
        &text(address.region.as_deref().unwrap_or(""), 2),
        &text(address.postal_code.as_deref().unwrap_or(""), 15),
        address.country.as_str(),
    ]));
    out
}

fn po_date(order: &Order) -> String {
    date(order.placed_at.naive_utc())
}

/// The 855 acknowledging an order as iom accepted it: each line with the quantity accepted
/// (ACK `IA`) and, when part of it was cancelled, the quantity rejected (`IR`).
pub fn po_ack_855(order: &Order, out: &Outgoing<'_>) -> Result<String, WriteError> {
    let changed = order.lines.iter().any(|l| l.cancelled_quantity > 0);
    let mut body = vec![seg([
        "BAK",
        "00",
        if changed { "AC" } else { "AD" },
        &text(&order.external_id, 22),
        &po_date(order),
        "",
        "",
        "",
        &order.id.to_string(),
        &date(out.at),
    ])];
    body.push(seg(["CUR", "SE", order.currency.code()]));
    if let Some(ship_to) = &order.ship_to {
        body.extend(party("ST", ship_to, None));
    }
    let mut quantity_total: u64 = 0;
    for line in &order.lines {
        let mut po1 = vec![
            "PO1".to_owned(),
            line_id(line),
            line.quantity.to_string(),
            uom(line),
            decimal(line.unit_price),
            String::new(),
        ];
        for (q, v) in product_ids(line, 3) {
            po1.push(q);
            po1.push(v);
        }
        body.push(po1);
        let accepted = line.active_quantity();
        if accepted > 0 {
            body.push(seg([
                "ACK",
                "IA",
                &accepted.to_string(),
                &uom(line),
                "068",
                &date(out.at),
            ]));
        }
        if line.cancelled_quantity > 0 {
            body.push(seg([
                "ACK",
                "IR",
                &line.cancelled_quantity.to_string(),
                &uom(line),
            ]));
        }
        quantity_total += u64::from(line.quantity);
    }
    body.push(seg([
        "CTT",
        &order.lines.len().to_string(),
        &quantity_total.to_string(),
    ]));
    out.write(Some(order), "PR", "855", &body)
}

/// The 856 for one shipment of an order, shaped shipment / order / item: the order level names
/// the PO, each item level the line and quantity shipped. `ship_from` is the node's name.
pub fn ship_notice_856(
    order: &Order,
    shipment: &Shipment,
    ship_from: Option<&str>,
    out: &Outgoing<'_>,
) -> Result<String, WriteError> {
    let shipped = shipment.at.naive_utc();
    let shipment_id: String = shipment.id.chars().filter(|c| *c != '-').take(30).collect();
    let mut body = vec![seg([
        "BSN",
        "00",
        &shipment_id,
        &date(shipped),
        &shipped.format("%H%M").to_string(),
        "0001",
    ])];
    body.push(seg(["HL", "1", "", "S"]));
    if let Some(carrier) = &shipment.carrier {
        body.push(seg(["TD5", "B", "2", &text(carrier, 4)]));
    }
    if let Some(tracking) = &shipment.tracking {
        body.push(seg(["REF", "CN", &text(tracking, 30)]));
    }
    body.push(seg(["DTM", "011", &date(shipped)]));
    if let Some(ship_to) = &order.ship_to {
        // Only the name: the partner has the address from its own PO.
        let mut n1 = party("ST", ship_to, None);
        n1.truncate(1);
        body.extend(n1);
    }
    body.push(seg([
        "N1",
        "SF",
        &text(ship_from.unwrap_or(&shipment.node), 60),
        "92",
        &text(&shipment.node, 80),
    ]));
    body.push(seg(["HL", "2", "1", "O"]));
    body.push(seg([
        "PRF",
        &text(&order.external_id, 22),
        "",
        "",
        &po_date(order),
    ]));
    let mut hl = 2;
    for lq in &shipment.lines {
        let line = order_line(order, lq)?;
        hl += 1;
        body.push(seg(["HL", &hl.to_string(), "2", "I"]));
        let mut lin = vec!["LIN".to_owned(), line_id(line)];
        for (q, v) in product_ids(line, 3) {
            lin.push(q);
            lin.push(v);
        }
        body.push(lin);
        body.push(seg([
            "SN1",
            &line_id(line),
            &lq.quantity.to_string(),
            &uom(line),
        ]));
    }
    body.push(seg(["CTT", &hl.to_string()]));
    out.write(Some(order), "SH", "856", &body)
}

fn order_line<'o>(order: &'o Order, lq: &LineQuantity) -> Result<&'o OrderLine, WriteError> {
    order.line(lq.line_no).ok_or_else(|| {
        WriteError::Document(format!(
            "the shipment names line {} that order {} does not have",
            lq.line_no, order.id
        ))
    })
}

/// What an invoice charges for one shipment, computed exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceAmounts {
    /// (line, quantity, unit price, discount share, tax share)
    pub lines: Vec<(u32, u32, Decimal, Decimal, Decimal)>,
    pub merchandise: Decimal,
    pub discount: Decimal,
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
    let round = |d: Decimal| d.round_dp_with_strategy(scale, RoundingStrategy::MidpointNearestEven);
    let mut amounts = InvoiceAmounts {
        lines: Vec::new(),
        merchandise: Decimal::ZERO,
        discount: Decimal::ZERO,
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
        let before: u32 = order.shipments[..index]
            .iter()
            .flat_map(|s| &s.lines)
            .filter(|l| l.line_no == lq.line_no)
            .map(|l| l.quantity)
            .sum();
        let ordered = Decimal::from(line.quantity.max(1));
        let share = |amount: Decimal| {
            round(amount * Decimal::from(before + lq.quantity) / ordered)
                - round(amount * Decimal::from(before) / ordered)
        };
        let (discount, tax) = (share(line.discount), share(line.tax));
        amounts.merchandise += line.unit_price * Decimal::from(lq.quantity);
        amounts.discount += discount;
        amounts.tax += tax;
        amounts
            .lines
            .push((lq.line_no, lq.quantity, line.unit_price, discount, tax));
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

/// The 810 invoicing the `index`-th shipment of an order: one IT1 per line shipped at the
/// order's unit price, the discount as an allowance, tax, freight on the first invoice, and the
/// total in TDS. `invoice_number` is iom's (BIG02).
pub fn invoice_810(
    order: &Order,
    index: usize,
    invoice_number: &str,
    out: &Outgoing<'_>,
) -> Result<String, WriteError> {
    let amounts = invoice_amounts(order, index)?;
    let shipment = &order.shipments[index];
    let mut body = vec![seg([
        "BIG",
        &date(out.at),
        &text(invoice_number, 22),
        &po_date(order),
        &text(&order.external_id, 22),
        "",
        "",
        "DI",
        "00",
    ])];
    body.push(seg(["CUR", "SE", order.currency.code()]));
    if let Some(bill_to) = &order.bill_to {
        body.extend(party("BT", bill_to, None));
    }
    if let Some(ship_to) = &order.ship_to {
        body.extend(party("ST", ship_to, None));
    }
    body.push(seg(["DTM", "011", &date(shipment.at.naive_utc())]));
    for (line_no, quantity, unit_price, _, _) in &amounts.lines {
        let line = order
            .line(*line_no)
            .ok_or_else(|| WriteError::Document(format!("no line {line_no}")))?;
        let mut it1 = vec![
            "IT1".to_owned(),
            line_id(line),
            quantity.to_string(),
            uom(line),
            decimal(*unit_price),
            String::new(),
        ];
        for (q, v) in product_ids(line, 3) {
            it1.push(q);
            it1.push(v);
        }
        body.push(it1);
    }
    body.push(seg(["TDS", &n2(amounts.total)]));
    if !amounts.tax.is_zero() {
        body.push(seg(["TXI", "TX", &decimal(amounts.tax)]));
    }
    if !amounts.discount.is_zero() {
        body.push(seg(["SAC", "A", "C310", "", "", &n2(amounts.discount)]));
    }
    if !amounts.shipping.is_zero() {
        body.push(seg(["SAC", "C", "G830", "", "", &n2(amounts.shipping)]));
    }
    body.push(seg(["CTT", &amounts.lines.len().to_string()]));
    out.write(Some(order), "IN", "810", &body)
}

/// The 940 asking the warehouse `node` to ship `lines` of an order. W0502 carries the order's
/// `external_id`, which the warehouse echoes in its 945 (W0602); each line is an LX numbered
/// with iom's line number and a W01 with the quantity and the SKU as vendor item number.
pub fn shipping_order_940(
    order: &Order,
    node: &str,
    lines: &[LineQuantity],
    out: &Outgoing<'_>,
) -> Result<String, WriteError> {
    if lines.is_empty() {
        return Err(WriteError::Document(
            "a shipping order needs at least one line".into(),
        ));
    }
    let mut body = vec![seg([
        "W05",
        "N",
        &text(&order.external_id, 22),
        &text(&order.external_id, 22),
    ])];
    if let Some(ship_to) = &order.ship_to {
        body.extend(party("ST", ship_to, None));
    }
    body.push(seg(["N1", "WH", &text(node, 60), "92", &text(node, 80)]));
    body.push(seg(["N9", "CO", &order.id.to_string()]));
    body.push(seg(["G62", "10", &date(out.at)]));
    if let Some(method) = &order.ship_method {
        body.push(seg(["W66", "PP", "M", "", "", &text(method, 4)]));
    }
    let mut total: u64 = 0;
    for lq in lines {
        let line = order_line(order, lq)?;
        body.push(seg(["LX", &line.line_no.to_string()]));
        body.push(seg([
            "W01",
            &lq.quantity.to_string(),
            &uom(line),
            "",
            "VN",
            &text(&line.sku, 48),
        ]));
        if let Some(title) = line
            .attributes
            .get("title")
            .or_else(|| line.attributes.get("description"))
            .and_then(|v| v.as_str())
        {
            body.push(seg(["G69", &text(title, 45)]));
        }
        total += u64::from(lq.quantity);
    }
    body.push(seg(["W76", &total.to_string()]));
    out.write(Some(order), "OW", "940", &body)
}
