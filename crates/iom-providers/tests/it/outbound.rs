//! The X12 documents iom sends (855, 856, 810, 940): each is parsed back with iom's own parser
//! (no warning: counts and control numbers add up), uses only segments the conformance samples of
//! its kind use, and says what the order says. The 856 goes round: read by the inbound 856
//! mapping, it ships exactly the lines it announced.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use iom_domain::Order;
use iom_domain::order::{LineQuantityRequest, ShipmentRequest};
use iom_providers::x12::outbound::{
    Outgoing, invoice_810, invoice_amounts, po_ack_855, ship_notice_856, shipping_order_940,
};
use iom_providers::x12::writer::{EnvelopeSettings, WriteError};
use iom_providers::x12::{self, Segment};
use rust_decimal::Decimal;
use serde_json::json;

use super::{dec, now, sample, valid};

fn envelope() -> EnvelopeSettings {
    serde_json::from_value(json!({
        "sender_id": "IOMRETAIL",
        "sender_qualifier": "12",
        "receiver_qualifier": "ZZ",
    }))
    .unwrap()
}

fn at() -> chrono::NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 3, 4)
        .unwrap()
        .and_hms_opt(5, 6, 0)
        .unwrap()
}

/// The three-line 850 sample as iom stores it.
fn order_850() -> Order {
    let data = sample("x12/EDI.Net_x12.850a.edi");
    let ix = x12::parse(&data).unwrap();
    valid(&x12::po850::orders(&ix, "edi-acme").unwrap()[0])
}

fn ship(order: &mut Order, lines: &[(u32, u32)], tracking: &str) {
    order
        .record_shipment(
            ShipmentRequest {
                node: Some("DC-LAREDO".into()),
                lines: Some(
                    lines
                        .iter()
                        .map(|(l, q)| LineQuantityRequest {
                            line_no: Some((*l).into()),
                            quantity: Some((*q).into()),
                        })
                        .collect(),
                ),
                carrier: Some("UPSN".into()),
                tracking: Some(tracking.into()),
            },
            now(),
        )
        .unwrap();
}

/// Segment ids every conformance sample of `set_id` uses, envelopes included.
fn sample_segments(set_id: &str) -> BTreeSet<String> {
    let dir = format!(
        "{}/../../../shared/conformance/x12",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut ids = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let Ok(ix) = x12::parse(&data) else { continue };
        if ix.transaction_sets().any(|s| s.id() == set_id) {
            ids.extend(ix.segments().map(|s| s.id().to_owned()));
        }
    }
    assert!(!ids.is_empty(), "no sample of {set_id}");
    ids
}

