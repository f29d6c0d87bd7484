//! Notifications against a real SMTP server (aiosmtpd, in a virtual environment under
//! `~/.cache/iom`, started on a free port): the content of the confirmation and shipped
//! e-mails, a server down for 30 seconds and then up (each e-mail arrives exactly once), and
//! `iom serve` killed with SIGKILL while e-mails are flowing (none arrives twice; every one
//! arrives except, possibly, one whose hand-over was under way, which is listed `unknown`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::{Server, TOKEN};

/// A Python with aiosmtpd: `IOM_SMTP_SINK_PYTHON`, else a virtual environment under
/// `~/.cache/iom`, made on first use (as the X12 validator's).
pub fn sink_python() -> PathBuf {
    if let Ok(python) = std::env::var("IOM_SMTP_SINK_PYTHON") {
        return python.into();
    }
    let home = std::env::var("HOME").expect("HOME");
    let venv = Path::new(&home).join(".cache/iom/smtp-sink");
    let python = venv.join("bin/python");
    let ready = |p: &Path| {
        std::process::Command::new(p)
            .args(["-c", "import aiosmtpd"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !ready(&python) {
        // Two tests may get here at once; a lock file keeps them from building it together.
        let _ = std::fs::create_dir_all(venv.parent().unwrap());
        let made = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "exec 9>'{0}.lock' && flock 9 && ([ -x '{0}/bin/python' ] && '{0}/bin/python' -c 'import aiosmtpd' 2>/dev/null || (python3 -m venv '{0}' && '{0}/bin/python' -m pip install --quiet aiosmtpd==1.4.6))",
                venv.display()
            ))
            .status()
            .expect("make the aiosmtpd environment");
        assert!(made.success(), "python3 -m venv + pip install aiosmtpd");
    }
    python
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// aiosmtpd on `port`, appending each message it accepts to a file as a JSON line.
pub struct Sink {
    child: Child,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

impl Sink {
    pub async fn start(port: u16) -> Sink {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("messages.jsonl");
        let mut child = Command::new(sink_python())
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/smtp/sink.py"))
            .arg(port.to_string())
            .arg(&out)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start the SMTP sink");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the sink starts")
            .unwrap();
        assert_eq!(line.as_deref(), Some("ready"));
        Sink {
            child,
            out,
            _dir: dir,
        }
    }

    pub fn messages(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Waits until at least `n` messages arrived.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let m = self.messages();
            if m.len() >= n {
                return m;
            }
            assert!(
                start.elapsed() < within,
                "{} of {n} messages arrived within {within:?}",
                m.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

async fn start(db: &str, smtp_port: u16, extra: &[(&str, &str)]) -> Server {
    let smtp = format!("smtp://127.0.0.1:{smtp_port}");
    let mut env = vec![
        ("IOM_FLOWS", "off"),
        ("IOM_SMTP_URL", smtp.as_str()),
        ("IOM_SMTP_FROM", "Shop <shop@example.com>"),
    ];
    env.extend_from_slice(extra);
    Server::start_with(db, &env).await
}

async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> Value {
    let mut req = client.request(method, &url).bearer_auth(TOKEN);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{url}: {status} {body}");
    body
}

fn order(external_id: &str, email: &str) -> Value {
    json!({
        "channel": "web", "external_id": external_id, "currency": "EUR",
        "customer": {"email": email, "name": "Ada Lovelace"},
        "ship_to": {"country": "DE", "postal_code": "10115", "city": "Berlin"},
        "lines": [
            {"line_no": 1, "sku": "MUG-BLUE", "quantity": 2, "unit_price": "12.50"},
            {"line_no": 2, "sku": "TEA-100", "quantity": 1, "unit_price": "4.00"}
        ]
    })
}

/// Every notification of the server, all pages.
async fn all_notifications(client: &reqwest::Client, url: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = call(
            client,
            reqwest::Method::GET,
            format!("{url}/api/v1/notifications?limit=500&cursor={cursor}"),
            None,
        )
        .await;
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => return out,
        }
    }
}

/// Message-IDs that arrived more than once.
fn duplicates(messages: &[Value]) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for m in messages {
        *seen
            .entry(m["message_id"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    seen.into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(id, _)| id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn confirmation_and_shipped_emails_carry_the_order() {
    for db in iom_store::testing::all() {
        let port = free_port();
        let sink = Sink::start(port).await;
        let server = start(&db.url, port, &[]).await;
        let client = reqwest::Client::new();
        let url = &server.url;
        call(
            &client,
            reqwest::Method::PUT,
            format!("{url}/api/v1/nodes/BER"),
            Some(json!({"kind": "warehouse", "location": {"lat": 52.52, "lon": 13.40}})),
        )
        .await;
        let created = call(
            &client,
            reqwest::Method::POST,
            format!("{url}/api/v1/orders"),
            Some(order("SHOP-1001", "ada@example.com")),
        )
        .await;
        let id = created["id"].as_str().unwrap();
        let mut quiet = order("SHOP-1002", "quiet@example.com");
        quiet["attributes"] = json!({"notifications_opt_out": ["order-confirmation"]});
        call(
            &client,
            reqwest::Method::POST,
            format!("{url}/api/v1/orders"),
            Some(quiet),
        )
        .await;
        call(
            &client,
            reqwest::Method::POST,
            format!("{url}/api/v1/orders/{id}/shipments"),
            Some(
                json!({"node": "BER", "carrier": "UPS", "tracking": "1Z999AA10123456784",
                        "lines": [{"line_no": 1, "quantity": 2}, {"line_no": 2, "quantity": 1}]}),
            ),
        )
        .await;

        let messages = sink.wait_for(2, Duration::from_secs(30)).await;
        // Nothing more comes: the opted-out confirmation is not sent.
        tokio::time::sleep(Duration::from_millis(800)).await;
        let messages = {
            let again = sink.messages();
            assert_eq!(again.len(), messages.len(), "{again:#?}");
            again
        };
        assert_eq!(messages.len(), 2, "{}: {messages:#?}", db.backend);
        let confirmation = messages
            .iter()
            .find(|m| m["subject"] == "We received your order SHOP-1001")
            .expect("confirmation");
        assert_eq!(confirmation["to"], json!(["ada@example.com"]));
        assert_eq!(confirmation["from"], "shop@example.com");
        let text = confirmation["text"].as_str().unwrap();
        assert!(text.contains("Hello Ada Lovelace"), "{text}");
        assert!(
            text.contains("2 x MUG-BLUE  12.50 EUR") && text.contains("1 x TEA-100"),
            "{text}"
        );
        assert!(text.contains("Total: 29.00 EUR"), "{text}");
        assert!(
            confirmation["html"]
                .as_str()
                .unwrap()
                .contains("<b>SHOP-1001</b>")
        );

        let shipped = messages
            .iter()
            .find(|m| m["subject"] == "Your order SHOP-1001 is on its way")
            .expect("shipped");
        let text = shipped["text"].as_str().unwrap();
        assert!(text.contains("with UPS"), "{text}");
        assert!(
            text.contains("Tracking number: 1Z999AA10123456784"),
            "{text}"
        );
        assert!(
            text.contains("https://www.ups.com/track?tracknum=1Z999AA10123456784"),
            "{text}"
        );

        // The list says what was sent, to whom, and the Message-ID the receiver saw.
        let listed = call(
            &client,
            reqwest::Method::GET,
            format!("{url}/api/v1/notifications?order_id={id}"),
            None,
        )
        .await;
        let items = listed["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{listed}");
        for n in items {
            assert_eq!(n["status"], "sent", "{n}");
            assert_eq!(n["attempts"], 1);
            assert!(
                messages.iter().any(|m| m["message_id"] == n["message_id"]),
                "{n}"
            );
        }
        server.kill().await;
        sink.stop().await;
    }
}

/// The SMTP server does not listen for 30 seconds, then does: every e-mail arrives, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn smtp_down_for_30_seconds_then_up_every_mail_arrives_once() {
    for db in iom_store::testing::all() {
        let port = free_port();
        let began = Instant::now();
        let server = start(
            &db.url,
            port,
            &[
                ("IOM_NOTIFY_BACKOFF_MS", "200"),
                ("IOM_NOTIFY_MAX_BACKOFF_MS", "3000"),
            ],
        )
        .await;
        let client = reqwest::Client::new();
        let url = server.url.clone();
        for i in 0..20 {
            call(
                &client,
                reqwest::Method::POST,
                format!("{url}/api/v1/orders"),
                Some(order(&format!("DOWN-{i}"), &format!("c{i}@example.com"))),
            )
            .await;
        }
        // While the server is down, the attempts and the error are visible.
        loop {
            let all = all_notifications(&client, &url).await;
            if all.len() == 20 && all.iter().all(|n| n["attempts"].as_i64() >= Some(2)) {
                assert!(
                    all.iter()
                        .all(|n| n["status"] == "failed" || n["status"] == "sending"),
                    "{all:?}"
                );
                let failed = all.iter().find(|n| n["status"] == "failed").unwrap();
                assert!(
                    failed["last_error"].as_str().unwrap().contains("SMTP"),
                    "{failed}"
                );
                assert!(failed["next_attempt_at"].is_string());
                break;
            }
            assert!(began.elapsed() < Duration::from_secs(25), "{all:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        tokio::time::sleep(Duration::from_secs(30).saturating_sub(began.elapsed())).await;
        let sink = Sink::start(port).await;
        let messages = sink.wait_for(20, Duration::from_secs(30)).await;
        tokio::time::sleep(Duration::from_secs(4)).await;
        let messages = {
            let m = sink.messages();
            assert_eq!(m.len(), messages.len());
            m
        };
        assert_eq!(messages.len(), 20, "{}", db.backend);
        assert!(duplicates(&messages).is_empty());
        let all = all_notifications(&client, &url).await;
        assert!(all.iter().all(|n| n["status"] == "sent"), "{all:?}");
        server.kill().await;
        sink.stop().await;
    }
}

/// `iom serve` is killed with SIGKILL while e-mails are flowing and started again: no e-mail
/// arrives twice. Every one arrives, except that one whose hand-over was under way at the kill
/// (`handing`: between the commit that records it and the message's last byte) may not have;
/// those become `unknown` and are listed, never sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_while_sending_sends_no_email_twice() {
    const ORDERS: usize = 400;
    for db in iom_store::testing::all() {
        let port = free_port();
        let sink = Sink::start(port).await;
        // A short claim, so that rows left `sending` by the killed process are taken up soon.
        let extra = [("IOM_NOTIFY_CLAIM_MS", "1500")];
        let server = start(&db.url, port, &extra).await;
        let client = reqwest::Client::new();
        let url = server.url.clone();
        let mut posts = Vec::new();
        for c in 0..8 {
            let (client, url) = (client.clone(), url.clone());
            posts.push(tokio::spawn(async move {
                for i in (c..ORDERS).step_by(8) {
                    call(
                        &client,
                        reqwest::Method::POST,
                        format!("{url}/api/v1/orders"),
                        Some(order(&format!("K-{i}"), &format!("k{i}@example.com"))),
                    )
                    .await;
                }
            }));
        }
        for p in posts {
            p.await.unwrap();
        }
        // Killed while the e-mails are being handed over, neither before nor after.
        let started = Instant::now();
        loop {
            let n = sink.messages().len();
            if n >= ORDERS / 4 {
                assert!(
                    n < ORDERS,
                    "all {n} e-mails went out before the kill could happen"
                );
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{n} e-mails sent"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        server.kill().await;
        // A message whose data had all reached the server before the kill is still being
        // accepted there: let the server settle before reading what it received.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let at_kill = sink.messages().len();

        // What the killed process left: rows it had claimed (`sending`: the server holds
        // nothing of them) and rows whose message was on its way (`handing`).
        let store = iom_store::Store::open(&db.url).await.unwrap();
        let rows = store.list_notifications(None, None, 1000).await.unwrap();
        let handing: std::collections::HashSet<String> = rows
            .iter()
            .filter(|n| n.status == "handing")
            .map(|n| n.id.clone())
            .collect();
        let sending = rows.iter().filter(|n| n.status == "sending").count();
        drop(store);

        let server = start(&db.url, port, &extra).await;
        // Everything settles: each row is sent, or unknown.
        let started = Instant::now();
        let all = loop {
            let all = all_notifications(&client, &server.url).await;
            if all.len() == ORDERS
                && all
                    .iter()
                    .all(|n| n["status"] == "sent" || n["status"] == "unknown")
            {
                break all;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "not settled: {:?}",
                all.iter().map(|n| &n["status"]).collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        tokio::time::sleep(Duration::from_secs(2)).await;
        let messages = sink.messages();
        let received: HashMap<String, usize> =
            messages.iter().fold(HashMap::new(), |mut seen, m| {
                *seen
                    .entry(m["message_id"].as_str().unwrap().to_owned())
                    .or_default() += 1;
                seen
            });
        let unknown: std::collections::HashSet<String> = all
            .iter()
            .filter(|n| n["status"] == "unknown")
            .map(|n| n["id"].as_str().unwrap().to_owned())
            .collect();
        let unknown_arrived = unknown
            .iter()
            .filter(|id| received.contains_key(&iom_app::notifications::send::message_id(id)))
            .count();
        eprintln!(
            "{}: killed after {at_kill} of {ORDERS} e-mails; {sending} rows sending and {} handing; \
             {} unknown at the end, {unknown_arrived} of which arrived",
            db.backend,
            handing.len(),
            unknown.len(),
        );
        assert!(
            duplicates(&messages).is_empty(),
            "{}: an e-mail arrived twice",
            db.backend
        );
        // Only the rows whose hand-over the kill interrupted are unknown.
        assert_eq!(unknown, handing, "{}", db.backend);
        for n in &all {
            let id = n["id"].as_str().unwrap();
            if n["status"] == "sent" {
                assert_eq!(
                    received.get(&iom_app::notifications::send::message_id(id)),
                    Some(&1),
                    "{}: sent {id} arrived once",
                    db.backend
                );
            } else {
                assert!(
                    n["last_error"]
                        .as_str()
                        .unwrap()
                        .contains("may or may not have arrived"),
                    "{n}"
                );
            }
        }
        assert_eq!(messages.len(), ORDERS - unknown.len() + unknown_arrived);
        server.kill().await;
        sink.stop().await;
    }
}
