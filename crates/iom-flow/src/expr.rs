//! CEL expressions over orders: the order as expressions see it, a type check against that
//! schema, and evaluation.
//!
//! The `cel` crate parses and evaluates but does not type-check, so this module walks the parsed
//! expression itself: every name and field path is looked up in the schema derived from
//! [`iom_domain::Order`], and operators are checked against the types of their operands. What the
//! walk cannot know (functions, attributes of unknown shape) is caught by evaluating the expression
//! once against a complete sample order.
//!
//! What an expression sees (`order`):
//!
//! | path | type |
//! |---|---|
//! | `order.id`, `.channel`, `.external_id`, `.status`, `.status_reason`, `.currency`, `.ship_method` | string (null when absent) |
//! | `order.placed_at`, `.created_at`, `.updated_at`, `.requested_delivery_at` | timestamp |
//! | `order.shipping_amount`, `order.totals.{subtotal,discount,tax,shipping,total}` | double |
//! | `order.customer.{id,email,name,phone,group}` | string (null when absent) |
//! | `order.ship_to` / `order.bill_to` `.{name,company,line1,line2,city,region,postal_code,country,phone}` | string; `.lat`, `.lon` double |
//! | `order.attributes.NAME` | any value of the order's attributes |
//! | `order.lines[]` `.{line_no,quantity,cancelled_quantity,shipped_quantity,delivered_quantity}` | int |
//! | `order.lines[]` `.{sku,uom,status,status_reason,node}` | string; `.{unit_price,discount,tax}` double; `.attributes.NAME` any |
//! | `order.holds[]` `.{code,reason}` | string; `.at` timestamp |
//! | `order.processing` | bool; `order.version` int |
//!
//! Money is decimal in iom, but CEL has no decimal type: amounts are shown to expressions as
//! doubles, for comparisons only. Nothing computed by an expression is ever stored as money.
//! Absent customers and addresses are objects whose fields are all null, so that
//! `order.ship_to.country == "US"` is simply false for an order without a ship-to address.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, LazyLock, OnceLock};

use cel::common::ast::{
    EntryExpr, Expr, IdedExpr, LiteralValue, MapExpr, StructExpr, operators as op,
};
use cel::{Context, ExecutionError, Program, Value};
use chrono::{DateTime, Utc};
use iom_domain::{Address, Order};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::EvalError;

/// The static type of a value an expression handles.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    Bool,
    Int,
    Uint,
    Double,
    String,
    Bytes,
    Timestamp,
    Duration,
    Null,
    /// Anything: attributes, event data. Checked when evaluated.
    Dyn,
    List(Box<Ty>),
    /// String keys to values of one type.
    Map(Box<Ty>),
    Object(Arc<Object>),
}

#[derive(Debug, PartialEq)]
pub struct Object {
    pub name: &'static str,
    pub fields: BTreeMap<&'static str, Ty>,
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ty::Bool => f.write_str("bool"),
            Ty::Int => f.write_str("int"),
            Ty::Uint => f.write_str("uint"),
            Ty::Double => f.write_str("double"),
            Ty::String => f.write_str("string"),
            Ty::Bytes => f.write_str("bytes"),
            Ty::Timestamp => f.write_str("timestamp"),
            Ty::Duration => f.write_str("duration"),
            Ty::Null => f.write_str("null"),
            Ty::Dyn => f.write_str("dyn"),
            Ty::List(t) => write!(f, "list({t})"),
            Ty::Map(t) => write!(f, "map(string, {t})"),
            Ty::Object(o) => f.write_str(o.name),
        }
    }
}

impl Ty {
    fn is_numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::Uint | Ty::Double)
    }

    fn object(name: &'static str, fields: &[(&'static str, Ty)]) -> Ty {
        Ty::Object(Arc::new(Object {
            name,
            fields: fields.iter().cloned().collect(),
        }))
    }
}