/// Parses `doc` back: one interchange, one group, one set of `set_id`, no warning; returns the
/// body's segments as owned element lists.
fn parse_back(doc: &str, set_id: &str, control: u64) -> Vec<Vec<String>> {
    let ix = x12::parse(doc.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{doc}"));
    assert!(ix.warnings().is_empty(), "{:?}\n{doc}", ix.warnings());
    let isa = ix.isa().unwrap();
    // To the partner of an 850, iom is who the 850 was addressed to (as its 997 says); to
    // anyone else, who the settings say.
    let expected = if isa.get(8).map(str::trim) == Some("000123456") {
        ("ZZ", "TEST2")
    } else {
        ("12", "IOMRETAIL")
    };
    assert_eq!(isa.get(5), Some(expected.0));
    assert_eq!(isa.get(6).map(str::trim), Some(expected.1));
    assert_eq!(isa.get(13), Some(format!("{control:09}").as_str()));
    assert_eq!(ix.groups().len(), 1);
    let group = ix.groups().next().unwrap();
    assert_eq!(group.control_number(), Some(control.to_string().as_str()));
    let sets: Vec<_> = group.transaction_sets().collect();
    assert_eq!(sets.len(), 1);
    assert_eq!(sets[0].id(), set_id);
    assert_eq!(sets[0].control_number(), format!("{control:04}"));
    sets[0]
        .body()
        .map(|s: Segment<'_>| {
            std::iter::once(s.id())
                .chain(s.elements().iter().copied())
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

fn ids(body: &[Vec<String>]) -> BTreeSet<String> {
    body.iter().map(|s| s[0].clone()).collect()
}

fn find<'b>(body: &'b [Vec<String>], id: &str) -> Vec<&'b Vec<String>> {
    body.iter().filter(|s| s[0] == id).collect()
}

#[test]
fn po_ack_855_echoes_the_po_and_accepts_each_line() {
    let order = order_850();
    let out = Outgoing {
        envelope: &envelope(),
        control: 41,
        at: at(),
        learned: None,
    };
    let doc = po_ack_855(&order, &out).unwrap();
    let body = parse_back(&doc, "855", 41);
    // The partner is the 850's sender when the settings name none.
    let ix = x12::parse(doc.as_bytes()).unwrap();
    let isa = ix.isa().unwrap();
    assert_eq!(
        isa.get(8).map(str::trim),
        order.attributes["x12_sender"].as_str()
    );
    // Its qualifier (01, DUNS) and usage (T) as the 850 had them.
    assert_eq!(isa.get(7), Some("01"));
    assert_eq!(isa.get(15), Some("T"));
    let bak = &find(&body, "BAK")[0];
    assert_eq!(bak[1..5], ["00", "AD", "4600000406", "20140724"]);
    // BAK08: the order id in 25 characters, which reads back as the order.
    assert!(bak[8].len() <= 25, "{}", bak[8]);
    assert_eq!(
        x12::outbound::order_of_reference(&bak[8]).map(|u| u.to_string()),
        Some(order.id.to_string())
    );
    let po1 = find(&body, "PO1");
    assert_eq!(po1.len(), 3);
    assert_eq!(
        po1[0][1..8],
        ["000100001", "2500", "YD", "2.53", "WE", "BP", "A_QU001-BLK"]
    );
    let acks = find(&body, "ACK");
    assert_eq!(
        acks.iter().map(|a| a[2].as_str()).collect::<Vec<_>>(),
        ["2500", "2000", "1000"]
    );
    assert!(acks.iter().all(|a| a[1] == "IA"));
    assert_eq!(find(&body, "CTT")[0][1..3], ["3", "5500"]);
    let allowed: BTreeSet<String> = ["BAK", "CUR", "N1", "N3", "N4", "PO1", "ACK", "CTT"]
        .map(String::from)
        .into();
    assert!(ids(&body).is_subset(&allowed), "{:?}", ids(&body));
}

#[test]
fn po_ack_855_reports_a_cancelled_quantity_as_a_change() {
    let mut order = order_850();
    order
        .cancel_line(100001, Some(500), "short", now())
        .unwrap();
    let doc = po_ack_855(
        &order,
        &Outgoing {
            envelope: &envelope(),
            control: 7,
            at: at(),
            learned: None,
        },
    )
    .unwrap();
    let body = parse_back(&doc, "855", 7);
    assert_eq!(find(&body, "BAK")[0][2], "AC");
    let acks = find(&body, "ACK");
    assert_eq!(acks[0][1..3], ["IA", "2000"]);
    assert_eq!(acks[1][1..3], ["IR", "500"]);
}

#[test]
fn ship_notice_856_is_read_back_as_the_same_shipment() {
    let mut order = order_850();
    ship(
        &mut order,
        &[(100001, 2500), (200002, 400)],
        "1Z999AA10123456784",
    );
    let shipment = order.shipments[0].clone();
    let doc = ship_notice_856(
        &order,
        &shipment,
        Some("Laredo DC"),
        &Outgoing {
            envelope: &envelope(),
            control: 123_456,
            at: at(),
            learned: None,
        },
    )
    .unwrap();
    let body = parse_back(&doc, "856", 123_456);
    let structure = sample_segments("856");
    assert!(
        ids(&body).is_subset(&structure),
        "{:?} not in {structure:?}",
        ids(&body)
    );
    let ix = x12::parse(doc.as_bytes()).unwrap();
    let notices = x12::ship856::notices(&ix).unwrap();
    assert_eq!(notices.len(), 1);
    let notice = &notices[0];
    assert_eq!(notice.order_ref, "4600000406");
    assert_eq!(notice.node.as_deref(), Some("DC-LAREDO"));
    assert_eq!(notice.carrier.as_deref(), Some("UPSN"));
    assert_eq!(notice.tracking.as_deref(), Some("1Z999AA10123456784"));
    assert_eq!(
        notice
            .lines
            .iter()
            .map(|l| (l.line_no, l.sku.as_deref(), l.quantity))
            .collect::<Vec<_>>(),
        [
            (Some(100001), Some("A_QU001-BLK"), 2500),
            (Some(200002), Some("A_QF001-RED"), 400)
        ]
    );
    // Applied to the order before that shipment, it ships the same lines and quantities.
    let mut before = order.clone();
    before.shipments.clear();
    for line in &mut before.lines {
        line.shipped_quantity = 0;
    }
    let request = iom_providers::inbound::plan_shipment(notice, &before, None).unwrap();
    let planned: Vec<_> = request
        .lines
        .unwrap()
        .iter()
        .map(|l| (l.line_no.unwrap(), l.quantity.unwrap()))
        .collect();
    assert_eq!(planned, [(100001, 2500), (200002, 400)]);
}

#[test]
fn invoices_810_of_every_shipment_add_up_to_the_order_total() {
    let data = br#"{"external_id":"PO-77","channel":"edi","currency":"USD",
        "placed_at":"2026-01-01T00:00:00Z","shipping_amount":"7.99",
        "ship_to":{"name":"Ann Smith","line1":"1 Main St","city":"Austin","region":"TX","postal_code":"78701","country":"US"},
        "lines":[
          {"sku":"A","quantity":3,"unit_price":"3.33","discount":"1.00","tax":"0.83"},
          {"sku":"B","quantity":1,"unit_price":"10.10","tax":"0.81"}]}"#;
    let intake: iom_domain::OrderIntake = serde_json::from_slice(data).unwrap();
    let mut order = valid(&intake);
    ship(&mut order, &[(1, 1)], "T1");
    ship(&mut order, &[(1, 1), (2, 1)], "T2");
    ship(&mut order, &[(1, 1)], "T3");
    let env = serde_json::from_value::<EnvelopeSettings>(json!({
        "sender_id": "IOMRETAIL", "sender_qualifier": "12", "receiver_id": "BUYER"
    }))
    .unwrap();
    let structure = sample_segments("810");
    let mut total = Decimal::ZERO;
    let mut tds_cents = 0i64;
    for index in 0..3 {
        let amounts = invoice_amounts(&order, index).unwrap();
        total += amounts.total;
        let control = 900 + index as u64;
        let doc = invoice_810(
            &order,
            index,
            &Outgoing {
                envelope: &env,
                control,
                at: at(),
                learned: None,
            },
        )
        .unwrap();
        assert_eq!(doc.references, [format!("PO-77-{}", index + 1)]);
        let body = parse_back(&doc.text, "810", control);
        let mut extra = ids(&body);
        extra.retain(|id| !structure.contains(id));
        // SAC (allowances and charges) is in EDI.Net's 810 samples, which the parser reads.
        assert!(extra.is_empty(), "{extra:?}");
        let big = &find(&body, "BIG")[0];
        assert_eq!(big[2], format!("PO-77-{}", index + 1));
        assert_eq!(big[4], "PO-77");
        tds_cents += find(&body, "TDS")[0][1].parse::<i64>().unwrap();
        let it1 = find(&body, "IT1");
        assert_eq!(it1.len(), order.shipments[index].lines.len());
        assert_eq!(it1[0][5], "");
        assert_eq!(it1[0][6], "VP");
    }
    // 3 × 3.33 − 1.00 + 0.83 and 10.10 + 0.81, plus 7.99 shipping, over three invoices.
    assert_eq!(total, order.totals.total);
    assert_eq!(total, dec("28.72"));
    assert_eq!(tds_cents, 2872);
    // The discount and tax of line 1 are shared out by cumulative rounding: 0.33 + 0.34 + 0.33.
    let shares: Vec<Decimal> = (0..3)
        .map(|i| {
            invoice_amounts(&order, i)
                .unwrap()
                .lines
                .iter()
                .find(|l| l.line_no == 1)
                .unwrap()
                .line_discount
        })
        .collect();
    assert_eq!(shares.iter().copied().sum::<Decimal>(), dec("1.00"));
    assert_eq!(shares, [dec("0.33"), dec("0.34"), dec("0.33")]);
}

