//! The plan as callers see it: JSON shape, explanations, reasons.

use iom_domain::GeoPoint;
use iom_sourcing::{Availability, Network, Node, NodeKind, PlanLine, PlanRequest, Profile, plan};

fn setup() -> (Network, Availability) {
    let mut a = Node::new("A", NodeKind::Warehouse, GeoPoint::new(0.0, 1.0).unwrap());
    a.costs.per_shipment = rust_decimal::Decimal::new(450, 2);
    let b = Node::new("B", NodeKind::Store, GeoPoint::new(0.0, 10.0).unwrap());
    let net = Network::new(vec![a, b], vec![]).unwrap();
    let mut avail = Availability::new(&net);
    avail.set_stock(&net, "S1", "A", 5).unwrap();
    (net, avail)
}

fn request(lines: Vec<(u32, &str, u32)>) -> PlanRequest {
    PlanRequest {
        order_ref: Some("O-1".into()),
        lines: lines
            .into_iter()
            .map(|(line_no, sku, quantity)| PlanLine {
                line_no,
                sku: sku.into(),
                quantity,
                weight_kg: None,
            })
            .collect(),
        ship_to: GeoPoint::new(0.0, 0.0),
        postal_code: None,
        city: None,
        country: None,
        now: "2026-11-26T10:00:00Z".parse().unwrap(),
    }
}

#[test]
fn plan_json_has_the_contract_fields() {
    let (net, avail) = setup();
    let p = plan(
        &request(vec![(1, "S1", 2), (2, "S2", 1)]),
        &net,
        &avail,
        &Profile::default(),
    )
    .unwrap();
    let v = serde_json::to_value(&p).unwrap();
    assert_eq!(v["assignments"][0]["line_no"], 1);
    assert_eq!(v["assignments"][0]["node"], "A");
    assert_eq!(v["assignments"][0]["quantity"], 2);
    assert_eq!(v["unassigned"][0]["line_no"], 2);
    assert_eq!(v["unassigned"][0]["quantity"], 1);
    assert_eq!(v["unassigned"][0]["reason"], "no_stock");
    assert_eq!(v["shipments"], 1);
    assert_eq!(v["cost"], "4.50");
    assert_eq!(v["distance_km"], 111.2);
    assert_eq!(v["status"], "partially_sourced");
    assert_eq!(v["lines"][0]["status"], "fully_sourced");
    assert_eq!(v["lines"][1]["status"], "not_sourced");
    let explanation = v["explanation"].as_array().unwrap();
    assert_eq!(explanation.len(), 2);
    assert_eq!(explanation[0]["verdict"], "chosen");
    assert_eq!(explanation[1]["verdict"], "rejected");
    assert_eq!(explanation[1]["reasons"][0], "no_stock");
    // And it reads back.
    let back: iom_sourcing::Plan = serde_json::from_value(v).unwrap();
    assert_eq!(back, p);
}

#[test]
fn plan_request_reads_json_and_empty_profile_is_default() {
    let req: PlanRequest = serde_json::from_str(
        r#"{"lines":[{"line_no":1,"sku":"S1","quantity":1}],"ship_to":{"lat":0,"lon":0},"now":"2026-11-26T10:00:00Z"}"#,
    )
    .unwrap();
    let profile: Profile = serde_json::from_str("{}").unwrap();
    let (net, avail) = setup();
    let p = plan(&req, &net, &avail, &profile).unwrap();
    assert_eq!(p.units_sourced(), 1);
    assert_eq!(p.ship_date, Some("2026-11-26".parse().unwrap()));
}

#[test]
fn availability_from_another_network_is_refused() {
    let (net, _) = setup();
    let other = Network::new(
        vec![Node::new(
            "X",
            NodeKind::Store,
            GeoPoint::new(1.0, 1.0).unwrap(),
        )],
        vec![],
    )
    .unwrap();
    let avail = Availability::new(&other);
    let err = plan(
        &request(vec![(1, "S1", 1)]),
        &net,
        &avail,
        &Profile::default(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        iom_sourcing::SourcingError::NetworkMismatch {
            expected: 2,
            actual: 1
        }
    );
}

#[test]
fn too_far_reason_names_the_nearest_blocked_node() {
    let (net, avail) = setup();
    let profile = Profile {
        max_distance_km: Some(50.0),
        ..Profile::default()
    };
    let p = plan(&request(vec![(1, "S1", 1)]), &net, &avail, &profile).unwrap();
    assert_eq!(p.unassigned.len(), 1);
    assert_eq!(p.unassigned[0].reason, iom_sourcing::Reason::TooFar);
    assert!(
        p.unassigned[0].detail.contains("A at 111 km"),
        "{}",
        p.unassigned[0].detail
    );
}