fn address_ty(name: &'static str) -> Ty {
    let mut fields: Vec<(&'static str, Ty)> = ADDRESS_TEXT_FIELDS
        .iter()
        .map(|f| (*f, Ty::String))
        .collect();
    fields.push(("lat", Ty::Double));
    fields.push(("lon", Ty::Double));
    Ty::object(name, &fields)
}

const ADDRESS_TEXT_FIELDS: [&str; 9] = [
    "name",
    "company",
    "line1",
    "line2",
    "city",
    "region",
    "postal_code",
    "country",
    "phone",
];

/// The type of one order line as expressions see it (also the `line` of line-scoped actions).
pub static LINE_TYPE: LazyLock<Ty> = LazyLock::new(|| {
    Ty::object(
        "line",
        &[
            ("line_no", Ty::Int),
            ("sku", Ty::String),
            ("quantity", Ty::Int),
            ("unit_price", Ty::Double),
            ("discount", Ty::Double),
            ("tax", Ty::Double),
            ("uom", Ty::String),
            ("status", Ty::String),
            ("status_reason", Ty::String),
            ("cancelled_quantity", Ty::Int),
            ("shipped_quantity", Ty::Int),
            ("delivered_quantity", Ty::Int),
            ("node", Ty::String),
            ("attributes", Ty::Map(Box::new(Ty::Dyn))),
        ],
    )
});

/// The type of `order`, field for field from [`iom_domain::Order`].
pub static ORDER_TYPE: LazyLock<Ty> = LazyLock::new(|| {
    let text = |name| (name, Ty::String);
    Ty::object(
        "order",
        &[
            text("id"),
            text("channel"),
            text("external_id"),
            text("status"),
            text("status_reason"),
            text("currency"),
            ("placed_at", Ty::Timestamp),
            ("created_at", Ty::Timestamp),
            ("updated_at", Ty::Timestamp),
            (
                "customer",
                Ty::object(
                    "customer",
                    &[
                        text("id"),
                        text("email"),
                        text("name"),
                        text("phone"),
                        text("group"),
                    ],
                ),
            ),
            ("ship_to", address_ty("address")),
            ("bill_to", address_ty("address")),
            text("ship_method"),
            ("requested_delivery_at", Ty::Timestamp),
            ("shipping_amount", Ty::Double),
            ("attributes", Ty::Map(Box::new(Ty::Dyn))),
            ("lines", Ty::List(Box::new(LINE_TYPE.clone()))),
            (
                "holds",
                Ty::List(Box::new(Ty::object(
                    "hold",
                    &[text("code"), text("reason"), ("at", Ty::Timestamp)],
                ))),
            ),
            (
                "totals",
                Ty::object(
                    "totals",
                    &[
                        ("subtotal", Ty::Double),
                        ("discount", Ty::Double),
                        ("tax", Ty::Double),
                        ("shipping", Ty::Double),
                        ("total", Ty::Double),
                    ],
                ),
            ),
            ("processing", Ty::Bool),
            ("version", Ty::Int),
        ],
    )
});

/// A business event as expressions see it (`event`).
pub static EVENT_TYPE: LazyLock<Ty> = LazyLock::new(|| {
    Ty::object(
        "event",
        &[
            ("type", Ty::String),
            ("subject", Ty::String),
            ("at", Ty::Timestamp),
            ("data", Ty::Map(Box::new(Ty::Dyn))),
        ],
    )
});

/// Which names an expression may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `order` and the triggering `event`.
    Order,
    /// `order`, `event` and the `line` an action applies to.
    Line,
    /// Only the triggering `event` (inventory flows have no order).
    Event,
}

impl Scope {
    fn variables(self) -> Vec<(&'static str, Ty)> {
        let mut vars = vec![("event", EVENT_TYPE.clone())];
        if matches!(self, Scope::Order | Scope::Line) {
            vars.push(("order", ORDER_TYPE.clone()));
        }
        if self == Scope::Line {
            vars.push(("line", LINE_TYPE.clone()));
        }
        vars
    }
}

/// A problem of an expression; `offset` is the byte offset in the expression's text, when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    pub offset: Option<usize>,
    pub message: String,
}

/// Parses and checks `source` in `scope`; returns the expression's type.
pub fn check(source: &str, scope: Scope) -> Result<(Program, Ty), Vec<ExprError>> {
    let program = Program::compile(source).map_err(|errors| {
        errors
            .errors
            .iter()
            .map(|e| ExprError {
                offset: column_offset(source, e.pos),
                message: format!("invalid expression: {}", e.msg),
            })
            .collect::<Vec<_>>()
    })?;
    let mut checker = Checker {
        scopes: scope
            .variables()
            .into_iter()
            .map(|(n, t)| (n.to_owned(), t))
            .collect(),
        errors: Vec::new(),
    };
    let ty = checker.check(program.expression());
    let info = program.source_info();
    let mut errors: Vec<ExprError> = checker
        .errors
        .into_iter()
        .map(|(id, message)| ExprError {
            // A field selection is placed at its dot; the field's name is what is wrong.
            offset: info.offset_for(id).map(|(start, _)| {
                let start = start as usize;
                start + usize::from(source.as_bytes().get(start) == Some(&b'.'))
            }),
            message,
        })
        .collect();
    if errors.is_empty()
        && let Err(e) = program.execute(&sample_context(scope))
        && is_type_error(&e)
    {
        errors.push(ExprError {
            offset: None,
            message: format!("type error on a sample order: {e}"),
        });
    }
    if errors.is_empty() {
        Ok((program, ty))
    } else {
        Err(errors)
    }
}

