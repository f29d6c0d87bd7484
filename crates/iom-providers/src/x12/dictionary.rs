//! The X12 element definitions of every segment iom writes (855, 856, 810, 940, 997 and their
//! envelopes), as the 004010 and 005010 dictionaries give them: reference number, data type,
//! minimum and maximum length, and whether the element is mandatory.
//!
//! Written out by hand because no maintained Rust crate carries the X12 data element dictionary;
//! only the segments iom writes are here, and [`super::validate`] refuses any other, so a new
//! segment in a writer cannot go out unchecked. The two versions agree on every element listed,
//! except ST03 (the implementation convention reference, 005010 only), which iom never writes.

/// An X12 data element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `ID`: a code from a code list (upper-case letters, digits and a few signs).
    Id,
    /// `AN`: a string in the interchange's character set.
    An,
    /// `Nn`: an integer with `n` implied decimals (`N0`, `N2`); the length counts digits only.
    N(u8),
    /// `R`: a decimal number with an explicit point; the length counts digits only.
    R,
    /// `DT`: a date, `YYMMDD` (6) or `CCYYMMDD` (8).
    Dt,
    /// `TM`: a time, `HHMM`, `HHMMSS` or `HHMMSSd…`.
    Tm,
    /// A composite of components, each an `N0` of 1 to 2 digits (AK4's C030 position in segment).
    Position,
}

/// One element of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Element {
    /// The data element reference number (`324`, or `I12` in the interchange header).
    pub reference: &'static str,
    pub kind: Kind,
    pub min: u8,
    pub max: u8,
    pub mandatory: bool,
}

const fn m(reference: &'static str, kind: Kind, min: u8, max: u8) -> Element {
    Element {
        reference,
        kind,
        min,
        max,
        mandatory: true,
    }
}

const fn o(reference: &'static str, kind: Kind, min: u8, max: u8) -> Element {
    Element {
        reference,
        kind,
        min,
        max,
        mandatory: false,
    }
}

use Kind::{An, Dt, Id, N, Position, R, Tm};

const N0: Kind = N(0);
const N2: Kind = N(2);

/// A product id qualifier (235) and the id (234), as repeated in PO1, IT1, LIN and ACK.
const Q: Element = o("235", Id, 2, 2);
const P: Element = o("234", An, 1, 48);

const ISA: &[Element] = &[
    m("I01", Id, 2, 2),
    m("I02", An, 10, 10),
    m("I03", Id, 2, 2),
    m("I04", An, 10, 10),
    m("I05", Id, 2, 2),
    m("I06", An, 15, 15),
    m("I05", Id, 2, 2),
    m("I07", An, 15, 15),
    m("I08", Dt, 6, 6),
    m("I09", Tm, 4, 4),
    // I10 standards identifier (`U`) in 004010, I65 repetition separator from 00402 on.
    m("I10", An, 1, 1),
    m("I11", Id, 5, 5),
    m("I12", N0, 9, 9),
    m("I13", Id, 1, 1),
    m("I14", Id, 1, 1),
    m("I15", An, 1, 1),
];
const GS: &[Element] = &[
    m("479", Id, 2, 2),
    m("142", An, 2, 15),
    m("124", An, 2, 15),
    m("373", Dt, 8, 8),
    m("337", Tm, 4, 8),
    m("28", N0, 1, 9),
    m("455", Id, 1, 2),
    m("480", An, 1, 12),
];
const ST: &[Element] = &[m("143", Id, 3, 3), m("329", An, 4, 9), o("1705", An, 1, 35)];
const SE: &[Element] = &[m("96", N0, 1, 10), m("329", An, 4, 9)];
const GE: &[Element] = &[m("97", N0, 1, 6), m("28", N0, 1, 9)];
const IEA: &[Element] = &[m("I16", N0, 1, 5), m("I12", N0, 9, 9)];

