//! Writing X12 interchanges: the envelope a trading partner expects (ISA/GS ids and qualifiers,
//! version, usage, separators, character set) around one transaction set, with the control
//! numbers the caller hands in; then the whole interchange is checked by
//! [`super::validate::interchange`] before it is returned, so nothing leaves that a partner's
//! translator would reject.
//!
//! Who the partner is comes from three places, the first that says wins: the partner's entry in
//! `settings.x12.partners` (set by an operator), what its own interchanges told us (learned at
//! intake, [`Partner`]), and the instance's `settings.x12`; then X12's defaults.
//!
//! The writer never invents a control number: they come from a counter the store keeps per
//! provider instance, so two documents never share one, even when several processes write them.
//! Values copied from orders (names, streets, descriptions) are fitted to the partner's
//! character set ([`CharacterSet::fit`]); a separator inside a value becomes a space, so a value
//! can never break the document's structure.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::charset::CharacterSet;
use super::validate::{self, Fault};

/// An `x12` instance's `settings.x12`: iom's identity, the defaults for its partners, and what
/// its documents say about carriers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeSettings {
    /// ISA05: the qualifier of iom's id (`ZZ` mutually defined, `01` DUNS, `12` phone …).
    #[serde(default)]
    pub sender_qualifier: Option<String>,
    /// ISA06: iom's interchange id at this partner.
    pub sender_id: String,
    /// ISA07.
    #[serde(default)]
    pub receiver_qualifier: Option<String>,
    /// ISA08 of documents to a partner that sent no interchange (a warehouse). Documents about
    /// an order from an 850 go to that 850's sender, as its 997 did.
    #[serde(default)]
    pub receiver_id: Option<String>,
    /// GS02; ISA06 when absent.
    #[serde(default)]
    pub application_sender: Option<String>,
    /// GS03; ISA08 when absent.
    #[serde(default)]
    pub application_receiver: Option<String>,
    /// ISA12 (`00401` or `00501`); GS08 follows it (`004010`, `005010`).
    #[serde(default)]
    pub version: Option<String>,
    /// ISA15: `P` production or `T` test.
    #[serde(default)]
    pub usage: Option<String>,
    #[serde(default)]
    pub character_set: Option<CharacterSet>,
    #[serde(default)]
    pub element_separator: Option<char>,
    #[serde(default)]
    pub segment_terminator: Option<char>,
    #[serde(default)]
    pub component_separator: Option<char>,
    /// A line break after each segment, for people reading the file.
    #[serde(default)]
    pub line_breaks: bool,
    /// Per partner (by its ISA id), what an operator sets over what was learned.
    #[serde(default)]
    pub partners: BTreeMap<String, Partner>,
    /// Carrier names (as shipments carry them) to SCAC codes, over [`super::carriers`]' table.
    #[serde(default)]
    pub scac: BTreeMap<String, String>,
}

/// What iom knows of one trading partner's translator: learned from the envelope of its own
/// interchanges (kept on each order as `x12_partner`), or set in `settings.x12.partners`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partner {
    /// ISA05 of its interchanges: the qualifier of its id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualifier: Option<String>,
    /// ISA06 of its interchanges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// GS02 of its groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_id: Option<String>,
    /// ISA07/ISA08 and GS03 of its interchanges: how it addresses iom.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub our_qualifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub our_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub our_application_id: Option<String>,
    /// ISA12.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// ISA15.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub character_set: Option<CharacterSet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub element_separator: Option<char>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment_terminator: Option<char>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component_separator: Option<char>,
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
    /// The document was written but breaks a rule of the standard: it is not sent.
    #[error("{0}")]
    Invalid(Fault),
}

fn settings_error(field: &'static str, message: impl Into<String>) -> WriteError {
    WriteError::Settings {
        field,
        message: message.into(),
    }
}

