use iom_providers::jq::{Transform, TransformError};
use serde_json::{Value, json};

use crate::{dec, lines, sample_json, valid};

fn run_error(t: &Transform, input: &Value) -> String {
    match t.run_intakes(input, "test") {
        Err(TransformError::Run { message, .. }) => message,
        other => panic!("expected a run error, got {other:?}"),
    }
}

// ---------------------------------------------------------------- Shopify

fn assert_shopify_ipod_order(intake: &iom_domain::OrderIntake) {
    let order = valid(intake);
    assert_eq!(order.channel, "shop-us");
    assert_eq!(order.external_id, "450789469");
    assert_eq!(order.currency.code(), "USD");
    assert_eq!(order.placed_at.to_rfc3339(), "2008-01-10T16:00:00+00:00");
    assert_eq!(
        lines(&order),
        [
            (1, "IPOD2008GREEN".into(), 1, dec("199.00")),
            (2, "IPOD2008RED".into(), 1, dec("199.00")),
            (3, "IPOD2008BLACK".into(), 1, dec("199.00")),
        ]
    );
    let ship_to = order.ship_to.as_ref().unwrap();
    assert_eq!(ship_to.name.as_deref(), Some("Bob Norman"));
    assert_eq!(ship_to.line1.as_deref(), Some("Chestnut Street 92"));
    assert_eq!(ship_to.line2, None);
    assert_eq!(ship_to.city.as_deref(), Some("Louisville"));
    assert_eq!(ship_to.region.as_deref(), Some("KY"));
    assert_eq!(ship_to.postal_code.as_deref(), Some("40202"));
    assert_eq!(ship_to.country.as_str(), "US");
    assert_eq!(ship_to.phone.as_deref(), Some("555-625-1199"));
    assert_eq!((ship_to.lat, ship_to.lon), (Some(45.41634), Some(-75.6868)));
    let customer = order.customer.as_ref().unwrap();
    assert_eq!(customer.id.as_deref(), Some("207119551"));
    assert_eq!(customer.email.as_deref(), Some("bob.norman@hostmail.com"));
    assert_eq!(customer.name.as_deref(), Some("Bob Norman"));
    assert_eq!(order.ship_method.as_deref(), Some("Free Shipping"));
    assert_eq!(order.shipping_amount, dec("0.00"));
    // The fixture's own totals are inconsistent (subtotal 398.00 for three lines at 199.00);
    // iom computes from the lines.
    assert_eq!(order.totals.subtotal, dec("597.00"));
    assert_eq!(order.attributes["shopify_name"], json!("#1001"));
    assert_eq!(order.lines[1].attributes["variant_id"], json!("49148385"));
}

#[test]
fn shopify_rest_order() {
    let t = Transform::shopify().unwrap();
    let input = sample_json("shopify/shopify-api-ruby_order.json");
    let intakes = t.run_intakes(&input, "shop-us").unwrap();
    assert_eq!(intakes.len(), 1);
    assert_shopify_ipod_order(&intakes[0]);
    let order = valid(&intakes[0]);
    assert_eq!(
        order.attributes["note_attributes"],
        json!({"custom engraving": "Happy Birthday", "colour": "green"})
    );
    assert_eq!(
        order.lines[0].attributes["properties"],
        json!([{"name": "Custom Engraving", "value": "Happy Birthday"}])
    );
}

#[test]
fn shopify_webhook_body_is_the_bare_order() {
    let t = Transform::shopify().unwrap();
    let input = sample_json("shopify/shopify_python_api_order.json");
    let bare = input["order"].clone();
    let intakes = t.run_intakes(&bare, "shop-us").unwrap();
    assert_eq!(intakes.len(), 1);
    assert_shopify_ipod_order(&intakes[0]);
    // And the wrapped form gives the same.
    let wrapped = t.run_intakes(&input, "shop-us").unwrap();
    assert_eq!(valid(&wrapped[0]).totals, valid(&intakes[0]).totals);
}

