//! jq transformations (with the jaq interpreter): the step that reshapes a channel's JSON into
//! iom's order intake. jq is what integrators already know for this job, and a provider instance
//! can carry its own program, so adapting to a channel's quirks needs no release of iom.
//!
//! A [`Transform`] is compiled once and run for every document. Every program can use the
//! definitions of `src/transforms/prelude.jq` besides jq's standard library: `blank`,
//! `nonblank`, `text`, and exact decimal functions (`money_sum` and `split_total`, native in
//! `jq/money.rs` for speed, and `dec_parse`, `dec_format` …) because money must not pass through
//! floating point. The default programs for Shopify, BigCommerce and Amazon
//! are in [`programs`]; a provider instance may start from one of them and change it. The
//! default Shopify program also exists as Rust (`jq/shopify.rs`, used by [`Transform::shopify`])
//! because it runs on every webhook and the interpreter was most of its cost; a test holds the
//! two equal.

mod money;
pub mod paths;
mod shopify;

use iom_domain::OrderIntake;
use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Ctx, Vars, data::JustLut};
use jaq_json::{Num, Val};
use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

/// The jq source of the default programs, so that the UI can show them and instances can
/// start from them.
pub mod programs {
    /// Definitions every program can use.
    pub const PRELUDE: &str = include_str!("transforms/prelude.jq");
    /// Shopify order (bare, `{"order":…}` or `{"orders":[…]}`) → intakes.
    pub const SHOPIFY: &str = include_str!("transforms/shopify.jq");
    /// `{"order", "products", "shipping_addresses"?}` from BigCommerce API v2 → intake.
    pub const BIGCOMMERCE: &str = include_str!("transforms/bigcommerce.jq");
    /// `{"order", "items"}` from the Amazon SP-API Orders v0 → intake.
    pub const AMAZON: &str = include_str!("transforms/amazon.jq");
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TransformError {
    #[error("jq program {program:?} does not compile: {message} (line {line}, column {column})")]
    Compile {
        program: String,
        message: String,
        line: usize,
        column: usize,
    },
    /// The program stopped with `message`. `program` is empty for a default program, whose
    /// messages speak of the channel's document already; an instance's own program is named,
    /// since whoever wrote it is who reads the message.
    #[error("{}{message}", program_prefix(program))]
    Run { program: String, message: String },
    /// An output that does not read as an order: `field` is where, in the output.
    #[error("jq program {program:?}: output {index}, field {field}: {message}")]
    NotAnOrder {
        program: String,
        index: usize,
        field: String,
        message: String,
    },
}

fn program_prefix(program: &str) -> String {
    if program.is_empty() {
        String::new()
    } else {
        format!("jq program {program:?}: ")
    }
}

type Filter = jaq_core::Filter<JustLut<Val>>;

/// A compiled jq program.
pub struct Transform {
    name: String,
    filter: Filter,
    /// The same mapping in Rust, tried first (see [`shopify_native`]); `None` from it means
    /// the program decides.
    native: Option<Native>,
    /// A default program's map back to the document's own paths, for error messages.
    source: Option<paths::Source>,
}

type Native = fn(&Value) -> Option<Result<Vec<Value>, String>>;

/// The default Shopify program written in Rust: `Some` with what the program gives (its outputs
/// or its error message), or `None` for an input the Rust mapping leaves to the program.
/// [`Transform::shopify`] uses it, because it is several times faster than interpreting the
/// program; programs of a provider instance (even when started from the default) always run in
/// jq. Public so that tests can hold it equal to the program.
pub fn shopify_native(input: &Value) -> Option<Result<Vec<Value>, String>> {
    shopify::transform(input)
}

impl std::fmt::Debug for Transform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transform")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Transform {
    /// Compiles `code`; `name` appears in error messages.
    pub fn compile(name: &str, code: &str) -> Result<Self, TransformError> {
        let prelude = jaq_core::load::parse(programs::PRELUDE, |p| p.defs()).ok_or_else(|| {
            TransformError::Compile {
                program: "prelude".into(),
                message: "the prelude does not parse".into(),
                line: 1,
                column: 1,
            }
        })?;
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs())
            .chain(prelude);
        let funs = jaq_core::funs()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs())
            .chain(money::funs());
        let arena = Arena::default();
        let modules = Loader::new(defs)
            .load(&arena, File { code, path: () })
            .map_err(|errs| load_error(name, code, errs))?;
        let filter = jaq_core::Compiler::<_, JustLut<Val>>::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errs| {
                let (message, at) = errs
                    .into_iter()
                    .flat_map(|(_, e)| e)
                    .map(|(sym, undefined)| {
                        (format!("undefined {} {sym}", undefined.as_str()), sym)
                    })
                    .next()
                    .unwrap_or_else(|| ("unknown compile error".into(), code));
                compile_error(name, code, message, at)
            })?;
        Ok(Self {
            name: name.to_owned(),
            filter,
            native: None,
            source: None,
        })
    }

    /// The default Shopify program. It runs as Rust ([`shopify_native`]), which gives the same
    /// results faster; the compiled program serves the inputs the Rust mapping leaves to it.
    pub fn shopify() -> Result<Self, TransformError> {
        Ok(Self {
            native: Some(shopify_native),
            ..Self::shopify_jq()?
        })
    }

    /// The default Shopify program, always interpreted (to compare with the Rust mapping).
    pub fn shopify_jq() -> Result<Self, TransformError> {
        Ok(Self {
            source: Some(paths::Source::Shopify),
            ..Self::compile("shopify", programs::SHOPIFY)?
        })
    }

    /// The default BigCommerce program.
    pub fn bigcommerce() -> Result<Self, TransformError> {
        Ok(Self {
            source: Some(paths::Source::BigCommerce),
            ..Self::compile("bigcommerce", programs::BIGCOMMERCE)?
        })
    }

    /// Where the order field `field` of output `index` came from in `input`, when this is a
    /// default program that knows (`$.line_items[2].quantity` for `lines[2].quantity`).
    pub fn source_path(&self, input: &Value, index: usize, field: &str) -> Option<String> {
        paths::source_path(self.source?, input, index, field)
    }

    /// The default Amazon program.
    pub fn amazon() -> Result<Self, TransformError> {
        Self::compile("amazon", programs::AMAZON)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs the program on `input` and returns all its outputs. The first error stops the run:
    /// a document is either transformed completely or not at all.
    pub fn run(&self, input: &Value) -> Result<Vec<Value>, TransformError> {
        if let Some(result) = self.native.and_then(|native| native(input)) {
            return result.map_err(|message| self.run_error(message));
        }
        let val = Val::deserialize(input).map_err(|e| self.run_error(e.to_string()))?;
        let ctx = Ctx::<JustLut<Val>>::new(&self.filter.lut, Vars::new([]));
        let mut out = Vec::new();
        for result in self.filter.id.run((ctx, val)).map(jaq_core::unwrap_valr) {
            match result {
                Ok(v) => out.push(to_json(&v)),
                Err(e) => {
                    let message = match e.into_val() {
                        Val::TStr(s) | Val::BStr(s) => String::from_utf8_lossy(&s).into_owned(),
                        other => other.to_string(),
                    };
                    return Err(self.run_error(message));
                }
            }
        }
        Ok(out)
    }

    /// Runs the program and reads each output as an [`OrderIntake`]. `channel` fills in the
    /// intake's channel when the program does not set one.
    pub fn run_intakes(
        &self,
        input: &Value,
        channel: &str,
    ) -> Result<Vec<OrderIntake>, TransformError> {
        self.run(input)?
            .into_iter()
            .enumerate()
            .map(|(index, value)| {
                let mut intake: OrderIntake =
                    serde_path_to_error::deserialize(value).map_err(|e| {
                        TransformError::NotAnOrder {
                            program: self.name.clone(),
                            index,
                            field: e.path().to_string(),
                            message: paths::plain(&e.inner().to_string()),
                        }
                    })?;
                if intake
                    .channel
                    .as_deref()
                    .is_none_or(|c| c.trim().is_empty())
                {
                    intake.channel = Some(channel.to_owned());
                }
                Ok(intake)
            })
            .collect()
    }

    fn run_error(&self, message: String) -> TransformError {
        TransformError::Run {
            program: if self.source.is_some() {
                String::new()
            } else {
                self.name.clone()
            },
            message,
        }
    }
}

