//! The X12 tokenizer and envelope parser.
//!
//! Trading partners send X12 that is only roughly what the standard describes: byte-order marks,
//! ISA fields padded with non-breaking spaces, pretty-printed segments, a terminator forgotten at
//! the end of a line, control counts that do not add up, bare transaction sets without any
//! envelope. Rejecting such a document would stop real orders, so the parser accepts everything
//! whose meaning is unambiguous, records what was odd as a [`Warning`], and fails only when it can
//! no longer tell where a segment or a transaction set begins or ends. Every error and warning
//! names the segment (0-based index in the document) and the byte offset where it happened.
//!
//! Speed matters because one file may carry thousands of purchase orders: the input is checked
//! for UTF-8 once, then cut into `&str` slices that borrow from it. All elements of an interchange
//! live in one vector, so there is no allocation per segment or per element.

use std::fmt;
use std::ops::Range;

use thiserror::Error;

const BOM: &[u8] = b"\xEF\xBB\xBF";
/// An ISA header is 106 bytes; padding with two-byte non-breaking spaces can nearly double that.
const MAX_ISA_LEN: usize = 400;

/// The separators of an interchange. X12 declares them in the ISA header itself, so they are
/// read from there rather than assumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delimiters {
    /// The byte right after `ISA` (usually `*`).
    pub element: u8,
    /// ISA16 (usually `>` or `:`); `None` when ISA16 is empty or the document has no ISA.
    pub component: Option<u8>,
    /// ISA11 from version 00402 on (usually `^`); `None` when ISA11 is the letter `U`.
    pub repetition: Option<u8>,
    /// The byte after ISA16 (usually `~`, sometimes a newline).
    pub segment: u8,
}

impl Default for Delimiters {
    /// The separators most partners use, also what iom writes.
    fn default() -> Self {
        Self {
            element: b'*',
            component: Some(b'>'),
            repetition: None,
            segment: b'~',
        }
    }
}

/// Why a document could not be parsed, and where.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("X12 error at segment index {segment} (byte {offset}): {kind}")]
pub struct X12Error {
    /// 0-based index of the segment in the document (the ISA is 0).
    pub segment: usize,
    /// Byte offset in the input where the problem was found.
    pub offset: usize,
    pub kind: X12ErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum X12ErrorKind {
    #[error("the document is empty")]
    Empty,
    #[error("an X12 document starts with ISA, GS or ST, found {found:?}")]
    NotX12 { found: String },
    #[error("invalid ISA header: {0}")]
    InvalidIsa(String),
    #[error("the document is not valid UTF-8 (transcode ISO-8859-1 documents before parsing)")]
    InvalidUtf8,
    #[error("{id:?} is not a segment identifier (2 or 3 upper-case letters or digits)")]
    InvalidSegmentId { id: String },
    #[error(
        "line break inside segment {id}: the terminator {terminator:?} is missing and the next line does not start a segment"
    )]
    LineBreakInSegment { id: String, terminator: char },
    #[error("segment {id} is not allowed here: {reason}")]
    UnexpectedSegment { id: String, reason: String },
    #[error("transaction set {control:?} (ST at segment index {st}) ends without its SE trailer")]
    UnterminatedTransactionSet { control: String, st: usize },
    #[error("another interchange (ISA) starts here, after the IEA that ended the first one")]
    SeveralInterchanges,
}

/// Something odd that did not prevent parsing; kept so that an acknowledgement or the message log
/// can report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// 0-based index of the segment in the document.
    pub segment: usize,
    /// Byte offset of that segment in the input.
    pub offset: usize,
    pub kind: WarningKind,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "segment index {} (byte {}): {}",
            self.segment, self.offset, self.kind
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WarningKind {
    #[error("segment {id} has no terminator; the line break ends it")]
    MissingTerminator { id: String },
    #[error("empty segment skipped")]
    EmptySegment,
    #[error("{element} says {declared:?} but there are {actual}")]
    CountMismatch {
        /// e.g. `SE01`
        element: &'static str,
        declared: String,
        actual: usize,
    },
    #[error("{trailer} is {trailer_value:?} but {header} is {header_value:?}")]
    ControlNumberMismatch {
        /// e.g. `SE02`
        trailer: &'static str,
        trailer_value: String,
        /// e.g. `ST02`
        header: &'static str,
        header_value: String,
    },
    #[error("{expected} trailer is missing")]
    MissingTrailer { expected: &'static str },
    #[error("ST without a GS functional group header")]
    MissingGroupHeader,
}

impl WarningKind {
    /// A transaction set whose trailer is wrong is still usable, but the sender should hear about
    /// it: the 997 reports such sets as "accepted with errors".
    pub(crate) fn is_set_level(&self) -> bool {
        matches!(
            self,
            Self::CountMismatch {
                element: "SE01",
                ..
            } | Self::ControlNumberMismatch {
                trailer: "SE02",
                ..
            }
        )
    }
}

/// The input without what may follow its last segment, as text, and where its first segment
/// starts; an error when it is not UTF-8 or holds nothing.
fn document(input: &[u8]) -> Result<(&[u8], &str, usize), X12Error> {
    let input = without_end_of_file(input);
    let text = utf8(input)?;
    let start = skip_ws(input, bom_len(input));
    if start >= input.len() {
        return Err(X12Error {
            segment: 0,
            offset: start,
            kind: X12ErrorKind::Empty,
        });
    }
    Ok((input, text, start))
}

/// Parses a document holding one interchange (or bare functional groups / transaction sets).
pub fn parse(input: &[u8]) -> Result<Interchange<'_>, X12Error> {
    let (input, text, start) = document(input)?;
    let interchange = parse_one(text, start, 0)?.whole()?;
    let rest = skip_ws(input, interchange.span.end);
    if rest < input.len() {
        return Err(X12Error {
            segment: interchange.base + interchange.segs.len(),
            offset: rest,
            kind: if input[rest..].starts_with(b"ISA") {
                X12ErrorKind::SeveralInterchanges
            } else {
                X12ErrorKind::UnexpectedSegment {
                    id: lossy_prefix(&input[rest..]),
                    reason: "data after the IEA trailer".to_owned(),
                }
            },
        });
    }
    Ok(interchange)
}