#[test]
fn shopify_order_list() {
    let t = Transform::shopify().unwrap();
    let intakes = t
        .run_intakes(
            &sample_json("shopify/shopify-api-ruby_orders.json"),
            "shop-us",
        )
        .unwrap();
    assert_eq!(intakes.len(), 1);
    assert_shopify_ipod_order(&intakes[0]);
}

#[test]
fn shopify_lines_without_sku_use_the_variant() {
    let t = Transform::shopify().unwrap();
    let input = sample_json("shopify/shopify-api-ruby_order_with_properties.json");
    let order = valid(&t.run_intakes(&input, "shop").unwrap()[0]);
    assert_eq!(
        lines(&order),
        [
            (1, "39072856".into(), 1, dec("45.00")),
            (2, "4107806867497".into(), 1, dec("24.00")),
        ]
    );
    assert_eq!(
        order.lines[1].attributes["title"],
        json!("Create Your Own Coffee 3 Pack (8oz bags)")
    );
    // A property whose value is an object is carried as it is.
    assert_eq!(
        order.lines[1].attributes["properties"][0]["value"],
        json!({"Your First Name": {"\". If you want something specific on the label, enter it here:": ""}})
    );
}

#[test]
fn shopify_order_without_line_items_is_refused() {
    let t = Transform::shopify().unwrap();
    let input = sample_json("shopify/shopify_python_api_orders.json");
    let message = run_error(&t, &input);
    assert_eq!(
        message,
        "Shopify order 450789469 has no line_items; fetch the single order (GET /orders/{id}.json) or the webhook payload, which include them"
    );
}

#[test]
fn shopify_other_documents_are_named() {
    let t = Transform::shopify().unwrap();
    assert_eq!(
        run_error(&t, &sample_json("shopify/shopify-api-ruby_refund.json")),
        "this is a Shopify refund document, not an order"
    );
    assert_eq!(
        run_error(
            &t,
            &sample_json("shopify/shopify_python_api_locations.json")
        ),
        "this is a Shopify locations document, not an order"
    );
    assert_eq!(
        run_error(
            &t,
            &sample_json("shopify/shopify-api-ruby_fulfillment_order.json")
        ),
        "this is a Shopify fulfillment order (id 519788021, order 450789469), not an order"
    );
}

// ---------------------------------------------------------------- BigCommerce

fn bigcommerce_products() -> Value {
    // The shape of GET /v2/orders/{id}/products; the fixture repository has none.
    json!([{
        "id": 7, "order_id": 100, "product_id": 31, "name": "Gift certificate",
        "sku": "GC-001", "quantity": 1, "base_price": "0.0100", "price_ex_tax": "0.0100",
        "price_inc_tax": "0.0100", "total_tax": "0.0000", "applied_discounts": []
    }])
}

#[test]
fn bigcommerce_order_with_its_products() {
    let t = Transform::bigcommerce().unwrap();
    let order = sample_json("bigcommerce/bigcommerce-api-ruby_order.json");
    let input = json!({"order": order, "products": bigcommerce_products()});
    let intakes = t.run_intakes(&input, "bc").unwrap();
    assert_eq!(intakes.len(), 1);
    let order = valid(&intakes[0]);
    assert_eq!(order.external_id, "100");
    assert_eq!(order.currency.code(), "USD");
    assert_eq!(order.placed_at.to_rfc3339(), "2012-03-02T21:36:24+00:00");
    assert_eq!(lines(&order), [(1, "GC-001".into(), 1, dec("0.0100"))]);
    assert_eq!(order.totals.total, dec("0.0100"));
    // A digital order: no shipping address, the billing address is kept.
    assert!(order.ship_to.is_none());
    let bill_to = order.bill_to.as_ref().unwrap();
    assert_eq!(bill_to.name.as_deref(), Some("Bugs Bunny"));
    assert_eq!(bill_to.line1.as_deref(), Some("1 Main Street"));
    assert_eq!(bill_to.city.as_deref(), Some("Walla Walla"));
    assert_eq!(bill_to.region.as_deref(), Some("WA"));
    assert_eq!(bill_to.postal_code.as_deref(), Some("99362"));
    assert_eq!(bill_to.country.as_str(), "US");
    let customer = order.customer.as_ref().unwrap();
    assert_eq!(customer.id.as_deref(), Some("1"));
    assert_eq!(customer.email.as_deref(), Some("bug@bunny.com"));
    assert_eq!(
        order.attributes["bigcommerce_status"],
        json!("Awaiting Fulfillment")
    );
    assert_eq!(order.attributes["order_is_digital"], json!(true));
}