#[test]
fn shipping_order_940_lists_the_released_lines() {
    let order = order_850();
    let lines = [
        iom_domain::order::LineQuantity {
            line_no: 100001,
            quantity: 2500,
        },
        iom_domain::order::LineQuantity {
            line_no: 200001,
            quantity: 2000,
        },
    ];
    let env = serde_json::from_value::<EnvelopeSettings>(json!({
        "sender_id": "IOMRETAIL", "sender_qualifier": "12", "receiver_id": "WHSE3PL",
        "version": "00501", "line_breaks": true
    }))
    .unwrap();
    let doc = shipping_order_940(
        &order,
        "DC-LAREDO",
        &lines,
        &Outgoing {
            envelope: &env,
            control: 5,
            at: at(),
            learned: None,
        },
    )
    .unwrap();
    assert_eq!(doc.references, ["4600000406"]);
    let doc = doc.text;
    assert!(doc.contains("~\n"));
    let body = parse_back(&doc, "940", 5);
    let ix = x12::parse(doc.as_bytes()).unwrap();
    assert_eq!(ix.isa().unwrap().get(12), Some("00501"));
    assert_eq!(ix.isa().unwrap().get(11), Some("^"));
    let structure = sample_segments("940");
    assert!(ids(&body).is_subset(&structure), "{:?}", ids(&body));
    assert_eq!(
        find(&body, "W05")[0][1..4],
        ["N", "4600000406", "4600000406"]
    );
    let w01 = find(&body, "W01");
    assert_eq!(w01[0][1..6], ["2500", "YD", "", "VN", "A_QU001-BLK"]);
    assert_eq!(w01[1][1..6], ["2000", "YD", "", "VN", "A_QF001-BLK"]);
    // LX counts the lines; N9*LI carries iom's line number.
    let lx: Vec<&str> = find(&body, "LX").iter().map(|s| s[1].as_str()).collect();
    assert_eq!(lx, ["1", "2"]);
    let li: Vec<&str> = find(&body, "N9")
        .iter()
        .filter(|s| s[1] == "LI")
        .map(|s| s[2].as_str())
        .collect();
    assert_eq!(li, ["100001", "200001"]);
    assert_eq!(find(&body, "W76")[0][1], "4500");
}

