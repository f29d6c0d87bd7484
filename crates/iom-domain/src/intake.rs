//! The order as a channel submits it (`POST /api/v1/orders`), and its validation into an [`Order`].
//! Every field is optional here so that validation can report every bad field at once.

use chrono::{DateTime, FixedOffset, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::address::{AddressIntake, non_empty};
use crate::money::decimal;
use crate::order::{Customer, Order, OrderLine, Totals};
use crate::{Currency, FieldError, LineStatus, OrderId, OrderStatus};

/// Most lines one order may have; a larger document is almost certainly a mistake.
pub const MAX_LINES: usize = 1_000;
/// Largest quantity of one line.
pub const MAX_QUANTITY: i64 = 1_000_000_000;
const MAX_ID_LEN: usize = 200;
/// Largest amount (a unit price, a discount, a tax): a trillion in any currency. With at most
/// `MAX_LINES` lines of `MAX_QUANTITY` units, an order's total then stays far inside what a
/// decimal holds, so no total of an accepted order can overflow.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(3_567_587_328, 232, 0, false, 0);

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct OrderIntake {
    /// The sales channel or provider instance the order comes from (`web`, `amazon-us`, …).
    pub channel: Option<String>,
    /// The order's id in the source system; unique per channel.
    #[serde(default, deserialize_with = "string_or_number")]
    #[schema(value_type = Option<String>)]
    pub external_id: Option<String>,
    /// ISO 4217 currency code.
    pub currency: Option<String>,
    /// When the customer placed the order; defaults to the time iom receives it.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub placed_at: Option<DateTime<FixedOffset>>,
    pub customer: Option<CustomerIntake>,
    pub ship_to: Option<AddressIntake>,
    pub bill_to: Option<AddressIntake>,
    pub lines: Option<Vec<LineIntake>>,
    pub ship_method: Option<String>,
    /// Shipping charged to the customer (decimal string).
    #[serde(default, deserialize_with = "decimal::deserialize_option")]
    #[schema(value_type = Option<String>, example = "4.99")]
    pub shipping_amount: Option<Decimal>,
    /// A discount on the whole order (decimal string), on top of the lines' own discounts; at most
    /// the lines' value after their discounts.
    #[serde(default, deserialize_with = "decimal::deserialize_option")]
    #[schema(value_type = Option<String>, example = "5.00")]
    pub discount_amount: Option<Decimal>,
    /// The date the customer asked to receive the order by.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub requested_delivery_at: Option<DateTime<FixedOffset>>,
    /// Free-form attributes that policies and flows can read. `payment_method` (a string) is the
    /// customer's payment method at the payment service of a `payment` provider instance serving
    /// the channel (Stripe's `pm_…`, e.g. `pm_card_visa` in test mode), which the default flow
    /// authorises the order's total against before release.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Map<String, Value>>,
}

/// The order attribute naming the customer's payment method.
pub const PAYMENT_METHOD: &str = "payment_method";

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct CustomerIntake {
    #[serde(default, deserialize_with = "string_or_number")]
    #[schema(value_type = Option<String>)]
    pub id: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    /// Customer group, e.g. for allocations reserved to a segment.
    pub group: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct LineIntake {
    /// Unique within the order; defaults to the line's position (1-based).
    pub line_no: Option<i64>,
    #[serde(default, deserialize_with = "string_or_number")]
    #[schema(value_type = Option<String>)]
    pub sku: Option<String>,
    pub quantity: Option<i64>,
    /// Price of one unit (decimal string).
    #[serde(default, deserialize_with = "decimal::deserialize_option")]
    #[schema(value_type = Option<String>, example = "19.99")]
    pub unit_price: Option<Decimal>,
    /// Discount on the whole line (decimal string).
    #[serde(default, deserialize_with = "decimal::deserialize_option")]
    #[schema(value_type = Option<String>)]
    pub discount: Option<Decimal>,
    /// Tax on the whole line (decimal string).
    #[serde(default, deserialize_with = "decimal::deserialize_option")]
    #[schema(value_type = Option<String>)]
    pub tax: Option<Decimal>,
    /// Unit of measure; the SKU's own when absent.
    pub uom: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Map<String, Value>>,
}

impl OrderIntake {
    /// Checks the whole order and returns it as a new [`Order`] in status `received`, or every bad
    /// field at once.
    pub fn validate(self, now: DateTime<Utc>) -> Result<Order, Vec<FieldError>> {
        let mut errors = Vec::new();
        let channel = required_text(self.channel, "channel", 100, &mut errors);
        let external_id = required_text(self.external_id, "external_id", MAX_ID_LEN, &mut errors);
        let currency = match self.currency.as_deref().map(str::trim) {
            None | Some("") => {
                errors.push(FieldError::new("currency", "is required"));
                None
            }
            Some(code) => {
                let parsed = Currency::parse(code);
                if parsed.is_none() {
                    errors.push(FieldError::new(
                        "currency",
                        format!("{code:?} is not an ISO 4217 currency code"),
                    ));
                }
                parsed
            }
        };
        let customer = self.customer.map(|c| c.validate(&mut errors));
        let ship_to = self
            .ship_to
            .and_then(|a| a.validate("ship_to", &mut errors));
        let bill_to = self
            .bill_to
            .and_then(|a| a.validate("bill_to", &mut errors));
        if let Some(method) = self.attributes.as_ref().and_then(|a| a.get(PAYMENT_METHOD)) {
            let ok = method
                .as_str()
                .is_some_and(|m| !m.trim().is_empty() && m.len() <= 255);
            if !ok {
                errors.push(FieldError::new(
                    format!("attributes.{PAYMENT_METHOD}"),
                    "must be the payment method's id at the payment service (a string such as pm_card_visa)",
                ));
            }
        }
        let shipping_amount = self.shipping_amount.unwrap_or_default();
        if shipping_amount.is_sign_negative() && !shipping_amount.is_zero() {
            errors.push(FieldError::new("shipping_amount", "must not be negative"));
        }
        let lines = match self.lines {
            None => {
                errors.push(FieldError::new("lines", "is required"));
                Vec::new()
            }
            Some(lines) if lines.is_empty() => {
                errors.push(FieldError::new("lines", "must have at least one line"));
                Vec::new()
            }
            Some(lines) if lines.len() > MAX_LINES => {
                errors.push(FieldError::new(
                    "lines",
                    format!("must have at most {MAX_LINES} lines"),
                ));
                Vec::new()
            }
            Some(lines) => validate_lines(lines, &mut errors),
        };
        let discount_amount = non_negative(self.discount_amount, "discount_amount", &mut errors);
        let net: Decimal = lines
            .iter()
            .map(|l| l.unit_price * Decimal::from(l.quantity) - l.discount)
            .sum();
        if errors.is_empty() && discount_amount > net {
            errors.push(FieldError::new(
                "discount_amount",
                format!("must not exceed the lines' value after their discounts ({net})"),
            ));
        }

        if !errors.is_empty() {
            return Err(errors);
        }
        let (Some(channel), Some(external_id), Some(currency)) = (channel, external_id, currency)
        else {
            unreachable!("a missing required field is reported as an error")
        };
        let mut order = Order {
            id: OrderId::new(),
            channel,
            external_id,
            status: OrderStatus::Received,
            status_reason: None,
            currency,
            placed_at: self.placed_at.map_or(now, |t| t.with_timezone(&Utc)),
            created_at: now,
            updated_at: now,
            customer,
            ship_to,
            bill_to,
            ship_method: non_empty(self.ship_method),
            requested_delivery_at: self.requested_delivery_at.map(|t| t.with_timezone(&Utc)),
            shipping_amount,
            discount_amount,
            attributes: self.attributes.unwrap_or_default(),
            lines,
            holds: Vec::new(),
            shipments: Vec::new(),
            deliveries: Vec::new(),
            totals: Totals::default(),
            processing: false,
            returns: Vec::new(),
            refunded_amount: Decimal::ZERO,
            refunded_shipping: Decimal::ZERO,
            payment: None,
            tax_transaction: None,
            version: 1,
        };
        order.totals = Totals::of(&order);
        Ok(order)
    }
}

impl CustomerIntake {
    fn validate(self, errors: &mut Vec<FieldError>) -> Customer {
        let email = non_empty(self.email);
        if let Some(email) = &email {
            let valid = email
                .split_once('@')
                .is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'));
            if !valid {
                errors.push(FieldError::new(
                    "customer.email",
                    "is not an e-mail address",
                ));
            }
        }
        for (field, value) in [
            ("customer.id", &self.id),
            ("customer.email", &email),
            ("customer.name", &self.name),
        ] {
            if value.as_deref().is_some_and(|v| v.contains('\0')) {
                errors.push(has_nul(field));
            }
        }
        Customer {
            id: non_empty(self.id),
            email,
            name: non_empty(self.name),
            phone: non_empty(self.phone),
            group: non_empty(self.group),
        }
    }
}

fn validate_lines(lines: Vec<LineIntake>, errors: &mut Vec<FieldError>) -> Vec<OrderLine> {
    let mut seen = std::collections::HashSet::new();
    let mut valid = Vec::with_capacity(lines.len());
    for (index, line) in lines.into_iter().enumerate() {
        let path = format!("lines[{index}]");
        let before = errors.len();
        let line_no = line.line_no.unwrap_or(index as i64 + 1);
        if !(1..=i64::from(u32::MAX)).contains(&line_no) {
            errors.push(FieldError::new(
                format!("{path}.line_no"),
                "must be at least 1",
            ));
        } else if !seen.insert(line_no) {
            errors.push(FieldError::new(
                format!("{path}.line_no"),
                format!("line_no {line_no} is used by another line"),
            ));
        }
        let sku = required_text(line.sku, &format!("{path}.sku"), MAX_ID_LEN, errors);
        let quantity = match line.quantity {
            None => {
                errors.push(FieldError::new(format!("{path}.quantity"), "is required"));
                0
            }
            Some(q) if q < 1 => {
                errors.push(FieldError::new(
                    format!("{path}.quantity"),
                    "must be at least 1",
                ));
                0
            }
            Some(q) if q > MAX_QUANTITY => {
                errors.push(FieldError::new(
                    format!("{path}.quantity"),
                    format!("must be at most {MAX_QUANTITY}"),
                ));
                0
            }
            Some(q) => q,
        };
        let unit_price = match line.unit_price {
            None => {
                errors.push(FieldError::new(format!("{path}.unit_price"), "is required"));
                Decimal::ZERO
            }
            Some(p) if p.is_sign_negative() && !p.is_zero() => {
                errors.push(FieldError::new(
                    format!("{path}.unit_price"),
                    "must not be negative",
                ));
                Decimal::ZERO
            }
            Some(p) if p > MAX_AMOUNT => {
                errors.push(too_large(&format!("{path}.unit_price")));
                Decimal::ZERO
            }
            Some(p) => p,
        };
        let discount = non_negative(line.discount, &format!("{path}.discount"), errors);
        let tax = non_negative(line.tax, &format!("{path}.tax"), errors);
        if errors.len() == before && discount > unit_price * Decimal::from(quantity) {
            errors.push(FieldError::new(
                format!("{path}.discount"),
                "must not exceed quantity × unit_price",
            ));
        }
        if errors.len() == before {
            valid.push(OrderLine {
                line_no: line_no as u32,
                sku: sku.unwrap_or_default(),
                quantity: quantity as u32,
                unit_price,
                discount,
                tax,
                uom: non_empty(line.uom),
                status: LineStatus::Open,
                status_reason: None,
                cancelled_quantity: 0,
                shipped_quantity: 0,
                delivered_quantity: 0,
                node: None,
                attributes: line.attributes.unwrap_or_default(),
                return_authorized_quantity: 0,
                returned_quantity: 0,
                refunded_quantity: 0,
                refunded_amount: Decimal::ZERO,
                promised_delivery_at: None,
                hold: None,
            });
        }
    }
    valid
}

fn required_text(
    value: Option<String>,
    field: &str,
    max_len: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    match non_empty(value) {
        None => {
            errors.push(FieldError::new(field, "is required"));
            None
        }
        Some(v) if v.chars().count() > max_len => {
            errors.push(FieldError::new(
                field,
                format!("must be at most {max_len} characters"),
            ));
            None
        }
        Some(v) if v.contains('\0') => {
            errors.push(has_nul(field));
            None
        }
        Some(v) => Some(v),
    }
}

/// Text that is stored in columns of its own (ids, the customer's name and address) may not hold
/// U+0000: PostgreSQL's text cannot, so it is refused on every backend alike.
fn has_nul(field: &str) -> FieldError {
    FieldError::new(field, "must not contain the NUL character (U+0000)")
}

fn non_negative(value: Option<Decimal>, field: &str, errors: &mut Vec<FieldError>) -> Decimal {
    match value {
        Some(v) if v.is_sign_negative() && !v.is_zero() => {
            errors.push(FieldError::new(field, "must not be negative"));
            Decimal::ZERO
        }
        Some(v) if v > MAX_AMOUNT => {
            errors.push(too_large(field));
            Decimal::ZERO
        }
        Some(v) => v,
        None => Decimal::ZERO,
    }
}

fn too_large(field: &str) -> FieldError {
    FieldError::new(field, format!("must be at most {MAX_AMOUNT}"))
}

/// Source systems send ids as strings or as numbers (Shopify, BigCommerce); both are taken as text.
fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Repr {
        Text(String),
        Number(serde_json::Number),
    }
    Ok(Option::<Repr>::deserialize(d)?.map(|r| match r {
        Repr::Text(s) => s,
        Repr::Number(n) => n.to_string(),
    }))
}

/// A change to an order before it is released, as `PATCH /api/v1/orders/{id}` takes it. A part
/// left out stays as it is.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct AmendmentIntake {
    pub ship_to: Option<AddressIntake>,
    pub ship_method: Option<String>,
    /// Every line the order should have: a line with the `line_no` of one of the order's lines
    /// changes that line (its `sku`, `unit_price`, `discount` and `tax` stay as they are when
    /// left out), a line without `line_no` is added, and a line of the order that is not listed
    /// is removed (cancelled).
    pub lines: Option<Vec<LineIntake>>,
    /// Attributes to set; those not named are kept.
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<Map<String, Value>>,
}

