//! ANSI X12 EDI: the tokenizer and envelope parser ([`parse`]), and the mappings of the
//! transaction sets an order management system exchanges with trading partners and warehouses:
//! purchase orders in ([`po850`]), ship notices and warehouse shipping advices in ([`ship856`],
//! [`ship945`]), functional acknowledgements out ([`ack997`]), and the documents iom sends
//! ([`outbound`]: 855, 856, 810, 940) in the envelope of [`writer`].
//!
//! The mappings share the functions below: how a product id is chosen among the qualified pairs a
//! partner sends, how name/address loops (N1 … PER) are read, how dates are read, and the error
//! type that points at the segment and element a mapping could not use, in terms a 997 can carry.

pub mod ack997;
pub mod carriers;
pub mod charset;
pub mod dictionary;
pub mod outbound;
mod parser;
pub mod po850;
pub mod ship856;
pub mod ship945;
pub mod validate;
pub mod writer;

use std::fmt;

use chrono::{NaiveDate, NaiveTime};
use iom_domain::address::AddressIntake;
use rust_decimal::Decimal;
use thiserror::Error;

pub use parser::{
    BrokenInterchange, Delimiters, Group, Interchange, IsaHeader, Received, Segment,
    TransactionSet, Warning, WarningKind, X12Error, X12ErrorKind, parse, parse_many, read,
};

/// Which product identifier becomes the SKU when a segment carries several qualified ids
/// (PO106/PO107, PO108/PO109 …, LIN02/LIN03 …). Part numbers agreed between buyer and vendor
/// come first because they are what the partner's and our catalogues are keyed by; global trade
/// item numbers (UPC, EAN, GTIN) come after because one article may carry several of them;
/// catalogue and style numbers last. When none of these qualifiers is present, the first pair is
/// used. The chosen value usually goes through the provider's SKU mapping afterwards.
///
/// `VP` vendor part number, `BP` buyer part number, `SK` stock keeping unit, `IN` buyer's item
/// number, `VN` vendor's item number, `MG` manufacturer part number, `UP` UPC, `EN` EAN,
/// `UK` GTIN-14, `UA` UPC/EAN case code, `CB` buyer's catalogue number, `ST` style number.
pub const PRODUCT_ID_PREFERENCE: &[&str] = &[
    "VP", "BP", "SK", "IN", "VN", "MG", "UP", "EN", "UK", "UA", "CB", "ST",
];

/// Picks the product id from (qualifier, value) pairs following [`PRODUCT_ID_PREFERENCE`].
pub fn preferred_product_id<'s>(
    pairs: impl IntoIterator<Item = (&'s str, &'s str)>,
) -> Option<(&'s str, &'s str)> {
    let pairs: Vec<_> = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    PRODUCT_ID_PREFERENCE
        .iter()
        .find_map(|q| pairs.iter().find(|(qual, _)| qual == q).copied())
        .or_else(|| pairs.first().copied())
}

/// What a mapping could not use. Carries enough to write an AK3/AK4 pair into a 997. The
/// details are boxed so that the `Result`s that carry this error stay small; they are read
/// through `Deref` (`err.segment_id`, `err.position`, …).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{0}")]
pub struct MappingError(Box<MappingErrorDetail>);

impl std::ops::Deref for MappingError {
    type Target = MappingErrorDetail;

    fn deref(&self) -> &MappingErrorDetail {
        &self.0
    }
}

