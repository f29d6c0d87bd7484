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
    /// Rejected because this receiver does not take this kind of transaction set (AK502 `1`).
    NotSupported,
    /// Rejected because the set ends without its SE trailer (AK502 `2`).
    TrailerMissing,
}

/// The TA1 that answers an interchange's envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterchangeNote {
    /// TA104: `A` accepted, `E` accepted with errors, `R` rejected.
    pub status: &'static str,
    /// TA105: `000` no error, `001` ISA13 and IEA02 differ, `021` IEA01 is wrong, `022` the
    /// control structure is invalid, `023` the interchange ends early, `024` invalid content.
    pub code: &'static str,
}

impl InterchangeNote {
    /// What the envelope of a readable interchange calls for: a note of its trailer's problems,
    /// or an acceptance when the sender asked for one (ISA14 `1`); `None` otherwise.
    pub fn for_interchange(received: &Interchange<'_>) -> Option<Self> {
        let code = received.warnings().iter().find_map(|w| match &w.kind {
            super::WarningKind::ControlNumberMismatch {
                trailer: "IEA02", ..
            } => Some("001"),
            super::WarningKind::CountMismatch {
                element: "IEA01", ..
            } => Some("021"),
            super::WarningKind::MissingTrailer { expected: "IEA" } => Some("023"),
            _ => None,
        });
        match code {
            Some(code) => Some(Self { status: "E", code }),
            None => (received.isa().and_then(|isa| isa.get(14)) == Some("1")).then_some(Self {
                status: "A",
                code: "000",
            }),
        }
    }

