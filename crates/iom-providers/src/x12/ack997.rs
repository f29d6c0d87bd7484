//! X12 997 functional acknowledgements: writing one for an interchange iom received, and reading
//! the ones partners send back.
//!
//! Trading partners expect a 997 for every functional group they send, usually within hours;
//! without it they resend or escalate. The 997 says per transaction set whether it was accepted
//! (AK5 `A`), accepted with errors (`E`) or rejected (`R`), and points at the segments (AK3) and
//! elements (AK4) at fault. The caller decides the outcome of each set (typically from the result
//! of [`super::po850::order`]); problems the parser tolerated in a set's own trailer (SE01 count,
//! SE02 control number) and in the group trailer are added here, so a set that was otherwise fine
//! is reported as accepted with errors and the partner can fix its translator.
//!
//! Control numbers and the date are given by the caller: they must come from iom's own counters
//! (one sequence per partner) and clock, and tests need them fixed.

use chrono::NaiveDateTime;
use thiserror::Error;

use super::charset::CharacterSet;
use super::writer::Writer;
use super::{Delimiters, Interchange, MappingError, Problem, Segment, TransactionSet};

/// How the 997 is enveloped.
#[derive(Debug, Clone)]
pub struct AckEnvelope {
    /// ISA13/IEA02 of the 997's interchange.
    pub interchange_control_number: u32,
    /// GS06/GE02 of the 997's group.
    pub group_control_number: u32,
    /// ST02 of the first 997; one 997 is written per acknowledged group, numbered from here.
    pub first_set_control_number: u32,
    /// Written into ISA09/ISA10 and GS04/GS05.
    pub at: NaiveDateTime,
    /// The separators to write; `None` reuses those of the received interchange, so the partner
    /// gets back what it sends.
    pub delimiters: Option<Delimiters>,
    /// A line break after each segment terminator, for people reading the file; most partners
    /// accept it, some do not.
    pub line_breaks: bool,
}

/// The outcome for one received transaction set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetOutcome {
    Accepted,
    /// Processed, but the sender should know about these problems.
    AcceptedWithErrors(Vec<SegmentError>),
    Rejected(Vec<SegmentError>),
}

/// An AK3 with its AK4s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentError {
    /// AK301
    pub segment_id: String,
    /// AK302: position in the transaction set, ST = 1.
    pub position: usize,
    /// AK303
    pub loop_id: Option<String>,
    /// AK304: `1` unrecognised segment id, `2` unexpected segment, `3` mandatory segment missing,
    /// `8` segment has data element errors, …
    pub code: Option<String>,
    pub elements: Vec<ElementError>,
}

/// An AK4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementError {
    /// AK401: element position in the segment (1-based).
    pub position: usize,
    /// AK401-2: component position within a composite element.
    pub component: Option<usize>,
    /// AK402: data element reference number.
    pub reference: Option<String>,
    /// AK403: `1` mandatory element missing, `6` invalid character, `7` invalid code value,
    /// `8` invalid date, …
    pub code: String,
    /// AK404: a copy of the bad value.
    pub bad_value: Option<String>,
}