impl MappingError {
    /// Names the segment at fault when it is not the one the error points at (a missing
    /// segment is reported at the place where it was expected).
    pub(crate) fn blaming(mut self, segment_id: &str) -> Self {
        self.0.segment_id = segment_id.to_owned();
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingErrorDetail {
    /// ST01 of the transaction set (`850`).
    pub set_id: String,
    /// ST02.
    pub control_number: String,
    /// The segment at fault, or the one that is missing.
    pub segment_id: String,
    /// Document-wide 0-based index of the segment (for a missing segment: of the SE trailer).
    pub segment: usize,
    /// Byte offset of that segment in the input.
    pub offset: usize,
    /// 1-based position in the transaction set counted from ST, as AK302 reports it.
    pub position: usize,
    /// 1-based element position, as AK401 reports it.
    pub element: Option<usize>,
    pub problem: Problem,
    pub message: String,
}

/// The kind of problem, which decides the 997 error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// A mandatory segment is missing (AK304 = 3).
    MissingSegment,
    /// A mandatory element is missing (AK403 = 1).
    MissingElement,
    /// An element holds a value that cannot be used (AK403 = 7).
    InvalidValue,
    /// An element holds an invalid date (AK403 = 8).
    InvalidDate,
}

impl fmt::Display for MappingErrorDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:?}: {}",
            self.set_id, self.control_number, self.segment_id
        )?;
        if let Some(e) = self.element {
            write!(f, "{e:02}")?;
        }
        write!(
            f,
            " (segment index {}, byte {}): {}",
            self.segment, self.offset, self.message
        )
    }
}

/// Builds [`MappingError`]s for one transaction set.
#[derive(Clone, Copy)]
pub(crate) struct Blame<'s> {
    set: TransactionSet<'s>,
}

impl<'s> Blame<'s> {
    pub(crate) fn new(set: TransactionSet<'s>) -> Self {
        Self { set }
    }

    pub(crate) fn at(
        &self,
        seg: &Segment<'_>,
        element: Option<usize>,
        problem: Problem,
        message: impl Into<String>,
    ) -> MappingError {
        MappingError(Box::new(MappingErrorDetail {
            set_id: self.set.id().to_owned(),
            control_number: self.set.control_number().to_owned(),
            segment_id: seg.id().to_owned(),
            segment: seg.index(),
            offset: seg.offset(),
            position: self.set.position_of(seg),
            element,
            problem,
            message: message.into(),
        }))
    }

    pub(crate) fn missing_segment(&self, id: &str, message: impl Into<String>) -> MappingError {
        let se = self.set.se();
        self.at(&se, None, Problem::MissingSegment, message)
            .blaming(id)
    }

    /// Element `n` of `seg`, which must be present.
    pub(crate) fn required(&self, seg: &Segment<'s>, n: usize) -> Result<&'s str, MappingError> {
        seg.get(n).ok_or_else(|| {
            self.at(
                seg,
                Some(n),
                Problem::MissingElement,
                format!("{}{n:02} is required", seg.id()),
            )
        })
    }

    pub(crate) fn date(
        &self,
        seg: &Segment<'s>,
        n: usize,
    ) -> Result<Option<NaiveDate>, MappingError> {
        seg.get(n)
            .map(|v| {
                parse_date(v).ok_or_else(|| {
                    self.at(
                        seg,
                        Some(n),
                        Problem::InvalidDate,
                        format!("{v:?} is not a date (CCYYMMDD)"),
                    )
                })
            })
            .transpose()
    }

    pub(crate) fn quantity(&self, seg: &Segment<'s>, n: usize) -> Result<i64, MappingError> {
        let raw = self.required(seg, n)?;
        parse_quantity(raw).ok_or_else(|| {
            self.at(
                seg,
                Some(n),
                Problem::InvalidValue,
                format!("{raw:?} is not a whole quantity"),
            )
        })
    }

    pub(crate) fn decimal(
        &self,
        seg: &Segment<'s>,
        n: usize,
    ) -> Result<Option<Decimal>, MappingError> {
        seg.get(n)
            .map(|raw| {
                raw.parse::<Decimal>().map_err(|_| {
                    self.at(
                        seg,
                        Some(n),
                        Problem::InvalidValue,
                        format!("{raw:?} is not a decimal number"),
                    )
                })
            })
            .transpose()
    }
}

/// Reads CCYYMMDD and, for older versions, YYMMDD (years below 50 are taken as 20YY).
pub fn parse_date(value: &str) -> Option<NaiveDate> {
    let v = value.trim();
    if !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| v.get(r)?.parse::<u32>().ok();
    let (year, rest) = match v.len() {
        8 => (i32::try_from(num(0..4)?).ok()?, 4),
        6 => {
            let yy = i32::try_from(num(0..2)?).ok()?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, 2)
        }
        _ => return None,
    };
    NaiveDate::from_ymd_opt(year, num(rest..rest + 2)?, num(rest + 2..rest + 4)?)
}