/// Converts the parser's (line, column), both from 1, to a byte offset.
fn column_offset(source: &str, (line, column): (isize, isize)) -> Option<usize> {
    let mut offset = 0;
    for (i, text) in source.split_inclusive('\n').enumerate() {
        if i as isize + 1 == line {
            return Some(offset + usize::try_from(column - 1).ok()?.min(text.len()));
        }
        offset += text.len();
    }
    None
}

/// Errors that mean the expression is wrong whatever the order; a missing attribute is not one.
fn is_type_error(e: &ExecutionError) -> bool {
    matches!(
        e,
        ExecutionError::NoSuchOverload(_)
            | ExecutionError::UnsupportedBinaryOperator(..)
            | ExecutionError::ValuesNotComparable(..)
            | ExecutionError::UndeclaredReference(_)
            | ExecutionError::UnexpectedType { .. }
            | ExecutionError::NotSupportedAsMethod { .. }
            | ExecutionError::InvalidArgumentCount { .. }
            | ExecutionError::UnsupportedTargetType { .. }
    )
}

struct Checker {
    scopes: Vec<(String, Ty)>,
    errors: Vec<(u64, String)>,
}

impl Checker {
    fn error(&mut self, e: &IdedExpr, message: String) -> Ty {
        self.errors.push((e.id, message));
        Ty::Dyn
    }

    fn lookup(&self, name: &str) -> Option<Ty> {
        self.scopes
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
    }

    fn check(&mut self, e: &IdedExpr) -> Ty {
        match &e.expr {
            Expr::Unspecified => Ty::Dyn,
            Expr::Literal(lit) => match lit {
                LiteralValue::Boolean(_) => Ty::Bool,
                LiteralValue::Bytes(_) => Ty::Bytes,
                LiteralValue::Double(_) => Ty::Double,
                LiteralValue::Int(_) => Ty::Int,
                LiteralValue::Null => Ty::Null,
                LiteralValue::String(_) => Ty::String,
                LiteralValue::UInt(_) => Ty::Uint,
            },
            Expr::Ident(name) => match self.lookup(name) {
                Some(t) => t,
                None => {
                    let known: Vec<String> = self
                        .scopes
                        .iter()
                        .filter(|(n, _)| !n.starts_with('@'))
                        .map(|(n, _)| n.clone())
                        .collect();
                    self.error(
                        e,
                        format!("unknown name `{name}` (known: {})", known.join(", ")),
                    )
                }
            },
            Expr::Select(select) => {
                let operand = self.check(&select.operand);
                let ty = self.field(e, &operand, &select.field);
                if select.test { Ty::Bool } else { ty }
            }
            Expr::Call(call) => {
                let target = call.target.as_ref().map(|t| self.check(t));
                let args: Vec<Ty> = call.args.iter().map(|a| self.check(a)).collect();
                self.call(e, &call.func_name, target, &args)
            }
            Expr::Comprehension(c) => {
                let range = self.check(&c.iter_range);
                let (first, second) = match &range {
                    Ty::List(t) => (Ty::Int, (**t).clone()),
                    Ty::Map(t) => (Ty::String, (**t).clone()),
                    Ty::Dyn => (Ty::Dyn, Ty::Dyn),
                    other => {
                        let t = self.error(
                            &c.iter_range,
                            format!("cannot iterate over a value of type {other}"),
                        );
                        (t.clone(), t)
                    }
                };
                let accu = self.check(&c.accu_init);
                let depth = self.scopes.len();
                match &c.iter_var2 {
                    Some(v2) => {
                        self.scopes.push((c.iter_var.clone(), first));
                        self.scopes.push((v2.clone(), second));
                    }
                    // One variable: a list's elements, a map's keys.
                    None => {
                        let elem = if matches!(range, Ty::Map(_)) {
                            Ty::String
                        } else {
                            second
                        };
                        self.scopes.push((c.iter_var.clone(), elem));
                    }
                }
                let accu = match accu {
                    // `map` and `filter` start from an empty list of unknown element type.
                    Ty::List(_) => Ty::List(Box::new(Ty::Dyn)),
                    t => t,
                };
                self.scopes.push((c.accu_var.clone(), accu));
                self.check(&c.loop_cond);
                self.check(&c.loop_step);
                let result = self.check(&c.result);
                self.scopes.truncate(depth);
                result
            }
            Expr::List(list) => {
                let types: Vec<Ty> = list.elements.iter().map(|el| self.check(el)).collect();
                Ty::List(Box::new(common(&types)))
            }
            Expr::Map(map) => {
                let mut values = Vec::new();
                for entry in &map.entries {
                    if let EntryExpr::MapEntry(entry) = &entry.expr {
                        self.check(&entry.key);
                        values.push(self.check(&entry.value));
                    }
                }
                Ty::Map(Box::new(common(&values)))
            }
            Expr::Struct(s) => self.error(
                e,
                format!(
                    "message construction ({}{{…}}) is not supported",
                    s.type_name
                ),
            ),
        }
    }

