//! Walks every pair of statuses: the pairs listed here are exactly the allowed ones, and the order
//! refuses every other change. The expected matrix is written out independently of the code's table.

use iom_domain::status::{LINE_TRANSITIONS, ORDER_TRANSITIONS};
use iom_domain::{LineStatus, OrderStatus};

/// From each status, the statuses it may become (itself aside).
const EXPECTED_ORDER: &[(&str, &[&str])] = &[
    (
        "received",
        &[
            "processing",
            "on_hold",
            "backordered",
            "released",
            "partially_shipped",
            "shipped",
            "cancelled",
        ],
    ),
    (
        "processing",
        &[
            "on_hold",
            "backordered",
            "released",
            "partially_shipped",
            "shipped",
            "cancelled",
        ],
    ),
    (
        "on_hold",
        &[
            "received",
            "processing",
            "backordered",
            "released",
            "cancelled",
        ],
    ),
    (
        "backordered",
        &[
            "processing",
            "on_hold",
            "released",
            "partially_shipped",
            "shipped",
            "cancelled",
        ],
    ),
    (
        "released",
        &[
            "processing",
            "backordered",
            "partially_shipped",
            "shipped",
            "cancelled",
        ],
    ),
    ("partially_shipped", &["shipped", "delivered"]),
    ("shipped", &["delivered"]),
    ("delivered", &[]),
    ("cancelled", &[]),
];

const EXPECTED_LINE: &[(&str, &[&str])] = &[
    (
        "open",
        &[
            "allocated",
            "backordered",
            "released",
            "shipped",
            "cancelled",
        ],
    ),
    (
        "allocated",
        &["open", "backordered", "released", "shipped", "cancelled"],
    ),
    (
        "backordered",
        &["open", "allocated", "released", "shipped", "cancelled"],
    ),
    ("released", &["open", "backordered", "shipped", "cancelled"]),
    ("shipped", &["delivered"]),
    ("delivered", &[]),
    ("cancelled", &[]),
];

#[test]
fn every_order_transition_allowed_or_forbidden_as_specified() {
    let mut allowed = 0;
    for from in OrderStatus::ALL {
        let expected = EXPECTED_ORDER
            .iter()
            .find(|(f, _)| *f == from.as_str())
            .unwrap()
            .1;
        for to in OrderStatus::ALL {
            let should = from == to || expected.contains(&to.as_str());
            assert_eq!(from.can_become(to), should, "{from} -> {to}");
            allowed += usize::from(should && from != to);
        }
    }
    assert_eq!(allowed, ORDER_TRANSITIONS.len());
}

#[test]
fn every_line_transition_allowed_or_forbidden_as_specified() {
    let mut allowed = 0;
    for from in LineStatus::ALL {
        let expected = EXPECTED_LINE
            .iter()
            .find(|(f, _)| *f == from.as_str())
            .unwrap()
            .1;
        for to in LineStatus::ALL {
            let should = from == to || expected.contains(&to.as_str());
            assert_eq!(from.can_become(to), should, "{from} -> {to}");
            allowed += usize::from(should && from != to);
        }
    }
    assert_eq!(allowed, LINE_TRANSITIONS.len());
}

#[test]
fn statuses_round_trip_through_their_names() {
    for s in OrderStatus::ALL {
        assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
        assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
    }
    for s in LineStatus::ALL {
        assert_eq!(LineStatus::parse(s.as_str()), Some(s));
        assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
    }
}

/// Setting a line stage that the table forbids is refused and changes nothing.
#[test]
fn forbidden_line_stage_changes_are_refused() {
    use iom_domain::DomainError;
    for from in [
        LineStatus::Open,
        LineStatus::Allocated,
        LineStatus::Backordered,
        LineStatus::Released,
    ] {
        for to in [
            LineStatus::Open,
            LineStatus::Allocated,
            LineStatus::Backordered,
            LineStatus::Released,
        ] {
            let mut order = super::order(&[2]);
            if from != LineStatus::Open {
                order
                    .set_line_stage(1, from, None, None, super::now())
                    .unwrap();
            }
            let before = order.clone();
            let result = order.set_line_stage(1, to, None, None, super::now());
            if from.can_become(to) {
                assert!(result.is_ok(), "{from} -> {to}: {result:?}");
            } else {
                assert!(
                    matches!(result, Err(DomainError::Conflict(_))),
                    "{from} -> {to}"
                );
                assert_eq!(order, before);
            }
        }
    }
}
