//! X12 856 advance ship notice → one [`ShipmentNotice`] per order in the shipment.
//!
//! An 856 is a tree of HL levels: shipment (`S`), order (`O`), tare/pack (`T`/`P`), item (`I`).
//! Partners use different shapes (S-O-P-I, S-O-I, S-O-T-P-I), so the mapping follows HL02 parent
//! links instead of assuming an order of levels: an item belongs to the nearest order above it.
//!
//! | notice | from |
//! |---|---|
//! | `order_ref`, `purchase_order` | PRF01 of the order level |
//! | `shipment_id` | BSN02 |
//! | `ship_date` | DTM\*011 (shipped) of the shipment level, else BSN03 (some senders put a malformed DTM there) |
//! | `node` | N1\*SF (ship from) of the shipment level: N104, else N102 |
//! | `carrier` | TD503 of the shipment level (the SCAC), else TD505 routing |
//! | `tracking` | the first MAN\*CP or MAN\*SM (carrier / shipper assigned package id) below the order, else REF\*CN (carrier's reference, PRO number) of the shipment |
//! | lines | one per item level: LIN01 (else SN101) as line number when numeric, the SKU from the LIN product id pairs chosen by [`super::PRODUCT_ID_PREFERENCE`], SN102 quantity, SN103 unit |
//!
//! The bill of lading (REF\*BM) and the serial shipping container codes (MAN\*GM) are kept in the
//! notice's attributes.

use std::collections::HashMap;

use serde_json::Value;

use super::{
    Blame, Interchange, MappingError, Problem, Segment, TransactionSet, preferred_product_id,
};
use crate::shipment::{ShipmentLine, ShipmentNotice};

/// The notices of every 856 in the interchange; other transaction sets are ignored.
pub fn notices(interchange: &Interchange<'_>) -> Result<Vec<ShipmentNotice>, MappingError> {
    let mut out = Vec::new();
    for set in interchange.transaction_sets().filter(|s| s.id() == "856") {
        out.extend(from_set(&set)?);
    }
    Ok(out)
}

struct Level<'a, 's> {
    hl: Segment<'s>,
    parent: Option<&'s str>,
    code: &'s str,
    segments: &'a [Segment<'s>],
}