#[test]
fn bigcommerce_discounts_and_shipping_address() {
    let t = Transform::bigcommerce().unwrap();
    let mut order = sample_json("bigcommerce/bigcommerce-api-ruby_order.json");
    order[0]["shipping_cost_ex_tax"] = json!("4.9900");
    let input = json!({
        "order": order,
        "products": [
            {"id": 1, "product_id": 5, "sku": "", "name": "Mug", "quantity": 3,
             "price_ex_tax": "0.1000", "total_tax": "0.0300",
             "applied_discounts": [{"id": "c1", "amount": "0.1"}, {"id": "c2", "amount": "0.2"}]},
            {"id": 2, "product_id": 6, "sku": "TEE-L", "name": "Tee", "quantity": 2,
             "price_ex_tax": "12.5000", "total_tax": "0"}
        ],
        "shipping_addresses": [{"first_name": "Daffy", "last_name": "Duck", "street_1": "2 Pond Rd",
            "street_2": "", "city": "Portland", "state": "Oregon", "zip": "97201",
            "country": "United States", "country_iso2": "US", "shipping_method": "UPS Ground"}]
    });
    let order = valid(&t.run_intakes(&input, "bc").unwrap()[0]);
    assert_eq!(
        lines(&order),
        [
            (1, "product:5".into(), 3, dec("0.1000")),
            (2, "TEE-L".into(), 2, dec("12.5000")),
        ]
    );
    // 0.1 + 0.2 summed exactly, not as floating point.
    assert_eq!(order.lines[0].discount, dec("0.3"));
    assert_eq!(order.lines[0].tax, dec("0.0300"));
    assert_eq!(order.ship_method.as_deref(), Some("UPS Ground"));
    assert_eq!(order.shipping_amount, dec("4.99"));
    let ship_to = order.ship_to.as_ref().unwrap();
    assert_eq!(
        (
            ship_to.name.as_deref(),
            ship_to.city.as_deref(),
            ship_to.region.as_deref()
        ),
        (Some("Daffy Duck"), Some("Portland"), Some("Oregon"))
    );
    assert_eq!(order.totals.total, dec("30.02"));
}

#[test]
fn bigcommerce_numbers_where_text_is_expected_are_taken_as_text() {
    let t = Transform::bigcommerce().unwrap();
    let mut order = sample_json("bigcommerce/bigcommerce-api-ruby_order.json");
    order[0]["billing_address"]["zip"] = json!(99362);
    order[0]["billing_address"]["phone"] = json!(5_095_550_100u64);
    let input = json!({
        "order": order,
        "products": [{"id": 1, "product_id": 5, "sku": 12345, "name": "Mug", "quantity": 1,
                      "price_ex_tax": "2.5000", "total_tax": "0"}],
        "shipping_addresses": [{"first_name": "Daffy", "last_name": "Duck", "street_1": 2,
            "city": "Portland", "state": "OR", "zip": 97201, "phone": 5_035_550_100u64,
            "country_iso2": "US", "shipping_method": "UPS Ground"}]
    });
    let order = valid(&t.run_intakes(&input, "bc").unwrap()[0]);
    let bill_to = order.bill_to.as_ref().unwrap();
    assert_eq!(bill_to.postal_code.as_deref(), Some("99362"));
    assert_eq!(bill_to.phone.as_deref(), Some("5095550100"));
    assert_eq!(
        order.customer.as_ref().unwrap().phone.as_deref(),
        Some("5095550100")
    );
    let ship_to = order.ship_to.as_ref().unwrap();
    assert_eq!(ship_to.postal_code.as_deref(), Some("97201"));
    assert_eq!(ship_to.line1.as_deref(), Some("2"));
    assert_eq!(order.lines[0].sku, "12345");
}

