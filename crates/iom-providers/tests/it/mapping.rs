use iom_providers::mapping::{MappingKind, Mappings, Unmapped};
use iom_providers::x12;
use serde_json::json;

use crate::{sample, valid};

fn po850a() -> iom_domain::OrderIntake {
    let data = sample("x12/EDI.Net_x12.850a.edi");
    let ix = x12::parse(&data).unwrap();
    x12::po850::orders(&ix, "edi").unwrap().remove(0)
}

fn mappings(value: serde_json::Value) -> Mappings {
    serde_json::from_value(value).unwrap()
}

#[test]
fn complete_tables_translate() {
    let m = mappings(json!({
        "sku": {"A_QU001-BLK": "QUILT-BLK", "A_QF001-BLK": "FLANNEL-BLK", "A_QF001-RED": "FLANNEL-RED"},
        "ship_method": {"L": "freight"},
        "uom": {"YD": "yard"},
        "customer": {"1500": "C-1500"}
    }));
    let order = valid(&m.apply(po850a()).unwrap());
    let skus: Vec<_> = order.lines.iter().map(|l| l.sku.as_str()).collect();
    assert_eq!(skus, ["QUILT-BLK", "FLANNEL-BLK", "FLANNEL-RED"]);
    assert!(order.lines.iter().all(|l| l.uom.as_deref() == Some("yard")));
    assert_eq!(order.ship_method.as_deref(), Some("freight"));
    assert_eq!(order.customer.unwrap().id.as_deref(), Some("C-1500"));
}

#[test]
fn every_unmapped_value_is_listed() {
    let m = mappings(json!({
        "sku": {"A_QU001-BLK": "QUILT-BLK"},
        "ship_method": {"UPSG": "ground"},
        "customer": {"9": "C-9"}
    }));
    let err = m.apply(po850a()).unwrap_err();
    assert_eq!(
        err.0,
        [
            Unmapped {
                kind: MappingKind::ShipMethod,
                value: "L".into(),
                field: "ship_method".into()
            },
            Unmapped {
                kind: MappingKind::Customer,
                value: "1500".into(),
                field: "customer.id".into()
            },
            Unmapped {
                kind: MappingKind::Sku,
                value: "A_QF001-BLK".into(),
                field: "lines[1].sku".into()
            },
            Unmapped {
                kind: MappingKind::Sku,
                value: "A_QF001-RED".into(),
                field: "lines[2].sku".into()
            },
        ]
    );
    assert_eq!(
        err.to_string(),
        "no mapping for ship_method \"L\" (ship_method), customer \"1500\" (customer.id), sku \"A_QF001-BLK\" (lines[1].sku), sku \"A_QF001-RED\" (lines[2].sku)"
    );
}

#[test]
fn empty_tables_pass_values_through() {
    let m = Mappings::default();
    assert!(m.is_empty());
    let order = valid(&m.apply(po850a()).unwrap());
    assert_eq!(order.lines[0].sku, "A_QU001-BLK");
    // Only the uom table is filled: the SKUs still pass.
    let m = mappings(json!({"uom": {"YD": "yd"}}));
    let order = valid(&m.apply(po850a()).unwrap());
    assert_eq!(
        (order.lines[0].sku.as_str(), order.lines[0].uom.as_deref()),
        ("A_QU001-BLK", Some("yd"))
    );
}

#[test]
fn node_attributes_and_shipments() {
    let m = mappings(json!({
        "node": {"CHI": "WH-CHICAGO"},
        "sku": {"123456789": "WIDGET-100"}
    }));
    let data = sample("x12/x12-types_945_1.edi");
    let ix = x12::parse(&data).unwrap();
    let notice = x12::ship945::notices(&ix).unwrap().remove(0);
    let mapped = m.apply_to_shipment(notice.clone()).unwrap();
    assert_eq!(mapped.node.as_deref(), Some("WH-CHICAGO"));
    assert_eq!(mapped.lines[0].sku.as_deref(), Some("WIDGET-100"));

    let m = mappings(json!({"node": {"DAL": "WH-DALLAS"}}));
    let err = m.apply_to_shipment(notice).unwrap_err();
    assert_eq!(err.0.len(), 1);
    assert_eq!(
        (err.0[0].kind, err.0[0].value.as_str()),
        (MappingKind::Node, "CHI")
    );

    // An order attribute "node" (e.g. marketplace-fulfilled) is mapped too.
    let mut intake = po850a();
    intake
        .attributes
        .get_or_insert_with(Default::default)
        .insert("node".into(), json!("AFN-1"));
    let m = mappings(json!({"node": {"AFN-1": "FBA-US"}}));
    let mapped = m.apply(intake).unwrap();
    assert_eq!(mapped.attributes.unwrap()["node"], json!("FBA-US"));
}