const BAK: &[Element] = &[
    m("353", Id, 2, 2),
    m("587", Id, 2, 2),
    m("324", An, 1, 22),
    m("373", Dt, 8, 8),
    o("328", An, 1, 30),
    o("326", An, 1, 45),
    o("367", An, 1, 30),
    o("127", An, 1, 30),
    o("373", Dt, 8, 8),
];
const CUR: &[Element] = &[m("98", Id, 2, 3), m("100", Id, 3, 3)];
const N1: &[Element] = &[
    m("98", Id, 2, 3),
    o("93", An, 1, 60),
    o("66", Id, 1, 2),
    o("67", An, 2, 80),
];
const N3: &[Element] = &[m("166", An, 1, 55), o("166", An, 1, 55)];
const N4: &[Element] = &[
    o("19", An, 2, 30),
    o("156", Id, 2, 2),
    o("116", Id, 3, 15),
    o("26", Id, 2, 3),
];
const PO1: &[Element] = &[
    o("350", An, 1, 20),
    o("330", R, 1, 15),
    o("355", Id, 2, 2),
    o("212", R, 1, 17),
    o("639", Id, 2, 2),
    Q,
    P,
    Q,
    P,
    Q,
    P,
];
const ACK: &[Element] = &[
    m("668", Id, 2, 2),
    o("380", R, 1, 15),
    o("355", Id, 2, 2),
    o("374", Id, 3, 3),
    o("373", Dt, 8, 8),
    o("326", An, 1, 45),
    Q,
    P,
    Q,
    P,
];
const CTT: &[Element] = &[m("354", N0, 1, 6), o("347", R, 1, 10)];
const BSN: &[Element] = &[
    m("353", Id, 2, 2),
    m("396", An, 2, 30),
    m("373", Dt, 8, 8),
    m("337", Tm, 4, 8),
    o("1005", Id, 4, 4),
];
const HL: &[Element] = &[
    m("628", An, 1, 12),
    o("734", An, 1, 12),
    m("735", Id, 1, 2),
    o("736", Id, 1, 1),
];
const TD5: &[Element] = &[
    o("133", Id, 1, 2),
    o("66", Id, 1, 2),
    o("67", An, 2, 80),
    o("91", Id, 1, 2),
    o("387", An, 1, 35),
    o("368", Id, 2, 2),
    o("309", Id, 1, 2),
    o("310", An, 1, 30),
    o("731", Id, 2, 2),
    o("732", Id, 2, 2),
    o("733", R, 1, 4),
    o("284", Id, 2, 2),
];
const REF: &[Element] = &[m("128", Id, 2, 3), o("127", An, 1, 30), o("352", An, 1, 80)];
const DTM: &[Element] = &[m("374", Id, 3, 3), o("373", Dt, 8, 8), o("337", Tm, 4, 8)];
const PRF: &[Element] = &[
    m("324", An, 1, 22),
    o("328", An, 1, 30),
    o("327", An, 1, 8),
    o("373", Dt, 8, 8),
];
const LIN: &[Element] = &[
    o("350", An, 1, 20),
    m("235", Id, 2, 2),
    m("234", An, 1, 48),
    Q,
    P,
    Q,
    P,
];
const SN1: &[Element] = &[o("350", An, 1, 20), m("382", R, 1, 10), m("355", Id, 2, 2)];
const BIG: &[Element] = &[
    m("373", Dt, 8, 8),
    m("76", An, 1, 22),
    o("373", Dt, 8, 8),
    o("324", An, 1, 22),
    o("328", An, 1, 30),
    o("327", An, 1, 8),
    o("640", Id, 2, 2),
    o("353", Id, 2, 2),
];
const IT1: &[Element] = &[
    o("350", An, 1, 20),
    o("358", R, 1, 10),
    o("355", Id, 2, 2),
    o("212", R, 1, 17),
    o("639", Id, 2, 2),
    Q,
    P,
    Q,
    P,
    Q,
    P,
];
const TDS: &[Element] = &[m("610", N2, 1, 15), o("610", N2, 1, 15)];
const TXI: &[Element] = &[m("963", Id, 2, 2), o("782", R, 1, 18), o("954", R, 1, 10)];
const SAC: &[Element] = &[
    m("248", Id, 1, 1),
    o("1300", Id, 4, 4),
    o("559", Id, 2, 2),
    o("1301", An, 1, 10),
    o("610", N2, 1, 15),
    o("378", Id, 1, 1),
    o("332", R, 1, 6),
    o("118", R, 1, 9),
    o("355", Id, 2, 2),
    o("380", R, 1, 15),
    o("380", R, 1, 15),
    o("331", Id, 2, 2),
    o("127", An, 1, 30),
    o("770", An, 1, 20),
    o("352", An, 1, 80),
];
const PID: &[Element] = &[
    m("349", Id, 1, 1),
    o("750", Id, 2, 3),
    o("559", Id, 2, 2),
    o("751", An, 1, 12),
    o("352", An, 1, 80),
];
const W05: &[Element] = &[m("473", Id, 1, 1), m("324", An, 1, 22), o("324", An, 1, 22)];
const N9: &[Element] = &[m("128", Id, 2, 3), o("127", An, 1, 30), o("369", An, 1, 45)];
const G62: &[Element] = &[
    o("432", Id, 2, 2),
    o("373", Dt, 8, 8),
    o("176", Id, 1, 1),
    o("337", Tm, 4, 8),
];
const W66: &[Element] = &[
    m("146", Id, 2, 2),
    m("91", Id, 1, 2),
    o("133", Id, 1, 2),
    o("310", An, 1, 30),
    o("387", An, 1, 35),
    o("335", Id, 3, 3),
    o("309", Id, 1, 2),
    o("1351", Id, 1, 1),
    o("1352", N2, 1, 15),
    o("140", Id, 2, 4),
];
const LX: &[Element] = &[m("554", N0, 1, 6)];
const W01: &[Element] = &[
    m("380", R, 1, 15),
    m("355", Id, 2, 2),
    o("438", An, 12, 12),
    Q,
    P,
    Q,
    P,
];
const G69: &[Element] = &[m("352", An, 1, 45)];
const W76: &[Element] = &[m("347", R, 1, 15)];
const AK1: &[Element] = &[m("479", Id, 2, 2), m("28", N0, 1, 9)];
const AK2: &[Element] = &[m("143", Id, 3, 3), m("329", An, 4, 9)];
const AK3: &[Element] = &[
    m("721", Id, 2, 3),
    m("719", N0, 1, 6),
    o("447", An, 1, 4),
    o("720", Id, 1, 3),
];
const AK4: &[Element] = &[
    m("C030", Position, 1, 5),
    o("725", N0, 1, 4),
    m("723", Id, 1, 3),
    o("724", An, 1, 99),
];
const AK5: &[Element] = &[
    m("717", Id, 1, 1),
    o("718", Id, 1, 3),
    o("718", Id, 1, 3),
    o("718", Id, 1, 3),
    o("718", Id, 1, 3),
    o("718", Id, 1, 3),
];
const AK9: &[Element] = &[
    m("715", Id, 1, 1),
    m("97", N0, 1, 6),
    m("123", N0, 1, 6),
    m("2", N0, 1, 6),
    o("716", Id, 1, 3),
    o("716", Id, 1, 3),
    o("716", Id, 1, 3),
    o("716", Id, 1, 3),
    o("716", Id, 1, 3),
];