/// Parses a document holding several interchanges one after the other (some partners batch a
/// day's ISA envelopes into one file). Each interchange may declare its own delimiters.
pub fn parse_many(input: &[u8]) -> Result<Vec<Interchange<'_>>, X12Error> {
    let (input, text, mut start) = document(input)?;
    let mut out = Vec::new();
    let mut base = 0;
    while start < input.len() {
        let interchange = parse_one(text, start, base)?.whole()?;
        base += interchange.segs.len();
        start = skip_ws(input, interchange.span.end);
        out.push(interchange);
    }
    Ok(out)
}

/// What [`read`] found in a document: an interchange, or a stretch of input that could not be
/// read as one.
#[derive(Debug, Clone)]
pub enum Received<'a> {
    Interchange(Interchange<'a>),
    Broken(BrokenInterchange<'a>),
}

/// An interchange whose envelope could not be read (an invalid ISA, a segment outside any
/// transaction set, a GE without GS …), kept with what it said about its sender so that a TA1
/// can tell the sender.
#[derive(Debug, Clone)]
pub struct BrokenInterchange<'a> {
    pub error: X12Error,
    /// The input from where the interchange began to where the next one begins.
    pub text: &'a str,
    pub span: Range<usize>,
    /// The ISA, when it could be read.
    pub isa: Option<IsaHeader<'a>>,
}

/// The sixteen elements of an ISA and its separators, read on their own.
#[derive(Debug, Clone)]
pub struct IsaHeader<'a> {
    /// `elements[n]` is ISA`n` as written (`elements[0]` is `ISA`).
    pub elements: Vec<&'a str>,
    pub delimiters: Delimiters,
}

impl<'a> IsaHeader<'a> {
    /// ISA`n`, trimmed; `None` when absent or blank.
    pub fn get(&self, n: usize) -> Option<&'a str> {
        let v = self.elements.get(n)?.trim();
        (!v.is_empty()).then_some(v)
    }
}

/// Reads every interchange of a document as partners send them: any number of ISA envelopes
/// (each with its own separators), a stray byte or a broken envelope costing only its own
/// interchange, and a transaction set that cannot be read costing only itself (see
/// [`TransactionSet::fault`]). Fails only when nothing in the input is X12 at all: it is empty,
/// not UTF-8, or does not start with ISA, GS or ST.
pub fn read(input: &[u8]) -> Result<Vec<Received<'_>>, X12Error> {
    let (input, text, mut start) = document(input)?;
    let mut out = Vec::new();
    let mut base = 0;
    while start < input.len() {
        match parse_one(text, start, base) {
            Ok(interchange) => {
                base += interchange.segs.len();
                start = skip_filler(input, interchange.span.end);
                out.push(Received::Interchange(interchange));
            }
            Err(error) => {
                if out.is_empty() && matches!(error.kind, X12ErrorKind::NotX12 { .. }) {
                    return Err(error);
                }
                let next = next_isa(input, start + 1).unwrap_or(input.len());
                // The broken interchange's text stops before what separates it from the next.
                let mut end = next;
                loop {
                    if end > start && is_ws(input[end - 1]) {
                        end -= 1;
                    } else if end >= start + BOM.len() && input[..end].ends_with(BOM) {
                        end -= BOM.len();
                    } else {
                        break;
                    }
                }
                // Keep the terminator's line break, as a file would.
                if end < next && input[end] == b'\n' {
                    end += 1;
                }
                // Later segment indices stay document-wide: count what is skipped.
                let segments = detect(input, start).map_or(1, |(d, _)| {
                    memchr::memchr_iter(d.segment, &input[start..end])
                        .count()
                        .max(1)
                });
                base += segments;
                out.push(Received::Broken(BrokenInterchange {
                    isa: isa_header(input, start),
                    error,
                    text: &text[start..end],
                    span: start..end,
                }));
                start = skip_filler(input, next);
            }
        }
    }
    Ok(out)
}

/// Skips what may stand between interchanges of a mailbag: whitespace, and the byte-order mark
/// each file brought along when files were joined into one.
fn skip_filler(input: &[u8], mut pos: usize) -> usize {
    loop {
        pos = skip_ws(input, pos);
        if input[pos..].starts_with(BOM) {
            pos += BOM.len();
        } else {
            return pos;
        }
    }
}

/// Where the next interchange begins at or after `from`: an `ISA` at the start of a line or after
/// a byte that can end a segment, followed by a separator.
fn next_isa(input: &[u8], from: usize) -> Option<usize> {
    memchr::memmem::find_iter(&input[from..], b"ISA")
        .map(|p| from + p)
        .find(|&p| {
            let before = p.checked_sub(1).map(|q| input[q]);
            let after = input.get(p + 3).copied();
            before.is_none_or(|b| !b.is_ascii_alphanumeric())
                && after.is_some_and(|b| !b.is_ascii_alphanumeric() && !is_ws(b))
        })
}

