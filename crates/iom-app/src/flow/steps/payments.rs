//! The payment steps: `authorize-payment` before release, `capture-payment` after it. Money
//! moves outside the transaction ([`StepResult::External`], run by `crate::payments`, which
//! claims each call under its idempotency key before making it); these steps decide whether
//! there is anything to do and read what came of it.
//!
//! Neither step runs for an order whose channel no `payment` instance serves: the executor
//! passes them over without a record (`steps::served_by`), so a flow naming them goes on exactly as one
//! that does not.

use iom_domain::Order;
use serde_json::{Value, json};

use super::{StepCx, StepFailure, StepOutcome, StepResult};
use crate::flow::state::{Call, Wait, WaitKind};
use crate::payments::{nothing_open, on_payment_hold, unsettled};

/// Steps of this module.
pub fn handles(uses: &str) -> bool {
    matches!(uses, "authorize-payment" | "capture-payment")
}

pub fn execute(cx: &mut StepCx<'_, '_>) -> StepOutcome {
    match cx.uses {
        "authorize-payment" => authorize(cx),
        "capture-payment" => capture(cx),
        other => Err(StepFailure::permanent(format!(
            "step {other:?} is not a payment step"
        ))),
    }
}

fn call(cx: &StepCx<'_, '_>, op: &str) -> Result<StepResult, StepFailure> {
    Ok(StepResult::External(vec![Call::Payment {
        op: op.to_owned(),
        order_id: cx.order_id()?.to_string(),
    }]))
}

fn authorize(cx: &mut StepCx<'_, '_>) -> StepOutcome {
    let order = cx.load_order()?;
    if let Some(p) = order.payment.as_ref().filter(|p| p.authorized > 0.into()) {
        return Ok(StepResult::Done(Some(
            json!({"authorized": p.authorized, "reference": p.reference}),
        )));
    }
    call(cx, "authorize")
}

/// Waits for shipments (and cancellations, and the release of a `payment` hold) until nothing
/// is left to ship, capturing as they come; the order's state decides, not the events seen, so
/// a shipment recorded before the run got here counts.
fn capture(cx: &mut StepCx<'_, '_>) -> StepOutcome {
    let order = cx.load_order()?;
    next(cx, &order)
}

fn next(cx: &mut StepCx<'_, '_>, order: &Order) -> StepOutcome {
    let Some(payment) = &order.payment else {
        return Ok(StepResult::Done(Some(json!({"skipped": "no payment"}))));
    };
    // On the hold `payment` (a renewal was refused) captures that need a renewal wait for an
    // operator's release; what nothing is left to ship for is still let go.
    let held = on_payment_hold(order);
    let releasable = nothing_open(order) && payment.capturable() > 0.into();
    if unsettled(order) && (!held || releasable) {
        return call(cx, "settle");
    }
    if nothing_open(order) && !(held && unsettled(order)) {
        return Ok(StepResult::Done(Some(json!({
            "captured": payment.captured, "released": payment.released, "status": payment.status,
        }))));
    }
    let since_seq = iom_store::flows::max_seq(cx.tx.conn())?;
    Ok(StepResult::Wait(Wait {
        step: cx.step.clone(),
        deadline: None,
        since_seq,
        kind: WaitKind::Event {
            pattern:
                "order.shipment_created,order.cancelled,order.line_cancelled,order.hold_released"
                    .into(),
            matches: None,
        },
    }))
}

/// Reads what the call came to.
pub fn after_external(cx: &mut StepCx<'_, '_>, results: Vec<Value>) -> StepOutcome {
    let result = results.into_iter().next().unwrap_or(Value::Null);
    if let Some(error) = result["error"].as_str() {
        return Err(StepFailure::permanent(error.to_owned()));
    }
    match cx.uses {
        "authorize-payment" => match result["outcome"].as_str() {
            Some("failed") => Err(StepFailure::permanent(format!(
                "payment not authorised: {}",
                result["reason"].as_str().unwrap_or("refused")
            ))),
            _ => Ok(StepResult::Done(Some(result))),
        },
        _ => {
            // The call changed the order in transactions of its own: read it as stored.
            cx.cache.forget_order();
            let order = cx.load_order()?;
            next(cx, &order)
        }
    }
}
