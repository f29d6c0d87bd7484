use iom_providers::csv::{self, CsvError, CsvOptions};
use serde_json::json;

use crate::{dec, lines, valid};

#[test]
fn rows_are_grouped_into_orders() {
    let file = "\u{feff}External ID,currency,placed_at,customer_email,ship_to_name,ship_to_line1,ship_to_city,ship_to_region,ship_to_postal_code,ship_to_country,sku,quantity,unit_price,discount,attributes.gift,line_attributes.engraving\n\
                A-1,EUR,2026-02-01,ann@example.com,Ann Lee,\"Rue de la Paix 1, Bât. B\",Paris,,75002,FR,MUG-1,2,9.90,,yes,\n\
                B-7,EUR,2026-02-02T10:30:00+01:00,,,,,,,,TEE-L,1,19.00,1.00,,\n\
                A-1,,,,,,,,,,\"PEN,BLUE\",3,1.50,,,\"Ann\"\n";
    let orders = csv::parse_orders(file.as_bytes(), "csv-import").unwrap();
    assert_eq!(orders.len(), 2);

    let a = valid(&orders[0]);
    assert_eq!(
        (a.channel.as_str(), a.external_id.as_str()),
        ("csv-import", "A-1")
    );
    assert_eq!(a.currency.code(), "EUR");
    assert_eq!(a.placed_at.to_rfc3339(), "2026-02-01T00:00:00+00:00");
    assert_eq!(
        lines(&a),
        [
            (1, "MUG-1".into(), 2, dec("9.90")),
            (2, "PEN,BLUE".into(), 3, dec("1.50")),
        ]
    );
    assert_eq!(a.lines[1].attributes["engraving"], json!("Ann"));
    assert_eq!(a.attributes["gift"], json!("yes"));
    let ship_to = a.ship_to.as_ref().unwrap();
    assert_eq!(ship_to.line1.as_deref(), Some("Rue de la Paix 1, Bât. B"));
    assert_eq!(
        (ship_to.city.as_deref(), ship_to.country.as_str()),
        (Some("Paris"), "FR")
    );
    assert_eq!(ship_to.region, None);
    assert_eq!(
        a.customer.as_ref().unwrap().email.as_deref(),
        Some("ann@example.com")
    );
    assert_eq!(a.totals.total, dec("24.30"));

    let b = valid(&orders[1]);
    assert_eq!(b.external_id, "B-7");
    assert_eq!(b.placed_at.to_rfc3339(), "2026-02-02T09:30:00+00:00");
    assert_eq!(b.lines[0].discount, dec("1.00"));
    assert!(b.ship_to.is_none() && b.customer.is_none());
}

#[test]
fn every_problem_is_reported_with_row_and_column() {
    let file = "external_id,currency,sku,quantity,unit_price,line_no\n\
                A-1,USD,MUG-1,two,9.90,1\n\
                A-1,EUR,MUG-2,1,9,90,2\n\
                ,USD,MUG-3,1,1.00,3\n\
                B-1,USD,,1,1.00,x\n\
                C-1,USD,PEN,1,\"1,50\",1\n";
    let err = csv::parse_orders(file.as_bytes(), "csv").unwrap_err();
    let found: Vec<(u64, Option<&str>)> =
        err.0.iter().map(|e| (e.row, e.column.as_deref())).collect();
    assert_eq!(
        found,
        [
            (2, Some("quantity")),
            (3, None),
            (4, Some("external_id")),
            (5, Some("line_no")),
            (5, Some("sku")),
            (6, Some("unit_price")),
        ]
    );
    assert_eq!(err.0[0].message, "\"two\" is not a whole quantity");
    assert_eq!(err.0[1].message, "7 fields but the header has 6");
    assert_eq!(
        err.0[5].to_string(),
        "row 6, column unit_price: \"1,50\" is not a decimal number (use . as decimal separator)"
    );
    assert!(
        err.to_string()
            .starts_with("6 problem(s) in the CSV file; row 2, column quantity")
    );
}

