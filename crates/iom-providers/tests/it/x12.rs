use iom_domain::Address;
use iom_providers::x12::{self, Problem, WarningKind, X12ErrorKind};
use serde_json::json;

use crate::{dec, lines, sample, valid};

fn address(a: &Address) -> [Option<&str>; 7] {
    [
        a.name.as_deref(),
        a.line1.as_deref(),
        a.line2.as_deref(),
        a.city.as_deref(),
        a.region.as_deref(),
        a.postal_code.as_deref(),
        Some(a.country.as_str()),
    ]
}

fn kinds(ix: &x12::Interchange<'_>) -> Vec<WarningKind> {
    ix.warnings().iter().map(|w| w.kind.clone()).collect()
}

// ---------------------------------------------------------------- tokenizer and envelopes

#[test]
fn bom_and_nbsp_padded_isa_are_read() {
    let data = sample("x12/EDI.Net_x12.850.edi");
    let ix = x12::parse(&data).unwrap();
    let d = ix.delimiters();
    assert_eq!(
        (d.element, d.component, d.segment),
        (b'*', Some(b'>'), b'~')
    );
    let isa = ix.isa().unwrap();
    // ISA06/ISA08 are padded with U+00A0, which is trimmed like spaces.
    assert_eq!(isa.get(6), Some("000123456"));
    assert_eq!(isa.get(8), Some("PARTNERID"));
    assert_eq!(isa.get(13), Some("000000055"));
    assert_eq!(ix.len(), 15);
    let sets: Vec<_> = ix.transaction_sets().collect();
    assert_eq!(sets.len(), 1);
    assert_eq!((sets[0].id(), sets[0].control_number()), ("850", "0003"));
    assert_eq!(sets[0].group().functional_id(), Some("PO"));
    // IEA02 (000000001) does not match ISA13 (000000055): accepted, with a warning on IEA.
    assert_eq!(
        kinds(&ix),
        vec![WarningKind::ControlNumberMismatch {
            trailer: "IEA02",
            trailer_value: "000000001".into(),
            header: "ISA13",
            header_value: "000000055".into(),
        }]
    );
    assert_eq!(ix.warnings()[0].segment, 14);
    assert_eq!(ix.iea().unwrap().index(), 14);
}

#[test]
fn tab_indented_segments_are_read() {
    let data = sample("x12/EDI.Net_x12.850a.edi");
    let ix = x12::parse(&data).unwrap();
    let set = ix.transaction_sets().next().unwrap();
    assert_eq!(set.segments().len(), 50);
    let beg = set.body().next().unwrap();
    assert_eq!(beg.id(), "BEG");
    assert_eq!(beg.element(3), "4600000406");
    // The tab before BEG is not part of the segment, and the offset points at "BEG".
    assert_eq!(&data[beg.offset()..beg.offset() + 4], b"BEG*");
}

#[test]
fn missing_terminator_before_newline_and_empty_isa16() {
    let data = sample("x12/EDI.Net_x12.850.issue135.edi");
    let ix = x12::parse(&data).unwrap();
    let d = ix.delimiters();
    assert_eq!((d.element, d.component, d.segment), (b'*', None, b'~'));
    assert_eq!(
        kinds(&ix),
        vec![WarningKind::MissingTerminator { id: "DTM".into() }]
    );
    let w = &ix.warnings()[0];
    let seg = ix.segment(w.segment).unwrap();
    // The segment ends at the line break and the next segment is read normally.
    assert_eq!(seg.elements(), &["038", "20190309"]);
    assert_eq!(ix.segment(w.segment + 1).unwrap().id(), "PO1");
    assert_eq!(ix.segment(w.segment + 1).unwrap().element(1), "30");
    let sets: Vec<_> = ix.transaction_sets().collect();
    assert_eq!(sets.len(), 2);
    assert_eq!(ix.groups().len(), 1);
    assert_eq!(sets[0].segments().len(), 87);
    assert_eq!(sets[1].segments().len(), 95);
}

#[test]
fn bare_transaction_set_infers_delimiters() {
    let data = sample("x12/x12-types_945_2.edi");
    let ix = x12::parse(&data).unwrap();
    assert!(ix.isa().is_none());
    let d = ix.delimiters();
    assert_eq!((d.element, d.component, d.segment), (b'*', None, b'~'));
    let groups: Vec<_> = ix.groups().collect();
    assert_eq!(groups.len(), 1);
    assert!(groups[0].gs().is_none());
    let set = ix.transaction_sets().next().unwrap();
    assert_eq!(set.segments().len(), 29);
    assert_eq!(
        kinds(&ix),
        vec![WarningKind::CountMismatch {
            element: "SE01",
            declared: "32".into(),
            actual: 29
        }]
    );
}

#[test]
fn several_bare_sets_one_after_the_other() {
    let data = sample("x12/x12-types_997_2.edi");
    let ix = x12::parse(&data).unwrap();
    let sets: Vec<_> = ix.transaction_sets().map(|s| s.control_number()).collect();
    assert_eq!(sets, ["0001", "0002"]);
    assert!(ix.warnings().is_empty(), "{:?}", ix.warnings());
}

