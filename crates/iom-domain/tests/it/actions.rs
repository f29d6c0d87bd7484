use iom_domain::order::{LineQuantityRequest, ShipmentRequest};
use iom_domain::{DomainError, LineStatus, OrderStatus};
use proptest::prelude::*;

use super::{now, order};

fn ship(lines: &[(u32, u32)]) -> ShipmentRequest {
    ShipmentRequest {
        node: Some("WH1".into()),
        lines: Some(
            lines
                .iter()
                .map(|(l, q)| LineQuantityRequest {
                    line_no: Some(i64::from(*l)),
                    quantity: Some(i64::from(*q)),
                })
                .collect(),
        ),
        carrier: Some("UPS".into()),
        tracking: Some("1Z".into()),
    }
}

fn lines(lines: &[(u32, u32)]) -> Option<Vec<LineQuantityRequest>> {
    ship(lines).lines
}

fn kinds(events: &[iom_domain::EventDraft]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

#[test]
fn hold_and_release_return_to_the_previous_status() {
    let mut o = order(&[1]);
    let events = o.hold("credit", Some("limit".into()), now()).unwrap();
    assert_eq!(kinds(&events), vec!["order.held"]);
    assert_eq!(o.status, OrderStatus::OnHold);
    assert_eq!(o.status_reason.as_deref(), Some("credit"));
    o.release_hold(None, now()).unwrap();
    assert_eq!(o.status, OrderStatus::Received);
    assert_eq!(o.status_reason, None);
    assert!(matches!(
        o.release_hold(None, now()),
        Err(DomainError::Conflict(_))
    ));
}

#[test]
fn shipping_then_cancelling_the_rest() {
    let mut o = order(&[3, 2]);
    let events = o.record_shipment(ship(&[(1, 2)]), now()).unwrap();
    assert_eq!(
        kinds(&events),
        vec!["order.shipment_created", "order.partially_shipped"]
    );
    assert_eq!(o.status, OrderStatus::PartiallyShipped);
    // The whole order can no longer be cancelled, and not more than is open of a line.
    assert!(matches!(
        o.cancel("manual", now()),
        Err(DomainError::Conflict(_))
    ));
    assert!(matches!(
        o.cancel_line(1, Some(2), "manual", now()),
        Err(DomainError::Conflict(_))
    ));
    let before = o.clone();
    assert!(o.record_shipment(ship(&[(1, 2)]), now()).is_err());
    assert_eq!(o, before, "a refused change leaves the order as it was");

    let events = o.cancel_line(1, None, "customer_request", now()).unwrap();
    assert_eq!(kinds(&events), vec!["order.line_cancelled"]);
    assert_eq!(o.lines[0].status, LineStatus::Shipped);
    assert_eq!(o.lines[0].cancelled_quantity, 1);
    o.cancel_line(2, None, "customer_request", now()).unwrap();
    assert_eq!(o.lines[1].status, LineStatus::Cancelled);
    assert_eq!(o.status, OrderStatus::Shipped);
    assert_eq!(o.totals.subtotal.to_string(), "20.00");

    let events = o.record_delivery(lines(&[(1, 2)]), now()).unwrap();
    assert_eq!(
        kinds(&events),
        vec!["order.delivery_recorded", "order.delivered"]
    );
    assert_eq!(o.status, OrderStatus::Delivered);
}

#[test]
fn cancelling_an_unshipped_order_announces_what_it_releases() {
    let mut o = order(&[3, 2]);
    o.cancel_line(1, Some(1), "manual", now()).unwrap();
    let events = o.cancel("fraud", now()).unwrap();
    assert_eq!(kinds(&events), vec!["order.cancelled"]);
    assert_eq!(
        events[0].data["lines"],
        serde_json::json!([{"line_no": 1, "quantity": 2}, {"line_no": 2, "quantity": 2}])
    );
    assert_eq!(o.status, OrderStatus::Cancelled);
    assert_eq!(o.status_reason.as_deref(), Some("fraud"));
    assert!(matches!(
        o.cancel("fraud", now()),
        Err(DomainError::Conflict(_))
    ));
}

#[test]
fn shipment_requests_are_checked_field_by_field() {
    let mut o = order(&[1]);
    let err = o
        .record_shipment(
            ShipmentRequest {
                node: None,
                lines: Some(vec![
                    LineQuantityRequest {
                        line_no: Some(9),
                        quantity: Some(1),
                    },
                    LineQuantityRequest {
                        line_no: Some(1),
                        quantity: Some(0),
                    },
                ]),
                ..Default::default()
            },
            now(),
        )
        .unwrap_err();
    let DomainError::Invalid(errors) = err else {
        panic!("expected invalid")
    };
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        vec!["node", "lines[0].line_no", "lines[1].quantity"]
    );
}