    fn field(&mut self, e: &IdedExpr, operand: &Ty, field: &str) -> Ty {
        match operand {
            Ty::Object(o) => match o.fields.get(field) {
                Some(t) => t.clone(),
                None => {
                    let known: Vec<&str> = o.fields.keys().copied().collect();
                    self.error(
                        e,
                        format!(
                            "{} has no field `{field}` (fields: {})",
                            o.name,
                            known.join(", ")
                        ),
                    )
                }
            },
            Ty::Map(t) => (**t).clone(),
            Ty::Dyn | Ty::Null => Ty::Dyn,
            other => self.error(e, format!("a {other} has no field `{field}`")),
        }
    }

    fn call(&mut self, e: &IdedExpr, func: &str, target: Option<Ty>, args: &[Ty]) -> Ty {
        let arg = |i: usize| args.get(i).cloned().unwrap_or(Ty::Dyn);
        match func {
            op::LOGICAL_AND | op::LOGICAL_OR | op::LOGICAL_NOT | op::NOT_STRICTLY_FALSE => {
                for t in args {
                    if !matches!(t, Ty::Bool | Ty::Dyn) {
                        return self.error(
                            e,
                            format!("`{}` needs bool operands, found {t}", op_symbol(func)),
                        );
                    }
                }
                Ty::Bool
            }
            op::EQUALS | op::NOT_EQUALS => {
                let (a, b) = (arg(0), arg(1));
                if !equatable(&a, &b) {
                    return self.error(
                        e,
                        format!("cannot compare {a} with {b} using `{}`", op_symbol(func)),
                    );
                }
                Ty::Bool
            }
            op::LESS | op::LESS_EQUALS | op::GREATER | op::GREATER_EQUALS => {
                let (a, b) = (arg(0), arg(1));
                if !orderable(&a, &b) {
                    return self.error(
                        e,
                        format!("cannot compare {a} with {b} using `{}`", op_symbol(func)),
                    );
                }
                Ty::Bool
            }
            op::ADD | op::SUBSTRACT | op::MULTIPLY | op::DIVIDE | op::MODULO => {
                let (a, b) = (arg(0), arg(1));
                match arithmetic(func, &a, &b) {
                    Some(t) => t,
                    None => {
                        let hint = if a.is_numeric() && b.is_numeric() {
                            " (CEL does not mix number types in arithmetic: convert with double(…) or int(…))"
                        } else {
                            ""
                        };
                        self.error(
                            e,
                            format!("cannot apply `{}` to {a} and {b}{hint}", op_symbol(func)),
                        )
                    }
                }
            }
            op::NEGATE => match arg(0) {
                t @ (Ty::Int | Ty::Double | Ty::Dyn | Ty::Duration) => t,
                t => self.error(e, format!("cannot negate a {t}")),
            },
            op::INDEX => match (arg(0), arg(1)) {
                (Ty::List(t), Ty::Int | Ty::Uint | Ty::Dyn) => *t,
                (Ty::Map(t), Ty::String | Ty::Dyn) => *t,
                (Ty::Object(_), Ty::String) | (Ty::Dyn, _) => Ty::Dyn,
                (a, b) => self.error(e, format!("cannot index a {a} with a {b}")),
            },
            op::IN => match arg(1) {
                Ty::List(_) | Ty::Map(_) | Ty::Dyn => Ty::Bool,
                t => self.error(e, format!("`in` needs a list or a map, found {t}")),
            },
            op::CONDITIONAL => {
                let cond = arg(0);
                if !matches!(cond, Ty::Bool | Ty::Dyn) {
                    return self.error(e, format!("a condition must be bool, found {cond}"));
                }
                common(&[arg(1), arg(2)])
            }
            "size" => Ty::Int,
            "startsWith" | "endsWith" | "contains" | "matches" => {
                let subject = target.unwrap_or_else(|| arg(0));
                if !matches!(subject, Ty::String | Ty::Dyn | Ty::Null) {
                    return self.error(e, format!("`{func}` needs a string, found {subject}"));
                }
                Ty::Bool
            }
            "int" => Ty::Int,
            "uint" => Ty::Uint,
            "double" => Ty::Double,
            "string" => Ty::String,
            "bool" => Ty::Bool,
            "bytes" => Ty::Bytes,
            "timestamp" => Ty::Timestamp,
            "duration" => Ty::Duration,
            "getFullYear" | "getMonth" | "getDayOfMonth" | "getDate" | "getDayOfWeek"
            | "getDayOfYear" | "getHours" | "getMinutes" | "getSeconds" | "getMilliseconds" => {
                Ty::Int
            }
            "dyn" => Ty::Dyn,
            "max" | "min" => common(args),
            // Functions the walk does not know are checked by evaluating on a sample order.
            _ => Ty::Dyn,
        }
    }
}