    /// The rejection of an interchange that could not be read.
    pub fn rejecting(error: &super::X12Error) -> Self {
        use super::X12ErrorKind as K;
        let code = match error.kind {
            K::UnexpectedSegment { .. } => "022",
            K::UnterminatedTransactionSet { .. } => "023",
            _ => "024",
        };
        Self { status: "R", code }
    }
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

/// Writes the acknowledgement interchange of `received`: the TA1 `note` when given, then a 997
/// for every functional group, or a 999 for groups of a 5010 implementation guide (GS08
/// `005010X…`), whose senders expect the implementation acknowledgement. `outcome` is asked once
/// per transaction set, in document order. The 997s share one functional group and the 999s
/// another; the second takes the group control number after `envelope`'s.
pub fn build(
    received: &Interchange<'_>,
    envelope: &AckEnvelope,
    note: Option<&InterchangeNote>,
    mut outcome: impl FnMut(&TransactionSet<'_>) -> SetOutcome,
) -> Result<String, AckError> {
    let isa = received.isa().ok_or(AckError::NoInterchangeHeader)?;
    let header = |n: usize| isa.get(n);
    let mut w = AckWriter::start(
        &header,
        envelope.delimiters.unwrap_or_else(|| received.delimiters()),
        envelope,
    )?;
    if let Some(note) = note {
        w.ta1(&header, note);
    }
    let mut groups = [Vec::new(), Vec::new()];
    for group in received.groups() {
        let Some(gs) = group.gs() else {
            let st = group.transaction_sets().next().map(|s| s.st());
            return Err(AckError::NoGroupHeader {
                control: st.map(|s| s.element(2).to_owned()).unwrap_or_default(),
                segment: st.map_or(0, |s| s.index()),
            });
        };
        let implementation = gs.get(8).is_some_and(|v| v.starts_with("005010X"));
        groups[usize::from(implementation)].push(group);
    }
    let mut group_control = envelope.group_control_number;
    let mut set_control = envelope.first_set_control_number;
    let mut written = 0;
    for (kind, groups) in [Kind::Functional, Kind::Implementation]
        .into_iter()
        .zip(groups)
    {
        let Some(first) = groups.first().and_then(|g| g.gs()) else {
            continue;
        };
        let version = match kind {
            Kind::Functional => first.get(8).unwrap_or("004010"),
            Kind::Implementation => IMPLEMENTATION_VERSION,
        };
        let control = group_control.to_string();
        let at = envelope.at;
        w.segment(&[
            "GS",
            "FA",
            first.get(3).unwrap_or(""),
            first.get(2).unwrap_or(""),
            &at.format("%Y%m%d").to_string(),
            &at.format("%H%M").to_string(),
            &control,
            "X",
            version,
        ]);
        let sets = groups.len();
        for group in groups {
            w.acknowledge(kind, group, set_control, &mut outcome);
            set_control = set_control.wrapping_add(1);
        }
        w.segment(&["GE", &sets.to_string(), &control]);
        group_control = group_control.wrapping_add(1);
        written += 1;
    }
    Ok(w.finish(written, envelope))
}

/// GS08 and ST03 of a 999.
const IMPLEMENTATION_VERSION: &str = "005010X231A1";

/// A TA1 alone, for an interchange whose envelope could not be read past its ISA.
pub fn reject_interchange(
    isa: &super::IsaHeader<'_>,
    envelope: &AckEnvelope,
    note: &InterchangeNote,
) -> Result<String, AckError> {
    let header = |n: usize| isa.get(n);
    let mut w = AckWriter::start(
        &header,
        envelope.delimiters.unwrap_or(isa.delimiters),
        envelope,
    )?;
    w.ta1(&header, note);
    Ok(w.finish(0, envelope))
}

/// Which acknowledgement a group gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// 997: AK3, AK4, AK5.
    Functional,
    /// 999: IK3, IK4, IK5, and the implementation guide in ST03 and AK103.
    Implementation,
}

/// A 997 that accepts every set (apart from what the parser found in trailers).
pub fn accept_all(received: &Interchange<'_>, envelope: &AckEnvelope) -> Result<String, AckError> {
    build(received, envelope, None, |_| SetOutcome::Accepted)
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
    /// Writes the ISA of an acknowledgement to the sender of an interchange whose ISA`n` is
    /// `header(n)`: sender and receiver swap, version and usage are echoed.
    fn start<'h>(
        header: &dyn Fn(usize) -> Option<&'h str>,
        d: Delimiters,
        envelope: &AckEnvelope,
    ) -> Result<Self, AckError> {
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
        let separators = w.separators;
        // What is echoed from the received ISA is fitted to the character set first: a sender
        // id with a line break or a separator in it must not break the acknowledgement.
        let field = |n: usize, name: &'static str, max: usize| -> Result<String, AckError> {
            let value = CharacterSet::Extended
                .fit(header(n).unwrap_or(""), &separators)
                .trim()
                .to_owned();
            if value.chars().count() > max {
                return Err(AckError::TooLong {
                    field: name,
                    value,
                    max,
                });
            }
            Ok(value)
        };
        let (their_qual, their_id) = (field(5, "ISA05", 2)?, field(6, "ISA06", 15)?);
        let (our_qual, our_id) = (field(7, "ISA07", 2)?, field(8, "ISA08", 15)?);
        let version = header(12)
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
        let test = header(15)
            .filter(|t| matches!(*t, "P" | "T"))
            .unwrap_or("P");
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
        Ok(w)
    }

    /// TA1: the received interchange's control number, date and time, and the note.
    fn ta1<'h>(&mut self, header: &dyn Fn(usize) -> Option<&'h str>, note: &InterchangeNote) {
        let echo = |n: usize| self.clean(header(n).unwrap_or(""));
        let (control, date, time) = (echo(13), echo(9), echo(10));
        self.w
            .raw_segment(&["TA1", &control, &date, &time, note.status, note.code]);
    }

    fn finish(mut self, groups: usize, envelope: &AckEnvelope) -> String {
        self.w.raw_segment(&[
            "IEA",
            &groups.to_string(),
            &format!("{:09}", envelope.interchange_control_number % 1_000_000_000),
        ]);
        self.w.out
    }

    /// One 997 or 999 transaction set acknowledging `group`.
    fn acknowledge(
        &mut self,
        kind: Kind,
        group: super::Group<'_>,
        set_control: u32,
        outcome: &mut impl FnMut(&TransactionSet<'_>) -> SetOutcome,
    ) {
        let gs = group.gs().expect("only groups with GS are acknowledged");
        let control = format!("{set_control:04}");
        let (ak3, ak4, ak5) = match kind {
            Kind::Functional => ("AK3", "AK4", "AK5"),
            Kind::Implementation => ("IK3", "IK4", "IK5"),
        };
        self.w.count = 0;
        match kind {
            Kind::Functional => {
                self.segment(&["ST", "997", &control]);
                self.segment(&["AK1", gs.get(1).unwrap_or(""), gs.get(6).unwrap_or("")]);
            }
            Kind::Implementation => {
                self.segment(&["ST", "999", &control, IMPLEMENTATION_VERSION]);
                self.segment(&[
                    "AK1",
                    gs.get(1).unwrap_or(""),
                    gs.get(6).unwrap_or(""),
                    gs.get(8).unwrap_or(""),
                ]);
            }
        }
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
                SetOutcome::NotSupported => {
                    codes.insert(0, "1");
                    ("R", &[][..])
                }
                SetOutcome::TrailerMissing => {
                    codes.insert(0, "2");
                    ("R", &[][..])
                }
            };
            if !errors.is_empty() {
                codes.push("5");
            }
            if status != "R" {
                accepted += 1;
            }
            with_errors |= status == "E";
            let st03 = set.st().get(3).map(|v| self.clean(v)).unwrap_or_default();
            match kind {
                Kind::Functional => self.segment(&["AK2", set.id(), set.control_number()]),
                Kind::Implementation => {
                    let mut ak2 = vec!["AK2", set.id(), set.control_number()];
                    if !st03.is_empty() {
                        ak2.push(&st03);
                    }
                    self.segment(&ak2)
                }
            }
            for e in errors {
                self.segment_error(e, ak3, ak4);
            }
            let mut status_segment = vec![ak5, status];
            status_segment.extend(codes.iter().take(5));
            self.segment(&status_segment);
        }
        let mut group_codes: Vec<&str> = Vec::new();
        let ge_index = group.ge().map(|ge| ge.index());
        for warning in group
            .interchange()
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
        self.segment(&ak9);
        let count = (self.w.count + 1).to_string();
        self.segment(&["SE", &count, &control]);
    }

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

    fn segment_error(&mut self, e: &SegmentError, ak3: &str, ak4_id: &str) {
        let position = e.position.to_string();
        let id = self.clean(&e.segment_id);
        let loop_id = e
            .loop_id
            .as_deref()
            .map(|l| self.clean(l))
            .unwrap_or_default();
        self.segment(&[
            ak3,
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
            let mut ak4 = vec![ak4_id, &position, &reference, &code, &bad];
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