/// The ISA at `start` on its own, when its separators can be read.
fn isa_header(input: &[u8], start: usize) -> Option<IsaHeader<'_>> {
    if !input[start..].starts_with(b"ISA") {
        return None;
    }
    let delimiters = isa_delimiters(input, start).ok()?;
    let end =
        memchr::memchr(delimiters.segment, &input[start..]).map_or(input.len(), |e| start + e);
    let text = std::str::from_utf8(&input[start..end]).ok()?;
    Some(IsaHeader {
        elements: text.split(char::from(delimiters.element)).collect(),
        delimiters,
    })
}

/// One interchange: the segments of the document as slices of the input, grouped into functional
/// groups and transaction sets.
#[derive(Debug, Clone)]
pub struct Interchange<'a> {
    delimiters: Delimiters,
    segs: Vec<SegRec>,
    els: Vec<&'a str>,
    isa: Option<usize>,
    iea: Option<usize>,
    groups: Vec<GroupRec>,
    warnings: Vec<Warning>,
    /// Why transaction sets could not be read, by [`SetRec::fault`].
    faults: Vec<X12Error>,
    /// Document-wide index of the first segment (non-zero for later interchanges of
    /// [`parse_many`]).
    base: usize,
    span: Range<usize>,
    /// The whole input, which `span` and the segments' offsets point into.
    text: &'a str,
}

#[derive(Debug, Clone, Copy)]
struct SegRec {
    /// Range in `els`; the first element is the segment id.
    start: usize,
    end: usize,
    offset: usize,
}

#[derive(Debug, Clone)]
struct GroupRec {
    gs: Option<usize>,
    ge: Option<usize>,
    sets: Vec<SetRec>,
}

#[derive(Debug, Clone, Copy)]
struct SetRec {
    st: usize,
    /// The SE, or the last segment of a set that ended without one.
    se: usize,
    /// Index in [`Interchange::faults`] when the set could not be read whole.
    fault: Option<usize>,
}

impl<'a> Interchange<'a> {
    pub fn delimiters(&self) -> Delimiters {
        self.delimiters
    }

    /// Everything odd that was tolerated, in document order.
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// The interchange, or the first reason one of its transaction sets could not be read: for
    /// callers that take a document whole or not at all.
    fn whole(self) -> Result<Self, X12Error> {
        match self.faults.first() {
            Some(fault) => Err(fault.clone()),
            None => Ok(self),
        }
    }

    /// The ISA header; `None` for bare groups or transaction sets.
    pub fn isa(&self) -> Option<Segment<'_>> {
        self.isa.map(|i| self.seg(i))
    }

    pub fn iea(&self) -> Option<Segment<'_>> {
        self.iea.map(|i| self.seg(i))
    }

    /// Byte range of this interchange in the input.
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// This interchange's text in the input.
    pub fn text(&self) -> &'a str {
        &self.text[self.span.clone()]
    }

    /// The text of segment `index` (document-wide), terminator and what follows up to the next
    /// segment included.
    pub fn segment_text(&self, index: usize) -> Option<&'a str> {
        let local = index.checked_sub(self.base)?;
        let start = self.segs.get(local)?.offset;
        let end = self
            .segs
            .get(local + 1)
            .map_or(self.span.end, |next| next.offset);
        Some(&self.text[start..end])
    }

    /// Number of segments.
    pub fn len(&self) -> usize {
        self.segs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.segs.is_empty()
    }

    /// All segments, envelopes included.
    pub fn segments(&self) -> impl ExactSizeIterator<Item = Segment<'_>> + '_ {
        (0..self.segs.len()).map(|i| self.seg(i))
    }

    /// The segment with this document-wide index.
    pub fn segment(&self, index: usize) -> Option<Segment<'_>> {
        let local = index.checked_sub(self.base)?;
        (local < self.segs.len()).then(|| self.seg(local))
    }

    pub fn groups(&self) -> impl ExactSizeIterator<Item = Group<'_>> + '_ {
        (0..self.groups.len()).map(|g| Group { ix: self, g })
    }

    /// Every transaction set of every group, in document order.
    pub fn transaction_sets(&self) -> impl Iterator<Item = TransactionSet<'_>> + '_ {
        self.groups().flat_map(|g| g.transaction_sets())
    }

    fn seg(&self, local: usize) -> Segment<'_> {
        let rec = self.segs[local];
        Segment {
            elements: &self.els[rec.start..rec.end],
            index: self.base + local,
            offset: rec.offset,
            component: self.delimiters.component,
        }
    }
}

/// A functional group (GS … GE). Bare transaction sets are gathered into one group without GS.
#[derive(Debug, Clone, Copy)]
pub struct Group<'s> {
    ix: &'s Interchange<'s>,
    g: usize,
}

impl<'s> Group<'s> {
    pub fn gs(&self) -> Option<Segment<'s>> {
        self.ix.groups[self.g].gs.map(|i| self.ix.seg(i))
    }

    pub fn ge(&self) -> Option<Segment<'s>> {
        self.ix.groups[self.g].ge.map(|i| self.ix.seg(i))
    }

    /// GS01, e.g. `PO` for purchase orders.
    pub fn functional_id(&self) -> Option<&'s str> {
        self.gs().and_then(|gs| gs.get(1))
    }

    /// GS06.
    pub fn control_number(&self) -> Option<&'s str> {
        self.gs().and_then(|gs| gs.get(6))
    }

    pub fn transaction_sets(self) -> impl ExactSizeIterator<Item = TransactionSet<'s>> + 's {
        let (ix, g) = (self.ix, self.g);
        ix.groups[g].sets.iter().map(move |s| TransactionSet {
            ix,
            group: g,
            st: s.st,
            se: s.se,
            fault: s.fault,
        })
    }

    pub fn interchange(&self) -> &'s Interchange<'s> {
        self.ix
    }
}