#[test]
fn conflicting_order_fields_are_errors() {
    let file = "external_id,currency,ship_method,sku,quantity,unit_price\n\
                A-1,USD,ground,MUG-1,1,1.00\n\
                A-1,USD,express,MUG-2,1,1.00\n";
    let err = csv::parse_orders(file.as_bytes(), "csv").unwrap_err();
    assert_eq!(
        err.0,
        [CsvError {
            row: 3,
            column: Some("ship_method".into()),
            message: "\"express\" differs from \"ground\" given for the same order in row 2".into(),
        }]
    );
}

#[test]
fn header_problems() {
    let file = "external_id,sku,qty,unit_price,unit_price\nA,B,1,1,1\n";
    let err = csv::parse_orders(file.as_bytes(), "csv").unwrap_err();
    let found: Vec<(u64, Option<&str>)> =
        err.0.iter().map(|e| (e.row, e.column.as_deref())).collect();
    assert_eq!(
        found,
        [
            (1, Some("qty")),
            (1, Some("unit_price")),
            (1, Some("quantity")),
            (1, Some("currency")),
        ]
    );
    assert!(err.0[0].message.starts_with("unknown column"));
    assert_eq!(err.0[1].message, "appears twice (columns 4 and 5)");
}

#[test]
fn semicolons_and_default_currency() {
    let file = "channel;external_id;sku;quantity;unit_price;ship_to_country;ship_to_lat;ship_to_lon\n\
                web;1;A;1;2.50;DE;52.52;13.40\n\
                app;1;B;2;1.00;;;\n";
    let options = CsvOptions {
        delimiter: b';',
        default_currency: Some("EUR".into()),
        ..CsvOptions::default()
    };
    let orders = csv::parse_orders_with(file.as_bytes(), "csv", &options).unwrap();
    // Same external_id, different channels: two orders.
    assert_eq!(orders.len(), 2);
    let web = valid(&orders[0]);
    assert_eq!((web.channel.as_str(), web.currency.code()), ("web", "EUR"));
    let geo = web.ship_to.as_ref().unwrap().geo().unwrap();
    assert_eq!((geo.lat, geo.lon), (52.52, 13.40));
    let app = valid(&orders[1]);
    assert_eq!(lines(&app), [(1, "B".into(), 2, dec("1.00"))]);
}

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn shopify_export() -> CsvOptions {
    CsvOptions::from_settings(&json!({"preset": "shopify_export"})).unwrap()
}

#[test]
fn shopify_export_rows_of_one_name_are_one_order() {
    let orders = csv::parse_orders_with(
        &data("shopify-orders-export.csv"),
        "shop-csv",
        &shopify_export(),
    )
    .unwrap();
    assert_eq!(orders.len(), 2);

    let first = valid(&orders[0]);
    // The order id the webhooks use, so that both are one order.
    assert_eq!(first.external_id, "5550000001");
    assert_eq!(first.attributes["shopify_name"], json!("#1001"));
    assert_eq!(first.attributes["note"], json!("Gift wrap, please"));
    assert_eq!(first.placed_at.to_rfc3339(), "2026-09-03T14:14:00+00:00");
    assert_eq!(first.currency.code(), "USD");
    assert_eq!(first.ship_method.as_deref(), Some("Standard"));
    assert_eq!(first.shipping_amount, dec("6.00"));
    // The continuation rows (one after the other order) add their lines.
    assert_eq!(
        lines(&first),
        [
            (1, "FERN-1".into(), 2, dec("16.00")),
            (2, "TOTE-2".into(), 1, dec("15.00")),
            (3, "CARD-9".into(), 1, dec("4.00")),
        ]
    );
    assert_eq!(first.lines[0].discount, dec("5.00"));
    assert_eq!(first.lines[1].attributes["title"], json!("Linen Tote"));
    let ship_to = first.ship_to.as_ref().unwrap();
    // Shopify's '02134 keeps the leading zero in spreadsheets; the zip is 02134.
    assert_eq!(ship_to.postal_code.as_deref(), Some("02134"));
    assert_eq!(ship_to.line2.as_deref(), Some("Apt 2"));
    assert_eq!(
        (ship_to.region.as_deref(), ship_to.country.as_str()),
        (Some("MA"), "US")
    );
    assert_eq!(
        first.customer.as_ref().unwrap().email.as_deref(),
        Some("ann@example.com")
    );
    assert_eq!(first.totals.total, dec("52.00"));

    let second = valid(&orders[1]);
    assert_eq!(second.external_id, "5550000002");
    assert_eq!(lines(&second), [(1, "NOTE-3".into(), 3, dec("10.00"))]);
    assert_eq!(second.placed_at.to_rfc3339(), "2026-09-04T15:00:00+00:00");
}

