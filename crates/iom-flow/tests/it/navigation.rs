use std::time::Duration;

use iom_flow::{Ending, ExecutablePlan, NavigationError, Next, Outcome, StepId};

fn id(s: &str) -> StepId {
    StepId::from(s)
}

fn run(s: &str) -> Next {
    Next::Run(id(s))
}

fn next(plan: &ExecutablePlan, after: &str, outcome: Outcome) -> Next {
    plan.next(&id(after), outcome).unwrap()
}

#[test]
fn the_default_order_flow_from_received_to_released() {
    let plan = iom_flow::compile(iom_flow::DEFAULT_ORDER_FLOW).unwrap();
    assert_eq!(plan.start(), run("validate"));
    assert_eq!(next(&plan, "validate", Outcome::Succeeded), run("preorder"));
    assert_eq!(
        next(&plan, "preorder", Outcome::Condition(false)),
        run("plan")
    );
    assert_eq!(
        next(&plan, "preorder", Outcome::Condition(true)),
        run("preorder-hold")
    );
    assert_eq!(
        next(&plan, "preorder-hold", Outcome::Succeeded),
        run("plan")
    );
    assert_eq!(next(&plan, "plan", Outcome::Succeeded), run("reserve"));
    // Tax and payment (passed over by the executor when no instance serves the channel).
    assert_eq!(
        next(&plan, "reserve", Outcome::Succeeded),
        run("calculate-tax")
    );
    assert_eq!(
        next(&plan, "calculate-tax", Outcome::Succeeded),
        run("authorize-payment")
    );
    assert_eq!(
        next(&plan, "authorize-payment", Outcome::Succeeded),
        run("release")
    );
    assert_eq!(
        next(&plan, "release", Outcome::Succeeded),
        run("capture-payment")
    );
    assert_eq!(
        next(&plan, "capture-payment", Outcome::Succeeded),
        run("commit-tax")
    );
    assert_eq!(
        next(&plan, "commit-tax", Outcome::Succeeded),
        Next::End(Ending::Completed)
    );
}

#[test]
fn failures_lead_where_on_failure_says() {
    let plan = iom_flow::compile(iom_flow::DEFAULT_ORDER_FLOW).unwrap();
    assert_eq!(
        next(&plan, "validate", Outcome::Failed),
        Next::End(Ending::Held {
            step: id("validate"),
            reason: "validation_failed".into()
        })
    );
    assert_eq!(
        next(&plan, "plan", Outcome::Failed),
        Next::End(Ending::Backordered { step: id("plan") })
    );
    assert_eq!(
        next(&plan, "calculate-tax", Outcome::Failed),
        Next::End(Ending::Held {
            step: id("calculate-tax"),
            reason: "tax".into()
        })
    );
    assert_eq!(
        next(&plan, "authorize-payment", Outcome::Failed),
        Next::End(Ending::Held {
            step: id("authorize-payment"),
            reason: "payment".into()
        })
    );
    assert_eq!(
        next(&plan, "release", Outcome::Failed),
        Next::End(Ending::Failed {
            step: id("release")
        })
    );
}

#[test]
fn branches_fork_and_join_and_jumps_follow_goto() {
    let plan = iom_flow::compile(include_str!("../flows/good-full-example.yaml")).unwrap();
    assert_eq!(
        next(&plan, "validate", Outcome::Succeeded),
        run("big-order")
    );
    assert_eq!(
        next(&plan, "big-order", Outcome::Condition(true)),
        run("review")
    );
    assert_eq!(
        next(&plan, "big-order", Outcome::Condition(false)),
        run("score")
    );
    assert_eq!(
        next(&plan, "review", Outcome::TimedOut),
        Next::End(Ending::Cancelled {
            step: id("review"),
            reason: "review_expired".into()
        })
    );
    assert_eq!(
        next(&plan, "score", Outcome::Failed),
        Next::End(Ending::Held {
            step: id("score"),
            reason: "review".into()
        })
    );
    let fork = Next::Fork {
        parallel: id("prepare"),
        branches: vec![run("plan"), run("tell-crm")],
    };
    assert_eq!(next(&plan, "review", Outcome::Succeeded), fork);
    assert_eq!(next(&plan, "score", Outcome::Succeeded), fork);
    let join = Next::Join {
        parallel: id("prepare"),
    };
    assert_eq!(next(&plan, "plan", Outcome::Succeeded), join);
    // `on_failure: continue` carries on to the end of the branch.
    assert_eq!(next(&plan, "tell-crm", Outcome::Failed), join);
    assert_eq!(next(&plan, "prepare", Outcome::Succeeded), run("reserve"));
    assert_eq!(
        next(&plan, "reserve", Outcome::Failed),
        run("wait-for-stock")
    );
    assert_eq!(next(&plan, "release", Outcome::Succeeded), run("done"));
    assert_eq!(next(&plan, "done", Outcome::Succeeded), run("finish"));
    assert_eq!(
        next(&plan, "wait-for-stock", Outcome::TimedOut),
        Next::End(Ending::Backordered {
            step: id("wait-for-stock")
        })
    );
    assert_eq!(
        next(&plan, "wait-for-stock", Outcome::Succeeded),
        run("retry-reserve")
    );
    assert_eq!(
        next(&plan, "retry-reserve", Outcome::Succeeded),
        run("reserve")
    );
    assert_eq!(
        next(&plan, "finish", Outcome::Skipped),
        Next::End(Ending::Completed)
    );
}

