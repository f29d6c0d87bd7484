//! The check every interchange iom writes passes before it is queued: each segment is one iom
//! knows ([`super::dictionary`]), each element has its type, length and characters, every
//! mandatory element is there, and the trailers count and echo what they close. A document that
//! fails is logged as failed with the element at fault instead of reaching a partner whose
//! translator would reject it.
//!
//! It reads the text on its own (the separators from the fixed-width ISA) rather than through
//! the tolerant parser that reads what partners send: this one must be strict.

use std::fmt;

use chrono::{NaiveDate, NaiveTime};

use super::charset::CharacterSet;
use super::dictionary::{self, Element, Kind};

/// What is wrong with a written interchange, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// ST01 of the transaction set, or `envelope`.
    pub set: String,
    /// The segment's id (`BAK`).
    pub segment: String,
    /// 1-based position of the segment in its transaction set (ST = 1), or in the interchange
    /// for envelope segments.
    pub position: usize,
    /// 1-based element position (`8` for BAK08).
    pub element: Option<usize>,
    /// The data element reference number.
    pub reference: Option<&'static str>,
    pub message: String,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.element {
            Some(n) => write!(f, "{} {}{n:02}", self.set, self.segment)?,
            None => write!(f, "{} {}", self.set, self.segment)?,
        }
        if let Some(r) = self.reference {
            write!(f, " (element {r})")?;
        }
        write!(f, " at segment {}: {}", self.position, self.message)
    }
}

impl std::error::Error for Fault {}

/// Checks `text`, one interchange, against the dictionary and the character set `charset`.
pub fn interchange(text: &str, charset: CharacterSet) -> Result<(), Fault> {
    let envelope = |segment: &str, position: usize, message: String| Fault {
        set: "envelope".into(),
        segment: segment.into(),
        position,
        element: None,
        reference: None,
        message,
    };
    let bytes = text.as_bytes();
    if bytes.len() < 106 || !text.starts_with("ISA") || !text.is_char_boundary(106) {
        return Err(envelope(
            "ISA",
            1,
            "the interchange does not start with a 106-character ISA".into(),
        ));
    }
    let element = char::from(bytes[3]);
    let component = char::from(bytes[104]);
    let terminator = char::from(bytes[105]);
    // From 00402 on ISA11 is the repetition separator, which no value may contain either.
    let repetition = char::from(bytes[82]);
    let mut separators = vec![element, component, terminator];
    if repetition != 'U' {
        separators.push(repetition);
    }

    let mut groups = 0usize;
    let mut group: Option<(String, usize)> = None; // GS06, sets
    let mut set: Option<(String, String, usize)> = None; // ST01, ST02, segments
    let mut isa13 = String::new();
    let mut ended = false;
    for (index, raw) in text
        .split(terminator)
        .map(|s| s.trim_matches(['\r', '\n']))
        .enumerate()
    {
        if raw.is_empty() {
            continue;
        }
        if ended {
            return Err(envelope(
                "IEA",
                index + 1,
                "segments after the IEA trailer".into(),
            ));
        }
        let elements: Vec<&str> = raw.split(element).collect();
        let id = elements[0];
        if let Some((_, _, count)) = &mut set {
            *count += 1;
        }
        let (set_id, position) = match &set {
            Some((st01, _, count)) => (st01.clone(), *count),
            None => ("envelope".to_owned(), index + 1),
        };
        let defs = dictionary::segment(id).ok_or_else(|| Fault {
            set: set_id.clone(),
            segment: id.to_owned(),
            position,
            element: None,
            reference: None,
            message: format!("{id:?} is not a segment iom writes"),
        })?;
        let fault = |n: usize, def: Option<&Element>, message: String| Fault {
            set: set_id.clone(),
            segment: id.to_owned(),
            position,
            element: Some(n),
            reference: def.map(|d| d.reference),
            message,
        };
        if elements.len() - 1 > defs.len() {
            return Err(fault(
                elements.len() - 1,
                None,
                format!("{} has only {} elements", id, defs.len()),
            ));
        }
        for (i, def) in defs.iter().enumerate() {
            let value = elements.get(i + 1).copied().unwrap_or("");
            if value.is_empty() {
                if def.mandatory {
                    return Err(fault(i + 1, Some(def), "is mandatory and missing".into()));
                }
                continue;
            }
            // ISA11 (from 00402 on) and ISA16 are separators themselves.
            let own_separator = id == "ISA" && (i + 1 == 16 || (i + 1 == 11 && value != "U"));
            if !own_separator {
                check(value, def, charset, &separators, component)
                    .map_err(|message| fault(i + 1, Some(def), message))?;
            }
        }
        let get = |n: usize| elements.get(n).copied().unwrap_or("");
        match id {
            "ISA" => isa13 = get(13).to_owned(),
            "GS" => {
                if group.is_some() {
                    return Err(envelope(
                        "GS",
                        index + 1,
                        "a group opened inside a group".into(),
                    ));
                }
                group = Some((get(6).to_owned(), 0));
            }
            "ST" => {
                if set.is_some() || group.is_none() {
                    return Err(envelope(
                        "ST",
                        index + 1,
                        "a transaction set outside a group or inside another".into(),
                    ));
                }
                set = Some((get(1).to_owned(), get(2).to_owned(), 1));
            }
            "SE" => {
                let Some((st01, st02, count)) = set.take() else {
                    return Err(envelope("SE", index + 1, "SE without ST".into()));
                };
                let trailer = |n: usize, message: String| Fault {
                    set: st01.clone(),
                    segment: "SE".into(),
                    position: count,
                    element: Some(n),
                    reference: None,
                    message,
                };
                if get(1) != count.to_string() {
                    return Err(trailer(
                        1,
                        format!("says {} segments, the set has {count}", get(1)),
                    ));
                }
                if get(2) != st02 {
                    return Err(trailer(
                        2,
                        format!("{:?} does not echo ST02 {st02:?}", get(2)),
                    ));
                }
                if let Some((_, sets)) = &mut group {
                    *sets += 1;
                }
            }
            "GE" => {
                let Some((gs06, sets)) = group.take() else {
                    return Err(envelope("GE", index + 1, "GE without GS".into()));
                };
                if set.is_some() {
                    return Err(envelope(
                        "GE",
                        index + 1,
                        "a transaction set is not closed".into(),
                    ));
                }
                if get(1) != sets.to_string() || get(2) != gs06 {
                    return Err(envelope(
                        "GE",
                        index + 1,
                        format!(
                            "GE*{}*{} does not close {sets} sets of group {gs06}",
                            get(1),
                            get(2)
                        ),
                    ));
                }
                groups += 1;
            }
            "IEA" => {
                if group.is_some() {
                    return Err(envelope("IEA", index + 1, "a group is not closed".into()));
                }
                if get(1) != groups.to_string() || get(2) != isa13 {
                    return Err(envelope(
                        "IEA",
                        index + 1,
                        format!(
                            "IEA*{}*{} does not close {groups} groups of interchange {isa13}",
                            get(1),
                            get(2)
                        ),
                    ));
                }
                ended = true;
            }
            _ if set.is_none() => {
                return Err(envelope(
                    id,
                    index + 1,
                    "a segment outside a transaction set".into(),
                ));
            }
            _ => {}
        }
    }
    if !ended {
        return Err(envelope(
            "IEA",
            0,
            "the interchange has no IEA trailer".into(),
        ));
    }
    Ok(())
}