#[test]
fn control_count_mismatches_are_warnings() {
    let ix_data = sample("x12/x12-types_856_1.edi");
    let ix = x12::parse(&ix_data).unwrap();
    assert_eq!(
        kinds(&ix),
        vec![WarningKind::CountMismatch {
            element: "GE01",
            declared: "2".into(),
            actual: 1
        }]
    );
    let data = sample("x12/x12-types_940_1.edi");
    let ix = x12::parse(&data).unwrap();
    // ISA16 is a backslash here.
    assert_eq!(ix.delimiters().component, Some(b'\\'));
    assert_eq!(
        kinds(&ix),
        vec![
            WarningKind::ControlNumberMismatch {
                trailer: "GE02",
                trailer_value: "575103".into(),
                header: "GS06",
                header_value: "3317".into(),
            },
            WarningKind::ControlNumberMismatch {
                trailer: "IEA02",
                trailer_value: "3317".into(),
                header: "ISA13",
                header_value: "000003438".into(),
            },
        ]
    );
}

#[test]
fn every_conformance_x12_sample_parses() {
    let expected = [
        ("EDI.Net_x12.810a.edi", "810", 1),
        ("EDI.Net_x12.810b.edi", "810", 1),
        ("EDI.Net_x12.810c.edi", "810", 1),
        ("EDI.Net_x12.810d.edi", "810", 1),
        ("x12-types_810_1.edi", "810", 1),
        ("x12-types_810_2.edi", "810", 1),
        ("x12-types_810_3.edi", "810", 1),
        ("x12-types_940_1.edi", "940", 1),
        ("x12-types_940_2.edi", "940", 1),
        ("x12-types_940_3.edi", "940", 1),
        ("x12-types_997_1.edi", "997", 1),
        ("x12-types_997_3.edi", "997", 1),
    ];
    for (file, id, count) in expected {
        let data = sample(&format!("x12/{file}"));
        let ix = x12::parse(&data).unwrap_or_else(|e| panic!("{file}: {e}"));
        let sets: Vec<_> = ix.transaction_sets().collect();
        assert_eq!(sets.len(), count, "{file}");
        assert!(sets.iter().all(|s| s.id() == id), "{file}");
    }
    // The 5010 invoice keeps its version; the Maersk invoice has no envelope.
    let data = sample("x12/x12-types_810_2.edi");
    assert_eq!(
        x12::parse(&data).unwrap().isa().unwrap().get(12),
        Some("00501")
    );
    let data = sample("x12/x12-types_810_3.edi");
    let ix = x12::parse(&data).unwrap();
    let cur = ix.segments().find(|s| s.id() == "CUR").unwrap();
    assert_eq!(cur.get(2), Some("GBP"));
}

#[test]
fn composite_elements_are_split_on_the_component_separator() {
    let doc = b"ISA*00*          *00*          *ZZ*A              *ZZ*B              *200101*1200*^*00501*000000001*0*P*:~GS*PO*A*B*20200101*1200*1*X*005010~ST*850*0001~BEG*00*SA*1**20200101~PO1*1*2*EA*3.5**VP*X-1~MEA*PD*WD*61.5*IN:2:3~SE*5*0001~GE*1*1~IEA*1*000000001~";
    let ix = x12::parse(doc).unwrap();
    assert_eq!(ix.delimiters().repetition, Some(b'^'));
    assert_eq!(ix.delimiters().component, Some(b':'));
    let mea = ix.segments().find(|s| s.id() == "MEA").unwrap();
    assert_eq!(mea.components(4).collect::<Vec<_>>(), ["IN", "2", "3"]);
    assert_eq!(mea.component(4, 2), Some("2"));
    assert_eq!(mea.component(4, 4), None);
    assert!(ix.warnings().is_empty(), "{:?}", ix.warnings());
}

#[test]
fn newline_terminated_segments() {
    let doc = b"ISA*00*          *00*          *ZZ*A              *ZZ*B              *200101*1200*U*00401*000000001*0*P*>\r\nGS*PO*A*B*20200101*1200*1*X*004010\r\nST*850*0001\r\nBEG*00*SA*77**20200101\r\nPO1*1*2*EA*3.5**VP*X-1\r\nSE*4*0001\r\nGE*1*1\r\nIEA*1*000000001\r\n";
    let ix = x12::parse(doc).unwrap();
    assert_eq!(ix.delimiters().segment, b'\n');
    assert_eq!(ix.delimiters().component, Some(b'>'));
    let po1 = ix.segments().find(|s| s.id() == "PO1").unwrap();
    // The carriage return is not part of the last element.
    assert_eq!(po1.element(7), "X-1");
    assert!(ix.warnings().is_empty(), "{:?}", ix.warnings());
}

#[test]
fn several_interchanges_need_parse_many() {
    let mut data = sample("x12/x12-types_856_2.edi");
    data.extend_from_slice(b"\n");
    data.extend(sample("x12/x12-types_945_3.edi"));
    let err = x12::parse(&data).unwrap_err();
    assert_eq!(err.kind, X12ErrorKind::SeveralInterchanges);
    assert_eq!(err.segment, 17);
    assert_eq!(&data[err.offset..err.offset + 3], b"ISA");

    let all = x12::parse_many(&data).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].transaction_sets().next().unwrap().id(), "856");
    assert_eq!(all[1].transaction_sets().next().unwrap().id(), "945");
    // Segment indices run on across the document.
    assert_eq!(all[1].isa().unwrap().index(), 17);
    assert_eq!(all[1].segment(17).unwrap().id(), "ISA");
}

// ---------------------------------------------------------------- errors and their positions

