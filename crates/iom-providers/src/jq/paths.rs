//! Where in the channel's own document an order field came from, for the default programs, so
//! that an error names what the sender can find in what it sent (`$.line_items[2].quantity`),
//! not the order iom made of it (`lines[2].quantity`) nor the program's output. A field these
//! tables do not know keeps its order name: the message still says which field is wrong.

use serde_json::Value;

/// The default program whose source paths are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Shopify,
    BigCommerce,
}

const SHOPIFY_ADDRESS: &[(&str, &str)] = &[
    ("name", "name"),
    ("company", "company"),
    ("line1", "address1"),
    ("line2", "address2"),
    ("city", "city"),
    ("region", "province_code"),
    ("postal_code", "zip"),
    ("country", "country_code"),
    ("phone", "phone"),
    ("lat", "latitude"),
    ("lon", "longitude"),
];

const SHOPIFY_LINE: &[(&str, &str)] = &[
    ("line_no", ""),
    ("sku", "sku"),
    ("quantity", "quantity"),
    ("unit_price", "price"),
    ("discount", "total_discount"),
    ("tax", "tax_lines"),
];

const SHOPIFY_ORDER: &[(&str, &str)] = &[
    ("external_id", "id"),
    ("currency", "currency"),
    ("placed_at", "created_at"),
    ("customer", "customer"),
    ("customer.email", "email"),
    ("ship_method", "shipping_lines[0].code"),
    ("shipping_amount", "shipping_lines"),
    ("lines", "line_items"),
];

const BIGCOMMERCE_ADDRESS: &[(&str, &str)] = &[
    ("name", "first_name"),
    ("company", "company"),
    ("line1", "street_1"),
    ("line2", "street_2"),
    ("city", "city"),
    ("region", "state"),
    ("postal_code", "zip"),
    ("country", "country_iso2"),
    ("phone", "phone"),
];

const BIGCOMMERCE_LINE: &[(&str, &str)] = &[
    ("line_no", ""),
    ("sku", "sku"),
    ("quantity", "quantity"),
    ("unit_price", "price_ex_tax"),
    ("discount", "applied_discounts"),
    ("tax", "total_tax"),
];

const BIGCOMMERCE_ORDER: &[(&str, &str)] = &[
    ("external_id", "order.id"),
    ("currency", "order.currency_code"),
    ("placed_at", "order.date_created"),
    ("customer", "order.billing_address"),
    ("customer.email", "order.billing_address.email"),
    ("customer.phone", "order.billing_address.phone"),
    ("ship_method", "shipping_addresses[0].shipping_method"),
    ("shipping_amount", "order.shipping_cost_ex_tax"),
    ("lines", "products"),
];

fn lookup(table: &[(&str, &str)], key: &str) -> Option<String> {
    table
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| (*v).to_owned())
}

/// Joins a path and a member: `$.a` + `b` = `$.a.b`, `$.a` + `` = `$.a`, `$.a` + `[0].b` as is.
fn join(base: &str, member: &str) -> String {
    match member {
        "" => base.to_owned(),
        m if m.starts_with('[') => format!("{base}{m}"),
        m => format!("{base}.{m}"),
    }
}

/// The path in `input` of the order field `field` of the program's output `index`.
pub fn source_path(source: Source, input: &Value, index: usize, field: &str) -> Option<String> {
    let (head, rest) = match field.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (field, None),
    };
    match source {
        Source::Shopify => {
            let base = if input.get("orders").is_some_and(Value::is_array) {
                format!("$.orders[{index}]")
            } else if input.get("order").is_some_and(Value::is_object) {
                "$.order".to_owned()
            } else {
                "$".to_owned()
            };
            if let Some(line) = head.strip_prefix("lines[") {
                let (i, _) = line.split_once(']')?;
                let item = format!("{base}.line_items[{i}]");
                return match rest {
                    None => Some(item),
                    Some(r) => lookup(SHOPIFY_LINE, r).map(|m| join(&item, &m)),
                };
            }
            if let ("ship_to" | "bill_to", Some(r)) = (head, rest) {
                let address = if head == "ship_to" {
                    "shipping_address"
                } else {
                    "billing_address"
                };
                return lookup(SHOPIFY_ADDRESS, r).map(|m| format!("{base}.{address}.{m}"));
            }
            lookup(SHOPIFY_ORDER, field).map(|m| join(&base, &m))
        }
        Source::BigCommerce => {
            if let Some(line) = head.strip_prefix("lines[") {
                let (i, _) = line.split_once(']')?;
                let item = format!("$.products[{i}]");
                return match rest {
                    None => Some(item),
                    Some(r) => lookup(BIGCOMMERCE_LINE, r).map(|m| join(&item, &m)),
                };
            }
            if let ("ship_to" | "bill_to", Some(r)) = (head, rest) {
                let address = if head == "ship_to" {
                    "$.shipping_addresses[0]"
                } else {
                    "$.order.billing_address"
                };
                return lookup(BIGCOMMERCE_ADDRESS, r).map(|m| join(address, &m));
            }
            lookup(BIGCOMMERCE_ORDER, field).map(|m| join("$", &m))
        }
    }
}

/// serde's words for the types an order field expects, in the words of the document.
pub fn plain(message: &str) -> String {
    message
        .replace("expected i64", "expected a whole number")
        .replace("expected u32", "expected a whole number")
        .replace("expected f64", "expected a number")
        .replace(
            "expected a Decimal type representing a fixed-point number",
            "expected a decimal amount",
        )
}
