//! The default Shopify program (`transforms/shopify.jq`), written again in Rust.
//!
//! Why: running the jq program was about half of the CPU a Shopify webhook costs (building
//! objects with many keys is slow in the interpreter), and a webhook shares the machine with
//! HTTP, signature checks and the database commit. The jq program stays the reference: the UI
//! shows it, instances that carry their own program start from it, and a test
//! (`tests/it/shopify_native.rs`) runs both on every Shopify sample and on edge cases and
//! requires the same outputs and the same error messages.
//!
//! The mapping answers only for the shapes it reproduces exactly. For anything else (a value of
//! an unexpected type where jq would fail with an interpreter message, a malformed amount, a
//! a list of orders that is no array …) it steps aside and the jq program runs, so that the result is
//! always what the program itself gives.

use jaq_json::Val;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::money;

/// How the native mapping ended when it has no order to give.
enum Stop {
    /// The program itself fails, with this message.
    Error(String),
    /// The input is outside what the mapping reproduces: run the jq program.
    Jq,
}

type R<T> = Result<T, Stop>;

/// The outputs of the default Shopify program for `input`: `Some(Ok(outputs))`,
/// `Some(Err(message))` for the errors the program raises, or `None` when only the jq program
/// can say (see the module documentation).
pub fn transform(input: &Value) -> Option<Result<Vec<Value>, String>> {
    match top(input) {
        Ok(out) => Some(Ok(out)),
        Err(Stop::Error(message)) => Some(Err(message)),
        Err(Stop::Jq) => None,
    }
}

fn top(input: &Value) -> R<Vec<Value>> {
    let Value::Object(o) = input else {
        return Err(Stop::Error(format!(
            "a Shopify order is a JSON object, found {}",
            type_name(input)
        )));
    };
    if let Some(orders) = o.get("orders") {
        // `.orders[] | order`: objects iterate too, but nobody sends those; jq says what it does.
        let Value::Array(orders) = orders else {
            return Err(Stop::Jq);
        };
        orders.iter().map(order).collect()
    } else if let Some(one) = o.get("order") {
        Ok(vec![order(one)?])
    } else {
        Ok(vec![order(input)?])
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

const NULL: Value = Value::Null;

/// `.key` of an object (null when absent).
fn get<'a>(o: &'a Map<String, Value>, key: &str) -> &'a Value {
    o.get(key).unwrap_or(&NULL)
}

/// `.key` of a value that jq may index: objects and null; anything else is a jq error.
fn field<'a>(v: &'a Value, key: &str) -> R<&'a Value> {
    match v {
        Value::Object(o) => Ok(get(o, key)),
        Value::Null => Ok(&NULL),
        _ => Err(Stop::Jq),
    }
}

/// jq's `a // b`: `a` unless it is null or false.
fn alt<'a>(a: &'a Value, b: &'a Value) -> &'a Value {
    if matches!(a, Value::Null | Value::Bool(false)) {
        b
    } else {
        a
    }
}

/// The prelude's `blank`.
fn blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// The prelude's `nonblank`.
fn nonblank(v: &Value) -> &Value {
    if blank(v) { &NULL } else { v }
}

/// A number as the interpreter holds it, so that its text and its JSON are the program's.
fn jaq_number(n: &serde_json::Number) -> R<Val> {
    Val::deserialize(&Value::Number(n.clone())).map_err(|_| Stop::Jq)
}

/// A value as it leaves the program: numbers take the round trip through the interpreter
/// (whole floats come out as integers).
fn out(v: &Value) -> R<Value> {
    Ok(match v {
        Value::Number(n) if n.is_i64() => v.clone(),
        Value::Number(n) => super::to_json(&jaq_number(n)?),
        Value::Array(items) => Value::Array(items.iter().map(out).collect::<R<_>>()?),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| Ok((k.clone(), out(v)?)))
                .collect::<R<_>>()?,
        ),
        other => other.clone(),
    })
}

/// The text jq gives a number (`tostring`, string interpolation).
fn number_text(n: &serde_json::Number) -> R<String> {
    if n.is_i64() {
        return Ok(n.to_string());
    }
    Ok(jaq_number(n)?.to_string())
}

/// The prelude's `text`: strings as they are, numbers as text, null stays null.
fn text(v: &Value) -> R<Value> {
    Ok(match v {
        Value::Null => Value::Null,
        Value::String(_) => v.clone(),
        Value::Number(n) => Value::String(number_text(n)?),
        Value::Bool(b) => Value::String(b.to_string()),
        _ => return Err(Stop::Jq),
    })
}

/// What `"\(v)"` shows.
fn interpolate(v: &Value) -> R<String> {
    Ok(match v {
        Value::Null => "null".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => number_text(n)?,
        Value::Bool(b) => b.to_string(),
        _ => return Err(Stop::Jq),
    })
}

