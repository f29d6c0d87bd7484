//! Returns at the domain's boundary: eligibility, the status table, receipts, refunds from what was
//! paid (with a property test over random orders and return sequences), and what a return does to
//! its order.

use std::collections::HashMap;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use iom_domain::order::{LineQuantityRequest, ShipmentRequest};
use iom_domain::refund::{self, RefundRequestLine};
use iom_domain::return_policy::{ReturnWindow, ShippingRefund};
use iom_domain::returns::{
    Eligibility, ReceiptIntake, ReceiptLineIntake, ReturnIntake, ReturnLineIntake,
};
use iom_domain::status::RETURN_TRANSITIONS;
use iom_domain::{DomainError, Order, OrderIntake, ReturnOrder, ReturnPolicy, ReturnStatus};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::json;

use crate::now;

fn d(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn intake(value: serde_json::Value) -> Order {
    let intake: OrderIntake = serde_json::from_value(value).unwrap();
    intake.validate(now()).unwrap()
}

/// Ships `quantities[i]` of line i+1 at `at`.
fn ship(order: &mut Order, quantities: &[u32], at: DateTime<Utc>) {
    let lines = quantities
        .iter()
        .enumerate()
        .filter(|(_, q)| **q > 0)
        .map(|(i, q)| LineQuantityRequest {
            line_no: Some(i as i64 + 1),
            quantity: Some(i64::from(*q)),
        })
        .collect();
    order
        .record_shipment(
            ShipmentRequest {
                node: Some("DC".into()),
                lines: Some(lines),
                ..Default::default()
            },
            at,
        )
        .unwrap();
}

fn request(order: &Order, lines: &[(i64, i64, &str)]) -> ReturnIntake {
    ReturnIntake {
        order_id: Some(order.id.to_string()),
        origin: Some("online".into()),
        lines: Some(
            lines
                .iter()
                .map(|(line_no, quantity, reason)| ReturnLineIntake {
                    line_no: Some(*line_no),
                    quantity: Some(*quantity),
                    reason: Some((*reason).into()),
                    ..Default::default()
                })
                .collect(),
        ),
        ..Default::default()
    }
}

fn authorize(
    order: &Order,
    lines: &[(i64, i64, &str)],
    policy: &ReturnPolicy,
    at: DateTime<Utc>,
) -> Result<ReturnOrder, DomainError> {
    let parsed = request(order, lines)
        .parse(policy)
        .map_err(DomainError::Invalid)?;
    let context = Eligibility {
        categories: HashMap::new(),
        now: at,
    };
    ReturnOrder::authorize(order, parsed, policy, &context, None).map(|(r, _)| r)
}

fn receipt(lines: &[(i64, i64, &str)]) -> ReceiptIntake {
    ReceiptIntake {
        node: Some("DC".into()),
        lines: Some(
            lines
                .iter()
                .map(|(line_no, quantity, disposition)| ReceiptLineIntake {
                    line_no: Some(*line_no),
                    quantity: Some(*quantity),
                    condition: Some("opened".into()),
                    disposition: Some((*disposition).into()),
                })
                .collect(),
        ),
    }
}

fn fields(e: DomainError) -> Vec<(String, String)> {
    match e {
        DomainError::Invalid(errors) => errors.into_iter().map(|e| (e.field, e.message)).collect(),
        other => panic!("expected invalid, got {other:?}"),
    }
}

fn two_line_order() -> Order {
    let mut order = intake(json!({
        "channel": "web", "external_id": "R-1", "currency": "USD",
        "lines": [
            {"line_no": 1, "sku": "A", "quantity": 3, "unit_price": "10.00", "discount": "3.00", "tax": "2.70"},
            {"line_no": 2, "sku": "B", "quantity": 1, "unit_price": "50.00", "tax": "5.00"},
            {"line_no": 3, "sku": "C", "quantity": 2, "unit_price": "5.00"},
        ],
        "shipping_amount": "7.00",
        "discount_amount": "10.00",
    }));
    ship(&mut order, &[3, 1, 0], now());
    order
}

#[test]
fn every_ineligible_line_is_named_at_once() {
    let order = two_line_order();
    let policy = ReturnPolicy {
        non_returnable_skus: vec!["B".into()],
        ..ReturnPolicy::default()
    };
    let e = authorize(
        &order,
        &[(1, 4, "damaged"), (2, 1, "changed_mind"), (3, 1, "damaged"), (9, 1, "damaged")],
        &policy,
        now(),
    )
    .unwrap_err();
    let errors = fields(e);
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert_eq!(errors[0].0, "lines[0].quantity");
    assert!(errors[0].1.contains("line 1") && errors[0].1.contains("only 3"), "{errors:?}");
    assert_eq!(errors[1].0, "lines[1].line_no");
    assert!(errors[1].1.contains("B is not returnable"), "{errors:?}");
    assert!(errors[2].1.contains("line 3") && errors[2].1.contains("never shipped"));
    assert!(errors[3].1.contains("line 9") && errors[3].1.contains("no such line"));
}

#[test]
fn request_shape_is_checked_before_the_order() {
    let order = two_line_order();
    let policy = ReturnPolicy::default();
    let bad = ReturnIntake {
        order_id: Some("nope".into()),
        origin: Some("mail".into()),
        lines: Some(vec![ReturnLineIntake {
            line_no: Some(1),
            quantity: Some(0),
            reason: Some("bored".into()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let errors: Vec<String> = bad.parse(&policy).unwrap_err().into_iter().map(|e| e.field).collect();
    assert_eq!(
        errors,
        ["order_id", "origin", "lines[0].quantity", "lines[0].reason"]
    );
    let twice = request(&order, &[(1, 1, "damaged"), (1, 1, "damaged")]);
    let errors = twice.parse(&policy).unwrap_err();
    assert_eq!(errors[0].field, "lines[1].line_no");
}

#[test]
fn windows_by_channel_and_category_most_specific_first() {
    let policy = ReturnPolicy {
        default_window_days: 30,
        windows: vec![
            ReturnWindow { channel: Some("web".into()), category: None, days: 60 },
            ReturnWindow { channel: None, category: Some("electronics".into()), days: 14 },
            ReturnWindow { channel: Some("web".into()), category: Some("electronics".into()), days: 21 },
        ],
        ..ReturnPolicy::default()
    };
    assert_eq!(policy.window_days("store", None), 30);
    assert_eq!(policy.window_days("web", None), 60);
    assert_eq!(policy.window_days("store", Some("electronics")), 14);
    assert_eq!(policy.window_days("web", Some("electronics")), 21);
    assert_eq!(policy.window_days("web", Some("toys")), 60);

    let mut order = intake(json!({
        "channel": "web", "external_id": "W-1", "currency": "USD",
        "lines": [
            {"line_no": 1, "sku": "TV", "quantity": 1, "unit_price": "100", "attributes": {"category": "electronics"}},
            {"line_no": 2, "sku": "SOCK", "quantity": 1, "unit_price": "5"},
        ],
    }));
    ship(&mut order, &[1, 1], now());
    // Day 25: the TV's 21-day window has ended, the socks' 60-day window has not.
    let e = authorize(&order, &[(1, 1, "changed_mind"), (2, 1, "changed_mind")], &policy, now() + Duration::days(25)).unwrap_err();
    let errors = fields(e);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, "lines[0].line_no");
    assert!(errors[0].1.contains("21-day return window"), "{errors:?}");
    // A delivery restarts the window.
    order
        .record_delivery(
            Some(vec![LineQuantityRequest { line_no: Some(1), quantity: Some(1) }]),
            now() + Duration::days(10),
        )
        .unwrap();
    authorize(&order, &[(1, 1, "changed_mind")], &policy, now() + Duration::days(25)).unwrap();
}

#[test]
fn the_status_table_is_the_only_way() {
    for from in ReturnStatus::ALL {
        for to in ReturnStatus::ALL {
            assert_eq!(from.can_become(to), RETURN_TRANSITIONS.contains(&(from, to)));
        }
    }
    let order = two_line_order();
    let policy = ReturnPolicy::default();
    let mut ret = authorize(&order, &[(1, 1, "damaged")], &policy, now()).unwrap();
    assert_eq!(ret.close(now()).unwrap_err(), DomainError::conflict("a return that is authorized cannot become closed"));
    ret.receive(receipt(&[(1, 1, "restock")]), now()).unwrap();
    let e = ret.cancel("late".into(), now()).unwrap_err();
    assert!(matches!(e, DomainError::Conflict(_)));
    let e = ret.receive(receipt(&[(1, 1, "restock")]), now()).unwrap_err();
    assert_eq!(e, DomainError::conflict("a return that is received cannot become received"));
}

#[test]
fn never_receive_more_than_authorised_and_the_rest_is_released() {
    let mut order = two_line_order();
    let policy = ReturnPolicy::default();
    let before = order.clone();
    let mut ret = authorize(&order, &[(1, 2, "damaged")], &policy, now()).unwrap();
    order.apply_return(None, &ret, now()).unwrap();
    assert_eq!(order.line(1).unwrap().return_authorized_quantity, 2);
    assert_eq!(order.line(1).unwrap().returnable_quantity(), 1);

    let e = ret.receive(receipt(&[(1, 2, "restock"), (1, 1, "scrap")]), now()).unwrap_err();
    let errors = fields(e);
    assert_eq!(errors[0].0, "lines[1].quantity");
    assert!(errors[0].1.contains("3 received but only 2 authorised"), "{errors:?}");
    let unchanged = ret.clone();
    assert_eq!(ret.status, ReturnStatus::Authorized);

    let (events, restock) = ret.receive(receipt(&[(1, 1, "restock")]), now()).unwrap();
    assert_eq!(events[0].kind, "return.received");
    assert_eq!(restock.len(), 1);
    assert_eq!(restock[0].quantity, 1);
    assert_eq!(restock[0].change_id, format!("return:{}:line:1", ret.id));
    assert_eq!(ret.lines[0].released_quantity, 1);
    order.apply_return(Some(&unchanged), &ret, now()).unwrap();
    let line = order.line(1).unwrap();
    assert_eq!((line.return_authorized_quantity, line.returned_quantity), (1, 1));
    assert_eq!(line.returnable_quantity(), 2, "the released unit may be returned again");
    assert_eq!(order.status, before.status, "returns do not move the order's status");
}

#[test]
fn refund_shares_discounts_and_tax_and_deducts_restocking_fees() {
    let mut order = two_line_order();
    // Line values after their own discounts: 27.00 and 50.00 and 10.00 = 87.00; the order's 10.00
    // discount is shared 3.10 / 5.74 / 1.14 (rounded down, the remainder to the first line: 3.12).
    let paid = refund::paid_lines(&order);
    assert_eq!(paid[0].discount, d("3.00") + d("3.12"));
    assert_eq!(paid[1].discount, d("5.74"));
    assert_eq!(paid[2].discount, d("1.14"));
    assert_eq!(
        paid.iter().map(|p| p.discount).sum::<Decimal>(),
        d("13.00"),
        "line discounts plus the order's, exactly"
    );
    assert_eq!(order.totals.total, d("30") - d("3") + d("2.70") + d("50") + d("5") + d("10") - d("10") + d("7"));
    let policy = ReturnPolicy {
        restocking_fees: [("changed_mind".to_owned(), d("15"))].into(),
        ..ReturnPolicy::default()
    };
    let r = refund::compute(
        &order,
        &[
            RefundRequestLine { line_no: 1, quantity: 1, reason: "damaged".into() },
            RefundRequestLine { line_no: 2, quantity: 1, reason: "changed_mind".into() },
        ],
        &policy,
    );
    // Line 1, one unit of three: 10.00 − 6.12/3 (2.04) + 2.70/3 (0.90) = 8.86.
    assert_eq!(r.lines[0].amount, d("8.86"));
    // Line 2: 50.00 − 5.74 + 5.00 − 15% of 44.26 (6.64) = 42.62.
    assert_eq!(r.lines[1].restocking_fee, d("6.64"));
    assert_eq!(r.lines[1].amount, d("42.62"));
    assert_eq!(r.shipping, Decimal::ZERO, "shipping comes back with the whole order only");
    assert_eq!(r.amount, d("51.48"));

    // Refunding units one at a time gives back the line exactly.
    let mut total = Decimal::ZERO;
    for _ in 0..3 {
        let step = refund::compute(&order, &[RefundRequestLine { line_no: 1, quantity: 1, reason: "damaged".into() }], &ReturnPolicy::default());
        total += step.lines[0].amount;
        let line = order.lines.iter_mut().find(|l| l.line_no == 1).unwrap();
        line.refunded_quantity += 1;
    }
    assert_eq!(total, paid[0].total());
    // Shipping policy `merchant_fault`: a damaged item brings the shipping back.
    let order = two_line_order();
    let merchant = ReturnPolicy { shipping_refund: ShippingRefund::MerchantFault, ..ReturnPolicy::default() };
    let r = refund::compute(&order, &[RefundRequestLine { line_no: 2, quantity: 1, reason: "damaged".into() }], &merchant);
    assert_eq!(r.shipping, d("7.00"));
    let r = refund::compute(&order, &[RefundRequestLine { line_no: 2, quantity: 1, reason: "size_fit".into() }], &merchant);
    assert_eq!(r.shipping, Decimal::ZERO);
}

#[test]
fn exchanges_make_a_held_order_and_refund_nothing() {
    let mut order = two_line_order();
    let policy = ReturnPolicy::default();
    let mut intake = request(&order, &[(2, 1, "size_fit")]);
    intake.lines.as_mut().unwrap()[0].exchange = Some(iom_domain::returns::ExchangeIntake { sku: Some("B-L".into()) });
    let parsed = intake.parse(&policy).unwrap();
    let (mut ret, _) = ReturnOrder::authorize(&order, parsed, &policy, &Eligibility { categories: HashMap::new(), now: now() }, None).unwrap();
    let (exchange, events) = ret.exchange_order(&order, &policy, now()).unwrap().unwrap();
    assert_eq!(exchange.lines[0].sku, "B-L");
    assert_eq!(exchange.totals.total, d("0.00"));
    assert_eq!(exchange.status, iom_domain::OrderStatus::OnHold);
    assert_eq!(exchange.status_reason.as_deref(), Some("awaiting_return"));
    assert_eq!(events.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(), ["order.received", "order.held"]);
    order.apply_return(None, &ret, now()).unwrap();
    ret.receive(receipt(&[(2, 1, "restock")]), now()).unwrap();
    let e = ret.refund(&order, &policy, None, None, false, now()).unwrap_err();
    assert!(matches!(e, DomainError::Conflict(m) if m.contains("nothing")));
    ret.close(now()).unwrap();
}

#[test]
fn a_channel_refund_may_not_exceed_the_computed_one() {
    let mut order = two_line_order();
    let policy = ReturnPolicy::default();
    let mut ret = authorize(&order, &[(2, 1, "damaged")], &policy, now()).unwrap();
    order.apply_return(None, &ret, now()).unwrap();
    let e = ret.refund(&order, &policy, None, None, false, now()).unwrap_err();
    assert!(matches!(e, DomainError::Conflict(_)), "policy refunds after receipt");
    let e = ret.refund(&order, &policy, Some(d("60")), None, true, now()).unwrap_err();
    assert_eq!(fields(e)[0].0, "amount");
    let before = ret.clone();
    ret.refund(&order, &policy, Some(d("40")), Some("re_1".into()), true, now()).unwrap();
    let refund = ret.refund.clone().unwrap();
    assert_eq!((refund.amount, refund.computed), (d("40.00"), d("49.26")));
    order.apply_return(Some(&before), &ret, now()).unwrap();
    assert_eq!(order.refunded_amount, d("40.00"));
    assert_eq!(order.line(2).unwrap().refunded_quantity, 1);
}

// ------------------------------------------------------------------------------------ property

#[derive(Debug, Clone)]
struct Case {
    lines: Vec<(u32, i64, i64, i64)>,
    order_discount_pct: i64,
    shipping: i64,
    ships: Vec<u32>,
    steps: Vec<(usize, u32, bool, u8)>,
    shipping_refund: u8,
    fee: i64,
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..5)
        .prop_flat_map(|n| {
            (
                proptest::collection::vec((1u32..6, 1i64..100_000, 0i64..100, 0i64..5_000), n),
                0i64..100,
                0i64..3_000,
                proptest::collection::vec(0u32..6, n),
                proptest::collection::vec((0usize..n, 1u32..6, any::<bool>(), 0u8..4), 0..12),
                0u8..4,
                0i64..30,
            )
        })
        .prop_map(|(lines, order_discount_pct, shipping, ships, steps, shipping_refund, fee)| Case {
            lines,
            order_discount_pct,
            shipping,
            ships,
            steps,
            shipping_refund,
            fee,
        })
}

fn cents(v: i64) -> Decimal {
    Decimal::new(v, 2)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Over random orders (prices, line and order discounts, tax, shipping) and random sequences of
    /// returns (authorise some units, receive some, refund, sometimes cancel), the refunds never
    /// add up to more than was paid, neither per line nor for the order, and refunding every unit
    /// without fees under a shipping policy that gives it back returns exactly the order's total.
    #[test]
    fn never_refund_more_than_paid(c in case()) {
        let lines: Vec<serde_json::Value> = c.lines.iter().enumerate().map(|(i, (q, price, disc_pct, tax))| {
            let value = price * i64::from(*q);
            json!({"line_no": i + 1, "sku": format!("S{i}"), "quantity": q,
                   "unit_price": cents(*price).to_string(),
                   "discount": cents(value * disc_pct / 100).to_string(),
                   "tax": cents(*tax).to_string()})
        }).collect();
        let net: i64 = c.lines.iter().map(|(q, price, disc_pct, _)| {
            let value = price * i64::from(*q);
            value - value * disc_pct / 100
        }).sum();
        let mut order = intake(json!({
            "channel": "web", "external_id": "P", "currency": "USD", "lines": lines,
            "shipping_amount": cents(c.shipping).to_string(),
            "discount_amount": cents(net * c.order_discount_pct / 100).to_string(),
        }));
        let ships: Vec<u32> = c.ships.iter().zip(&c.lines).map(|(s, l)| (*s).min(l.0)).collect();
        if ships.iter().any(|s| *s > 0) {
            ship(&mut order, &ships, now());
        }
        let mut policy = ReturnPolicy {
            shipping_refund: [ShippingRefund::Never, ShippingRefund::FullReturn, ShippingRefund::MerchantFault, ShippingRefund::Always][usize::from(c.shipping_refund)],
            ..ReturnPolicy::default()
        };
        if c.fee > 0 {
            policy.restocking_fees.insert("changed_mind".into(), Decimal::from(c.fee));
        }
        let reasons = ["damaged", "changed_mind", "size_fit", "other"];
        for (line, quantity, receive_all, reason) in &c.steps {
            let line_no = *line as i64 + 1;
            let eligible = order.line(line_no as u32).unwrap().returnable_quantity();
            if eligible == 0 { continue; }
            let quantity = (*quantity).min(eligible);
            let mut ret = authorize(&order, &[(line_no, i64::from(quantity), reasons[usize::from(*reason)])], &policy, now()).unwrap();
            order.apply_return(None, &ret, now()).unwrap();
            let before = ret.clone();
            if *reason == 3 && !receive_all {
                ret.cancel("test".into(), now()).unwrap();
                order.apply_return(Some(&before), &ret, now()).unwrap();
                continue;
            }
            let got = if *receive_all { quantity } else { quantity.div_ceil(2) };
            ret.receive(receipt(&[(line_no, i64::from(got), "restock")]), now()).unwrap();
            order.apply_return(Some(&before), &ret, now()).unwrap();
            let before = ret.clone();
            ret.refund(&order, &policy, None, None, false, now()).unwrap();
            order.apply_return(Some(&before), &ret, now()).unwrap();
            let r = ret.refund.as_ref().unwrap();
            prop_assert_eq!(r.amount, r.lines.iter().map(|l| l.amount).sum::<Decimal>() + r.shipping, "the final cap never has to cut");
            prop_assert!(order.refunded_amount <= order.totals.total);
        }
        for (line, paid) in order.lines.iter().zip(refund::paid_lines(&order)) {
            prop_assert!(line.refunded_amount <= paid.total());
            prop_assert!(line.refunded_quantity <= line.shipped_quantity);
            prop_assert!(line.returned_quantity <= line.return_authorized_quantity);
            prop_assert!(line.return_authorized_quantity <= line.shipped_quantity);
        }
        prop_assert!(order.refunded_shipping <= order.shipping_amount);

        // Everything shipped comes back without fees: the whole order's total, to the cent.
        let mut whole = order.clone();
        for l in &mut whole.lines {
            l.shipped_quantity = l.quantity;
            l.return_authorized_quantity = 0;
            l.returned_quantity = 0;
            l.refunded_quantity = 0;
            l.refunded_amount = Decimal::ZERO;
        }
        whole.refunded_amount = Decimal::ZERO;
        whole.refunded_shipping = Decimal::ZERO;
        let everything: Vec<RefundRequestLine> = whole.lines.iter().map(|l| RefundRequestLine { line_no: l.line_no, quantity: l.quantity, reason: "damaged".into() }).collect();
        let full = refund::compute(&whole, &everything, &ReturnPolicy { shipping_refund: ShippingRefund::FullReturn, ..ReturnPolicy::default() });
        prop_assert_eq!(full.amount, whole.totals.total);
    }
}
