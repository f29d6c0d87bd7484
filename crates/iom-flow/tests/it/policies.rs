use iom_flow::{Compiler, Criticality, Policy, PolicyKind, PolicySet, SetTarget, SetValue};
use serde_json::json;

use crate::{order, web_order};

const VIP: &str = r#"
name: vip-orders
version: 2
kind: filter
rule: order.customer.group == "vip" || order.totals.total > 5000.0
"#;

const BULKY: &str = r#"
name: bulky-goods
version: 1
kind: execution
when: order.channel != "pos"
checks:
  - name: has-address
    rule: order.ship_to.country != null
    criticality: critical
    message: bulky goods need a ship-to address
  - name: not-too-many
    rule: order.lines.all(l, l.quantity <= 1)
    criticality: info
actions:
  - set: line.node
    when: line.sku.startsWith("BULKY-")
    value: '"DC-BULK"'
  - set: order.attributes.bulky
    value: order.lines.exists(l, l.sku.startsWith("BULKY-"))
  - set: line.attributes.heavy
    value: line.unit_price > 500.0
"#;

#[test]
fn a_filter_policy_says_which_orders_it_applies_to() {
    let policy = Policy::parse(VIP).unwrap();
    assert_eq!(policy.kind(), PolicyKind::Filter);
    assert_eq!(policy.version, 2);
    assert!(policy.evaluate(&order(web_order())).unwrap().applies);
    let mut retail = web_order();
    retail["customer"]["group"] = json!("retail");
    assert!(!policy.evaluate(&order(retail)).unwrap().applies);
}

#[test]
fn an_execution_policy_checks_and_sets_values() {
    let policy = Policy::parse(BULKY).unwrap();
    let mut order = order(web_order());
    let outcome = policy.evaluate(&order).unwrap();
    assert!(outcome.applies);
    assert!(outcome.passed());
    let failed: Vec<(&str, Criticality)> = outcome
        .failed_checks()
        .map(|c| (c.name.as_str(), c.criticality))
        .collect();
    assert_eq!(failed, [("not-too-many", Criticality::Info)]);
    assert_eq!(
        outcome.actions,
        [
            SetValue {
                target: SetTarget::LineNode,
                line_no: Some(1),
                value: json!("DC-BULK")
            },
            SetValue {
                target: SetTarget::OrderAttribute("bulky".into()),
                line_no: None,
                value: json!(true)
            },
            SetValue {
                target: SetTarget::LineAttribute("heavy".into()),
                line_no: Some(1),
                value: json!(true)
            },
            SetValue {
                target: SetTarget::LineAttribute("heavy".into()),
                line_no: Some(2),
                value: json!(false)
            },
        ]
    );
    outcome.apply_to(&mut order).unwrap();
    assert_eq!(order.lines[0].node.as_deref(), Some("DC-BULK"));
    assert_eq!(order.lines[1].node, None);
    assert_eq!(order.attributes["bulky"], json!(true));
    assert_eq!(order.lines[1].attributes["heavy"], json!(false));
}

#[test]
fn a_failed_critical_check_fails_the_policy() {
    let policy = Policy::parse(BULKY).unwrap();
    let mut no_address = web_order();
    no_address["ship_to"] = json!(null);
    let outcome = policy.evaluate(&order(no_address)).unwrap();
    assert!(!outcome.passed());

    let mut pos = web_order();
    pos["channel"] = json!("pos");
    let outcome = policy.evaluate(&order(pos)).unwrap();
    assert!(!outcome.applies);
    assert!(outcome.checks.is_empty() && outcome.actions.is_empty());
}