#[test]
fn error_not_x12() {
    let err = x12::parse(b"\xEF\xBB\xBF  <Order>hello</Order>").unwrap_err();
    assert_eq!((err.segment, err.offset), (0, 5));
    assert_eq!(
        err.kind,
        X12ErrorKind::NotX12 {
            found: "<Order>hello</Order>".into()
        }
    );
    let err = x12::parse(b" \n ").unwrap_err();
    assert_eq!(err.kind, X12ErrorKind::Empty);
}

#[test]
fn error_invalid_segment_id_names_segment_and_offset() {
    let doc = b"ST*850*0001~BEG*00*SA*1**20200101~b@d*1~SE*4*0001~";
    let err = x12::parse(doc).unwrap_err();
    assert_eq!((err.segment, err.offset), (2, 34));
    assert_eq!(
        err.kind,
        X12ErrorKind::InvalidSegmentId { id: "b@d".into() }
    );
    assert_eq!(
        err.to_string(),
        "X12 error at segment index 2 (byte 34): \"b@d\" is not a segment identifier (2 or 3 upper-case letters or digits)"
    );
}

#[test]
fn error_line_break_inside_a_segment() {
    let doc = b"ST*850*0001~BEG*00*SA\n*1~SE*3*0001~";
    let err = x12::parse(doc).unwrap_err();
    assert_eq!((err.segment, err.offset), (1, 21));
    assert_eq!(
        err.kind,
        X12ErrorKind::LineBreakInSegment {
            id: "BEG".into(),
            terminator: '~'
        }
    );
}

#[test]
fn error_transaction_set_without_se() {
    let doc = b"ST*850*0001~BEG*00*SA*1**20200101~PO1*1*1*EA*1**VP*A~";
    let err = x12::parse(doc).unwrap_err();
    assert_eq!((err.segment, err.offset), (0, 0));
    assert_eq!(
        err.kind,
        X12ErrorKind::UnterminatedTransactionSet {
            control: "0001".into(),
            st: 0
        }
    );
}

#[test]
fn error_segment_outside_a_transaction_set() {
    let doc = b"ISA*00*          *00*          *ZZ*A              *ZZ*B              *200101*1200*U*00401*000000001*0*P*>~GS*PO*A*B*20200101*1200*1*X*004010~BEG*00*SA*1~";
    let err = x12::parse(doc).unwrap_err();
    assert_eq!(err.segment, 2);
    assert_eq!(&doc[err.offset..err.offset + 4], b"BEG*");
    assert!(matches!(err.kind, X12ErrorKind::UnexpectedSegment { ref id, .. } if id == "BEG"));
}

#[test]
fn error_nested_st() {
    let doc = b"ST*850*0001~BEG*00*SA*1~ST*850*0002~SE*2*0002~";
    let err = x12::parse(doc).unwrap_err();
    assert_eq!((err.segment, err.offset), (2, 24));
    assert_eq!(
        err.kind,
        X12ErrorKind::UnexpectedSegment {
            id: "ST".into(),
            reason: "ST before the SE of transaction set \"0001\" (ST at segment index 0)".into()
        }
    );
}

#[test]
fn error_truncated_isa() {
    let err = x12::parse(b"ISA*00*          *00*    ").unwrap_err();
    assert_eq!((err.segment, err.offset), (0, 0));
    assert!(
        matches!(err.kind, X12ErrorKind::InvalidIsa(ref m) if m.contains("only 4 of 16")),
        "{err}"
    );
}

#[test]
fn error_invalid_utf8_names_segment_and_byte() {
    let doc = b"ST*850*0001~BEG*00*SA*1**20200101~PID*F****Caf\xE9~SE*4*0001~";
    let err = x12::parse(doc).unwrap_err();
    assert_eq!(err.kind, X12ErrorKind::InvalidUtf8);
    assert_eq!((err.segment, err.offset), (2, 46));
}

// ---------------------------------------------------------------- 850 → OrderIntake

#[test]
fn po850_edi_net_sample() {
    let data = sample("x12/EDI.Net_x12.850.edi");
    let ix = x12::parse(&data).unwrap();
    let orders = x12::po850::orders(&ix, "edi-acme").unwrap();
    assert_eq!(orders.len(), 1);
    let intake = &orders[0];
    let attrs = intake.attributes.as_ref().unwrap();
    // No CUR segment: USD by default, and the order says so.
    assert_eq!(attrs["currency_defaulted"], json!(true));
    assert_eq!(attrs["x12_sender"], json!("000123456"));
    assert_eq!(attrs["references"], json!({"SR": "N"}));
    let order = valid(intake);
    assert_eq!(order.channel, "edi-acme");
    assert_eq!(order.external_id, "1000012");
    assert_eq!(order.currency.code(), "USD");
    assert_eq!(order.placed_at.to_rfc3339(), "2009-08-27T00:00:00+00:00");
    assert_eq!(lines(&order), [(1, "0054321".into(), 1, dec("19.95"))]);
    assert_eq!(order.lines[0].uom.as_deref(), Some("EA"));
    assert_eq!(
        address(order.ship_to.as_ref().unwrap()),
        [
            Some("John Doe"),
            Some("126 Any St"),
            None,
            Some("Hauppauge"),
            Some("NY"),
            Some("11788-1234"),
            Some("US")
        ]
    );
    assert_eq!(order.ship_method.as_deref(), Some("UPSG"));
    assert!(order.customer.is_none());
    assert_eq!(order.totals.total, dec("19.95"));
}

