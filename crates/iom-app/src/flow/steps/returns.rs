//! The steps of return flows. A return run's subject is the return's id (its order is the run's
//! order); every step goes through the `crate::returns` service functions that run in the caller's
//! transaction, so the step's effect, its events and its record commit together.
//!
//! Who does what, so that nothing happens twice:
//! - The receipt (`POST /returns/{id}/receive`, or a channel's refund) records what arrived and
//!   restocks at once the units that came with the disposition `restock` (change id
//!   `return:{id}:line:{n}`). Units received without a disposition wait for inspection.
//! - `inspect` decides the disposition of those waiting units only; `disposition` restocks what it
//!   decided to restock under ids of their own (`return:{id}:line:{n}:inspected`). Units the
//!   receipt restocked are never restocked again, and the ledger refuses a repeated id.
//! - `refund` and `close` record the refund and the end unless they were recorded already (the
//!   refund API, reporting what a payment system paid, or a channel's refund): the status of the
//!   locked return row decides, so the API and the flow never both refund.

use crate::returns;
use iom_domain::returns::{Disposition, ReceiptLine, ReturnLine};
use iom_domain::{EventDraft, ReturnOrder, ReturnStatus};
use serde_json::{Map, Value, json};

use super::{StepCx, StepFailure, StepOutcome, StepResult};
use crate::flow::state::{Call, Wait, WaitKind};

/// Steps of this module.
pub fn handles(uses: &str) -> bool {
    matches!(
        uses,
        "create-return-label" | "await-receipt" | "inspect" | "disposition" | "refund" | "close"
    )
}

pub fn execute(cx: &mut StepCx<'_, '_>) -> StepOutcome {
    match cx.uses {
        "create-return-label" => create_label(cx),
        "await-receipt" => await_receipt(cx),
        "inspect" => inspect(cx),
        "disposition" => disposition(cx),
        "refund" => refund(cx),
        "close" => close(cx),
        other => Err(StepFailure::permanent(format!(
            "step {other:?} is not a return step"
        ))),
    }
}

/// The run's return, locked for the rest of the step (PostgreSQL).
fn load(cx: &mut StepCx<'_, '_>) -> Result<ReturnOrder, StepFailure> {
    let id = return_id(cx)?;
    iom_store::returns::load(cx.tx.conn(), &id, true)?
        .ok_or_else(|| StepFailure::permanent(format!("return {id} does not exist")))
}

fn return_id(cx: &StepCx<'_, '_>) -> Result<String, StepFailure> {
    if cx.run.flow_type != iom_flow::FlowType::Return.as_str() {
        return Err(StepFailure::permanent("the run is not about a return"));
    }
    Ok(cx.run.subject.clone())
}

// ---------------------------------------------------------------- label

