//! What the flow executor cannot do itself: calls to provider instances over HTTP. A release goes
//! to the node's provider as its `release` action; `call-provider` runs any outbound action the
//! instance's type has; `buy-label` buys carrier labels (`shipping`); `plan-fulfillment` with
//! carrier rates asks the carrier for the lanes its cache lacks; the payment and tax steps move
//! money (`payments`, `tax`). Each call is one attempt: the step's own retry policy decides about the
//! next, and every attempt is in the provider's message log.

use std::sync::Arc;
use std::time::Duration;

use crate::flow::{Call, CallFuture, Outbound};
use iom_store::Store;
use serde_json::{Value, json};

use crate::pipeline::Pipeline;
use crate::pipeline::outbound::RetryPolicy;

pub struct ProviderCalls {
    pub store: Store,
    pub pipeline: Arc<Pipeline>,
}

impl Outbound for ProviderCalls {
    fn call(&self, call: Call, mut key: String) -> CallFuture {
        let store = self.store.clone();
        let pipeline = self.pipeline.clone();
        Box::pin(async move {
            let policy = RetryPolicy {
                attempts: 1,
                timeout: Duration::from_secs(10),
                ..RetryPolicy::default()
            };
            let (provider, action, mut document) = match call {
                Call::BuyLabel { provider, order_id } => {
                    let id = order_id
                        .parse()
                        .map_err(|_| format!("{order_id:?} is not an order id"))?;
                    let bought = crate::shipping::buy_released(&store, &pipeline, id, provider)
                        .await
                        .map_err(|e| e.to_string())?;
                    return Ok(json!(
                        bought
                            .iter()
                            .map(|b| {
                                let shipment = b.order.shipments.iter().find(|s| s.id == b.shipment_id);
                                json!({"shipment_id": b.shipment_id, "carrier": shipment.and_then(|s| s.carrier.clone()),
                                       "tracking": shipment.and_then(|s| s.tracking.clone())})
                            })
                            .collect::<Vec<_>>()
                    ));
                }
                Call::CarrierRates { request } => {
                    // The carrier down is no reason to stop planning: the plan then uses the
                    // nodes' cost models and says so.
                    let fetched = async {
                        let network = crate::fulfillment::load_network(&store)
                            .await
                            .map_err(|e| e.to_string())?;
                        crate::shipping::rates::quotes(&store, &pipeline, None, &network, &request)
                            .await
                            .map_err(|e| e.to_string())
                    };
                    return Ok(match fetched.await {
                        Ok(quotes) => json!({"lanes": quotes.len()}),
                        Err(error) => json!({ "error": error }),
                    });
                }
                Call::Payment { op, order_id } => {
                    let id = order_id
                        .parse()
                        .map_err(|_| format!("{order_id:?} is not an order id"))?;
                    return crate::payments::flow_call(&store, &pipeline, &op, id).await;
                }
                Call::Tax { op, order_id } => {
                    let id = order_id
                        .parse()
                        .map_err(|_| format!("{order_id:?} is not an order id"))?;
                    return crate::tax::flow_call(&store, &pipeline, &op, id).await;
                }
                Call::Release {
                    provider,
                    document,
                    part,
                    ..
                } => {
                    if let Some(part) = part {
                        key = format!("{key}:{part}");
                    }
                    (provider, "release".to_owned(), document)
                }
                Call::Action {
                    provider,
                    action,
                    payload,
                } => (provider, action, payload),
            };
            // The receiver recognises a repeated request by this key.
            if let Value::Object(map) = &mut document {
                map.insert("idempotency_key".into(), json!(key));
            }
            let delivered = pipeline
                .send_action(&store, &provider, &action, &document, &policy)
                .await
                .map_err(|e| e.to_string())?;
            Ok(json!({"provider": provider, "action": action, "message_id": delivered.message_id}))
        })
    }
}
