//! X12 bodies as partners send them, over HTTP: several interchanges in one body, groups and
//! transaction sets of kinds this instance does not take, a set that cannot be read, an envelope
//! that is broken, and a DOS end-of-file mark. Each set is logged and processed on its own, and
//! every interchange is acknowledged as it was really processed.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{TestApp, apps};

/// An interchange from `sender` with control number `control`, holding `groups` as
/// (GS01, GS08, sets).
fn interchange(
    sender: &str,
    control: u32,
    ack_requested: bool,
    groups: &[(&str, &str, Vec<String>)],
) -> String {
    let mut out = format!(
        "ISA*00*          *00*          *ZZ*{sender:<15}*ZZ*IOM            *261201*1200*U*00401*{control:09}*{}*T*>~\n",
        u8::from(ack_requested)
    );
    for (i, (functional_id, version, sets)) in groups.iter().enumerate() {
        let group = control * 10 + i as u32;
        out.push_str(&format!(
            "GS*{functional_id}*{sender}*IOM*20261201*1200*{group}*X*{version}~\n"
        ));
        for set in sets {
            out.push_str(set);
        }
        out.push_str(&format!("GE*{}*{group}~\n", sets.len()));
    }
    out.push_str(&format!("IEA*{}*{control:09}~\n", groups.len()));
    out
}

/// A purchase order: `quantity` of SKU-1 shipped to Seattle.
fn po(control: &str, number: &str, quantity: &str) -> String {
    let body = [
        format!("BEG*00*SA*{number}**20261201"),
        "N1*ST*Ann Lee".into(),
        "N3*1 Main St".into(),
        "N4*Seattle*WA*98101*US".into(),
        format!("PO1*1*{quantity}*EA*9.99**VP*SKU-1"),
        "CTT*1".into(),
    ];
    set("850", control, &body)
}

fn set(id: &str, control: &str, body: &[String]) -> String {
    let mut out = format!("ST*{id}*{control}~\n");
    for segment in body {
        out.push_str(segment);
        out.push_str("~\n");
    }
    out.push_str(&format!("SE*{}*{control}~\n", body.len() + 2));
    out
}

fn invoice(control: &str) -> String {
    set(
        "810",
        control,
        &["BIG*20261201*INV-1**PO-1".into(), "TDS*1998".into()],
    )
}

/// The acknowledgements logged for `provider`, oldest first, as (kind, text).
async fn acknowledgements(app: &TestApp, provider: &str) -> Vec<(String, String)> {
    let (_, page) = app
        .get(&format!("/api/v1/providers/{provider}/messages?limit=500"))
        .await;
    let mut out = Vec::new();
    for m in page["items"].as_array().unwrap().iter().rev() {
        if m["direction"] != "outbound" {
            continue;
        }
        let (_, full) = app
            .get(&format!(
                "/api/v1/providers/{provider}/messages/{}",
                m["id"].as_str().unwrap()
            ))
            .await;
        out.push((
            full["kind"].as_str().unwrap().to_owned(),
            full["payload"].as_str().unwrap().to_owned(),
        ));
    }
    out
}