impl From<&MappingError> for SegmentError {
    fn from(e: &MappingError) -> Self {
        let (code, element_code) = match e.problem {
            Problem::MissingSegment => ("3", None),
            Problem::MissingElement => ("8", Some("1")),
            Problem::InvalidValue => ("8", Some("7")),
            Problem::InvalidDate => ("8", Some("8")),
        };
        SegmentError {
            segment_id: e.segment_id.clone(),
            position: e.position,
            loop_id: None,
            code: Some(code.to_owned()),
            elements: match (e.element, element_code) {
                (Some(position), Some(code)) => vec![ElementError {
                    position,
                    component: None,
                    reference: None,
                    code: code.to_owned(),
                    bad_value: None,
                }],
                _ => Vec::new(),
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AckError {
    #[error(
        "transaction set {control:?} (segment index {segment}) has no GS functional group, and a 997 acknowledges groups"
    )]
    NoGroupHeader { control: String, segment: usize },
    #[error("{field} {value:?} does not fit the ISA ({max} characters at most)")]
    TooLong {
        field: &'static str,
        value: String,
        max: usize,
    },
    #[error("the interchange has no ISA, so there is no sender to acknowledge to")]
    NoInterchangeHeader,
}

/// Writes a 997 interchange acknowledging every functional group of `received`.
/// `outcome` is asked once per transaction set, in document order.
pub fn build(
    received: &Interchange<'_>,
    envelope: &AckEnvelope,
    mut outcome: impl FnMut(&TransactionSet<'_>) -> SetOutcome,
) -> Result<String, AckError> {
    let isa = received.isa().ok_or(AckError::NoInterchangeHeader)?;
    let d = envelope.delimiters.unwrap_or_else(|| received.delimiters());
    let component = d.component.unwrap_or_else(|| {
        [b'>', b':', b'^', b'|']
            .into_iter()
            .find(|&c| c != d.element && c != d.segment)
            .unwrap_or(b'>')
    });
    let (element, terminator, component_char) = (
        char::from(d.element),
        char::from(d.segment),
        char::from(component),
    );
    let mut w = AckWriter {
        w: Writer::with(element, terminator, component_char, envelope.line_breaks),
        separators: [element, terminator, component_char],
    };

    let field = |n: usize, name: &'static str, max: usize| -> Result<String, AckError> {
        let value = isa.get(n).unwrap_or("").to_owned();
        if value.chars().count() > max {
            return Err(AckError::TooLong {
                field: name,
                value,
                max,
            });
        }
        Ok(value)
    };
    // The 997 goes back to whoever sent the interchange: sender and receiver swap.
    let (their_qual, their_id) = (field(5, "ISA05", 2)?, field(6, "ISA06", 15)?);
    let (our_qual, our_id) = (field(7, "ISA07", 2)?, field(8, "ISA08", 15)?);
    let version = isa
        .get(12)
        .filter(|v| v.len() == 5 && v.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or("00401");
    // From version 00402 on ISA11 is the repetition separator and must not be `U`.
    let repetition = if version >= "00402" {
        let free = [b'^', b'{', b'|', b'!']
            .into_iter()
            .find(|&c| c != d.element && c != d.segment && c != component)
            .unwrap_or(b'^');
        char::from(d.repetition.unwrap_or(free))
    } else {
        'U'
    };
    let test = isa.get(15).unwrap_or("P");
    let at = envelope.at;
    w.w.raw_segment(&[
        "ISA",
        "00",
        "          ",
        "00",
        "          ",
        &format!("{our_qual:<2}"),
        &format!("{our_id:<15}"),
        &format!("{their_qual:<2}"),
        &format!("{their_id:<15}"),
        &at.format("%y%m%d").to_string(),
        &at.format("%H%M").to_string(),
        &repetition.to_string(),
        version,
        &format!("{:09}", envelope.interchange_control_number % 1_000_000_000),
        "0",
        test,
        &char::from(component).to_string(),
    ]);

    let first_gs = received.groups().find_map(|g| g.gs());
    let gs_field = |n: usize| first_gs.and_then(|gs| gs.get(n)).unwrap_or("");
    let gs_version = first_gs.and_then(|gs| gs.get(8)).unwrap_or("004010");
    let group_control = envelope.group_control_number.to_string();
    w.segment(&[
        "GS",
        "FA",
        gs_field(3),
        gs_field(2),
        &at.format("%Y%m%d").to_string(),
        &at.format("%H%M").to_string(),
        &group_control,
        "X",
        gs_version,
    ]);

    let mut set_control = envelope.first_set_control_number;
    let mut sets_written = 0;
    for group in received.groups() {
        let Some(gs) = group.gs() else {
            let st = group.transaction_sets().next().map(|s| s.st());
            return Err(AckError::NoGroupHeader {
                control: st.map(|s| s.element(2).to_owned()).unwrap_or_default(),
                segment: st.map_or(0, |s| s.index()),
            });
        };
        let control = format!("{set_control:04}");
        w.w.count = 0;
        w.segment(&["ST", "997", &control]);
        w.segment(&["AK1", gs.get(1).unwrap_or(""), gs.get(6).unwrap_or("")]);
        let (mut received_sets, mut accepted) = (0usize, 0usize);
        let mut with_errors = false;
        for set in group.transaction_sets() {
            received_sets += 1;
            let mut result = outcome(&set);
            let mut codes: Vec<&str> = Vec::new();
            for warning in set.warnings() {
                codes.push(match warning.kind {
                    super::WarningKind::ControlNumberMismatch { .. } => "3",
                    _ => "4",
                });
                if result == SetOutcome::Accepted {
                    result = SetOutcome::AcceptedWithErrors(Vec::new());
                }
            }
            let (status, errors) = match &result {
                SetOutcome::Accepted => ("A", &[][..]),
                SetOutcome::AcceptedWithErrors(e) => ("E", &e[..]),
                SetOutcome::Rejected(e) => ("R", &e[..]),
            };
            if !errors.is_empty() {
                codes.push("5");
            }
            if status != "R" {
                accepted += 1;
            }
            with_errors |= status == "E";
            w.segment(&["AK2", set.id(), set.control_number()]);
            for e in errors {
                w.segment_error(e);
            }
            let mut ak5 = vec!["AK5", status];
            ak5.extend(codes.iter().take(5));
            w.segment(&ak5);
        }
        let mut group_codes: Vec<&str> = Vec::new();
        let ge_index = group.ge().map(|ge| ge.index());
        for warning in received
            .warnings()
            .iter()
            .filter(|w| Some(w.segment) == ge_index)
        {
            group_codes.push(match warning.kind {
                super::WarningKind::ControlNumberMismatch { .. } => "3",
                _ => "4",
            });
        }
        if group.ge().is_none() {
            group_codes.push("2");
        }
        let status = if accepted == 0 && received_sets > 0 {
            "R"
        } else if accepted < received_sets {
            "P"
        } else if with_errors || !group_codes.is_empty() {
            "E"
        } else {
            "A"
        };
        let declared = group
            .ge()
            .and_then(|ge| ge.get(1).map(str::to_owned))
            .unwrap_or_else(|| received_sets.to_string());
        let (received_s, accepted_s) = (received_sets.to_string(), accepted.to_string());
        let mut ak9 = vec!["AK9", status, &declared, &received_s, &accepted_s];
        ak9.extend(group_codes.iter().take(5));
        w.segment(&ak9);
        let count = (w.w.count + 1).to_string();
        w.segment(&["SE", &count, &control]);
        set_control = set_control.wrapping_add(1);
        sets_written += 1;
    }
    w.segment(&["GE", &sets_written.to_string(), &group_control]);
    w.w.raw_segment(&[
        "IEA",
        "1",
        &format!("{:09}", envelope.interchange_control_number % 1_000_000_000),
    ]);
    Ok(w.w.out)
}

/// A 997 that accepts every set (apart from what the parser found in trailers).
pub fn accept_all(received: &Interchange<'_>, envelope: &AckEnvelope) -> Result<String, AckError> {
    build(received, envelope, |_| SetOutcome::Accepted)
}

/// The 997's segments, through the writer every X12 document of iom's goes through; what it
/// copies from the received interchange (segment ids, bad values) is fitted to the extended
/// character set first. The 997 is not run through [`super::validate`]: it must echo what the
/// partner sent (an ST02 of two digits, say) even where that breaks an element's length, and a
/// partner is better served by an acknowledgement with its own odd value than by none.
struct AckWriter {
    w: Writer,
    separators: [char; 3],
}

impl AckWriter {
    fn segment(&mut self, elements: &[&str]) {
        self.w.segment(elements);
    }

    /// A value copied from the received interchange, safe to write.
    fn clean(&self, value: &str) -> String {
        CharacterSet::Extended
            .fit(value, &self.separators)
            .chars()
            .take(99)
            .collect()
    }

    fn segment_error(&mut self, e: &SegmentError) {
        let position = e.position.to_string();
        let id = self.clean(&e.segment_id);
        let loop_id = e
            .loop_id
            .as_deref()
            .map(|l| self.clean(l))
            .unwrap_or_default();
        self.segment(&[
            "AK3",
            &id,
            &position,
            &loop_id,
            e.code.as_deref().unwrap_or(""),
        ]);
        for el in &e.elements {
            let bad = el
                .bad_value
                .as_deref()
                .map(|v| self.clean(v))
                .unwrap_or_default();
            let reference = el
                .reference
                .as_deref()
                .map(|r| self.clean(r))
                .unwrap_or_default();
            let code = self.clean(&el.code);
            // AK401 is a composite (element, component): its separator is written as such.
            let position = match el.component {
                Some(c) => format!("{}{}{c}", el.position, self.separators[2]),
                None => el.position.to_string(),
            };
            let mut ak4 = vec!["AK4", &position, &reference, &code, &bad];
            while ak4.len() > 1 && ak4.last().is_some_and(|v| v.is_empty()) {
                ak4.pop();
            }
            self.w.raw_segment(&ak4);
        }
    }
}

/// A status as AK5 or AK9 report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckStatus {
    /// `A`
    Accepted,
    /// `E`
    AcceptedWithErrors,
    /// `P` (groups only)
    PartiallyAccepted,
    /// `R`, and the security rejections `M`, `W`, `X`
    Rejected,
}

impl AckStatus {
    fn parse(code: &str) -> Option<Self> {
        Some(match code {
            "A" => Self::Accepted,
            "E" => Self::AcceptedWithErrors,
            "P" => Self::PartiallyAccepted,
            "R" | "M" | "W" | "X" => Self::Rejected,
            _ => return None,
        })
    }
}

/// One received 997: the acknowledgement of one of iom's functional groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionalAck {
    /// AK101, e.g. `PO`.
    pub functional_id: String,
    /// AK102: the GS06 of iom's group.
    pub group_control_number: String,
    pub sets: Vec<SetAck>,
    /// AK901
    pub status: AckStatus,
    /// AK902, AK903, AK904
    pub included: Option<u32>,
    pub received: Option<u32>,
    pub accepted: Option<u32>,
    /// AK905 …
    pub codes: Vec<String>,
}

/// One AK2 loop: the acknowledgement of one of iom's transaction sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAck {
    /// AK201
    pub set_id: String,
    /// AK202: the ST02 of iom's set.
    pub control_number: String,
    pub errors: Vec<SegmentError>,
    /// AK501
    pub status: AckStatus,
    /// AK502 …
    pub codes: Vec<String>,
}

