//! CSV orders: one row per order line, the order's fields repeated (or left empty) on each of
//! its rows, rows grouped into orders by `external_id` (and `channel` when the file has that
//! column). This is the shape spreadsheets and most shop exports produce.
//!
//! Column names are the intake's field names, flattened with `_`:
//!
//! - order: `channel`, `external_id`, `currency`, `placed_at`, `ship_method`, `shipping_amount`,
//!   `requested_delivery_at`, `customer_id`, `customer_email`, `customer_name`,
//!   `customer_phone`, `customer_group`, `ship_to_name` … `ship_to_country`, `ship_to_phone`,
//!   `ship_to_lat`, `ship_to_lon` (`name`, `company`, `line1`, `line2`, `city`, `region`,
//!   `postal_code`, `country`, `phone`, `lat`, `lon`), the same with `bill_to_`, and
//!   `attributes.NAME` for free-form order attributes;
//! - line: `line_no`, `sku`, `quantity`, `unit_price`, `discount`, `tax`, `uom`, and
//!   `line_attributes.NAME`.
//!
//! Header names are matched without regard to case, surrounding spaces, and `-` or space in
//! place of `_`. An unknown column is an error rather than silently ignored, because a misspelt
//! `unit_price` would otherwise surface later as "unit_price is required" on every line.
//! An order's field may be given on any of its rows; two different values are an error.
//! Every problem of the file is reported at once, each with its row (the line number a
//! spreadsheet shows, header = 1) and column.
//!
//! Dates are RFC 3339, or `YYYY-MM-DD` / `YYYY-MM-DD HH:MM[:SS]` taken as UTC.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime};
use iom_domain::address::AddressIntake;
use iom_domain::intake::{CustomerIntake, LineIntake, OrderIntake};
use rust_decimal::Decimal;
use serde_json::{Map, Value};
use thiserror::Error;

const ORDER_COLUMNS: &[&str] = &[
    "channel",
    "external_id",
    "currency",
    "placed_at",
    "ship_method",
    "shipping_amount",
    "requested_delivery_at",
    "customer_id",
    "customer_email",
    "customer_name",
    "customer_phone",
    "customer_group",
];
const LINE_COLUMNS: &[&str] = &[
    "line_no",
    "sku",
    "quantity",
    "unit_price",
    "discount",
    "tax",
    "uom",
];
const ADDRESS_FIELDS: &[&str] = &[
    "name",
    "company",
    "line1",
    "line2",
    "city",
    "region",
    "postal_code",
    "country",
    "phone",
    "lat",
    "lon",
];

/// How to read the file.
#[derive(Debug, Clone)]
pub struct CsvOptions {
    /// `b','` by default; `b';'` for spreadsheets in locales with a decimal comma.
    pub delimiter: u8,
    /// Currency of orders whose rows have none (then the `currency` column may be left out).
    pub default_currency: Option<String>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            delimiter: b',',
            default_currency: None,
        }
    }
}

/// One problem, with where it is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct CsvError {
    /// Line number in the file where the row starts (the header is row 1).
    pub row: u64,
    pub column: Option<String>,
    pub message: String,
}

impl fmt::Display for CsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(c) => write!(f, "row {}, column {c}: {}", self.row, self.message),
            None => write!(f, "row {}: {}", self.row, self.message),
        }
    }
}

/// Every problem found in a file.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub struct CsvErrors(pub Vec<CsvError>);

impl fmt::Display for CsvErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} problem(s) in the CSV file", self.0.len())?;
        for e in self.0.iter().take(20) {
            write!(f, "; {e}")?;
        }
        if self.0.len() > 20 {
            write!(f, "; …")?;
        }
        Ok(())
    }
}