fn load_error<P>(name: &str, code: &str, errs: jaq_core::load::Errors<&str, P>) -> TransformError {
    use jaq_core::load::Error;
    let first = errs.into_iter().next().map(|(_, e)| e);
    let (message, at) = match first {
        Some(Error::Lex(errs)) => errs
            .into_iter()
            .next()
            .map(|(expect, at)| (format!("expected {}", expect.as_str()), at))
            .unwrap_or(("syntax error".into(), code)),
        Some(Error::Parse(errs)) => errs
            .into_iter()
            .next()
            .map(|(expect, at)| {
                let found = if at.is_empty() {
                    "end of program".to_owned()
                } else {
                    format!("{:?}", at.chars().take(20).collect::<String>())
                };
                (format!("expected {}, found {found}", expect.as_str()), at)
            })
            .unwrap_or(("syntax error".into(), code)),
        Some(Error::Io(errs)) => errs
            .into_iter()
            .next()
            .map(|(path, msg)| (format!("cannot load module {path}: {msg}"), path))
            .unwrap_or(("cannot load module".into(), code)),
        None => ("syntax error".into(), code),
    };
    compile_error(name, code, message, at)
}

/// Converts the position of `at` (a slice of `code`) into line and column.
fn compile_error(name: &str, code: &str, message: String, at: &str) -> TransformError {
    let offset = jaq_core::load::span(code, at).start.min(code.len());
    let before = code.get(..offset).unwrap_or(code);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    TransformError::Compile {
        program: name.to_owned(),
        message,
        line,
        column,
    }
}

/// jaq values to JSON. Whole floats become integers because jq arithmetic yields floats that
/// integer fields (quantities, line numbers) must accept.
fn to_json(v: &Val) -> Value {
    match v {
        Val::Null => Value::Null,
        Val::Bool(b) => Value::Bool(*b),
        Val::Num(n) => number(n),
        Val::TStr(s) | Val::BStr(s) => Value::String(String::from_utf8_lossy(s).into_owned()),
        Val::Arr(a) => Value::Array(a.iter().map(to_json).collect()),
        Val::Obj(o) => Value::Object(
            o.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Val::TStr(s) | Val::BStr(s) => String::from_utf8_lossy(s).into_owned(),
                        other => other.to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
    }
}

fn number(n: &Num) -> Value {
    match n {
        Num::Int(i) => Value::from(*i as i64),
        Num::Float(f) => float(*f),
        // Decimal literals and big integers keep their text when JSON can hold them.
        other => {
            let text = other.to_string();
            text.parse::<i64>()
                .map(Value::from)
                .ok()
                .or_else(|| {
                    serde_json::from_str::<serde_json::Number>(&text)
                        .ok()
                        .map(Value::Number)
                })
                .or_else(|| text.parse::<f64>().ok().map(float))
                .unwrap_or(Value::String(text))
        }
    }
}

fn float(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Value::from(f as i64)
    } else {
        serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}