/// One transaction set (ST … SE): a purchase order, a ship notice, an acknowledgement.
#[derive(Debug, Clone, Copy)]
pub struct TransactionSet<'s> {
    ix: &'s Interchange<'s>,
    group: usize,
    st: usize,
    se: usize,
    fault: Option<usize>,
}

impl<'s> TransactionSet<'s> {
    /// ST01, e.g. `850`.
    pub fn id(&self) -> &'s str {
        self.st().get(1).unwrap_or("")
    }

    /// ST02.
    pub fn control_number(&self) -> &'s str {
        self.st().get(2).unwrap_or("")
    }

    pub fn st(&self) -> Segment<'s> {
        self.ix.seg(self.st)
    }

    /// Why this set could not be read whole (a segment that is not one, a line break inside a
    /// segment, a missing SE); its segments are then not to be mapped.
    pub fn fault(&self) -> Option<&'s X12Error> {
        self.fault.map(|f| &self.ix.faults[f])
    }

    /// The set's text in the input, from ST to the end of SE (or of its last segment).
    pub fn text(&self) -> &'s str {
        let start = self.ix.segs[self.st].offset;
        let end = self
            .ix
            .segs
            .get(self.se + 1)
            .map_or(self.ix.span.end, |next| next.offset);
        &self.ix.text[start..end]
    }

    pub fn se(&self) -> Segment<'s> {
        self.ix.seg(self.se)
    }

    /// ST, the body and SE.
    pub fn segments(&self) -> impl ExactSizeIterator<Item = Segment<'s>> + 's {
        let ix = self.ix;
        (self.st..self.se + 1).map(move |i| ix.seg(i))
    }

    /// The segments between ST and SE.
    pub fn body(&self) -> impl ExactSizeIterator<Item = Segment<'s>> + 's {
        let ix = self.ix;
        (self.st + 1..self.se).map(move |i| ix.seg(i))
    }

    pub fn group(&self) -> Group<'s> {
        Group {
            ix: self.ix,
            g: self.group,
        }
    }

    pub fn interchange(&self) -> &'s Interchange<'s> {
        self.ix
    }

    /// 1-based position of a segment of this set counted from ST, as the 997 (AK302) reports it.
    /// A segment outside the set counts as position 0.
    pub fn position_of(&self, segment: &Segment<'_>) -> usize {
        (segment.index + 1).saturating_sub(self.st().index)
    }

    /// Warnings about this set's own trailer (SE01 count, SE02 control number).
    pub fn warnings(&self) -> impl Iterator<Item = &'s Warning> + 's {
        let se = self.se().index;
        self.ix
            .warnings
            .iter()
            .filter(move |w| w.segment == se && w.kind.is_set_level())
    }
}

/// One segment: its id and elements, borrowed from the input.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'s> {
    elements: &'s [&'s str],
    index: usize,
    offset: usize,
    component: Option<u8>,
}

impl<'s> Segment<'s> {
    /// The segment identifier (`BEG`, `PO1`, …).
    pub fn id(&self) -> &'s str {
        self.elements[0]
    }

    /// 0-based index of the segment in the document.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Byte offset of the segment in the input.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Number of data elements (trailing empty ones included when the sender wrote them).
    pub fn len(&self) -> usize {
        self.elements.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The data elements as written, without the id (`elements()[0]` is element 01).
    pub fn elements(&self) -> &'s [&'s str] {
        &self.elements[1..]
    }

    /// Element `n` (1-based, as in "BEG03") exactly as written; empty when absent.
    pub fn element(&self, n: usize) -> &'s str {
        self.elements.get(n).copied().unwrap_or("")
    }

    /// Element `n` (1-based) with padding removed (spaces and non-breaking spaces, which some
    /// senders use to fill fixed-width ISA fields); `None` when absent or blank.
    pub fn get(&self, n: usize) -> Option<&'s str> {
        if n == 0 {
            return None;
        }
        let value = self.elements.get(n)?.trim();
        (!value.is_empty()).then_some(value)
    }

    /// The components of composite element `n`. Without a component separator the whole element
    /// is its only component.
    pub fn components(&self, n: usize) -> impl Iterator<Item = &'s str> + 's {
        let value = self.element(n);
        let sep = self.component.map(char::from);
        let mut parts = Some(value);
        std::iter::from_fn(move || {
            let rest = parts?;
            match sep.and_then(|c| rest.split_once(c)) {
                Some((head, tail)) => {
                    parts = Some(tail);
                    Some(head)
                }
                None => {
                    parts = None;
                    Some(rest)
                }
            }
        })
    }

    /// Component `k` (1-based) of element `n`, trimmed; `None` when absent or blank.
    pub fn component(&self, n: usize, k: usize) -> Option<&'s str> {
        let value = self.components(n).nth(k.checked_sub(1)?)?.trim();
        (!value.is_empty()).then_some(value)
    }

    /// Pairs of (qualifier, value) starting at element `first` (e.g. PO106/PO107, PO108/PO109 …),
    /// skipping pairs whose value is blank.
    pub fn pairs(&self, first: usize) -> impl Iterator<Item = (&'s str, &'s str)> + 's {
        let seg = *self;
        (first..=seg.len())
            .step_by(2)
            .filter_map(move |n| Some((seg.get(n).unwrap_or(""), seg.get(n + 1)?)))
    }
}

impl fmt::Display for Segment<'_> {
    /// Written back with `*` and without terminator, for messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.elements.join("*"))
    }
}

