//! Writing X12 interchanges: the envelope a trading partner expects (ISA/GS ids and qualifiers,
//! version, separators) around one transaction set, with the control numbers the caller hands in.
//!
//! The writer never invents a control number: they come from a counter the store keeps per
//! provider instance, so two documents never share one, even when several processes write them.
//! Values copied from orders (names, streets, SKUs) may contain a separator; such characters are
//! replaced by a space so that a value can never break the document's structure.

use chrono::NaiveDateTime;
use serde::Deserialize;
use thiserror::Error;

/// How an instance's outbound interchanges are enveloped (`settings.x12` of an `x12` instance).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeSettings {
    /// ISA05: the qualifier of iom's id (`ZZ` mutually defined, `01` DUNS, `12` phone …).
    #[serde(default = "zz")]
    pub sender_qualifier: String,
    /// ISA06: iom's interchange id at this partner.
    pub sender_id: String,
    /// ISA07.
    #[serde(default = "zz")]
    pub receiver_qualifier: String,
    /// ISA08: the partner's id. When absent, the sender of the 850 an order came from.
    #[serde(default)]
    pub receiver_id: Option<String>,
    /// GS02; ISA06 when absent.
    #[serde(default)]
    pub application_sender: Option<String>,
    /// GS03; ISA08 when absent.
    #[serde(default)]
    pub application_receiver: Option<String>,
    /// ISA12 (`00401` or `00501`); GS08 follows it (`004010`, `005010`).
    #[serde(default = "version")]
    pub version: String,
    /// ISA15: `P` production or `T` test.
    #[serde(default = "production")]
    pub usage: String,
    #[serde(default = "star")]
    pub element_separator: char,
    #[serde(default = "tilde")]
    pub segment_terminator: char,
    #[serde(default = "gt")]
    pub component_separator: char,
    /// A line break after each segment, for people reading the file.
    #[serde(default)]
    pub line_breaks: bool,
}

fn zz() -> String {
    "ZZ".into()
}
fn version() -> String {
    "00401".into()
}
fn production() -> String {
    "P".into()
}
fn star() -> char {
    '*'
}
fn tilde() -> char {
    '~'
}
fn gt() -> char {
    '>'
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WriteError {
    #[error("settings.x12.{field}: {message}")]
    Settings {
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    Document(String),
}

fn settings_error(field: &'static str, message: impl Into<String>) -> WriteError {
    WriteError::Settings {
        field,
        message: message.into(),
    }
}

impl EnvelopeSettings {
    /// Every rule an envelope must follow, checked before anything is written.
    pub fn check(&self) -> Result<(), WriteError> {
        let id = |field: &'static str, v: &str, max: usize| {
            if v.trim().is_empty() || v.chars().count() > max {
                Err(settings_error(field, format!("1 to {max} characters")))
            } else {
                Ok(())
            }
        };
        id("sender_qualifier", &self.sender_qualifier, 2)?;
        id("sender_id", &self.sender_id, 15)?;
        id("receiver_qualifier", &self.receiver_qualifier, 2)?;
        if let Some(r) = &self.receiver_id {
            id("receiver_id", r, 15)?;
        }
        for (field, v) in [
            ("application_sender", &self.application_sender),
            ("application_receiver", &self.application_receiver),
        ] {
            if let Some(v) = v {
                id(field, v, 15)?;
            }
        }
        if !matches!(self.version.as_str(), "00401" | "00501") {
            return Err(settings_error("version", "00401 or 00501"));
        }
        if !matches!(self.usage.as_str(), "P" | "T") {
            return Err(settings_error("usage", "P (production) or T (test)"));
        }
        let seps = [
            self.element_separator,
            self.segment_terminator,
            self.component_separator,
        ];
        if seps
            .iter()
            .any(|c| c.is_alphanumeric() || *c == ' ' || !c.is_ascii())
            || seps[0] == seps[1]
            || seps[0] == seps[2]
            || seps[1] == seps[2]
        {
            return Err(settings_error(
                "element_separator",
                "the three separators must be distinct ASCII punctuation",
            ));
        }
        Ok(())
    }

    /// GS08 for ISA12.
    fn gs_version(&self) -> &'static str {
        if self.version == "00501" {
            "005010"
        } else {
            "004010"
        }
    }
}

