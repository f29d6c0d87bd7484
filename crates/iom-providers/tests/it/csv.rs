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