#[test]
fn po850_with_header_loops_and_buyer_part_numbers() {
    let data = sample("x12/EDI.Net_x12.850a.edi");
    let ix = x12::parse(&data).unwrap();
    let orders = x12::po850::orders(&ix, "edi").unwrap();
    let intake = &orders[0];
    let attrs = intake.attributes.as_ref().unwrap();
    assert!(attrs.get("currency_defaulted").is_none());
    assert_eq!(attrs["ship_to_id"], json!("T100"));
    let first_line = &intake.lines.as_ref().unwrap()[0];
    let line_attrs = first_line.attributes.as_ref().unwrap();
    // VN carries a description in this file; BP is preferred anyway.
    assert_eq!(
        line_attrs["product_ids"],
        json!({"BP": "A_QU001-BLK", "VN": "SINGLE LINE DIAMOND PATTERN"})
    );
    assert_eq!(line_attrs["description"], json!("4.4oz 3\" Diamond Quilt"));
    assert_eq!(line_attrs["x12_line_id"], json!("000100001"));

    let order = valid(intake);
    assert_eq!(order.external_id, "4600000406");
    assert_eq!(order.currency.code(), "USD");
    assert_eq!(order.placed_at.to_rfc3339(), "2014-07-24T00:00:00+00:00");
    assert_eq!(
        lines(&order),
        [
            (100001, "A_QU001-BLK".into(), 2500, dec("2.53")),
            (200001, "A_QF001-BLK".into(), 2000, dec("3.41")),
            (200002, "A_QF001-RED".into(), 1000, dec("3.41")),
        ]
    );
    assert!(order.lines.iter().all(|l| l.uom.as_deref() == Some("YD")));
    assert_eq!(
        address(order.ship_to.as_ref().unwrap()),
        [
            Some("Transplace Laredo"),
            Some("East Point Drive, Suite 500"),
            None,
            Some("Laredo"),
            Some("TX"),
            Some("78045"),
            Some("US")
        ]
    );
    assert_eq!(
        address(order.bill_to.as_ref().unwrap()),
        [
            Some("Test Inc."),
            Some("5750 Mercury Dr."),
            None,
            Some("Dearborn"),
            Some("MI"),
            Some("48121"),
            Some("US")
        ]
    );
    // N1*BY has only an id.
    let customer = order.customer.as_ref().unwrap();
    assert_eq!(
        (customer.id.as_deref(), customer.name.as_deref()),
        (Some("1500"), None)
    );
    assert_eq!(order.ship_method.as_deref(), Some("L"));
    assert_eq!(order.totals.total, dec("16555.00"));
}

#[test]
fn po850_issue135_two_orders_without_prices() {
    let data = sample("x12/EDI.Net_x12.850.issue135.edi");
    let ix = x12::parse(&data).unwrap();
    let orders = x12::po850::orders(&ix, "edi").unwrap();
    assert_eq!(orders.len(), 2);
    let first = valid(&orders[0]);
    let second = valid(&orders[1]);
    assert_eq!(
        (first.external_id.as_str(), second.external_id.as_str()),
        ("740150", "740151")
    );
    assert_eq!((first.lines.len(), second.lines.len()), (10, 11));
    // Currency from the line-level CUR; no ship-to in this document.
    assert_eq!(first.currency.code(), "USD");
    assert!(first.ship_to.is_none() && second.ship_to.is_none());
    assert_eq!(first.placed_at.to_rfc3339(), "2019-10-01T00:00:00+00:00");
    assert_eq!(second.placed_at.to_rfc3339(), "2019-11-01T00:00:00+00:00");
    assert_eq!(
        lines(&first)[..3],
        [
            (10, "F07EXPLBA1818".into(), 13200, dec("0")),
            (20, "F07EXPLLO1224".into(), 13892, dec("0")),
            (30, "F07EXPLLO1224".into(), 13892, dec("0")),
        ]
    );
    // PO101 numbers are not in ascending order (…, 60, 100, 70 …) and are kept as they are.
    let numbers: Vec<u32> = first.lines.iter().map(|l| l.line_no).collect();
    assert_eq!(numbers, [10, 20, 30, 40, 50, 60, 100, 70, 80, 90]);
    assert_eq!(
        lines(&second)[5],
        (110, "F19POCOSM0624P14".into(), 13430, dec("0"))
    );
    // No PO104: priced at zero and flagged for a flow to hold.
    assert!(
        first
            .lines
            .iter()
            .all(|l| l.attributes["unit_price_missing"] == json!(true))
    );
    assert_eq!(first.lines[0].uom.as_deref(), Some("SF"));
    assert_eq!(
        first.lines[0].attributes["description"],
        json!("EXPLORERBARCELONA18X18")
    );
    assert_eq!(first.ship_method.as_deref(), Some("O"));
}