/// Reads HHMM, HHMMSS and HHMMSSDD (the hundredths are dropped).
pub fn parse_time(value: &str) -> Option<NaiveTime> {
    let v = value.trim();
    if !v.bytes().all(|b| b.is_ascii_digit()) || !matches!(v.len(), 4 | 6 | 7 | 8) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| v.get(r)?.parse::<u32>().ok();
    let secs = if v.len() >= 6 { num(4..6)? } else { 0 };
    NaiveTime::from_hms_opt(num(0..2)?, num(2..4)?, secs)
}

/// Quantities are integers in iom; X12 allows decimals, so `"2500"` and `"3.0"` are accepted and
/// `"2.5"` is not.
pub fn parse_quantity(value: &str) -> Option<i64> {
    let d = value.trim().parse::<Decimal>().ok()?;
    if d.fract().is_zero() {
        i64::try_from(d.trunc()).ok()
    } else {
        None
    }
}

/// A name/address loop: N1 and the N2, N3, N4, PER and REF segments that follow it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Party {
    /// N101, the entity: `ST` ship-to, `BY` buyer, `BT` bill-to, `SF` ship-from …
    pub entity: String,
    pub name: Option<String>,
    /// N103, what kind of id N104 is (`92` assigned by buyer, `UL` GLN …).
    pub id_qualifier: Option<String>,
    pub id: Option<String>,
    pub additional_name: Option<String>,
    pub street: Vec<String>,
    pub city: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub contact: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

impl Party {
    /// The party as an address. X12 partners in North America often leave N404 out, so the country
    /// defaults to `US`.
    pub(crate) fn address(&self) -> AddressIntake {
        let mut street = self.street.iter();
        AddressIntake {
            name: self.name.clone().or_else(|| self.contact.clone()),
            company: self.additional_name.clone(),
            line1: street.next().cloned(),
            line2: {
                let rest: Vec<_> = street.map(String::as_str).collect();
                (!rest.is_empty()).then(|| rest.join(", "))
            },
            city: self.city.clone(),
            region: self.region.clone(),
            postal_code: self.postal_code.clone(),
            country: Some(self.country.clone().unwrap_or_else(|| "US".to_owned())),
            phone: self.phone.clone(),
            lat: None,
            lon: None,
        }
    }

    pub(crate) fn has_address(&self) -> bool {
        !self.street.is_empty() || self.city.is_some() || self.postal_code.is_some()
    }
}

fn owned(v: Option<&str>) -> Option<String> {
    v.map(str::to_owned)
}