#[test]
fn bigcommerce_order_without_products_is_refused() {
    let t = Transform::bigcommerce().unwrap();
    let order = sample_json("bigcommerce/bigcommerce-api-ruby_order.json");
    assert_eq!(
        run_error(&t, &json!({"order": order})),
        "BigCommerce order 100: products are not embedded (/orders/100/products); fetch them and pass them as products"
    );
}

// ---------------------------------------------------------------- Amazon

#[test]
fn amazon_sandbox_order_and_items() {
    let t = Transform::amazon().unwrap();
    let input = json!({
        "order": sample_json("amazon/ordersV0_sandbox_getOrder_TEST_CASE_200.json"),
        "items": sample_json("amazon/ordersV0_sandbox_getOrderItems_TEST_CASE_200.json"),
    });
    let intakes = t.run_intakes(&input, "amazon-us").unwrap();
    let order = valid(&intakes[0]);
    assert_eq!(order.external_id, "902-1845936-5435065");
    assert_eq!(order.currency.code(), "USD");
    assert_eq!(order.placed_at.to_rfc3339(), "1970-01-19T03:58:30+00:00");
    assert_eq!(
        lines(&order),
        [(1, "NABetaASINB00551Q3CS".into(), 1, dec("10.00"))]
    );
    assert_eq!(order.lines[0].tax, dec("1.01"));
    assert_eq!(order.lines[0].attributes["asin"], json!("B00551Q3CS"));
    // Adds up to the order's OrderTotal (11.01).
    assert_eq!(order.totals.total, dec("11.01"));
    assert_eq!(order.ship_method.as_deref(), Some("Standard"));
    assert!(order.ship_to.is_none());
    assert_eq!(
        order
            .requested_delivery_at
            .map(|t| t.to_rfc3339())
            .as_deref(),
        Some("1970-01-19T04:15:17+00:00")
    );
    assert_eq!(order.attributes["amazon_order_status"], json!("Unshipped"));
}

#[test]
fn amazon_line_price_is_split_exactly() {
    // The getOrderItems example belongs to order 903-1671087-0812628, which has no example of its
    // own; a minimal order with that id is given here.
    let t = Transform::amazon().unwrap();
    let input = json!({
        "order": {"AmazonOrderId": "903-1671087-0812628", "PurchaseDate": "2013-09-01T10:00:00Z",
                  "OrderStatus": "Shipped", "MarketplaceId": "A1VC38T7YXB528"},
        "items": sample_json("amazon/ordersV0_getOrderItems_example.json"),
    });
    let order = valid(&t.run_intakes(&input, "amazon-jp").unwrap()[0]);
    // No OrderTotal: the currency of the item prices.
    assert_eq!(order.currency.code(), "JPY");
    assert_eq!(
        lines(&order),
        [
            (1, "CBA_OTF_1".into(), 1, dec("25.99")),
            // ItemPrice 17.95 is for 2 units: 8.98 each with 0.01 rounding discount.
            (2, "CBA_OTF_5".into(), 2, dec("8.98")),
        ]
    );
    assert_eq!(order.lines[1].discount, dec("0.01"));
    assert_eq!(order.shipping_amount, dec("1.26"));
    assert_eq!(order.totals.total, dec("45.20"));
}

