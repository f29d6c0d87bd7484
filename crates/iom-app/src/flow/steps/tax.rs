//! The tax steps: `calculate-tax` before release for an order that arrived without tax, and
//! `commit-tax`, which waits until nothing is left to ship and then commits (or voids) the tax
//! service's document. The service is called outside the transaction (`crate::tax`); neither
//! step runs for an order whose channel no `tax` instance serves (`steps::served_by`).

use iom_domain::order::tax::TaxStatus;
use serde_json::{Value, json};

use super::{StepCx, StepFailure, StepOutcome, StepResult};
use crate::flow::state::{Call, Wait, WaitKind};
use crate::payments::nothing_open;

pub fn handles(uses: &str) -> bool {
    matches!(uses, "calculate-tax" | "commit-tax")
}

fn call(cx: &StepCx<'_, '_>, op: &str) -> Result<StepResult, StepFailure> {
    Ok(StepResult::External(vec![Call::Tax {
        op: op.to_owned(),
        order_id: cx.order_id()?.to_string(),
    }]))
}

pub fn execute(cx: &mut StepCx<'_, '_>) -> StepOutcome {
    let order = cx.load_order()?;
    match cx.uses {
        "calculate-tax" => {
            if order.tax_transaction.is_some() || !order.untaxed() {
                return Ok(StepResult::Done(Some(
                    json!({"skipped": "the order carries its tax"}),
                )));
            }
            call(cx, "calculate")
        }
        _ => commit(cx, &order),
    }
}

fn commit(cx: &mut StepCx<'_, '_>, order: &iom_domain::Order) -> StepOutcome {
    let Some(t) = &order.tax_transaction else {
        return Ok(StepResult::Done(Some(
            json!({"skipped": "no tax calculated here"}),
        )));
    };
    if t.status != TaxStatus::Calculated {
        return Ok(StepResult::Done(Some(json!({"status": t.status}))));
    }
    if nothing_open(order) {
        return call(cx, "settle");
    }
    let since_seq = iom_store::flows::max_seq(cx.tx.conn())?;
    Ok(StepResult::Wait(Wait {
        step: cx.step.clone(),
        deadline: None,
        since_seq,
        kind: WaitKind::Event {
            pattern: "order.shipment_created,order.cancelled,order.line_cancelled".into(),
            matches: None,
        },
    }))
}

pub fn after_external(results: Vec<Value>) -> StepOutcome {
    let result = results.into_iter().next().unwrap_or(Value::Null);
    if let Some(error) = result["error"].as_str() {
        return Err(StepFailure::permanent(error.to_owned()));
    }
    Ok(StepResult::Done(Some(result)))
}
