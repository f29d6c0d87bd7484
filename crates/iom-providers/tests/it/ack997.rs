use chrono::NaiveDate;
use iom_providers::x12::ack997::{
    self, AckEnvelope, AckError, AckStatus, ElementError, SegmentError, SetOutcome,
};
use iom_providers::x12::{self, Delimiters};

use crate::sample;

fn envelope() -> AckEnvelope {
    AckEnvelope {
        interchange_control_number: 42,
        group_control_number: 7,
        first_set_control_number: 1,
        at: NaiveDate::from_ymd_opt(2026, 3, 4)
            .and_then(|d| d.and_hms_opt(5, 6, 0))
            .unwrap(),
        delimiters: None,
        line_breaks: true,
    }
}

#[test]
fn accepted_997_round_trip() {
    let data = sample("x12/EDI.Net_x12.850a.edi");
    let received = x12::parse(&data).unwrap();
    let text = ack997::accept_all(&received, &envelope()).unwrap();
    assert_eq!(
        text,
        "ISA*00*          *00*          *ZZ*TEST2          *01*000123456      *260304*0506*U*00401*000000042*0*T*>~\n\
         GS*FA*TEST2*000123456*20260304*0506*7*X*004010~\n\
         ST*997*0001~\n\
         AK1*PO*2~\n\
         AK2*850*0001~\n\
         AK5*A~\n\
         AK9*A*1*1*1~\n\
         SE*6*0001~\n\
         GE*1*7~\n\
         IEA*1*000000042~\n"
    );

    // What we write, we can read back, with every count and control number right.
    let ack = x12::parse(text.as_bytes()).unwrap();
    assert!(ack.warnings().is_empty(), "{:?}", ack.warnings());
    let isa = ack.isa().unwrap();
    assert_eq!(isa.element(6).len(), 15);
    assert_eq!((isa.get(6), isa.get(8)), (Some("TEST2"), Some("000123456")));
    let read = ack997::read(&ack).unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].functional_id, "PO");
    assert_eq!(read[0].group_control_number, "2");
    assert_eq!(read[0].status, AckStatus::Accepted);
    assert_eq!(
        (read[0].included, read[0].received, read[0].accepted),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(read[0].sets.len(), 1);
    assert_eq!(read[0].sets[0].control_number, "0001");
    assert_eq!(read[0].sets[0].status, AckStatus::Accepted);
}

#[test]
fn rejected_set_round_trip_with_ak3_ak4() {
    // Two 850s in one group: the first accepted, the second refused by the mapping.
    let data = sample("x12/EDI.Net_x12.850.issue135.edi");
    let received = x12::parse(&data).unwrap();
    let error = SegmentError {
        segment_id: "PO1".into(),
        position: 7,
        loop_id: Some("PO1".into()),
        code: Some("8".into()),
        elements: vec![ElementError {
            position: 4,
            component: None,
            reference: Some("212".into()),
            code: "1".into(),
            bad_value: None,
        }],
    };
    let mut seen = Vec::new();
    let env = AckEnvelope {
        line_breaks: false,
        ..envelope()
    };
    let text = ack997::build(&received, &env, None, |set| {
        seen.push(set.control_number().to_owned());
        if seen.len() == 2 {
            SetOutcome::Rejected(vec![error.clone()])
        } else {
            SetOutcome::Accepted
        }
    })
    .unwrap();
    assert_eq!(seen, ["0001", "0001"]);
    assert!(
        text.contains("~AK2*850*0001~AK5*A~AK2*850*0001~AK3*PO1*7*PO1*8~AK4*4*212*1~AK5*R*5~AK9*P*2*2*1~SE*10*0001~"),
        "{text}"
    );

    let ack = x12::parse(text.as_bytes()).unwrap();
    assert!(ack.warnings().is_empty(), "{:?}", ack.warnings());
    let read = ack997::read(&ack).unwrap().remove(0);
    assert_eq!(read.status, AckStatus::PartiallyAccepted);
    assert_eq!((read.received, read.accepted), (Some(2), Some(1)));
    assert_eq!(read.sets[0].status, AckStatus::Accepted);
    assert_eq!(read.sets[1].status, AckStatus::Rejected);
    assert_eq!(read.sets[1].codes, ["5"]);
    assert_eq!(read.sets[1].errors, [error]);
}