#[test]
fn amazon_get_orders_result_has_no_currency_of_its_own() {
    let t = Transform::amazon().unwrap();
    let orders = sample_json("amazon/ordersV0_getOrders_example.json");
    // Without items.
    assert_eq!(
        run_error(&t, &json!({"order": orders})),
        "Amazon order 902-3159896-1390916: its OrderItems (getOrderItems) are required"
    );
    // With the items example, which belongs to another order.
    let items = sample_json("amazon/ordersV0_getOrderItems_example.json");
    assert_eq!(
        run_error(&t, &json!({"order": orders, "items": items})),
        "the items belong to Amazon order 903-1671087-0812628, not 902-3159896-1390916"
    );
    // With its own items (as getOrderItems would return them): currency from the items.
    let items = json!({"payload": {"AmazonOrderId": "902-3159896-1390916", "OrderItems": [
        {"ASIN": "B000TEST", "OrderItemId": "1", "SellerSKU": "MUG-1", "QuantityOrdered": 3,
         "ItemPrice": {"CurrencyCode": "USD", "Amount": "10.00"},
         "ItemTax": {"CurrencyCode": "USD", "Amount": "0.80"}}]}});
    let order = valid(
        &t.run_intakes(&json!({"order": orders, "items": items}), "amazon-us")
            .unwrap()[0],
    );
    assert_eq!(order.currency.code(), "USD");
    assert_eq!(lines(&order), [(1, "MUG-1".into(), 3, dec("3.34"))]);
    assert_eq!(order.lines[0].discount, dec("0.02"));
    assert_eq!(order.totals.total, dec("10.80"));
    let ship_to = order.ship_to.as_ref().unwrap();
    assert_eq!(
        (
            ship_to.name.as_deref(),
            ship_to.line1.as_deref(),
            ship_to.city.as_deref()
        ),
        (
            Some("Michigan address"),
            Some("1 Cross St."),
            Some("Canton")
        )
    );
    assert_eq!(
        (
            ship_to.region.as_deref(),
            ship_to.postal_code.as_deref(),
            ship_to.country.as_str()
        ),
        (Some("MI"), Some("48817"), "US")
    );
    let customer = order.customer.as_ref().unwrap();
    assert_eq!(customer.email.as_deref(), Some("user@example.com"));
    assert_eq!(
        order.attributes["purchase_order_number"],
        json!("1234567890123")
    );
}

// ---------------------------------------------------------------- the Transform itself