/// The notices of one 856, one per order level, in document order.
pub fn from_set(set: &TransactionSet<'_>) -> Result<Vec<ShipmentNotice>, MappingError> {
    let blame = Blame::new(*set);
    if set.id() != "856" {
        let st = set.st();
        return Err(blame.at(
            &st,
            Some(1),
            Problem::InvalidValue,
            format!("transaction set {} is not an 856 ship notice", set.id()),
        ));
    }
    let segs: Vec<Segment<'_>> = set.body().collect();
    let bsn = segs.iter().find(|s| s.id() == "BSN").ok_or_else(|| {
        blame.missing_segment("BSN", "the BSN segment (shipment id and date) is missing")
    })?;
    let shipment_id = bsn.get(2).map(str::to_owned);
    let bsn_date = blame.date(bsn, 3)?;

    // Cut the body into levels: each HL with the segments up to the next HL or the summary.
    let mut levels: Vec<Level<'_, '_>> = Vec::new();
    let mut by_id: HashMap<&str, usize> = HashMap::new();
    let starts: Vec<usize> = segs
        .iter()
        .enumerate()
        .filter(|(_, s)| s.id() == "HL")
        .map(|(i, _)| i)
        .collect();
    for (k, &i) in starts.iter().enumerate() {
        let end = starts
            .get(k + 1)
            .copied()
            .or_else(|| {
                segs.iter()
                    .skip(i)
                    .position(|s| s.id() == "CTT")
                    .map(|p| i + p)
            })
            .unwrap_or(segs.len());
        let hl = segs[i];
        let id = blame.required(&hl, 1)?;
        let code = blame.required(&hl, 3)?;
        by_id.insert(id, levels.len());
        levels.push(Level {
            hl,
            parent: hl.get(2),
            code,
            segments: &segs[i + 1..end],
        });
    }
    let Some(shipment) = levels.iter().find(|l| l.code == "S") else {
        return Err(blame.missing_segment("HL", "there is no shipment level (HL03 = S)"));
    };

    let ship_date = shipment
        .segments
        .iter()
        .filter(|s| s.id() == "DTM" && s.get(1) == Some("011"))
        .find_map(|s| s.get(2).and_then(super::parse_date))
        .or(bsn_date);
    let carrier = shipment
        .segments
        .iter()
        .find(|s| s.id() == "TD5")
        .and_then(|td5| td5.get(3).or(td5.get(5)))
        .map(str::to_owned);
    let reference = |qual: &str| {
        shipment
            .segments
            .iter()
            .find(|s| s.id() == "REF" && s.get(1) == Some(qual))
            .and_then(|s| s.get(2))
    };
    let shipment_tracking = reference("CN");
    let node = super::parties(shipment.segments)
        .into_iter()
        .find(|p| p.entity == "SF")
        .and_then(|p| p.id.or(p.name));
    let bill_of_lading = reference("BM");

    // The order level above a level, following parent links (bounded, in case of a cycle).
    let order_of = |mut idx: usize| -> Option<usize> {
        for _ in 0..levels.len() {
            if levels[idx].code == "O" {
                return Some(idx);
            }
            idx = *by_id.get(levels[idx].parent?)?;
        }
        None
    };

    let mut notices = Vec::new();
    for (oi, order) in levels.iter().enumerate().filter(|(_, l)| l.code == "O") {
        let prf = order.segments.iter().find(|s| s.id() == "PRF").ok_or_else(|| {
            blame.at(
                &order.hl,
                None,
                Problem::MissingSegment,
                format!(
                    "order level HL {} has no PRF segment, so the shipment cannot be matched to an order",
                    order.hl.get(1).unwrap_or("?")
                ),
            )
            .blaming("PRF")
        })?;
        let po = blame.required(prf, 1)?;

        let mut lines = Vec::new();
        let mut tracking = None;
        let mut sscc = Vec::new();
        for (li, level) in levels.iter().enumerate() {
            if li == oi || order_of(li) != Some(oi) {
                continue;
            }
            for man in level.segments.iter().filter(|s| s.id() == "MAN") {
                match (man.get(1), man.get(2)) {
                    (Some("CP" | "SM"), Some(id)) if tracking.is_none() => tracking = Some(id),
                    (Some("GM"), Some(id)) => sscc.push(Value::from(id)),
                    _ => {}
                }
            }
            if level.code == "I" {
                lines.push(item_line(&blame, level)?);
            }
        }
        let mut attributes = serde_json::Map::new();
        if let Some(bol) = bill_of_lading {
            attributes.insert("bill_of_lading".into(), Value::from(bol));
        }
        if !sscc.is_empty() {
            attributes.insert("sscc".into(), Value::Array(sscc));
        }
        if let Some(date) = prf.get(4).and_then(super::parse_date) {
            attributes.insert("purchase_order_date".into(), Value::from(date.to_string()));
        }
        notices.push(ShipmentNotice {
            order_ref: po.to_owned(),
            purchase_order: Some(po.to_owned()),
            shipment_id: shipment_id.clone(),
            node: node.clone(),
            lines,
            carrier: carrier.clone(),
            tracking: tracking.or(shipment_tracking).map(str::to_owned),
            ship_date,
            attributes,
        });
    }
    if notices.is_empty() {
        return Err(blame.missing_segment("HL", "there is no order level (HL03 = O)"));
    }
    Ok(notices)
}

fn item_line(blame: &Blame<'_>, level: &Level<'_, '_>) -> Result<ShipmentLine, MappingError> {
    let lin = level.segments.iter().find(|s| s.id() == "LIN");
    let sn1 = level
        .segments
        .iter()
        .find(|s| s.id() == "SN1")
        .ok_or_else(|| {
            blame
                .at(
                    &level.hl,
                    None,
                    Problem::MissingSegment,
                    format!(
                        "item level HL {} has no SN1 (shipped quantity)",
                        level.hl.get(1).unwrap_or("?")
                    ),
                )
                .blaming("SN1")
        })?;
    let quantity = shipped_quantity(blame, sn1, 2)?;
    let numeric = |v: Option<&str>| v.and_then(|v| v.parse::<u32>().ok());
    Ok(ShipmentLine {
        line_no: numeric(lin.and_then(|l| l.get(1))).or_else(|| numeric(sn1.get(1))),
        sku: lin
            .and_then(|l| preferred_product_id(l.pairs(2)))
            .map(|(_, id)| id.to_owned()),
        quantity,
        uom: sn1.get(3).map(str::to_owned),
    })
}

/// A shipped quantity: a whole, non-negative number that fits a line quantity.
pub(crate) fn shipped_quantity(
    blame: &Blame<'_>,
    seg: &Segment<'_>,
    n: usize,
) -> Result<u32, MappingError> {
    let q = blame.quantity(seg, n)?;
    u32::try_from(q).map_err(|_| {
        blame.at(
            seg,
            Some(n),
            Problem::InvalidValue,
            format!("{q} is not a shippable quantity"),
        )
    })
}
