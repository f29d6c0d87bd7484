use iom_flow::expr::{Scope, check};
use iom_flow::{EventInput, Expression, Input};

use crate::{order, web_order};

#[test]
fn every_documented_path_type_checks() {
    for source in [
        "order.channel == 'web' && order.currency == 'USD'",
        "order.customer.group == 'vip'",
        "order.lines.exists(l, l.sku.startsWith('BULKY-') && l.quantity > 0)",
        "order.lines.all(l, l.unit_price * 2.0 < 1000.0)",
        "order.totals.total > 100",
        "order.ship_to.country in ['US', 'CA']",
        "has(order.attributes.preorder) && order.attributes.preorder == true",
        "order.placed_at < timestamp('2030-01-01T00:00:00Z')",
        "size(order.lines) > 1 || order.holds.exists(h, h.code == 'credit')",
        "order.lines.map(l, l.quantity).exists(q, q > 1)",
        "event.type == 'order.received'",
    ] {
        let result = check(source, Scope::Order);
        assert!(result.is_ok(), "{source}: {:?}", result.err());
    }
}

#[test]
fn type_errors_are_found_before_any_order_exists() {
    for (source, fragment) in [
        (
            "order.totals.total == 'x'",
            "cannot compare double with string",
        ),
        ("order.lines.sku == 'A'", "has no field `sku`"),
        (
            "order.customer.grup == 'vip'",
            "customer has no field `grup`",
        ),
        (
            "order.lines[0].quantity + 0.5 > 1.0",
            "cannot apply `+` to int and double",
        ),
        ("order.channel.size > 2", "a string has no field"),
        (
            "nosuchfunction(order.channel)",
            "type error on a sample order",
        ),
        ("line.sku == 'A'", "unknown name `line`"),
    ] {
        let errors = check(source, Scope::Order).err().unwrap_or_default();
        assert!(
            errors.iter().any(|e| e.message.contains(fragment)),
            "{source}: {errors:?}"
        );
    }
}

#[test]
fn expressions_evaluate_on_real_orders() {
    let vip = order(web_order());
    let mut preorder = web_order();
    preorder["attributes"] = serde_json::json!({"preorder": true});
    preorder["customer"]["group"] = serde_json::json!(null);
    preorder["ship_to"] = serde_json::json!(null);
    let preorder = order(preorder);

    let is_preorder =
        Expression::new("has(order.attributes.preorder) && order.attributes.preorder == true");
    assert!(!is_preorder.evaluate_bool(&Input::order(&vip)).unwrap());
    assert!(is_preorder.evaluate_bool(&Input::order(&preorder)).unwrap());

    let big_vip = Expression::new("order.customer.group == 'vip' && order.totals.total > 900");
    assert!(big_vip.evaluate_bool(&Input::order(&vip)).unwrap());
    assert!(!big_vip.evaluate_bool(&Input::order(&preorder)).unwrap());

    // An order without a ship-to address: the fields are null, not an error.
    let us = Expression::new("order.ship_to.country == 'US'");
    assert!(us.evaluate_bool(&Input::order(&vip)).unwrap());
    assert!(!us.evaluate_bool(&Input::order(&preorder)).unwrap());

    let event = EventInput {
        kind: "inventory.changed".into(),
        subject: "LAMP".into(),
        at: chrono::Utc::now(),
        data: serde_json::json!({"sku": "LAMP", "quantity": 4}),
    };
    let arrived = Expression::new(
        "event.data.quantity > 0 && order.lines.exists(l, l.sku == event.data.sku)",
    );
    assert!(
        arrived
            .evaluate_bool(&Input::order(&vip).with_event(&event))
            .unwrap()
    );

    let not_bool = Expression::new("order.channel");
    assert!(matches!(
        not_bool.evaluate_bool(&Input::order(&vip)),
        Err(iom_flow::EvalError::WrongType { .. })
    ));
}

#[test]
fn plans_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<iom_flow::ExecutablePlan>();
    shared::<iom_flow::Policy>();
}

/// An expression is given only the order fields it reads; what it computes is what it computes
/// on the whole order, also when it uses `order` as a whole or shadows the name.
#[test]
fn an_expression_given_only_the_fields_it_reads_computes_what_it_would_on_the_whole_order() {
    let mut preorder = web_order();
    preorder["attributes"] = serde_json::json!({"preorder": true});
    let orders = [order(web_order()), order(preorder)];
    for source in [
        "has(order.attributes.preorder) && order.attributes.preorder == true",
        "order.customer.group == 'vip' && order.totals.total > 900",
        "order.lines.exists(l, l.sku.startsWith('BULKY-') && l.quantity > 0)",
        "size(order.lines) > 1 || order.holds.exists(h, h.code == 'credit')",
        "order.lines.exists(order, order.sku == 'LAMP')",
        "order == order",
        "has(order.ship_to) && [order.channel, order.currency] == ['web', 'USD']",
        "{'c': order.channel}.c == 'web'",
    ] {
        let (program, _) =
            check(source, Scope::Order).unwrap_or_else(|e| panic!("{source}: {e:?}"));
        let expression = Expression::new(source);
        for o in &orders {
            let whole = program.execute(&Input::order(o).context()).unwrap();
            let read = expression.evaluate(&Input::order(o)).unwrap();
            assert_eq!(read, whole, "{source}");
        }
    }
}