fn utf8(input: &[u8]) -> Result<&str, X12Error> {
    std::str::from_utf8(input).map_err(|e| {
        let offset = e.valid_up_to();
        let start = skip_ws(input, bom_len(input));
        let segment = detect(input, start)
            .map(|(d, _)| memchr::memchr_iter(d.segment, &input[start..offset]).count())
            .unwrap_or(0);
        X12Error {
            segment,
            offset,
            kind: X12ErrorKind::InvalidUtf8,
        }
    })
}

fn bom_len(input: &[u8]) -> usize {
    if input.starts_with(BOM) { BOM.len() } else { 0 }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'\x0b' | b'\x0c')
}

/// The input without what some systems put after the last segment: a DOS end-of-file mark
/// (0x1A, Ctrl-Z, written by mailbox software that still marks the end of a file that way) and
/// the whitespace after it. What comes before the mark is kept: with a newline as segment
/// terminator, the last newline ends the IEA.
fn without_end_of_file(input: &[u8]) -> &[u8] {
    let mut end = input.len();
    while end > 0 && is_ws(input[end - 1]) {
        end -= 1;
    }
    if end == 0 || input[end - 1] != 0x1A {
        return input;
    }
    while end > 0 && input[end - 1] == 0x1A {
        end -= 1;
    }
    &input[..end]
}

fn skip_ws(input: &[u8], mut pos: usize) -> usize {
    while pos < input.len() && is_ws(input[pos]) {
        pos += 1;
    }
    pos
}

fn lossy_prefix(bytes: &[u8]) -> String {
    let end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len())
        .min(20);
    String::from_utf8_lossy(&bytes[..end]).trim().to_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    Isa,
    Bare,
}

/// Reads the delimiters at `start`: from the ISA when there is one, else inferred from the first
/// GS or ST segment.
fn detect(input: &[u8], start: usize) -> Result<(Delimiters, Start), X12Error> {
    let err = |kind| X12Error {
        segment: 0,
        offset: start,
        kind,
    };
    let head = &input[start..];
    if head.starts_with(b"ISA") {
        return isa_delimiters(input, start).map(|d| (d, Start::Isa));
    }
    if !(head.starts_with(b"ST") || head.starts_with(b"GS")) {
        return Err(err(X12ErrorKind::NotX12 {
            found: lossy_prefix(head),
        }));
    }
    let element = *head.get(2).ok_or_else(|| {
        err(X12ErrorKind::NotX12 {
            found: lossy_prefix(head),
        })
    })?;
    if element.is_ascii_alphanumeric() || is_ws(element) || element >= 0x80 {
        return Err(err(X12ErrorKind::NotX12 {
            found: lossy_prefix(head),
        }));
    }
    // Without an ISA the terminator is the first byte of the first segment that cannot be part of
    // an element of ST or GS (codes, control numbers, dates, application ids).
    let segment = head[3..]
        .iter()
        .copied()
        .find(|&b| {
            // Bytes outside ASCII belong to a value (a terminator is ASCII, and cutting there
            // would split a character).
            !(b.is_ascii_alphanumeric()
                || b >= 0x80
                || b == element
                || matches!(b, b' ' | b'-' | b'.' | b'_'))
        })
        .map(|b| if b == b'\r' { b'\n' } else { b })
        .unwrap_or(b'~');
    Ok((
        Delimiters {
            element,
            component: None,
            repetition: None,
            segment,
        },
        Start::Bare,
    ))
}

/// The ISA is nominally fixed-width, but padding with multi-byte characters breaks the byte
/// positions, so the 16 elements are found by counting separators instead.
fn isa_delimiters(input: &[u8], start: usize) -> Result<Delimiters, X12Error> {
    let err = |msg: String| X12Error {
        segment: 0,
        offset: start,
        kind: X12ErrorKind::InvalidIsa(msg),
    };
    let element = *input
        .get(start + 3)
        .ok_or_else(|| err("truncated after ISA".into()))?;
    if element.is_ascii_alphanumeric() || is_ws(element) || element >= 0x80 {
        return Err(err(format!(
            "{:?} cannot be the element separator",
            char::from(element)
        )));
    }
    let limit = input.len().min(start + MAX_ISA_LEN);
    let mut seps = [0usize; 16];
    let mut found = 0;
    let mut p = start + 3;
    while found < 16 {
        let Some(rel) = memchr::memchr(element, &input[p..limit]) else {
            return Err(err(format!(
                "only {found} of 16 elements found; the ISA is truncated or its element separator is inconsistent"
            )));
        };
        seps[found] = p + rel;
        p += rel + 1;
        found += 1;
    }
    let isa11 = &input[seps[10] + 1..seps[11]];
    let repetition = match isa11 {
        [b] if !b.is_ascii_alphanumeric() && !is_ws(*b) => Some(*b),
        _ => None,
    };
    let p16 = seps[15] + 1;
    let b0 = *input
        .get(p16)
        .ok_or_else(|| err("truncated at ISA16".into()))?;
    let b1 = input.get(p16 + 1).copied();
    let newline = |b: u8| b == b'\n' || b == b'\r';

    let (component, segment) = if newline(b0) {
        // ISA16 empty and segments end with line breaks.
        (None, b'\n')
    } else {
        match b1 {
            // "…*T*~GS*…": ISA16 is empty, so b0 is the terminator.
            Some(b) if b.is_ascii_alphanumeric() => (None, b0),
            None => (None, b0),
            // "…*T*>\nGS…" (ISA16 `>`, newline-terminated) and "…*T*~\nGS…~" (ISA16 empty,
            // `~`-terminated, one segment per line) look alike; the end of the next line decides.
            Some(b) if newline(b) => {
                if next_line_ends_with(input, p16 + 1, b0) {
                    (None, b0)
                } else {
                    (Some(b0), b'\n')
                }
            }
            Some(b) => (Some(b0), b),
        }
    };
    if segment == element || component == Some(element) || component == Some(segment) {
        return Err(err(format!(
            "element separator {:?}, component separator {:?} and segment terminator {:?} must differ",
            char::from(element),
            component.map(char::from),
            char::from(segment)
        )));
    }
    // A letter or digit as component separator would split every code and number.
    if let Some(c) = component.filter(|c| c.is_ascii_alphanumeric() || *c >= 0x80) {
        return Err(err(format!(
            "{:?} (ISA16) cannot be the component separator",
            char::from(c)
        )));
    }
    // A space or tab would end a segment inside every name and address.
    if segment.is_ascii_alphanumeric() || segment >= 0x80 || matches!(segment, b' ' | b'\t') {
        return Err(err(format!(
            "{:?} cannot be the segment terminator",
            char::from(segment)
        )));
    }
    Ok(Delimiters {
        element,
        component,
        repetition,
        segment,
    })
}