#[test]
fn a_held_order_cannot_ship_or_be_released_to_nodes() {
    let mut o = order(&[1]);
    o.hold("manual", None, now()).unwrap();
    assert!(matches!(
        o.record_shipment(ship(&[(1, 1)]), now()),
        Err(DomainError::Conflict(_))
    ));
    assert!(matches!(
        o.set_line_stage(1, LineStatus::Released, None, None, now()),
        Err(DomainError::Conflict(_))
    ));
}

#[test]
fn line_stages_drive_the_order_status() {
    let mut o = order(&[1, 1]);
    o.set_line_stage(1, LineStatus::Released, Some("WH1".into()), None, now())
        .unwrap();
    assert_eq!(o.status, OrderStatus::Processing);
    o.set_line_stage(2, LineStatus::Backordered, None, None, now())
        .unwrap();
    assert_eq!(o.status, OrderStatus::Backordered);
    assert_eq!(o.status_reason.as_deref(), Some("no_inventory"));
    let events = o
        .set_line_stage(2, LineStatus::Released, None, None, now())
        .unwrap();
    assert_eq!(kinds(&events), vec!["order.released"]);
    assert_eq!(o.status, OrderStatus::Released);
    assert!(matches!(
        o.hold("manual", None, now()),
        Err(DomainError::Conflict(_))
    ));
}

#[derive(Debug, Clone)]
enum Action {
    Hold,
    Release,
    Cancel,
    CancelLine(u32, Option<u32>),
    Ship(u32, u32),
    Deliver(u32, u32),
    Stage(u32, LineStatus),
}

fn action() -> impl Strategy<Value = Action> {
    let line = 1u32..=3;
    let qty = 1u32..=4;
    let stage = prop_oneof![
        Just(LineStatus::Open),
        Just(LineStatus::Allocated),
        Just(LineStatus::Backordered),
        Just(LineStatus::Released)
    ];
    prop_oneof![
        Just(Action::Hold),
        Just(Action::Release),
        Just(Action::Cancel),
        (line.clone(), proptest::option::of(qty.clone()))
            .prop_map(|(l, q)| Action::CancelLine(l, q)),
        (line.clone(), qty.clone()).prop_map(|(l, q)| Action::Ship(l, q)),
        (line.clone(), qty).prop_map(|(l, q)| Action::Deliver(l, q)),
        (line, stage).prop_map(|(l, s)| Action::Stage(l, s)),
    ]
}

proptest! {
    /// Whatever sequence of actions is tried, every status change that happens is an allowed
    /// transition, quantities stay consistent, and a refused action changes nothing.
    #[test]
    fn random_actions_respect_the_status_machines(actions in proptest::collection::vec(action(), 1..40)) {
        let mut o = order(&[2, 3, 1]);
        for a in actions {
            let before = o.clone();
            let result = match a {
                Action::Hold => o.hold("manual", None, now()),
                Action::Release => o.release_hold(None, now()),
                Action::Cancel => o.cancel("manual", now()),
                Action::CancelLine(l, q) => o.cancel_line(l, q, "manual", now()),
                Action::Ship(l, q) => o.record_shipment(ship(&[(l, q)]), now()),
                Action::Deliver(l, q) => o.record_delivery(lines(&[(l, q)]), now()),
                Action::Stage(l, s) => o.set_line_stage(l, s, None, None, now()),
            };
            match result {
                Err(_) => prop_assert_eq!(&o, &before),
                Ok(_) => {
                    prop_assert!(before.status.can_become(o.status), "{} -> {}", before.status, o.status);
                    prop_assert_eq!(o.version, before.version + 1);
                    for (b, l) in before.lines.iter().zip(&o.lines) {
                        prop_assert!(b.status.can_become(l.status), "line {} -> {}", b.status, l.status);
                    }
                }
            }
            for l in &o.lines {
                prop_assert!(l.cancelled_quantity + l.shipped_quantity <= l.quantity);
                prop_assert!(l.delivered_quantity <= l.shipped_quantity);
            }
            prop_assert_eq!(o.status == OrderStatus::OnHold, !o.holds.is_empty());
        }
    }
}