#[test]
fn mapping_errors_become_ak3_ak4() {
    let doc = b"ISA*00*          *00*          *ZZ*PARTNER        *ZZ*IOM            *200101*1200*U*00401*000000005*0*P*>~GS*PO*PARTNER*IOM*20200101*1200*5*X*004010~ST*850*0001~BEG*00*SA*PO-1**20200101~PO1*1*two*EA*3**VP*A~SE*4*0001~GE*1*5~IEA*1*000000005~";
    let received = x12::parse(doc).unwrap();
    let env = AckEnvelope {
        line_breaks: false,
        ..envelope()
    };
    let text = ack997::build(&received, &env, None, |set| {
        match x12::po850::order(set, "edi") {
            Ok(_) => SetOutcome::Accepted,
            Err(e) => SetOutcome::Rejected(vec![SegmentError::from(&e)]),
        }
    })
    .unwrap();
    assert!(
        text.contains("AK1*PO*5~AK2*850*0001~AK3*PO1*3**8~AK4*2**7~AK5*R*5~AK9*R*1*1*0~"),
        "{text}"
    );
    let read = ack997::read(&x12::parse(text.as_bytes()).unwrap()).unwrap();
    assert_eq!(read[0].status, AckStatus::Rejected);
    assert_eq!(read[0].sets[0].errors[0].elements[0].code, "7");
}

#[test]
fn trailer_problems_make_a_set_accepted_with_errors() {
    // SE01 says 12 but the set has 16 segments.
    let data = sample("x12/x12-types_945_1.edi");
    let received = x12::parse(&data).unwrap();
    let env = AckEnvelope {
        line_breaks: false,
        delimiters: Some(Delimiters {
            element: b'|',
            component: Some(b':'),
            repetition: None,
            segment: b'\n',
        }),
        ..envelope()
    };
    let text = ack997::accept_all(&received, &env).unwrap();
    assert!(text.starts_with("ISA|00|"), "{text}");
    assert!(
        text.contains("\nAK1|SW|000000123\nAK2|945|000006123\nAK5|E|4\nAK9|E|1|1|1\n"),
        "{text}"
    );
    let ack = x12::parse(text.as_bytes()).unwrap();
    assert!(ack.warnings().is_empty(), "{:?}", ack.warnings());
    let read = ack997::read(&ack).unwrap();
    assert_eq!(read[0].sets[0].status, AckStatus::AcceptedWithErrors);
    assert_eq!(read[0].sets[0].codes, ["4"]);
}

#[test]
fn group_count_mismatch_is_reported_in_ak9() {
    // GE01 says 2 sets but the group has 1.
    let data = sample("x12/x12-types_856_1.edi");
    let received = x12::parse(&data).unwrap();
    let env = AckEnvelope {
        line_breaks: false,
        ..envelope()
    };
    let text = ack997::accept_all(&received, &env).unwrap();
    assert!(text.contains("AK5*A~AK9*E*2*1*1*4~"), "{text}");
}

#[test]
fn bare_documents_cannot_be_acknowledged() {
    let data = sample("x12/x12-types_945_2.edi");
    let received = x12::parse(&data).unwrap();
    assert_eq!(
        ack997::accept_all(&received, &envelope()).unwrap_err(),
        AckError::NoInterchangeHeader
    );
}

