//! Shopify refunds, read from the conformance sample as Shopify sends it.

use iom_providers::inbound::{Instance, interpret};
use iom_providers::jq::Transform;
use iom_providers::{Mappings, types};

use super::{dec, now, sample, sample_json};

fn shopify() -> Instance {
    Instance {
        name: "shop".into(),
        kind: types::find("shopify").unwrap(),
        mappings: Mappings::default(),
        transform: Some(std::sync::Arc::new(Transform::shopify().unwrap())),
        default_node: None,
        csv: Default::default(),
    }
}

#[test]
fn the_refund_sample_is_a_refund_notice() {
    let out = interpret(
        &shopify(),
        &sample("shopify/shopify-api-ruby_refund.json"),
        now(),
        0,
    );
    assert_eq!(out.kind, "refund");
    let content = out.result.unwrap();
    assert!(content.orders.is_empty());
    let notice = &content.refunds[0];
    assert_eq!(notice.order_ref, "450789469");
    assert_eq!(notice.refund_id, "509562969");
    assert!(notice.restock);
    assert_eq!(notice.amount, Some(dec("209.00")));
    assert_eq!(notice.currency.as_deref(), Some("USD"));
    assert_eq!(notice.note.as_deref(), Some("it broke during shipping"));
    let lines: Vec<(Option<&str>, Option<&str>, u32)> = notice
        .lines
        .iter()
        .map(|l| (l.line_ref.as_deref(), l.sku.as_deref(), l.quantity))
        .collect();
    assert_eq!(
        lines,
        [
            (Some("703073504"), Some("IPOD2008BLACK"), 1),
            (Some("466157049"), Some("IPOD2008GREEN"), 1)
        ]
    );
}

#[test]
fn a_bare_refund_webhook_with_restock_types_is_read_too_and_a_bad_one_names_its_fields() {
    let mut bare = sample_json("shopify/shopify-api-ruby_refund.json")["refund"].clone();
    bare["restock"] = serde_json::Value::Null;
    bare["refund_line_items"][0]["restock_type"] = "return".into();
    let body = serde_json::to_vec(&bare).unwrap();
    let notice = &interpret(&shopify(), &body, now(), 0)
        .result
        .unwrap()
        .refunds[0];
    assert!(notice.restock);

    bare["refund_line_items"][1]["quantity"] = 0.into();
    bare["transactions"][0]["amount"] = "lots".into();
    let body = serde_json::to_vec(&bare).unwrap();
    let error = interpret(&shopify(), &body, now(), 0)
        .result
        .unwrap_err()
        .to_json();
    let fields: Vec<&str> = error["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "$.refund_line_items[1].quantity",
            "$.transactions[0].amount"
        ]
    );
}
