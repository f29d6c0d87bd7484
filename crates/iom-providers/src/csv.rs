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
//! Dates are RFC 3339, `YYYY-MM-DD HH:MM:SS ±HHMM` (as Shopify exports them), or `YYYY-MM-DD` /
//! `YYYY-MM-DD HH:MM[:SS]` taken as UTC.
//!
//! A file with other headers is read through a column map (`settings.columns` of a `csv`
//! instance: `{"Name": "external_id", "Lineitem sku": "sku", …}`, file header → iom column);
//! with a map, columns that are neither mapped nor iom columns are skipped, since exports carry
//! many columns an order does not need. [`CsvPreset::ShopifyExport`] is the map of Shopify's
//! order export (`settings.preset: "shopify_export"`), whose rows of one order share its `Name`
//! and carry the order's fields on the first row only. Errors name the column as the file
//! does.

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvOptions {
    /// `b','` by default; `b';'` for spreadsheets in locales with a decimal comma.
    pub delimiter: u8,
    /// Currency of orders whose rows have none (then the `currency` column may be left out).
    pub default_currency: Option<String>,
    /// File header → iom column (`settings.columns`); over the preset's map when both are given.
    pub columns: Vec<(String, String)>,
    pub preset: Option<CsvPreset>,
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            delimiter: b',',
            default_currency: None,
            columns: Vec::new(),
            preset: None,
        }
    }
}

/// A known export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvPreset {
    /// Shopify's order export (Orders → Export, "Plain CSV file").
    ShopifyExport,
}

impl CsvPreset {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "shopify_export" => Some(Self::ShopifyExport),
            _ => None,
        }
    }

    /// The preset's column map.
    fn columns(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Self::ShopifyExport => SHOPIFY_EXPORT,
        }
    }

    /// The column whose value groups rows into orders.
    fn group(self) -> &'static str {
        match self {
            Self::ShopifyExport => "attributes.shopify_name",
        }
    }
}

/// Shopify's order export. `Id` is the order id the webhooks and the API use, so an order imported
/// from the export and the same order from a webhook are one order; `Name` (`#1001`) groups the
/// rows and is kept as an attribute. `Billing Street` and `Shipping Street` repeat Address1 and
/// Address2 and are not read.
const SHOPIFY_EXPORT: &[(&str, &str)] = &[
    ("Name", "attributes.shopify_name"),
    ("Id", "external_id"),
    ("Email", "customer_email"),
    ("Phone", "customer_phone"),
    ("Currency", "currency"),
    ("Created at", "placed_at"),
    ("Shipping Method", "ship_method"),
    ("Shipping", "shipping_amount"),
    ("Financial Status", "attributes.financial_status"),
    ("Discount Code", "attributes.discount_code"),
    ("Notes", "attributes.note"),
    ("Tags", "attributes.tags"),
    ("Lineitem quantity", "quantity"),
    ("Lineitem name", "line_attributes.title"),
    ("Lineitem price", "unit_price"),
    ("Lineitem sku", "sku"),
    ("Lineitem discount", "discount"),
    ("Billing Name", "bill_to_name"),
    ("Billing Company", "bill_to_company"),
    ("Billing Address1", "bill_to_line1"),
    ("Billing Address2", "bill_to_line2"),
    ("Billing City", "bill_to_city"),
    ("Billing Zip", "bill_to_postal_code"),
    ("Billing Province", "bill_to_region"),
    ("Billing Country", "bill_to_country"),
    ("Billing Phone", "bill_to_phone"),
    ("Shipping Name", "ship_to_name"),
    ("Shipping Company", "ship_to_company"),
    ("Shipping Address1", "ship_to_line1"),
    ("Shipping Address2", "ship_to_line2"),
    ("Shipping City", "ship_to_city"),
    ("Shipping Zip", "ship_to_postal_code"),
    ("Shipping Province", "ship_to_region"),
    ("Shipping Country", "ship_to_country"),
    ("Shipping Phone", "ship_to_phone"),
];

impl CsvOptions {
    /// The options a `csv` instance's `settings` give: `delimiter` (one character),
    /// `default_currency`, `columns` and `preset`.
    pub fn from_settings(settings: &Value) -> Result<Self, String> {
        let mut options = Self::default();
        if let Some(d) = settings.get("delimiter").filter(|v| !v.is_null()) {
            match d.as_str().map(str::as_bytes) {
                Some([b]) => options.delimiter = *b,
                _ => return Err("settings.delimiter must be a single character".into()),
            }
        }
        if let Some(c) = settings.get("default_currency").filter(|v| !v.is_null()) {
            options.default_currency = Some(
                c.as_str()
                    .ok_or("settings.default_currency must be a currency code")?
                    .to_owned(),
            );
        }
        if let Some(p) = settings.get("preset").filter(|v| !v.is_null()) {
            let name = p.as_str().unwrap_or_default();
            options.preset = Some(CsvPreset::parse(name).ok_or_else(|| {
                format!("settings.preset {p} is not known; the presets are: shopify_export")
            })?);
        }
        if let Some(c) = settings.get("columns").filter(|v| !v.is_null()) {
            let map = c
                .as_object()
                .ok_or("settings.columns must map file headers to iom columns")?;
            for (header, column) in map {
                let column = column.as_str().ok_or_else(|| {
                    format!("settings.columns.{header} must be the name of an iom column")
                })?;
                if classify(&normalise(column)).is_none() {
                    return Err(format!(
                        "settings.columns.{header}: {column:?} is not an iom column"
                    ));
                }
                options.columns.push((header.clone(), column.to_owned()));
            }
        }
        Ok(options)
    }