#[test]
fn po850_vscode_loop_sample() {
    let data = sample("x12/vscode-edi-support_850-loop.edi");
    let ix = x12::parse(&data).unwrap();
    let orders = x12::po850::orders(&ix, "edi").unwrap();
    let intake = &orders[0];
    let attrs = intake.attributes.as_ref().unwrap();
    assert_eq!(
        attrs["x12_warnings"],
        json!(["CTT01 says 1 line items but there are 2 PO1"])
    );
    let order = valid(intake);
    assert_eq!(order.external_id, "0019-1234567-1234");
    assert_eq!(order.placed_at.to_rfc3339(), "2000-01-30T00:00:00+00:00");
    // PO1 1 carries IN, SK, UP, CB and EN: SK wins. PO1 2 has only IN.
    assert_eq!(
        lines(&order),
        [
            (1, "7680-02009152".into(), 3, dec("12.3")),
            (2, "123".into(), 3, dec("12.3")),
        ]
    );
    // The only N1*ST is inside the first PO1 loop, so the order has no ship-to.
    assert!(order.ship_to.is_none());
    let customer = order.customer.as_ref().unwrap();
    assert_eq!(
        customer.name.as_deref(),
        Some("Example.com Accounts Payable")
    );
    assert_eq!(customer.email.as_deref(), Some("test@ABC.COM"));
    assert_eq!(customer.phone.as_deref(), Some("111-222-3333"));
    assert_eq!(
        address(order.bill_to.as_ref().unwrap()),
        [
            Some("Example.com Accounts Payable"),
            Some("TNC 3110"),
            Some("PO Box 1296"),
            Some("Minneapolis"),
            Some("MN"),
            Some("55440"),
            Some("US")
        ]
    );
    assert_eq!(
        order.bill_to.as_ref().unwrap().company.as_deref(),
        Some("asde")
    );
}

#[test]
fn po850_mapping_error_points_at_the_element() {
    let doc = b"ST*850*0007~BEG*00*SA*PO-1**20200101~PO1*1*2.5*EA*3**VP*A~SE*4*0007~";
    let ix = x12::parse(doc).unwrap();
    let err = x12::po850::orders(&ix, "edi").unwrap_err();
    assert_eq!(err.segment_id, "PO1");
    assert_eq!((err.segment, err.offset, err.position), (2, 37, 3));
    assert_eq!(err.element, Some(2));
    assert_eq!(err.problem, Problem::InvalidValue);
    assert_eq!(
        err.to_string(),
        "850 \"0007\": PO102 (segment index 2, byte 37): \"2.5\" is not a whole quantity"
    );

    let doc = b"ST*850*0008~REF*IA*1~PO1*1*2*EA*3**VP*A~SE*4*0008~";
    let ix = x12::parse(doc).unwrap();
    let err = x12::po850::orders(&ix, "edi").unwrap_err();
    assert_eq!(
        (err.segment_id.as_str(), err.problem),
        ("BEG", Problem::MissingSegment)
    );
    assert_eq!(err.position, 4);

    let doc = b"ST*850*0009~BEG*00*SA*PO-9**2020011~PO1*1*2*EA*3**VP*A~SE*4*0009~";
    let ix = x12::parse(doc).unwrap();
    let err = x12::po850::orders(&ix, "edi").unwrap_err();
    assert_eq!((err.element, err.problem), (Some(5), Problem::InvalidDate));
}

#[test]
fn po850_line_numbers_fall_back_to_positions_when_ambiguous() {
    let doc = b"ST*850*0001~BEG*00*SA*PO-2**20200101~CUR*BY*EUR~PO1*A*1*EA*3**VP*X~PO1*1*1*EA*4**BP*Y~PO1*1*2*EA*5**ZZ*Z~SE*7*0001~";
    let ix = x12::parse(doc).unwrap();
    let orders = x12::po850::orders(&ix, "edi").unwrap();
    let order = valid(&orders[0]);
    assert_eq!(order.currency.code(), "EUR");
    assert_eq!(
        lines(&order),
        [
            (1, "X".into(), 1, dec("3")),
            (2, "Y".into(), 1, dec("4")),
            // An unknown qualifier: the first pair is used.
            (3, "Z".into(), 2, dec("5")),
        ]
    );
}

// ---------------------------------------------------------------- 856 and 945 → ShipmentNotice

#[test]
fn ship856_two_orders_with_packs() {
    let data = sample("x12/x12-types_856_1.edi");
    let ix = x12::parse(&data).unwrap();
    let notices = x12::ship856::notices(&ix).unwrap();
    assert_eq!(notices.len(), 2);
    let refs: Vec<_> = notices.iter().map(|n| n.order_ref.as_str()).collect();
    assert_eq!(refs, ["9988776655", "2288115555"]);
    for n in &notices {
        let items: Vec<_> = n
            .lines
            .iter()
            .map(|l| (l.line_no, l.sku.as_deref(), l.quantity, l.uom.as_deref()))
            .collect();
        assert_eq!(
            items,
            [
                (None, Some("008815509183"), 4, Some("EA")),
                (None, Some("008815547321"), 9, Some("EA")),
            ]
        );
        assert_eq!(n.carrier.as_deref(), Some("JBHT"));
        // No package-level tracking: the carrier's PRO number (REF*CN).
        assert_eq!(n.tracking.as_deref(), Some("082131"));
        assert_eq!(n.shipment_id.as_deref(), Some("01140824"));
        // DTM*011*200 is not a date; BSN03 is used instead.
        assert_eq!(
            n.ship_date.map(|d| d.to_string()).as_deref(),
            Some("2005-10-15")
        );
        assert_eq!(n.node.as_deref(), Some("SUPPLIER NAME"));
        assert_eq!(n.attributes["bill_of_lading"], json!("01140824"));
    }
    assert_eq!(
        notices[0].attributes["sscc"],
        json!(["00000010012345614785"])
    );
    assert_eq!(
        notices[1].attributes["sscc"],
        json!(["00000010012378945698"])
    );
}