fn op_symbol(func: &str) -> &str {
    match func {
        op::LOGICAL_AND => "&&",
        op::LOGICAL_OR => "||",
        op::LOGICAL_NOT => "!",
        op::NOT_STRICTLY_FALSE => "condition",
        op::EQUALS => "==",
        op::NOT_EQUALS => "!=",
        op::LESS => "<",
        op::LESS_EQUALS => "<=",
        op::GREATER => ">",
        op::GREATER_EQUALS => ">=",
        op::ADD => "+",
        op::SUBSTRACT => "-",
        op::MULTIPLY => "*",
        op::DIVIDE => "/",
        op::MODULO => "%",
        other => other,
    }
}

/// The one type of all `types`, or dyn when they differ.
fn common(types: &[Ty]) -> Ty {
    match types.split_first() {
        Some((first, rest)) if rest.iter().all(|t| t == first) => first.clone(),
        Some(_) => Ty::Dyn,
        None => Ty::Dyn,
    }
}

fn equatable(a: &Ty, b: &Ty) -> bool {
    match (a, b) {
        (Ty::Dyn | Ty::Null, _) | (_, Ty::Dyn | Ty::Null) => true,
        _ if a.is_numeric() && b.is_numeric() => true,
        (Ty::List(_), Ty::List(_)) => true,
        (Ty::Map(_) | Ty::Object(_), Ty::Map(_) | Ty::Object(_)) => true,
        _ => std::mem::discriminant(a) == std::mem::discriminant(b),
    }
}

fn orderable(a: &Ty, b: &Ty) -> bool {
    match (a, b) {
        (Ty::Dyn, t) | (t, Ty::Dyn) => matches!(
            t,
            Ty::Dyn
                | Ty::Int
                | Ty::Uint
                | Ty::Double
                | Ty::String
                | Ty::Bool
                | Ty::Bytes
                | Ty::Timestamp
                | Ty::Duration
        ),
        _ if a.is_numeric() && b.is_numeric() => true,
        (Ty::String, Ty::String)
        | (Ty::Bool, Ty::Bool)
        | (Ty::Bytes, Ty::Bytes)
        | (Ty::Timestamp, Ty::Timestamp)
        | (Ty::Duration, Ty::Duration) => true,
        _ => false,
    }
}