/// One interchange holding one functional group holding one transaction set: what iom sends
/// per document. The three control numbers are all `control`, which the store's counter makes
/// unique per instance.
pub fn interchange(
    env: &EnvelopeSettings,
    receiver_id: &str,
    functional_id: &str,
    set_id: &str,
    control: u64,
    at: NaiveDateTime,
    body: &[Vec<String>],
) -> Result<String, WriteError> {
    env.check()?;
    if receiver_id.trim().is_empty() || receiver_id.chars().count() > 15 {
        return Err(settings_error(
            "receiver_id",
            format!("{receiver_id:?} is not an interchange id (1 to 15 characters)"),
        ));
    }
    let control = control % 1_000_000_000;
    if control == 0 {
        return Err(WriteError::Document("control number 0".into()));
    }
    let mut w = Writer::new(env);
    let isa13 = format!("{control:09}");
    let repetition = if env.version.as_str() >= "00402" {
        ['^', '{', '|', '!']
            .into_iter()
            .find(|c| {
                *c != env.element_separator
                    && *c != env.segment_terminator
                    && *c != env.component_separator
            })
            .unwrap_or('^')
            .to_string()
    } else {
        "U".to_owned()
    };
    // ISA is fixed width: every field padded to its length, and written as it is.
    w.raw_segment(&[
        "ISA",
        "00",
        "          ",
        "00",
        "          ",
        &format!("{:<2}", env.sender_qualifier),
        &format!("{:<15}", env.sender_id),
        &format!("{:<2}", env.receiver_qualifier),
        &format!("{receiver_id:<15}"),
        &at.format("%y%m%d").to_string(),
        &at.format("%H%M").to_string(),
        &repetition,
        &env.version,
        &isa13,
        "0",
        &env.usage,
        &env.component_separator.to_string(),
    ]);
    let group = control.to_string();
    w.segment(&[
        "GS",
        functional_id,
        env.application_sender.as_deref().unwrap_or(&env.sender_id),
        env.application_receiver.as_deref().unwrap_or(receiver_id),
        &at.format("%Y%m%d").to_string(),
        &at.format("%H%M").to_string(),
        &group,
        "X",
        env.gs_version(),
    ]);
    let st02 = format!("{control:04}");
    w.count = 0;
    w.segment(&["ST", set_id, &st02]);
    for seg in body {
        let refs: Vec<&str> = seg.iter().map(String::as_str).collect();
        w.segment(&refs);
    }
    let count = (w.count + 1).to_string();
    w.segment(&["SE", &count, &st02]);
    w.segment(&["GE", "1", &group]);
    w.raw_segment(&["IEA", "1", &isa13]);
    Ok(w.out)
}

struct Writer {
    out: String,
    element: char,
    terminator: char,
    component: char,
    line_breaks: bool,
    count: usize,
}

impl Writer {
    fn new(env: &EnvelopeSettings) -> Self {
        Writer {
            out: String::with_capacity(1024),
            element: env.element_separator,
            terminator: env.segment_terminator,
            component: env.component_separator,
            line_breaks: env.line_breaks && env.segment_terminator != '\n',
            count: 0,
        }
    }

    fn raw_segment(&mut self, elements: &[&str]) {
        for (i, e) in elements.iter().enumerate() {
            if i > 0 {
                self.out.push(self.element);
            }
            self.out.push_str(e);
        }
        self.end();
    }

    /// Writes a segment; values are cleaned of separators and trailing empty elements dropped.
    fn segment(&mut self, elements: &[&str]) {
        let mut last = elements.len();
        while last > 1 && elements[last - 1].trim().is_empty() {
            last -= 1;
        }
        for (i, e) in elements[..last].iter().enumerate() {
            if i > 0 {
                self.out.push(self.element);
            }
            for c in e.chars() {
                let bad = c == self.element
                    || c == self.terminator
                    || c == self.component
                    || c.is_control();
                self.out.push(if bad { ' ' } else { c });
            }
        }
        self.end();
    }

    fn end(&mut self) {
        self.out.push(self.terminator);
        if self.line_breaks {
            self.out.push('\n');
        }
        self.count += 1;
    }
}

/// Builds body segments: `seg!["BEG", "00", po]` style without a macro.
pub(crate) fn seg<const N: usize>(elements: [&str; N]) -> Vec<String> {
    elements.iter().map(|e| (*e).to_owned()).collect()
}

/// X12 text for a value: trimmed, at most `max` characters (names and streets are limited to
/// 60 or 55 characters by the standard).
pub(crate) fn text(value: &str, max: usize) -> String {
    value.trim().chars().take(max).collect()
}