#[test]
fn ship856_package_tracking() {
    let data = sample("x12/x12-types_856_2.edi");
    let ix = x12::parse(&data).unwrap();
    let notices = x12::ship856::notices(&ix).unwrap();
    assert_eq!(notices.len(), 1);
    let n = &notices[0];
    assert_eq!(n.order_ref, "DR3469500");
    assert_eq!(n.tracking.as_deref(), Some("1Z54242X0357922222"));
    assert_eq!(n.carrier, None);
    assert_eq!(
        n.ship_date.map(|d| d.to_string()).as_deref(),
        Some("2007-09-19")
    );
    assert_eq!(n.lines.len(), 1);
    let l = &n.lines[0];
    assert_eq!(
        (l.line_no, l.sku.as_deref(), l.quantity),
        (Some(1), Some("25901"), 2)
    );
}

#[test]
fn ship856_without_order_reference_is_refused() {
    let data = sample("x12/x12-types_856_3.edi");
    let ix = x12::parse(&data).unwrap();
    assert_eq!(
        kinds(&ix),
        vec![WarningKind::CountMismatch {
            element: "SE01",
            declared: "13".into(),
            actual: 17
        }]
    );
    let err = x12::ship856::notices(&ix).unwrap_err();
    assert_eq!(
        (err.segment_id.as_str(), err.problem),
        ("PRF", Problem::MissingSegment)
    );
    // HL*2*1*O is the 6th segment of the set and the 8th of the document.
    assert_eq!((err.position, err.segment), (6, 7));
    assert!(err.message.contains("order level HL 2 has no PRF"), "{err}");
}

#[test]
fn ship945_enveloped_with_shifted_w12() {
    let data = sample("x12/x12-types_945_1.edi");
    let ix = x12::parse(&data).unwrap();
    let n = x12::ship945::notices(&ix).unwrap().remove(0);
    assert_eq!(n.order_ref, "IF102");
    assert_eq!(n.purchase_order.as_deref(), Some("PO9865"));
    assert_eq!(n.shipment_id.as_deref(), Some("BOL12345"));
    assert_eq!(n.node.as_deref(), Some("CHI"));
    assert_eq!(n.carrier.as_deref(), Some("NPLT"));
    assert_eq!(n.tracking, None);
    assert_eq!(
        n.ship_date.map(|d| d.to_string()).as_deref(),
        Some("2019-06-04")
    );
    let l = &n.lines[0];
    assert_eq!(
        (l.line_no, l.sku.as_deref(), l.quantity, l.uom.as_deref()),
        (Some(10), Some("123456789"), 3000, Some("EA"))
    );
    assert_eq!(n.lines.len(), 1);
}

#[test]
fn ship945_bare_with_three_lines() {
    let data = sample("x12/x12-types_945_2.edi");
    let ix = x12::parse(&data).unwrap();
    let n = x12::ship945::notices(&ix).unwrap().remove(0);
    assert_eq!(n.order_ref, "01766655");
    assert_eq!(n.purchase_order.as_deref(), Some("9116"));
    assert_eq!(n.shipment_id.as_deref(), Some("1035"));
    assert_eq!(n.node.as_deref(), Some("708066"));
    assert_eq!(n.carrier.as_deref(), Some("TRUK"));
    assert_eq!(
        n.ship_date.map(|d| d.to_string()).as_deref(),
        Some("2013-10-29")
    );
    let items: Vec<_> = n
        .lines
        .iter()
        .map(|l| (l.line_no, l.sku.as_deref(), l.quantity, l.uom.as_deref()))
        .collect();
    assert_eq!(
        items,
        [
            (Some(1), Some("007117901645"), 72, Some("CA")),
            (Some(2), Some("007117901645"), 72, Some("CA")),
            (Some(3), Some("007117900070"), 96, Some("CA")),
        ]
    );
    assert_eq!(n.attributes["master_reference"], json!("4896833"));
}

#[test]
fn ship945_minimal() {
    let data = sample("x12/x12-types_945_3.edi");
    let ix = x12::parse(&data).unwrap();
    let n = x12::ship945::notices(&ix).unwrap().remove(0);
    assert_eq!(n.order_ref, "12345");
    assert_eq!(
        (n.ship_date, n.carrier.as_deref(), n.node.as_deref()),
        (None, None, None)
    );
    assert_eq!(n.lines.len(), 1);
    assert_eq!(
        (
            n.lines[0].line_no,
            n.lines[0].sku.as_deref(),
            n.lines[0].quantity
        ),
        (Some(1), None, 10)
    );
}

#[test]
fn po850_ship_to_by_location_code_only() {
    let doc =
        b"ST*850*0001~BEG*00*SA*PO-3**20200101~N1*ST**92*DC-0042~PO1*1*1*EA*3**VP*X~SE*5*0001~";
    let ix = x12::parse(doc).unwrap();
    let intake = x12::po850::orders(&ix, "edi").unwrap().remove(0);
    assert!(intake.ship_to.is_none());
    assert_eq!(
        intake.attributes.as_ref().unwrap()["ship_to_id"],
        json!("DC-0042")
    );
}