fn arithmetic(func: &str, a: &Ty, b: &Ty) -> Option<Ty> {
    match (a, b) {
        (Ty::Dyn, t) | (t, Ty::Dyn) => Some(if t.is_numeric() || *t == Ty::String {
            t.clone()
        } else {
            Ty::Dyn
        }),
        (Ty::Int, Ty::Int) | (Ty::Uint, Ty::Uint) | (Ty::Double, Ty::Double)
            if func != op::MODULO || *a != Ty::Double =>
        {
            Some(a.clone())
        }
        (Ty::String, Ty::String) | (Ty::List(_), Ty::List(_)) if func == op::ADD => Some(a.clone()),
        (Ty::Timestamp, Ty::Duration) if func == op::ADD || func == op::SUBSTRACT => {
            Some(Ty::Timestamp)
        }
        (Ty::Duration, Ty::Timestamp) if func == op::ADD => Some(Ty::Timestamp),
        (Ty::Timestamp, Ty::Timestamp) if func == op::SUBSTRACT => Some(Ty::Duration),
        (Ty::Duration, Ty::Duration) if func == op::ADD || func == op::SUBSTRACT => {
            Some(Ty::Duration)
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Values

fn text(s: &Option<String>) -> Value {
    s.as_deref().map_or(Value::Null, Value::from)
}

fn money(d: Decimal) -> Value {
    Value::Float(d.to_f64().unwrap_or(f64::NAN))
}

fn time(t: DateTime<Utc>) -> Value {
    Value::Timestamp(t.fixed_offset())
}

fn object(fields: Vec<(&'static str, Value)>) -> Value {
    Value::from(fields.into_iter().collect::<HashMap<&str, Value>>())
}

/// JSON (attributes, event data) as CEL values; whole numbers become ints.
pub fn json_value(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map(Value::Int)
            .or_else(|| n.as_u64().map(Value::UInt))
            .unwrap_or_else(|| Value::Float(n.as_f64().unwrap_or(f64::NAN))),
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(items) => {
            Value::List(Arc::new(items.iter().map(json_value).collect()))
        }
        serde_json::Value::Object(map) => Value::from(
            map.iter()
                .map(|(k, v)| (k.as_str(), json_value(v)))
                .collect::<HashMap<&str, Value>>(),
        ),
    }
}

fn address_value(address: Option<&Address>) -> Value {
    let value = address.map(|a| serde_json::to_value(a).unwrap_or_default());
    let mut fields: Vec<(&'static str, Value)> = ADDRESS_TEXT_FIELDS
        .iter()
        .map(|f| {
            let v = value
                .as_ref()
                .and_then(|v| v.get(*f))
                .map_or(Value::Null, json_value);
            (*f, v)
        })
        .collect();
    fields.push((
        "lat",
        address
            .and_then(|a| a.lat)
            .map_or(Value::Null, Value::Float),
    ));
    fields.push((
        "lon",
        address
            .and_then(|a| a.lon)
            .map_or(Value::Null, Value::Float),
    ));
    object(fields)
}

/// One line as expressions see it.
pub fn line_value(line: &iom_domain::OrderLine) -> Value {
    object(vec![
        ("line_no", Value::Int(line.line_no.into())),
        ("sku", Value::from(line.sku.as_str())),
        ("quantity", Value::Int(line.quantity.into())),
        ("unit_price", money(line.unit_price)),
        ("discount", money(line.discount)),
        ("tax", money(line.tax)),
        ("uom", text(&line.uom)),
        ("status", Value::from(enum_text(&line.status))),
        ("status_reason", text(&line.status_reason)),
        (
            "cancelled_quantity",
            Value::Int(line.cancelled_quantity.into()),
        ),
        ("shipped_quantity", Value::Int(line.shipped_quantity.into())),
        (
            "delivered_quantity",
            Value::Int(line.delivered_quantity.into()),
        ),
        ("node", text(&line.node)),
        (
            "attributes",
            json_value(&serde_json::Value::Object(line.attributes.clone())),
        ),
    ])
}

/// Statuses as their wire names (`on_hold`), as the API shows them.
fn enum_text<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// The order as expressions see it: the schema [`ORDER_TYPE`] describes this value.
pub fn order_value(order: &Order) -> Value {
    order_fields_value(order, None)
}

/// The fields of [`order_value`], in its order.
const ORDER_FIELDS: [&str; 21] = [
    "id",
    "channel",
    "external_id",
    "status",
    "status_reason",
    "currency",
    "placed_at",
    "created_at",
    "updated_at",
    "customer",
    "ship_to",
    "bill_to",
    "ship_method",
    "requested_delivery_at",
    "shipping_amount",
    "attributes",
    "lines",
    "holds",
    "totals",
    "processing",
    "version",
];

/// [`order_value`] with only the fields in `only` when given: those an expression reads
/// ([`Expression::order_fields`]). Building and binding a whole order (its lines, its
/// attributes) for a condition that reads one attribute was most of an evaluation's time.
fn order_fields_value(order: &Order, only: Option<&BTreeSet<String>>) -> Value {
    let fields = ORDER_FIELDS
        .iter()
        .filter(|name| only.is_none_or(|only| only.contains(**name)))
        .map(|name| (*name, order_field(order, name)))
        .collect();
    object(fields)
}

fn order_field(order: &Order, name: &str) -> Value {
    let customer = order.customer.as_ref();
    let customer_field = |f: fn(&iom_domain::Customer) -> &Option<String>| {
        customer.map_or(Value::Null, |c| text(f(c)))
    };
    match name {
        "id" => Value::from(order.id.to_string()),
        "channel" => Value::from(order.channel.as_str()),
        "external_id" => Value::from(order.external_id.as_str()),
        "status" => Value::from(enum_text(&order.status)),
        "status_reason" => text(&order.status_reason),
        "currency" => Value::from(order.currency.code()),
        "placed_at" => time(order.placed_at),
        "created_at" => time(order.created_at),
        "updated_at" => time(order.updated_at),
        "customer" => object(vec![
            ("id", customer_field(|c| &c.id)),
            ("email", customer_field(|c| &c.email)),
            ("name", customer_field(|c| &c.name)),
            ("phone", customer_field(|c| &c.phone)),
            ("group", customer_field(|c| &c.group)),
        ]),
        "ship_to" => address_value(order.ship_to.as_ref()),
        "bill_to" => address_value(order.bill_to.as_ref()),
        "ship_method" => text(&order.ship_method),
        "requested_delivery_at" => order.requested_delivery_at.map_or(Value::Null, time),
        "shipping_amount" => money(order.shipping_amount),
        "attributes" => json_value(&serde_json::Value::Object(order.attributes.clone())),
        "lines" => Value::List(Arc::new(order.lines.iter().map(line_value).collect())),
        "holds" => Value::List(Arc::new(
            order
                .holds
                .iter()
                .map(|h| {
                    object(vec![
                        ("code", Value::from(h.code.as_str())),
                        ("reason", text(&h.reason)),
                        ("at", time(h.at)),
                    ])
                })
                .collect(),
        )),
        "totals" => object(vec![
            ("subtotal", money(order.totals.subtotal)),
            ("discount", money(order.totals.discount)),
            ("tax", money(order.totals.tax)),
            ("shipping", money(order.totals.shipping)),
            ("total", money(order.totals.total)),
        ]),
        "processing" => Value::Bool(order.processing),
        "version" => Value::Int(order.version),
        _ => Value::Null,
    }
}

/// A business event as an expression sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventInput {
    #[serde(rename = "type")]
    pub kind: String,
    pub subject: String,
    pub at: DateTime<Utc>,
    pub data: serde_json::Value,
}

impl EventInput {
    fn value(&self) -> Value {
        object(vec![
            ("type", Value::from(self.kind.as_str())),
            ("subject", Value::from(self.subject.as_str())),
            ("at", time(self.at)),
            ("data", json_value(&self.data)),
        ])
    }
}

/// What an expression is evaluated against.
#[derive(Debug, Clone, Copy, Default)]
pub struct Input<'a> {
    pub order: Option<&'a Order>,
    pub event: Option<&'a EventInput>,
    pub line: Option<&'a iom_domain::OrderLine>,
}

impl<'a> Input<'a> {
    pub fn order(order: &'a Order) -> Self {
        Self {
            order: Some(order),
            ..Self::default()
        }
    }

    pub fn with_event(mut self, event: &'a EventInput) -> Self {
        self.event = Some(event);
        self
    }

    pub fn context(&self) -> Context<'static, 'static> {
        self.context_reading(None)
    }

    /// The context with only the order fields in `order_fields` when given: those the expression
    /// evaluated in it reads.
    fn context_reading(
        &self,
        order_fields: Option<&BTreeSet<String>>,
    ) -> Context<'static, 'static> {
        // The standard library is built once: `Context::default` builds it anew (every function,
        // macro and type), which was most of the time an evaluation took.
        static STDLIB: LazyLock<Arc<cel::Env>> = LazyLock::new(|| Arc::new(cel::Env::stdlib()));
        let mut ctx = Context::with_env(STDLIB.clone());
        if let Some(order) = self.order {
            ctx.add_variable_from_value("order", order_fields_value(order, order_fields));
        }
        if let Some(line) = self.line {
            ctx.add_variable_from_value("line", line_value(line));
        }
        // Expressions may mention `event` even when a flow is started without one (a manual
        // restart): they then see an empty event rather than failing on an unknown name.
        let event = self.event.map_or_else(
            || {
                object(vec![
                    ("type", Value::from("")),
                    ("subject", Value::from("")),
                    ("at", Value::Null),
                    ("data", Value::from(HashMap::<&str, Value>::new())),
                ])
            },
            EventInput::value,
        );
        ctx.add_variable_from_value("event", event);
        ctx
    }
}

/// A complete order with every optional field set, to evaluate new expressions on.
pub fn sample_order() -> &'static Order {
    static SAMPLE: LazyLock<Order> = LazyLock::new(|| {
        let intake: iom_domain::OrderIntake = serde_json::from_value(serde_json::json!({
            "channel": "web", "external_id": "SAMPLE-1", "currency": "USD",
            "placed_at": "2026-01-01T10:00:00Z",
            "customer": {"id": "C-1", "email": "ann@example.com", "name": "Ann", "phone": "1", "group": "retail"},
            "ship_to": {"name": "Ann", "line1": "1 Main St", "city": "Seattle", "region": "WA",
                        "postal_code": "98101", "country": "US", "lat": 47.6, "lon": -122.3},
            "bill_to": {"name": "Ann", "line1": "1 Main St", "city": "Seattle", "region": "WA",
                        "postal_code": "98101", "country": "US"},
            "lines": [{"line_no": 1, "sku": "SKU-1", "quantity": 2, "unit_price": "10.00",
                       "discount": "1.00", "tax": "0.50", "uom": "EA", "attributes": {"gift": false}}],
            "ship_method": "standard", "shipping_amount": "4.99",
            "requested_delivery_at": "2026-01-05T00:00:00Z",
            "attributes": {"preorder": false}
        }))
        .expect("the sample order is well-formed");
        intake
            .validate(DateTime::<Utc>::UNIX_EPOCH)
            .expect("the sample order is valid")
    });
    &SAMPLE
}

fn sample_context(scope: Scope) -> Context<'static, 'static> {
    static EVENT: LazyLock<EventInput> = LazyLock::new(|| EventInput {
        kind: "order.received".into(),
        subject: "SAMPLE-1".into(),
        at: DateTime::<Utc>::UNIX_EPOCH,
        data: serde_json::json!({}),
    });
    let order = sample_order();
    Input {
        order: (scope != Scope::Event).then_some(order),
        event: Some(&EVENT),
        line: (scope == Scope::Line).then(|| &order.lines[0]),
    }
    .context()
}

/// A CEL expression in a plan or a policy: its source text is what is stored; the parsed program
/// is built on first use (and by [`Expression::compile`]) and kept.
pub struct Expression {
    source: String,
    program: OnceLock<Result<Arc<Program>, String>>,
    /// The fields of `order` the expression reads; `None` when it may read all of it.
    order_fields: OnceLock<Option<BTreeSet<String>>>,
}

impl Expression {
    pub fn new(source: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            program: OnceLock::new(),
            order_fields: OnceLock::new(),
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Parses the expression (once); a stored plan is checked with this when it is loaded.
    pub fn compile(&self) -> Result<Arc<Program>, EvalError> {
        self.program
            .get_or_init(|| {
                Program::compile(&self.source)
                    .map(Arc::new)
                    .map_err(|e| e.to_string())
            })
            .clone()
            .map_err(|message| EvalError::Compile {
                expression: self.source.clone(),
                message,
            })
    }

    pub fn evaluate(&self, input: &Input<'_>) -> Result<Value, EvalError> {
        let program = self.compile()?;
        let fields = self.order_fields.get_or_init(|| {
            let mut fields = BTreeSet::new();
            order_fields_read(program.expression(), &mut fields).then_some(fields)
        });
        program
            .execute(&input.context_reading(fields.as_ref()))
            .map_err(|e| EvalError::Execution {
                expression: self.source.clone(),
                message: e.to_string(),
            })
    }

    /// Evaluates a condition; anything but a bool is an error, not "false".
    pub fn evaluate_bool(&self, input: &Input<'_>) -> Result<bool, EvalError> {
        match self.evaluate(input)? {
            Value::Bool(b) => Ok(b),
            other => Err(EvalError::WrongType {
                expression: self.source.clone(),
                expected: "bool",
                found: format!("{other:?}"),
            }),
        }
    }
}

/// CEL values as JSON, for set-value actions.
pub fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::Int(i) => (*i).into(),
        Value::UInt(u) => (*u).into(),
        Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(serde_json::Value::Null, Into::into)
        }
        Value::String(s) => s.as_str().into(),
        Value::Bytes(b) => serde_json::Value::Array(b.iter().map(|x| (*x).into()).collect()),
        Value::List(items) => items.iter().map(to_json).collect(),
        Value::Map(map) => serde_json::Value::Object(
            map.map
                .iter()
                .map(|(k, v)| (key_text(k), to_json(v)))
                .collect(),
        ),
        Value::Timestamp(t) => t.to_rfc3339().into(),
        Value::Duration(d) => format!("{}s", d.num_seconds()).into(),
        other => format!("{other:?}").into(),
    }
}