#[test]
fn a_nested_parallel_block_forks_inside_its_branch() {
    let plan = iom_flow::compile(
        r#"
name: nested
type: order
trigger: order.received
steps:
  - id: outer
    parallel:
      a:
        - id: inner
          parallel:
            x: [{id: x1, uses: risk-score}]
            y: [{id: y1, uses: emit-event, with: {type: order.y}}]
      b:
        - id: b1
          uses: emit-event
          with: {type: order.b}
  - id: cancel
    uses: cancel-order
    with: {reason: test}
"#,
    )
    .unwrap();
    assert_eq!(
        plan.start(),
        Next::Fork {
            parallel: id("outer"),
            branches: vec![
                Next::Fork {
                    parallel: id("inner"),
                    branches: vec![run("x1"), run("y1")]
                },
                run("b1"),
            ]
        }
    );
    assert_eq!(
        next(&plan, "x1", Outcome::Succeeded),
        Next::Join {
            parallel: id("inner")
        }
    );
    assert_eq!(
        next(&plan, "inner", Outcome::Succeeded),
        Next::Join {
            parallel: id("outer")
        }
    );
    assert_eq!(
        next(&plan, "cancel", Outcome::Succeeded),
        Next::End(Ending::Cancelled {
            step: id("cancel"),
            reason: "test".into()
        })
    );
}

#[test]
fn outcomes_that_do_not_fit_are_refused() {
    let plan = iom_flow::compile(iom_flow::DEFAULT_ORDER_FLOW).unwrap();
    assert_eq!(
        plan.next(&id("nope"), Outcome::Succeeded),
        Err(NavigationError::UnknownStep(id("nope")))
    );
    assert!(matches!(
        plan.next(&id("validate"), Outcome::Condition(true)),
        Err(NavigationError::Outcome { .. })
    ));
    assert!(matches!(
        plan.next(&id("preorder"), Outcome::Failed),
        Err(NavigationError::Outcome { .. })
    ));
}

#[test]
fn retry_delays_grow_to_their_maximum_then_stop() {
    let plan = iom_flow::compile(include_str!("../flows/good-full-example.yaml")).unwrap();
    let iom_flow::NodeKind::Step { retry, .. } = &plan.node(&id("tell-crm")).unwrap().kind else {
        panic!("a step")
    };
    let delays: Vec<Option<Duration>> = (1..=5).map(|a| retry.delay_after(a)).collect();
    assert_eq!(
        delays,
        [
            Some(Duration::from_secs(2)),
            Some(Duration::from_secs(4)),
            Some(Duration::from_secs(8)),
            Some(Duration::from_secs(16)),
            None
        ]
    );
    // Steps that call other systems retry by default; others do not.
    let iom_flow::NodeKind::Step { retry, .. } = &plan.node(&id("release")).unwrap().kind else {
        panic!("a step")
    };
    assert_eq!(retry.max_attempts, 3);
    let iom_flow::NodeKind::Step { retry, .. } = &plan.node(&id("validate")).unwrap().kind else {
        panic!("a step")
    };
    assert_eq!(retry.delay_after(1), None);
}