/// Reads the orders of a comma-separated file; `channel` is used for rows without a channel.
pub fn parse_orders(input: &[u8], channel: &str) -> Result<Vec<OrderIntake>, CsvErrors> {
    parse_orders_with(input, channel, &CsvOptions::default())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column<'h> {
    Order(&'h str),
    Line(&'h str),
    OrderAttribute(&'h str),
    LineAttribute(&'h str),
}

fn normalise(header: &str) -> String {
    header
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c == ' ' || c == '-' { '_' } else { c })
        .collect()
}

fn classify(name: &str) -> Option<Column<'_>> {
    if let Some(attr) = name.strip_prefix("attributes.") {
        return (!attr.is_empty()).then_some(Column::OrderAttribute(attr));
    }
    if let Some(attr) = name.strip_prefix("line_attributes.") {
        return (!attr.is_empty()).then_some(Column::LineAttribute(attr));
    }
    if ORDER_COLUMNS.contains(&name) {
        return Some(Column::Order(name));
    }
    if LINE_COLUMNS.contains(&name) {
        return Some(Column::Line(name));
    }
    for prefix in ["ship_to_", "bill_to_"] {
        if name
            .strip_prefix(prefix)
            .is_some_and(|f| ADDRESS_FIELDS.contains(&f))
        {
            return Some(Column::Order(name));
        }
    }
    None
}

/// An order being gathered from its rows: each order-level value with the row it came from.
struct Draft {
    first_row: u64,
    fields: HashMap<String, (String, u64)>,
    lines: Vec<(u64, LineIntake)>,
}

pub fn parse_orders_with(
    input: &[u8],
    channel: &str,
    options: &CsvOptions,
) -> Result<Vec<OrderIntake>, CsvErrors> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(options.delimiter)
        .flexible(true)
        .from_reader(input);
    let mut errors = Vec::new();
    let err = |row: u64, column: Option<&str>, message: String| CsvError {
        row,
        column: column.map(str::to_owned),
        message,
    };

    let headers: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(normalise).collect(),
        Err(e) => return Err(CsvErrors(vec![err(1, None, e.to_string())])),
    };
    let mut columns = Vec::with_capacity(headers.len());
    let mut seen = HashMap::new();
    for (i, name) in headers.iter().enumerate() {
        if name.is_empty() {
            errors.push(err(1, None, format!("column {} has no name", i + 1)));
        } else if let Some(first) = seen.insert(name.as_str(), i) {
            errors.push(err(
                1,
                Some(name),
                format!("appears twice (columns {} and {})", first + 1, i + 1),
            ));
        } else if classify(name).is_none() {
            errors.push(err(
                1,
                Some(name),
                "unknown column; use the intake's field names (see the documentation), or attributes.NAME / line_attributes.NAME".into(),
            ));
        }
        columns.push(classify(name));
    }
    let mut required = vec!["external_id", "sku", "quantity", "unit_price"];
    if options.default_currency.is_none() {
        required.push("currency");
    }
    for name in required {
        if !seen.contains_key(name) {
            errors.push(err(1, Some(name), "required column is missing".into()));
        }
    }
    if !errors.is_empty() {
        return Err(CsvErrors(errors));
    }

    let mut drafts: Vec<Draft> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let row = e.position().map_or(0, |p| p.line());
                errors.push(err(row, None, e.to_string()));
                continue;
            }
        };
        let row = record.position().map_or(0, |p| p.line());
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if record.len() > headers.len() {
            errors.push(err(
                row,
                None,
                format!(
                    "{} fields but the header has {}",
                    record.len(),
                    headers.len()
                ),
            ));
            continue;
        }
        let value = |name: &str| {
            seen.get(name)
                .and_then(|&i| record.get(i))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let Some(external_id) = value("external_id") else {
            errors.push(err(
                row,
                Some("external_id"),
                "is required on every row".into(),
            ));
            continue;
        };
        let order_channel = value("channel").unwrap_or(channel);
        let key = (order_channel.to_owned(), external_id.to_owned());
        let d = *index.entry(key).or_insert_with(|| {
            drafts.push(Draft {
                first_row: row,
                fields: HashMap::new(),
                lines: Vec::new(),
            });
            drafts.len() - 1
        });
        let draft = &mut drafts[d];

        let mut line = LineIntake::default();
        let mut line_attributes = Map::new();
        for (i, column) in columns.iter().enumerate() {
            let (Some(column), Some(raw)) = (column, record.get(i)) else {
                continue;
            };
            let raw = raw.trim();
            if raw.is_empty() {
                continue;
            }
            let name = headers[i].as_str();
            match *column {
                Column::Order(_) | Column::OrderAttribute(_) => match draft.fields.get(name) {
                    Some((existing, at)) if existing != raw => errors.push(err(
                        row,
                        Some(name),
                        format!(
                            "{raw:?} differs from {existing:?} given for the same order in row {at}"
                        ),
                    )),
                    Some(_) => {}
                    None => {
                        draft.fields.insert(name.to_owned(), (raw.to_owned(), row));
                    }
                },
                Column::LineAttribute(attr) => {
                    line_attributes.insert(attr.to_owned(), Value::from(raw));
                }
                Column::Line(field) => {
                    let res: Result<(), String> = match field {
                        "line_no" => raw
                            .parse::<i64>()
                            .map(|n| line.line_no = Some(n))
                            .map_err(|_| format!("{raw:?} is not a whole number")),
                        "sku" => {
                            line.sku = Some(raw.to_owned());
                            Ok(())
                        }
                        "quantity" => crate::x12::parse_quantity(raw)
                            .map(|q| line.quantity = Some(q))
                            .ok_or_else(|| format!("{raw:?} is not a whole quantity")),
                        "unit_price" => decimal(raw).map(|d| line.unit_price = Some(d)),
                        "discount" => decimal(raw).map(|d| line.discount = Some(d)),
                        "tax" => decimal(raw).map(|d| line.tax = Some(d)),
                        "uom" => {
                            line.uom = Some(raw.to_owned());
                            Ok(())
                        }
                        _ => Ok(()),
                    };
                    if let Err(message) = res {
                        errors.push(err(row, Some(name), message));
                    }
                }
            }
        }
        if !line_attributes.is_empty() {
            line.attributes = Some(line_attributes);
        }
        for (name, missing) in [
            ("sku", line.sku.is_none()),
            ("quantity", line.quantity.is_none()),
            ("unit_price", line.unit_price.is_none()),
        ] {
            // A value that failed to parse has been reported already.
            let given = value(name).is_some();
            if missing && !given {
                errors.push(err(row, Some(name), "is required on every row".into()));
            }
        }
        draft.lines.push((row, line));
    }

    let mut orders = Vec::with_capacity(drafts.len());
    for draft in drafts {
        match build(draft, channel, options) {
            Ok(order) => orders.push(order),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(orders)
    } else {
        errors.sort_by_key(|e| e.row);
        Err(CsvErrors(errors))
    }
}