#[test]
fn a_dos_end_of_file_mark_after_the_last_iea_is_the_end_of_the_document() {
    let one = super::sample("x12/EDI.Net_x12.850a.edi");
    let mut marked = one.clone();
    marked.extend_from_slice(b"\r\n\x1a");
    let ix = x12::parse(&marked).unwrap();
    assert_eq!(ix.transaction_sets().count(), 1);

    // A mailbag of interchanges, the mark at its end as DOS tools leave it.
    let mut bag = one.clone();
    bag.extend_from_slice(b"\r\n");
    bag.extend_from_slice(&super::sample("x12/vscode-edi-support_850-loop.edi"));
    bag.extend_from_slice(b"\x1a\x1a\n");
    assert_eq!(x12::parse_many(&bag).unwrap().len(), 2);

    // Anything else after the IEA is still refused, as is a mark in the middle.
    let mut junk = one.clone();
    junk.extend_from_slice(b"\x1aXYZ");
    assert!(x12::parse(&junk).is_err());
}

// ---------------------------------------------------------------- bodies as partners send them

fn received_sets(received: &[x12::Received<'_>]) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    for r in received {
        match r {
            x12::Received::Interchange(ix) => {
                for set in ix.transaction_sets() {
                    out.push((
                        format!("{} {}", set.id(), set.control_number()),
                        set.fault().map(|f| f.kind.to_string()),
                    ));
                }
            }
            x12::Received::Broken(b) => out.push(("broken".into(), Some(b.error.kind.to_string()))),
        }
    }
    out
}

#[test]
fn read_takes_every_interchange_of_a_mailbag_whatever_its_separators() {
    // Seven real interchanges from three translators (three sets of separators), a DOS mark.
    let files = [
        "x12/EDI.Net_x12.850.edi",
        "x12/EDI.Net_x12.850a.edi",
        "x12/vscode-edi-support_850-loop.edi",
        "x12/x12-types_856_1.edi",
        "x12/x12-types_945_1.edi",
        "x12/EDI.Net_x12.810a.edi",
        "x12/EDI.Net_x12.850.issue135.edi",
    ];
    let mut bag = Vec::new();
    let mut expected = 0;
    for f in files {
        let data = sample(f);
        expected += x12::parse(&data).unwrap().transaction_sets().count();
        bag.extend_from_slice(&data);
        bag.extend_from_slice(b"\r\n");
    }
    bag.push(0x1a);
    let received = x12::read(&bag).unwrap();
    assert_eq!(received.len(), 7);
    let sets = received_sets(&received);
    assert_eq!(sets.len(), expected);
    assert!(sets.iter().all(|(_, fault)| fault.is_none()), "{sets:?}");
}

#[test]
fn a_set_that_cannot_be_read_costs_only_itself() {
    let doc = "ISA*00*          *00*          *ZZ*BUYER          *ZZ*IOM            *261201*1200*U*00401*000000001*0*T*>~\
GS*PO*BUYER*IOM*20261201*1200*1*X*004010~\
ST*850*0001~BEG*00*SA*A**20261201~PO1*1*1*EA*1**VP*X~SE*4*0001~\
ST*850*0002~BEG*00*SA*B**20261201~po1*1*1*EA*1**VP*X~SE*4*0002~\
ST*850*0003~BEG*00*SA*C**20261201~\
ST*850*0004~BEG*00*SA*D**20261201~PO1*1*1*EA*1**VP*X~SE*4*0004~\
GE*4*1~IEA*1*000000001~";
    let received = x12::read(doc.as_bytes()).unwrap();
    let sets = received_sets(&received);
    assert_eq!(sets[0], ("850 0001".into(), None));
    assert_eq!(sets[1].0, "850 0002");
    assert!(
        sets[1]
            .1
            .as_deref()
            .unwrap()
            .contains("\"po1\" is not a segment identifier"),
        "{sets:?}"
    );
    assert_eq!(sets[2].0, "850 0003");
    assert!(
        sets[2].1.as_deref().unwrap().contains("ST before the SE"),
        "{sets:?}"
    );
    assert_eq!(sets[3], ("850 0004".into(), None));
    // The faulty set's text is what was received, from ST to its last segment.
    let x12::Received::Interchange(ix) = &received[0] else {
        panic!("an interchange")
    };
    let faulty: Vec<_> = ix.transaction_sets().collect();
    assert_eq!(faulty[2].text(), "ST*850*0003~BEG*00*SA*C**20261201~");
    // Taken whole, the document fails at its first fault, as before.
    let err = x12::parse(doc.as_bytes()).unwrap_err();
    assert!(
        matches!(err.kind, X12ErrorKind::InvalidSegmentId { .. }),
        "{err}"
    );
}

