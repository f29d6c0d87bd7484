//! The Rust mapping of the default Shopify program gives what the jq program gives: the same
//! outputs and the same error messages, on every Shopify sample and on the awkward shapes the
//! program handles. If one of them changes without the other, these tests fail.

use iom_providers::jq::{Transform, TransformError, shopify_native};
use serde_json::{Value, json};

use crate::sample_json;

fn jq(input: &Value) -> Result<Vec<Value>, String> {
    match Transform::shopify_jq().unwrap().run(input) {
        Ok(out) => Ok(out),
        Err(TransformError::Run { message, .. }) => Err(message),
        Err(other) => panic!("unexpected {other:?}"),
    }
}

/// The Rust mapping handles `input` itself and agrees with the program; returns the result.
fn same(input: &Value) -> Result<Vec<Value>, String> {
    let expected = jq(input);
    let native =
        shopify_native(input).unwrap_or_else(|| panic!("the Rust mapping leaves {input} to jq"));
    assert_eq!(native, expected, "input: {input}");
    // And the transform the pipeline uses answers the same, errors included.
    let via_transform = match Transform::shopify().unwrap().run(input) {
        Ok(out) => Ok(out),
        Err(TransformError::Run { program, message }) => {
            // A default program's messages speak of the document, without the program's name.
            assert_eq!(program, "");
            Err(message)
        }
        Err(other) => panic!("unexpected {other:?}"),
    };
    assert_eq!(via_transform, expected);
    expected
}

fn base() -> Value {
    json!({
        "id": 5001, "name": "#5001", "email": "ann@example.com", "phone": "+1 555 0100",
        "created_at": "2026-11-26T10:00:00-05:00", "currency": "USD",
        "order_number": 1001, "financial_status": "paid", "tags": "vip, wholesale", "note": "leave at door",
        "line_items": [
            {"id": 1, "sku": "SKU-1", "quantity": 2, "price": "19.95", "variant_id": 11,
             "product_id": 21, "title": "One", "name": "One - Red",
             "tax_lines": [{"price": "1.20"}, {"price": "0.35"}]}
        ],
        "shipping_address": {"first_name": "Ann", "last_name": "Lee", "address1": "1 Main St",
            "address2": "", "city": "Seattle", "province": "Washington", "province_code": "WA",
            "zip": "98101", "country": "United States", "country_code": "US",
            "latitude": 47.61, "longitude": -122.33},
        "billing_address": null,
        "customer": {"id": 77, "email": "", "first_name": "Ann", "last_name": null, "phone": null},
        "shipping_lines": [{"code": null, "title": "Standard", "price": "2.00"},
                           {"code": "x", "title": "Extra", "price": "0.50"}],
        "note_attributes": [{"name": "gift", "value": "yes"}, {"name": "wrap", "value": true},
                            {"name": "gift", "value": "no"}]
    })
}

fn with(mut v: Value, f: impl FnOnce(&mut Value)) -> Value {
    f(&mut v);
    v
}