#[test]
fn compile_errors_have_a_position() {
    let err = Transform::compile("mine", "{\n  a: .x,\n  b: (.y |\n}").unwrap_err();
    match err {
        TransformError::Compile { program, line, .. } => {
            assert_eq!(program, "mine");
            assert_eq!(line, 4);
        }
        other => panic!("{other:?}"),
    }
    let err = Transform::compile("mine", ".a | no_such_filter(1)").unwrap_err();
    match err {
        TransformError::Compile {
            message,
            line,
            column,
            ..
        } => {
            assert_eq!(message, "undefined filter no_such_filter");
            assert_eq!((line, column), (1, 6));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn custom_programs_and_prelude() {
    let t = Transform::compile(
        "sum",
        r#"{total: ([.amounts[]] | money_sum), split: (.amount | split_total(3)), name: (.name | nonblank)}"#,
    )
    .unwrap();
    let out = t
        .run(&json!({"amounts": ["0.1", "0.2", 0.05, null], "amount": "10", "name": ""}))
        .unwrap();
    assert_eq!(
        out,
        [
            json!({"total": "0.35", "split": {"unit_price": "3.34", "rounding": "0.02"}, "name": null})
        ]
    );
    let t = Transform::compile("err", r#"if .x then error("boom \(.x)") else . end"#).unwrap();
    assert_eq!(run_error(&t, &json!({"x": 1})), "boom 1");
    // Outputs that are not orders are named with their index.
    let t = Transform::compile("bad", r#"{external_id: "1"}, {lines: "none"}"#).unwrap();
    match t.run_intakes(&json!(null), "c").unwrap_err() {
        TransformError::NotAnOrder { index, .. } => assert_eq!(index, 1),
        other => panic!("{other:?}"),
    }
    // The channel is filled in when the program does not set it.
    let t = Transform::compile("ch", r#"{external_id: 5, channel: .c}"#).unwrap();
    let intakes = t.run_intakes(&json!({"c": null}), "fallback").unwrap();
    assert_eq!(intakes[0].channel.as_deref(), Some("fallback"));
    assert_eq!(intakes[0].external_id.as_deref(), Some("5"));
}

#[test]
fn transforms_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>(_: &T) {}
    let t = Transform::shopify().unwrap();
    shareable(&t);
    let input = sample_json("shopify/shopify-api-ruby_order.json");
    let counts: Vec<usize> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| s.spawn(|| t.run_intakes(&input, "shop").unwrap().len()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(counts, [1, 1]);
}

/// The definitions the prelude had before `money_sum` and `split_total` became native: the
/// native filters must answer exactly what these answer.
const JQ_MONEY: &str = r#"
def money_sum_jq:
  map(select(. != null) | dec_parse)
  | if length == 0 then null
    else (map(.s) | max) as $s | map(dec_rescale($s).u) | {u: add, s: $s} | dec_format
    end;
def split_total_jq($qty):
  (dec_parse | dec_rescale(2)) as $t
  | if $qty <= 0 then {unit_price: ($t | dec_format), rounding: "0"}
    else (($t.u + $qty - 1) / $qty | floor) as $unit
      | {unit_price: ({u: $unit, s: $t.s} | dec_format),
         rounding: ({u: ($unit * $qty - $t.u), s: $t.s} | dec_format)}
    end;
"#;

#[test]
fn native_money_filters_answer_what_the_jq_definitions_did() {
    let program = format!(
        "{JQ_MONEY} . as $in | [$in.amounts | money_sum, money_sum_jq] | \
         . + [$in.qtys[] as $q | ($in.amounts[0] // \"0\") | split_total($q), split_total_jq($q)]"
    );
    let t = Transform::compile("money", &program).unwrap();
    let cases = [
        json!(["0.1", "0.2", 0.05, null]),
        json!([]),
        json!([null]),
        json!(["100.00", 12, "0.001"]),
        json!(["123456789.12", "987654321.88"]),
        json!([7]),
        json!(["0.07"]),
        json!(["199.99"]),
    ];
    for amounts in cases {
        let input = json!({"amounts": amounts, "qtys": [1, 2, 3, 7, 0]});
        let out = t.run(&input).unwrap();
        let pairs = out[0].as_array().unwrap();
        for pair in pairs.chunks(2) {
            assert_eq!(pair[0], pair[1], "{input}: {pairs:?}");
        }
    }
    // Negative amounts (refunds, adjustments): the jq definitions lost the sign ("-0.50" became
    // 0.50, because "-0" + "50" read as a number is 50); the native filters keep it.
    let t = Transform::compile(
        "neg",
        "[(.amounts | money_sum), (.amounts[0] | split_total(2)), (.amounts[0] | split_total(3))]",
    )
    .unwrap();
    assert_eq!(
        t.run(&json!({"amounts": ["-0.50", "0.25"]})).unwrap(),
        [json!(["-0.25", {"unit_price": "-0.25", "rounding": "0.00"},
                {"unit_price": "-0.16", "rounding": "0.02"}])]
    );
    let t = Transform::compile("neg2", ".amounts | money_sum").unwrap();
    assert_eq!(
        t.run(&json!({"amounts": ["19.99", "5", "-3.333"]}))
            .unwrap(),
        [json!("21.657")]
    );
    // Both refuse what is not an amount, with the same message.
    for bad in [
        json!(["1e5"]),
        json!(["12,50"]),
        json!([true]),
        json!(["."]),
    ] {
        let native = Transform::compile("n", "money_sum").unwrap();
        let jq = Transform::compile("j", &format!("{JQ_MONEY} money_sum_jq")).unwrap();
        assert_eq!(run_error(&native, &bad), run_error(&jq, &bad), "{bad}");
    }
}
