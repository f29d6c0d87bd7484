//! Holds on single lines, and the predicates that say which actions an order allows: each
//! action refuses exactly when its predicate does.

use iom_domain::{DomainError, LineStatus, OrderStatus};

use super::{now, order};

#[test]
fn a_held_line_stays_allocated_while_the_others_are_released() {
    let mut o = order(&[1, 2]);
    let events = o.hold_line(2, Some("engraving".into()), now()).unwrap();
    assert_eq!(events[0].kind, "order.line_held");
    for line in [1, 2] {
        o.set_line_stage(line, LineStatus::Allocated, Some("WH1".into()), None, now())
            .unwrap();
    }
    o.release_allocated_lines(now()).unwrap();
    assert_eq!(o.line(1).unwrap().status, LineStatus::Released);
    assert_eq!(o.line(2).unwrap().status, LineStatus::Allocated);
    assert_eq!(o.status, OrderStatus::Processing);
    assert_eq!(o.held_allocated_lines(), vec![2]);
    // Not released around the hold either.
    let refused = o.set_line_stage(2, LineStatus::Released, None, None, now());
    assert!(matches!(refused, Err(DomainError::Conflict(_))));

    let events = o.release_line_hold(2, now()).unwrap();
    assert_eq!(events[0].kind, "order.line_hold_released");
    o.release_allocated_lines(now()).unwrap();
    assert_eq!(o.status, OrderStatus::Released);
    // Released: no hold any more, and the refusal is the predicate's.
    assert!(o.check_hold_line(1).is_err());
    let before = o.clone();
    assert!(o.hold_line(1, None, now()).is_err());
    assert_eq!(o, before);
}

#[test]
fn a_cancelled_line_loses_its_hold_and_predicates_follow_the_state() {
    let mut o = order(&[1, 1]);
    assert!(o.check_release_line_hold(1).is_err());
    o.hold_line(1, None, now()).unwrap();
    assert!(o.check_hold_line(1).is_err(), "held already");
    o.cancel_line(1, None, "customer", now()).unwrap();
    assert!(o.line(1).unwrap().hold.is_none());
    assert!(o.check_cancel_line(1).is_err());
    assert!(o.check_amend().is_ok() && o.check_hold().is_ok() && o.check_cancel().is_ok());
    assert!(o.check_hold_line(7).is_err());

    o.cancel("customer", now()).unwrap();
    for allowed in [
        o.check_amend(),
        o.check_hold(),
        o.check_cancel(),
        o.check_hold_line(2),
    ] {
        assert!(
            matches!(allowed, Err(DomainError::Conflict(_))),
            "{allowed:?}"
        );
    }
}