#[test]
fn native_shopify_equals_jq_on_every_shopify_sample() {
    let dir = format!(
        "{}/../../../shared/conformance/shopify",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    assert!(names.len() >= 8, "{names:?}");
    let mut orders = 0;
    let mut errors = 0;
    for name in &names {
        match same(&sample_json(&format!("shopify/{name}"))) {
            Ok(out) => orders += out.len(),
            Err(_) => errors += 1,
        }
    }
    // Both kinds of answer were compared: orders, and refusals of the other documents.
    assert!(orders >= 4, "{orders}");
    assert!(errors >= 3, "{errors}");
}

#[test]
fn native_shopify_equals_jq_on_a_full_order() {
    let out = same(&base()).unwrap();
    assert_eq!(out.len(), 1);
    // A few spot checks that the comparison is about something.
    assert_eq!(out[0]["lines"][0]["tax"], json!("1.55"));
    assert_eq!(out[0]["shipping_amount"], json!("2.50"));
    assert_eq!(out[0]["ship_method"], json!("Standard"));
    assert_eq!(out[0]["ship_to"]["name"], json!("Ann Lee"));
    assert_eq!(out[0]["customer"]["email"], json!("ann@example.com"));
    assert_eq!(
        out[0]["attributes"]["note_attributes"],
        json!({"gift": "no", "wrap": true})
    );
    same(&json!({"order": base()})).unwrap();
}

#[test]
fn native_shopify_equals_jq_on_skus_and_discounts() {
    let line = |extra: Value| {
        with(base(), |o| {
            let l = &mut o["line_items"][0];
            for (k, v) in extra.as_object().unwrap() {
                l[k] = v.clone();
            }
        })
    };
    // Blank or missing SKU falls back to the variant id; neither leaves it null.
    let out = same(&line(json!({"sku": ""}))).unwrap();
    assert_eq!(out[0]["lines"][0]["sku"], json!("11"));
    same(&line(json!({"sku": null, "variant_id": "v-9"}))).unwrap();
    same(&line(json!({"sku": null, "variant_id": null}))).unwrap();
    // discount_allocations win over total_discount; an empty list falls back to it.
    let out = same(&line(json!({
        "discount_allocations": [{"amount": "1.00"}, {"amount": "0.505"}, {"amount": null}],
        "total_discount": "9.99"
    })))
    .unwrap();
    assert_eq!(out[0]["lines"][0]["discount"], json!("1.505"));
    same(&line(
        json!({"discount_allocations": [], "total_discount": "2.00"}),
    ))
    .unwrap();
    same(&line(
        json!({"discount_allocations": [{"amount": null}], "total_discount": "2.00"}),
    ))
    .unwrap();
    same(&line(json!({"total_discount": ""}))).unwrap();
    same(&line(
        json!({"discount_allocations": null, "total_discount": 3}),
    ))
    .unwrap();
    // No tax lines, an empty list, null prices.
    same(&line(json!({"tax_lines": null}))).unwrap();
    same(&line(json!({"tax_lines": []}))).unwrap();
    same(&line(
        json!({"tax_lines": [{"price": null}, {"rate": 0.1}]}),
    ))
    .unwrap();
    // Title from name or title; properties default to [].
    same(&line(json!({"name": null, "properties": null}))).unwrap();
    same(&line(
        json!({"properties": [{"name": "engraving", "value": "A"}]}),
    ))
    .unwrap();
}

#[test]
fn native_shopify_equals_jq_on_numbers_as_prices() {
    let out = same(&with(base(), |o| {
        o["line_items"] = json!([
            {"id": 1, "sku": "A", "quantity": 1, "price": 19.95, "variant_id": 11,
             "tax_lines": [{"price": 1.5}, {"price": 2.0}, {"price": 3}],
             "discount_allocations": [{"amount": 0.1}, {"amount": 0.2}]},
            {"id": 2.0, "sku": "B", "quantity": 3.0, "price": 20.0, "variant_id": 12.5,
             "total_discount": 1.25},
            {"id": 3, "sku": "C", "quantity": 1, "price": 7, "variant_id": 13}
        ]);
        o["shipping_lines"] =
            json!([{"title": "Std", "price": 5.0}, {"title": "x", "price": 0.25}]);
        o["id"] = json!(12345678901_i64);
        o["shipping_address"]["latitude"] = json!(45.0);
        o["shipping_address"]["longitude"] = json!(-75);
        o["billing_address"] = json!({"name": "B", "latitude": "45.41634", "longitude": "-75"});
    }))
    .unwrap();
    // Exact decimal arithmetic, not floating point.
    assert_eq!(out[0]["lines"][0]["discount"], json!("0.3"));
    assert_eq!(out[0]["lines"].as_array().unwrap().len(), 3);
}

#[test]
fn native_shopify_equals_jq_on_customers_and_addresses() {
    same(&with(base(), |o| {
        o["customer"] = Value::Null;
        o["shipping_address"] = Value::Null;
    }))
    .unwrap();
    same(&with(base(), |o| {
        o.as_object_mut().unwrap().remove("customer");
        o.as_object_mut().unwrap().remove("shipping_address");
        o.as_object_mut().unwrap().remove("email");
        o["billing_address"] = json!({"name": "", "first_name": "Bo", "company": "",
            "country": "Canada", "country_code": "", "province": "", "latitude": "", "longitude": null});
    }))
    .unwrap();
    same(&with(base(), |o| {
        o["customer"] = json!({"id": "c-1", "email": "c@example.com", "first_name": "", "last_name": "Lee",
            "phone": "+1 555 0199"});
        o["billing_address"] = json!({"name": "Billing Dept", "first_name": "X", "last_name": "Y"});
        o["shipping_address"] = json!({});
        o["currency"] = Value::Null;
        o["presentment_currency"] = json!("CAD");
        o["processed_at"] = json!("2026-11-27T00:00:00Z");
        o["note_attributes"] = json!([]);
        o["shipping_lines"] = json!([]);
    }))
    .unwrap();
    same(&with(base(), |o| {
        o["customer"] = json!(false);
        o["shipping_lines"] = Value::Null;
        o.as_object_mut().unwrap().remove("note_attributes");
    }))
    .unwrap();
}

#[test]
fn native_shopify_equals_jq_on_refusals() {
    let missing = with(base(), |o| {
        o.as_object_mut().unwrap().remove("line_items");
    });
    let err = same(&missing).unwrap_err();
    assert!(err.contains("5001 has no line_items"), "{err}");
    same(&with(missing.clone(), |o| o["id"] = Value::Null)).unwrap_err();
    same(&with(missing.clone(), |o| {
        o["id"] = Value::Null;
        o["name"] = Value::Null;
    }))
    .unwrap_err();
    same(&with(base(), |o| o["line_items"] = json!("none"))).unwrap_err();
    let err = same(&with(base(), |o| o["line_items"] = json!([]))).unwrap_err();
    assert!(err.ends_with("has no line items"), "{err}");
    // A fulfillment order, a one-key document of another resource, values that are no object.
    let err = same(
        &json!({"id": 1046000820, "order_id": 450789469, "status": "open",
        "fulfillment_order_line_items": []}),
    )
    .unwrap_err();
    assert!(
        err.contains("fulfillment order (id 1046000820, order 450789469)"),
        "{err}"
    );
    same(&json!({"fulfillment_order_line_items": [], "id": "gid://x"})).unwrap_err();
    same(&json!({"customers": [{"id": 1}]})).unwrap_err();
    same(&json!({"line_items": [{"sku": "A"}]})).unwrap_err();
    for v in [
        json!([base()]),
        json!("order"),
        json!(5),
        json!(null),
        json!(true),
    ] {
        same(&v).unwrap_err();
    }
}

#[test]
fn native_shopify_equals_jq_on_order_lists() {
    let second = with(base(), |o| {
        o["id"] = json!(5002);
        o["name"] = json!("#5002");
    });
    let out = same(&json!({"orders": [base(), second]})).unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(out[1]["external_id"], json!("5002"));
    assert_eq!(same(&json!({"orders": []})).unwrap(), Vec::<Value>::new());
    // One bad order refuses the whole document, with that order's message.
    let bad = with(base(), |o| o["line_items"] = json!([]));
    let err = same(&json!({"orders": [base(), bad]})).unwrap_err();
    assert!(err.contains("no line items"), "{err}");
}

/// Shapes the Rust mapping does not reproduce itself (jq's own error texts)
/// are left to the program, so the default transform still answers exactly as jq.
#[test]
fn shapes_the_rust_mapping_leaves_to_jq_get_the_programs_answer() {
    let cases = [
        with(base(), |o| {
            o["shipping_address"]["latitude"] = json!("north")
        }),
        with(base(), |o| {
            o["shipping_address"]["latitude"] = json!("45 46")
        }),
        with(base(), |o| {
            o["line_items"][0]["tax_lines"] = json!([{"price": "1,20"}])
        }),
        with(base(), |o| {
            o["line_items"][0]["discount_allocations"] = json!([{"amount": {}}])
        }),
        with(base(), |o| o["customer"] = json!("someone")),
        json!({"orders": null}),
        json!({"order": null}),
        json!({"orders": [5]}),
    ];
    for input in &cases {
        assert_eq!(shopify_native(input), None, "{input}");
        let expected = Transform::shopify_jq().unwrap().run(input);
        assert_eq!(
            Transform::shopify().unwrap().run(input),
            expected,
            "{input}"
        );
    }
}