/// The segments of an acknowledgement from its first AK2/IK5-relevant ones on, one per entry.
fn segments(text: &str) -> Vec<String> {
    text.split('~')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The segments that report on the received sets and groups (TA1, AK2 … AK9, IK3 … IK5).
fn report(text: &str) -> Vec<String> {
    segments(text)
        .into_iter()
        .filter(|s| {
            [
                "TA1*", "AK1*", "AK2*", "AK3*", "AK4*", "AK5*", "AK9*", "IK3*", "IK4*", "IK5*",
            ]
            .iter()
            .any(|p| s.starts_with(p))
        })
        .map(|s| {
            // TA1 echoes the date and time of the received ISA; keep control and note only.
            if let Some(rest) = s.strip_prefix("TA1*") {
                let e: Vec<&str> = rest.split('*').collect();
                format!("TA1*{}*{}*{}", e[0], e[3], e[4])
            } else {
                s
            }
        })
        .collect()
}

#[tokio::test]
async fn each_transaction_set_is_taken_on_its_own_and_acknowledged_as_it_went() {
    for app in apps().await {
        let (status, body) = app
            .put("/api/v1/providers/edi", json!({"type": "x12"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");

        // 1: four purchase orders; the second holds a segment that is not one, the third a
        // quantity that is not whole.
        let bad_segment = po("0002", "PO-B", "1").replace("N3*1 Main St", "N$*1 Main St");
        let first = interchange(
            "BUYER",
            101,
            false,
            &[(
                "PO",
                "004010",
                vec![
                    po("0001", "PO-A", "2"),
                    bad_segment,
                    po("0003", "PO-C", "2.5"),
                    po("0004", "PO-D", "1"),
                ],
            )],
        );
        // 2: two invoices, which this instance does not take, then a purchase order.
        let second = interchange(
            "BUYER",
            102,
            false,
            &[
                ("IN", "004010", vec![invoice("0001"), invoice("0002")]),
                ("PO", "004010", vec![po("0003", "PO-E", "3")]),
            ],
        );
        // 3: a broken envelope (a segment before any transaction set).
        let third = "ISA*00*          *00*          *ZZ*BUYER          *ZZ*IOM            *261201*1200*U*00401*000000103*0*T*>~\nGS*PO*BUYER*IOM*20261201*1200*1030*X*004010~\nN1*ST*Nobody~\nGE*0*1030~\nIEA*1*000000103~\n";
        // 4: an acknowledgement requested, and an IEA that names another control number.
        let fourth = interchange(
            "BUYER",
            104,
            true,
            &[("PO", "004010", vec![po("0001", "PO-F", "4")])],
        )
        .replace("IEA*1*000000104", "IEA*1*000000999");
        // 5: an enrolment (a 5010 implementation guide), answered with a 999.
        let fifth = interchange(
            "BUYER",
            105,
            false,
            &[(
                "BE",
                "005010X220A1",
                vec![set("834", "0001", &["BGN*00*1*20261201".into()])],
            )],
        );
        let body = format!("{first}{second}{third}{fourth}{fifth}\r\n\x1a");

        let (status, accepted) = app.inbound_bearer("edi", body.as_bytes()).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
        assert_eq!(accepted["status"], "partial", "{accepted}");
        let documents = accepted["documents"].as_array().unwrap();
        let statuses: Vec<&str> = documents
            .iter()
            .map(|d| d["status"].as_str().unwrap())
            .collect();
        assert_eq!(
            statuses,
            [
                "processed",
                "failed",
                "failed",
                "processed", // 1
                "failed",
                "failed",
                "processed", // 2
                "failed",    // 3
                "processed", // 4
                "failed",    // 5
            ],
            "{accepted}"
        );
        assert_eq!(accepted["created"], 4);
        let mut created = Vec::new();
        for id in accepted["order_ids"].as_array().unwrap() {
            created.push(
                app.order(id).await["external_id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        assert_eq!(created, ["PO-A", "PO-D", "PO-E", "PO-F"]);
        // Errors name the place in the document.
        let bad = &documents[1]["error"];
        assert!(bad["message"].as_str().unwrap().contains("N$"), "{bad}");
        assert_eq!(
            documents[2]["error"]["position"]["segment_id"], "PO1",
            "{}",
            documents[2]
        );
        assert_eq!(documents[2]["error"]["position"]["element"], 2);

        let acks = acknowledgements(&app, "edi").await;
        let kinds: Vec<&str> = acks.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(kinds, ["997", "997", "TA1", "997", "999"]);
        assert_eq!(
            report(&acks[0].1),
            [
                "AK1*PO*1010",
                "AK2*850*0001",
                "AK5*A",
                "AK2*850*0002",
                "AK3*N$*4**1",
                "AK5*R*5",
                "AK2*850*0003",
                "AK3*PO1*6**8",
                "AK4*2**7",
                "AK5*R*5",
                "AK2*850*0004",
                "AK5*A",
                "AK9*P*4*4*2",
            ],
            "{}",
            acks[0].1
        );
        assert_eq!(
            report(&acks[1].1),
            [
                "AK1*IN*1020",
                "AK2*810*0001",
                "AK5*R*1",
                "AK2*810*0002",
                "AK5*R*1",
                "AK9*R*2*2*0",
                "AK1*PO*1021",
                "AK2*850*0003",
                "AK5*A",
                "AK9*A*1*1*1",
            ],
            "{}",
            acks[1].1
        );
        assert_eq!(report(&acks[2].1), ["TA1*000000103*R*022"], "{}", acks[2].1);
        assert_eq!(
            report(&acks[3].1),
            [
                "TA1*000000104*E*001",
                "AK1*PO*1040",
                "AK2*850*0001",
                "AK5*A",
                "AK9*A*1*1*1"
            ],
            "{}",
            acks[3].1
        );
        let implementation = &acks[4].1;
        assert!(
            implementation.contains("ST*999*0001*005010X231A1~"),
            "{implementation}"
        );
        assert_eq!(
            report(implementation),
            [
                "AK1*BE*1050*005010X220A1",
                "AK2*834*0001",
                "IK5*R*1",
                "AK9*R*1*1*0"
            ],
        );
        // Every acknowledgement is addressed back to the sender.
        for (_, text) in &acks {
            assert!(
                text.starts_with(
                    "ISA*00*          *00*          *ZZ*IOM            *ZZ*BUYER          *"
                ),
                "{text}"
            );
        }

        // The same body again: what was processed is a duplicate, what failed is processed
        // again (and fails again); nothing is created twice, and the acknowledgements say the
        // same.
        let (_, again) = app.inbound_bearer("edi", body.as_bytes()).await;
        assert_eq!(again["status"], "partial", "{again}");
        assert_eq!(again["created"], 0);
        let statuses: Vec<&str> = again["documents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["status"].as_str().unwrap())
            .collect();
        assert_eq!(
            statuses,
            [
                "duplicate",
                "failed",
                "failed",
                "duplicate",
                "failed",
                "failed",
                "duplicate",
                "failed",
                "duplicate",
                "failed",
            ]
        );
        let acks_again = acknowledgements(&app, "edi").await;
        assert_eq!(acks_again.len(), 10);
        assert_eq!(report(&acks_again[5].1), report(&acks[0].1));
        let (_, orders) = app.get("/api/v1/orders?channel=edi&limit=100").await;
        assert_eq!(orders["items"].as_array().unwrap().len(), 4, "{orders}");

        // A failed set, corrected and sent on its own, is taken.
        let fixed = interchange(
            "BUYER",
            106,
            false,
            &[("PO", "004010", vec![po("0003", "PO-C", "2")])],
        );
        let (_, fixed) = app.inbound_bearer("edi", fixed.as_bytes()).await;
        assert_eq!(fixed["status"], "processed", "{fixed}");
        assert_eq!(fixed["created"], 1);
    }
}

#[tokio::test]
async fn a_body_that_is_not_x12_is_logged_as_failed_with_its_place() {
    for app in apps().await {
        app.put("/api/v1/providers/edi", json!({"type": "x12"}))
            .await;
        let (status, accepted) = app.inbound_bearer("edi", b"hello, world").await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(accepted["status"], "failed", "{accepted}");
        let error: &Value = &accepted["error"];
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("starts with ISA, GS or ST"),
            "{error}"
        );
        assert_eq!(error["position"]["offset"], 0);
        assert!(acknowledgements(&app, "edi").await.is_empty());
    }
}
