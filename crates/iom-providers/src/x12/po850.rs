//! X12 850 purchase order → [`OrderIntake`].
//!
//! | intake | from |
//! |---|---|
//! | `external_id` | BEG03, the PO number (what the contract calls the order's id for X12) |
//! | `placed_at` | BEG05 at 00:00 UTC (the 850 has no order time) |
//! | `currency` | CUR02 of the header; else the first line-level CUR02; else **`USD`**, marked with the attribute `currency_defaulted: true` because most 850s that omit CUR are domestic US orders |
//! | `ship_to` | header N1\*ST with N2/N3/N4/PER; N404 defaults to `US` |
//! | `bill_to` | header N1\*BT |
//! | `customer` | header N1\*BY, else N1\*BT: N104 as id, N102 as name, PER for e-mail and phone |
//! | `ship_method` | TD5: TD512 service level, else TD505 routing, else TD503 carrier (SCAC), else TD504 transport method |
//! | `requested_delivery_at` | header DTM\*002 (delivery requested) |
//! | `lines` | one per PO1: PO102 quantity, PO103 unit of measure, PO104 unit price, the SKU from the product id pairs PO106/PO107 … chosen by [`super::PRODUCT_ID_PREFERENCE`] |
//!
//! Line numbers come from PO101 when every line's PO101 is a distinct positive number (the partner
//! will refer to them in later documents); otherwise every line is numbered by its position, so
//! that line numbers stay unique. PO101 is always kept as the line attribute `x12_line_id`.
//!
//! A PO1 without unit price (common when prices come from a contract) becomes a line priced at
//! zero with the attribute `unit_price_missing: true`, so the order is captured and a flow can hold
//! it for pricing, instead of the document being refused.
//!
//! Line-level N1 loops (ship-to per line) are not used for the order's ship-to.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, Utc};
use iom_domain::intake::{CustomerIntake, LineIntake, OrderIntake};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use super::{
    Blame, Interchange, MappingError, Party, Problem, Segment, TransactionSet, envelope_attributes,
    parse_time, parties, preferred_product_id,
};

/// Every 850 of the interchange as an order, in document order. Other transaction sets are
/// ignored. Fails on the first 850 that cannot be mapped; use [`order`] per set to keep the good
/// ones.
pub fn orders(
    interchange: &Interchange<'_>,
    channel: &str,
) -> Result<Vec<OrderIntake>, MappingError> {
    interchange
        .transaction_sets()
        .filter(|set| set.id() == "850")
        .map(|set| order(&set, channel))
        .collect()
}

/// One 850 transaction set as an order of `channel`.
pub fn order(set: &TransactionSet<'_>, channel: &str) -> Result<OrderIntake, MappingError> {
    let blame = Blame::new(*set);
    if set.id() != "850" {
        let st = set.st();
        return Err(blame.at(
            &st,
            Some(1),
            Problem::InvalidValue,
            format!("transaction set {} is not an 850 purchase order", set.id()),
        ));
    }
    let segs: Vec<Segment<'_>> = set.body().collect();
    let first_line = segs
        .iter()
        .position(|s| s.id() == "PO1")
        .unwrap_or(segs.len());
    let (header, detail) = segs.split_at(first_line);

    let beg = header.iter().find(|s| s.id() == "BEG").ok_or_else(|| {
        blame.missing_segment("BEG", "the BEG segment (PO number and date) is missing")
    })?;
    let po_number = blame.required(beg, 3)?;
    let placed_at = blame.date(beg, 5)?.map(midnight_utc);

    let mut attributes = envelope_attributes(set);
    if let Some(purpose) = beg.get(1) {
        attributes.insert("purpose_code".into(), Value::from(purpose));
    }
    if let Some(kind) = beg.get(2) {
        attributes.insert("po_type".into(), Value::from(kind));
    }
    if let Some(release) = beg.get(4) {
        attributes.insert("release_number".into(), Value::from(release));
    }
    let refs = references(header);
    if !refs.is_empty() {
        attributes.insert("references".into(), Value::Object(refs));
    }

    let currency = header
        .iter()
        .chain(detail)
        .find(|s| s.id() == "CUR")
        .and_then(|cur| cur.get(2))
        .map(str::to_owned);
    let currency = match currency {
        Some(c) => c,
        None => {
            attributes.insert("currency_defaulted".into(), Value::Bool(true));
            "USD".to_owned()
        }
    };

    let ship_method = header
        .iter()
        .find(|s| s.id() == "TD5")
        .and_then(|td5| td5.get(12).or(td5.get(5)).or(td5.get(3)).or(td5.get(4)))
        .map(str::to_owned);

    let requested_delivery_at = header
        .iter()
        .find(|s| s.id() == "DTM" && s.get(1) == Some("002"))
        .map(|dtm| -> Result<_, MappingError> {
            let date = blame.date(dtm, 2)?;
            let time = dtm.get(3).and_then(parse_time).unwrap_or(NaiveTime::MIN);
            Ok(date.map(|d| fixed_utc(d.and_time(time).and_utc())))
        })
        .transpose()?
        .flatten();

    let header_parties = parties(header);
    let find = |entity: &str| header_parties.iter().find(|p| p.entity == entity);
    let ship_to = find("ST");
    if let Some(st) = ship_to
        && let Some(id) = &st.id
    {
        attributes.insert("ship_to_id".into(), Value::from(id.as_str()));
    }
    let bill_to = find("BT");
    let customer = find("BY").or(bill_to).map(customer_of);

    let lines = lines(&blame, detail, &mut attributes)?;

    Ok(OrderIntake {
        channel: Some(channel.to_owned()),
        external_id: Some(po_number.to_owned()),
        currency: Some(currency),
        placed_at,
        customer,
        // An N1*ST with only a location code is kept as `ship_to_id`, not as an empty address.
        ship_to: ship_to
            .filter(|p| p.has_address() || p.name.is_some())
            .map(Party::address),
        bill_to: bill_to.filter(|p| p.has_address()).map(Party::address),
        lines: Some(lines),
        ship_method,
        shipping_amount: None,
        discount_amount: None,
        requested_delivery_at,
        attributes: Some(attributes),
    })
}