#[test]
fn a_broken_envelope_costs_only_its_interchange() {
    let good = sample("x12/EDI.Net_x12.850a.edi");
    let mut bag = b"ISA*00*          *00*          *ZZ*BUYER          *ZZ*IOM            *261201*1200*U*00401*000000007*0*T*>~\nGS*PO*BUYER*IOM*20261201*1200*7*X*004010~\nN1*ST*Nobody~\nGE*0*7~\nIEA*1*000000007~\n".to_vec();
    bag.extend_from_slice(&good);
    // An interchange that lost its IEA: the next ISA ends it.
    let whole = sample("x12/EDI.Net_x12.850.edi");
    let iea = memchr_find(&whole, b"IEA*");
    bag.extend_from_slice(&whole[..iea]);
    bag.extend_from_slice(&good);
    let received = x12::read(&bag).unwrap();
    assert_eq!(received.len(), 4);
    let x12::Received::Broken(broken) = &received[0] else {
        panic!("the first interchange is broken")
    };
    assert!(
        broken
            .error
            .kind
            .to_string()
            .contains("outside a transaction set")
    );
    assert_eq!(broken.isa.as_ref().unwrap().get(13), Some("000000007"));
    assert!(
        broken.text.ends_with("IEA*1*000000007~\n"),
        "{}",
        broken.text
    );
    let x12::Received::Interchange(cut) = &received[2] else {
        panic!("the interchange without IEA is read")
    };
    assert!(
        cut.warnings()
            .iter()
            .any(|w| w.kind == WarningKind::MissingTrailer { expected: "IEA" })
    );
    assert!(matches!(received[3], x12::Received::Interchange(_)));
    // Nothing X12 at all is an error of the whole body.
    assert!(matches!(
        x12::read(b"Dear supplier,").unwrap_err().kind,
        X12ErrorKind::NotX12 { .. }
    ));
}

fn memchr_find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("the needle is there")
}

#[test]
fn an_interchange_acknowledgement_before_the_groups_is_read() {
    // As iom writes it, and as partners send it back: TA1 between ISA and GS, or alone.
    let doc = "ISA*00*          *00*          *ZZ*PARTNER        *ZZ*IOM            *261201*1200*U*00401*000000001*0*T*>~\
TA1*000000055*090827*0936*E*001~\
GS*FA*PARTNER*IOM*20261201*1200*1*X*004010~ST*997*0001~AK1*PO*2~AK9*A*1*1*1~SE*4*0001~GE*1*1~\
IEA*1*000000001~";
    let ix = x12::parse(doc.as_bytes()).unwrap();
    assert_eq!(ix.segments().nth(1).unwrap().id(), "TA1");
    assert_eq!(ix.transaction_sets().count(), 1);
    let alone = "ISA*00*          *00*          *ZZ*PARTNER        *ZZ*IOM            *261201*1200*U*00401*000000002*0*T*>~TA1*000000055*090827*0936*R*022~IEA*0*000000002~";
    assert_eq!(x12::parse(alone.as_bytes()).unwrap().groups().count(), 0);
    // Anywhere else it is still out of place.
    let late = doc.replace("GE*1*1~", "GE*1*1~TA1*1*090827*0936*A*000~");
    assert!(x12::parse(late.as_bytes()).is_err());
}

#[test]
fn an_empty_segment_is_skipped_and_reading_goes_on() {
    // A terminator alone on its line, and two in a row: each is an empty segment.
    let doc = "ISA*00*          *00*          *ZZ*BUYER          *ZZ*IOM            *261201*1200*U*00401*000000001*0*T*>~\n\
GS*PO*BUYER*IOM*20261201*1200*1*X*004010~\n~\n\
ST*850*0001~BEG*00*SA*A**20261201~~PO1*1*1*EA*1**VP*X~SE*4*0001~\nGE*1*1~IEA*1*000000001~";
    let ix = x12::parse(doc.as_bytes()).unwrap();
    assert_eq!(ix.transaction_sets().count(), 1);
    assert_eq!(
        kinds(&ix)
            .iter()
            .filter(|k| **k == WarningKind::EmptySegment)
            .count(),
        2
    );
}

#[test]
fn a_space_cannot_end_segments() {
    // What follows ISA16 is the terminator; a space there would cut every name in two, and an
    // acknowledgement written with it would not read back.
    let doc = "ISA*00*          *00*          *ZZ*BUYER          *ZZ*IOM            *261201*1200*U*00401*000000001*0*P*> GS*PO*BUYER*IOM*20261201*1200*1*X*004010 ";
    let err = x12::parse(doc.as_bytes()).unwrap_err();
    assert!(
        matches!(err.kind, X12ErrorKind::InvalidIsa(ref m) if m.contains("segment terminator")),
        "{err}"
    );
}

#[test]
fn a_bare_set_is_never_cut_inside_a_character() {
    // Without an ISA the terminator is inferred from the first bytes; one outside ASCII is part
    // of a value, not a terminator.
    let doc = "ST*Ö7*0001~\nAK1*PO*1~\nSE*3*0001~\n";
    let ix = x12::parse(doc.as_bytes()).unwrap();
    assert_eq!(ix.delimiters().segment, b'~');
    assert_eq!(ix.transaction_sets().next().unwrap().id(), "Ö7");
    // Nor is the element separator: a byte outside ASCII after ST is not X12.
    let err = x12::parse("ST\u{a0}*945*0001~".as_bytes()).unwrap_err();
    assert!(matches!(err.kind, X12ErrorKind::NotX12 { .. }), "{err}");
}

#[test]
fn a_letter_or_digit_cannot_separate_components() {
    let doc = "ISA*00*          *00*          *ZZ*BUYER          *ZZ*IOM            *261201*1200*U*00401*000000001*0*P*1~GS*PO*BUYER*IOM*20261201*1200*1*X*004010~";
    let err = x12::parse(doc.as_bytes()).unwrap_err();
    assert!(
        matches!(err.kind, X12ErrorKind::InvalidIsa(ref m) if m.contains("component separator")),
        "{err}"
    );
}