impl AmendmentIntake {
    /// Checks the change against `order` (the lines it names must exist) and returns it as an
    /// [`Amendment`](crate::Amendment), or every bad field at once. Whether the order may still
    /// change is the order's to say (`Order::amend`).
    pub fn validate(self, order: &Order) -> Result<crate::Amendment, Vec<FieldError>> {
        let mut errors = Vec::new();
        let ship_to = self
            .ship_to
            .and_then(|a| a.validate("ship_to", &mut errors));
        let lines = match self.lines {
            None => None,
            Some(lines) if lines.is_empty() => {
                errors.push(FieldError::new("lines", "must have at least one line"));
                None
            }
            Some(lines) if lines.len() > MAX_LINES => {
                errors.push(FieldError::new(
                    "lines",
                    format!("must have at most {MAX_LINES} lines"),
                ));
                None
            }
            Some(lines) => Some(amended_lines(lines, order, &mut errors)),
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(crate::Amendment {
            ship_to,
            ship_method: non_empty(self.ship_method),
            attributes: self.attributes.unwrap_or_default(),
            lines,
        })
    }
}

fn amended_lines(
    lines: Vec<LineIntake>,
    order: &Order,
    errors: &mut Vec<FieldError>,
) -> Vec<crate::AmendedLine> {
    let mut out = Vec::with_capacity(lines.len());
    for (index, mut line) in lines.into_iter().enumerate() {
        let path = format!("lines[{index}]");
        let existing = match line.line_no {
            None => None,
            Some(n) => match u32::try_from(n).ok().and_then(|n| order.line(n)) {
                Some(existing) => Some(existing),
                None => {
                    errors.push(FieldError::new(
                        format!("{path}.line_no"),
                        format!("the order has no line {n}"),
                    ));
                    continue;
                }
            },
        };
        if let Some(e) = existing {
            line.sku = line.sku.or_else(|| Some(e.sku.clone()));
            line.unit_price = line.unit_price.or(Some(e.unit_price));
            line.discount = line.discount.or(Some(e.discount));
            line.tax = line.tax.or(Some(e.tax));
        }
        // The intake's own checks of one line, with their fields named at this line's place.
        let mut line_errors = Vec::new();
        let checked = validate_lines(
            vec![LineIntake {
                line_no: Some(1),
                ..line
            }],
            &mut line_errors,
        );
        errors.extend(line_errors.into_iter().map(|e| {
            let field = e.field.replacen("lines[0]", &path, 1);
            FieldError::new(field, e.message)
        }));
        if let Some(l) = checked.into_iter().next() {
            out.push(crate::AmendedLine {
                line_no: existing.map(|e| e.line_no),
                sku: l.sku,
                quantity: l.quantity,
                unit_price: l.unit_price,
                discount: l.discount,
                tax: l.tax,
                uom: l.uom,
                attributes: l.attributes,
            });
        }
    }
    out
}