#[test]
fn reads_partner_997s() {
    let data = sample("x12/x12-types_997_1.edi");
    let acks = ack997::read(&x12::parse(&data).unwrap()).unwrap();
    assert_eq!(acks.len(), 1);
    let ack = &acks[0];
    assert_eq!(
        (
            ack.functional_id.as_str(),
            ack.group_control_number.as_str()
        ),
        ("PO", "2")
    );
    assert_eq!(ack.status, AckStatus::Rejected);
    assert_eq!(
        (ack.included, ack.received, ack.accepted),
        (Some(1), Some(1), Some(0))
    );
    let set = &ack.sets[0];
    assert_eq!(
        (set.set_id.as_str(), set.control_number.as_str()),
        ("850", "103465910")
    );
    assert_eq!(set.status, AckStatus::Rejected);
    assert_eq!(set.codes, ["4", "5"]);
    let errors: Vec<_> = set
        .errors
        .iter()
        .map(|e| {
            (
                e.segment_id.as_str(),
                e.position,
                e.code.as_deref(),
                e.elements[0].position,
                e.elements[0].code.as_str(),
                e.elements[0].bad_value.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        errors,
        [
            ("REF", 3, Some("8"), 1, "7", Some("BM")),
            ("REF", 4, Some("8"), 1, "7", Some("DP")),
        ]
    );

    let data = sample("x12/x12-types_997_2.edi");
    let acks = ack997::read(&x12::parse(&data).unwrap()).unwrap();
    assert_eq!(acks.len(), 2);
    assert_eq!(acks[0].sets.len(), 2);
    assert_eq!(acks[0].sets[0].status, AckStatus::Accepted);
    assert_eq!(acks[0].sets[1].status, AckStatus::Rejected);
    assert_eq!(acks[0].codes, ["5"]);
    assert_eq!(
        (acks[1].functional_id.as_str(), acks[1].status),
        ("SH", AckStatus::Accepted)
    );
    assert_eq!(acks[1].included, Some(0));

    let data = sample("x12/x12-types_997_3.edi");
    let acks = ack997::read(&x12::parse(&data).unwrap()).unwrap();
    assert_eq!(acks[0].group_control_number, "000341217");
    assert_eq!(acks[0].status, AckStatus::Accepted);
    assert_eq!(acks[0].sets[0].status, AckStatus::Accepted);
}

#[test]
fn version_5010_gets_a_repetition_separator() {
    // The sample declares 00501 but writes U in ISA11.
    let data = sample("x12/x12-types_810_2.edi");
    let received = x12::parse(&data).unwrap();
    let text = ack997::accept_all(&received, &envelope()).unwrap();
    assert!(
        text.starts_with("ISA*00*          *00*          *12*5034564567     *12*5141231234     *260304*0506*^*00501*000000042*0*T*>~\nGS*FA*504564567*5141231234*20260304*0506*7*X*005010~\n"),
        "{text}"
    );
    let ack = x12::parse(text.as_bytes()).unwrap();
    assert_eq!(ack.delimiters().repetition, Some(b'^'));
    assert_eq!(ack997::read(&ack).unwrap()[0].functional_id, "IN");
}

#[test]
fn what_is_echoed_from_a_broken_isa_cannot_break_the_acknowledgement() {
    // A sender id with a line break and a component separator in it, in an interchange whose envelope
    // cannot be read: the TA1 that rejects it still reads back as X12.
    let doc = "ISA*00*          *00*          *ZZ*TEST01\n r>X     *ZZ*IOM            *261201*1200*U*00401*000000007*0*P*>~\nGS*PO*A*B*20261201*1200*7*X*004010~\nN1*ST*X~\nGE*0*7~\nIEA*1*000000007~\n";
    let received = x12::read(doc.as_bytes()).unwrap();
    let x12::Received::Broken(broken) = &received[0] else {
        panic!("the envelope is broken: {received:?}")
    };
    let ta1 = ack997::reject_interchange(
        broken.isa.as_ref().unwrap(),
        &ack997::AckEnvelope {
            interchange_control_number: 1,
            group_control_number: 1,
            first_set_control_number: 1,
            at: chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap(),
            delimiters: None,
            line_breaks: true,
        },
        &ack997::InterchangeNote::rejecting(&broken.error),
    )
    .unwrap();
    let ix = x12::parse(ta1.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{ta1}"));
    assert_eq!(ix.isa().unwrap().get(8), Some("TEST01  r X"), "{ta1}");
    assert!(ta1.contains("TA1*000000007*"), "{ta1}");
}

/// Inputs that once broke the reader or the acknowledgements it writes: each is received the way
/// the inbound endpoint receives a body, and every acknowledgement written must read back as X12.
#[test]
fn found_inputs_are_acknowledged_with_x12_that_reads_back() {
    use iom_providers::inbound::{Instance, x12_receipt};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/x12-found");
    let instance = Instance {
        name: "edi".into(),
        kind: iom_providers::types::find("x12").expect("the x12 type"),
        mappings: Default::default(),
        transform: None,
        default_node: None,
        csv: Default::default(),
    };
    let now = chrono::Utc::now();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let Ok(receipt) = x12_receipt(&instance, &data, now) else {
            continue;
        };
        let succeeded: Vec<bool> = receipt.parts.iter().map(|p| p.result.is_ok()).collect();
        let controls: Vec<u32> = (1..=receipt.acknowledgements_needed() as u32).collect();
        for (kind, text) in receipt.acknowledgements(&succeeded, &controls, now) {
            if let Err(e) = x12::parse(text.as_bytes()) {
                panic!(
                    "{}: the {kind} does not read back: {e}\n{text}",
                    path.display()
                );
            }
        }
    }
}