fn midnight_utc(date: NaiveDate) -> DateTime<FixedOffset> {
    fixed_utc(date.and_time(NaiveTime::MIN).and_utc())
}

fn fixed_utc(t: DateTime<Utc>) -> DateTime<FixedOffset> {
    t.fixed_offset()
}

fn references(segments: &[Segment<'_>]) -> Map<String, Value> {
    let mut refs = Map::new();
    for seg in segments.iter().filter(|s| s.id() == "REF") {
        if let (Some(qual), Some(value)) = (seg.get(1), seg.get(2).or(seg.get(3))) {
            refs.entry(qual.to_owned())
                .or_insert_with(|| Value::from(value));
        }
    }
    refs
}

fn customer_of(p: &Party) -> CustomerIntake {
    CustomerIntake {
        id: p.id.clone(),
        email: p.email.clone(),
        name: p.name.clone().or_else(|| p.contact.clone()),
        phone: p.phone.clone(),
        group: None,
    }
}

fn lines(
    blame: &Blame<'_>,
    detail: &[Segment<'_>],
    order_attributes: &mut Map<String, Value>,
) -> Result<Vec<LineIntake>, MappingError> {
    // Each PO1 with the segments after it up to the next PO1 (or the summary CTT).
    let mut groups: Vec<&[Segment<'_>]> = Vec::new();
    let mut start = None;
    let mut ctt = None;
    for (i, seg) in detail.iter().enumerate() {
        match seg.id() {
            "PO1" => {
                if let Some(s) = start {
                    groups.push(&detail[s..i]);
                }
                start = Some(i);
            }
            // The summary area starts at CTT.
            "CTT" if ctt.is_none() => {
                if let Some(s) = start.take() {
                    groups.push(&detail[s..i]);
                }
                ctt = Some(*seg);
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        groups.push(&detail[s..]);
    }
    if groups.is_empty() {
        return Err(blame.missing_segment("PO1", "the purchase order has no PO1 line"));
    }
    if let Some(ctt) = ctt
        && let Some(declared) = ctt.get(1)
        && declared.parse::<usize>().ok() != Some(groups.len())
    {
        let warnings = order_attributes
            .entry("x12_warnings")
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = warnings {
            list.push(Value::from(format!(
                "CTT01 says {declared} line items but there are {} PO1",
                groups.len()
            )));
        }
    }

    // PO101 numbers are kept only when they identify every line unambiguously.
    let ids: Vec<Option<i64>> = groups
        .iter()
        .map(|g| {
            g[0].get(1)
                .and_then(|v| v.parse::<i64>().ok())
                .filter(|n| (1..=i64::from(u32::MAX)).contains(n))
        })
        .collect();
    let mut seen = std::collections::HashSet::new();
    let use_ids = ids.iter().all(|id| id.is_some_and(|n| seen.insert(n)));

    let mut out = Vec::with_capacity(groups.len());
    for (i, group) in groups.iter().enumerate() {
        let po1 = &group[0];
        let quantity = blame.quantity(po1, 2)?;
        let unit_price = blame.decimal(po1, 4)?;
        let mut attributes = Map::new();
        if let Some(id) = po1.get(1) {
            attributes.insert("x12_line_id".into(), Value::from(id));
        }
        if let Some(basis) = po1.get(5) {
            attributes.insert("price_basis".into(), Value::from(basis));
        }
        let pairs: Vec<_> = po1.pairs(6).collect();
        let (_, sku) = preferred_product_id(pairs.iter().copied()).ok_or_else(|| {
            blame.at(
                po1,
                Some(7),
                Problem::MissingElement,
                "the line has no product id (PO106/PO107 …)",
            )
        })?;
        let mut product_ids = Map::new();
        for (qual, value) in &pairs {
            product_ids
                .entry(qual.to_string())
                .or_insert_with(|| Value::from(*value));
        }
        attributes.insert("product_ids".into(), Value::Object(product_ids));
        if unit_price.is_none() {
            attributes.insert("unit_price_missing".into(), Value::Bool(true));
        }
        for seg in &group[1..] {
            match seg.id() {
                "PID" => {
                    if let Some(text) = seg.get(5) {
                        attributes
                            .entry("description")
                            .or_insert_with(|| Value::from(text));
                    }
                }
                "DTM" if seg.get(1) == Some("002") => {
                    if let Some(d) = blame.date(seg, 2)? {
                        attributes
                            .insert("requested_delivery_date".into(), Value::from(d.to_string()));
                    }
                }
                _ => {}
            }
        }
        out.push(LineIntake {
            line_no: Some(if use_ids {
                ids[i].unwrap_or(i as i64 + 1)
            } else {
                i as i64 + 1
            }),
            sku: Some(sku.to_owned()),
            quantity: Some(quantity),
            unit_price: Some(unit_price.unwrap_or(Decimal::ZERO)),
            discount: None,
            tax: None,
            uom: po1.get(3).map(str::to_owned),
            attributes: Some(attributes),
        });
    }
    Ok(out)
}