fn decimal(raw: &str) -> Result<Decimal, String> {
    Decimal::from_str_exact(raw)
        .map_err(|_| format!("{raw:?} is not a decimal number (use . as decimal separator)"))
}

fn datetime(raw: &str) -> Result<DateTime<FixedOffset>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t);
    }
    for format in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(raw, format) {
            return Ok(t.and_utc().fixed_offset());
        }
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map(|d| d.and_time(NaiveTime::MIN).and_utc().fixed_offset())
        .map_err(|_| format!("{raw:?} is not a date (RFC 3339 or YYYY-MM-DD)"))
}

fn build(draft: Draft, channel: &str, options: &CsvOptions) -> Result<OrderIntake, Vec<CsvError>> {
    let mut errors = Vec::new();
    let text = |name: &str| draft.fields.get(name).map(|(v, _)| v.clone());
    let parsed = |name: &str, errors: &mut Vec<CsvError>| -> Option<DateTime<FixedOffset>> {
        let (raw, row) = draft.fields.get(name)?;
        datetime(raw)
            .map_err(|message| {
                errors.push(CsvError {
                    row: *row,
                    column: Some(name.to_owned()),
                    message,
                })
            })
            .ok()
    };
    let placed_at = parsed("placed_at", &mut errors);
    let requested_delivery_at = parsed("requested_delivery_at", &mut errors);
    let shipping_amount = draft.fields.get("shipping_amount").and_then(|(raw, row)| {
        decimal(raw)
            .map_err(|message| {
                errors.push(CsvError {
                    row: *row,
                    column: Some("shipping_amount".into()),
                    message,
                })
            })
            .ok()
    });
    let address = |prefix: &str, errors: &mut Vec<CsvError>| -> Option<AddressIntake> {
        let field = |f: &str| text(&format!("{prefix}{f}"));
        let coordinate = |f: &str, errors: &mut Vec<CsvError>| {
            let name = format!("{prefix}{f}");
            let (raw, row) = draft.fields.get(&name)?;
            raw.parse::<f64>()
                .map_err(|_| {
                    errors.push(CsvError {
                        row: *row,
                        column: Some(name.clone()),
                        message: format!("{raw:?} is not a number"),
                    })
                })
                .ok()
        };
        let any = ADDRESS_FIELDS.iter().any(|f| field(f).is_some());
        any.then(|| AddressIntake {
            name: field("name"),
            company: field("company"),
            line1: field("line1"),
            line2: field("line2"),
            city: field("city"),
            region: field("region"),
            postal_code: field("postal_code"),
            country: field("country"),
            phone: field("phone"),
            lat: coordinate("lat", errors),
            lon: coordinate("lon", errors),
        })
    };
    let ship_to = address("ship_to_", &mut errors);
    let bill_to = address("bill_to_", &mut errors);
    let customer_fields = [
        "customer_id",
        "customer_email",
        "customer_name",
        "customer_phone",
        "customer_group",
    ];
    let customer = customer_fields
        .iter()
        .any(|f| draft.fields.contains_key(*f))
        .then(|| CustomerIntake {
            id: text("customer_id"),
            email: text("customer_email"),
            name: text("customer_name"),
            phone: text("customer_phone"),
            group: text("customer_group"),
        });
    let mut attributes = Map::new();
    for (name, (value, _)) in &draft.fields {
        if let Some(attr) = name.strip_prefix("attributes.") {
            attributes.insert(attr.to_owned(), Value::from(value.as_str()));
        }
    }
    let currency = text("currency").or_else(|| options.default_currency.clone());
    if currency.is_none() {
        errors.push(CsvError {
            row: draft.first_row,
            column: Some("currency".into()),
            message: "no row of this order gives a currency".into(),
        });
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(OrderIntake {
        channel: Some(text("channel").unwrap_or_else(|| channel.to_owned())),
        external_id: text("external_id"),
        currency,
        placed_at,
        customer,
        ship_to,
        bill_to,
        lines: Some(draft.lines.into_iter().map(|(_, l)| l).collect()),
        ship_method: text("ship_method"),
        shipping_amount,
        discount_amount: None,
        requested_delivery_at,
        attributes: (!attributes.is_empty()).then_some(attributes),
    })
}