/// `[a, b] | map(select(blank | not)) | join(" ")`, then `nonblank` when `then_nonblank`.
fn join_names(a: &Value, b: &Value) -> R<Value> {
    let mut parts = Vec::with_capacity(2);
    for v in [a, b] {
        if blank(v) {
            continue;
        }
        // jq's join turns other values into text in its own way; leave that to jq.
        let Value::String(s) = v else {
            return Err(Stop::Jq);
        };
        parts.push(s.as_str());
    }
    Ok(Value::String(parts.join(" ")))
}

/// The native `money_sum`: the exact sum (nulls skipped), null when there is nothing to add.
fn money_sum<'a>(items: impl IntoIterator<Item = &'a Value>) -> R<Value> {
    let mut sum: Option<Decimal> = None;
    for item in items {
        let d = match item {
            Value::Null => continue,
            Value::String(s) => decimal(s)?,
            Value::Number(n) => decimal(&number_text(n)?)?,
            _ => return Err(Stop::Jq),
        };
        sum = Some(match sum {
            None => d,
            Some(s) => s.checked_add(d).ok_or(Stop::Jq)?,
        });
    }
    Ok(sum.map_or(Value::Null, |d| Value::String(d.to_string())))
}

fn decimal(text: &str) -> R<Decimal> {
    if !money::is_decimal_text(text) {
        return Err(Stop::Jq);
    }
    text.parse().map_err(|_| Stop::Jq)
}

/// The elements of `v` as `v[]?` gives them for arrays and null; other shapes go to jq.
fn items(v: &Value) -> R<&[Value]> {
    match v {
        Value::Array(items) => Ok(items),
        Value::Null => Ok(&[]),
        _ => Err(Stop::Jq),
    }
}

fn order(v: &Value) -> R<Value> {
    let Value::Object(o) = v else {
        return Err(Stop::Jq);
    };
    not_an_order(o)?;
    let line_items = match get(o, "line_items") {
        Value::Array(items) => items,
        _ => {
            return Err(Stop::Error(format!(
                "Shopify order {} has no line_items; fetch the single order (GET /orders/{{id}}.json) or the webhook payload, which include them",
                order_ref(o)?
            )));
        }
    };
    if line_items.is_empty() {
        return Err(Stop::Error(format!(
            "Shopify order {} has no line items",
            order_ref(o)?
        )));
    }
    let email = get(o, "email");
    let phone = get(o, "phone");
    let customer = match get(o, "customer") {
        Value::Null | Value::Bool(false) => obj([
            ("email", out(nonblank(email))?),
            ("phone", out(nonblank(phone))?),
        ]),
        c => {
            let first = field(c, "first_name")?;
            let last = field(c, "last_name")?;
            obj([
                ("id", text(field(c, "id")?)?),
                (
                    "email",
                    out(alt(nonblank(field(c, "email")?), nonblank(email)))?,
                ),
                ("name", out(nonblank(&join_names(first, last)?))?),
                (
                    "phone",
                    out(alt(nonblank(field(c, "phone")?), nonblank(phone)))?,
                ),
            ])
        }
    };
    let lines = line_items
        .iter()
        .enumerate()
        .map(|(i, line)| line_item(i, line))
        .collect::<R<Vec<_>>>()?;
    let shipping_lines = match get(o, "shipping_lines") {
        Value::Null | Value::Bool(false) => &[][..],
        Value::Array(items) => items,
        _ => return Err(Stop::Jq),
    };
    let ship_method = match shipping_lines.first() {
        None | Some(Value::Null) => Value::Null,
        Some(first) => out(alt(field(first, "code")?, field(first, "title")?))?,
    };
    let shipping_prices = shipping_lines
        .iter()
        .map(|l| field(l, "price"))
        .collect::<R<Vec<_>>>()?;
    let note_attributes = match get(o, "note_attributes") {
        Value::Null | Value::Bool(false) => Value::Null,
        Value::Array(items) if items.is_empty() => Value::Null,
        Value::Array(items) => {
            // map({(.name): .value}) | add: later names replace earlier ones.
            let mut merged = Map::new();
            for item in items {
                let Value::String(name) = field(item, "name")? else {
                    return Err(Stop::Jq);
                };
                merged.insert(name.clone(), out(field(item, "value")?)?);
            }
            Value::Object(merged)
        }
        _ => return Err(Stop::Jq),
    };
    Ok(obj([
        ("external_id", text(get(o, "id"))?),
        (
            "currency",
            out(alt(get(o, "currency"), get(o, "presentment_currency")))?,
        ),
        (
            "placed_at",
            out(alt(get(o, "processed_at"), get(o, "created_at")))?,
        ),
        ("customer", customer),
        ("ship_to", address(get(o, "shipping_address"))?),
        ("bill_to", address(get(o, "billing_address"))?),
        ("lines", Value::Array(lines)),
        ("ship_method", ship_method),
        ("shipping_amount", money_sum(shipping_prices)?),
        (
            "attributes",
            obj([
                ("shopify_name", out(get(o, "name"))?),
                ("shopify_order_number", out(get(o, "order_number"))?),
                ("financial_status", out(get(o, "financial_status"))?),
                ("tags", out(get(o, "tags"))?),
                ("note", out(get(o, "note"))?),
                ("note_attributes", note_attributes),
            ]),
        ),
    ]))
}