/// Reads the N1 loops among `segments`. N2/N3/N4/PER/REF belong to the N1 before them; any other
/// segment closes the loop.
pub(crate) fn parties(segments: &[Segment<'_>]) -> Vec<Party> {
    let mut out: Vec<Party> = Vec::new();
    let mut open = false;
    for seg in segments {
        match seg.id() {
            "N1" => {
                out.push(Party {
                    entity: seg.get(1).unwrap_or("").to_owned(),
                    name: owned(seg.get(2)),
                    id_qualifier: owned(seg.get(3)),
                    id: owned(seg.get(4)),
                    ..Party::default()
                });
                open = true;
            }
            "N2" | "N3" | "N4" | "PER" | "REF" if open => {
                let Some(p) = out.last_mut() else { continue };
                match seg.id() {
                    "N2" => {
                        let names: Vec<_> = (1..=2).filter_map(|n| seg.get(n)).collect();
                        if !names.is_empty() {
                            p.additional_name = Some(names.join(" "));
                        }
                    }
                    "N3" => p
                        .street
                        .extend((1..=2).filter_map(|n| seg.get(n)).map(str::to_owned)),
                    "N4" => {
                        p.city = owned(seg.get(1));
                        p.region = owned(seg.get(2));
                        p.postal_code = owned(seg.get(3));
                        p.country = owned(seg.get(4));
                    }
                    "PER" => {
                        if p.contact.is_none() {
                            p.contact = owned(seg.get(2));
                        }
                        for (qual, value) in seg.pairs(3) {
                            match qual {
                                "TE" | "PH" if p.phone.is_none() => {
                                    p.phone = Some(value.to_owned())
                                }
                                "EM" if p.email.is_none() => p.email = Some(value.to_owned()),
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
            _ => open = false,
        }
    }
    out
}

/// What the envelope of a partner's interchange tells about its translator, which iom's
/// documents to that partner then follow (see [`writer::Partner`]); `group` gives GS02/GS03.
pub fn partner_of(ix: &Interchange<'_>, group: Option<Group<'_>>) -> writer::Partner {
    let isa = ix.isa();
    let gs = group.and_then(|g| g.gs());
    let isa_field = |n: usize| {
        isa.and_then(|s| s.get(n))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let gs_field = |n: usize| {
        gs.and_then(|s| s.get(n))
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let d = ix.delimiters();
    writer::Partner {
        qualifier: isa_field(5),
        id: isa_field(6),
        application_id: gs_field(2),
        our_qualifier: isa_field(7),
        our_id: isa_field(8),
        our_application_id: gs_field(3),
        version: isa_field(12).filter(|v| matches!(v.as_str(), "00401" | "00501")),
        usage: isa_field(15).filter(|v| matches!(v.as_str(), "P" | "T")),
        character_set: None,
        element_separator: Some(char::from(d.element)),
        segment_terminator: Some(char::from(d.segment)).filter(|c| !c.is_whitespace()),
        component_separator: d.component.map(char::from),
    }
}

/// Identifies the interchange a document came from, for the order's attributes: who sent it and
/// under which control numbers, so that a support person can find the original in the partner's
/// system.
pub(crate) fn envelope_attributes(
    set: &TransactionSet<'_>,
) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::Value;
    let mut m = serde_json::Map::new();
    let ix = set.interchange();
    let group = set.group();
    let sender = ix
        .isa()
        .and_then(|isa| isa.get(6))
        .or_else(|| group.gs().and_then(|gs| gs.get(2)));
    let receiver = ix
        .isa()
        .and_then(|isa| isa.get(8))
        .or_else(|| group.gs().and_then(|gs| gs.get(3)));
    if let Some(s) = sender {
        m.insert("x12_sender".into(), Value::from(s));
    }
    if let Some(r) = receiver {
        m.insert("x12_receiver".into(), Value::from(r));
    }
    m.insert(
        "x12_partner".into(),
        serde_json::to_value(partner_of(ix, Some(group))).unwrap_or_default(),
    );
    let mut control = serde_json::Map::new();
    if let Some(c) = ix.isa().and_then(|isa| isa.get(13)) {
        control.insert("interchange".into(), Value::from(c));
    }
    if let Some(c) = group.control_number() {
        control.insert("group".into(), Value::from(c));
    }
    control.insert("transaction_set".into(), Value::from(set.control_number()));
    m.insert("x12_control_numbers".into(), Value::Object(control));
    let warnings: Vec<Value> = set.warnings().map(|w| Value::from(w.to_string())).collect();
    if !warnings.is_empty() {
        m.insert("x12_warnings".into(), Value::Array(warnings));
    }
    m
}