/// Reads every 997 of an interchange.
pub fn read(interchange: &Interchange<'_>) -> Result<Vec<FunctionalAck>, MappingError> {
    let mut out = Vec::new();
    for set in interchange.transaction_sets().filter(|s| s.id() == "997") {
        out.push(read_set(&set)?);
    }
    Ok(out)
}

fn read_set(set: &TransactionSet<'_>) -> Result<FunctionalAck, MappingError> {
    let blame = super::Blame::new(*set);
    let body: Vec<Segment<'_>> = set.body().collect();
    let ak1 = body
        .iter()
        .find(|s| s.id() == "AK1")
        .ok_or_else(|| blame.missing_segment("AK1", "the AK1 segment is missing"))?;
    let status = |seg: &Segment<'_>| {
        let code = blame.required(seg, 1)?;
        AckStatus::parse(code).ok_or_else(|| {
            blame.at(
                seg,
                Some(1),
                Problem::InvalidValue,
                format!("{code:?} is not an acknowledgement code"),
            )
        })
    };
    let codes = |seg: &Segment<'_>, from: usize| -> Vec<String> {
        (from..=seg.len())
            .filter_map(|n| seg.get(n))
            .map(str::to_owned)
            .collect()
    };
    let mut sets: Vec<SetAck> = Vec::new();
    let mut ak9 = None;
    for seg in &body {
        match seg.id() {
            "AK2" => sets.push(SetAck {
                set_id: seg.get(1).unwrap_or("").to_owned(),
                control_number: seg.get(2).unwrap_or("").to_owned(),
                errors: Vec::new(),
                status: AckStatus::Accepted,
                codes: Vec::new(),
            }),
            "AK3" => {
                let Some(set_ack) = sets.last_mut() else {
                    continue;
                };
                set_ack.errors.push(SegmentError {
                    segment_id: seg.get(1).unwrap_or("").to_owned(),
                    position: seg.get(2).and_then(|p| p.parse().ok()).unwrap_or(0),
                    loop_id: seg.get(3).map(str::to_owned),
                    code: seg.get(4).map(str::to_owned),
                    elements: Vec::new(),
                });
            }
            "AK4" => {
                let Some(err) = sets.last_mut().and_then(|s| s.errors.last_mut()) else {
                    continue;
                };
                err.elements.push(ElementError {
                    position: seg
                        .component(1, 1)
                        .and_then(|p| p.parse().ok())
                        .unwrap_or(0),
                    component: seg.component(1, 2).and_then(|p| p.parse().ok()),
                    reference: seg.get(2).map(str::to_owned),
                    code: seg.get(3).unwrap_or("").to_owned(),
                    bad_value: seg.get(4).map(str::to_owned),
                });
            }
            "AK5" => {
                if let Some(set_ack) = sets.last_mut() {
                    set_ack.status = status(seg)?;
                    set_ack.codes = codes(seg, 2);
                }
            }
            "AK9" => ak9 = Some(*seg),
            _ => {}
        }
    }
    let ak9 = ak9.ok_or_else(|| blame.missing_segment("AK9", "the AK9 segment is missing"))?;
    let number = |n: usize| ak9.get(n).and_then(|v| v.parse::<u32>().ok());
    Ok(FunctionalAck {
        functional_id: ak1.get(1).unwrap_or("").to_owned(),
        group_control_number: ak1.get(2).unwrap_or("").to_owned(),
        sets,
        status: status(&ak9)?,
        included: number(2),
        received: number(3),
        accepted: number(4),
        codes: codes(&ak9, 5),
    })
}