/// `.id // .name // "?"` as the error messages show it.
fn order_ref(o: &Map<String, Value>) -> R<String> {
    interpolate(alt(
        alt(get(o, "id"), get(o, "name")),
        &Value::String("?".into()),
    ))
}

/// Other Shopify resources sent to an order endpoint by mistake are named in the error.
fn not_an_order(o: &Map<String, Value>) -> R<()> {
    if o.contains_key("fulfillment_order_line_items") {
        return Err(Stop::Error(format!(
            "this is a Shopify fulfillment order (id {}, order {}), not an order",
            interpolate(get(o, "id"))?,
            interpolate(get(o, "order_id"))?
        )));
    }
    if o.len() == 1
        && let Some((key, Value::Object(_) | Value::Array(_))) = o.iter().next()
    {
        return Err(Stop::Error(format!(
            "this is a Shopify {key} document, not an order"
        )));
    }
    Ok(())
}

fn line_item(i: usize, line: &Value) -> R<Value> {
    let Value::Object(l) = line else {
        return Err(Stop::Jq);
    };
    let variant_id = get(l, "variant_id");
    let sku = match nonblank(get(l, "sku")) {
        Value::Null | Value::Bool(false) => text(variant_id)?,
        sku => out(sku)?,
    };
    let discount = match get(l, "discount_allocations") {
        Value::Array(allocations) if !allocations.is_empty() => money_sum(
            allocations
                .iter()
                .map(|a| field(a, "amount"))
                .collect::<R<Vec<_>>>()?,
        )?,
        _ => out(nonblank(get(l, "total_discount")))?,
    };
    let tax = money_sum(
        items(get(l, "tax_lines"))?
            .iter()
            .map(|t| field(t, "price"))
            .collect::<R<Vec<_>>>()?,
    )?;
    let properties = match get(l, "properties") {
        Value::Null | Value::Bool(false) => Value::Array(Vec::new()),
        p => out(p)?,
    };
    Ok(obj([
        ("line_no", Value::from(i + 1)),
        ("sku", sku),
        ("quantity", out(get(l, "quantity"))?),
        ("unit_price", out(get(l, "price"))?),
        ("discount", discount),
        ("tax", tax),
        (
            "attributes",
            obj([
                ("shopify_line_item_id", text(get(l, "id"))?),
                ("title", out(alt(get(l, "name"), get(l, "title")))?),
                ("variant_id", text(variant_id)?),
                ("product_id", text(get(l, "product_id"))?),
                ("properties", properties),
            ]),
        ),
    ]))
}

fn address(v: &Value) -> R<Value> {
    let a = match v {
        Value::Null => return Ok(Value::Null),
        Value::Object(a) => a,
        _ => return Err(Stop::Jq),
    };
    let s = |key: &str| out(nonblank(get(a, key)));
    let either =
        |first: &str, second: &str| out(alt(nonblank(get(a, first)), nonblank(get(a, second))));
    let name = {
        let joined = join_names(get(a, "first_name"), get(a, "last_name"))?;
        out(nonblank(alt(get(a, "name"), &joined)))?
    };
    Ok(obj([
        ("name", name),
        ("company", s("company")?),
        ("line1", s("address1")?),
        ("line2", s("address2")?),
        ("city", s("city")?),
        ("region", either("province_code", "province")?),
        ("postal_code", s("zip")?),
        ("country", either("country_code", "country")?),
        ("phone", s("phone")?),
        ("lat", coordinate(get(a, "latitude"))?),
        ("lon", coordinate(get(a, "longitude"))?),
    ]))
}

/// `if blank then null else tonumber end`. Shopify's REST API gives coordinates as text;
/// jaq's `tonumber` reads text as JSON, with the interpreter's own reader here too.
fn coordinate(v: &Value) -> R<Value> {
    match v {
        v if blank(v) => Ok(Value::Null),
        Value::Number(_) => out(v),
        Value::String(s) => {
            let mut values = jaq_json::read::parse_many(s.as_bytes());
            match (values.next(), values.next()) {
                (Some(Ok(n @ Val::Num(_))), None) => Ok(super::to_json(&n)),
                _ => Err(Stop::Jq),
            }
        }
        _ => Err(Stop::Jq),
    }
}

fn obj<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}
