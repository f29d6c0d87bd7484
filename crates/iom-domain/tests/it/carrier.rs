use iom_domain::order::{LineQuantityRequest, ShipmentRequest};
use iom_domain::{OrderStatus, ShipmentLabel, TrackingStatus};

use super::{now, order};

fn label() -> ShipmentLabel {
    ShipmentLabel {
        provider: "easypost".into(),
        carrier_shipment_id: "shp_1".into(),
        service: "Priority".into(),
        cost: "7.90".parse().unwrap(),
        currency: "USD".into(),
        delivery_days: Some(2),
        format: "pdf".into(),
        promised_delivery_at: None,
    }
}

fn parcel(lines: &[(u32, u32)]) -> ShipmentRequest {
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
        carrier: Some("USPS".into()),
        tracking: Some("9400".into()),
    }
}

fn kinds(events: &[iom_domain::EventDraft]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

#[test]
fn a_labelled_shipment_is_recorded_once_per_purchase() {
    let mut o = order(&[2, 1]);
    let events = o
        .record_labelled_shipment(parcel(&[(1, 2)]), label(), "k1", now())
        .unwrap();
    assert!(kinds(&events).contains(&"order.shipment_created"));
    assert_eq!(o.shipments[0].label.as_ref().unwrap().service, "Priority");
    let again = o
        .record_labelled_shipment(parcel(&[(1, 2)]), label(), "k1", now())
        .unwrap();
    assert!(again.is_empty());
    assert_eq!(o.shipments.len(), 1);
    assert_eq!(o.status, OrderStatus::PartiallyShipped);
}

#[test]
fn tracking_moves_forward_only_and_delivered_records_the_delivery() {
    let mut o = order(&[2, 1]);
    o.record_labelled_shipment(parcel(&[(1, 2), (2, 1)]), label(), "k1", now())
        .unwrap();
    let id = o.shipments[0].id.clone();
    let t = |o: &mut iom_domain::Order, s| o.track_shipment(&id, s, None, now()).unwrap();
    assert_eq!(
        kinds(&t(&mut o, TrackingStatus::InTransit)),
        ["shipment.in_transit"]
    );
    assert!(
        t(&mut o, TrackingStatus::InTransit).is_empty(),
        "same status"
    );
    assert_eq!(
        kinds(&t(&mut o, TrackingStatus::OutForDelivery)),
        ["shipment.out_for_delivery"]
    );
    assert!(
        t(&mut o, TrackingStatus::InTransit).is_empty(),
        "late event"
    );
    assert_eq!(
        kinds(&t(&mut o, TrackingStatus::Exception)),
        ["shipment.exception"]
    );
    let delivered = t(&mut o, TrackingStatus::Delivered);
    assert!(kinds(&delivered).contains(&"shipment.delivered"));
    assert!(kinds(&delivered).contains(&"order.delivery_recorded"));
    assert_eq!(o.status, OrderStatus::Delivered);
    assert_eq!(o.lines[0].delivered_quantity, 2);
    assert!(
        t(&mut o, TrackingStatus::Exception).is_empty(),
        "after delivery"
    );
    assert!(
        o.track_shipment("nope", TrackingStatus::Delivered, None, now())
            .is_err()
    );
}