/// The envelope of one interchange to one partner, every field decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub sender_qualifier: String,
    pub sender_id: String,
    pub receiver_qualifier: String,
    pub receiver_id: String,
    pub application_sender: String,
    pub application_receiver: String,
    pub version: String,
    pub usage: String,
    pub character_set: CharacterSet,
    pub element_separator: char,
    pub segment_terminator: char,
    pub component_separator: char,
    pub line_breaks: bool,
}

impl EnvelopeSettings {
    /// Every rule the settings must follow, checked before anything is written.
    pub fn check(&self) -> Result<(), WriteError> {
        let id = |field: &'static str, v: &str, max: usize| {
            if v.trim().is_empty() || v.chars().count() > max {
                Err(settings_error(field, format!("1 to {max} characters")))
            } else {
                Ok(())
            }
        };
        id("sender_id", &self.sender_id, 15)?;
        for (field, v, max) in [
            ("sender_qualifier", &self.sender_qualifier, 2),
            ("receiver_qualifier", &self.receiver_qualifier, 2),
            ("receiver_id", &self.receiver_id, 15),
            ("application_sender", &self.application_sender, 15),
            ("application_receiver", &self.application_receiver, 15),
        ] {
            if let Some(v) = v {
                id(field, v, max)?;
            }
        }
        check_partner_fields(
            "",
            self.version.as_deref(),
            self.usage.as_deref(),
            [
                self.element_separator,
                self.segment_terminator,
                self.component_separator,
            ],
        )?;
        for (name, p) in &self.partners {
            if name.trim().is_empty() || name.chars().count() > 15 {
                return Err(settings_error(
                    "partners",
                    format!("{name:?} is not an interchange id (1 to 15 characters)"),
                ));
            }
            check_partner_fields(
                "partners.",
                p.version.as_deref(),
                p.usage.as_deref(),
                [
                    p.element_separator,
                    p.segment_terminator,
                    p.component_separator,
                ],
            )?;
        }
        for (carrier, scac) in &self.scac {
            let ok = (2..=4).contains(&scac.len())
                && scac
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
            if !ok {
                return Err(settings_error(
                    "scac",
                    format!(
                        "{carrier}: {scac:?} is not a SCAC (2 to 4 upper-case letters or digits)"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The envelope to the partner `partner_id` (its ISA id as the order or the settings name
    /// it), with what was `learned` from its interchanges.
    pub fn envelope(&self, learned: Option<&Partner>) -> Result<Envelope, WriteError> {
        self.check()?;
        let learned = learned.cloned().unwrap_or_default();
        let receiver_id = learned
            .id
            .clone()
            .or_else(|| self.receiver_id.clone())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                settings_error(
                    "receiver_id",
                    "is required for documents to a partner that sent no interchange",
                )
            })?;
        let set = self.partners.get(&receiver_id).cloned().unwrap_or_default();
        // The operator's entry for the partner, then what it told us, then the instance.
        let pick = |set: &Option<String>, learned: &Option<String>, instance: &Option<String>| {
            set.clone()
                .or_else(|| learned.clone())
                .or_else(|| instance.clone())
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        };
        let sender_id = pick(&set.our_id, &learned.our_id, &Some(self.sender_id.clone()))
            .unwrap_or_else(|| self.sender_id.clone());
        let version = pick(&set.version, &learned.version, &self.version)
            .filter(|v| matches!(v.as_str(), "00401" | "00501"))
            .unwrap_or_else(|| "00401".into());
        let usage = pick(&set.usage, &learned.usage, &self.usage)
            .filter(|v| matches!(v.as_str(), "P" | "T"))
            .unwrap_or_else(|| "P".into());
        let separator = |s: Option<char>, l: Option<char>, i: Option<char>, default: char| {
            s.or(l).or(i).unwrap_or(default)
        };
        let envelope = Envelope {
            sender_qualifier: pick(
                &set.our_qualifier,
                &learned.our_qualifier,
                &self.sender_qualifier,
            )
            .unwrap_or_else(|| "ZZ".into()),
            application_sender: pick(
                &set.our_application_id,
                &learned.our_application_id,
                &self.application_sender,
            )
            .unwrap_or_else(|| sender_id.clone()),
            sender_id,
            receiver_qualifier: pick(&set.qualifier, &learned.qualifier, &self.receiver_qualifier)
                .unwrap_or_else(|| "ZZ".into()),
            application_receiver: pick(
                &set.application_id,
                &learned.application_id,
                &self.application_receiver,
            )
            .unwrap_or_else(|| receiver_id.clone()),
            receiver_id,
            version,
            usage,
            character_set: set
                .character_set
                .or(learned.character_set)
                .or(self.character_set)
                .unwrap_or_default(),
            element_separator: separator(
                set.element_separator,
                learned.element_separator,
                self.element_separator,
                '*',
            ),
            segment_terminator: separator(
                set.segment_terminator,
                learned.segment_terminator,
                self.segment_terminator,
                '~',
            ),
            component_separator: separator(
                set.component_separator,
                learned.component_separator,
                self.component_separator,
                '>',
            ),
            line_breaks: self.line_breaks,
        };
        envelope.check()?;
        Ok(envelope)
    }
}

fn check_partner_fields(
    prefix: &'static str,
    version: Option<&str>,
    usage: Option<&str>,
    separators: [Option<char>; 3],
) -> Result<(), WriteError> {
    let field = |name: &'static str| -> &'static str {
        if prefix.is_empty() {
            name
        } else {
            match name {
                "version" => "partners.version",
                "usage" => "partners.usage",
                _ => "partners.element_separator",
            }
        }
    };
    if version.is_some_and(|v| !matches!(v, "00401" | "00501")) {
        return Err(settings_error(field("version"), "00401 or 00501"));
    }
    if usage.is_some_and(|v| !matches!(v, "P" | "T")) {
        return Err(settings_error(field("usage"), "P (production) or T (test)"));
    }
    if separators
        .iter()
        .flatten()
        .any(|c| c.is_alphanumeric() || *c == ' ' || !c.is_ascii())
    {
        return Err(settings_error(
            field("element_separator"),
            "separators are ASCII punctuation",
        ));
    }
    Ok(())
}

impl Envelope {
    fn check(&self) -> Result<(), WriteError> {
        let fits = |field: &'static str, v: &str, max: usize| {
            if v.is_empty()
                || v.chars().count() > max
                || v.chars().any(|c| !self.character_set.allows(c))
            {
                Err(settings_error(
                    field,
                    format!("{v:?} is not 1 to {max} characters of the partner's character set"),
                ))
            } else {
                Ok(())
            }
        };
        fits("sender_qualifier", &self.sender_qualifier, 2)?;
        fits("sender_id", &self.sender_id, 15)?;
        fits("receiver_qualifier", &self.receiver_qualifier, 2)?;
        fits("receiver_id", &self.receiver_id, 15)?;
        fits("application_sender", &self.application_sender, 15)?;
        fits("application_receiver", &self.application_receiver, 15)?;
        let seps = self.separators();
        if seps[0] == seps[1] || seps[0] == seps[2] || seps[1] == seps[2] {
            return Err(settings_error(
                "element_separator",
                "the three separators must be distinct ASCII punctuation",
            ));
        }
        Ok(())
    }

    fn separators(&self) -> [char; 3] {
        [
            self.element_separator,
            self.segment_terminator,
            self.component_separator,
        ]
    }

    /// GS08 for ISA12.
    fn gs_version(&self) -> &'static str {
        if self.version == "00501" {
            "005010"
        } else {
            "004010"
        }
    }

    /// ISA11: `U` in 004010, the repetition separator from 00402 on.
    fn repetition(&self) -> Option<char> {
        (self.version.as_str() >= "00402").then(|| {
            ['^', '{', '|', '!']
                .into_iter()
                .find(|c| !self.separators().contains(c) && self.character_set.allows(*c))
                .unwrap_or('!')
        })
    }

    /// Free text (a name, a street, a description) in the partner's character set, trimmed and
    /// cut to `max` characters: the standard's maximum for the element it goes into.
    pub fn text(&self, value: &str, max: usize) -> String {
        let fitted = self.fit(value);
        let mut out = String::with_capacity(fitted.len().min(max));
        // Blanked characters leave runs of spaces, which say nothing.
        for (taken, c) in fitted
            .split(' ')
            .filter(|w| !w.is_empty())
            .flat_map(|w| std::iter::once(' ').chain(w.chars()))
            .skip(1)
            .enumerate()
        {
            if taken == max {
                break;
            }
            out.push(c);
        }
        out.truncate(out.trim_end().len());
        out
    }

    /// A value that must go out whole (an id, a SKU): fitted to the character set but never
    /// cut; when it is too long the document fails validation and is not sent.
    pub fn value(&self, value: &str) -> String {
        self.fit(value).trim().to_owned()
    }

    fn fit<'v>(&self, value: &'v str) -> std::borrow::Cow<'v, str> {
        let separators = self.separators();
        match self.repetition() {
            Some(r) => self.character_set.fit(
                value.trim(),
                &[separators[0], separators[1], separators[2], r],
            ),
            None => self.character_set.fit(value.trim(), &separators),
        }
    }
}