/// The elements of segment `id`, or `None` for a segment iom does not write.
pub fn segment(id: &str) -> Option<&'static [Element]> {
    Some(match id {
        "ISA" => ISA,
        "GS" => GS,
        "ST" => ST,
        "SE" => SE,
        "GE" => GE,
        "IEA" => IEA,
        "BAK" => BAK,
        "CUR" => CUR,
        "N1" => N1,
        "N3" => N3,
        "N4" => N4,
        "PO1" => PO1,
        "ACK" => ACK,
        "CTT" => CTT,
        "BSN" => BSN,
        "HL" => HL,
        "TD5" => TD5,
        "REF" => REF,
        "DTM" => DTM,
        "PRF" => PRF,
        "LIN" => LIN,
        "SN1" => SN1,
        "BIG" => BIG,
        "IT1" => IT1,
        "TDS" => TDS,
        "TXI" => TXI,
        "SAC" => SAC,
        "PID" => PID,
        "W05" => W05,
        "N9" => N9,
        "G62" => G62,
        "W66" => W66,
        "LX" => LX,
        "W01" => W01,
        "G69" => G69,
        "W76" => W76,
        "AK1" => AK1,
        "AK2" => AK2,
        "AK3" => AK3,
        "AK4" => AK4,
        "AK5" => AK5,
        "AK9" => AK9,
        _ => return None,
    })
}