fn next_line_ends_with(input: &[u8], from: usize, byte: u8) -> bool {
    let start = skip_ws(input, from);
    let end = memchr::memchr(b'\n', &input[start..]).map_or(input.len(), |e| start + e);
    input[start..end]
        .iter()
        .rev()
        .find(|&&b| !is_ws(b))
        .is_some_and(|&b| b == byte)
}

fn looks_like_segment_start(input: &[u8], pos: usize, d: &Delimiters) -> bool {
    let head = &input[pos..input.len().min(pos + 4)];
    let id_len = head
        .iter()
        .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        .count();
    (2..=3).contains(&id_len)
        && head
            .get(id_len)
            .is_some_and(|&b| b == d.element || b == d.segment)
}

fn valid_id(id: &str) -> bool {
    (2..=3).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

fn same_control(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim(), b.trim());
    a == b || matches!((a.parse::<u64>(), b.parse::<u64>()), (Ok(x), Ok(y)) if x == y)
}

struct Builder<'a> {
    input: &'a [u8],
    text: &'a str,
    d: Delimiters,
    /// Byte classes for the hot loop: 0 ordinary, 1 element separator, 2 terminator, 3 line feed.
    class: [u8; 256],
    ix: Interchange<'a>,
    open_group: Option<usize>,
    open_set: Option<usize>,
    /// Why the open transaction set cannot be read whole; it is skipped to its end.
    open_fault: Option<X12Error>,
}

/// What the envelope structure says after a segment.
enum Step {
    Continue,
    /// The IEA: this interchange is complete.
    End,
    /// The segment at this offset begins another interchange; this one ends before it.
    EndBefore(usize),
}

fn parse_one(text: &str, start: usize, base: usize) -> Result<Interchange<'_>, X12Error> {
    let input = text.as_bytes();
    let (d, kind) = detect(input, start).map_err(|mut e| {
        e.segment = base;
        e
    })?;
    let mut class = [0u8; 256];
    class[usize::from(b'\n')] = 3;
    class[usize::from(d.element)] = 1;
    class[usize::from(d.segment)] = 2;
    // Rough guess to avoid regrowing: one segment per 30 bytes, six elements each, over this
    // interchange (up to the first IEA) rather than the whole input, which in a mailbag would
    // reserve for every interchange what all of them need.
    let end = memchr::memmem::find(&input[start..], b"IEA").map_or(input.len(), |e| start + e);
    let guess = (end - start) / 30 + 4;
    let mut b = Builder {
        input,
        text,
        d,
        class,
        ix: Interchange {
            delimiters: d,
            segs: Vec::with_capacity(guess),
            els: Vec::with_capacity(guess * 6),
            isa: None,
            iea: None,
            groups: Vec::new(),
            warnings: Vec::new(),
            faults: Vec::new(),
            base,
            span: start..start,
            text,
        },
        open_group: None,
        open_set: None,
        open_fault: None,
    };
    let mut pos = start;
    loop {
        pos = skip_ws(input, pos);
        // A byte-order mark can only begin a file: a file joined on after this one.
        if pos >= input.len() || input[pos..].starts_with(BOM) {
            break;
        }
        match b.tokenize(pos) {
            Ok((next, true)) => pos = next,
            Ok((next, false)) => {
                pos = next;
                continue;
            }
            // Inside a transaction set, a segment that cannot be read costs that set only: it
            // is skipped to its terminator and the set is marked as faulty.
            Err(e) if b.open_set.is_some() => {
                pos = memchr::memchr(d.segment, &input[e.offset..])
                    .map_or(input.len(), |t| e.offset + t + 1);
                b.open_fault.get_or_insert(e);
                continue;
            }
            Err(e) => return Err(e),
        }
        match b.structure(kind)? {
            Step::Continue => {}
            Step::End => break,
            Step::EndBefore(offset) => {
                pos = offset;
                break;
            }
        }
    }
    b.finish(kind, pos)
}

impl<'a> Builder<'a> {
    fn error(&self, offset: usize, kind: X12ErrorKind) -> X12Error {
        X12Error {
            segment: self.ix.base + self.ix.segs.len(),
            offset,
            kind,
        }
    }

    fn warn(&mut self, local: usize, kind: WarningKind) {
        let offset = self.ix.segs.get(local).map_or(0, |s| s.offset);
        self.ix.warnings.push(Warning {
            segment: self.ix.base + local,
            offset,
            kind,
        });
    }