/// One interchange holding one functional group holding one transaction set: what iom sends
/// per document. The three control numbers are all `control`, which the store's counter makes
/// unique per instance. The interchange is validated before it is returned.
pub fn interchange(
    env: &Envelope,
    functional_id: &str,
    set_id: &str,
    control: u64,
    at: NaiveDateTime,
    body: &[Vec<String>],
) -> Result<String, WriteError> {
    let control = control % 1_000_000_000;
    if control == 0 {
        return Err(WriteError::Document("control number 0".into()));
    }
    let mut w = Writer::new(env);
    let isa13 = format!("{control:09}");
    let repetition = env
        .repetition()
        .map_or_else(|| "U".to_owned(), |c| c.to_string());
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
        &format!("{:<15}", env.receiver_id),
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
        &env.application_sender,
        &env.application_receiver,
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
    validate::interchange(&w.out, env.character_set).map_err(WriteError::Invalid)?;
    Ok(w.out)
}

/// Writes segments with one interchange's separators; every X12 document iom sends goes through
/// it.
pub(crate) struct Writer {
    pub(crate) out: String,
    element: char,
    terminator: char,
    component: char,
    line_breaks: bool,
    /// Segments written since the last ST, for SE01.
    pub(crate) count: usize,
}

impl Writer {
    pub(crate) fn new(env: &Envelope) -> Self {
        Writer::with(
            env.element_separator,
            env.segment_terminator,
            env.component_separator,
            env.line_breaks,
        )
    }

    pub(crate) fn with(
        element: char,
        terminator: char,
        component: char,
        line_breaks: bool,
    ) -> Self {
        Writer {
            out: String::with_capacity(1024),
            element,
            terminator,
            component,
            line_breaks: line_breaks && terminator != '\n',
            count: 0,
        }
    }

    pub(crate) fn raw_segment(&mut self, elements: &[&str]) {
        for (i, e) in elements.iter().enumerate() {
            if i > 0 {
                self.out.push(self.element);
            }
            self.out.push_str(e);
        }
        self.end();
    }

    /// Writes a segment; separators inside values become spaces and trailing empty elements
    /// are dropped.
    pub(crate) fn segment(&mut self, elements: &[&str]) {
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

/// Builds body segments: `seg(["BEG", "00", po])` style without a macro.
pub(crate) fn seg<const N: usize>(elements: [&str; N]) -> Vec<String> {
    elements.iter().map(|e| (*e).to_owned()).collect()
}