#[test]
fn policy_errors_have_positions() {
    let errors = Policy::parse(
        "name: p\nkind: execution\nchecks:\n  - name: c\n    rule: order.totl > 1\n    criticality: fatal\nactions:\n  - set: order.channel\n    value: '1'\n",
    )
    .unwrap_err();
    let got: Vec<(usize, usize, &str)> = errors
        .iter()
        .map(|e| (e.line, e.column, e.message.as_str()))
        .collect();
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!((got[0].0, got[0].1), (5, 17));
    assert!(got[0].2.contains("order has no field `totl`"));
    assert_eq!((got[1].0, got[1].1), (6, 18));
    assert_eq!((got[2].0, got[2].1), (8, 10));
    assert!(got[2].2.contains("cannot set `order.channel`"));
}

#[test]
fn the_newest_version_of_a_policy_is_in_force() {
    let mut set = PolicySet::new();
    assert!(set.insert(Policy::parse(VIP).unwrap()));
    let older = VIP.replace("version: 2", "version: 1");
    assert!(!set.insert(Policy::parse(&older).unwrap()));
    assert_eq!(set.get("vip-orders").unwrap().version, 2);
    assert!(
        set.filters_pass(&["vip-orders".into()], &order(web_order()))
            .unwrap()
    );
}

#[test]
fn flows_refer_to_policies_by_name_and_kind() {
    let mut set = PolicySet::new();
    set.insert(Policy::parse(VIP).unwrap());
    set.insert(Policy::parse(BULKY).unwrap());
    let flow = "name: f\ntype: order\ntrigger: order.received\nfilter: vip-orders\nsteps:\n  - id: bulky\n    uses: apply-policy\n    with: {policy: bulky-goods}\n    on_failure: hold review\n";
    Compiler::with_policies(&set).compile(flow).unwrap();

    let wrong = flow
        .replace("filter: vip-orders", "filter: vip-order")
        .replace("policy: bulky-goods", "policy: vip-orders");
    let errors = Compiler::with_policies(&set).compile(&wrong).unwrap_err();
    let got: Vec<String> = errors
        .iter()
        .map(|e| format!("{}:{}: {}", e.line, e.column, e.message))
        .collect();
    assert_eq!(
        got,
        [
            "4:9: unknown policy `vip-order` (did you mean `vip-orders`?)",
            "8:20: policy `vip-orders` is a filter policy, expected an execution policy"
        ]
    );
}

#[test]
fn a_pinned_policy_version_must_exist() {
    let mut set = PolicySet::new();
    set.insert(Policy::parse(BULKY).unwrap());
    let newest = set.get("bulky-goods").unwrap().version;
    let flow = |version: u32| {
        format!(
            "name: f\ntype: order\ntrigger: order.received\nsteps:\n  - id: bulky\n    uses: apply-policy\n    with: {{policy: bulky-goods, version: {version}}}\n"
        )
    };
    let plan = Compiler::with_policies(&set)
        .compile(&flow(newest))
        .unwrap();
    assert_eq!(plan.nodes[0].id.as_str(), "bulky");
    let errors = Compiler::with_policies(&set)
        .compile(&flow(newest + 1))
        .unwrap_err();
    let got: Vec<String> = errors
        .iter()
        .map(|e| format!("{}:{}: {}", e.line, e.column, e.message))
        .collect();
    assert_eq!(
        got,
        [format!(
            "7:42: policy `bulky-goods` has no version {} (the newest is {newest})",
            newest + 1
        )]
    );
    // Without known policies (`iom flow validate`) the version is not checked.
    iom_flow::compile(&flow(newest + 1)).unwrap();
}

#[test]
fn an_inventory_flow_cannot_filter_by_policy() {
    let errors = iom_flow::compile(
        "name: i\ntype: inventory\ntrigger: inventory.changed\nfilter: vip-orders\nsteps:\n  - id: r\n    uses: resume-backorders\n",
    )
    .unwrap_err();
    let got: Vec<String> = errors
        .iter()
        .map(|e| format!("{}:{}: {}", e.line, e.column, e.message))
        .collect();
    assert_eq!(
        got,
        ["4:9: filter policies judge an order, and an inventory flow has none"]
    );
}