    /// Element `n` of the segment with local index `local`, with the input's lifetime so that
    /// the builder stays free to record warnings.
    fn el(&self, local: usize, n: usize) -> &'a str {
        let rec = self.ix.segs[local];
        self.ix.els[rec.start..rec.end]
            .get(n)
            .copied()
            .unwrap_or("")
    }

    fn push(&mut self, from: usize, to: usize) {
        self.ix.els.push(&self.text[from..to]);
    }

    /// Cuts the segment starting at `pos` into elements. Returns the position after it, and
    /// whether it was a segment (`false` for an empty one, which is skipped). On error nothing
    /// of the segment is kept.
    fn tokenize(&mut self, pos: usize) -> Result<(usize, bool), X12Error> {
        let first = self.ix.els.len();
        let result = self.tokenize_at(pos);
        if result.is_err() {
            self.ix.els.truncate(first);
        }
        result
    }

    fn tokenize_at(&mut self, pos: usize) -> Result<(usize, bool), X12Error> {
        let input = self.input;
        let n = input.len();
        let first = self.ix.els.len();
        let mut start = pos;
        let mut i = pos;
        let mut missing_terminator = false;
        let end = loop {
            if i >= n {
                // The last segment of a file often lacks its terminator; with line breaks as
                // terminators that is even the norm.
                let to = trim_cr(input, start, n);
                self.push(start, to);
                missing_terminator = self.d.segment != b'\n';
                break n;
            }
            match self.class[usize::from(input[i])] {
                0 => {}
                1 => {
                    self.push(start, i);
                    start = i + 1;
                }
                2 => {
                    let to = if self.d.segment == b'\n' {
                        trim_cr(input, start, i)
                    } else {
                        i
                    };
                    self.push(start, to);
                    break i + 1;
                }
                _ => {
                    // A line break where the terminator should be: accept it when a segment
                    // clearly starts on the next line.
                    let next = skip_ws(input, i + 1);
                    if next >= n || looks_like_segment_start(input, next, &self.d) {
                        let to = trim_cr(input, start, i);
                        self.push(start, to);
                        missing_terminator = true;
                        break i + 1;
                    }
                    let id = self.text[pos..i].split(char::from(self.d.element)).next();
                    return Err(self.error(
                        i,
                        X12ErrorKind::LineBreakInSegment {
                            id: id.unwrap_or("").to_owned(),
                            terminator: char::from(self.d.segment),
                        },
                    ));
                }
            }
            i += 1;
        };
        let id = self.ix.els[first];
        if self.ix.els.len() == first + 1 && id.is_empty() {
            self.ix.els.truncate(first);
            let local = self.ix.segs.len();
            self.ix.warnings.push(Warning {
                segment: self.ix.base + local,
                offset: pos,
                kind: WarningKind::EmptySegment,
            });
            return Ok((end, false));
        }
        if !valid_id(id) {
            return Err(self.error(pos, X12ErrorKind::InvalidSegmentId { id: id.to_owned() }));
        }
        self.ix.segs.push(SegRec {
            start: first,
            end: self.ix.els.len(),
            offset: pos,
        });
        if missing_terminator {
            let local = self.ix.segs.len() - 1;
            self.warn(local, WarningKind::MissingTerminator { id: id.to_owned() });
        }
        Ok((end, true))
    }

    fn unexpected(&self, local: usize, reason: impl Into<String>) -> X12Error {
        let seg = self.ix.seg(local);
        X12Error {
            segment: seg.index,
            offset: seg.offset,
            kind: X12ErrorKind::UnexpectedSegment {
                id: seg.id().to_owned(),
                reason: reason.into(),
            },
        }
    }

    /// Closes the open transaction set, which ends without its SE before segment `local` (an
    /// ST, GS, GE, IEA or ISA): the set is faulty, the segment is read as what it is.
    fn close_unterminated(&mut self, local: usize, reason: &str) {
        let Some(st) = self.open_set.take() else {
            return;
        };
        let fault = self.unexpected(
            local,
            format!(
                "{reason} before the SE of transaction set {:?} (ST at segment index {})",
                self.el(st, 2),
                self.ix.base + st
            ),
        );
        let fault = self.open_fault.take().unwrap_or(fault);
        self.close_set(st, local - 1, Some(fault));
    }

    fn close_set(&mut self, st: usize, se: usize, fault: Option<X12Error>) {
        let g = self.open_group.unwrap_or(0);
        let fault = fault.map(|f| {
            self.ix.faults.push(f);
            self.ix.faults.len() - 1
        });
        self.ix.groups[g].sets.push(SetRec { st, se, fault });
        if fault.is_none() {
            self.check_set(st, se);
        }
        // A group without GS closes with its set so that a following GS starts cleanly.
        if self.ix.groups[g].gs.is_none() {
            self.open_group = None;
        }
    }

    /// Fits the segment just read into the envelope structure.
    fn structure(&mut self, kind: Start) -> Result<Step, X12Error> {
        let local = self.ix.segs.len() - 1;
        match self.el(local, 0) {
            "ISA" => {
                if local != 0 {
                    // Another interchange begins: this one ends before it (without its IEA, if
                    // it gets here).
                    self.close_unterminated(local, "ISA");
                    let rec = self.ix.segs.pop().expect("the ISA just read");
                    self.ix.els.truncate(rec.start);
                    if let Some(g) = self.open_group.take()
                        && let Some(gs) = self.ix.groups[g].gs
                    {
                        self.warn(gs, WarningKind::MissingTrailer { expected: "GE" });
                    }
                    return Ok(Step::EndBefore(rec.offset));
                }
                self.ix.isa = Some(local);
            }
            "GS" => {
                self.close_unterminated(local, "GS");
                if let Some(g) = self.open_group.take() {
                    let gs = self.ix.groups[g].gs.unwrap_or(local);
                    self.warn(gs, WarningKind::MissingTrailer { expected: "GE" });
                }
                self.ix.groups.push(GroupRec {
                    gs: Some(local),
                    ge: None,
                    sets: Vec::new(),
                });
                self.open_group = Some(self.ix.groups.len() - 1);
            }
            "GE" => {
                self.close_unterminated(local, "GE");
                let Some(g) = self.open_group.take() else {
                    return Err(self.unexpected(local, "GE without GS"));
                };
                self.ix.groups[g].ge = Some(local);
                self.check_group(g, local);
            }
            "ST" => {
                self.close_unterminated(local, "ST");
                if self.open_group.is_none() {
                    if kind == Start::Isa {
                        self.warn(local, WarningKind::MissingGroupHeader);
                    }
                    // Bare sets, or sets after GE without a new GS, share one group without GS.
                    let reuse = self
                        .ix
                        .groups
                        .last()
                        .is_some_and(|g| g.gs.is_none() && g.ge.is_none());
                    if !reuse {
                        self.ix.groups.push(GroupRec {
                            gs: None,
                            ge: None,
                            sets: Vec::new(),
                        });
                    }
                    self.open_group = Some(self.ix.groups.len() - 1);
                }
                self.open_set = Some(local);
            }
            "SE" => {
                let Some(st) = self.open_set.take() else {
                    return Err(self.unexpected(local, "SE without ST"));
                };
                let fault = self.open_fault.take();
                self.close_set(st, local, fault);
            }
            "IEA" => {
                self.close_unterminated(local, "IEA");
                if kind != Start::Isa {
                    return Err(self.unexpected(local, "IEA without ISA"));
                }
                if let Some(g) = self.open_group.take()
                    && let Some(gs) = self.ix.groups[g].gs
                {
                    self.warn(gs, WarningKind::MissingTrailer { expected: "GE" });
                }
                self.ix.iea = Some(local);
                self.check_interchange(local);
                return Ok(Step::End);
            }
            // An interchange acknowledgement stands between the ISA and the first GS.
            "TA1" if self.open_set.is_none() && self.ix.groups.is_empty() => {}
            _ if self.open_set.is_none() => {
                return Err(
                    self.unexpected(local, "data segment outside a transaction set (ST … SE)")
                );
            }
            _ => {}
        }
        Ok(Step::Continue)
    }

    fn check_count(&mut self, at: usize, element: &'static str, declared: &str, actual: usize) {
        let ok = declared.trim().parse::<usize>().is_ok_and(|n| n == actual);
        if !ok {
            self.warn(
                at,
                WarningKind::CountMismatch {
                    element,
                    declared: declared.trim().to_owned(),
                    actual,
                },
            );
        }
    }

    fn check_control(
        &mut self,
        at: usize,
        (trailer, trailer_value): (&'static str, &str),
        (header, header_value): (&'static str, &str),
    ) {
        if !same_control(trailer_value, header_value) {
            self.warn(
                at,
                WarningKind::ControlNumberMismatch {
                    trailer,
                    trailer_value: trailer_value.trim().to_owned(),
                    header,
                    header_value: header_value.trim().to_owned(),
                },
            );
        }
    }

    fn check_set(&mut self, st: usize, se: usize) {
        let (declared, trailer, header) = (self.el(se, 1), self.el(se, 2), self.el(st, 2));
        self.check_count(se, "SE01", declared, se - st + 1);
        self.check_control(se, ("SE02", trailer), ("ST02", header));
    }

    fn check_group(&mut self, g: usize, ge: usize) {
        let (declared, trailer) = (self.el(ge, 1), self.el(ge, 2));
        let actual = self.ix.groups[g].sets.len();
        self.check_count(ge, "GE01", declared, actual);
        if let Some(gs) = self.ix.groups[g].gs {
            let header = self.el(gs, 6);
            self.check_control(ge, ("GE02", trailer), ("GS06", header));
        }
    }

    fn check_interchange(&mut self, iea: usize) {
        let (declared, trailer) = (self.el(iea, 1), self.el(iea, 2));
        let actual = self.ix.groups.iter().filter(|g| g.gs.is_some()).count();
        self.check_count(iea, "IEA01", declared, actual);
        if let Some(isa) = self.ix.isa {
            let header = self.el(isa, 13);
            self.check_control(iea, ("IEA02", trailer), ("ISA13", header));
        }
    }

    fn finish(mut self, kind: Start, end: usize) -> Result<Interchange<'a>, X12Error> {
        if let Some(st) = self.open_set.take() {
            let seg = self.ix.seg(st);
            let fault = X12Error {
                segment: seg.index,
                offset: seg.offset,
                kind: X12ErrorKind::UnterminatedTransactionSet {
                    control: seg.element(2).to_owned(),
                    st: seg.index,
                },
            };
            let fault = self.open_fault.take().unwrap_or(fault);
            let last = self.ix.segs.len() - 1;
            self.close_set(st, last, Some(fault));
        }
        if let Some(g) = self.open_group
            && let Some(gs) = self.ix.groups[g].gs
        {
            self.warn(gs, WarningKind::MissingTrailer { expected: "GE" });
        }
        if kind == Start::Isa && self.ix.iea.is_none() {
            self.warn(0, WarningKind::MissingTrailer { expected: "IEA" });
        }
        self.ix.span.end = end;
        Ok(self.ix)
    }
}

fn trim_cr(input: &[u8], start: usize, mut end: usize) -> usize {
    while end > start && input[end - 1] == b'\r' {
        end -= 1;
    }
    end
}