fn amended_line(line_no: Option<u32>, sku: &str, quantity: u32) -> iom_domain::AmendedLine {
    iom_domain::AmendedLine {
        line_no,
        sku: sku.into(),
        quantity,
        unit_price: "10.00".parse().unwrap(),
        discount: Default::default(),
        tax: Default::default(),
        uom: None,
        attributes: Default::default(),
    }
}

#[test]
fn an_amendment_before_release_changes_lines_and_gives_back_reservations() {
    let mut o = order(&[2, 1, 1]);
    o.set_line_stage(1, LineStatus::Allocated, Some("WH1".into()), None, now())
        .unwrap();
    let sku = |o: &iom_domain::Order, n: u32| o.line(n).unwrap().sku.clone();
    let (s1, s2) = (sku(&o, 1), sku(&o, 2));
    let amendment = iom_domain::Amendment {
        ship_method: Some("express".into()),
        lines: Some(vec![
            amended_line(Some(1), &s1, 5),
            amended_line(Some(2), &s2, 1),
            amended_line(None, "NEW-1", 3),
        ]),
        ..Default::default()
    };
    let events = o.amend(amendment.clone(), now()).unwrap();
    assert_eq!(
        kinds(&events),
        vec!["order.amended", "order.line_cancelled"]
    );
    // Line 1 changed quantity: back to open, its reservation listed to be given back.
    assert_eq!(
        events[0].data["released"],
        serde_json::json!([{"line_no": 1, "quantity": 2}])
    );
    assert_eq!(
        events[0].data["changes"],
        serde_json::json!(["ship_method", "lines[1]", "lines[+]", "lines[3]"])
    );
    let line = o.line(1).unwrap();
    assert_eq!(
        (line.quantity, line.status, line.node.clone()),
        (5, LineStatus::Open, None)
    );
    // Line 3 was not listed: removed.
    assert_eq!(o.line(3).unwrap().status, LineStatus::Cancelled);
    assert_eq!(o.line(3).unwrap().status_reason.as_deref(), Some("removed"));
    assert_eq!(
        (o.line(4).unwrap().sku.as_str(), o.line(4).unwrap().quantity),
        ("NEW-1", 3)
    );
    assert_eq!(o.ship_method.as_deref(), Some("express"));

    // The same again changes nothing: no event, no new version.
    let version = o.version;
    let mut same = amendment;
    same.lines.as_mut().unwrap()[2].line_no = Some(4);
    assert!(o.amend(same, now()).unwrap().is_empty());
    assert_eq!(o.version, version);
}

#[test]
fn an_amendment_after_release_is_a_conflict_that_names_the_change() {
    let mut o = order(&[2]);
    o.set_line_stage(1, LineStatus::Released, Some("WH1".into()), None, now())
        .unwrap();
    let before = o.clone();
    let sku = o.line(1).unwrap().sku.clone();
    let err = o
        .amend(
            iom_domain::Amendment {
                lines: Some(vec![amended_line(Some(1), &sku, 3)]),
                ..Default::default()
            },
            now(),
        )
        .unwrap_err();
    match err {
        DomainError::Conflict(m) => {
            assert!(m.contains("released") && m.contains("lines[1]"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(o, before);
    // Removing every line is refused: that is a cancellation.
    let mut o = order(&[1]);
    let err = o
        .amend(
            iom_domain::Amendment {
                lines: Some(vec![]),
                ..Default::default()
            },
            now(),
        )
        .unwrap_err();
    assert!(matches!(err, DomainError::Invalid(_)), "{err:?}");
}

#[test]
fn a_referenced_shipment_ships_once_and_takes_new_tracking() {
    let mut o = order(&[2]);
    let events = o
        .record_referenced_shipment(ship(&[(1, 1)]), "F-1", now())
        .unwrap();
    assert_eq!(kinds(&events)[0], "order.shipment_created");
    // The same shipment again, with new tracking: nothing more ships.
    let mut again = ship(&[(1, 1)]);
    again.tracking = Some("1Z-NEW".into());
    let events = o.record_referenced_shipment(again, "F-1", now()).unwrap();
    assert_eq!(kinds(&events), vec!["order.shipment_updated"]);
    assert_eq!(o.shipments.len(), 1);
    assert_eq!(o.line(1).unwrap().shipped_quantity, 1);
    assert_eq!(
        o.shipment_by_reference("F-1").unwrap().tracking.as_deref(),
        Some("1Z-NEW")
    );
    // And once more unchanged: no event.
    let mut same = ship(&[(1, 1)]);
    same.tracking = Some("1Z-NEW".into());
    assert!(
        o.record_referenced_shipment(same, "F-1", now())
            .unwrap()
            .is_empty()
    );
}