#[test]
fn shopify_export_errors_name_the_exports_columns() {
    let file = String::from_utf8(data("shopify-orders-export.csv")).unwrap();
    let file = file
        .replacen(
            ",2,Botanical Fern Print,16.00,",
            ",two,Botanical Fern Print,16.00,",
            1,
        )
        .replacen(",1,Card,4.00,,CARD-9,", ",1,Card,4.00,,,", 1);
    let err = csv::parse_orders_with(file.as_bytes(), "shop-csv", &shopify_export()).unwrap_err();
    assert_eq!(
        err.0,
        [
            CsvError {
                row: 2,
                column: Some("Lineitem quantity".into()),
                message: "\"two\" is not a whole quantity".into(),
            },
            CsvError {
                row: 5,
                column: Some("Lineitem sku".into()),
                message: "is required on every row".into(),
            },
        ]
    );
}

#[test]
fn settings_columns_map_a_files_own_headers() {
    let settings = json!({"columns": {
        "Order No": "external_id", "Item": "sku", "Qty": "quantity", "Price": "unit_price",
        "Cur": "currency", "Deliver to": "ship_to_name", "Country": "ship_to_country",
        "Gift note": "attributes.gift_note"
    }});
    let options = CsvOptions::from_settings(&settings).unwrap();
    let file = "Order No,Item,Qty,Price,Cur,Deliver to,Country,Gift note,Warehouse memo\n\
                PO-9,MUG-1,2,9.90,EUR,Ann Lee,FR,Happy birthday,ignore me\n\
                PO-9,PEN-2,1,1.50,EUR,,,,\n";
    let orders = csv::parse_orders_with(file.as_bytes(), "csv", &options).unwrap();
    assert_eq!(orders.len(), 1);
    let order = valid(&orders[0]);
    assert_eq!(order.external_id, "PO-9");
    assert_eq!(
        lines(&order),
        [
            (1, "MUG-1".into(), 2, dec("9.90")),
            (2, "PEN-2".into(), 1, dec("1.50")),
        ]
    );
    assert_eq!(order.attributes["gift_note"], json!("Happy birthday"));
    assert_eq!(
        order.ship_to.as_ref().unwrap().name.as_deref(),
        Some("Ann Lee")
    );

    // Errors name the file's column; a required iom column nothing maps to is named as such.
    let bad = "Order No,Item,Qty,Cur\nPO-9,MUG-1,2.5,EUR\n";
    let err = csv::parse_orders_with(bad.as_bytes(), "csv", &options).unwrap_err();
    let found: Vec<(u64, Option<&str>)> =
        err.0.iter().map(|e| (e.row, e.column.as_deref())).collect();
    assert_eq!(found, [(1, Some("unit_price"))]);
    assert!(err.0[0].message.contains("no column of the file is mapped"));
    let bad = "Order No,Item,Qty,Price,Cur\nPO-9,MUG-1,2.5,1.00,EUR\n";
    let err = csv::parse_orders_with(bad.as_bytes(), "csv", &options).unwrap_err();
    assert_eq!(
        err.0[0].to_string(),
        "row 2, column Qty: \"2.5\" is not a whole quantity"
    );

    // A map to something that is no iom column is refused when the settings are read.
    let refused = CsvOptions::from_settings(&json!({"columns": {"Qty": "qty"}})).unwrap_err();
    assert!(
        refused.contains("\"qty\" is not an iom column"),
        "{refused}"
    );
    assert!(CsvOptions::from_settings(&json!({"preset": "magento"})).is_err());
}
