use iom_providers::ubl::{self, UblError};
use serde_json::json;

use crate::{dec, lines, valid};

fn order_xml() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/ubl-order-2.1.xml");
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn ubl_order() {
    let intake = ubl::parse_order(&order_xml(), "peppol").unwrap();
    let order = valid(&intake);
    assert_eq!(
        (order.channel.as_str(), order.external_id.as_str()),
        ("peppol", "PO-2026-0042")
    );
    assert_eq!(order.currency.code(), "EUR");
    assert_eq!(order.placed_at.to_rfc3339(), "2026-03-02T08:15:00+00:00");
    assert_eq!(
        lines(&order),
        [
            (1, "NOS-4410".into(), 10, dec("85.00")),
            // 200.00 per base quantity of 2, and no seller's id: the GTIN.
            (2, "07350012340024".into(), 4, dec("100")),
        ]
    );
    assert_eq!(
        (order.lines[0].uom.as_deref(), order.lines[1].uom.as_deref()),
        (Some("EA"), Some("BX"))
    );
    assert_eq!(order.lines[0].tax, dec("212.50"));
    assert_eq!(
        order.lines[0].attributes["buyers_item_id"],
        json!("LH-BENCH-01")
    );
    assert_eq!(
        order.lines[0].attributes["description"],
        json!("Park bench, galvanised steel")
    );
    assert_eq!(order.shipping_amount, dec("45.00"));
    assert_eq!(order.totals.total, dec("1607.50"));

    let ship_to = order.ship_to.as_ref().unwrap();
    assert_eq!(ship_to.name.as_deref(), Some("Lindholm Parks Depot"));
    assert_eq!(ship_to.line1.as_deref(), Some("Parkvägen 14"));
    assert_eq!(ship_to.line2.as_deref(), Some("Gate 3"));
    assert_eq!(ship_to.city.as_deref(), Some("Lindholm"));
    assert_eq!(ship_to.region.as_deref(), Some("Stockholms län"));
    assert_eq!(ship_to.postal_code.as_deref(), Some("12350"));
    assert_eq!(ship_to.country.as_str(), "SE");
    let bill_to = order.bill_to.as_ref().unwrap();
    assert_eq!(
        (
            bill_to.name.as_deref(),
            bill_to.line1.as_deref(),
            bill_to.postal_code.as_deref()
        ),
        (
            Some("Lindholm Accounts Payable"),
            Some("Box 500"),
            Some("12399")
        )
    );
    let customer = order.customer.as_ref().unwrap();
    assert_eq!(customer.id.as_deref(), Some("7300010000001"));
    assert_eq!(customer.name.as_deref(), Some("City of Lindholm"));
    assert_eq!(customer.email.as_deref(), Some("eva.berg@lindholm.example"));
    assert_eq!(customer.phone.as_deref(), Some("+46 8 123 456"));
    assert_eq!(
        order
            .requested_delivery_at
            .map(|t| t.to_rfc3339())
            .as_deref(),
        Some("2026-03-20T00:00:00+00:00")
    );
    // Entities are decoded.
    assert_eq!(
        order.attributes["note"],
        json!("Deliver to the loading dock & call ahead")
    );
    assert_eq!(
        order.attributes["seller"],
        json!("Nordic Outdoor Supply AB")
    );
}

#[test]
fn prefixes_do_not_matter() {
    let xml = r#"<o:Order xmlns:o="urn:oasis:names:specification:ubl:schema:xsd:Order-2"
        xmlns:a="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
        xmlns:b="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">
      <b:ID>7</b:ID><b:IssueDate>2026-01-05</b:IssueDate>
      <a:OrderLine><a:LineItem><b:ID>A</b:ID><b:Quantity unitCode="C62">3</b:Quantity>
        <b:LineExtensionAmount currencyID="NOK">10.00</b:LineExtensionAmount>
        <a:Item><a:SellersItemIdentification><b:ID>S-1</b:ID></a:SellersItemIdentification></a:Item>
      </a:LineItem></a:OrderLine>
      <!-- an element of another namespace with the same local name is not taken -->
      <x:ID xmlns:x="urn:example">wrong</x:ID>
    </o:Order>"#;
    let intake = ubl::parse_order(xml, "c").unwrap();
    let order = valid(&intake);
    assert_eq!(order.external_id, "7");
    // No DocumentCurrencyCode: the currency of the first amount.
    assert_eq!(order.currency.code(), "NOK");
    // "A" is not a number: lines are numbered by position; price from the line total.
    assert_eq!(order.lines[0].unit_price.round_dp(4), dec("3.3333"));
    assert_eq!(
        (order.lines[0].line_no, order.lines[0].sku.as_str()),
        (1, "S-1")
    );
    assert_eq!(order.placed_at.to_rfc3339(), "2026-01-05T00:00:00+00:00");
}

#[test]
fn ubl_errors() {
    let invoice = r#"<Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>"#;
    assert_eq!(
        ubl::parse_order(invoice, "c").unwrap_err(),
        UblError::NotAnOrder {
            namespace: "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2".into(),
            name: "Invoice".into()
        }
    );
    let broken = order_xml().replace("</cac:OrderLine>\n</Order>", "</cac:OrderLine>\n</Ordre>");
    match ubl::parse_order(&broken, "c").unwrap_err() {
        UblError::Xml { offset, message } => {
            assert!(offset as usize > broken.len() - 20, "{offset}");
            assert!(message.contains("Ordre"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let no_id = order_xml().replace("<cbc:ID>PO-2026-0042</cbc:ID>", "");
    assert_eq!(
        ubl::parse_order(&no_id, "c").unwrap_err().to_string(),
        "Order/cbc:ID is required"
    );
    let bad_qty = order_xml().replace(">10</cbc:Quantity>", ">10.5</cbc:Quantity>");
    match ubl::parse_order(&bad_qty, "c").unwrap_err() {
        UblError::Invalid { path, value, .. } => {
            assert_eq!(path, "Order/cac:OrderLine[1]/cac:LineItem/cbc:Quantity");
            assert_eq!(value, "10.5");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bytes_with_bom_and_bad_encoding() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend(order_xml().as_bytes());
    let order = valid(&ubl::parse_order_bytes(&bytes, "p").unwrap());
    assert_eq!(order.external_id, "PO-2026-0042");

    // "Parkvägen" written in ISO-8859-1.
    let at = bytes
        .windows(5)
        .position(|w| w == "rkv\u{e4}".as_bytes())
        .unwrap()
        + 3;
    bytes.splice(at..at + 2, [0xE4]);
    assert_eq!(
        ubl::parse_order_bytes(&bytes, "p").unwrap_err(),
        UblError::Xml {
            offset: at as u64,
            message: "the document is not UTF-8".into()
        }
    );
}