/// The label request: through the provider of the node the return goes to when that provider is
/// a `webhook` instance (outside the transaction, idempotency key (run, step, execution)), else
/// the business event `return.label_requested` for whoever makes labels.
fn create_label(cx: &mut StepCx<'_, '_>) -> StepOutcome {
    let ret = load(cx)?;
    if ret.status == ReturnStatus::Cancelled {
        return Ok(StepResult::Done(Some(
            json!({"skipped": "the return is cancelled"}),
        )));
    }
    let node = ret.return_to.as_ref().map(|l| l.node.clone());
    let provider = match &node {
        Some(node) => iom_store::nodes::node_doc_in(cx.tx.conn(), node)?
            .and_then(|doc| {
                doc.get("provider")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .filter(|p| !p.is_empty()),
        None => None,
    };
    let kind = match &provider {
        Some(name) => iom_store::providers::provider_type_in(cx.tx.conn(), name)?,
        None => None,
    };
    let order = cx.load_order()?;
    let document = json!({
        "return_id": ret.id, "order_id": ret.order_id, "channel": ret.channel,
        "external_id": ret.external_id, "node": node, "ship_from": order.ship_to,
        "reference": cx.reference(),
        "lines": ret.lines.iter().map(|l| json!({
            "line_no": l.line_no, "sku": l.sku, "quantity": l.quantity, "reason": l.reason,
        })).collect::<Vec<_>>(),
    });
    match (provider, kind.as_deref()) {
        (Some(provider), Some("webhook")) => Ok(StepResult::External(vec![Call::Action {
            provider,
            action: cx.arg_str("action").unwrap_or("return_label").to_owned(),
            payload: document,
        }])),
        (provider, _) => {
            let mut data = document;
            data["provider"] = json!(provider);
            cx.tx.emit(EventDraft::new(
                "return.label_requested",
                ret.order_id.to_string(),
                data,
            ));
            Ok(StepResult::Done(Some(
                json!({"label": {"requested": "return.label_requested", "node": node}}),
            )))
        }
    }
}

/// The label call succeeded: its message in the provider's log is the label's trace.
pub fn after_external(cx: &mut StepCx<'_, '_>, results: Vec<Value>) -> StepOutcome {
    let ret = load(cx)?;
    let response = results.into_iter().next().unwrap_or(Value::Null);
    if cx.uses == "refund" {
        if let Some(error) = response["error"].as_str() {
            return Err(StepFailure::permanent(error.to_owned()));
        }
        let refund = ret.refund.as_ref();
        return Ok(StepResult::Done(Some(json!({
            "amount": refund.map(|r| r.amount.to_string()),
            "computed": refund.map(|r| r.computed.to_string()),
            "reference": refund.and_then(|r| r.reference.clone()),
        }))));
    }
    Ok(StepResult::Done(Some(json!({"label": {
        "node": ret.return_to.map(|l| l.node),
        "provider": response.get("provider"),
        "action": response.get("action"),
        "message_id": response.get("message_id"),
    }}))))
}

// ---------------------------------------------------------------- receipt

/// Waits for the receipt. The return's status decides, not the events seen, so a receipt that
/// committed before the run got here counts; the events `return.received` and `return.cancelled`
/// of this return wake the run (the dispatcher matches their `return_id` to the run's subject).
fn await_receipt(cx: &mut StepCx<'_, '_>) -> StepOutcome {
    let waiting = match cx.resume.clone() {
        Some(w) => w,
        None => Wait {
            step: cx.step.clone(),
            deadline: cx.deadline(),
            since_seq: cx.run.trigger_seq,
            kind: WaitKind::Event {
                pattern: "return.received,return.cancelled".into(),
                matches: None,
            },
        },
    };
    let ret = load(cx)?;
    match ret.status {
        ReturnStatus::Authorized if waiting.deadline.is_some_and(|d| d <= cx.now) => {
            Ok(StepResult::TimedOut)
        }
        ReturnStatus::Authorized => Ok(StepResult::Wait(waiting)),
        ReturnStatus::Cancelled => Err(StepFailure::permanent(
            "the return was cancelled before it was received",
        )),
        status => {
            let units: u32 = ret.lines.iter().map(|l| l.received_quantity).sum();
            Ok(StepResult::Done(Some(json!({
                "status": status, "received": units,
                "node": ret.receipts.last().map(|r| r.node.clone()),
            }))))
        }
    }
}

// ---------------------------------------------------------------- inspection and disposition

fn rules(cx: &StepCx<'_, '_>, name: &str) -> Map<String, Value> {
    match cx.with.get(name) {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    }
}

fn parse_disposition(value: Option<&Value>) -> Option<Disposition> {
    value.and_then(Value::as_str).and_then(Disposition::parse)
}

fn inspect(cx: &mut StepCx<'_, '_>) -> StepOutcome {
    let by_condition = rules(cx, "by_condition");
    let by_reason = rules(cx, "by_reason");
    let default = parse_disposition(cx.with.get("default")).unwrap_or(Disposition::Restock);
    let id = return_id(cx)?;
    let decide = |line: &ReturnLine, received: &ReceiptLine| {
        parse_disposition(by_condition.get(&received.condition))
            .or_else(|| parse_disposition(by_reason.get(&line.reason)))
            .unwrap_or(default)
    };
    let ret = returns::inspect_in(cx.tx, &id, decide)?;
    let lines: Vec<Value> = ret
        .receipts
        .iter()
        .flat_map(|r| &r.lines)
        .map(|l| {
            json!({"line_no": l.line_no, "quantity": l.quantity, "condition": l.condition,
                   "disposition": l.disposition, "decided_by": if l.inspected { "inspection" } else { "receipt" }})
        })
        .collect();
    Ok(StepResult::Done(Some(json!({"lines": lines}))))
}

fn disposition(cx: &mut StepCx<'_, '_>) -> StepOutcome {
    let id = return_id(cx)?;
    let waiting = load(cx)?.awaiting_inspection();
    if waiting > 0 {
        return Err(StepFailure::permanent(format!(
            "{waiting} received units wait for inspection: an inspect step must come first"
        )));
    }
    let restocked = returns::restock_inspected_in(cx.tx, &id)?;
    let ret = load(cx)?;
    let mut units: Map<String, Value> = Map::new();
    for l in ret.receipts.iter().flat_map(|r| &r.lines) {
        let Some(d) = l.disposition else { continue };
        let n = units.get(d.as_str()).and_then(Value::as_u64).unwrap_or(0);
        units.insert(d.as_str().to_owned(), json!(n + u64::from(l.quantity)));
    }
    let restocked: Vec<Value> = restocked
        .iter()
        .map(
            |r| json!({"line_no": r.line_no, "sku": r.sku, "node": r.node, "quantity": r.quantity}),
        )
        .collect();
    if !units.is_empty() {
        cx.tx.emit(EventDraft::new(
            "return.disposed",
            ret.order_id.to_string(),
            json!({"return_id": ret.id, "order_id": ret.order_id, "units": units,
                   "restocked": restocked}),
        ));
    }
    Ok(StepResult::Done(Some(
        json!({"units": units, "restocked": restocked}),
    )))
}

// ---------------------------------------------------------------- refund and close

fn refund(cx: &mut StepCx<'_, '_>) -> StepOutcome {
    let ret = load(cx)?;
    let skipped = match ret.status {
        ReturnStatus::Refunded | ReturnStatus::Closed => Some("refunded already"),
        ReturnStatus::Cancelled => Some("the return is cancelled"),
        // What the domain would refund: received units not refunded yet, except exchanges.
        ReturnStatus::Received
            if !ret
                .lines
                .iter()
                .any(|l| l.exchange_sku.is_none() && l.received_quantity > l.refunded_quantity) =>
        {
            Some("nothing to refund")
        }
        _ => None,
    };
    if let Some(why) = skipped {
        return Ok(StepResult::Done(Some(json!({
            "skipped": why,
            "amount": ret.refund.as_ref().map(|r| r.amount.to_string()),
        }))));
    }
    // An order paid through a payment instance is refunded through it, outside the transaction
    // (`payments::refund_return`, once per return under its idempotency key).
    let paid = iom_store::orders::load(cx.tx.conn(), ret.order_id, false)?
        .and_then(|o| o.payment)
        .is_some_and(|p| p.reference.is_some() && p.authorized > 0.into());
    if paid {
        return Ok(StepResult::External(vec![Call::Payment {
            op: format!("refund:{}", ret.id),
            order_id: ret.order_id.to_string(),
        }]));
    }
    let ret = returns::refund_in(cx.tx, &ret.id, None, None, false)?;
    let refund = ret.refund.as_ref();
    Ok(StepResult::Done(Some(json!({
        "amount": refund.map(|r| r.amount.to_string()),
        "computed": refund.map(|r| r.computed.to_string()),
        "restocking_fee": refund.map(|r| r.restocking_fee.to_string()),
    }))))
}

fn close(cx: &mut StepCx<'_, '_>) -> StepOutcome {
    let ret = load(cx)?;
    match ret.status {
        ReturnStatus::Closed => Ok(StepResult::Done(Some(json!({"skipped": "closed already"})))),
        ReturnStatus::Cancelled => Ok(StepResult::Done(Some(
            json!({"skipped": "the return is cancelled"}),
        ))),
        _ => {
            let ret = returns::close_in(cx.tx, &ret.id)?;
            Ok(StepResult::Done(Some(json!({"status": ret.status}))))
        }
    }
}

/// A return run ending `cancel REASON`: the return is cancelled when it still can be (nothing
/// received yet); otherwise it stays as it is and only the run ends.
pub fn cancel_return(tx: &mut iom_store::Tx<'_>, return_id: &str, reason: &str) {
    let reason = reason.to_owned();
    let result = tx.savepoint(|tx| returns::cancel_in(tx, return_id, reason).map(|_| ()));
    if let Err(e) = result {
        tracing::info!(return_id, error = %e, "the run's ending left the return as it was");
    }
}
