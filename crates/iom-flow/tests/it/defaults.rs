use iom_flow::{FlowType, NodeKind, StepId};

#[test]
fn the_default_flows_compile() {
    let plans = iom_flow::default_flows().expect("the shipped flows compile");
    assert_eq!(plans.len(), 3);
    let order = &plans[0];
    assert_eq!(order.flow_type, FlowType::Order);
    assert_eq!(order.triggers, ["order.received"]);
    let uses: Vec<&str> = order
        .nodes
        .iter()
        .filter_map(|n| match &n.kind {
            NodeKind::Step { uses, .. } => Some(uses.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        uses,
        [
            "validate-order",
            "hold",
            "plan-fulfillment",
            "reserve-inventory",
            "calculate-tax",
            "authorize-payment",
            "release-to-nodes",
            "capture-payment",
            "commit-tax"
        ]
    );
    let inventory = &plans[1];
    assert_eq!(inventory.flow_type, FlowType::Inventory);
    assert_eq!(
        inventory.triggers,
        ["inventory.changed", "supply.scheduled"]
    );
    let ret = &plans[2];
    assert_eq!(ret.flow_type, FlowType::Return);
    assert_eq!(ret.triggers, ["return.authorized"]);
    let uses: Vec<&str> = ret
        .nodes
        .iter()
        .filter_map(|n| match &n.kind {
            NodeKind::Step { uses, .. } => Some(uses.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        uses,
        [
            "create-return-label",
            "await-receipt",
            "inspect",
            "disposition",
            "refund",
            "close"
        ]
    );
}

#[test]
fn the_default_order_flow_holds_preorders_and_backorders_what_cannot_be_sourced() {
    let plan = iom_flow::compile(iom_flow::DEFAULT_ORDER_FLOW).unwrap();
    let hold = plan.node(&StepId::from("preorder-hold")).unwrap();
    let NodeKind::Step { with, waits, .. } = &hold.kind else {
        panic!("a step")
    };
    assert_eq!(with["reason"], "preorder");
    assert!(*waits);
    for step in ["plan", "reserve"] {
        let NodeKind::Step { on_failure, .. } = &plan.node(&StepId::from(step)).unwrap().kind
        else {
            panic!("a step")
        };
        assert_eq!(*on_failure, iom_flow::FailureAction::Backorder, "{step}");
    }
}

#[test]
fn a_plan_survives_storage_as_json() {
    for plan in iom_flow::default_flows().unwrap() {
        let json = serde_json::to_string(&plan).unwrap();
        let loaded = iom_flow::ExecutablePlan::load(&json).unwrap();
        assert_eq!(loaded, plan);
    }
}

#[test]
fn a_stored_plan_whose_expression_no_longer_parses_is_refused_on_load() {
    let plan = iom_flow::compile(iom_flow::DEFAULT_ORDER_FLOW).unwrap();
    let json = serde_json::to_string(&plan).unwrap().replace(
        "has(order.attributes.preorder)",
        "has(order.attributes.preorder",
    );
    assert!(matches!(
        iom_flow::ExecutablePlan::load(&json),
        Err(iom_flow::plan::PlanLoadError::Expression(_))
    ));
}

#[test]
fn the_documented_example_compiles() {
    let text = include_str!("../flows/good-full-example.yaml");
    let plan = iom_flow::compile(text).unwrap();
    assert_eq!(plan.priority, 10);
    assert_eq!(plan.filters, ["not-test-orders"]);
    let dot = iom_flow::graph::to_dot(&plan);
    assert!(dot.starts_with("digraph \"web-orders\" {"));
    assert!(dot.contains("\"prepare/join\" -> \"reserve\";"), "{dot}");
}