/// One element's value against its definition.
fn check(
    value: &str,
    def: &Element,
    charset: CharacterSet,
    separators: &[char],
    component: char,
) -> Result<(), String> {
    if let Some(c) = value
        .chars()
        .find(|c| !charset.allows(*c) || separators.contains(c))
        .filter(|_| def.kind != Kind::Position)
    {
        return Err(format!(
            "{c:?} is not in the {charset:?} character set or is a separator"
        ));
    }
    let digits = |v: &str| v.chars().filter(char::is_ascii_digit).count();
    let length = match def.kind {
        Kind::Id | Kind::An => value.chars().count(),
        Kind::N(_) => {
            let v = value.strip_prefix('-').unwrap_or(value);
            if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("{value:?} is not a number without a point"));
            }
            digits(v)
        }
        Kind::R => {
            let v = value.strip_prefix('-').unwrap_or(value);
            let ok = !v.is_empty()
                && v.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                && v.bytes().filter(|b| *b == b'.').count() <= 1
                && v.bytes().any(|b| b.is_ascii_digit());
            if !ok {
                return Err(format!("{value:?} is not a decimal number"));
            }
            digits(v)
        }
        Kind::Dt => {
            let parsed = match value.len() {
                8 => NaiveDate::parse_from_str(value, "%Y%m%d").ok(),
                6 => NaiveDate::parse_from_str(value, "%y%m%d").ok(),
                _ => None,
            };
            if parsed.is_none() {
                return Err(format!("{value:?} is not a date"));
            }
            value.len()
        }
        Kind::Tm => {
            let ok = value.len() >= 4
                && value.bytes().all(|b| b.is_ascii_digit())
                && NaiveTime::parse_from_str(&value[..4], "%H%M").is_ok()
                && (value.len() < 6 || value[4..6].parse::<u8>().is_ok_and(|s| s < 60));
            if !ok {
                return Err(format!("{value:?} is not a time"));
            }
            value.len()
        }
        Kind::Position => {
            for part in value.split(component) {
                if part.is_empty() || part.len() > 2 || !part.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(format!("{value:?} is not an element position"));
                }
            }
            return Ok(());
        }
    };
    if def.kind == Kind::Id && value.chars().any(|c| c.is_ascii_lowercase()) {
        return Err(format!("{value:?}: a code is written in upper case"));
    }
    if length < usize::from(def.min) || length > usize::from(def.max) {
        let unit = if matches!(def.kind, Kind::N(_) | Kind::R) {
            "digits"
        } else {
            "characters"
        };
        return Err(if def.min == def.max {
            format!(
                "{value:?} has {length} {unit}, exactly {} required",
                def.max
            )
        } else {
            format!(
                "{value:?} has {length} {unit}, {} to {} allowed",
                def.min, def.max
            )
        });
    }
    Ok(())
}