fn key_text(key: &cel::objects::Key) -> String {
    match key {
        cel::objects::Key::String(s) => s.to_string(),
        cel::objects::Key::Int(i) => i.to_string(),
        cel::objects::Key::Uint(u) => u.to_string(),
        cel::objects::Key::Bool(b) => b.to_string(),
    }
}

impl Clone for Expression {
    fn clone(&self) -> Self {
        Self {
            source: self.source.clone(),
            program: self.program.clone(),
            order_fields: self.order_fields.clone(),
        }
    }
}

/// Adds to `fields` the fields of `order` that `e` selects (`order.lines`, `has(order.x)`);
/// `false` when `e` uses `order` otherwise (as a whole: `order == x`, a function of it), so
/// that it may read every field.
fn order_fields_read(e: &IdedExpr, fields: &mut BTreeSet<String>) -> bool {
    fn all<'e>(
        exprs: impl IntoIterator<Item = &'e IdedExpr>,
        fields: &mut BTreeSet<String>,
    ) -> bool {
        exprs.into_iter().all(|e| order_fields_read(e, fields))
    }
    match &e.expr {
        Expr::Ident(name) => name != "order",
        Expr::Select(select) => match &select.operand.expr {
            Expr::Ident(name) if name == "order" => {
                fields.insert(select.field.clone());
                true
            }
            _ => order_fields_read(&select.operand, fields),
        },
        Expr::Call(call) => all(
            call.target.iter().map(|t| &**t).chain(call.args.iter()),
            fields,
        ),
        Expr::Comprehension(c) => all(
            [
                &c.iter_range,
                &c.accu_init,
                &c.loop_cond,
                &c.loop_step,
                &c.result,
            ],
            fields,
        ),
        Expr::List(list) => all(&list.elements, fields),
        Expr::Map(MapExpr { entries }) | Expr::Struct(StructExpr { entries, .. }) => {
            entries.iter().all(|entry| match &entry.expr {
                EntryExpr::MapEntry(m) => {
                    order_fields_read(&m.key, fields) && order_fields_read(&m.value, fields)
                }
                EntryExpr::StructField(f) => order_fields_read(&f.value, fields),
            })
        }
        Expr::Literal(_) | Expr::Unspecified => true,
    }
}

impl fmt::Debug for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expression({:?})", self.source)
    }
}

impl PartialEq for Expression {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Serialize for Expression {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for Expression {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Expression::new)
    }
}