    /// File header (normalised) → iom column.
    fn column_map(&self) -> HashMap<String, String> {
        let mut map: HashMap<String, String> = self
            .preset
            .map(CsvPreset::columns)
            .unwrap_or_default()
            .iter()
            .map(|(h, c)| (normalise(h), (*c).to_owned()))
            .collect();
        for (h, c) in &self.columns {
            map.insert(normalise(h), normalise(c));
        }
        map
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

    // The file's own headers, for messages; the iom column each one is.
    let labels: Vec<String> = match reader.headers() {
        Ok(h) => h.iter().map(|h| h.trim().to_owned()).collect(),
        Err(e) => return Err(CsvErrors(vec![err(1, None, e.to_string())])),
    };
    let map = options.column_map();
    let headers: Vec<String> = labels
        .iter()
        .map(|h| {
            let key = normalise(h);
            map.get(&key).cloned().unwrap_or(key)
        })
        .collect();
    let mut columns = Vec::with_capacity(headers.len());
    let mut seen = HashMap::new();
    for (i, name) in headers.iter().enumerate() {
        let label = labels[i].as_str();
        if !map.is_empty() && classify(name).is_none() {
            // A column the map leaves out is one the order does not need.
            columns.push(None);
            continue;
        }
        if name.is_empty() {
            errors.push(err(1, None, format!("column {} has no name", i + 1)));
        } else if let Some(first) = seen.insert(name.as_str(), i) {
            let message = if labels[first] == label {
                format!("appears twice (columns {} and {})", first + 1, i + 1)
            } else {
                format!(
                    "is {name}, as column {} ({}) is already",
                    first + 1,
                    labels[first]
                )
            };
            errors.push(err(1, Some(label), message));
        } else if classify(name).is_none() {
            errors.push(err(
                1,
                Some(label),
                "unknown column; use the intake's field names (see the documentation), or attributes.NAME / line_attributes.NAME, or map it in settings.columns".into(),
            ));
        }
        columns.push(classify(name));
    }
    let group = options.preset.map_or("external_id", CsvPreset::group);
    let mut required = vec![group, "sku", "quantity", "unit_price"];
    if options.default_currency.is_none() {
        required.push("currency");
    }
    // The file's name for an iom column, for messages.
    let label_of = |name: &str| -> String {
        seen.get(name)
            .map_or_else(|| name.to_owned(), |&i| labels[i].clone())
    };
    for name in required {
        if !seen.contains_key(name) {
            let message = if map.is_empty() {
                "required column is missing".to_owned()
            } else {
                "required column is missing (no column of the file is mapped to it)".to_owned()
            };
            errors.push(err(1, Some(name), message));
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
        let Some(group_value) = value(group) else {
            errors.push(err(
                row,
                Some(&label_of(group)),
                "is required on every row".into(),
            ));
            continue;
        };
        let order_channel = value("channel").unwrap_or(channel);
        let key = (order_channel.to_owned(), group_value.to_owned());
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
            let mut raw = raw.trim();
            let name = headers[i].as_str();
            if options.preset.is_some() && name.ends_with("postal_code") {
                // Shopify writes `'02134` so that spreadsheets keep the leading zero.
                raw = raw.trim_start_matches('\'');
            }
            if raw.is_empty() {
                continue;
            }
            let label = labels[i].as_str();
            match *column {
                Column::Order(_) | Column::OrderAttribute(_) => match draft.fields.get(name) {
                    Some((existing, at)) if existing != raw => errors.push(err(
                        row,
                        Some(label),
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
                        errors.push(err(row, Some(label), message));
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
                errors.push(err(
                    row,
                    Some(&label_of(name)),
                    "is required on every row".into(),
                ));
            }
        }
        draft.lines.push((row, line));
    }

    let labels: HashMap<&str, &str> = seen
        .iter()
        .map(|(name, &i)| (*name, labels[i].as_str()))
        .collect();
    let mut orders = Vec::with_capacity(drafts.len());
    for mut draft in drafts {
        if group != "external_id" && !draft.fields.contains_key("external_id") {
            // An export without its order id column: the grouping value names the order.
            let (value, row) = draft.fields.get(group).cloned().unwrap_or_default();
            let value = value.trim_start_matches('#').to_owned();
            draft.fields.insert("external_id".into(), (value, row));
        }
        match build(draft, channel, options, &labels) {
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
    if let Ok(t) = DateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S %z") {
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

fn build(
    draft: Draft,
    channel: &str,
    options: &CsvOptions,
    labels: &HashMap<&str, &str>,
) -> Result<OrderIntake, Vec<CsvError>> {
    let mut errors = Vec::new();
    let label = |name: &str| labels.get(name).map_or(name, |l| *l).to_owned();
    let text = |name: &str| draft.fields.get(name).map(|(v, _)| v.clone());
    let parsed = |name: &str, errors: &mut Vec<CsvError>| -> Option<DateTime<FixedOffset>> {
        let (raw, row) = draft.fields.get(name)?;
        datetime(raw)
            .map_err(|message| {
                errors.push(CsvError {
                    row: *row,
                    column: Some(label(name)),
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
                    column: Some(label("shipping_amount")),
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
                        column: Some(label(&name)),
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
            column: Some(label("currency")),
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
