//! X12 945 warehouse shipping advice → [`ShipmentNotice`] (one per 945: a 945 answers one 940
//! shipping order).
//!
//! | notice | from |
//! |---|---|
//! | `order_ref` | W0602, the depositor's order number: the number iom sent in the 940 (W0502); W0606 when W0602 is empty |
//! | `purchase_order` | W0606 |
//! | `shipment_id` | W0604 |
//! | `ship_date` | G62\*11 (shipped on), else W0603 |
//! | `node` | N1\*SF (ship from, the warehouse): N104, else N102 |
//! | `carrier` | W2702 (SCAC), else W2703 routing |
//! | `tracking` | N9 with qualifier `2I` (tracking number), `CN` (PRO number) or `08` (carrier package id) |
//! | lines | one per W12, numbered by the LX before it: W1203 units shipped, W1205 unit, the SKU from W1207 (vendor's item number), the W1208/W1209 pair and W1206 (UPC) chosen by [`super::PRODUCT_ID_PREFERENCE`] |
//!
//! Some senders shift W12 by one element and write the qualifier into W1207 and the id into
//! W1208 (`W12*CC*3000*3000*0*EA**VN*123456789*LOT12314`). A W1207 that is a known product id
//! qualifier followed by a W1208 that is not one is read that way.

use serde_json::Value;

use super::{
    Blame, Interchange, MappingError, PRODUCT_ID_PREFERENCE, Problem, Segment, TransactionSet,
    preferred_product_id, ship856::shipped_quantity,
};
use crate::shipment::{ShipmentLine, ShipmentNotice};

/// The notices of every 945 in the interchange; other transaction sets are ignored.
pub fn notices(interchange: &Interchange<'_>) -> Result<Vec<ShipmentNotice>, MappingError> {
    interchange
        .transaction_sets()
        .filter(|s| s.id() == "945")
        .map(|s| from_set(&s))
        .collect()
}

pub fn from_set(set: &TransactionSet<'_>) -> Result<ShipmentNotice, MappingError> {
    let blame = Blame::new(*set);
    if set.id() != "945" {
        let st = set.st();
        return Err(blame.at(
            &st,
            Some(1),
            Problem::InvalidValue,
            format!(
                "transaction set {} is not a 945 warehouse shipping advice",
                set.id()
            ),
        ));
    }
    let segs: Vec<Segment<'_>> = set.body().collect();
    let w06 = segs.iter().find(|s| s.id() == "W06").ok_or_else(|| {
        blame.missing_segment("W06", "the W06 segment (order and shipment ids) is missing")
    })?;
    let order_ref = match w06.get(2).or(w06.get(6)) {
        Some(r) => r,
        None => blame.required(w06, 2)?,
    };
    let w06_date = blame.date(w06, 3)?;
    let first_line = segs
        .iter()
        .position(|s| matches!(s.id(), "LX" | "W12"))
        .unwrap_or(segs.len());
    let header = &segs[..first_line];

    let ship_date = header
        .iter()
        .filter(|s| s.id() == "G62" && s.get(1) == Some("11"))
        .find_map(|s| s.get(2).and_then(super::parse_date))
        .or(w06_date);
    let carrier = segs
        .iter()
        .find(|s| s.id() == "W27")
        .and_then(|w27| w27.get(2).or(w27.get(3)))
        .map(str::to_owned);
    let n9 = |quals: &[&str]| {
        header
            .iter()
            .filter(|s| s.id() == "N9")
            .find(|s| s.get(1).is_some_and(|q| quals.contains(&q)))
            .and_then(|s| s.get(2))
    };
    let tracking = n9(&["2I", "CN", "08"]).map(str::to_owned);
    let node = super::parties(header)
        .into_iter()
        .find(|p| p.entity == "SF")
        .and_then(|p| p.id.or(p.name));

    let mut attributes = serde_json::Map::new();
    if let Some(bol) = n9(&["BM"]) {
        attributes.insert("bill_of_lading".into(), Value::from(bol));
    }
    if let Some(master) = w06.get(7) {
        attributes.insert("master_reference".into(), Value::from(master));
    }
    if let Some(status) = w06.get(1) {
        attributes.insert("reporting_code".into(), Value::from(status));
    }

    let mut lines = Vec::new();
    let mut line_no = None;
    for seg in &segs[first_line..] {
        match seg.id() {
            "LX" => line_no = seg.get(1).and_then(|v| v.parse::<u32>().ok()),
            "W12" => lines.push(ShipmentLine {
                line_no,
                sku: w12_sku(seg),
                quantity: shipped_quantity(&blame, seg, 3)?,
                uom: seg.get(5).map(str::to_owned),
            }),
            _ => {}
        }
    }
    if lines.is_empty() {
        return Err(blame.missing_segment("W12", "the shipping advice has no W12 line"));
    }
    Ok(ShipmentNotice {
        order_ref: order_ref.to_owned(),
        purchase_order: w06.get(6).map(str::to_owned),
        shipment_id: w06.get(4).map(str::to_owned),
        node,
        lines,
        carrier,
        tracking,
        ship_date,
        attributes,
    })
}

fn w12_sku(w12: &Segment<'_>) -> Option<String> {
    let is_qualifier = |v: Option<&str>| v.is_some_and(|v| PRODUCT_ID_PREFERENCE.contains(&v));
    let mut candidates = Vec::new();
    if is_qualifier(w12.get(7)) && !is_qualifier(w12.get(8)) && w12.get(8).is_some() {
        candidates.push((w12.get(7).unwrap_or(""), w12.get(8).unwrap_or("")));
    } else {
        if let Some(vn) = w12.get(7) {
            candidates.push(("VN", vn));
        }
        if let Some(id) = w12.get(9) {
            candidates.push((w12.get(8).unwrap_or(""), id));
        }
    }
    if let Some(upc) = w12.get(6) {
        candidates.push(("UP", upc));
    }
    preferred_product_id(candidates).map(|(_, id)| id.to_owned())
}