#[test]
fn separators_inside_values_cannot_break_the_document() {
    let mut order = order_850();
    order.ship_to.as_mut().unwrap().name = Some("A*B~C>D".into());
    let doc = po_ack_855(
        &order,
        &Outgoing {
            envelope: &envelope(),
            control: 1,
            at: at(),
            learned: None,
        },
    )
    .unwrap();
    let body = parse_back(&doc, "855", 1);
    assert_eq!(find(&body, "N1")[0][2], "A B C D");
}

#[test]
fn bad_envelope_settings_name_the_field() {
    let order = order_850();
    let mut env = envelope();
    env.sender_id = "A_VERY_LONG_INTERCHANGE_ID".into();
    let out = Outgoing {
        envelope: &env,
        control: 1,
        at: at(),
        learned: None,
    };
    match po_ack_855(&order, &out) {
        Err(WriteError::Settings { field, .. }) => assert_eq!(field, "sender_id"),
        other => panic!("{other:?}"),
    }
    // What an operator sets for a partner wins over what its 850 said.
    let mut env = envelope();
    env.partners.insert(
        "000123456".into(),
        iom_providers::x12::writer::Partner {
            element_separator: Some('~'),
            ..Default::default()
        },
    );
    let out = Outgoing {
        envelope: &env,
        control: 1,
        at: at(),
        learned: None,
    };
    assert!(matches!(
        po_ack_855(&order, &out),
        Err(WriteError::Settings { .. })
    ));
    // An order from another channel has no 850 sender to answer to.
    let mut other = order.clone();
    other.attributes.remove("x12_sender");
    other.attributes.remove("x12_partner");
    let env = envelope();
    let out = Outgoing {
        envelope: &env,
        control: 1,
        at: at(),
        learned: None,
    };
    match po_ack_855(&other, &out) {
        Err(WriteError::Settings { field, .. }) => assert_eq!(field, "receiver_id"),
        other => panic!("{other:?}"),
    }
}
