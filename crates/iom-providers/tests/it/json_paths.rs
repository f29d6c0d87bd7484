//! Errors name the place in the document the sender sent (a JSON path), never the program that
//! read it.

use iom_providers::inbound::{InboundError, Instance, interpret_topic};
use iom_providers::jq::Transform;
use iom_providers::{Mappings, types};
use serde_json::{Value, json};

use super::{now, sample_json};

fn instance(kind: &str, transform: Option<Transform>) -> Instance {
    Instance {
        name: format!("{kind}-in"),
        kind: types::find(kind).unwrap(),
        mappings: Mappings::default(),
        transform: transform.map(std::sync::Arc::new),
        default_node: None,
        csv: Default::default(),
    }
}

/// The (field, message) pairs of a failed interpretation, and its one-line message.
fn problems(
    instance: &Instance,
    doc: &Value,
    topic: Option<&str>,
) -> (Vec<(String, String)>, String) {
    let body = serde_json::to_vec(doc).unwrap();
    let out = interpret_topic(instance, &body, now(), 0, topic);
    match out.result {
        Err(e @ InboundError::Invalid(_)) => {
            let line = e.to_json()["message"].as_str().unwrap().to_owned();
            let InboundError::Invalid(errors) = e else {
                unreachable!()
            };
            (
                errors.into_iter().map(|e| (e.field, e.message)).collect(),
                line,
            )
        }
        other => panic!("{other:?}"),
    }
}

fn shopify_order() -> Value {
    sample_json("shopify/shopify-api-ruby_order.json")["order"].clone()
}

#[test]
fn shopify_errors_name_the_webhooks_fields() {
    let shop = instance("shopify", Some(Transform::shopify().unwrap()));
    let mut doc = shopify_order();
    doc["line_items"][2]["quantity"] = json!("two");
    let (found, line) = problems(&shop, &doc, None);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].0, "$.line_items[2].quantity");
    assert!(found[0].1.contains("expected a whole number"), "{found:?}");
    assert!(line.contains("$.line_items[2].quantity"), "{line}");
    for internal in ["jq", "output", "intake", "i64"] {
        assert!(!line.contains(internal), "{line}");
    }

    // Validation of the order made from it speaks of the same places.
    let mut doc = shopify_order();
    doc["line_items"][1]["quantity"] = json!(0);
    doc["shipping_address"]["country_code"] = json!("Kentucky");
    doc["shipping_address"]["country"] = json!(null);
    let (found, _) = problems(&shop, &doc, Some("orders/create"));
    let fields: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
    assert!(
        fields.contains(&"$.line_items[1].quantity")
            && fields.contains(&"$.shipping_address.country_code"),
        "{found:?}"
    );

    // Wrapped as the REST API answers: the path says so.
    let mut doc = json!({"order": shopify_order()});
    doc["order"]["line_items"][0]["price"] = json!("twelve");
    let (found, _) = problems(&shop, &doc, None);
    assert_eq!(found[0].0, "$.order.line_items[0].price", "{found:?}");

    // The program's interpreter answers too when the native mapping steps aside.
    let jq = instance("shopify", Some(Transform::shopify_jq().unwrap()));
    let mut doc = shopify_order();
    doc["line_items"][2]["quantity"] = json!("two");
    let (found, _) = problems(&jq, &doc, None);
    assert_eq!(found[0].0, "$.line_items[2].quantity");
}

#[test]
fn a_default_programs_own_refusal_is_not_prefixed_with_the_program() {
    let shop = instance("shopify", Some(Transform::shopify().unwrap()));
    let mut doc = shopify_order();
    doc["line_items"] = json!([]);
    let body = serde_json::to_vec(&doc).unwrap();
    let message = interpret_topic(&shop, &body, now(), 0, None)
        .result
        .unwrap_err()
        .to_string();
    assert_eq!(message, "Shopify order 450789469 has no line items");
}

#[test]
fn fulfillment_errors_name_their_fields() {
    let shop = instance("shopify", Some(Transform::shopify().unwrap()));
    let mut f = shopify_order()["fulfillments"][0].clone();
    f["status"] = json!("success");
    f["line_items"][0]["quantity"] = json!(-1);
    f["order_id"] = json!(null);
    let (found, _) = problems(&shop, &f, Some("fulfillments/create"));
    let fields: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        fields,
        ["$.order_id", "$.line_items[0].quantity"],
        "{found:?}"
    );
}

#[test]
fn orders_posted_as_iom_json_name_their_paths() {
    let rest = instance("rest", None);
    let order = json!({"external_id": "1", "currency": "USD",
        "lines": [{"sku": "A", "quantity": 1, "unit_price": "1.00"},
                  {"sku": "B", "quantity": "many", "unit_price": "1.00"}]});
    let (found, _) = problems(&rest, &order, None);
    assert_eq!(found[0].0, "$.lines[1].quantity");
    assert!(found[0].1.contains("whole number"), "{found:?}");
    let (found, _) = problems(&rest, &json!([{"external_id": "1"}, order]), None);
    assert_eq!(found[0].0, "$[1].lines[1].quantity");
}

#[test]
fn bigcommerce_errors_name_the_store_apis_fields() {
    let bc = instance("bigcommerce", Some(Transform::bigcommerce().unwrap()));
    let order = sample_json("bigcommerce/bigcommerce-api-ruby_order.json");
    let doc = json!({"order": order,
        "products": [{"id": 1, "product_id": 5, "sku": "MUG", "name": "Mug", "quantity": 1,
                      "price_ex_tax": "2.50", "total_tax": "0"},
                     {"id": 2, "product_id": 6, "sku": "PEN", "name": "Pen", "quantity": [],
                      "price_ex_tax": "1.00", "total_tax": "0"}]});
    let body = serde_json::to_vec(&doc).unwrap();
    let out =
        iom_providers::inbound::json_orders(&bc, &serde_json::from_slice(&body).unwrap(), now());
    match out {
        Err(InboundError::Invalid(errors)) => {
            assert_eq!(errors[0].field, "$.products[1].quantity", "{errors:?}")
        }
        other => panic!("{other:?}"),
    }
}
